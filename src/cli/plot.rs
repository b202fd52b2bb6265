//! `volley plot`: the raster and rate of a spike file, and a report's traces.

use super::*;

pub(super) fn plot(args: PlotArgs) -> Result<ExitCode> {
    let PlotArgs { spikes, output, duration, report, population, neurons } = args;
    let duration_ms =
        duration.map(|d| config::parse_time(&d).map_err(|m| Error::Option { option: "--duration".into(), message: m })).transpose()?;
    // The picture's name is checked before the spike file is read.
    let bad = |message: String| Error::Option { option: "--output".into(), message };
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
    let traces = report.map(|r| volley::record::report::read_traces(&r, population.as_deref(), &neurons).map(|t| (r, t))).transpose()?;
    if let Some((r, _)) = &traces {
        volley::record::provenance::same_run(&spikes, r)?;
    }
    let traces = traces.map(|(_, t)| t);
    volley::plot::figure_png_from(&spikes, duration_ms, traces.as_ref(), &output)?;
    println!("wrote {}", output.display());
    Ok(ExitCode::SUCCESS)
}
