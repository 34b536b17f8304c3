//! Buffer objects: the exporter side of buffer sharing.
//!
//! A buffer is a page-granular piece of memory with a fixed size for its life, a policy
//! (cached, or uncached = Normal non-cacheable), and a kernel mapping in the buffer
//! window of TTBR1 through which the kernel does its cache maintenance by virtual
//! address (one contiguous range per buffer, whatever the physical layout). Tasks map it
//! directly (`buffer_map`) and bracket CPU access with `buffer_sync`; the decisions of
//! what to clean or invalidate come from the portable `coherency` crate, and only the
//! instructions run here (`arch::cache`).
//!
//! Each cached buffer carries its coherence-boundary state ([`Buffer::boundary`],
//! `coherency::Boundary`): the lines that may be dirty (ENDed for write, or zeroed at
//! creation, and not cleaned since) and the lines that may be stale (written by a device
//! or an uncached mapping since their last invalidate). Maintenance happens only where
//! data crosses to or from a non-coherent party: a submission cleans the dirty lines the
//! device reads or writes, a START invalidates the stale lines of its range; a buffer
//! only CPU tasks share is never maintained.

pub mod job;
pub mod legacy;
pub mod trace;

use crate::memory::frames;
use crate::memory::kspace;
use crate::memory::layout::phys_to_virt;
use abi::Error;
use alloc::sync::Arc;
use alloc::vec::Vec;
use coherency::Boundary;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use kobj::quota::{Account, Charge, Resource};
use kobj::vrange::RangeAllocator;
use mm::addr::{PhysAddr, PAGE_SIZE};
use mm::cache::CacheOp;
use mm::pgtable::{Access, MemAttr, PageAttrs};
use spin::Mutex;

pub use coherency::Policy;

/// Kernel virtual window for buffer mappings (TTBR1, 1 TiB, apart from the linear map
/// and the image).
const WINDOW_BASE: u64 = 0xFFFF_FC00_0000_0000;
const WINDOW_SIZE: u64 = 1 << 40;

static WINDOW: Mutex<Option<RangeAllocator>> = Mutex::new(None);
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The marks closers set in a [`Buffer`]'s gate (`kobj::gate::Gate::mark`): lines of it
/// were marked stale ([`Buffer::boundary_to_stale`]), device work on it was submitted
/// ([`Buffer::publish_fence`]), an uncached legacy mapping of it was made
/// ([`Buffer::add_uncached_map`]).
const SEEN_STALE: u8 = 1;
const SEEN_FENCE: u8 = 2;
const SEEN_UNCACHED: u8 = 4;
static DEVICES_COHERENT: AtomicBool = AtomicBool::new(false);
static MISUSE_STRICT: AtomicBool = AtomicBool::new(true);

/// Decide once at boot whether devices are treated as DMA-coherent, and whether the
/// misuse detector refuses (strict) or only reports.
pub fn init(devices_coherent: bool, misuse_strict: bool) {
    *WINDOW.lock() = Some(RangeAllocator::new(
        WINDOW_BASE,
        WINDOW_BASE + WINDOW_SIZE,
        PAGE_SIZE,
    ));
    DEVICES_COHERENT.store(devices_coherent, Ordering::SeqCst);
    MISUSE_STRICT.store(misuse_strict, Ordering::SeqCst);
    trace::reserve();
}

/// True if a device submission touching a buffer held for CPU write fails (`Busy`);
/// false if it is only logged (`misuse=report`).
pub fn misuse_strict() -> bool {
    MISUSE_STRICT.load(Ordering::Relaxed)
}

/// True if maintenance for devices is skipped (`dma-coherent` and no `dma=noncoherent`).
pub fn devices_coherent() -> bool {
    DEVICES_COHERENT.load(Ordering::Relaxed)
}

/// Test kernels: how many spins a fast-path START on a quiet buffer waits between its
/// look at the gate's marks and its check against the full path (`race-window=N` on
/// the command line; 0 by default). Widens the window in which a device submission on
/// another CPU can close the gate under the check, so the SMP race tests meet it on
/// every run instead of once in many.
static RACE_WINDOW: AtomicU32 = AtomicU32::new(0);

/// Set [`race_window`] (read on test kernels only).
pub fn set_race_window(spins: u32) {
    RACE_WINDOW.store(spins, Ordering::Relaxed);
}

/// Test kernels: the spins of `race-window=N`; always 0 on other kernels.
#[inline(always)]
pub fn race_window() -> u32 {
    if cfg!(feature = "ktest") {
        RACE_WINDOW.load(Ordering::Relaxed)
    } else {
        0
    }
}

/// A buffer object. Shared (`Arc`) by handles and mappings; freed with the last one.
pub struct Buffer {
    /// Unique id (for the trace and `buffer_info`).
    pub id: u64,
    /// Size in bytes (whole pages).
    pub size: u64,
    /// Cacheability.
    pub policy: Policy,
    frames: Vec<PhysAddr>,
    kva: u64,
    /// The last fence of device work that reads this buffer (0: none; GPU fences).
    pub device_read_fence: AtomicU64,
    /// The last fence of device work that writes this buffer (0: none; block fences).
    pub device_write_fence: AtomicU64,
    /// The coherence-boundary state: which lines may be dirty, which stale (only kept
    /// for a cached buffer on non-coherent devices, see [`Buffer::maintained`]).
    boundary: Mutex<Boundary<{ job::SPANS }>>,
    /// Live legacy (forwarded) mappings of this buffer, in any task.
    pub legacy_mappings: AtomicU32,
    /// Live legacy `UNCACHED` mappings of this (cached) buffer: a non-coherent reader
    /// and writer no submission announces. While there is one, END WRITE cleans at once
    /// and every START invalidates its whole range.
    pub uncached_maps: AtomicU32,
    /// A device has imported this buffer or been told to write it (for the benchmark's
    /// count of maintenance on buffers no device touches).
    pub device_party: AtomicBool,
    /// Between the syscall fast path (passes: `buffer_sync` without the kernel lock)
    /// and the kernel paths that decide from the holder counts and the fences (closers:
    /// a submission's last misuse check through its fence, a legacy fault, a legacy
    /// mapping's start and end). See `kobj::gate` and `syscall::buffer::fast_finish`.
    /// Its word also carries what closers did to the buffer, ever (its marks, see
    /// `SEEN_STALE`): while there are none, a START has nothing to invalidate and
    /// nothing to wait for ([`Buffer::quiet`]). And it carries the CPU holders' counts,
    /// so a fast START or END changes them as it leaves, in one step: holders with any
    /// START open (READ, WRITE or RW), and those with a START WRITE/RW open. The misuse
    /// detectors read them ([`Buffer::cpu_holders`], [`Buffer::cpu_writers`]).
    pub gate: kobj::gate::Gate,
    /// Created with `policy::USER_CLEAN`: an END WRITE/RW may say its lines were cleaned
    /// at EL0 (`sync::USER_CLEANED`), and then records none of them as dirty.
    pub user_clean: bool,
    /// Its frames and kernel heap, charged to the creator's account for its whole life.
    _charges: [Charge; 2],
}

impl Buffer {
    /// A zeroed buffer of at least `size` bytes, its contents in memory (not only in the
    /// cache) so a device reading it sees zeros.
    /// Its frames and kernel heap are charged to `account` (`NoMemory` past its quota).
    pub fn create(size: u64, policy: Policy, account: &Arc<Account>) -> Result<Buffer, Error> {
        if size == 0 {
            return Err(Error::InvalidArgument);
        }
        if size > abi::limits::MAX_BUFFER {
            return Err(Error::TooLarge);
        }
        let pages = size.div_ceil(PAGE_SIZE);
        let size = pages * PAGE_SIZE;
        let charges = [
            account.charge(Resource::Frames, crate::task::account::buffer_frames(pages))?,
            account.charge(
                Resource::HeapBytes,
                crate::task::account::buffer_heap(pages),
            )?,
        ];
        let mut frames = Vec::new();
        frames
            .try_reserve_exact(pages as usize)
            .map_err(|_| Error::NoMemory)?;
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        for _ in 0..pages {
            match frames::alloc(1) {
                Some(pa) => frames.push(pa),
                None => {
                    free_frames(&frames);
                    return Err(Error::NoMemory);
                }
            }
        }
        // Zero through the cacheable linear map. Then: an uncached buffer must leave no
        // line of that cacheable alias behind to shadow its non-cacheable mappings
        // (clean+invalidate, whatever the devices). A cached one must have the zeros in
        // memory before a non-coherent party sees memory: its lines are recorded as
        // dirty (below), and the first submission or uncached mapping that needs them
        // cleans them, so a buffer no device ever touches is never cleaned.
        let creation_op = match policy {
            Policy::Uncached => Some(CacheOp::CleanInvalidate),
            Policy::Cached => None,
        };
        for (i, &pa) in frames.iter().enumerate() {
            let va = phys_to_virt(pa).as_u64();
            // SAFETY: the frame was just allocated, so nothing else uses it; the linear
            // map covers it read-write.
            unsafe { core::ptr::write_bytes(va as *mut u8, 0, PAGE_SIZE as usize) };
            if let Some(op) = creation_op {
                let base = va - i as u64 * PAGE_SIZE;
                // SAFETY: the page is mapped (linear map) for the whole call.
                let _ = unsafe {
                    crate::arch::cache::maintain_range(op, va, PAGE_SIZE, |done| {
                        trace::record(id, base, done)
                    })
                };
            }
        }
        let kva = WINDOW.lock().as_mut().and_then(|w| w.alloc(size));
        let Some(kva) = kva else {
            free_frames(&frames);
            return Err(Error::NoMemory);
        };
        let mem = match policy {
            Policy::Cached => MemAttr::Normal,
            Policy::Uncached => MemAttr::NormalNonCacheable,
        };
        if kspace::map_pages(
            kva,
            &frames,
            PageAttrs::kernel(Access::KernelReadWrite, mem),
        )
        .is_err()
        {
            if let Some(w) = WINDOW.lock().as_mut() {
                w.free(kva, size);
            }
            free_frames(&frames);
            return Err(Error::NoMemory);
        }
        let mut boundary = Boundary::NEW;
        if policy == Policy::Cached && !devices_coherent() {
            boundary.mark_dirty(crate::arch::cache::geometry(), 0, size);
        }
        Ok(Buffer {
            id,
            size,
            policy,
            frames,
            kva,
            device_read_fence: AtomicU64::new(0),
            device_write_fence: AtomicU64::new(0),
            boundary: Mutex::new(boundary),
            legacy_mappings: AtomicU32::new(0),
            uncached_maps: AtomicU32::new(0),
            gate: kobj::gate::Gate::new(),
            device_party: AtomicBool::new(false),
            user_clean: false,
            _charges: charges,
        })
    }

    /// Whether this buffer is ever maintained: cached, and devices not coherent. (An
    /// uncached buffer has no lines; a coherent device snoops the cache.)
    #[inline(always)]
    pub fn maintained(&self) -> bool {
        self.policy == Policy::Cached && !devices_coherent()
    }

    /// The coherence-boundary state, locked. Lock order: after the kernel lock, and no
    /// other lock is taken while it is held.
    #[inline(always)]
    pub fn boundary(&self) -> spin::MutexGuard<'_, Boundary<{ job::SPANS }>> {
        self.boundary.lock()
    }

    /// The coherence-boundary state, locked, to mark lines stale (a device write's
    /// submission, an uncached mapping going away): only with the gate closed
    /// ([`Buffer::gate`]), which it marks, so a fast-path START sees the mark whenever
    /// the boundary has stale lines. Lock order as [`Buffer::boundary`].
    pub fn boundary_to_stale(&self) -> spin::MutexGuard<'_, Boundary<{ job::SPANS }>> {
        self.gate.mark(SEEN_STALE);
        self.boundary.lock()
    }

    /// Whether lines of it may ever have been marked stale: false means no line is.
    #[inline(always)]
    pub fn stale_seen(&self) -> bool {
        self.gate.marks() & SEEN_STALE != 0
    }

    /// Device work that reads (`fences` = [`Buffer::device_read_fence`]) or writes
    /// ([`Buffer::device_write_fence`]) the buffer until `fence`: only with the gate
    /// closed, which it marks, so a fast-path START, which skips the fences while
    /// [`Buffer::quiet`], sees the change whenever there is a fence.
    pub fn publish_fence(&self, fences: &AtomicU64, fence: u64) {
        fences.fetch_max(fence, Ordering::SeqCst);
        self.gate.mark(SEEN_FENCE);
    }

    /// A legacy uncached mapping of it is made: only with the gate closed, which it
    /// marks (a fast-path START, which skips the look at [`Buffer::has_uncached_map`]
    /// while [`Buffer::quiet`], sees the change).
    pub fn add_uncached_map(&self) {
        self.uncached_maps.fetch_add(1, Ordering::SeqCst);
        self.gate.mark(SEEN_UNCACHED);
    }

    /// No line of it was ever marked stale, no device work on it was ever submitted and
    /// no uncached mapping of it ever made (the common case of a buffer only CPUs use):
    /// a START has nothing to invalidate and nothing to wait for. Such a START takes hold
    /// in one atomic step of the gate ([`kobj::gate::Gate::try_change_unmarked`]).
    #[inline(always)]
    pub fn quiet(&self) -> bool {
        self.gate.marks() == 0
    }

    /// Holders with any START open (READ, WRITE or RW): the misuse detector of device
    /// writes asks.
    #[inline(always)]
    pub fn cpu_holders(&self) -> u32 {
        self.gate.counts().0
    }

    /// Holders with a START WRITE/RW open: the misuse detector of device reads asks.
    #[inline(always)]
    pub fn cpu_writers(&self) -> u32 {
        self.gate.counts().1
    }

    /// A holder starts (`+1`) or ends (`-1`) holding, and holding for write, or neither
    /// (`0`), on the full path (under the kernel lock): both counts change at once. The
    /// fast path changes them as it leaves the gate ([`kobj::gate::Pass::leave_with`]).
    #[inline(always)]
    pub fn change_holds(&self, holders: i32, writers: i32) {
        self.gate.change(holders, writers);
    }

    /// Whether a legacy uncached mapping of this buffer exists.
    #[inline(always)]
    pub fn has_uncached_map(&self) -> bool {
        self.uncached_maps.load(Ordering::Relaxed) > 0
    }

    /// The physical pages, in buffer order.
    pub fn frames(&self) -> &[PhysAddr] {
        &self.frames
    }

    /// Memory type for mappings of this buffer.
    pub fn mem_attr(&self) -> MemAttr {
        match self.policy {
            Policy::Cached => MemAttr::Normal,
            Policy::Uncached => MemAttr::NormalNonCacheable,
        }
    }

    /// Run `op` over `[offset, offset + len)` of the buffer (through its kernel mapping)
    /// and record it in the trace. The range must be inside the buffer.
    pub fn maintain(&self, op: CacheOp, offset: u64, len: u64) {
        debug_assert!(offset.checked_add(len).is_some_and(|e| e <= self.size));
        let (id, kva) = (self.id, self.kva);
        self.count_cpu_only(len);
        // SAFETY: the kernel window maps every page of the buffer for its whole life,
        // and the range lies inside it (checked by the caller's range resolution).
        let _ = unsafe {
            crate::arch::cache::maintain_range(op, kva + offset, len, |done| {
                trace::record(id, kva, done)
            })
        };
    }
}

impl Buffer {
    /// Run `op` over `rows` rows of `row_len` bytes, `stride` apart, from `offset` (a
    /// rectangle), one DSB at the end, each row recorded in the trace. The rows must be
    /// inside the buffer.
    pub fn maintain_rows(&self, op: CacheOp, offset: u64, row_len: u64, rows: u64, stride: u64) {
        let (id, kva) = (self.id, self.kva);
        self.count_cpu_only(row_len.saturating_mul(rows));
        // SAFETY: the kernel window maps the whole buffer for its life; the caller checked
        // every row is inside it.
        let _ = unsafe {
            crate::arch::cache::maintain_rows(op, kva + offset, row_len, rows, stride, |done| {
                trace::record(id, kva, done)
            })
        };
    }

    /// Count the lines of `len` bytes of maintenance against buffers no device has
    /// touched (`stats(CpuOnlyLines)`): what coherence-boundary maintenance should make
    /// zero.
    #[inline(always)]
    fn count_cpu_only(&self, len: u64) {
        if !self.device_party.load(Ordering::Relaxed) {
            let line = crate::arch::cache::geometry().line();
            crate::counters::add(&crate::counters::CPU_ONLY_LINES, len.div_ceil(line));
        }
    }

    /// The bare DC loop over `[offset, offset + len)` of the buffer, timed (benchmarks).
    #[cfg(feature = "bench")]
    pub fn bare_loop_cycles(&self, op: CacheOp, offset: u64, len: u64) -> u64 {
        // SAFETY: the window maps the buffer; the caller checked the range is inside it.
        // An invalidate of a buffer nobody has START open on discards nothing needed.
        unsafe { crate::arch::cache::bare_loop_cycles(op, self.kva + offset, len) }
    }
}

fn free_frames(frames: &[PhysAddr]) {
    for &pa in frames {
        frames::free(pa, 1);
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        if kspace::unmap_range(self.kva, self.size).is_ok() {
            if let Some(w) = WINDOW.lock().as_mut() {
                w.free(self.kva, self.size);
            }
        }
        free_frames(&self.frames);
    }
}

/// Memory for device rings and command buffers: `pages` zeroed frames mapped
/// Normal non-cacheable in the kernel window, so CPU and device always agree without
/// maintenance (coherent by construction). Returns (physical, kernel virtual) base; the
/// physical pages are contiguous.
pub fn dma_alloc(pages: usize) -> Option<(PhysAddr, core::ptr::NonNull<u8>)> {
    let pa = frames::alloc(pages)?;
    let size = pages as u64 * PAGE_SIZE;
    // The linear-map alias is cacheable: zero through it, then clean+invalidate so no line
    // of it can shadow the non-cacheable mapping.
    let lva = phys_to_virt(pa).as_u64();
    // SAFETY: the frames were just allocated and are mapped read-write by the linear map.
    unsafe { core::ptr::write_bytes(lva as *mut u8, 0, size as usize) };
    // SAFETY: as above, the range is mapped for the whole call.
    let _ =
        unsafe { crate::arch::cache::maintain_range(CacheOp::CleanInvalidate, lva, size, |_| {}) };
    let frames: Vec<PhysAddr> = (0..pages as u64)
        .map(|i| PhysAddr::new(pa.as_u64() + i * PAGE_SIZE))
        .collect();
    let kva = WINDOW.lock().as_mut().and_then(|w| w.alloc(size));
    let Some(kva) = kva else {
        frames::free(pa, pages);
        return None;
    };
    let attrs = PageAttrs::kernel(Access::KernelReadWrite, MemAttr::NormalNonCacheable);
    if kspace::map_pages(kva, &frames, attrs).is_err() {
        if let Some(w) = WINDOW.lock().as_mut() {
            w.free(kva, size);
        }
        frames::free(pa, pages);
        return None;
    }
    core::ptr::NonNull::new(kva as *mut u8).map(|p| (pa, p))
}

/// Give back memory from [`dma_alloc`] (same `pages`).
///
/// # Safety
/// Nothing (CPU or device) may use the memory any more.
pub unsafe fn dma_free(pa: PhysAddr, va: core::ptr::NonNull<u8>, pages: usize) {
    let size = pages as u64 * PAGE_SIZE;
    if kspace::unmap_range(va.as_ptr() as u64, size).is_ok() {
        if let Some(w) = WINDOW.lock().as_mut() {
            w.free(va.as_ptr() as u64, size);
        }
    }
    frames::free(pa, pages);
}
