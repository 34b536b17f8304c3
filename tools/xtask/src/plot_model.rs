//! `model.svg`: icount vs modeled cycles per strategy, one panel per workload of the
//! model run (their scales differ by orders of magnitude), with the modeled figure's
//! sensitivity range as a whisker. plotters' SVG backend, as in [`crate::plot`].

use crate::model_data::ModelRun;
use crate::report::int;
use crate::report_model::{of, range, workloads};
use crate::Result;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("plot: {e:?}")
}

const ICOUNT: RGBColor = RGBColor(170, 170, 170);
const MODELED: RGBColor = RGBColor(0, 114, 178);

/// The plot.
pub fn model_svg(run: &ModelRun) -> Result<String> {
    let groups = workloads(&run.rows);
    let sets = run.prices.sensitivity();
    let panel_h = 60
        + 44 * groups
            .iter()
            .map(|(s, c)| of(&run.rows, s, c).len())
            .max()
            .unwrap_or(1);
    let mut svg = String::new();
    {
        let h = (panel_h * groups.len().max(1)) as u32;
        let root = SVGBackend::with_string(&mut svg, (1000, h.max(200))).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        if groups.is_empty() {
            root.draw_text(
                "no modeled records",
                &("sans-serif", 20).into_text_style(&root),
                (40, 40),
            )
            .map_err(err)?;
        }
        let panels = root.split_evenly((groups.len().max(1), 1));
        for (area, (suite, case)) in panels.iter().zip(&groups) {
            let rows = of(&run.rows, suite, case);
            let n = rows.len() as i32;
            // Row 2k + 1: strategy k's icount bar, row 2k: its modeled bar; the first
            // strategy at the top.
            let bars: Vec<(String, u64, u64, (u64, u64))> = rows
                .iter()
                .map(|r| {
                    (
                        r.variant.clone(),
                        r.icount().iter().sum(),
                        r.total(&run.prices),
                        range(r, &sets),
                    )
                })
                .collect();
            let max = bars
                .iter()
                .map(|b| b.2.max(b.3 .1).max(b.1))
                .max()
                .unwrap_or(1) as f64;
            let mut chart = ChartBuilder::on(area)
                .caption(
                    format!(
                        "{suite} {case}: icount (grey) and modeled (blue) cycles per operation"
                    ),
                    ("sans-serif", 18),
                )
                .margin(10)
                .x_label_area_size(36)
                .y_label_area_size(200)
                .build_cartesian_2d(0.0..max * 1.05, (0..2 * n - 1).into_segmented())
                .map_err(err)?;
            let label = |i: i32| -> String {
                let k = (2 * n - 1 - i) / 2;
                match (bars.get(k as usize), i % 2) {
                    (Some(b), 1) => format!("{} icount", b.0),
                    (Some(_), _) => "modeled".into(),
                    (None, _) => String::new(),
                }
            };
            chart
                .configure_mesh()
                .disable_y_mesh()
                .y_labels((2 * n) as usize)
                .x_desc("cycles per operation")
                .x_label_formatter(&|x| int(x.round()))
                .y_label_formatter(&|y| match y {
                    SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => label(*i),
                    SegmentValue::Last => String::new(),
                })
                .draw()
                .map_err(err)?;
            let bar = |row: i32, v: u64, color: RGBColor| {
                let mut r = Rectangle::new(
                    [
                        (0.0, SegmentValue::Exact(row)),
                        (v as f64, SegmentValue::Exact(row + 1)),
                    ],
                    color.filled(),
                );
                r.set_margin(4, 4, 0, 0);
                r
            };
            for (k, b) in bars.iter().enumerate() {
                let top = 2 * (n - 1 - k as i32);
                chart
                    .draw_series([bar(top + 1, b.1, ICOUNT), bar(top, b.2, MODELED)])
                    .map_err(err)?;
                let (lo, hi) = b.3;
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        [
                            (lo as f64, SegmentValue::CenterOf(top)),
                            (hi as f64, SegmentValue::CenterOf(top)),
                        ],
                        BLACK.stroke_width(2),
                    )))
                    .map_err(err)?;
            }
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report_model::tests::{row, run};

    #[test]
    fn the_plot_has_every_strategy() {
        let run = run(vec![
            row("legacy-uncached", 100, 50),
            row("explicit-ranged", 100, 5),
        ]);
        let svg = model_svg(&run).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("readback 1MiB"));
        assert!(svg.contains("legacy-uncached icount") && svg.contains("explicit-ranged icount"));
        assert!(svg.contains("<rect") && svg.contains("<polyline"));
        let empty = ModelRun {
            rows: vec![],
            ..run
        };
        assert!(model_svg(&empty).unwrap().contains("no modeled records"));
    }
}
