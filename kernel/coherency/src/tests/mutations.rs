//! Deleting any one maintenance step must make the property machinery fail: each test
//! searches a fixed, deterministic stream of random scenarios for a counterexample.

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;

use super::strategy::non_coherent_scenario;
use crate::model::mutation::Mutation;
use crate::model::runner::run;
use crate::model::scenario::{Failure, FailureKind, Scenario};

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
