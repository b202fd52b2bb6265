//! `volley run`: one run of a model file, or of a checkpoint, on this process's share of the ranks.

use super::*;
use volley::run::balance::Rebalance;

pub(super) fn run(args: RunArgs, rank: &mut usize) -> Result<ExitCode> {
    let RunArgs {
        model,
        seed,
        duration,
        threads,
        out,
        backend,
        gpu,
        quiet,
        progress_every,
        sets,
        max_memory,
        exchange,
        rebalance,
        report_csv,
        ranks_csv,
        expected_rate,
        max_output,
        skip_space_check,
        checkpoint_every,
        checkpoint,
        resume,
        dry_run,
        dry_run_rank,
        rates_from,
        exchange_alpha_us,
        exchange_beta_ns,
    } = args;
    let mut comm = volley::comm::from_launcher()?;
    *rank = comm.rank();
    // Made by every rank before anything can fail on one alone: reading a circuit is
    // collective (`sonata::Share`).
    let sharing = comm.sharing();
    let outcome = (|| -> Result<ExitCode> {
        // Every rank reads the same file and options and meets the same errors: the
        // first rank reports them.
        let checked = (|| {
            let threads = thread_count(threads)?;
            let max_memory = memory_limit(max_memory)?;
            let (max_output, every_ms) = numbers(progress_every, expected_rate, max_output, checkpoint_every.as_deref())?;
            let held = match (&model, &resume) {
                (None, Some(from)) => Some(volley::checkpoint::Checkpoint::open(from)?.model_text),
                _ => None,
            };
            Ok((threads, max_memory, max_output, every_ms, held))
        })();
        // Agreed before the model is read: a rank that failed alone would not join the
        // collective reading of a circuit.
        let (threads, max_memory, max_output, every_ms, held) = volley::comm::agree(comm.as_ref(), checked)?;
        let checked = (|| {
            let overrides = Overrides { seed, duration, out_dir: out, sets, sharing, sets_by: None };
            let desc = match (&model, &resume, held) {
                (Some(model), ..) => config::load(model, &overrides)?,
                (None, Some(from), Some(text)) => config::parse(&text, &format!("{} (the model it holds)", from.display()), &overrides)?,
                _ => unreachable!("clap requires a model without --resume"),
            };
            // Every path the run writes is checked before the build, this one too.
            if let Some(csv) = report_csv.as_deref().filter(|_| comm.rank() == 0) {
                run::check_appendable(csv, "--report-csv", &desc.output.dir)?;
            }
            if let Some(csv) = ranks_csv.as_deref().filter(|_| comm.rank() == 0) {
                run::check_appendable(csv, "--ranks-csv", &desc.output.dir)?;
            }
            let path = checkpoint.clone().or_else(|| resume.clone()).or_else(|| every_ms.map(|_| desc.output.dir.join("checkpoint.h5")));
            let checkpoint = path.map(|path| run::CheckpointOptions { path, every_ms });
            Ok((desc, checkpoint))
        })();
        let (desc, checkpoint) = volley::comm::agree(comm.as_ref(), checked)?;
        if comm.rank() == 0 {
            warn(&desc);
        }
        if let Some(ranks) = dry_run {
            let options = run::dry::DryRunOptions {
                ranks,
                rank: dry_run_rank,
                cpu: CpuOptions { threads, ..CpuOptions::default() },
                rate_hz: expected_rate,
                rates_from,
                alpha_us: exchange_alpha_us,
                beta_ns: exchange_beta_ns,
            };
            return dry(&desc, &options, comm.as_ref(), ranks_csv.as_deref());
        }
        let options = RunOptions {
            cpu: CpuOptions { threads, ..CpuOptions::default() },
            progress: !quiet,
            progress_interval: progress_every,
            max_memory,
            backend: match backend {
                Some(BackendArg::Cpu) => BackendChoice::Cpu,
                Some(BackendArg::Gpu) => BackendChoice::Gpu,
                Some(BackendArg::Auto) => BackendChoice::Auto,
                None => desc.backend,
            },
            gpu,
            exchange: match exchange {
                Exchange::Auto => ExchangeMode::Auto,
                Exchange::AllGather => ExchangeMode::AllGather,
                Exchange::Directed => ExchangeMode::Directed,
            },
            expected_rate_hz: expected_rate,
            max_output,
            skip_space_check,
            command_line: std::env::args().collect::<Vec<_>>().join(" "),
            checkpoint,
            resume,
            rebalance: match rebalance {
                RebalanceArg::Auto => Rebalance::Auto,
                RebalanceArg::Never => Rebalance::Never,
                RebalanceArg::Always => Rebalance::Always,
            },
        };
        let report = run::run(&desc, &options, comm.as_mut())?;
        if comm.rank() == 0 {
            println!("{}", run::summary(&desc, &report));
            for path in report.spike_file.iter().chain(&report.raster).chain(&report.report_files) {
                println!("wrote {}", path.display());
            }
            if let Some(csv) = &report_csv {
                run::append_csv(csv, &run::csv_line(&desc, &report, threads))?;
            }
            if let Some(csv) = &ranks_csv {
                write_table(csv, &run::rank_table(&desc, &report))?;
            }
        }
        Ok(exit_code(&desc, &report, comm.rank()))
    })();
    // Printed while MPI is up: MPI_Finalize, when `comm` drops, waits for every
    // rank, so no rank can exit (and have mpirun kill the rest) before the error
    // line is out.
    outcome.map_err(|e| report(e, *rank))
}

/// Writes `table` to `path` whole (under a temporary name, then renamed) and says so.
/// The run's numeric options checked: --progress-every and --expected-rate, and
/// --max-output and --checkpoint-every parsed (bytes, ms).
fn numbers(progress_every: f64, expected_rate: f64, max_output: Option<String>, every: Option<&str>) -> Result<(Option<u64>, Option<f64>)> {
    if !(progress_every > 0.0 && progress_every.is_finite()) {
        return Err(Error::Option {
            option: "--progress-every".into(),
            message: format!("expected a number of seconds > 0 (--quiet prints no progress), got {progress_every}"),
        });
    }
    if !(expected_rate >= 0.0 && expected_rate.is_finite()) {
        return Err(Error::Option {
            option: "--expected-rate".into(), message: format!("expected a rate in Hz ≥ 0, got {expected_rate}")
        });
    }
    let max_output =
        max_output.map(|m| run::parse_size(&m).map_err(|message| Error::Option { option: "--max-output".into(), message })).transpose()?;
    let every_ms = every
        .map(|t| match config::parse_time(t) {
            Ok(ms) if ms > 0.0 => Ok(ms),
            Ok(ms) => Err(format!("expected a simulated time > 0, got {ms} ms")),
            Err(m) => Err(m),
        })
        .transpose()
        .map_err(|message| Error::Option { option: "--checkpoint-every".into(), message })?;
    Ok((max_output, every_ms))
}

fn write_table(path: &std::path::Path, table: &str) -> Result<()> {
    volley::record::atomic::write_atomically(path, |partial| {
        std::fs::write(partial, table).map_err(|e| Error::Output { path: path.to_path_buf(), message: e.to_string() })
    })?;
    println!("wrote {}", path.display());
    Ok(())
}

/// `volley run --dry-run`: one process standing for one rank of many.
fn dry(
    desc: &volley::network::Description,
    options: &run::dry::DryRunOptions,
    comm: &dyn Communicator,
    csv: Option<&std::path::Path>,
) -> Result<ExitCode> {
    if comm.size() > 1 {
        return Err(Error::Option {
            option: "--dry-run".into(),
            message: "a dry run is one process standing for one rank: start it without mpirun or srun".into(),
        });
    }
    let report = run::dry::dry_run(desc, options)?;
    println!("{}", report.summary(desc));
    if let Some(csv) = csv {
        write_table(csv, &report.rank_table())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// How the process exits after `report`: like a shell for a run cut by a signal (128 +
/// the signal), with a code of its own where a checkpoint lets it go on.
fn exit_code(desc: &volley::network::Description, report: &run::RunReport, rank: usize) -> ExitCode {
    match report.stopped_by_signal {
        // Like a shell: 128 + the signal, so that a job script sees the run was cut.
        Some(signal) => {
            let (ms, of) = (report.steps as f64 * desc.dt_ms, desc.steps as f64 * desc.dt_ms);
            match &report.checkpoint {
                // A code of its own: a job script requeues itself on it.
                Some((path, _)) => {
                    if rank == 0 {
                        eprintln!(
                            "volley: stopped by signal {signal} after {ms} ms of {of} ms; checkpoint written to {}: go on with `volley run --resume {}`",
                            path.display(),
                            path.display()
                        );
                    }
                    ExitCode::from(volley::error::EXIT_CHECKPOINTED as u8)
                }
                None => {
                    if rank == 0 {
                        eprintln!(
                            "volley: stopped by signal {signal} after {ms} ms of {of} ms; the spike file holds every spike up to then"
                        );
                    }
                    ExitCode::from(128 + signal as u8)
                }
            }
        }
        None => ExitCode::SUCCESS,
    }
}
