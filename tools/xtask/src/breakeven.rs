//! Break-even points computed from a run's records (icount) and, when there is one, the
//! model run's rows (modeled cycles): where ranged maintenance stops beating the
//! whole-buffer clean, and where explicit sync starts beating the uncached mapping for
//! writes and for reads. Every figure comes from the data; the formulas (and what they
//! assume) are printed with them.

use crate::bench::Record;
use crate::bench_model::Row;
use crate::model_data::{ModelRun, Prices};
use crate::report::{int, size, table};
use crate::report_boundary::{clean_cost, rect_cost};
use crate::targets::find;
use std::fmt::Write;

/// The largest size the boundary suite cleaned whole.
fn whole_size(rs: &[Record]) -> Option<u64> {
    rs.iter()
        .filter(|r| r.suite == "boundary" && r.case == "present, all lines dirty")
        .map(|r| r.size)
        .max()
}

/// Per line: the whole-buffer clean and the rectangle's clean, icount cycles.
pub fn clean_per_line(rs: &[Record]) -> Option<(f64, f64)> {
    let (wc, wl) = clean_cost(rs, whole_size(rs)?)?;
    let (rc, rl) = rect_cost(rs)?;
    (wl > 0.0 && rl > 0.0).then(|| (wc / wl, rc / rl))
}

/// The same under the model: per line, modeled cycles under `p` less the write-backs
/// charged, from the boundary records' rows.
fn modeled_clean_per_line(rs: &[Record], m: &ModelRun, p: &Prices) -> Option<(f64, f64)> {
    let cost = |case: &str, variant: &str, size: Option<u64>| -> Option<(f64, f64)> {
        let r = rs.iter().find(|r| {
            r.suite == "boundary"
                && r.case == case
                && r.variant == variant
                && size.is_none_or(|s| r.size == s)
        })?;
        // The write-backs are left out: the lines the CPU wrote are written back by
        // either strategy.
        let w = row_for(m, r)?;
        let wbs: u64 = w.units.iter().map(|u| u.wb).sum::<u64>() / w.reps.max(1);
        let cost = w.total(p).saturating_sub(wbs * p.cache.wb);
        Some((cost as f64, r.num("lines_cleaned")?))
    };
    let s = whole_size(rs)?;
    let (wd, wl) = cost("present, all lines dirty", "whole", Some(s))?;
    let (wc, _) = cost("present, nothing dirty", "whole", Some(s))?;
    let (rd, rl) = cost("present rectangle", "dirty", None)?;
    let (rc, _) = cost("present rectangle", "clean", None)?;
    (wl > 0.0 && rl > 0.0).then(|| ((wd - wc) / wl, (rd - rc) / rl))
}

/// Ranged vs whole under the model, from the modeled cost per line of each without
/// write-backs: the lines the CPU wrote are written back by either (`wb` each), so
/// ranged wins below the dirty fraction `w / r`.
fn modeled_fraction(rs: &[Record], m: &ModelRun, p: &Prices) -> Option<Cross> {
    let (w, r) = modeled_clean_per_line(rs, m, p)?;
    Some(ranged_fraction(w, r))
}

/// Ranged vs whole-buffer: whole costs `w` per line of the buffer (+ `wb` per dirty
/// line), ranged `r` per dirty line (+ `wb`): ranged wins below the dirty fraction
/// `w / r` (the `wb` of the dirty lines is paid either way).
fn ranged_fraction(w: f64, r: f64) -> Cross {
    match w / r {
        f if f >= 1.0 => Cross::None("none: ranged wins at every dirty fraction".into()),
        f => Cross::At {
            below: "ranged",
            above: "whole",
            x: f,
        },
    }
}

/// Where two strategies' costs cross.
#[derive(Clone, Debug, PartialEq)]
enum Cross {
    /// They do not (in the range measured): why.
    None(String),
    /// `below` is cheaper below `x`, `above` above.
    At {
        below: &'static str,
        above: &'static str,
        x: f64,
    },
}

/// `x` as bytes, or as a percentage if it is a fraction (below 1).
fn shown(x: f64) -> String {
    if x < 1.0 {
        format!("{:.0}% dirty", x * 100.0)
    } else {
        size(x.round() as u64)
    }
}

impl Cross {
    fn text(&self) -> String {
        match self {
            Cross::None(t) => t.clone(),
            Cross::At { below, above, x } => {
                format!("{below} cheaper below {}, {above} above", shown(*x))
            }
        }
    }
}

/// One cell for several parameter sets: the range of the crossing if they agree on
/// which side wins, otherwise every distinct answer.
fn spread(cs: &[Cross]) -> String {
    if let Some(Cross::At { below, above, .. }) = cs.first() {
        let xs: Option<Vec<f64>> = cs
            .iter()
            .map(|c| match c {
                Cross::At {
                    below: b,
                    above: a,
                    x,
                } if b == below && a == above => Some(*x),
                _ => None,
            })
            .collect();
        if let Some(xs) = xs {
            let lo = xs.iter().copied().fold(f64::MAX, f64::min);
            let hi = xs.iter().copied().fold(0.0, f64::max);
            return if shown(lo) == shown(hi) {
                Cross::At {
                    below,
                    above,
                    x: lo,
                }
                .text()
            } else {
                format!(
                    "{below} cheaper below {} to {}, {above} above",
                    shown(lo),
                    shown(hi)
                )
            };
        }
    }
    let mut seen: Vec<String> = Vec::new();
    for c in cs {
        if !seen.contains(&c.text()) {
            seen.push(c.text());
        }
    }
    seen.join("; ")
}

/// A line through two points: `(intercept, slope)`.
fn line((x0, y0): (f64, f64), (x1, y1): (f64, f64)) -> (f64, f64) {
    let b = (y1 - y0) / (x1 - x0);
    (y0 - b * x0, b)
}

/// Where `e` (explicit) and `u` (uncached), lines `(intercept, slope)`, cross; `lo..hi`
/// is the range measured.
fn crossing(e: (f64, f64), u: (f64, f64), lo: f64, hi: f64) -> Cross {
    let at = |x: f64| (e.0 + e.1 * x, u.0 + u.1 * x);
    let (el, ul) = at(lo);
    let (eh, uh) = at(hi);
    let cheaper = |e: f64, u: f64| if e < u { "explicit" } else { "uncached" };
    let x = (u.0 - e.0) / (e.1 - u.1);
    if (el < ul) == (eh < uh) {
        let beyond = if x.is_finite() && x > hi {
            format!(
                "; by extrapolation they cross at {}",
                size(x.round() as u64)
            )
        } else {
            String::new()
        };
        return Cross::None(format!(
            "none from {} to {}: {} cheaper{beyond}",
            size(lo as u64),
            size(hi as u64),
            cheaper(el, ul)
        ));
    }
    Cross::At {
        below: cheaper(el, ul),
        above: cheaper(eh, uh),
        x,
    }
}

/// Two points `(x, y)` a line goes through.
type Segment = ((f64, f64), (f64, f64));

/// The frame records' points for explicit writes (the cheaper explicit variant at each
/// size) and uncached writes: `(bytes written, cycles)` by `cost`, smallest and
/// largest.
fn write_points(rs: &[Record], cost: &dyn Fn(&Record) -> Option<f64>) -> Option<[Segment; 2]> {
    let mut pts: Vec<(f64, f64, f64)> = Vec::new();
    let mut cases: Vec<&str> = rs
        .iter()
        .filter(|r| r.suite == "frame")
        .map(|r| r.case.as_str())
        .collect();
    cases.dedup();
    for case in cases {
        let c = |v: &str| find(rs, "frame", case, v).first().and_then(|r| cost(r));
        let e = match (c("explicit-whole"), c("explicit-ranged")) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        let r = find(rs, "frame", case, "legacy-uncached");
        pts.push((r.first()?.size as f64, e, c("legacy-uncached")?));
    }
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (lo, hi) = (pts.first()?, pts.last()?);
    (hi.0 > lo.0).then_some([((lo.0, lo.1), (hi.0, hi.1)), ((lo.0, lo.2), (hi.0, hi.2))])
}

fn write_break(rs: &[Record], cost: &dyn Fn(&Record) -> Option<f64>) -> Cross {
    let Some([(e0, e1), (u0, u1)]) = write_points(rs, cost) else {
        return Cross::None("-".into());
    };
    crossing(line(e0, e1), line(u0, u1), e0.0, e1.0)
}

/// Reads: per readback, fixed = device + sync phases, per byte = the read phase / size
/// (one size measured): explicit-ranged vs legacy-uncached.
fn read_break(rs: &[Record], phases: &dyn Fn(&Record) -> Option<[f64; 3]>) -> Cross {
    let get = |v| {
        find(rs, "readback", "1MiB", v)
            .first()
            .and_then(|r| Some((r.size as f64, phases(r)?)))
    };
    let (Some((n, e)), Some((_, u))) = (get("explicit-ranged"), get("legacy-uncached")) else {
        return Cross::None("-".into());
    };
    let e = (e[0] + e[1], e[2] / n);
    let u = (u[0] + u[1], u[2] / n);
    crossing(e, u, 64.0, n)
}

/// A record's modeled figures under `p`, from the model run's row for it.
fn row_for<'a>(run: &'a ModelRun, r: &Record) -> Option<&'a Row> {
    run.rows.iter().find(|w| w.is(r))
}

/// `### Break-even points`.
pub fn section(rs: &[Record], model: Option<&ModelRun>) -> String {
    let mut o = String::from("\n### Break-even points, computed from the measured data\n\n");
    let sets: Vec<(String, Prices)> = model.map_or(Vec::new(), |m| m.prices.sensitivity());
    let mut rows: Vec<Vec<String>> = Vec::new();
    // Ranged vs whole-buffer.
    if let Some((w, r)) = clean_per_line(rs) {
        let mut row = vec![
            "ranged vs whole-buffer clean (dirty fraction of the buffer)".into(),
            ranged_fraction(w, r).text(),
        ];
        let mut modeled = String::new();
        if let Some(m) = model {
            let under = |p: &Prices| {
                modeled_fraction(rs, m, p).unwrap_or_else(|| {
                    // No modeled boundary records: each line a DC touches adds `maint`.
                    let maint = p.cache.maint as f64;
                    ranged_fraction(w + maint, r + maint)
                })
            };
            row.push(under(&m.prices).text());
            let all: Vec<Cross> = sets.iter().map(|(_, p)| under(p)).collect();
            row.push(spread(&all));
            if let Some((wm, rm)) = modeled_clean_per_line(rs, m, &m.prices) {
                modeled = format!(
                    "; modeled per line (the same records, their write-backs left out: \
                     either strategy writes back the lines the CPU wrote) {wm:.2} and {rm:.2}"
                );
            }
        }
        row.push(format!(
            "icount per line: whole-buffer clean {w:.2} (boundary, {} present, all lines \
             dirty less none dirty), ranged {r:.2} (the 1080-row rectangle's present, 4 \
             lines a row){modeled}",
            whole_size(rs).map_or("-".into(), size)
        ));
        rows.push(row);
    }
    // Explicit vs uncached, writes.
    let icount = |r: &Record| r.num("cycles");
    let mut row = vec![
        "explicit vs uncached, CPU writes (bytes written per frame)".into(),
        write_break(rs, &icount).text(),
    ];
    if let Some(m) = model {
        let under = |p: Prices| move |r: &Record| row_for(m, r).map(|w| w.total(&p) as f64);
        row.push(write_break(rs, &under(m.prices)).text());
        let all: Vec<Cross> = sets
            .iter()
            .map(|(_, p)| write_break(rs, &under(*p)))
            .collect();
        row.push(spread(&all));
    }
    row.push(
        "frame records (write + sync + present per frame): the cheaper explicit variant and \
         legacy-uncached, a line through the smallest and the largest frame workload"
            .into(),
    );
    rows.push(row);
    // Explicit vs uncached, reads.
    let icount = |r: &Record| {
        Some([
            r.num("device_cycles")?,
            r.num("sync_cycles")?,
            r.num("read_cycles")?,
        ])
    };
    let mut row = vec![
        "explicit vs uncached, CPU reads (bytes read per readback)".into(),
        read_break(rs, &icount).text(),
    ];
    if let Some(m) = model {
        let under = |p: Prices| {
            move |r: &Record| {
                let w = row_for(m, r)?;
                let ph = w.modeled(&p);
                let ev = w.events_cost(&p) as f64;
                Some([ph[0] as f64 + ev, ph[1] as f64, ph[2] as f64])
            }
        };
        row.push(read_break(rs, &under(m.prices)).text());
        let all: Vec<Cross> = sets
            .iter()
            .map(|(_, p)| read_break(rs, &under(*p)))
            .collect();
        row.push(spread(&all));
    }
    row.push(
        "readback records (one size, 1 MiB): explicit-ranged and legacy-uncached, the \
         device-write and sync phases taken as fixed, the CPU read as proportional to the \
         bytes read (so explicit's cost at small sizes is overstated: its invalidate \
         scales too)"
            .into(),
    );
    rows.push(row);
    let mut head = vec!["break-even", "under icount"];
    if model.is_some() {
        head.extend(["under the model", "across the sensitivity range"]);
    }
    head.push("computed from");
    o.push_str(&table(&head, &rows));
    if model.is_none() {
        let _ = writeln!(
            o,
            "\nUnder the memory-cost model: run `cargo xtask bench --model` before `cargo \
             xtask bench` ({} records here).",
            int(rs.len() as f64)
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_cross_where_they_should() {
        // explicit 1000 + 1/byte, uncached 0 + 2/byte: cross at 1000 bytes.
        let c = crossing((1000.0, 1.0), (0.0, 2.0), 100.0, 10_000.0);
        assert_eq!(c.text(), "uncached cheaper below 1,000 B, explicit above");
        let s = crossing((1000.0, 1.0), (0.0, 0.5), 4096.0, 1048576.0).text();
        assert_eq!(s, "none from 4 KiB to 1 MiB: uncached cheaper");
        let s = crossing((1000.0, 1.0), (0.0, 1.1), 100.0, 2000.0).text();
        assert!(s.starts_with("none from 100 B to 2,000 B: uncached cheaper; by extrapolation they cross at 10,000 B"), "{s}");
        assert_eq!(line((0.0, 1.0), (2.0, 5.0)), (1.0, 2.0));
        assert_eq!(
            ranged_fraction(2.0, 4.0).text(),
            "ranged cheaper below 50% dirty, whole above"
        );
        assert!(ranged_fraction(4.0, 4.0).text().starts_with("none"));
        // Several parameter sets: the range where they agree, every answer where not.
        let d = crossing((2000.0, 1.0), (0.0, 2.0), 100.0, 10_000.0);
        assert_eq!(
            spread(&[c.clone(), d.clone(), c.clone()]),
            "uncached cheaper below 1,000 B to 2,000 B, explicit above"
        );
        let n = Cross::None("none".into());
        assert_eq!(spread(&[n.clone(), n.clone()]), "none");
        assert_eq!(
            spread(&[c, n]),
            "uncached cheaper below 1,000 B, explicit above; none"
        );
    }

    #[test]
    fn the_fake_run_gives_every_break_even() {
        let rs = crate::bench::parse(&crate::bench::tests::fake_log()).unwrap();
        let s = section(&rs, None);
        // The fake boundary data: whole 2.5 per line, the rectangle 3.
        assert!(
            s.contains("ranged cheaper below 83% dirty, whole above"),
            "{s}"
        );
        assert!(s.contains("explicit vs uncached, CPU writes"), "{s}");
        assert!(s.contains("bench --model"), "{s}");
        assert!(!s.contains("| - |"), "a break-even is missing:\n{s}");
    }
}
