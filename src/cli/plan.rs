//! `volley plan`: what a run will need, before it runs.

use super::*;

pub(super) fn plan(args: PlanArgs) -> Result<ExitCode> {
    let PlanArgs { model, duration, sets, ranks, threads, expected_rate, calibrate, backend } = args;
    // The run planned may be on another machine: no warning for more threads than here.
    let threads = planned_threads(threads)?;
    if ranks == 0 {
        return Err(Error::Option { option: "--ranks".into(), message: "expected at least 1 rank".into() });
    }
    if !(expected_rate >= 0.0 && expected_rate.is_finite()) {
        return Err(Error::Option {
            option: "--expected-rate".into(), message: format!("expected a rate in Hz ≥ 0, got {expected_rate}")
        });
    }
    let desc = config::load(&model, &Overrides { duration, sets, ..Overrides::default() })?;
    volley::plan::check_ranks(&desc, ranks).map_err(|message| Error::Option { option: "--ranks".into(), message })?;
    let costs = if calibrate { volley::plan::calibrate(&desc, threads)? } else { volley::plan::Costs::default() };
    // The run planned may be on another machine: `auto` is planned as a GPU.
    let kind = match backend {
        Some(BackendArg::Cpu) => BackendKind::Cpu,
        Some(BackendArg::Gpu | BackendArg::Auto) => BackendKind::Gpu,
        None if desc.backend == BackendChoice::Cpu => BackendKind::Cpu,
        None => BackendKind::Gpu,
    };
    if !cfg!(feature = "gpu") && kind == BackendKind::Gpu {
        return Err(Error::Option {
            option: "--backend gpu".into(),
            message: "this volley was built without the GPU backend (cargo feature `gpu`): plan with --backend cpu".into(),
        });
    }
    let options = volley::plan::PlanOptions { ranks, threads, rate_hz: expected_rate, kind };
    let plan = volley::plan::plan(&desc, &options, &costs);
    println!(
        "{}: {} neurons, {} synapses, {} ms in {} steps of {} ms",
        model.display(),
        desc.total_neurons(),
        desc.synapse_count(),
        desc.steps as f64 * desc.dt_ms,
        desc.steps,
        desc.dt_ms
    );
    println!("{plan}");
    println!("{}", volley::plan::machine_line(&plan));
    Ok(ExitCode::SUCCESS)
}
