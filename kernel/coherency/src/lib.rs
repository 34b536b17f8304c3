//! CPU/device hand-over of buffers shared with a non-coherent DMA device.
//!
//! This crate decides *what* the kernel must do when a buffer object changes hands
//! between CPU tasks and a device that does not snoop the CPU caches (on most Arm SoCs:
//! display, camera, video, GPU; here virtio-gpu run as non-coherent). It is pure logic,
//! `no_std`, host-tested; the kernel executes the plans (`DC` instructions, fence waits,
//! `DSB`) and owns the state.
//!
//! # Why maintenance is needed
//!
//! The CPU sees memory through a write-back data cache; the device reads and writes RAM
//! directly. Two things go wrong without help:
//!
//! * **CPU writes, device reads.** CPU stores sit in dirty cache lines, RAM is old. The
//!   device reads old data. Fix: *clean* (`DC CVAC`) the range to the point of coherency
//!   (PoC) before the device reads.
//! * **Device writes, CPU reads.** RAM is new, but the cache may hold old copies of the
//!   lines, and it may create them at any moment: the core can speculatively fill any
//!   cacheable line, even one the program never touched, even *while* the device is
//!   writing. Fix: *invalidate* (`DC IVAC`) the range after the device has finished and
//!   before the CPU reads. An invalidate before the device starts is not enough.
//!
//! Maintenance works on whole lines (`CTR_EL0.DminLine`, typically 64 bytes). A range
//! that starts or ends inside a line shares that edge line with bytes outside the range,
//! which may be dirty data of another holder. Invalidating such a line would silently
//! discard those bytes, so partial edge lines are cleaned and invalidated (`DC CIVAC`)
//! instead. That rule lives in [`mm::cache::plan`], which this crate reuses.
//!
//! # The protocol
//!
//! As in Linux's `DMA_BUF_IOCTL_SYNC`, a task brackets CPU access with
//! `sync(handle, flags, offset, len)`: flags ([`SyncFlags`]) are START or END with READ,
//! WRITE or RW; `len == 0` is the whole buffer, and a byte range (which Linux never
//! merged) lets a task sync only what it touches. Unlike Linux, the kernel maintains a
//! cached buffer only where data crosses to or from a party that does not snoop the CPU
//! caches ([`boundary`](Boundary): CPU caches are coherent with each other, so a buffer
//! only CPU tasks share needs no maintenance at all). Two layers decide a sync:
//!
//! 1. **The classic plan** ([`plan_sync`]): rights and range checks, the fences to wait
//!    for, and the operation Linux would issue over the range (invalidate for START
//!    READ/RW, clean for END WRITE/RW), with the direction [`effective_dir`] gives.
//! 2. **The boundary** ([`Boundary::sync`]) narrows that operation to the lines that
//!    need it: an END records its lines as dirty and cleans nothing; a START
//!    invalidates only the lines a non-coherent writer may have changed (`stale`).
//!    The clean moves to the device submission that reads (or writes) the lines
//!    ([`Boundary::device_read`], [`Boundary::device_write`]).
//!
//! The kernel:
//!
//! 1. decodes the flags ([`SyncFlags::parse`] → [`Phase`], [`Dir`]),
//! 2. asks the buffer's [`Boundary`] whether the range may be stale
//!    ([`Boundary::may_be_stale`]) and plans the request with [`plan_sync`], the
//!    direction from [`effective_dir`] (a START WRITE over stale lines is planned as
//!    START RW),
//! 3. waits the fences of [`SyncPlan::wait_fences`], moves the holder's [`CpuAccess`]
//!    state (START twice or END without START fail),
//! 4. narrows the plan's operation with [`Boundary::sync`] and runs the resulting
//!    [`Work`] (line runs from [`mm::cache::plan`], one `DSB SY` per range), then, for
//!    a START, [`Boundary::start_done`].
//!
//! | request | waits for | maintenance (cached buffer, non-coherent parties) | why |
//! |---|---|---|---|
//! | START READ | device writers | invalidate the range's `stale` lines (edges and lines that may be dirty CIVAC); none if nothing is stale | drop lines a device (or an uncached mapping) changed behind the cache |
//! | START RW | all device work | as START READ | as READ; devices still reading finish |
//! | START WRITE | all device work | as START RW if `stale` meets the range (rule (c)), else none | see "The device-write direction" |
//! | END WRITE / RW | nothing | none: the lines join `dirty` | the CPU is the only one who reads them until a submission |
//! | END READ | nothing | none | nothing is dirty |
//! | device read submission (present) | — | clean `dirty ∩ what it reads`, `DSB`, then notify | the device reads memory |
//! | device write submission (`blk_read`) | — | clean `dirty ∩ written lines`, `DSB`; the lines join `stale`; notify | rule (a) |
//!
//! While a **legacy uncached mapping** of the cached buffer exists (a reader and writer
//! of memory that no submission announces), END WRITE/RW cleans its range at once and
//! every START invalidates its whole range, as Linux does for every sync; when it goes,
//! its range joins `stale`. An uncached buffer ([`Policy::Uncached`], Normal-NC
//! mapping) never needs maintenance, and neither does a cached one whose devices are
//! coherent unless an uncached mapping is involved; the fences are still waited.
//!
//! **Rights.** WRITE and RW need the map-write right ([`SyncError::AccessDenied`]). A
//! read-only holder's START READ uses clean+invalidate on every line, never a pure
//! invalidate: discarding a dirty line is a write in disguise, and a holder that may
//! not write must not be able to destroy another holder's not-yet-ENDed data. For the
//! same reason a line the boundary may hold as dirty is never plainly invalidated.
//!
//! **Device side.** Before a submission that references the buffer the kernel runs a
//! misuse check, zaps the legacy mappings and records their written pages as dirty
//! ([`legacy::LegacyPages::on_device_submit`]), then cleans the boundary's dirty lines
//! the device touches; the check depends on what the device does with the buffer:
//!
//! * a device that **reads** it: no holder may be inside a WRITE/RW bracket
//!   ([`plan_device_handover`]): its lines are not in `dirty` yet (an END records
//!   them).
//! * a device that **writes** it (a capture, e.g. virtio-blk's `blk_read`): no holder
//!   may have *any* START open ([`plan_device_write_handover`]), so no direct-path line
//!   is dirty outside `dirty` and nobody reads while the device writes; the kernel
//!   marks the written lines stale.
//!
//! # The device-write direction
//!
//! When a device writes the buffer, three rules keep the CPU and the device apart:
//!
//! | rule | kernel step | API | without it |
//! |------|-------------|-----|------------|
//! | (a) clean before handing a CPU-dirtied buffer to a writing device | refuse the submission while a START is open; clean `dirty ∩ written lines`; zap the legacy mappings and clean their written pages | [`plan_device_write_handover`], [`Boundary::device_write`], [`legacy::LegacyPages::on_device_submit`] | a dirty line is evicted after the device wrote and overwrites its bytes |
//! | (b) START READ/RW waits for the device-write fence, then invalidates | the written lines join `stale` at submission; START waits, then invalidates its `stale` lines | [`plan_sync`] ([`FenceWait::Writers`] / [`FenceWait::All`]), [`Boundary::device_write_done`], [`Boundary::sync`] | the CPU reads lines cached (or speculatively filled) before or during the write |
//! | (c) START WRITE over stale lines is planned as START RW | [`Boundary::may_be_stale`] into [`effective_dir`] | [`effective_dir`] | a stale line merges with the CPU's partial writes and its clean later writes stale bytes over the device's |
//!
//! **START WRITE without stale lines** (shared with Linux, where
//! `dma_sync_*_for_cpu(DMA_TO_DEVICE)` does nothing on arm64). START WRITE does no
//! maintenance. That is correct only because of rule (c): a line not in `stale` was
//! filled from memory that no non-coherent writer has changed since, so it is current.
//!
//! # Evidence
//!
//! QEMU executes cache maintenance as no-ops and its DMA is coherent, so it cannot show
//! a missing step. The tests run the real [`plan_sync`], [`Boundary`] and
//! [`mm::cache::plan`] against a host model of a write-back, non-coherent cache with
//! random evictions and speculative fills, a DMA device, a legacy uncached mapping that
//! loads and stores memory behind the cache, and a second holder writing bytes that
//! share edge lines with the synced range, and check every read against a reference.
//! Buffers start as the kernel leaves them (zeros dirty in the cache, old contents in
//! memory); half of the scenarios give the boundary's sets room for only two intervals,
//! so that merges on overflow happen. An oracle of its own (`model::exact`) requires, in
//! the other half, that the sets are exact and that every sync and submission maintains
//! exactly the lines the rules name: none at END, none for a START over lines no
//! non-coherent party wrote. Mutation tests then delete each maintenance step and rule
//! in turn (the clean at a present, the clean before a device write, the invalidate of
//! stale lines, marking a device write's lines stale, the CIVAC of lines both dirty and
//! stale, merging on overflow, the uncached mapping's rules, the edge CIVAC, the
//! read-only CIVAC, the START WRITE → RW upgrade, the reader check of the write
//! hand-over) and require the same machinery to find a failing sequence; the *waste*
//! mutations (forgetting to clear `dirty` or `stale`, cleaning at every END or
//! invalidating every START's whole range as Linux does) are caught by the oracle.
//! Device work is queued and completes later, so the fence waits and speculative fills
//! during a device write are played.
//!
//! # The legacy forwarded-mmap path
//!
//! A task that maps a buffer through the GPU driver (`dma_buf_mmap()` style) has no
//! `sync` call; the exporter fakes coherency by policy, with the page tables standing in
//! for the missing brackets. The [`legacy`] module holds that state machine
//! ([`legacy::LegacyPages`]: faults fill pages on demand after a fence wait and an
//! invalidate, read faults map read-only so that writes are tracked, a device
//! submission zaps the PTEs and records exactly the written pages as dirty) and the
//! rules that tie it to the direct path (a refault cleans and invalidates a page that
//! holds lines the boundary may hold as dirty). It is tested against the same cache
//! model, with its own mutation tests.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;

mod access;
mod boundary;
mod error;
mod flags;
mod handover;
pub mod legacy;
mod lineset;
mod plan;
mod range;

#[cfg(test)]
mod model;
#[cfg(test)]
mod tests;

pub use access::CpuAccess;
pub use boundary::{Boundary, Pieces, Region, Work};
pub use error::SyncError;
pub use flags::{Dir, Phase, SyncFlags};
pub use handover::{plan_device_handover, plan_device_write_handover, Handover};
pub use lineset::{LineSet, Lines};
pub use plan::{effective_dir, plan_op, plan_sync, FenceWait, Policy, SyncPlan, SyncRequest};
pub use range::resolve_range;
