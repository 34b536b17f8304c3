//! Plays a random sequence of operations on one buffer shared by
//!
//! * holder **A**, the CPU task under test: random START/END brackets over random,
//!   unaligned sub-ranges, loads and stores inside them;
//! * holder **B**, a neighbour that writes a fixed unaligned byte range `N`; A's ranges
//!   often end or start right at `N`, so both share edge lines;
//! * the **device**, reading and writing random ranges by DMA;
//! * **U**, a legacy `UNCACHED` mapping of the whole (cached) buffer, which comes and
//!   goes and, while it exists, loads and stores memory directly, behind the cache: a
//!   non-coherent party no submission announces. Not played on a coherent machine: a
//!   device that snoops the cache may be answered from a clean line that an uncached
//!   store went around, which no maintenance of the CPU side can prevent while the
//!   mapping exists (mismatched memory attributes);
//! * the **cache**, evicting and speculatively filling lines at random,
//!
//! and checks every CPU load, device read and U load against `truth`, the last value
//! anyone wrote to each byte. The sequence ends with every bracket closed, a device read
//! of the whole buffer (no CPU write lost) and a CPU START READ + read of the whole
//! buffer (no device write lost).
//!
//! The buffer starts as the kernel leaves a new cached buffer: its zeros written
//! through the cache and not cleaned (memory holds garbage), every line in `dirty`.
//! The runner keeps the buffer's [`crate::Boundary`] (the real one, with room for two
//! intervals per set in a *tight* scenario, so that merges on overflow happen, or four,
//! which never overflow on the model's eight lines) and carries out its work.
//!
//! Operations the protocol forbids in the current state are skipped, not played: CPU
//! access outside a bracket, a device submission the kernel refuses (a device read while
//! a holder holds write access, [`plan_device_handover`]; a device write while any
//! holder has a START open, [`plan_device_write_handover`]), a whole-buffer START by a
//! writing A while B writes (two writers racing on the same bytes), A storing into `N`,
//! a U load while a holder holds write access or a U store while any START is open (U
//! is then racing with a CPU bracket on the same memory, which no kernel can order).
//!
//! Device work is queued at submission and completes later: at `DevDone` (the oldest
//! job), or when a START waits for its fences ([`FenceWait::Writers`]: every job up to
//! the last queued write; [`FenceWait::All`]: every job). Speculative fills and
//! evictions therefore also happen *while* the device writes. A START WRITE is planned
//! with the real [`effective_dir`] from [`crate::Boundary::may_be_stale`], as the kernel
//! does.
//!
//! With exactness checks on ([`Check::Exact`], scenarios that are not tight), the runner
//! also keeps its own line-exact account of what is dirty and stale and requires the
//! boundary's sets to equal it, and every sync and submission to maintain exactly the
//! lines the rules name: none for a START over lines no non-coherent party wrote, none
//! at END, at a submission exactly the dirty lines the device reads or writes.
//!
//! [`plan_device_handover`]: crate::plan_device_handover
//! [`plan_device_write_handover`]: crate::plan_device_write_handover
//! [`FenceWait::Writers`]: crate::FenceWait::Writers
//! [`FenceWait::All`]: crate::FenceWait::All
//! [`effective_dir`]: crate::effective_dir

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
    /// The device is asked to read a range (`None`: the whole buffer); the read happens
    /// (and is checked) when the job completes.
    DevRead(Option<Pick>),
    /// The device is asked to write a fresh value into a range (`None`: the whole
    /// buffer); the write happens when the job completes.
    DevWrite(Option<Pick>),
    /// The oldest queued device job completes.
    DevDone,
    /// The cache evicts a line.
    Evict(u8),
    /// The core speculatively fills a line.
    Fill(u8),
    /// U maps the whole buffer uncached (if it is not mapped).
    UMap,
    /// U's mapping goes away.
    UUnmap,
    /// U loads a range through its mapping (memory).
    URead(Pick),
    /// U stores a fresh value into a range through its mapping (memory).
    UWrite(Pick),
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
    /// The boundary sets have room for two intervals only (merges on overflow).
    pub tight: bool,
    /// The steps.
    pub ops: Vec<Op>,
}

/// What the runner checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// Only the data: no stale read anywhere.
    Data,
    /// The data, and (unless the scenario is tight) that the maintenance is exactly what
    /// the boundary rules name.
    Exact,
}

/// What was read wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// A CPU load inside a READ/RW bracket returned stale data.
    CpuRead,
    /// A device read returned stale data.
    DeviceRead,
    /// A load through the uncached mapping returned stale data.
    UncachedRead,
    /// The maintenance (or the boundary's sets) differ from what the rules name: lines
    /// maintained that no non-coherent party needed, or a set that is not exact.
    Inexact(&'static str),
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
    /// START WRITEs played as START RW ([`crate::effective_dir`]).
    pub upgraded: u64,
    /// START WRITEs planned as START WRITE (no maintenance).
    pub plain_start_writes: u64,
    /// Device writes refused because a START was open (and no write was held).
    pub refused_writes: u64,
    /// Device jobs completed by a START's fence wait.
    pub fence_waits: u64,
    /// Speculative fills of an absent line while a device write was queued.
    pub fills_during_write: u64,
    /// Bytes checked on U loads.
    pub uncached_checks: u64,
    /// STARTs and ENDs that needed no maintenance at all.
    pub skipped: u64,
    /// Lines cleaned at device submissions.
    pub submit_cleans: u64,
    /// START pieces that cleaned and invalidated lines in both `dirty` and `stale`.
    pub dirty_stale: u64,
}
