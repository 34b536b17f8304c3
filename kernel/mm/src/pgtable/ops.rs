//! Mutating operations on a [`PageTable`]: map, unmap, protect, and their helpers
//! (range pre-checks, block splitting, rollback, pruning of empty tables).
//!
//! Every operation validates first and only then changes the tables, so an error leaves
//! the translation unchanged:
//! * `map` checks the whole range is unmapped; if a table allocation fails midway it
//!   removes what it installed and frees the tables it allocated.
//! * `unmap` / `protect` check the whole range is mapped, then split the (at most two)
//!   blocks straddling the range edges. A failed split allocation returns
//!   `OutOfTables`; any split already done maps exactly the same translations.

use super::descriptor::{
    classify, leaf_descriptor, level_size, table_descriptor, table_index, with_output, EntryKind,
    ENTRIES, LAST_LEVEL,
};
use super::{MapError, PageAttrs, PageTable, Slot, TableMemory, SPACE_END};
use crate::addr::{Half, PhysAddr, VirtAddr, PAGE_SIZE};

impl PageTable {
    /// Maps `[va, va + size)` to `[pa, pa + size)` with `attrs`.
    ///
    /// With `allow_blocks`, 1 GiB (level 1) and 2 MiB (level 2) blocks are used wherever
    /// `va`, `pa` and the remaining size allow it (and no table already occupies the
    /// slot); otherwise 4 KiB pages. `size == 0` is a no-op.
    ///
    /// # Errors
    /// [`MapError::NonCanonical`], [`MapError::WrongHalf`], [`MapError::Unaligned`],
    /// [`MapError::Overflow`] for bad arguments, [`MapError::AlreadyMapped`] if any page
    /// of the range is mapped, [`MapError::OutOfTables`] if a table allocation fails. In
    /// every case the tables are left exactly as they were.
    pub fn map<M: TableMemory + ?Sized>(
        &mut self,
        mem: &mut M,
        va: VirtAddr,
        pa: PhysAddr,
        size: u64,
        attrs: PageAttrs,
        allow_blocks: bool,
    ) -> Result<(), MapError> {
        let (half, start, end) = self.check_range(va, size)?;
        if !pa.is_aligned(PAGE_SIZE) {
            return Err(MapError::Unaligned);
        }
        if !matches!(pa.checked_add(size), Some(e) if e.as_u64() <= SPACE_END) {
            return Err(MapError::Overflow);
        }
        if size == 0 {
            return Ok(());
        }
        if let Some(off) = self.first_slot(mem, start, end, true) {
            return Err(MapError::AlreadyMapped {
                va: VirtAddr::from_offset48(half, off),
            });
        }
        let mut cur = start;
        while cur < end {
            let out = PhysAddr::new(pa.as_u64() + (cur - start));
            match self.map_one(mem, cur, out, end - cur, attrs, allow_blocks) {
                Ok(step) => cur += step,
                Err(e) => {
                    self.clear_range(mem, start, cur);
                    self.prune(mem, start, end);
                    return Err(e);
                }
            }
        }
        self.half.get_or_insert(half);
        Ok(())
    }

    /// Removes the mappings of `[va, va + size)`, splitting blocks that are only partly
    /// inside the range and freeing tables that become empty. `size == 0` is a no-op.
    ///
    /// # Errors
    /// Argument errors as for [`PageTable::map`]; [`MapError::NotMapped`] (nothing
    /// changed) if any page of the range is unmapped; [`MapError::OutOfTables`] if a
    /// needed block split cannot allocate a table (translations unchanged).
    pub fn unmap<M: TableMemory + ?Sized>(
        &mut self,
        mem: &mut M,
        va: VirtAddr,
        size: u64,
    ) -> Result<(), MapError> {
        let (start, end) = self.clear_mapped(mem, va, size)?;
        if start != end {
            self.prune(mem, start, end);
        }
        Ok(())
    }

    /// [`PageTable::unmap`] without freeing the tables that become empty: for mappings
    /// that come back soon (a legacy mapping's pages are removed at every device
    /// submission and fault in again right after), where scanning and freeing the
    /// tables, then allocating and zeroing them again, costs far more than the
    /// descriptors. [`PageTable::prune_range`] frees them later.
    ///
    /// # Errors
    /// As for [`PageTable::unmap`].
    pub fn unmap_keep_tables<M: TableMemory + ?Sized>(
        &mut self,
        mem: &mut M,
        va: VirtAddr,
        size: u64,
    ) -> Result<(), MapError> {
        self.clear_mapped(mem, va, size).map(|_| ())
    }

    /// The descriptors of `[va, va + size)` cleared, blocks split at its edges, tables
    /// kept: the common part of the two unmaps. Returns the range as offsets (empty for
    /// `size == 0`).
    fn clear_mapped<M: TableMemory + ?Sized>(
        &mut self,
        mem: &mut M,
        va: VirtAddr,
        size: u64,
    ) -> Result<(u64, u64), MapError> {
        let (half, start, end) = self.prepare_mapped_range(mem, va, size)?;
        if start != end {
            self.split_edges(mem, half, start, end)?;
            self.clear_range(mem, start, end);
        }
        Ok((start, end))
    }

    /// Frees every non-root table intersecting `[va, va + size)` that has no non-zero
    /// descriptor left (the tables [`PageTable::unmap_keep_tables`] kept). Mapped or
    /// not, nothing else changes.
    ///
    /// # Errors
    /// The argument errors of [`PageTable::map`] (nothing changed).
    pub fn prune_range<M: TableMemory + ?Sized>(
        &self,
        mem: &mut M,
        va: VirtAddr,
        size: u64,
    ) -> Result<(), MapError> {
        let (_, start, end) = self.check_range(va, size)?;
        self.prune(mem, start, end);
        Ok(())
    }

    /// Replaces the attributes of every mapping in `[va, va + size)` with `attrs`,
    /// splitting blocks that are only partly inside the range. Output addresses are kept.
    ///
    /// Descriptors are rewritten in place; changing the memory type of a live mapping
    /// architecturally needs break-before-make, so prefer unmap + TLBI + map for that.
    ///
    /// # Errors
    /// As for [`PageTable::unmap`].
    pub fn protect<M: TableMemory + ?Sized>(
        &mut self,
        mem: &mut M,
        va: VirtAddr,
        size: u64,
        attrs: PageAttrs,
    ) -> Result<(), MapError> {
        let (half, start, end) = self.prepare_mapped_range(mem, va, size)?;
        if start == end {
            return Ok(());
        }
        self.split_edges(mem, half, start, end)?;
        let mut cur = start;
        while cur < end {
            let slot = self.lookup(mem, cur);
            if let Some(out) = slot.leaf() {
                debug_assert!(slot.base >= start && slot.end() <= end);
                mem.table_mut(slot.table)[slot.index] = leaf_descriptor(out, attrs, slot.level);
            }
            cur = slot.end();
        }
        Ok(())
    }

    /// Argument checks plus "every page is mapped" for unmap/protect.
    fn prepare_mapped_range<M: TableMemory + ?Sized>(
        &self,
        mem: &M,
        va: VirtAddr,
        size: u64,
    ) -> Result<(Half, u64, u64), MapError> {
        let (half, start, end) = self.check_range(va, size)?;
        if let Some(off) = self.first_slot(mem, start, end, false) {
            return Err(MapError::NotMapped {
                va: VirtAddr::from_offset48(half, off),
            });
        }
        Ok((half, start, end))
    }

    /// First offset in `[start, end)` that is mapped (`want_mapped`) or unmapped
    /// (`!want_mapped`), if any.
    fn first_slot<M: TableMemory + ?Sized>(
        &self,
        mem: &M,
        start: u64,
        end: u64,
        want_mapped: bool,
    ) -> Option<u64> {
        let mut cur = start;
        while cur < end {
            let slot = self.lookup(mem, cur);
            if slot.leaf().is_some() == want_mapped {
                return Some(cur);
            }
            cur = slot.end();
        }
        None
    }

    /// Installs one leaf at `cur` (allocating tables on the way) and returns its size.
    fn map_one<M: TableMemory + ?Sized>(
        &mut self,
        mem: &mut M,
        cur: u64,
        pa: PhysAddr,
        remaining: u64,
        attrs: PageAttrs,
        allow_blocks: bool,
    ) -> Result<u64, MapError> {
        let mut table = self.root;
        for level in 0..=LAST_LEVEL {
            let index = table_index(cur, level);
            let raw = mem.table(table)[index];
            let size = level_size(level);
            let kind = classify(raw, level);
            let block_ok = allow_blocks
                && matches!(level, 1 | 2)
                && cur.is_multiple_of(size)
                && pa.is_aligned(size)
                && remaining >= size;
            if kind == EntryKind::Invalid && (level == LAST_LEVEL || block_ok) {
                mem.table_mut(table)[index] = leaf_descriptor(pa, attrs, level);
                return Ok(size);
            }
            table = match kind {
                EntryKind::Table(next) => next,
                EntryKind::Invalid => {
                    let next = Self::alloc_zeroed(mem)?;
                    mem.table_mut(table)[index] = table_descriptor(next);
                    next
                }
                // Excluded by the pre-check.
                EntryKind::Leaf(_) => break,
            };
        }
        Err(MapError::AlreadyMapped {
            va: VirtAddr::from_offset48(self.half.unwrap_or(Half::Lower), cur),
        })
    }

    /// Clears every leaf in `[start, end)`; leaves must lie entirely inside the range.
    fn clear_range<M: TableMemory + ?Sized>(&self, mem: &mut M, start: u64, end: u64) {
        let mut cur = start;
        while cur < end {
            let slot = self.lookup(mem, cur);
            if slot.leaf().is_some() {
                debug_assert!(slot.base >= start && slot.end() <= end);
                mem.table_mut(slot.table)[slot.index] = 0;
            }
            cur = slot.end();
        }
    }

    /// Splits blocks straddling `start` or `end` so that the range is covered by whole
    /// leaves.
    fn split_edges<M: TableMemory + ?Sized>(
        &self,
        mem: &mut M,
        half: Half,
        start: u64,
        end: u64,
    ) -> Result<(), MapError> {
        self.split_at(mem, half, start)?;
        if end < SPACE_END {
            self.split_at(mem, half, end)?;
        }
        Ok(())
    }

    /// Splits blocks until no leaf straddles offset `off`.
    fn split_at<M: TableMemory + ?Sized>(
        &self,
        mem: &mut M,
        half: Half,
        off: u64,
    ) -> Result<(), MapError> {
        loop {
            let slot = self.lookup(mem, off);
            match slot.leaf() {
                Some(out) if slot.level < LAST_LEVEL && slot.base != off => {
                    Self::split_block(mem, half, &slot, out)?;
                }
                _ => return Ok(()),
            }
        }
    }

    /// Replaces the block in `slot` by a table of 512 next-level leaves with the same
    /// attributes, following break-before-make.
    fn split_block<M: TableMemory + ?Sized>(
        mem: &mut M,
        half: Half,
        slot: &Slot,
        out: PhysAddr,
    ) -> Result<(), MapError> {
        let child = Self::alloc_zeroed(mem)?;
        let child_level = slot.level + 1;
        let child_size = level_size(child_level);
        let entries = mem.table_mut(child);
        for (i, entry) in entries.iter_mut().enumerate() {
            let pa = PhysAddr::new(out.as_u64() + i as u64 * child_size);
            *entry = with_output(slot.raw, pa, child_level);
        }
        mem.table_mut(slot.table)[slot.index] = 0;
        mem.break_before_make(VirtAddr::from_offset48(half, slot.base), slot.size());
        mem.table_mut(slot.table)[slot.index] = table_descriptor(child);
        Ok(())
    }

    /// Frees every non-root table intersecting `[start, end)` that has no non-zero
    /// descriptor left.
    fn prune<M: TableMemory + ?Sized>(&self, mem: &mut M, start: u64, end: u64) {
        prune_table(mem, self.root, 0, 0, start, end);
    }
}

/// Prunes below `table` (at `level`, covering offsets from `base`) within
/// `[start, end)`; returns whether `table` itself is now entirely zero.
fn prune_table<M: TableMemory + ?Sized>(
    mem: &mut M,
    table: PhysAddr,
    level: usize,
    base: u64,
    start: u64,
    end: u64,
) -> bool {
    let size = level_size(level);
    let span = size * ENTRIES as u64;
    let lo = start.max(base);
    let hi = end.min(base + span);
    if lo < hi {
        let first = table_index(lo, level);
        let last = table_index(hi - 1, level);
        for index in first..=last {
            if let EntryKind::Table(next) = classify(mem.table(table)[index], level) {
                let child_base = base + index as u64 * size;
                if prune_table(mem, next, level + 1, child_base, start, end) {
                    mem.table_mut(table)[index] = 0;
                    mem.free_table(next);
                }
            }
        }
    }
    mem.table(table).iter().all(|&raw| raw == 0)
}
