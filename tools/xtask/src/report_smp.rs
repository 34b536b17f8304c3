//! The report's `smp` section: the tables of the `smp` suite (the 4-CPU run,
//! `userland/bench/src/smp_suite.rs`), with the stated bound of explicit sync on
//! several CPUs and what `--check` asks of each figure.

use crate::bench::{host_timed, Record};
use crate::report::{int, table};
use crate::targets::find;
use std::fmt::Write;

/// The smp record of `case` / `variant` (any size).
fn smp<'a>(rs: &'a [Record], case: &str, variant: &str) -> Option<&'a Record> {
    find(rs, "smp", case, variant).into_iter().next()
}

fn field(r: Option<&Record>, f: &str) -> String {
    r.and_then(|r| r.num(f)).map_or("-".into(), int)
}

/// `min - max`, or `-`.
fn spread(r: Option<&Record>) -> String {
    match r.and_then(|r| Some((r.num("min_cycles")?, r.num("max_cycles")?))) {
        Some((a, b)) => format!("{} - {}", int(a), int(b)),
        None => "-".into(),
    }
}

/// What `--check` asks of two runs' figures of the record.
fn exactness(r: Option<&Record>) -> String {
    match r.map(host_timed) {
        None => "-".into(),
        Some(None) => "exact".into(),
        Some(Some(Some(t))) => format!("median within {}%", t * 100.0),
        Some(Some(None)) => "not compared".into(),
    }
}

/// The growth of the per-pair median from 1 thread to `n`, as cycles and percent.
fn growth(one: Option<f64>, n: Option<f64>) -> String {
    match (one, n) {
        (Some(a), Some(b)) if a > 0.0 => format!("{:+} ({:+.1}%)", b - a, (b - a) / a * 100.0),
        _ => "-".into(),
    }
}

/// The bound on the growth of a sync pair's median with the threads syncing at once,
/// in percent of the 1-thread figure: what the README states and the report checks.
pub const SYNC_GROWTH_BOUND: f64 = 5.0;

/// `## smp`.
pub fn smp_section(rs: &[Record]) -> String {
    if !rs.iter().any(|r| r.suite == "smp") {
        return String::new();
    }
    let mut o = String::from("\n## smp: four CPUs\n\n");
    o.push_str(
        "The smp suite runs on a second boot with `-smp 4` (`bench=smp`), threads of one \
         task on the other CPUs. Under `-icount` QEMU runs one virtual CPU at a time, \
         round-robin, so PMCCNTR_EL0 counts the virtual time of the machine: a window \
         counts the instructions of every CPU that ran inside it, and a CPU's turn ends \
         when it idles, executes YIELD, or broadcasts a TLB invalidation. `median`, `min` \
         and `max` are over the measured operations; `mean` is `cycles`. The check \
         column says what `--check` asks of two runs: `exact`, the same figures; \
         `median within 1%` (legacy hand-overs with writers, whose faults wait for the \
         GPU's fence, which the host completes when it gets to it) or `not compared` (a \
         broadcast TLBI right after a tick, whose cost depends on how QEMU's turns fell): \
         their counts of lines, syscalls, zaps and TLBIs are still compared exactly.\n\n",
    );

    // Explicit sync on disjoint buffers.
    o.push_str(
        "### START+END WRITE, 4 KiB, each thread on its own buffer\n\nCycles per pair, \
         timed at the two `svc`s on the thread that makes them; the threads hand their \
         turn on after each pair, so their syncs interleave.\n\n",
    );
    let variant = |n: usize| {
        if n == 1 {
            "1-thread".to_string()
        } else {
            format!("{n}-threads")
        }
    };
    let one = smp(rs, "START+END WRITE", "1-thread").and_then(|r| r.num("median_cycles"));
    let mut rows = Vec::new();
    let mut worst: Option<f64> = None;
    for n in [1, 2, 4] {
        let r = smp(rs, "START+END WRITE", &variant(n));
        let med = r.and_then(|r| r.num("median_cycles"));
        if let (Some(a), Some(b)) = (one, med) {
            worst = Some(worst.unwrap_or(0.0).max((b - a) / a * 100.0));
        }
        rows.push(vec![
            n.to_string(),
            field(r, "reps"),
            field(r, "median_cycles"),
            field(r, "cycles"),
            spread(r),
            growth(one, med),
            (0..n)
                .map(|t| field(r, &format!("thread{t}_median")))
                .collect::<Vec<_>>()
                .join(" / "),
            field(r, "syscalls"),
            exactness(r),
        ]);
    }
    o.push_str(&table(
        &[
            "threads",
            "pairs",
            "median",
            "mean",
            "min - max",
            "median vs 1 thread",
            "each thread's median",
            "syscalls/pair",
            "check",
        ],
        &rows,
    ));
    let _ = writeln!(
        o,
        "\nBound: the median pair grows by at most {SYNC_GROWTH_BOUND}% from 1 to 4 threads: \
         {}.\n",
        match worst {
            Some(w) if w <= SYNC_GROWTH_BOUND => format!("met ({w:+.1}%)"),
            Some(w) => format!("NOT met ({w:+.1}%)"),
            None => "no data".into(),
        }
    );

    // The legacy hand-over.
    o.push_str(
        "### Legacy hand-over of a 48-page buffer (FAULT mapping) with writer threads\n\n\
         `present`: the `gpu_present` call (zap with a broadcast TLBI, clean of the pages \
         written since the last present, submission), 2,000,000 cycles after a timer tick \
         (see the TLBI table); its lines, TLBIs and faults (the writers', inside its \
         window, mean) are per present. `re-fault`: the first store into a page after a \
         present, timed on the thread that makes it (one made while the present is \
         under way waits for its fence: the max).\n\n",
    );
    let mut rows = Vec::new();
    for (w, v) in [(0, "0-writers"), (1, "1-writer"), (3, "3-writers")] {
        let p = smp(rs, "legacy present", v);
        let f = smp(rs, "legacy re-fault", v);
        rows.push(vec![
            w.to_string(),
            field(p, "median_cycles"),
            spread(p),
            field(p, "lines_cleaned"),
            field(p, "tlbis"),
            field(p, "faults"),
            field(f, "median_cycles"),
            spread(f),
            field(f, "reps"),
            exactness(p),
        ]);
    }
    o.push_str(&table(
        &[
            "writers",
            "present median",
            "present min - max",
            "lines cleaned",
            "TLBIs",
            "faults in it",
            "re-fault median",
            "re-fault min - max",
            "re-faults timed",
            "check",
        ],
        &rows,
    ));

    // The TLBI broadcast.
    o.push_str(
        "\n### TLBI broadcast: `buffer_unmap` of a 4 KiB mapping just written\n\n\
         One `TLBI VAE1IS` (and `DSB ISH`) per unmap; on the 1-CPU machine (the main run) \
         and on the 4-CPU one with the other CPUs idle or running three threads that spin \
         in user space.\n\n",
    );
    let mut rows = Vec::new();
    for (label, v) in [
        ("1 CPU", "1-cpu"),
        ("4 CPUs, 3 idle", "idle"),
        ("4 CPUs, 3 busy", "3-busy"),
    ] {
        let at = smp(rs, "TLBI broadcast", v);
        let late = smp(rs, "TLBI broadcast", &format!("{v}, late"));
        rows.push(vec![
            label.into(),
            field(at, "median_cycles"),
            field(late, "median_cycles"),
            field(at, "tlbis"),
            exactness(at),
            exactness(late),
        ]);
    }
    o.push_str(&table(
        &[
            "machine",
            "at tick",
            "2M cycles later",
            "TLBIs",
            "check at tick",
            "check later",
        ],
        &rows,
    ));
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::{parse, tests::fake_log};

    #[test]
    fn smp_section_has_every_table() {
        let rs = parse(&fake_log()).unwrap();
        let s = smp_section(&rs);
        for want in [
            "## smp",
            "| 4       |",
            "met (+",
            "| 3       |",
            "median within 1%",
            "not compared",
            "907 / 919 / 931 / 943",
            "| 4 CPUs, 3 busy |",
            "| 1 CPU          |",
        ] {
            assert!(s.contains(want), "smp section lacks {want:?}:\n{s}");
        }
        assert!(smp_section(&[]).is_empty());
    }
}
