//! Namespaces: which ones the jail's first process is cloned into, the sync channel between
//! the supervisor and that process, and the steps that need a namespace (hostname, cgroup).
//!
//! The supervisor never unshares into itself: it clones a child with the namespace flags, so a
//! sethostname or pivot_root in the child cannot touch the host. The cgroup namespace is the
//! exception: it is entered by the child with unshare, after the supervisor has moved it into
//! its cgroup, so that the jail's view of /proc/self/cgroup is rooted at its own cgroup.

use nix::sched::CloneFlags;

use crate::cgroups::{self, Cgroups};
use crate::config::InitMode;
use crate::plan::{Builder, Channel, Op, Side};
use crate::spec::{Origin, Spec};

/// The message the supervisor sends once the child is in its cgroups.
pub const GO: &str = "go";

/// The clone flags of the jail (all but the cgroup namespace, entered later).
pub fn clone_flags(spec: &Spec) -> CloneFlags {
    let n = &spec.namespaces;
    let mut f = CloneFlags::empty();
    for (on, flag) in [
        (n.mount, CloneFlags::CLONE_NEWNS),
        (n.uts, CloneFlags::CLONE_NEWUTS),
        (n.ipc, CloneFlags::CLONE_NEWIPC),
        (n.pid, CloneFlags::CLONE_NEWPID),
        (n.net, CloneFlags::CLONE_NEWNET),
    ] {
        if on {
            f |= flag;
        }
    }
    f
}

/// Phase "spawn" (parent): the channels, clone (straight into the jail's cgroup2 folder when
/// there is one), the move into the v1 cgroups, "go". Returns the index of the clone step.
pub fn plan_spawn(b: &mut Builder, spec: &Spec, cg: &Cgroups) -> usize {
    b.phase("spawn", Side::Parent);
    let status = spec.init == InitMode::Builtin;
    b.step(Op::SocketPair { channel: Channel::Sync }, Origin::Default);
    if status {
        b.step(Op::SocketPair { channel: Channel::Status }, Origin::Default);
    }
    let into_cgroup = cg.unified_leaf().map(|l| l.path.clone());
    let clone = b.step(Op::Clone { flags: clone_flags(spec), into_cgroup }, Origin::Default);
    b.step(Op::Close { channel: Channel::Sync, end: 1 }, Origin::Default);
    if status {
        b.step(Op::Close { channel: Channel::Status, end: 1 }, Origin::Default);
    }
    cgroups::plan_join(b, cg);
    b.step(Op::SyncSend { end: 0, msg: GO.into() }, Origin::Default);
    b.step(Op::SaveState { path: crate::state::dir(&spec.name).join("state.json") }, Origin::Default);
    clone
}

/// The first steps of the child: keep only its ends of the channels, die with the supervisor.
pub fn plan_child_start(b: &mut Builder, spec: &Spec) {
    b.phase("enter", Side::Child);
    b.step(Op::Close { channel: Channel::Sync, end: 0 }, Origin::Default);
    if spec.init == InitMode::Builtin {
        b.step(Op::Close { channel: Channel::Status, end: 0 }, Origin::Default);
    }
    b.step(Op::Pdeathsig, Origin::Default);
}

/// Phase "confine" (child), once the jail is set up: wait for "go" (the supervisor has put the
/// child into all its cgroups, while the child was making its mounts), then enter the cgroup
/// namespace, so that the jail's cgroup is its root. If the supervisor died before
/// PR_SET_PDEATHSIG was set, the read sees EOF and the child gives up here.
pub fn plan_confine(b: &mut Builder, spec: &Spec) {
    b.phase("confine", Side::Child);
    b.step(Op::SyncRecv { end: 1, msg: GO.into() }, Origin::Default);
    if spec.namespaces.cgroup {
        b.step(Op::Unshare { flags: CloneFlags::CLONE_NEWCGROUP }, Origin::Default);
    }
}

/// sethostname, in the child's own uts namespace.
pub fn plan_hostname(b: &mut Builder, spec: &Spec) {
    if let Some((name, origin)) = &spec.hostname {
        b.step(Op::Sethostname { name: name.clone() }, origin.clone());
    }
}

// ---- performing the steps ----

use std::os::fd::AsRawFd;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::socket::{AddressFamily, SockFlag, SockType};
use nix::sys::stat::Mode;
use nix::unistd::Pid;

use crate::exec::{Ctx, Failure, StepResult};
use crate::plan::Step;

pub fn socketpair(channel: Channel, ctx: &mut Ctx) -> StepResult {
    let (a, b) =
        nix::sys::socket::socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)?;
    *ctx.channel(channel) = [Some(a), Some(b)];
    Ok(())
}

/// clone(2) without a new stack: like fork, the child goes on from here with a copy of the
/// supervisor (which has no other threads), in its new namespaces.
pub fn clone(flags: CloneFlags, into_cgroup: Option<&std::path::Path>, ctx: &mut Ctx) -> StepResult {
    let ret = match into_cgroup {
        None => {
            let raw = flags.bits() as libc::c_ulong | libc::SIGCHLD as libc::c_ulong;
            // SAFETY: a fork-like clone (no CLONE_VM, no new stack) of a single-threaded process.
            unsafe { libc::syscall(libc::SYS_clone, raw, 0usize, 0usize, 0usize, 0usize) }
        }
        Some(dir) => {
            let cgroup =
                nix::fcntl::open(dir, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
                    .map_err(|e| Failure::new(e, format!("cannot open {}", dir.display())))?;
            let args = CloneArgs {
                flags: flags.bits() as u64 | CLONE_INTO_CGROUP,
                exit_signal: libc::SIGCHLD as u64,
                cgroup: cgroup.as_raw_fd() as u64,
                ..CloneArgs::default()
            };
            // SAFETY: clone3 without CLONE_VM and without a stack is a fork into new namespaces
            // and the given cgroup; the process has one thread.
            unsafe {
                libc::syscall(libc::SYS_clone3, &args as *const CloneArgs, std::mem::size_of::<CloneArgs>())
            }
        }
    };
    match ret {
        -1 => Err(Errno::last().into()),
        0 => {
            ctx.side = Side::Child;
            Ok(())
        }
        pid => {
            ctx.started = Some(std::time::Instant::now());
            ctx.child = Some(Pid::from_raw(pid as i32));
            Ok(())
        }
    }
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// struct clone_args of clone3(2), up to `cgroup` (CLONE_ARGS_SIZE_VER2).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

pub fn close(channel: Channel, end: u8, ctx: &mut Ctx) -> StepResult {
    ctx.channel(channel)[usize::from(end)] = None;
    Ok(())
}

pub fn send(end: u8, msg: &str, ctx: &mut Ctx) -> StepResult {
    let fd = ctx.sync[usize::from(end)].as_ref().ok_or(Errno::EBADF)?;
    match nix::unistd::write(fd, msg.as_bytes()) {
        Ok(_) => Ok(()),
        Err(Errno::EPIPE) => Err(Failure::new(Errno::EPIPE, "the jail's first process is gone")),
        Err(e) => Err(e.into()),
    }
}

pub fn recv(end: u8, msg: &str, ctx: &mut Ctx) -> StepResult {
    let fd = ctx.sync[usize::from(end)].as_ref().ok_or(Errno::EBADF)?;
    let mut buf = [0u8; 64];
    let n = nix::unistd::read(fd, &mut buf)?;
    if n == 0 {
        return Err(Failure::new(Errno::EPIPE, "the supervisor is gone"));
    }
    if &buf[..n] != msg.as_bytes() {
        return Err(Failure::new(
            Errno::EPROTO,
            format!("expected {msg:?}, got {:?}", String::from_utf8_lossy(&buf[..n])),
        ));
    }
    Ok(())
}

/// Dies with the supervisor. Set before waiting for "go": if the supervisor died before this,
/// the read of "go" sees EOF, so there is no window where the child outlives it unnoticed.
pub fn pdeathsig() -> StepResult {
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)?;
    Ok(())
}

pub fn unshare(flags: CloneFlags) -> StepResult {
    nix::sched::unshare(flags)?;
    Ok(())
}

pub fn sethostname(name: &str) -> StepResult {
    nix::unistd::sethostname(name)?;
    Ok(())
}

/// Tells the supervisor which step failed: "index errno detail" on the jail's end.
pub fn report_failure(ctx: &Ctx, step: &Step, f: &Failure) {
    if let Some(fd) = ctx.sync[1].as_ref() {
        let msg = format!("{} {} {}", step.index, f.errno as i32, f.detail);
        // SAFETY: plain write on a descriptor we own; nothing to do if the supervisor is gone.
        unsafe { libc::write(fd.as_raw_fd(), msg.as_ptr().cast(), msg.len()) };
    }
}

/// Parses what [`report_failure`] sent.
pub fn parse_failure(msg: &[u8]) -> Option<(usize, Failure)> {
    let text = String::from_utf8_lossy(msg);
    let mut parts = text.splitn(3, ' ');
    let index = parts.next()?.parse().ok()?;
    let errno = Errno::from_raw(parts.next()?.parse().ok()?);
    Some((index, Failure::new(errno, parts.next().unwrap_or("").to_string())))
}
