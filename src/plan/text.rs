//! How a step reads: as the syscall it is, with real arguments and symbolic flags. Unknown flag
//! bits are shown as `|0x...`, never dropped.

use std::fmt::{self, Display, Formatter};
use std::path::Path;

use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;

use super::op::{INIT_FORWARDS, SUPERVISOR_SIGNALS};
use super::{Cond, Counter, Op, Proc, SignalSet, Target, Value};
use crate::config::Duration;

/// `"text"`, with the escapes a C string literal would need.
pub fn quote(s: &str) -> String {
    format!("{s:?}")
}

fn qp(p: &Path) -> String {
    quote(&p.to_string_lossy())
}

fn opt(s: &Option<String>) -> String {
    s.as_deref().map_or_else(|| "NULL".to_string(), quote)
}

/// The names of the set bits, then any bits without a name as one hex number.
fn names<'a>(named: impl Iterator<Item = (&'a str, u64)>, bits: u64) -> String {
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

fn ms_flags(f: MsFlags) -> String {
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
fn signal_list(list: &[Signal]) -> String {
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
            Cond::Exists(p) => write!(f, "if {} exists", qp(p)),
            Cond::NotReaped(p) => write!(f, "if {} is not reaped", p.var()),
        }
    }
}

/// The in-root path as openat2 gets it: relative to rootfd ("." for "/").
fn rel(p: &Path) -> String {
    let r = p.strip_prefix("/").unwrap_or(p);
    quote(if r.as_os_str().is_empty() { "." } else { r.to_str().unwrap_or("?") })
}

/// `$fd = openat2(rootfd, "dev", O_PATH, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS)`
fn in_root(var: &str, p: &Path, flags: &str, no_symlinks: bool) -> String {
    let extra = if no_symlinks { "|RESOLVE_NO_SYMLINKS" } else { "" };
    format!(
        "{var} = openat2(rootfd, {}, {flags}|O_CLOEXEC, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS{extra})",
        rel(p)
    )
}

fn parent_and_name(p: &Path) -> (&Path, String) {
    let parent = p.parent().unwrap_or(Path::new("/"));
    (parent, quote(&p.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned())))
}

impl Display for Op {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Op::Umask { mask } => write!(f, "umask({mask:04o})"),
            Op::Mkdir { path, mode, exist_ok: true } => {
                write!(f, "mkdir({}, 0{mode:o}), EEXIST is fine", qp(path))
            }
            Op::Mkdir { path, mode, exist_ok: false } => write!(f, "mkdir({}, 0{mode:o})", qp(path)),
            Op::CopyFile { from, to, mode } => write!(
                f,
                "open({}, O_RDONLY); open({}, O_WRONLY|O_CREAT|O_EXCL, 0{mode:o}); copy_file_range(…) until done",
                qp(from),
                qp(to)
            ),
            Op::Symlinks { target, dir, names } => {
                let list = format!("{}/{{{}}}", dir.display(), names.join(","));
                write!(f, "symlink({}, {}) ×{}", quote(target), quote(&list), names.len())
            }
            Op::Write { path, value } => write!(f, "write({}, {value})", qp(path)),
            Op::Unlink { path } => write!(f, "unlink({})", qp(path)),
            Op::Rmdir { path } => write!(f, "rmdir({}), retried while EBUSY", qp(path)),
            Op::Lock { path } => {
                write!(f, "open({}, O_CREAT|O_WRONLY|O_CLOEXEC, 0600); flock(LOCK_EX|LOCK_NB)", qp(path))
            }
            Op::SaveState { path } => write!(
                f,
                "open({}, O_CREAT|O_TRUNC|O_WRONLY|O_CLOEXEC, 0644); write(state); rename(→ {})",
                qp(&path.with_extension("json.tmp")),
                qp(path)
            ),
            Op::OpenRoot { path } => write!(f, "open({}, O_PATH|O_DIRECTORY|O_CLOEXEC) = rootfd", qp(path)),
            Op::MountPoint { at, dir, no_symlinks } => {
                let (parent, name) = parent_and_name(at);
                let open = in_root("$dir", parent, "O_DIRECTORY", *no_symlinks);
                let make =
                    if *dir { "mkdirat($dir, {name}, 0755)" } else { "mknodat($dir, {name}, S_IFREG|0644)" };
                write!(f, "{open}; {} unless it exists", make.replace("{name}", &name))
            }
            Op::SymlinkIn { target, at } => {
                let (parent, name) = parent_and_name(at);
                write!(
                    f,
                    "{}; symlinkat({}, $dir, {name})",
                    in_root("$dir", parent, "O_DIRECTORY", false),
                    quote(target)
                )
            }
            Op::Mount { source, target, fstype, flags, data } => {
                let (prefix, t) = match target {
                    Target::Path(p) => (String::new(), qp(p)),
                    Target::InRoot(p) => {
                        (format!("{}; ", in_root("$fd", p, "O_PATH", false)), quote("/proc/self/fd/$fd"))
                    }
                };
                write!(
                    f,
                    "{prefix}mount({}, {t}, {}, {}, {})",
                    opt(source),
                    opt(fstype),
                    ms_flags(*flags),
                    opt(data)
                )
            }
            Op::Chdir { path } => write!(f, "chdir({})", qp(path)),
            Op::PivotRoot => f.write_str("pivot_root(\".\", \".\")"),
            Op::Umount2 { target, flags } => write!(f, "umount2({}, {})", qp(target), mnt_flags(*flags)),
            Op::CloseRoot => f.write_str("close(rootfd)"),
            Op::Chroot => f.write_str("fchdir(rootfd); chroot(\".\"); chdir(\"/\")"),
            Op::Clone { flags, into_cgroup: None } => {
                write!(f, "clone({}|SIGCHLD) = $CHILD_PID", clone_flags(*flags))
            }
            Op::Clone { flags, into_cgroup: Some(cg) } => write!(
                f,
                "clone3({{flags: {}|CLONE_INTO_CGROUP, exit_signal: SIGCHLD, cgroup: open({}, O_PATH)}}) = $CHILD_PID",
                clone_flags(*flags),
                qp(cg)
            ),
            Op::Unshare { flags } => write!(f, "unshare({})", clone_flags(*flags)),
            Op::Sethostname { name } => write!(f, "sethostname({}, {})", quote(name), name.len()),
            Op::OpenNs { ns, path } => write!(f, "open({}, O_RDONLY|O_CLOEXEC) = {ns}fd", qp(path)),
            Op::SetNs { ns, flag } => write!(f, "setns({ns}fd, {})", clone_flags(*flag)),
            Op::SocketPair { channel } => {
                write!(f, "socketpair(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC, 0, {})", channel.as_str())
            }
            Op::Close { channel, end } => write!(f, "close({}[{end}])", channel.as_str()),
            Op::SyncSend { end, msg } => write!(f, "write(sync[{end}], {})", quote(msg)),
            Op::SyncRecv { end, msg } => write!(f, "read(sync[{end}]) = {}", quote(msg)),
            Op::Pdeathsig => f.write_str("prctl(PR_SET_PDEATHSIG, SIGKILL)"),
            Op::NotDumpable => f.write_str("prctl(PR_SET_DUMPABLE, 0)"),
            Op::BlockSignals { set: SignalSet::All } => f.write_str("sigprocmask(SIG_SETMASK, [all], NULL)"),
            Op::BlockSignals { set: SignalSet::Supervisor } => {
                write!(f, "sigprocmask(SIG_BLOCK, [{},CHLD], NULL)", signal_list(SUPERVISOR_SIGNALS))
            }
            Op::Fork => f.write_str("fork() = $COMMAND_PID"),
            Op::Setsid => f.write_str("setsid()"),
            Op::ResetSignals => {
                f.write_str("sigprocmask(SIG_SETMASK, [], NULL); rt_sigaction(each ignored, SIG_DFL)")
            }
            Op::Setrlimit { key, value } => {
                let v = if *value == u64::MAX { "RLIM_INFINITY".to_string() } else { value.to_string() };
                write!(f, "setrlimit({}, {{{v}, {v}}})", crate::host::rlimits::by_key(key).name)
            }
            Op::CloseFds => f.write_str("close_range(3, ~0U, CLOSE_RANGE_CLOEXEC)"),
            Op::CloseHostFds => f.write_str("close_range(3, ~0U, 0) but status[1]"),
            Op::Execve { argv, env } => {
                let args: Vec<String> = argv.iter().map(|a| quote(a)).collect();
                let envs: Vec<String> = env.iter().map(|(k, v)| quote(&format!("{k}={v}"))).collect();
                let prog = argv.first().map(String::as_str).unwrap_or("");
                let call = if prog.contains('/') { "execve" } else { "execvpe" };
                write!(f, "{call}({}, [{}], [{}])", quote(prog), args.join(", "), envs.join(", "))
            }
            Op::KillChild => f.write_str("kill($CHILD_PID, SIGKILL); wait4($CHILD_PID)"),
            Op::Signal { pid, start, signal, who } => write!(
                f,
                "pidfd_open({pid}) = pidfd, if {who} still started at tick {start}; pidfd_send_signal(pidfd, {})",
                signal.as_str()
            ),
            Op::DropPtrace => f.write_str("prctl(PR_CAPBSET_DROP, CAP_SYS_PTRACE); capset(-CAP_SYS_PTRACE)"),
            Op::InitLoop { grace_ms } => write!(
                f,
                "init: sigtimedwait() forwarding {} to $COMMAND_PID; waitpid(-1, WNOHANG) reaping; \
                 when the command exits: write(status[1], how it ended), kill(-1, SIGTERM), {} later kill(-1, SIGKILL); \
                 exit(its code, or 128+N for signal N) when no child is left",
                signal_list(INIT_FORWARDS),
                Duration(*grace_ms)
            ),
            Op::AwaitExec => f.write_str("read(sync[0]) = 0 (EOF: the command has exec'd)"),
            Op::Wait { pid, grace_ms, timeout_ms } => {
                let p = pid.var();
                write!(f, "wait4({p}, &status, 0, &rusage) forwarding {}", signal_list(SUPERVISOR_SIGNALS))?;
                write!(
                    f,
                    "; a second INT or TERM, or {} after the first: kill({p}, SIGKILL)",
                    Duration(*grace_ms)
                )?;
                if let Some(t) = timeout_ms {
                    write!(f, "; after {}: kill({p}, SIGTERM)", Duration(*t))?;
                }
                if *pid == Proc::Child {
                    f.write_str("; read(status[0]): how the command ended")?;
                }
                Ok(())
            }
            Op::AwaitExit { timeout_ms } => {
                write!(f, "poll(pidfd, POLLIN, {}) = 1: it has exited", Duration(*timeout_ms))
            }
            Op::KillCgroup { path, kill_file: true } => {
                write!(f, "write({}, \"1\")", qp(&path.join("cgroup.kill")))
            }
            Op::KillCgroup { path, kill_file: false } => {
                write!(f, "kill(each pid of {}, SIGKILL)", qp(&path.join("cgroup.procs")))
            }
            Op::WaitEmpty { path } => write!(f, "read({}) until empty", qp(&path.join("cgroup.procs"))),
            Op::ReadCounter { path, counter } => {
                let what = match counter {
                    Counter::OomKills => "oom_kill",
                    Counter::MemoryPeak => "peak",
                    Counter::PidsMaxHit => "max",
                };
                write!(f, "read({}) → {what}", qp(path))
            }
            Op::CheckMounts => f.write_str("read(\"/proc/self/mountinfo\"): no new mount under the rootfs"),
            Op::CheckGone { path } => write!(f, "stat({}) = ENOENT", qp(path)),
        }
    }
}
