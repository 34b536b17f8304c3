//! Random scenarios for the model runner.

use proptest::prelude::*;

use crate::model::scenario::{Op, Pick, Scenario, Span, SIZE};
use crate::{Dir, Policy};

/// Upper bound on steps (each write takes one of 255 stamps).
const MAX_OPS: usize = 120;

pub(super) fn pick() -> impl Strategy<Value = Pick> {
    (any::<u16>(), any::<u16>()).prop_map(|(a, b)| Pick(a, b))
}

fn span() -> impl Strategy<Value = Span> {
    prop_oneof![
        1 => Just(Span::Whole),
        4 => (any::<bool>(), pick()).prop_map(|(t, p)| Span::Left(t, p)),
        4 => (any::<bool>(), pick()).prop_map(|(t, p)| Span::Right(t, p)),
    ]
}

fn dir() -> impl Strategy<Value = Dir> {
    prop_oneof![Just(Dir::Read), Just(Dir::Write), Just(Dir::ReadWrite)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (dir(), span()).prop_map(|(d, s)| Op::AStart(d, s)),
        4 => any::<bool>().prop_map(Op::AEnd),
        5 => pick().prop_map(Op::ARead),
        5 => pick().prop_map(Op::AWrite),
        3 => Just(Op::BStart),
        4 => pick().prop_map(Op::BWrite),
        3 => Just(Op::BEnd),
        4 => proptest::option::weighted(0.8, pick()).prop_map(Op::DevRead),
        4 => proptest::option::weighted(0.8, pick()).prop_map(Op::DevWrite),
        3 => Just(Op::DevDone),
        2 => any::<u8>().prop_map(Op::Evict),
        3 => any::<u8>().prop_map(Op::Fill),
        1 => Just(Op::UMap),
        1 => Just(Op::UUnmap),
        2 => pick().prop_map(Op::URead),
        2 => pick().prop_map(Op::UWrite),
    ]
}

/// Mostly the interesting configuration: cached, non-coherent, A may write.
pub fn scenario() -> impl Strategy<Value = Scenario> {
    let policy = prop_oneof![6 => Just(Policy::Cached), 1 => Just(Policy::Uncached)];
    (
        policy,
        proptest::bool::weighted(0.15),
        proptest::bool::weighted(0.75),
        1..SIZE - 1,
        1..=96usize,
        proptest::bool::weighted(0.3),
        proptest::collection::vec(op(), 1..MAX_OPS),
    )
        .prop_map(
            |(policy, coherent, a_may_write, n0, n_len, tight, ops)| Scenario {
                policy,
                coherent,
                a_may_write,
                n: (n0, (n0 + n_len).min(SIZE)),
                tight,
                ops,
            },
        )
}

/// Only cached, non-coherent scenarios whose sets never overflow: where the exactness
/// checks apply.
pub fn exact_scenario() -> impl Strategy<Value = Scenario> {
    non_coherent_scenario().prop_map(|mut s| {
        s.tight = false;
        s
    })
}

/// Only cached, non-coherent scenarios: where maintenance matters.
pub fn non_coherent_scenario() -> impl Strategy<Value = Scenario> {
    scenario().prop_map(|mut s| {
        s.policy = Policy::Cached;
        s.coherent = false;
        s
    })
}
