//! Deleting any one maintenance step or device-write rule must make the property
//! machinery fail: each test searches a fixed, deterministic stream of random scenarios
//! for a counterexample, and checks the real code passes that same scenario.

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;

use super::strategy::non_coherent_scenario;
use crate::model::mutation::Mutation;
use crate::model::runner::run;
use crate::model::scenario::{Failure, FailureKind, Op, Scenario};

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
                matches!(f.kind, FailureKind::CpuRead | FailureKind::DeviceRead),
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

#[test]
fn mutation_no_clean_at_end_write_is_caught() {
    let (_, f) = counterexample(Mutation::NoCleanAtEndWrite);
    assert_eq!(f.kind, FailureKind::DeviceRead, "{f:?}");
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

fn has_device_write(s: &Scenario) -> bool {
    s.ops.iter().any(|op| matches!(op, Op::DevWrite(_)))
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
    let (s, f) = counterexample(Mutation::StartWriteAfterDeviceWriteNotRw);
    assert_eq!(f.kind, FailureKind::DeviceRead, "{f:?}");
    assert!(has_device_write(&s));
}

/// The write hand-over must refuse open READ brackets too.
#[test]
fn mutation_write_handover_ignores_readers_is_caught() {
    let (s, f) = counterexample(Mutation::WriteHandoverIgnoresReaders);
    assert_eq!(f.kind, FailureKind::CpuRead, "{f:?}");
    assert!(has_device_write(&s));
}

#[test]
fn device_write_mutations_are_all_in_the_broken_list() {
    for m in Mutation::DEVICE_WRITE {
        assert!(Mutation::BROKEN.contains(&m));
    }
}
