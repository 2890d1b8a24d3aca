//! PID 1 and the command's last steps before execve.
//!
//! With `[init] mode = "builtin"` the jail's first process stays PID 1 as a small init: it
//! blocks every signal, forks the command, and then loops (see [`crate::exec::initloop`]). With
//! `mode = "none"` the first process execs the command itself, which becomes PID 1 with all of
//! PID 1's duties, so the failure modes of a command that was not written for them show.

use nix::sys::resource::Resource;

use crate::config::InitMode;
use crate::limits::by_key;
use crate::plan::{Builder, Op, Side};
use crate::spec::{Origin, Spec};

/// Phases "init" (child, builtin only), "exec" (the command) and "reap" (child, builtin only).
pub fn plan(b: &mut Builder, spec: &Spec) {
    let d = Origin::Default;
    let builtin = spec.init == InitMode::Builtin;
    let exec_side = if builtin {
        b.phase("init", Side::Child);
        b.step(Op::NotDumpable, d.clone());
        b.step(Op::BlockSignals, d.clone());
        b.step(Op::Fork, d.clone());
        Side::Command
    } else {
        Side::Child
    };
    b.phase("exec", exec_side);
    b.step(Op::Setsid, d.clone());
    b.step(Op::ResetSignals, d.clone());
    for (key, limit) in &spec.limits.rlimits {
        let r = by_key(key);
        let resource = resource_name(r.resource, r.name);
        b.step(Op::Setrlimit { key: key.to_string(), resource, value: limit.value }, limit.origin.clone());
    }
    if spec.cwd.as_os_str() != "/" {
        b.step(Op::Chdir { path: spec.cwd.clone() }, spec.command_origin.clone());
    }
    b.step(Op::DropPtrace, d.clone());
    b.step(Op::CloseFds, d.clone());
    b.step(Op::Execve { argv: spec.argv.clone(), env: spec.env.clone() }, spec.command_origin.clone());
    if builtin {
        b.phase("reap", Side::Child);
        b.step(Op::Close { channel: crate::plan::Channel::Sync, end: 1 }, d.clone());
        b.step(Op::CloseHostFds, d.clone());
        b.step(Op::InitLoop { grace_ms: spec.grace_ms }, d);
    }
}

fn resource_name(_: Resource, name: &str) -> String {
    name.to_string()
}

// ---- performing the steps ----

use std::ffi::CString;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid};

use crate::exec::{Ctx, Failure, StepResult};

pub fn not_dumpable() -> StepResult {
    nix::sys::prctl::set_dumpable(false)?;
    Ok(())
}

pub fn block_signals() -> StepResult {
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::all()), None)?;
    Ok(())
}

pub fn fork(ctx: &mut Ctx) -> StepResult {
    // SAFETY: the process has one thread; the child only runs plan steps and then execs.
    match unsafe { nix::unistd::fork() }? {
        ForkResult::Child => ctx.side = Side::Command,
        ForkResult::Parent { child } => {
            ctx.command = Some(child);
            if ctx.side == Side::Parent {
                // procjail exec: the supervisor waits for this one.
                ctx.child = Some(child);
            }
        }
    }
    Ok(())
}

pub fn setsid() -> StepResult {
    nix::unistd::setsid()?;
    Ok(())
}

/// Empties the signal mask and puts every ignored signal back to its default action. Rust sets
/// SIGPIPE to ignored at start-up, procjail's own caller may have ignored others (nohup: SIGHUP),
/// and ignored signals survive execve: without this, `yes | head -1` would never end in the jail.
/// Handled signals need nothing: execve resets them. Which are ignored is read from
/// /proc/self/status (SigIgn); without a /proc, every signal is reset.
pub fn reset_signals() -> StepResult {
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)?;
    let ignored = ignored_signals().unwrap_or(u64::MAX);
    let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
    act.sa_sigaction = libc::SIG_DFL;
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP || ignored & (1 << (sig - 1)) == 0 {
            continue;
        }
        // SAFETY: a zeroed sigaction with SIG_DFL; the kernel's sigset is 8 bytes. The raw
        // syscall, because glibc refuses 32 and 33, which it keeps for itself.
        unsafe { libc::syscall(libc::SYS_rt_sigaction, sig, &act as *const libc::sigaction, 0usize, 8usize) };
    }
    Ok(())
}

/// The SigIgn mask of /proc/self/status.
fn ignored_signals() -> Option<u64> {
    let status = crate::host::read_small("/proc/self/status").ok()?;
    let hex = status.lines().find_map(|l| l.strip_prefix("SigIgn:"))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

/// Closes everything but 0, 1, 2 and the status channel, in the init.
pub fn close_host_fds(ctx: &Ctx) -> StepResult {
    let keep = ctx.status[1].as_ref().map(|f| std::os::fd::AsRawFd::as_raw_fd(f) as u32);
    let ranges = match keep {
        Some(k) if k > 3 => vec![(3, k - 1), (k + 1, u32::MAX)],
        Some(k) => vec![(k + 1, u32::MAX)],
        None => vec![(3, u32::MAX)],
    };
    for (first, last) in ranges {
        // SAFETY: closing descriptors this process does not use past this point.
        if unsafe { libc::syscall(libc::SYS_close_range, first, last, 0u32) } < 0 {
            return Err(Errno::last().into());
        }
    }
    Ok(())
}

pub fn setrlimit(key: &str, value: u64) -> StepResult {
    let r = by_key(key);
    let v = if value == u64::MAX { libc::RLIM_INFINITY } else { value };
    nix::sys::resource::setrlimit(r.resource, v, v).map_err(|e| {
        let detail = if e == Errno::EPERM { "raising a hard limit needs CAP_SYS_RESOURCE" } else { "" };
        Failure::new(e, detail)
    })
}

/// Marks every descriptor above 2 close-on-exec: the sync channel stays open until the exec
/// succeeds (so a failure can still be reported), and nothing of the host's leaks in.
pub fn close_fds() -> StepResult {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range only changes flags of this process's descriptors.
    let r = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    if r < 0 { Err(Errno::last().into()) } else { Ok(()) }
}

/// CAP_SYS_PTRACE out of the bounding set (no exec can get it back) and out of the effective,
/// permitted and inheritable sets. Without it, root in the jail cannot get past the init's
/// PR_SET_DUMPABLE 0 to /proc/1/mem, /proc/1/exe or ptrace.
pub fn drop_ptrace() -> StepResult {
    const CAP_SYS_PTRACE: u32 = 19;
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    // SAFETY: prctl and capget/capset with a v3 header and two data words, as the ABI says.
    unsafe {
        if libc::prctl(libc::PR_CAPBSET_DROP, CAP_SYS_PTRACE as libc::c_ulong, 0, 0, 0) != 0 {
            return Err(Errno::last().into());
        }
        let mut header = Header { version: 0x2008_0522, pid: 0 };
        let mut data = [Data::default(); 2];
        if libc::syscall(libc::SYS_capget, &mut header as *mut Header, data.as_mut_ptr()) != 0 {
            return Err(Errno::last().into());
        }
        let bit = !(1u32 << CAP_SYS_PTRACE);
        data[0].effective &= bit;
        data[0].permitted &= bit;
        data[0].inheritable &= bit;
        if libc::syscall(libc::SYS_capset, &mut header as *mut Header, data.as_ptr()) != 0 {
            return Err(Errno::last().into());
        }
    }
    Ok(())
}

fn cstring(s: &str) -> Result<CString, Failure> {
    CString::new(s).map_err(|_| Failure::new(Errno::EINVAL, "a NUL byte in an argument"))
}

/// execve, or for a bare name a PATH lookup as execvp does it (EACCES wins over ENOENT).
pub fn execve(argv: &[String], env: &[(String, String)]) -> StepResult {
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

/// The signals the init passes on to the command.
const FORWARD: &[Signal] = &[
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGCONT,
];

/// The built-in init, PID 1 of the jail. Every signal is blocked (step "sigprocmask"), so the
/// kernel queues them for us even though PID 1 has no handlers.
///
/// 1. Wait for a signal (sigtimedwait; a timeout only while the grace period runs).
/// 2. A forwardable signal goes to the command.
/// 3. Reap every child that has exited (SIGCHLDs coalesce, so loop until none is left).
/// 4. When the command has exited: SIGTERM to everything left in the jail, and start the grace
///    period; when it runs out, SIGKILL to everything.
/// 5. When no child is left (ECHILD): exit with the command's status, 128+N for signal N.
pub fn run_loop(grace_ms: u64, ctx: &mut Ctx) -> StepResult {
    let command = ctx.command.ok_or(Errno::ECHILD)?;
    let all = SigSet::all();
    let mut status: Option<i32> = None;
    let mut term_sent = false;
    let mut kill_at: Option<Instant> = None;
    loop {
        let timeout = kill_at.map(|t| t.saturating_duration_since(Instant::now()));
        let sig = crate::exec::supervise::take(&all, timeout);
        if let Some(s) = sig.filter(|s| FORWARD.contains(s))
            && status.is_none()
        {
            let _ = kill(command, s);
        }
        // Reap everything that has exited.
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => break,
                Ok(ws) => {
                    if ws.pid() == Some(command) {
                        let (code, how) = match ws {
                            WaitStatus::Exited(_, code) => (code, format!("exit {code}")),
                            WaitStatus::Signaled(_, s, _) => (128 + s as i32, format!("signal {}", s as i32)),
                            _ => continue,
                        };
                        status = Some(code);
                        tell_supervisor(ctx, &how);
                    }
                }
                Err(Errno::ECHILD) => unsafe { libc::_exit(status.unwrap_or(crate::cli::EXIT_FAILED)) },
                Err(_) => break,
            }
        }
        if status.is_some() && !term_sent {
            // SAFETY: kill(-1) from PID 1 signals every other process of the pid namespace.
            unsafe { libc::kill(-1, libc::SIGTERM) };
            term_sent = true;
            kill_at = Some(Instant::now() + Duration::from_millis(grace_ms));
        }
        if kill_at.is_some_and(|t| Instant::now() >= t) {
            unsafe { libc::kill(-1, libc::SIGKILL) };
            kill_at = None;
        }
    }
}

/// How the command ended, on the status channel: "exit N" or "signal N".
fn tell_supervisor(ctx: &Ctx, how: &str) {
    if let Some(fd) = ctx.status[1].as_ref() {
        let _ = nix::unistd::write(fd, how.as_bytes());
    }
}
