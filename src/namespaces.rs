//! Namespaces: the one table of them, which ones the jail's first process is cloned into, the
//! channels between the supervisor and that process, and the steps that need a namespace
//! (hostname, cgroup).
//!
//! The supervisor clones a child with the namespace flags, so a sethostname or pivot_root in the
//! child cannot touch the host. Two namespaces are entered later. The cgroup namespace: the
//! child unshares it after the supervisor has moved it into its cgroups, so that the jail's view
//! of /proc/self/cgroup is rooted at its own cgroup. And, as root without a user namespace, the
//! net namespace: making one is most of the clone's time (0.3 to 0.4 ms here: the loopback
//! device, the namespace's sysctl tables), so the supervisor makes it for the jail while the
//! child makes its mounts (unshare in itself, the loopback up, then back to the host's with a
//! descriptor of the new one that it sends the child), and the child enters it before anything
//! that depends on it (sysfs, whose mount shows the devices of the mounter's net namespace;
//! net.* sysctls).

use nix::sched::CloneFlags;

use crate::cgroups::{self, Cgroups};
use crate::config::InitMode;
use crate::host::{Host, user};
use crate::plan::{Builder, Channel, Op, PhaseKind, Side};
use crate::spec::{IdMaps, MapWriter, Namespaces, Origin, Spec, map_text};

/// One namespace: its key in `[namespaces]`, its name under /proc/PID/ns, its clone flag.
pub struct Namespace {
    pub key: &'static str,
    pub proc_name: &'static str,
    pub flag: CloneFlags,
}

/// Every namespace procjail knows, in the order `procjail exec` joins them: the user
/// namespace first (the others belong to it: joining them needs its capabilities), the mount
/// namespace last, since it changes what paths mean.
pub const NAMESPACES: &[Namespace] = &[
    Namespace { key: "user", proc_name: "user", flag: CloneFlags::CLONE_NEWUSER },
    Namespace { key: "cgroup", proc_name: "cgroup", flag: CloneFlags::CLONE_NEWCGROUP },
    Namespace { key: "ipc", proc_name: "ipc", flag: CloneFlags::CLONE_NEWIPC },
    Namespace { key: "uts", proc_name: "uts", flag: CloneFlags::CLONE_NEWUTS },
    Namespace { key: "net", proc_name: "net", flag: CloneFlags::CLONE_NEWNET },
    Namespace { key: "pid", proc_name: "pid", flag: CloneFlags::CLONE_NEWPID },
    Namespace { key: "mount", proc_name: "mnt", flag: CloneFlags::CLONE_NEWNS },
];

/// Whether the jail has this namespace of its own.
pub fn is_on(n: &Namespaces, key: &str) -> bool {
    match key {
        "cgroup" => n.cgroup,
        "ipc" => n.ipc,
        "uts" => n.uts,
        "net" => n.net,
        "pid" => n.pid,
        "mount" => n.mount,
        "user" => n.user,
        _ => false,
    }
}

/// The clone flags of the jail: all its namespaces but the cgroup one, and the net one when the
/// supervisor makes it (`net_outside`: [`net_from_supervisor`]); those are entered later.
pub fn clone_flags(spec: &Spec, net_outside: bool) -> CloneFlags {
    let later = |key: &str| key == "cgroup" || (key == "net" && net_outside);
    NAMESPACES
        .iter()
        .filter(|ns| !later(ns.key) && is_on(&spec.namespaces, ns.key))
        .fold(CloneFlags::empty(), |f, ns| f | ns.flag)
}

/// The message the supervisor sends once the child is in its cgroups.
pub const GO: &str = "go";
/// The message the supervisor sends once it has written the user namespace's id maps.
pub const MAPPED: &str = "mapped";

/// Whether the supervisor makes the jail's net namespace (and brings its loopback up) while the
/// child makes its mounts: as root, when the jail has no user namespace of its own. In a user
/// namespace the net namespace must belong to it (the jail's root administers its network), so
/// the clone makes it, as it does for a user who is not root.
pub fn net_from_supervisor(spec: &Spec, host: &Host) -> bool {
    spec.namespaces.net && !spec.namespaces.user && host.uid == 0
}

/// Phase "spawn" (parent): the channels, clone (straight into the jail's cgroup2 folder when
/// there is one), the jail's net namespace (`net_outside`: [`net_from_supervisor`]), the device
/// program and the move into the v1 cgroups, "go". Returns the index of the clone step.
/// `net_late`: the child needs the net namespace only after pivot_root
/// (`mounts::sysfs_after_pivot`), so the supervisor does the cgroups' part first; else the
/// namespace first, which the child waits for.
pub fn plan_spawn(b: &mut Builder, spec: &Spec, cg: &Cgroups, net_outside: bool, net_late: bool) -> usize {
    b.phase(PhaseKind::Spawn, Side::Parent);
    let d = Origin::Default;
    let status = spec.init == InitMode::Builtin;
    b.step(Op::SocketPair { channel: Channel::Sync }, d.clone());
    if status {
        b.step(Op::SocketPair { channel: Channel::Status }, d.clone());
    }
    let into_cgroup = cg.unified.as_ref().map(|l| l.path.clone());
    let clone = b.step(Op::Clone { flags: clone_flags(spec, net_outside), into_cgroup }, d.clone());
    b.step(Op::Close { channel: Channel::Sync, end: 1 }, d.clone());
    if status {
        b.step(Op::Close { channel: Channel::Status, end: 1 }, d.clone());
    }
    if let Some(maps) = &spec.id_maps {
        plan_id_maps(b, maps);
        b.step(Op::SyncSend { end: 0, msg: MAPPED.into() }, d.clone());
    }
    let make_net = |b: &mut Builder| {
        let op = Op::MakeNetns { up: crate::plan::LOOPBACK.into() };
        b.step(op, Origin::Unset { key: "namespaces.net".into() });
    };
    if net_outside && !net_late {
        make_net(b);
    }
    cgroups::plan_join(b, cg);
    if net_outside && net_late {
        make_net(b);
    }
    b.step(Op::SyncSend { end: 0, msg: GO.into() }, d);
    clone
}

/// The id maps, written by the supervisor into the child's user namespace: directly (root, or
/// a user's own ids after setgroups is denied), or by newuidmap and newgidmap.
fn plan_id_maps(b: &mut Builder, maps: &IdMaps) {
    let o = maps.origin.clone();
    match maps.writer {
        MapWriter::Direct { deny_setgroups } => {
            if deny_setgroups {
                b.step(Op::WriteIdMap { file: "setgroups".into(), text: "deny".into() }, o.clone());
            }
            b.step(Op::WriteIdMap { file: "uid_map".into(), text: map_text(&maps.uid) }, o.clone());
            b.step(
                Op::WriteIdMap { file: "gid_map".into(), text: map_text(&maps.gid) },
                maps.gid_origin.clone(),
            );
        }
        MapWriter::Helpers => {
            b.step(Op::IdMapHelper { program: user::NEWUIDMAP.into(), map: maps.uid.clone() }, o.clone());
            b.step(
                Op::IdMapHelper { program: user::NEWGIDMAP.into(), map: maps.gid.clone() },
                maps.gid_origin.clone(),
            );
        }
    }
}

/// The first steps of the child: keep only its ends of the channels, die with the supervisor.
/// In a user namespace it then waits for its id maps, and becomes the jail's root if the host
/// ids it runs as are not that (root's jail, mapped to other ids): a change of ids clears
/// PR_SET_PDEATHSIG, so it is set again.
pub fn plan_child_start(b: &mut Builder, spec: &Spec, host: &Host) {
    b.phase(PhaseKind::Enter, Side::Child);
    b.step(Op::Close { channel: Channel::Sync, end: 0 }, Origin::Default);
    if spec.init == InitMode::Builtin {
        b.step(Op::Close { channel: Channel::Status, end: 0 }, Origin::Default);
    }
    b.step(Op::Pdeathsig, Origin::Default);
    if let Some(maps) = &spec.id_maps {
        b.step(Op::SyncRecv { end: 1, msg: MAPPED.into() }, Origin::Default);
        if maps.outside(0, 0) != (Some(host.uid), Some(host.gid)) {
            let groups = (maps.writer != (MapWriter::Direct { deny_setgroups: true })).then(Vec::new);
            b.step(Op::SetUser { uid: 0, gid: 0, groups }, maps.origin.clone());
            b.step(Op::Pdeathsig, Origin::Default);
        }
    }
}

/// Phase "confine" (child), once the jail is set up: wait for "go" (the supervisor has put the
/// child into all its cgroups, while the child was making its mounts), then enter the cgroup
/// namespace, so that the jail's cgroup is its root. If the supervisor died before
/// PR_SET_PDEATHSIG was set, the read sees EOF and the child gives up here.
pub fn plan_confine(b: &mut Builder, spec: &Spec) {
    b.phase(PhaseKind::Confine, Side::Child);
    b.step(Op::SyncRecv { end: 1, msg: GO.into() }, Origin::Default);
    if spec.namespaces.cgroup {
        b.step(Op::Unshare { flags: CloneFlags::CLONE_NEWCGROUP }, Origin::Default);
    }
}

/// sethostname, in the child's own uts namespace.
pub fn plan_hostname(b: &mut Builder, spec: &Spec) {
    if let Some((name, origin)) = &spec.hostname {
        b.step(Op::Sethostname { name: name.clone() }, origin.clone());
    }
}
