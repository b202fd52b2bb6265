//! `volley export`: the network a model file draws, written as a SONATA circuit.

use super::*;

pub(super) fn export(args: ExportArgs) -> Result<ExitCode> {
    let ExportArgs { model, out, sets } = args;
    let tasks = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"]
        .iter()
        .filter_map(|v| std::env::var(v).ok()?.parse::<u64>().ok())
        .max();
    if let Some(n) = tasks.filter(|&n| n > 1) {
        return Err(Error::Option {
            option: "volley export".into(),
            message: format!("started as one of {n} tasks: one process writes the circuit (run it without mpirun or srun)"),
        });
    }
    let desc = config::load(&model, &Overrides { sets, ..Overrides::default() })?;
    warn(&desc);
    let written = volley::record::circuit::export(&desc, &out)?;
    for note in &written.notes {
        eprintln!("volley: note: {note}");
    }
    println!(
        "wrote {} ({} populations, {} synapses): {}; `volley run {}` runs it with the synapses read back",
        out.display(),
        desc.populations.len(),
        written.edges,
        written.files.join(", "),
        out.join("model.toml").display()
    );
    Ok(ExitCode::SUCCESS)
}
