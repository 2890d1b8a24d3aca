//! The Plan: an ordered list of phases, each run on one side (the supervisor on the host, the
//! jail's first process, or the command), each holding typed steps. A step is one syscall or
//! one cgroupfs write, and renders as that syscall.
//!
//! Two walkers use the same Plan: [`print`] shows it, [`crate::exec`] performs it. Both read
//! a step's text from the same `Display` impl, so `plan`, `up --trace` and error messages agree.

mod build;
pub mod print;
mod render;

pub use build::{Builder, build, build_rootfs};

use std::path::PathBuf;

use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use serde::Serialize;

use crate::host::Host;
use crate::spec::Origin;

/// Which process performs a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// procjail itself, on the host: it clones the jail, supervises it and tears it down.
    Parent,
    /// The jail's first process (PID 1 in its pid namespace): it sets up the mounts, and is the
    /// built-in init afterwards.
    Child,
    /// The command, forked by the built-in init, up to its execve.
    Command,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Parent => "parent",
            Side::Child => "child",
            Side::Command => "command",
        }
    }
}

/// The two socketpairs between the supervisor and the jail: `sync` (go, and the report of a
/// failed step, or EOF once the command has exec'd) and `status` (the built-in init tells the
/// supervisor how the command itself ended, which its own exit code cannot say exactly).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Sync,
    Status,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sync => "sync",
            Channel::Status => "status",
        }
    }
}

/// A value known only when the jail runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Value {
    Text(String),
    /// The host pid of the jail's first process, from clone.
    ChildPid,
    /// The pid of the process doing the write (`procjail exec` joining the jail's cgroups).
    SelfPid,
}

/// What a rootfs-relative path is resolved against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RootPath {
    /// The rootfs on the host.
    pub root: PathBuf,
    /// The path in the jail (absolute in the jail).
    pub path: PathBuf,
}

impl RootPath {
    /// The host path a person reads: root + path.
    pub fn host(&self) -> PathBuf {
        self.root.join(self.path.strip_prefix("/").unwrap_or(&self.path))
    }
}

/// A counter the report reads from a cgroup file when the jail has ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Counter {
    /// OOM kills: `oom_kill N` in memory.events (v2) or memory.oom_control (v1).
    OomKills,
    /// Peak memory: memory.peak (v2) or memory.max_usage_in_bytes (v1).
    MemoryPeak,
    /// Times a fork failed at the pids limit: `max N` in pids.events.
    PidsMaxHit,
}

/// One step: a syscall or a cgroupfs write.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// mkdir(path, mode). `exist_ok`: EEXIST is fine (shared parents, mount points).
    Mkdir {
        path: PathBuf,
        mode: u32,
        exist_ok: bool,
    },
    /// Copies a file (copy_file_range) and sets its mode.
    CopyFile {
        from: PathBuf,
        to: PathBuf,
        mode: u32,
    },
    /// symlink(target, dir/name) for each name.
    Symlinks {
        target: String,
        dir: PathBuf,
        names: Vec<String>,
    },
    /// write(path, value) to a cgroupfs file.
    Write {
        path: PathBuf,
        value: Value,
    },
    /// socketpair for a channel between the parent and the jail.
    SocketPair {
        channel: Channel,
    },
    /// clone() with namespace flags; the child continues with the child steps.
    Clone {
        #[serde(serialize_with = "render::ser_clone_flags")]
        flags: CloneFlags,
        /// A cgroup2 folder to start the child in (clone3 with CLONE_INTO_CGROUP): the child is
        /// in it from its first instruction, and no cgroup.procs write is needed.
        into_cgroup: Option<PathBuf>,
    },
    /// Closes one end of a channel: each side keeps only its own (0: the parent's, 1: the
    /// jail's), so that either sees EOF when the other is gone or has exec'd.
    Close {
        channel: Channel,
        end: u8,
    },
    /// A sync point: one side writes a message on its end.
    SyncSend {
        end: u8,
        msg: String,
    },
    /// A sync point: one side waits for a message on its end.
    SyncRecv {
        end: u8,
        msg: String,
    },
    /// prctl(PR_SET_PDEATHSIG, SIGKILL), then the check that the parent is still there.
    Pdeathsig,
    /// unshare(flags) in the child (the cgroup namespace, after the move into the cgroup).
    Unshare {
        #[serde(serialize_with = "render::ser_clone_flags")]
        flags: CloneFlags,
    },
    /// mount(2). With `target_in_root`, the target is resolved inside the rootfs so that no
    /// symlink leads it outside.
    Mount {
        source: Option<String>,
        target: PathBuf,
        target_in_root: Option<RootPath>,
        fstype: Option<String>,
        #[serde(serialize_with = "render::ser_ms_flags")]
        flags: MsFlags,
        data: Option<String>,
    },
    /// Opens the rootfs (O_PATH) that in-root paths are resolved against.
    OpenRoot {
        path: PathBuf,
    },
    /// Makes a mount point inside the rootfs, if it is missing: a directory, or an empty file
    /// for a file bind. /proc and /dev must be real directories.
    MountPoint {
        at: RootPath,
        dir: bool,
    },
    /// symlink(target, linkpath) inside the rootfs.
    SymlinkIn {
        target: String,
        at: RootPath,
    },
    Chdir {
        path: PathBuf,
    },
    /// pivot_root(".", "."): the old root is stacked under the new one, then detached.
    PivotRoot {
        new_root: PathBuf,
    },
    Umount2 {
        target: PathBuf,
        #[serde(serialize_with = "render::ser_mnt_flags")]
        flags: MntFlags,
    },
    Sethostname {
        name: String,
    },
    /// prctl(PR_SET_DUMPABLE, 0): no ptrace, no /proc/PID/exe or mem from others in the jail.
    NotDumpable,
    /// Blocks every signal, so the init can wait for them.
    BlockSignals,
    /// fork(): the child becomes the command; the parent stays PID 1.
    Fork,
    /// setsid(): the command leads its own session and process group.
    Setsid,
    /// Restores the signal mask and SIGPIPE etc. to defaults (Rust ignores SIGPIPE at start).
    ResetSignals,
    /// setrlimit(resource, {value, value}).
    Setrlimit {
        key: String,
        resource: String,
        value: u64,
    },
    /// close_range(3, ~0U, CLOSE_RANGE_CLOEXEC): nothing but 0, 1, 2 survives the exec.
    CloseFds,
    /// Drops CAP_SYS_PTRACE from every capability set and the bounding set, so that nothing in
    /// the jail can read the init's memory or open /proc/1/exe (the runc CVE-2019-5736 class).
    DropPtrace,
    /// The rootfs descriptor is closed once the jail is inside it: the init keeps no host
    /// descriptor.
    CloseRoot,
    /// The init closes every descriptor it inherited but 0, 1, 2 and its end of the status
    /// channel: nothing of the host's stays open in the jail's PID 1.
    CloseHostFds,
    /// execve (or a PATH lookup, when argv[0] has no '/').
    Execve {
        argv: Vec<String>,
        env: Vec<(String, String)>,
    },
    /// The built-in init's loop: forward signals, reap, end the rest after the command exits.
    InitLoop {
        grace_ms: u64,
    },
    /// The parent waits for the command's exec: EOF on the sync channel, or an error report.
    AwaitExec,
    /// wait4 for the jail's first process, forwarding signals to it; with a timeout, SIGTERM
    /// when it runs out and SIGKILL after the grace period.
    Wait {
        grace_ms: u64,
        timeout_ms: Option<u64>,
    },
    /// Reads a counter for the report.
    ReadCounter {
        path: PathBuf,
        counter: Counter,
    },
    /// kill(pid, SIGKILL) for the jail's first process if it is still there (setup failed).
    KillChild,
    /// Kills every process in a cgroup: cgroup.kill (v2, hybrid) or each pid in cgroup.procs
    /// (v1, while frozen).
    KillCgroup {
        path: PathBuf,
        kill_file: bool,
    },
    /// Waits until a cgroup has no process left.
    WaitEmpty {
        path: PathBuf,
    },
    /// Removes a cgroup that a run of the same jail left behind when its supervisor was killed
    /// (it must be empty: a jail of that name that still has processes is running).
    Reclaim {
        path: PathBuf,
    },
    /// rmdir(path), retried while the kernel still says EBUSY (just after the last exit).
    Rmdir {
        path: PathBuf,
    },
    /// Opens a namespace of a running jail (/proc/PID/ns/NAME), for setns.
    OpenNs {
        ns: String,
        path: PathBuf,
    },
    /// setns into it.
    SetNs {
        ns: String,
        #[serde(serialize_with = "render::ser_clone_flags")]
        flag: CloneFlags,
    },
    /// fchdir to the jail's root (opened before setns) and chroot(".").
    Chroot,
    /// Takes the jail's lock (open + flock LOCK_EX|LOCK_NB), held until the supervisor exits.
    Lock {
        path: PathBuf,
    },
    /// Writes state.json atomically (a temporary file renamed over it).
    SaveState {
        path: PathBuf,
    },
    Unlink {
        path: PathBuf,
    },
    /// Checks the host's mount table is as it was before the run.
    CheckMounts,
}

/// A step and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// 1-based, across the whole plan.
    pub index: usize,
    pub side: Side,
    #[serde(flatten)]
    pub op: Op,
    pub origin: Origin,
    /// Runs only if this earlier step ran (teardown undoes only what was done).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub needs: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Phase {
    pub name: &'static str,
    pub side: Side,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub jail: String,
    pub file: PathBuf,
    pub host: Host,
    pub phases: Vec<Phase>,
}

impl Plan {
    pub fn steps(&self) -> impl Iterator<Item = &Step> {
        self.phases.iter().flat_map(|p| p.steps.iter())
    }

    pub fn len(&self) -> usize {
        self.steps().count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `step 7/23 [child] mount(...)`, as errors and traces name a step.
    pub fn describe(&self, step: &Step) -> String {
        format!("step {}/{} [{}] {}", step.index, self.len(), step.side.as_str(), step.op)
    }
}
