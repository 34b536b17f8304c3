//! Deliberate breakage of the planner, applied *around* the real [`plan_sync`] and
//! [`mm::cache::plan`] so the production code paths stay untouched. Each variant deletes
//! one maintenance step; the mutation tests require the scenario runner to catch it.

use mm::cache::{self, CacheGeometry, CacheOp, RangePlan};

use crate::{plan_sync, Phase, SyncError, SyncPlan, SyncRequest};

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
}

impl Mutation {
    /// Every variant that breaks something.
    pub const BROKEN: [Mutation; 4] = [
        Mutation::NoCleanAtEndWrite,
        Mutation::NoInvalidateAtStartRead,
        Mutation::EdgesPlainInvalidate,
        Mutation::ReadOnlyPlainInvalidate,
    ];

    /// [`plan_sync`], then this mutation's rewrite of the plan.
    pub fn plan_sync(self, req: &SyncRequest) -> Result<SyncPlan, SyncError> {
        let mut plan = plan_sync(req)?;
        plan.op = match (self, req.phase, plan.op) {
            (Mutation::NoCleanAtEndWrite, Phase::End, Some((CacheOp::Clean, ..))) => None,
            (Mutation::NoInvalidateAtStartRead, Phase::Start, Some(_)) => None,
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
