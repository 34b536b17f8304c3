//! `cargo xtask bench --model --linux`: Linux's harness run (`crate::linux`) under the
//! same memory-cost model, its records priced like this kernel's.
//!
//! Every record of the harness prints its timed windows' counter values (as this
//! kernel's frame and readback records do; its `DMA_BUF_IOCTL_SYNC`s are timed at the
//! `svc` with the same `mrs; svc #0; mrs` sequence), priced from the plugin's reads in
//! order ([`crate::bench_windows`] with `printed`; a harness too old to print them has
//! its sync windows searched for by length, as this kernel's sync suite). The frame and
//! readback rows stand beside this kernel's strategies ([`phased_section`]). The
//! sanitizer's
//! coherency verdict on Linux is not used (it models this kernel's devices and calls);
//! only the cost model's charges are.

use crate::bench_model::{parse_reads, Row};
use crate::model_data::{LinuxRows, Prices};
use crate::report::{int, size, table};
use crate::report_model::{event_cells, EVENT_HEADS};
use crate::sanitize::no_comma;
use crate::{build, Result};
use std::fmt::Write;
use std::time::Duration;

/// Linux under the plugin is slower than under icount alone.
const TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Boot the Linux harness under the plugin with `cost` (the plugin's `,cost=on,...`).
pub fn run(gpu: &str, cost: &str) -> Result<LinuxRows> {
    let so = crate::sanitize::plugin()?;
    let (mut m, kernel) = crate::linux::machine(gpu)?;
    let dir = build::out_dir().join("sanitize").join("linux-model");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let ram = dir.join("ram");
    m.ram_file = Some(ram.clone());
    m.plugin = Some(format!(
        "{},ram={},report={}{cost}",
        no_comma(&so)?,
        no_comma(&ram)?,
        no_comma(&dir.join("report.json"))?
    ));
    println!("$ {}", crate::bench::command_line(&m));
    let o = m.run_captured(TIMEOUT);
    let _ = std::fs::remove_file(&ram);
    let o = o?;
    let _ = std::fs::write(dir.join("serial.log"), &o.output);
    let records = crate::linux::records_of(&o)?;
    println!(
        "xtask: Linux under the cost model: {} records in {:.0?}",
        records.len(),
        o.elapsed
    );
    // The plugin only observes: the figures must be those of the Linux run without it.
    let same = same_as_published(&records);
    match &same {
        Some(d) if d.is_empty() => println!(
            "xtask: Linux under the plugin: every icount figure equals the published Linux run's"
        ),
        Some(d) => println!(
            "xtask: Linux under the plugin: {} figures differ from the published Linux run's: {}",
            d.len(),
            d.join("; ")
        ),
        None => println!("xtask: no published Linux run to compare the icount figures with"),
    }
    let tsv_path = dir.join("report.counters.tsv");
    let tsv =
        std::fs::read_to_string(&tsv_path).map_err(|e| format!("{}: {e}", tsv_path.display()))?;
    let reads = parse_reads(&tsv)?;
    let (rows, missed) = crate::bench_windows::find(&records, &reads, true);
    println!(
        "xtask: Linux: windows found for {} records{}",
        rows.len(),
        if missed.is_empty() {
            String::new()
        } else {
            format!("; not attributed: {}", missed.join(", "))
        }
    );
    Ok(LinuxRows {
        differs_from_published: same.map(|d| d.len()),
        rows,
        missed,
        package: kernel.package,
    })
}

/// How the records' `cycles` and `total_cycles` differ from the published Linux run's
/// (`None`: none published).
fn same_as_published(records: &[crate::bench::Record]) -> Option<Vec<String>> {
    let p = crate::publish::load_dir(&build::root()).ok()?;
    let published = p.linux?.records;
    Some(
        records
            .iter()
            .filter_map(|r| {
                let o = published.iter().find(|o| o.key() == r.key());
                let same = o.is_some_and(|o| {
                    ["cycles", "total_cycles"]
                        .iter()
                        .all(|f| o.num(f) == r.num(f))
                });
                (!same).then(|| r.key())
            })
            .collect(),
    )
}

/// `(icount, modeled)` of the row of `suite`, `case`, `variant` at `size`.
fn of(rows: &[Row], p: &Prices, key: (&str, &str, &str, u64)) -> Option<(u64, u64)> {
    rows.iter()
        .find(|r| {
            (
                r.suite.as_str(),
                r.case.as_str(),
                r.variant.as_str(),
                r.size,
            ) == key
        })
        .map(|r| (r.icount()[0], r.total(p)))
}

/// The columns of the two sync tables after their first ones: this kernel's figure
/// beside Linux's, in icount and modeled cycles.
const COMPARED: [&str; 6] = [
    "here icount",
    "Linux icount",
    "Linux / here",
    "here modeled",
    "Linux modeled",
    "Linux / here",
];

/// `b / a` as `1.23x`; `-` without an `a` (or a zero one).
fn times(a: Option<u64>, b: u64) -> String {
    a.filter(|a| *a > 0)
        .map_or("-".into(), |a| format!("{:.2}x", b as f64 / a as f64))
}

/// Linux's END WRITE (which cleans the whole buffer) beside this kernel's END WRITE of
/// a buffer with an uncached alias (which cleans its whole range at once, the Linux
/// way; `boundary` suite).
fn end_write_table(ours: &[Row], linux: &LinuxRows, p: &Prices) -> String {
    let mut sizes: Vec<u64> = linux
        .rows
        .iter()
        .filter(|r| r.suite == "sync")
        .map(|r| r.size)
        .collect();
    sizes.sort_unstable();
    sizes.dedup();
    let rows: Vec<Vec<String>> = sizes
        .into_iter()
        .filter_map(|s| {
            let (hi, hm) = of(
                ours,
                p,
                ("boundary", "END WRITE, uncached alias", "whole", s),
            )?;
            let (li, lm) = of(&linux.rows, p, ("sync", "END WRITE", "linux-ioctl", s))?;
            Some(vec![
                size(s),
                int(hi as f64),
                int(li as f64),
                times(Some(hi), li),
                int(hm as f64),
                int(lm as f64),
                times(Some(hm), lm),
            ])
        })
        .collect();
    table(&[&["size"][..], &COMPARED].concat(), &rows)
}

/// This kernel's sync rows beside Linux's, in icount and modeled cycles.
pub fn section(ours: &[Row], linux: &LinuxRows, p: &Prices) -> String {
    let mut o = String::from("\n## Linux under the model: sync\n\n");
    let _ = writeln!(
        o,
        "Linux ({}) booted with the harness under the same plugin and prices; its \
         `DMA_BUF_IOCTL_SYNC` windows printed by the harness and priced from the counter reads{}. \
         Per operation. \
         The calls do different work: this kernel's `whole` sync maintains no line here \
         (no device touches these buffers; the clean moves to the present, `boundary`), \
         Linux's ioctl cleans or invalidates the whole buffer. Like for like first: an \
         END WRITE that cleans the whole buffer (here: a buffer with an uncached alias, \
         `boundary`), then every sync call.\n",
        linux.package,
        match linux.differs_from_published {
            Some(0) => "; its icount figures are exactly the published Linux run's (without \
                        the plugin)"
                .to_string(),
            Some(n) => format!("; {n} of its icount figures differ from the published Linux run's"),
            None => String::new(),
        }
    );
    o.push_str(&end_write_table(ours, linux, p));
    o.push('\n');
    let rows: Vec<Vec<String>> = linux
        .rows
        .iter()
        .filter(|l| l.suite == "sync")
        .map(|l| {
            let us = ours.iter().find(|r| {
                r.suite == "sync" && r.case == l.case && r.size == l.size && r.variant == "whole"
            });
            let n = |x: Option<u64>| x.map_or("-".into(), |x| int(x as f64));
            let (ui, um) = (us.map(|r| r.icount()[0]), us.map(|r| r.total(p)));
            let (li, lm) = (l.icount()[0], l.total(p));
            vec![
                l.case.clone(),
                size(l.size),
                n(ui),
                int(li as f64),
                times(ui, li),
                n(um),
                int(lm as f64),
                times(um, lm),
            ]
        })
        .collect();
    o.push_str(&table(&[&["case", "size"][..], &COMPARED].concat(), &rows));
    if !linux.missed.is_empty() {
        let _ = writeln!(o, "\nNot attributed: {}.", linux.missed.join(", "));
    }
    o
}

/// The figure of `r` that compares across the two systems under `p`: modeled cycles per
/// operation, without the readback's device phase (Linux's device write is a blocking
/// `read(2)` outside its records' cycles). `None` prices: icount.
fn comparable(r: &Row, p: Option<&Prices>) -> u64 {
    let phases = match p {
        Some(p) => r.modeled(p),
        None => r.icount(),
    };
    let skip = usize::from(r.suite == "readback");
    phases[skip..].iter().sum::<u64>() + p.map_or(0, |p| r.events_cost(p))
}

/// One frame or readback workload: this kernel's strategies and Linux's, in icount and
/// modeled cycles, with the sensitivity range and the model's charges.
fn phased_table(ours: &[&Row], linux: &[&Row], p: &Prices, sets: &[(String, Prices)]) -> String {
    let Some(first) = linux.first() else {
        return String::new();
    };
    let names = crate::bench::phases(&first.suite);
    let base = linux
        .iter()
        .find(|r| r.variant == "linux-ioctl")
        .map(|r| comparable(r, Some(p)));
    let mut head: Vec<String> = ["strategy", "icount", "modeled", "sensitivity range"]
        .map(String::from)
        .to_vec();
    head.extend(
        names
            .iter()
            .map(|n| n.trim_end_matches("_cycles").to_string()),
    );
    // L2 hits, DRAM, write-backs, DC ops (faults and TLBIs are in the charge).
    head.extend(
        ["faults, TLBIs"]
            .into_iter()
            .chain(EVENT_HEADS.into_iter().take(4))
            .chain(["modeled / Linux ioctl"])
            .map(String::from),
    );
    let rows: Vec<Vec<String>> = ours
        .iter()
        .map(|r| ("here", *r))
        .chain(linux.iter().map(|r| ("Linux", *r)))
        .map(|(who, r)| {
            let m = comparable(r, Some(p));
            let range: Vec<u64> = sets.iter().map(|(_, s)| comparable(r, Some(s))).collect();
            let mut v = vec![
                format!("{who}, {}", r.variant),
                int(comparable(r, None) as f64),
                int(m as f64),
                format!(
                    "{} - {}",
                    int(range.iter().copied().min().unwrap_or(0) as f64),
                    int(range.iter().copied().max().unwrap_or(0) as f64)
                ),
            ];
            v.extend(r.modeled(p).iter().map(|x| int(*x as f64)));
            v.push(int(r.events_cost(p) as f64));
            v.extend(event_cells(r).into_iter().take(4));
            v.push(
                base.filter(|b| *b > 0)
                    .map_or("-".into(), |b| format!("{:.2}x", m as f64 / b as f64)),
            );
            v
        })
        .collect();
    let head: Vec<&str> = head.iter().map(String::as_str).collect();
    let mut o = table(&head, &rows);
    // `linux-mmap-nosync` is left out: on a non-coherent device it is not correct.
    let all: Vec<&Row> = ours
        .iter()
        .chain(linux)
        .copied()
        .filter(|r| r.variant != "linux-mmap-nosync")
        .collect();
    let cheapest = |p: Option<&Prices>| {
        all.iter()
            .min_by_key(|r| comparable(r, p))
            .map_or("-".to_string(), |r| r.variant.clone())
    };
    let under: Vec<String> = sets.iter().map(|(_, s)| cheapest(Some(s))).collect();
    let robust = under.iter().all(|w| *w == under[0]);
    let _ = writeln!(
        o,
        "\nCheapest correct strategy (all but `linux-mmap-nosync`): under icount `{}`, \
         under the model `{}`{}.",
        cheapest(None),
        cheapest(Some(p)),
        if robust {
            " across the whole sensitivity range".to_string()
        } else {
            let mut seen: Vec<&str> = Vec::new();
            for w in &under {
                if !seen.contains(&w.as_str()) {
                    seen.push(w);
                }
            }
            format!(" (within the sensitivity range: {})", seen.join(" or "))
        }
    );
    o
}

/// This kernel's frame and readback strategies beside Linux's (sync ioctl, mmap without
/// sync), per workload, in icount and modeled cycles.
pub fn phased_section(ours: &[Row], linux: &LinuxRows, p: &Prices) -> String {
    let sets = p.sensitivity();
    let workloads = crate::report_model::workloads(&linux.rows);
    if workloads.is_empty() {
        return String::new();
    }
    let mut o = String::from("\n## Linux under the model: frame and readback\n\n");
    o.push_str(
        "Linux's harness prints the counter values of its frame and readback windows (as \
         this kernel's bench does); `bench --model --linux` prices each window from the \
         plugin's reads in order (`tools/xtask/src/bench_windows.rs`), checked to add up to \
         the record's cycles and phases. Per operation. `linux-ioctl` brackets the write \
         (read) with `DMA_BUF_IOCTL_SYNC` START/END on the whole buffer; \
         `linux-mmap-nosync` uses the dma-buf's cached mmap with no sync (the legacy-style \
         mapping: nothing makes it coherent, so on a non-coherent device it is incorrect; \
         the cost of doing nothing). Linux has no present (no device imports a udmabuf \
         here), so its frame is write + sync, this kernel's write + sync + present (its \
         clean happens at the present). The readback figures leave out the device phase \
         (Linux's device write is a blocking `read(2)` outside its records' cycles): \
         `icount`, `modeled` and the range are sync + read. `sensitivity range`: lowest \
         and highest modeled figure over the sensitivity sets. The icount figures repeat \
         exactly from boot to boot; the modeled ones depend on the cache state a window \
         starts in, which host-timed work before it (the boot's and the device write's \
         interrupts, retried tries) can change, so they may differ slightly between \
         runs.\n",
    );
    for (suite, case) in workloads {
        let l = crate::report_model::of(&linux.rows, &suite, &case);
        let here = crate::report_model::of(ours, &suite, &case);
        let _ = writeln!(o, "\n### {suite} {case}\n");
        o.push_str(&phased_table(&here, &l, p, &sets));
    }
    o
}
