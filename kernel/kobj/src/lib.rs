//! Portable kernel-object logic, tested on the host.
//!
//! [`vrange::RangeAllocator`] hands out address windows for buffer mappings.
//!
//! [`HandleTable`] is each task's table of handles: slots holding an object and the
//! rights this handle grants, named by values that carry the slot's generation so a
//! closed (stale) or made-up value never reaches another object.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;

pub mod gate;
pub mod quota;
pub mod vrange;

use abi::{Error, Handle, Rights};
use alloc::vec::Vec;

/// A slot's generation once it can never be used again: handle values carry a
/// generation of 1..=65535, so none matches 0.
const RETIRED: u16 = 0;

struct Slot<T> {
    /// The generation of the slot's current (or next) handle; [`RETIRED`] once every
    /// generation has been used.
    generation: u16,
    entry: Option<(T, Rights)>,
}

/// A per-task table with at most `capacity` live handles.
///
/// A handle value is never repeated: closing a handle moves its slot's generation on,
/// and a slot whose 65,535 generations are used up is retired for good (a new slot index
/// takes its place), so a stale value can never name a later object. A table has at
/// most twice its capacity in slot indices (so its memory is bounded), which serves at
/// least `capacity` x 65,535 handles before it answers `TableFull` for ever.
pub struct HandleTable<T> {
    slots: Vec<Slot<T>>,
    /// Where `slots` is, for code that reads the table without calling it (the kernel's
    /// hand-written syscall fast path; see [`HandleTable::RAW_OFFSET`]).
    raw: RawSlots,
    capacity: usize,
    max_slots: usize,
    live: usize,
    /// No free slot below this index.
    free_hint: usize,
}

/// Most slot indices of any table (the slot field of a handle value is 16 bits, value
/// `slot + 1`).
const MAX_SLOTS: usize = u16::MAX as usize;

/// The address and number of a table's slots, kept equal to its slot vector's after
/// every change of either (only [`HandleTable::insert`] adds slots, and none are ever
/// removed), so that code that cannot call the table (assembly) can find a slot: slot
/// `i` is at `base + i * SLOT_SIZE`, for `i < len`.
#[repr(C)]
#[derive(Debug)]
pub struct RawSlots {
    /// The first slot's address.
    pub base: usize,
    /// How many slots there are.
    pub len: usize,
}

impl<T> HandleTable<T> {
    /// Where a table keeps its [`RawSlots`], in bytes from its start.
    pub const RAW_OFFSET: usize = core::mem::offset_of!(Self, raw);
    /// The size of a slot, in bytes.
    pub const SLOT_SIZE: usize = core::mem::size_of::<Slot<T>>();
    /// Where a slot keeps its generation (a `u16`), in bytes from its start: a handle
    /// value names slot `i` of generation `g` as `g << 16 | (i + 1)`.
    pub const SLOT_GENERATION: usize = core::mem::offset_of!(Slot<T>, generation);
    /// Where a slot keeps its entry, an `Option<(T, Rights)>`, in bytes from its start.
    pub const SLOT_ENTRY: usize = core::mem::offset_of!(Slot<T>, entry);

    /// The table's [`RawSlots`].
    pub fn raw(&self) -> &RawSlots {
        &self.raw
    }
}

impl<T: Clone> HandleTable<T> {
    /// An empty table that can hold up to `capacity` (≤ 32767) handles.
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.min(MAX_SLOTS / 2);
        let slots = Vec::new();
        Self {
            raw: RawSlots {
                base: slots.as_ptr() as usize,
                len: 0,
            },
            slots,
            capacity,
            max_slots: 2 * capacity,
            live: 0,
            free_hint: 0,
        }
    }

    /// The most memory the table's slots can take, in bytes.
    pub fn max_bytes(&self) -> usize {
        self.max_slots * core::mem::size_of::<Slot<T>>()
    }

    /// Number of live handles.
    pub fn len(&self) -> usize {
        self.live
    }

    /// True if no handle is live.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Free slots left.
    pub fn free_slots(&self) -> usize {
        self.capacity - self.live
    }

    /// Slot indices retired because their generations were used up.
    pub fn retired_slots(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| s.generation == RETIRED)
            .count()
    }

    /// Insert an object; the lowest free slot is reused with its next generation.
    /// `TableFull` at `capacity` live handles (or when every slot index is retired);
    /// `NoMemory` if the table cannot grow.
    pub fn insert(&mut self, object: T, rights: Rights) -> Result<Handle, Error> {
        if self.live >= self.capacity {
            return Err(Error::TableFull);
        }
        let reuse = (self.free_hint..self.slots.len())
            .find(|&i| self.slots[i].entry.is_none() && self.slots[i].generation != RETIRED);
        let i = match reuse {
            Some(i) => i,
            None if self.slots.len() < self.max_slots => {
                self.slots.try_reserve(1).map_err(|_| Error::NoMemory)?;
                self.slots.push(Slot {
                    generation: 1,
                    entry: None,
                });
                self.raw = RawSlots {
                    base: self.slots.as_ptr() as usize,
                    len: self.slots.len(),
                };
                self.slots.len() - 1
            }
            None => return Err(Error::TableFull),
        };
        self.free_hint = i + 1;
        let slot = &mut self.slots[i];
        slot.entry = Some((object, rights));
        self.live += 1;
        Ok(Handle::new(i as u16, slot.generation))
    }

    /// Close slot `i`'s handle: move its generation on (retiring the slot after the
    /// last one) and return its entry.
    fn vacate(&mut self, i: usize) -> Option<(T, Rights)> {
        let slot = &mut self.slots[i];
        let entry = slot.entry.take()?;
        slot.generation = match slot.generation {
            u16::MAX => RETIRED,
            g => g + 1,
        };
        self.live -= 1;
        self.free_hint = self.free_hint.min(i);
        Some(entry)
    }

    /// The object and rights behind `h`.
    pub fn get(&self, h: Handle) -> Result<(&T, Rights), Error> {
        self.get_raw(u64::from(h.0))
    }

    /// The object and rights behind the raw handle value `raw` (a syscall's argument
    /// register): [`get`](Self::get) of `Handle(raw)` for a `u32` value, `BadHandle`
    /// for any other.
    #[inline(always)]
    pub fn get_raw(&self, raw: u64) -> Result<(&T, Rights), Error> {
        self.pick_raw(raw, |e| e.map(|(o, r)| (o, *r)))
            .ok_or(Error::BadHandle)
    }

    /// What `pick` makes of the entry behind the raw handle value `raw` (`None` for an
    /// empty slot), or `None` if `raw` names no slot of this generation: for a caller
    /// that wants one kind of object and need not tell a bad handle from a wrong one
    /// (the syscall fast path), one look at the slot instead of two. One comparison
    /// checks both the generation and that no bit above it is set, and the null slot
    /// needs none.
    #[inline(always)]
    pub fn pick_raw<'a, U>(
        &'a self,
        raw: u64,
        pick: impl FnOnce(Option<&'a (T, Rights)>) -> Option<U>,
    ) -> Option<U> {
        // The null slot (0) wraps to 65,535: no table has that many slots.
        let i = usize::from((raw as u16).wrapping_sub(1));
        let slot = self.slots.get(i)?;
        if u64::from(slot.generation) != raw >> 16 {
            return None;
        }
        pick(slot.entry.as_ref())
    }

    /// The object behind `h` if the handle has every right in `need`
    /// (`AccessDenied` otherwise).
    pub fn get_with(&self, h: Handle, need: Rights) -> Result<&T, Error> {
        let (o, r) = self.get(h)?;
        if r.contains(need) {
            Ok(o)
        } else {
            Err(Error::AccessDenied)
        }
    }

    /// Remove `h`, returning its object and rights; the slot's generation moves on so
    /// the old value is stale from now on.
    pub fn remove(&mut self, h: Handle) -> Result<(T, Rights), Error> {
        self.get(h)?;
        let i = h.slot().ok_or(Error::BadHandle)? as usize;
        self.vacate(i).ok_or(Error::BadHandle)
    }

    /// A new handle to the same object with `rights`, which must be defined bits, a
    /// subset of `h`'s rights, and `h` must have `SHARE`. Errors in that order:
    /// `BadHandle`, `InvalidArgument`, `AccessDenied`, `TableFull`.
    pub fn duplicate(&mut self, h: Handle, rights: Rights) -> Result<Handle, Error> {
        let (obj, have) = self.get(h)?;
        if !rights.is_valid() {
            return Err(Error::InvalidArgument);
        }
        if !have.contains(Rights::SHARE) || !have.contains(rights) {
            return Err(Error::AccessDenied);
        }
        let obj = obj.clone();
        self.insert(obj, rights)
    }

    /// Every live handle's object and rights, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (&T, Rights)> {
        self.slots
            .iter()
            .filter_map(|s| s.entry.as_ref().map(|(o, r)| (o, *r)))
    }

    /// Remove every handle, returning the objects (for closing a dying task's table).
    pub fn drain(&mut self) -> Vec<(T, Rights)> {
        let mut out = Vec::new();
        // Fallible: a dying task's handles are dropped in place if there is no room.
        let _ = out.try_reserve_exact(self.live);
        for i in 0..self.slots.len() {
            if let Some(e) = self.vacate(i) {
                if out.len() < out.capacity() {
                    out.push(e);
                }
            }
        }
        out
    }

    /// Check that `handles` are all live, pairwise distinct, and each has `need`;
    /// `InvalidArgument` for a repeat. Changes nothing.
    pub fn check_transfer(&self, handles: &[Handle], need: Rights) -> Result<(), Error> {
        for (i, &h) in handles.iter().enumerate() {
            self.get_with(h, need)?;
            if handles[..i].contains(&h) {
                return Err(Error::InvalidArgument);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RW: Rights = Rights(Rights::SEND.0 | Rights::RECV.0 | Rights::SHARE.0);

    /// The raw view follows the slot vector through every growth (reallocations
    /// included), reuse and retirement.
    #[test]
    fn raw_slots_follow_the_slots() {
        let mut t = HandleTable::new(300);
        let same = |t: &HandleTable<u32>| {
            t.raw().base == t.slots.as_ptr() as usize && t.raw().len == t.slots.len()
        };
        assert!(same(&t));
        let mut live = Vec::new();
        for i in 0..2000u32 {
            if i % 3 == 2 {
                let h = live.remove((i as usize * 7) % live.len());
                t.remove(h).unwrap();
            } else if let Ok(h) = t.insert(i, RW) {
                live.push(h);
            }
            assert!(same(&t), "after step {i}");
        }
        assert!(t.raw().len > 100, "the table grew (and so reallocated)");
    }

    #[test]
    fn insert_get_remove_and_stale_values() {
        let mut t = HandleTable::new(4);
        let a = t.insert("a", RW).unwrap();
        assert_eq!(t.get(a).unwrap(), (&"a", RW));
        assert_eq!(t.remove(a).unwrap(), ("a", RW));
        assert_eq!(t.get(a), Err(Error::BadHandle), "closed handle is stale");
        let b = t.insert("b", RW).unwrap();
        assert_eq!(a.slot(), b.slot(), "slot reused");
        assert_ne!(a, b, "with a new generation");
        assert_eq!(t.get(a), Err(Error::BadHandle));
        assert_eq!(t.remove(a), Err(Error::BadHandle));
        assert_eq!(t.get(b).unwrap().0, &"b");
    }

    #[test]
    fn raw_lookup_is_the_checked_one() {
        let mut t = HandleTable::new(4);
        let a = t.insert(1u32, RW).unwrap();
        let b = t.insert(2u32, RW).unwrap();
        t.remove(b).unwrap();
        let c = t.insert(3u32, RW).unwrap();
        let mut raws = vec![0, u64::MAX, 1 << 32, 0xffff, 0x1_0000];
        for h in [a, b, c] {
            let v = u64::from(h.0);
            raws.extend([v, v | 1 << 32, v | 1 << 63, v ^ 0x1_0000, v & 0xffff, v + 1]);
        }
        for raw in raws {
            let checked = u32::try_from(raw)
                .map_err(|_| Error::BadHandle)
                .and_then(|h| t.get(Handle(h)));
            assert_eq!(t.get_raw(raw), checked, "{raw:#x}");
        }
        assert_eq!(t.get_raw(u64::from(c.0)).unwrap(), (&3, RW));
    }

    #[test]
    fn forged_values_are_bad_handles() {
        let mut t = HandleTable::new(4);
        let a = t.insert(1u32, RW).unwrap();
        for forged in [
            Handle(0),
            Handle(a.0 ^ 0x1_0000),
            Handle::new(3, 1),
            Handle(u32::MAX),
        ] {
            assert_eq!(t.get(forged), Err(Error::BadHandle), "{forged:?}");
        }
    }

    #[test]
    fn table_full() {
        let mut t = HandleTable::new(2);
        t.insert(1, RW).unwrap();
        let h = t.insert(2, RW).unwrap();
        assert_eq!(t.insert(3, RW), Err(Error::TableFull));
        assert_eq!(t.duplicate(h, RW), Err(Error::TableFull));
        t.remove(h).unwrap();
        assert!(t.insert(3, RW).is_ok());
    }

    #[test]
    fn duplicate_only_reduces_rights() {
        let mut t = HandleTable::new(8);
        let h = t.insert(7, RW).unwrap();
        let send_only = t.duplicate(h, Rights::SEND).unwrap();
        assert_eq!(t.get(send_only).unwrap(), (&7, Rights::SEND));
        assert_eq!(
            t.get_with(send_only, Rights::RECV),
            Err(Error::AccessDenied)
        );
        // No SHARE on the duplicate: it cannot be duplicated again, even to fewer rights.
        assert_eq!(
            t.duplicate(send_only, Rights::NONE),
            Err(Error::AccessDenied)
        );
        // Raising is refused.
        assert_eq!(
            t.duplicate(h, RW.with(Rights::WAIT)),
            Err(Error::AccessDenied)
        );
        assert_eq!(t.duplicate(h, Rights(1 << 30)), Err(Error::InvalidArgument));
    }

    #[test]
    fn transfer_checks_change_nothing() {
        let mut t = HandleTable::new(8);
        let a = t.insert(1, RW).unwrap();
        let b = t.insert(2, Rights::SEND).unwrap();
        assert_eq!(t.check_transfer(&[a], Rights::SHARE), Ok(()));
        assert_eq!(
            t.check_transfer(&[a, b], Rights::SHARE),
            Err(Error::AccessDenied)
        );
        assert_eq!(
            t.check_transfer(&[a, a], Rights::SHARE),
            Err(Error::InvalidArgument)
        );
        assert_eq!(
            t.check_transfer(&[Handle(0)], Rights::SHARE),
            Err(Error::BadHandle)
        );
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn a_slot_reused_past_its_generations_retires_and_values_never_repeat() {
        let mut t = HandleTable::new(4);
        let keep = t.insert(0u32, RW).unwrap();
        let mut seen = std::collections::HashSet::new();
        let mut first = None;
        for n in 0..200_000u32 {
            let h = t.insert(n, RW).unwrap();
            assert!(seen.insert(h.0), "handle value {:#x} repeated at {n}", h.0);
            first.get_or_insert(h);
            assert_eq!(t.get(h).unwrap().0, &n);
            // The very first value (same slot index) never names the new object.
            if n > 0 {
                assert_eq!(t.get(first.unwrap()), Err(Error::BadHandle));
            }
            t.remove(h).unwrap();
        }
        assert_eq!(
            t.retired_slots(),
            3,
            "200,000 reuses retire three slot indices"
        );
        assert!(t.slots.capacity() * core::mem::size_of::<Slot<u32>>() <= t.max_bytes());
        assert_eq!(t.get(keep).unwrap().0, &0);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn a_table_whose_slot_indices_are_all_retired_is_full_for_ever() {
        let mut t = HandleTable::new(1);
        for _ in 0..2 * 65_535 {
            let h = t.insert(0u8, RW).unwrap();
            t.remove(h).unwrap();
        }
        assert_eq!(t.retired_slots(), 2);
        assert_eq!(t.insert(0, RW), Err(Error::TableFull));
    }

    #[test]
    fn drain_empties_and_invalidates() {
        let mut t = HandleTable::new(8);
        let a = t.insert(1, RW).unwrap();
        t.insert(2, RW).unwrap();
        assert_eq!(t.drain().len(), 2);
        assert!(t.is_empty());
        assert_eq!(t.get(a), Err(Error::BadHandle));
    }
}
