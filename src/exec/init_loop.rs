//! The built-in init, PID 1 of the jail.

use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{SigSet, Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::ctx::{Done, Handles};
use crate::error::{EXIT_FAILED, Failure};
use crate::plan::INIT_FORWARDS;
use crate::sys;

/// Every signal is blocked (step "sigprocmask"), so the kernel queues them for us even though
/// PID 1 has no handlers.
///
/// 0. Once the command has run 100 ms: drop the pages it was cloned with and will not read
///    again, the heap and the code of setup.
/// 1. Wait for a signal (sigtimedwait; a timeout only for the trim and the grace period).
/// 2. A forwardable signal goes to the command.
/// 3. Reap every child that has exited (SIGCHLDs coalesce, so loop until none is left).
/// 4. When the command has exited: tell the supervisor how, SIGTERM to everything left in the
///    jail, and start the grace period; when it runs out, SIGKILL to everything.
/// 5. When no child is left (ECHILD): exit with the command's status, 128+N for signal N.
pub fn run(grace_ms: u64, h: &Handles) -> Result<Done, Failure> {
    let command = h.command.ok_or(Errno::ECHILD)?;
    // The loop reads only locals and `h` (on the walker's stack): once the command has run a
    // while, the heap and the code the init was cloned with can go (an idle jail's memory).
    let mut trim_at = Some(Instant::now() + sys::memory::IDLE);
    let all = SigSet::all();
    let mut status: Option<i32> = None;
    let mut term_sent = false;
    let mut kill_at: Option<Instant> = None;
    loop {
        let now = Instant::now();
        let timeout =
            [kill_at, trim_at].into_iter().flatten().min().map(|t| t.saturating_duration_since(now));
        let sig = sys::sigtimedwait(&all, timeout);
        if trim_at.is_some_and(|t| Instant::now() >= t) {
            sys::trim_idle();
            trim_at = None;
        }
        if let Some(s) = sig.filter(|s| INIT_FORWARDS.contains(s))
            && status.is_none()
        {
            let _ = kill(command, s);
        }
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => break,
                Ok(ws) if ws.pid() == Some(command) => {
                    let (code, how) = match ws {
                        WaitStatus::Exited(_, code) => (code, format!("exit {code}")),
                        WaitStatus::Signaled(_, s, _) => (128 + s as i32, format!("signal {}", s as i32)),
                        _ => continue,
                    };
                    status = Some(code);
                    tell_supervisor(h, &how);
                }
                Ok(_) => {}
                Err(Errno::ECHILD) => sys::exit_now(status.unwrap_or(EXIT_FAILED)),
                Err(_) => break,
            }
        }
        if status.is_some() && !term_sent {
            sys::kill_all(Signal::SIGTERM);
            term_sent = true;
            kill_at = Some(Instant::now() + Duration::from_millis(grace_ms));
        }
        if kill_at.is_some_and(|t| Instant::now() >= t) {
            sys::kill_all(Signal::SIGKILL);
            kill_at = None;
        }
    }
}

/// How the command ended, on the status channel: "exit N" or "signal N".
fn tell_supervisor(h: &Handles, how: &str) {
    if let Some(fd) = h.status[1].as_ref() {
        let _ = nix::unistd::write(fd, how.as_bytes());
    }
}
