//! What the kernel says a process got: its /proc entries, read from the host, next to the
//! host's own. The plan's checks (`plan::verify`) are compared with this.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::{mountinfo, read_small};

/// One process, as the kernel shows it.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub pid: i32,
    /// The fields of /proc/PID/status.
    pub status: BTreeMap<String, String>,
    /// /proc/PID/ns/NAME and /proc/self/ns/NAME (the host's, as the supervisor is there).
    pub ns: BTreeMap<String, String>,
    pub host_ns: BTreeMap<String, String>,
    /// /proc/PID/mountinfo: mount points as the process sees them.
    pub mounts: Vec<mountinfo::Mount>,
    /// The peer groups of the host's shared mounts.
    pub host_peer_groups: BTreeSet<u32>,
    /// /proc/PID/cgroup, as the host's cgroup namespace names the cgroups.
    pub cgroup: String,
    /// /proc/PID/limits.
    pub limits: String,
    pub uid_map: String,
    pub gid_map: String,
    pub host_uid_map: String,
    pub host_gid_map: String,
    /// Which of the paths asked about exist in the process's root.
    pub existing: BTreeSet<PathBuf>,
}

const NAMESPACES: &[&str] = &["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"];

/// Reads what the kernel holds for `pid`; `paths`: in-root paths whose existence matters.
pub fn observe(pid: i32, paths: &[PathBuf]) -> std::io::Result<Observed> {
    let dir = format!("/proc/{pid}");
    let status = read_small(&format!("{dir}/status"))?
        .lines()
        .filter_map(|l| l.split_once(':').map(|(k, v)| (k.to_string(), v.trim().to_string())))
        .collect();
    let link = |p: String| std::fs::read_link(p).ok().map(|l| l.display().to_string());
    let mut ns = BTreeMap::new();
    let mut host_ns = BTreeMap::new();
    for n in NAMESPACES {
        if let Some(l) = link(format!("{dir}/ns/{n}")) {
            ns.insert(n.to_string(), l);
        }
        if let Some(l) = link(format!("/proc/self/ns/{n}")) {
            host_ns.insert(n.to_string(), l);
        }
    }
    let host_mounts = mountinfo::parse(&read_small("/proc/self/mountinfo")?);
    let root = PathBuf::from(format!("{dir}/root"));
    let existing = paths
        .iter()
        .filter(|p| std::fs::symlink_metadata(root.join(p.strip_prefix("/").unwrap_or(p))).is_ok())
        .cloned()
        .collect();
    Ok(Observed {
        pid,
        status,
        ns,
        host_ns,
        mounts: mountinfo::parse(&read_small(&format!("{dir}/mountinfo"))?),
        host_peer_groups: host_mounts.iter().filter_map(|m| m.shared()).collect(),
        cgroup: read_small(&format!("{dir}/cgroup"))?,
        limits: read_small(&format!("{dir}/limits"))?,
        uid_map: read_small(&format!("{dir}/uid_map"))?,
        gid_map: read_small(&format!("{dir}/gid_map"))?,
        host_uid_map: read_small("/proc/self/uid_map")?,
        host_gid_map: read_small("/proc/self/gid_map")?,
        existing,
    })
}

/// The pid of the only child of `pid` (the command the jail's init forked), from
/// /proc/PID/task/PID/children.
pub fn only_child(pid: i32) -> Option<i32> {
    let text = read_small(&format!("/proc/{pid}/task/{pid}/children")).ok()?;
    let kids: Vec<i32> = text.split_whitespace().filter_map(|p| p.parse().ok()).collect();
    match kids.as_slice() {
        [one] => Some(*one),
        _ => None,
    }
}

/// Whether `path` exists in the root of `pid`.
pub fn exists_in(pid: i32, path: &Path) -> bool {
    std::fs::symlink_metadata(Path::new(&format!("/proc/{pid}/root")).join(path.strip_prefix("/").unwrap_or(path))).is_ok()
}
