//! How a step reads: as the syscall it is, with real arguments and symbolic flags. Unknown flag
//! bits are shown as `|0x...`, never dropped.

use std::fmt::{self, Display, Formatter};
use std::path::Path;

use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;

use super::op::{INIT_FORWARDS, SUPERVISOR_SIGNALS};
use super::text_rootfs::{
    dir_var, in_root, mask, mount, mount_point, mount_setattr, read_only, symlink_in, sysctl,
};
use super::words::{
    bounding_drop, capset, device_filter, id_map_helper, observe, reset_signals, seccomp, set_user, verify,
};
use super::{Channel, Cond, Counter, Op, Proc, SignalSet, Value};
use crate::config::Duration;
use crate::host::caps;

/// `"text"`, with the escapes a C string literal would need.
pub fn quote(s: &str) -> String {
    format!("{s:?}")
}

pub(super) fn qp(p: &Path) -> String {
    quote(&p.to_string_lossy())
}

pub(super) fn opt(s: &Option<String>) -> String {
    s.as_deref().map_or_else(|| "NULL".to_string(), quote)
}

/// The names of the set bits, then any bits without a name as one hex number.
pub(super) fn names<'a>(named: impl Iterator<Item = (&'a str, u64)>, bits: u64) -> String {
    let mut out = Vec::new();
    let mut known = 0;
    for (name, b) in named {
        out.push(name.to_string());
        known |= b;
    }
    if bits & !known != 0 {
        out.push(format!("{:#x}", bits & !known));
    }
    if out.is_empty() { "0".into() } else { out.join("|") }
}

pub fn clone_flags(f: CloneFlags) -> String {
    names(f.iter_names().map(|(n, v)| (n, v.bits() as u32 as u64)), f.bits() as u32 as u64)
}

pub(super) fn ms_flags(f: MsFlags) -> String {
    names(f.iter_names().map(|(n, v)| (n, v.bits())), f.bits())
}

fn mnt_flags(f: MntFlags) -> String {
    names(f.iter_names().map(|(n, v)| (n, v.bits() as u32 as u64)), f.bits() as u32 as u64)
}

pub fn ser_clone_flags<S: serde::Serializer>(f: &CloneFlags, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&clone_flags(*f))
}

pub fn ser_ms_flags<S: serde::Serializer>(f: &MsFlags, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&ms_flags(*f))
}

pub fn ser_mnt_flags<S: serde::Serializer>(f: &MntFlags, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&mnt_flags(*f))
}

pub fn ser_signal<S: serde::Serializer>(sig: &Signal, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(sig.as_str())
}

/// `TERM,INT,...`
pub(super) fn signal_list(list: &[Signal]) -> String {
    list.iter().map(|s| s.as_str().trim_start_matches("SIG")).collect::<Vec<_>>().join(",")
}

impl Display for Value {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Value::Text(t) => f.write_str(&quote(t)),
            Value::ChildPid => f.write_str("\"$CHILD_PID\""),
            Value::SelfPid => f.write_str("\"$SELF\""),
        }
    }
}

impl Display for Cond {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Cond::Ran(n) => write!(f, "if step {n} ran"),
            Cond::NotRan(n) => write!(f, "unless step {n} ran"),
            Cond::Exists(p) => write!(f, "if {} exists", qp(p)),
            Cond::NotReaped(p) => write!(f, "if {} is not reaped", p.var()),
            Cond::InRootExists(p) => write!(f, "if {} exists in the jail", qp(p)),
        }
    }
}

impl Display for Op {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

impl Op {
    /// The step as the syscalls it makes: one line per op, the longer ones in helpers below.
    fn text(&self) -> String {
        match self {
            Op::Umask { mask } => format!("umask({mask:04o})"),
            Op::Mkdir { path, mode, exist_ok: true } => {
                format!("mkdir({}, 0{mode:o}), EEXIST is fine", qp(path))
            }
            Op::Mkdir { path, mode, exist_ok: false } => format!("mkdir({}, 0{mode:o})", qp(path)),
            Op::CopyFile { from, to, mode } => copy_file(from, to, *mode),
            Op::Symlinks { target, dir, names } => symlinks(target, dir, names),
            Op::Write { path, value } => format!("write({}, {value})", qp(path)),
            Op::Unlink { path } => format!("unlink({})", qp(path)),
            Op::Rmdir { path } => format!("rmdir({}), retried while EBUSY", qp(path)),
            Op::Lock { path } => {
                let p = qp(path);
                format!(
                    "open({p}, O_CREAT|O_WRONLY|O_CLOEXEC, 0600); flock(LOCK_EX|LOCK_NB); again while {p} is not the file locked"
                )
            }
            Op::SaveState { path } => save_state(path),
            Op::OpenRoot { path } => format!("open({}, O_PATH|O_DIRECTORY|O_CLOEXEC) = rootfd", qp(path)),
            Op::MountPoint { at, dir, no_symlinks, via } => mount_point(at, *dir, *no_symlinks, *via),
            Op::SymlinkIn { target, at, via } => symlink_in(target, at, *via),
            Op::OpenDir { at, no_symlinks } => in_root(&dir_var(at), at, "O_PATH|O_DIRECTORY", *no_symlinks),
            Op::CloseDir { at } => format!("close({})", dir_var(at)),
            Op::Mount { source, target, fstype, flags, data } => mount(source, target, fstype, *flags, data),
            Op::Chdir { path } => format!("chdir({})", qp(path)),
            Op::PivotRoot => "pivot_root(\".\", \".\")".into(),
            Op::Umount2 { target, flags } => format!("umount2({}, {})", qp(target), mnt_flags(*flags)),
            Op::CloseRoot => "close(rootfd)".into(),
            Op::Chroot => "fchdir(rootfd); chroot(\".\"); chdir(\"/\")".into(),
            Op::Clone { flags, into_cgroup } => clone(*flags, into_cgroup.as_deref()),
            Op::Unshare { flags } => format!("unshare({})", clone_flags(*flags)),
            Op::Sethostname { name } => format!("sethostname({}, {})", quote(name), name.len()),
            Op::OpenProc => "open(\"/proc\", O_PATH|O_DIRECTORY|O_CLOEXEC) = procfd".into(),
            Op::OpenNs { ns, path } => format!("open({}, O_RDONLY|O_CLOEXEC) = {ns}fd", qp(path)),
            Op::SetNs { ns, flag } => format!("setns({ns}fd, {})", clone_flags(*flag)),
            Op::SocketPair { channel: Channel::Sync } => {
                "socketpair(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC, 0, sync); setsockopt(sync[0], SOL_SOCKET, SO_PASSCRED, 1)".into()
            }
            Op::SocketPair { channel } => {
                format!("socketpair(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC, 0, {})", channel.as_str())
            }
            Op::Close { channel, end } => format!("close({}[{end}])", channel.as_str()),
            Op::SyncSend { end, msg } => format!("write(sync[{end}], {})", quote(msg)),
            Op::SyncRecv { end, msg } => format!("read(sync[{end}]) = {}", quote(msg)),
            Op::Pdeathsig => "prctl(PR_SET_PDEATHSIG, SIGKILL)".into(),
            Op::NotDumpable => "prctl(PR_SET_DUMPABLE, 0)".into(),
            Op::BlockSignals { set: SignalSet::All } => "sigprocmask(SIG_SETMASK, [all], NULL)".into(),
            Op::BlockSignals { set: SignalSet::Supervisor } => supervisor_mask(),
            Op::Fork { until_exec: false } => "fork() = $COMMAND_PID".into(),
            Op::Fork { until_exec: true } => {
                "clone(CLONE_VFORK|SIGCHLD) = $COMMAND_PID, which runs while this process waits for its execve".into()
            }
            Op::Setsid => "setsid()".into(),
            Op::ResetSignals { ignored } => reset_signals(*ignored),
            Op::Setrlimit { key, soft, hard } => setrlimit(key, *soft, *hard),
            Op::CloseFds => "close_range(3, ~0U, CLOSE_RANGE_CLOEXEC)".into(),
            Op::CloseHostFds => "close_range(3, ~0U, 0) but status[1]".into(),
            Op::Execve { argv, env } => execve(argv, env),
            Op::Kill { pid } => format!("kill({0}, SIGKILL); wait4({0})", pid.var()),
            Op::Signal { pid, start, signal, who } => pidfd_signal(*pid, *start, *signal, who),
            Op::CapBoundingDrop { drop } => bounding_drop(*drop),
            Op::AmbientClear => "prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)".into(),
            Op::KeepCaps => "prctl(PR_SET_KEEPCAPS, 1)".into(),
            Op::SetUser { uid, gid, groups } => set_user(*uid, *gid, groups),
            Op::Capset { effective, permitted, inheritable } => capset(*effective, *permitted, *inheritable),
            Op::AmbientRaise { caps: c } => {
                format!("prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, each of: {})", caps::show(*c))
            }
            Op::NoNewPrivs => "prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)".into(),
            Op::Seccomp { program: p } => seccomp(p),
            Op::JoinKeyring => "keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL)".into(),
            Op::OomScoreAdj { value } => format!("write(\"/proc/self/oom_score_adj\", \"{value}\")"),
            Op::LinkUp { name } => {
                format!("ioctl(socket(AF_INET, SOCK_DGRAM), SIOCSIFFLAGS, {{{}, IFF_UP}})", quote(name))
            }
            Op::MakeNetns { up } => make_netns(up),
            Op::JoinNetns => {
                format!("recvmsg(sync[1]) = {}, SCM_RIGHTS [$net]; setns($net, CLONE_NEWNET); close($net)", quote(super::NETNS))
            }
            Op::Sysctl { key, value } => sysctl(key, value),
            Op::OpenNull { path } => {
                format!("open({}, O_PATH|O_CLOEXEC) = nullfd; fstat(nullfd): char 1:3, or fail", qp(path))
            }
            Op::Mask { at } => mask(at),
            Op::ReadOnly { at } => read_only(at),
            Op::MountSetattr { target, set, recursive } => mount_setattr(target, *set, *recursive),
            Op::DeviceFilter { cgroup, rules, insns, .. } => device_filter(cgroup, rules, *insns),
            Op::InitLoop { grace_ms } => init_loop(*grace_ms),
            Op::AwaitStarted => "read(sync[0]) = \"started\" (or the report of a failed step)".into(),
            Op::Observe { pid, paths } => observe(*pid, paths.len()),
            Op::AwaitReady => "read(sync[0]) = \"ready\" (or the report of a failed step)".into(),
            Op::SendReadyNs => {
                "readlink(\"/proc/self/ns/*\"); write(sync[1], \"ready\" and the links)".into()
            }
            Op::Verify { pid, checks, observed } => {
                verify(*pid, checks.len(), *observed, checks.reads_limits())
            }
            Op::AwaitExec => "read(sync[0]) = 0 (EOF: the command has exec'd)".into(),
            Op::Wait { pid, grace_ms, timeout_ms, state } => wait(*pid, *grace_ms, *timeout_ms, state.as_deref()),
            Op::AwaitExit { timeout_ms } => {
                format!("poll(pidfd, POLLIN, {}) = 1: it has exited", Duration(*timeout_ms))
            }
            Op::KillCgroup { path, kill_file: true } => {
                let procs = qp(&path.join("cgroup.procs"));
                format!("write({}, \"1\") unless {procs} is empty", qp(&path.join("cgroup.kill")))
            }
            Op::KillCgroup { path, kill_file: false } => {
                format!("kill(each pid of {}, SIGKILL)", qp(&path.join("cgroup.procs")))
            }
            Op::WaitEmpty { path } => format!("read({}) until empty", qp(&path.join("cgroup.procs"))),
            Op::ReadCounter { path, counter } => read_counter(path, *counter),
            Op::CheckMounts => "read(\"/proc/self/mountinfo\"): no new mount under the rootfs".into(),
            Op::CheckGone { path } => format!("stat({}) = ENOENT", qp(path)),
            Op::WriteIdMap { file, text } => {
                format!("write(\"/proc/$CHILD_PID/{file}\", {})", quote(text.trim_end()))
            }
            Op::IdMapHelper { program, map } => id_map_helper(program, map),
            Op::CheckPrivate { path, uid } => {
                format!("lstat({}): a folder of uid {uid}, not writable by group or others", qp(path))
            }
        }
    }
}

fn make_netns(up: &str) -> String {
    format!(
        "$host_net = open(\"/proc/self/ns/net\"); unshare(CLONE_NEWNET); $sock = socket(AF_INET, SOCK_DGRAM); $net = open(\"/proc/thread-self/ns/net\"); setns($host_net, CLONE_NEWNET); sendmsg(sync[0], {}, SCM_RIGHTS [$net]); ioctl($sock, SIOCSIFFLAGS, {{{}, IFF_UP}})",
        quote(super::NETNS),
        quote(up)
    )
}

fn supervisor_mask() -> String {
    format!("sigprocmask(SIG_BLOCK, [{},CHLD], NULL)", signal_list(SUPERVISOR_SIGNALS))
}

fn copy_file(from: &Path, to: &Path, mode: u32) -> String {
    format!(
        "open({}, O_RDONLY); open({}, O_WRONLY|O_CREAT|O_EXCL, 0{mode:o}); copy_file_range(…) until done",
        qp(from),
        qp(to)
    )
}

fn symlinks(target: &str, dir: &Path, names: &[String]) -> String {
    let list = format!("{}/{{{}}}", dir.display(), names.join(","));
    format!("symlink({}, {}) ×{}", quote(target), quote(&list), names.len())
}

fn save_state(path: &Path) -> String {
    let tmp = qp(&crate::host::user::state_tmp(path));
    format!(
        "open({tmp}, O_CREAT|O_TRUNC|O_WRONLY|O_CLOEXEC, 0644); write(state); rename(→ {}), or unlink({tmp}) if either fails",
        qp(path)
    )
}

fn clone(flags: CloneFlags, into_cgroup: Option<&Path>) -> String {
    match into_cgroup {
        None => format!("clone({}|SIGCHLD) = $CHILD_PID", clone_flags(flags)),
        Some(cg) => format!(
            "clone3({{flags: {}|CLONE_INTO_CGROUP, exit_signal: SIGCHLD, cgroup: open({}, O_PATH)}}) = $CHILD_PID",
            clone_flags(flags),
            qp(cg)
        ),
    }
}

fn setrlimit(key: &str, soft: u64, hard: u64) -> String {
    let v = |x: u64| if x == u64::MAX { "RLIM_INFINITY".to_string() } else { x.to_string() };
    format!("setrlimit({}, {{{}, {}}})", crate::host::rlimits::by_key(key).name, v(soft), v(hard))
}

fn execve(argv: &[String], env: &[(String, String)]) -> String {
    let args: Vec<String> = argv.iter().map(|a| quote(a)).collect();
    let envs: Vec<String> = env.iter().map(|(k, v)| quote(&format!("{k}={v}"))).collect();
    let prog = argv.first().map(String::as_str).unwrap_or("");
    let call = if prog.contains('/') { "execve" } else { "execvpe" };
    format!("{call}({}, [{}], [{}])", quote(prog), args.join(", "), envs.join(", "))
}

fn pidfd_signal(pid: i32, start: u64, signal: Signal, who: &str) -> String {
    format!(
        "pidfd_open({pid}) = pidfd, if {who} still started at tick {start}; pidfd_send_signal(pidfd, {})",
        signal.as_str()
    )
}

fn init_loop(grace_ms: u64) -> String {
    format!(
        "init: sigtimedwait() forwarding {} to $COMMAND_PID; waitpid(-1, WNOHANG) reaping; \
         when the command exits: write(status[1], how it ended), kill(-1, SIGTERM), {} later kill(-1, SIGKILL); \
         exit(its code, or 128+N for signal N) when no child is left; once the command has run 100 ms: \
         madvise(the heap and code it was cloned with, MADV_DONTNEED)",
        signal_list(INIT_FORWARDS),
        Duration(grace_ms)
    )
}

fn wait(pid: Proc, grace_ms: u64, timeout_ms: Option<u64>, state: Option<&Path>) -> String {
    let p = pid.var();
    let mut s = format!("wait4({p}, &status, 0, &rusage) forwarding {}", signal_list(SUPERVISOR_SIGNALS));
    s += &format!("; a second INT or TERM, or {} after the first: kill({p}, SIGKILL)", Duration(grace_ms));
    if let Some(t) = timeout_ms {
        s += &format!("; after {}: kill({p}, SIGTERM)", Duration(t));
    }
    if pid == Proc::Child {
        s += "; read(status[0]): how the command ended";
    }
    s += "; once it has run 100 ms: ";
    if let Some(path) = state {
        s += &format!("the state again, now with the plan: {}; ", save_state(path));
    }
    s + "madvise(the heap's free top, MADV_DONTNEED), madvise(procjail's code, MADV_DONTNEED)"
}

fn read_counter(path: &Path, counter: Counter) -> String {
    let what = match counter {
        Counter::OomKills => "oom_kill",
        Counter::MemoryPeak => "peak",
        Counter::PidsMaxHit => "max",
    };
    format!("read({}) → {what}", qp(path))
}
