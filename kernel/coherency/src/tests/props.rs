//! The real planner against the cache model: nobody ever reads stale data.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

use super::strategy::scenario;
use crate::model::mutation::Mutation;
use crate::model::runner::{run, run_checked};
use crate::model::scenario::{Check, Stats};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn real_planner_never_reads_stale_or_loses_writes(s in scenario()) {
        if let Err(f) = run_checked(&s, Mutation::None, Check::Exact) {
            prop_assert!(false, "{:?} in {:?}", f, s);
        }
    }
}

/// The generator reaches every situation the mutation tests rely on: without this a
/// harmless generator would make the property vacuous.
#[test]
fn generator_exercises_every_situation() {
    let mut runner = TestRunner::deterministic();
    let strategy = scenario();
    let mut total = Stats::default();
    for _ in 0..300 {
        let s = strategy.new_tree(&mut runner).unwrap().current();
        let st = run(&s, Mutation::None).unwrap();
        total.cpu_checks += st.cpu_checks;
        total.device_checks += st.device_checks;
        total.dc_lines += st.dc_lines;
        total.refused += st.refused;
        total.upgraded += st.upgraded;
        total.plain_start_writes += st.plain_start_writes;
        total.refused_writes += st.refused_writes;
        total.fence_waits += st.fence_waits;
        total.fills_during_write += st.fills_during_write;
        total.uncached_checks += st.uncached_checks;
        total.skipped += st.skipped;
        total.submit_cleans += st.submit_cleans;
        total.dirty_stale += st.dirty_stale;
    }
    assert!(total.cpu_checks > 10_000, "{total:?}");
    assert!(total.device_checks > 10_000, "{total:?}");
    assert!(total.dc_lines > 1_000, "{total:?}");
    assert!(total.refused > 100, "{total:?}");
    assert!(total.upgraded > 10, "{total:?}");
    assert!(total.plain_start_writes > 10, "{total:?}");
    assert!(total.refused_writes > 100, "{total:?}");
    assert!(total.fence_waits > 100, "{total:?}");
    assert!(total.fills_during_write > 10, "{total:?}");
    assert!(total.uncached_checks > 1_000, "{total:?}");
    assert!(total.skipped > 1_000, "{total:?}");
    assert!(total.submit_cleans > 1_000, "{total:?}");
    assert!(total.dirty_stale > 10, "{total:?}");
}
