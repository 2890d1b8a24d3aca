//! What the kernel says a process got: its /proc entries, read from the host, next to the
//! host's own. The plan's checks (`plan::verify`) are compared with this.
//!
//! Everything is read through a descriptor of the host's procfs, opened before the reader
//! entered any of the jail's namespaces or its root (`procjail exec` does both), and compared
//! with the host's namespaces and peer groups as [`super::Host`] read them at start.

use std::collections::{BTreeMap, BTreeSet};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2};
use nix::sys::stat::Mode;

use super::{Shows, mountinfo};

/// One process, as the kernel shows it.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub pid: i32,
    /// The fields of /proc/PID/status.
    pub status: BTreeMap<String, String>,
    /// /proc/PID/ns/NAME, and the host's.
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
    /// The paths asked about, resolved in the process's root (symlinks and all).
    pub points: BTreeMap<PathBuf, Point>,
}

/// A path in the process's root: whether it exists, and the mount it leads to, if it is the
/// root of one (the mount as mountinfo lists it).
#[derive(Debug, Clone, Default)]
pub struct Point {
    pub exists: bool,
    pub mount: Option<Rc<mountinfo::Mount>>,
    /// The mount the path lies on, whether or not it is its root.
    pub on: Option<Rc<mountinfo::Mount>>,
}

/// The namespaces /proc/PID/ns has.
pub const NAMESPACES: &[&str] = &["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"];

/// The host's side of the comparison: its namespaces and the peer groups of its shared mounts.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct HostView {
    pub ns: BTreeMap<String, String>,
    pub peer_groups: BTreeSet<u32>,
    pub uid_map: String,
    pub gid_map: String,
}

impl HostView {
    /// This process's, read now (it must not have entered a jail's namespaces yet).
    pub fn read() -> HostView {
        let text = super::read_small("/proc/self/mountinfo").unwrap_or_default();
        HostView::with_mounts(&mountinfo::parse(&text))
    }

    /// This process's, with its mount table already read.
    pub fn with_mounts(mounts: &[mountinfo::Mount]) -> HostView {
        let mut ns = BTreeMap::new();
        for n in NAMESPACES {
            if let Ok(l) = std::fs::read_link(format!("/proc/self/ns/{n}")) {
                ns.insert(n.to_string(), l.display().to_string());
            }
        }
        let map = |f: &str| super::read_proc(&format!("/proc/self/{f}"), Shows::Records(ID_MAP_LINE));
        HostView {
            ns,
            peer_groups: peer_groups(mounts),
            uid_map: map("uid_map").unwrap_or_default(),
            gid_map: map("gid_map").unwrap_or_default(),
        }
    }

    /// Another process's (`1`: the host's init), or the error that stopped the reading: every
    /// namespace link must be readable (they need ptrace access to it).
    pub fn of(pid: &str) -> std::io::Result<HostView> {
        let mut ns = BTreeMap::new();
        for n in NAMESPACES {
            match std::fs::read_link(format!("/proc/{pid}/ns/{n}")) {
                Ok(l) => ns.insert(n.to_string(), l.display().to_string()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
        }
        let mounts = mountinfo::parse(&super::read_small(&format!("/proc/{pid}/mountinfo"))?);
        let map = |f: &str| super::read_proc(&format!("/proc/{pid}/{f}"), Shows::Records(ID_MAP_LINE));
        Ok(HostView {
            ns,
            peer_groups: peer_groups(&mounts),
            uid_map: map("uid_map")?,
            gid_map: map("gid_map")?,
        })
    }
}

/// The peer groups of the shared mounts of a mount table.
fn peer_groups(mounts: &[mountinfo::Mount]) -> BTreeSet<u32> {
    mounts.iter().filter_map(|m| m.shared()).collect()
}

/// A line of /proc/PID/uid_map or gid_map: "%10u %10u %10u\n".
const ID_MAP_LINE: usize = 33;
/// A record of /proc/PID/task/TID/children: a pid (at most 4194304) and a space.
const CHILD_LINE: usize = 8;

/// The fields of a /proc/PID/status text, each value trimmed.
pub fn parse_status(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once(':').map(|(k, v)| (k.to_string(), v.trim().to_string())))
        .collect()
}

/// A procfs file of `proc`, in as few reads as `shows` allows ([`super::read_fd`]).
pub(super) fn read_at(proc: BorrowedFd<'_>, rel: &str, shows: Shows) -> std::io::Result<String> {
    let fd = nix::fcntl::openat(proc, rel, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())?;
    super::read_fd(fd, shows)
}

/// Reads what the kernel holds for `pid`, through `proc` (a descriptor of the host's procfs);
/// `paths`: in-root paths to resolve as the process would.
pub fn observe(
    proc: BorrowedFd<'_>,
    pid: i32,
    paths: &[PathBuf],
    host: &HostView,
) -> std::io::Result<Observed> {
    let mut o = observe_jail(proc, pid, paths, host)?;
    observe_process(proc, &mut o, true)?;
    Ok(o)
}

/// What the process shares with the rest of its jail and keeps through its last steps before
/// execve: its namespaces, mount table (and the paths resolved in it), cgroups and id maps.
pub fn observe_jail(
    proc: BorrowedFd<'_>,
    pid: i32,
    paths: &[PathBuf],
    host: &HostView,
) -> std::io::Result<Observed> {
    let mut ns = BTreeMap::new();
    for n in NAMESPACES {
        if let Ok(l) = nix::fcntl::readlinkat(proc, format!("{pid}/ns/{n}").as_str()) {
            ns.insert(n.to_string(), l.to_string_lossy().into_owned());
        }
    }
    let mounts = mountinfo::parse(&read_at(proc, &format!("{pid}/mountinfo"), Shows::Records(usize::MAX))?);
    let points = points(proc, pid, paths, &mounts);
    // The id maps are those of its user namespace: the host's own when it is the host's.
    let (uid_map, gid_map) = if ns.get("user").is_some_and(|u| host.ns.get("user") == Some(u)) {
        (host.uid_map.clone(), host.gid_map.clone())
    } else {
        let map = |f: &str| read_at(proc, &format!("{pid}/{f}"), Shows::Records(ID_MAP_LINE));
        (map("uid_map")?, map("gid_map")?)
    };
    Ok(Observed {
        pid,
        ns,
        host_ns: host.ns.clone(),
        mounts,
        host_peer_groups: host.peer_groups.clone(),
        cgroup: read_at(proc, &format!("{pid}/cgroup"), Shows::Once)?,
        uid_map,
        gid_map,
        host_uid_map: host.uid_map.clone(),
        host_gid_map: host.gid_map.clone(),
        points,
        ..Observed::default()
    })
}

/// What the process's own last steps set: its status (credentials, capabilities,
/// no_new_privs, seccomp) and, when they are checked (`limits`), its limits.
pub fn observe_process(proc: BorrowedFd<'_>, o: &mut Observed, limits: bool) -> std::io::Result<()> {
    let pid = o.pid;
    o.status = parse_status(&read_at(proc, &format!("{pid}/status"), Shows::Once)?);
    if limits {
        o.limits = read_at(proc, &format!("{pid}/limits"), Shows::Once)?;
    }
    Ok(())
}

/// The planned mount points: each the mount mountinfo shows there
/// ([`mountinfo::visible`], no syscall); only where it shows none (the path is absent, or a
/// symlink in the jail leads elsewhere) is the path opened in the process's root ([`resolve`]).
fn points(
    proc: BorrowedFd<'_>,
    pid: i32,
    paths: &[PathBuf],
    mounts: &[mountinfo::Mount],
) -> BTreeMap<PathBuf, Point> {
    // Each mount copied once, shared by the points on it.
    let shared: Vec<Rc<mountinfo::Mount>> = mounts.iter().cloned().map(Rc::new).collect();
    let root = mountinfo::root(mounts);
    let mut out = BTreeMap::new();
    let mut rest = Vec::new();
    for p in paths {
        let seen = p.to_str().zip(root).and_then(|(s, root)| mountinfo::visible_from(mounts, root, s));
        match seen.and_then(|m| mounts.iter().position(|x| std::ptr::eq(x, m))) {
            Some(i) => {
                let m = &shared[i];
                out.insert(p.clone(), Point { exists: true, mount: Some(m.clone()), on: Some(m.clone()) });
            }
            None => rest.push(p.clone()),
        }
    }
    if !rest.is_empty() {
        out.extend(resolve(proc, pid, &rest, &shared));
    }
    out
}

/// Each path opened in the process's root as the process would (openat2 RESOLVE_IN_ROOT on
/// /proc/PID/root), the mount it lies on and whether it is that mount's root (statx
/// STATX_MNT_ID). O_PATH: nothing is opened for reading or writing.
pub fn resolve(
    proc: BorrowedFd<'_>,
    pid: i32,
    paths: &[PathBuf],
    mounts: &[Rc<mountinfo::Mount>],
) -> BTreeMap<PathBuf, Point> {
    let mut out = BTreeMap::new();
    let root = format!("{pid}/root");
    let Ok(root) = nix::fcntl::openat(proc, root.as_str(), OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
    else {
        return out;
    };
    for p in paths {
        let rel = p.strip_prefix("/").unwrap_or(p);
        let rel = if rel.as_os_str().is_empty() { Path::new(".") } else { rel };
        let how =
            OpenHow::new().flags(OFlag::O_PATH | OFlag::O_CLOEXEC).resolve(ResolveFlag::RESOLVE_IN_ROOT);
        let point = match openat2(root.as_fd(), rel, how) {
            Err(_) => Point::default(),
            Ok(fd) => {
                let found = crate::sys::mount_of(fd.as_fd()).ok().and_then(|(id, is_root)| {
                    Some((mounts.iter().rev().find(|m| u64::from(m.id) == id)?.clone(), is_root))
                });
                let mount = found.clone().filter(|(_, is_root)| *is_root).map(|(m, _)| m);
                Point { exists: true, mount, on: found.map(|(m, _)| m) }
            }
        };
        out.insert(p.clone(), point);
    }
    out
}

/// The children of `pid`, oldest first, from /proc/PID/task/PID/children.
pub fn children(proc: BorrowedFd<'_>, pid: i32) -> Vec<i32> {
    let text =
        read_at(proc, &format!("{pid}/task/{pid}/children"), Shows::Records(CHILD_LINE)).unwrap_or_default();
    text.split_whitespace().filter_map(|p| p.parse().ok()).collect()
}
