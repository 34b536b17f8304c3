//! The benchmark targets and how far a run is from each (icount cycles: retired
//! instructions under `-icount shift=0`).

use crate::bench::Record;
use crate::report::int;

/// One target and how far the run is from it.
pub struct Target {
    /// What is measured.
    pub name: &'static str,
    /// The measured value (`None`: the run lacks the records).
    pub measured: Option<f64>,
    /// How the value is shown (with its unit).
    pub shown: String,
    /// The bound, as text.
    pub bound: &'static str,
    /// Measured / bound and the difference.
    pub distance: String,
    /// Whether the bound holds.
    pub met: Option<bool>,
}

/// The records of `suite` / `case` / `variant` (any size).
pub fn find<'a>(rs: &'a [Record], suite: &str, case: &str, variant: &str) -> Vec<&'a Record> {
    rs.iter()
        .filter(|r| r.suite == suite && r.case == case && r.variant == variant)
        .collect()
}

/// The record of `suite` / `case` / `variant` / `size`.
pub fn get<'a>(
    rs: &'a [Record],
    suite: &str,
    case: &str,
    variant: &str,
    size: u64,
) -> Option<&'a Record> {
    find(rs, suite, case, variant)
        .into_iter()
        .find(|r| r.size == size)
}

/// Its `cycles` (per operation).
pub fn cycles(r: Option<&Record>) -> Option<f64> {
    r.and_then(|r| r.num("cycles"))
}

/// Build a target from the measured value, the bound and its direction.
fn target(
    name: &'static str,
    measured: Option<f64>,
    bound: f64,
    at_most: bool,
    bound_text: &'static str,
    show: impl Fn(f64) -> String,
) -> Target {
    let (shown, distance, met) = match measured {
        // A bound of 0 has no ratio: say how far in the measure's own unit.
        Some(m) if m.is_finite() && bound == 0.0 => (
            show(m),
            format!("{}{}", sign(m), show(m.abs())),
            Some(if at_most { m <= bound } else { m >= bound }),
        ),
        Some(m) if m.is_finite() => (
            show(m),
            format!(
                "{:.2}x the bound ({}{})",
                m / bound,
                sign(m - bound),
                show((m - bound).abs())
            ),
            Some(if at_most { m <= bound } else { m >= bound }),
        ),
        _ => ("missing".into(), "-".into(), None),
    };
    Target {
        name,
        measured,
        shown,
        bound: bound_text,
        distance,
        met,
    }
}

fn sign(x: f64) -> &'static str {
    if x < 0.0 {
        "-"
    } else {
        "+"
    }
}

/// 8 MiB, the size of the large-range clean targets.
pub const EIGHT_MIB: u64 = 8 << 20;

/// The IRQ-masked bound of issue 16 (icount cycles).
const MASKED_BOUND: f64 = 20_000.0;

/// The largest `masked_max` of the records `pick` accepts.
fn worst_masked(rs: &[Record], pick: impl Fn(&Record) -> bool) -> Option<f64> {
    rs.iter()
        .filter(|r| pick(r))
        .filter_map(|r| r.num("masked_max"))
        .reduce(f64::max)
}

fn cycles_text(x: f64) -> String {
    format!("{} cycles", int(x))
}

/// The targets: issue 16's, then the earlier ones that still apply.
pub fn targets(rs: &[Record]) -> Vec<Target> {
    let sync = |case, size| cycles(get(rs, "sync", case, "whole", size));
    let mut out = vec![
        target(
            "START+END WRITE pair, 4 KiB (syscalls included)",
            sync("START+END WRITE", 4096),
            300.0,
            true,
            "<= 300 cycles",
            cycles_text,
        ),
        target(
            "END WRITE alone, 4 KiB",
            sync("END WRITE", 4096),
            200.0,
            true,
            "<= 200 cycles",
            cycles_text,
        ),
        target(
            "START WRITE (no maintenance), 4 KiB",
            sync("START WRITE", 4096),
            80.0,
            true,
            "<= 80 cycles",
            cycles_text,
        ),
        target(
            "rectangle clean (1080 rows of 4 lines), per line",
            crate::report_boundary::rect_cost(rs).map(|(c, l)| c / l),
            2.5,
            true,
            "<= 2.5",
            |x| format!("{x:.2}"),
        ),
    ];
    let page = |v| find(rs, "frame", "dirty-1-page", v).first().copied();
    let legacy = page("legacy-fault").and_then(|r| r.num("present_cycles"));
    let explicit = page("explicit-ranged")
        .and_then(|r| Some(r.num("sync_cycles")? + r.num("present_cycles")?));
    out.push(target(
        "legacy present after writing 1 page of 1920x1080 / the 1-page explicit sync+present",
        legacy.zip(explicit).map(|(l, e)| l / e),
        2.0,
        true,
        "<= 2x",
        |x| format!("{x:.2}x"),
    ));
    out.push(target(
        "demo: maintenance lines per frame on buffers no device reads",
        find(rs, "demo", "demo", "per-frame")
            .first()
            .and_then(|r| r.num("cpu_only_lines")),
        0.0,
        true,
        "0",
        int,
    ));
    out.push(target(
        "longest IRQ-masked stretch, any sync or its present",
        worst_masked(rs, |r| {
            matches!(r.suite.as_str(), "sync" | "boundary")
                || (r.suite == "frame" && r.variant.starts_with("explicit"))
                || (r.suite == "readback" && r.variant.starts_with("explicit"))
        }),
        MASKED_BOUND,
        true,
        "<= 20,000 cycles",
        cycles_text,
    ));
    out.push(target(
        "longest IRQ-masked stretch, legacy zaps (fault mappings)",
        worst_masked(rs, |r| r.variant == "legacy-fault"),
        MASKED_BOUND,
        true,
        "<= 20,000 cycles",
        cycles_text,
    ));
    let clean = crate::report_boundary::clean_cost(rs, EIGHT_MIB);
    out.push(target(
        "present's clean of 8 MiB, instructions per 64-byte line",
        clean.map(|(c, l)| c / l),
        2.3,
        true,
        "<= about 2.3",
        |x| format!("{x:.2}"),
    ));
    let limit = cycles(get(rs, "limit", "clean", "bare-dc-loop", EIGHT_MIB));
    out.push(target(
        "present's clean of 8 MiB / bare DC clean loop 8 MiB",
        clean.zip(limit).map(|((c, _), l)| c / l),
        1.15,
        true,
        "<= 1.15x",
        |x| format!("{x:.3}x"),
    ));
    let total = |case, v| cycles(find(rs, "frame", case, v).first().copied());
    out.push(target(
        "dirty-64x64 frame total: explicit-whole / explicit-ranged",
        total("dirty-64x64", "explicit-whole")
            .zip(total("dirty-64x64", "explicit-ranged"))
            .map(|(w, r)| w / r),
        1.05,
        true,
        "<= 1.05",
        |x| format!("{x:.3}"),
    ));
    out.push(target(
        "full-frame per-frame total: explicit-whole / legacy-fault",
        total("full-frame", "explicit-whole")
            .zip(total("full-frame", "legacy-fault"))
            .map(|(e, l)| e / l),
        0.5,
        true,
        "<= 0.50",
        |x| format!("{x:.3}"),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::{parse, tests::fake_log};

    #[test]
    fn targets_from_the_fake_run() {
        let rs = parse(&fake_log()).unwrap();
        let t = targets(&rs);
        assert_eq!(t.len(), 12);
        // 4 KiB: 300 + 64 * 2 = 428 cycles, over 300.
        assert_eq!(t[0].measured, Some(428.0));
        assert_eq!(t[0].met, Some(false));
        assert_eq!(t[0].distance, "1.43x the bound (+128 cycles)");
        // The demo's CPU-only lines: 0, met; the fake present's clean: 2.5 per line.
        let by_name = |n: &str| t.iter().find(|x| x.name.starts_with(n)).unwrap();
        assert_eq!(by_name("demo:").met, Some(true));
        assert_eq!(
            by_name("present's clean of 8 MiB, instr").measured,
            Some(2.5)
        );
        assert_eq!(by_name("present's clean of 8 MiB, instr").met, Some(false));
        assert_eq!(
            by_name("longest IRQ-masked stretch, any").measured,
            Some(9_000.0)
        );
        assert_eq!(
            by_name("longest IRQ-masked stretch, legacy").met,
            Some(false)
        );
        assert_eq!(by_name("full-frame").met, Some(false));
        let none = targets(&[]);
        assert!(none.iter().all(|t| t.met.is_none() && t.shown == "missing"));
    }
}
