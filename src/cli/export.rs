//! `volley export`: the network a model file draws, written as a SONATA circuit — by
//! one process, or by all ranks together under mpirun or srun (each its own targets'
//! synapses, into the same files).

use super::*;

pub(super) fn export(args: ExportArgs, rank: &mut usize) -> Result<ExitCode> {
    let ExportArgs { model, out, sets } = args;
    let comm = volley::comm::from_launcher()?;
    *rank = comm.rank();
    // Reading a circuit is collective: every rank makes its sharing before anything can fail.
    let overrides = Overrides { sets, sharing: comm.sharing(), ..Overrides::default() };
    let desc = volley::comm::agree(comm.as_ref(), config::load(&model, &overrides))?;
    drop(overrides);
    if comm.rank() == 0 {
        warn(&desc);
    }
    let written = volley::record::circuit::export(&desc, &out, comm.as_ref())?;
    if comm.rank() == 0 {
        for note in &written.notes {
            eprintln!("volley: note: {note}");
        }
        println!(
            "wrote {} ({} populations, {} synapses{}): {}; `volley run {}` runs it with the synapses read back",
            out.display(),
            desc.populations.len(),
            written.edges,
            if comm.size() > 1 { format!(", by {} ranks", comm.size()) } else { String::new() },
            written.files.join(", "),
            out.join("model.toml").display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
