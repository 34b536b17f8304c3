use super::*;
use proptest::prelude::*;

const G64: CacheGeometry = CacheGeometry { line: 64 };

fn runs(op: CacheOp, addr: u64, len: u64) -> Vec<(CacheOp, u64, u64)> {
    plan(G64, op, addr, len)
        .unwrap()
        .iter()
        .map(|r| (r.op, r.start, r.lines))
        .collect()
}

use CacheOp::{Clean, CleanInvalidate as CI, Invalidate as Inv};

#[test]
fn geometry_from_ctr() {
    // Cortex-A72-like CTR_EL0 = 0x8444c004: DminLine = 4 -> 64 bytes, CWG = 4 -> 64.
    let ctr = 0x8444_c004;
    assert_eq!(CacheGeometry::from_ctr_el0(ctr).line(), 64);
    assert_eq!(CacheGeometry::writeback_granule_from_ctr_el0(ctr), Some(64));
    assert_eq!(CacheGeometry::writeback_granule_from_ctr_el0(0), None);
    for d in 0..16u64 {
        let g = CacheGeometry::from_ctr_el0(d << 16 | 0xf000_ffff);
        assert_eq!(g.line(), 4 << d);
    }
}

#[test]
fn geometry_new() {
    assert_eq!(CacheGeometry::new(64).map(CacheGeometry::line), Some(64));
    assert_eq!(CacheGeometry::new(16).map(CacheGeometry::line), Some(16));
    assert_eq!(
        CacheGeometry::new(2048).map(CacheGeometry::line),
        Some(2048)
    );
    for bad in [0, 1, 8, 48, 100, 4096, u64::MAX] {
        assert_eq!(CacheGeometry::new(bad), None, "{bad}");
    }
}

#[test]
fn aligned_range() {
    for op in [Clean, Inv, CI] {
        assert_eq!(runs(op, 0x1000, 0x100), [(op, 0x1000, 4)]);
    }
}

#[test]
fn clean_unaligned_is_one_run() {
    assert_eq!(runs(Clean, 0x1010, 0x100), [(Clean, 0x1000, 5)]);
    assert_eq!(runs(CI, 0x103f, 2), [(CI, 0x1000, 2)]);
}

#[test]
fn invalidate_unaligned_head() {
    assert_eq!(runs(Inv, 0x1010, 0xf0), [(CI, 0x1000, 1), (Inv, 0x1040, 3)]);
}

#[test]
fn invalidate_unaligned_tail() {
    assert_eq!(runs(Inv, 0x1000, 0xd0), [(Inv, 0x1000, 3), (CI, 0x10c0, 1)]);
}

#[test]
fn invalidate_unaligned_both() {
    assert_eq!(
        runs(Inv, 0x1001, 0xfe),
        [(CI, 0x1000, 1), (Inv, 0x1040, 2), (CI, 0x10c0, 1)]
    );
    // Two partial lines and nothing in between: no empty Invalidate run.
    assert_eq!(runs(Inv, 0x1020, 0x40), [(CI, 0x1000, 1), (CI, 0x1040, 1)]);
}

#[test]
fn single_partial_line() {
    assert_eq!(runs(Inv, 0x1004, 8), [(CI, 0x1000, 1)]);
    assert_eq!(runs(Inv, 0x1000, 63), [(CI, 0x1000, 1)]);
    assert_eq!(runs(Inv, 0x1001, 63), [(CI, 0x1000, 1)]);
    assert_eq!(runs(Clean, 0x1004, 8), [(Clean, 0x1000, 1)]);
}

#[test]
fn exactly_one_line() {
    assert_eq!(runs(Inv, 0x1040, 64), [(Inv, 0x1040, 1)]);
    let p = plan(G64, Inv, 0x1040, 64).unwrap();
    assert_eq!(p.runs()[0].end(), 0x1080);
    assert_eq!(p.runs()[0].line_addrs().collect::<Vec<_>>(), [0x1040]);
}

#[test]
fn zero_length() {
    for op in [Clean, Inv, CI] {
        for addr in [0, 0x1001, u64::MAX] {
            let p = plan(G64, op, addr, 0).unwrap();
            assert!(p.is_empty());
            assert_eq!(p.total_lines(), 0);
            assert_eq!(p.iter().count(), 0);
        }
    }
}

#[test]
fn wrap_rejected() {
    assert_eq!(plan(G64, Clean, u64::MAX, 2), Err(RangeError::Wraps));
    assert_eq!(plan(G64, Inv, 1, u64::MAX), Err(RangeError::Wraps));
    // Ends exactly at 2^64: documented as rejected.
    assert_eq!(plan(G64, Clean, u64::MAX - 63, 64), Err(RangeError::Wraps));
    // Touches the topmost line.
    assert_eq!(plan(G64, Clean, u64::MAX - 100, 50), Err(RangeError::Wraps));
    // Ends right below the topmost line: fine.
    let p = plan(G64, Inv, u64::MAX - 127, 64).unwrap();
    assert_eq!(
        p.runs(),
        [LineRun {
            op: Inv,
            start: u64::MAX - 127,
            lines: 1,
            line: 64
        }]
    );
    assert_eq!(p.runs()[0].end(), u64::MAX - 63);
    assert!(RangeError::Wraps.to_string().contains("wraps"));
}

#[test]
fn every_line_size() {
    for d in 0..16u64 {
        let g = CacheGeometry::from_ctr_el0(d << 16);
        let l = g.line();
        let p = plan(g, Inv, 0x10_0000 + 1, 3 * l).unwrap();
        // Head partial, two full lines, tail partial.
        let got: Vec<_> = p.iter().map(|r| (r.op, r.start, r.lines)).collect();
        assert_eq!(
            got,
            [
                (CI, 0x10_0000, 1),
                (Inv, 0x10_0000 + l, 2),
                (CI, 0x10_0000 + 3 * l, 1)
            ],
            "line {l}"
        );
        assert_eq!(p.total_lines(), 4);
        assert_eq!(p.lines_of(Inv), 2);
        assert_eq!(p.lines_of(CI), 2);
        assert_eq!(p.lines_of(Clean), 0);
        let c = plan(g, Clean, 0x10_0000 + 1, 3 * l).unwrap();
        assert_eq!(c.runs().len(), 1);
        assert_eq!(c.total_lines(), 4);
    }
}

#[test]
fn into_iter_matches_runs() {
    let p = plan(G64, Inv, 0x1001, 0x100).unwrap();
    let via_ref: Vec<_> = (&p).into_iter().copied().collect();
    assert_eq!(via_ref, p.runs());
}

/// Checks `plan` against an exact `u128` reference for one input.
fn check_plan(addr: u64, len: u64, line: u64, op: CacheOp) -> Result<(), TestCaseError> {
    let g = CacheGeometry::new(line).unwrap();
    let res = plan(g, op, addr, len);
    let (a, e) = (u128::from(addr), u128::from(addr) + u128::from(len));
    let l = u128::from(line);
    let first = a / l * l;
    let end_up = e.div_ceil(l) * l;
    if len == 0 {
        prop_assert!(res.unwrap().is_empty());
        return Ok(());
    }
    if end_up > u128::from(u64::MAX) {
        prop_assert_eq!(res, Err(RangeError::Wraps));
        return Ok(());
    }
    let p = res.unwrap();
    // Total lines == ceil formula.
    prop_assert_eq!(u128::from(p.total_lines()), (end_up - first) / l);
    // Contiguous, ascending, non-overlapping, non-empty, aligned, exact union.
    let mut cursor = first;
    for r in &p {
        prop_assert!(r.lines > 0);
        prop_assert_eq!(r.line, line);
        prop_assert_eq!(r.start % line, 0);
        prop_assert_eq!(u128::from(r.start), cursor);
        cursor = u128::from(r.end());
        let (s, t) = (u128::from(r.start), u128::from(r.end()));
        match (op, r.op) {
            (Clean, Clean) | (CI, CI) => {}
            // Every invalidated line lies entirely inside [addr, addr + len)...
            (Inv, Inv) => prop_assert!(s >= a && t <= e),
            // ...and every CI line of an invalidate plan is a partially covered one.
            (Inv, CI) => prop_assert!(r.lines == 1 && (s < a || t > e)),
            (want, got) => prop_assert!(false, "{:?} plan has a {:?} run", want, got),
        }
    }
    prop_assert_eq!(cursor, end_up);
    let max_runs = if op == Inv { 3 } else { 1 };
    prop_assert!(p.runs().len() <= max_runs);
    if op == Inv {
        let full = (e / l * l).saturating_sub(a.div_ceil(l) * l) / l;
        prop_assert_eq!(u128::from(p.lines_of(Inv)), full);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn plan_properties(
        addr in prop_oneof![any::<u64>(), 0u64..0x10000, (u64::MAX - 0x10000)..=u64::MAX],
        len in prop_oneof![0u64..0x1000, any::<u64>()],
        shift in 4u32..=11,
        op in prop_oneof![Just(Clean), Just(Inv), Just(CI)],
    ) {
        check_plan(addr, len, 1 << shift, op)?;
    }
}

#[test]
fn plan_each_matches_plan_and_never_yields_empty_runs() {
    let geom = CacheGeometry::new(64).unwrap();
    for op in [
        CacheOp::Clean,
        CacheOp::Invalidate,
        CacheOp::CleanInvalidate,
    ] {
        for addr in [0u64, 1, 63, 64, 4095, 4096, 4097] {
            for len in [0u64, 1, 2, 63, 64, 65, 127, 128, 129, 4096] {
                let mut runs = Vec::new();
                plan_each(geom, op, addr, len, |r| runs.push(r)).unwrap();
                let p = plan(geom, op, addr, len).unwrap();
                assert_eq!(runs.as_slice(), p.runs(), "{op:?} {addr} {len}");
                assert!(
                    runs.iter().all(|r| r.lines > 0),
                    "{op:?} {addr} {len}: {runs:?}"
                );
            }
        }
    }
}
