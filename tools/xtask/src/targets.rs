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

/// 8 MiB, the size of the END WRITE targets.
pub const EIGHT_MIB: u64 = 8 << 20;

/// The four targets.
pub fn targets(rs: &[Record]) -> Vec<Target> {
    let pair = cycles(get(rs, "sync", "START+END WRITE", "whole", 4096));
    let t1 = target(
        "START+END WRITE pair, 4 KiB (syscalls included)",
        pair,
        450.0,
        true,
        "<= 450 cycles",
        |x| format!("{} cycles", int(x)),
    );

    let end = get(rs, "sync", "END WRITE", "whole", EIGHT_MIB);
    let limit = cycles(get(rs, "limit", "clean", "bare-dc-loop", EIGHT_MIB));
    let ratio = cycles(end).zip(limit).map(|(e, l)| e / l);
    let t2 = target(
        "END WRITE 8 MiB / bare DC clean loop 8 MiB",
        ratio,
        1.15,
        true,
        "<= 1.15x",
        |x| format!("{x:.3}x"),
    );
    let per_line = end.and_then(|r| Some(r.num("cycles")? / r.num("lines_cleaned")?));
    let t3 = target(
        "END WRITE 8 MiB, instructions per 64-byte line",
        per_line,
        2.3,
        true,
        "<= about 2.3",
        |x| format!("{x:.2}"),
    );

    let sync = |v| {
        find(rs, "frame", "dirty-64x64", v)
            .first()
            .and_then(|r| r.num("sync_cycles"))
    };
    let t4 = target(
        "dirty-64x64 sync: explicit-whole / explicit-ranged",
        sync("explicit-whole")
            .zip(sync("explicit-ranged"))
            .map(|(w, r)| w / r),
        100.0,
        false,
        ">= 100x",
        |x| format!("{x:.1}x"),
    );

    let total = |v| cycles(find(rs, "frame", "full-frame", v).first().copied());
    let t5 = target(
        "full-frame per-frame total: explicit-whole / legacy-fault",
        total("explicit-whole")
            .zip(total("legacy-fault"))
            .map(|(e, l)| e / l),
        0.5,
        true,
        "<= 0.50",
        |x| format!("{x:.3}"),
    );
    vec![t1, t2, t3, t4, t5]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::{parse, tests::fake_log};

    #[test]
    fn targets_from_the_fake_run() {
        let rs = parse(&fake_log()).unwrap();
        let t = targets(&rs);
        assert_eq!(t.len(), 5);
        // 4 KiB: 300 + 64 * 2 = 428 cycles, within 450.
        assert_eq!(t[0].measured, Some(428.0));
        assert_eq!(t[0].met, Some(true));
        assert_eq!(t[0].distance, "0.95x the bound (-22 cycles)");
        // 8 MiB: (300 + 2 * 131072) / (2 * 131072 + 16384).
        let r = (300.0 + 262144.0) / (262144.0 + 16384.0);
        assert_eq!(t[1].measured, Some(r));
        assert_eq!(t[1].met, Some(true));
        assert_eq!(t[2].met, Some(true));
        // dirty-64x64: 260000 / (600 * 2) = 216.7x.
        assert_eq!(t[3].met, Some(true));
        assert_eq!(t[4].met, Some(false));
        let none = targets(&[]);
        assert!(none.iter().all(|t| t.met.is_none() && t.shown == "missing"));
    }
}
