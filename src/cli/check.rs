//! `volley check`: validate a model file and print its sizes and the memory it needs.

use super::*;

pub(super) fn check(args: CheckArgs) -> Result<ExitCode> {
    let CheckArgs { model, duration, sets, max_memory, threads, ranks, describe } = args;
    // A check plans, perhaps for a cluster: no warning about this machine's cores.
    let threads = planned_threads(threads)?;
    let max_memory = memory_limit(max_memory)?;
    if ranks == 0 {
        return Err(Error::Option { option: "--ranks".into(), message: "expected at least 1 rank".into() });
    }
    let desc = config::load(&model, &Overrides { duration, sets, ..Overrides::default() })?;
    volley::plan::check_ranks(&desc, ranks).map_err(|message| Error::Option { option: "--ranks".into(), message })?;
    warn(&desc);
    let options = volley::plan::PlanOptions { ranks, threads, rate_hz: run::DEFAULT_EXPECTED_RATE_HZ, kind: BackendKind::Cpu };
    let plan = volley::plan::plan(&desc, &options, &volley::plan::Costs::default());
    let (memory, all_ranks) = if ranks == 1 {
        run::check_memory(&plan, 0, max_memory, 1)?;
        let m = plan.rank(0).memory;
        (m, m.total())
    } else {
        let largest = run::check_planned_ranks(&plan, max_memory)?;
        (largest, plan.shapes.iter().map(|s| s.memory.total() * s.count).sum())
    };
    println!("{}: ok", model.display());
    for p in &desc.populations {
        let declaration = p.model.declaration();
        println!(
            "  population {:<12} {:>12} neurons  (ids {}..{})  {}, {} bytes of state per neuron",
            p.name,
            p.size,
            p.first_gid,
            p.first_gid + p.size,
            declaration.model,
            p.model.bytes_per_neuron()
        );
        if describe {
            println!("{}", declaration.describe(&p.given));
        }
    }
    println!("  neurons {}, synapses {}, projections {}", desc.total_neurons(), desc.synapse_count(), desc.projections.len());
    print_projections(&desc, describe);
    println!(
        "  dt {} ms, {} steps ({} ms), epoch {} step(s), delay rings of {} slot(s), seed {}",
        desc.dt_ms,
        desc.steps,
        desc.steps as f64 * desc.dt_ms,
        desc.epoch_steps(),
        desc.ring_slots(),
        desc.seed
    );
    let whose = if ranks > 1 { format!(" of the largest of {ranks} ranks, {threads} thread(s) each") } else { String::new() };
    println!(
        "  memory{whose}: state {}, synapses {}, buffers {}, total {}",
        fmt_bytes(memory.state),
        fmt_bytes(memory.synapses),
        fmt_bytes(memory.buffers),
        fmt_bytes(memory.total())
    );
    if ranks > 1 {
        println!("  memory of all {ranks} ranks: {}", fmt_bytes(all_ranks));
    }
    // What a GPU would hold for the largest rank (`--backend gpu`).
    #[cfg(feature = "gpu")]
    match volley::plan::gpu_plan(&desc, &plan.shapes, threads) {
        volley::plan::GpuPlan::Refused(why) => println!("  on a GPU: not run ({why})"),
        volley::plan::GpuPlan::Ranks(ranks_on_gpu) => {
            let gpu = ranks_on_gpu.iter().map(|r| r.device).max_by_key(|m| m.total()).expect("at least one rank");
            println!(
                "  on a GPU{}: device memory state {}, synapses {}, buffers {}, total {}; the largest projection stores {} synapses on one rank ({} of targets; rows past one storage binding are cut into chunks)",
                if ranks > 1 { format!(", the largest of {ranks} ranks") } else { String::new() },
                fmt_bytes(gpu.state),
                fmt_bytes(gpu.synapses),
                fmt_bytes(gpu.buffers),
                fmt_bytes(gpu.total()),
                gpu.largest_shard_projection,
                fmt_bytes(gpu.largest_shard_projection * 4)
            );
        }
    }
    // Spikes are buffered between appends to the file: 8 bytes each.
    let flush_ms = desc.flush_steps().min(desc.steps) as f64 * desc.dt_ms;
    let at_10_hz = desc.total_neurons() as f64 * 10.0 * flush_ms / 1000.0 * 8.0;
    println!(
        "  recording: 8 bytes per spike buffered for {flush_ms} ms between appends to the file, {} at a mean rate of 10 Hz",
        fmt_bytes(at_10_hz as u64)
    );
    for w in &desc.output.weights {
        let synapses = desc.projection_synapses(&desc.projections[w.projection as usize]);
        let snapshots = desc.steps / w.interval_steps + 1 + u64::from(!desc.steps.is_multiple_of(w.interval_steps));
        println!(
            "  weights {}: projection {}'s {synapses} synapses every {} ms: {snapshots} snapshots, {}",
            w.file,
            w.projection,
            w.interval_steps as f64 * desc.dt_ms,
            fmt_bytes(snapshots * synapses * 4 + synapses * volley::record::weights::BYTES_PER_EDGE)
        );
    }
    for r in &desc.output.reports {
        let values: u64 = r.populations.iter().map(|p| p.neurons.len() as u64).sum();
        let names: Vec<&str> = r.populations.iter().map(|p| desc.populations[p.population].name.as_str()).collect();
        let (schedule, samples) = (r.schedule, r.schedule.samples_before(desc.steps));
        println!(
            "  report {}: {} of {values} neurons ({}) every {} ms from {} to {} ms: {samples} samples, {} (buffered: {} per rank at most)",
            r.file,
            r.variable,
            names.join(", "),
            schedule.interval_steps as f64 * desc.dt_ms,
            schedule.start_step as f64 * desc.dt_ms,
            schedule.stop_step as f64 * desc.dt_ms,
            fmt_bytes(samples * values * 4),
            fmt_bytes(desc.flush_steps().min(desc.steps).div_ceil(schedule.interval_steps) * values * 4)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The projections of data (edges counted by the scan, none read) and the plastic ones
/// (their rules; with `describe`, what they do).
fn print_projections(desc: &volley::network::Description, describe: bool) {
    // Synapses given as data: counted by the scan, none read into memory.
    for p in &desc.projections {
        let volley::network::ConnectionRule::Explicit { edges, count, .. } = p.rule else { continue };
        let e = &desc.edges[edges as usize];
        let (source, target) = (&desc.populations[p.source].name, &desc.populations[p.target].name);
        if e.given {
            let delays = (p.delay.min_steps as f64 * desc.dt_ms, p.delay.max_steps as f64 * desc.dt_ms);
            println!("  projection {} ({source} → {target}): {count} synapses listed, delays {}–{} ms", p.id, delays.0, delays.1);
            continue;
        }
        println!(
            "  projection {} ({source} → {target}): {count} edges of /edges/{} in {}, delays {}–{} ms",
            p.id,
            e.population,
            e.file.display(),
            p.delay.min_steps as f64 * desc.dt_ms,
            p.delay.max_steps as f64 * desc.dt_ms
        );
    }
    for p in desc.projections.iter() {
        let Some(rule) = &p.plasticity else { continue };
        let declaration = rule.declaration();
        let names = declaration.parameter_names().join(", ");
        let (source, target) = (&desc.populations[p.source].name, &desc.populations[p.target].name);
        println!(
            "  projection {} ({source} → {target}) plastic: {} ({}); {} bytes per synapse (target, weight{}{}); parameters {names}",
            p.id,
            declaration.rule,
            declaration.origin,
            rule.bytes_per_synapse(),
            if rule.lazy_horizon().is_some() {
                "; postsynaptic spikes reach it at its next arrival"
            } else {
                ", its place and group in the target's list"
            },
            if rule.holds_extra() { ", the rule's state" } else { "" }
        );
        if describe {
            println!("    on arrival: {}\n    on a postsynaptic spike: {}", declaration.on_arrival, declaration.on_post);
            if let Some(periodic) = declaration.periodic {
                println!("    {periodic}");
            }
        }
    }
}
