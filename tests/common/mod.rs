//! Helpers shared by the integration tests: running the `volley` binary and finding the
//! examples.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn example(name: &str) -> PathBuf {
    repo().join("examples").join(name)
}

/// A command whose process inherits no file descriptor but its standard streams.
///
/// Tests run in parallel threads of one process: while one test holds an HDF5 file open
/// (the HDF5 library opens without close-on-exec), another test's child would inherit that
/// descriptor, and with it HDF5's lock on the file, for its whole life — and a volley run
/// of the first test would then be refused the file ("unable to lock file").
pub fn command(program: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new(program);
    // SAFETY: the closure only makes system calls that are async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            // Marked close-on-exec rather than closed: the standard library still reports
            // a failed exec through one of them.
            const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
            if libc::syscall(libc::SYS_close_range, 3 as libc::c_uint, libc::c_uint::MAX, CLOSE_RANGE_CLOEXEC) != 0 {
                for fd in 3..4096 {
                    libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                }
            }
            Ok(())
        });
    }
    command
}

/// Runs the release-built `volley` binary with `args`, in `dir`.
pub fn volley(dir: &Path, args: &[&str]) -> Output {
    command(env!("CARGO_BIN_EXE_volley")).args(args).current_dir(dir).output().expect("volley binary runs")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts that the run succeeded, showing its output if not.
pub fn assert_ok(out: &Output) {
    assert!(out.status.success(), "volley failed: {:?}\nstdout:\n{}\nstderr:\n{}", out.status, stdout(out), stderr(out));
}

/// Simulates `desc` in this process on the CPU backend; returns the spikes and the
/// backend (for its final state).
pub fn simulate(
    desc: &volley::network::Description,
    options: volley::backend::cpu::CpuOptions,
) -> (Vec<volley::spike::Spike>, volley::backend::cpu::CpuBackend) {
    use volley::backend::Backend;
    let mut backend = volley::backend::cpu::CpuBackend::new(desc, 0..desc.total_neurons(), options);
    let mut recorder = volley::record::MemoryRecorder::default();
    volley::engine::Simulation::new(&mut backend as &mut dyn Backend, &mut volley::comm::LocalComm, desc.epoch_steps(), desc.steps)
        .run(&mut recorder)
        .expect("simulation runs");
    (recorder.spikes, backend)
}

/// The 2003 example with `from` replaced by `to` (first occurrence), written into `dir`
/// as `name`; returns its path.
pub fn variant(dir: &Path, name: &str, from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(example("izhikevich2003.toml")).unwrap();
    assert!(text.contains(from), "example contains {from:?}");
    let path = dir.join(name);
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    path.to_str().unwrap().to_string()
}

/// Writes `text` as `name` in a fresh directory and runs `volley check` on it: it must be
/// refused with exit code 2 and one line, no panic. Returns the line, the file's path
/// written as `name`.
pub fn check_refuses(name: &str, text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    let out = volley(dir.path(), &["check", path.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    err.replace(path.to_str().unwrap(), name).trim().to_string()
}

/// Every dataset of an HDF5 file by path: its shape and its values' bits (f64, f32 and
/// the integer types volley writes), to hold two files to byte identity.
pub fn datasets(path: &Path) -> std::collections::BTreeMap<String, (Vec<usize>, Vec<u64>)> {
    use hdf5::types::{FloatSize, IntSize, TypeDescriptor};
    fn walk(group: &hdf5::Group, prefix: &str, out: &mut std::collections::BTreeMap<String, (Vec<usize>, Vec<u64>)>) {
        for name in group.member_names().unwrap() {
            let path = format!("{prefix}/{name}");
            if let Ok(d) = group.dataset(&name) {
                let bits: Vec<u64> = match d.dtype().unwrap().to_descriptor().unwrap() {
                    TypeDescriptor::Float(FloatSize::U8) => d.read_raw::<f64>().unwrap().iter().map(|x| x.to_bits()).collect(),
                    TypeDescriptor::Float(FloatSize::U4) => d.read_raw::<f32>().unwrap().iter().map(|x| x.to_bits() as u64).collect(),
                    TypeDescriptor::Unsigned(IntSize::U8) => d.read_raw::<u64>().unwrap(),
                    TypeDescriptor::Unsigned(IntSize::U4) => d.read_raw::<u32>().unwrap().iter().map(|&x| x as u64).collect(),
                    TypeDescriptor::Unsigned(IntSize::U2) => d.read_raw::<u16>().unwrap().iter().map(|&x| x as u64).collect(),
                    TypeDescriptor::Integer(IntSize::U8) => d.read_raw::<i64>().unwrap().iter().map(|&x| x as u64).collect(),
                    other => panic!("{path}: unexpected type {other:?}"),
                };
                out.insert(path, (d.shape(), bits));
            } else {
                walk(&group.group(&name).unwrap(), &path, out);
            }
        }
    }
    let file = hdf5::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = std::collections::BTreeMap::new();
    walk(&file, "", &mut out);
    out
}

/// Asserts that two HDF5 files hold the same datasets, byte for byte.
pub fn assert_same_datasets(expected: &Path, got: &Path) {
    let (a, b) = (datasets(expected), datasets(got));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>(), "{} and {}: datasets", expected.display(), got.display());
    for (name, (shape, bits)) in &a {
        let (s, v) = &b[name];
        assert_eq!(shape, s, "{name}: shape of {} against {}", got.display(), expected.display());
        let first = bits.iter().zip(v).position(|(x, y)| x != y);
        assert!(first.is_none(), "{name}: {} differs from {} first at element {first:?}", got.display(), expected.display());
    }
}

/// The HH network example (exponential conductances) with delays of 1–20 ms and a report
/// of v.
pub fn hh_delays(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(example("hh_network.toml")).unwrap();
    assert!(text.contains("high = \"5 ms\""));
    let text = text.replace("high = \"5 ms\"", "high = \"20 ms\"")
        + "\n[[output.report]]\nfile = \"v.h5\"\nvariable = \"v\"\nneurons = { fraction = 0.05, seed = 3 }\ninterval = \"0.5 ms\"\n";
    let path = dir.join("hh_delays.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Report tables for the 2003 network: v of five excitatory neurons every 1 ms; u of ten
/// inhibitory ones every 2 ms from 10 to 50 ms; v of four neurons of each population in
/// two windows (one file each).
pub const REPORTS: &str = r#"
[[output.report]]
file = "v.h5"
variable = "v"
populations = ["exc"]
neurons = { ids = [799, 0, 3, 17, 420] }
interval = "1 ms"

[[output.report]]
file = "u_inh.h5"
variable = "u"
populations = ["inh"]
neurons = { range = [0, 10] }
interval = "2 ms"
start = "10 ms"
stop = "50 ms"

[[output.report]]
file = "edges.h5"
variable = "v"
neurons = { range = [100, 104] }
interval = "5 ms"
windows = [["0 ms", "20 ms"], ["480 ms", "500 ms"]]
"#;

/// The sparse example at 1000 neurons (800 + 200, with 80 and 20 inputs each) with delays
/// of 1–20 ms, the excitatory projections' weight and synapse given by `exc` and the
/// inhibitory ones' by `inh` (TOML lines), `extra` appended; written to `dir/file`.
pub fn small_sparse(dir: &Path, file: &str, exc: &str, inh: &str, extra: &str) -> PathBuf {
    let text = std::fs::read_to_string(example("izhikevich_sparse.toml")).unwrap();
    let delays = "delay = { distribution = \"uniform\", low = \"1 ms\", high = \"20 ms\" }";
    let text = text
        .replace("size = 8000", "size = 800")
        .replace("size = 2000", "size = 200")
        .replace("k = 800", "k = 80")
        .replace("k = 200", "k = 20")
        .replace("weight = \"0.5*u\"\ndelay = \"1 ms\"", &format!("{exc}\n{delays}"))
        .replace("weight = \"-u\"\ndelay = \"1 ms\"", &format!("{inh}\n{delays}"))
        + extra;
    assert_eq!(text.matches(delays).count(), 4, "every projection changed");
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap();
    path
}

/// Populations appended to an Izhikevich model so that its cost is not where its neuron
/// counts or the partition's estimate put it: `drive` fires tonically at ~325 Hz (a
/// constant current) onto 512 `sink` neurons, each with 500 inputs from it. The
/// estimate assumes 10 Hz, so the shards holding the sink take many times the others'
/// time on any machine and under any load, and a cut by measured times moves.
pub const DRIVEN_SINK: &str = r#"
[[population]]
name = "drive"
size = 256
model = "izhikevich"
parameters = { a = 0.1, b = 0.2, c = -65, d = 2 }
initial = { v = -65, u = -13 }

[[population]]
name = "sink"
size = 512
model = "izhikevich"
parameters = { a = 0.02, b = 0.2, c = -65, d = 8 }
initial = { v = -65, u = -13 }

[[stimulus]]
population = "drive"
kind = "constant"
amplitude = 40

[[projection]]
source = "drive"
target = "sink"
connection = { rule = "fixed_indegree", k = 500 }
weight = 0.001
delay = "1 ms"
"#;

/// A private runtime directory for this test process: lavapipe (the GPU tests' software
/// driver) complains on every run without one (`XDG_RUNTIME_DIR`).
pub fn runtime_dir() -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("volley-xdg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

/// The Potjans–Diesmann microcircuit written by `benches/peers/microcircuit_model.py`
/// with `args` (scalings, input, duration) into `dir/name`; the script needs only
/// Python's standard library (VOLLEY_PYTHON, else python3).
pub fn microcircuit(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let python = std::env::var("VOLLEY_PYTHON").unwrap_or_else(|_| "python3".into());
    let path = dir.join(name);
    let out = command(&python)
        .arg(repo().join("benches/peers/microcircuit_model.py"))
        .args(args)
        .arg("--out")
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("{python} runs the microcircuit script: {e}"));
    assert!(out.status.success(), "microcircuit_model.py failed: {}", String::from_utf8_lossy(&out.stderr));
    path
}

/// A small tmpfs mounted in `dir/disk`, unmounted when dropped (this needs root, as CI
/// has; elsewhere the test fails saying so).
pub struct SmallDisk(pub PathBuf);

impl SmallDisk {
    pub fn mount(dir: &Path, size: &str) -> SmallDisk {
        let at = dir.join("disk");
        std::fs::create_dir(&at).unwrap();
        let mounted = command("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(&at).status();
        assert!(mounted.is_ok_and(|s| s.success()), "mounting a {size} tmpfs at {} needs root (CI runs as root)", at.display());
        SmallDisk(at)
    }

    /// Takes all but `keep_kb` KiB of the disk.
    pub fn fill(&self, keep_kb: u64) {
        let stat = nix_free(&self.0);
        let take = stat.saturating_sub(keep_kb * 1024);
        std::fs::write(self.0.join("filler"), vec![1u8; take as usize]).unwrap();
    }
}

/// Free bytes on the file system holding `path`.
pub fn nix_free(path: &Path) -> u64 {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid C string and a zeroed out-parameter.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::statvfs(c.as_ptr(), &mut s) }, 0);
    s.f_bavail * s.f_frsize
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = command("umount").arg(&self.0).status();
    }
}
