//! AArch64 stage-1 translation tables: 4 KiB granule, 48-bit VA, levels 0..3.
//!
//! A [`PageTable`] is just the physical address of its level-0 table; every table it
//! owns lives in memory reached through the [`TableMemory`] trait, which the kernel
//! implements over its frame allocator and linear map (and tests implement with boxed
//! arrays). Both VA halves use the same format: bits 47..12 index the tables, and the
//! top 16 bits only pick `TTBR0_EL1` (all zero) or `TTBR1_EL1` (all one). A table
//! remembers which [`Half`] it serves once it is known (explicitly via
//! [`PageTable::new_in`] / [`PageTable::from_root_in`], or from the first successful
//! [`PageTable::map`]) and then rejects addresses of the other half with
//! [`MapError::WrongHalf`].
//!
//! Structural invariant maintained by `map` / `unmap`: apart from the root, no table is
//! left without any valid entry (empty tables are freed). This makes a failed `map`
//! restore the exact previous table structure.
//!
//! What this module does *not* do: TLB maintenance and barriers. After `unmap` or
//! `protect` the kernel must `DSB ISHST; TLBI VAE1IS (or ASIDE1IS) for the range;
//! DSB ISH; ISB`; a non-last-level TLBI is needed after `unmap` because intermediate
//! tables may have been freed. When a live block is split, the library invalidates the
//! block entry and calls [`TableMemory::break_before_make`] before installing the new
//! table, so the kernel can run the break-before-make TLBI in between.
//!
//! See [`descriptor`] for the exact bit encoding and [`attrs`] for `MAIR_EL1`.

pub mod attrs;
pub mod descriptor;
mod ops;

#[cfg(test)]
mod tests;

use core::fmt;

pub use attrs::{Access, MemAttr, PageAttrs, MAIR_EL1_VALUE};
pub use descriptor::descriptor_bits;

use crate::addr::{Half, PhysAddr, VirtAddr, PAGE_SIZE};
use descriptor::{classify, decode_attrs, level_size, table_index, EntryKind, LAST_LEVEL};

/// Size of a level-1 block.
pub const BLOCK_1G: u64 = 1 << 30;
/// Size of a level-2 block.
pub const BLOCK_2M: u64 = 1 << 21;

/// Exclusive upper bound of the 48-bit offset within one VA half / of output addresses.
const SPACE_END: u64 = 1 << VirtAddr::VA_BITS;

/// Backing store for translation tables.
///
/// Implementations hand out 4 KiB-aligned tables whose physical addresses are below
/// 2^48 and give the page-table code safe access to their contents.
pub trait TableMemory {
    /// Allocates a zeroed 4 KiB table and returns its physical address, or `None` if out
    /// of memory.
    fn alloc_table(&mut self) -> Option<PhysAddr>;

    /// The table at `pa` (previously returned by [`TableMemory::alloc_table`] or the
    /// root passed to [`PageTable::from_root`]).
    fn table(&self, pa: PhysAddr) -> &[u64; 512];

    /// Mutable access to the table at `pa`.
    fn table_mut(&mut self, pa: PhysAddr) -> &mut [u64; 512];

    /// Returns a table that is no longer referenced by the translation tables.
    ///
    /// On real hardware a walker may still hold the old descriptor until the kernel's
    /// TLB invalidation for the affected range has completed, so the frame must not be
    /// reused before then (e.g. queue it and release it after the `TLBI`).
    fn free_table(&mut self, pa: PhysAddr);

    /// Called when a valid block mapping `[va, va + size)` has just been replaced by an
    /// invalid descriptor, before a table descriptor is written in its place (block
    /// split). For live tables the kernel must complete `DSB ISHST; TLBI VAE1IS; DSB ISH`
    /// for `va` here. The default does nothing (fine for tables that are not live).
    fn break_before_make(&mut self, va: VirtAddr, size: u64) {
        let _ = (va, size);
    }
}

/// Errors from [`PageTable`] operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MapError {
    /// `va`, `pa` or `size` is not a multiple of 4 KiB.
    Unaligned,
    /// `va` is not canonical (bits 63..48 neither all zero nor all one).
    NonCanonical,
    /// The range runs past the end of its 48-bit VA half, or `pa + size` past 2^48.
    Overflow,
    /// A page in the range is already mapped; `va` is the first such address.
    AlreadyMapped {
        /// First mapped address in the range.
        va: VirtAddr,
    },
    /// A page in the range is not mapped; `va` is the first such address.
    NotMapped {
        /// First unmapped address in the range.
        va: VirtAddr,
    },
    /// [`TableMemory::alloc_table`] failed.
    OutOfTables,
    /// `va` belongs to the other VA half than the one this table serves.
    WrongHalf {
        /// The offending address.
        va: VirtAddr,
    },
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unaligned => f.write_str("address or size not page-aligned"),
            Self::NonCanonical => f.write_str("non-canonical virtual address"),
            Self::Overflow => f.write_str("range exceeds the 48-bit address space"),
            Self::AlreadyMapped { va } => write!(f, "{va} is already mapped"),
            Self::NotMapped { va } => write!(f, "{va} is not mapped"),
            Self::OutOfTables => f.write_str("out of memory for translation tables"),
            Self::WrongHalf { va } => write!(f, "{va} belongs to the other address-space half"),
        }
    }
}

/// Result of [`PageTable::translate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Translation {
    /// Physical address `va` translates to (including the offset within the page/block).
    pub pa: PhysAddr,
    /// Attributes of the leaf entry.
    pub attrs: PageAttrs,
    /// Size of the leaf entry: 4 KiB, 2 MiB or 1 GiB.
    pub size: u64,
}

/// One leaf entry, as reported by [`PageTable::for_each_mapping`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Mapping {
    /// First virtual address of the entry.
    pub va: VirtAddr,
    /// First physical address of the entry.
    pub pa: PhysAddr,
    /// 4 KiB, 2 MiB or 1 GiB.
    pub size: u64,
    /// Attributes of the entry.
    pub attrs: PageAttrs,
}

/// A stage-1 translation table tree, identified by its level-0 table.
#[derive(Debug, PartialEq, Eq)]
pub struct PageTable {
    root: PhysAddr,
    half: Option<Half>,
}

/// The descriptor slot that terminates a walk for some address.
#[derive(Clone, Copy, Debug)]
struct Slot {
    /// Level of the table holding the slot.
    level: usize,
    /// Table holding the slot.
    table: PhysAddr,
    /// Index within `table`.
    index: usize,
    /// Raw descriptor.
    raw: u64,
    /// First 48-bit VA offset covered by the slot.
    base: u64,
}

impl Slot {
    /// Bytes covered by the slot.
    fn size(&self) -> u64 {
        level_size(self.level)
    }

    /// Exclusive end offset covered by the slot.
    fn end(&self) -> u64 {
        self.base + self.size()
    }

    /// The output address if the slot holds a leaf.
    fn leaf(&self) -> Option<PhysAddr> {
        match classify(self.raw, self.level) {
            EntryKind::Leaf(pa) => Some(pa),
            _ => None,
        }
    }
}

impl PageTable {
    /// Allocates an empty root table; the half is fixed by the first `map`.
    ///
    /// # Errors
    /// [`MapError::OutOfTables`] if no table could be allocated.
    pub fn new<M: TableMemory + ?Sized>(mem: &mut M) -> Result<Self, MapError> {
        let root = Self::alloc_zeroed(mem)?;
        Ok(Self { root, half: None })
    }

    /// Allocates an empty root table serving VA half `half`.
    ///
    /// # Errors
    /// [`MapError::OutOfTables`] if no table could be allocated.
    pub fn new_in<M: TableMemory + ?Sized>(mem: &mut M, half: Half) -> Result<Self, MapError> {
        let root = Self::alloc_zeroed(mem)?;
        Ok(Self {
            root,
            half: Some(half),
        })
    }

    /// Adopts an existing level-0 table (e.g. the one in `TTBR1_EL1`); the half is fixed
    /// by the first `map`.
    pub const fn from_root(root: PhysAddr) -> Self {
        Self { root, half: None }
    }

    /// Adopts an existing level-0 table serving VA half `half`.
    pub const fn from_root_in(root: PhysAddr, half: Half) -> Self {
        Self {
            root,
            half: Some(half),
        }
    }

    /// Physical address of the level-0 table (the `BADDR` for `TTBRn_EL1`).
    pub const fn root(&self) -> PhysAddr {
        self.root
    }

    /// The VA half this table serves, if known yet.
    pub const fn half(&self) -> Option<Half> {
        self.half
    }

    /// Allocates a table and zeroes it (defensively; the trait promises zeroed tables).
    fn alloc_zeroed<M: TableMemory + ?Sized>(mem: &mut M) -> Result<PhysAddr, MapError> {
        let pa = mem.alloc_table().ok_or(MapError::OutOfTables)?;
        debug_assert!(pa.is_aligned(PAGE_SIZE) && pa.as_u64() < SPACE_END);
        *mem.table_mut(pa) = [0; 512];
        Ok(pa)
    }

    /// Splits `va` into its half and 48-bit offset, checking the half against the table.
    fn locate(&self, va: VirtAddr) -> Result<(Half, u64), MapError> {
        let half = va.half().ok_or(MapError::NonCanonical)?;
        match self.half {
            Some(h) if h != half => Err(MapError::WrongHalf { va }),
            _ => Ok((half, va.offset48())),
        }
    }

    /// Validates `[va, va + size)` and returns `(half, start, end)` as 48-bit offsets.
    fn check_range(&self, va: VirtAddr, size: u64) -> Result<(Half, u64, u64), MapError> {
        let (half, start) = self.locate(va)?;
        if !va.is_aligned(PAGE_SIZE) || !size.is_multiple_of(PAGE_SIZE) {
            return Err(MapError::Unaligned);
        }
        match start.checked_add(size) {
            Some(end) if end <= SPACE_END => Ok((half, start, end)),
            _ => Err(MapError::Overflow),
        }
    }

    /// Walks from the root to the slot that terminates the walk for offset `off`.
    fn lookup<M: TableMemory + ?Sized>(&self, mem: &M, off: u64) -> Slot {
        let mut table = self.root;
        let mut level = 0;
        loop {
            let index = table_index(off, level);
            let raw = mem.table(table)[index];
            match classify(raw, level) {
                EntryKind::Table(next) => {
                    table = next;
                    level += 1;
                }
                _ => {
                    let size = level_size(level);
                    return Slot {
                        level,
                        table,
                        index,
                        raw,
                        base: off & !(size - 1),
                    };
                }
            }
        }
    }

    /// Translates `va`; `None` if it is unmapped, of the wrong half / non-canonical, or
    /// mapped with attributes this module never produces (see
    /// [`descriptor::decode_attrs`]).
    pub fn translate<M: TableMemory + ?Sized>(&self, mem: &M, va: VirtAddr) -> Option<Translation> {
        let (_, off) = self.locate(va).ok()?;
        let slot = self.lookup(mem, off);
        let out = slot.leaf()?;
        Some(Translation {
            pa: PhysAddr::new(out.as_u64() + (off - slot.base)),
            attrs: decode_attrs(slot.raw)?,
            size: slot.size(),
        })
    }

    /// The raw leaf descriptor mapping `va`, if any (for debugging and tests).
    pub fn raw_descriptor<M: TableMemory + ?Sized>(&self, mem: &M, va: VirtAddr) -> Option<u64> {
        let (_, off) = self.locate(va).ok()?;
        let slot = self.lookup(mem, off);
        slot.leaf().map(|_| slot.raw)
    }

    /// Calls `f` for every leaf entry in ascending VA order (VAs are reported in the
    /// table's half, lower if unknown). Leaves with undecodable attributes are skipped.
    pub fn for_each_mapping<M: TableMemory + ?Sized>(&self, mem: &M, mut f: impl FnMut(Mapping)) {
        let half = self.half.unwrap_or(Half::Lower);
        walk_leaves(mem, self.root, 0, 0, &mut |level, base, raw| {
            if let (EntryKind::Leaf(pa), Some(attrs)) = (classify(raw, level), decode_attrs(raw)) {
                f(Mapping {
                    va: VirtAddr::from_offset48(half, base),
                    pa,
                    size: level_size(level),
                    attrs,
                });
            }
        });
    }

    /// Frees every table of the tree, root included. Mapped frames are not touched.
    pub fn destroy<M: TableMemory + ?Sized>(self, mem: &mut M) {
        free_tree(mem, self.root, 0);
    }
}

/// Calls `f(level, base, raw)` for every leaf below `table` (which sits at `level` and
/// covers offsets from `base`).
fn walk_leaves<M: TableMemory + ?Sized>(
    mem: &M,
    table: PhysAddr,
    level: usize,
    base: u64,
    f: &mut dyn FnMut(usize, u64, u64),
) {
    for (i, &raw) in mem.table(table).iter().enumerate() {
        let entry_base = base + i as u64 * level_size(level);
        match classify(raw, level) {
            EntryKind::Table(next) if level < LAST_LEVEL => {
                walk_leaves(mem, next, level + 1, entry_base, f);
            }
            EntryKind::Leaf(_) => f(level, entry_base, raw),
            _ => {}
        }
    }
}

/// Frees `table` (at `level`) and every table below it.
fn free_tree<M: TableMemory + ?Sized>(mem: &mut M, table: PhysAddr, level: usize) {
    for i in 0..descriptor::ENTRIES {
        if let EntryKind::Table(next) = classify(mem.table(table)[i], level) {
            free_tree(mem, next, level + 1);
        }
    }
    mem.free_table(table);
}
