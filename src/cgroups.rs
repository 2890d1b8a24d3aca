//! Cgroups as data: v1, hybrid and v2 differ only in which folders are made and which files
//! get which values. Every write is a plan step; this module decides the steps, the executor
//! performs them as plain writes.
//!
//! - v2: `/sys/fs/cgroup/procjail` (controllers enabled in its `cgroup.subtree_control`, no
//!   process of its own) holds one child cgroup per jail.
//! - hybrid: limits on the v1 hierarchies, plus a cgroup in the cgroup2 tree for `cgroup.kill`.
//! - v1: one folder per controller; killing freezes first.

use std::path::{Path, PathBuf};

use crate::host::{CgroupKind, Host};
use crate::limits::weight_to_shares;
use crate::plan::{Builder, Counter, Op, Side, Value};
use crate::spec::{Origin, Spec};

/// The folder under each hierarchy that holds procjail's jails.
pub const PARENT: &str = "procjail";
const CPU_PERIOD_US: u64 = 100_000;

/// A cgroup folder the plan makes, and the index of the step that makes it.
#[derive(Debug, Clone)]
pub struct Dir {
    pub path: PathBuf,
    pub mkdir_step: usize,
    pub shared: bool,
}

/// What the setup made, for the later phases.
#[derive(Debug, Clone, Default)]
pub struct Cgroups {
    /// Every folder made, parents first.
    pub dirs: Vec<Dir>,
    /// The jail's own folders (one per hierarchy): the jail's process is written into each.
    pub leaves: Vec<Dir>,
    /// Where memory and pids counters are read.
    pub memory: Option<PathBuf>,
    pub pids: Option<PathBuf>,
    pub kind: Option<CgroupKind>,
    /// The cgroup2 mount, if the host has one.
    pub unified: Option<PathBuf>,
}

/// The jail's folder in every hierarchy it uses, and how to make it.
///
/// A v1 hierarchy is used only for a limit it enforces: moving a process into a v1 cgroup waits
/// for an RCU grace period (milliseconds), while clone3 starts the jail in its cgroup2 folder
/// for free. The freezer (v1's way to kill a whole cgroup) comes with any other v1 folder, or
/// without a pid namespace, whose end would otherwise take every process with it.
fn hierarchies(spec: &Spec, host: &Host) -> Vec<(PathBuf, Vec<&'static str>)> {
    let l = &spec.limits;
    let cpu = l.cpus.is_some() || l.cpu_weight.is_some();
    let memory = l.memory.is_some() || l.memory_swap.is_some();
    let pids = l.pids.is_some();
    let mut out = Vec::new();
    if let Some(v1) = &host.v1 {
        for (used, dir) in [(memory, &v1.memory), (pids, &v1.pids), (cpu, &v1.cpu)] {
            if used {
                out.push((dir.clone(), vec![]));
            }
        }
        let kill_by_freezing = host.cgroup == CgroupKind::V1 || !host.cgroup_kill;
        if kill_by_freezing && (!out.is_empty() || !spec.namespaces.pid) {
            out.push((v1.freezer.clone(), vec![]));
        }
    }
    if let Some(unified) = &host.unified {
        let controllers = if host.cgroup == CgroupKind::V2 {
            let mut c = vec!["memory", "pids"];
            if cpu {
                c.push("cpu");
            }
            c
        } else {
            vec![]
        };
        out.push((unified.clone(), controllers));
    }
    out
}

/// Makes the folders and writes the limits (phase "cgroups").
pub fn plan_setup(b: &mut Builder, spec: &Spec, host: &Host) -> Cgroups {
    b.phase("cgroups", Side::Parent);
    let mut cg = Cgroups { kind: Some(host.cgroup), unified: host.unified.clone(), ..Cgroups::default() };
    for (root, controllers) in hierarchies(spec, host) {
        let parent = root.join(PARENT);
        let step = b.step(Op::Mkdir { path: parent.clone(), mode: 0o755, exist_ok: true }, Origin::Default);
        cg.dirs.push(Dir { path: parent.clone(), mkdir_step: step, shared: true });
        if !controllers.is_empty() {
            let enable: Vec<String> = controllers.iter().map(|c| format!("+{c}")).collect();
            let value = Value::Text(enable.join(" "));
            b.step(Op::Write { path: parent.join("cgroup.subtree_control"), value }, Origin::Default);
        }
        let leaf = parent.join(&spec.name);
        b.step(Op::Reclaim { path: leaf.clone() }, Origin::Default);
        let step = b.step(Op::Mkdir { path: leaf.clone(), mode: 0o755, exist_ok: false }, Origin::Default);
        let dir = Dir { path: leaf.clone(), mkdir_step: step, shared: false };
        cg.dirs.push(dir.clone());
        cg.leaves.push(dir);
        limit_writes(b, spec, host, &root, &leaf, &mut cg);
    }
    cg
}

/// The limit files of one hierarchy, as (file, value, origin).
fn limit_writes(b: &mut Builder, spec: &Spec, host: &Host, root: &Path, leaf: &Path, cg: &mut Cgroups) {
    let l = &spec.limits;
    let mut w = |file: &str, value: String, origin: &Origin| {
        b.step(Op::Write { path: leaf.join(file), value: Value::Text(value) }, origin.clone());
    };
    let v1 = host.v1.as_ref();
    let v2 = host.cgroup == CgroupKind::V2;
    if v1.is_some_and(|v| v.memory == root) || (v2 && host.unified.as_deref() == Some(root)) {
        cg.memory = Some(leaf.to_path_buf());
        cg.pids = cg.pids.clone().or_else(|| v2.then(|| leaf.to_path_buf()));
        if let Some(m) = &l.memory {
            w(if v2 { "memory.max" } else { "memory.limit_in_bytes" }, m.value.to_string(), &m.origin);
            if let Some(s) = &l.memory_swap {
                if v2 {
                    w("memory.swap.max", (s.value - m.value).to_string(), &s.origin);
                } else {
                    w("memory.memsw.limit_in_bytes", s.value.to_string(), &s.origin);
                }
            }
        }
    }
    if v1.is_some_and(|v| v.pids == root) || (v2 && host.unified.as_deref() == Some(root)) {
        cg.pids = Some(leaf.to_path_buf());
        if let Some(p) = &l.pids {
            w("pids.max", p.value.to_string(), &p.origin);
        }
    }
    if v1.is_some_and(|v| v.cpu == root) || (v2 && host.unified.as_deref() == Some(root)) {
        if let Some(c) = &l.cpus {
            let quota = ((c.value * CPU_PERIOD_US as f64).round() as u64).max(1000);
            if v2 {
                w("cpu.max", format!("{quota} {CPU_PERIOD_US}"), &c.origin);
            } else {
                w("cpu.cfs_period_us", CPU_PERIOD_US.to_string(), &c.origin);
                w("cpu.cfs_quota_us", quota.to_string(), &c.origin);
            }
        }
        if let Some(wt) = &l.cpu_weight {
            if v2 {
                w("cpu.weight", wt.value.to_string(), &wt.origin);
            } else {
                w("cpu.shares", weight_to_shares(wt.value).to_string(), &wt.origin);
            }
        }
    }
}

impl Cgroups {
    /// The jail's folder in the cgroup2 hierarchy (v2, hybrid), which clone3 starts it in.
    pub fn unified_leaf(&self) -> Option<&Dir> {
        let unified = self.unified.as_ref()?;
        self.leaves.iter().find(|l| l.path.starts_with(unified))
    }
}

/// Puts the jail's first process into every other leaf before it may go on (phase "spawn").
pub fn plan_join(b: &mut Builder, cg: &Cgroups) {
    let cloned_into = cg.unified_leaf().map(|l| l.path.clone());
    for leaf in cg.leaves.iter().filter(|l| Some(&l.path) != cloned_into.as_ref()) {
        b.step_needing(
            Op::Write { path: leaf.path.join("cgroup.procs"), value: Value::ChildPid },
            Origin::Default,
            leaf.mkdir_step,
        );
    }
}

/// Reads the counters of the report (phase "report").
pub fn plan_report(b: &mut Builder, cg: &Cgroups) {
    let v2 = cg.kind == Some(CgroupKind::V2);
    let needs = |p: &Path| cg.leaves.iter().find(|l| l.path == p).map_or(0, |l| l.mkdir_step);
    if let Some(m) = &cg.memory {
        let events = if v2 { "memory.events" } else { "memory.oom_control" };
        let peak = if v2 { "memory.peak" } else { "memory.max_usage_in_bytes" };
        b.step_needing(
            Op::ReadCounter { path: m.join(events), counter: Counter::OomKills },
            Origin::Default,
            needs(m),
        );
        b.step_needing(
            Op::ReadCounter { path: m.join(peak), counter: Counter::MemoryPeak },
            Origin::Default,
            needs(m),
        );
    }
    if let Some(p) = &cg.pids {
        b.step_needing(
            Op::ReadCounter { path: p.join("pids.events"), counter: Counter::PidsMaxHit },
            Origin::Default,
            needs(p),
        );
    }
}

/// Kills what is left, waits for the cgroups to empty and removes them (phase "teardown").
pub fn plan_teardown(b: &mut Builder, host: &Host, cg: &Cgroups) {
    let unified_leaf = host.unified.as_ref().and_then(|u| cg.leaves.iter().find(|l| l.path.starts_with(u)));
    let freezer_leaf =
        host.v1.as_ref().and_then(|v| cg.leaves.iter().find(|l| l.path.starts_with(&v.freezer)));
    match (unified_leaf, freezer_leaf) {
        (Some(leaf), _) if host.cgroup_kill => {
            b.step_needing(
                Op::KillCgroup { path: leaf.path.clone(), kill_file: true },
                Origin::Default,
                leaf.mkdir_step,
            );
            b.step_needing(Op::WaitEmpty { path: leaf.path.clone() }, Origin::Default, leaf.mkdir_step);
        }
        (unified, freezer) => {
            // No cgroup.kill: freeze so nothing forks while we kill, kill each pid, thaw.
            let (leaf, state, frozen, thawed) = match (freezer, unified) {
                (Some(f), _) => (f, "freezer.state", "FROZEN", "THAWED"),
                (None, Some(u)) => (u, "cgroup.freeze", "1", "0"),
                (None, None) => return,
            };
            let file = leaf.path.join(state);
            let step = leaf.mkdir_step;
            b.step_needing(
                Op::Write { path: file.clone(), value: Value::Text(frozen.into()) },
                Origin::Default,
                step,
            );
            b.step_needing(
                Op::KillCgroup { path: leaf.path.clone(), kill_file: false },
                Origin::Default,
                step,
            );
            b.step_needing(
                Op::Write { path: file, value: Value::Text(thawed.into()) },
                Origin::Default,
                step,
            );
            b.step_needing(Op::WaitEmpty { path: leaf.path.clone() }, Origin::Default, step);
        }
    }
    for dir in cg.dirs.iter().filter(|d| !d.shared) {
        b.step_needing(Op::Rmdir { path: dir.path.clone() }, Origin::Default, dir.mkdir_step);
    }
}

// ---- performing the steps ----

use std::io::Write as _;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill as send_signal};
use nix::unistd::Pid;

use crate::exec::{Ctx, Failure, Report, StepResult};

/// write(2) of one value to a cgroupfs file (never creating it).
pub fn write(path: &Path, value: &Value, ctx: &Ctx) -> StepResult {
    let text = match value {
        Value::Text(t) => t.clone(),
        Value::ChildPid => ctx.child.ok_or_else(|| Failure::new(Errno::ESRCH, "no child yet"))?.to_string(),
        Value::SelfPid => std::process::id().to_string(),
    };
    let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

/// Pids in a cgroup's cgroup.procs.
pub fn procs(dir: &Path) -> std::io::Result<Vec<i32>> {
    let text = std::fs::read_to_string(dir.join("cgroup.procs"))?;
    Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
}

pub fn kill(dir: &Path, kill_file: bool) -> StepResult {
    if kill_file {
        let mut f = std::fs::OpenOptions::new().write(true).open(dir.join("cgroup.kill"))?;
        f.write_all(b"1")?;
        return Ok(());
    }
    for pid in procs(dir)? {
        match send_signal(Pid::from_raw(pid), Signal::SIGKILL) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(e) => return Err(Failure::new(e, format!("kill({pid}, SIGKILL)"))),
        }
    }
    Ok(())
}

/// How long teardown waits for a killed cgroup to empty before it calls it a leak.
const EMPTY_TIMEOUT: Duration = Duration::from_secs(10);

pub fn wait_empty(dir: &Path) -> StepResult {
    let start = Instant::now();
    let mut pause = Duration::from_micros(200);
    loop {
        let left = procs(dir)?;
        if left.is_empty() {
            return Ok(());
        }
        if start.elapsed() > EMPTY_TIMEOUT {
            return Err(Failure::new(
                Errno::EBUSY,
                format!("{} process(es) still in {}: {left:?}", left.len(), dir.display()),
            ));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// rmdir, retried while the kernel still holds the cgroup (EBUSY just after the last exit).
pub fn rmdir(dir: &Path) -> StepResult {
    let start = Instant::now();
    loop {
        let errno = match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) => Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
        };
        match errno {
            Errno::EBUSY if start.elapsed() < Duration::from_secs(2) => {
                std::thread::sleep(Duration::from_millis(5))
            }
            e => return Err(e.into()),
        }
    }
}

/// A leftover of a killed supervisor is empty (its jail died with it): remove it. One with
/// processes belongs to a jail of the same name that is running.
pub fn reclaim(dir: &Path) -> StepResult {
    let left = match procs(dir) {
        Ok(left) => left,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    if !left.is_empty() {
        return Err(Failure::new(
            Errno::EBUSY,
            format!("a jail of this name is running: {} has processes {left:?}", dir.display()),
        ));
    }
    rmdir(dir)
}

/// Reads a counter of the report. A file this kernel does not have leaves it unknown.
pub fn read_counter(path: &Path, counter: Counter, report: &mut Report) -> StepResult {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let field = |name: &str| {
        text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse::<u64>().ok()))
    };
    match counter {
        Counter::OomKills => report.oom_kills = field("oom_kill "),
        Counter::MemoryPeak => report.memory_peak = text.trim().parse().ok(),
        Counter::PidsMaxHit => report.pids_max_hit = field("max "),
    }
    Ok(())
}
