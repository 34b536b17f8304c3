//! The legacy forwarded-mmap path against the cache model: the real [`LegacyPages`]
//! never lets anyone read stale data or lose a write, and breaking any one of its steps
//! (or the rules around it) is caught, both by hand-written scenarios and by a
//! deterministic search of the random ones.
//!
//! [`LegacyPages`]: crate::legacy::LegacyPages

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

use super::strategy::pick;
use crate::legacy::LegacyPolicy;
use crate::model::legacy::{
    run_legacy, LFailure, LFailureKind, LOp, LStats, LegacyMutation, LegacyScenario, SIZE,
};
use crate::model::scenario::Pick;

/// Upper bound on steps (each write takes one of 255 stamps; the prelude up to 8).
const MAX_OPS: usize = 120;

fn lop() -> impl Strategy<Value = LOp> {
    prop_oneof![
        6 => pick().prop_map(LOp::ARead),
        6 => pick().prop_map(LOp::AWrite),
        3 => any::<bool>().prop_map(LOp::BStart),
        4 => pick().prop_map(LOp::BWrite),
        3 => Just(LOp::BEnd),
        4 => proptest::option::weighted(0.8, pick()).prop_map(LOp::DevRead),
        4 => proptest::option::weighted(0.8, pick()).prop_map(LOp::DevWrite),
        3 => Just(LOp::DevDone),
        2 => any::<u8>().prop_map(LOp::Evict),
        3 => any::<u8>().prop_map(LOp::Fill),
    ]
}

/// Mostly `Fault` mappings (where the policy does the work), some `Uncached`.
fn legacy_scenario() -> impl Strategy<Value = LegacyScenario> {
    let policy = prop_oneof![
        6 => Just(LegacyPolicy::Fault),
        1 => Just(LegacyPolicy::Uncached),
    ];
    (
        policy,
        any::<u8>(),
        1..SIZE - 1,
        1..=128usize,
        proptest::collection::vec(lop(), 1..MAX_OPS),
    )
        .prop_map(|(policy, prelude, n0, n_len, ops)| LegacyScenario {
            policy,
            prelude,
            n: (n0, (n0 + n_len).min(SIZE)),
            ops,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn legacy_never_reads_stale_or_loses_writes(s in legacy_scenario()) {
        if let Err(f) = run_legacy(&s, LegacyMutation::None) {
            prop_assert!(false, "{:?} in {:?}", f, s);
        }
    }
}

/// The generator reaches every situation the mutation tests rely on.
#[test]
fn legacy_generator_exercises_every_situation() {
    let mut runner = TestRunner::deterministic();
    let strategy = legacy_scenario();
    let mut t = LStats::default();
    for _ in 0..300 {
        let s = strategy.new_tree(&mut runner).unwrap().current();
        let st = run_legacy(&s, LegacyMutation::None).unwrap();
        t.cpu_checks += st.cpu_checks;
        t.device_checks += st.device_checks;
        t.faults += st.faults;
        t.waits += st.waits;
        t.civac_maps += st.civac_maps;
        t.upgrades += st.upgrades;
        t.zaps += st.zaps;
        t.cleaned_pages += st.cleaned_pages;
        t.refused += st.refused;
        t.guarded += st.guarded;
    }
    assert!(t.cpu_checks > 10_000, "{t:?}");
    assert!(t.device_checks > 10_000, "{t:?}");
    assert!(t.faults > 1_000, "{t:?}");
    assert!(t.waits > 100, "{t:?}");
    assert!(t.civac_maps > 100, "{t:?}");
    assert!(t.upgrades > 100, "{t:?}");
    assert!(t.zaps > 1_000, "{t:?}");
    assert!(t.cleaned_pages > 1_000, "{t:?}");
    assert!(t.refused > 100, "{t:?}");
    assert!(t.guarded > 20, "{t:?}");
}

// --- mutations: deterministic search --------------------------------------------------

/// Scenarios tried before giving up.
const BUDGET: usize = 2000;

/// The first scenario of the deterministic stream on which `m` reads stale data, with
/// its failure; asserts the real state machine passes that same scenario.
fn counterexample(m: LegacyMutation) -> (LegacyScenario, LFailure) {
    let mut runner = TestRunner::deterministic();
    let strategy = legacy_scenario();
    for _ in 0..BUDGET {
        let s = strategy.new_tree(&mut runner).unwrap().current();
        if let Err(f) = run_legacy(&s, m) {
            assert!(
                matches!(f.kind, LFailureKind::CpuRead | LFailureKind::DeviceRead),
                "{m:?}: not a data failure: {f:?}"
            );
            assert!(
                run_legacy(&s, LegacyMutation::None).is_ok(),
                "the real state machine fails too: {s:?}"
            );
            return (s, f);
        }
    }
    panic!("{m:?} survived {BUDGET} scenarios: the suite does not prove this step necessary");
}

fn has_b_bracket(s: &LegacyScenario) -> bool {
    s.ops.iter().any(|op| matches!(op, LOp::BStart(_)))
}

#[test]
fn mutation_no_clean_at_submit_is_caught() {
    let (s, _) = counterexample(LegacyMutation::NoCleanAtSubmit);
    assert_eq!(s.policy, LegacyPolicy::Fault);
}

#[test]
fn mutation_no_invalidate_at_refault_is_caught() {
    let (s, _) = counterexample(LegacyMutation::NoInvalidateAtRefault);
    assert_eq!(s.policy, LegacyPolicy::Fault);
}

#[test]
fn mutation_refault_always_pure_invalidate_is_caught() {
    let (s, _) = counterexample(LegacyMutation::RefaultAlwaysPureInvalidate);
    assert!(
        has_b_bracket(&s),
        "only another holder's dirty lines can be lost"
    );
}

#[test]
fn mutation_read_fault_maps_writable_is_caught() {
    let (s, _) = counterexample(LegacyMutation::ReadFaultMapsWritable);
    assert_eq!(s.policy, LegacyPolicy::Fault);
}

#[test]
fn mutation_no_zap_at_submit_is_caught() {
    counterexample(LegacyMutation::NoZapAtSubmit);
}

#[test]
fn mutation_fault_ignores_device_is_caught() {
    counterexample(LegacyMutation::FaultIgnoresDevice);
}

#[test]
fn mutation_direct_start_ignores_legacy_is_caught() {
    let (s, _) = counterexample(LegacyMutation::DirectStartIgnoresLegacy);
    assert!(has_b_bracket(&s));
}

/// Rule (a) on the legacy path: the written pages must be cleaned before a *writing*
/// device too.
#[test]
fn mutation_no_clean_before_device_write_is_caught() {
    let (s, _) = counterexample(LegacyMutation::NoCleanBeforeDeviceWrite);
    assert_eq!(s.policy, LegacyPolicy::Fault);
    assert!(s.ops.iter().any(|op| matches!(op, LOp::DevWrite(_))));
}

/// Rule (c) for the direct-path holder next to a legacy mapping.
#[test]
fn mutation_start_write_after_device_write_not_rw_is_caught() {
    let (s, _) = counterexample(LegacyMutation::StartWriteAfterDeviceWriteNotRw);
    assert!(s.ops.iter().any(|op| matches!(op, LOp::DevWrite(_))));
    assert!(s.ops.iter().any(|op| matches!(op, LOp::BStart(false))));
}

#[test]
fn mutation_uncached_mmap_without_clean_invalidate_is_caught() {
    let (s, _) = counterexample(LegacyMutation::UncachedMmapNoCleanInvalidate);
    assert_eq!(s.policy, LegacyPolicy::Uncached);
}

// --- mutations: hand-written scenarios -------------------------------------------------

/// A `Fault` mapping with B's range `n` and no kernel writes before the mmap.
fn fault(n: (usize, usize), ops: Vec<LOp>) -> LegacyScenario {
    LegacyScenario {
        policy: LegacyPolicy::Fault,
        prelude: 0,
        n,
        ops,
    }
}

/// Bytes `[0, 10)`: the first line of page 0.
const HEAD: Pick = Pick(0, 9);

/// One readable counterexample per mutation, with its first failure
/// `(step, kind, offset)`.
fn directed(m: LegacyMutation) -> (LegacyScenario, (usize, LFailureKind, usize)) {
    use LFailureKind::{CpuRead, DeviceRead};
    use LOp::*;
    // N = [100, 140) shares page 0's second line [64, 128) with A.
    let n = (100, 140);
    match m {
        LegacyMutation::None => unreachable!(),
        // A writes, the device reads RAM.
        LegacyMutation::NoCleanAtSubmit => (
            fault(n, vec![AWrite(HEAD), DevRead(None), DevDone]),
            (2, DeviceRead, 0),
        ),
        // A's read fault caches line 0; the device writes; A reads again.
        LegacyMutation::NoInvalidateAtRefault => (
            fault(n, vec![ARead(HEAD), DevWrite(None), DevDone, ARead(HEAD)]),
            (3, CpuRead, 0),
        ),
        // B has dirty bytes in page 0 when A first touches it.
        LegacyMutation::RefaultAlwaysPureInvalidate => (
            fault(
                n,
                vec![BStart(false), BWrite(Pick(0, 39)), ARead(Pick(0, 127))],
            ),
            (2, CpuRead, 100),
        ),
        // A reads (read-only in the state, writable in the PTE), then writes unseen.
        LegacyMutation::ReadFaultMapsWritable => (
            fault(n, vec![ARead(HEAD), AWrite(HEAD), DevRead(None), DevDone]),
            (3, DeviceRead, 0),
        ),
        // As for the missing invalidate: without a zap there is no refault at all.
        LegacyMutation::NoZapAtSubmit => (
            fault(n, vec![ARead(HEAD), DevWrite(None), DevDone, ARead(HEAD)]),
            (3, CpuRead, 0),
        ),
        // A touches page 0 while the device write is still queued.
        LegacyMutation::FaultIgnoresDevice => (
            fault(n, vec![DevWrite(None), ARead(HEAD), DevDone, ARead(HEAD)]),
            (3, CpuRead, 0),
        ),
        // N = [60, 200) covers line [64, 128) fully; after a device write (which makes
        // it stale, so B's START invalidates it) A dirtied it while B was idle.
        LegacyMutation::DirectStartIgnoresLegacy => (
            fault(
                (60, 200),
                vec![
                    DevWrite(None),
                    DevDone,
                    AWrite(Pick(64, 63)),
                    BStart(true),
                    ARead(Pick(64, 0)),
                ],
            ),
            (4, CpuRead, 64),
        ),
        // The kernel's dirty line 0 shadows RAM under the non-cacheable mapping.
        LegacyMutation::UncachedMmapNoCleanInvalidate => (
            LegacyScenario {
                policy: LegacyPolicy::Uncached,
                prelude: 0b1,
                n,
                ops: vec![ARead(HEAD)],
            },
            (0, CpuRead, 0),
        ),
        // A dirtied line 0; the device writes the whole buffer; line 0 is evicted
        // afterwards, on top of the device's bytes.
        LegacyMutation::NoCleanBeforeDeviceWrite => (
            fault(
                n,
                vec![AWrite(HEAD), DevWrite(None), DevDone, Evict(0), ARead(HEAD)],
            ),
            (4, CpuRead, 0),
        ),
        // Line 1 is filled before the device writes; B's START WRITE over N = [100, 140)
        // keeps it, B writes byte 100, END cleans the stale rest of the line.
        LegacyMutation::StartWriteAfterDeviceWriteNotRw => (
            fault(
                n,
                vec![
                    Fill(1),
                    DevWrite(None),
                    DevDone,
                    BStart(false),
                    BWrite(Pick(0, 0)),
                    BEnd,
                ],
            ),
            (6, DeviceRead, 64),
        ),
        // B ENDs its bytes in page 0 (recorded, not cleaned); A then first touches it.
        LegacyMutation::RefaultIgnoresBoundaryDirty => (
            fault(
                n,
                vec![
                    BStart(false),
                    BWrite(Pick(0, 39)),
                    BEnd,
                    ARead(Pick(0, 127)),
                ],
            ),
            (3, CpuRead, 100),
        ),
        // B ENDs its bytes; the device reads them.
        LegacyMutation::NoBoundaryCleanAtSubmit => (
            fault(
                n,
                vec![
                    BStart(false),
                    BWrite(Pick(0, 39)),
                    BEnd,
                    DevRead(None),
                    DevDone,
                ],
            ),
            (4, DeviceRead, 100),
        ),
    }
}

#[test]
fn each_directed_scenario_passes_the_real_path_and_fails_its_mutation() {
    for m in LegacyMutation::BROKEN {
        let (s, (step, kind, offset)) = directed(m);
        let stats = run_legacy(&s, LegacyMutation::None);
        assert!(stats.is_ok(), "{m:?}: {stats:?}");
        let f = match run_legacy(&s, m) {
            Ok(st) => panic!("{m:?} not caught: {st:?}"),
            Err(f) => f,
        };
        assert_eq!(
            (f.step, f.kind, f.offset),
            (step, kind, offset),
            "{m:?}: {f:?}"
        );
        assert_ne!(f.expected, f.got);
    }
}

#[test]
fn required_mutations_are_all_in_the_broken_list() {
    for m in LegacyMutation::REQUIRED {
        assert!(LegacyMutation::BROKEN.contains(&m));
    }
}

/// Under `Uncached`, the same traffic takes no fault, no zap and no clean.
#[test]
fn uncached_never_faults_or_maintains() {
    use LOp::*;
    let ops = vec![
        AWrite(HEAD),
        Fill(0),
        DevRead(None),
        ARead(Pick(0, 511)),
        DevWrite(None),
        ARead(HEAD),
        DevDone,
        ARead(Pick(0, 511)),
        Evict(0),
    ];
    let s = LegacyScenario {
        policy: LegacyPolicy::Uncached,
        prelude: 0xff,
        n: (100, 140),
        ops,
    };
    let st = run_legacy(&s, LegacyMutation::None).unwrap();
    assert_eq!((st.faults, st.zaps, st.cleaned_pages), (0, 0, 0), "{st:?}");
    assert!(st.cpu_checks > 1_000 && st.device_checks >= 1_024, "{st:?}");
}

/// A read fault maps read-only, so the first write costs a second fault; the next
/// submission cleans only the written page.
#[test]
fn write_after_read_costs_one_upgrade_and_one_clean() {
    use LOp::*;
    let s = fault(
        (300, 310),
        vec![ARead(Pick(0, 511)), AWrite(HEAD), DevRead(None), DevDone],
    );
    let st = run_legacy(&s, LegacyMutation::None).unwrap();
    // 4 read faults, 1 upgrade; then the final checks: 4 faults for the last A read.
    assert_eq!(st.upgrades, 1, "{st:?}");
    assert_eq!(st.faults, 4 + 1 + 4, "{st:?}");
    // Only page 0 was written: cleaned at the first submission; nothing at the final one.
    assert_eq!(st.cleaned_pages, 1, "{st:?}");
    assert_eq!(st.zaps, 1, "{st:?}");
}
