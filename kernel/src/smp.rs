//! The CPUs: per-CPU data and bringing up the secondary CPUs.
//!
//! Every CPU has a [`PerCpu`] block, found through TPIDR_EL1 ([`this_cpu`]), and its own
//! kernel stack with an unmapped guard page below it (the boot CPU's is in the image;
//! secondaries' are in the stacks window, [`STACKS_BASE`]). The boot CPU starts the
//! others from the FDT's `/cpus` (`enable-method = "psci"`) with PSCI `CPU_ON`, at
//! `secondary_entry` in boot.S, which enters the kernel's tables and calls
//! [`secondary_main`]. A CPU that does not come up within [`START_TIMEOUT_MS`] is
//! reported and left out; the rest go on. `nosmp` keeps to the boot CPU, `maxcpus=N`
//! to the first N.
//!
//! A secondary that is online brings up its part of the GIC and its timer tick, then
//! enters the scheduler (`task::run_secondary`) and runs tasks like the boot CPU.
//!
//! # Per-CPU layout
//!
//! * TPIDR_EL1: this CPU's [`PerCpu`] (index, MPIDR, online flag, kernel stack top, the
//!   running task's `task::Core` for the syscall fast path, and in benchmark kernels the
//!   start of its current IRQ-masked stretch).
//! * TPIDRRO_EL0: zeroed on every return to EL0 (the syscall path uses it as scratch;
//!   EL0 can read it, so nothing is left in it).
//! * Kernel stacks: CPU 0's in the image under an unmapped guard page; CPU `i`'s at
//!   `STACKS_BASE + i * 128 KiB`: a guard page, then 64 KiB.
//! * Scheduler state per CPU (`task::CpuSched`: current thread and its task's `Core`,
//!   slice, resched flag, idle, parked work, switches), kept inside the kernel state and indexed by [`this_cpu`]'s index;
//!   the tick counter each CPU has seen (`irq::SEEN`).
//!
//! # Locks and their order
//!
//! The kernel state (`task::KERNEL`: tasks, threads, address spaces, mappings, the
//! ready queue, every CPU's scheduler state) is one spin lock, taken by every syscall
//! on the full path, fault, tick and switch, with IRQs masked: a CPU never takes an
//! interrupt in the kernel, so no lock is ever re-entered on one CPU.
//!
//! The syscall fast path (`buffer_sync` and `buffer_sync_rect` that finish at once:
//! the per-call cost the benchmarks measure; a plain `buffer_sync` START in assembly at
//! the vector, `syscall::fast_start`, the rest in Rust, `syscall::fast`) takes **no**
//! kernel lock, so syncs on unrelated tasks and buffers run in parallel. It reaches
//! only:
//!
//! * the running task's `task::Core`, through this CPU's `PerCpu::fast_task` pointer
//!   (published by this CPU on every way out to EL0; the task is not freed while a
//!   CPU runs one of its threads), and under the task's own lock `Core::objects`: its
//!   handle table and its open CPU accesses (the holder's state, per task: threads of
//!   one task share it, and a second END of one START gets `NotStarted`);
//! * the buffer, inside its [`kobj::gate::Gate`] (a pass; refused, never waited for,
//!   while a closer is there): the fences, the holder counts (carried in the gate's
//!   word: a pass changes them as it leaves, `kobj::gate::Pass::leave_with`), the
//!   marks closers leave in the same word (`Buffer::quiet`: a START on a buffer
//!   without any changes the counts in one step instead of a pass,
//!   `kobj::gate::Gate::try_change_unmarked`), the boundary sets (their own lock), the
//!   maintenance by VA. The syscall count is this CPU's own (`PerCpu`).
//!
//! The kernel paths that decide from those counts close the buffer's gate while they
//! decide and act: a submission from its last misuse check to its fence
//! (`gpu_present`, `blk_read`), a legacy fault, a legacy mapping's start and end. So a
//! fast START can never slip between "no CPU writer holds the buffer" and the fence
//! (`test_sync_race` and `test_blk_race` press on this on 4 CPUs;
//! `kobj/tests/gate_loom.rs` model-checks the gate), and a START the gate refuses takes
//! the full path, which the kernel lock orders after the closer. The fast path
//! allocates and frees nothing (the buffer it drops from the open accesses is still
//! held by the handle it came through).
//!
//! The order (no CPU holding a later lock waits for an earlier one):
//!
//! 1. `task::KERNEL`,
//! 2. a task's `Core::objects` (one task's at a time; a task being built is nobody's
//!    yet), taken by the full path under `task::KERNEL` and by the fast path alone,
//! 3. a buffer's gate: closed only under `task::KERNEL` and never with a task's lock
//!    held; a pass is only tried (under a task's lock), so it never waits,
//! 4. `irq::STATE` (the GIC: SGIs, acknowledge and end of an interrupt),
//! 5. the device locks (`gpu::GPU`, `blk::BLK`; `irq::dispatch` takes them under
//!    `irq::STATE`, syscalls under `task::KERNEL`),
//! 6. leaves, which take no other lock: a buffer's boundary sets, `buffer::WINDOW`,
//!    `memory::frames`, the heap, `memory::kspace`, the trace, `fences::MET`, the
//!    console.
//!
//! `irq::dispatch` returns (dropping `irq::STATE`) before its caller takes
//! `task::KERNEL` for the tick's scheduling work. No lock is held across a wait: a
//! blocked call gives up everything and is re-issued.
//!
//! # TLB maintenance across CPUs (the shootdown)
//!
//! There is no IPI shootdown: every user TLB invalidation is a broadcast
//! (`TLBI VAE1IS` / `ASIDE1IS`, after `DSB ISHST`, followed by `DSB ISH` and `ISB`),
//! which completes on every CPU of the inner-shareable domain before the `DSB ISH`
//! does. Threads of one task may run on several CPUs at once; a page-table change and
//! its invalidation happen under `task::KERNEL`, in that order, before the lock is
//! released. It is race-free because:
//!
//! * After the `DSB ISH`, no CPU can use the old translation; a thread on another CPU
//!   that touches the page afterwards faults, and its fault handler waits for
//!   `task::KERNEL`, so it sees the new tables.
//! * A store through the old translation that retired before the invalidation
//!   completed is in the cache (user mappings of buffers are cacheable or, for an
//!   uncached legacy mapping, never zapped), so the maintenance that follows the zap
//!   (the submission's clean, after the lock-holding CPU's `DSB ISH`) covers it: this is
//!   what `init=legacy_race` exercises, a writer thread storing into a legacy mapping
//!   on one CPU while another thread's presents zap and clean it.
//! * Page-table frames freed by an unmap go back to the frame allocator before the
//!   invalidation, but every frame allocation happens under `task::KERNEL` (which the
//!   unmapping CPU holds until the invalidation is complete), so no freed table can be
//!   reused while a walker on another CPU may still hold it. Finer-grained locking
//!   would have to defer those frees until after the invalidation.
//! * ASIDs are 16-bit and recycled only after the old address space's `ASIDE1IS`.
//!
//! # Cache maintenance across CPUs
//!
//! Buffers are mapped Normal, Inner Shareable, so maintenance by virtual address
//! (`DC CVAC/IVAC/CIVAC`) acts on every cache of the inner-shareable domain up to the
//! point of coherency, whichever CPU wrote the line, and the issuing CPU's `DSB` waits
//! for all of it: a sync or a submission's clean on one CPU covers lines dirty in
//! another CPU's L1D. Maintenance by set/way (`DC CISW`) is unusable here: it acts on
//! the issuing CPU's caches only, so a line dirty in another CPU's cache survives it,
//! and lines can migrate between CPUs while the loop runs (the Arm ARM intends set/way
//! operations for cache initialisation and power-down, not for keeping data coherent). The benchmark kernels'
//! `bench_clean_all`, kept as the naive baseline, refuses to run with more than one CPU
//! online.

use crate::memory::{frames, kspace};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use mm::addr::{PhysAddr, PAGE_SIZE};
use mm::pgtable::{Access, MemAttr, PageAttrs};
use platform::board::{BoardInfo, BootArgs, MAX_CPUS};

/// Kernel virtual window of the secondaries' stacks: CPU `i`'s slot is
/// `STACKS_BASE + i * STACK_SLOT`, an unmapped guard page and then the stack.
pub const STACKS_BASE: u64 = 0xFFFF_FE00_0000_0000;
const STACK_SLOT: u64 = 128 * 1024;
/// A secondary's stack: 64 KiB, as the boot CPU's.
const STACK_PAGES: usize = 16;
/// How long the boot CPU waits for a started CPU to say it is online.
pub const START_TIMEOUT_MS: u64 = 500;

/// One CPU's data (TPIDR_EL1 points at it).
pub struct PerCpu {
    /// Index: 0 is the boot CPU, then the started ones in `/cpus` order.
    pub index: usize,
    /// Its MPIDR_EL1 (affinity fields).
    pub mpidr: AtomicU64,
    /// It runs kernel code.
    pub online: AtomicBool,
    /// Top of its kernel stack (where an exception from EL0 starts).
    pub stack_top: AtomicU64,
    /// `latency` kernels: the cycle count at which its current IRQ-masked stretch
    /// began (`latency`; its own counter, unrelated to other CPUs').
    #[cfg_attr(not(feature = "latency"), allow(dead_code))]
    pub masked_since: AtomicU64,
    /// `latency` kernels: its longest IRQ-masked stretch since `latency::take_max`.
    #[cfg_attr(not(feature = "latency"), allow(dead_code))]
    pub masked_max: AtomicU64,
    /// The task whose thread runs here, for the syscall fast path (`task::Core`; null:
    /// none, or the full path must take the call). Written by this CPU only.
    pub fast_task: AtomicPtr<crate::task::Core>,
    /// Syscalls taken on it (`counters::syscall`). Written by this CPU only.
    pub syscalls: AtomicU64,
}

#[allow(clippy::declare_interior_mutable_const)] // only used to build the array below
const OFFLINE: PerCpu = PerCpu {
    index: 0,
    mpidr: AtomicU64::new(0),
    online: AtomicBool::new(false),
    stack_top: AtomicU64::new(0),
    masked_since: AtomicU64::new(0),
    masked_max: AtomicU64::new(0),
    fast_task: AtomicPtr::new(core::ptr::null_mut()),
    syscalls: AtomicU64::new(0),
};

static PERCPU: [PerCpu; MAX_CPUS] = {
    let mut a = [OFFLINE; MAX_CPUS];
    let mut i = 0;
    while i < MAX_CPUS {
        a[i].index = i;
        i += 1;
    }
    a
};

/// CPUs online.
static ONLINE: AtomicUsize = AtomicUsize::new(1);

/// What `secondary_entry` reads, with the MMU off: layout shared with boot.S.
#[repr(C)]
#[derive(Clone, Copy)]
struct SecondaryBoot {
    ttbr1: u64,
    stack_top: u64,
    percpu: u64,
    index: u64,
}

struct BootBlocks(UnsafeCell<[SecondaryBoot; MAX_CPUS]>);

// SAFETY: only the boot CPU writes a block, before starting the CPU that reads it; the
// started CPU only reads its own.
unsafe impl Sync for BootBlocks {}

static BOOT: BootBlocks = BootBlocks(UnsafeCell::new(
    [SecondaryBoot {
        ttbr1: 0,
        stack_top: 0,
        percpu: 0,
        index: 0,
    }; MAX_CPUS],
));

extern "C" {
    /// boot.S: where a secondary starts (a physical address once translated).
    fn secondary_entry();
}

/// The calling CPU's data.
pub fn this_cpu() -> &'static PerCpu {
    let p = crate::arch::cpu::percpu_pointer() as *const PerCpu;
    // SAFETY: TPIDR_EL1 is set to an element of PERCPU (static) before any code that
    // asks runs on this CPU ([`init_boot_cpu`], boot.S for secondaries); a null pointer
    // (too early) falls back to the boot CPU's.
    unsafe { p.as_ref() }.unwrap_or(&PERCPU[0])
}

/// This CPU's block, on a path only an exception from EL0 reaches (a syscall): no
/// fallback for the early boot, when no task runs yet.
#[inline(always)]
pub fn this_cpu_from_el0() -> &'static PerCpu {
    let p = crate::arch::cpu::percpu_pointer() as *const PerCpu;
    // SAFETY: every CPU points TPIDR_EL1 at its element of PERCPU (static) before it
    // first runs EL0 code: the boot CPU in `init_boot_cpu`, early in `kernel_main`
    // (tasks start long after), a secondary in boot.S before `secondary_main`.
    unsafe { &*p }
}

/// The per-CPU blocks of the CPUs online.
pub fn each_cpu() -> impl Iterator<Item = &'static PerCpu> {
    PERCPU.iter().filter(|c| c.online.load(Ordering::Acquire))
}

/// CPUs online.
pub fn online() -> usize {
    ONLINE.load(Ordering::Acquire)
}

extern "C" {
    /// link.ld: the top of the boot CPU's stack.
    static __stack_top: u8;
}

/// Make the boot CPU CPU 0 (TPIDR_EL1, MPIDR, its stack in the image).
pub fn init_boot_cpu() {
    let me = &PERCPU[0];
    me.mpidr
        .store(crate::arch::cpu::mpidr_affinity(), Ordering::Relaxed);
    // SAFETY: a linker symbol; only its address is taken.
    let top = unsafe { &__stack_top as *const u8 as u64 };
    me.stack_top.store(top, Ordering::Relaxed);
    me.online.store(true, Ordering::Release);
    crate::arch::cpu::set_percpu_pointer(me as *const PerCpu as u64);
}

/// Why a CPU did not come up.
enum StartError {
    NoStack,
    Psci(platform::psci::CpuOnError),
    Timeout,
}

impl core::fmt::Display for StartError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            StartError::NoStack => f.write_str("no memory for its stack"),
            StartError::Psci(e) => write!(f, "{e}"),
            StartError::Timeout => write!(f, "not online after {START_TIMEOUT_MS} ms"),
        }
    }
}

/// Start the secondary CPUs of `/cpus` (all but this one, `maxcpus` in all, none with
/// `nosmp`), wait for each, and report.
pub fn start_secondaries(
    info: &BoardInfo<'_>,
    args: &BootArgs<'_>,
    image_pa_of: impl Fn(u64) -> u64,
) {
    let max = if args.has_flag("nosmp") {
        1
    } else {
        args.get("maxcpus")
            .and_then(|n| n.parse::<usize>().ok())
            .map_or(MAX_CPUS, |n| n.clamp(1, MAX_CPUS))
    };
    let me = crate::arch::cpu::mpidr_affinity();
    let entry_pa = image_pa_of(secondary_entry as *const () as u64);
    let Some(ttbr1) = kspace::root_pa() else {
        return;
    };
    let mut index = 1;
    for cpu in info.cpus.iter().filter(|c| c.mpidr != me) {
        if index >= max {
            break;
        }
        if !cpu.psci {
            log::warn!("cpu {:#x}: no PSCI enable method; left off", cpu.mpidr);
            continue;
        }
        match start(index, cpu.mpidr, entry_pa, ttbr1, &image_pa_of, info.psci) {
            Ok(()) => index += 1,
            Err(e) => log::warn!(
                "cpu {:#x} did not come up: {e}; going on without it",
                cpu.mpidr
            ),
        }
    }
}

fn start(
    index: usize,
    mpidr: u64,
    entry_pa: u64,
    ttbr1: u64,
    image_pa_of: &impl Fn(u64) -> u64,
    psci: platform::board::PsciMethod,
) -> Result<(), StartError> {
    let stack_top = map_stack(index).ok_or(StartError::NoStack)?;
    let per = &PERCPU[index];
    per.mpidr.store(mpidr, Ordering::Relaxed);
    per.stack_top.store(stack_top, Ordering::Relaxed);
    // SAFETY: block `index` is read only by the CPU started below, after this write.
    let block = unsafe { &mut (*BOOT.0.get())[index] };
    *block = SecondaryBoot {
        ttbr1,
        stack_top,
        percpu: per as *const PerCpu as u64,
        index: index as u64,
    };
    let block_va = block as *const SecondaryBoot as u64;
    // The CPU reads the block with its caches off: it must be in memory.
    // SAFETY: the block is a static in the image, mapped for the kernel's whole life.
    let _ = unsafe {
        crate::arch::cache::maintain_range(
            mm::cache::CacheOp::Clean,
            block_va,
            core::mem::size_of::<SecondaryBoot>() as u64,
            |_| {},
        )
    };
    platform::psci::cpu_on(psci, mpidr, entry_pa, image_pa_of(block_va))
        .map_err(StartError::Psci)?;
    let deadline = crate::drivers::virtio::Deadline::after_ms(START_TIMEOUT_MS);
    while !per.online.load(Ordering::Acquire) {
        if deadline.passed() {
            return Err(StartError::Timeout);
        }
        core::hint::spin_loop();
    }
    Ok(())
}

/// Map CPU `index`'s stack (below it, an unmapped guard page); returns its top.
fn map_stack(index: usize) -> Option<u64> {
    let base = STACKS_BASE + index as u64 * STACK_SLOT + PAGE_SIZE;
    let mut pages = [PhysAddr::new(0); STACK_PAGES];
    for (i, p) in pages.iter_mut().enumerate() {
        match frames::alloc_zeroed(1) {
            Some(pa) => *p = pa,
            None => {
                for q in &pages[..i] {
                    frames::free(*q, 1);
                }
                return None;
            }
        }
    }
    let attrs = PageAttrs::kernel(Access::KernelReadWrite, MemAttr::Normal);
    if kspace::map_pages(base, &pages, attrs).is_err() {
        for q in &pages {
            frames::free(*q, 1);
        }
        return None;
    }
    Some(base + STACK_PAGES as u64 * PAGE_SIZE)
}

/// A secondary CPU's first Rust code (boot.S), on its own stack with TPIDR_EL1 set.
#[no_mangle]
extern "C" fn secondary_main(index: u64) -> ! {
    crate::arch::pmu::enable_cycle_counter();
    crate::arch::cpu::restrict_el0_timer_access();
    crate::arch::cpu::apply_el0_cache_clean();
    let me = this_cpu();
    debug_assert_eq!(me.index as u64, index);
    crate::irq::init_this_cpu();
    me.online.store(true, Ordering::Release);
    ONLINE.fetch_add(1, Ordering::AcqRel);
    crate::task::run_secondary()
}

/// The MPIDRs of the CPUs online, in index order, for the boot report.
pub fn online_mpidrs() -> impl Iterator<Item = u64> {
    each_cpu().map(|c| c.mpidr.load(Ordering::Relaxed))
}
