//! The cost model beside the sanitizer (`cost=on`): it sees the same events, and it
//! changes nothing the sanitizer reports.

use super::guest::*;
use crate::insn::DcVa;
use crate::Options;
use cachemodel::CostParams;

fn frame(g: &mut Guest, clean: bool) {
    setup_resource(g);
    g.store(BUF, &[7; 1024], 0x40_1000);
    if clean {
        g.dc(DcVa::Cvac, BUF, 1024);
    }
    g.dc(DcVa::Cvac, BUF + 4096, 128); // lines never written: clean of clean lines
    g.dsb();
    g.load(CMD + 0x200, 8, 0x40_2000); // a non-cacheable load
    let h = transfer(g);
    g.complete(h);
}

fn without_cost(mut r: serde_json::Value) -> serde_json::Value {
    r.as_object_mut().unwrap().remove("cost");
    r
}

#[test]
fn the_cost_model_changes_nothing_the_sanitizer_reports() {
    for clean in [true, false] {
        let mut plain = Guest::new(None);
        frame(&mut plain, clean);
        let mut costed = Guest::with(Options {
            cost: Some(CostParams::DEFAULT),
            ..Options::default()
        });
        frame(&mut costed, clean);
        let (a, b) = (plain.s.report(), costed.s.report());
        assert!(a.json["cost"].is_null());
        assert!(!b.json["cost"].is_null());
        assert_eq!(without_cost(a.json), without_cost(b.json.clone()));
        assert!(b.text.contains("modeled cycles"), "{}", b.text);
    }
}

#[test]
fn the_cost_model_counts_what_the_guest_did() {
    let mut g = Guest::with(Options {
        cost: Some(CostParams::DEFAULT),
        ..Options::default()
    });
    frame(&mut g, true);
    g.s.executed(0, 1000);
    let c = g.s.report().json["cost"].clone();
    let e = &c["events"];
    let p = CostParams::DEFAULT;
    assert_eq!(e["clean_writebacks"], 16, "{c}");
    assert_eq!(e["clean_nothing"], 2, "{c}");
    assert!(e["nc_loads"].as_u64().unwrap() >= 1, "{c}");
    assert!(e["device_read_lines"].as_u64().unwrap() >= 16, "{c}");
    // The simulated guest writes whole lines at once (the model's DC ZVA case):
    // allocated without a fill.
    assert_eq!(e["zero_allocs"], 16, "{c}");
    assert_eq!(e["dram_fills"], 0, "{c}");
    assert_eq!(c["penalties"]["cleans"], 16 * p.wb, "{c}");
    assert_eq!(c["penalties"]["maint"], 18 * p.maint, "{c}");
    assert_eq!(c["instructions"], 1000);
    assert_eq!(
        c["modeled_cycles"].as_u64(),
        Some(1000 + c["penalty"].as_u64().unwrap())
    );
}

#[test]
fn cycle_counter_reads_carry_the_penalty_so_far() {
    let mut g = Guest::with(Options {
        cost: Some(CostParams::DEFAULT),
        ..Options::default()
    });
    g.s.executed(0, 10);
    g.s.counter_read(0, 8, 3, 0x40_0000);
    assert_eq!(g.s.counter_pending(0), Some(8));
    g.s.counter_value(0, 5000);
    assert_eq!(g.s.counter_pending(0), None);
    g.store(BUF, &[1; 8], 0x40_1000); // one DRAM fill
    g.s.counter_read(0, 9, 0, 0x40_0008);
    g.s.counter_value(0, 5100);
    g.s.counter_value(0, 5200); // nothing pending: ignored
    let c = g.s.cost().unwrap();
    assert_eq!(c.reads.len(), 2);
    assert_eq!((c.reads[0].value, c.reads[0].instructions), (5000, 7));
    assert_eq!(c.reads[0].penalty, 0);
    assert_eq!(
        c.reads[1].penalty - c.reads[0].penalty,
        CostParams::DEFAULT.dram
    );
    assert_eq!(c.reads[1].units.dram, 1);
    let tsv = c.reads_tsv();
    let mut lines = tsv.lines();
    assert_eq!(lines.next(), Some(crate::cost::Cost::TSV_HEADER.trim_end()));
    assert_eq!(lines.next(), Some("0\t5000\t7\t0\t0\t0\t0\t0\t0\t0x400000"));
    assert_eq!(
        lines.next(),
        Some("0\t5100\t10\t200\t0\t0\t1\t0\t0\t0x400008")
    );
}
