//! Cgroups as data: v1, hybrid and v2 differ only in which folders are made and which files
//! get which values ([`files`]). This module plans the steps; `exec` performs them as plain
//! mkdirs, writes and rmdirs.
//!
//! - v2: `/sys/fs/cgroup/procjail` (controllers enabled in its `cgroup.subtree_control`, no
//!   process of its own) holds one child cgroup per jail.
//! - hybrid: limits on the v1 hierarchies, plus a cgroup in the cgroup2 tree for `cgroup.kill`.
//! - v1: one folder per controller; killing freezes first.

pub mod devices;
pub mod files;

use std::path::PathBuf;

use files::Controller;

use crate::host::{CGROUP_PARENT, CgroupKind, Host};
use crate::plan::{Builder, Cond, Counter, Op, PhaseKind, Side, Value};
use crate::spec::{Origin, Spec};

/// A cgroup folder the plan makes, and the index of the step that makes it.
#[derive(Debug, Clone)]
pub struct Dir {
    pub path: PathBuf,
    pub mkdir_step: usize,
    /// The v1 controller of its hierarchy (None: cgroup2), and its path under the hierarchy's
    /// root, as /proc/PID/cgroup shows them.
    pub controller: Option<String>,
    pub rel: String,
}

/// What the setup made, for the later phases and the plan's facts.
#[derive(Debug, Clone, Default)]
pub struct Cgroups {
    /// The jail's own folders (one per hierarchy): its first process goes into each.
    pub leaves: Vec<Dir>,
    /// The leaves where the memory and pids counters are read.
    pub memory: Option<Dir>,
    pub pids: Option<Dir>,
    /// The jail's folder in the cgroup2 hierarchy, which clone3 starts it in.
    pub unified: Option<Dir>,
    /// The v1 freezer folder, when the kill has to freeze.
    pub freezer: Option<Dir>,
    pub v2: bool,
    /// The memory limits written, as (file, bytes); the pids limit.
    pub memory_limits: Vec<(String, u64)>,
    pub pids_limit: Option<u64>,
    /// The device program for the cgroup2 folder: loaded and attached after the clone, while
    /// the child makes its mounts (see [`plan_join`]).
    pub device_filter: Option<(Op, Origin)>,
}

/// One hierarchy the jail uses: its root, the controllers to enable under procjail's folder
/// (v2), and the controllers whose limits are written there.
struct Hierarchy {
    root: PathBuf,
    enable: Vec<&'static str>,
    hosts: Vec<Controller>,
    /// The v1 controller it is named by in /proc/PID/cgroup.
    v1: Option<&'static str>,
    /// The root's own path in the hierarchy ("" but for a delegated subtree); its controllers
    /// are enabled in the root's `cgroup.subtree_control` first when it is delegated.
    rel_root: String,
    delegated: bool,
}

/// The jail's folder in every hierarchy it uses.
///
/// A v1 hierarchy is used only for a limit it enforces: moving a process into a v1 cgroup waits
/// for an RCU grace period (milliseconds), while clone3 starts the jail in its cgroup2 folder
/// for free. The freezer (v1's way to kill a whole cgroup) comes with any other v1 folder, or
/// without a pid namespace, whose end would otherwise take every process with it.
fn hierarchies(spec: &Spec, host: &Host) -> Vec<Hierarchy> {
    let l = &spec.limits;
    let cpu = l.cpus.is_some() || l.cpu_weight.is_some();
    let memory = l.memory.is_some() || l.memory_swap.is_some();
    let pids = l.pids.is_some();
    if host.uid != 0 {
        // Without root: only a cgroup2 subtree delegated to the user (`check` refuses limits
        // without one), with the controllers the limits need.
        let Some(d) = &host.delegation else { return Vec::new() };
        let enable = [(memory, "memory"), (pids, "pids"), (cpu, "cpu")]
            .iter()
            .filter(|(u, _)| *u)
            .map(|(_, c)| *c)
            .collect();
        let hosts = vec![Controller::Memory, Controller::Pids, Controller::Cpu];
        return vec![Hierarchy {
            root: d.dir.clone(),
            enable,
            hosts,
            v1: None,
            rel_root: d.rel.clone(),
            delegated: true,
        }];
    }
    let mut out = Vec::new();
    if let Some(v1) = &host.v1 {
        for (used, dir, c, name) in [
            (memory, &v1.memory, Controller::Memory, "memory"),
            (pids, &v1.pids, Controller::Pids, "pids"),
            (cpu, &v1.cpu, Controller::Cpu, "cpu"),
        ] {
            if used {
                out.push(Hierarchy {
                    root: dir.clone(),
                    enable: vec![],
                    hosts: vec![c],
                    v1: Some(name),
                    rel_root: String::new(),
                    delegated: false,
                });
            }
        }
        let kill_by_freezing = host.cgroup == CgroupKind::V1 || !host.cgroup_kill;
        if kill_by_freezing && (!out.is_empty() || !spec.namespaces.pid) {
            let freezer = Hierarchy {
                root: v1.freezer.clone(),
                enable: vec![],
                hosts: vec![],
                v1: Some("freezer"),
                rel_root: String::new(),
                delegated: false,
            };
            out.push(freezer);
        }
        // Without cgroup2 the devices controller is the only way to hold the device rules.
        if host.unified.is_none() {
            let d = Hierarchy {
                root: v1.devices.clone(),
                enable: vec![],
                hosts: vec![Controller::Devices],
                v1: Some("devices"),
                rel_root: String::new(),
                delegated: false,
            };
            out.push(d);
        }
    }
    if let Some(unified) = &host.unified {
        let (enable, hosts) = if host.cgroup == CgroupKind::V2 {
            let mut e = vec!["memory", "pids"];
            if cpu {
                e.push("cpu");
            }
            (e, vec![Controller::Memory, Controller::Pids, Controller::Cpu])
        } else {
            (vec![], vec![])
        };
        out.push(Hierarchy {
            root: unified.clone(),
            enable,
            hosts,
            v1: None,
            rel_root: String::new(),
            delegated: false,
        });
    }
    out
}

/// Makes the folders and writes the limits (phase "cgroups").
pub fn plan_setup(b: &mut Builder, spec: &Spec, host: &Host) -> Cgroups {
    b.phase(PhaseKind::Cgroups, Side::Parent);
    let v2 = host.cgroup == CgroupKind::V2;
    let mut cg = Cgroups { v2, ..Cgroups::default() };
    let d = Origin::Default;
    for h in hierarchies(spec, host) {
        let parent = h.root.join(CGROUP_PARENT);
        if h.delegated && !h.enable.is_empty() {
            // The delegated root hands its controllers down (it must hold no process itself).
            let enable: Vec<String> = h.enable.iter().map(|c| format!("+{c}")).collect();
            let value = Value::Text(enable.join(" "));
            b.step(Op::Write { path: h.root.join("cgroup.subtree_control"), value }, d.clone());
        }
        b.step(Op::Mkdir { path: parent.clone(), mode: 0o755, exist_ok: true }, d.clone());
        if !h.enable.is_empty() {
            let enable: Vec<String> = h.enable.iter().map(|c| format!("+{c}")).collect();
            let value = Value::Text(enable.join(" "));
            b.step(Op::Write { path: parent.join("cgroup.subtree_control"), value }, d.clone());
        }
        let leaf = parent.join(&spec.name);
        // What a killed supervisor left (its jail died with it): a live jail of this name holds
        // the lock, so this is a leftover; the kernel refuses it if it still has processes.
        b.step_when(Op::Rmdir { path: leaf.clone() }, d.clone(), vec![Cond::Exists(leaf.clone())]);
        let step = b.step(Op::Mkdir { path: leaf.clone(), mode: 0o755, exist_ok: false }, d.clone());
        let rel = format!("{}/{CGROUP_PARENT}/{}", h.rel_root, spec.name);
        let dir = Dir { path: leaf.clone(), mkdir_step: step, controller: h.v1.map(String::from), rel };
        // A BPF device program needs CAP_BPF or CAP_SYS_ADMIN on the host: without root the
        // kernel refuses device nodes in a user namespace anyway, and only procjail's binds are
        // there.
        if host.unified.as_ref() == Some(&h.root) && host.uid == 0 {
            cg.device_filter = Some(device_filter(spec, &leaf));
        }
        for c in &h.hosts {
            for (file, value, origin) in
                files::limits(&spec.limits, *c, v2).into_iter().chain(v1_devices(spec, *c))
            {
                match *c {
                    Controller::Memory => {
                        cg.memory_limits.push((file.to_string(), value.parse().unwrap_or(0)))
                    }
                    Controller::Pids => cg.pids_limit = value.parse().ok(),
                    Controller::Cpu | Controller::Devices => {}
                }
                b.step(Op::Write { path: leaf.join(file), value: Value::Text(value) }, origin);
            }
            match c {
                Controller::Memory => cg.memory = Some(dir.clone()),
                Controller::Pids => cg.pids = Some(dir.clone()),
                Controller::Cpu | Controller::Devices => {}
            }
        }
        if host.unified.as_ref() == Some(&h.root) {
            cg.unified = Some(dir.clone());
        } else if host.v1.as_ref().is_some_and(|v| v.freezer == h.root) {
            cg.freezer = Some(dir.clone());
        }
        cg.leaves.push(dir);
    }
    cg
}

/// The device rules on cgroup2: a BPF program attached to the jail's folder.
fn device_filter(spec: &Spec, leaf: &std::path::Path) -> (Op, Origin) {
    let d = &spec.confine.devices;
    let insns = devices::program(&d.value);
    let rules = d.value.iter().map(|r| r.to_string()).collect();
    let op = Op::DeviceFilter {
        cgroup: leaf.to_path_buf(),
        rules,
        program: devices::hex(&insns),
        insns: insns.len(),
    };
    (op, d.origin.clone())
}

/// The device rules on v1: deny all, then allow each.
fn v1_devices(spec: &Spec, c: Controller) -> Vec<(&'static str, String, Origin)> {
    if c != Controller::Devices {
        return Vec::new();
    }
    let d = &spec.confine.devices;
    let mut out = vec![("devices.deny", "a".to_string(), d.origin.clone())];
    out.extend(d.value.iter().map(|r| ("devices.allow", devices::v1_line(r), d.origin.clone())));
    out
}

/// Attaches the device program to the cgroup2 folder the jail's first process was cloned into,
/// and puts it into every other leaf, before it may go on (phase "spawn"). Both happen while the
/// child makes its mounts: nothing in the jail opens a device before "go" (its binds and the
/// /dev/null of the masks are mounted, or opened O_PATH, never opened for reading or writing).
pub fn plan_join(b: &mut Builder, cg: &Cgroups) {
    if let Some((op, origin)) = &cg.device_filter {
        b.step(op.clone(), origin.clone());
    }
    let cloned_into = cg.unified.as_ref().map(|u| u.path.clone());
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
    let d = Origin::Default;
    if let Some(m) = &cg.memory {
        let events =
            Op::ReadCounter { path: m.path.join(files::memory_events(cg.v2)), counter: Counter::OomKills };
        b.step_needing(events, d.clone(), m.mkdir_step);
        let peak =
            Op::ReadCounter { path: m.path.join(files::memory_peak(cg.v2)), counter: Counter::MemoryPeak };
        b.step_needing(peak, d.clone(), m.mkdir_step);
    }
    if let Some(p) = &cg.pids {
        let events = Op::ReadCounter { path: p.path.join("pids.events"), counter: Counter::PidsMaxHit };
        b.step_needing(events, d, p.mkdir_step);
    }
}

/// Kills what is left, waits for the cgroups to empty and removes them (phase "teardown").
pub fn plan_teardown(b: &mut Builder, host: &Host, cg: &Cgroups) {
    plan_kill(b, host, cg);
    for dir in &cg.leaves {
        b.step_needing(Op::Rmdir { path: dir.path.clone() }, Origin::Default, dir.mkdir_step);
    }
}

/// Kills every process of the jail's cgroups and waits until none is left: cgroup.kill where the
/// kernel has it; else freeze (so nothing forks while we kill), kill each pid, thaw.
fn plan_kill(b: &mut Builder, host: &Host, cg: &Cgroups) {
    let d = Origin::Default;
    match (&cg.unified, &cg.freezer) {
        (Some(leaf), _) if host.cgroup_kill => {
            b.step_needing(
                Op::KillCgroup { path: leaf.path.clone(), kill_file: true },
                d.clone(),
                leaf.mkdir_step,
            );
            b.step_needing(Op::WaitEmpty { path: leaf.path.clone() }, d, leaf.mkdir_step);
        }
        (unified, freezer) => {
            let (leaf, (file, frozen, thawed)) = match (freezer, unified) {
                (Some(f), _) => (f, files::freezer(false)),
                (None, Some(u)) => (u, files::freezer(true)),
                (None, None) => return,
            };
            let (path, step) = (leaf.path.join(file), leaf.mkdir_step);
            b.step_needing(
                Op::Write { path: path.clone(), value: Value::Text(frozen.into()) },
                d.clone(),
                step,
            );
            b.step_needing(Op::KillCgroup { path: leaf.path.clone(), kill_file: false }, d.clone(), step);
            b.step_needing(Op::Write { path, value: Value::Text(thawed.into()) }, d.clone(), step);
            b.step_needing(Op::WaitEmpty { path: leaf.path.clone() }, d, step);
        }
    }
}
