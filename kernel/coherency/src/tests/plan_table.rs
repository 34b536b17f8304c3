use mm::cache::{CacheGeometry, CacheOp, LineRun};

use crate::{
    effective_dir, plan_device_handover, plan_device_write_handover, plan_sync, CpuAccess, Dir,
    FenceWait, Handover, Phase, Policy, SyncError, SyncPlan, SyncRequest,
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

/// Rule (a): a writing device is refused while any START is open, READ included; a
/// reading device only while a WRITE/RW is.
#[test]
fn device_write_handover_refuses_every_open_bracket() {
    assert_eq!(plan_device_write_handover(false), Handover::Ready);
    assert_eq!(plan_device_write_handover(true), Handover::CpuAccessHeld);
    for dir in Dir::ALL {
        let mut a = CpuAccess::default();
        assert!(!a.is_started());
        assert_eq!(plan_device_write_handover(a.is_started()), Handover::Ready);
        a.start(dir).unwrap();
        assert!(a.is_started());
        assert_eq!(
            plan_device_write_handover(a.is_started()),
            Handover::CpuAccessHeld,
            "{dir:?}"
        );
        let read_verdict = plan_device_handover(a.holds_write());
        assert_eq!(read_verdict == Handover::Ready, !dir.writes(), "{dir:?}");
        a.end(dir).unwrap();
        assert!(!a.is_started());
    }
}

/// Rule (c), as a literal table: only a START WRITE after a device write changes.
#[test]
fn effective_dir_table() {
    use Dir::*;
    use Phase::*;
    #[rustfmt::skip]
    let table = [
        (Start, Read,      false, Read),
        (Start, Read,      true,  Read),
        (Start, Write,     false, Write),
        (Start, Write,     true,  ReadWrite),
        (Start, ReadWrite, false, ReadWrite),
        (Start, ReadWrite, true,  ReadWrite),
        (End,   Read,      false, Read),
        (End,   Read,      true,  Read),
        (End,   Write,     false, Write),
        (End,   Write,     true,  Write),
        (End,   ReadWrite, false, ReadWrite),
        (End,   ReadWrite, true,  ReadWrite),
    ];
    for (phase, dir, wrote, want) in table {
        assert_eq!(
            effective_dir(phase, dir, wrote),
            want,
            "{phase:?} {dir:?} {wrote}"
        );
    }
}

/// The upgrade adds the invalidate and changes nothing else: same rights verdict,
/// same fences, same range; END plans are identical either way.
#[test]
fn effective_dir_only_adds_the_invalidate() {
    for phase in [Phase::Start, Phase::End] {
        for dir in Dir::ALL {
            for policy in [Policy::Cached, Policy::Uncached] {
                for coherent in [false, true] {
                    for may_write in [false, true] {
                        let plain = req(phase, dir, policy, coherent, may_write);
                        let mut up = plain;
                        up.dir = effective_dir(phase, dir, true);
                        let (a, b) = (plan_sync(&plain), plan_sync(&up));
                        let what = format!("{phase:?} {dir:?} {policy:?} {coherent} {may_write}");
                        assert_eq!(a.is_ok(), b.is_ok(), "{what}");
                        let (Ok(a), Ok(b)) = (a, b) else { continue };
                        assert_eq!(a.wait_fences, b.wait_fences, "{what}");
                        if up.dir == dir {
                            assert_eq!(a, b, "{what}");
                        } else {
                            let maintains = policy == Policy::Cached && !coherent;
                            assert_eq!(a.op, None, "{what}");
                            let want = Some((CacheOp::Invalidate, 0x123, 0x456));
                            assert_eq!(b.op, want.filter(|_| maintains), "{what}");
                        }
                    }
                }
            }
        }
    }
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
