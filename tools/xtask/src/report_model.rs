//! The report's modeled-cycles section (`report.md`, `model.md`) and the README's
//! modeled table, generated from a [`ModelRun`]: per workload and strategy, icount and
//! modeled cycles with their sensitivity range, the model's charges, the parameter
//! table with sources, and which verdicts flip.

use crate::bench::{self, Record};
use crate::bench_model::Row;
use crate::model_data::{EventPrices, ModelRun, Prices};
use crate::report::{int, table};
use cachemodel::CostParams;
use std::fmt::Write;

/// The phased workloads (frame, readback) of a run, in the order first seen:
/// `(suite, case)`.
pub fn workloads(rows: &[Row]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for r in rows.iter().filter(|r| !bench::phases(&r.suite).is_empty()) {
        let g = (r.suite.clone(), r.case.clone());
        if !out.contains(&g) {
            out.push(g);
        }
    }
    out
}

/// The rows of one workload.
pub fn of<'a>(rows: &'a [Row], suite: &str, case: &str) -> Vec<&'a Row> {
    rows.iter()
        .filter(|r| r.suite == suite && r.case == case)
        .collect()
}

/// The lowest and highest modeled total of `r` over the sensitivity sets.
pub fn range(r: &Row, sets: &[(String, Prices)]) -> (u64, u64) {
    let t = sets.iter().map(|(_, p)| r.total(p));
    (t.clone().min().unwrap_or(0), t.max().unwrap_or(0))
}

/// The cheapest variant of `rows` by `cost`.
fn winner<'a>(rows: &[&'a Row], cost: impl Fn(&Row) -> u64) -> &'a str {
    rows.iter()
        .min_by_key(|r| cost(r))
        .map_or("-", |r| r.variant.as_str())
}

/// Per workload: the cheapest strategy under icount, under every set, and a verdict.
pub fn verdicts(run: &ModelRun) -> Vec<(String, String, Vec<String>, String)> {
    let sets = run.prices.sensitivity();
    workloads(&run.rows)
        .into_iter()
        .map(|(suite, case)| {
            let g = of(&run.rows, &suite, &case);
            let by_icount = winner(&g, |r| r.icount().iter().sum()).to_string();
            let under: Vec<String> = sets
                .iter()
                .map(|(_, p)| winner(&g, |r| r.total(p)).to_string())
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
                    if !seen.contains(&w.as_str()) {
                        seen.push(w);
                    }
                }
                format!(
                    "**flips** within the sensitivity range ({})",
                    seen.join(" or ")
                )
            };
            (format!("{suite} {case}"), by_icount, under, verdict)
        })
        .collect()
}

/// The value of the parameter named `field` (as in the sources tables) in `p`.
fn value(p: &Prices, field: &str) -> String {
    let c = &p.cache;
    let v = match field.trim_matches('`') {
        "l1_hit" => c.l1_hit,
        "l2_hit" => c.l2_hit,
        "dram" => c.dram,
        "wb" => c.wb,
        "maint" => c.maint,
        "ws_l1" => c.ws_l1,
        "ws_l2" => c.ws_l2,
        "wc_lines" => c.wc_lines,
        "fault" => p.events.fault,
        "tlbi" => p.events.tlbi,
        _ => return "-".into(),
    };
    v.to_string()
}

/// The parameter table: every price with this run's value, the default and its source.
pub fn params_table(p: &Prices) -> String {
    let rows: Vec<Vec<String>> = CostParams::SOURCES
        .iter()
        .chain(EventPrices::SOURCES.iter())
        .map(|(name, default, what, source)| {
            vec![
                name.to_string(),
                value(p, name),
                default.to_string(),
                what.to_string(),
                source.to_string(),
            ]
        })
        .collect();
    table(
        &["parameter", "this run", "default", "charges", "source"],
        &rows,
    )
}

/// A record's `icount`, modeled cycles at `p`, their ratio and its range over `sets`.
/// The heads of [`modeled_cells`]' columns.
const MODELED_HEADS: [&str; 4] = ["icount", "modeled", "modeled / icount", "sensitivity range"];

/// The heads of [`event_cells`]' columns.
pub(crate) const EVENT_HEADS: [&str; 6] = [
    "L2 hits",
    "DRAM",
    "write-backs",
    "DC ops",
    "faults",
    "TLBIs",
];

fn modeled_cells(r: &Row, p: &Prices, sets: &[(String, Prices)], icount: u64) -> [String; 4] {
    let t = r.total(p);
    let (lo, hi) = range(r, sets);
    [
        int(icount as f64),
        int(t as f64),
        format!("{:.2}x", t as f64 / icount.max(1) as f64),
        format!("{} - {}", int(lo as f64), int(hi as f64)),
    ]
}

/// The model's events per operation of a record: L2 hits, DRAM accesses, write-backs,
/// DC operations, then the kernel's faults and TLBIs.
pub(crate) fn event_cells(r: &Row) -> [String; 6] {
    let reps = r.reps.max(1);
    let per = |f: fn(&cachemodel::CostUnits) -> u64| {
        int((r.units.iter().map(f).sum::<u64>() / reps) as f64)
    };
    [
        per(|u| u.l2_hit),
        per(|u| u.dram),
        per(|u| u.wb),
        per(|u| u.maint),
        int(r.faults as f64),
        int(r.tlbis as f64),
    ]
}

/// One workload's table: icount and modeled cycles, range, phases and charges.
fn workload_table(run: &ModelRun, suite: &str, case: &str) -> String {
    let sets = run.prices.sensitivity();
    let p = &run.prices;
    let names = bench::phases(suite);
    let head: Vec<String> = ["strategy"]
        .into_iter()
        .chain(MODELED_HEADS)
        .map(String::from)
        .chain(
            names
                .iter()
                .map(|n| n.trim_end_matches("_cycles").to_string()),
        )
        .chain(
            ["faults, TLBIs"]
                .into_iter()
                .chain(EVENT_HEADS)
                .map(String::from),
        )
        .collect();
    let rows: Vec<Vec<String>> = of(&run.rows, suite, case)
        .into_iter()
        .map(|r| {
            let mut v = vec![r.variant.clone()];
            v.extend(modeled_cells(r, p, &sets, r.icount().iter().sum()));
            v.extend(r.modeled(p).iter().map(|m| int(*m as f64)));
            v.push(int(r.events_cost(p) as f64));
            v.extend(event_cells(r));
            v
        })
        .collect();
    let head: Vec<&str> = head.iter().map(String::as_str).collect();
    table(&head, &rows)
}

/// The records without phases (sync, boundary, hand-over): one row each.
fn calls_table(run: &ModelRun) -> Option<String> {
    let sets = run.prices.sensitivity();
    let p = &run.prices;
    let rows: Vec<Vec<String>> = run
        .rows
        .iter()
        .filter(|r| bench::phases(&r.suite).is_empty())
        .map(|r| {
            let mut v = vec![
                format!("{} {}", r.suite, r.case),
                r.variant.clone(),
                crate::report::size(r.size),
            ];
            v.extend(modeled_cells(r, p, &sets, r.icount()[0]));
            v.extend(event_cells(r));
            v
        })
        .collect();
    (!rows.is_empty()).then(|| {
        let head = [
            &["suite, case", "variant", "size"][..],
            &MODELED_HEADS,
            &EVENT_HEADS,
        ]
        .concat();
        table(&head, &rows)
    })
}

/// The verdicts table.
fn verdicts_table(run: &ModelRun) -> String {
    let sets = run.prices.sensitivity();
    let mut head = vec!["workload".to_string(), "icount".into()];
    head.extend(sets.iter().map(|(n, _)| n.clone()));
    head.push("verdict".into());
    let rows: Vec<Vec<String>> = verdicts(run)
        .into_iter()
        .map(|(w, i, under, v)| {
            let mut row = vec![w, i];
            row.extend(under);
            row.push(v);
            row
        })
        .collect();
    let head: Vec<&str> = head.iter().map(String::as_str).collect();
    table(&head, &rows)
}

/// The section (`## Modeled cycles`) for `report.md` and `model.md`; `records` are the
/// benchmark run's (for the break-even points).
pub fn section(run: &ModelRun, records: &[Record]) -> String {
    let p = &run.prices;
    let mut t = String::from("\n## Modeled cycles (a model, not a measurement)\n\n");
    let _ = writeln!(
        t,
        "icount cycles are retired instructions (QEMU `-icount`); **modeled cycles** add \
         the penalties of the memory-cost model (`tools/cachemodel/src/cost.rs`, run by the \
         coherency sanitizer's QEMU plugin with `cost=on`) and a price per page fault and \
         per TLB invalidation counted by the kernel. From one run of `cargo xtask bench \
         --model`{} whose icount figures are exactly this report's; every record's timed \
         windows are attributed exactly. Per operation. Prices: `{}`. The model has no \
         prefetcher and no overlapping misses, so sequential cached reads pay every miss \
         in full: it is pessimistic for them.\n\n\
         QEMU: `{}`\n\n\
         ![icount and modeled cycles per strategy](model.svg)\n",
        run.git
            .as_ref()
            .map_or(String::new(), |g| format!(" (tree `{g}`)")),
        p.describe(),
        run.command
    );
    t.push_str("### The model's parameters\n\n");
    t.push_str(&params_table(p));
    t.push_str(
        "\n`sensitivity range`: the lowest and highest modeled figure over the sets of the \
         verdicts table (DRAM latency, write-back cost, and the fault and TLBI prices, each \
         at half and double). Charges per operation: `L2 hits`, `DRAM` (fills and uncached \
         loads), `write-backs` (dirty lines, write-combined bursts, streamed lines), `DC \
         ops`; `faults, TLBIs`: their price, in the total but in no phase.\n",
    );
    for (suite, case) in workloads(&run.rows) {
        let _ = writeln!(t, "\n### {suite} {case}, per operation\n");
        t.push_str(&workload_table(run, &suite, &case));
    }
    if let Some(calls) = calls_table(run) {
        t.push_str(
            "\n### sync, boundary and hand-over, per operation\n\n\
             These records print no windows; `bench --model` finds them in the plugin's \
             counter reads (`tools/xtask/src/bench_windows.rs`: the program's reads around \
             each timed `svc`, in the order the records were measured, adding up to exactly \
             each record's `total_cycles`). Records it could not attribute that way are \
             left out.\n\n",
        );
        t.push_str(&calls);
    }
    t.push_str("\n### Verdicts: the cheapest strategy per workload\n\n");
    t.push_str(&verdicts_table(run));
    t.push_str(&crate::breakeven::section(records, Some(run)));
    if let Some(l) = &run.linux {
        t.push_str(&crate::linux_model::section(&run.rows, l, &run.prices));
        t.push_str(&crate::linux_model::phased_section(
            &run.rows,
            l,
            &run.prices,
        ));
    }
    t
}

/// The README's modeled figures: per workload and strategy icount, modeled and range,
/// then the verdicts.
pub fn readme(run: &ModelRun) -> String {
    let sets = run.prices.sensitivity();
    let mut rows = Vec::new();
    for (suite, case) in workloads(&run.rows) {
        for r in of(&run.rows, &suite, &case) {
            let (lo, hi) = range(r, &sets);
            rows.push(vec![
                format!("{suite} {case}"),
                r.variant.clone(),
                int(r.icount().iter().sum::<u64>() as f64),
                int(r.total(&run.prices) as f64),
                format!("{} - {}", int(lo as f64), int(hi as f64)),
            ]);
        }
        // Linux's strategies for the same workload (`bench --model --linux`); its
        // readback has no device phase in its figures (a blocking `read(2)`).
        let linux = run.linux.as_ref().map_or(&[][..], |l| &l.rows[..]);
        for r in of(linux, &suite, &case) {
            let (lo, hi) = range(r, &sets);
            let only = if suite == "readback" {
                " (sync + read only)"
            } else {
                ""
            };
            rows.push(vec![
                format!("{suite} {case}"),
                format!("Linux {}{only}", r.variant),
                int(r.icount().iter().sum::<u64>() as f64),
                int(r.total(&run.prices) as f64),
                format!("{} - {}", int(lo as f64), int(hi as f64)),
            ]);
        }
    }
    let mut o = table(
        &[
            "workload",
            "strategy",
            "icount cycles",
            "modeled cycles",
            "sensitivity range",
        ],
        &rows,
    );
    o.push_str("\nThe cheapest strategy, under icount and under the model:\n\n");
    let rows: Vec<Vec<String>> = verdicts(run)
        .into_iter()
        .map(|(w, i, under, v)| vec![w, i, under[0].clone(), v])
        .collect();
    o.push_str(&table(
        &[
            "workload",
            "icount",
            "model",
            "across the sensitivity range",
        ],
        &rows,
    ));
    o
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use cachemodel::CostUnits;

    /// A 1 MiB readback record of `variant` with `cycles` in its first phase and `dram`
    /// DRAM accesses (also for `plot_model`'s tests).
    pub(crate) fn row(variant: &str, cycles: u64, dram: u64) -> Row {
        Row {
            suite: "readback".into(),
            case: "1MiB".into(),
            variant: variant.into(),
            size: 1 << 20,
            reps: 1,
            faults: 0,
            tlbis: 0,
            cycles: [cycles, 0, 0],
            units: [
                CostUnits {
                    dram,
                    ..CostUnits::default()
                },
                CostUnits::default(),
                CostUnits::default(),
            ],
        }
    }

    /// A model run of `rows` at the default prices.
    pub(crate) fn run(rows: Vec<Row>) -> ModelRun {
        ModelRun {
            rows,
            prices: Prices::DEFAULT,
            command: "qemu".into(),
            git: None,
            linux: None,
        }
    }

    #[test]
    fn verdicts_say_what_flips() {
        // Cheapest in instructions, but 1000 DRAM charges: loses under every set.
        let r = run(vec![row("uncached", 100, 1000), row("cached", 1000, 10)]);
        let v = verdicts(&r);
        assert_eq!(v[0].1, "uncached");
        assert!(v[0].2.iter().all(|w| w == "cached"));
        assert!(v[0]
            .3
            .starts_with("**flips** from icount (uncached) to cached, robust"));
        let r = run(vec![row("a", 100, 0), row("b", 1000, 0)]);
        assert_eq!(
            verdicts(&r)[0].3,
            "same under icount and every parameter set"
        );
        // Flips only at some prices: 1,000 vs 100 + 4 DRAM charges (900 at dram=200).
        let r = run(vec![row("a", 1000, 0), row("b", 100, 4)]);
        assert!(verdicts(&r)[0].3.contains("within the sensitivity range"));
    }

    #[test]
    fn the_section_has_figures_params_and_sources() {
        let r = run(vec![row("uncached", 100, 1000), row("cached", 1000, 10)]);
        let s = section(&r, &[]);
        for want in [
            "## Modeled cycles",
            "### readback 1MiB, per operation",
            "| uncached ",
            "200,100",
            "`dram`",
            "sandsoftwaresound",
            "`fault`",
            "model.svg",
            "### Verdicts",
        ] {
            assert!(s.contains(want), "lacks {want:?}:\n{s}");
        }
        // The range spans dram at half and double: 100 + 1000 * 100 ... 100 + 1000 * 400.
        assert!(s.contains("100,100 - 400,100"), "{s}");
        let md = readme(&r);
        assert!(md.contains("| readback 1MiB | uncached ") && md.contains("flips"));
    }

    #[test]
    fn linux_frame_and_readback_rows_stand_beside_ours() {
        let mut here = row("explicit-whole", 0, 0);
        here.cycles = [1000, 40, 60];
        let mut ioctl = row("linux-ioctl", 0, 0);
        ioctl.cycles = [0, 300, 500];
        let mut nosync = row("linux-mmap-nosync", 0, 0);
        nosync.cycles = [0, 0, 10];
        let mut r = run(vec![here]);
        r.linux = Some(crate::model_data::LinuxRows {
            package: "linux".into(),
            rows: vec![ioctl, nosync],
            missed: Vec::new(),
            differs_from_published: Some(0),
        });
        let s = section(&r, &[]);
        let at = s
            .find("## Linux under the model: frame and readback")
            .unwrap_or_else(|| panic!("{s}"));
        let s = &s[at..];
        // The readback compares sync + read: 100 here (its device phase left out), 800
        // for Linux's ioctl; the incorrect no-sync mapping is never the verdict.
        for want in [
            "| here, explicit-whole ",
            "| Linux, linux-ioctl ",
            "| Linux, linux-mmap-nosync ",
            "0.12x",
            "under icount `explicit-whole`, under the model `explicit-whole` across",
        ] {
            assert!(s.contains(want), "lacks {want:?}:\n{s}");
        }
        let md = readme(&r);
        let line = md
            .lines()
            .find(|l| l.contains("Linux linux-ioctl (sync + read only)"))
            .unwrap_or_else(|| panic!("{md}"));
        assert!(line.contains(" 800 "), "{line}");
    }
}
