//! Hand-written scenarios, one per hazard: readable counterexamples for each mutation,
//! and a demonstration of why a START WRITE after a device write is planned as RW.

use mm::cache::CacheGeometry;

use crate::model::cache::{Memory, LINE};
use crate::model::mutation::Mutation;
use crate::model::runner::{run, run_checked};
use crate::model::scenario::{Check, FailureKind, Op, Pick, Scenario, Span};
use crate::{plan_sync, Dir, Phase, Policy, SyncPlan, SyncRequest};

/// `N = [100, 140)`: its first line `[64, 128)` is shared with A's ranges ending at 100.
fn scenario(a_may_write: bool, ops: Vec<Op>) -> Scenario {
    Scenario {
        policy: Policy::Cached,
        coherent: false,
        a_may_write,
        n: (100, 140),
        tight: false,
        ops,
    }
}

/// A writes `[0, 100)` under WRITE, then the device reads it (the job completes at
/// `DevDone`).
fn cpu_to_device() -> Scenario {
    let all = Pick(0, 99);
    scenario(
        true,
        vec![
            Op::AStart(Dir::Write, Span::Left(false, all)),
            Op::AWrite(all),
            Op::AEnd(false),
            Op::DevRead(None),
            Op::DevDone,
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
/// tail line is B's line. An uncached mapping exists, so every line counts as stale
/// (without one, B's START removed its lines from `stale` and A's START would not
/// touch them).
fn neighbour_edge() -> Scenario {
    scenario(
        true,
        vec![
            Op::UMap,
            Op::BStart,
            Op::BWrite(Pick(0, 39)),
            Op::AStart(Dir::Read, Span::Left(true, Pick(10, 0))),
            Op::AEnd(false),
            Op::BEnd,
        ],
    )
}

/// B has dirty bytes in `N`; a read-only A STARTs READ over the whole buffer while an
/// uncached mapping exists (every line counts as stale).
fn read_only_whole() -> Scenario {
    scenario(
        false,
        vec![
            Op::UMap,
            Op::BStart,
            Op::BWrite(Pick(0, 39)),
            Op::AStart(Dir::Read, Span::Whole),
            Op::AEnd(false),
            Op::BEnd,
        ],
    )
}

/// The device is asked to write the whole buffer; while it works, the core
/// speculatively fills line 1; A then reads under READ. An invalidate at submission is
/// undone by the fill: only the one at START, after the fence, works.
fn fill_during_device_write() -> Scenario {
    let all = Pick(0, 99);
    scenario(
        true,
        vec![
            Op::DevWrite(None),
            Op::Fill(1),
            Op::DevDone,
            Op::AStart(Dir::Read, Span::Left(false, all)),
            Op::ARead(all),
        ],
    )
}

/// A writes `[0, 100)` and ENDs; the device writes the whole buffer; afterwards the
/// cache evicts line 0. Uncleaned, A's old line lands on top of the device's bytes.
fn dirty_line_under_device_write() -> Scenario {
    let all = Pick(0, 99);
    scenario(
        true,
        vec![
            Op::AStart(Dir::Write, Span::Left(false, all)),
            Op::AWrite(all),
            Op::AEnd(false),
            Op::DevWrite(None),
            Op::DevDone,
            Op::Evict(0),
        ],
    )
}

/// Line 0 is speculatively filled, the device writes the whole buffer, A STARTs WRITE
/// over `[0, 8)` and writes it: the stale rest of line 0 goes back to RAM at END unless
/// the START was planned as RW.
fn start_write_after_device_write() -> Scenario {
    let head = Pick(0, 7);
    scenario(
        true,
        vec![
            Op::Fill(0),
            Op::DevWrite(None),
            Op::DevDone,
            Op::AStart(Dir::Write, Span::Left(false, head)),
            Op::AWrite(head),
            Op::AEnd(false),
        ],
    )
}

/// A reads `[0, 100)` under READ (caching it); the device writes the whole buffer
/// while A's bracket is still open; A reads again.
fn device_write_under_open_read() -> Scenario {
    let all = Pick(0, 99);
    scenario(
        true,
        vec![
            Op::AStart(Dir::Read, Span::Left(false, all)),
            Op::ARead(all),
            Op::DevWrite(None),
            Op::DevDone,
            Op::ARead(all),
        ],
    )
}

/// A writes `[0, 100)` under WRITE while an uncached mapping exists; the mapping loads
/// it after END.
fn cpu_to_uncached() -> Scenario {
    let all = Pick(0, 99);
    scenario(
        true,
        vec![
            Op::UMap,
            Op::AStart(Dir::Write, Span::Left(false, all)),
            Op::AWrite(all),
            Op::AEnd(false),
            Op::URead(all),
        ],
    )
}

/// B's bracket spans an uncached mapping's removal: B's ENDed lines are both dirty and
/// stale when A STARTs READ over the whole buffer.
fn dirty_and_stale() -> Scenario {
    scenario(
        true,
        vec![
            Op::UMap,
            Op::BStart,
            Op::BWrite(Pick(0, 39)),
            Op::UUnmap,
            Op::BEnd,
            Op::AStart(Dir::Read, Span::Whole),
            Op::ARead(Pick(0, 511)),
        ],
    )
}

/// Sets of two intervals: after a present cleans everything, A ENDs three lines apart
/// (0, 4, 7); the third does not fit.
fn three_dirty_runs() -> Scenario {
    let line = Pick(0, 9);
    let mut s = scenario(
        true,
        vec![
            Op::DevRead(None),
            Op::DevDone,
            Op::AStart(Dir::Write, Span::Left(false, line)),
            Op::AWrite(line),
            Op::AEnd(false),
            Op::AStart(Dir::Write, Span::Right(false, Pick(116, 9))),
            Op::AWrite(line),
            Op::AEnd(false),
            Op::AStart(Dir::Write, Span::Right(false, Pick(308, 9))),
            Op::AWrite(line),
            Op::AEnd(false),
            Op::DevRead(None),
            Op::DevDone,
        ],
    );
    s.tight = true;
    s
}

/// A new uncached mapping loads the first bytes: memory under the kernel's uncleaned
/// zeros still holds the page's old contents.
fn uncached_sees_creation() -> Scenario {
    scenario(true, vec![Op::UMap, Op::URead(Pick(0, 9))])
}

/// Line 0 is speculatively filled while an uncached mapping writes under it; `unmapped`:
/// the mapping goes before A STARTs READ.
fn uncached_write_under_cached_line(unmapped: bool) -> Scenario {
    let all = Pick(0, 99);
    let mut ops = vec![Op::UMap, Op::Fill(0), Op::UWrite(Pick(0, 9))];
    if unmapped {
        ops.push(Op::UUnmap);
    }
    ops.extend([
        Op::AStart(Dir::Read, Span::Left(false, all)),
        Op::ARead(all),
    ]);
    scenario(true, ops)
}

fn directed(m: Mutation) -> Scenario {
    match m {
        Mutation::None => unreachable!(),
        Mutation::NoCleanAtEndWrite => cpu_to_uncached(),
        Mutation::NoInvalidateAtStartRead | Mutation::NoStaleMark => device_to_cpu(),
        Mutation::EdgesPlainInvalidate => neighbour_edge(),
        Mutation::ReadOnlyPlainInvalidate => read_only_whole(),
        Mutation::NoInvalidateAtStartReadAfterDeviceWrite => fill_during_device_write(),
        Mutation::NoCleanBeforeDeviceWrite => dirty_line_under_device_write(),
        Mutation::StartWriteAfterDeviceWriteNotRw => start_write_after_device_write(),
        Mutation::WriteHandoverIgnoresReaders => device_write_under_open_read(),
        Mutation::NoCleanAtDeviceRead => cpu_to_device(),
        Mutation::DirtyStalePlainInvalidate => dirty_and_stale(),
        Mutation::OverflowSubset => three_dirty_runs(),
        Mutation::UncachedMapNoCleanInvalidate => uncached_sees_creation(),
        Mutation::UncachedUnmapNoStale => uncached_write_under_cached_line(true),
        Mutation::UncachedWriterIgnored => uncached_write_under_cached_line(false),
        m => panic!("{m:?} only wastes"),
    }
}

#[test]
fn each_directed_scenario_passes_the_real_planner_and_fails_its_mutation() {
    use FailureKind::{CpuRead, DeviceRead, UncachedRead};
    let expected = [
        (4, UncachedRead, 0),
        (3, CpuRead, 0),
        (6, DeviceRead, 100),
        (6, DeviceRead, 100),
        (4, CpuRead, 64),
        (6, DeviceRead, 0),
        (6, DeviceRead, 8),
        (4, CpuRead, 0),
        (4, DeviceRead, 0),
        (6, CpuRead, 100),
        (3, CpuRead, 0),
        (12, DeviceRead, 448),
        (1, UncachedRead, 0),
        (5, CpuRead, 0),
        (4, CpuRead, 0),
    ];
    for (m, (step, kind, offset)) in Mutation::BROKEN.into_iter().zip(expected) {
        let s = directed(m);
        assert!(
            run_checked(&s, Mutation::None, Check::Exact).is_ok(),
            "{m:?}"
        );
        let f = run(&s, m).expect_err("mutation must be caught");
        assert_eq!(
            (f.step, f.kind, f.offset),
            (step, kind, offset),
            "{m:?}: {f:?}"
        );
        assert_ne!(f.expected, f.got);
    }
}

/// The waste mutations, one readable scenario each: the data stay right, the exactness
/// checks name what was maintained for nothing.
#[test]
fn each_waste_mutation_is_caught_on_its_scenario() {
    let all = Pick(0, 99);
    let start_read = Op::AStart(Dir::Read, Span::Left(false, all));
    let cases = [
        (Mutation::NoClearDirty, cpu_to_device(), 3, "dirty set"),
        (
            Mutation::NoClearStale,
            scenario(true, vec![Op::DevWrite(None), Op::DevDone, start_read]),
            2,
            "stale set",
        ),
        (Mutation::CleanAtEveryEnd, cpu_to_device(), 2, "sync"),
        (
            Mutation::InvalidateWholeRange,
            scenario(true, vec![start_read]),
            0,
            "sync",
        ),
    ];
    for (m, s, step, why) in cases {
        assert!(
            run_checked(&s, Mutation::None, Check::Exact).is_ok(),
            "{m:?}"
        );
        assert!(run(&s, m).is_ok(), "{m:?} loses no data");
        let f = run_checked(&s, m, Check::Exact).expect_err("waste must be caught");
        assert_eq!((f.step, f.kind), (step, FailureKind::Inexact(why)), "{m:?}");
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

/// Why rule (c) exists: START WRITE over a line that went stale while the device wrote
/// it loses the device's bytes next to the CPU's; START RW does not, and
/// [`crate::effective_dir`] plans the one as the other after a device write.
#[test]
fn start_write_over_a_stale_line_loses_device_bytes_but_rw_does_not() {
    let upgraded = crate::effective_dir(Phase::Start, Dir::Write, true);
    for (dir, survives) in [(Dir::Write, false), (upgraded, true)] {
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
