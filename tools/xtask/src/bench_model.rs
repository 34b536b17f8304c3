//! `cargo xtask bench --model`: the benchmark run under the coherency sanitizer with its
//! memory-cost model (`cost=on`), and every frame, readback, sync, boundary and
//! hand-over record given its **modeled cycles** beside its icount cycles, with a
//! sensitivity run (DRAM latency, write-back cost, fault and TLBI prices at half and
//! double) and the verdicts that flip. The run is written as `model.json`
//! ([`crate::model_data`]), which `bench` puts into report.md; `--publish` puts it beside
//! the published run; `--linux` adds Linux's harness under the same model
//! ([`crate::linux_model`]).
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
//! plugin. The records that print no windows (sync, boundary, hand-over) get theirs from
//! the counter reads ([`crate::bench_windows`]). One run serves every parameter set: the
//! caches' behaviour does not depend on the latencies.

use crate::bench::{self, Record};
use crate::build;
use crate::demo::shown;
use crate::model_data::{ModelRun, Prices};
use crate::Result;
use cachemodel::{CostParams, CostUnits};
use serde_json::Value;
use std::collections::HashMap;
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
    /// The record's size (bytes).
    pub size: u64,
    /// Operations measured.
    pub reps: u64,
    /// Per phase: icount cycles over all operations.
    pub cycles: [u64; 3],
    /// Per phase: the cost model's charges over all operations.
    pub units: [CostUnits; 3],
    /// Page faults per operation (the kernel's count in the record).
    pub faults: u64,
    /// TLB invalidations per operation (the kernel's count in the record).
    pub tlbis: u64,
}

impl Row {
    /// Per operation, per phase: icount cycles plus the cache model's penalty under `p`
    /// (aggregated as the record's own figures: the phase total divided by `reps`).
    pub fn modeled(&self, p: &Prices) -> [u64; 3] {
        let reps = self.reps.max(1);
        std::array::from_fn(|i| (self.cycles[i] + self.units[i].penalty(&p.cache)) / reps)
    }

    /// Per operation: the faults' and TLB invalidations' prices (the kernel counts them
    /// per record, not per phase).
    pub fn events_cost(&self, p: &Prices) -> u64 {
        self.faults * p.events.fault + self.tlbis * p.events.tlbi
    }

    /// Per operation: modeled cycles in all (the phases and the events).
    pub fn total(&self, p: &Prices) -> u64 {
        self.modeled(p).iter().sum::<u64>() + self.events_cost(p)
    }

    /// Whether this is the row of record `r`.
    pub fn is(&self, r: &Record) -> bool {
        self.suite == r.suite
            && self.case == r.case
            && self.variant == r.variant
            && self.size == r.size
    }

    /// Per operation, per phase: icount cycles.
    pub fn icount(&self) -> [u64; 3] {
        let reps = self.reps.max(1);
        self.cycles.map(|c| c / reps)
    }
}

pub fn sub(a: CostUnits, b: CostUnits) -> CostUnits {
    CostUnits {
        l1_hit: a.l1_hit - b.l1_hit,
        l2_hit: a.l2_hit - b.l2_hit,
        dram: a.dram - b.dram,
        wb: a.wb - b.wb,
        maint: a.maint - b.maint,
    }
}

pub fn add(a: &mut CostUnits, b: CostUnits) {
    a.l1_hit += b.l1_hit;
    a.l2_hit += b.l2_hit;
    a.dram += b.dram;
    a.wb += b.wb;
    a.maint += b.maint;
}

/// One read of the cycle counter, as the plugin recorded it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Read {
    /// The value the `MRS` returned.
    pub value: u64,
    /// The charges of its CPU before it.
    pub units: CostUnits,
    /// The address of the `MRS`.
    pub pc: u64,
}

/// The plugin's `report.counters.tsv`, in execution order.
pub fn parse_reads(tsv: &str) -> Result<Vec<Read>> {
    let mut lines = tsv.lines();
    let header = lines.next().unwrap_or_default();
    if header != "cpu\tvalue\tinstructions\tpenalty\tl1_hit\tl2_hit\tdram\twb\tmaint\tpc" {
        return Err(format!("counter reads: unexpected header {header:?}"));
    }
    let mut out = Vec::new();
    for (i, line) in lines.enumerate() {
        let (rest, pc) = line.rsplit_once('\t').unwrap_or((line, ""));
        let pc = u64::from_str_radix(pc.trim_start_matches("0x"), 16)
            .map_err(|e| format!("counter reads line {}: pc {pc:?}: {e}", i + 2))?;
        let f: Vec<u64> = rest
            .split('\t')
            .map(|x| x.parse::<u64>())
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| format!("counter reads line {}: {e}", i + 2))?;
        let [_, value, _, _, l1, l2, dram, wb, maint] = f[..] else {
            return Err(format!(
                "counter reads line {}: {} fields",
                i + 2,
                f.len() + 1
            ));
        };
        let units = CostUnits {
            l1_hit: l1,
            l2_hit: l2,
            dram,
            wb,
            maint,
        };
        out.push(Read { value, units, pc });
    }
    Ok(out)
}

/// Counter value -> the charges before that read.
pub fn by_value(reads: &[Read]) -> HashMap<u64, CostUnits> {
    reads.iter().map(|r| (r.value, r.units)).collect()
}

/// A frame or readback record's printed windows: `(phase, start, end)`.
pub fn printed_windows(r: &Record) -> Result<Vec<(usize, u64, u64)>> {
    let key = r.key();
    if r.raw.get("windows_overflow").is_some() {
        return Err(format!("{key}: more windows than the bench could carry"));
    }
    let windows = r
        .raw
        .get("windows")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{key}: no windows (bench program too old?)"))?;
    windows
        .iter()
        .map(|w| {
            let v: Vec<u64> = w
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_u64).collect())
                .unwrap_or_default();
            match v[..] {
                [phase, start, end] if phase <= 2 && end >= start => {
                    Ok((phase as usize, start, end))
                }
                _ => Err(format!("{key}: bad window {w}")),
            }
        })
        .collect()
}

/// The row of record `r` from its windows' cycles and charges per phase, once they add
/// up to the record's `total_cycles` and to each phase field it prints (a phase it does
/// not print, e.g. Linux's frame present, must have no window).
pub fn checked_row(r: &Record, cycles: [u64; 3], units: [CostUnits; 3]) -> Result<Row> {
    let key = r.key();
    let reps = r.num("reps").unwrap_or(0.0) as u64;
    let total = r.num("total_cycles").unwrap_or(-1.0);
    if cycles.iter().sum::<u64>() as f64 != total {
        return Err(format!(
            "{key}: the windows add up to {} cycles, the record says {total}",
            cycles.iter().sum::<u64>()
        ));
    }
    for (i, name) in bench::phases(&r.suite).iter().enumerate() {
        let printed = r.num(name).unwrap_or(0.0);
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
        size: r.size,
        reps,
        cycles,
        units,
        faults: r.num("faults").unwrap_or(0.0) as u64,
        tlbis: r.num("tlbis").unwrap_or(0.0) as u64,
    })
}

/// Attribute one frame or readback record's windows.
pub fn attribute(r: &Record, reads: &HashMap<u64, CostUnits>) -> Result<Row> {
    let key = r.key();
    let mut cycles = [0u64; 3];
    let mut units = [CostUnits::default(); 3];
    for (phase, start, end) in printed_windows(r)? {
        let at = |value: u64| {
            reads
                .get(&value)
                .copied()
                .ok_or_else(|| format!("{key}: the plugin saw no counter read returning {value}"))
        };
        cycles[phase] += end - start;
        add(&mut units[phase], sub(at(end)?, at(start)?));
    }
    checked_row(r, cycles, units)
}

/// `cargo xtask bench --model [--publish] [--linux]`.
pub fn run(quick: bool, cost_params: &[String], publish: bool, linux: bool) -> Result<ExitCode> {
    if publish && quick {
        return Err("--model --publish records the full suite; drop --quick".into());
    }
    let root = build::root();
    if publish {
        crate::publish::clean_commit(&root)?;
    }
    let mut prices = Prices::DEFAULT;
    let mut extra = String::from(",cost=on");
    for kv in cost_params {
        let parsed = kv
            .split_once('=')
            .and_then(|(k, v)| Some((k, v.parse::<u64>().ok()?)));
        match parsed {
            Some((k, v)) if prices.set(k, v) => {
                // Only the cache model's parameters go to the plugin.
                if CostParams::KEYS.contains(&k) {
                    extra.push_str(&format!(",{k}={v}"));
                }
            }
            _ => {
                return Err(format!(
                    "--cost-param {kv}: expected KEY=NUMBER with KEY one of {:?}, fault or tlbi",
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
    let values = by_value(&reads);
    let mut rows: Vec<Row> = records
        .iter()
        .filter(|r| !bench::phases(&r.suite).is_empty())
        .map(|r| attribute(r, &values))
        .collect::<Result<_>>()?;
    // The records that print no windows: found in the counter reads.
    let (found, missed) = crate::bench_windows::find(&records, &reads, false);
    println!(
        "xtask: windows found in the counter reads for {} records without printed windows{}",
        found.len(),
        if missed.is_empty() {
            String::new()
        } else {
            format!("; not attributed: {}", missed.join(", "))
        }
    );
    rows.extend(found);
    let linux = if linux {
        Some(crate::linux_model::run(bench::GPU, &extra)?)
    } else {
        None
    };
    let run = ModelRun {
        rows,
        prices,
        command: bench::command_line(&m),
        git: crate::bench::git_describe(),
        linux,
    };
    let text = crate::report_model::section(&run, &records);
    println!("\n{text}");
    let dir = build::out_dir().join("bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut written = Vec::new();
    for (name, body) in [
        ("model.md", text),
        (
            "model.json",
            serde_json::to_string_pretty(&run.json()).map_err(|e| e.to_string())? + "\n",
        ),
        ("model.svg", crate::plot_model::model_svg(&run)?),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, body).map_err(|e| format!("{}: {e}", path.display()))?;
        println!("xtask: wrote {}", shown(&path));
        written.push(path);
    }
    println!(
        "xtask: `cargo xtask bench` puts this model run into report.md when its icount \
         figures are the run's"
    );
    if publish {
        crate::publish::publish_model(&root, &run, &written[1..])?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TSV: &str = "cpu\tvalue\tinstructions\tpenalty\tl1_hit\tl2_hit\tdram\twb\tmaint\tpc\n\
                       0\t100\t0\t0\t0\t0\t0\t0\t0\t0x1000\n\
                       0\t150\t0\t0\t5\t1\t2\t0\t0\t0x1008\n\
                       0\t200\t0\t0\t5\t1\t3\t1\t0\t0x1000\n\
                       0\t300\t0\t0\t5\t1\t3\t4\t2\t0x1008\n";

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
        let reads = by_value(&parse_reads(TSV).unwrap());
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
        let p = Prices::DEFAULT;
        let d = p.cache;
        assert_eq!(
            row.modeled(&p),
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
            row.modeled(&p)[0],
            (100 + 5 * d.l1_hit + d.l2_hit + 3 * d.dram + d.wb) / 2
        );
        // Faults and TLBIs are priced per operation from the record's counts.
        let mut r = record("[[0,100,150],[0,150,200]]", 100, [50, 0, 0], 2);
        r.raw.insert("faults".into(), serde_json::json!(3));
        r.raw.insert("tlbis".into(), serde_json::json!(1));
        let row = attribute(&r, &reads).unwrap();
        assert_eq!(row.events_cost(&p), 3 * p.events.fault + p.events.tlbi);
        assert_eq!(
            row.total(&p),
            row.modeled(&p).iter().sum::<u64>() + 3 * p.events.fault + p.events.tlbi
        );
    }

    #[test]
    fn windows_that_do_not_add_up_or_were_not_seen_fail() {
        let reads = by_value(&parse_reads(TSV).unwrap());
        let r = record("[[0,100,150]]", 51, [51, 0, 0], 1);
        assert!(attribute(&r, &reads).unwrap_err().contains("add up"));
        let r = record("[[0,100,150]]", 50, [49, 0, 0], 1);
        assert!(attribute(&r, &reads).unwrap_err().contains("write_cycles"));
        let r = record("[[0,100,151]]", 51, [51, 0, 0], 1);
        assert!(attribute(&r, &reads).unwrap_err().contains("151"));
        assert!(parse_reads("cpu\tvalue\n").is_err());
    }
}
