//! `volley plot --weights FILE`: the distribution of a plastic projection's weights at
//! each snapshot of its weight file (`[[output.weights]]`), one line per snapshot: the
//! bimodal distribution of Izhikevich's (2006) figure where the rule makes one.

use super::{font_available, legend_beside, COLOURS, WIDTH};
use crate::error::{Error, Result};
use crate::record::atomic::write_atomically;
use crate::record::weights::WeightSnapshots;
use plotters::prelude::*;
use std::path::Path;

/// Bins of the histograms.
const BINS: usize = 50;
/// The most snapshots drawn: evenly chosen, the first and the last always.
const MOST_LINES: usize = 8;

/// Draws the weight file at `path` into the PNG `out` (1200 × 500).
pub fn weights_png_from(path: &Path, out: &Path) -> Result<()> {
    let snapshots = crate::record::weights::read_snapshots(path)?;
    let fail = |e: String| Error::Output { path: out.to_path_buf(), message: e };
    write_atomically(out, |partial| {
        let root = BitMapBackend::new(partial, (WIDTH, 500)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
        draw(&root, &snapshots, font_available()).map_err(fail)?;
        root.present().map_err(|e| fail(e.to_string()))
    })
}

/// The snapshots drawn: all, or `MOST_LINES` of them evenly spread.
fn chosen(n: usize) -> Vec<usize> {
    if n <= MOST_LINES {
        return (0..n).collect();
    }
    let mut picks: Vec<usize> = (0..MOST_LINES).map(|k| k * (n - 1) / (MOST_LINES - 1)).collect();
    picks.dedup();
    picks
}

/// Each chosen snapshot's share of synapses per bin over the weights' whole range.
fn histograms(s: &WeightSnapshots, rows: &[usize]) -> (f64, f64, Vec<Vec<f64>>) {
    let all = rows.iter().flat_map(|&r| s.weights[r].iter().copied()).filter(|w| w.is_finite());
    let (lo, hi) = all.fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), w| (lo.min(w), hi.max(w)));
    let (lo, hi) = if lo < hi { (lo as f64, hi as f64) } else { (lo as f64 - 0.5, lo as f64 + 0.5) };
    let width = (hi - lo) / BINS as f64;
    let shares = rows
        .iter()
        .map(|&r| {
            let mut counts = vec![0u64; BINS];
            for &w in s.weights[r].iter().filter(|w| w.is_finite()) {
                counts[(((w as f64 - lo) / width) as usize).min(BINS - 1)] += 1;
            }
            let n = s.weights[r].len().max(1) as f64;
            counts.iter().map(|&c| c as f64 / n).collect()
        })
        .collect();
    (lo, hi, shares)
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    s: &WeightSnapshots,
    labels: bool,
) -> std::result::Result<(), String> {
    let rows = chosen(s.times_ms.len());
    let (lo, hi, shares) = histograms(s, &rows);
    let top = shares.iter().flatten().cloned().fold(0.0, f64::max).max(1e-9);
    let (panel, beside) = root.split_horizontally(WIDTH - 180);
    let mut builder = ChartBuilder::on(&panel);
    builder.margin(10).x_label_area_size(40).y_label_area_size(60);
    if labels {
        builder.caption(format!("Weights of {} at each snapshot", s.population), ("sans-serif", 18));
    }
    let mut chart = builder.build_cartesian_2d(lo..hi, 0.0..top * 1.05).map_err(|e| e.to_string())?;
    if labels {
        chart.configure_mesh().x_desc("weight").y_desc("share of synapses").draw().map_err(|e| e.to_string())?;
    }
    let width = (hi - lo) / BINS as f64;
    for (k, line) in shares.iter().enumerate() {
        let points = line.iter().enumerate().map(|(b, &v)| (lo + (b as f64 + 0.5) * width, v));
        chart.draw_series(LineSeries::new(points, COLOURS[k % COLOURS.len()].stroke_width(2))).map_err(|e| e.to_string())?;
    }
    if labels {
        let entries: Vec<(String, RGBColor)> =
            rows.iter().enumerate().map(|(k, &r)| (format!("{} s", s.times_ms[r] / 1000.0), COLOURS[k % COLOURS.len()])).collect();
        legend_beside(&beside, &entries, 40)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_snapshot_is_a_histogram_of_shares_over_the_whole_range() {
        let s = WeightSnapshots {
            population: "e".into(),
            times_ms: vec![0.0, 1000.0],
            weights: vec![vec![5.0; 4], vec![0.0, 0.0, 10.0, 10.0]],
        };
        let (lo, hi, shares) = histograms(&s, &[0, 1]);
        assert_eq!((lo, hi), (0.0, 10.0));
        assert_eq!(shares[0][25], 1.0, "all at 5: the middle bin");
        assert_eq!((shares[1][0], shares[1][BINS - 1]), (0.5, 0.5), "bimodal at the bounds");
        assert_eq!(chosen(3), vec![0, 1, 2]);
        assert_eq!(chosen(100), vec![0, 14, 28, 42, 56, 70, 84, 99]);
    }
}
