//! `urt`: the runtime every EL0 program links against.
//!
//! - [`sys`]: the raw `svc #0` interface ([`sys::raw_syscall`]).
//! - Typed, safe wrappers for every call in `kernel/abi/SYSCALLS.md`, at the crate root
//!   ([`exit`], [`spawn`], [`channel_recv`], ...), returning `Result<_, abi::Error>`.
//! - Buffers: [`buffer_create`], [`buffer_map`], [`buffer_unmap`] (unsafe: it takes
//!   memory away), [`buffer_sync`], [`buffer_sync_rect`] (one START/END over the rows of
//!   a rectangle), [`buffer_info`]; the maintenance trace of test kernels:
//!   [`trace_clear`], [`trace_read`]; and [`dcache_line_size`] (CTR_EL0 read at EL0),
//!   the granule of that maintenance; [`uclean`]: the EL0 option (clean your own lines
//!   with `DC CVAC` on a `uci` kernel, END with `USER_CLEANED`).
//! - Measurement: [`counters`] (the kernel's [`Counters`] since boot), and on benchmark
//!   kernels [`bench_dc_loop`] and [`bench_clean_all`]; [`sys::read_pmccntr`] reads the
//!   cycle counter without a syscall and [`sys::timed_syscall`] times exactly one `svc`.
//! - GPU: [`gpu_display_info`], [`gpu_import`], [`gpu_present`] (returns a [`Fence`]) and
//!   [`fence_wait`].
//! - Block device (capture): [`blk_info`] and [`blk_read`] (the device writes a buffer;
//!   returns a [`Fence`]).
//! - [`print!`] / [`println!`] through the `log` call (no allocation).
//! - A global allocator (a buddy heap over a 256 KiB static arena, set up on first use,
//!   so a program that never allocates carries no arena).
//! - The `#[panic_handler]`: prints `panic: <file>:<line>:<col>: <message>` and exits 101.
//! - The entry point `_start`, which calls the program's `main` declared with
//!   [`entry!`]; `main`'s return value becomes the exit code.
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//! fn main(args: urt::StartArgs) -> i32 {
//!     urt::println!("hello with {} handles", args.count);
//!     0
//! }
//! urt::entry!(main);
//! ```

#![no_std]
#![forbid(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

pub extern crate alloc;

pub use abi::{
    self, format, legacy, limits, policy, prot, sync, trace, Counters, Error, ExitHow, Handle,
    ObjectKind, Quota, Rights, Stat, Sys,
};

mod bench;
mod blk;
mod calls;
mod gpu;
mod heap;
pub mod io;
mod panic;
mod start;
pub mod sys;
pub mod uclean;

pub use bench::*;
pub use blk::*;
pub use calls::*;
pub use gpu::*;
pub use start::StartArgs;
pub use sys::dcache_line_size;

/// Result of a syscall wrapper.
pub type Result<T, E = Error> = core::result::Result<T, E>;
