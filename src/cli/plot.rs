//! `volley plot`: the raster and rate of a spike file, and a report's traces.

use super::*;
use std::path::PathBuf;

pub(super) fn plot(args: PlotArgs) -> Result<ExitCode> {
    let PlotArgs { spikes, output, weights, duration, report, population, neurons } = args;
    if let Some(weights) = weights {
        let output = output.unwrap_or_else(|| PathBuf::from("weights.png"));
        check_png_name(&output, "--output")?;
        volley::plot::weights::weights_png_from(&weights, &output)?;
        println!("wrote {}", output.display());
        return Ok(ExitCode::SUCCESS);
    }
    let spikes = spikes.expect("clap requires it without --weights");
    let output = output.unwrap_or_else(|| PathBuf::from("raster.png"));
    let duration_ms =
        duration.map(|d| config::parse_time(&d).map_err(|m| Error::Option { option: "--duration".into(), message: m })).transpose()?;
    // The picture's name is checked before the spike file is read.
    check_png_name(&output, "--output")?;
    if volley::record::rates::is_rate_file(&spikes) {
        if report.is_some() {
            return Err(Error::Option {
                option: "--report".into(),
                message: format!("{} is a rate file: a report's traces are drawn beside the spike file of its run", spikes.display()),
            });
        }
        volley::plot::rates::rates_png_from(&spikes, &output)?;
        println!("wrote {}", output.display());
        return Ok(ExitCode::SUCCESS);
    }
    let traces = report.map(|r| volley::record::report::read_traces(&r, population.as_deref(), &neurons).map(|t| (r, t))).transpose()?;
    if let Some((r, _)) = &traces {
        volley::record::provenance::same_run(&spikes, r)?;
    }
    let traces = traces.map(|(_, t)| t);
    volley::plot::figure_png_from(&spikes, duration_ms, traces.as_ref(), &output)?;
    println!("wrote {}", output.display());
    Ok(ExitCode::SUCCESS)
}

/// A PNG's name, checked before anything is read: it ends in .png, is not a directory,
/// and its directory exists.
pub(super) fn check_png_name(output: &Path, option: &str) -> Result<()> {
    let bad = |message: String| Error::Option { option: option.into(), message };
    if !output.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")) {
        return Err(bad(format!("expected a file name ending in .png, got {:?}", output.display().to_string())));
    }
    if output.is_dir() {
        return Err(bad(format!("{} is a directory", output.display())));
    }
    let parent = output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Err(bad(format!("{} is not a directory", parent.display())));
    }
    Ok(())
}
