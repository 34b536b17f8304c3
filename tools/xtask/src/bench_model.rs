//! `cargo xtask bench --model`: the benchmark run under the coherency sanitizer with its
//! memory-cost model (`cost=on`), and every frame and readback record given its
//! **modeled cycles** beside its icount cycles, with a sensitivity run (DRAM latency
//! and write-back cost at half and double) and the verdicts that flip.
//!
//! How a record gets its modeled cycles, exactly: the `bench` program prints with each
//! frame and readback record the raw `PMCCNTR_EL0` values of every timed window its
//! cycles add up (`"windows":[[phase,start,end],...]`, `userland/bench/src/windows.rs`);
//! the plugin records at every `MRS PMCCNTR_EL0` the value it returned and the charges
//! its CPU had accumulated, by parameter (`report.counters.tsv`). A window's penalty
//! under any parameters is the difference of the charges at its two reads, priced; its
//! modeled cycles are `end - start` plus that penalty; the record's modeled figures
//! aggregate the windows exactly as its icount figures do (phase totals over the
//! operations, divided by `reps`). xtask checks that the windows add up to the record's
//! `total_cycles` and phase figures, and fails if any endpoint was not seen by the
//! plugin. One run serves every parameter set: the caches' behaviour does not depend on
//! the latencies.

use crate::bench::{self, Record};
use crate::build;
use crate::demo::shown;
use crate::report::int;
use crate::Result;
use cachemodel::{CostParams, CostUnits};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::fmt::Write;
use std::process::ExitCode;
use std::time::Duration;

/// The bench under the sanitizer is much slower than under icount alone.
const TIMEOUT: Duration = Duration::from_secs(40 * 60);

/// A record's windows, attributed: per phase, icount cycles and the cost model's
/// charges, summed over the operations measured.
#[derive(Clone, Debug)]
pub struct Row {
    /// `frame` or `readback`.
    pub suite: String,
    /// The record's case.
    pub case: String,
    /// The strategy.
    pub variant: String,
    /// Operations measured.
    pub reps: u64,
    /// Per phase: icount cycles over all operations.
    pub cycles: [u64; 3],
    /// Per phase: the cost model's charges over all operations.
    pub units: [CostUnits; 3],
}

impl Row {
    /// Per operation, per phase: icount cycles plus the penalty under `p` (aggregated as
    /// the record's own figures: the phase total divided by `reps`).
    pub fn modeled(&self, p: &CostParams) -> [u64; 3] {
        let reps = self.reps.max(1);
        std::array::from_fn(|i| (self.cycles[i] + self.units[i].penalty(p)) / reps)
    }

    /// Per operation, per phase: icount cycles.
    pub fn icount(&self) -> [u64; 3] {
        let reps = self.reps.max(1);
        self.cycles.map(|c| c / reps)
    }
}

fn sub(a: CostUnits, b: CostUnits) -> CostUnits {
    CostUnits {
        l1_hit: a.l1_hit - b.l1_hit,
        l2_hit: a.l2_hit - b.l2_hit,
        dram: a.dram - b.dram,
        wb: a.wb - b.wb,
        maint: a.maint - b.maint,
    }
}

fn add(a: &mut CostUnits, b: CostUnits) {
    a.l1_hit += b.l1_hit;
    a.l2_hit += b.l2_hit;
    a.dram += b.dram;
    a.wb += b.wb;
    a.maint += b.maint;
}

/// The plugin's `report.counters.tsv`: counter value -> charges before that read.
pub fn parse_reads(tsv: &str) -> Result<HashMap<u64, CostUnits>> {
    let mut lines = tsv.lines();
    let header = lines.next().unwrap_or_default();
    if header != "cpu\tvalue\tinstructions\tpenalty\tl1_hit\tl2_hit\tdram\twb\tmaint" {
        return Err(format!("counter reads: unexpected header {header:?}"));
    }
    let mut out = HashMap::new();
    for (i, line) in lines.enumerate() {
        let f: Vec<u64> = line
            .split('\t')
            .map(|x| x.parse::<u64>())
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| format!("counter reads line {}: {e}", i + 2))?;
        let [_, value, _, _, l1, l2, dram, wb, maint] = f[..] else {
            return Err(format!("counter reads line {}: {} fields", i + 2, f.len()));
        };
        let u = CostUnits {
            l1_hit: l1,
            l2_hit: l2,
            dram,
            wb,
            maint,
        };
        out.insert(value, u);
    }
    Ok(out)
}

/// Attribute one frame or readback record's windows.
pub fn attribute(r: &Record, reads: &HashMap<u64, CostUnits>) -> Result<Row> {
    let key = r.key();
    if r.raw.get("windows_overflow").is_some() {
        return Err(format!("{key}: more windows than the bench could carry"));
    }
    let windows = r
        .raw
        .get("windows")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{key}: no windows (bench program too old?)"))?;
    let mut cycles = [0u64; 3];
    let mut units = [CostUnits::default(); 3];
    for w in windows {
        let v: Vec<u64> = w
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        let [phase, start, end] = v[..] else {
            return Err(format!("{key}: bad window {w}"));
        };
        let phase = phase as usize;
        if phase > 2 || end < start {
            return Err(format!("{key}: bad window {w}"));
        }
        let at = |value: u64| {
            reads
                .get(&value)
                .copied()
                .ok_or_else(|| format!("{key}: the plugin saw no counter read returning {value}"))
        };
        cycles[phase] += end - start;
        add(&mut units[phase], sub(at(end)?, at(start)?));
    }
    let reps = r.num("reps").unwrap_or(0.0) as u64;
    let total = r.num("total_cycles").unwrap_or(-1.0);
    if cycles.iter().sum::<u64>() as f64 != total {
        return Err(format!(
            "{key}: the windows add up to {} cycles, the record says {total}",
            cycles.iter().sum::<u64>()
        ));
    }
    for (i, name) in bench::phases(&r.suite).iter().enumerate() {
        let printed = r.num(name).unwrap_or(-1.0);
        if (cycles[i] / reps.max(1)) as f64 != printed {
            return Err(format!(
                "{key}: {name} is {printed}, its windows give {}",
                cycles[i] / reps.max(1)
            ));
        }
    }
    Ok(Row {
        suite: r.suite.clone(),
        case: r.case.clone(),
        variant: r.variant.clone(),
        reps,
        cycles,
        units,
    })
}

/// The parameter sets: the run's (`d`), then DRAM latency and write-back cost at half
/// and double.
pub fn param_sets(d: CostParams) -> Vec<(String, CostParams)> {
    vec![
        ("model".into(), d),
        (
            format!("dram {}", d.dram / 2),
            CostParams {
                dram: d.dram / 2,
                ..d
            },
        ),
        (
            format!("dram {}", d.dram * 2),
            CostParams {
                dram: d.dram * 2,
                ..d
            },
        ),
        (format!("wb {}", d.wb / 2), CostParams { wb: d.wb / 2, ..d }),
        (format!("wb {}", d.wb * 2), CostParams { wb: d.wb * 2, ..d }),
    ]
}

/// The cheapest variant of `rows` by `cost`.
fn winner<'a>(rows: &[&'a Row], cost: impl Fn(&Row) -> u64) -> &'a str {
    rows.iter()
        .min_by_key(|r| cost(r))
        .map_or("-", |r| r.variant.as_str())
}

/// The report section: per suite and case, a table of icount and modeled cycles, then
/// the verdicts under icount and under every parameter set.
pub fn report(rows: &[Row], d: CostParams) -> String {
    let sets = param_sets(d);
    let mut t = String::new();
    let _ = writeln!(
        t,
        "## Modeled cycles (a model, not a measurement)\n\n\
         icount cycles are retired instructions (QEMU `-icount`); **modeled cycles** add the \
         penalties of the memory-cost model (`tools/cachemodel/src/cost.rs`): Cortex-A72 caches \
         (L1D 32 KiB 4-way per CPU as QEMU reports it, L2 1 MiB 16-way inclusive, LRU, write-back write-allocate; \
         ARM 100095), write streaming after {} lines (to DRAM after {}; 0: off), \
         l1={} l2={} dram={} wb={} maint={} cycles, {} write-combining buffers \
         (latencies: estimates from published Raspberry Pi 4 / Cortex-A72 measurements; table \
         and sources in `tools/cachemodel/src/cost/params.rs`). No prefetcher, no overlapping \
         misses: sequential cached reads are charged every miss in full, so the model is \
         pessimistic for them. Each record's windows are attributed exactly \
         (`cargo xtask bench --model`).\n",
        d.ws_l1, d.ws_l2, d.l1_hit, d.l2_hit, d.dram, d.wb, d.maint, d.wc_lines
    );
    let mut groups: Vec<(String, String)> = Vec::new();
    for r in rows {
        let g = (r.suite.clone(), r.case.clone());
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    let mut verdicts = String::new();
    let _ = writeln!(
        verdicts,
        "### Verdicts: the cheapest strategy per workload\n\n| workload | icount | {} | verdict |",
        sets.iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(verdicts, "|---|---|{}---|", "---|".repeat(sets.len()));
    for (suite, case) in &groups {
        let g: Vec<&Row> = rows
            .iter()
            .filter(|r| &r.suite == suite && &r.case == case)
            .collect();
        let names = bench::phases(suite);
        let _ = writeln!(
            t,
            "### {suite} {case}, per operation\n\n| strategy | icount total | modeled total | modeled / icount | modeled {} | modeled {} | modeled {} | DRAM charges | write-back charges |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|",
            names[0].trim_end_matches("_cycles"),
            names[1].trim_end_matches("_cycles"),
            names[2].trim_end_matches("_cycles"),
        );
        for r in &g {
            let m = r.modeled(&d);
            let i: u64 = r.icount().iter().sum();
            let total: u64 = m.iter().sum();
            let reps = r.reps.max(1);
            let dram: u64 = r.units.iter().map(|u| u.dram).sum();
            let wb: u64 = r.units.iter().map(|u| u.wb).sum();
            let _ = writeln!(
                t,
                "| {} | {} | {} | {:.2}x | {} | {} | {} | {} | {} |",
                r.variant,
                int(i as f64),
                int(total as f64),
                total as f64 / i.max(1) as f64,
                int(m[0] as f64),
                int(m[1] as f64),
                int(m[2] as f64),
                int((dram / reps) as f64),
                int((wb / reps) as f64),
            );
        }
        t.push('\n');
        let by_icount = winner(&g, |r| r.icount().iter().sum());
        let under: Vec<&str> = sets
            .iter()
            .map(|(_, p)| winner(&g, |r| r.modeled(p).iter().sum()))
            .collect();
        let verdict = if under.iter().all(|w| *w == by_icount) {
            "same under icount and every parameter set".to_string()
        } else if under.iter().all(|w| *w == under[0]) {
            format!(
                "**flips** from icount ({by_icount}) to {}, robust across the sensitivity range",
                under[0]
            )
        } else {
            let mut seen: Vec<&str> = Vec::new();
            for w in &under {
                if !seen.contains(w) {
                    seen.push(w);
                }
            }
            format!(
                "**flips** within the sensitivity range ({})",
                seen.join(" or ")
            )
        };
        let _ = writeln!(
            verdicts,
            "| {suite} {case} | {by_icount} | {} | {verdict} |",
            under.join(" | ")
        );
    }
    t.push_str(&verdicts);
    t
}

/// `cargo xtask bench --model`.
pub fn run(quick: bool, cost_params: &[String]) -> Result<ExitCode> {
    let mut base = CostParams::DEFAULT;
    let mut extra = String::from(",cost=on");
    for kv in cost_params {
        let parsed = kv
            .split_once('=')
            .and_then(|(k, v)| Some((k, v.parse::<u64>().ok()?)));
        match parsed {
            Some((k, v)) if base.set(k, v) => extra.push_str(&format!(",{k}={v}")),
            _ => {
                return Err(format!(
                    "--cost-param {kv}: expected KEY=NUMBER with KEY one of {:?}",
                    CostParams::KEYS
                ))
            }
        }
    }
    let so = crate::sanitize::plugin()?;
    let (mut m, elf) = bench::machine(quick)?;
    let s = crate::sanitize::attach(&mut m, &so, "bench-model", &elf, false)?;
    if let Some(arg) = m.plugin.as_mut() {
        arg.push_str(&extra);
    }
    println!("$ {}", bench::command_line(&m));
    let o = m.run_captured(TIMEOUT)?;
    let _ = std::fs::write(s.dir.join("serial.log"), &o.output);
    let records = bench::outcome_records(&o)?;
    println!(
        "xtask: bench under the cost model: {} records in {:.0?}",
        records.len(),
        o.elapsed
    );
    if let Ok(r) = s.report() {
        println!("sanitizer: {}", crate::sanitize::summary(&r));
        let z = &r["sanitizer"];
        for (key, what) in [
            ("walk_errors", "untranslatable addresses"),
            ("pa_mismatches", "translation mismatches with QEMU"),
            (
                "set_way_errors",
                "set/way operands outside the cache geometry",
            ),
        ] {
            if z[key].as_u64().is_some_and(|n| n > 0) {
                println!("sanitizer: {} {what}", z[key]);
            }
        }
    }
    let tsv_path = s.dir.join("report.counters.tsv");
    let tsv =
        std::fs::read_to_string(&tsv_path).map_err(|e| format!("{}: {e}", tsv_path.display()))?;
    let reads = parse_reads(&tsv)?;
    let rows: Vec<Row> = records
        .iter()
        .filter(|r| r.suite == "frame" || r.suite == "readback")
        .map(|r| attribute(r, &reads))
        .collect::<Result<_>>()?;
    let text = report(&rows, base);
    println!("\n{text}");
    let dir = build::out_dir().join("bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let md = dir.join("model.md");
    std::fs::write(&md, &text).map_err(|e| format!("{}: {e}", md.display()))?;
    let sets = param_sets(base);
    let json_rows: Vec<Value> = rows
        .iter()
        .map(|r| {
            let modeled: serde_json::Map<String, Value> = sets
                .iter()
                .map(|(n, p)| (n.clone(), json!(r.modeled(p))))
                .collect();
            json!({
                "suite": r.suite, "case": r.case, "variant": r.variant, "reps": r.reps,
                "icount_per_op": r.icount(), "modeled_per_op": modeled,
                "units_total": r.units.iter().map(|u| json!({
                    "l1_hit": u.l1_hit, "l2_hit": u.l2_hit, "dram": u.dram, "wb": u.wb, "maint": u.maint,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let params: serde_json::Map<String, Value> = sets
        .iter()
        .map(|(n, p)| (n.clone(), json!(p.describe())))
        .collect();
    let out = json!({"command": bench::command_line(&m), "params": params, "rows": json_rows});
    let js = dir.join("model.json");
    std::fs::write(&js, serde_json::to_string_pretty(&out).unwrap_or_default())
        .map_err(|e| format!("{}: {e}", js.display()))?;
    println!("xtask: wrote {}\nxtask: wrote {}", shown(&md), shown(&js));
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TSV: &str = "cpu\tvalue\tinstructions\tpenalty\tl1_hit\tl2_hit\tdram\twb\tmaint\n\
                       0\t100\t0\t0\t0\t0\t0\t0\t0\n\
                       0\t150\t0\t0\t5\t1\t2\t0\t0\n\
                       0\t200\t0\t0\t5\t1\t3\t1\t0\n\
                       0\t300\t0\t0\t5\t1\t3\t4\t2\n";

    fn record(windows: &str, total: u64, phases: [u64; 3], reps: u64) -> Record {
        bench::parse_record(&format!(
            "{{\"suite\":\"frame\",\"case\":\"full\",\"variant\":\"v\",\"size\":1,\"reps\":{reps},\
             \"cycles\":0,\"total_cycles\":{total},\"write_cycles\":{},\"sync_cycles\":{},\
             \"present_cycles\":{},\"lines_cleaned\":0,\"lines_invalidated\":0,\
             \"lines_clean_invalidated\":0,\"syscalls\":0,\"faults\":0,\"zaps\":0,\"tlbis\":0,\
             \"setway_ops\":0,\"windows\":{windows}}}",
            phases[0], phases[1], phases[2]
        ))
        .unwrap()
    }

    #[test]
    fn windows_get_the_charges_between_their_reads() {
        let reads = parse_reads(TSV).unwrap();
        let r = record(
            "[[0,100,150],[1,150,200],[2,200,300]]",
            200,
            [50, 50, 100],
            1,
        );
        let row = attribute(&r, &reads).unwrap();
        assert_eq!(row.cycles, [50, 50, 100]);
        assert_eq!((row.units[0].dram, row.units[0].l1_hit), (2, 5));
        assert_eq!((row.units[1].dram, row.units[1].wb), (1, 1));
        assert_eq!((row.units[2].wb, row.units[2].maint), (3, 2));
        let d = CostParams::DEFAULT;
        assert_eq!(
            row.modeled(&d),
            [
                50 + 5 * d.l1_hit + d.l2_hit + 2 * d.dram,
                50 + d.dram + d.wb,
                100 + 3 * d.wb + 2 * d.maint
            ]
        );
        // Two operations: per-operation figures are the totals halved, as the bench does.
        let r = record("[[0,100,150],[0,150,200]]", 100, [50, 0, 0], 2);
        let row = attribute(&r, &reads).unwrap();
        assert_eq!(row.icount(), [50, 0, 0]);
        assert_eq!(
            row.modeled(&d)[0],
            (100 + 5 * d.l1_hit + d.l2_hit + 3 * d.dram + d.wb) / 2
        );
    }

    #[test]
    fn windows_that_do_not_add_up_or_were_not_seen_fail() {
        let reads = parse_reads(TSV).unwrap();
        let r = record("[[0,100,150]]", 51, [51, 0, 0], 1);
        assert!(attribute(&r, &reads).unwrap_err().contains("add up"));
        let r = record("[[0,100,150]]", 50, [49, 0, 0], 1);
        assert!(attribute(&r, &reads).unwrap_err().contains("write_cycles"));
        let r = record("[[0,100,151]]", 51, [51, 0, 0], 1);
        assert!(attribute(&r, &reads).unwrap_err().contains("151"));
        assert!(parse_reads("cpu\tvalue\n").is_err());
    }

    #[test]
    fn verdicts_say_what_flips() {
        let row = |variant: &str, cycles: u64, dram: u64| Row {
            suite: "readback".into(),
            case: "1MiB".into(),
            variant: variant.into(),
            reps: 1,
            cycles: [cycles, 0, 0],
            units: [
                CostUnits {
                    dram,
                    ..CostUnits::default()
                },
                CostUnits::default(),
                CostUnits::default(),
            ],
        };
        // Cheapest in instructions, but 1000 DRAM charges: loses under every set.
        let rows = vec![row("uncached", 100, 1000), row("cached", 1000, 10)];
        let t = report(&rows, CostParams::DEFAULT);
        assert!(t.contains("| readback 1MiB | uncached | cached | cached | cached | cached | cached | **flips** from icount (uncached) to cached, robust"), "{t}");
        let rows = vec![row("a", 100, 0), row("b", 1000, 0)];
        assert!(report(&rows, CostParams::DEFAULT)
            .contains("same under icount and every parameter set"));
    }
}
