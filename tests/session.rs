//! `run::session::Session`: a simulation built once in-process and run on any number of
//! times (what the Python package's `Simulation.run` wraps): runs of any lengths give
//! the spikes of one run, bit for bit.

mod common;

use common::simulate;
use volley::backend::cpu::CpuOptions;
use volley::backend::BackendChoice;
use volley::config::{self, Overrides};
use volley::run::session::Session;
use volley::run::RunOptions;

fn options(threads: usize) -> RunOptions {
    RunOptions {
        backend: BackendChoice::Cpu,
        cpu: CpuOptions { threads, ..CpuOptions::default() },
        progress: false,
        ..RunOptions::default()
    }
}

/// The 2003 network (1 ms epochs of two half steps) and the HH network (delays of several
/// steps, conductances): one run against runs of 1, 137 and the rest of the steps, and
/// against runs of one step at a time for the first 40 steps, on 1 and 2 threads.
#[test]
fn runs_of_any_lengths_give_the_spikes_of_one_run() {
    for (model, duration) in [("izhikevich2003.toml", "300 ms"), ("hh_network.toml", "50 ms")] {
        let dir = tempfile::tempdir().unwrap();
        let overrides = Overrides { duration: Some(duration.into()), out_dir: Some(dir.path().into()), ..Overrides::default() };
        let desc = config::load(&common::example(model), &overrides).unwrap();
        let (whole, _) = simulate(&desc, CpuOptions { threads: 1, ..CpuOptions::default() });
        assert!(whole.len() > 100, "{model}: it fires");
        for (threads, pieces) in [(1, vec![1, 137]), (2, vec![1; 40])] {
            let mut session = Session::new(desc.clone(), &options(threads), Box::new(volley::comm::LocalComm)).unwrap();
            let mut ran = 0;
            for steps in pieces {
                session.run(steps).unwrap();
                ran += steps;
            }
            assert_eq!(session.run(0).unwrap().len(), 0, "a run of no steps runs none");
            let rest = session.run(desc.steps - ran).unwrap().to_vec();
            assert!(rest.iter().all(|s| s.step as u64 >= ran), "{model}: a run returns its own spikes");
            assert_eq!(session.step(), desc.steps);
            assert_eq!(session.spikes(), whole.as_slice(), "{model}, {threads} threads");
            // The spike file the runs appended to holds the same spikes.
            let files = session.finish("complete").unwrap();
            let file = volley::record::sonata::read_spike_file(&files[0]).unwrap();
            let mut read: Vec<(u64, u64)> = Vec::new();
            for (p, pop) in file.populations.iter().enumerate() {
                let first = desc.populations[p].first_gid;
                read.extend(pop.timestamps_ms.iter().zip(&pop.node_ids).map(|(&t, &id)| ((t / desc.dt_ms).round() as u64 - 1, first + id)));
            }
            read.sort_unstable();
            let held: Vec<(u64, u64)> = whole.iter().map(|s| (s.step as u64, s.gid as u64)).collect();
            assert_eq!(read, held, "{model}: the spike file holds the runs' spikes");
            assert_eq!(file.duration_ms, Some(desc.steps as f64 * desc.dt_ms));
        }
    }
}
