//! How a step reads: as the syscall it is, with real arguments and symbolic flags.

use std::fmt::{self, Display, Formatter};
use std::path::Path;

use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;

use super::{Counter, Op, Value};

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

pub fn clone_flags(f: CloneFlags) -> String {
    names(f.iter_names().map(|(n, _)| n))
}

pub fn ms_flags(f: MsFlags) -> String {
    names(f.iter_names().map(|(n, _)| n))
}

fn names<'a>(it: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<&str> = it.collect();
    if v.is_empty() { "0".into() } else { v.join("|") }
}

pub fn ser_clone_flags<S: serde::Serializer>(f: &CloneFlags, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&clone_flags(*f))
}

pub fn ser_ms_flags<S: serde::Serializer>(f: &MsFlags, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&ms_flags(*f))
}

pub fn ser_mnt_flags<S: serde::Serializer>(f: &MntFlags, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&names(f.iter_names().map(|(n, _)| n)))
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

/// The signals the built-in init forwards to the command.
pub const INIT_FORWARDS: &str = "TERM,INT,HUP,QUIT,USR1,USR2,WINCH,CONT";
/// The signals the supervisor forwards to the jail's init.
pub const SUPERVISOR_FORWARDS: &str = "INT,TERM,HUP,QUIT,USR1,USR2";

impl Display for Op {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Op::Mkdir { path, mode, .. } => write!(f, "mkdir({}, 0{mode:o})", qp(path)),
            Op::CopyFile { from, to, mode } => {
                write!(f, "copy_file_range({} → {}); fchmod(0{mode:o})", qp(from), qp(to))
            }
            Op::Symlinks { target, dir, names } => {
                let shown: Vec<&str> = names.iter().take(6).map(String::as_str).collect();
                let more = if names.len() > 6 { ",…" } else { "" };
                let list = format!("{}/{{{}{more}}}", dir.display(), shown.join(","));
                write!(f, "symlink({}, {}) ×{}", quote(target), quote(&list), names.len())
            }
            Op::Write { path, value } => write!(f, "write({}, {value})", qp(path)),
            Op::SocketPair { channel } => {
                write!(f, "socketpair(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC, 0, {})", channel.as_str())
            }
            Op::Clone { flags, into_cgroup: None } => {
                write!(f, "clone({}|SIGCHLD) = $CHILD_PID", clone_flags(*flags))
            }
            Op::Clone { flags, into_cgroup: Some(cg) } => write!(
                f,
                "clone3({{flags: {}|CLONE_INTO_CGROUP, exit_signal: SIGCHLD, cgroup: open({})}}) = $CHILD_PID",
                clone_flags(*flags),
                qp(cg)
            ),
            Op::Close { channel, end } => write!(f, "close({}[{end}])", channel.as_str()),
            Op::SyncSend { end, msg } => write!(f, "write(sync[{end}], {})", quote(msg)),
            Op::SyncRecv { end, msg } => write!(f, "read(sync[{end}]) = {}", quote(msg)),
            Op::Pdeathsig => f.write_str("prctl(PR_SET_PDEATHSIG, SIGKILL)"),
            Op::Unshare { flags } => write!(f, "unshare({})", clone_flags(*flags)),
            Op::Mount { source, target, fstype, flags, data, .. } => write!(
                f,
                "mount({}, {}, {}, {}, {})",
                opt(source),
                qp(target),
                opt(fstype),
                ms_flags(*flags),
                opt(data)
            ),
            Op::OpenRoot { path } => write!(f, "open({}, O_PATH|O_DIRECTORY|O_CLOEXEC) = rootfd", qp(path)),
            Op::MountPoint { at, dir: true } => write!(f, "mkdir({}, 0755)", qp(&at.host())),
            Op::MountPoint { at, dir: false } => {
                write!(f, "mknod({}, S_IFREG|0644)", qp(&at.host()))
            }
            Op::SymlinkIn { target, at } => {
                write!(f, "symlink({}, {})", quote(target), qp(&at.host()))
            }
            Op::Chdir { path } => write!(f, "chdir({})", qp(path)),
            Op::PivotRoot { .. } => f.write_str("pivot_root(\".\", \".\")"),
            Op::Umount2 { target, flags } => {
                write!(f, "umount2({}, {})", qp(target), names(flags.iter_names().map(|(n, _)| n)))
            }
            Op::Sethostname { name } => write!(f, "sethostname({}, {})", quote(name), name.len()),
            Op::NotDumpable => f.write_str("prctl(PR_SET_DUMPABLE, 0)"),
            Op::BlockSignals => f.write_str("sigprocmask(SIG_SETMASK, [all], NULL)"),
            Op::Fork => f.write_str("fork() = $COMMAND_PID"),
            Op::Setsid => f.write_str("setsid()"),
            Op::ResetSignals => {
                f.write_str("sigprocmask(SIG_SETMASK, [], NULL); signal(each ignored, SIG_DFL)")
            }
            Op::Setrlimit { resource, value, .. } => {
                let v = if *value == u64::MAX { "RLIM_INFINITY".to_string() } else { value.to_string() };
                write!(f, "setrlimit({resource}, {{{v}, {v}}})")
            }
            Op::CloseFds => f.write_str("close_range(3, ~0U, CLOSE_RANGE_CLOEXEC)"),
            Op::DropPtrace => f.write_str("prctl(PR_CAPBSET_DROP, CAP_SYS_PTRACE); capset(-CAP_SYS_PTRACE)"),
            Op::CloseRoot => f.write_str("close(rootfd)"),
            Op::CloseHostFds => f.write_str("close_range(3, ~0U, 0) but status[1]"),
            Op::Execve { argv, env } => {
                let args: Vec<String> = argv.iter().map(|a| quote(a)).collect();
                let envs: Vec<String> = env.iter().map(|(k, v)| quote(&format!("{k}={v}"))).collect();
                let prog = argv.first().map(String::as_str).unwrap_or("");
                let call = if prog.contains('/') { "execve" } else { "execvpe" };
                write!(f, "{call}({}, [{}], [{}])", quote(prog), args.join(", "), envs.join(", "))
            }
            Op::InitLoop { grace_ms } => write!(
                f,
                "init: sigwaitinfo() forwarding {INIT_FORWARDS} to $COMMAND_PID; waitpid(-1, WNOHANG) reaping; \
                 when the command exits: kill(-1, SIGTERM), {} later kill(-1, SIGKILL); \
                 write(status[1], its wait status); exit(its code, or 128+N for signal N)",
                crate::config::Duration(*grace_ms)
            ),
            Op::AwaitExec => f.write_str("read(sync[0]) = 0 (EOF: the command has exec'd)"),
            Op::Wait { grace_ms, timeout_ms } => {
                write!(f, "wait4($CHILD_PID, &status, 0, &rusage) forwarding {SUPERVISOR_FORWARDS}")?;
                if let Some(t) = timeout_ms {
                    let (t, g) = (crate::config::Duration(*t), crate::config::Duration(*grace_ms));
                    write!(f, "; after {t}: kill($CHILD_PID, SIGTERM), {g} later SIGKILL")?;
                }
                f.write_str("; read(status[0]): how the command ended")
            }
            Op::ReadCounter { path, counter } => {
                let what = match counter {
                    Counter::OomKills => "oom_kill",
                    Counter::MemoryPeak => "peak",
                    Counter::PidsMaxHit => "max",
                };
                write!(f, "read({}) → {what}", qp(path))
            }
            Op::KillChild => f.write_str("kill($CHILD_PID, SIGKILL) if it is still there"),
            Op::KillCgroup { path, kill_file: true } => {
                write!(f, "write({}, \"1\")", qp(&path.join("cgroup.kill")))
            }
            Op::KillCgroup { path, kill_file: false } => {
                write!(f, "kill(each pid of {}, SIGKILL)", qp(&path.join("cgroup.procs")))
            }
            Op::WaitEmpty { path } => {
                write!(f, "read({}) until empty", qp(&path.join("cgroup.procs")))
            }
            Op::Rmdir { path, .. } => write!(f, "rmdir({})", qp(path)),
            Op::Reclaim { path } => write!(f, "rmdir({}) if a killed run left it, empty", qp(path)),
            Op::OpenNs { ns, path } => write!(f, "open({}, O_RDONLY|O_CLOEXEC) = {ns}fd", qp(path)),
            Op::SetNs { ns, flag } => write!(f, "setns({ns}fd, {})", clone_flags(*flag)),
            Op::Chroot => f.write_str("fchdir(rootfd); chroot(\".\")"),
            Op::Lock { path } => {
                write!(f, "open({}, O_CREAT|O_WRONLY|O_CLOEXEC); flock(LOCK_EX|LOCK_NB)", qp(path))
            }
            Op::SaveState { path } => {
                write!(f, "write({}, state); rename(→ {})", qp(&path.with_extension("json.tmp")), qp(path))
            }
            Op::Unlink { path } => write!(f, "unlink({})", qp(path)),
            Op::CheckMounts => f.write_str("read(\"/proc/self/mountinfo\") == the table before the run"),
        }
    }
}
