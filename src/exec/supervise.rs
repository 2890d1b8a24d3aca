//! The supervisor's side while the jail runs: wait for the exec, then for the jail's end,
//! forwarding signals to its init and enforcing `--timeout`.

use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};

use super::{Ctx, Failure, RunError, StepResult, step_error};
use crate::plan::Plan;

/// Signals the supervisor forwards to the jail's init.
const FORWARD: &[Signal] =
    &[Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP, Signal::SIGQUIT, Signal::SIGUSR1, Signal::SIGUSR2];

fn handled() -> SigSet {
    let mut set = SigSet::empty();
    for s in FORWARD {
        set.add(*s);
    }
    set.add(Signal::SIGCHLD);
    set
}

/// Blocks the forwarded signals and SIGCHLD for the supervisor's lifetime, so they queue up to
/// be read with sigtimedwait (and a Ctrl-C during setup still leads to teardown).
pub struct SignalGuard {
    old: SigSet,
}

impl SignalGuard {
    pub fn block() -> anyhow::Result<SignalGuard> {
        let mut old = SigSet::empty();
        sigprocmask(SigmaskHow::SIG_BLOCK, Some(&handled()), Some(&mut old))?;
        Ok(SignalGuard { old })
    }
}

impl Drop for SignalGuard {
    fn drop(&mut self) {
        // Drop what is still pending of ours (SIGCHLD mostly), then restore the mask.
        while take(&handled(), Some(Duration::ZERO)).is_some() {}
        let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.old), None);
    }
}

/// sigtimedwait on `set`, for the supervisor and the init alike; None on timeout.
pub fn take(set: &SigSet, timeout: Option<Duration>) -> Option<Signal> {
    let ts = timeout.map(|d| libc::timespec { tv_sec: d.as_secs() as i64, tv_nsec: d.subsec_nanos() as i64 });
    let tsp = ts.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers for the call's duration.
    let sig = unsafe { libc::sigtimedwait(set.as_ref(), &mut info, tsp) };
    Signal::try_from(sig).ok()
}

/// A stopping signal (INT, TERM, HUP, QUIT) that arrived during setup, if any.
pub fn interrupted() -> Option<Signal> {
    let mut set = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP, Signal::SIGQUIT] {
        set.add(s);
    }
    take(&set, Some(Duration::ZERO))
}

/// Waits for the command's exec: EOF on the sync channel means every copy of the jail's end
/// was closed by exec (or exit); a message is a failed step of the child's.
pub fn await_exec(ctx: &mut Ctx, plan: &Plan) -> StepResult {
    let _ = plan;
    let fd = ctx.sync[0].as_ref().ok_or(Errno::EBADF)?;
    let mut buf = [0u8; 4096];
    let n = loop {
        match nix::unistd::read(fd, &mut buf) {
            Err(Errno::EINTR) => continue,
            other => break other?,
        }
    };
    if n == 0 {
        return Ok(());
    }
    match crate::namespaces::parse_failure(&buf[..n]) {
        Some(report) => {
            let f = report.1.clone();
            ctx.child_error = Some(report);
            Err(f)
        }
        None => Err(Failure::new(
            Errno::EPROTO,
            format!("unreadable report from the jail: {:?}", String::from_utf8_lossy(&buf[..n])),
        )),
    }
}

/// The error of the child's step, when the failure came from the child.
pub fn take_child_error(ctx: &mut Ctx, plan: &Plan) -> Option<RunError> {
    if ctx.child_error.is_none()
        && let Some(fd) = ctx.sync[0].as_ref()
    {
        // A parent step failed because the child is gone: look for its report.
        let mut pfd = [nix::poll::PollFd::new(std::os::fd::AsFd::as_fd(fd), nix::poll::PollFlags::POLLIN)];
        if nix::poll::poll(&mut pfd, nix::poll::PollTimeout::from(100u16)).unwrap_or(0) > 0 {
            let mut buf = [0u8; 4096];
            if let Ok(n) = nix::unistd::read(fd, &mut buf) {
                ctx.child_error = crate::namespaces::parse_failure(&buf[..n]);
            }
        }
    }
    let (index, f) = ctx.child_error.take()?;
    let step = plan.steps().find(|s| s.index == index)?;
    Some(step_error(plan, step, &f))
}

/// Waits for the jail's first process to end, forwarding signals to it. A first INT or TERM
/// is forwarded and starts the grace period; a second one, or the end of the grace period,
/// kills the jail. `--timeout` sends TERM when it runs out, then the same grace.
pub fn wait(grace_ms: u64, timeout_ms: Option<u64>, ctx: &mut Ctx) -> StepResult {
    let child = ctx.child.ok_or(Errno::ECHILD)?;
    let start = Instant::now();
    let grace = Duration::from_millis(grace_ms);
    let timeout_at = timeout_ms.map(|t| start + Duration::from_millis(t));
    let mut kill_at: Option<Instant> = None;
    let set = handled();
    loop {
        if let Some(status) = reap(ctx, child)? {
            ctx.report.set_status(status, ctx.started.unwrap_or(start).elapsed());
            read_command_status(ctx);
            return Ok(());
        }
        let now = Instant::now();
        let next = [timeout_at, kill_at].into_iter().flatten().min();
        let sig = take(&set, next.map(|t| t.saturating_duration_since(now)));
        let now = Instant::now();
        match sig {
            Some(Signal::SIGCHLD) => {}
            Some(s @ (Signal::SIGINT | Signal::SIGTERM)) if kill_at.is_some() => {
                eprintln!("procjail: second {s}: killing the jail now");
                let _ = kill(child, Signal::SIGKILL);
            }
            Some(s) => {
                let _ = kill(child, s);
                if matches!(s, Signal::SIGINT | Signal::SIGTERM) {
                    kill_at = Some(now + grace);
                }
            }
            None => {
                if timeout_at.is_some_and(|t| now >= t) && !ctx.report.timed_out {
                    ctx.report.timed_out = true;
                    let after = crate::config::Duration(timeout_ms.unwrap_or_default());
                    eprintln!("procjail: timeout after {after}: sending SIGTERM");
                    let _ = kill(child, Signal::SIGTERM);
                    kill_at = Some(now + grace);
                } else if kill_at.is_some_and(|t| now >= t) {
                    eprintln!("procjail: the jail is still running after the grace period: SIGKILL");
                    let _ = kill(child, Signal::SIGKILL);
                    kill_at = None;
                }
            }
        }
    }
}

/// The built-in init's word on how the command ended ("exit N" or "signal N"), if it sent one.
fn read_command_status(ctx: &mut Ctx) {
    let Some(fd) = ctx.status[0].as_ref() else { return };
    let mut buf = [0u8; 64];
    let _ = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK));
    if let Ok(n) = nix::unistd::read(fd, &mut buf) {
        ctx.report.set_command_status(&String::from_utf8_lossy(&buf[..n]));
    }
}

/// wait4(child, WNOHANG) with rusage; the status once it has ended.
fn reap(ctx: &mut Ctx, child: nix::unistd::Pid) -> Result<Option<i32>, Failure> {
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers.
    let r = unsafe { libc::wait4(child.as_raw(), &mut status, libc::WNOHANG, &mut usage) };
    match r {
        0 => Ok(None),
        -1 => Err(Errno::last().into()),
        _ => {
            ctx.reaped = true;
            ctx.report.set_rusage(&usage);
            Ok(Some(status))
        }
    }
}
