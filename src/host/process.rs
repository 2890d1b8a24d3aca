//! What the kernel shows of any process, for `procjail doctor`: its /proc entries (through
//! [`super::probe::observe`]), its descriptors, the files of its cgroups, and PID 1 of its pid
//! namespace with that PID 1's children. It only reads: no file is opened for writing, no
//! process is signalled or traced, and the paths asked about are opened O_PATH.

use std::collections::BTreeMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::{OFlag, readlinkat};
use nix::sys::stat::Mode;

use super::probe::{self, HostView, Observed, parse_status, read_at};
use super::{Shows, mountinfo, read_small};

/// Another process: its pid (in the pid namespace of this /proc) and its status fields.
#[derive(Debug, Clone, Default)]
pub struct Proc {
    pub pid: i32,
    pub status: BTreeMap<String, String>,
}

/// An open descriptor: /proc/PID/fd/N's link and the mount its file is on (fdinfo mnt_id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fd {
    pub fd: i32,
    pub target: String,
    pub mnt_id: Option<u64>,
}

/// One of the process's cgroups: the hierarchy (`cgroup2`, or its v1 controllers), the path as
/// /proc/PID/cgroup names it, the folder on this host, and the files of [`CGROUP_FILES`] in it.
#[derive(Debug, Clone, Default)]
pub struct CgroupDir {
    pub hierarchy: String,
    pub path: String,
    pub dir: PathBuf,
    pub files: BTreeMap<String, String>,
}

/// The cgroup files doctor reads, when the folder has them (v2 and v1 names).
pub const CGROUP_FILES: &[&str] = &[
    "memory.max",
    "memory.current",
    "memory.peak",
    "memory.events",
    "memory.limit_in_bytes",
    "memory.usage_in_bytes",
    "memory.max_usage_in_bytes",
    "memory.failcnt",
    "memory.oom_control",
    "pids.max",
    "pids.current",
    "pids.events",
    "cpu.max",
    "cpu.cfs_quota_us",
    "cpu.cfs_period_us",
    "cpu.stat",
];

/// Everything doctor reads of one process.
#[derive(Debug, Clone, Default)]
pub struct Reading {
    pub observed: Observed,
    /// Whose namespaces and mounts stand for the host's: "pid 1", or procjail's own when pid 1's
    /// cannot be read (and why).
    pub host_from: String,
    /// /proc/PID/root, as this process sees it.
    pub root: String,
    pub fds: Vec<Fd>,
    pub cgroups: Vec<CgroupDir>,
    /// PID 1 of its pid namespace, if this /proc shows it.
    pub pid1: Option<Proc>,
    /// Where that PID 1 sleeps in the kernel (/proc/PID/wchan): `do_sigtimedwait` for an init
    /// that takes its signals with sigtimedwait.
    pub pid1_wchan: String,
    /// That PID 1's children (not read for the host's own PID 1).
    pub pid1_children: Vec<Proc>,
}

/// Why a process cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum Unreadable {
    #[error(
        "procjail doctor needs root: it reads another process's /proc/PID/ns, fd, fdinfo and root, which only root may (running as uid {0})"
    )]
    NotRoot(u32),
    #[error(
        "no process {pid} in the pid namespace this /proc shows ({ns}): it does not exist, or it is in a pid namespace that is not this one or below it"
    )]
    NoSuchProcess { pid: i32, ns: String },
    #[error("cannot read {path}: {err}")]
    Read { path: String, err: std::io::Error },
}

fn unreadable(pid: i32, what: &str) -> impl FnOnce(std::io::Error) -> Unreadable {
    let path = format!("/proc/{pid}/{what}");
    move |err| Unreadable::Read { path, err }
}

/// Reads `pid` (in the pid namespace of /proc); `paths`: in-root paths to resolve as the
/// process would (the masked and read-only paths).
pub fn read(pid: i32, paths: &[PathBuf]) -> Result<Reading, Unreadable> {
    let uid = nix::unistd::geteuid().as_raw();
    if uid != 0 {
        return Err(Unreadable::NotRoot(uid));
    }
    let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let proc: OwnedFd = nix::fcntl::open("/proc", flags, Mode::empty())
        .map_err(|e| Unreadable::Read { path: "/proc".into(), err: e.into() })?;
    let proc = proc.as_fd();
    if nix::sys::stat::fstatat(proc, pid.to_string().as_str(), nix::fcntl::AtFlags::empty()).is_err() {
        let ns = std::fs::read_link("/proc/self/ns/pid").map_or("?".into(), |l| l.display().to_string());
        return Err(Unreadable::NoSuchProcess { pid, ns });
    }
    // The links that need ptrace access to the process: a clear error rather than a blank.
    for what in ["ns/mnt", "root"] {
        readlinkat(proc, format!("{pid}/{what}").as_str()).map_err(|e| unreadable(pid, what)(e.into()))?;
    }
    let (host, host_from) = match HostView::of("1") {
        Ok(h) => (h, "pid 1's".to_string()),
        Err(e) => {
            let why =
                e.raw_os_error().map_or(e.to_string(), |n| nix::errno::Errno::from_raw(n).desc().into());
            (HostView::read(), format!("procjail's own: pid 1's cannot be read here ({why})"))
        }
    };
    let observed = probe::observe(proc, pid, paths, &host)
        .map_err(unreadable(pid, "{status,mountinfo,cgroup,limits,uid_map,gid_map}"))?;
    let root = readlinkat(proc, format!("{pid}/root").as_str())
        .map_err(|e| unreadable(pid, "root")(e.into()))?
        .to_string_lossy()
        .into_owned();
    let fds = fds(proc, pid)?;
    let own = read_small("/proc/self/mountinfo").unwrap_or_default();
    let cgroups = cgroup_dirs(&observed.cgroup, &own)
        .into_iter()
        .map(|(hierarchy, path, dir)| {
            let files = CGROUP_FILES
                .iter()
                .filter_map(|f| Some((f.to_string(), read_small(dir.join(f).to_str()?).ok()?)))
                .collect();
            CgroupDir { hierarchy, path, dir, files }
        })
        .collect();
    let host_pidns = observed.ns.get("pid").is_some_and(|p| host.ns.get("pid") == Some(p));
    // PID 1's status and its wchan are two reads. An init that leaves sigtimedwait between them
    // (its idle timeout, a signal) shows the mask the wait lowered (SigBlk 0) without the wait
    // that explains it: such a pair is read again (a few times at most).
    let mut tries = 0;
    let (pid1, pid1_wchan) = loop {
        let pid1 = if host_pidns { read_proc(proc, 1) } else { pid1_of(proc, pid, &observed) };
        let wchan = pid1
            .as_ref()
            .and_then(|p| read_at(proc, &format!("{}/wchan", p.pid), Shows::Once).ok())
            .unwrap_or_default();
        let unblocked = pid1
            .as_ref()
            .is_some_and(|p| p.status.get("SigBlk").is_some_and(|m| m.trim_start_matches('0').is_empty()));
        tries += 1;
        if wchan.starts_with("do_sigtimedwait") || !unblocked || tries == 3 {
            break (pid1, wchan);
        }
    };
    let pid1_children = match &pid1 {
        Some(p) if !host_pidns => children(proc, p.pid),
        _ => Vec::new(),
    };
    Ok(Reading { observed, host_from, root, fds, cgroups, pid1, pid1_wchan, pid1_children })
}

/// /proc/PID/fd: each descriptor's link and its fdinfo's mnt_id. A descriptor closed while
/// being read is left out.
fn fds(proc: BorrowedFd<'_>, pid: i32) -> Result<Vec<Fd>, Unreadable> {
    let dir = format!("/proc/{pid}/fd");
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).map_err(unreadable(pid, "fd"))?.flatten() {
        let Ok(fd) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(target) = readlinkat(proc, format!("{pid}/fd/{fd}").as_str()) else { continue };
        let info = read_at(proc, &format!("{pid}/fdinfo/{fd}"), Shows::Once).unwrap_or_default();
        out.push(Fd { fd, target: target.to_string_lossy().into_owned(), mnt_id: fdinfo_mnt_id(&info) });
    }
    out.sort_by_key(|f| f.fd);
    Ok(out)
}

/// The `mnt_id:` of an fdinfo text.
pub fn fdinfo_mnt_id(text: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix("mnt_id:")?.trim().parse().ok())
}

/// The folders of a /proc/PID/cgroup text's hierarchies on this host, from this process's
/// mountinfo: (hierarchy, the path in it, the folder). Only cgroup2 and the v1 hierarchies
/// of memory, pids and cpu; a path outside a hierarchy's mounted root is left out.
pub fn cgroup_dirs(cgroup: &str, mountinfo_text: &str) -> Vec<(String, String, PathBuf)> {
    let mounts = mountinfo::parse(mountinfo_text);
    let mut out = Vec::new();
    for line in cgroup.lines() {
        let mut f = line.splitn(3, ':');
        let (Some(id), Some(ctrl), Some(path)) = (f.next(), f.next(), f.next()) else { continue };
        let mount = if id == "0" && ctrl.is_empty() {
            mounts.iter().find(|m| m.fstype == "cgroup2")
        } else if ctrl.split(',').any(|c| ["memory", "pids", "cpu"].contains(&c)) {
            let opts =
                |m: &mountinfo::Mount| m.super_options.split(',').map(String::from).collect::<Vec<_>>();
            mounts
                .iter()
                .find(|m| m.fstype == "cgroup" && ctrl.split(',').all(|c| opts(m).iter().any(|o| o == c)))
        } else {
            None
        };
        let Some(m) = mount else { continue };
        let Ok(rel) = Path::new(path).strip_prefix(&m.root) else { continue };
        let hierarchy = if ctrl.is_empty() { "cgroup2".to_string() } else { ctrl.to_string() };
        let dir =
            if rel.as_os_str().is_empty() { PathBuf::from(&m.point) } else { Path::new(&m.point).join(rel) };
        out.push((hierarchy, path.to_string(), dir));
    }
    out
}

fn read_proc(proc: BorrowedFd<'_>, pid: i32) -> Option<Proc> {
    Some(Proc { pid, status: parse_status(&read_at(proc, &format!("{pid}/status"), Shows::Once).ok()?) })
}

/// The last field of NSpid: the pid in the process's own pid namespace.
pub fn ns_pid(status: &BTreeMap<String, String>) -> Option<i32> {
    status.get("NSpid")?.split_whitespace().last()?.parse().ok()
}

/// PID 1 of the pid namespace `pid` is in: the process whose NSpid ends in 1 and whose
/// ns/pid is the same.
fn pid1_of(proc: BorrowedFd<'_>, pid: i32, observed: &Observed) -> Option<Proc> {
    if ns_pid(&observed.status) == Some(1) {
        return Some(Proc { pid, status: observed.status.clone() });
    }
    let ns = observed.ns.get("pid")?;
    let entries = std::fs::read_dir("/proc").ok()?;
    entries.flatten().filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok()).find_map(|p| {
        let candidate = read_proc(proc, p).filter(|c| ns_pid(&c.status) == Some(1))?;
        let link = readlinkat(proc, format!("{p}/ns/pid").as_str()).ok()?;
        (link.to_string_lossy() == ns.as_str()).then_some(candidate)
    })
}

/// The children of every thread of `pid` (/proc/PID/task/TID/children), zombies included.
fn children(proc: BorrowedFd<'_>, pid: i32) -> Vec<Proc> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten();
    let mut pids: Vec<i32> = tasks
        .filter_map(|t| t.file_name().to_str()?.parse::<i32>().ok())
        .flat_map(|tid| {
            let text = read_at(proc, &format!("{pid}/task/{tid}/children"), Shows::Records(usize::MAX))
                .unwrap_or_default();
            text.split_whitespace().filter_map(|p| p.parse().ok()).collect::<Vec<i32>>()
        })
        .collect();
    pids.sort_unstable();
    pids.dedup();
    pids.into_iter().filter_map(|c| read_proc(proc, c)).collect()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    const MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn cgroup_folders_of_a_hybrid_host() {
        let cgroup = "9:name=systemd:/\n8:pids:/procjail/a\n4:memory:/procjail/a\n1:cpu:/\n0::/procjail/a\n";
        let dirs = super::cgroup_dirs(cgroup, MOUNTINFO);
        let got: Vec<(&str, PathBuf)> = dirs.iter().map(|(h, _, d)| (h.as_str(), d.clone())).collect();
        assert_eq!(
            got,
            vec![
                ("pids", PathBuf::from("/sys/fs/cgroup/pids/procjail/a")),
                ("memory", PathBuf::from("/sys/fs/cgroup/memory/procjail/a")),
                ("cpu", PathBuf::from("/sys/fs/cgroup/cpu")),
                ("cgroup2", PathBuf::from("/sys/fs/cgroup/unified/procjail/a")),
            ]
        );
        // A v2 host, its cgroup2 mounted with a root of its own (in a container).
        let v2 = "50 1 0:40 /ctr /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let dirs = super::cgroup_dirs("0::/ctr/app\n", v2);
        assert_eq!(dirs, vec![("cgroup2".into(), "/ctr/app".into(), PathBuf::from("/sys/fs/cgroup/app"))]);
        assert!(super::cgroup_dirs("0::/elsewhere\n", v2).is_empty());
    }

    #[test]
    fn fdinfo_and_nspid() {
        assert_eq!(super::fdinfo_mnt_id("pos:\t0\nflags:\t0100000\nmnt_id:\t27\nino:\t5\n"), Some(27));
        assert_eq!(super::fdinfo_mnt_id("pos:\t0\n"), None);
        let status = crate::host::probe::parse_status("Name:\tsh\nNSpid:\t1078\t1\n");
        assert_eq!(super::ns_pid(&status), Some(1));
    }
}
