//! The GIC distributor (GICD), shared by GICv2 and GICv3 (IHI 0048B §4.3,
//! IHI 0069H §12.9).

use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};
use tock_registers::{register_bitfields, register_structs};

use crate::board::Trigger;

register_bitfields! {u32,
    /// GICD_CTLR. Bit meanings depend on version and security view; the values used
    /// here work in every view this crate meets (see the drivers).
    pub CTLR [
        /// v2 / v3 single-security: EnableGrp0. v2 non-secure view: Enable (group 1).
        ENABLE_GRP0 OFFSET(0) NUMBITS(1) [],
        /// v2: EnableGrp1. v3 single-security: EnableGrp1; non-secure view: EnableGrp1A.
        ENABLE_GRP1 OFFSET(1) NUMBITS(1) [],
        /// v3: affinity routing enable (ARE / ARE_NS).
        ARE OFFSET(4) NUMBITS(1) [],
        /// v3: register write pending.
        RWP OFFSET(31) NUMBITS(1) []
    ],
    /// GICD_TYPER.
    pub TYPER [
        /// Supported INTIDs = 32 * (ITLinesNumber + 1), capped at 1020.
        IT_LINES_NUMBER OFFSET(0) NUMBITS(5) []
    ]
}

register_structs! {
    /// Distributor registers common to v2 and v3 (first 4 KiB).
    pub GicdRegs {
        (0x000 => pub ctlr: ReadWrite<u32, CTLR::Register>),
        (0x004 => pub typer: ReadOnly<u32, TYPER::Register>),
        (0x008 => pub iidr: ReadOnly<u32>),
        (0x00c => _reserved0),
        /// One bit per INTID: 1 = group 1.
        (0x080 => pub igroupr: [ReadWrite<u32>; 32]),
        /// Write 1 to enable forwarding.
        (0x100 => pub isenabler: [ReadWrite<u32>; 32]),
        /// Write 1 to disable forwarding.
        (0x180 => pub icenabler: [ReadWrite<u32>; 32]),
        (0x200 => pub ispendr: [ReadWrite<u32>; 32]),
        (0x280 => pub icpendr: [ReadWrite<u32>; 32]),
        (0x300 => pub isactiver: [ReadWrite<u32>; 32]),
        (0x380 => pub icactiver: [ReadWrite<u32>; 32]),
        /// One byte per INTID; lower is more urgent.
        (0x400 => pub ipriorityr: [ReadWrite<u8>; 1024]),
        /// v2 only: one byte per INTID, bit n = CPU interface n.
        (0x800 => pub itargetsr: [ReadWrite<u8>; 1024]),
        /// Two bits per INTID; bit 1 of each pair = edge-triggered.
        (0xc00 => pub icfgr: [ReadWrite<u32>; 64]),
        /// v3 only: group modifier.
        (0xd00 => pub igrpmodr: [ReadWrite<u32>; 32]),
        (0xd80 => _reserved1),
        /// v2 only: software-generated interrupt register.
        (0xf00 => pub sgir: WriteOnly<u32>),
        (0xf04 => _reserved2),
        (0x1000 => @END),
    }
}

register_structs! {
    /// GICv3 distributor page at offset 0x6000: the SPI routing registers.
    pub GicdRouting {
        (0x000 => _reserved0),
        /// `GICD_IROUTER<n>` for INTID 32 + n: Aff3 in bits 39:32, Aff2..Aff0 in 23:0, IRM bit 31.
        (0x100 => pub irouter: [ReadWrite<u64>; 988]),
        (0x1fe0 => @END),
    }
}

/// Priority given to every interrupt at init (mid-range, below the 0xff mask).
pub const DEFAULT_PRIORITY: u8 = 0xa0;
/// First shared peripheral interrupt.
pub const FIRST_SPI: u32 = 32;
/// First special INTID (1020..=1023 mean "no interrupt").
pub const SPECIAL_INTID: u32 = 1020;

/// `old` ICFGR word with INTID `intid`'s trigger set.
pub const fn icfgr_with(old: u32, intid: u32, trigger: Trigger) -> u32 {
    let edge_bit = 1 << (2 * (intid % 16) + 1);
    match trigger {
        Trigger::Edge => old | edge_bit,
        Trigger::Level => old & !edge_bit,
    }
}

/// Number of INTIDs the distributor handles (SGIs and PPIs included).
pub fn lines(gicd: &GicdRegs) -> u32 {
    ((gicd.typer.read(TYPER::IT_LINES_NUMBER) + 1) * 32).min(SPECIAL_INTID)
}

/// Puts SPIs 32..`lines` in group 1, disabled, not pending, level-triggered, at
/// [`DEFAULT_PRIORITY`]. Routing is version-specific and left to the caller.
pub fn reset_spis(gicd: &GicdRegs, lines: u32) {
    for word in 1..lines.div_ceil(32) as usize {
        gicd.igroupr[word].set(u32::MAX);
        gicd.icenabler[word].set(u32::MAX);
        gicd.icpendr[word].set(u32::MAX);
        gicd.icactiver[word].set(u32::MAX);
    }
    for word in 2..lines.div_ceil(16) as usize {
        gicd.icfgr[word].set(0);
    }
    for intid in FIRST_SPI..lines {
        gicd.ipriorityr[intid as usize].set(DEFAULT_PRIORITY);
    }
}

/// Sets `intid`'s priority and trigger and enables it.
pub fn enable(gicd: &GicdRegs, intid: u32, trigger: Trigger, priority: u8) {
    let i = intid as usize;
    gicd.ipriorityr[i].set(priority);
    if intid >= 16 {
        let cfg = &gicd.icfgr[i / 16];
        cfg.set(icfgr_with(cfg.get(), intid, trigger));
    }
    gicd.isenabler[i / 32].set(1 << (intid % 32));
}

/// Stops forwarding `intid`.
pub fn disable(gicd: &GicdRegs, intid: u32) {
    gicd.icenabler[intid as usize / 32].set(1 << (intid % 32));
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::offset_of;

    #[test]
    fn layout() {
        assert_eq!(offset_of!(GicdRegs, igroupr), 0x80);
        assert_eq!(offset_of!(GicdRegs, ipriorityr), 0x400);
        assert_eq!(offset_of!(GicdRegs, itargetsr), 0x800);
        assert_eq!(offset_of!(GicdRegs, icfgr), 0xc00);
        assert_eq!(offset_of!(GicdRegs, sgir), 0xf00);
        assert_eq!(core::mem::size_of::<GicdRegs>(), 0x1000);
        assert_eq!(0x6000 + offset_of!(GicdRouting, irouter), 0x6100);
    }

    #[test]
    fn icfgr_bits() {
        assert_eq!(icfgr_with(0, 33, Trigger::Edge), 0b1000);
        assert_eq!(icfgr_with(0, 48, Trigger::Edge), 0b10);
        assert_eq!(icfgr_with(0, 47, Trigger::Edge), 1 << 31);
        assert_eq!(icfgr_with(u32::MAX, 33, Trigger::Level), !0b1000);
        assert_eq!(icfgr_with(0b1010, 32, Trigger::Level), 0b1000);
    }
}
