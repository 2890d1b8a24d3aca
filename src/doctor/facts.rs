//! The facts of a process, from what was read of it ([`Reading`]): a pure function, so each
//! rule can be tried on fixture texts.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::host::caps;
use crate::host::mountinfo::Mount;
use crate::host::probe::Point;
use crate::host::process::{Proc, Reading, ns_pid};
use crate::spec::{MASKED, READONLY};

use super::cgroup::{self, CgroupFact};

#[derive(Debug, Clone, Serialize)]
pub struct Facts {
    pub pid: i32,
    pub name: String,
    pub state: String,
    /// Its pid in its own pid namespace.
    pub ns_pid: Option<i32>,
    /// Whose namespaces stand for the host's.
    pub host_from: String,
    pub namespaces: Vec<Namespace>,
    pub caps: Caps,
    pub no_new_privs: Option<bool>,
    pub seccomp: Seccomp,
    pub user: User,
    pub mounts: Vec<MountFact>,
    pub paths: Vec<PathFact>,
    pub cgroups: Vec<CgroupFact>,
    pub rlimits: Vec<Rlimit>,
    pub fds: Fds,
    pub pid1: Option<Pid1>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Namespace {
    pub name: String,
    pub id: String,
    /// The host's (the same inode as the host's), or its own.
    pub shared: bool,
}

/// The five capability sets of /proc/PID/status.
#[derive(Debug, Clone, Serialize)]
pub struct Caps {
    pub bounding: CapSet,
    pub permitted: CapSet,
    pub effective: CapSet,
    pub inheritable: CapSet,
    pub ambient: CapSet,
}

impl Caps {
    /// Each set with its name and its status field, in the order status lists them.
    pub fn sets(&self) -> [(&'static str, &'static str, &CapSet); 5] {
        [
            ("inheritable", "CapInh", &self.inheritable),
            ("permitted", "CapPrm", &self.permitted),
            ("effective", "CapEff", &self.effective),
            ("bounding", "CapBnd", &self.bounding),
            ("ambient", "CapAmb", &self.ambient),
        ]
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CapSet {
    pub hex: String,
    pub names: Vec<String>,
    #[serde(skip)]
    pub value: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Seccomp {
    /// 0: none, 1: strict, 2: filter; None: the kernel has no seccomp.
    pub mode: Option<u8>,
    pub filters: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct User {
    /// Real, effective, saved, filesystem.
    pub uid: Vec<u32>,
    pub gid: Vec<u32>,
    pub groups: Vec<u32>,
    /// (first id inside, first id outside, count).
    pub uid_map: Vec<(u32, u32, u32)>,
    pub gid_map: Vec<(u32, u32, u32)>,
    /// In a user namespace of its own.
    pub own_userns: bool,
    /// Its uid 0 is the host's uid 0.
    pub root_is_host_root: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct MountFact {
    pub id: u32,
    pub point: String,
    pub fstype: String,
    pub source: String,
    pub ro: bool,
    /// `shared:N`, `master:N`, both, or `private`.
    pub propagation: String,
    /// The peer group of the host's it is shared with.
    pub host_peer: Option<u32>,
}

/// A sensitive path, and whether it is as procjail's defaults would have it.
#[derive(Debug, Clone, Serialize)]
pub struct PathFact {
    pub path: String,
    /// "masked" or "read-only".
    pub want: &'static str,
    /// What it is: "masked (/dev/null)", "masked (read-only tmpfs)", "read-only", "absent",
    /// or what it is instead.
    pub is: String,
    pub ok: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Rlimit {
    pub name: String,
    /// None: unlimited.
    pub soft: Option<u64>,
    pub hard: Option<u64>,
    pub units: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Fds {
    pub open: usize,
    /// The soft RLIMIT_NOFILE.
    pub soft_limit: Option<u64>,
    pub list: Vec<FdFact>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FdFact {
    pub fd: i32,
    pub target: String,
    /// Why it points outside the process's mount namespace or root, if it does.
    pub outside: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Pid1 {
    pub pid: i32,
    pub name: String,
    /// PID 1 is the process itself.
    pub is_it: bool,
    /// Whether SIGTERM does anything to it: "caught (a handler)", "blocked (taken with
    /// sigwait, as an init does)", "ignored", "default (the kernel drops it for PID 1)".
    pub sigterm: String,
    pub sigterm_handled: bool,
    pub sigchld: String,
    /// Its SigCgt, SigBlk and SigIgn, as status shows them, and its wchan.
    pub masks: String,
    /// Its children in state Z: (pid, name).
    pub zombies: Vec<(i32, String)>,
    /// How many children it has; None: the host's own PID 1, whose children are not read.
    pub children: Option<usize>,
}

const SIGTERM: u32 = 15;
const SIGCHLD: u32 = 17;

/// A signal's bit in a SigCgt/SigIgn/SigBlk mask: signal N is bit N-1.
pub fn has_signal(mask: &str, sig: u32) -> bool {
    u64::from_str_radix(mask, 16).is_ok_and(|m| m & (1 << (sig - 1)) != 0)
}

/// What a signal does to a process, from its status masks and whether it sleeps in
/// rt_sigtimedwait (which unblocks the signals it waits for while it waits); and whether
/// something takes the signal.
fn disposition(status: &BTreeMap<String, String>, sig: u32, sigwaiting: bool) -> (String, bool) {
    let has = |field: &str| status.get(field).is_some_and(|m| has_signal(m, sig));
    if has("SigCgt") {
        ("caught (a handler)".into(), true)
    } else if has("SigBlk") {
        ("blocked (taken with signalfd or sigwait, as an init does)".into(), true)
    } else if has("SigIgn") {
        ("ignored".into(), false)
    } else if sigwaiting {
        ("waited for (it sleeps in rt_sigtimedwait, as tini and procjail's init do)".into(), true)
    } else {
        ("default action (the kernel drops it for PID 1)".into(), false)
    }
}

fn cap_set(status: &BTreeMap<String, String>, field: &str) -> CapSet {
    let hex = status.get(field).cloned().unwrap_or_default();
    let value = u64::from_str_radix(&hex, 16).unwrap_or(0);
    CapSet { names: caps::names(value), hex, value }
}

fn numbers(v: Option<&String>) -> Vec<u32> {
    v.map(|s| s.split_whitespace().filter_map(|n| n.parse().ok()).collect()).unwrap_or_default()
}

/// The lines of a uid_map or gid_map.
pub fn id_map(text: &str) -> Vec<(u32, u32, u32)> {
    text.lines()
        .filter_map(|l| {
            let n: Vec<u32> = l.split_whitespace().filter_map(|n| n.parse().ok()).collect();
            (n.len() == 3).then(|| (n[0], n[1], n[2]))
        })
        .collect()
}

/// The facts of what was read.
pub fn of(r: &Reading) -> Facts {
    let o = &r.observed;
    let status = &o.status;
    let get = |k: &str| status.get(k).cloned().unwrap_or_default();
    let namespaces =
        o.ns.iter()
            .map(|(name, id)| Namespace {
                name: name.clone(),
                id: id.clone(),
                shared: o.host_ns.get(name) == Some(id),
            })
            .collect();
    let caps = Caps {
        bounding: cap_set(status, "CapBnd"),
        permitted: cap_set(status, "CapPrm"),
        effective: cap_set(status, "CapEff"),
        inheritable: cap_set(status, "CapInh"),
        ambient: cap_set(status, "CapAmb"),
    };
    let own_userns = o.ns.get("user").is_some_and(|u| o.host_ns.get("user") != Some(u));
    let uid_map = id_map(&o.uid_map);
    let root_is_host_root = uid_map.iter().any(|&(inside, outside, n)| inside == 0 && outside == 0 && n > 0);
    let user = User {
        uid: numbers(status.get("Uid")),
        gid: numbers(status.get("Gid")),
        groups: numbers(status.get("Groups")),
        gid_map: id_map(&o.gid_map),
        uid_map,
        own_userns,
        root_is_host_root,
    };
    Facts {
        pid: o.pid,
        name: get("Name"),
        state: get("State"),
        ns_pid: ns_pid(status),
        host_from: r.host_from.clone(),
        namespaces,
        caps,
        no_new_privs: status.get("NoNewPrivs").map(|v| v == "1"),
        seccomp: Seccomp {
            mode: status.get("Seccomp").and_then(|v| v.parse().ok()),
            filters: status.get("Seccomp_filters").and_then(|v| v.parse().ok()),
        },
        user,
        mounts: o.mounts.iter().map(|m| mount_fact(m, o)).collect(),
        paths: paths(&o.points),
        cgroups: r.cgroups.iter().map(cgroup::fact).collect(),
        rlimits: rlimits(&o.limits),
        fds: fds(r),
        pid1: r.pid1.as_ref().map(|p| pid1(p, r, o.host_ns.get("pid") == o.ns.get("pid"))),
    }
}

fn mount_fact(m: &Mount, o: &crate::host::probe::Observed) -> MountFact {
    let propagation = if m.optional.is_empty() { "private".to_string() } else { m.optional.join(" ") };
    MountFact {
        id: m.id,
        point: m.point.clone(),
        fstype: m.fstype.clone(),
        source: m.source.clone(),
        ro: m.has_option("ro"),
        propagation,
        host_peer: m.shared().filter(|g| o.host_peer_groups.contains(g)),
    }
}

/// A mount read-only for it or for everyone (its superblock's `ro`).
fn read_only(m: &Mount) -> bool {
    m.has_option("ro") || m.super_options.split(',').any(|o| o == "ro")
}

/// Each of procjail's masked and read-only paths, as the process sees it.
fn paths(points: &BTreeMap<std::path::PathBuf, Point>) -> Vec<PathFact> {
    let masked = MASKED.iter().map(|p| (*p, "masked"));
    let readonly = READONLY.iter().map(|p| (*p, "read-only"));
    masked
        .chain(readonly)
        .map(|(path, want)| {
            let none = Point::default();
            let point = points.get(std::path::Path::new(path)).unwrap_or(&none);
            let masked = point.mount.as_ref().and_then(|m| {
                if m.root.ends_with("/null") {
                    Some("masked (/dev/null)")
                } else if m.fstype == "tmpfs" && m.has_option("ro") {
                    Some("masked (read-only tmpfs)")
                } else {
                    None
                }
            });
            let (is, ok) = match (&point.on, masked) {
                _ if !point.exists => ("absent".to_string(), true),
                (_, Some(how)) => (how.to_string(), true),
                (Some(on), None) if want == "read-only" && read_only(on) => ("read-only".into(), true),
                (Some(on), None) if want == "read-only" => {
                    (format!("writable ({} {} rw)", on.fstype, on.point), false)
                }
                (Some(on), None) => (format!("not masked ({} {})", on.fstype, on.point), false),
                (None, None) => ("there, on a mount it cannot see".to_string(), false),
            };
            PathFact { path: path.to_string(), want, is, ok }
        })
        .collect()
}

/// The lines of /proc/PID/limits: "Max open files  1024  4096  files".
pub fn rlimits(text: &str) -> Vec<Rlimit> {
    let value = |v: &str| if v == "unlimited" { None } else { v.parse().ok() };
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let (name, rest) = (l.get(..26)?.trim(), l.get(26..)?);
            let f: Vec<&str> = rest.split_whitespace().collect();
            let units = f.get(2).copied().unwrap_or("").to_string();
            Some(Rlimit { name: name.to_string(), soft: value(f.first()?), hard: value(f.get(1)?), units })
        })
        .collect()
}

/// The descriptors, each with why it points outside the process's mounts or root: a file on a
/// mount its mountinfo does not list (another mount namespace's), or a path that is not under
/// its root. Pipes, sockets, anonymous inodes and memfds have no path to judge.
fn fds(r: &Reading) -> Fds {
    let o = &r.observed;
    let soft_limit = rlimits(&o.limits).into_iter().find(|l| l.name == "Max open files").and_then(|l| l.soft);
    let root = r.root.trim_end_matches('/');
    let list = r
        .fds
        .iter()
        .map(|f| {
            let path = f.target.strip_suffix(" (deleted)").unwrap_or(&f.target);
            let judged = path.starts_with('/') && !path.starts_with("/memfd:");
            let foreign = f.mnt_id.filter(|id| !o.mounts.iter().any(|m| u64::from(m.id) == *id));
            let outside_root = !root.is_empty() && path != root && !path.starts_with(&format!("{root}/"));
            let outside = match (judged, foreign) {
                (false, _) => None,
                (true, Some(id)) => Some(format!("fdinfo mnt_id {id} is not in its mountinfo")),
                (true, None) if outside_root => Some(format!("not under its root {}", r.root)),
                (true, None) => None,
            };
            FdFact { fd: f.fd, target: f.target.clone(), outside }
        })
        .collect();
    Fds { open: r.fds.len(), soft_limit, list }
}

fn pid1(p: &Proc, r: &Reading, host: bool) -> Pid1 {
    let (pid, children) = (r.observed.pid, &r.pid1_children);
    let sigwaiting = r.pid1_wchan.starts_with("do_sigtimedwait");
    let (sigterm, sigterm_handled) = disposition(&p.status, SIGTERM, sigwaiting);
    let (sigchld, _) = disposition(&p.status, SIGCHLD, sigwaiting);
    let name = |c: &Proc| c.status.get("Name").cloned().unwrap_or_default();
    let zombies = children
        .iter()
        .filter(|c| c.status.get("State").is_some_and(|s| s.starts_with('Z')))
        .filter(|c| c.status.get("PPid").is_some_and(|pp| pp == &p.pid.to_string()))
        .map(|c| (c.pid, name(c)))
        .collect();
    Pid1 {
        pid: p.pid,
        name: name(p),
        is_it: p.pid == pid,
        sigterm,
        sigterm_handled,
        sigchld: sigchld.replace(" (the kernel drops it for PID 1)", ""),
        masks: ["SigCgt", "SigBlk", "SigIgn"]
            .iter()
            .map(|m| format!("{m} {}", p.status.get(*m).map_or("?", String::as_str)))
            .chain(std::iter::once(format!(
                "wchan {}",
                if r.pid1_wchan.is_empty() { "?" } else { &r.pid1_wchan }
            )))
            .collect::<Vec<_>>()
            .join(", "),
        zombies,
        children: (!host).then_some(children.len()),
    }
}
