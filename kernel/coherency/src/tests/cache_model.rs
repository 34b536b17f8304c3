//! The cache model itself must behave like the architecture says, or the property tests
//! prove nothing.

use mm::cache::CacheOp;

use crate::model::cache::{Memory, LINE};

const BASE: u64 = 0x1000;

fn cached() -> Memory {
    Memory::new(BASE, 4 * LINE, true, false)
}

#[test]
fn store_is_write_back() {
    let mut m = cached();
    m.cpu_store(5, 7);
    assert_eq!(m.cpu_load(5), 7);
    assert_eq!(m.device_read(5), 0, "RAM untouched");
    assert!(m.is_dirty(0));
    m.evict(0);
    assert!(!m.is_present(0));
    assert_eq!(m.device_read(5), 7, "dirty eviction writes back");
}

#[test]
fn load_hit_returns_stale_line() {
    let mut m = cached();
    assert_eq!(m.cpu_load(70), 0);
    assert!(m.is_present(1) && !m.is_dirty(1));
    m.device_write(70, 9);
    assert_eq!(m.cpu_load(70), 0, "non-coherent: the cached copy wins");
    m.evict(1);
    assert_eq!(m.cpu_load(70), 9, "clean eviction drops, miss refills");
}

#[test]
fn speculative_fill_only_fills_absent_lines() {
    let mut m = cached();
    m.cpu_store(0, 1);
    m.speculative_fill(0);
    assert!(m.is_dirty(0), "present line untouched");
    m.speculative_fill(2);
    assert!(m.is_present(2) && !m.is_dirty(2));
    m.device_write(130, 4);
    assert_eq!(m.cpu_load(130), 0, "speculated line is stale");
}

#[test]
fn dc_ops() {
    let mut m = cached();
    m.cpu_store(1, 3);
    m.dc(CacheOp::Clean, BASE);
    assert!(m.is_present(0) && !m.is_dirty(0));
    assert_eq!(m.device_read(1), 3);

    m.cpu_store(2, 4);
    m.dc(CacheOp::Invalidate, BASE + 2);
    assert!(!m.is_present(0));
    assert_eq!(m.cpu_load(2), 0, "IVAC loses dirty data");

    m.cpu_store(3, 5);
    m.dc(CacheOp::CleanInvalidate, BASE + LINE as u64 - 1);
    assert!(!m.is_present(0));
    assert_eq!(m.device_read(3), 5, "CIVAC writes back first");

    // Maintenance of an absent line does nothing.
    m.dc(CacheOp::Clean, BASE + 3 * LINE as u64);
    assert!(!m.is_present(3));
}

#[test]
fn uncached_bypasses_the_cache() {
    let mut m = Memory::new(BASE, 2 * LINE, false, false);
    m.cpu_store(0, 1);
    assert_eq!(m.device_read(0), 1);
    m.device_write(1, 2);
    assert_eq!(m.cpu_load(1), 2);
    m.speculative_fill(0);
    assert!(!m.is_present(0));
}

#[test]
fn coherent_device_snoops() {
    let mut m = Memory::new(BASE, 2 * LINE, true, true);
    m.cpu_store(0, 1);
    assert_eq!(m.device_read(0), 1);
    m.device_write(0, 2);
    assert_eq!(m.cpu_load(0), 2);
    m.evict(0);
    assert_eq!(
        m.device_read(0),
        2,
        "the dirty line carried the device's byte"
    );
}
