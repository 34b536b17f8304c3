//! User address spaces: one TTBR0 translation table and ASID per task, pages owned by
//! the space (marked with a software bit so teardown frees exactly them), and checked
//! access to user memory through the linear map.

use crate::memory::frames;
use crate::memory::layout::phys_to_virt;
use abi::Error;
use alloc::vec::Vec;
use mm::addr::{PhysAddr, VirtAddr, PAGE_SIZE};
use mm::pgtable::{Access, MapError, MemAttr, PageAttrs, PageTable, TableMemory};

/// Software bit: this page's frame belongs to the address space and is freed with it.
pub const SW_OWNED: u8 = 1;

/// Table memory for user tables: frames from the allocator, reached by the linear map.
pub struct UserTableMemory;

impl TableMemory for UserTableMemory {
    fn alloc_table(&mut self) -> Option<PhysAddr> {
        frames::alloc_zeroed(1)
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
    }

    fn break_before_make(&mut self, _va: VirtAddr, _size: u64) {
        // User tables never hold blocks (every user mapping is page-granular).
    }
}

/// Which access a user range must allow.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum UserAccess {
    /// Readable by EL0.
    Read,
    /// Writable by EL0.
    Write,
}

/// A task's address space.
pub struct AddressSpace {
    table: PageTable,
    asid: u16,
}

impl AddressSpace {
    /// An empty address space tagged with `asid`.
    pub fn new(asid: u16) -> Result<Self, Error> {
        let table = PageTable::new_in(&mut UserTableMemory, mm::Half::Lower)
            .map_err(|_| Error::NoMemory)?;
        Ok(Self { table, asid })
    }

    /// The TTBR0_EL1 value: root table and ASID.
    pub fn ttbr0(&self) -> u64 {
        self.table.root().as_u64() | (u64::from(self.asid) << 48)
    }

    /// The ASID.
    pub fn asid(&self) -> u16 {
        self.asid
    }

    /// Map fresh zeroed pages at `[va, va + size)` with `access`, owned by this space.
    pub fn map_new(&mut self, va: u64, size: u64, access: Access) -> Result<(), Error> {
        let attrs = PageAttrs::user(access, MemAttr::Normal).with_sw(SW_OWNED);
        let mut done = 0;
        while done < size {
            let result = match frames::alloc_zeroed(1) {
                None => Err(Error::NoMemory),
                Some(pa) => {
                    let r = self.table.map(
                        &mut UserTableMemory,
                        VirtAddr::new(va + done),
                        pa,
                        PAGE_SIZE,
                        attrs,
                        false,
                    );
                    r.map_err(|e| {
                        frames::free(pa, 1);
                        map_error(e)
                    })
                }
            };
            if let Err(e) = result {
                // Leave nothing half-mapped: undo this call's pages.
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
        for (i, &pa) in frames.iter().enumerate() {
            let page_va = VirtAddr::new(va + i as u64 * PAGE_SIZE);
            if let Err(e) =
                self.table
                    .map(&mut UserTableMemory, page_va, pa, PAGE_SIZE, attrs, false)
            {
                if i > 0 {
                    let _ = self.unmap(va, i as u64 * PAGE_SIZE);
                }
                return Err(map_error(e));
            }
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
                .translate(&UserTableMemory, VirtAddr::new(va + off))
            {
                if t.attrs.sw & SW_OWNED != 0 {
                    frames_to_free.push(t.pa.align_down(PAGE_SIZE));
                }
            }
            off += PAGE_SIZE;
        }
        self.table
            .unmap(&mut UserTableMemory, VirtAddr::new(va), size)
            .map_err(map_error)?;
        crate::arch::mmu::invalidate_tlb_asid(self.asid);
        for pa in frames_to_free {
            frames::free(pa, 1);
        }
        Ok(())
    }

    /// Change the access of one mapped page and drop its TLB entry.
    pub fn protect_page(&mut self, va: u64, access: Access, mem: MemAttr) -> Result<(), Error> {
        let attrs = PageAttrs::user(access, mem);
        self.table
            .protect(&mut UserTableMemory, VirtAddr::new(va), PAGE_SIZE, attrs)
            .map_err(map_error)?;
        crate::arch::mmu::invalidate_tlb_user_page(va, self.asid);
        Ok(())
    }

    /// Unmap `[va, va + size)` (every page must be mapped) without TLB maintenance: the
    /// caller invalidates once for a batch. Owned frames are not freed (use only for
    /// shared pages).
    pub fn unmap_quiet(&mut self, va: u64, size: u64) -> Result<(), Error> {
        self.table
            .unmap(&mut UserTableMemory, VirtAddr::new(va), size)
            .map_err(map_error)
    }

    /// Physical address behind user address `va` if EL0 may access it as `access`.
    pub fn translate_user(&self, va: u64, access: UserAccess) -> Result<PhysAddr, Error> {
        if va >= abi::USER_END {
            return Err(Error::BadAddress);
        }
        let t = self
            .table
            .translate(&UserTableMemory, VirtAddr::new(va))
            .ok_or(Error::BadAddress)?;
        let ok = matches!(
            (access, t.attrs.access),
            (
                UserAccess::Read,
                Access::UserRead | Access::UserReadWrite | Access::UserReadExec
            ) | (UserAccess::Write, Access::UserReadWrite)
        );
        if ok {
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

    /// Tear down: drop this ASID's TLB entries, free owned frames and every table.
    pub fn destroy(self) {
        crate::arch::mmu::invalidate_tlb_asid(self.asid);
        let mut owned = Vec::new();
        self.table.for_each_mapping(&UserTableMemory, |m| {
            if m.attrs.sw & SW_OWNED != 0 {
                owned.push((m.pa, m.size));
            }
        });
        self.table.destroy(&mut UserTableMemory);
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
