//! The supervisor's side while the jail runs: wait for the exec, then for the jail's end,
//! forwarding signals to its init and enforcing `--timeout`.

use std::os::fd::AsFd;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{SigSet, Signal, kill};

use super::ctx::{Ctx, Handles, Journal, ProcKey};
use super::proc::signals;
use super::{step_error, sync};
use crate::error::{Failure, StepError};
use crate::plan::{Plan, Proc, SignalSet};
use crate::sys;

/// A stopping signal (INT, TERM, HUP or QUIT) that arrived during setup, if any.
pub fn interrupted() -> Option<Signal> {
    let mut set = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP, Signal::SIGQUIT] {
        set.add(s);
    }
    sys::sigtimedwait(&set, Some(Duration::ZERO))
}

/// Waits for the command to be ready for its execve: "ready" on the sync channel (with the
/// command's namespaces where it read them itself); anything else is a failed step's report.
/// Its pid comes with it (the sender's credentials).
pub fn await_ready(h: &Handles, j: &mut Journal) -> Result<(), Failure> {
    let (buf, n, sender) = read_sync_from(h)?;
    j.ready_pid = sender;
    if let Some(links) =
        buf[..n].strip_prefix(crate::plan::READY.as_bytes()).and_then(|r| r.strip_prefix(b"\n"))
    {
        j.own_ns = sync::parse_ns(links);
        return Ok(());
    }
    expect(&buf[..n], crate::plan::READY, "the jail ended before its command was ready", j)
}

/// Waits for "started": the jail's first process has its namespaces, mounts and cgroups.
pub fn await_started(h: &Handles, j: &mut Journal) -> Result<(), Failure> {
    let (buf, n) = read_sync(h)?;
    expect(&buf[..n], crate::plan::STARTED, "the jail ended before its command started", j)
}

/// `msg` is the message expected; nothing (every copy of the jail's end closed) says `ended`;
/// anything else is a failed step's report.
fn expect(msg: &[u8], want: &str, ended: &str, j: &mut Journal) -> Result<(), Failure> {
    match msg {
        m if m == want.as_bytes() => Ok(()),
        [] => Err(Failure::new(Errno::EPIPE, ended.to_string())),
        m => failed_step(m, j),
    }
}

/// One message from the jail on the sync channel (0 bytes: every copy of its end is closed).
fn read_sync(h: &Handles) -> Result<([u8; 4096], usize), Failure> {
    read_sync_from(h).map(|(buf, n, _)| (buf, n))
}

/// The same, and the pid of its sender (SO_PASSCRED), if the kernel passed it.
fn read_sync_from(h: &Handles) -> Result<([u8; 4096], usize, Option<i32>), Failure> {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, UnixCredentials, recvmsg};
    use std::os::fd::AsRawFd;
    let fd = h.sync[0].as_ref().ok_or(Errno::EBADF)?;
    let mut buf = [0u8; 4096];
    let mut space = nix::cmsg_space!(UnixCredentials);
    loop {
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        match recvmsg::<()>(fd.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
            Ok(msg) => {
                let pid = msg.cmsgs().ok().into_iter().flatten().find_map(|c| match c {
                    ControlMessageOwned::ScmCredentials(cred) => Some(cred.pid()),
                    _ => None,
                });
                let n = msg.bytes;
                return Ok((buf, n, pid.filter(|p| *p > 0)));
            }
        }
    }
}

/// A message that is not the one expected: the report of a failed step of the jail's.
fn failed_step(msg: &[u8], j: &mut Journal) -> Result<(), Failure> {
    match sync::parse_failure(msg) {
        Some(report) => {
            let f = report.1.clone();
            j.child_error = Some(report);
            Err(f)
        }
        None => {
            let got = String::from_utf8_lossy(msg);
            Err(Failure::new(Errno::EPROTO, format!("unreadable report from the jail: {got:?}")))
        }
    }
}

/// Waits for the command's exec: EOF on the sync channel means every copy of the jail's end
/// was closed by exec (or exit); a message is a failed step of the child's.
pub fn await_exec(h: &Handles, j: &mut Journal) -> Result<(), Failure> {
    let (buf, n) = read_sync(h)?;
    if n == 0 {
        return Ok(());
    }
    failed_step(&buf[..n], j)
}

/// The error of the child's step, when a failure came from the child: a parent step failed
/// because the child is gone, so look for its report.
pub fn take_child_error(ctx: &mut Ctx<'_>) -> Option<StepError> {
    if ctx.j.child_error.is_none()
        && let Some(fd) = ctx.h.sync[0].as_ref()
    {
        let mut pfd = [nix::poll::PollFd::new(fd.as_fd(), nix::poll::PollFlags::POLLIN)];
        if nix::poll::poll(&mut pfd, nix::poll::PollTimeout::from(100u16)).unwrap_or(0) > 0 {
            let mut buf = [0u8; 4096];
            if let Ok(n) = nix::unistd::read(fd, &mut buf) {
                ctx.j.child_error = sync::parse_failure(&buf[..n]);
            }
        }
    }
    let (index, f) = ctx.j.child_error.take()?;
    let step = ctx.plan.step(index)?;
    Some(step_error(ctx.plan, step, &f))
}

/// What a Wait step waits for, and how long it lets it end.
pub struct Wait {
    /// The step's index, for what it says when NAME.json cannot be written again.
    pub step: usize,
    pub who: Proc,
    pub grace_ms: u64,
    pub timeout_ms: Option<u64>,
}

/// Waits for the process to end, forwarding signals to it. A first INT or TERM is forwarded and
/// starts the grace period; a second one, or the end of the grace period, kills it. `--timeout`
/// sends TERM when it runs out, then the same grace. With `state`, once the jail has run
/// [`sys::memory::IDLE`], NAME.json is written again with the plan.
pub fn wait(w: Wait, state: Option<(&Path, &Plan)>, h: &Handles, j: &mut Journal) -> Result<(), Failure> {
    let Wait { step, who, grace_ms, timeout_ms } = w;
    let child = h.pid(who).ok_or(Errno::ECHILD)?;
    let start = Instant::now();
    let grace = Duration::from_millis(grace_ms);
    let timeout_at = timeout_ms.map(|t| start + Duration::from_millis(t));
    let mut kill_at: Option<Instant> = None;
    // A jail that runs on: what setup left in memory goes (a short one is not slowed by it).
    let mut trim_at = Some(start + sys::memory::IDLE);
    let set = signals(SignalSet::Supervisor);
    loop {
        if let Some((status, usage)) = sys::wait4_nohang(child)? {
            j.reaped.insert(ProcKey::from(who));
            j.report.set_rusage(&usage);
            j.report.set_status(status, j.started.unwrap_or(start).elapsed());
            if who == Proc::Child {
                read_command_status(h, j);
            }
            return Ok(());
        }
        let now = Instant::now();
        let next = [timeout_at, kill_at, trim_at].into_iter().flatten().min();
        let sig = sys::sigtimedwait(&set, next.map(|t| t.saturating_duration_since(now)));
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
                if trim_at.is_some_and(|t| now >= t) {
                    // Without it `inspect` lacks only the plan: the jail runs on, and is told.
                    if let Some((path, plan)) = state
                        && let Err(f) = super::fs::save_state(path, plan, h, j, true)
                        && let Some(s) = plan.step(step)
                    {
                        super::say(&format!("procjail: warning: {}", step_error(plan, s, &f)));
                    }
                    sys::trim_idle();
                    trim_at = None;
                }
                if timeout_at.is_some_and(|t| now >= t) && !j.report.timed_out {
                    j.report.timed_out = true;
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
fn read_command_status(h: &Handles, j: &mut Journal) {
    let Some(fd) = h.status[0].as_ref() else { return };
    let mut buf = [0u8; 64];
    let mut pfd = [nix::poll::PollFd::new(fd.as_fd(), nix::poll::PollFlags::POLLIN)];
    if nix::poll::poll(&mut pfd, nix::poll::PollTimeout::ZERO).unwrap_or(0) > 0
        && let Ok(n) = nix::unistd::read(fd, &mut buf)
    {
        j.report.set_command_status(&String::from_utf8_lossy(&buf[..n]));
    }
}
