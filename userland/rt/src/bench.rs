//! The measurement calls (SYSCALLS.md 27..29): the kernel's event [`counters`], and the
//! two calls only benchmark kernels answer, [`bench_dc_loop`] and [`bench_clean_all`].

use crate::calls::call;
use crate::sys::{decode, raw_syscall};
use crate::Result;
use abi::{Counters, Handle, Sys};

// The kernel copies exactly 64 bytes: eight u64 counters.
const _: () = assert!(core::mem::size_of::<Counters>() == 64);

/// `counters()`: the kernel's event counters since boot (lines cleaned, invalidated,
/// cleaned+invalidated, syscalls, legacy faults, zaps, TLBIs, set/way operations).
///
/// The call counts itself in [`Counters::syscalls`]: of two reads around a region, the
/// second one is inside it.
pub fn counters() -> Result<Counters> {
    let mut c = Counters::default();
    // SAFETY: the kernel writes 64 bytes (the size of `Counters`, checked above) into
    // `c`, an exclusive, 8-byte aligned borrow for the duration of the call; `Counters`
    // is `repr(C)` of eight u64s, so any bytes are a valid value.
    let r = unsafe {
        raw_syscall(
            Sys::Counters as u64,
            [&mut c as *mut Counters as u64, 0, 0, 0, 0, 0],
        )
    };
    decode(r).map(|_| c)
}

/// `bench_dc_loop(h, op, offset, len)`: run the kernel's bare DC loop over
/// `[offset, offset + len)` of buffer `h` (`op` 1 clean, 2 invalidate, 3 clean +
/// invalidate: the numbering of [`abi::trace::OP_CLEAN`] and its neighbours) and return
/// the cycles the loop alone took, measured inside the kernel: the floor a `buffer_sync`
/// of that range can approach. `NotSupported` on a kernel not built for benchmarks.
pub fn bench_dc_loop(h: Handle, op: u64, offset: u64, len: u64) -> Result<u64> {
    call(Sys::BenchDcLoop, [h.0 as u64, op, offset, len, 0, 0]).map(|(c, _)| c)
}

/// `bench_clean_all()`: clean and invalidate every data cache level by set/way (DC
/// CISW), the naive alternative to range maintenance; returns the cycles it took inside
/// the kernel. `NotSupported` on a kernel not built for benchmarks.
pub fn bench_clean_all() -> Result<u64> {
    call(Sys::BenchCleanAll, [0; 6]).map(|(c, _)| c)
}
