//! Raster plot with the population rate below it, like Fig. 3 of Izhikevich (2003), and,
//! from a report, a few neurons' sampled traces below those.

use crate::analysis::population_rate;
use crate::error::{Error, Result};
use crate::record::atomic::write_atomically;
use crate::record::report::Traces;
use crate::record::sonata::SpikeFile;
use plotters::prelude::*;
use std::path::Path;
use std::sync::OnceLock;

const COLOURS: [RGBColor; 4] = [RGBColor(31, 84, 160), RGBColor(200, 40, 40), RGBColor(30, 140, 60), RGBColor(140, 80, 170)];
const FONT_PATHS: [&str; 3] =
    ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/TTF/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans.ttf"];

/// Registers a system font for labels (plotters draws text with ab_glyph, which needs
/// one). Returns false when none is found: the plot is then drawn without text.
fn font_available() -> bool {
    static FOUND: OnceLock<bool> = OnceLock::new();
    *FOUND.get_or_init(|| {
        FONT_PATHS.iter().find_map(|p| std::fs::read(p).ok()).is_some_and(|bytes| {
            plotters::style::register_font("sans-serif", FontStyle::Normal, Box::leak(bytes.into_boxed_slice())).is_ok()
        })
    })
}

/// Neurons a raster draws at most (it is 560 pixels high): larger networks are drawn
/// through every k-th neuron.
pub const RASTER_NEURONS: u64 = 2000;

/// Draws the raster of the spike file at `spikes` into the PNG `out` (1200 × 800), via a
/// temporary file and a rename so that no half-drawn picture is left behind. Reads at
/// most `RASTER_NEURONS` neurons' spikes, so memory stays small for any network.
pub fn raster_png_from(spikes: &Path, duration_ms: Option<f64>, out: &Path) -> Result<()> {
    figure_png_from(spikes, duration_ms, None, out)
}

/// `raster_png_from` with `traces` drawn in a third panel below the rate (1200 × 1100).
pub fn figure_png_from(spikes: &Path, duration_ms: Option<f64>, traces: Option<&Traces>, out: &Path) -> Result<()> {
    let (file, stride) = crate::record::sonata::read_spike_file_sampled(spikes, RASTER_NEURONS)?;
    file.validate().map_err(|message| Error::Input { path: spikes.to_path_buf(), message })?;
    let duration_ms = match (duration_ms, file.duration_ms) {
        (Some(d), _) | (None, Some(d)) if d > 0.0 && d.is_finite() => d,
        (Some(d), _) | (None, Some(d)) => {
            return Err(Error::Input { path: spikes.to_path_buf(), message: format!("nothing to draw: the file covers {d} ms") })
        }
        (None, None) => {
            return Err(Error::Input {
                path: spikes.to_path_buf(),
                message: "the file does not record its duration: give --duration".into(),
            })
        }
    };
    write_atomically(out, |partial| draw(&file, duration_ms, stride, traces, partial))
}

/// Draws `file`, which holds every `stride`-th neuron's spikes (1: all of them).
pub fn raster_png(file: &SpikeFile, duration_ms: f64, stride: u64, out: &Path) -> Result<()> {
    write_atomically(out, |partial| draw(file, duration_ms, stride, None, partial))
}

fn draw(file: &SpikeFile, duration_ms: f64, stride: u64, traces: Option<&Traces>, out: &Path) -> Result<()> {
    let fail = |e: String| Error::Output { path: out.to_path_buf(), message: e };
    let labels = font_available();
    if !labels {
        eprintln!("volley: warning: no DejaVuSans.ttf found (apt-get install fonts-dejavu-core); drawing the plot without labels");
    }
    let height = if traces.is_some() { 1100 } else { 800 };
    let root = BitMapBackend::new(out, (1200, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
    let (top, rest) = root.split_vertically(560);
    let (bottom, below) = rest.split_vertically(240);
    let total: u64 = file.populations.iter().map(|p| p.size.unwrap_or_else(|| p.node_ids.iter().max().map_or(0, |m| m + 1))).sum();

    let mut chart = ChartBuilder::on(&top);
    chart.margin(10);
    if labels {
        let caption = if stride > 1 { format!("Spike raster (every {stride}th neuron)") } else { "Spike raster".to_string() };
        chart.caption(caption, ("sans-serif", 22)).x_label_area_size(30).y_label_area_size(60);
    }
    let mut chart = chart.build_cartesian_2d(0.0..duration_ms, 0.0..total.max(1) as f64).map_err(|e| fail(e.to_string()))?;
    if labels {
        chart
            .configure_mesh()
            .disable_mesh()
            .y_desc("neuron")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()
            .map_err(|e| fail(e.to_string()))?;
    }
    let mut offset = 0u64;
    for (k, pop) in file.populations.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let points =
            pop.timestamps_ms.iter().zip(&pop.node_ids).map(|(&t, &id)| Circle::new((t, (offset + id) as f64), 1, colour.filled()));
        let series = chart.draw_series(points).map_err(|e| fail(e.to_string()))?;
        if labels {
            series.label(pop.name.clone()).legend(move |(x, y)| Circle::new((x, y), 4, colour.filled()));
        }
        offset += pop.size.unwrap_or_else(|| pop.node_ids.iter().max().map_or(0, |m| m + 1));
    }
    if labels {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(|e| fail(e.to_string()))?;
    }

    let bin_ms = 1.0;
    let rate = population_rate(&file.populations, bin_ms, duration_ms);
    // The rate of the drawn neurons, one in `stride` of each population.
    let scale = 1000.0 / bin_ms / total.max(1) as f64 * stride as f64;
    let max_rate = rate.iter().cloned().fold(0.0, f64::max) * scale;
    let mut chart = ChartBuilder::on(&bottom);
    chart.margin(10);
    if labels {
        chart.x_label_area_size(40).y_label_area_size(60);
    }
    let mut chart = chart.build_cartesian_2d(0.0..duration_ms, 0.0..(max_rate * 1.05).max(1.0)).map_err(|e| fail(e.to_string()))?;
    if labels {
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("time (ms)")
            .y_desc("rate (Hz)")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .draw()
            .map_err(|e| fail(e.to_string()))?;
    }
    chart
        .draw_series(LineSeries::new(rate.iter().enumerate().map(|(i, c)| ((i as f64 + 0.5) * bin_ms, c * scale)), BLACK))
        .map_err(|e| fail(e.to_string()))?;
    if let Some(traces) = traces {
        draw_traces(&below, traces, duration_ms, labels).map_err(fail)?;
    }
    root.present().map_err(|e| fail(e.to_string()))?;
    Ok(())
}

/// A few neurons' sampled values against time, one colour each.
fn draw_traces<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    traces: &Traces,
    duration_ms: f64,
    labels: bool,
) -> std::result::Result<(), String> {
    let values = traces.series.iter().flat_map(|(_, v)| v.iter().copied()).filter(|v| v.is_finite());
    let (lo, hi) = values.fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo, hi) = if lo < hi { (lo as f64, hi as f64) } else { (lo as f64 - 1.0, lo as f64 + 1.0) };
    let pad = (hi - lo) * 0.05;
    let mut chart = ChartBuilder::on(area);
    chart.margin(10);
    if labels {
        chart.x_label_area_size(40).y_label_area_size(60);
    }
    let mut chart = chart.build_cartesian_2d(0.0..duration_ms, (lo - pad)..(hi + pad)).map_err(|e| e.to_string())?;
    if labels {
        let unit = if traces.unit.is_empty() { String::new() } else { format!(" ({})", traces.unit) };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("time (ms)")
            .y_desc(format!("{}{unit}", traces.variable))
            .x_label_formatter(&|x| format!("{x:.0}"))
            .draw()
            .map_err(|e| e.to_string())?;
    }
    for (k, (id, values)) in traces.series.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let points = traces.times.iter().zip(values).filter(|(_, v)| v.is_finite()).map(|(&t, &v)| (t, v as f64));
        let series = chart.draw_series(LineSeries::new(points, colour)).map_err(|e| e.to_string())?;
        if labels {
            let name = format!("{} {id}", traces.population);
            series.label(name).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], colour));
        }
    }
    if labels {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
