//! PID 1 and the command's last steps before execve.
//!
//! With `[init] mode = "builtin"` the jail's first process stays PID 1 as a small init: it
//! blocks every signal, forks the command, and then loops (`exec/init_loop.rs`). With
//! `mode = "none"` the first process execs the command itself, which becomes PID 1 with all of
//! PID 1's duties, so the failure modes of a command that was not written for them show.
//!
//! [`exec_tail`] is the one place the command's last steps are planned: `up` and `exec` both
//! take it, so a command run with `procjail exec` is set up exactly as the jail's own.

use crate::config::InitMode;
use crate::confine::TailMarks;
use crate::host::Host;
use crate::plan::{Builder, Channel, Op, PhaseKind, READY, STARTED, Side, VERIFIED};
use crate::spec::{Exec, Origin, Spec};

/// The umask the command starts with, as runc and podman give it.
pub const COMMAND_UMASK: u32 = 0o022;

/// Whether the jail's first process says "started" once its namespaces, mounts and cgroups are
/// those the command will have, so that the supervisor reads them while the command is made
/// and takes its last steps (`build::up` plans the reading on this same answer). Root's
/// supervisor only: another user's cannot read the jail's /proc/PID/ns (the command sends its
/// own with "ready").
pub fn announces_start(host: &Host) -> bool {
    host.uid == 0
}

/// Phases "init" (child, builtin only), "exec" (the command) and "reap" (child, builtin only).
/// Returns the steps of the exec tail that the checks before execve point at.
pub fn plan(b: &mut Builder, spec: &Spec, host: &Host) -> TailMarks {
    let d = Origin::Default;
    let builtin = spec.init == InitMode::Builtin;
    let started = Op::SyncSend { end: 1, msg: STARTED.into() };
    if announces_start(host) {
        // The init as it makes the command; with no init, the command itself, before its tail.
        b.step(started, d.clone());
    }
    let exec_side = if builtin {
        b.phase(PhaseKind::Init, Side::Child);
        b.step(Op::NotDumpable, d.clone());
        b.step(Op::BlockSignals { set: crate::plan::SignalSet::All }, d.clone());
        crate::confine::child_bounding(b, spec, host);
        b.step(Op::Fork { until_exec: true }, d.clone());
        Side::Command
    } else {
        Side::Child
    };
    let bounding = if builtin {
        crate::confine::before_fork(spec, host)
    } else {
        crate::host::caps::all(host.cap_last_cap)
    };
    let marks = exec_tail(b, &spec.exec(), exec_side, host, bounding, !announces_start(host));
    if builtin {
        b.phase(PhaseKind::Reap, Side::Child);
        b.step(Op::Close { channel: Channel::Sync, end: 1 }, d.clone());
        b.step(Op::CloseHostFds, d.clone());
        crate::confine::init(b, spec, host);
        b.step(Op::InitLoop { grace_ms: spec.grace_ms }, d);
    }
    marks
}

/// Phase "exec": a new session, default signals, the umask, the rlimits, the confinement
/// (capabilities, the user, the working directory, no_new_privs, only fds 0-2, seccomp), then
/// "ready" to the supervisor, which reads back what the kernel did before it says "verified",
/// and execve. The process is already in the jail's root, with "/" as its working directory.
/// `bounding`: the bounding set the process holds when the tail starts. `report_ns`: the
/// supervisor cannot read the command's /proc/PID/ns (it is not root on the host, or it has
/// joined the jail's user namespace), so the command sends its own with "ready".
pub fn exec_tail(
    b: &mut Builder,
    cmd: &Exec,
    side: Side,
    host: &Host,
    bounding: u64,
    report_ns: bool,
) -> TailMarks {
    let d = Origin::Default;
    b.phase(PhaseKind::Exec, side);
    b.step(Op::Setsid, d.clone());
    b.step(Op::ResetSignals { ignored: host.sig_ignored }, d.clone());
    b.step(Op::Umask { mask: COMMAND_UMASK }, d.clone());
    let mut marks = TailMarks::default();
    for r in &cmd.rlimits {
        let op = Op::Setrlimit { key: r.key.clone(), soft: r.soft, hard: r.hard };
        let step = b.step(op, r.origin.clone());
        marks.rlimits.push((r.key.clone(), (r.soft, r.hard), step));
    }
    crate::confine::command(b, cmd, bounding, &mut marks);
    if report_ns {
        b.step(Op::SendReadyNs, d.clone());
    } else {
        b.step(Op::SyncSend { end: 1, msg: READY.into() }, d.clone());
    }
    b.step(Op::SyncRecv { end: 1, msg: VERIFIED.into() }, d);
    b.step(Op::Execve { argv: cmd.argv.clone(), env: cmd.env.clone() }, cmd.origin.clone());
    marks
}
