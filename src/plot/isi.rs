//! `volley stats SPIKES.h5 --plot isi.png`: each population's distribution of
//! inter-spike intervals on a log time axis, with its mean CV(ISI).

use super::{legend_beside, COLOURS, TIME_PANEL_WIDTH, VALUE_AXIS_WIDTH, WIDTH};
use crate::error::{Error, Result};
use crate::record::atomic::write_atomically;
use plotters::prelude::*;
use std::path::Path;

/// One population's line: its name, its fraction of intervals per bin, its mean CV.
pub struct IsiLine {
    pub name: String,
    pub fractions: Vec<f64>,
    pub cv: Option<f64>,
}

/// Draws the distributions over the bins `edges_ms` (log-spaced) into the PNG `out`.
pub fn isi_png(lines: &[IsiLine], edges_ms: &[f64], out: &Path) -> Result<()> {
    let fail = |e: String| Error::Output { path: out.to_path_buf(), message: e };
    write_atomically(out, |partial| {
        let root = BitMapBackend::new(partial, (WIDTH, 500)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
        draw_isi(&root, lines, edges_ms, super::font_available()).map_err(fail)?;
        root.present().map_err(|e| fail(e.to_string()))
    })
}

fn draw_isi<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    lines: &[IsiLine],
    edges_ms: &[f64],
    labels: bool,
) -> std::result::Result<(), String> {
    let (lo, hi) = (edges_ms[0], edges_ms[edges_ms.len() - 1]);
    let top = lines.iter().flat_map(|l| l.fractions.iter().cloned()).fold(0.0, f64::max);
    let (panel, beside) = root.split_horizontally(TIME_PANEL_WIDTH);
    let mut chart = ChartBuilder::on(&panel);
    chart.margin(10).y_label_area_size(VALUE_AXIS_WIDTH);
    if labels {
        chart.caption("Inter-spike intervals", ("sans-serif", 22)).x_label_area_size(40);
    }
    let mut chart = chart.build_cartesian_2d((lo..hi).log_scale(), 0.0..(top * 1.05).max(0.01)).map_err(|e| e.to_string())?;
    if labels {
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("interval (ms)")
            .y_desc("fraction of intervals")
            .x_label_formatter(&|x| format!("{x}"))
            .draw()
            .map_err(|e| e.to_string())?;
    }
    for (k, line) in lines.iter().enumerate() {
        // A bin's fraction at the geometric middle of its edges.
        let points = line.fractions.iter().enumerate().map(|(i, &f)| ((edges_ms[i] * edges_ms[i + 1]).sqrt(), f));
        chart.draw_series(LineSeries::new(points, COLOURS[k % COLOURS.len()].stroke_width(2))).map_err(|e| e.to_string())?;
    }
    if labels {
        let entries: Vec<(String, RGBColor)> = lines
            .iter()
            .enumerate()
            .map(|(k, l)| {
                let cv = l.cv.map_or("CV n/a".to_string(), |c| format!("CV {c:.2}"));
                (format!("{} ({cv})", l.name), COLOURS[k % COLOURS.len()])
            })
            .collect();
        legend_beside(&beside, &entries, 40)?;
    }
    Ok(())
}
