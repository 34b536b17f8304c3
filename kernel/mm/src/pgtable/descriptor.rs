//! Stage-1 descriptor formats (VMSAv8-64, 4 KiB granule, 48-bit output address).
//!
//! Exact encoding produced by this module:
//!
//! * Table descriptor (levels 0..2): `VALID = 1`, `TYPE = 1` (table), next-level table
//!   address in bits \[47:12\]; hierarchical attributes (`APTable`, `UXNTable`,
//!   `PXNTable`, `NSTable`) are left 0 (no extra restriction).
//! * Leaf descriptor: `VALID = 1`, `TYPE = 1` for a level-3 page or `0` for a level-1
//!   (1 GiB) / level-2 (2 MiB) block, output address in bits \[47:12\] (the low bits
//!   are zero thanks to alignment), and the attribute bits of [`descriptor_bits`]:
//!   `AttrIndx` \[4:2\] = [`MemAttr::index`], `AP` \[7:6\] and `PXN` (53) / `UXN` (54)
//!   per [`Access`], `SH` \[9:8\] per [`MemAttr`], `AF` (10) = 1 (no access-flag
//!   faults), `nG` (11) = `!global`, software bits \[58:55\] = `sw`.
//!   Contiguous (52), DBM (51) and GP (50) are 0.

use tock_registers::{register_bitfields, LocalRegisterCopy};

use super::attrs::{Access, MemAttr, PageAttrs};
use crate::addr::{PhysAddr, PAGE_SHIFT};

register_bitfields! {u64,
    /// Fields of a stage-1 table descriptor (levels 0..2).
    #[allow(missing_docs)]
    pub STAGE1_TABLE_DESCRIPTOR [
        NSTable OFFSET(63) NUMBITS(1) [],
        APTable OFFSET(61) NUMBITS(2) [],
        UXNTable OFFSET(60) NUMBITS(1) [],
        PXNTable OFFSET(59) NUMBITS(1) [],
        /// Physical address of the next-level table, bits \[47:12\].
        NEXT_LEVEL_TABLE_ADDR_4KiB OFFSET(12) NUMBITS(36) [],
        TYPE OFFSET(1) NUMBITS(1) [
            Block = 0,
            Table = 1
        ],
        VALID OFFSET(0) NUMBITS(1) [
            False = 0,
            True = 1
        ]
    ],

    /// Fields of a stage-1 block (levels 1, 2) or page (level 3) descriptor.
    #[allow(missing_docs)]
    pub STAGE1_PAGE_DESCRIPTOR [
        /// Software-defined bits \[58:55\].
        SW OFFSET(55) NUMBITS(4) [],
        /// Unprivileged (EL0) execute-never.
        UXN OFFSET(54) NUMBITS(1) [
            False = 0,
            True = 1
        ],
        /// Privileged (EL1) execute-never.
        PXN OFFSET(53) NUMBITS(1) [
            False = 0,
            True = 1
        ],
        CONTIGUOUS OFFSET(52) NUMBITS(1) [],
        DBM OFFSET(51) NUMBITS(1) [],
        GP OFFSET(50) NUMBITS(1) [],
        /// Output address bits \[47:12\].
        OUTPUT_ADDR_4KiB OFFSET(12) NUMBITS(36) [],
        /// Not global: TLB entries are tagged with the ASID.
        nG OFFSET(11) NUMBITS(1) [
            False = 0,
            True = 1
        ],
        /// Access flag.
        AF OFFSET(10) NUMBITS(1) [
            False = 0,
            True = 1
        ],
        /// Shareability.
        SH OFFSET(8) NUMBITS(2) [
            NonShareable = 0b00,
            OuterShareable = 0b10,
            InnerShareable = 0b11
        ],
        /// Data access permissions `AP[2:1]`.
        AP OFFSET(6) NUMBITS(2) [
            RW_EL1 = 0b00,
            RW_EL1_EL0 = 0b01,
            RO_EL1 = 0b10,
            RO_EL1_EL0 = 0b11
        ],
        /// Index into `MAIR_EL1`.
        ATTRINDX OFFSET(2) NUMBITS(3) [],
        TYPE OFFSET(1) NUMBITS(1) [
            Block = 0,
            Page = 1
        ],
        VALID OFFSET(0) NUMBITS(1) [
            False = 0,
            True = 1
        ]
    ]
}

/// A table descriptor being decoded or built.
pub type TableDescriptor = LocalRegisterCopy<u64, STAGE1_TABLE_DESCRIPTOR::Register>;
/// A block or page descriptor being decoded or built.
pub type PageDescriptor = LocalRegisterCopy<u64, STAGE1_PAGE_DESCRIPTOR::Register>;

/// Number of descriptors in a table.
pub const ENTRIES: usize = 512;
/// Bits of VA consumed per level.
const BITS_PER_LEVEL: u32 = 9;
/// Deepest level (pages).
pub const LAST_LEVEL: usize = 3;

/// Bytes mapped by one entry at `level` (0..=3): 512 GiB, 1 GiB, 2 MiB, 4 KiB.
pub const fn level_size(level: usize) -> u64 {
    1 << level_shift(level)
}

/// log2 of [`level_size`].
const fn level_shift(level: usize) -> u32 {
    PAGE_SHIFT + BITS_PER_LEVEL * (LAST_LEVEL - level) as u32
}

/// Index into the level-`level` table for the 48-bit VA offset `off`.
pub const fn table_index(off: u64, level: usize) -> usize {
    ((off >> level_shift(level)) as usize) & (ENTRIES - 1)
}

/// What a raw descriptor means at a given level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// Faults on access (`VALID = 0`, or a reserved encoding).
    Invalid,
    /// Points to a next-level table.
    Table(PhysAddr),
    /// Maps a page (level 3) or block (levels 1, 2) at this output address.
    Leaf(PhysAddr),
}

/// Classifies raw descriptor `raw` found in a level-`level` table.
pub fn classify(raw: u64, level: usize) -> EntryKind {
    let t = TableDescriptor::new(raw);
    if !t.is_set(STAGE1_TABLE_DESCRIPTOR::VALID) {
        return EntryKind::Invalid;
    }
    let is_table_type = t.matches_all(STAGE1_TABLE_DESCRIPTOR::TYPE::Table);
    match (level, is_table_type) {
        (LAST_LEVEL, true) => EntryKind::Leaf(output_addr(raw)),
        (1 | 2, false) => EntryKind::Leaf(output_addr(raw)),
        (0..LAST_LEVEL, true) => EntryKind::Table(PhysAddr::new(
            t.read(STAGE1_TABLE_DESCRIPTOR::NEXT_LEVEL_TABLE_ADDR_4KiB) << PAGE_SHIFT,
        )),
        // Level-0 block / level-3 "block" encodings are reserved: they fault.
        _ => EntryKind::Invalid,
    }
}

/// Output address of a leaf descriptor.
pub fn output_addr(raw: u64) -> PhysAddr {
    PhysAddr::new(
        PageDescriptor::new(raw).read(STAGE1_PAGE_DESCRIPTOR::OUTPUT_ADDR_4KiB) << PAGE_SHIFT,
    )
}

/// A table descriptor pointing at the (4 KiB-aligned, < 2^48) table `next`.
pub fn table_descriptor(next: PhysAddr) -> u64 {
    let mut d = TableDescriptor::new(0);
    d.write(
        STAGE1_TABLE_DESCRIPTOR::NEXT_LEVEL_TABLE_ADDR_4KiB.val(next.as_u64() >> PAGE_SHIFT)
            + STAGE1_TABLE_DESCRIPTOR::TYPE::Table
            + STAGE1_TABLE_DESCRIPTOR::VALID::True,
    );
    d.get()
}

/// The attribute bits (everything except `VALID`, `TYPE` and the output address) of a
/// leaf descriptor with `attrs`; see the module docs for the exact layout.
pub fn descriptor_bits(attrs: PageAttrs) -> u64 {
    use STAGE1_PAGE_DESCRIPTOR::*;
    let (ap, pxn, uxn) = match attrs.access {
        Access::KernelRead => (AP::RO_EL1, PXN::True, UXN::True),
        Access::KernelReadWrite => (AP::RW_EL1, PXN::True, UXN::True),
        Access::KernelReadExec => (AP::RO_EL1, PXN::False, UXN::True),
        Access::UserRead => (AP::RO_EL1_EL0, PXN::True, UXN::True),
        Access::UserReadWrite => (AP::RW_EL1_EL0, PXN::True, UXN::True),
        Access::UserReadExec => (AP::RO_EL1_EL0, PXN::True, UXN::False),
    };
    let sh = match attrs.mem {
        MemAttr::Normal | MemAttr::NormalNonCacheable => SH::InnerShareable,
        MemAttr::Device => SH::OuterShareable,
    };
    let ng = if attrs.global { nG::False } else { nG::True };
    let mut d = PageDescriptor::new(0);
    d.write(
        ap + pxn
            + uxn
            + sh
            + ng
            + AF::True
            + ATTRINDX.val(attrs.mem.index())
            + SW.val(u64::from(attrs.sw)),
    );
    d.get()
}

/// Complete leaf descriptor mapping `pa` with `attrs` at `level` (1, 2 or 3).
pub fn leaf_descriptor(pa: PhysAddr, attrs: PageAttrs, level: usize) -> u64 {
    with_output(descriptor_bits(attrs), pa, level)
}

/// `raw` with `VALID`, `TYPE` (for a leaf at `level`) and output address `pa` replaced,
/// keeping every other bit: used to split blocks without losing attributes.
pub fn with_output(raw: u64, pa: PhysAddr, level: usize) -> u64 {
    use STAGE1_PAGE_DESCRIPTOR::*;
    let ty = if level == LAST_LEVEL {
        TYPE::Page
    } else {
        TYPE::Block
    };
    let mut d = PageDescriptor::new(raw);
    d.modify(OUTPUT_ADDR_4KiB.val(pa.as_u64() >> PAGE_SHIFT) + ty + VALID::True);
    d.get()
}

/// Decodes the attributes of leaf descriptor `raw`; `None` if it uses a memory type or a
/// permission combination that [`descriptor_bits`] never produces (e.g. writable and
/// executable, or an EL1-only page executable at EL0). `SH` and `AF` are not checked.
pub fn decode_attrs(raw: u64) -> Option<PageAttrs> {
    use STAGE1_PAGE_DESCRIPTOR::*;
    let d = PageDescriptor::new(raw);
    let mem = MemAttr::from_index(d.read(ATTRINDX))?;
    let (pxn, uxn) = (d.is_set(PXN), d.is_set(UXN));
    let access = match (d.read_as_enum(AP)?, pxn, uxn) {
        (AP::Value::RO_EL1, true, true) => Access::KernelRead,
        (AP::Value::RW_EL1, true, true) => Access::KernelReadWrite,
        (AP::Value::RO_EL1, false, true) => Access::KernelReadExec,
        (AP::Value::RO_EL1_EL0, true, true) => Access::UserRead,
        (AP::Value::RW_EL1_EL0, true, true) => Access::UserReadWrite,
        (AP::Value::RO_EL1_EL0, true, false) => Access::UserReadExec,
        _ => return None,
    };
    Some(PageAttrs {
        access,
        mem,
        global: !d.is_set(nG),
        sw: d.read(SW) as u8,
    })
}
