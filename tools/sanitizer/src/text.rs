//! The human-readable report, rendered from the JSON one (so both say the same).

use serde_json::Value;
use std::fmt::Write;

fn n(v: &Value, path: &[&str]) -> u64 {
    let mut at = v;
    for p in path {
        at = &at[*p];
    }
    at.as_u64().unwrap_or(0)
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn party(v: &Value) -> String {
    if v.is_string() {
        return s(v);
    }
    match v["kind"].as_str() {
        Some("device command") => {
            let mut out = format!(
                "{}: {} (command {})",
                s(&v["device"]),
                s(&v["command"]),
                s(&v["id"])
            );
            if !v["submitted_by"].is_null() {
                let by = &v["submitted_by"];
                let _ = write!(
                    out,
                    ", submitted by CPU {} at {}",
                    s(&by["cpu"]),
                    s(&by["at"])
                );
            }
            out
        }
        _ => format!("CPU {} at {}", s(&v["cpu"]), s(&v["at"])),
    }
}

/// Render a report.
pub fn render(r: &Value) -> String {
    let mut t = String::new();
    let m = &r["maintenance"];
    let _ = writeln!(
        t,
        "sanitizer: {} violations ({} lines); maintenance issued {} line ops, needed {}, waste {} \
         (clean of non-dirty lines {}, invalidate with nothing stale {}, on lines no device touched {})",
        n(r, &["violations"]),
        n(r, &["violation_lines"]),
        n(m, &["issued"]),
        n(m, &["needed"]),
        n(m, &["waste"]),
        n(m, &["clean_not_dirty"]),
        n(m, &["invalidate_not_stale"]),
        n(m, &["on_cpu_only_lines"]),
    );
    let mut ops = Vec::new();
    if let Some(dc) = m["dc"].as_object() {
        for (name, c) in dc {
            ops.push(format!(
                "{name} {} ({} effective)",
                n(c, &["issued"]),
                n(c, &["effective"])
            ));
        }
    }
    let _ = writeln!(
        t,
        "  {}, set/way {}, DSB {} ({} completing), DC ZVA {}, DC CVAU {}, EL0 DC trapped {}",
        ops.join(", "),
        n(m, &["set_way"]),
        n(m, &["dsb"]),
        n(m, &["dsb_completing"]),
        n(m, &["dc_zva"]),
        n(m, &["dc_cvau"]),
        n(m, &["dc_el0_refused"]),
    );
    let tr = &r["traffic"];
    let _ = writeln!(
        t,
        "  traffic: {} loads, {} stores cacheable; {} loads, {} stores non-cacheable; devices read {} \
         and wrote {} lines in {} commands; {} syscalls",
        n(tr, &["loads"]),
        n(tr, &["stores"]),
        n(tr, &["nc_loads"]),
        n(tr, &["nc_stores"]),
        n(tr, &["device_read_lines"]),
        n(tr, &["device_write_lines"]),
        n(tr, &["device_commands"]),
        n(tr, &["syscalls"]),
    );
    let f = &r["frames"];
    if !f.is_null() {
        let _ = writeln!(
            t,
            "  frames: {} transfers, {} of them read bytes the modelled RAM does not hold ({} bytes), \
             {} unknown lines, {} flushes; would-have-read image: {}",
            n(f, &["transfers"]),
            n(f, &["transfers_differing"]),
            n(f, &["bytes_differing"]),
            n(f, &["unknown_lines"]),
            n(f, &["flushes"]),
            s(&f["final_image"]),
        );
    }
    let c = &r["cost"];
    if !c.is_null() {
        let p = &c["params"];
        let _ = writeln!(
            t,
            "  cost model (a model, not a measurement: Cortex-A72 caches, l1={} l2={} dram={} wb={} maint={} wc={} \
             ws={} ws_l2={}): {} instructions + {} penalty = {} modeled cycles",
            n(p, &["l1_hit"]),
            n(p, &["l2_hit"]),
            n(p, &["dram"]),
            n(p, &["wb"]),
            n(p, &["maint"]),
            n(p, &["wc_lines"]),
            n(p, &["ws_l1"]),
            n(p, &["ws_l2"]),
            n(c, &["instructions"]),
            n(c, &["penalty"]),
            n(c, &["modeled_cycles"]),
        );
        let pen = &c["penalties"];
        let _ = writeln!(
            t,
            "    penalty: hits {}, DRAM fills {}, uncached loads {}, eviction write-backs {}, \
             maintenance write-backs {}, uncached stores {}, maintenance ops {}, streamed to DRAM {}",
            n(pen, &["hits"]),
            n(pen, &["fills"]),
            n(pen, &["nc_loads"]),
            n(pen, &["evictions"]),
            n(pen, &["cleans"]),
            n(pen, &["nc_stores"]),
            n(pen, &["maint"]),
            n(pen, &["streams"]),
        );
        let e = &c["events"];
        let _ = writeln!(
            t,
            "    events: L1 hits {}, L2 hits {}, snoops {}, DRAM fills {}, DC ZVA allocations {}, \
             L2 evictions {} ({} dirty), cleans of dirty lines {}, of clean lines {}, DC IVAC {}, \
             set/way {} ({} write-backs), uncached loads {}, uncached stores {} ({} bursts, {} gathered), \
             Device stores {}, write streaming: {} lines into L2, {} to DRAM ({} stores merged), \
             cycle-counter reads {}",
            n(e, &["l1_hits"]),
            n(e, &["l2_hits"]),
            n(e, &["snoops"]),
            n(e, &["dram_fills"]),
            n(e, &["zero_allocs"]),
            n(e, &["l2_evictions"]),
            n(e, &["evict_writebacks"]),
            n(e, &["clean_writebacks"]),
            n(e, &["clean_nothing"]),
            n(e, &["invalidates"]),
            n(e, &["set_way"]),
            n(e, &["set_way_writebacks"]),
            n(e, &["nc_loads"]),
            n(e, &["nc_stores"]),
            n(e, &["wc_bursts"]),
            n(e, &["wc_merged"]),
            n(e, &["device_stores"]),
            n(e, &["stream_l2"]),
            n(e, &["stream_dram"]),
            n(e, &["stream_merged"]),
            n(c, &["counter_reads"]),
        );
    }
    let z = &r["sanitizer"];
    let bus = z["bus_errors"].as_array().map_or(0, |a| a.len());
    let errs = z["errors"].as_array().map_or(0, |a| a.len());
    let limits = n(z, &["walk_errors"])
        + n(z, &["pa_mismatches"])
        + n(z, &["set_way_errors"])
        + bus as u64
        + errs as u64;
    if limits > 0 {
        let _ = writeln!(
            t,
            "  sanitizer limits: {} untranslatable addresses, {} translation mismatches with QEMU, \
             {} set/way operands outside the cache geometry, {} unreadable chains, {} output errors",
            n(z, &["walk_errors"]),
            n(z, &["pa_mismatches"]),
            n(z, &["set_way_errors"]),
            bus,
            errs
        );
    }
    if n(z, &["stale_tlb"]) > 0 {
        let _ = writeln!(
            t,
            "  {} accesses through a translation another CPU had just removed (before its TLBI): placed at QEMU's address",
            n(z, &["stale_tlb"])
        );
    }
    if let Some(by) = r["by_kind"].as_object() {
        let kinds: Vec<String> = by
            .iter()
            .filter(|(_, c)| c.as_u64().unwrap_or(0) > 0)
            .map(|(k, c)| format!("{k} {c}"))
            .collect();
        if !kinds.is_empty() {
            let _ = writeln!(t, "  by kind: {}", kinds.join(", "));
        }
    }
    for (i, d) in r["details"].as_array().into_iter().flatten().enumerate() {
        let _ = writeln!(
            t,
            "violation {}: {}: {}",
            i + 1,
            s(&d["kind"]),
            s(&d["why"])
        );
        let _ = writeln!(
            t,
            "    line     PA {}, VA {}, bytes {}",
            s(&d["line_pa"]),
            s(&d["line_va"]),
            s(&d["bytes"])
        );
        if !d["buffer"].is_null() {
            let _ = writeln!(t, "    buffer   {}", s(&d["buffer"]));
        }
        let _ = writeln!(t, "    by       {}", party(&d["by"]));
        let w = &d["writer"];
        if !w.is_null() {
            let _ = writeln!(t, "    written  {} ({})", party(w), s(&w["kind"]));
            for call in w["then"].as_array().into_iter().flatten() {
                let _ = writeln!(
                    t,
                    "    then     {} from {}: the kernel issued {}",
                    s(&call["call"]),
                    s(&call["caller"]),
                    s(&call["kernel_issued"])
                );
            }
        }
    }
    t
}
