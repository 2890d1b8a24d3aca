//! The state of a running jail, in /run/procjail: NAME.lock, a lock the supervisor holds for its
//! whole life (so two jails of one name cannot run, and a dead supervisor is told from a live
//! one without trusting pids), and NAME.json (pids, start times, the file and its hash, the
//! cgroups, the command and its checks), written atomically by the plan's SaveState step,
//! written again with the plan once the jail has run 100 ms (the Wait step), and removed at
//! teardown. This module is the file's format and its readers; it writes nothing.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::host::user::JailFiles;
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
    /// Whether the built-in init is the jail's PID 1 (the command is its first child).
    #[serde(default)]
    pub builtin_init: bool,
    /// The plan that was run, as `plan --json` prints it: written once the jail has run 100 ms
    /// (most of the file, and most of the cost of writing it: a short jail never pays it).
    pub plan: Option<P>,
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
    pub fn of(plan: &'p Plan, file: PathBuf, file_sha256: String, pids: Pids, with_plan: bool) -> Self {
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
            builtin_init: plan.phases.iter().any(|p| p.kind == crate::plan::PhaseKind::Reap),
            plan: with_plan.then(|| crate::plan::print::json_doc(plan)),
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

/// The files of this user's jail `name` ([`user::state_dir`], [`JailFiles`]).
pub fn files(name: &str) -> JailFiles {
    JailFiles::of(&user::state_dir(), name)
}

/// Reads a jail's state.
pub fn read(files: &JailFiles) -> anyhow::Result<State> {
    read_as(&files.state)
}

/// Reads it with the plan of the type asked for: `IgnoredAny` skips it without building it (a
/// plan is most of the file; `ps` of 500 jails reads 500 of them).
fn read_as<P: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<State<P>> {
    let text = std::fs::read_to_string(path)?;
    Ok(serde_json::from_str(&text)?)
}

/// Whether the supervisor that wrote a jail's state still runs: it holds the lock (read from
/// /proc/locks; the pid and its start time would say the same, unless the pid was reused).
pub fn is_live(files: &JailFiles) -> bool {
    procfs::lock_holder(&files.lock).is_some()
}

/// A jail that has files in the state folder, running or left over.
#[derive(Debug)]
pub struct Entry {
    pub name: String,
    pub files: JailFiles,
    /// Those of its files that are there.
    pub present: Vec<PathBuf>,
    /// An older procjail's state folder of the same name (its files are in `present`).
    pub folder: Option<PathBuf>,
    /// Its state, without the plan.
    pub state: Option<State<serde::de::IgnoredAny>>,
    pub live: bool,
}

/// Every jail with a file in this user's state folder, sorted by name. A folder there is the
/// state of a jail of an older procjail (NAME/lock, NAME/state.json): listed, never live.
pub fn all() -> Vec<Entry> {
    let root = user::state_dir();
    let Ok(entries) = std::fs::read_dir(&root) else { return Vec::new() };
    let mut names = std::collections::BTreeMap::<String, Option<PathBuf>>::new();
    for e in entries.flatten() {
        let file = e.file_name().to_string_lossy().into_owned();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            names.insert(file, Some(e.path()));
        } else if let Some(name) = JailFiles::name_of(&file) {
            names.entry(name.to_string()).or_insert(None);
        }
    }
    let locks = crate::host::read_small("/proc/locks").unwrap_or_default();
    names
        .into_iter()
        .map(|(name, legacy)| {
            let files = JailFiles::of(&root, &name);
            let mut present = files.present();
            if let Some(dir) = &legacy {
                let mut inside: Vec<PathBuf> =
                    std::fs::read_dir(dir).into_iter().flatten().flatten().map(|f| f.path()).collect();
                inside.sort();
                present.extend(inside);
            }
            Entry {
                folder: legacy,
                state: read_as(&files.state).ok(),
                live: procfs::lock_holder_in(&locks, &files.lock).is_some(),
                present,
                files,
                name,
            }
        })
        .collect()
}

/// A running jail by name, or a clear error.
pub fn running(name: &str) -> anyhow::Result<State> {
    let files = files(name);
    if !files.lock.exists() {
        anyhow::bail!("no jail named {name:?} is running (there is no {})", files.lock.display());
    }
    if !is_live(&files) {
        anyhow::bail!(
            "the jail {name:?} is not running: its supervisor is gone and left {} (run `procjail gc`)",
            files.lock.display()
        );
    }
    let state = read(&files)?;
    if procfs::start_time(state.init_pid) != Some(state.init_start) {
        anyhow::bail!(
            "the jail {name:?} has no first process any more (pid {} is gone or reused)",
            state.init_pid
        );
    }
    Ok(state)
}

/// A running jail's state with its plan: a jail that has not yet run the 100 ms after which its
/// supervisor writes the plan into NAME.json is waited for (at most a second).
pub fn running_with_plan(name: &str) -> anyhow::Result<State> {
    let files = files(name);
    let mut state = running(name)?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    while state.plan.is_none() && std::time::Instant::now() < deadline && is_live(&files) {
        std::thread::sleep(std::time::Duration::from_millis(10));
        state = read(&files)?;
    }
    Ok(state)
}

/// Something procjail left on the host.
#[derive(Debug, Clone, PartialEq)]
pub enum Leftover {
    /// The state of a jail whose supervisor is gone: its files that are there (its lock, its
    /// state, a state half written), and an older procjail's folder, the files in it first.
    State { name: String, files: Vec<PathBuf>, folder: Option<PathBuf> },
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

    /// Where it is: a path, or for a stale state its files, comma-separated.
    pub fn place(&self) -> String {
        match self {
            Leftover::State { files, folder, .. } => {
                files.iter().chain(folder).map(|f| f.display().to_string()).collect::<Vec<_>>().join(", ")
            }
            Leftover::Mount(p) => p.display().to_string(),
            Leftover::Cgroup { path, .. } => path.display().to_string(),
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
        found.push(Leftover::State {
            name: e.name.clone(),
            files: e.present.clone(),
            folder: e.folder.clone(),
        });
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
