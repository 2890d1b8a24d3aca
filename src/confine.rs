//! Confinement: the command's last steps that take root's power away (capabilities, the user,
//! no_new_privs, seccomp), the init's own, the keyring and loopback of the child, and the checks
//! the supervisor reads back before the command's execve. Each default is a step with the key
//! that changes it.
//!
//! The order is runc's: rlimits and oom_score_adj while the process may still raise them; the
//! bounding set dropped while CAP_SETPCAP is held; the user switched; capset; no_new_privs; the
//! seccomp filter last, so that nothing after it needs a syscall it forbids. Without
//! no_new_privs the filter must be loaded while CAP_SYS_ADMIN is still held: before the drop.

use crate::host::{Host, caps};
pub use crate::plan::verify::TailMarks;
use crate::plan::verify::{CapSets, Checks, Expect, MountCheck};
use crate::plan::{Builder, Op};
use crate::spec::{Exec, Origin, Spec};

fn seccomp_step(b: &mut Builder, cmd: &Exec) -> usize {
    match &cmd.seccomp.value {
        Some(p) => b.step(Op::Seccomp { program: Box::new(p.clone()) }, cmd.seccomp.origin.clone()),
        None => 0,
    }
}

/// The confinement of the command, in the exec tail after its rlimits.
/// `bounding`: what the process holds in its bounding set when its tail starts (the host's
/// whole set, or what the init left it before the fork).
pub fn command(b: &mut Builder, cmd: &Exec, bounding: u64, marks: &mut TailMarks) {
    if let Some(o) = &cmd.oom_score_adj {
        b.step(Op::OomScoreAdj { value: o.value }, o.origin.clone());
    }
    let nnp = cmd.no_new_privs.value;
    if !nnp {
        marks.seccomp = seccomp_step(b, cmd);
    }
    let c = &cmd.caps;
    if bounding & !c.value != 0 {
        marks.caps = b.step(Op::CapBoundingDrop { drop: bounding & !c.value }, c.origin.clone());
    }
    b.step(Op::AmbientClear, c.origin.clone());
    let u = &cmd.user;
    let root = u.uid == 0;
    if !root && cmd.ambient.value != 0 {
        b.step(Op::KeepCaps, cmd.ambient.origin.clone());
    }
    let groups = cmd.setgroups.then(|| u.groups.clone());
    marks.user = b.step(Op::SetUser { uid: u.uid, gid: u.gid, groups }, u.origin.clone());
    if cmd.cwd.as_os_str() != "/" {
        b.step(Op::Chdir { path: cmd.cwd.clone() }, cmd.origin.clone());
    }
    let (set, amb) = if root { (c.value, 0) } else { (cmd.ambient.value, cmd.ambient.value) };
    let capset = Op::Capset { effective: set, permitted: set, inheritable: cmd.ambient.value };
    let step = b.step(capset, c.origin.clone());
    marks.caps = marks.caps.max(step);
    if amb != 0 {
        marks.caps = b.step(Op::AmbientRaise { caps: amb }, cmd.ambient.origin.clone());
    }
    marks.no_new_privs =
        if nnp { b.step(Op::NoNewPrivs, cmd.no_new_privs.origin.clone()) } else { marks.caps };
    b.step(Op::CloseFds, Origin::Default);
    if nnp {
        marks.seccomp = seccomp_step(b, cmd);
    }
}

/// What the jail's first process keeps in its bounding set before it forks the command: the
/// command's capabilities and the init's own CAP_KILL. One drop here serves both, and each then
/// drops only the few the other needed.
pub fn before_fork(spec: &Spec, host: &Host) -> u64 {
    (spec.confine.caps.value | caps::bit("CAP_KILL")) & caps::all(host.cap_last_cap)
}

/// The bounding drop before the fork (see [`before_fork`]).
pub fn child_bounding(b: &mut Builder, spec: &Spec, host: &Host) {
    let drop = caps::all(host.cap_last_cap) & !before_fork(spec, host);
    if drop != 0 {
        b.step(Op::CapBoundingDrop { drop }, spec.confine.caps.origin.clone());
    }
}

/// The built-in init keeps CAP_KILL only (it signals what is left of the jail, whatever its
/// uid), and cannot gain anything by execve.
pub fn init(b: &mut Builder, spec: &Spec, host: &Host) {
    let o = spec.confine.caps.origin.clone();
    let kill = caps::bit("CAP_KILL");
    let drop = before_fork(spec, host) & !kill;
    if drop != 0 {
        b.step(Op::CapBoundingDrop { drop }, o.clone());
    }
    b.step(Op::Capset { effective: kill, permitted: kill, inheritable: 0 }, o);
    if spec.confine.no_new_privs.value {
        b.step(Op::NoNewPrivs, spec.confine.no_new_privs.origin.clone());
    }
}

/// The child's first confinement: a new anonymous session keyring, before anything else runs
/// with the host's; loopback up in its own net namespace, unless the supervisor made that
/// namespace and brought it up there (`net_outside`, see `namespaces::net_from_supervisor`).
pub fn child_start(b: &mut Builder, spec: &Spec, net_outside: bool) {
    let k = &spec.confine.new_keyring;
    if k.value {
        b.step(Op::JoinKeyring, k.origin.clone());
    }
    if spec.namespaces.net && !net_outside {
        let up = Op::LinkUp { name: crate::plan::LOOPBACK.into() };
        b.step(up, Origin::Unset { key: "namespaces.net".into() });
    }
}

/// The command's uid, gid and groups as the supervisor reads them from the host's /proc: the
/// host ids the user namespace maps them to, when the jail has one.
fn host_ids(spec: &Spec) -> (u32, u32, Vec<u32>) {
    let u = &spec.confine.user;
    match &spec.id_maps {
        None => (u.uid, u.gid, u.groups.clone()),
        Some(m) => {
            let (uid, gid) = m.outside(u.uid, u.gid);
            let groups = u.groups.iter().filter_map(|g| m.outside(u.uid, *g).1).collect();
            (uid.unwrap_or(u32::MAX), gid.unwrap_or(u32::MAX), groups)
        }
    }
}

/// What the kernel must show of the command before its execve.
pub struct CheckSteps {
    pub clone: usize,
    /// The step that puts the jail in its own net namespace: the clone, or the child's entry
    /// into the one the supervisor made.
    pub net: usize,
    pub slave: usize,
    pub mounts: Vec<MountCheck>,
    pub cgroups: Vec<Expect<(Option<String>, String)>>,
}

pub fn checks(spec: &Spec, host: &Host, tail: &TailMarks, at: CheckSteps) -> Checks {
    let cmd = spec.exec();
    let root = cmd.user.uid == 0;
    let c = cmd.caps.value;
    let amb = cmd.ambient.value;
    let set = if root { c } else { amb };
    let caps = CapSets {
        bounding: c,
        permitted: set,
        effective: set,
        inheritable: amb,
        ambient: if root { 0 } else { amb },
    };
    let filters = host.seccomp_filters + u32::from(cmd.seccomp.value.is_some());
    let mode = if filters > 0 { 2 } else { 0 };
    let namespaces = crate::namespaces::NAMESPACES
        .iter()
        .map(|ns| Expect {
            value: (ns.proc_name.to_string(), crate::namespaces::is_on(&spec.namespaces, ns.key)),
            step: if ns.key == "net" { at.net } else { at.clone },
        })
        .collect();
    Checks {
        caps: Expect { value: caps, step: tail.caps },
        no_new_privs: Expect { value: cmd.no_new_privs.value, step: tail.no_new_privs },
        seccomp: Expect { value: (mode, filters), step: tail.seccomp },
        ids: Expect { value: host_ids(spec), step: tail.user },
        namespaces,
        mounts: at.mounts,
        no_host_peers: at.slave,
        cgroups: at.cgroups,
        rlimits: tail.rlimits.iter().map(|(k, v, s)| Expect { value: (k.clone(), *v), step: *s }).collect(),
        id_maps: at.clone,
        maps: spec.id_maps.as_ref().map(|m| (crate::spec::map_text(&m.uid), crate::spec::map_text(&m.gid))),
    }
}
