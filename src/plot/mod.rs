//! Raster plot with the population rate below it, like Fig. 3 of Izhikevich (2003), and,
//! from a report, a few neurons' sampled traces below those.

use crate::error::{Error, Result};
use crate::record::atomic::write_atomically;
use crate::record::report::Traces;
use crate::record::sonata::{SpikeCheck, Visit};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;
use std::sync::OnceLock;

pub mod isi;
pub mod rates;
pub mod weights;

/// Twelve colours that stay apart (Tableau's ten, reordered so that a network's first
/// two populations, excitatory and inhibitory, are blue and red, with black and navy):
/// the microcircuit's eight populations each get their own.
const COLOURS: [RGBColor; 12] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(0, 0, 0),
    RGBColor(0, 0, 128),
];
/// The figure's width, and that of the column to the right of every time panel (the
/// rate bars beside the raster, empty below): each panel's time axis then spans the
/// same pixel columns, so a spike lines up with its rate and its voltage trace.
const WIDTH: u32 = 1200;
const TIME_PANEL_WIDTH: u32 = 960;
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

/// `raster_png_from` with `traces` drawn in a third panel below the rate (1200 × 1100),
/// every panel then over the report's window. The file is read in chunks into the
/// picture's pixels (which neurons fire in which pixel column) and the rate's bins, so
/// memory stays ~1 MB whatever the run's length.
pub fn figure_png_from(spikes: &Path, duration_ms: Option<f64>, traces: Option<&Traces>, out: &Path) -> Result<()> {
    let bad = |message: String| Error::Input { path: spikes.to_path_buf(), message };
    let stride = crate::record::sonata::sampling_stride(spikes, RASTER_NEURONS)?;
    let recorded = crate::record::sonata::read_duration(spikes)?;
    let duration_ms = match (duration_ms, recorded) {
        (Some(d), _) | (None, Some(d)) if d > 0.0 && d.is_finite() => d,
        (Some(d), _) | (None, Some(d)) => return Err(bad(format!("nothing to draw: the file covers {d} ms"))),
        (None, None) => return Err(bad("the file does not record its duration: give --duration".into())),
    };
    let window = traces.map_or((0.0, duration_ms), |t| t.window);
    let mut image = RasterImage::new(window, stride);
    let mut check: Option<SpikeCheck> = None;
    let mut invalid = None;
    crate::record::sonata::visit_every(spikes, stride, |visit| match visit {
        Visit::Population(header) => {
            check = Some(SpikeCheck::new(header, recorded));
            image.population(header);
        }
        Visit::Spikes(k, ts, ids) => {
            for (&t, &id) in ts.iter().zip(ids) {
                if invalid.is_some() {
                    return;
                }
                match check.as_mut().expect("a header first").check(t, id) {
                    Ok(()) => image.add(k, t, id),
                    Err(e) => invalid = Some(e),
                }
            }
        }
    })?;
    if let Some(message) = invalid {
        return Err(bad(message));
    }
    write_atomically(out, |partial| draw(&image, traces, partial))
}

/// Pixel columns of the raster's time axis (its plot area is ~1100 pixels wide).
const COLUMNS: usize = 1100;
/// The population rate has at most this many bins (1 ms each up to 2 s of run).
const RATE_BINS: f64 = 2000.0;

/// A raster reduced to what can be seen: per population, which drawn neuron fires in
/// which pixel column, and the spike count per bin of the rate below it.
struct RasterImage {
    /// The time drawn (ms): spikes at times in (start, stop].
    start_ms: f64,
    stop_ms: f64,
    stride: u64,
    /// Per population: name, size (None: the largest id seen + 1), the largest id seen
    /// + 1, and a bit per (drawn neuron, column).
    populations: Vec<(String, Option<u64>, u64, Vec<u64>)>,
    /// Per population, how many of its drawn neurons are recorded (None: all of them).
    recorded: Vec<Option<u64>>,
    /// Per population, the spikes of its drawn neurons (one in `stride`).
    spikes: Vec<u64>,
    bin_ms: f64,
    counts: Vec<f64>,
}

impl RasterImage {
    fn new((start_ms, stop_ms): (f64, f64), stride: u64) -> RasterImage {
        let length = stop_ms - start_ms;
        let bin_ms = (length / RATE_BINS).max(1.0);
        let bins = (length / bin_ms).round().max(1.0) as usize;
        RasterImage {
            start_ms,
            stop_ms,
            stride,
            populations: Vec::new(),
            recorded: Vec::new(),
            spikes: Vec::new(),
            bin_ms,
            counts: vec![0.0; bins],
        }
    }

    fn population(&mut self, header: &crate::record::sonata::PopulationHeader) {
        self.populations.push((header.name.clone(), header.size, 0, Vec::new()));
        self.recorded.push(header.recorded_kept);
        self.spikes.push(0);
    }

    /// Each population's drawn neurons (ids 0, stride, 2·stride, …) whose spikes the
    /// file records: all of them, unless it recorded only some.
    fn drawn(&self) -> Vec<u64> {
        self.sizes().iter().zip(&self.recorded).map(|(&size, recorded)| recorded.unwrap_or(size.div_ceil(self.stride))).collect()
    }

    /// Each population's mean rate (Hz) over the run: the spikes of its drawn neurons
    /// over their number and the duration.
    fn rates(&self) -> Vec<f64> {
        self.drawn()
            .iter()
            .zip(&self.spikes)
            .map(|(&drawn, &spikes)| spikes as f64 / drawn.max(1) as f64 / (self.length_ms() / 1000.0))
            .collect()
    }

    fn length_ms(&self) -> f64 {
        self.stop_ms - self.start_ms
    }

    fn add(&mut self, k: usize, t: f64, id: u64) {
        // A spike at t was seen at the end of the step that ends at t: the window (start,
        // stop] holds the steps inside it (and a spike at 0, if any, when it starts at 0).
        if t > self.stop_ms || (t <= self.start_ms && self.start_ms > 0.0) {
            return;
        }
        let t = t - self.start_ms;
        let bins = self.counts.len();
        // A spike at the end of the window belongs to the last bin.
        let b = ((t / self.bin_ms).ceil().max(0.0) as usize).saturating_sub(1).min(bins - 1);
        self.counts[b] += 1.0;
        self.spikes[k] += 1;
        let column = ((t / self.length_ms() * COLUMNS as f64).max(0.0) as usize).min(COLUMNS - 1);
        let (_, _, seen, bits) = &mut self.populations[k];
        *seen = (*seen).max(id + 1);
        // A population without n_nodes is drawn up to its largest id, within bounds.
        let row = id / self.stride;
        if row >= 4 * RASTER_NEURONS {
            return;
        }
        let bit = row as usize * COLUMNS + column;
        if bits.len() <= bit / 64 {
            bits.resize(bit / 64 + 1, 0);
        }
        bits[bit / 64] |= 1 << (bit % 64);
    }

    /// Neurons on the y axis, per population.
    fn sizes(&self) -> Vec<u64> {
        self.populations.iter().map(|(_, size, seen, _)| size.unwrap_or(*seen)).collect()
    }
}

/// "1st", "2nd", "3rd", "4th", "11th", "22nd", "113th".
fn ordinal(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

fn draw(image: &RasterImage, traces: Option<&Traces>, out: &Path) -> Result<()> {
    let fail = |e: String| Error::Output { path: out.to_path_buf(), message: e };
    let labels = font_available();
    if !labels {
        eprintln!("volley: warning: no DejaVuSans.ttf found (apt-get install fonts-dejavu-core); drawing the plot without labels");
    }
    let height = if traces.is_some() { 1100 } else { 800 };
    let root = BitMapBackend::new(out, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
    let pixels = draw_panels(&root, image, traces, labels).map_err(fail)?;
    debug_assert!(pixels.spans.iter().all(|s| *s == pixels.spans[0]) && pixels.rows == pixels.bars, "panels out of line");
    root.present().map_err(|e| fail(e.to_string()))?;
    Ok(())
}

/// Where a figure's panels put things: per time panel (raster, rate, traces) the pixel
/// columns of time 0 and of the end; per population the pixel row of the middle of its
/// raster rows and of its rate bar.
struct PanelPixels {
    spans: Vec<(i32, i32)>,
    rows: Vec<i32>,
    bars: Vec<i32>,
}

/// The figure's panels on `root`.
fn draw_panels<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    image: &RasterImage,
    traces: Option<&Traces>,
    labels: bool,
) -> std::result::Result<PanelPixels, String> {
    let (window, stride) = ((image.start_ms, image.stop_ms), image.stride);
    let fail = |e: String| e;
    let mut spans = Vec::new();
    let (top, rest) = root.split_vertically(560);
    let (bottom, below) = rest.split_vertically(240);
    // Beside the raster, each population's mean rate as a bar (the microcircuit's
    // figure), named and coloured as its dots; beside the traces, their legend.
    let (top, bars) = top.split_horizontally(TIME_PANEL_WIDTH);
    let (bottom, _) = bottom.split_horizontally(TIME_PANEL_WIDTH);
    let (below, beside_traces) = below.split_horizontally(TIME_PANEL_WIDTH);
    let sizes = image.sizes();
    let total: u64 = sizes.iter().sum();

    let mut chart = ChartBuilder::on(&top);
    chart.margin(10);
    if labels {
        let caption = if stride > 1 { format!("Spike raster (every {} neuron)", ordinal(stride)) } else { "Spike raster".to_string() };
        chart.caption(caption, ("sans-serif", 22)).x_label_area_size(30);
    }
    // The same room for the value axis in every time panel, labels or not.
    chart.y_label_area_size(VALUE_AXIS_WIDTH);
    let mut chart = chart.build_cartesian_2d(window.0..window.1, 0.0..total.max(1) as f64).map_err(|e| fail(e.to_string()))?;
    // One population: its neurons' ids on the axis; several: each one's name by its rows.
    let several = image.populations.len() > 1;
    if labels {
        let mut mesh = chart.configure_mesh();
        mesh.disable_mesh().x_label_formatter(&|x| format!("{x:.0}")).y_label_formatter(&|y| format!("{y:.0}"));
        if several {
            mesh.y_labels(0);
        } else {
            mesh.y_desc(format!("{} neuron", image.populations.first().map_or("", |p| p.0.as_str())));
        }
        mesh.draw().map_err(|e| fail(e.to_string()))?;
    }
    spans.push(time_span(&chart, window));
    let mut rows = Vec::new();
    let mut offset = 0u64;
    let column_ms = image.length_ms() / COLUMNS as f64;
    let radius = marker_radius(image.drawn().iter().sum());
    for (k, (_, _, _, bits)) in image.populations.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let set = bits.iter().enumerate().flat_map(|(w, &word)| (0..64).filter(move |b| word >> b & 1 == 1).map(move |b| w * 64 + b));
        let points = set.map(|bit| {
            let (row, column) = ((bit / COLUMNS) as u64, bit % COLUMNS);
            Circle::new((window.0 + (column as f64 + 0.5) * column_ms, (offset + row * stride) as f64), radius, colour.filled())
        });
        chart.draw_series(points).map_err(|e| fail(e.to_string()))?;
        rows.push(chart.backend_coord(&(window.0, (offset as f64 + (offset + sizes[k]) as f64) / 2.0)).1);
        offset += sizes[k];
    }
    if labels && several {
        population_names(&top, &chart, image, &rows).map_err(fail)?;
    }
    let bars = draw_rate_bars(&bars, image, labels).map_err(fail)?;

    let (bin_ms, rate) = (image.bin_ms, &image.counts);
    // The rate of the drawn neurons, one in `stride` of each population (recorded).
    let scale = 1000.0 / bin_ms / image.drawn().iter().sum::<u64>().max(1) as f64;
    let max_rate = rate.iter().cloned().fold(0.0, f64::max) * scale;
    let chart = time_chart(&bottom, window, 0.0..(max_rate * 1.05).max(1.0), "rate (Hz)", None, labels)?;
    spans.push(time_span(&chart, window));
    let line = rate.iter().enumerate().map(|(i, c)| (window.0 + (i as f64 + 0.5) * bin_ms, c * scale));
    let mut chart = chart;
    chart.draw_series(LineSeries::new(line, BLACK)).map_err(|e| fail(e.to_string()))?;
    if let Some(traces) = traces {
        spans.push(draw_traces(&below, &beside_traces, traces, window, labels)?);
    }
    Ok(PanelPixels { spans, rows, bars })
}

/// Room for a time panel's value axis (its labels and name), the same in every panel.
const VALUE_AXIS_WIDTH: u32 = 70;

/// Each population's name on the raster's value axis, beside the middle of its rows
/// (`rows`, pixel rows of `area`), cut to fit the axis's room; a thin line between two
/// populations' rows.
fn population_names<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    chart: &ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    image: &RasterImage,
    rows: &[i32],
) -> std::result::Result<(), String> {
    let (left, _) = chart.backend_coord(&(image.start_ms, 0.0));
    let (right, _) = chart.backend_coord(&(image.stop_ms, 0.0));
    let style = TextStyle::from(("sans-serif", 13).into_font()).pos(Pos::new(HPos::Right, VPos::Center));
    let (x0, y0) = area.get_base_pixel();
    let (sizes, mut offset) = (image.sizes(), 0u64);
    for (k, ((name, ..), &row)) in image.populations.iter().zip(rows).enumerate() {
        let shown: String = if name.chars().count() > 9 { name.chars().take(8).chain(['…']).collect() } else { name.clone() };
        area.draw(&Text::new(shown, (left - x0 - 6, row - y0), style.clone().color(&COLOURS[k % COLOURS.len()])))
            .map_err(|e| e.to_string())?;
        offset += sizes[k];
        if k + 1 < rows.len() {
            let (_, y) = chart.backend_coord(&(image.start_ms, offset as f64));
            area.draw(&PathElement::new(vec![(left - x0, y - y0), (right - x0, y - y0)], RGBColor(200, 200, 200)))
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// A time panel on `area`: `window` (ms) across, with the room every time panel keeps for
/// its value axis, and `values` up, named `name`; captioned where a caption is given.
fn time_chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, plotters::coord::Shift>,
    window: (f64, f64),
    values: std::ops::Range<f64>,
    name: &str,
    caption: Option<&str>,
    labels: bool,
) -> std::result::Result<ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>, String> {
    let mut chart = ChartBuilder::on(area);
    chart.margin(10).y_label_area_size(VALUE_AXIS_WIDTH);
    if labels {
        if let Some(caption) = caption {
            chart.caption(caption, ("sans-serif", 22));
        }
        chart.x_label_area_size(40);
    }
    let mut chart = chart.build_cartesian_2d(window.0..window.1, values).map_err(|e| e.to_string())?;
    if labels {
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("time (ms)")
            .y_desc(name)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .draw()
            .map_err(|e| e.to_string())?;
    }
    Ok(chart)
}

/// The pixel columns of the window's start and stop in a time panel.
fn time_span<DB: DrawingBackend>(
    chart: &ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    (start, stop): (f64, f64),
) -> (i32, i32) {
    (chart.backend_coord(&(start, 0.0)).0, chart.backend_coord(&(stop, 0.0)).0)
}

/// A raster's dot radius in pixels for `rows` neurons drawn in its 560-pixel height: one
/// pixel for thousands, up to four for a handful, so that a small network's spikes show.
fn marker_radius(rows: u64) -> i32 {
    (500 / rows.max(1) / 4).clamp(1, 4) as i32
}

/// The thinnest a rate bar is drawn, in pixels: a population of a few neurons among
/// thousands (the microcircuit's L5I) still shows its bar.
const MIN_BAR_PIXELS: f64 = 8.0;

/// Each population's mean rate as a horizontal bar in its raster colour, beside the
/// population's rows of the raster (the same vertical scale: the same margins, caption
/// and label room as the raster), its name and value at its end. Returns each bar's
/// middle pixel row.
fn draw_rate_bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    image: &RasterImage,
    labels: bool,
) -> std::result::Result<Vec<i32>, String> {
    let rates = image.rates();
    let sizes = image.sizes();
    let total = sizes.iter().sum::<u64>().max(1) as f64;
    let top = rates.iter().cloned().fold(0.0, f64::max);
    let mut chart = ChartBuilder::on(area);
    chart.margin(10).y_label_area_size(10);
    if labels {
        chart.caption("mean rate (Hz)", ("sans-serif", 22)).x_label_area_size(30);
    }
    // Room right of the longest bar for its name and value.
    let mut chart = chart.build_cartesian_2d(0.0..(top * 1.9).max(1.0), 0.0..total).map_err(|e| e.to_string())?;
    if labels {
        chart
            .configure_mesh()
            .disable_mesh()
            .disable_y_axis()
            .x_labels(3)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .draw()
            .map_err(|e| e.to_string())?;
    }
    // Neurons per pixel row, for the thinnest bar.
    let per_pixel = total / (chart.backend_coord(&(0.0, 0.0)).1 - chart.backend_coord(&(0.0, total)).1).max(1) as f64;
    let mut middles = Vec::new();
    let mut offset = 0.0;
    for (k, (&rate, &size)) in rates.iter().zip(&sizes).enumerate() {
        let (lo, hi) = (offset, offset + size as f64);
        let middle = (lo + hi) / 2.0;
        let half = ((hi - lo) * 0.35).max(MIN_BAR_PIXELS / 2.0 * per_pixel);
        let colour = COLOURS[k % COLOURS.len()];
        chart
            .draw_series(std::iter::once(Rectangle::new([(0.0, middle - half), (rate, middle + half)], colour.filled())))
            .map_err(|e| e.to_string())?;
        middles.push(chart.backend_coord(&(0.0, middle)).1);
        if labels {
            let text = Text::new(
                format!(" {} {rate:.2}", image.populations[k].0),
                (rate, middle),
                TextStyle::from(("sans-serif", 14).into_font()).pos(Pos::new(HPos::Left, VPos::Center)),
            );
            chart.draw_series(std::iter::once(text)).map_err(|e| e.to_string())?;
        }
        offset = hi;
    }
    Ok(middles)
}

/// Names with their colours, one per line, in `area` beside a panel (never over its data),
/// from its top at `y` (pixels of `area`).
fn legend_beside<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    entries: &[(String, RGBColor)],
    y: i32,
) -> std::result::Result<(), String> {
    let style = TextStyle::from(("sans-serif", 14).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    for (k, (name, colour)) in entries.iter().enumerate() {
        let row = y + 10 + 20 * k as i32;
        area.draw(&PathElement::new(vec![(12, row), (36, row)], ShapeStyle::from(colour).stroke_width(2))).map_err(|e| e.to_string())?;
        area.draw(&Text::new(name.clone(), (42, row), style.clone())).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// A few neurons' sampled values against time, one colour each, their legend in
/// `beside`; returns the pixel columns of the window's start and stop.
fn draw_traces<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    beside: &DrawingArea<DB, plotters::coord::Shift>,
    traces: &Traces,
    window: (f64, f64),
    labels: bool,
) -> std::result::Result<(i32, i32), String> {
    let values = traces.series.iter().flat_map(|(_, v)| v.iter().copied()).filter(|v| v.is_finite());
    let (lo, hi) = values.fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo, hi) = if lo < hi { (lo as f64, hi as f64) } else { (lo as f64 - 1.0, lo as f64 + 1.0) };
    let pad = (hi - lo) * 0.05;
    let name = axis_name(&traces.variable, &traces.unit);
    let mut chart = time_chart(area, window, (lo - pad)..(hi + pad), &name, None, labels)?;
    let span = time_span(&chart, window);
    for (k, (_, values)) in traces.series.iter().enumerate() {
        let colour = trace_colour(k);
        let points = traces.times.iter().zip(values).filter(|(_, v)| v.is_finite()).map(|(&t, &v)| (t, v as f64));
        chart.draw_series(LineSeries::new(points, colour)).map_err(|e| e.to_string())?;
    }
    if labels {
        let entries: Vec<(String, RGBColor)> =
            traces.series.iter().enumerate().map(|(k, (id, _))| (format!("{} {id}", traces.population), trace_colour(k))).collect();
        legend_beside(beside, &entries, 10)?;
    }
    Ok(span)
}

/// The k-th trace's colour: the palette after the first two populations' blue and red,
/// so that a trace is not taken for a population of the raster.
fn trace_colour(k: usize) -> RGBColor {
    COLOURS[(k + 2) % COLOURS.len()]
}

/// A value axis's name: the variable with its unit, and none for a dimensionless one
/// (a gate's "1").
fn axis_name(variable: &str, unit: &str) -> String {
    match unit {
        "" | "1" => variable.to_string(),
        unit => format!("{variable} ({unit})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinals_in_english() {
        let got: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101, 111, 113].iter().map(|&n| ordinal(n)).collect();
        assert_eq!(got, ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "101st", "111th", "113th"]);
    }

    /// A population's bar is the mean rate of its drawn neurons: spikes over
    /// ceil(size / stride) neurons and the duration.
    #[test]
    fn rate_bars_are_the_drawn_neurons_mean_rates() {
        let mut image = RasterImage::new((0.0, 500.0), 2);
        let header =
            |name: &str, size| crate::record::sonata::PopulationHeader { name: name.into(), size: Some(size), ..Default::default() };
        image.population(&header("a", 10));
        image.population(&header("b", 3));
        for t in [1.0, 2.0, 3.0, 4.0, 5.0] {
            image.add(0, t, 0);
        }
        image.add(1, 7.0, 2);
        let rates = image.rates();
        assert!((rates[0] - 5.0 / 5.0 / 0.5).abs() < 1e-12, "{rates:?}");
        assert!((rates[1] - 1.0 / 2.0 / 0.5).abs() < 1e-12, "{rates:?}");
        // A population of which only some neurons are recorded: rates per drawn
        // recorded neuron.
        image.population(&crate::record::sonata::PopulationHeader { recorded_kept: Some(2), ..header("c", 100) });
        image.add(2, 3.0, 4);
        image.add(2, 4.0, 8);
        assert!((image.rates()[2] - 2.0 / 2.0 / 0.5).abs() < 1e-12);
    }

    /// Raster, rate and traces put the same time at the same pixel column (so a spike
    /// lines up with its voltage), and each rate bar lies beside its population's rows,
    /// with labels and without.
    #[test]
    fn every_panel_puts_a_time_at_the_same_pixel_column() {
        for (window, labels) in [((0.0, 1000.0), false), ((0.0, 1000.0), font_available()), ((100.0, 300.0), font_available())] {
            let mut image = RasterImage::new(window, 1);
            let header = |name: &str| crate::record::sonata::PopulationHeader { name: name.into(), size: Some(10), ..Default::default() };
            image.population(&header("exc"));
            image.population(&crate::record::sonata::PopulationHeader { size: Some(3), ..header("inh") });
            image.add(0, 150.0, 3);
            let traces = Traces {
                population: "exc".into(),
                variable: "v".into(),
                unit: "mV".into(),
                times: vec![window.0, (window.0 + window.1) / 2.0, window.1 - 1.0],
                window,
                series: vec![(3, vec![-65.0, 30.0, -70.0])],
            };
            let mut buffer = vec![0u8; (WIDTH * 1100 * 3) as usize];
            let root = BitMapBackend::with_buffer(&mut buffer, (WIDTH, 1100)).into_drawing_area();
            let PanelPixels { spans, rows, bars } = draw_panels(&root, &image, Some(&traces), labels).unwrap();
            assert_eq!(rows, bars, "labels {labels}: each population's bar beside its rows");
            assert!(rows[0] > rows[1], "the first population at the bottom: {rows:?}");
            assert_eq!(spans.len(), 3);
            assert!(spans.iter().all(|&s| s == spans[0]), "labels {labels}: {spans:?}");
            assert!(spans[0].1 - spans[0].0 > 800, "the time axis spans most of the width: {spans:?}");
        }
    }

    /// A figure over a report's window (100–300 ms) counts the spikes inside it only, and
    /// its rate bars are rates over the window.
    #[test]
    fn a_window_holds_the_spikes_inside_it_and_rates_over_it() {
        let mut image = RasterImage::new((100.0, 300.0), 1);
        image.population(&crate::record::sonata::PopulationHeader { name: "a".into(), size: Some(2), ..Default::default() });
        for t in [50.0, 100.0, 100.5, 200.0, 300.0, 300.5, 900.0] {
            image.add(0, t, 1);
        }
        assert_eq!(image.spikes, [3]);
        assert_eq!(image.counts.iter().sum::<f64>(), 3.0);
        assert!((image.rates()[0] - 3.0 / 2.0 / 0.2).abs() < 1e-12, "{:?}", image.rates());
        // From 0, a spike at 0 counts.
        let mut image = RasterImage::new((0.0, 10.0), 1);
        image.population(&crate::record::sonata::PopulationHeader { name: "a".into(), size: Some(1), ..Default::default() });
        image.add(0, 0.0, 0);
        assert_eq!(image.spikes, [1]);
    }

    #[test]
    fn a_dimensionless_variable_is_named_without_a_unit() {
        assert_eq!(axis_name("na.m", "1"), "na.m");
        assert_eq!(axis_name("na.m", ""), "na.m");
        assert_eq!(axis_name("v", "mV"), "v (mV)");
    }

    /// The palette's colours lie apart from each other and from white, so that twelve
    /// populations (the microcircuit has eight) are told apart.
    #[test]
    fn the_palette_keeps_twelve_populations_apart() {
        let distance = |a: RGBColor, b: RGBColor| {
            let d = |x: u8, y: u8| (x as f64 - y as f64).powi(2);
            (d(a.0, b.0) + d(a.1, b.1) + d(a.2, b.2)).sqrt()
        };
        for (i, &a) in COLOURS.iter().enumerate() {
            assert!(distance(a, WHITE) > 100.0, "colour {i} too pale");
            for (j, &b) in COLOURS.iter().enumerate().skip(i + 1) {
                assert!(distance(a, b) > 60.0, "colours {i} and {j}: {}", distance(a, b));
            }
        }
        assert_eq!((marker_radius(10), marker_radius(1000), marker_radius(2000)), (4, 1, 1));
    }
}
