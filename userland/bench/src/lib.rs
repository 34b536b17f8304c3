//! The benchmarks (`init=bench`, run by `cargo xtask bench`): what buffer coherency costs,
//! measured from user space.
//!
//! The kernel runs under QEMU with `-icount shift=0,sleep=off`, so the cycle counter
//! PMCCNTR_EL0 (read at EL0 with `mrs`, [`measure::now`]) counts *retired instructions*,
//! deterministically: "cycles" below are instructions, user and kernel together. QEMU
//! does not model caches or memory latency, so a number here is the work the CPU is
//! asked to do (a DC instruction per line, a fault, a syscall), not the time a real
//! memory system would take to do it; an uncached write costs as much as a cached one.
//! Next to every number the kernel's event [`urt::Counters`] say what it did: lines
//! cleaned, invalidated, cleaned+invalidated, syscalls, legacy faults, zaps, TLBIs and
//! set/way operations.
//!
//! # Output
//!
//! One line per measurement, `BENCH {json}` ([`report::Record`]), all integers:
//!
//! - `suite`, `case`, `variant`: what was measured (below);
//! - `size`: the bytes the operation covers;
//! - `reps`: how many operations were measured; `total_cycles`: over all of them;
//!   `cycles`: per operation (`total_cycles / reps`);
//! - `lines_cleaned`, `lines_invalidated`, `lines_clean_invalidated`, `syscalls`,
//!   `faults`, `zaps`, `tlbis`, `setway_ops`: the kernel's events per operation, over
//!   exactly the measured code (the `counters` reads themselves taken off);
//! - `masked_max`: the longest stretch, in cycles, that the kernel ran with IRQs masked
//!   and no point where a pending interrupt would be taken, over the measured
//!   operations (`stats(MaskedMax)`, read around each measurement window; 0 on the
//!   kernel without the `latency` probe, whose boot gives every other figure: `cargo
//!   xtask bench` takes it from the same boot on the kernel with the probe);
//! - frame records also have `write_cycles`, `sync_cycles` and `present_cycles` per frame,
//!   and their `cycles` is the sum of those three; readback records likewise have
//!   `device_cycles`, `sync_cycles` and `read_cycles`;
//! - frame and readback records also have `windows`: `[phase, start, end]` raw counter
//!   values of every timed window their cycles add up ([`windows`]);
//! - `demo` records have only the line counts per frame, and `cpu_only_lines`.
//!
//! A syscall's cycles run from the instruction before its `svc` to the one after
//! ([`urt::sys::timed_syscall`]). Every measurement is kept free of timer interrupts
//! ([`measure::repeat`], [`measure::between_ticks`]), so the figures are the same on
//! every run, with one exception: the GPU signals completion with an interrupt whose
//! arrival depends on the host, and when it lands inside the `gpu_present` call it adds
//! its handler (about 670 cycles) to that frame's `present_cycles`.
//!
//! The program ends with the line `BENCH-DONE` and exits 0 (the kernel then powers off);
//! if anything fails it prints why and exits 1 without `BENCH-DONE`.
//!
//! # Suites
//!
//! - [`sync_suite`] (`sync`): one `buffer_sync` call on a mapped, cached buffer of 4 KiB
//!   to 16 MiB, for every START/END direction, on the whole buffer and on a byte range.
//!   No device touches these buffers: with coherence-boundary maintenance no call
//!   maintains anything, so this is the cost of the call itself.
//! - [`boundary_suite`] (`boundary`): where the clean went: the present that follows
//!   END WRITE on an imported buffer (all lines dirty, and nothing dirty), END WRITE with
//!   a legacy uncached alias (cleans at once, as Linux does), and a 1080-row rectangle's
//!   present.
//! - [`limit_suite`] (`limit`): the kernel's bare DC loop over the same buffers, timed
//!   inside the kernel: the floor a sync can approach.
//! - [`frame_suite`] (`frame`): drawing a 1920x1080 frame (or a 64x64 dirty rectangle of
//!   it) and presenting it through virtio-gpu, with each way of keeping the device's view
//!   coherent: explicit sync of the whole buffer or of exactly what was written, the
//!   legacy forwarded mapping (faults and zaps) or its uncached variant, and cleaning the
//!   whole cache by set/way.
//! - [`handover_suite`] (`handover`): two tasks pass small buffers back and forth under
//!   START/END, as a producer and a consumer do (the peer is the `bench_peer` program).
//! - [`demo_suite`] (`demo`): the GPU demo and the capture pipeline, run as `cargo xtask
//!   run` runs them: cache lines maintained per frame, and on buffers no device touches.
//! - [`smp_suite`] (`smp`, on a 4-CPU machine): START+END WRITE from 1, 2 and 4
//!   threads at once on disjoint buffers, the legacy hand-over with 0, 1 and 3 writer
//!   threads on other CPUs and the re-faults after it, the broadcast TLBI of an unmap.
//! - [`readback_suite`] (`readback`): the device writes 1 MiB into a buffer (a
//!   `blk_read` from the capture disk, which the boot must attach) and the CPU reads it,
//!   with each way of making it see the device's bytes: explicit START READ of the
//!   whole buffer or of the range, the legacy fault or uncached mapping, a set/way
//!   clean.
//!
//! - [`uci_suite`] (`uci`, on a boot with `uci`): the EL0 option of END: END WRITE and
//!   the present that cleans, against the task's own `DC CVAC` loop, an END that
//!   records nothing and a present with nothing to clean.
//!
//! Sizes and repetitions are compile-time constants in each suite (the program cannot
//! read the kernel command line); the whole run is a few hundred million instructions.

#![no_std]
#![forbid(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

pub mod boundary_suite;
pub mod demo_suite;
pub mod frame_suite;
pub mod gpu_target;
pub mod handover_suite;
pub mod limit_suite;
pub mod measure;
pub mod readback_suite;
pub mod report;
pub mod smp_handover;
pub mod smp_suite;
pub mod sync_suite;
pub mod uci_suite;
pub mod windows;

use core::fmt::Display;
use urt::{policy, prot, Handle};

/// Name of the main program in console messages.
pub const TASK: &str = "bench";

/// How long to wait for a GPU fence before giving up.
pub const FENCE_TIMEOUT_NS: u64 = 5_000_000_000;

/// Something failed (already reported on the console).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failed;

/// Report a failure as `<task>: <what>: <error>` and return [`Failed`].
pub fn fail(task: &str, what: &str, e: impl Display) -> Failed {
    urt::println!("{task}: {what}: {e}");
    Failed
}

/// `.or_fail(what)`: turn an error into a reported [`Failed`] (as the `bench` task).
pub trait OrFail<T> {
    /// Report `Err(e)` as `bench: <what>: <e>`.
    fn or_fail(self, what: &str) -> Result<T, Failed>;
}

impl<T, E: Display> OrFail<T> for Result<T, E> {
    fn or_fail(self, what: &str) -> Result<T, Failed> {
        self.map_err(|e| fail(TASK, what, e))
    }
}

/// A cached buffer object mapped read-write into this task (the subject of the sync and
/// limit suites). [`MappedBuffer::close`] unmaps it and closes the handle, which frees it.
#[derive(Debug)]
pub struct MappedBuffer {
    /// The buffer handle (all rights).
    pub handle: Handle,
    /// Start of the direct mapping.
    pub ptr: *mut u8,
    /// Size in bytes.
    pub size: u64,
}

impl MappedBuffer {
    /// Create a cached buffer of `size` bytes (a multiple of 4 KiB) and map it
    /// read-write.
    pub fn new(size: u64) -> Result<MappedBuffer, Failed> {
        Self::with_policy(size, policy::CACHED)
    }

    /// [`MappedBuffer::new`] with `buffer_create`'s `policy` word.
    pub fn with_policy(size: u64, policy: u64) -> Result<MappedBuffer, Failed> {
        let handle = urt::buffer_create(size, policy).or_fail("buffer_create")?;
        let ptr = urt::buffer_map(handle, prot::READ | prot::WRITE).or_fail("buffer_map")?;
        Ok(MappedBuffer { handle, ptr, size })
    }

    /// Unmap and close the buffer.
    pub fn close(self) -> Result<(), Failed> {
        // SAFETY: `ptr` is the mapping `new` made; `self` is consumed, so nothing can use
        // it afterwards, and no reference into it was ever handed out.
        unsafe { urt::buffer_unmap(self.ptr) }.or_fail("buffer_unmap")?;
        urt::handle_close(self.handle).or_fail("handle_close")
    }
}

/// Size of `n` KiB in bytes.
pub const fn kib(n: u64) -> u64 {
    n * 1024
}

/// Size of `n` MiB in bytes.
pub const fn mib(n: u64) -> u64 {
    n * 1024 * 1024
}
