//! `cargo xtask sanitize --cost`: the memory-cost model's whole-run figures side by
//! side, one row per run (from each report's `cost` section).

use serde_json::Value;

fn n(v: &Value, path: &[&str]) -> u64 {
    path.iter().fold(v, |v, k| &v[*k]).as_u64().unwrap_or(0)
}

/// `1234567` as `1,234,567`.
fn grouped(v: u64) -> String {
    crate::report::int(v as f64)
}

/// The Markdown table of the runs' cost sections (`(run name, cost JSON)`).
pub fn table(costs: &[(String, Value)]) -> String {
    let mut t = String::new();
    let p = &costs[0].1["params"];
    t.push_str(&format!(
        "Memory-cost model, whole runs (boot included). A **model**, not a measurement: \
         Cortex-A72 caches (L1D 32 KiB 4-way per CPU as QEMU reports it, L2 1 MiB 16-way inclusive, LRU, \
         write-back write-allocate, write streaming after {} lines, to DRAM after {}), penalties in \
         cycles: l1={} l2={} dram={} wb={} maint={}, {} write-combining buffers; sources in `tools/cachemodel/src/cost/params.rs`. \
         Modeled cycles = instructions + penalties.\n\n",
        n(p, &["ws_l1"]),
        n(p, &["ws_l2"]),
        n(p, &["l1_hit"]),
        n(p, &["l2_hit"]),
        n(p, &["dram"]),
        n(p, &["wb"]),
        n(p, &["maint"]),
        n(p, &["wc_lines"]),
    ));
    t.push_str(
        "| run | instructions | penalty | modeled cycles | penalty: DRAM fills | uncached loads | \
         write-backs (eviction, maintenance, streaming) | uncached stores | maintenance ops | DRAM fills | \
         dirty lines cleaned / clean lines cleaned | uncached loads | uncached stores (bursts) |\n",
    );
    t.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (name, c) in costs {
        let pen = &c["penalties"];
        let e = &c["events"];
        t.push_str(&format!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} | {} | {} ({}) |\n",
            grouped(n(c, &["instructions"])),
            grouped(n(c, &["penalty"])),
            grouped(n(c, &["modeled_cycles"])),
            grouped(n(pen, &["fills"])),
            grouped(n(pen, &["nc_loads"])),
            grouped(n(pen, &["evictions"]) + n(pen, &["cleans"]) + n(pen, &["streams"])),
            grouped(n(pen, &["nc_stores"])),
            grouped(n(pen, &["maint"])),
            grouped(n(e, &["dram_fills"])),
            grouped(n(e, &["clean_writebacks"]) + n(e, &["set_way_writebacks"])),
            grouped(n(e, &["clean_nothing"])),
            grouped(n(e, &["nc_loads"])),
            grouped(n(e, &["nc_stores"]) + n(e, &["device_stores"])),
            grouped(n(e, &["wc_bursts"]) + n(e, &["device_stores"])),
        ));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_row_per_run_with_grouped_figures() {
        let c = json!({
            "params": {"l1_hit": 0, "l2_hit": 16, "dram": 200, "wb": 40, "maint": 4, "wc_lines": 4},
            "instructions": 1234567, "penalty": 1000, "modeled_cycles": 1235567,
            "penalties": {"fills": 600, "nc_loads": 200, "evictions": 40, "cleans": 80, "nc_stores": 40, "maint": 40},
            "events": {"dram_fills": 3, "clean_writebacks": 2, "set_way_writebacks": 0, "clean_nothing": 8,
                       "nc_loads": 1, "nc_stores": 4, "device_stores": 0, "wc_bursts": 1},
        });
        let t = table(&[("demo".into(), c)]);
        assert!(t.contains("dram=200"), "{t}");
        assert!(
            t.contains("| demo | 1,234,567 | 1,000 | 1,235,567 | 600 | 200 | 120 | 40 | 40 | 3 | 2 / 8 | 1 | 4 (1) |"),
            "{t}"
        );
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
    }
}
