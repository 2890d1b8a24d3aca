//! The state of a running jail, under /run/procjail/NAME: a lock the supervisor holds for its
//! whole life (so two jails of one name cannot run, and a dead supervisor is told from a live
//! one without trusting pids), and state.json (pids, start times, the file and its hash, the
//! cgroups, the command, the plan), written atomically by the plan's SaveState step and
//! removed at teardown. This module is the file's format and its readers; it writes nothing.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::host::{CGROUP_PARENT, CgroupKind, procfs, scan, user};
use crate::plan::Plan;
use crate::spec::Exec;

/// What `procjail ps`, `inspect`, `exec`, `kill` and `down` know of a running jail. `P` is the
/// plan: written straight from the Plan, read back as JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State<P = serde_json::Value> {
    pub version: u32,
    pub name: String,
    pub supervisor_pid: i32,
    /// Start time of the process, in clock ticks after boot (/proc/PID/stat field 22): a pid
    /// that was reused has another.
    pub supervisor_start: u64,
    /// The jail's first process (its init, or the command with init mode "none").
    pub init_pid: i32,
    pub init_start: u64,
    /// Seconds since the epoch.
    pub started_at: u64,
    pub file: PathBuf,
    pub file_sha256: String,
    pub rootfs: PathBuf,
    pub cgroup_kind: CgroupKind,
    /// The jail's own cgroup folders, one per hierarchy.
    pub cgroups: Vec<PathBuf>,
    pub memory_cgroup: Option<PathBuf>,
    pub pids_cgroup: Option<PathBuf>,
    #[serde(with = "crate::json::limit", default)]
    pub memory_limit: Option<u64>,
    #[serde(with = "crate::json::limit", default)]
    pub pids_limit: Option<u64>,
    /// What the command runs with; `procjail exec` runs its own command the same way.
    pub command: Exec,
    /// What the kernel must show of the command before its execve (`exec` and `inspect` check
    /// the same).
    #[serde(default)]
    pub checks: Option<crate::plan::verify::Checks>,
    /// The plan that was run, as `plan --json` prints it.
    pub plan: P,
}

/// The processes and times a run's state names, as the executor saw them.
#[derive(Debug, Clone, Copy)]
pub struct Pids {
    pub supervisor: (i32, u64),
    pub init: (i32, u64),
    pub started_at: u64,
}

impl<'p> State<crate::plan::print::JsonPlan<'p>> {
    /// The state of a run: from its plan (what was asked for) and what the executor saw.
    pub fn of(plan: &'p Plan, file: PathBuf, file_sha256: String, pids: Pids) -> Self {
        let f = &plan.facts;
        State {
            version: 2,
            name: plan.jail.clone(),
            supervisor_pid: pids.supervisor.0,
            supervisor_start: pids.supervisor.1,
            init_pid: pids.init.0,
            init_start: pids.init.1,
            started_at: pids.started_at,
            file,
            file_sha256,
            rootfs: f.rootfs.clone().unwrap_or_default(),
            cgroup_kind: plan.host.cgroup,
            cgroups: f.cgroups.clone(),
            memory_cgroup: f.memory_cgroup.clone(),
            pids_cgroup: f.pids_cgroup.clone(),
            memory_limit: f.memory_limits.first().map(|(_, v)| *v),
            pids_limit: f.pids_limit,
            command: f.command.clone().expect("an up plan has a command"),
            checks: f.checks.clone(),
            plan: crate::plan::print::json_doc(plan),
        }
    }
}

impl<P> State<P> {
    /// The process through which the jail is read (`inspect`) and entered (`exec`): its init
    /// when procjail is root. Without root, the init's /proc/PID/{ns,root} are closed to us (it
    /// is not dumpable, and its memory belongs to the host's user namespace, where we lack
    /// CAP_SYS_PTRACE), so it is the init's first child, the command: dumpable after its
    /// execve, its memory in the jail's user namespace, which we own.
    pub fn entry_pid(&self) -> i32 {
        if nix::unistd::geteuid().is_root() {
            return self.init_pid;
        }
        let children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", self.init_pid))
            .unwrap_or_default();
        children.split_whitespace().find_map(|p| p.parse().ok()).unwrap_or(self.init_pid)
    }
}

/// The state folder of this user's jail `name` ([`user::state_dir`]).
pub fn dir(name: &str) -> PathBuf {
    user::state_dir().join(name)
}

/// Reads the state in a jail's folder.
pub fn read(dir: &Path) -> anyhow::Result<State> {
    read_as(dir)
}

/// Reads it with the plan of the type asked for: `IgnoredAny` skips it without building it (a
/// plan is most of the file; `ps` of 500 jails reads 500 of them).
fn read_as<P: serde::de::DeserializeOwned>(dir: &Path) -> anyhow::Result<State<P>> {
    let text = std::fs::read_to_string(dir.join("state.json"))?;
    Ok(serde_json::from_str(&text)?)
}

/// Whether the supervisor that wrote `dir`'s state still runs: it holds the lock (read from
/// /proc/locks; the pid and its start time would say the same, unless the pid was reused).
pub fn is_live(dir: &Path) -> bool {
    procfs::lock_holder(&dir.join("lock")).is_some()
}

/// A jail's state folder, running or left over.
#[derive(Debug)]
pub struct Entry {
    pub name: String,
    pub dir: PathBuf,
    /// Its state, without the plan.
    pub state: Option<State<serde::de::IgnoredAny>>,
    pub live: bool,
}

/// Every folder under /run/procjail, sorted by name.
pub fn all() -> Vec<Entry> {
    let Ok(entries) = std::fs::read_dir(user::state_dir()) else { return Vec::new() };
    let locks = crate::host::read_small("/proc/locks").unwrap_or_default();
    let mut out: Vec<Entry> = entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| {
            let dir = e.path();
            Entry {
                name: e.file_name().to_string_lossy().into_owned(),
                state: read_as(&dir).ok(),
                live: procfs::lock_holder_in(&locks, &dir.join("lock")).is_some(),
                dir,
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// A running jail by name, or a clear error.
pub fn running(name: &str) -> anyhow::Result<State> {
    let dir = dir(name);
    if !dir.exists() {
        anyhow::bail!("no jail named {name:?} is running (nothing in {})", dir.display());
    }
    if !is_live(&dir) {
        anyhow::bail!(
            "the jail {name:?} is not running: its supervisor is gone and left {} (run `procjail gc`)",
            dir.display()
        );
    }
    let state = read(&dir)?;
    if procfs::start_time(state.init_pid) != Some(state.init_start) {
        anyhow::bail!(
            "the jail {name:?} has no first process any more (pid {} is gone or reused)",
            state.init_pid
        );
    }
    Ok(state)
}

/// Something procjail left on the host.
#[derive(Debug, Clone, PartialEq)]
pub enum Leftover {
    /// The state folder of a jail whose supervisor is gone, and the files in it.
    State { dir: PathBuf, files: Vec<PathBuf> },
    /// A mount under a stale jail's rootfs, or under /run/procjail.
    Mount(PathBuf),
    /// The cgroup of a jail that is not running; `kill_file`: it has cgroup.kill.
    Cgroup { path: PathBuf, kill_file: bool, processes: usize },
}

impl Leftover {
    /// What `audit` calls it.
    pub fn what(&self) -> &'static str {
        match self {
            Leftover::State { .. } => "stale state",
            Leftover::Mount(_) => "mount",
            Leftover::Cgroup { .. } => "cgroup of a jail that is not running",
        }
    }

    pub fn path(&self) -> &Path {
        match self {
            Leftover::State { dir, .. } => dir,
            Leftover::Mount(p) => p,
            Leftover::Cgroup { path, .. } => path,
        }
    }
}

/// What procjail left on the host, only of the jails named if any: read from /run/procjail,
/// the mount table and cgroupfs.
pub fn leftovers(names: &[String]) -> Vec<Leftover> {
    let wanted = |n: &str| names.is_empty() || names.iter().any(|w| w == n);
    let entries = all();
    let live: Vec<&str> = entries.iter().filter(|e| e.live).map(|e| e.name.as_str()).collect();
    let mut found = Vec::new();
    for e in entries.iter().filter(|e| !e.live && wanted(&e.name)) {
        if let Some(s) = &e.state {
            for m in scan::mounts_under(&s.rootfs).into_iter().filter(|m| Path::new(m) != s.rootfs) {
                found.push(Leftover::Mount(PathBuf::from(m)));
            }
        }
        let mut files: Vec<PathBuf> =
            std::fs::read_dir(&e.dir).into_iter().flatten().flatten().map(|f| f.path()).collect();
        files.sort();
        found.push(Leftover::State { dir: e.dir.clone(), files });
    }
    for m in scan::mounts_under(&user::state_dir()) {
        found.push(Leftover::Mount(PathBuf::from(m)));
    }
    for hierarchy in scan::cgroup_mounts() {
        let parent = hierarchy.join(CGROUP_PARENT);
        for d in std::fs::read_dir(&parent).into_iter().flatten().flatten() {
            let name = d.file_name().to_string_lossy().into_owned();
            if d.path().is_dir() && !live.contains(&name.as_str()) && wanted(&name) {
                let path = d.path();
                let processes = scan::cgroup_procs(&path).map_or(0, |p| p.len());
                found.push(Leftover::Cgroup {
                    kill_file: path.join("cgroup.kill").exists(),
                    path,
                    processes,
                });
            }
        }
    }
    found
}
