//! The report's sections on coherence-boundary maintenance: where the clean went (the
//! `boundary` suite), the demo programs' lines per frame (`demo`), and how long the
//! kernel keeps interrupts waiting (`masked_max`, every suite).

use crate::bench::Record;
use crate::report::{int, lines_kinds, size, sizes_of, table};
use crate::targets::{cycles, find, get};
use std::fmt::Write;

/// The present that cleaned every line of a `size`-byte buffer, less the same present
/// with nothing to clean: `(cycles of the clean, lines cleaned)`.
pub fn clean_cost(rs: &[Record], size: u64) -> Option<(f64, f64)> {
    let dirty = get(rs, "boundary", "present, all lines dirty", "whole", size)?;
    let clean = get(rs, "boundary", "present, nothing dirty", "whole", size)?;
    Some((
        dirty.num("cycles")? - clean.num("cycles")?,
        dirty.num("lines_cleaned")?,
    ))
}

/// The 1080-row rectangle's present, dirty less clean: `(cycles, lines cleaned)`.
pub fn rect_cost(rs: &[Record]) -> Option<(f64, f64)> {
    let dirty = find(rs, "boundary", "present rectangle", "dirty");
    let clean = find(rs, "boundary", "present rectangle", "clean");
    let (d, c) = (dirty.first()?, clean.first()?);
    Some((d.num("cycles")? - c.num("cycles")?, d.num("lines_cleaned")?))
}

fn per_line(c: Option<(f64, f64)>) -> String {
    match c {
        Some((cy, l)) if l > 0.0 => format!("{:.2}", cy / l),
        _ => "-".into(),
    }
}

fn opt(x: Option<f64>) -> String {
    x.map_or("-".into(), int)
}

/// `## boundary`.
pub fn boundary_section(rs: &[Record]) -> String {
    let mut o = String::from("\n## boundary: where the clean went\n\n");
    o.push_str(
        "No device touches the `sync` suite's buffers, so none of its calls maintains a \
         line: END WRITE records its lines as dirty, START READ finds none stale. Here the \
         buffer is imported as a GPU resource: the START+END WRITE pair still costs only \
         the calls, and the present that follows cleans every line the CPU wrote (`present, \
         all lines dirty`) before the device reads; `present, nothing dirty` is the same \
         present with nothing to clean, so the difference is the clean, per line in \
         `clean per line`. `END WRITE, uncached alias` is the Linux way, for comparison: \
         with a legacy uncached mapping of the buffer (a reader no submission announces) \
         END WRITE cleans its whole range at once. `masked max`: the longest stretch the \
         kernel ran with IRQs masked during the call.\n\n",
    );
    let rows: Vec<Vec<String>> = sizes_of(rs, |r| r.suite == "boundary" && r.variant == "whole")
        .into_iter()
        .map(|s| {
            let g = |case| get(rs, "boundary", case, "whole", s);
            let pair = g("START+END WRITE");
            let dirty = g("present, all lines dirty");
            let clean = g("present, nothing dirty");
            let alias = g("END WRITE, uncached alias");
            vec![
                size(s),
                opt(cycles(pair)),
                opt(cycles(dirty)),
                lines_kinds(dirty),
                opt(cycles(clean)),
                per_line(clean_cost(rs, s)),
                opt(dirty.and_then(|r| r.num("masked_max"))),
                opt(cycles(alias)),
                opt(alias.and_then(|r| r.num("masked_max"))),
            ]
        })
        .collect();
    o.push_str(&table(
        &[
            "size",
            "START+END WRITE",
            "present, all dirty",
            "lines clean / inval / c+i",
            "present, nothing dirty",
            "clean per line",
            "masked max",
            "END WRITE, uncached alias",
            "masked max",
        ],
        &rows,
    ));
    let rect: Vec<Vec<String>> = ["dirty", "clean"]
        .iter()
        .filter_map(|v| {
            find(rs, "boundary", "present rectangle", v)
                .first()
                .copied()
        })
        .map(|r| {
            vec![
                r.variant.clone(),
                opt(r.num("cycles")),
                lines_kinds(Some(r)),
                opt(r.num("masked_max")),
            ]
        })
        .collect();
    if !rect.is_empty() {
        let _ = write!(
            o,
            "\nA rectangle of 1080 rows of 256 bytes (four lines each), 7680 bytes apart, \
             presented after START+END WRITE of it (`dirty`) and with nothing dirty \
             (`clean`); the clean costs {} cycles per line.\n\n",
            per_line(rect_cost(rs))
        );
        o.push_str(&table(
            &[
                "present rectangle",
                "cycles",
                "lines clean / inval / c+i",
                "masked max",
            ],
            &rect,
        ));
    }
    o
}

/// `## demo`.
pub fn demo_section(rs: &[Record]) -> String {
    let mut o = String::from("\n## demo: cache lines maintained per frame\n\n");
    o.push_str(
        "The GPU demo, run by the bench as `cargo xtask run` runs it (on this boot's \
         1920x1080 display): cache lines maintained per frame, on all buffers and on \
         buffers no device has imported or been told to write (`CPU-only`: the client's \
         two buffers, which only the compositor reads). Its cycles depend on when the host \
         completes the device's work, so only the line counts are reported. (The capture \
         pipeline is not run by the bench: its block fences' timeouts can expire on a busy \
         host under `-icount sleep=off`; see `userland/bench/src/demo_suite.rs`.)\n\n",
    );
    let rows: Vec<Vec<String>> = rs
        .iter()
        .filter(|r| r.suite == "demo")
        .map(|r| {
            vec![
                r.case.clone(),
                opt(r.num("reps")),
                lines_kinds(Some(r)),
                opt(r.num("cpu_only_lines")),
            ]
        })
        .collect();
    o.push_str(&table(
        &[
            "program",
            "frames",
            "lines per frame: clean / inval / c+i",
            "CPU-only lines per frame",
        ],
        &rows,
    ));
    o
}

/// The records of a suite whose `masked_max` is the largest, per suite.
fn worst_by_suite(rs: &[Record]) -> Vec<&Record> {
    let mut suites: Vec<&str> = rs.iter().map(|r| r.suite.as_str()).collect();
    suites.dedup();
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for s in suites {
        // The smp suite leaves `masked_max` out (0): on several CPUs the kernel's measure
        // compares different CPUs' cycle counters.
        if seen.contains(&s) || s == "smp" {
            continue;
        }
        seen.push(s);
        let worst = rs
            .iter()
            .filter(|r| r.suite == s && r.num("masked_max").is_some())
            .max_by(|a, b| {
                a.num("masked_max")
                    .partial_cmp(&b.num("masked_max"))
                    .unwrap()
            });
        out.extend(worst);
    }
    out
}

/// `## latency`.
pub fn latency_section(rs: &[Record]) -> String {
    let mut o = String::from("\n## latency: the longest stretch with IRQs masked\n\n");
    o.push_str(
        "The kernel runs every exception with IRQs masked; long maintenance gives way at a \
         preemption point every 6,144 lines. `masked_max` is the longest stretch it ran \
         masked with no point where a pending interrupt would have been taken, over each \
         measurement (measured with the cycle counter from the Rust handler's entry to its \
         return, the idle loop or a preemption point, by a second benchmark kernel built \
         with that probe, `--features latency`, which runs the same boots: every other \
         figure comes from the kernel without the probe's instructions). The worst \
         measurement of each suite:\n\n",
    );
    let rows: Vec<Vec<String>> = worst_by_suite(rs)
        .into_iter()
        .map(|r| {
            vec![
                r.suite.clone(),
                format!("{} ({}, {})", r.case, r.variant, size(r.size)),
                opt(r.num("masked_max")),
            ]
        })
        .collect();
    o.push_str(&table(&["suite", "worst measurement", "masked max"], &rows));
    o
}
