//! `volley export`: the network a model file draws, written as a SONATA circuit.

use super::*;

pub(super) fn export(args: ExportArgs) -> Result<ExitCode> {
    let ExportArgs { model, out, sets } = args;
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
