//! Processes: death signal, dumpable, signal masks, fork, session, rlimits, descriptors,
//! execve, and signals to other processes (the jail's first process, or through a pidfd).

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd};

use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::wait::waitpid;

use super::ctx::{Done, Handles, Journal, ProcKey};
use crate::error::Failure;
use crate::host::{procfs, rlimits};
use crate::plan::{Proc, SUPERVISOR_SIGNALS, Side, SignalSet};
use crate::sys::{self, Forked};

/// Dies with the supervisor. Set before waiting for "go": if the supervisor died before this,
/// the read of "go" sees EOF, so there is no window where the child outlives it unnoticed.
pub fn pdeathsig() -> Result<(), Failure> {
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
    Ok(())
}

pub fn not_dumpable() -> Result<(), Failure> {
    nix::sys::prctl::set_dumpable(false)?;
    Ok(())
}

/// The supervisor's signals, or all: they queue up to be taken with sigtimedwait.
pub fn signals(set: SignalSet) -> SigSet {
    match set {
        SignalSet::All => SigSet::all(),
        SignalSet::Supervisor => {
            let mut s = SigSet::empty();
            for sig in SUPERVISOR_SIGNALS {
                s.add(*sig);
            }
            s.add(Signal::SIGCHLD);
            s
        }
    }
}

pub fn block_signals(set: SignalSet) -> Result<(), Failure> {
    let how = if set == SignalSet::All { SigmaskHow::SIG_SETMASK } else { SigmaskHow::SIG_BLOCK };
    sigprocmask(how, Some(&signals(set)), None)?;
    Ok(())
}

/// fork(2), or with `until_exec` clone(CLONE_VFORK): the new process walks the command's steps;
/// the parent notes its pid (with `until_exec`, once the command has exec'd or exited).
pub fn fork(until_exec: bool, h: &mut Handles) -> Result<Done, Failure> {
    let forked = if until_exec { sys::clone_fork(libc::CLONE_VFORK as u64) } else { sys::fork() };
    match forked? {
        Forked::Child => Ok(Done::Became(Side::Command)),
        Forked::Parent(pid) => {
            h.command = Some(pid);
            Ok(Done::Note(format!("$COMMAND_PID = {pid}")))
        }
    }
}

pub fn setsid() -> Result<(), Failure> {
    nix::unistd::setsid()?;
    Ok(())
}

/// Empties the signal mask and puts every ignored signal back to its default action. Rust sets
/// SIGPIPE to ignored at start-up, procjail's own caller may have ignored others (nohup: SIGHUP),
/// and ignored signals survive execve: without this, `yes | head -1` would never end in the jail.
/// Handled signals need nothing: execve resets them. Which are ignored is read from
/// /proc/self/status (SigIgn); without a /proc, every signal is reset.
pub fn reset_signals(ignored: u64) -> Result<(), Failure> {
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)?;
    for sig in crate::plan::resettable(ignored) {
        sys::default_action(sig)?;
    }
    Ok(())
}

pub fn setrlimit(key: &str, soft: u64, hard: u64) -> Result<(), Failure> {
    let r = rlimits::by_key(key);
    let v = |x: u64| if x == u64::MAX { libc::RLIM_INFINITY } else { x };
    nix::sys::resource::setrlimit(r.resource, v(soft), v(hard)).map_err(|e| {
        let detail = if e == Errno::EPERM { "raising a hard limit needs CAP_SYS_RESOURCE" } else { "" };
        Failure::new(e, detail)
    })
}

/// Marks every descriptor above 2 close-on-exec: the sync channel stays open until the exec
/// succeeds (so a failure can still be reported), and nothing of the host's leaks in.
pub fn close_fds() -> Result<(), Failure> {
    sys::close_range(3, u32::MAX, sys::CLOSE_RANGE_CLOEXEC)?;
    Ok(())
}

/// Closes everything but 0, 1, 2 and the status channel, in the init.
pub fn close_host_fds(h: &Handles) -> Result<(), Failure> {
    let keep = h.status[1].as_ref().map(|f| f.as_raw_fd() as u32);
    let ranges = match keep {
        Some(k) if k > 3 => vec![(3, k - 1), (k + 1, u32::MAX)],
        Some(k) => vec![(k + 1, u32::MAX)],
        None => vec![(3, u32::MAX)],
    };
    for (first, last) in ranges {
        sys::close_range(first, last, 0)?;
    }
    Ok(())
}

fn cstring(s: &str) -> Result<CString, Failure> {
    CString::new(s).map_err(|_| Failure::new(Errno::EINVAL, "a NUL byte in an argument"))
}

/// execve, or for a bare name a PATH lookup as execvp does it (EACCES wins over ENOENT).
pub fn execve(argv: &[String], env: &[(String, String)]) -> Result<(), Failure> {
    let args: Vec<CString> = argv.iter().map(|a| cstring(a)).collect::<Result<_, _>>()?;
    let envs: Vec<CString> =
        env.iter().map(|(k, v)| cstring(&format!("{k}={v}"))).collect::<Result<_, _>>()?;
    let prog = &argv[0];
    if prog.contains('/') {
        let e = nix::unistd::execve(&args[0], &args, &envs).unwrap_err();
        return Err(exec_failure(e, prog));
    }
    let path = env.iter().find(|(k, _)| k == "PATH").map_or(crate::spec::DEFAULT_PATH, |(_, v)| v.as_str());
    let mut seen = Errno::ENOENT;
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let full = cstring(&format!("{dir}/{prog}"))?;
        match nix::unistd::execve(&full, &args, &envs).unwrap_err() {
            Errno::ENOENT | Errno::ENOTDIR => {}
            Errno::EACCES => seen = Errno::EACCES,
            e => return Err(exec_failure(e, &format!("{dir}/{prog}"))),
        }
    }
    let f = exec_failure(seen, prog);
    Err(Failure::new(f.errno, format!("{} (PATH={path})", f.detail)))
}

fn exec_failure(e: Errno, prog: &str) -> Failure {
    let detail = match e {
        Errno::ENOENT => format!("{prog}: not found in the rootfs"),
        Errno::EACCES => format!("{prog}: not executable (no x bit, or on a noexec mount)"),
        Errno::ENOEXEC => format!("{prog}: not a program this kernel can run"),
        _ => format!("{prog}: cannot execute"),
    };
    Failure::new(e, detail)
}

/// A process of the plan, when setup stopped before it was waited for: SIGKILL and reap.
pub fn kill_proc(p: Proc, h: &Handles, j: &mut Journal) -> Result<(), Failure> {
    let pid = h.pid(p).ok_or(Errno::ESRCH)?;
    match kill(pid, Signal::SIGKILL) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(e) => return Err(e.into()),
    }
    waitpid(pid, None)?;
    j.reaped.insert(ProcKey::from(p));
    Ok(())
}

/// setgroups, setresgid, setresuid.
pub fn set_user(uid: u32, gid: u32, groups: &Option<Vec<u32>>) -> Result<(), Failure> {
    sys::set_ids(uid, gid, groups.as_deref()).map_err(|(e, call)| Failure::new(e, call))
}

pub fn oom_score_adj(value: i32) -> Result<(), Failure> {
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new().write(true).open("/proc/self/oom_score_adj")?;
    f.write_all(value.to_string().as_bytes())?;
    Ok(())
}

/// A pidfd for `pid`, checked against its start time after it is opened (from then on it
/// names that process, whatever happens to the pid); then the signal through it.
pub fn signal(pid: i32, start: u64, sig: Signal, who: &str, h: &mut Handles) -> Result<(), Failure> {
    let fd = sys::pidfd_open(pid).map_err(|e| Failure::new(e, format!("{who} (pid {pid}) is gone")))?;
    if procfs::start_time(pid) != Some(start) {
        return Err(Failure::new(
            Errno::ESRCH,
            format!("{who} (pid {pid}) is gone: the pid names another process"),
        ));
    }
    sys::pidfd_send_signal(fd.as_fd(), sig)?;
    h.pidfd = Some(fd);
    Ok(())
}

/// Waits until the process of the last pidfd has exited: the pidfd becomes readable.
pub fn await_exit(timeout_ms: u64, h: &Handles) -> Result<(), Failure> {
    let fd = h.pidfd.as_ref().ok_or(Errno::EBADF)?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(timeout_ms);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(Failure::new(Errno::ETIMEDOUT, "it is still running"));
        }
        let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [nix::poll::PollFd::new(fd.as_fd(), nix::poll::PollFlags::POLLIN)];
        match nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms)) {
            Ok(n) if n > 0 => return Ok(()),
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}
