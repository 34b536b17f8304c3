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
//! merged) lets a task sync only what it touches. The kernel:
//!
//! 1. decodes the flags ([`SyncFlags::parse`] → [`Phase`], [`Dir`]),
//! 2. plans the request ([`plan_sync`]; rights and range checks included), with the
//!    direction [`effective_dir`] gives (a START WRITE after a device write is planned
//!    as START RW),
//! 3. moves the holder's [`CpuAccess`] state (START twice or END without START fail),
//! 4. waits the fences of [`SyncPlan::wait_fences`], runs the line runs of
//!    [`SyncPlan::line_runs`], then one `DSB SY`.
//!
//! | request         | waits for            | maintenance                 | why                                      |
//! |-----------------|----------------------|-----------------------------|------------------------------------------|
//! | START READ      | device writers       | invalidate (edges CIVAC)    | drop stale and speculated lines          |
//! | START RW        | all device work      | invalidate (edges CIVAC)    | as READ; devices still reading finish    |
//! | START WRITE     | all device work      | none (RW after a dev write) | see "The device-write direction"         |
//! | END WRITE / RW  | nothing              | clean to PoC                | push the CPU's writes to RAM             |
//! | END READ        | nothing              | none                        | nothing is dirty                         |
//!
//! An uncached buffer ([`Policy::Uncached`], Normal-NC mapping) or a coherent device
//! needs no maintenance at all; the fences are still waited.
//!
//! **Rights.** WRITE and RW need the map-write right ([`SyncError::AccessDenied`]). A
//! read-only holder's START READ uses clean+invalidate on every line, never a pure
//! invalidate: discarding a dirty line is a write in disguise, and a holder that may
//! not write must not be able to destroy another holder's not-yet-ENDed data.
//!
//! **Device side.** Before a submission that references the buffer the kernel runs a
//! misuse check, then zaps and cleans the legacy mappings
//! ([`legacy::LegacyPages::on_device_submit`]); the check depends on what the device
//! does with the buffer:
//!
//! * a device that **reads** it: no holder may be inside a WRITE/RW bracket
//!   ([`plan_device_handover`]); every byte the CPU wrote was cleaned by its END.
//! * a device that **writes** it (a capture, e.g. virtio-blk's `blk_read`): no holder
//!   may have *any* START open ([`plan_device_write_handover`]), so no direct-path line
//!   is dirty and nobody reads while the device writes; the kernel sets the buffer's
//!   `device_wrote` bit.
//!
//! # The device-write direction
//!
//! When a device writes the buffer, three rules keep the CPU and the device apart:
//!
//! | rule | kernel step | API | without it |
//! |------|-------------|-----|------------|
//! | (a) clean before handing a CPU-dirtied buffer to a writing device | refuse the submission while a START is open; zap the legacy mappings and clean their written pages | [`plan_device_write_handover`], [`legacy::LegacyPages::on_device_submit`] | a dirty line is evicted after the device wrote and overwrites its bytes |
//! | (b) START READ/RW waits for the device-write fence, then invalidates | as for any START READ/RW | [`plan_sync`] ([`FenceWait::Writers`] / [`FenceWait::All`], `Invalidate`) | the CPU reads lines cached (or speculatively filled) before or during the write |
//! | (c) START WRITE after a device write is planned as START RW | keep a per-buffer `device_wrote` bit: set at each device-write submission, cleared by a whole-buffer START READ/RW | [`effective_dir`], [`device_wrote_after_sync`] | a stale line merges with the CPU's partial writes and its END clean writes stale bytes over the device's |
//!
//! A `sync` therefore goes: `(phase, dir) = SyncFlags::parse(flags)`;
//! `req.dir = effective_dir(phase, dir, buf.device_wrote)`; `plan = plan_sync(&req)`;
//! wait the fences; `access.start(dir)` / `access.end(dir)` (the task's own direction);
//! run the maintenance; `buf.device_wrote = device_wrote_after_sync(buf.device_wrote,
//! &req)`.
//!
//! **START WRITE without a device write** (shared with Linux, where
//! `dma_sync_*_for_cpu(DMA_TO_DEVICE)` does nothing on arm64). START WRITE does no
//! maintenance. That is correct only because of rule (c): if no device wrote the buffer
//! since the last whole-buffer invalidate, every line in the cache was filled from RAM
//! that no device has changed since, so no line is stale.
//!
//! # Evidence
//!
//! QEMU executes cache maintenance as no-ops and its DMA is coherent, so it cannot show
//! a missing step. The tests run the real [`plan_sync`] and [`mm::cache::plan`] against
//! a host model of a write-back, non-coherent cache with random evictions and
//! speculative fills, a DMA device and a second holder writing bytes that share edge
//! lines with the synced range, and check every read against a reference. Mutation
//! tests then delete each maintenance step in turn (the clean at END, the invalidate at
//! START, the edge CIVAC, the read-only CIVAC) and each device-write rule (the
//! invalidate moved before the device's write, the clean before a writing device, the
//! START WRITE → RW upgrade, the reader check of the write hand-over) and require the
//! same machinery to find a failing sequence. Device work is queued and completes
//! later, so the fence waits and speculative fills during a device write are played.
//!
//! # The legacy forwarded-mmap path
//!
//! A task that maps a buffer through the GPU driver (`dma_buf_mmap()` style) has no
//! `sync` call; the exporter fakes coherency by policy, with the page tables standing in
//! for the missing brackets. The [`legacy`] module holds that state machine
//! ([`legacy::LegacyPages`]: faults fill pages on demand after a fence wait and an
//! invalidate, read faults map read-only so that writes are tracked, a device
//! submission zaps the PTEs and cleans exactly the written pages) and the rules that tie
//! it to the direct path. It is tested against the same cache model, with its own
//! mutation tests.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;

mod access;
mod error;
mod flags;
mod handover;
pub mod legacy;
mod plan;
mod range;

#[cfg(test)]
mod model;
#[cfg(test)]
mod tests;

pub use access::CpuAccess;
pub use error::SyncError;
pub use flags::{Dir, Phase, SyncFlags};
pub use handover::{plan_device_handover, plan_device_write_handover, Handover};
pub use plan::{
    device_wrote_after_sync, effective_dir, plan_sync, FenceWait, Policy, SyncPlan, SyncRequest,
};
pub use range::resolve_range;
