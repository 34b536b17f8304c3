//! Plays a random sequence of operations on one buffer shared by
//!
//! * holder **A**, the CPU task under test: random START/END brackets over random,
//!   unaligned sub-ranges, loads and stores inside them;
//! * holder **B**, a neighbour that writes a fixed unaligned byte range `N`; A's ranges
//!   often end or start right at `N`, so both share edge lines;
//! * the **device**, reading and writing random ranges by DMA;
//! * the **cache**, evicting and speculatively filling lines at random,
//!
//! and checks every CPU load and device read against `truth`, the last value anyone
//! wrote to each byte. The sequence ends with every bracket closed, a device read of the
//! whole buffer (no CPU write lost) and a CPU START READ + read of the whole buffer (no
//! device write lost).
//!
//! Operations the protocol forbids in the current state are skipped, not played: CPU
//! access outside a bracket, a device submission while a holder holds write access
//! ([`plan_device_handover`]), a device write into the range of A's open READ bracket,
//! a whole-buffer START by a writing A while B writes (two writers racing on the same
//! bytes), A storing into `N`. A START WRITE over lines the device wrote since they were
//! last invalidated is played as START RW (the crate-level "START WRITE caveat").
//!
//! Device work completes synchronously, so fences are always already signalled; which
//! fences a request waits for is covered by the planner's unit tests.

use mm::cache::CacheGeometry;

use super::cache::LINE;
use crate::{Dir, Policy, SyncError};

/// Buffer size in bytes.
pub const SIZE: usize = 512;
/// Buffer address (line-aligned, as buffers are page-aligned).
pub(super) const BASE: u64 = 0x4020_0000;
/// Geometry handed to the line planner: the model's line size.
pub(super) const GEOM: CacheGeometry = match CacheGeometry::new(LINE as u64) {
    Some(g) => g,
    None => panic!("bad line size"),
};

/// Two random numbers that choose a non-empty sub-range of a region at play time.
#[derive(Clone, Copy, Debug)]
pub struct Pick(pub u16, pub u16);

impl Pick {
    /// A non-empty `[start, end)` inside the non-empty `[lo, hi)`.
    pub(super) fn within(self, lo: usize, hi: usize) -> (usize, usize) {
        let start = lo + usize::from(self.0) % (hi - lo);
        (start, start + 1 + usize::from(self.1) % (hi - start))
    }
}

/// Where a START of A lies.
#[derive(Clone, Copy, Debug)]
pub enum Span {
    /// `len == 0`: the whole buffer.
    Whole,
    /// Left of `N` (up to its end for a read-only A); `touch` ends it right at the border.
    Left(bool, Pick),
    /// Right of `N` (from its start for a read-only A); `touch` starts it at the border.
    Right(bool, Pick),
}

/// One step of a scenario.
#[derive(Clone, Copy, Debug)]
pub enum Op {
    /// A STARTs (a read-only A always reads).
    AStart(Dir, Span),
    /// A ENDs its bracket, over its START range or (`true`) the whole buffer.
    AEnd(bool),
    /// A loads a sub-range of its bracket (READ or RW).
    ARead(Pick),
    /// A stores a fresh value into a sub-range of its bracket (WRITE or RW).
    AWrite(Pick),
    /// B STARTs WRITE over `N`.
    BStart,
    /// B stores a fresh value into a sub-range of `N`.
    BWrite(Pick),
    /// B ENDs.
    BEnd,
    /// The device reads a range (`None`: the whole buffer).
    DevRead(Option<Pick>),
    /// The device writes a fresh value into a range (`None`: the whole buffer).
    DevWrite(Option<Pick>),
    /// The cache evicts a line.
    Evict(u8),
    /// The core speculatively fills a line.
    Fill(u8),
}

/// A buffer configuration, the neighbour range and the steps.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Mapping policy of the buffer.
    pub policy: Policy,
    /// Whether the device snoops the cache.
    pub coherent: bool,
    /// Whether A has the map-write right (B always has).
    pub a_may_write: bool,
    /// `N = [n.0, n.1)`, with `0 < n.0 < n.1 <= SIZE`.
    pub n: (usize, usize),
    /// The steps.
    pub ops: Vec<Op>,
}

/// What was read wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// A CPU load inside a READ/RW bracket returned stale data.
    CpuRead,
    /// A device read returned stale data.
    DeviceRead,
    /// The crate refused a request the runner considers valid (a runner bug).
    Protocol(SyncError),
}

/// The first wrong observation of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Index of the op (`ops.len()` for the final checks).
    pub step: usize,
    /// What went wrong.
    pub kind: FailureKind,
    /// Buffer offset of the byte.
    pub offset: usize,
    /// Value the reference expects.
    pub expected: u8,
    /// Value observed.
    pub got: u8,
}

/// Counters of a passing run, to show the generator exercises what matters.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    /// Bytes checked on CPU loads.
    pub cpu_checks: u64,
    /// Bytes checked on device reads.
    pub device_checks: u64,
    /// `DC` instructions executed.
    pub dc_lines: u64,
    /// Device submissions refused because a holder held write access.
    pub refused: u64,
    /// START WRITEs played as START RW.
    pub upgraded: u64,
}
