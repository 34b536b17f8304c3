//! Hand-written scenarios, one per hazard: readable counterexamples for each mutation,
//! and a demonstration of the START WRITE caveat.

use mm::cache::CacheGeometry;

use crate::model::cache::{Memory, LINE};
use crate::model::mutation::Mutation;
use crate::model::runner::run;
use crate::model::scenario::{FailureKind, Op, Pick, Scenario, Span};
use crate::{plan_sync, Dir, Phase, Policy, SyncPlan, SyncRequest};

/// `N = [100, 140)`: its first line `[64, 128)` is shared with A's ranges ending at 100.
fn scenario(a_may_write: bool, ops: Vec<Op>) -> Scenario {
    Scenario {
        policy: Policy::Cached,
        coherent: false,
        a_may_write,
        n: (100, 140),
        ops,
    }
}

/// A writes `[0, 100)` under WRITE, then the device reads it.
fn cpu_to_device() -> Scenario {
    let all = Pick(0, 99);
    scenario(
        true,
        vec![
            Op::AStart(Dir::Write, Span::Left(false, all)),
            Op::AWrite(all),
            Op::AEnd(false),
            Op::DevRead(None),
        ],
    )
}

/// A line is speculatively filled, the device writes, A reads under READ.
fn device_to_cpu() -> Scenario {
    let all = Pick(0, 99);
    scenario(
        true,
        vec![
            Op::Fill(1),
            Op::DevWrite(None),
            Op::AStart(Dir::Read, Span::Left(false, all)),
            Op::ARead(all),
        ],
    )
}

/// B has dirty bytes at `[100, 128)`; A (a writer) STARTs READ over `[10, 100)`, whose
/// tail line is B's line.
fn neighbour_edge() -> Scenario {
    scenario(
        true,
        vec![
            Op::BStart,
            Op::BWrite(Pick(0, 39)),
            Op::AStart(Dir::Read, Span::Left(true, Pick(10, 0))),
            Op::AEnd(false),
            Op::BEnd,
        ],
    )
}

/// B has dirty bytes in `N`; a read-only A STARTs READ over the whole buffer.
fn read_only_whole() -> Scenario {
    scenario(
        false,
        vec![
            Op::BStart,
            Op::BWrite(Pick(0, 39)),
            Op::AStart(Dir::Read, Span::Whole),
            Op::AEnd(false),
            Op::BEnd,
        ],
    )
}

fn directed(m: Mutation) -> Scenario {
    match m {
        Mutation::None => unreachable!(),
        Mutation::NoCleanAtEndWrite => cpu_to_device(),
        Mutation::NoInvalidateAtStartRead => device_to_cpu(),
        Mutation::EdgesPlainInvalidate => neighbour_edge(),
        Mutation::ReadOnlyPlainInvalidate => read_only_whole(),
    }
}

#[test]
fn each_directed_scenario_passes_the_real_planner_and_fails_its_mutation() {
    let expected = [
        (3, FailureKind::DeviceRead, 0),
        (3, FailureKind::CpuRead, 64),
        (5, FailureKind::DeviceRead, 100),
        (5, FailureKind::DeviceRead, 100),
    ];
    for (m, (step, kind, offset)) in Mutation::BROKEN.into_iter().zip(expected) {
        let s = directed(m);
        assert!(run(&s, Mutation::None).is_ok(), "{m:?}");
        let f = run(&s, m).expect_err("mutation must be caught");
        assert_eq!(
            (f.step, f.kind, f.offset),
            (step, kind, offset),
            "{m:?}: {f:?}"
        );
        assert_ne!(f.expected, f.got);
    }
}

#[test]
fn directed_scenarios_need_no_maintenance_when_uncached_or_coherent() {
    for m in Mutation::BROKEN {
        for (policy, coherent) in [(Policy::Uncached, false), (Policy::Cached, true)] {
            let mut s = directed(m);
            (s.policy, s.coherent) = (policy, coherent);
            assert!(run(&s, m).is_ok(), "{m:?} {policy:?} coherent={coherent}");
        }
    }
}

/// Plays one `sync` with the real planner on `mem` (buffer at `BASE`, 2 lines).
fn sync(mem: &mut Memory, phase: Phase, dir: Dir, len: u64) -> SyncPlan {
    let plan = plan_sync(&SyncRequest {
        phase,
        dir,
        offset: 0,
        len,
        size: 2 * LINE as u64,
        policy: Policy::Cached,
        device_coherent: false,
        may_write: true,
    })
    .unwrap();
    let geom = CacheGeometry::new(LINE as u64).unwrap();
    mem.apply(&plan.line_runs(geom, BASE).unwrap());
    plan
}

const BASE: u64 = 0x10_0000;

/// The caveat in the crate docs: START WRITE over a line that went stale while the
/// device wrote it loses the device's bytes next to the CPU's; START RW does not.
#[test]
fn start_write_over_a_stale_line_loses_device_bytes_but_rw_does_not() {
    for (dir, survives) in [(Dir::Write, false), (Dir::ReadWrite, true)] {
        let mut mem = Memory::new(BASE, 2 * LINE, true, false);
        mem.speculative_fill(0);
        (0..LINE).for_each(|i| mem.device_write(i, 9));
        let start = sync(&mut mem, Phase::Start, dir, 8);
        assert_eq!(start.op.is_some(), dir.reads());
        (0..8).for_each(|i| mem.cpu_store(i, 1));
        sync(&mut mem, Phase::End, dir, 8);
        assert_eq!(mem.device_read(0), 1);
        let want = if survives { 9 } else { 0 };
        assert_eq!(mem.device_read(8), want, "{dir:?}");
    }
}
