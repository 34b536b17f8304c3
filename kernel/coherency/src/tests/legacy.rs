//! Unit tests of the legacy state machine ([`LegacyPages`]).

use mm::cache::CacheOp;

use crate::legacy::{FaultAction, LegacyPages, LegacyPolicy, PageState, SubmitPlan};
use crate::Policy;

use CacheOp::{CleanInvalidate as Civac, Invalidate as Ivac};
use PageState::{ReadOnly as Ro, Unmapped as Un, Writable as Rw};

const fn map(op: CacheOp, writable: bool) -> FaultAction {
    FaultAction::Map {
        maintenance: Some(op),
        writable,
    }
}

/// A `Fault` mapping of 3 pages whose page 1 is in `state` (the others unmapped).
fn with_page1(state: PageState) -> LegacyPages {
    let mut lp = LegacyPages::new(3, LegacyPolicy::Fault);
    match state {
        Un => {}
        Ro => assert_eq!(lp.on_fault(1, false, false, false), map(Ivac, false)),
        Rw => assert_eq!(lp.on_fault(1, true, false, false), map(Ivac, true)),
    }
    assert_eq!(lp.state(1), Some(state));
    lp
}

#[test]
fn new_mapping() {
    let lp = LegacyPages::new(4, LegacyPolicy::Fault);
    assert_eq!(lp.policy(), LegacyPolicy::Fault);
    assert_eq!((lp.len(), lp.is_empty()), (4, false));
    assert!((0..4).all(|p| lp.state(p) == Some(Un)));
    assert_eq!(lp.state(4), None);
    assert_eq!(lp.mapped_pages(), 0);
    assert_eq!(lp.dirty_pages().count(), 0);
    assert_eq!(lp.mmap_maintenance(), None);

    let lp = LegacyPages::new(4, LegacyPolicy::Uncached);
    assert_eq!(lp.policy(), LegacyPolicy::Uncached);
    assert!(
        (0..4).all(|p| lp.state(p) == Some(Rw)),
        "mapped whole at mmap"
    );
    assert_eq!(lp.mapped_pages(), 4);
    assert_eq!(lp.dirty_pages().count(), 0, "no cached line, nothing dirty");
    assert!(!lp.has_dirty_pages());
    assert_eq!(lp.mmap_maintenance(), Some(Civac));

    assert!(LegacyPages::new(0, LegacyPolicy::Fault).is_empty());
    assert_eq!(LegacyPolicy::Fault.mapping(), Policy::Cached);
    assert_eq!(LegacyPolicy::Uncached.mapping(), Policy::Uncached);
}

/// Every state x read/write x device busy x others dirty, as a literal table:
/// `(state, write, busy, others) -> (action, state after)`.
#[test]
fn fault_table() {
    #[rustfmt::skip]
    let table = [
        (Un, false, false, false, map(Ivac, false),        Ro),
        (Un, false, false, true,  map(Civac, false),       Ro),
        (Un, false, true,  false, FaultAction::WaitDevice, Un),
        (Un, false, true,  true,  FaultAction::WaitDevice, Un),
        (Un, true,  false, false, map(Ivac, true),         Rw),
        (Un, true,  false, true,  map(Civac, true),        Rw),
        (Un, true,  true,  false, FaultAction::WaitDevice, Un),
        (Un, true,  true,  true,  FaultAction::WaitDevice, Un),
        (Ro, false, false, false, FaultAction::Retry,      Ro),
        (Ro, false, false, true,  FaultAction::Retry,      Ro),
        (Ro, false, true,  false, FaultAction::WaitDevice, Ro),
        (Ro, false, true,  true,  FaultAction::WaitDevice, Ro),
        (Ro, true,  false, false, FaultAction::Upgrade,    Rw),
        (Ro, true,  false, true,  FaultAction::Upgrade,    Rw),
        (Ro, true,  true,  false, FaultAction::WaitDevice, Ro),
        (Ro, true,  true,  true,  FaultAction::WaitDevice, Ro),
        (Rw, false, false, false, FaultAction::Retry,      Rw),
        (Rw, false, false, true,  FaultAction::Retry,      Rw),
        (Rw, false, true,  false, FaultAction::WaitDevice, Rw),
        (Rw, false, true,  true,  FaultAction::WaitDevice, Rw),
        (Rw, true,  false, false, FaultAction::Retry,      Rw),
        (Rw, true,  false, true,  FaultAction::Retry,      Rw),
        (Rw, true,  true,  false, FaultAction::WaitDevice, Rw),
        (Rw, true,  true,  true,  FaultAction::WaitDevice, Rw),
    ];
    assert_eq!(table.len(), 3 * 2 * 2 * 2);
    for (state, write, busy, others, action, after) in table {
        let mut lp = with_page1(state);
        let got = lp.on_fault(1, write, busy, others);
        let row = (state, write, busy, others);
        assert_eq!(got, action, "{row:?}");
        assert_eq!(lp.state(1), Some(after), "{row:?}");
        assert_eq!((lp.state(0), lp.state(2)), (Some(Un), Some(Un)), "{row:?}");
        assert_eq!(lp.is_dirty(1), after == Rw, "{row:?}: dirty iff writable");
        let dirty: Vec<usize> = lp.dirty_pages().collect();
        assert_eq!(dirty, if after == Rw { vec![1] } else { vec![] }, "{row:?}");
    }
}

#[test]
fn read_then_write_is_tracked_by_a_second_fault() {
    let mut lp = LegacyPages::new(2, LegacyPolicy::Fault);
    assert_eq!(lp.on_fault(0, false, false, false), map(Ivac, false));
    assert!(!lp.is_dirty(0), "a read fault maps read-only, not dirty");
    assert_eq!(lp.on_fault(0, true, false, false), FaultAction::Upgrade);
    assert!(lp.is_dirty(0));
    assert_eq!(lp.on_fault(0, true, false, false), FaultAction::Retry);
    assert_eq!(lp.on_fault(1, true, false, false), map(Ivac, true));
    assert_eq!(lp.dirty_pages().collect::<Vec<_>>(), [0, 1]);
}

#[test]
fn uncached_never_maps_on_fault() {
    for write in [false, true] {
        for busy in [false, true] {
            for others in [false, true] {
                for page in [0, 1, 2, 3, usize::MAX] {
                    let mut lp = LegacyPages::new(3, LegacyPolicy::Uncached);
                    let before = lp.clone();
                    assert_eq!(
                        lp.on_fault(page, write, busy, others),
                        FaultAction::Illegal,
                        "page {page} write={write} busy={busy} others={others}"
                    );
                    assert_eq!(lp, before, "state unchanged");
                }
            }
        }
    }
}

#[test]
fn out_of_range_page_is_illegal() {
    for state in [Un, Ro, Rw] {
        for (write, busy, others) in (0..8).map(|b| (b & 1 != 0, b & 2 != 0, b & 4 != 0)) {
            for page in [3, 4, usize::MAX] {
                let mut lp = with_page1(state);
                let before = lp.clone();
                assert_eq!(lp.on_fault(page, write, busy, others), FaultAction::Illegal);
                assert_eq!(lp, before);
            }
        }
    }
    let mut empty = LegacyPages::new(0, LegacyPolicy::Fault);
    assert_eq!(empty.on_fault(0, false, false, false), FaultAction::Illegal);
}

#[test]
fn submit_with_nothing_mapped_does_nothing() {
    let mut lp = LegacyPages::new(4, LegacyPolicy::Fault);
    assert_eq!(lp.on_device_submit(), SubmitPlan::default());
    assert!(!lp.on_device_submit().zap);
}

#[test]
fn submit_zaps_and_cleans_exactly_the_dirty_pages_ascending() {
    let mut lp = LegacyPages::new(8, LegacyPolicy::Fault);
    // Faults in an order that is not ascending; page 6 is read-only, 2 upgraded.
    assert_eq!(lp.on_fault(5, true, false, false), map(Ivac, true));
    assert_eq!(lp.on_fault(6, false, false, true), map(Civac, false));
    assert_eq!(lp.on_fault(2, false, false, false), map(Ivac, false));
    assert_eq!(lp.on_fault(0, true, false, false), map(Ivac, true));
    assert_eq!(lp.on_fault(2, true, false, false), FaultAction::Upgrade);
    assert_eq!(lp.mapped_pages(), 4);
    assert_eq!(lp.dirty_pages().collect::<Vec<_>>(), [0, 2, 5]);

    let plan = lp.on_device_submit();
    assert_eq!(
        plan,
        SubmitPlan {
            zap: true,
            clean_pages: vec![0, 2, 5]
        }
    );
    assert!((0..8).all(|p| lp.state(p) == Some(Un)));
    assert_eq!((lp.mapped_pages(), lp.dirty_pages().count()), (0, 0));
    assert_eq!(lp.on_device_submit(), SubmitPlan::default(), "nothing left");

    // The next touch faults again, waits while the device works, then invalidates.
    assert_eq!(lp.on_fault(5, false, true, false), FaultAction::WaitDevice);
    assert_eq!(lp.on_fault(5, false, false, false), map(Ivac, false));
}

#[test]
fn submit_with_only_read_only_pages_zaps_but_cleans_nothing() {
    let mut lp = LegacyPages::new(3, LegacyPolicy::Fault);
    lp.on_fault(1, false, false, false);
    assert_eq!(
        lp.on_device_submit(),
        SubmitPlan {
            zap: true,
            clean_pages: vec![]
        }
    );
    assert_eq!(lp.mapped_pages(), 0);
}

#[test]
fn uncached_submit_keeps_the_mapping_and_maintains_nothing() {
    let mut lp = LegacyPages::new(3, LegacyPolicy::Uncached);
    let before = lp.clone();
    assert_eq!(lp.on_device_submit(), SubmitPlan::default());
    assert_eq!(lp, before);
}

#[test]
fn direct_start_op_cleans_under_legacy_dirty_pages() {
    let mut lp = LegacyPages::new(3, LegacyPolicy::Fault);
    lp.on_fault(2, false, false, false);
    assert!(!lp.has_dirty_pages());
    for op in [CacheOp::Clean, Ivac, Civac] {
        assert_eq!(lp.direct_start_op(op), op, "read-only pages are clean");
    }
    lp.on_fault(2, true, false, false);
    assert!(lp.has_dirty_pages());
    assert_eq!(lp.direct_start_op(Ivac), Civac);
    assert_eq!(lp.direct_start_op(Civac), Civac);
    assert_eq!(lp.direct_start_op(CacheOp::Clean), CacheOp::Clean);
    lp.on_device_submit();
    assert_eq!(lp.direct_start_op(Ivac), Ivac, "cleaned at the submission");

    let lp = LegacyPages::new(3, LegacyPolicy::Uncached);
    assert_eq!(lp.direct_start_op(Ivac), Ivac);
    assert!(!lp.is_dirty(0) && !lp.is_dirty(7));
}

/// A zap in bounded steps: the highest pages go (descending), the rest stay mapped and
/// touched, and the bookkeeping stays exact; stopping early ends exactly the pages taken.
#[test]
fn a_zap_in_steps_takes_the_highest_pages_first() {
    let mut lp = LegacyPages::new(8, LegacyPolicy::Fault);
    for (p, write) in [(5, true), (1, false), (3, true)] {
        let action = lp.on_fault(p, write, false, false);
        assert!(matches!(action, FaultAction::Map { .. }));
    }
    let first: Vec<_> = lp.submit_first(2).collect();
    assert_eq!(first, [(5, PageState::Writable), (3, PageState::Writable)]);
    // Taking one of the two offered ends only that one.
    lp.end_submit_first(1);
    assert_eq!(lp.state(5), Some(PageState::Unmapped));
    assert_eq!(lp.state(3), Some(PageState::Writable));
    assert!(lp.touched_is_exact());
    assert_eq!(lp.submit_first(9).next(), Some((3, PageState::Writable)));
    lp.end_submit_first(1);
    assert!(lp.touched_is_exact());
    assert_eq!(lp.state(3), Some(PageState::Unmapped));
    assert_eq!(lp.state(1), Some(PageState::ReadOnly));
    assert!(!lp.untouched());
    let rest: Vec<_> = lp.submit_pages().collect();
    assert_eq!(rest, [(1, PageState::ReadOnly)]);
    lp.end_submit();
    assert!(lp.untouched() && lp.touched_is_exact() && lp.mapped_pages() == 0);
}
