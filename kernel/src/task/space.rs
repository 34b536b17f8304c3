//! User address spaces: one TTBR0 translation table and ASID per task, pages owned by
//! the space (marked with a software bit so teardown frees exactly them), and checked
//! access to user memory through the linear map.

use crate::memory::frames;
use crate::memory::layout::phys_to_virt;
use abi::Error;
use alloc::sync::Arc;
use alloc::vec::Vec;
use kobj::quota::{Account, Charge, Resource};
use mm::addr::{PhysAddr, VirtAddr, PAGE_SIZE};
use mm::pgtable::{Access, MapError, MemAttr, PageAttrs, PageTable, TableMemory};

/// Software bit: this page's frame belongs to the address space and is freed with it.
pub const SW_OWNED: u8 = 1;

/// Table memory for user tables: frames from the allocator, reached by the linear map.
/// Counts the tables it allocates and frees, so the space can settle its frame charge.
#[derive(Default)]
pub struct UserTableMemory {
    allocated: u64,
    freed: u64,
}

impl TableMemory for UserTableMemory {
    fn alloc_table(&mut self) -> Option<PhysAddr> {
        let pa = frames::alloc_zeroed(1)?;
        self.allocated += 1;
        Some(pa)
    }

    fn table(&self, pa: PhysAddr) -> &[u64; 512] {
        // SAFETY: `pa` is a table frame this memory allocated and that is not freed while a
        // PageTable refers to it; all RAM is mapped in the linear map.
        unsafe { &*(phys_to_virt(pa).as_u64() as *const [u64; 512]) }
    }

    fn table_mut(&mut self, pa: PhysAddr) -> &mut [u64; 512] {
        // SAFETY: as in `table`; `&mut self` makes this the only reference handed out.
        unsafe { &mut *(phys_to_virt(pa).as_u64() as *mut [u64; 512]) }
    }

    fn free_table(&mut self, pa: PhysAddr) {
        frames::free(pa, 1);
        self.freed += 1;
    }

    fn break_before_make(&mut self, _va: VirtAddr, _size: u64) {
        // User tables never hold blocks (every user mapping is page-granular).
    }
}

/// Most translation tables a page-granular mapping of `[va, va + size)` can need: one
/// last-level table per 2 MiB it touches, one level-2 table per 1 GiB, one level-1 per
/// 512 GiB (the root exists already).
fn worst_case_tables(va: u64, size: u64) -> u64 {
    let end = va.saturating_add(size.max(1));
    [1u64 << 21, 1 << 30, 1 << 39]
        .iter()
        .map(|&span| (end - 1) / span - va / span + 1)
        .sum()
}

/// Which access a user range must allow.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum UserAccess {
    /// Readable by EL0.
    Read,
    /// Writable by EL0.
    Write,
}

/// A task's address space. Every frame it holds (tables and owned pages) is charged to
/// the task's account.
pub struct AddressSpace {
    table: PageTable,
    asid: u16,
    frames: Charge,
}

impl AddressSpace {
    /// An empty address space tagged with `asid`, its frames charged to `account`.
    pub fn new(asid: u16, account: &Arc<Account>) -> Result<Self, Error> {
        // The root table.
        let frames = account.charge(Resource::Frames, 1)?;
        let table = PageTable::new_in(&mut UserTableMemory::default(), mm::Half::Lower)
            .map_err(|_| Error::NoMemory)?;
        Ok(Self {
            table,
            asid,
            frames,
        })
    }

    /// The TTBR0_EL1 value: root table and ASID.
    pub fn ttbr0(&self) -> u64 {
        self.table.root().as_u64() | (u64::from(self.asid) << 48)
    }

    /// The ASID.
    pub fn asid(&self) -> u16 {
        self.asid
    }

    /// Run a table operation that may allocate tables for `[va, va + size)`: the worst
    /// case is charged first (`NoMemory` if the quota lacks it), what was not used is
    /// given back after.
    fn with_tables<T>(
        &mut self,
        va: u64,
        size: u64,
        op: impl FnOnce(&mut PageTable, &mut UserTableMemory) -> T,
    ) -> Result<T, Error> {
        let worst = worst_case_tables(va, size);
        self.frames.grow(worst)?;
        let mut mem = UserTableMemory::default();
        let r = op(&mut self.table, &mut mem);
        self.frames.shrink(worst - mem.allocated + mem.freed);
        Ok(r)
    }

    /// Map fresh zeroed pages at `[va, va + size)` with `access`, owned by this space.
    pub fn map_new(&mut self, va: u64, size: u64, access: Access) -> Result<(), Error> {
        let attrs = PageAttrs::user(access, MemAttr::Normal).with_sw(SW_OWNED);
        let pages = size.div_ceil(PAGE_SIZE);
        self.frames.grow(pages)?;
        let mut done = 0;
        while done < size {
            let result = match frames::alloc_zeroed(1) {
                None => Err(Error::NoMemory),
                Some(pa) => {
                    let r = self.with_tables(va + done, PAGE_SIZE, |table, mem| {
                        table.map(mem, VirtAddr::new(va + done), pa, PAGE_SIZE, attrs, false)
                    });
                    match r {
                        Ok(Ok(())) => Ok(()),
                        Ok(Err(e)) => {
                            frames::free(pa, 1);
                            Err(map_error(e))
                        }
                        Err(e) => {
                            frames::free(pa, 1);
                            Err(e)
                        }
                    }
                }
            };
            if let Err(e) = result {
                // Leave nothing half-mapped: undo this call's pages (unmap gives back
                // the charge of those mapped) and the charge of the rest.
                self.frames.shrink((size - done).div_ceil(PAGE_SIZE));
                if done > 0 {
                    let _ = self.unmap(va, done);
                }
                return Err(e);
            }
            done += PAGE_SIZE;
        }
        Ok(())
    }

    /// Map pages that belong to someone else (a buffer object) at `va`, in order, with
    /// `access` and memory type `mem`. They are not freed with the space. On error
    /// nothing stays mapped.
    pub fn map_shared(
        &mut self,
        va: u64,
        frames: &[PhysAddr],
        access: Access,
        mem: MemAttr,
    ) -> Result<(), Error> {
        let attrs = PageAttrs::user(access, mem);
        let len = frames.len() as u64 * PAGE_SIZE;
        let r = self.with_tables(va, len, |table, tm| {
            for (i, &pa) in frames.iter().enumerate() {
                let page_va = VirtAddr::new(va + i as u64 * PAGE_SIZE);
                if let Err(e) = table.map(tm, page_va, pa, PAGE_SIZE, attrs, false) {
                    return Err((i, e));
                }
            }
            Ok(())
        })?;
        if let Err((i, e)) = r {
            if i > 0 {
                let _ = self.unmap(va, i as u64 * PAGE_SIZE);
            }
            return Err(map_error(e));
        }
        Ok(())
    }

    /// Unmap `[va, va + size)`: drop this ASID's TLB entries and free the frames the
    /// space owns (shared pages stay with their owner).
    pub fn unmap(&mut self, va: u64, size: u64) -> Result<(), Error> {
        let mut frames_to_free = Vec::new();
        let mut off = 0;
        while off < size {
            if let Some(t) = self
                .table
                .translate(&UserTableMemory::default(), VirtAddr::new(va + off))
            {
                if t.attrs.sw & SW_OWNED != 0 {
                    frames_to_free.push(t.pa.align_down(PAGE_SIZE));
                }
            }
            off += PAGE_SIZE;
        }
        let mut mem = UserTableMemory::default();
        self.table
            .unmap(&mut mem, VirtAddr::new(va), size)
            .map_err(map_error)?;
        crate::arch::mmu::invalidate_tlb_asid(self.asid);
        self.frames.shrink(mem.freed + frames_to_free.len() as u64);
        for pa in frames_to_free {
            frames::free(pa, 1);
        }
        Ok(())
    }

    /// Change the access of one mapped page and drop its TLB entry.
    pub fn protect_page(&mut self, va: u64, access: Access, mem: MemAttr) -> Result<(), Error> {
        let attrs = PageAttrs::user(access, mem);
        self.table
            .protect(
                &mut UserTableMemory::default(),
                VirtAddr::new(va),
                PAGE_SIZE,
                attrs,
            )
            .map_err(map_error)?;
        crate::arch::mmu::invalidate_tlb_user_page(va, self.asid);
        Ok(())
    }

    /// Unmap `[va, va + size)` (every page must be mapped) without TLB maintenance: the
    /// caller invalidates once for a batch. Owned frames are not freed (use only for
    /// shared pages).
    pub fn unmap_quiet(&mut self, va: u64, size: u64) -> Result<(), Error> {
        let mut mem = UserTableMemory::default();
        self.table
            .unmap(&mut mem, VirtAddr::new(va), size)
            .map_err(map_error)?;
        self.frames.shrink(mem.freed);
        Ok(())
    }

    /// [`AddressSpace::unmap_quiet`] that keeps the page tables that become empty (the
    /// legacy path's zap: the pages fault in again right after);
    /// [`AddressSpace::prune`] frees them. No TLB maintenance.
    pub fn unmap_keep_tables(&mut self, va: u64, size: u64) -> Result<(), Error> {
        let mut mem = UserTableMemory::default();
        self.table
            .unmap_keep_tables(&mut mem, VirtAddr::new(va), size)
            .map_err(map_error)
    }

    /// Free the page tables of `[va, va + size)` that map nothing any more.
    pub fn prune(&mut self, va: u64, size: u64) -> Result<(), Error> {
        let mut mem = UserTableMemory::default();
        self.table
            .prune_range(&mut mem, VirtAddr::new(va), size)
            .map_err(map_error)?;
        self.frames.shrink(mem.freed);
        Ok(())
    }

    /// Physical address behind user address `va` if EL0 may access it as `access` and
    /// the kernel may copy to or from it: pages mapped non-cacheable (uncached buffers,
    /// legacy UNCACHED mappings) are refused, since the kernel copies through its
    /// cacheable linear map, which must never hold lines of non-cacheable memory.
    pub fn translate_user(&self, va: u64, access: UserAccess) -> Result<PhysAddr, Error> {
        if va >= abi::USER_END {
            return Err(Error::BadAddress);
        }
        let t = self
            .table
            .translate(&UserTableMemory::default(), VirtAddr::new(va))
            .ok_or(Error::BadAddress)?;
        let ok = matches!(
            (access, t.attrs.access),
            (
                UserAccess::Read,
                Access::UserRead | Access::UserReadWrite | Access::UserReadExec
            ) | (UserAccess::Write, Access::UserReadWrite)
        );
        if ok && t.attrs.mem == MemAttr::Normal {
            Ok(t.pa)
        } else {
            Err(Error::BadAddress)
        }
    }

    /// Check a whole user range for `access`; `BadAddress` if any byte fails or the range
    /// wraps. A zero-length range is always fine.
    pub fn check_range(&self, va: u64, len: u64, access: UserAccess) -> Result<(), Error> {
        if len == 0 {
            return Ok(());
        }
        let end = va.checked_add(len).ok_or(Error::BadAddress)?;
        if end > abi::USER_END {
            return Err(Error::BadAddress);
        }
        let mut page = va & !(PAGE_SIZE - 1);
        while page < end {
            self.translate_user(page, access)?;
            page += PAGE_SIZE;
        }
        Ok(())
    }

    /// Copy bytes out of user memory (checked for EL0 read access).
    pub fn read(&self, va: u64, len: usize) -> Result<Vec<u8>, Error> {
        self.check_range(va, len as u64, UserAccess::Read)?;
        let mut out = Vec::new();
        out.try_reserve_exact(len).map_err(|_| Error::NoMemory)?;
        self.for_each_chunk(va, len, UserAccess::Read, |kva, n| {
            // SAFETY: `kva` is the linear-map address of a user page checked above; `n`
            // bytes stay inside that page.
            out.extend_from_slice(unsafe { core::slice::from_raw_parts(kva as *const u8, n) });
        })?;
        Ok(out)
    }

    /// Copy bytes into user memory (checked for EL0 write access).
    pub fn write(&self, va: u64, data: &[u8]) -> Result<(), Error> {
        self.check_range(va, data.len() as u64, UserAccess::Write)?;
        self.write_unchecked_access(va, data)
    }

    /// Copy bytes into pages of this space regardless of EL0 permissions (the loader
    /// fills read-only text this way). The range must be mapped.
    pub fn write_unchecked_access(&self, va: u64, data: &[u8]) -> Result<(), Error> {
        let mut done = 0;
        self.for_each_chunk(va, data.len(), UserAccess::Read, |kva, n| {
            // SAFETY: `kva` is the linear-map address of a mapped page of this space; the
            // chunk stays inside it and the frame belongs to this address space.
            unsafe { core::ptr::copy_nonoverlapping(data[done..].as_ptr(), kva as *mut u8, n) };
            done += n;
        })
    }

    fn for_each_chunk(
        &self,
        va: u64,
        len: usize,
        access: UserAccess,
        mut f: impl FnMut(u64, usize),
    ) -> Result<(), Error> {
        let mut cur = va;
        let mut left = len as u64;
        while left > 0 {
            let pa = self.translate_user(cur, access)?;
            let in_page = (PAGE_SIZE - (cur & (PAGE_SIZE - 1))).min(left);
            f(phys_to_virt(pa).as_u64(), in_page as usize);
            cur += in_page;
            left -= in_page;
        }
        Ok(())
    }

    /// Tear down: drop this ASID's TLB entries, free owned frames and every table (and
    /// with them the frame charge).
    pub fn destroy(self) {
        crate::arch::mmu::invalidate_tlb_asid(self.asid);
        let mut owned = Vec::new();
        self.table
            .for_each_mapping(&UserTableMemory::default(), |m| {
                if m.attrs.sw & SW_OWNED != 0 {
                    owned.push((m.pa, m.size));
                }
            });
        self.table.destroy(&mut UserTableMemory::default());
        for (pa, size) in owned {
            frames::free(pa, (size / PAGE_SIZE) as usize);
        }
    }
}

fn map_error(e: MapError) -> Error {
    match e {
        MapError::OutOfTables => Error::NoMemory,
        _ => Error::BadProgram,
    }
}
