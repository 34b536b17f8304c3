//! Deliberate breakage of the planner and of the boundary rules, applied *around* the
//! real [`plan_sync`], [`effective_dir`], the hand-over checks, [`crate::Boundary`] and
//! [`mm::cache::plan`] so the production code paths stay untouched (the few rules that
//! live inside the boundary's own bookkeeping have test-only switches there). Each
//! variant deletes one maintenance step or rule; the mutation tests require the
//! scenario runner to catch it: the *data* mutations by a stale read, the *waste*
//! mutations (maintenance that no non-coherent party needs) by the exactness checks.

use mm::cache::{self, CacheGeometry, CacheOp, RangePlan};

use crate::{
    effective_dir, plan_device_handover, plan_device_write_handover, plan_sync, Dir, Handover,
    Phase, SyncError, SyncPlan, SyncRequest,
};

/// One deleted maintenance step or rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutation {
    /// The real planner.
    None,
    /// END WRITE / END RW skip the clean they owe an unmediated reader (a legacy
    /// uncached mapping exists): they record the lines as if there were none.
    NoCleanAtEndWrite,
    /// START READ / START RW skip the invalidate.
    NoInvalidateAtStartRead,
    /// Partial edge lines of an invalidate are plainly invalidated (`DC IVAC`) instead of
    /// cleaned and invalidated.
    EdgesPlainInvalidate,
    /// A read-only holder's START READ uses an invalidate (edges still CIVAC) instead of
    /// clean+invalidate on every line.
    ReadOnlyPlainInvalidate,
    /// Rule (b) broken the classic way: the invalidate of the device-written lines is
    /// done when the device write is *submitted* (a clean+invalidate of the whole
    /// buffer), and START READ/RW no longer invalidates. Lines speculatively filled
    /// while the device writes survive and are read.
    NoInvalidateAtStartReadAfterDeviceWrite,
    /// Rule (a) broken: a device-write submission does not clean the dirty lines it
    /// writes ("the device overwrites them anyway"): they are evicted over the device's
    /// data later (or, partial lines, their CPU bytes never reach memory).
    NoCleanBeforeDeviceWrite,
    /// Rule (c) removed: a START WRITE over stale lines is planned as START WRITE.
    StartWriteAfterDeviceWriteNotRw,
    /// The device-write hand-over checks only for open WRITE/RW brackets (as for a
    /// device read): a holder inside a START READ keeps reading lines it filled before
    /// the device wrote.
    WriteHandoverIgnoresReaders,
    /// A device-read submission (a present) does not clean the dirty lines it reads.
    NoCleanAtDeviceRead,
    /// START plainly invalidates lines that are both stale and dirty (no CIVAC for lines
    /// that may be dirty), losing ENDed bytes not yet cleaned.
    DirtyStalePlainInvalidate,
    /// A device-write submission does not mark its lines stale.
    NoStaleMark,
    /// A set that is full drops new lines instead of merging (a subset).
    OverflowSubset,
    /// A new uncached mapping skips its clean+invalidate (its dirty lines stay unseen).
    UncachedMapNoCleanInvalidate,
    /// An uncached mapping that goes away does not mark its range stale.
    UncachedUnmapNoStale,
    /// START ignores an existing uncached mapping (invalidates only `stale`).
    UncachedWriterIgnored,
    /// Waste: submissions do not remove the lines they cleaned from `dirty`.
    NoClearDirty,
    /// Waste: STARTs do not remove the lines they invalidated from `stale`.
    NoClearStale,
    /// Waste: END WRITE/RW cleans at once, as Linux does, whoever shares the buffer.
    CleanAtEveryEnd,
    /// Waste: START READ/RW invalidates the whole range, as Linux does, stale or not.
    InvalidateWholeRange,
}

impl Mutation {
    /// Every variant that breaks the data.
    pub const BROKEN: [Mutation; 15] = [
        Mutation::NoCleanAtEndWrite,
        Mutation::NoInvalidateAtStartRead,
        Mutation::EdgesPlainInvalidate,
        Mutation::ReadOnlyPlainInvalidate,
        Mutation::NoInvalidateAtStartReadAfterDeviceWrite,
        Mutation::NoCleanBeforeDeviceWrite,
        Mutation::StartWriteAfterDeviceWriteNotRw,
        Mutation::WriteHandoverIgnoresReaders,
        Mutation::NoCleanAtDeviceRead,
        Mutation::DirtyStalePlainInvalidate,
        Mutation::NoStaleMark,
        Mutation::OverflowSubset,
        Mutation::UncachedMapNoCleanInvalidate,
        Mutation::UncachedUnmapNoStale,
        Mutation::UncachedWriterIgnored,
    ];

    /// Every variant that only wastes maintenance (caught by the exactness checks).
    pub const WASTE: [Mutation; 4] = [
        Mutation::NoClearDirty,
        Mutation::NoClearStale,
        Mutation::CleanAtEveryEnd,
        Mutation::InvalidateWholeRange,
    ];

    /// The device-write rules the brief requires to be caught.
    pub const DEVICE_WRITE: [Mutation; 3] = [
        Mutation::NoInvalidateAtStartReadAfterDeviceWrite,
        Mutation::NoCleanBeforeDeviceWrite,
        Mutation::StartWriteAfterDeviceWriteNotRw,
    ];

    /// [`effective_dir`] as this mutation sees it.
    pub fn effective_dir(self, phase: Phase, dir: Dir, stale: bool) -> Dir {
        match self {
            Mutation::StartWriteAfterDeviceWriteNotRw => dir,
            _ => effective_dir(phase, dir, stale),
        }
    }

    /// The hand-over verdict for a device submission that writes (`device_writes`) or
    /// only reads the buffer.
    pub fn handover(self, device_writes: bool, write_held: bool, started: bool) -> Handover {
        match (self, device_writes) {
            (Mutation::WriteHandoverIgnoresReaders, true) | (_, false) => {
                plan_device_handover(write_held)
            }
            (_, true) => plan_device_write_handover(started),
        }
    }

    /// Whether the runner clean+invalidates the whole buffer when a device write is
    /// submitted (the mutation's misplaced invalidate).
    pub fn invalidates_at_device_write(self) -> bool {
        self == Mutation::NoInvalidateAtStartReadAfterDeviceWrite
    }

    /// [`plan_sync`], then this mutation's rewrite of the plan.
    pub fn plan_sync(self, req: &SyncRequest) -> Result<SyncPlan, SyncError> {
        let mut plan = plan_sync(req)?;
        plan.op = match (self, req.phase, plan.op) {
            (
                Mutation::NoInvalidateAtStartRead
                | Mutation::NoInvalidateAtStartReadAfterDeviceWrite,
                Phase::Start,
                Some(_),
            ) => None,
            (
                Mutation::ReadOnlyPlainInvalidate,
                Phase::Start,
                Some((CacheOp::CleanInvalidate, o, l)),
            ) if !req.may_write => Some((CacheOp::Invalidate, o, l)),
            (_, _, op) => op,
        };
        Ok(plan)
    }

    /// The line runs of one piece `(op, offset, len)` of the buffer at `base`
    /// ([`mm::cache::plan`]), then this mutation's rewrite of them.
    pub fn piece_runs(self, geom: CacheGeometry, op: CacheOp, addr: u64, len: u64) -> RangePlan {
        let runs = cache::plan(geom, op, addr, len).expect("buffer far below 2^64");
        match (self, op) {
            (Mutation::EdgesPlainInvalidate, CacheOp::Invalidate) => {
                // What the planner would give without its edge rule: the same lines, all
                // plainly invalidated (planning the line-aligned cover yields exactly that).
                let first = runs.runs()[0].start;
                let end = runs.runs()[runs.runs().len() - 1].end();
                let bad = cache::plan(geom, CacheOp::Invalidate, first, end - first).unwrap();
                assert_eq!(bad.total_lines(), runs.total_lines());
                assert_eq!(bad.lines_of(CacheOp::Invalidate), bad.total_lines());
                bad
            }
            _ => runs,
        }
    }
}
