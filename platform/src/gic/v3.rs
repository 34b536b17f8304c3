//! GICv3: memory-mapped distributor and redistributor (IHI 0069H); the CPU
//! interface is the `ICC_*` system registers (see `icc`, AArch64 only).

use tock_registers::interfaces::{ReadWriteable, Readable, Writeable};
use tock_registers::registers::{ReadOnly, ReadWrite};
use tock_registers::{register_bitfields, register_structs};

use super::gicd::{self, GicdRegs, GicdRouting, CTLR, DEFAULT_PRIORITY, FIRST_SPI};
use crate::board::Irq;

register_bitfields! {u32,
    /// GICR_CTLR.
    RCTLR [
        /// Register write pending (ICENABLER0 effects not yet visible).
        RWP OFFSET(3) NUMBITS(1) []
    ],
    /// GICR_WAKER.
    WAKER [
        /// 1 = this PE is asleep; clear to bring the redistributor up.
        PROCESSOR_SLEEP OFFSET(1) NUMBITS(1) [],
        /// Reads 1 while the redistributor's interface to the PE is quiescent.
        CHILDREN_ASLEEP OFFSET(2) NUMBITS(1) []
    ]
}

register_bitfields! {u64,
    /// GICR_TYPER.
    RTYPER [
        /// Virtual LPIs supported: each redistributor has 4 frames instead of 2.
        VLPIS OFFSET(1) NUMBITS(1) [],
        /// This is the last redistributor in the region.
        LAST OFFSET(4) NUMBITS(1) [],
        /// Aff3.Aff2.Aff1.Aff0 of the PE this redistributor serves.
        AFFINITY OFFSET(32) NUMBITS(32) []
    ]
}

register_structs! {
    /// Redistributor RD_base frame (control).
    RdRegs {
        (0x000 => ctlr: ReadWrite<u32, RCTLR::Register>),
        (0x004 => iidr: ReadOnly<u32>),
        (0x008 => typer: ReadOnly<u64, RTYPER::Register>),
        (0x010 => statusr: ReadWrite<u32>),
        (0x014 => waker: ReadWrite<u32, WAKER::Register>),
        (0x018 => @END),
    }
}

register_structs! {
    /// Redistributor SGI_base frame (SGIs and PPIs of one PE), 64 KiB after RD_base.
    SgiRegs {
        (0x000 => _reserved0),
        (0x080 => igroupr0: ReadWrite<u32>),
        (0x084 => _reserved1),
        (0x100 => isenabler0: ReadWrite<u32>),
        (0x104 => _reserved2),
        (0x180 => icenabler0: ReadWrite<u32>),
        (0x184 => _reserved3),
        (0x280 => icpendr0: ReadWrite<u32>),
        (0x284 => _reserved4),
        (0x380 => icactiver0: ReadWrite<u32>),
        (0x384 => _reserved5),
        (0x400 => ipriorityr: [ReadWrite<u8>; 32]),
        (0x420 => _reserved6),
        (0xc00 => icfgr: [ReadWrite<u32>; 2]),
        (0xc08 => _reserved7),
        (0xd00 => igrpmodr0: ReadWrite<u32>),
        (0xd04 => @END),
    }
}

const FRAME: usize = 0x1_0000;

/// GICD_IROUTER / GICR_TYPER-style affinity from an `MPIDR_EL1` value:
/// `(Aff3 << 32) | (Aff2 << 16) | (Aff1 << 8) | Aff0`.
pub const fn irouter_affinity(mpidr: u64) -> u64 {
    mpidr & 0xff_00ff_ffff
}

/// The 32-bit `Aff3.Aff2.Aff1.Aff0` form used in GICR_TYPER.
pub const fn typer_affinity(mpidr: u64) -> u32 {
    (((mpidr >> 32) & 0xff) << 24 | (mpidr & 0xff_ffff)) as u32
}

/// The redistributor (its RD_base address) serving the CPU whose `MPIDR_EL1` is
/// `mpidr`: the one whose GICR_TYPER affinity matches, the first one if none does.
///
/// # Safety
/// `redist_va` must map the `redist_size` bytes of the redistributor region (at least one
/// 128 KiB redistributor) as device memory.
pub unsafe fn redistributor_for(redist_va: usize, redist_size: usize, mpidr: u64) -> usize {
    let want = typer_affinity(mpidr);
    let mut chosen = redist_va;
    let mut offset = 0;
    while offset + 2 * FRAME <= redist_size {
        // SAFETY: `offset + 128 KiB` lies inside the mapped redistributor region.
        let rd = unsafe { &*((redist_va + offset) as *const RdRegs) };
        let typer = rd.typer.extract();
        if typer.read(RTYPER::AFFINITY) as u32 == want {
            chosen = redist_va + offset;
            break;
        }
        if typer.is_set(RTYPER::LAST) {
            break;
        }
        offset += if typer.is_set(RTYPER::VLPIS) {
            4 * FRAME
        } else {
            2 * FRAME
        };
    }
    chosen
}

/// A GICv3 (distributor + the redistributor of the current CPU).
pub struct GicV3 {
    gicd: &'static GicdRegs,
    routing: &'static GicdRouting,
    rd: &'static RdRegs,
    sgi: &'static SgiRegs,
    /// IROUTER value that targets this CPU.
    route: u64,
}

impl GicV3 {
    /// Creates the driver for the CPU whose `MPIDR_EL1` is `mpidr`, picking the
    /// redistributor whose GICR_TYPER affinity matches (the first one if none does).
    ///
    /// # Safety
    ///
    /// `dist_va` must map the 64 KiB distributor and `redist_va` the `redist_size`
    /// bytes of the redistributor region (at least one 128 KiB redistributor), as
    /// device memory for the rest of the program; no other code may drive this GIC.
    pub unsafe fn new(dist_va: usize, redist_va: usize, redist_size: usize, mpidr: u64) -> Self {
        // SAFETY: forwarded from the caller.
        let chosen = unsafe { redistributor_for(redist_va, redist_size, mpidr) };
        // SAFETY: the caller guarantees the distributor (64 KiB, so the routing page at
        // +0x6000 too) and the chosen redistributor's two frames are mapped for 'static.
        unsafe {
            Self {
                gicd: &*(dist_va as *const GicdRegs),
                routing: &*((dist_va + 0x6000) as *const GicdRouting),
                rd: &*(chosen as *const RdRegs),
                sgi: &*((chosen + FRAME) as *const SgiRegs),
                route: irouter_affinity(mpidr),
            }
        }
    }

    fn wait_dist(&self) {
        while self.gicd.ctlr.is_set(CTLR::RWP) {
            core::hint::spin_loop();
        }
    }

    fn wait_redist(&self) {
        while self.rd.ctlr.is_set(RCTLR::RWP) {
            core::hint::spin_loop();
        }
    }

    /// Distributor: disable, enable affinity routing, put all SPIs in group 1
    /// (disabled, level, default priority) routed to this CPU, then enable group 1.
    pub fn init_distributor(&mut self) {
        let d = self.gicd;
        d.ctlr.set(0);
        self.wait_dist();
        d.ctlr.write(CTLR::ARE::SET);
        self.wait_dist();
        let lines = gicd::lines(d);
        gicd::reset_spis(d, lines);
        for word in 1..lines.div_ceil(32) as usize {
            d.igrpmodr[word].set(0);
        }
        for intid in FIRST_SPI..lines {
            self.routing.irouter[(intid - FIRST_SPI) as usize].set(self.route);
        }
        self.wait_dist();
        d.ctlr.write(CTLR::ARE::SET + CTLR::ENABLE_GRP1::SET);
        self.wait_dist();
    }

    /// Redistributor: wake it, then put SGIs/PPIs in group 1, disabled, not pending,
    /// at the default priority.
    pub fn init_redistributor(&mut self) {
        self.rd.waker.modify(WAKER::PROCESSOR_SLEEP::CLEAR);
        while self.rd.waker.is_set(WAKER::CHILDREN_ASLEEP) {
            core::hint::spin_loop();
        }
        self.sgi.igroupr0.set(u32::MAX);
        self.sgi.igrpmodr0.set(0);
        self.sgi.icenabler0.set(u32::MAX);
        self.wait_redist();
        self.sgi.icpendr0.set(u32::MAX);
        self.sgi.icactiver0.set(u32::MAX);
        for p in &self.sgi.ipriorityr {
            p.set(DEFAULT_PRIORITY);
        }
    }

    /// Sets `irq`'s trigger and priority and enables it (SGIs/PPIs in this CPU's
    /// redistributor, SPIs in the distributor, routed to this CPU).
    pub fn enable(&mut self, irq: Irq, priority: u8) {
        let intid = irq.intid;
        if intid >= super::its::FIRST_LPI {
            // LPIs are enabled by their byte in the LPI configuration table (`its`).
            return;
        }
        if intid < FIRST_SPI {
            self.sgi.ipriorityr[intid as usize].set(priority);
            if intid >= 16 {
                let cfg = &self.sgi.icfgr[1];
                cfg.set(gicd::icfgr_with(cfg.get(), intid, irq.trigger));
            }
            self.sgi.isenabler0.set(1 << intid);
        } else {
            self.routing.irouter[(intid - FIRST_SPI) as usize].set(self.route);
            gicd::enable(self.gicd, intid, irq.trigger, priority);
        }
    }

    /// Stops forwarding `intid`, waiting until the change has taken effect.
    pub fn disable(&mut self, intid: u32) {
        if intid >= super::its::FIRST_LPI {
            return;
        }
        if intid < FIRST_SPI {
            self.sgi.icenabler0.set(1 << intid);
            self.wait_redist();
        } else {
            gicd::disable(self.gicd, intid);
            self.wait_dist();
        }
    }
}

#[cfg(target_arch = "aarch64")]
impl GicV3 {
    /// Full bring-up of the distributor, this CPU's redistributor and its
    /// system-register CPU interface.
    pub fn init(&mut self) {
        self.init_distributor();
        self.init_redistributor();
        super::icc::init();
    }

    /// Acknowledges the highest-priority pending group 1 interrupt (ICC_IAR1_EL1);
    /// `None` if spurious.
    pub fn acknowledge(&mut self) -> Option<u32> {
        let intid = super::icc::read_iar1();
        // 1020..=1023 are the special (spurious) IDs; LPIs (8192 and up) are real.
        (!(gicd::SPECIAL_INTID..1024).contains(&intid)).then_some(intid)
    }

    /// Signals completion of `intid` (ICC_EOIR1_EL1).
    pub fn end_of_interrupt(&mut self, intid: u32) {
        super::icc::write_eoir1(intid);
    }

    /// This CPU's redistributor and CPU interface, for a CPU other than the one that
    /// ran [`Self::init`] (the driver must have been made on this CPU: it picked this
    /// CPU's redistributor).
    pub fn init_this_cpu(&mut self) {
        self.init_redistributor();
        super::icc::init();
    }

    /// Send SGI `intid` (0..16) to every CPU but this one.
    pub fn send_sgi_to_others(&mut self, intid: u32) {
        super::icc::send_sgi_to_others(intid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::board::Trigger;
    use crate::fake_mmio::FakeMmio;

    #[test]
    fn affinity_encodings() {
        let mpidr = 0x0000_0012_8103_0201; // Aff3 0x12, U/MT bits, Aff2 3, Aff1 2, Aff0 1
        assert_eq!(irouter_affinity(mpidr), 0x12_0003_0201);
        assert_eq!(typer_affinity(mpidr), 0x1203_0201);
    }

    #[test]
    fn picks_matching_redistributor() {
        let (dist, redist) = (FakeMmio::new(0x1_0000), FakeMmio::new(0x8_0000));
        redist.write64(0x8, 5 << 32); // frame 0 serves affinity 0.0.0.5
        redist.write64(0x2_0008, (1 << 32) | (1 << 4)); // frame 1: 0.0.0.1, last
                                                        // SAFETY: buffers are zeroed, aligned, large enough and outlive the drivers.
        let mut gic = unsafe { GicV3::new(dist.base(), redist.base(), 0x8_0000, 0x8000_0001) };
        gic.enable(
            Irq {
                intid: 27,
                trigger: Trigger::Level,
            },
            0x60,
        );
        assert_eq!(
            redist.read32(0x3_0100),
            1 << 27,
            "enabled in frame 1's SGI_base"
        );
        assert_eq!(redist.read8(0x3_0400 + 27), 0x60);
        // No match: falls back to the first frame.
        // SAFETY: as above.
        let mut gic = unsafe { GicV3::new(dist.base(), redist.base(), 0x8_0000, 7) };
        gic.enable(
            Irq {
                intid: 30,
                trigger: Trigger::Edge,
            },
            0x60,
        );
        assert_eq!(redist.read32(0x1_0100), 1 << 30);
        assert_eq!(redist.read32(0x1_0c04), 0b10 << 28, "ICFGR1: INTID 30 edge");
    }

    #[test]
    fn distributor_and_redistributor_init() {
        let (dist, redist) = (FakeMmio::new(0x1_0000), FakeMmio::new(0x2_0000));
        dist.write32(0x004, 1); // 64 lines
        redist.write32(0x14, 0b010); // ProcessorSleep (ChildrenAsleep reads 0 here)
                                     // SAFETY: as above.
        let mut gic = unsafe { GicV3::new(dist.base(), redist.base(), 0x2_0000, 0) };
        gic.init_distributor();
        gic.init_redistributor();
        assert_eq!(dist.read32(0), 0b1_0010, "GICD_CTLR = ARE | EnableGrp1");
        assert_eq!(dist.read32(0x84), u32::MAX, "SPIs in group 1");
        assert_eq!(dist.read64(0x6100 + 31 * 8), 0, "SPI 63 routed to 0.0.0.0");
        assert_eq!(redist.read32(0x14), 0, "ProcessorSleep cleared");
        assert_eq!(redist.read32(0x1_0080), u32::MAX, "SGIs/PPIs in group 1");
        assert_eq!(redist.read8(0x1_0400 + 31), DEFAULT_PRIORITY);

        // SAFETY: as above.
        let mut gic = unsafe { GicV3::new(dist.base(), redist.base(), 0x2_0000, 0x8101_0003) };
        gic.enable(
            Irq {
                intid: 63,
                trigger: Trigger::Edge,
            },
            0x90,
        );
        assert_eq!(
            dist.read64(0x6100 + 31 * 8),
            0x0001_0003,
            "routed to Aff2 1, Aff0 3"
        );
        assert_eq!(dist.read8(0x400 + 63), 0x90);
        assert_eq!(dist.read32(0xc00 + 12), 1 << 31);
        assert_eq!(dist.read32(0x104), 1 << 31);
    }
}
