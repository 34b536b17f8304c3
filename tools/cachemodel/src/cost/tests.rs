//! Host tests of the cost model: hand-written streams with the penalties the table
//! says they cost.

use super::{CostModel, Params};
use crate::{DcOp, Geometry, MemType, Observer, Origin, SetWayOp, SetWayOperand, LINE};

const BASE: u64 = 0x4000_0000;
const P: Params = Params::DEFAULT;

fn model(cpus: usize) -> CostModel {
    CostModel::new(cpus, &Geometry::cortex_a72(), P)
}

fn on(cpu: u8) -> Origin {
    Origin {
        cpu,
        insn: 1,
        seq: 0,
    }
}

fn load(m: &mut CostModel, cpu: u8, pa: u64) {
    m.load(on(cpu), pa, pa, 8, MemType::WriteBack);
}

fn store(m: &mut CostModel, cpu: u8, pa: u64) {
    m.store(on(cpu), pa, pa, 8, MemType::WriteBack);
}

fn dc(m: &mut CostModel, op: DcOp, pa: u64) {
    m.dc_va(on(0), op, pa, pa);
}

#[test]
fn first_touch_fills_from_dram_then_hits_l1() {
    let mut m = model(1);
    load(&mut m, 0, BASE);
    assert_eq!(m.events().dram_fills, 1);
    assert_eq!(m.penalties().total(), P.dram);
    load(&mut m, 0, BASE + 8);
    store(&mut m, 0, BASE + 16);
    assert_eq!(m.events().l1_hits, 2);
    assert_eq!(m.penalties().total(), P.dram + 2 * P.l1_hit);
    assert_eq!(m.cpu_penalty(0), m.penalties().total());
    let u = m.cpu_units(0);
    assert_eq!((u.dram, u.l1_hit), (1, 2));
    let half = Params {
        dram: P.dram / 2,
        ..P
    };
    assert_eq!(u.penalty(&half), P.dram / 2 + 2 * P.l1_hit);
}

#[test]
fn l1_conflict_misses_hit_l2() {
    // Five lines in the same L1D set (4 ways, as QEMU reports): the fifth evicts the
    // first, which is then found in L2.
    let mut m = model(1);
    let l1 = Geometry::cortex_a72().levels[0];
    let stride = u64::from(l1.sets) * LINE; // L1D sets * line
    let n = u64::from(l1.ways) + 1;
    for k in 0..n {
        load(&mut m, 0, BASE + k * stride);
    }
    load(&mut m, 0, BASE);
    assert_eq!(m.events().dram_fills, n);
    assert_eq!(m.events().l2_hits, 1);
    assert_eq!(m.penalties().total(), n * P.dram + P.l2_hit);
}

#[test]
fn a_stream_bigger_than_l2_misses_every_time() {
    let mut m = model(1);
    let lines = 2 * (1 << 20) / LINE; // 2 MiB: twice the L2
    for pass in 0..2 {
        for i in 0..lines {
            load(&mut m, 0, BASE + i * LINE);
        }
        assert_eq!(m.events().dram_fills, (pass + 1) * lines, "pass {pass}");
    }
    assert_eq!(m.events().l2_hits, 0);
    // Clean lines: evicted without a write-back.
    assert_eq!(m.events().evict_writebacks, 0);
    assert!(m.events().l2_evictions > 0);
}

#[test]
fn a_stream_that_fits_l2_hits_l2_the_second_time() {
    let mut m = model(1);
    let lines = (512 << 10) / LINE; // 512 KiB: half the L2, 16x the L1D
    for _ in 0..2 {
        for i in 0..lines {
            load(&mut m, 0, BASE + i * LINE);
        }
    }
    assert_eq!(m.events().dram_fills, lines);
    assert_eq!(m.events().l2_hits, lines);
}

#[test]
fn evicting_dirty_lines_writes_them_back() {
    // Without write streaming (it would not allocate an ascending store stream).
    let mut m = CostModel::new(1, &Geometry::cortex_a72(), Params { ws_l1: 0, ..P });
    let lines = 2 * (1 << 20) / LINE;
    for i in 0..lines {
        store(&mut m, 0, BASE + i * LINE);
    }
    // The first MiB was evicted by the second, dirty: one write-back each.
    assert_eq!(m.events().evict_writebacks, (1 << 20) / LINE);
    assert_eq!(m.penalties().evictions, (1 << 20) / LINE * P.wb);
    assert!(m.events().l1_writebacks > 0);
}

#[test]
fn clean_of_a_dirty_line_costs_a_write_back_of_a_clean_line_only_the_op() {
    let mut m = model(1);
    store(&mut m, 0, BASE);
    load(&mut m, 0, BASE + LINE);
    let before = m.penalties().total();
    dc(&mut m, DcOp::Clean, BASE);
    assert_eq!(m.penalties().total() - before, P.maint + P.wb);
    assert_eq!(m.events().clean_writebacks, 1);
    let before = m.penalties().total();
    dc(&mut m, DcOp::Clean, BASE + LINE);
    dc(&mut m, DcOp::Clean, BASE); // cleaned already
    dc(&mut m, DcOp::Clean, BASE + 100 * LINE); // not cached at all
    assert_eq!(m.penalties().total() - before, 3 * P.maint);
    assert_eq!(m.events().clean_nothing, 3);
    // The cleaned line is still cached: a hit.
    load(&mut m, 0, BASE);
    assert_eq!(m.events().l1_hits, 1);
}

#[test]
fn clean_invalidate_writes_back_and_drops_invalidate_only_drops() {
    let mut m = model(1);
    store(&mut m, 0, BASE);
    store(&mut m, 0, BASE + LINE);
    dc(&mut m, DcOp::CleanInvalidate, BASE);
    dc(&mut m, DcOp::Invalidate, BASE + LINE);
    assert_eq!(m.events().clean_writebacks, 1);
    assert_eq!(m.events().invalidates, 1);
    assert_eq!(m.penalties().cleans, P.wb);
    // Both lines gone: refilled from DRAM.
    load(&mut m, 0, BASE);
    load(&mut m, 0, BASE + LINE);
    assert_eq!(m.events().dram_fills, 4);
    // The dropped dirty line is not written back later.
    assert_eq!(m.events().evict_writebacks, 0);
}

#[test]
fn a_dirty_line_in_another_cpus_l1_is_cleaned_by_a_broadcast_clean() {
    let mut m = model(2);
    store(&mut m, 1, BASE);
    dc(&mut m, DcOp::Clean, BASE); // issued on CPU 0
    assert_eq!(m.events().clean_writebacks, 1);
    assert_eq!(m.cpu_penalty(0), P.maint + P.wb);
    // A load by CPU 0 of a line CPU 1 holds dirty is a snoop.
    store(&mut m, 1, BASE + LINE);
    load(&mut m, 0, BASE + LINE);
    assert_eq!(m.events().snoops, 1);
    assert_eq!(m.cpu_penalty(0) + m.cpu_penalty(1), m.penalties().total());
}

#[test]
fn nc_loads_each_pay_dram_nc_stores_combine_per_line() {
    let mut m = model(1);
    for i in 0..8 {
        m.load(on(0), BASE + i * 8, 0, 8, MemType::NonCacheable);
    }
    assert_eq!(m.events().nc_loads, 8);
    assert_eq!(m.penalties().nc_loads, 8 * P.dram);
    // 16-byte stores over two lines: one burst per line.
    for i in 0..8 {
        m.store(on(0), BASE + i * 16, 0, 16, MemType::NonCacheable);
    }
    assert_eq!(m.events().wc_bursts, 2);
    assert_eq!(m.events().wc_merged, 6);
    assert_eq!(m.penalties().nc_stores, 2 * P.wb);
    // A DSB closes the buffers: the next store to the same line is a new burst.
    m.dsb(on(0), true);
    m.store(on(0), BASE, 0, 16, MemType::NonCacheable);
    assert_eq!(m.events().wc_bursts, 3);
    // More lines than buffers, interleaved: every store a burst.
    let lines = P.wc_lines + 1;
    for round in 0..2 {
        for l in 0..lines {
            m.store(
                on(0),
                BASE + (10 + l) * LINE + round * 16,
                0,
                16,
                MemType::NonCacheable,
            );
        }
    }
    assert_eq!(m.events().wc_bursts, 3 + 2 * lines);
    // Device stores never gather.
    m.store(on(0), BASE, 0, 8, MemType::Device);
    m.store(on(0), BASE + 8, 0, 8, MemType::Device);
    assert_eq!(m.events().device_stores, 2);
    // Uncached accesses leave the caches alone.
    assert_eq!(m.events().dram_fills, 0);
}

#[test]
fn zva_allocates_without_a_fill() {
    let mut m = model(1);
    m.store(on(0), BASE, BASE, LINE, MemType::WriteBack);
    assert_eq!(m.events().zero_allocs, 1);
    assert_eq!(m.penalties().total(), 0);
    dc(&mut m, DcOp::Clean, BASE);
    assert_eq!(m.events().clean_writebacks, 1);
}

#[test]
fn set_way_clean_of_l2_writes_back_dirty_lines() {
    let mut m = model(1);
    store(&mut m, 0, BASE);
    let l1 = Geometry::cortex_a72().levels[0];
    let l2 = Geometry::cortex_a72().levels[1];
    // Clean+invalidate every set and way of L1 then L2, as a set/way flush does.
    for (level, c) in [(1u8, l1), (2, l2)] {
        for set in 0..c.sets {
            for way in 0..c.ways {
                let operand = SetWayOperand { level, set, way };
                m.dc_set_way(on(0), SetWayOp::CleanInvalidate, operand);
            }
        }
    }
    assert_eq!(m.events().set_way_writebacks, 1);
    assert_eq!(m.events().set_way, 256 * 2 + 1024 * 16);
    assert_eq!(m.penalties().cleans, P.wb);
    load(&mut m, 0, BASE);
    assert_eq!(m.events().dram_fills, 2);
}

#[test]
fn devices_do_not_touch_the_caches() {
    let mut m = model(1);
    store(&mut m, 0, BASE);
    m.device_write_begin(crate::DevCmd(1), BASE, 2 * LINE);
    m.device_write_end(crate::DevCmd(1), BASE, 2 * LINE);
    m.device_read_begin(crate::DevCmd(2), BASE, LINE);
    assert_eq!(m.events().device_write_lines, 2);
    assert_eq!(m.events().device_read_lines, 1);
    load(&mut m, 0, BASE);
    assert_eq!(m.events().l1_hits, 1);
    dc(&mut m, DcOp::Clean, BASE);
    assert_eq!(m.events().clean_writebacks, 1);
}

#[test]
fn parameters_are_overridable_by_name() {
    let mut p = Params::DEFAULT;
    assert!(p.set("dram", 100));
    assert!(p.set("wb", 80));
    assert!(!p.set("nonsense", 1));
    let mut m = CostModel::new(1, &Geometry::cortex_a72(), p);
    load(&mut m, 0, BASE);
    m.store(on(0), BASE + LINE, 0, 8, MemType::NonCacheable);
    assert_eq!(m.penalties().total(), 100 + 80);
    for k in Params::KEYS {
        assert!(Params::DEFAULT.clone().set(k, 1), "{k}");
    }
    assert!(Params::DEFAULT.describe().contains("dram=200"));
}

#[test]
fn a_store_stream_switches_to_write_streaming() {
    // 16-byte stores over 1 MiB, in order, as a frame is drawn.
    let run = |p: Params| {
        let mut m = CostModel::new(1, &Geometry::cortex_a72(), p);
        for i in 0..(1 << 20) / 16 {
            m.store(on(0), BASE + i * 16, 0, 16, MemType::WriteBack);
        }
        m
    };
    let lines = (1 << 20) / LINE;
    let off = run(Params { ws_l1: 0, ..P });
    assert_eq!(off.events().dram_fills, lines);
    let m = run(P);
    // The first ws_l1 - 1 lines are filled and allocated; then no fills: lines ws_l1 to
    // ws_l2 - 1 go into L2, the rest to DRAM.
    assert_eq!(m.events().dram_fills, P.ws_l1 - 1);
    assert_eq!(m.events().stream_l2, P.ws_l2 - P.ws_l1);
    assert_eq!(m.events().stream_dram, lines - (P.ws_l2 - 1));
    assert_eq!(m.events().stream_merged, (lines - (P.ws_l1 - 1)) * 3);
    assert_eq!(m.penalties().streams, m.events().stream_dram * P.wb);
    // A clean of a line streamed into L2 writes it back; of one streamed to DRAM not.
    let mut m = m;
    dc(&mut m, DcOp::Clean, BASE + P.ws_l1 * LINE);
    dc(&mut m, DcOp::Clean, BASE + (lines - 1) * LINE);
    assert_eq!(m.events().clean_writebacks, 1);
    assert_eq!(m.events().clean_nothing, 1);
}

#[test]
fn a_load_or_a_jump_ends_a_store_stream() {
    let mut m = model(1);
    for l in 0..P.ws_l1 - 1 {
        store(&mut m, 0, BASE + l * LINE);
    }
    load(&mut m, 0, BASE + 1000 * LINE); // a load miss
    store(&mut m, 0, BASE + (P.ws_l1 - 1) * LINE);
    store(&mut m, 0, BASE + 2000 * LINE); // not the next line
    assert_eq!(m.events().stream_l2 + m.events().stream_dram, 0);
    assert_eq!(m.events().dram_fills, P.ws_l1 + 2);
}
