//! `volley plot RATES.h5`: each population's rate against time, from a rate file
//! (`output.rates`), on the same time panel as the raster's figure.

use super::{legend_beside, time_chart, time_span, COLOURS, TIME_PANEL_WIDTH, WIDTH};
use crate::error::{Error, Result};
use crate::record::atomic::write_atomically;
use crate::record::rates::RateTraces;
use plotters::prelude::*;
use std::path::Path;

/// Draws the rate file at `path` into the PNG `out` (1200 × 500): one line per
/// population in Hz (spikes per bin over its neurons and the bin), named beside.
pub fn rates_png_from(path: &Path, out: &Path) -> Result<()> {
    let rates = crate::record::rates::read_rates(path)?;
    let fail = |e: String| Error::Output { path: out.to_path_buf(), message: e };
    write_atomically(out, |partial| {
        let root = BitMapBackend::new(partial, (WIDTH, 500)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
        draw_rates(&root, &rates, super::font_available()).map_err(fail)?;
        root.present().map_err(|e| fail(e.to_string()))
    })
}

/// Each population's rate (Hz) per bin: its counts over its neurons and the bin.
pub(super) fn hz(rates: &RateTraces) -> Vec<Vec<f64>> {
    let scale = |n: u64| 1000.0 / rates.bin_ms / n.max(1) as f64;
    rates.populations.iter().map(|(_, n, counts)| counts.iter().map(|&c| c as f64 * scale(*n)).collect()).collect()
}

/// The panel; returns the pixel columns of time 0 and of the end.
pub(super) fn draw_rates<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    rates: &RateTraces,
    labels: bool,
) -> std::result::Result<(i32, i32), String> {
    let bins = rates.populations.iter().map(|(_, _, c)| c.len()).max().unwrap_or(0);
    let end_ms = (bins as f64 * rates.bin_ms).max(rates.bin_ms);
    let lines = hz(rates);
    let top = lines.iter().flatten().cloned().fold(0.0, f64::max);
    let (panel, beside) = root.split_horizontally(TIME_PANEL_WIDTH);
    let caption = format!("Population rates ({} ms bins)", rates.bin_ms);
    let mut chart = time_chart(&panel, (0.0, end_ms), 0.0..(top * 1.05).max(1.0), "rate (Hz)", Some(&caption), labels)?;
    for (k, line) in lines.iter().enumerate() {
        // Bin k holds the spikes of (k·bin, (k+1)·bin]: drawn at its middle.
        let points = line.iter().enumerate().map(|(i, &r)| ((i as f64 + 0.5) * rates.bin_ms, r));
        chart.draw_series(LineSeries::new(points, COLOURS[k % COLOURS.len()])).map_err(|e| e.to_string())?;
    }
    if labels {
        let entries: Vec<(String, RGBColor)> =
            rates.populations.iter().enumerate().map(|(k, (name, ..))| (name.clone(), COLOURS[k % COLOURS.len()])).collect();
        legend_beside(&beside, &entries, 40)?;
    }
    Ok(time_span(&chart, (0.0, end_ms)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_counts_over_neurons_and_the_bin_on_the_figures_time_axis() {
        let rates = RateTraces { bin_ms: 2.0, populations: vec![("a".into(), 4, vec![0, 8, 2]), ("b".into(), 1, vec![1, 0, 0])] };
        assert_eq!(hz(&rates), [vec![0.0, 1000.0, 250.0], vec![500.0, 0.0, 0.0]]);
        let mut buffer = vec![0u8; (WIDTH * 500 * 3) as usize];
        let root = BitMapBackend::with_buffer(&mut buffer, (WIDTH, 500)).into_drawing_area();
        let (start, end) = draw_rates(&root, &rates, false).unwrap();
        assert!(end - start > 800, "{start} {end}");
        // The same room for the value axis as the raster's figure: time 0 and the end in
        // the same columns as there.
        let mut image = super::super::RasterImage::new((0.0, 6.0), 1);
        image.population(&crate::record::sonata::PopulationHeader { name: "a".into(), size: Some(4), ..Default::default() });
        let mut buffer = vec![0u8; (WIDTH * 800 * 3) as usize];
        let root = BitMapBackend::with_buffer(&mut buffer, (WIDTH, 800)).into_drawing_area();
        let raster = super::super::draw_panels(&root, &image, None, false).unwrap();
        assert_eq!(raster.spans[0], (start, end));
    }
}
