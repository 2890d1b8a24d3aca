//! What a jail can leave on the host: its cgroups, mounts under its rootfs, processes in its
//! cgroups, its state folder. `procjail test` compares before and after each experiment.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::spec::Spec;

/// Where procjail keeps the state of running jails.
pub const STATE_DIR: &str = "/run/procjail";

/// Every cgroup hierarchy mounted on this host (cgroup and cgroup2).
pub fn cgroup_mounts() -> Vec<PathBuf> {
    let mountinfo = crate::host::read_small("/proc/self/mountinfo").unwrap_or_default();
    mountinfo
        .lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let fstype = right.split(' ').next()?;
            let point = left.split(' ').nth(4)?;
            matches!(fstype, "cgroup" | "cgroup2").then(|| PathBuf::from(point))
        })
        .collect()
}

/// The jail's cgroup folders that exist now, in every hierarchy.
pub fn cgroups_of(name: &str) -> BTreeSet<PathBuf> {
    cgroup_mounts()
        .into_iter()
        .map(|m| m.join(crate::cgroups::PARENT).join(name))
        .filter(|d| d.is_dir())
        .collect()
}

/// Pids whose cgroup (in any hierarchy) is the jail's, or below it.
pub fn processes_of(name: &str) -> BTreeSet<i32> {
    let needle = format!("/{}/{name}", crate::cgroups::PARENT);
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

/// Mount points at or under `root` in this mount namespace.
pub fn mounts_under(root: &Path) -> BTreeSet<String> {
    let mountinfo = crate::host::read_small("/proc/self/mountinfo").unwrap_or_default();
    crate::teardown::mount_points(&mountinfo).into_iter().filter(|m| Path::new(m).starts_with(root)).collect()
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
    pub fn take(spec: &Spec) -> Snapshot {
        Snapshot {
            cgroups: cgroups_of(&spec.name),
            processes: processes_of(&spec.name),
            mounts: mounts_under(&spec.rootfs),
            state: Path::new(STATE_DIR).join(&spec.name).exists(),
        }
    }

    /// What is there now that a finished jail should not have left: any of its cgroups,
    /// processes or state, and mounts under its rootfs that were not there before.
    pub fn new_since(&self, before: &Snapshot, spec: &Spec) -> Vec<String> {
        let mut leaks: Vec<String> = self.cgroups.iter().map(|c| format!("cgroup {}", c.display())).collect();
        leaks.extend(self.processes.iter().map(|p| format!("process {p}")));
        leaks.extend(self.mounts.difference(&before.mounts).map(|m| format!("mount {m}")));
        if self.state {
            leaks.push(format!("state {}", Path::new(STATE_DIR).join(&spec.name).display()));
        }
        leaks
    }
}
