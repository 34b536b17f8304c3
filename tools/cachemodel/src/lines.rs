//! Per-line state, dense over RAM: one entry per [`crate::LINE`]-byte line in each of a
//! few arrays (state bits, dirty bytes, the last writer, stale bytes and their source,
//! maintenance count). The arrays are allocated zeroed, so the host commits memory only
//! for the pages of them the guest's activity touches; in-flight device accesses, which
//! are few, live in a map.

use crate::LINE;
use std::collections::HashMap;

/// State bits of a line (`Lines::state`).
pub mod bits {
    /// The CPU holding the line dirty (valid while `dirty != 0`).
    pub const DIRTY_CPU: u16 = 0x7f;
    /// A clean wrote the line back, but no completing `DSB` has run on that CPU yet.
    pub const PENDING_CLEAN: u16 = 1 << 7;
    /// A device or a non-cacheable access touched the line at some time.
    pub const NONCOHERENT: u16 = 1 << 8;
    /// `snap` holds the modelled RAM bytes of the line.
    pub const SNAP: u16 = 1 << 9;
    /// QEMU's RAM differs from the modelled RAM (an invalidate discarded dirty bytes).
    pub const DIVERGED: u16 = 1 << 10;
    /// A device access to the line is in flight (see `Lines::inflight`).
    pub const INFLIGHT: u16 = 1 << 11;
    /// A CPU write-back overwrote stale bytes of the line in RAM: the newer bytes (a
    /// device's, or a non-cacheable store's) are gone.
    pub const LOST: u16 = 1 << 12;
}

/// Device accesses in flight on one line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Inflight {
    /// Reads submitted and not completed.
    pub reads: u16,
    /// Writes submitted and not completed.
    pub writes: u16,
    /// The last command submitted.
    pub cmd: u32,
    /// Bytes of the line the reads in flight cover.
    pub rmask: u64,
    /// Bytes of the line the writes in flight cover.
    pub wmask: u64,
}

/// The line arrays over `[base, base + size)`.
pub struct Lines {
    base: u64,
    count: usize,
    /// `bits::*`.
    pub state: Vec<u16>,
    /// Bytes newer in a CPU cache than in RAM.
    pub dirty: Vec<u64>,
    /// The last cacheable store to the line (packed [`crate::Origin`]).
    pub writer: Vec<u64>,
    /// Bytes newer in RAM than any cached copy could be.
    pub stale: Vec<u64>,
    /// Who wrote the stale bytes (packed [`crate::Writer`]).
    pub stale_src: Vec<u64>,
    /// Maintenance operations on the line: issued (low 32 bits) and effective (high).
    pub maint: Vec<u64>,
    /// Violation kinds already reported on the line (bit = `Kind::index`).
    pub reported: Vec<u8>,
    /// Modelled RAM bytes of lines with `bits::SNAP` (empty unless snapshots are on).
    pub snap: Vec<u8>,
    /// In-flight device accesses, by line index.
    pub inflight: HashMap<usize, Inflight>,
}

impl Lines {
    /// Zeroed arrays for `size` bytes of RAM at `base` (both line-aligned); `snapshots`
    /// adds a shadow of the RAM for the modelled contents.
    pub fn new(base: u64, size: u64, snapshots: bool) -> Lines {
        let count = (size / LINE) as usize;
        Lines {
            base,
            count,
            state: vec![0; count],
            dirty: vec![0; count],
            writer: vec![0; count],
            stale: vec![0; count],
            stale_src: vec![0; count],
            maint: vec![0; count],
            reported: vec![0; count],
            snap: if snapshots {
                vec![0; count * LINE as usize]
            } else {
                Vec::new()
            },
            inflight: HashMap::new(),
        }
    }

    /// The index of the line holding `pa`, if it is in RAM.
    #[inline]
    pub fn index(&self, pa: u64) -> Option<usize> {
        let i = (pa.checked_sub(self.base)? / LINE) as usize;
        (i < self.count).then_some(i)
    }

    /// The physical address of line `i`.
    pub fn address(&self, i: usize) -> u64 {
        self.base + i as u64 * LINE
    }

    /// Number of lines.
    pub fn count(&self) -> usize {
        self.count
    }

    /// True if snapshots are kept.
    pub fn has_snapshots(&self) -> bool {
        !self.snap.is_empty()
    }

    /// The snapshot bytes of line `i` (snapshots on).
    pub fn snap_mut(&mut self, i: usize) -> &mut [u8] {
        let at = i * LINE as usize;
        &mut self.snap[at..at + LINE as usize]
    }

    /// The snapshot bytes of line `i` (snapshots on).
    pub fn snap(&self, i: usize) -> &[u8] {
        let at = i * LINE as usize;
        &self.snap[at..at + LINE as usize]
    }

    /// The CPU holding line `i` dirty, if any.
    pub fn dirty_cpu(&self, i: usize) -> Option<u8> {
        (self.dirty[i] != 0).then_some((self.state[i] & bits::DIRTY_CPU) as u8)
    }
}
