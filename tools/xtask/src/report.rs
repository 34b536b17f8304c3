//! The benchmark report: the targets with how far each is, and one table per suite.
//! Every figure is in icount cycles (retired instructions under `-icount shift=0`).

use crate::bench::{Meta, Record};
use crate::targets::{cycles, find, get, targets, EIGHT_MIB};
use std::fmt::Write;

/// An integer with thousands separators (two decimals if not whole).
pub fn int(x: f64) -> String {
    if x.fract() != 0.0 {
        return format!("{x:.2}");
    }
    let digits = format!("{}", x.abs() as u64);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if x < 0.0 {
        out.insert(0, '-');
    }
    out
}

/// `4 KiB`, `16 MiB`, or bytes.
pub fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", int((b >> 20) as f64)),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", int((b >> 10) as f64)),
        b => format!("{} B", int(b as f64)),
    }
}

fn opt(x: Option<f64>) -> String {
    x.map_or("-".into(), int)
}

/// Cycles per maintained line. The bare loop bypasses the kernel's counters, so a
/// `limit` record with no lines counted is divided by its 64-byte lines (marked `*`).
fn per_line(r: Option<&Record>) -> String {
    let Some((c, r)) = r.and_then(|r| Some((r.num("cycles")?, r))) else {
        return "-".into();
    };
    match r.lines() {
        l if l > 0.0 => format!("{:.2}", c / l),
        _ if r.suite == "limit" && r.size >= 64 => format!("{:.2}*", c / (r.size / 64) as f64),
        _ => "-".into(),
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.3}x", a / b),
        _ => "-".into(),
    }
}

pub fn lines_kinds(r: Option<&Record>) -> String {
    r.map_or("-".into(), |r| {
        let n = |f| int(r.num(f).unwrap_or(0.0));
        format!(
            "{} / {} / {}",
            n("lines_cleaned"),
            n("lines_invalidated"),
            n("lines_clean_invalidated")
        )
    })
}

/// A table with padded columns (valid Markdown); the first column left-aligned.
pub fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = head.iter().map(|h| h.chars().count().max(3)).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| -> String {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == 0 {
                    format!("{c:<0$}", w[i])
                } else {
                    format!("{c:>0$}", w[i])
                }
            })
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let mut out = line(head.iter().map(|h| h.to_string()).collect());
    let rule: Vec<String> = w
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            if i == 0 {
                "-".repeat(n)
            } else {
                format!("{}:", "-".repeat(n - 1))
            }
        })
        .collect();
    let _ = writeln!(out, "| {} |", rule.join(" | "));
    for r in rows {
        out.push_str(&line(r.clone()));
    }
    out
}

pub fn targets_table(rs: &[Record]) -> String {
    let ts = targets(rs);
    let rows: Vec<Vec<String>> = ts
        .iter()
        .map(|t| {
            let met = match t.met {
                Some(true) => "met",
                Some(false) => "NOT met",
                None => "no data",
            };
            vec![
                t.name.into(),
                t.shown.clone(),
                t.bound.into(),
                t.distance.clone(),
                met.into(),
            ]
        })
        .collect();
    table(
        &["target", "measured", "bound", "how far", "verdict"],
        &rows,
    )
}

/// Frame strategies in report order.
const STRATEGIES: &[&str] = &[
    "explicit-whole",
    "explicit-ranged",
    "legacy-fault",
    "legacy-uncached",
    "setway-clean-all",
];

/// The summary printed after a run: targets and key figures.
pub fn headline(rs: &[Record]) -> String {
    let mut out = String::from("Targets (icount cycles = retired instructions, not time)\n\n");
    out.push_str(&targets_table(rs));
    out.push_str("\nKey figures (icount cycles per operation / per frame)\n\n");
    let mut rows = Vec::new();
    for (what, r) in [
        (
            "START+END WRITE 4 KiB (whole)",
            get(rs, "sync", "START+END WRITE", "whole", 4096),
        ),
        (
            "END WRITE 8 MiB (whole, no device: records)",
            get(rs, "sync", "END WRITE", "whole", EIGHT_MIB),
        ),
        (
            "present after END WRITE 8 MiB (cleans)",
            get(
                rs,
                "boundary",
                "present, all lines dirty",
                "whole",
                EIGHT_MIB,
            ),
        ),
        (
            "bare DC clean loop 8 MiB",
            get(rs, "limit", "clean", "bare-dc-loop", EIGHT_MIB),
        ),
        (
            "START READ 8 MiB (whole)",
            get(rs, "sync", "START READ", "whole", EIGHT_MIB),
        ),
        (
            "bare DC invalidate loop 8 MiB",
            get(rs, "limit", "invalidate", "bare-dc-loop", EIGHT_MIB),
        ),
    ] {
        rows.push(vec![
            what.into(),
            opt(cycles(r)),
            lines_kinds(r),
            per_line(r),
        ]);
    }
    for r in rs.iter().filter(|r| r.suite == "handover") {
        rows.push(vec![
            format!("{} ({}) per hand-over", r.case, r.variant),
            opt(r.num("cycles")),
            lines_kinds(Some(r)),
            per_line(Some(r)),
        ]);
    }
    out.push_str(&table(
        &[
            "measurement",
            "cycles",
            "lines clean / inval / c+i",
            "per line",
        ],
        &rows,
    ));
    out.push('\n');
    out.push_str(&frame_table(rs));
    if rs.iter().any(|r| r.suite == "readback") {
        out.push('\n');
        out.push_str(&readback_table(rs));
    }
    out
}

/// The frame strategies: per-frame total and sync cycles of both cases.
pub fn frame_table(rs: &[Record]) -> String {
    let rows: Vec<Vec<String>> = STRATEGIES
        .iter()
        .map(|v| {
            let f = |case| find(rs, "frame", case, v).first().copied();
            vec![
                v.to_string(),
                opt(cycles(f("full-frame"))),
                opt(f("full-frame").and_then(|r| r.num("sync_cycles"))),
                opt(cycles(f("dirty-64x64"))),
                opt(f("dirty-64x64").and_then(|r| r.num("sync_cycles"))),
            ]
        })
        .collect();
    table(
        &[
            "frame strategy",
            "full-frame total",
            "full-frame sync",
            "dirty-64x64 total",
            "dirty-64x64 sync",
        ],
        &rows,
    )
}

/// The readback strategies: total, phases and the kernel's work per readback.
pub fn readback_table(rs: &[Record]) -> String {
    let rows: Vec<Vec<String>> = rs
        .iter()
        .filter(|r| r.suite == "readback")
        .map(|r| {
            let n = |f| opt(r.num(f));
            vec![
                format!("{} ({})", r.variant, size(r.size)),
                n("cycles"),
                n("device_cycles"),
                n("sync_cycles"),
                n("read_cycles"),
                lines_kinds(Some(r)),
                n("syscalls"),
                n("faults"),
                n("zaps"),
                n("tlbis"),
                n("setway_ops"),
            ]
        })
        .collect();
    table(
        &[
            "readback strategy",
            "total",
            "device write",
            "sync",
            "CPU read",
            "lines clean / inval / c+i",
            "syscalls",
            "faults",
            "zaps",
            "TLBIs",
            "set/way ops",
        ],
        &rows,
    )
}

fn readback_section(rs: &[Record]) -> String {
    let mut o = String::from("\n## readback: the device writes, then the CPU reads\n\n");
    o.push_str(
        "Per readback: a `blk_read` of 1 MiB from the capture disk into the first 1 MiB of \
         a 1920x1080x4 buffer (`device write`: the call, with a legacy mapping's zap; not \
         the device's own time), then the CPU reads the 1 MiB (`CPU read`, with any \
         faults; 16-byte loads). `explicit-whole` / `explicit-ranged`: START + END READ of \
         the whole buffer / of the 1 MiB; `legacy-fault` / `legacy-uncached`: the \
         forwarded mmap with the fault policy (every page faults after the device write) / \
         uncached; `setway-clean-all`: DC CISW over every set and way before reading. \
         Every read is checked against the disk's bytes.\n\n",
    );
    o.push_str(&readback_table(rs));
    o
}

/// report.md.
pub fn markdown(rs: &[Record], meta: &Meta) -> String {
    let mut o = String::from("# Benchmark report\n\n");
    let _ =
        writeln!(
        o,
        "Produced by `cargo xtask bench{}`{}. All figures are **icount cycles**: QEMU runs with \
         `-icount shift=0,sleep=off`, so PMCCNTR_EL0 counts retired instructions \
         (deterministic, the same on every host) - they are not time. Figures are per \
         operation (per frame for `frame`, per hand-over for `handover`), averaged over `reps`.\n",
        if meta.quick { " --quick" } else { "" },
        meta.git.as_ref().map_or(String::new(), |g| format!(" at `{g}`")),
    );
    if let Some(ok) = meta.checked {
        let _ = writeln!(
            o,
            "Determinism check (two runs): {}.\n",
            if ok { "identical" } else { "DIFFERENT" }
        );
    }
    if !meta.command.is_empty() {
        let _ = writeln!(o, "QEMU: `{}`\n", meta.command);
    }
    if let Some(c) = &meta.smp_command {
        let _ = writeln!(o, "QEMU (smp suite): `{c}`\n");
    }
    o.push_str("## Targets\n\n");
    o.push_str(&targets_table(rs));
    o.push_str(&sync_section(rs));
    if rs.iter().any(|r| r.suite == "boundary") {
        o.push_str(&crate::report_boundary::boundary_section(rs));
    }
    o.push_str(&frame_section(rs));
    if rs.iter().any(|r| r.suite == "readback") {
        o.push_str(&readback_section(rs));
    }
    if rs.iter().any(|r| r.suite == "demo") {
        o.push_str(&crate::report_boundary::demo_section(rs));
    }
    if rs.iter().any(|r| r.suite == "uci") {
        o.push_str(&crate::report_uci::uci_section(rs));
    }
    o.push_str(&crate::report_boundary::latency_section(rs));
    o.push_str(&crate::report_smp::smp_section(rs));
    let known = [
        "sync", "limit", "frame", "readback", "boundary", "demo", "smp", "uci",
    ];
    let mut others: Vec<&str> = rs
        .iter()
        .map(|r| r.suite.as_str())
        .filter(|s| !known.contains(s))
        .collect();
    others.sort_by_key(|s| rs.iter().position(|r| r.suite == *s));
    others.dedup();
    for suite in others {
        let _ = writeln!(o, "\n## {suite}\n");
        let rows: Vec<Vec<String>> = rs
            .iter()
            .filter(|r| r.suite == suite)
            .map(generic_row)
            .collect();
        o.push_str(&table(&GENERIC, &rows));
    }
    o.push_str(&crate::linux_report::section(rs, meta.linux.as_ref()));
    match &meta.model {
        Some(m) => o.push_str(&crate::report_model::section(m, rs)),
        None => {
            // At the end, where `bench --model --publish` puts the modeled section.
            o.push_str(&crate::breakeven::section(rs, None).replacen("### ", "## ", 1));
        }
    }
    o
}

const GENERIC: [&str; 11] = [
    "case",
    "variant",
    "size",
    "reps",
    "cycles",
    "lines clean / inval / c+i",
    "syscalls",
    "faults",
    "zaps",
    "TLBIs",
    "set/way ops",
];

fn generic_row(r: &Record) -> Vec<String> {
    let n = |f| opt(r.num(f));
    vec![
        r.case.clone(),
        r.variant.clone(),
        size(r.size),
        n("reps"),
        n("cycles"),
        lines_kinds(Some(r)),
        n("syscalls"),
        n("faults"),
        n("zaps"),
        n("tlbis"),
        n("setway_ops"),
    ]
}

fn sizes(rs: &[Record], suite: &str) -> Vec<u64> {
    sizes_of(rs, |r| r.suite == suite)
}

/// The sizes of the records `keep` keeps, ascending, each once.
pub fn sizes_of(rs: &[Record], keep: impl Fn(&Record) -> bool) -> Vec<u64> {
    let mut s: Vec<u64> = rs.iter().filter(|r| keep(r)).map(|r| r.size).collect();
    s.sort_unstable();
    s.dedup();
    s
}

fn sync_section(rs: &[Record]) -> String {
    let mut o = String::from("\n## sync: `buffer_sync` by flag and size\n\n");
    o.push_str(
        "`whole` syncs the whole buffer (len 0); `ranged` syncs offset 100, length size - 200 \
         (partial edge lines). Lines are per operation: cleaned / invalidated / \
         cleaned+invalidated. No device touches these buffers, so with coherence-boundary \
         maintenance no call maintains a line: this is the cost of the calls (the clean \
         moved to the present, in `boundary`).\n",
    );
    let mut cases: Vec<&str> = Vec::new();
    for r in rs.iter().filter(|r| r.suite == "sync") {
        if !cases.contains(&r.case.as_str()) {
            cases.push(&r.case);
        }
    }
    for case in cases {
        let _ = writeln!(o, "\n### {case}\n");
        let rows: Vec<Vec<String>> = sizes(rs, "sync")
            .into_iter()
            .map(|s| {
                let w = get(rs, "sync", case, "whole", s);
                let g = get(rs, "sync", case, "ranged", s);
                vec![
                    size(s),
                    opt(cycles(w)),
                    lines_kinds(w),
                    per_line(w),
                    opt(cycles(g)),
                    lines_kinds(g),
                    per_line(g),
                    opt(w.and_then(|r| r.num("syscalls"))),
                ]
            })
            .collect();
        o.push_str(&table(
            &[
                "size",
                "whole cycles",
                "whole lines",
                "per line",
                "ranged cycles",
                "ranged lines",
                "per line",
                "syscalls",
            ],
            &rows,
        ));
    }
    o.push_str("\n## limit: the bare DC loop, and how close the clean gets\n\n");
    o.push_str(
        "`bench_dc_loop` times the kernel's unrolled DC loop over the whole buffer with \
         nothing around it (no syscall, no checks): the limit maintenance can approach. \
         `present's clean` is the clean the present of a whole dirty buffer does before the \
         device reads (`boundary`: the present with every line dirty less the same present \
         with none). Ratio = clean / bare loop; per line = cycles / lines (`*`: the loop's \
         lines are not in the kernel's counters, so size / 64).\n\n",
    );
    let rows: Vec<Vec<String>> = sizes(rs, "limit")
        .into_iter()
        .map(|s| {
            let clean = crate::report_boundary::clean_cost(rs, s);
            let lc = get(rs, "limit", "clean", "bare-dc-loop", s);
            let li = get(rs, "limit", "invalidate", "bare-dc-loop", s);
            vec![
                size(s),
                opt(clean.map(|c| c.0)),
                opt(cycles(lc)),
                ratio(clean.map(|c| c.0), cycles(lc)),
                clean.map_or("-".into(), |(c, l)| format!("{:.2}", c / l)),
                per_line(lc),
                opt(cycles(li)),
                per_line(li),
            ]
        })
        .collect();
    o.push_str(&table(
        &[
            "size",
            "present's clean",
            "clean loop",
            "ratio",
            "clean per line",
            "loop per line",
            "invalidate loop",
            "loop per line",
        ],
        &rows,
    ));
    o
}

fn frame_section(rs: &[Record]) -> String {
    let mut o = String::from("\n## frame: one 1920x1080x4 frame by strategy\n\n");
    o.push_str(
        "Per frame: total, and its phases (CPU writes including any faults, sync or set/way \
         clean, present including any zap and clean). \
         `explicit-whole` / `explicit-ranged`: `buffer_sync` of the whole buffer / \
         `buffer_sync_rect` of the dirty rows; `legacy-fault` / `legacy-uncached`: the \
         forwarded mmap with the fault policy / uncached; `setway-clean-all`: DC CISW over \
         every set and way instead of by-address maintenance.\n",
    );
    let frames: Vec<&Record> = rs.iter().filter(|r| r.suite == "frame").collect();
    let mut cases: Vec<&str> = frames.iter().map(|r| r.case.as_str()).collect();
    cases.dedup();
    for case in cases {
        let _ = writeln!(o, "\n### {case}\n");
        let rows: Vec<Vec<String>> = frames
            .iter()
            .filter(|r| r.case == case)
            .map(|r| {
                let n = |f| opt(r.num(f));
                vec![
                    r.variant.clone(),
                    n("cycles"),
                    n("write_cycles"),
                    n("sync_cycles"),
                    n("present_cycles"),
                    lines_kinds(Some(r)),
                    n("syscalls"),
                    n("faults"),
                    n("zaps"),
                    n("tlbis"),
                    n("setway_ops"),
                ]
            })
            .collect();
        o.push_str(&table(
            &[
                "strategy",
                "total",
                "write",
                "sync",
                "present",
                "lines clean / inval / c+i",
                "syscalls",
                "faults",
                "zaps",
                "TLBIs",
                "set/way ops",
            ],
            &rows,
        ));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::{parse, tests::fake_log};

    #[test]
    fn numbers_and_sizes() {
        assert_eq!(int(1234567.0), "1,234,567");
        assert_eq!(int(-1000.0), "-1,000");
        assert_eq!(int(12.5), "12.50");
        assert_eq!(int(0.0), "0");
        assert_eq!(size(4096), "4 KiB");
        assert_eq!(size(16 << 20), "16 MiB");
        assert_eq!(size(1920 * 1080 * 4), "8,100 KiB");
        assert_eq!(size(100), "100 B");
    }

    #[test]
    fn report_has_every_section() {
        let rs = parse(&fake_log()).unwrap();
        let meta = Meta {
            command: "qemu".into(),
            smp_command: Some("qemu -smp 4".into()),
            git: None,
            commit: None,
            quick: true,
            checked: Some(true),
            linux: None,
            model: None,
        };
        let md = markdown(&rs, &meta);
        for s in [
            "## Targets",
            "### START+END WRITE",
            "## limit",
            "### dirty-64x64",
            "## handover",
            "4KiB ping-pong",
            "| 16 MiB ",
            "NOT met",
            "--quick",
            "identical",
            "## readback",
            "| legacy-fault (1 MiB) ",
            "## boundary",
            "present rectangle",
            "## demo",
            "| pipeline ",
            "## latency",
            "### dirty-1-page",
            "## smp: four CPUs",
            "QEMU (smp suite): `qemu -smp 4`",
        ] {
            assert!(md.contains(s), "report lacks {s:?}");
        }
        let h = headline(&rs);
        assert!(h.contains("setway-clean-all") && h.contains("per hand-over"));
        assert!(h.contains("readback strategy") && h.contains("explicit-ranged (1 MiB)"));
    }

    #[test]
    fn bare_loop_lines_fall_back_to_the_size() {
        let mut rs = parse(&fake_log()).unwrap();
        let r = rs.iter_mut().find(|r| r.suite == "limit").unwrap();
        assert_eq!(per_line(Some(r)), "2.12");
        for f in ["lines_cleaned", "lines_invalidated"] {
            r.raw.insert(f.into(), serde_json::json!(0));
        }
        assert_eq!(per_line(Some(r)), "2.12*");
        r.suite = "sync".into();
        assert_eq!(per_line(Some(r)), "-");
    }

    #[test]
    fn tables_are_padded_markdown() {
        let t = table(&["a", "bb"], &[vec!["xyz".into(), "1".into()]]);
        assert_eq!(t, "| a   |  bb |\n| --- | --: |\n| xyz |   1 |\n");
    }
}
