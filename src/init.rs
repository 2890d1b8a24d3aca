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
use crate::plan::{Builder, Channel, Op, PhaseKind, Side};
use crate::spec::{Exec, Origin, Spec};

/// The umask the command starts with, as runc and podman give it.
pub const COMMAND_UMASK: u32 = 0o022;

/// Phases "init" (child, builtin only), "exec" (the command) and "reap" (child, builtin only).
pub fn plan(b: &mut Builder, spec: &Spec) {
    let d = Origin::Default;
    let builtin = spec.init == InitMode::Builtin;
    let exec_side = if builtin {
        b.phase(PhaseKind::Init, Side::Child);
        b.step(Op::NotDumpable, d.clone());
        b.step(Op::BlockSignals { set: crate::plan::SignalSet::All }, d.clone());
        b.step(Op::Fork, d.clone());
        Side::Command
    } else {
        Side::Child
    };
    exec_tail(b, &spec.exec(), exec_side);
    if builtin {
        b.phase(PhaseKind::Reap, Side::Child);
        b.step(Op::Close { channel: Channel::Sync, end: 1 }, d.clone());
        b.step(Op::CloseHostFds, d.clone());
        b.step(Op::InitLoop { grace_ms: spec.grace_ms }, d);
    }
}

/// Phase "exec": a new session, default signals, the umask, the rlimits, the working
/// directory, the capabilities, only fds 0-2, and execve. The process is already in the jail's
/// root, with "/" as its working directory.
pub fn exec_tail(b: &mut Builder, cmd: &Exec, side: Side) {
    let d = Origin::Default;
    b.phase(PhaseKind::Exec, side);
    b.step(Op::Setsid, d.clone());
    b.step(Op::ResetSignals, d.clone());
    b.step(Op::Umask { mask: COMMAND_UMASK }, d.clone());
    for r in &cmd.rlimits {
        b.step(Op::Setrlimit { key: r.key.clone(), value: r.value }, r.origin.clone());
    }
    if cmd.cwd.as_os_str() != "/" {
        b.step(Op::Chdir { path: cmd.cwd.clone() }, cmd.origin.clone());
    }
    b.step(Op::DropPtrace, d.clone());
    b.step(Op::CloseFds, d);
    b.step(Op::Execve { argv: cmd.argv.clone(), env: cmd.env.clone() }, cmd.origin.clone());
}
