//! The job scripts in jobscripts/, submitted with `sbatch --wait` to a real one-node
//! Slurm (brought up by scripts/slurm-ci.sh: slurmctld + slurmd + munge, as root) at tiny
//! sizes, and their outputs checked. Without root or Slurm's packages these tests fail,
//! saying what is missing.

mod common;

use common::{example, repo};
use std::path::{Path, PathBuf};

use std::sync::OnceLock;
use volley::record::sonata::read_spike_file;

/// SLURM_CONF of the CI cluster, started once per test binary.
fn cluster() -> &'static str {
    static CONF: OnceLock<String> = OnceLock::new();
    CONF.get_or_init(|| {
        let base = std::env::temp_dir().join("volley-slurm");
        let up = common::command(repo().join("scripts/slurm-ci.sh")).env("VOLLEY_SLURM", &base).output().expect("scripts/slurm-ci.sh runs");
        assert!(
            up.status.success(),
            "the test cluster did not start (these tests need root and slurmctld, slurmd, slurm-client, munge):\n{}{}",
            String::from_utf8_lossy(&up.stdout),
            String::from_utf8_lossy(&up.stderr)
        );
        base.join("slurm.conf").to_string_lossy().into_owned()
    })
}

/// Submits `script` with `sbatch --wait` and `options`, the script's stdin replaced by
/// `text` when given; returns the job's log. Outputs go under `out`.
fn submit(script: &str, options: &[&str], args: &[&str], env: &[(&str, String)], out: &Path, text: Option<String>) -> String {
    std::fs::create_dir_all(out).unwrap();
    let log = out.join("job.log");
    let mut cmd = common::command("sbatch");
    cmd.env("SLURM_CONF", cluster())
        .env("VOLLEY", env!("CARGO_BIN_EXE_volley"))
        .env("OUT_ROOT", out.join("runs"))
        .arg("--wait")
        .arg(format!("--chdir={}", repo().display()))
        .arg(format!("--output={}", log.display()))
        .args(options);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let path = repo().join("jobscripts").join(script);
    let status = match text {
        // sbatch reads the script from stdin when no file is named.
        Some(text) => {
            use std::io::Write;
            let mut child = cmd.args(["/dev/stdin"]).args(args).stdin(std::process::Stdio::piped()).spawn().expect("sbatch starts");
            child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
            child.wait_with_output().expect("sbatch runs")
        }
        None => cmd.arg(&path).args(args).output().expect("sbatch runs"),
    };
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        status.status.success(),
        "{script}: job failed\nsbatch: {}{}\njob log:\n{log_text}",
        String::from_utf8_lossy(&status.stdout),
        String::from_utf8_lossy(&status.stderr)
    );
    log_text
}

/// The single run directory a job wrote under `out/runs`.
fn run_dir(out: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(out.join("runs")).expect("runs/ written").map(|e| e.unwrap().path()).collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(volley::run::CSV_HEADER), "header");
    lines.map(|l| l.split(',').map(str::to_string).collect()).collect()
}

#[test]
fn one_node_and_many_nodes_scripts_write_the_same_spikes() {
    let dir = tempfile::tempdir().unwrap();
    let model = example("izhikevich2003.toml");
    let one = dir.path().join("one");
    let log = submit("one_node.sh", &[], &[model.to_str().unwrap(), "-q"], &[], &one, None);
    assert!(log.contains("2 threads") && log.contains("volley: 1000 neurons"), "{log}");
    let one_run = run_dir(&one);
    assert!(one_run.join("raster.png").exists());
    let rows = csv_rows(&one_run.join("summary.csv"));
    assert_eq!((rows.len(), rows[0][0].as_str(), rows[0][1].as_str()), (1, "1", "2"), "one rank, two threads");

    // Two ranks of one thread on the one node (the script asks for 2 nodes by default).
    let many = dir.path().join("many");
    let log = submit("many_nodes.sh", &["--nodes=1", "--ntasks-per-node=2"], &[model.to_str().unwrap(), "-q"], &[], &many, None);
    assert!(log.contains("2 ranks x 1 threads") && log.contains("over 2 ranks"), "{log}");
    let many_run = run_dir(&many);
    assert_eq!(read_spike_file(&many_run.join("spikes.h5")).unwrap(), read_spike_file(&one_run.join("spikes.h5")).unwrap());
}

#[test]
fn gpu_script_runs_one_rank_per_task() {
    // The CI node has no GPUs: the script's GPU request is taken out; the rest runs as is,
    // on the software driver (lavapipe).
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo().join("jobscripts/gpu_nodes.sh")).unwrap();
    assert!(text.contains("#SBATCH --gpus-per-task=1"));
    let text = text.replace("#SBATCH --gpus-per-task=1\n", "");
    let model = example("izhikevich2003.toml");
    let log = submit("gpu_nodes.sh", &[], &[model.to_str().unwrap(), "-q"], &[], dir.path(), Some(text));
    assert!(log.contains("volley GPU nodes") && log.contains("volley: 1000 neurons") && log.contains("| gpu "), "{log}");
    assert!(run_dir(dir.path()).join("spikes.h5").exists());
}

#[test]
fn scaling_scripts_write_one_csv_line_per_array_task() {
    let dir = tempfile::tempdir().unwrap();
    let strong_csv = dir.path().join("strong.csv");
    submit(
        "strong_scaling.sh",
        &["--array=0-1", "--ntasks=2"],
        &[],
        &[
            ("N", "5000".into()),
            ("RANKS_LIST", "1 2".into()),
            ("DURATION", "200 ms".into()),
            ("CSV", strong_csv.to_string_lossy().into_owned()),
        ],
        &dir.path().join("strong"),
        None,
    );
    let mut rows = csv_rows(&strong_csv);
    rows.sort();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows.iter().map(|r| r[0].as_str()).collect::<Vec<_>>(), ["1", "2"], "ranks");
    assert!(rows.iter().all(|r| r[2] == "5000"), "same network: {rows:?}");
    assert_eq!(rows[0][6], rows[1][6], "same spike count on 1 and 2 ranks");
    // Each task's per-rank table: one line per rank, the ranks' neurons covering the network.
    for ranks in [1usize, 2] {
        let table = std::fs::read_to_string(dir.path().join(format!("strong_ranks_{ranks}.csv"))).unwrap();
        let mut lines = table.lines();
        assert_eq!(lines.next(), Some(volley::run::RANK_CSV_HEADER));
        let rows: Vec<Vec<u64>> = lines.map(|l| l.split(',').take(7).map(|f| f.parse().unwrap()).collect()).collect();
        assert_eq!(rows.len(), ranks, "{table}");
        assert_eq!((rows[0][1], rows[ranks - 1][2]), (0, 5000), "{table}");
        assert!(rows.iter().all(|r| r[4] > 0 && r[6] > 0), "synapses and peak memory measured: {table}");
    }

    let weak_csv = dir.path().join("weak.csv");
    submit(
        "weak_scaling.sh",
        &["--array=0-1", "--ntasks=2"],
        &[],
        &[
            ("N_PER_RANK", "3000".into()),
            ("RANKS_LIST", "1 2".into()),
            ("DURATION", "200 ms".into()),
            ("CSV", weak_csv.to_string_lossy().into_owned()),
        ],
        &dir.path().join("weak"),
        None,
    );
    let mut rows = csv_rows(&weak_csv);
    rows.sort();
    assert_eq!(rows.iter().map(|r| (r[0].as_str(), r[2].as_str())).collect::<Vec<_>>(), [("1", "3000"), ("2", "6000")]);
}

/// jobscripts/dry_run.sh: one dry run per array task, each writing its rank's line.
#[test]
fn the_dry_run_script_measures_one_rank_per_array_task() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("dry");
    submit(
        "dry_run.sh",
        &["--array=0-1"],
        &[],
        &[
            ("N", "20000".into()),
            ("RANKS_LIST", "4 16".into()),
            ("DURATION", "50 ms".into()),
            ("CSV_PREFIX", prefix.to_string_lossy().into_owned()),
        ],
        &dir.path().join("job"),
        None,
    );
    for ranks in [4u64, 16] {
        let table = std::fs::read_to_string(dir.path().join(format!("dry_{ranks}.csv"))).unwrap();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.first(), Some(&volley::run::RANK_CSV_HEADER), "{table}");
        assert_eq!(lines.len(), 2, "{table}");
        let row: Vec<u64> = lines[1].split(',').take(3).map(|f| f.parse().unwrap()).collect();
        assert!(row[0] < ranks && row[2] - row[1] <= 20_000 / ranks + 64, "one rank's share: {table}");
    }
}

/// What the job scripts ask Slurm to do before a job's time limit (--signal=USR1@120):
/// SIGUSR1 to the step's tasks. The run stops at the next progress point, completes its
/// spike file and raster, and exits 138.
#[test]
fn a_job_signalled_before_its_time_limit_leaves_a_complete_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let log = out.join("job.log");
    let model = example("izhikevich_sparse.toml");
    let submitted = common::command("sbatch")
        .env("SLURM_CONF", cluster())
        .env("VOLLEY", env!("CARGO_BIN_EXE_volley"))
        .env("OUT_ROOT", out.join("runs"))
        .args(["--parsable", &format!("--chdir={}", repo().display()), &format!("--output={}", log.display())])
        .arg(repo().join("jobscripts/one_node.sh"))
        .arg(&model)
        .args([
            "--duration",
            "60 s",
            "--progress-every",
            "0.001",
            "--set",
            "population.exc.size=16000",
            "--set",
            "population.inh.size=4000",
        ])
        .args(["--set", "output.flush_every=\"50 ms\""])
        .output()
        .expect("sbatch runs");
    assert!(submitted.status.success(), "{}", String::from_utf8_lossy(&submitted.stderr));
    let job = String::from_utf8_lossy(&submitted.stdout).trim().to_string();
    let squeue = || {
        let q = common::command("squeue").env("SLURM_CONF", cluster()).args(["-h", "-j", &job, "-o", "%T"]).output().unwrap();
        String::from_utf8_lossy(&q.stdout).trim().to_string()
    };
    // Wait until the run has simulated a little (its progress lines are in the log).
    let started = std::time::Instant::now();
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.lines().any(|l| l.contains(" ms of 60000 ms simulated") && !l.starts_with("volley: 0 ms")) {
            break;
        }
        assert!(started.elapsed().as_secs() < 120, "the job did not start simulating:\n{text}\nstate {}", squeue());
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let cancel = common::command("scancel").env("SLURM_CONF", cluster()).args(["--signal=USR1", &job]).output().unwrap();
    assert!(cancel.status.success(), "{}", String::from_utf8_lossy(&cancel.stderr));
    while !squeue().is_empty() {
        assert!(started.elapsed().as_secs() < 180, "the job did not end after SIGUSR1");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("stopped by signal 10"), "{text}");
    let file = read_spike_file(&run_dir(out).join("spikes.h5")).expect("a complete, readable spike file");
    let covered = file.duration_ms.unwrap();
    assert!(covered > 0.0 && covered < 60_000.0, "{covered}");
    assert!(run_dir(out).join("raster.png").exists());
}

/// jobscripts/long_run.sh: a job on 2 tasks under a one-minute time limit is told to stop
/// (SIGUSR1, what Slurm's `--signal=USR1@120` sends before the limit; sent here with
/// scancel at a known point, as Slurm's timer fires only every few tens of seconds),
/// writes a checkpoint, exits 75 and requeues itself; the next piece resumes and
/// completes. A second job on 1 task goes on from that job's checkpoint to a longer
/// duration. Both end with the outputs of uninterrupted runs, byte for byte.
#[test]
fn a_long_run_requeues_itself_and_resumes_on_another_number_of_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let log = out.join("job.log");
    let run_dir = out.join("long");
    let model = example("izhikevich_sparse.toml");
    let m = model.to_str().unwrap().to_string();
    let size = ["--set", "population.exc.size=16000", "--set", "population.inh.size=4000", "--set", "output.flush_every=\"50 ms\""];
    let submitted = common::command("sbatch")
        .env("SLURM_CONF", cluster())
        .env("VOLLEY", env!("CARGO_BIN_EXE_volley"))
        .env("RUN_DIR", &run_dir)
        .env("CHECKPOINT_EVERY", "400ms")
        .args(["--parsable", "--ntasks=2", "--cpus-per-task=1", "--time=1", &format!("--chdir={}", repo().display())])
        .arg(format!("--output={}", log.display()))
        .arg(repo().join("jobscripts/long_run.sh"))
        .arg(&m)
        .args(["--duration", "3s", "--progress-every", "0.001"])
        .args(size)
        .output()
        .expect("sbatch runs");
    assert!(submitted.status.success(), "{}", String::from_utf8_lossy(&submitted.stderr));
    let job = String::from_utf8_lossy(&submitted.stdout).trim().to_string();
    let squeue = || {
        let q = common::command("squeue").env("SLURM_CONF", cluster()).args(["-h", "-j", &job, "-o", "%T"]).output().unwrap();
        String::from_utf8_lossy(&q.stdout).trim().to_string()
    };
    let started = std::time::Instant::now();
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    loop {
        let text = log_text();
        if text.lines().any(|l| l.contains(" ms of 3000 ms simulated") && !l.starts_with("volley: 0 ms")) {
            break;
        }
        assert!(started.elapsed().as_secs() < 120, "the job did not start simulating:\n{text}\nstate {}", squeue());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let signal = common::command("scancel").env("SLURM_CONF", cluster()).args(["--signal=USR1", &job]).output().unwrap();
    assert!(signal.status.success(), "{}", String::from_utf8_lossy(&signal.stderr));
    loop {
        let text = log_text();
        if text.contains("volley long run: complete") {
            break;
        }
        assert!(started.elapsed().as_secs() < 300, "the job did not complete after its requeue:\n{text}\nstate {}", squeue());
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let text = log_text();
    assert!(text.contains("exit 75") || text.contains("checkpoint written to"), "{text}");
    assert!(text.contains("requeueing job"), "{text}");
    assert!(text.contains("piece 2, 2 tasks") && text.contains("resuming from"), "{text}");

    // Straight runs (no Slurm) of 3 s and 4 s to compare with.
    let straight = |duration: &str, name: &str| {
        let o = out.join(name);
        let ran = common::command(env!("CARGO_BIN_EXE_volley"))
            .args(["run", "-q", &m, "--duration", duration, "--out", o.to_str().unwrap()])
            .args(size)
            .output()
            .unwrap();
        assert!(ran.status.success(), "{}", String::from_utf8_lossy(&ran.stderr));
        o
    };
    common::assert_same_datasets(&straight("3s", "straight3").join("spikes.h5"), &run_dir.join("spikes.h5"));

    // Another job, on 1 task, goes on from the first job's checkpoint to 4 s.
    let text = submit(
        "long_run.sh",
        &["--ntasks=1", "--cpus-per-task=2"],
        &[
            &m,
            "--duration",
            "4s",
            "--set",
            "population.exc.size=16000",
            "--set",
            "population.inh.size=4000",
            "--set",
            "output.flush_every=\"50 ms\"",
        ],
        &[("RUN_DIR", run_dir.display().to_string())],
        &out.join("second"),
        None,
    );
    assert!(text.contains("1 tasks") && text.contains("resuming from") && text.contains("volley long run: complete"), "{text}");
    common::assert_same_datasets(&straight("4s", "straight4").join("spikes.h5"), &run_dir.join("spikes.h5"));
}
