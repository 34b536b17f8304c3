//! The boundary rules one event at a time, with 64-byte lines: what each sync and
//! submission maintains and how the sets move (the model proves them; these spell them
//! out).

use mm::cache::{CacheGeometry, CacheOp};

use crate::{Boundary, Region, Work};

const GEOM: CacheGeometry = match CacheGeometry::new(64) {
    Some(g) => g,
    None => panic!(),
};

type B = Boundary<8>;

fn pieces(b: &B, w: &Work) -> Vec<(CacheOp, u64, u64)> {
    match w {
        Work::Pieces(p) => p.iter(b).collect(),
        Work::None => vec![],
        Work::Region(..) => panic!("a region, not pieces: {w:?}"),
    }
}

fn lines(set: &crate::LineSet<8>) -> Vec<(u64, u64)> {
    set.iter().map(|l| (l.start, l.end)).collect()
}

#[test]
fn end_records_and_start_on_a_cpu_only_buffer_does_nothing() {
    let mut b = B::NEW;
    let r = Region::range(100, 1000);
    assert_eq!(b.sync(GEOM, Some(CacheOp::Clean), r, false), Work::None);
    assert_eq!(
        lines(b.dirty()),
        [(1, 18)],
        "every line [100, 1100) touches"
    );
    assert!(!b.may_be_stale(GEOM, Region::range(0, 4096), false));
    let w = b.sync(
        GEOM,
        Some(CacheOp::Invalidate),
        Region::range(0, 4096),
        false,
    );
    assert_eq!(w, Work::None, "nothing stale: START READ maintains nothing");
    // A START WRITE (no op planned) and an END READ (none either) change nothing.
    assert_eq!(b.sync(GEOM, None, r, false), Work::None);
    assert_eq!(lines(b.dirty()), [(1, 18)]);
}

#[test]
fn a_device_write_cleans_its_dirty_lines_then_marks_them_stale() {
    let mut b = B::NEW;
    b.sync(GEOM, Some(CacheOp::Clean), Region::range(100, 1000), false);
    let g = b.generation();
    let w = b.device_write(GEOM, 1024, 2048);
    assert_eq!(
        pieces(&b, &w),
        [(CacheOp::Clean, 1024, 128)],
        "dirty ∩ [16, 48)"
    );
    b.device_write_done(GEOM, &w, g, 1024, 2048);
    assert_eq!(lines(b.dirty()), [(1, 16)]);
    assert_eq!(lines(b.stale()), [(16, 48)]);
    // START READ over [1000, 3100) invalidates exactly the written lines.
    let w = b.sync(
        GEOM,
        Some(CacheOp::Invalidate),
        Region::range(1000, 2100),
        false,
    );
    assert_eq!(pieces(&b, &w), [(CacheOp::Invalidate, 1024, 2048)]);
    b.start_done(&w);
    assert!(b.stale().is_empty());
    // And again: nothing left to do.
    let again = b.sync(
        GEOM,
        Some(CacheOp::Invalidate),
        Region::range(1000, 2100),
        false,
    );
    assert_eq!(again, Work::None);
}

#[test]
fn stale_lines_that_may_be_dirty_are_cleaned_and_invalidated() {
    let mut b = B::NEW;
    b.sync(GEOM, Some(CacheOp::Clean), Region::range(64, 960), false); // lines 1..16
    b.mark_stale(GEOM, 0, 4096);
    let w = b.sync(
        GEOM,
        Some(CacheOp::Invalidate),
        Region::range(10, 1990),
        false,
    );
    assert_eq!(
        pieces(&b, &w),
        [
            (CacheOp::Invalidate, 10, 54),
            (CacheOp::CleanInvalidate, 64, 960),
            (CacheOp::Invalidate, 1024, 976),
        ],
        "partial edges are left to mm::cache::plan (clean+invalidate)"
    );
    b.start_done(&w);
    assert_eq!(
        lines(b.stale()),
        [(32, 64)],
        "lines [0, 32) were invalidated"
    );
    // A holder without the map-write right gets clean+invalidate everywhere.
    let w = b.sync(
        GEOM,
        Some(CacheOp::CleanInvalidate),
        Region::range(2048, 64),
        false,
    );
    assert_eq!(pieces(&b, &w), [(CacheOp::CleanInvalidate, 2048, 64)]);
}

#[test]
fn an_uncached_mapping_cleans_at_end_and_makes_every_line_count_as_stale() {
    let mut b = B::NEW;
    let r = Region::range(0, 256);
    assert_eq!(
        b.sync(GEOM, Some(CacheOp::Clean), r, true),
        Work::Region(CacheOp::Clean, r)
    );
    assert!(b.dirty().is_empty(), "cleaned at once: not recorded");
    assert!(b.may_be_stale(GEOM, r, true));
    let w = b.sync(GEOM, Some(CacheOp::Invalidate), r, true);
    assert_eq!(pieces(&b, &w), [(CacheOp::Invalidate, 0, 256)]);
}

#[test]
fn a_present_of_a_rectangle_cleans_only_its_rows_that_meet_dirty() {
    let mut b = B::NEW;
    // A dirty rectangle of rows 10..20 (4 lines each, 7680-byte stride): recorded by hull.
    let dirty = Region {
        offset: 10 * 7680 + 2048,
        row_len: 256,
        rows: 10,
        stride: 7680,
    };
    b.sync(GEOM, Some(CacheOp::Clean), dirty, false);
    let (s, e) = dirty.hull();
    assert_eq!(lines(b.dirty()), [(s / 64, e.div_ceil(64))]);
    // The present of rows 0..100 of the same columns cleans rows 10..20 only.
    let present = Region {
        offset: 2048,
        row_len: 256,
        rows: 100,
        stride: 7680,
    };
    assert_eq!(
        b.device_read(GEOM, present),
        Work::Region(CacheOp::Clean, dirty)
    );
    // A present of the full width, as one range: the pieces of dirty in it.
    let full = Region::range(0, 100 * 7680);
    assert_eq!(
        pieces(&b, &b.device_read(GEOM, full)),
        [(CacheOp::Clean, s, e - s)]
    );
}

#[test]
fn a_submission_removes_what_it_cleaned_only_if_dirty_did_not_change() {
    let mut b = B::NEW;
    b.mark_dirty(GEOM, 0, 4096);
    let g = b.generation();
    let w = b.device_read(GEOM, Region::range(0, 4096));
    b.sync(GEOM, Some(CacheOp::Clean), Region::range(0, 64), false); // meanwhile
    b.device_read_done(&w, g);
    assert_eq!(lines(b.dirty()), [(0, 64)], "kept: a superset");
    let g = b.generation();
    let w = b.device_read(GEOM, Region::range(0, 4096));
    b.device_read_done(&w, g);
    assert!(b.dirty().is_empty());
}

#[test]
fn a_new_uncached_mapping_and_a_legacy_refault_see_the_dirty_lines() {
    let mut b = B::NEW;
    b.mark_dirty(GEOM, 0, 8192);
    assert!(b.may_be_dirty(GEOM, 4096, 4096));
    b.cleaned(GEOM, 4096, 4096);
    assert!(!b.may_be_dirty(GEOM, 4096, 4096));
    assert!(b.may_be_dirty(GEOM, 4095, 1));
}
