//! The plans of `procjail kill` and `procjail down`: signals through pidfds, each checked
//! against the process's start time, so a reused pid is never signalled.

use nix::sys::signal::Signal;

use crate::host::Host;
use crate::host::user::JailFiles;
use crate::plan::{Builder, Facts, Op, PhaseKind, Plan, Side};
use crate::spec::Origin;
use crate::state::State;

/// A process to signal, as read from the host: its pid, start time and what it is.
#[derive(Debug, Clone)]
pub struct Target {
    pub pid: i32,
    pub start: u64,
    pub who: String,
}

/// `procjail kill NAME [SIGNAL] [--all]`: the signal to each target.
pub fn kill(state: &State, targets: &[Target], signal: Signal, host: &Host) -> Plan {
    let mut b = Builder::default();
    b.phase(PhaseKind::Signal, Side::Parent);
    for t in targets {
        let op = Op::Signal { pid: t.pid, start: t.start, signal, who: t.who.clone() };
        b.step(op, Origin::Default);
    }
    b.finish(&state.name, &state.file, host, Facts::default())
}

/// `procjail down NAME`: SIGTERM to the supervisor (which forwards it to the jail and kills it
/// after the grace period), wait for it to exit, check that its teardown removed the state.
pub fn down(state: &State, wait_ms: u64, host: &Host) -> Plan {
    let d = Origin::Default;
    let mut b = Builder::default();
    b.phase(PhaseKind::Signal, Side::Parent);
    let who = format!("the supervisor of jail {}", state.name);
    let (pid, start) = (state.supervisor_pid, state.supervisor_start);
    b.step(Op::Signal { pid, start, signal: Signal::SIGTERM, who }, d.clone());
    b.step(Op::AwaitExit { timeout_ms: wait_ms }, d.clone());
    b.step(Op::CheckGone { path: JailFiles::of(&host.state_dir, &state.name).lock }, d);
    b.finish(&state.name, &state.file, host, Facts::default())
}
