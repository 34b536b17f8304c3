//! Deliberate breakage of the planner, applied *around* the real [`plan_sync`],
//! [`effective_dir`], [`plan_device_write_handover`] and [`mm::cache::plan`] so the
//! production code paths stay untouched. Each variant deletes one maintenance step or
//! rule; the mutation tests require the scenario runner to catch it. The device-write
//! variants also change what the runner does at a device-write submission (see
//! [`Mutation::invalidates_at_device_write`] and [`Mutation::defers_end_clean`]).

use mm::cache::{self, CacheGeometry, CacheOp, RangePlan};

use crate::{
    effective_dir, plan_device_handover, plan_device_write_handover, plan_sync, Dir, Handover,
    Phase, SyncError, SyncPlan, SyncRequest,
};

/// One deleted maintenance step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutation {
    /// The real planner.
    None,
    /// END WRITE / END RW skip the clean to PoC.
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
    /// Rule (a) broken: END WRITE/RW defers its clean to the next hand-over, and the
    /// runner flushes deferred cleans before every `sync` and every device *read*, but
    /// not before a device *write* ("the device overwrites it anyway"): the dirty lines
    /// stay and are evicted over the device's data later (or, partial lines, their CPU
    /// bytes never reach RAM).
    NoCleanBeforeDeviceWrite,
    /// Rule (c) removed: a START WRITE after a device write is planned as START WRITE.
    StartWriteAfterDeviceWriteNotRw,
    /// The device-write hand-over checks only for open WRITE/RW brackets (as for a
    /// device read): a holder inside a START READ keeps reading lines it filled before
    /// the device wrote.
    WriteHandoverIgnoresReaders,
}

impl Mutation {
    /// Every variant that breaks something.
    pub const BROKEN: [Mutation; 8] = [
        Mutation::NoCleanAtEndWrite,
        Mutation::NoInvalidateAtStartRead,
        Mutation::EdgesPlainInvalidate,
        Mutation::ReadOnlyPlainInvalidate,
        Mutation::NoInvalidateAtStartReadAfterDeviceWrite,
        Mutation::NoCleanBeforeDeviceWrite,
        Mutation::StartWriteAfterDeviceWriteNotRw,
        Mutation::WriteHandoverIgnoresReaders,
    ];

    /// The device-write rules the brief requires to be caught.
    pub const DEVICE_WRITE: [Mutation; 3] = [
        Mutation::NoInvalidateAtStartReadAfterDeviceWrite,
        Mutation::NoCleanBeforeDeviceWrite,
        Mutation::StartWriteAfterDeviceWriteNotRw,
    ];

    /// [`effective_dir`] as this mutation sees it.
    pub fn effective_dir(self, phase: Phase, dir: Dir, device_wrote: bool) -> Dir {
        match self {
            Mutation::StartWriteAfterDeviceWriteNotRw => dir,
            _ => effective_dir(phase, dir, device_wrote),
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

    /// Whether END's clean is deferred, and dropped at a device-write submission.
    pub fn defers_end_clean(self) -> bool {
        self == Mutation::NoCleanBeforeDeviceWrite
    }

    /// [`plan_sync`], then this mutation's rewrite of the plan.
    pub fn plan_sync(self, req: &SyncRequest) -> Result<SyncPlan, SyncError> {
        let mut plan = plan_sync(req)?;
        plan.op = match (self, req.phase, plan.op) {
            (Mutation::NoCleanAtEndWrite, Phase::End, Some((CacheOp::Clean, ..))) => None,
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

    /// [`SyncPlan::line_runs`], then this mutation's rewrite of the runs.
    pub fn line_runs(self, plan: &SyncPlan, geom: CacheGeometry, base: u64) -> RangePlan {
        let runs = plan.line_runs(geom, base).expect("buffer far below 2^64");
        match (self, plan.op) {
            (Mutation::EdgesPlainInvalidate, Some((CacheOp::Invalidate, ..))) => {
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
