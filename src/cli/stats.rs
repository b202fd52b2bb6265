//! `volley stats`: provenance, rates, ISI variability and rhythm peaks of a spike file.

use super::*;

pub(super) fn stats(args: StatsArgs) -> Result<ExitCode> {
    let StatsArgs { spikes, duration, model, plot, per_second } = args;
    if let Some(png) = &plot {
        super::plot::check_png_name(png, "--plot")?;
    }
    let file = sonata::read_spike_file(&spikes)?;
    if model {
        print!("{}", reproducing_model(&file, &spikes)?);
        return Ok(ExitCode::SUCCESS);
    }
    let duration_ms = duration_of(&file, duration, &spikes)?;
    file.validate().map_err(|m| Error::Input { path: spikes.clone(), message: m })?;
    let per_population: Vec<_> = file.populations.iter().map(|pop| population_stats(pop, pop.neurons(), duration_ms)).collect();
    print!("{}", stats_report(&spikes, &file, &per_population, duration_ms));
    if per_second {
        print!("{}", per_second_report(&file, duration_ms));
    }
    if let Some(png) = plot {
        let edges = volley::analysis::log_edges(ISI_FROM_MS, ISI_TO_MS, 10);
        let lines: Vec<volley::plot::isi::IsiLine> = file
            .populations
            .iter()
            .zip(&per_population)
            .map(|(pop, s)| volley::plot::isi::IsiLine {
                name: pop.name.clone(),
                fractions: volley::analysis::isi_distribution(pop, &edges),
                cv: s.cv_isi,
            })
            .collect();
        volley::plot::isi::isi_png(&lines, &edges, &png)?;
        println!("wrote {}", png.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The ISI figure's axis: from a tenth of a millisecond (a step of the finest models)
/// to ten seconds, ten bins a decade.
const ISI_FROM_MS: f64 = 0.1;
const ISI_TO_MS: f64 = 10_000.0;

/// The model that reproduces a spike file whole: the text its run ran (seed and
/// `--set` included), for the simulated time the file holds (every piece of a resumed
/// run), on the backend it ran on.
fn reproducing_model(file: &sonata::SpikeFile, path: &Path) -> Result<String> {
    let field = |key: &str| file.provenance.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let text = field("model").ok_or_else(|| Error::Input { path: path.to_path_buf(), message: "the file records no model".into() })?;
    let mut replacements = Vec::new();
    if let Some(ms) = file.duration_ms {
        replacements.push(config::Replacement::flag_text("--duration", "simulation.duration", &format!("{ms} ms")));
    }
    if let Some(kind) = field("backend").and_then(|b| b.split_whitespace().next()).filter(|k| ["cpu", "gpu"].contains(k)) {
        replacements.push(config::Replacement::flag_text("--backend", "simulation.backend", kind));
    }
    let edited = config::set::apply(text, &path.display().to_string(), &replacements)?;
    Ok(edited.text)
}

/// What `volley stats` prints: provenance, per-population rates and ISI variability,
/// and the rhythm peaks of the population rate, each with a clear line where the file
/// has too little for it.
fn stats_report(path: &Path, file: &sonata::SpikeFile, per_population: &[volley::analysis::PopulationStats], duration_ms: f64) -> String {
    use std::fmt::Write;
    let mut out = format!("{}: {} ms\n", path.display(), duration_ms);
    for (key, value) in &file.provenance {
        let shown =
            if key == "model" { format!("{} lines as run (volley stats --model prints it)", value.lines().count()) } else { value.clone() };
        let _ = writeln!(out, "  {key:<14} {shown}");
    }
    let total: usize = file.populations.iter().map(|p| p.timestamps_ms.len()).sum();
    for s in per_population {
        let rate = if duration_ms > 0.0 { format!("{:>7.2} Hz", s.rate_hz) } else { "n/a (the file covers 0 ms)".into() };
        let cv = s.cv_isi.map_or("n/a (no neuron with 3 spikes)".to_string(), |c| format!("{c:.2}"));
        let recorded = if s.recorded == s.size { String::new() } else { format!(" ({} recorded)", s.recorded) };
        let _ = writeln!(out, "  {:<12} {:>8} neurons{recorded} {:>10} spikes  rate {rate}  CV(ISI) {cv}", s.name, s.size, s.spikes);
    }
    let rate = population_rate(&file.populations, 1.0, duration_ms);
    let spectrum = welch_spectrum(&rate, 1.0, 1000.0);
    let mean = spectrum.mean_power();
    for (lo, hi, label) in [(1.0, 15.0, "largest peak < 15 Hz"), (30.0, 50.0, "gamma peak 30-50 Hz")] {
        let line = match spectrum.peak_in(lo, hi) {
            _ if total == 0 => "n/a (no spikes)".to_string(),
            Some((f, p)) if mean > 0.0 => format!("{f:>5.1} Hz  (power {:.1}x the mean)", p / mean),
            Some(_) => "n/a (the population rate is constant)".to_string(),
            None => "n/a (run too short)".to_string(),
        };
        let _ = writeln!(out, "  {label:<22} {line}");
    }
    out
}

/// Each population's rate in each second, one line a second.
fn per_second_report(file: &sonata::SpikeFile, duration_ms: f64) -> String {
    use std::fmt::Write;
    let columns: Vec<Vec<f64>> =
        file.populations.iter().map(|pop| volley::analysis::windowed_rates(pop, pop.neurons(), 1000.0, duration_ms)).collect();
    let mut out = String::from("  rates per second (Hz):\n  second");
    for pop in &file.populations {
        let _ = write!(out, " {:>10}", pop.name);
    }
    out.push('\n');
    for second in 0..columns.first().map_or(0, |c| c.len()) {
        let _ = write!(out, "  {second:>6}");
        for column in &columns {
            let _ = write!(out, " {:>10.2}", column[second]);
        }
        out.push('\n');
    }
    out
}

fn duration_of(file: &sonata::SpikeFile, option: Option<String>, path: &Path) -> Result<f64> {
    match (option, file.duration_ms) {
        (Some(text), _) => match config::parse_time(&text) {
            Ok(d) if d >= 0.0 => Ok(d),
            Ok(d) => Err(Error::Option { option: "--duration".into(), message: format!("expected a time ≥ 0, got {d} ms") }),
            Err(m) => Err(Error::Option { option: "--duration".into(), message: m }),
        },
        (None, Some(d)) if d >= 0.0 && d.is_finite() => Ok(d),
        (None, Some(d)) => {
            Err(Error::Input { path: path.to_path_buf(), message: format!("its duration_ms is {d}: expected a time ≥ 0") })
        }
        (None, None) => {
            Err(Error::Input { path: path.to_path_buf(), message: "the file does not record its duration: give --duration".into() })
        }
    }
}
