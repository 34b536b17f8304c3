//! GICv2: memory-mapped distributor and CPU interface (IHI 0048B).

use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};
use tock_registers::{register_bitfields, register_structs};

use super::gicd::{self, GicdRegs, CTLR, DEFAULT_PRIORITY, FIRST_SPI, SPECIAL_INTID};
use crate::board::Irq;

register_bitfields! {u32,
    /// GICC_CTLR (secure / no-security-extensions view; in the non-secure view bit 0
    /// is EnableGrp1 and bits 1-2 are reserved, so writing all three is safe).
    CCTLR [
        /// Signal group 0 interrupts (non-secure view: group 1).
        ENABLE_GRP0 OFFSET(0) NUMBITS(1) [],
        /// Signal group 1 interrupts.
        ENABLE_GRP1 OFFSET(1) NUMBITS(1) [],
        /// Let GICC_IAR acknowledge group 1 interrupts too.
        ACK_CTL OFFSET(2) NUMBITS(1) []
    ],
    /// GICC_IAR.
    IAR [
        /// Interrupt ID (1023 = spurious).
        INTERRUPT_ID OFFSET(0) NUMBITS(10) [],
        /// For SGIs: the requesting CPU.
        CPUID OFFSET(10) NUMBITS(3) []
    ]
}

register_structs! {
    /// GICv2 CPU interface registers (IHI 0048B §4.4).
    CpuRegs {
        (0x000 => ctlr: ReadWrite<u32, CCTLR::Register>),
        /// Priority mask: only priorities below this are signalled.
        (0x004 => pmr: ReadWrite<u32>),
        (0x008 => bpr: ReadWrite<u32>),
        (0x00c => iar: ReadOnly<u32, IAR::Register>),
        (0x010 => eoir: WriteOnly<u32>),
        (0x014 => rpr: ReadOnly<u32>),
        (0x018 => hppir: ReadOnly<u32>),
        (0x01c => _reserved0),
        (0x0fc => iidr: ReadOnly<u32>),
        (0x100 => @END),
    }
}

/// A GICv2 (distributor + CPU interface of CPU 0).
pub struct GicV2 {
    gicd: &'static GicdRegs,
    gicc: &'static CpuRegs,
}

impl GicV2 {
    /// Creates the driver.
    ///
    /// # Safety
    ///
    /// `dist_va` and `cpu_va` must be the virtual addresses of the GICv2 distributor
    /// (4 KiB) and CPU interface (at least 256 bytes) frames, mapped as device memory
    /// for the rest of the program, and no other code may drive this GIC.
    pub unsafe fn new(dist_va: usize, cpu_va: usize) -> Self {
        // SAFETY: the caller guarantees both frames are mapped for 'static; all access
        // goes through volatile register cells.
        unsafe {
            Self {
                gicd: &*(dist_va as *const GicdRegs),
                gicc: &*(cpu_va as *const CpuRegs),
            }
        }
    }

    /// Resets the distributor (all SPIs group 1, disabled, level, routed to CPU 0),
    /// this CPU's SGIs/PPIs, and enables the CPU interface with priority mask 0xff.
    pub fn init(&mut self) {
        let d = self.gicd;
        d.ctlr.set(0);
        let lines = gicd::lines(d);
        gicd::reset_spis(d, lines);
        for intid in FIRST_SPI..lines {
            d.itargetsr[intid as usize].set(1);
        }
        // Banked SGI/PPI state of this CPU.
        d.igroupr[0].set(u32::MAX);
        d.icenabler[0].set(u32::MAX);
        d.icpendr[0].set(u32::MAX);
        for intid in 0..FIRST_SPI {
            d.ipriorityr[intid as usize].set(DEFAULT_PRIORITY);
        }
        d.ctlr
            .write(CTLR::ENABLE_GRP0::SET + CTLR::ENABLE_GRP1::SET);

        self.gicc.pmr.set(0xff);
        self.gicc.bpr.set(0);
        self.gicc
            .ctlr
            .write(CCTLR::ENABLE_GRP0::SET + CCTLR::ENABLE_GRP1::SET + CCTLR::ACK_CTL::SET);
    }

    /// Sets `irq`'s trigger and priority, routes it to CPU 0 and enables it.
    pub fn enable(&mut self, irq: Irq, priority: u8) {
        if irq.intid >= FIRST_SPI {
            self.gicd.itargetsr[irq.intid as usize].set(1);
        }
        gicd::enable(self.gicd, irq.intid, irq.trigger, priority);
    }

    /// Stops forwarding `intid`.
    pub fn disable(&mut self, intid: u32) {
        gicd::disable(self.gicd, intid);
    }

    /// Acknowledges the highest-priority pending interrupt on this CPU; returns the whole
    /// GICC_IAR value (the INTID in bits 9:0, for an SGI the sender's CPU in 12:10, which
    /// the EOI must repeat), `None` if spurious.
    pub fn acknowledge(&mut self) -> Option<u32> {
        let iar = self.gicc.iar.get();
        (iar & 0x3ff < SPECIAL_INTID).then_some(iar)
    }

    /// Signals completion of the interrupt `iar` (as [`Self::acknowledge`] returned it).
    pub fn end_of_interrupt(&mut self, iar: u32) {
        self.gicc.eoir.set(iar);
    }

    /// This CPU's banked SGI/PPI state (group 1, disabled, not pending, default
    /// priority) and its CPU interface: for a CPU other than the one that ran
    /// [`Self::init`].
    pub fn init_this_cpu(&mut self) {
        let d = self.gicd;
        d.igroupr[0].set(u32::MAX);
        d.icenabler[0].set(u32::MAX);
        d.icpendr[0].set(u32::MAX);
        for intid in 0..FIRST_SPI {
            d.ipriorityr[intid as usize].set(DEFAULT_PRIORITY);
        }
        self.gicc.pmr.set(0xff);
        self.gicc.bpr.set(0);
        self.gicc
            .ctlr
            .write(CCTLR::ENABLE_GRP0::SET + CCTLR::ENABLE_GRP1::SET + CCTLR::ACK_CTL::SET);
    }

    /// Send SGI `intid` (0..16) to every CPU but this one (GICD_SGIR, target list
    /// filter 0b01).
    pub fn send_sgi_to_others(&mut self, intid: u32) {
        self.gicd.sgir.set((0b01 << 24) | (intid & 0xf));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::board::Trigger;
    use crate::fake_mmio::FakeMmio;

    #[test]
    fn init_enable_ack() {
        let (dist, cpu) = (FakeMmio::new(0x1000), FakeMmio::new(0x1000));
        dist.write32(0x004, 2); // ITLinesNumber = 2 -> 96 lines
                                // SAFETY: both buffers are zeroed, aligned and large enough, and outlive `gic`.
        let mut gic = unsafe { GicV2::new(dist.base(), cpu.base()) };
        gic.init();
        assert_eq!(dist.read32(0x000), 0b11, "GICD_CTLR enables both groups");
        assert_eq!(dist.read32(0x080 + 4), u32::MAX, "SPIs 32..63 in group 1");
        assert_eq!(dist.read32(0x080 + 12), 0, "beyond ITLinesNumber untouched");
        assert_eq!(dist.read8(0x800 + 95), 1, "SPI 95 targets CPU 0");
        assert_eq!(dist.read8(0x800 + 96), 0);
        assert_eq!(dist.read8(0x400 + 40), DEFAULT_PRIORITY);
        assert_eq!(cpu.read32(0x004), 0xff, "GICC_PMR");
        assert_eq!(cpu.read32(0x000), 0b111, "GICC_CTLR");

        gic.enable(
            Irq {
                intid: 48,
                trigger: Trigger::Edge,
            },
            0x80,
        );
        assert_eq!(dist.read8(0x400 + 48), 0x80);
        assert_eq!(dist.read32(0xc00 + 12), 0b10, "ICFGR3: INTID 48 edge");
        assert_eq!(dist.read32(0x100 + 4), 1 << 16, "ISENABLER1 bit 16");
        gic.enable(
            Irq {
                intid: 27,
                trigger: Trigger::Level,
            },
            0x40,
        );
        assert_eq!(dist.read32(0x100), 1 << 27);
        gic.disable(33);
        assert_eq!(dist.read32(0x180 + 4), 1 << 1, "ICENABLER1 bit 1");

        cpu.write32(0x00c, 1023);
        assert_eq!(gic.acknowledge(), None);
        // The whole IAR comes back (for an SGI, bits 12:10 name the sender) and the EOI
        // repeats it: an EOI of the bare INTID would not end another CPU's SGI.
        cpu.write32(0x00c, (1 << 10) | 3);
        assert_eq!(gic.acknowledge(), Some((1 << 10) | 3));
        gic.end_of_interrupt((1 << 10) | 3);
        assert_eq!(cpu.read32(0x010), (1 << 10) | 3);
    }
}
