use mm::cache::{CacheGeometry, CacheOp, LineRun};

use crate::{
    plan_device_handover, plan_sync, Dir, FenceWait, Handover, Phase, Policy, SyncError, SyncPlan,
    SyncRequest,
};

const SIZE: u64 = 0x3000;

fn req(phase: Phase, dir: Dir, policy: Policy, coherent: bool, may_write: bool) -> SyncRequest {
    SyncRequest {
        phase,
        dir,
        offset: 0x123,
        len: 0x456,
        size: SIZE,
        policy,
        device_coherent: coherent,
        may_write,
    }
}

/// Expected outcome per (phase, dir, may_write): fences and the op a cached buffer on a
/// non-coherent device gets.
type Row = (
    Phase,
    Dir,
    bool,
    Result<(FenceWait, Option<CacheOp>), SyncError>,
);

const TABLE: [Row; 12] = {
    use CacheOp::*;
    use Dir::*;
    use FenceWait as F;
    use Phase::*;
    [
        (Start, Read, true, Ok((F::Writers, Some(Invalidate)))),
        (Start, Read, false, Ok((F::Writers, Some(CleanInvalidate)))),
        (Start, ReadWrite, true, Ok((F::All, Some(Invalidate)))),
        (Start, ReadWrite, false, Err(SyncError::AccessDenied)),
        (Start, Write, true, Ok((F::All, None))),
        (Start, Write, false, Err(SyncError::AccessDenied)),
        (End, Read, true, Ok((F::None, None))),
        (End, Read, false, Ok((F::None, None))),
        (End, ReadWrite, true, Ok((F::None, Some(Clean)))),
        (End, ReadWrite, false, Err(SyncError::AccessDenied)),
        (End, Write, true, Ok((F::None, Some(Clean)))),
        (End, Write, false, Err(SyncError::AccessDenied)),
    ]
};

#[test]
fn every_phase_dir_policy_coherence_and_right() {
    let mut checked = 0;
    for (phase, dir, may_write, want) in TABLE {
        for policy in [Policy::Cached, Policy::Uncached] {
            for coherent in [false, true] {
                let got = plan_sync(&req(phase, dir, policy, coherent, may_write));
                let maintains = policy == Policy::Cached && !coherent;
                let want = want.map(|(wait_fences, op)| SyncPlan {
                    wait_fences,
                    op: op.filter(|_| maintains).map(|op| (op, 0x123, 0x456)),
                });
                assert_eq!(
                    got, want,
                    "{phase:?} {dir:?} {policy:?} coherent={coherent} w={may_write}"
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 2 * 3 * 2 * 2 * 2);
}

#[test]
fn zero_len_plans_the_whole_buffer() {
    let mut r = req(Phase::End, Dir::Write, Policy::Cached, false, true);
    r.offset = 0;
    r.len = 0;
    assert_eq!(plan_sync(&r).unwrap().op, Some((CacheOp::Clean, 0, SIZE)));
}

#[test]
fn range_errors() {
    let mut r = req(Phase::Start, Dir::Read, Policy::Cached, false, true);
    for (offset, len) in [(1, 0), (SIZE, 1), (0, SIZE + 1), (u64::MAX, 2)] {
        r.offset = offset;
        r.len = len;
        assert_eq!(
            plan_sync(&r),
            Err(SyncError::OutOfRange),
            "{offset:#x}+{len:#x}"
        );
    }
    // Uncached or coherent buffers check the range all the same.
    r.policy = Policy::Uncached;
    assert_eq!(plan_sync(&r), Err(SyncError::OutOfRange));
}

#[test]
fn rights_are_checked_before_the_range() {
    let mut r = req(Phase::Start, Dir::Write, Policy::Cached, false, false);
    r.offset = SIZE;
    assert_eq!(plan_sync(&r), Err(SyncError::AccessDenied));
}

#[test]
fn empty_buffer_needs_no_maintenance() {
    let mut r = req(Phase::Start, Dir::Read, Policy::Cached, false, true);
    (r.offset, r.len, r.size) = (0, 0, 0);
    assert_eq!(
        plan_sync(&r),
        Ok(SyncPlan {
            wait_fences: FenceWait::Writers,
            op: None
        })
    );
}

#[test]
fn line_runs_downgrade_partial_edges() {
    let g = CacheGeometry::new(64).unwrap();
    let base = 0x8000_0000;
    let run = |op, start, lines| LineRun {
        op,
        start,
        lines,
        line: 64,
    };
    let read = plan_sync(&req(Phase::Start, Dir::Read, Policy::Cached, false, true)).unwrap();
    // [0x123, 0x579): head line 0x100 and tail line 0x540 are partial.
    assert_eq!(
        read.line_runs(g, base).unwrap().runs(),
        [
            run(CacheOp::CleanInvalidate, base + 0x100, 1),
            run(CacheOp::Invalidate, base + 0x140, 0x10),
            run(CacheOp::CleanInvalidate, base + 0x540, 1),
        ]
    );
    let ro = plan_sync(&req(Phase::Start, Dir::Read, Policy::Cached, false, false)).unwrap();
    assert_eq!(
        ro.line_runs(g, base).unwrap().runs(),
        [run(CacheOp::CleanInvalidate, base + 0x100, 0x12)]
    );
    let end = plan_sync(&req(Phase::End, Dir::Write, Policy::Cached, false, true)).unwrap();
    assert_eq!(
        end.line_runs(g, base).unwrap().runs(),
        [run(CacheOp::Clean, base + 0x100, 0x12)]
    );
    let none = plan_sync(&req(Phase::End, Dir::Read, Policy::Cached, false, true)).unwrap();
    assert!(none.line_runs(g, base).unwrap().is_empty());
    assert!(read.line_runs(g, u64::MAX - 0x200).is_err());
    assert!(read.line_runs(g, u64::MAX).is_err());
}

#[test]
fn device_handover() {
    assert_eq!(plan_device_handover(false), Handover::Ready);
    assert_eq!(plan_device_handover(true), Handover::CpuWriteHeld);
}

#[test]
fn errors_display() {
    use SyncError::*;
    let all = [
        BadFlags,
        OutOfRange,
        AccessDenied,
        NotStarted,
        AlreadyStarted,
    ];
    let texts: Vec<String> = all.iter().map(ToString::to_string).collect();
    for (i, t) in texts.iter().enumerate() {
        assert!(!t.is_empty());
        assert!(!texts[..i].contains(t), "distinct messages");
    }
    assert_eq!(BadFlags.to_string(), "invalid sync flags");
}
