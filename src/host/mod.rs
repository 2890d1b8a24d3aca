//! Facts about the host that the plan depends on, as a plain value, and the readers of procfs
//! that gather them.
//!
//! [`Host::detect`] reads them once at start (mountinfo, uid, capabilities, rlimits); everything
//! after that takes a `&Host`, so a plan for another kind of host is one `--host` away and the
//! planner is testable anywhere. Nothing in this module changes anything: it only reads.

pub mod caps;
pub mod mountinfo;
pub mod probe;
pub mod process;
pub mod procfs;
pub mod rlimits;
pub mod scan;
pub mod user;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

/// The folder under each cgroup hierarchy that holds procjail's jails.
pub const CGROUP_PARENT: &str = "procjail";

/// How cgroups are mounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum CgroupKind {
    /// Legacy: one hierarchy per controller, no cgroup2.
    V1,
    /// Controllers on v1, plus a cgroup2 hierarchy (usually /sys/fs/cgroup/unified) without them.
    Hybrid,
    /// Unified: one cgroup2 hierarchy with every controller.
    V2,
}

/// The v1 controllers procjail uses, and where each hierarchy is mounted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct V1Mounts {
    pub memory: PathBuf,
    pub pids: PathBuf,
    pub cpu: PathBuf,
    pub freezer: PathBuf,
    pub devices: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Host {
    pub cgroup: CgroupKind,
    /// v1 hierarchies (v1 and hybrid).
    pub v1: Option<V1Mounts>,
    /// The cgroup2 mount (v2: every controller; hybrid: none, but cgroup.kill and events).
    pub unified: Option<PathBuf>,
    /// Whether cgroup2 has `cgroup.kill` (Linux 5.14+).
    pub cgroup_kill: bool,
    pub uid: u32,
    pub gid: u32,
    /// Where this user's jails keep their state ([`user::state_dir`]).
    pub state_dir: PathBuf,
    /// The subordinate ids this user may map, and whether the helpers that map them are there.
    pub subids: user::SubIds,
    /// The cgroup2 subtree delegated to this user, when procjail does not run as root.
    pub delegation: Option<user::Delegation>,
    /// Without CAP_SYS_RESOURCE a hard rlimit can only be lowered.
    pub cap_sys_resource: bool,
    /// The highest capability this kernel has (/proc/sys/kernel/cap_last_cap).
    pub cap_last_cap: u32,
    /// The kernel's version, (major, minor).
    pub kernel: (u32, u32),
    /// procjail's own /proc/self/oom_score_adj (lowering it needs CAP_SYS_RESOURCE).
    pub oom_score_adj: i32,
    /// The seccomp filters procjail itself runs under (in a container, say): the jail inherits
    /// them.
    pub seccomp_filters: u32,
    /// The signals procjail was started with ignored (SigIgn: Rust's runtime ignores SIGPIPE,
    /// a caller may ignore more): they stay ignored through fork and execve, so the command's
    /// last steps put them back to SIG_DFL.
    #[serde(default)]
    pub sig_ignored: u64,
    /// The host's namespaces and shared mounts, as the checks before execve compare them.
    #[serde(skip)]
    pub view: probe::HostView,
    /// procjail's own hard rlimits, by `limits` key (nofile, nproc, ...); u64::MAX = unlimited.
    #[serde(serialize_with = "crate::json::limit_map")]
    pub hard_limits: BTreeMap<String, u64>,
    /// procjail's soft RLIMIT_STACK (the command inherits it unless `limits.stack` is set): the
    /// kernel gives execve's arguments a quarter of it. u64::MAX = unlimited.
    pub stack_soft: u64,
}

impl Host {
    /// The standard layout of a host of this kind, as `--host` gives it: cgroups under
    /// /sys/fs/cgroup, running as root with every capability and no hard limits.
    pub fn standard(kind: CgroupKind) -> Host {
        let root = PathBuf::from("/sys/fs/cgroup");
        let v1 = V1Mounts {
            memory: root.join("memory"),
            pids: root.join("pids"),
            cpu: root.join("cpu"),
            freezer: root.join("freezer"),
            devices: root.join("devices"),
        };
        let (v1, unified) = match kind {
            CgroupKind::V1 => (Some(v1), None),
            CgroupKind::Hybrid => (Some(v1), Some(root.join("unified"))),
            CgroupKind::V2 => (None, Some(root)),
        };
        Host {
            cgroup: kind,
            v1,
            unified,
            cgroup_kill: true,
            uid: 0,
            gid: 0,
            state_dir: PathBuf::from(user::ROOT_STATE_DIR),
            subids: user::SubIds::default(),
            delegation: None,
            cap_sys_resource: true,
            cap_last_cap: 40,
            kernel: (6, 1),
            oom_score_adj: 0,
            seccomp_filters: 0,
            sig_ignored: 1 << (libc::SIGPIPE - 1),
            view: probe::HostView::default(),
            hard_limits: BTreeMap::new(),
            stack_soft: 8 << 20,
        }
    }

    /// The hard limit procjail runs under for a `limits` key, if it is finite.
    pub fn hard_limit(&self, key: &str) -> Option<u64> {
        self.hard_limits.get(key).copied().filter(|v| *v != u64::MAX)
    }

    /// Reads the facts of this host. Reads only: /proc/self/{mountinfo,status,limits,...},
    /// capget, uname.
    pub fn detect() -> Host {
        Host::detect_with(&read_small("/proc/self/mountinfo").unwrap_or_default())
    }

    /// The same, from a mountinfo text already read.
    pub fn detect_with(mountinfo: &str) -> Host {
        let status = read_proc("/proc/self/status", Shows::Once).unwrap_or_default();
        let limits = read_proc("/proc/self/limits", Shows::Once).unwrap_or_default();
        let field = |name: &str| {
            status.lines().find_map(|l| Some(l.strip_prefix(name)?.strip_prefix(':')?.trim().to_string()))
        };
        let mut v1 = BTreeMap::new();
        let mut unified = None;
        let mut has_v1 = false;
        let mounts = mountinfo::parse(mountinfo);
        for m in &mounts {
            match m.fstype.as_str() {
                "cgroup2" if unified.is_none() => unified = Some(PathBuf::from(&m.point)),
                "cgroup" => {
                    has_v1 = true;
                    for opt in m.super_options.split(',') {
                        if ["memory", "pids", "cpu", "freezer", "devices"].contains(&opt) {
                            v1.entry(opt.to_string()).or_insert_with(|| PathBuf::from(&m.point));
                        }
                    }
                }
                _ => {}
            }
        }
        let fallback = Host::standard(CgroupKind::V1).v1.expect("v1 layout");
        let mut take = |name: &str, default: PathBuf| v1.remove(name).unwrap_or(default);
        let v1_mounts = V1Mounts {
            memory: take("memory", fallback.memory),
            pids: take("pids", fallback.pids),
            cpu: take("cpu", fallback.cpu),
            freezer: take("freezer", fallback.freezer),
            devices: take("devices", fallback.devices),
        };
        let cgroup = match (has_v1, &unified) {
            (true, Some(_)) => CgroupKind::Hybrid,
            (true, None) => CgroupKind::V1,
            (false, _) => CgroupKind::V2,
        };
        let kernel = kernel_version();
        let cgroup_kill = unified.is_some() && kernel >= (5, 14);
        let (uid, gid) = (nix::unistd::getuid().as_raw(), nix::unistd::getgid().as_raw());
        let delegation = match (&unified, cgroup) {
            (Some(u), CgroupKind::V2) if uid != 0 => user::delegation(u, uid),
            _ => None,
        };
        Host {
            cgroup,
            v1: (cgroup != CgroupKind::V2).then_some(v1_mounts),
            unified: unified.or_else(|| (cgroup == CgroupKind::V2).then(|| PathBuf::from("/sys/fs/cgroup"))),
            cgroup_kill,
            uid,
            gid,
            state_dir: user::state_dir(),
            subids: if uid == 0 { user::SubIds::default() } else { user::SubIds::read(uid, gid) },
            delegation,
            cap_sys_resource: has_capability(CAP_SYS_RESOURCE),
            cap_last_cap: read_proc("/proc/sys/kernel/cap_last_cap", Shows::Once)
                .ok()
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(40),
            kernel,
            oom_score_adj: read_proc("/proc/self/oom_score_adj", Shows::Once)
                .ok()
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(0),
            seccomp_filters: field("Seccomp_filters").and_then(|v| v.parse().ok()).unwrap_or(0),
            sig_ignored: field("SigIgn").and_then(|v| u64::from_str_radix(&v, 16).ok()).unwrap_or(0),
            view: probe::HostView::with_mounts(&mounts),
            hard_limits: rlimits::RLIMITS.iter().map(|r| (r.key.to_string(), rlimit(&limits, r).1)).collect(),
            stack_soft: rlimit(&limits, rlimits::by_key("stack")).0,
        }
    }
}

/// How the kernel makes the text of a procfs file, which says when a read has all of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shows {
    /// In one go (single_open: status, stat, limits, cgroup, wchan, fdinfo, a sysctl,
    /// oom_score_adj): a read that does not fill the buffer has the whole text.
    Once,
    /// Record by record into the kernel's buffer of at least a page, each record at most this
    /// long (an id map: 33 bytes, children: 8): a read that ends more than a record short of a
    /// page has the whole text. mountinfo's records have no bound: it is read to the end (a
    /// read of a long one stops at about a page).
    Records(usize),
}

/// The smallest page: the kernel's seq_file buffer is at least this big.
const PAGE: usize = 4096;

/// Reads a procfs (or sysfs) file through its descriptor in as few reads as `shows` allows:
/// one, for a file made in one go, with no fstat or lseek first as `read_to_string` does. The
/// first read goes into a buffer on the stack (every file procjail reads at start fits a page
/// or two): no heap buffer zeroed and shrunk for each file, and the text is allocated once, at
/// its size.
pub fn read_fd(fd: impl std::os::fd::AsFd, shows: Shows) -> std::io::Result<String> {
    let whole = |n: usize, want: usize| {
        n == 0
            || n < want
                && match shows {
                    Shows::Once => true,
                    Shows::Records(max) => n.saturating_add(max) <= PAGE,
                }
    };
    let mut first = [0u8; 2 * PAGE];
    let n = nix::unistd::read(&fd, &mut first)?;
    let mut buf = first[..n].to_vec();
    if !whole(n, first.len()) {
        buf.resize(4 * PAGE, 0);
        let mut len = n;
        loop {
            let want = buf.len() - len;
            let n = nix::unistd::read(&fd, &mut buf[len..])?;
            len += n;
            if whole(n, want) {
                break;
            }
            if len == buf.len() {
                buf.resize(buf.len() * 2, 0);
            }
        }
        buf.truncate(len);
        // Kept texts (the host's id maps, the mount table before the run) hold only their bytes.
        buf.shrink_to_fit();
    }
    String::from_utf8(buf).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// A procfs file by its path (see [`read_fd`]).
pub fn read_proc(path: &str, shows: Shows) -> std::io::Result<String> {
    use nix::fcntl::OFlag;
    let fd = nix::fcntl::open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())?;
    read_fd(fd, shows)
}

/// A small file (procfs, sysfs), read to its end with one large buffer: procfs files report a
/// size of 0, and std's read_to_string would grow its buffer from 32 bytes, one read at a time.
pub fn read_small(path: &str) -> std::io::Result<String> {
    read_proc(path, Shows::Records(usize::MAX))
}

const CAP_SYS_RESOURCE: u32 = 24;

/// This process's (soft, hard) limit of an rlimit, from the text of /proc/self/limits (one
/// read for all of them), or getrlimit where that has no line for it; u64::MAX = unlimited.
fn rlimit(limits: &str, r: &rlimits::Rlimit) -> (u64, u64) {
    rlimits::limit_in(limits, r.proc_name).unwrap_or_else(|| {
        let inf = |v: u64| if v == libc::RLIM_INFINITY { u64::MAX } else { v };
        nix::sys::resource::getrlimit(r.resource).map_or((8 << 20, u64::MAX), |(s, h)| (inf(s), inf(h)))
    })
}

/// Whether this process has a capability in its effective set (capget).
fn has_capability(cap: u32) -> bool {
    crate::sys::capget().is_ok_and(|c| c.effective & (1 << cap) != 0)
}

/// The running kernel's (major, minor) (cgroup.kill came in 5.14).
fn kernel_version() -> (u32, u32) {
    let release =
        nix::sys::utsname::uname().map(|u| u.release().to_string_lossy().into_owned()).unwrap_or_default();
    let mut parts = release.split(|c: char| !c.is_ascii_digit()).filter_map(|p| p.parse::<u32>().ok());
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::{Shows, read_proc};

    /// A text that fits the first read, and one that does not (/proc/crypto: 11 KB here, made
    /// record by record), read whole.
    #[test]
    fn reads_procfs_files_whole() {
        for path in ["/proc/self/mountinfo", "/proc/crypto"] {
            let ours = read_proc(path, Shows::Records(usize::MAX)).unwrap();
            assert_eq!(ours, std::fs::read_to_string(path).unwrap(), "{path}");
        }
        let status = read_proc("/proc/self/status", Shows::Once).unwrap();
        assert!(status.starts_with("Name:") && status.ends_with('\n'), "{status}");
    }
}
