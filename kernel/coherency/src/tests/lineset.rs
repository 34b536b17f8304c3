//! The bounded line set against a line-exact reference: always a superset, exact while
//! it has room, well formed after every operation.

use proptest::prelude::*;

use crate::{LineSet, Lines};

/// Lines of the reference.
const LINES: u64 = 64;

#[derive(Clone, Copy, Debug)]
enum SetOp {
    Insert(u64, u64),
    Remove(u64, u64),
}

fn set_op() -> impl Strategy<Value = SetOp> {
    let range = (0..LINES, 1..12u64).prop_map(|(s, n)| (s, (s + n).min(LINES)));
    prop_oneof![
        3 => range.clone().prop_map(|(s, e)| SetOp::Insert(s, e)),
        2 => range.prop_map(|(s, e)| SetOp::Remove(s, e)),
    ]
}

fn well_formed<const N: usize>(set: &LineSet<N>) -> Result<(), String> {
    let iv: Vec<Lines> = set.iter().collect();
    if iv.len() > N {
        return Err(format!("{} intervals in {N}", iv.len()));
    }
    if iv.iter().any(|l| l.is_empty()) {
        return Err(format!("empty interval in {set:?}"));
    }
    if iv.windows(2).any(|w| w[0].end >= w[1].start) {
        return Err(format!("overlapping, adjacent or unsorted: {set:?}"));
    }
    Ok(())
}

/// Plays `ops` on a set of `N` intervals and the reference; checks after each step.
fn play<const N: usize>(ops: &[SetOp], exact: bool) -> Result<(), String> {
    let mut set = LineSet::<N>::EMPTY;
    let mut truth = [false; LINES as usize];
    for op in ops {
        match *op {
            SetOp::Insert(s, e) => {
                set.insert(Lines::new(s, e));
                (s..e).for_each(|i| truth[i as usize] = true);
            }
            SetOp::Remove(s, e) => {
                set.remove(Lines::new(s, e));
                (s..e).for_each(|i| truth[i as usize] = false);
            }
        }
        well_formed(&set)?;
        for i in 0..LINES {
            let (has, want) = (set.contains_line(i), truth[i as usize]);
            if want && !has {
                return Err(format!("line {i} lost after {op:?}: {set:?}"));
            }
            if exact && has != want {
                return Err(format!("line {i} differs after {op:?}: {set:?}"));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn a_tight_set_is_always_a_well_formed_superset(
        ops in proptest::collection::vec(set_op(), 1..60)
    ) {
        prop_assert!(play::<3>(&ops, false).is_ok(), "{:?}", play::<3>(&ops, false));
        prop_assert!(play::<1>(&ops, false).is_ok(), "{:?}", play::<1>(&ops, false));
    }

    /// 64 lines have at most 32 disjoint, non-adjacent intervals: never full.
    #[test]
    fn a_roomy_set_is_exact(ops in proptest::collection::vec(set_op(), 1..60)) {
        prop_assert!(play::<32>(&ops, true).is_ok(), "{:?}", play::<32>(&ops, true));
    }
}

#[test]
fn overflow_merges_the_closest_pair() {
    let mut s = LineSet::<2>::EMPTY;
    s.insert(Lines::new(0, 1));
    s.insert(Lines::new(10, 11));
    s.insert(Lines::new(3, 4)); // gap 2 to [0, 1), 6 to [10, 11): joins the first
    assert_eq!(
        s.iter().collect::<Vec<_>>(),
        [Lines::new(0, 4), Lines::new(10, 11)]
    );
    s.insert(Lines::new(20, 21)); // gaps 6 (existing) and 9: the existing pair merges
    assert_eq!(
        s.iter().collect::<Vec<_>>(),
        [Lines::new(0, 11), Lines::new(20, 21)]
    );
}

#[test]
fn touching_and_overlapping_insertions_merge() {
    let mut s = LineSet::<4>::EMPTY;
    s.insert(Lines::new(5, 8));
    s.insert(Lines::new(8, 9)); // adjacent
    s.insert(Lines::new(1, 3));
    s.insert(Lines::new(2, 6)); // bridges both
    assert_eq!(s.iter().collect::<Vec<_>>(), [Lines::new(1, 9)]);
    assert_eq!(s.count(), 8);
    assert!(s.covers(Lines::new(1, 9)) && !s.covers(Lines::new(0, 2)));
    assert!(s.intersects(Lines::new(8, 20)) && !s.intersects(Lines::new(9, 20)));
    assert_eq!(s.next_from(4), Some(Lines::new(4, 9)));
    assert_eq!(s.next_from(9), None);
}

#[test]
fn a_split_of_a_full_set_merges_or_keeps_the_interval() {
    let mut s = LineSet::<2>::EMPTY;
    s.insert(Lines::new(0, 10));
    s.insert(Lines::new(12, 13));
    // Splitting [0, 10) needs a third interval: the closest gap (2) is smaller than the
    // hole (4), so the two existing intervals merge and the hole is cut.
    s.remove(Lines::new(3, 7));
    assert_eq!(
        s.iter().collect::<Vec<_>>(),
        [Lines::new(0, 3), Lines::new(7, 13)]
    );
    // A one-line hole is smaller than any gap: keeping the interval whole is cheaper.
    s.remove(Lines::new(9, 10));
    assert_eq!(
        s.iter().collect::<Vec<_>>(),
        [Lines::new(0, 3), Lines::new(7, 13)]
    );
    s.remove(Lines::new(0, 100));
    assert!(s.is_empty());
}

#[test]
fn a_lossy_insertion_leaves_a_subset() {
    let mut s = LineSet::<1>::EMPTY;
    s.insert(Lines::new(0, 1));
    s.insert_with(Lines::new(5, 6), true);
    assert!(!s.contains_line(5), "the mutation's subset: {s:?}");
    s.insert(Lines::new(5, 6));
    assert!(s.covers(Lines::new(0, 6)), "the real merge: {s:?}");
}
