//! The catalogue of steps: one variant per kind of syscall (or fixed short sequence), with its
//! typed arguments. Grouped as the executor's files are (`exec/fs.rs`, `exec/mount.rs`, ...).

use std::path::PathBuf;

use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use serde::Serialize;

use super::{Target, Via, text};

pub use super::kinds::*;

/// One step.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    // ---- files and folders on the host (exec/fs.rs) ----
    /// umask(mask): 0 in the supervisor, so every mode below is the mode made.
    Umask {
        mask: u32,
    },
    /// mkdir(path, mode). `exist_ok`: EEXIST is fine (shared parents).
    Mkdir {
        path: PathBuf,
        mode: u32,
        exist_ok: bool,
    },
    /// Copies a file: open, create (O_EXCL, with its mode), copy_file_range until done.
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
    /// open(path, O_WRONLY) and write(value): a cgroupfs file, never created.
    Write {
        path: PathBuf,
        value: Value,
    },
    Unlink {
        path: PathBuf,
    },
    /// rmdir(path), retried while the kernel says EBUSY (a cgroup just after its last exit).
    Rmdir {
        path: PathBuf,
    },
    /// open(O_CREAT) + flock(LOCK_EX|LOCK_NB): the jail's lock, held until the supervisor exits;
    /// taken again if the path no longer names the file locked (its last holder unlinked it).
    Lock {
        path: PathBuf,
    },
    /// Writes state.json atomically: a temporary file, renamed over it.
    SaveState {
        path: PathBuf,
    },

    // ---- the rootfs and the mount table (exec/mount.rs) ----
    /// Opens the rootfs (O_PATH) that in-root paths are resolved against: `rootfd`.
    OpenRoot {
        path: PathBuf,
    },
    /// Makes a mount point in the rootfs unless it exists: a directory, or an empty file for a
    /// file bind. `no_symlinks`: it must be a real directory, reached without a symlink.
    MountPoint {
        at: PathBuf,
        dir: bool,
        no_symlinks: bool,
        via: Via,
    },
    /// symlink(target, at) inside the rootfs.
    SymlinkIn {
        target: String,
        at: PathBuf,
        via: Via,
    },
    /// Opens a folder of the rootfs (O_PATH) that the next entries are made in, through
    /// [`Via::Dir`]: one lookup for all of them.
    OpenDir {
        at: PathBuf,
        no_symlinks: bool,
    },
    /// Closes the folder [`Op::OpenDir`] opened.
    CloseDir {
        at: PathBuf,
    },
    /// mount(2).
    Mount {
        source: Option<String>,
        target: Target,
        fstype: Option<String>,
        #[serde(serialize_with = "text::ser_ms_flags")]
        flags: MsFlags,
        data: Option<String>,
    },
    Chdir {
        path: PathBuf,
    },
    /// pivot_root(".", "."): the old root is stacked under the new one, then detached.
    PivotRoot,
    Umount2 {
        target: PathBuf,
        #[serde(serialize_with = "text::ser_mnt_flags")]
        flags: MntFlags,
    },
    /// The rootfs descriptor is closed once the jail is inside it.
    CloseRoot,
    /// fchdir(rootfd), chroot("."), chdir("/"): `procjail exec` into the jail's root.
    Chroot,

    // ---- namespaces (exec/ns.rs) ----
    /// clone() with namespace flags; the child goes on with the child steps. With
    /// `into_cgroup`, clone3 starts it in that cgroup2 folder (CLONE_INTO_CGROUP).
    Clone {
        #[serde(serialize_with = "text::ser_clone_flags")]
        flags: CloneFlags,
        into_cgroup: Option<PathBuf>,
    },
    /// unshare(flags) in the child (the cgroup namespace, after the move into the cgroup).
    Unshare {
        #[serde(serialize_with = "text::ser_clone_flags")]
        flags: CloneFlags,
    },
    Sethostname {
        name: String,
    },
    /// Opens the host's procfs (O_PATH) before entering a jail: the checks read it as `procfd`.
    OpenProc,
    /// Opens a namespace of a running jail (/proc/PID/ns/NAME), for setns.
    OpenNs {
        ns: String,
        path: PathBuf,
    },
    /// setns into it.
    SetNs {
        ns: String,
        #[serde(serialize_with = "text::ser_clone_flags")]
        flag: CloneFlags,
    },

    // ---- the channels (exec/sync.rs) ----
    /// socketpair for a channel between the parent and the jail.
    SocketPair {
        channel: Channel,
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

    // ---- processes, signals, limits (exec/proc.rs) ----
    /// prctl(PR_SET_PDEATHSIG, SIGKILL).
    Pdeathsig,
    /// prctl(PR_SET_DUMPABLE, 0): no ptrace, no /proc/PID/exe or mem from others in the jail.
    NotDumpable,
    /// sigprocmask(SIG_BLOCK): the signals are then taken with sigtimedwait.
    BlockSignals {
        set: SignalSet,
    },
    /// fork(): the child becomes the command. `until_exec`: CLONE_VFORK (without CLONE_VM: the
    /// child has its own copy of memory, as with fork), so the parent sleeps until the child's
    /// execve or exit: the built-in init leaves the cpus to the command's last steps.
    Fork {
        until_exec: bool,
    },
    /// setsid(): the command leads its own session and process group.
    Setsid,
    /// Restores the signal mask and puts the signals procjail was started with ignored back to
    /// SIG_DFL (Rust ignores SIGPIPE at start, procjail's caller may have ignored more, and
    /// ignored signals survive execve): the host's SigIgn, read when the plan was made.
    ResetSignals {
        ignored: u64,
    },
    /// setrlimit(resource, {soft, hard}), by its `[limits]` key; u64::MAX is RLIM_INFINITY.
    Setrlimit {
        key: String,
        soft: u64,
        hard: u64,
    },
    /// close_range(3, ~0U, CLOSE_RANGE_CLOEXEC): nothing but 0, 1, 2 survives the exec.
    CloseFds,
    /// The init closes every descriptor it inherited but 0, 1, 2 and its end of the status
    /// channel: nothing of the host's stays open in the jail's PID 1.
    CloseHostFds,
    /// execve (or a PATH lookup, when argv[0] has no '/').
    Execve {
        argv: Vec<String>,
        env: Vec<(String, String)>,
    },
    /// kill(pid, SIGKILL) and wait4: a process of the plan, when setup stopped.
    Kill {
        pid: Proc,
    },
    /// pidfd_open(pid), checked against the process's start time, then pidfd_send_signal: the
    /// signal reaches that process even if its pid were reused (`kill`, `down`).
    Signal {
        pid: i32,
        start: u64,
        #[serde(serialize_with = "text::ser_signal")]
        signal: Signal,
        who: String,
    },

    /// readlink("/proc/self/ns/*"); write(sync[1], "ready" and the links): the command's
    /// namespaces, as it sees them itself, for a supervisor that is not root (it cannot read
    /// a non-dumpable process's /proc/PID/ns without CAP_SYS_PTRACE on the host).
    SendReadyNs,

    // ---- the user namespace (exec/ns.rs) ----
    /// write("/proc/$CHILD_PID/FILE", text): the jail's user namespace gets its ids
    /// (`setgroups` "deny" first, where a user maps its own ids alone).
    WriteIdMap {
        file: String,
        text: String,
    },
    /// fork(); execve(newuidmap or newgidmap, [name, $CHILD_PID, inside outside count ...]);
    /// wait4: the setuid helpers write the ranges /etc/subuid and /etc/subgid grant the user.
    IdMapHelper {
        program: PathBuf,
        map: Vec<crate::spec::IdRange>,
    },

    // ---- capabilities and confinement (exec/caps.rs) ----
    /// prctl(PR_CAPBSET_DROP) of each capability in `drop`: no execve can get them back.
    CapBoundingDrop {
        /// The capabilities to drop: what the process holds in its bounding set then (the
        /// planner knows it), less what it keeps.
        drop: u64,
    },
    /// prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL).
    AmbientClear,
    /// prctl(PR_SET_KEEPCAPS, 1): the permitted set survives the switch to a uid other than 0.
    KeepCaps,
    /// setgroups (unless the user namespace denies it: None), setresgid, setresuid: who the
    /// command is.
    SetUser {
        uid: u32,
        gid: u32,
        groups: Option<Vec<u32>>,
    },
    /// capset: the effective, permitted and inheritable sets.
    Capset {
        effective: u64,
        permitted: u64,
        inheritable: u64,
    },
    /// prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE) for each: capabilities a non-root command
    /// keeps through execve.
    AmbientRaise {
        caps: u64,
    },
    /// prctl(PR_SET_NO_NEW_PRIVS, 1): no execve gains privileges.
    NoNewPrivs,
    /// seccomp(SECCOMP_SET_MODE_FILTER): exactly these bytes, compiled while planning.
    Seccomp {
        program: Box<crate::seccomp::Program>,
    },
    /// keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL): a new anonymous session keyring.
    JoinKeyring,
    /// write("/proc/self/oom_score_adj", value).
    OomScoreAdj {
        value: i32,
    },
    /// ioctl(SIOCSIFFLAGS, IFF_UP) on an interface of the jail's own net namespace, by the
    /// jail's process.
    LinkUp {
        name: String,
    },
    /// The jail's net namespace, made by the supervisor while the child makes its mounts:
    /// unshare(CLONE_NEWNET) in itself, back to the host's net namespace with a socket and a
    /// descriptor of the new one, that descriptor sent to the child on the sync channel, and the
    /// interface `up` brought up through the socket.
    MakeNetns {
        up: String,
    },
    /// The child enters the net namespace the supervisor made and sent it ([`Op::MakeNetns`]).
    JoinNetns,
    /// A namespaced sysctl, written through the jail's own /proc before it goes read-only.
    Sysctl {
        key: String,
        value: String,
    },
    /// The /dev/null masks are bound from: opened O_PATH and checked to be the real char 1:3
    /// (the runc CVE-2025-31133 class), kept as `nullfd`.
    OpenNull {
        path: PathBuf,
    },
    /// Masks a path in the rootfs: a folder gets an empty read-only tmpfs, a file /dev/null.
    Mask {
        at: PathBuf,
    },
    /// A path in the rootfs bound onto itself and made read-only (recursively), keeping its
    /// nosuid, nodev and noexec.
    ReadOnly {
        at: PathBuf,
    },
    /// mount_setattr: mount attributes set on one mount (`recursive`: and those under it).
    MountSetattr {
        target: Target,
        set: u64,
        recursive: bool,
    },
    /// A BPF device program (cgroup2): loaded, attached to the jail's cgroup, its fd closed.
    /// `program`: the eBPF instructions, 8 bytes each, in hex.
    DeviceFilter {
        cgroup: PathBuf,
        rules: Vec<String>,
        program: String,
        insns: usize,
    },

    // ---- waiting (exec/supervise.rs, exec/init_loop.rs) ----
    /// The built-in init's loop: forward signals, reap, end the rest after the command exits.
    InitLoop {
        grace_ms: u64,
    },
    /// The parent waits for the command to start its last steps ("started" on the sync
    /// channel), or for a failed step's report.
    AwaitStarted,
    /// What the jail's first process shares with the command it makes (namespaces, mount
    /// table, cgroups, id maps, the planned mount points), read while the command takes its
    /// last steps.
    Observe {
        pid: Proc,
        paths: Vec<std::path::PathBuf>,
    },
    /// The parent waits for the command to be ready for its execve ("ready" on the sync
    /// channel), or for a failed step's report.
    AwaitReady,
    /// The kernel's answer: the command's /proc entries read back (only status and limits
    /// when an Observe step read the rest) and compared with the plan.
    Verify {
        pid: Proc,
        checks: Box<super::verify::Checks>,
        observed: bool,
    },
    /// The parent waits for the command's exec: EOF on the sync channel, or an error report.
    AwaitExec,
    /// wait4 for a process, forwarding signals to it; with a timeout, SIGTERM when it runs out
    /// and SIGKILL after the grace period. With `state`, NAME.json is written again with the
    /// plan once the jail has run 100 ms (the first write, SaveState, leaves it out).
    Wait {
        pid: Proc,
        grace_ms: u64,
        timeout_ms: Option<u64>,
        state: Option<PathBuf>,
    },
    /// poll on the pidfd of the last Signal step until that process has exited (`down`).
    AwaitExit {
        timeout_ms: u64,
    },

    // ---- cgroups (exec/cgroup.rs) ----
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
    /// Reads a counter for the report.
    ReadCounter {
        path: PathBuf,
        counter: Counter,
    },

    // ---- checks (exec/check.rs) ----
    /// The host's mount table has no mount under the rootfs that was not there before the run.
    CheckMounts,
    /// The path is gone (`down`: the supervisor's teardown removed the jail's state).
    CheckGone {
        path: PathBuf,
    },
    /// The folder is a real folder of `uid`'s that no one else can write (a user's state folder
    /// in /tmp, which someone else could have made first).
    CheckPrivate {
        path: PathBuf,
        uid: u32,
    },
}

impl Op {
    /// Whether the step does not return soon (or at all, when it works): the trace says so
    /// before it starts.
    pub fn runs_long(&self) -> bool {
        matches!(self, Op::Execve { .. } | Op::InitLoop { .. } | Op::Wait { .. } | Op::AwaitExit { .. })
    }
}
