//! Deleting any one maintenance step or device-write rule must make the property
//! machinery fail: each test searches a fixed, deterministic stream of random scenarios
//! for a counterexample, and checks the real code passes that same scenario.

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;

use super::strategy::{exact_scenario, non_coherent_scenario};
use crate::model::mutation::Mutation;
use crate::model::runner::{run, run_checked};
use crate::model::scenario::{Check, Failure, FailureKind, Op, Scenario};

/// Scenarios tried before giving up.
const BUDGET: usize = 2000;

/// The first scenario of the deterministic stream on which `m` reads stale data, with
/// its failure; asserts the real planner passes that same scenario.
fn counterexample(m: Mutation) -> (Scenario, Failure) {
    let mut runner = TestRunner::deterministic();
    let strategy = non_coherent_scenario();
    for _ in 0..BUDGET {
        let s = strategy.new_tree(&mut runner).unwrap().current();
        if let Err(f) = run(&s, m) {
            assert!(
                matches!(
                    f.kind,
                    FailureKind::CpuRead | FailureKind::DeviceRead | FailureKind::UncachedRead
                ),
                "{m:?}: not a data failure: {f:?}"
            );
            assert!(
                run(&s, Mutation::None).is_ok(),
                "the real planner fails too: {s:?}"
            );
            return (s, f);
        }
    }
    panic!("{m:?} survived {BUDGET} scenarios: the suite does not prove this step necessary");
}

/// END owes an unmediated reader (an uncached mapping) its clean at once.
#[test]
fn mutation_no_clean_at_end_write_is_caught() {
    let (s, f) = counterexample(Mutation::NoCleanAtEndWrite);
    assert_eq!(f.kind, FailureKind::UncachedRead, "{f:?}");
    assert!(has(&s, |op| matches!(op, Op::UMap)));
}

#[test]
fn mutation_no_invalidate_at_start_read_is_caught() {
    counterexample(Mutation::NoInvalidateAtStartRead);
}

#[test]
fn mutation_edges_plain_invalidate_is_caught() {
    let (s, _) = counterexample(Mutation::EdgesPlainInvalidate);
    assert!(s.a_may_write, "only a writer's plan has invalidated edges");
}

#[test]
fn mutation_read_only_plain_invalidate_is_caught() {
    let (s, _) = counterexample(Mutation::ReadOnlyPlainInvalidate);
    assert!(!s.a_may_write);
}

// --- the device-write direction ------------------------------------------------------

fn has(s: &Scenario, f: impl Fn(&Op) -> bool) -> bool {
    s.ops.iter().any(f)
}

fn has_device_write(s: &Scenario) -> bool {
    has(s, |op| matches!(op, Op::DevWrite(_)))
}

/// Rule (b): the invalidate must come after the device-write fence. Moved to the
/// submission, it is undone by a line speculatively filled while the device writes.
#[test]
fn mutation_no_invalidate_at_start_read_after_device_write_is_caught() {
    let (s, f) = counterexample(Mutation::NoInvalidateAtStartReadAfterDeviceWrite);
    assert_eq!(f.kind, FailureKind::CpuRead, "{f:?}");
    assert!(has_device_write(&s));
    let fill_after_write = s.ops.iter().enumerate().any(|(i, op)| {
        matches!(op, Op::Fill(_)) && s.ops[..i].iter().any(|o| matches!(o, Op::DevWrite(_)))
    });
    assert!(
        fill_after_write,
        "only a fill during the write defeats it: {s:?}"
    );
}

/// Rule (a): a CPU-dirtied buffer handed to a writing device without cleaning.
#[test]
fn mutation_no_clean_before_device_write_is_caught() {
    let (s, _) = counterexample(Mutation::NoCleanBeforeDeviceWrite);
    assert!(has_device_write(&s), "only a device write skips the clean");
}

/// Rule (c): START WRITE after a device write planned as START WRITE.
#[test]
fn mutation_start_write_after_device_write_not_rw_is_caught() {
    let (s, _) = counterexample(Mutation::StartWriteAfterDeviceWriteNotRw);
    assert!(has_device_write(&s));
}

/// The write hand-over must refuse open READ brackets too.
#[test]
fn mutation_write_handover_ignores_readers_is_caught() {
    let (s, f) = counterexample(Mutation::WriteHandoverIgnoresReaders);
    assert_eq!(f.kind, FailureKind::CpuRead, "{f:?}");
    assert!(has_device_write(&s));
}

// --- the coherence-boundary rules ----------------------------------------------------

/// A present must clean the dirty lines it reads.
#[test]
fn mutation_no_clean_at_device_read_is_caught() {
    let (_, f) = counterexample(Mutation::NoCleanAtDeviceRead);
    assert_eq!(f.kind, FailureKind::DeviceRead, "{f:?}");
}

/// A line that may be dirty is never plainly invalidated, even when it is stale.
#[test]
fn mutation_dirty_stale_plain_invalidate_is_caught() {
    counterexample(Mutation::DirtyStalePlainInvalidate);
}

/// A device write's lines must be marked stale at submission.
#[test]
fn mutation_no_stale_mark_is_caught() {
    let (s, f) = counterexample(Mutation::NoStaleMark);
    assert_eq!(f.kind, FailureKind::CpuRead, "{f:?}");
    assert!(has_device_write(&s));
}

/// On overflow the sets must grow (merge), never drop lines.
#[test]
fn mutation_overflow_subset_is_caught() {
    let (s, _) = counterexample(Mutation::OverflowSubset);
    assert!(s.tight, "only a set that overflows can lose lines");
}

/// A new uncached mapping sees memory: its clean+invalidate must come first.
#[test]
fn mutation_uncached_map_without_clean_invalidate_is_caught() {
    let (_, f) = counterexample(Mutation::UncachedMapNoCleanInvalidate);
    assert_eq!(f.kind, FailureKind::UncachedRead, "{f:?}");
}

/// What an uncached mapping wrote is stale for the cache after it goes.
#[test]
fn mutation_uncached_unmap_without_stale_is_caught() {
    let (s, f) = counterexample(Mutation::UncachedUnmapNoStale);
    assert_eq!(f.kind, FailureKind::CpuRead, "{f:?}");
    assert!(has(&s, |op| matches!(op, Op::UWrite(_))));
}

/// While an uncached mapping exists, every START invalidates its whole range.
#[test]
fn mutation_uncached_writer_ignored_is_caught() {
    let (s, f) = counterexample(Mutation::UncachedWriterIgnored);
    assert_eq!(f.kind, FailureKind::CpuRead, "{f:?}");
    assert!(has(&s, |op| matches!(op, Op::UWrite(_))));
}

/// The first scenario of the deterministic stream of exact scenarios on which `m` is
/// caught by the exactness checks (the data stay right: waste is not a data bug).
fn waste_counterexample(m: Mutation) -> Failure {
    let mut runner = TestRunner::deterministic();
    let strategy = exact_scenario();
    for _ in 0..BUDGET {
        let s = strategy.new_tree(&mut runner).unwrap().current();
        assert!(run(&s, m).is_ok(), "{m:?} is waste, not a data bug: {s:?}");
        if let Err(f) = run_checked(&s, m, Check::Exact) {
            assert!(matches!(f.kind, FailureKind::Inexact(_)), "{m:?}: {f:?}");
            assert!(run_checked(&s, Mutation::None, Check::Exact).is_ok());
            return f;
        }
    }
    panic!("{m:?} survived {BUDGET} scenarios: nothing shows the maintenance is minimal");
}

#[test]
fn waste_mutations_are_caught_by_the_exactness_checks() {
    let want = [
        (Mutation::NoClearDirty, "dirty set"),
        (Mutation::NoClearStale, "stale set"),
        (Mutation::CleanAtEveryEnd, "sync"),
        (Mutation::InvalidateWholeRange, "sync"),
    ];
    assert_eq!(want.map(|w| w.0), Mutation::WASTE);
    for (m, why) in want {
        let f = waste_counterexample(m);
        assert_eq!(f.kind, FailureKind::Inexact(why), "{m:?}: {f:?}");
    }
}

#[test]
fn device_write_mutations_are_all_in_the_broken_list() {
    for m in Mutation::DEVICE_WRITE {
        assert!(Mutation::BROKEN.contains(&m));
    }
}
