//! One run per output directory (and per checkpoint): a run holds an exclusive lock from
//! before its first check to its end, so that a second run into the same directory is
//! refused at once, naming the holder, instead of the two writing into each other's
//! files.
//!
//! The lock is `flock(2)` on a lock file (`<dir>/.volley.lock`, `.<checkpoint>.lock`
//! beside a checkpoint) that holds one line about the holder: host, pid, start time and
//! command line. The kernel releases a `flock` when its holder dies, however it dies
//! (SIGKILL, a node that reboots under NFS's lock recovery), so a lock file left by a
//! killed run is stale by construction: the next run takes it. Where the file system
//! refuses `flock` (Lustre mounted without `flock`), the lock file alone is the lock: a
//! holder on this host whose process is gone is stale; a holder on another host cannot
//! be checked from here, and is trusted until its file is removed.
//!
//! Under MPI, rank 0 takes the locks for all ranks (`run::run`).

use crate::error::{Error, Result};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Who holds a lock, as written into its file.
#[derive(Clone, Debug, PartialEq)]
pub struct Holder {
    pub host: String,
    pub pid: u32,
    /// UTC, ISO 8601.
    pub started: String,
    pub command: String,
}

impl Holder {
    /// This process.
    pub fn this_process(command: &str) -> Holder {
        Holder { host: host_name(), pid: std::process::id(), started: crate::units::utc_now(), command: command.to_string() }
    }

    fn line(&self) -> String {
        // One line: a command line holding a newline is written with it escaped.
        format!("host={}\tpid={}\tstarted={}\tcommand={}\n", self.host, self.pid, self.started, self.command.replace('\n', "\\n"))
    }

    fn parse(text: &str) -> Option<Holder> {
        let line = text.lines().next()?;
        let field = |key: &str| line.split('\t').find_map(|f| f.strip_prefix(key)).map(str::to_string);
        Some(Holder { host: field("host=")?, pid: field("pid=")?.parse().ok()?, started: field("started=")?, command: field("command=")? })
    }

    /// "host h, pid 42, started 2026-12-05T04:40:05Z: volley run m.toml".
    pub fn describe(&self) -> String {
        format!("host {}, pid {}, started {}: {}", self.host, self.pid, self.started, self.command)
    }

    /// Whether this holder is known to be gone: a process of this host that no longer
    /// exists.
    fn is_gone(&self) -> bool {
        if self.host != host_name() {
            return false;
        }
        // SAFETY: signal 0 only checks that the process exists.
        let r = unsafe { libc::kill(self.pid as libc::pid_t, 0) };
        r != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
    }
}

/// This machine's host name.
pub fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    if unsafe { libc::gethostname(buf.as_mut_ptr() as *mut libc::c_char, buf.len()) } != 0 {
        return "unknown".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// How the lock is held: by `flock`, or (where the file system refuses it) by the lock
/// file's existence and contents.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    Flock,
    FileOnly,
}

/// A held lock: released (and its file removed) when dropped.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
    file: std::fs::File,
    pub mode: Mode,
}

/// Why a lock was not taken.
#[derive(Debug)]
pub enum Refused {
    /// Another run holds it (its holder, if its file could be read).
    Held(Option<Holder>),
    /// The lock file cannot be created or locked.
    Io(String),
}

impl Lock {
    /// Takes the lock at `path` for `holder`, without waiting.
    pub fn acquire(path: &Path, holder: &Holder) -> std::result::Result<Lock, Refused> {
        Self::acquire_as(path, holder, Mode::Flock)
    }

    /// As `acquire`, trying `mode` first (`FileOnly`: as on a file system without
    /// `flock`; the tests reach that path this way).
    pub fn acquire_as(path: &Path, holder: &Holder, mode: Mode) -> std::result::Result<Lock, Refused> {
        if mode == Mode::FileOnly {
            return Self::acquire_file_only(path, holder);
        }
        // A lock file can be removed by its holder between our open and our lock (a run
        // ending): the lock then holds a file no longer at `path`; try again.
        for _ in 0..100 {
            let mut file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .map_err(|e| Refused::Io(e.to_string()))?;
            // SAFETY: a valid descriptor; flock only locks it.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
                return match std::io::Error::last_os_error().raw_os_error() {
                    Some(libc::EWOULDBLOCK) => Err(Refused::Held(read_holder(&mut file))),
                    Some(libc::ENOLCK | libc::EOPNOTSUPP | libc::ENOSYS | libc::EINVAL) => Self::acquire_file_only(path, holder),
                    _ => Err(Refused::Io(std::io::Error::last_os_error().to_string())),
                };
            }
            if !same_file(&file, path) {
                continue;
            }
            // The line only names the holder: a full disk may refuse it (the run's own
            // checks then say so), the lock holds all the same.
            let _ = file.set_len(0).and_then(|()| file.rewind()).and_then(|()| file.write_all(holder.line().as_bytes()));
            return Ok(Lock { path: path.to_path_buf(), file, mode: Mode::Flock });
        }
        Err(Refused::Io("its lock file keeps being replaced".into()))
    }

    /// Where `flock` is refused, the lock file is the lock: created exclusively, with its
    /// holder's line; an existing one whose holder is a process of this host that is gone
    /// (or that names no holder however long it is waited for) is stale and replaced.
    /// Best effort: two runs replacing one stale file at the same moment can both win.
    fn acquire_file_only(path: &Path, holder: &Holder) -> std::result::Result<Lock, Refused> {
        for _ in 0..100 {
            match std::fs::OpenOptions::new().read(true).write(true).create_new(true).open(path) {
                Ok(mut file) => {
                    if let Err(e) = file.write_all(holder.line().as_bytes()) {
                        let _ = std::fs::remove_file(path);
                        return Err(Refused::Io(e.to_string()));
                    }
                    return Ok(Lock { path: path.to_path_buf(), file, mode: Mode::FileOnly });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let Ok(mut file) = std::fs::File::open(path) else { continue };
                    match read_holder(&mut file) {
                        Some(other) if !other.is_gone() => return Err(Refused::Held(Some(other))),
                        // Stale: replaced.
                        _ => {
                            let _ = std::fs::remove_file(path);
                        }
                    }
                }
                Err(e) => return Err(Refused::Io(e.to_string())),
            }
        }
        Err(Refused::Io("its lock file keeps being replaced".into()))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Lock {
    /// Removes the lock file while still holding the lock (a run waiting on it then
    /// finds its file gone and opens a new one), then releases it by closing.
    fn drop(&mut self) {
        if same_file(&self.file, &self.path) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Whether the open `file` is the file now at `path`.
fn same_file(file: &std::fs::File, path: &Path) -> bool {
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// The holder written in a lock file: read a few times over 200 ms, as a run that has
/// just taken the lock may not have written its line yet.
fn read_holder(file: &mut std::fs::File) -> Option<Holder> {
    for _ in 0..20 {
        let mut text = String::new();
        if file.rewind().is_ok() && file.read_to_string(&mut text).is_ok() {
            if let Some(h) = Holder::parse(&text) {
                return Some(h);
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    None
}

/// The lock file of an output directory.
pub fn dir_lock_path(dir: &Path) -> PathBuf {
    dir.join(".volley.lock")
}

/// The lock file of a checkpoint: `.<name>.lock` beside it (the checkpoint itself is
/// replaced by a rename at each write, so a lock on it would not last).
pub fn checkpoint_lock_path(checkpoint: &Path) -> PathBuf {
    let name = checkpoint.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    checkpoint.with_file_name(format!(".{name}.lock"))
}

/// The locks of one run: its output directory (created for the lock if need be, and
/// removed again at the end if the run left it empty) and its checkpoints.
#[derive(Debug, Default)]
pub struct RunLocks {
    locks: Vec<Lock>,
    /// Directories this run created, innermost first: removed at the end if empty.
    created: Vec<PathBuf>,
}

impl RunLocks {
    /// Takes the lock of the output directory `dir` (creating it) and of each checkpoint
    /// in `checkpoints`, for `holder`; refuses with the holder of the first one held.
    pub fn take(dir: Option<&Path>, checkpoints: &[&Path], holder: &Holder) -> Result<RunLocks> {
        let mut locks = RunLocks::default();
        if let Some(dir) = dir {
            let path = locks.lock_file(dir, ".volley.lock").map_err(|message| Error::Output {
                path: dir.to_path_buf(),
                message: format!("{message}; {}", super::checks::WRITE_ELSEWHERE),
            })?;
            let lock = Lock::acquire(&path, holder).map_err(|r| refused(r, "the output directory", dir))?;
            locks.locks.push(lock);
        }
        for &checkpoint in checkpoints {
            let parent = checkpoint.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let name = checkpoint_lock_path(checkpoint).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let fail = |message: String| Error::Option { option: "--checkpoint".into(), message };
            let path = locks.lock_file(parent, &name).map_err(fail)?;
            // The same checkpoint named twice (`--checkpoint ./c.h5 --resume c.h5`).
            if locks.locks.iter().any(|l| l.path() == path) {
                continue;
            }
            let lock = Lock::acquire(&path, holder).map_err(|r| refused(r, "the checkpoint", checkpoint))?;
            locks.locks.push(lock);
        }
        Ok(locks)
    }

    /// The lock file `name` in `dir`, by `dir`'s canonical path (one file however the
    /// directory is named); `dir` is created if need be, and remembered to be removed
    /// again if left empty.
    fn lock_file(&mut self, dir: &Path, name: &str) -> std::result::Result<PathBuf, String> {
        let made = create_dirs(dir)?;
        self.created.extend(made);
        let canonical = dir.canonicalize().map_err(|e| format!("cannot find the directory {}: {e}", dir.display()))?;
        Ok(canonical.join(name))
    }
}

impl Drop for RunLocks {
    fn drop(&mut self) {
        self.locks.clear();
        // Innermost first, whatever lock made them.
        self.created.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for dir in &self.created {
            // Only an empty directory is removed (remove_dir refuses any other).
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// Creates `dir` and its missing ancestors; returns those it created, innermost first.
fn create_dirs(dir: &Path) -> std::result::Result<Vec<PathBuf>, String> {
    let mut missing = Vec::new();
    let mut at = Some(dir);
    while let Some(d) = at.filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        missing.push(d.to_path_buf());
        at = d.parent();
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create the directory: {e}"))?;
    Ok(missing)
}

fn refused(r: Refused, what: &str, path: &Path) -> Error {
    let message = match r {
        Refused::Held(Some(h)) => format!(
            "{what} is in use by another volley run ({}); wait for it to end, or choose another {}",
            h.describe(),
            if what == "the checkpoint" { "--checkpoint" } else { "--out" }
        ),
        Refused::Held(None) => format!("{what} is in use by another volley run (its lock file {} names no holder)", lock_of(what, path)),
        Refused::Io(e) => format!("cannot lock {what} ({}): {e}", lock_of(what, path)),
    };
    Error::Output { path: path.to_path_buf(), message }
}

fn lock_of(what: &str, path: &Path) -> String {
    let p = if what == "the checkpoint" { checkpoint_lock_path(path) } else { dir_lock_path(path) };
    p.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(pid: u32) -> Holder {
        Holder { host: host_name(), pid, started: "2026-12-05T00:00:00Z".into(), command: "volley run m.toml".into() }
    }

    #[test]
    fn a_second_lock_is_refused_with_the_holder_and_taken_once_released() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".volley.lock");
        let me = Holder::this_process("volley run a.toml");
        let first = Lock::acquire(&path, &me).unwrap();
        assert_eq!(first.mode, Mode::Flock);
        match Lock::acquire(&path, &holder(1)) {
            Err(Refused::Held(Some(h))) => assert_eq!(h, me),
            other => panic!("{other:?}"),
        }
        drop(first);
        assert!(!path.exists(), "the lock file goes with its lock");
        Lock::acquire(&path, &holder(1)).unwrap();
    }

    /// A lock file whose process died (no flock on it any more) is taken over.
    #[test]
    fn a_lock_file_left_by_a_dead_process_is_stale() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".volley.lock");
        std::fs::write(&path, holder(1).line()).unwrap();
        let lock = Lock::acquire(&path, &holder(std::process::id())).unwrap();
        assert_eq!(Holder::parse(&std::fs::read_to_string(lock.path()).unwrap()), Some(holder(std::process::id())));
    }

    /// Without flock, the file's holder decides: alive here, or elsewhere, holds it; a
    /// process of this host that is gone does not.
    #[test]
    fn without_flock_the_lock_file_is_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".volley.lock");
        let alive = Holder::this_process("volley run a.toml");
        let lock = Lock::acquire_as(&path, &alive, Mode::FileOnly).unwrap();
        assert_eq!(lock.mode, Mode::FileOnly);
        match Lock::acquire_as(&path, &holder(7), Mode::FileOnly) {
            Err(Refused::Held(Some(h))) => assert_eq!(h, alive),
            other => panic!("{other:?}"),
        }
        drop(lock);
        // A pid beyond the kernel's maximum is never a live process.
        let dead = holder(4_194_304 + 17);
        std::fs::write(&path, dead.line()).unwrap();
        Lock::acquire_as(&path, &holder(8), Mode::FileOnly).unwrap();
        let elsewhere = Holder { host: "another-node".into(), ..dead };
        std::fs::write(&path, elsewhere.line()).unwrap();
        assert!(matches!(Lock::acquire_as(&path, &holder(9), Mode::FileOnly), Err(Refused::Held(Some(_)))));
    }

    #[test]
    fn one_checkpoint_named_two_ways_is_locked_once_and_its_directory_made() {
        let dir = tempfile::tempdir().unwrap();
        let me = Holder::this_process("volley run m.toml");
        let (a, b) = (dir.path().join("new/c.h5"), dir.path().join("new/./c.h5"));
        let locks = RunLocks::take(None, &[&a, &b], &me).unwrap();
        assert_eq!(locks.locks.len(), 1);
        assert!(dir.path().join("new/.c.h5.lock").exists(), "the checkpoint's directory is made to hold its lock");
        drop(locks);
        assert!(!dir.path().join("new").exists());
    }

    #[test]
    fn run_locks_remove_the_directories_they_made_if_left_empty() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("a/b");
        let me = Holder::this_process("volley run m.toml");
        let locks = RunLocks::take(Some(&out), &[], &me).unwrap();
        assert!(dir_lock_path(&out).exists());
        let err = RunLocks::take(Some(&out), &[], &holder(1)).unwrap_err().to_string();
        assert!(
            err.contains("the output directory is in use by another volley run (host") && err.ends_with("or choose another --out"),
            "{err}"
        );
        drop(locks);
        assert!(!dir.path().join("a").exists());
    }
}
