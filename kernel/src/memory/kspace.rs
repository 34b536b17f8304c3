//! The kernel address space (TTBR1): builds the final tables from the FDT's view of the
//! machine and installs them in place of the boot tables.
//!
//! Tables come first from a static pool inside the image (usable before any allocator
//! exists), then from the frame allocator.

use super::frames;
use super::layout::{phys_to_virt, ImageLayout, LINEAR_BASE};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicUsize, Ordering};
use mm::addr::{PhysAddr, VirtAddr, PAGE_SIZE};
use mm::pgtable::{Access, MapError, MemAttr, PageAttrs, PageTable, TableMemory};
use mm::ranges::{subtract, PhysRange};
use spin::Mutex;

const POOL_TABLES: usize = 64;

#[repr(C, align(4096))]
struct Pool(UnsafeCell<[[u64; 512]; POOL_TABLES]>);

// SAFETY: each pool table is handed out once (POOL_NEXT is atomic) and from then on is
// only reached through the `TableMemory` of the kernel space, which is behind a lock.
unsafe impl Sync for Pool {}

static POOL: Pool = Pool(UnsafeCell::new([[0; 512]; POOL_TABLES]));
static POOL_NEXT: AtomicUsize = AtomicUsize::new(0);

/// Table memory for the kernel's own tables.
pub struct KernelTableMemory {
    image: ImageLayout,
}

impl KernelTableMemory {
    fn va_of(&self, pa: PhysAddr) -> u64 {
        if self.image.contains_pa(pa.as_u64()) {
            pa.as_u64() - self.image.load_pa + self.image.text
        } else {
            phys_to_virt(pa).as_u64()
        }
    }
}

impl TableMemory for KernelTableMemory {
    fn alloc_table(&mut self) -> Option<PhysAddr> {
        // Once the frame allocator runs, tables come from it (and go back to it); the
        // pool is only for building the tables that let the allocator start.
        if frames::counts().1 > 0 {
            return frames::alloc_zeroed(1);
        }
        let i = POOL_NEXT.fetch_add(1, Ordering::Relaxed);
        if i < POOL_TABLES {
            let va = POOL.0.get() as u64 + (i as u64) * PAGE_SIZE;
            return Some(PhysAddr::new(self.image.pa_of(va)));
        }
        frames::alloc_zeroed(1)
    }

    fn table(&self, pa: PhysAddr) -> &[u64; 512] {
        // SAFETY: `pa` is a table this memory handed out (pool or frame allocator, never
        // freed while referenced by a PageTable), mapped at `va_of(pa)`.
        unsafe { &*(self.va_of(pa) as *const [u64; 512]) }
    }

    fn table_mut(&mut self, pa: PhysAddr) -> &mut [u64; 512] {
        // SAFETY: as in `table`; `&mut self` makes this the only live reference.
        unsafe { &mut *(self.va_of(pa) as *mut [u64; 512]) }
    }

    fn break_before_make(&mut self, va: VirtAddr, size: u64) {
        // A live block is being split: one TLBI by any address in it drops the block's
        // entry (size is the block's size, kept for the trait's documentation).
        let _ = size;
        crate::arch::mmu::invalidate_tlb_page(va.as_u64());
    }

    fn free_table(&mut self, pa: PhysAddr) {
        // Pool tables are never reused (there are few and they are only for boot).
        if !self.image.contains_pa(pa.as_u64()) {
            frames::free(pa, 1);
        }
    }
}

/// The kernel's TTBR1 tables and the memory they live in.
pub struct KernelSpace {
    table: PageTable,
    mem: KernelTableMemory,
}

static KERNEL_SPACE: Mutex<Option<KernelSpace>> = Mutex::new(None);

extern "C" {
    static early_tables: u8;
}

/// Map one device region (page-rounded) into the *boot* tables, so a console can work
/// before the final tables exist.
pub fn map_early_device(image: &ImageLayout, base: u64, size: u64) -> Result<(), MapError> {
    let early = core::ptr::addr_of!(early_tables) as u64;
    let mut mem = KernelTableMemory { image: *image };
    let mut table = PageTable::from_root(PhysAddr::new(image.pa_of(early + 0x2000)));
    map_device_pages(&mut table, &mut mem, base, size)
}

fn map_device_pages(
    table: &mut PageTable,
    mem: &mut KernelTableMemory,
    base: u64,
    size: u64,
) -> Result<(), MapError> {
    let start = base & !(PAGE_SIZE - 1);
    let end = base.checked_add(size).ok_or(MapError::Overflow)?;
    let attrs = PageAttrs::kernel(Access::KernelReadWrite, MemAttr::Device);
    let mut pa = start;
    while pa < end {
        let va = VirtAddr::new(LINEAR_BASE + pa);
        if table.translate(mem, va).is_none() {
            table.map(mem, va, PhysAddr::new(pa), PAGE_SIZE, attrs, false)?;
        }
        pa += PAGE_SIZE;
    }
    Ok(())
}

/// What the final kernel tables must cover.
pub struct KernelMap<'a> {
    /// The running image.
    pub image: ImageLayout,
    /// RAM regions from the FDT.
    pub memory: &'a [PhysRange],
    /// Device MMIO regions to map Device-nGnRE in the linear map.
    pub devices: &'a [PhysRange],
}

/// Build the final kernel tables and switch TTBR1 to them.
///
/// The linear map covers all RAM except the image; the image is mapped by section
/// (text RX, rodata RO, data/bss/stack RW+XN, the stack guard page unmapped).
pub fn build_and_switch(map: &KernelMap<'_>) -> Result<(), MapError> {
    let image = map.image;
    let mut mem = KernelTableMemory { image };
    let mut table = PageTable::new(&mut mem)?;

    let image_range = PhysRange {
        start: image.load_pa,
        end: image.load_pa + image.phys_size(),
    };
    let linear = PageAttrs::kernel(Access::KernelReadWrite, MemAttr::Normal);
    let mut result = Ok(());
    subtract(map.memory, &[image_range], |r| {
        if result.is_ok() {
            let va = VirtAddr::new(LINEAR_BASE + r.start);
            result = table.map(&mut mem, va, PhysAddr::new(r.start), r.len(), linear, true);
        }
    });
    result?;

    let sections = [
        (image.text, image.text_end, Access::KernelReadExec),
        (image.text_end, image.rodata_end, Access::KernelRead),
        (image.rodata_end, image.stack_guard, Access::KernelReadWrite),
        (image.stack_bottom, image.end, Access::KernelReadWrite),
    ];
    for (start, end, access) in sections {
        if end > start {
            let attrs = PageAttrs::kernel(access, MemAttr::Normal);
            let pa = PhysAddr::new(image.pa_of(start));
            table.map(&mut mem, VirtAddr::new(start), pa, end - start, attrs, true)?;
        }
    }

    for dev in map.devices {
        map_device_pages(&mut table, &mut mem, dev.start, dev.len())?;
    }

    // SAFETY: the new tables map the image (and thus this code, its stack and statics)
    // at the same addresses, plus the linear map and devices used from here on; TTBR0
    // still holds the boot identity map the trampoline runs from.
    unsafe { crate::arch::mmu::switch_kernel_tables(table.root().as_u64(), |va| image.pa_of(va)) };
    crate::arch::mmu::disable_ttbr0_walks();
    *KERNEL_SPACE.lock() = Some(KernelSpace { table, mem });
    Ok(())
}

/// Physical address of the kernel's root table (TTBR1_EL1 of every CPU).
pub fn root_pa() -> Option<u64> {
    KERNEL_SPACE
        .lock()
        .as_ref()
        .map(|ks| ks.table.root().as_u64())
}

#[cfg_attr(not(feature = "ktest"), allow(dead_code))] // used by the QEMU tests (ktest)
/// Look up how a kernel virtual address is mapped: (physical address, attributes).
pub fn translate(va: u64) -> Option<(PhysAddr, PageAttrs)> {
    let guard = KERNEL_SPACE.lock();
    let ks = guard.as_ref()?;
    ks.table
        .translate(&ks.mem, VirtAddr::new(va))
        .map(|t| (t.pa, t.attrs))
}

/// Map `frames` (one 4 KiB page each, any physical layout) contiguously at kernel virtual
/// address `va` with `attrs`. On error nothing stays mapped.
pub fn map_pages(va: u64, frames: &[PhysAddr], attrs: PageAttrs) -> Result<(), MapError> {
    let mut guard = KERNEL_SPACE.lock();
    let ks = guard.as_mut().ok_or(MapError::OutOfTables)?;
    for (i, &pa) in frames.iter().enumerate() {
        let page_va = VirtAddr::new(va + i as u64 * PAGE_SIZE);
        if let Err(e) = ks
            .table
            .map(&mut ks.mem, page_va, pa, PAGE_SIZE, attrs, false)
        {
            if i > 0 {
                let _ = ks
                    .table
                    .unmap(&mut ks.mem, VirtAddr::new(va), i as u64 * PAGE_SIZE);
                crate::arch::mmu::invalidate_tlb_all();
            }
            return Err(e);
        }
    }
    Ok(())
}

/// Map a device region Device-nGnRE at `LINEAR_BASE + base` (page-rounded) in the final
/// kernel tables: what is found only once they exist (PCI configuration space and
/// BARs). Pages already mapped are left as they are.
pub fn map_device(base: u64, size: u64) -> Result<(), MapError> {
    let mut guard = KERNEL_SPACE.lock();
    let ks = guard.as_mut().ok_or(MapError::OutOfTables)?;
    map_device_pages(&mut ks.table, &mut ks.mem, base, size)
}

/// Unmap `[va, va + size)` from the kernel tables and drop the TLB entries.
pub fn unmap_range(va: u64, size: u64) -> Result<(), MapError> {
    let mut guard = KERNEL_SPACE.lock();
    let ks = guard.as_mut().ok_or(MapError::OutOfTables)?;
    ks.table.unmap(&mut ks.mem, VirtAddr::new(va), size)?;
    crate::arch::mmu::invalidate_tlb_all();
    Ok(())
}
