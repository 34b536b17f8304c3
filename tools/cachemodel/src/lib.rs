//! # cachemodel: per-CPU write-back data caches over RAM shared with non-coherent devices
//!
//! A host library that follows, line by line, what a non-coherent memory system does
//! with a stream of events: CPU loads and stores (with the physical address and the
//! memory type of the mapping used), data-cache maintenance by address (`DC CVAC`,
//! `DC IVAC`, `DC CIVAC`) and by set/way (`DC CSW`, `DC ISW`, `DC CISW`), `DSB`, and
//! device DMA (reads and writes of physical ranges, from submission to completion).
//! It answers, for every line, where the newest bytes are (a CPU cache or RAM), and
//! reports when data is lost or read stale ([`Violation`]); it counts the maintenance
//! that was issued and how much of it did something ([`Stats`]).
//!
//! The QEMU coherency sanitizer (`tools/sanitizer`, `tools/sanitizer-plugin`) feeds it
//! the events of a real guest; the host unit tests here feed it hand-written ones.
//!
//! ## What is modelled
//! - **Caches**: per-CPU write-back data caches, coherent with each other (one CPU at a
//!   time holds a line dirty; maintenance by address is broadcast), not coherent with
//!   devices. Lines are [`LINE`] bytes. There is no capacity: a line stays where it is
//!   until maintenance moves it, and *evictions and speculative fills may happen at
//!   any time* (the assumption of the kernel's host model in `kernel/coherency`): a
//!   dirty line may be written back at any moment, and any cacheable line may hold a
//!   copy fetched at any moment before the last invalidate.
//! - **Newest bytes**: per line, the bytes a CPU cache holds newer than RAM (`dirty`,
//!   with the store that wrote them) and the bytes RAM holds newer than any cached copy
//!   could be (`stale`: a device or a non-cacheable store wrote them after the last
//!   invalidate), byte-granular.
//! - **Maintenance completion**: a clean writes back when a `DSB` (SY or OSH, full or
//!   store) on the issuing CPU completes it; a device that reads a line whose clean was
//!   not completed is told the old bytes.
//! - **Devices** read and write RAM directly. A read is checked when it is submitted
//!   (the device may read at any time until it completes); a write may land at any
//!   time between submission and completion, so an invalidate counts only once it
//!   completed.
//!
//! ## Layers
//! - [`event`]: the event vocabulary ([`MemType`], [`Origin`], [`DcOp`], ...) and the
//!   [`Observer`] trait every consumer of the stream implements (this coherency model;
//!   a cost model can implement it too and receive the same events).
//! - [`geometry`]: cache geometry (levels, sets, ways, line) of a named core.
//! - [`lines`]: the per-line state, dense over RAM (memory is committed only where
//!   the guest touches it).
//! - [`model`]: the coherency model: the rules, violations and counters.
//! - [`cost`]: a memory-cost model with capacity (L1D per CPU, shared L2, DRAM,
//!   write-combining), an [`Observer`] too: modeled cycles = instructions + penalties.
//! - [`violation`], [`stats`]: what it reports.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cost;
mod device;
pub mod event;
pub mod geometry;
pub mod lines;
pub mod model;
mod setway;
pub mod stats;
pub mod violation;

pub use cost::{
    CostModel, Events as CostEvents, Params as CostParams, Penalties, Units as CostUnits,
};
pub use event::{DcOp, DevCmd, MemType, Observer, Origin, SetWayOp, SetWayOperand};
pub use geometry::{CacheLevel, Geometry};
pub use model::{Config, Model, Ram};
pub use stats::{OpCounts, Stats, Summary};
pub use violation::{Actor, Kind, Violation, Writer};

/// Line size of the model in bytes (the Cortex-A72's, and QEMU's `CTR_EL0.DminLine`
/// for it). Byte masks of a line are `u64`s.
pub const LINE: u64 = 64;

/// The byte mask of `[offset, offset + len)` within one line (`offset + len <= LINE`).
pub fn byte_mask(offset: u64, len: u64) -> u64 {
    debug_assert!(offset + len <= LINE);
    if len >= LINE {
        u64::MAX
    } else {
        ((1u64 << len) - 1) << offset
    }
}

/// Split `[pa, pa + len)` into (line address, byte mask) pieces, one per line touched.
pub fn line_pieces(pa: u64, len: u64) -> impl Iterator<Item = (u64, u64)> {
    let end = pa.saturating_add(len);
    let mut at = pa;
    core::iter::from_fn(move || {
        if at >= end {
            return None;
        }
        let line = at & !(LINE - 1);
        let off = at - line;
        let take = (LINE - off).min(end - at);
        at += take;
        Some((line, byte_mask(off, take)))
    })
}

#[cfg(test)]
mod tests;
