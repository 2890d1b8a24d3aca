//! What a jail can leave on the host, read from procfs and cgroupfs: its cgroups, mounts under
//! its rootfs, processes in its cgroups, its state folder. `procjail test` compares before and
//! after each experiment; `audit` and `gc` start from here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{CGROUP_PARENT, mountinfo, read_small, user};

/// Every cgroup hierarchy mounted on this host (cgroup and cgroup2).
/// Where this user's jails can have cgroups: every cgroup hierarchy for root; for another user
/// only the cgroup2 subtree delegated to it, if any.
pub fn cgroup_mounts() -> Vec<PathBuf> {
    let text = read_small("/proc/self/mountinfo").unwrap_or_default();
    let mounts =
        mountinfo::parse(&text).into_iter().filter(|m| matches!(m.fstype.as_str(), "cgroup" | "cgroup2"));
    let uid = nix::unistd::geteuid().as_raw();
    if uid != 0 {
        let unified = mounts.clone().find(|m| m.fstype == "cgroup2").map(|m| PathBuf::from(m.point));
        return unified.and_then(|u| user::delegation(&u, uid)).map(|d| d.dir).into_iter().collect();
    }
    mounts.map(|m| PathBuf::from(m.point)).collect()
}

/// The jail's cgroup folders that exist now, in every hierarchy.
pub fn cgroups_of(name: &str) -> BTreeSet<PathBuf> {
    cgroup_mounts().into_iter().map(|m| m.join(CGROUP_PARENT).join(name)).filter(|d| d.is_dir()).collect()
}

/// Pids whose cgroup (in any hierarchy) is the jail's, or below it.
pub fn processes_of(name: &str) -> BTreeSet<i32> {
    let needle = format!("/{CGROUP_PARENT}/{name}");
    let mut out = BTreeSet::new();
    let Ok(entries) = std::fs::read_dir("/proc") else { return out };
    for e in entries.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(cg) = std::fs::read_to_string(e.path().join("cgroup")) else { continue };
        if cg.lines().any(|l| l.ends_with(&needle) || l.contains(&format!("{needle}/"))) {
            out.insert(pid);
        }
    }
    out
}

/// Pids in a cgroup's cgroup.procs (a pid and a newline a record: at most 8 bytes).
pub fn cgroup_procs(dir: &Path) -> std::io::Result<Vec<i32>> {
    let path = dir.join("cgroup.procs");
    let text = super::read_proc(&path.to_string_lossy(), super::Shows::Records(8))?;
    Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
}

/// Mount points at or under `root` in this mount namespace.
pub fn mounts_under(root: &Path) -> BTreeSet<String> {
    let text = read_small("/proc/self/mountinfo").unwrap_or_default();
    mountinfo::points(&text).into_iter().filter(|m| Path::new(m).starts_with(root)).collect()
}

/// A jail's footprint on the host at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub cgroups: BTreeSet<PathBuf>,
    pub processes: BTreeSet<i32>,
    pub mounts: BTreeSet<String>,
    pub state: bool,
}

impl Snapshot {
    /// The footprint of the jail `name` whose rootfs is `rootfs`.
    pub fn take(name: &str, rootfs: &Path) -> Snapshot {
        Snapshot {
            cgroups: cgroups_of(name),
            processes: processes_of(name),
            mounts: mounts_under(rootfs),
            state: !user::JailFiles::of(&user::state_dir(), name).present().is_empty(),
        }
    }

    /// What is there now that a finished jail should not have left: any of its cgroups,
    /// processes or state, and mounts under its rootfs that were not there before.
    pub fn new_since(&self, before: &Snapshot, name: &str) -> Vec<String> {
        let mut leaks: Vec<String> = self.cgroups.iter().map(|c| format!("cgroup {}", c.display())).collect();
        leaks.extend(self.processes.iter().map(|p| format!("process {p}")));
        leaks.extend(self.mounts.difference(&before.mounts).map(|m| format!("mount {m}")));
        if self.state {
            leaks.push(format!("state {}", user::JailFiles::of(&user::state_dir(), name).lock.display()));
        }
        leaks
    }
}
