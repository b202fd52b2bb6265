//! How much more memory this process may take, by every limit that applies: what the
//! machine has available, its memory cgroup's `memory.max` (a Slurm job runs in one,
//! sized by `--mem`; so does a container), and the process's own limits on address
//! space (`ulimit -v`, RLIMIT_AS) and data (`ulimit -d`, RLIMIT_DATA). The memory
//! check compares a run's estimate with the smallest of them, so that a run that would
//! be killed by the cgroup's OOM killer or fail an allocation half way through its build
//! is refused before it starts, with the limit named.

use std::path::{Path, PathBuf};

/// Room left under one limit.
#[derive(Clone, Debug, PartialEq)]
pub struct Room {
    /// Bytes this process may still take under this limit.
    pub bytes: u64,
    /// The limit in words, `{bytes}` standing for the room: "{bytes} are available on
    /// this machine", "the address-space limit (ulimit -v) of 70.0 MB leaves {bytes} ...".
    pub what: String,
    /// Whether the ranks of a node share it (the machine, a cgroup) or each process has
    /// its own (rlimits).
    pub shared: bool,
}

/// Each limit that applies now. `threads` is how many threads the run will start: their
/// stacks take address space and data beside the run's arrays.
pub fn rooms(threads: usize) -> Vec<Room> {
    let mut out = Vec::new();
    if let Some(bytes) = mem_available(Path::new("/proc/meminfo")) {
        out.push(Room { bytes, what: "{bytes} are available on this machine".into(), shared: true });
    }
    out.extend(cgroup_rooms(Path::new("/proc/self/cgroup"), Path::new("/sys/fs/cgroup")));
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let stacks = threads as u64 * THREAD_STACK;
    for (resource, flag, name, field) in [(libc::RLIMIT_AS, "-v", "address-space", "VmSize:"), (libc::RLIMIT_DATA, "-d", "data", "VmData:")]
    {
        let Some(limit) = rlimit(resource) else { continue };
        let used = status_kb(&status, field).unwrap_or(0) * 1024 + stacks;
        out.push(Room {
            bytes: limit.saturating_sub(used),
            what: format!(
                "the {name} limit (ulimit {flag}) of {} leaves {{bytes}} beside the {} the process maps already and its threads' stacks",
                crate::units::fmt_bytes(limit),
                crate::units::fmt_bytes(used - stacks)
            ),
            shared: false,
        });
    }
    out
}

/// A thread's stack (Rust's and rayon's default), counted against the rlimits.
const THREAD_STACK: u64 = 2 << 20;

/// MemAvailable of /proc/meminfo, in bytes.
fn mem_available(meminfo: &Path) -> Option<u64> {
    let info = std::fs::read_to_string(meminfo).ok()?;
    status_kb(&info, "MemAvailable:").map(|kb| kb * 1024)
}

/// A "Field:   123 kB" line's number.
fn status_kb(text: &str, field: &str) -> Option<u64> {
    text.lines().find(|l| l.starts_with(field))?.split_whitespace().nth(1)?.parse().ok()
}

/// The soft limit of `resource`, unless unlimited.
fn rlimit(resource: libc::__rlimit_resource_t) -> Option<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes the out-parameter.
    (unsafe { libc::getrlimit(resource, &mut limit) } == 0 && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
}

/// The room under the memory limit of this process's cgroup and of each cgroup above it
/// (a Slurm step sits inside its job's cgroup): `memory.max` (v2) or
/// `memory.limit_in_bytes` (v1), less what the cgroup holds beyond reclaimable page
/// cache. `proc_cgroup` is /proc/self/cgroup, `root` where the hierarchy is mounted.
pub fn cgroup_rooms(proc_cgroup: &Path, root: &Path) -> Vec<Room> {
    let Ok(text) = std::fs::read_to_string(proc_cgroup) else { return Vec::new() };
    let mut out = Vec::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next(), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let (base, v2) = match controllers {
            "" => (root.to_path_buf(), true),
            c if c.split(',').any(|c| c == "memory") => (root.join("memory"), false),
            _ => continue,
        };
        let mut dir: PathBuf = base.join(path.trim_start_matches('/'));
        loop {
            if let Some(room) = cgroup_room(&dir, v2) {
                out.push(room);
            }
            if dir == base || !dir.pop() {
                break;
            }
        }
    }
    out
}

fn cgroup_room(dir: &Path, v2: bool) -> Option<Room> {
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
    let (limit, usage) = if v2 {
        (read("memory.max")?.trim().parse::<u64>().ok()?, read("memory.current")?.trim().parse::<u64>().ok()?)
    } else {
        (read("memory.limit_in_bytes")?.trim().parse::<u64>().ok()?, read("memory.usage_in_bytes")?.trim().parse::<u64>().ok()?)
    };
    // v1 writes "no limit" as the largest page-aligned i64.
    if limit >= 1 << 62 {
        return None;
    }
    let stat = read("memory.stat").unwrap_or_default();
    let field = |name: &str| stat.lines().find_map(|l| l.strip_prefix(name)?.trim().parse::<u64>().ok()).unwrap_or(0);
    let cache = if v2 { field("file ") } else { field("total_inactive_file ") + field("total_active_file ") };
    let held = usage.saturating_sub(cache);
    Some(Room {
        bytes: limit.saturating_sub(held),
        what: format!(
            "the memory cgroup {} (limit {}, a Slurm job's --mem or a container's) leaves {{bytes}}",
            dir.display(),
            crate::units::fmt_bytes(limit)
        ),
        shared: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_v2_limits_of_the_cgroup_and_its_parents_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let job = root.join("slurm/job_7");
        let step = job.join("step_0");
        std::fs::create_dir_all(&step).unwrap();
        std::fs::write(root.join("proc_cgroup"), "0::/slurm/job_7/step_0\n").unwrap();
        std::fs::write(step.join("memory.max"), "max\n").unwrap();
        std::fs::write(step.join("memory.current"), "1000\n").unwrap();
        std::fs::write(job.join("memory.max"), "8000000000\n").unwrap();
        std::fs::write(job.join("memory.current"), "3000000000\n").unwrap();
        std::fs::write(job.join("memory.stat"), "anon 1000000000\nfile 1000000000\n").unwrap();
        let rooms = cgroup_rooms(&root.join("proc_cgroup"), root);
        assert_eq!(rooms.len(), 1, "{rooms:?}");
        assert_eq!(rooms[0].bytes, 6_000_000_000, "the limit less what is held beyond page cache");
        assert!(rooms[0].what.contains("slurm/job_7 (limit 8.0 GB"), "{}", rooms[0].what);
    }

    #[test]
    fn cgroup_v1_unlimited_is_no_limit() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let group = root.join("memory/user");
        std::fs::create_dir_all(&group).unwrap();
        std::fs::write(root.join("proc_cgroup"), "4:cpu,cpuacct:/user\n3:memory:/user\n").unwrap();
        std::fs::write(group.join("memory.limit_in_bytes"), "9223372036854771712\n").unwrap();
        std::fs::write(group.join("memory.usage_in_bytes"), "5\n").unwrap();
        assert!(cgroup_rooms(&root.join("proc_cgroup"), root).is_empty());
        std::fs::write(group.join("memory.limit_in_bytes"), "1000\n").unwrap();
        assert_eq!(cgroup_rooms(&root.join("proc_cgroup"), root)[0].bytes, 995);
    }

    #[test]
    fn an_address_space_limit_is_a_room_of_this_process() {
        // This test process has no limit unless its environment sets one: the room
        // then exists only where the limit does.
        let has = rlimit(libc::RLIMIT_AS).is_some();
        assert_eq!(rooms(1).iter().any(|r| r.what.contains("ulimit -v")), has);
    }
}
