//! ARM Generic Interrupt Controller, v2 and v3: the distributor, and each CPU's part
//! (GICv3 redistributor, CPU interface) brought up by that CPU; SGIs between CPUs.
//!
//! [`GicV2`] and the distributor/redistributor half of [`GicV3`] are plain MMIO and
//! build everywhere; the GICv3 CPU interface uses `ICC_*` system registers, so
//! `GicV3::init`, its acknowledge/EOI and the `Gic` wrapper exist only on
//! AArch64. All interrupts are configured as group 1 (non-secure IRQs).

mod gicd;
#[cfg(target_arch = "aarch64")]
mod icc;
pub mod its;
mod v2;
mod v3;

pub use gicd::DEFAULT_PRIORITY;
pub use v2::GicV2;
pub use v3::{irouter_affinity, redistributor_for, typer_affinity, GicV3};

#[cfg(target_arch = "aarch64")]
pub use wrapper::Gic;

#[cfg(target_arch = "aarch64")]
mod wrapper {
    use aarch64_cpu::registers::MPIDR_EL1;
    use tock_registers::interfaces::Readable;

    use super::{GicV2, GicV3};
    use crate::board::{GicInfo, Irq, Region};

    /// The board's GIC, whichever version the FDT describes.
    pub enum Gic {
        /// GICv2.
        V2(GicV2),
        /// GICv3.
        V3(GicV3),
    }

    impl Gic {
        /// Creates the driver for `info`; `map` returns the virtual address at which
        /// the kernel has mapped a region (called once per MMIO region).
        ///
        /// # Safety
        ///
        /// Each address `map` returns must map the whole region passed to it as
        /// device memory for the rest of the program, and no other code may drive
        /// this GIC.
        pub unsafe fn new(info: &GicInfo, map: impl Fn(Region) -> usize) -> Self {
            match *info {
                // SAFETY: `map` maps each frame entirely, per the caller's contract.
                GicInfo::V2 { dist, cpu } => Self::V2(unsafe { GicV2::new(map(dist), map(cpu)) }),
                GicInfo::V3 { dist, redist } => {
                    let redist_va = map(redist);
                    // SAFETY: as above; the redistributor region is mapped in full.
                    Self::V3(unsafe {
                        GicV3::new(map(dist), redist_va, redist.size as usize, MPIDR_EL1.get())
                    })
                }
            }
        }

        /// Architecture version: 2 or 3.
        pub fn version(&self) -> u8 {
            match self {
                Self::V2(_) => 2,
                Self::V3(_) => 3,
            }
        }

        /// Resets and enables the distributor and this CPU's interface.
        pub fn init(&mut self) {
            match self {
                Self::V2(g) => g.init(),
                Self::V3(g) => g.init(),
            }
        }

        /// Sets `irq`'s trigger and priority (lower = more urgent; must be below
        /// 0xff to be signalled) and enables it, routed to this CPU.
        pub fn enable(&mut self, irq: Irq, priority: u8) {
            match self {
                Self::V2(g) => g.enable(irq, priority),
                Self::V3(g) => g.enable(irq, priority),
            }
        }

        /// Stops forwarding `intid`.
        pub fn disable(&mut self, intid: u32) {
            match self {
                Self::V2(g) => g.disable(intid),
                Self::V3(g) => g.disable(intid),
            }
        }

        /// Acknowledges the highest-priority pending interrupt on this CPU: its INTID and
        /// the token [`Gic::end_of_interrupt`] needs (on GICv2 an SGI's sender is part of
        /// it); `None` for the spurious IDs 1020..=1023.
        pub fn acknowledge(&mut self) -> Option<(u32, u32)> {
            match self {
                Self::V2(g) => g.acknowledge().map(|iar| (iar & 0x3ff, iar)),
                Self::V3(g) => g.acknowledge().map(|intid| (intid, intid)),
            }
        }

        /// Signals that handling of the interrupt `token` (from [`Gic::acknowledge`])
        /// is done.
        pub fn end_of_interrupt(&mut self, token: u32) {
            match self {
                Self::V2(g) => g.end_of_interrupt(token),
                Self::V3(g) => g.end_of_interrupt(token),
            }
        }

        /// Bring up the calling CPU's part of the GIC (banked SGI/PPI state, the GICv3
        /// redistributor, the CPU interface) on a CPU other than the one that ran
        /// [`Gic::init`]. The driver must have been made on the calling CPU.
        pub fn init_this_cpu(&mut self) {
            match self {
                Self::V2(g) => g.init_this_cpu(),
                Self::V3(g) => g.init_this_cpu(),
            }
        }

        /// Send SGI `intid` (0..16) to every other CPU.
        pub fn send_sgi_to_others(&mut self, intid: u32) {
            match self {
                Self::V2(g) => g.send_sgi_to_others(intid),
                Self::V3(g) => g.send_sgi_to_others(intid),
            }
        }
    }
}
