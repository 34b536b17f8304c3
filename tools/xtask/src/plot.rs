//! SVG plots of a benchmark run (plotters' SVG backend only: text is emitted as SVG
//! `<text>` and laid out by plotters' built-in estimate, so no font files or system
//! font libraries are needed; the viewer renders the labels in its sans-serif font).

use crate::bench::Record;
use crate::report::{int, size};
use crate::Result;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("plot: {e:?}")
}

/// The sync flags in legend order.
const CASES: &[&str] = &[
    "START READ",
    "START WRITE",
    "START RW",
    "END READ",
    "END WRITE",
    "END RW",
    "START+END WRITE",
];

/// One colour per sync flag (a colour-blind-safe set).
const COLORS: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(86, 180, 233),
    RGBColor(0, 158, 115),
    RGBColor(230, 159, 0),
    RGBColor(213, 94, 0),
    RGBColor(204, 121, 167),
    RGBColor(240, 200, 0),
];

/// (size, cycles) of every record matching, by size.
fn series(rs: &[Record], suite: &str, case: &str, variant: &str) -> Vec<(f64, f64)> {
    let mut v: Vec<(f64, f64)> = rs
        .iter()
        .filter(|r| r.suite == suite && r.case == case && r.variant == variant)
        .filter_map(|r| Some((r.size as f64, r.num("cycles")?)))
        .filter(|&(_, c)| c > 0.0)
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v
}

/// Sync cost against buffer size, log-log: one series per flag (whole buffer) and the
/// bare DC clean / invalidate loops (the limit).
pub fn sync_svg(rs: &[Record]) -> Result<String> {
    let mut all: Vec<(&str, Vec<(f64, f64)>)> = CASES
        .iter()
        .map(|c| (*c, series(rs, "sync", c, "whole")))
        .collect();
    all.push((
        "bare DC invalidate loop",
        series(rs, "limit", "invalidate", "bare-dc-loop"),
    ));
    all.push((
        "bare DC clean loop",
        series(rs, "limit", "clean", "bare-dc-loop"),
    ));
    let points = all.iter().flat_map(|(_, s)| s.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, 0f64, f64::MAX, 0f64);
    for &(x, y) in points {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1000, 680)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        if x1 == 0.0 {
            root.draw_text(
                "no sync records",
                &("sans-serif", 20).into_text_style(&root),
                (40, 40),
            )
            .map_err(err)?;
            root.present().map_err(err)?;
            drop(root);
            return Ok(svg);
        }
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "buffer_sync (whole buffer) vs size - icount cycles, log-log",
                ("sans-serif", 22),
            )
            .margin(16)
            .x_label_area_size(50)
            .y_label_area_size(90)
            .build_cartesian_2d(
                (x0 / 1.3..x1 * 1.3).log_scale().base(4.0),
                (y0 / 2.0..y1 * 2.0).log_scale(),
            )
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("buffer size")
            .y_desc("icount cycles per operation (instructions)")
            .x_label_formatter(&|x| size(x.round() as u64))
            .y_label_formatter(&|y| int(y.round()))
            .draw()
            .map_err(err)?;
        for (i, (name, s)) in all.iter().enumerate() {
            let limit = i >= CASES.len();
            let color = match i.checked_sub(CASES.len()) {
                Some(0) => RGBColor(150, 150, 150),
                Some(_) => BLACK,
                None => COLORS[i % COLORS.len()],
            };
            let style = color.stroke_width(if limit { 3 } else { 2 });
            if limit {
                chart
                    .draw_series(DashedLineSeries::new(s.iter().copied(), 8, 5, style))
                    .map_err(err)?
            } else {
                chart
                    .draw_series(LineSeries::new(s.iter().copied(), style))
                    .map_err(err)?
            }
            .label(*name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
            chart
                .draw_series(s.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Frame strategies, top to bottom.
const STRATEGIES: &[&str] = &[
    "explicit-whole",
    "explicit-ranged",
    "legacy-fault",
    "legacy-uncached",
    "setway-clean-all",
];

/// Per-frame phases, and the stack colour of each ("other" = total - the three).
const PHASES: [(&str, RGBColor); 4] = [
    ("write", RGBColor(70, 130, 180)),
    ("sync", RGBColor(220, 90, 60)),
    ("present", RGBColor(90, 170, 90)),
    ("other", RGBColor(170, 170, 170)),
];

/// The stacked phases of one frame record: [write, sync, present, other].
fn phases(r: &Record) -> [f64; 4] {
    let n = |f| r.num(f).unwrap_or(0.0);
    let (w, s, p) = (n("write_cycles"), n("sync_cycles"), n("present_cycles"));
    [w, s, p, (n("cycles") - w - s - p).max(0.0)]
}

/// The frame workloads: per-frame cycles of each strategy as horizontal bars stacked by
/// phase, one panel per workload (their scales differ by orders of magnitude).
pub fn frame_svg(rs: &[Record]) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1000, 720)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let panels = root.split_evenly((2, 1));
        for (area, case) in panels.iter().zip(["full-frame", "dirty-64x64"]) {
            let bars: Vec<(usize, [f64; 4])> = STRATEGIES
                .iter()
                .enumerate()
                .filter_map(|(i, v)| {
                    rs.iter()
                        .find(|r| r.suite == "frame" && r.case == case && r.variant == *v)
                        .map(|r| (i, phases(r)))
                })
                .collect();
            let max = bars
                .iter()
                .map(|(_, p)| p.iter().sum::<f64>())
                .fold(1.0, f64::max);
            let mut chart = ChartBuilder::on(area)
                .caption(
                    format!("{case} (1920x1080x4): icount cycles per frame by phase"),
                    ("sans-serif", 20),
                )
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(150)
                .build_cartesian_2d(
                    0.0..max * 1.05,
                    (0..STRATEGIES.len() as i32 - 1).into_segmented(),
                )
                .map_err(err)?;
            chart
                .configure_mesh()
                .disable_y_mesh()
                .x_desc("icount cycles per frame (instructions)")
                .x_label_formatter(&|x| int(x.round()))
                .y_label_formatter(&|y| match y {
                    SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
                        let row = STRATEGIES.len() as i32 - 1 - *i;
                        STRATEGIES.get(row as usize).unwrap_or(&"").to_string()
                    }
                    SegmentValue::Last => String::new(),
                })
                .draw()
                .map_err(err)?;
            let any_other = bars.iter().any(|(_, p)| p[3] > 0.0);
            for (k, (name, color)) in PHASES.iter().enumerate() {
                if k == 3 && !any_other {
                    continue;
                }
                let rects = bars.iter().map(|(i, p)| {
                    let start: f64 = p[..k].iter().sum();
                    // The first strategy at the top.
                    let i = (STRATEGIES.len() - 1 - i) as i32;
                    let mut r = Rectangle::new(
                        [
                            (start, SegmentValue::Exact(i)),
                            (start + p[k], SegmentValue::Exact(i + 1)),
                        ],
                        color.filled(),
                    );
                    r.set_margin(8, 8, 0, 0);
                    r
                });
                let color = *color;
                chart
                    .draw_series(rects)
                    .map_err(err)?
                    .label(*name)
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled())
                    });
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerRight)
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK)
                .draw()
                .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::{parse, tests::fake_log};

    #[test]
    fn plots_render_with_labels() {
        let rs = parse(&fake_log()).unwrap();
        let sync = sync_svg(&rs).unwrap();
        assert!(sync.starts_with("<svg") && sync.contains("END WRITE"));
        assert!(sync.contains("bare DC clean loop") && sync.contains("16 MiB"));
        let frame = frame_svg(&rs).unwrap();
        assert!(frame.contains("setway-clean-all") && frame.contains("dirty-64x64"));
        assert!(frame.contains("<rect"));
    }

    #[test]
    fn plots_of_nothing_still_render() {
        assert!(sync_svg(&[]).unwrap().contains("no sync records"));
        assert!(frame_svg(&[]).unwrap().starts_with("<svg"));
    }
}
