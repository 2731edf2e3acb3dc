//! The OTB success and precision plots: every tracker on one chart, its score in the legend.

use super::metrics::{
    norm_threshold, precision_threshold, success_threshold, NORM_STEPS, PRECISION_AT_PX,
    PRECISION_STEPS, SUCCESS_STEPS,
};
use super::report::TrackerReport;
use anyhow::{anyhow, Context, Result};
use plotters::prelude::*;
use std::path::{Path, PathBuf};

const COLOURS: [RGBColor; 8] = [
    RGBColor(214, 39, 40),
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

struct Chart<'a> {
    title: &'a str,
    x_label: &'a str,
    y_label: &'a str,
    x_max: f64,
    /// Decimals of the x tick labels.
    x_decimals: usize,
    legend: SeriesLabelPosition,
}

/// One curve: legend label, score (for ordering) and points.
type Series = (String, f64, Vec<(f64, f64)>);

fn draw(path: &Path, chart: &Chart, mut series: Vec<Series>) -> Result<()> {
    series.sort_by(|a, b| b.1.total_cmp(&a.1));
    let root = BitMapBackend::new(path, (800, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let mut plot = ChartBuilder::on(&root)
        .caption(chart.title, ("sans-serif", 26))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..chart.x_max, 0f64..1f64)
        .map_err(|e| anyhow!("{e}"))?;
    plot.configure_mesh()
        .x_desc(chart.x_label)
        .y_desc(chart.y_label)
        .x_label_formatter(&|v| format!("{v:.*}", chart.x_decimals))
        .y_label_formatter(&|v| format!("{v:.1}"))
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 18))
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    for (i, (label, _, points)) in series.into_iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        plot.draw_series(LineSeries::new(points, colour.stroke_width(3)))
            .map_err(|e| anyhow!("{e}"))?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], colour.stroke_width(3))
            });
    }
    plot.configure_series_labels()
        .position(chart.legend.clone())
        .label_font(("sans-serif", 18))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    root.present()
        .map_err(|e| anyhow!("{e}"))
        .with_context(|| format!("cannot write plot {}", path.display()))
}

/// Writes `success.png`, `precision.png` and `norm_precision.png` into `dir`; returns their paths.
pub fn write_plots(dir: &Path, trackers: &[TrackerReport], title: &str) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create folder {}", dir.display()))?;
    let trackers: Vec<&TrackerReport> = trackers.iter().filter(|t| t.mean.sequences > 0).collect();
    let success = dir.join("success.png");
    draw(
        &success,
        &Chart {
            title: &format!("Success plots of OPE - {title}"),
            x_label: "Overlap threshold",
            y_label: "Success rate",
            x_max: 1.0,
            x_decimals: 1,
            legend: SeriesLabelPosition::LowerLeft,
        },
        trackers
            .iter()
            .map(|t| {
                let points = (0..SUCCESS_STEPS)
                    .map(|i| (success_threshold(i), t.curves.success[i]))
                    .collect();
                (
                    format!("{} [{:.3}]", t.tracker, t.mean.auc),
                    t.mean.auc,
                    points,
                )
            })
            .collect(),
    )?;
    let precision = dir.join("precision.png");
    draw(
        &precision,
        &Chart {
            title: &format!("Precision plots of OPE - {title}"),
            x_label: "Location error threshold (px)",
            y_label: "Precision",
            x_max: precision_threshold(PRECISION_STEPS - 1),
            x_decimals: 0,
            legend: SeriesLabelPosition::LowerRight,
        },
        trackers
            .iter()
            .map(|t| {
                let points = (0..PRECISION_STEPS)
                    .map(|i| (precision_threshold(i), t.curves.precision[i]))
                    .collect();
                let p = t.curves.precision[PRECISION_AT_PX];
                (format!("{} [{:.3}]", t.tracker, p), p, points)
            })
            .collect(),
    )?;
    let norm = dir.join("norm_precision.png");
    draw(
        &norm,
        &Chart {
            title: &format!("Normalised precision plots of OPE - {title}"),
            x_label: "Normalised location error threshold",
            y_label: "Normalised precision",
            x_max: norm_threshold(NORM_STEPS - 1),
            x_decimals: 2,
            legend: SeriesLabelPosition::LowerRight,
        },
        trackers
            .iter()
            .map(|t| {
                let points = (0..NORM_STEPS)
                    .map(|i| (norm_threshold(i), t.curves.norm_precision[i]))
                    .collect();
                let p = t.mean.norm_precision;
                (format!("{} [{:.3}]", t.tracker, p), p, points)
            })
            .collect(),
    )?;
    Ok(vec![success, precision, norm])
}
