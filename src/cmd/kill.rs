//! `procjail kill NAME [SIGNAL] [--all]` and `procjail down NAME`: signals to a running jail,
//! by the plans of `build::kill` and `build::down`.

use std::time::Duration;

use nix::sys::signal::Signal;

use crate::build::{self, Target};
use crate::exec::{self, Options};
use crate::host::{Host, procfs};
use crate::state;

/// A signal from its name ("TERM", "SIGTERM") or number.
pub fn parse_signal(s: &str) -> anyhow::Result<Signal> {
    if let Ok(n) = s.parse::<i32>() {
        return Ok(Signal::try_from(n)?);
    }
    let name = if s.starts_with("SIG") { s.to_uppercase() } else { format!("SIG{}", s.to_uppercase()) };
    name.parse()
        .map_err(|_| anyhow::anyhow!("{s:?} is not a signal (try TERM, INT, KILL, HUP, USR1, or a number)"))
}

/// To the jail's init (which forwards it to the command), or with `all` to every process of
/// the jail; with `plan_only`, the plan is printed instead.
pub fn kill(name: &str, signal: Signal, all: bool, plan_only: bool) -> anyhow::Result<i32> {
    let s = state::running(name)?;
    let targets: Vec<Target> = if all {
        // The init last: a SIGKILL to a pid namespace's PID 1 kills the rest with it, and their
        // steps would then find them gone.
        let mut procs = procfs::processes_in_pidns(s.init_pid);
        procs.sort_by_key(|(_, inner, _)| *inner == 1);
        procs
            .into_iter()
            .filter_map(|(pid, inner, _)| {
                let start = procfs::start_time(pid)?;
                Some(Target { pid, start, who: format!("pid {inner} of jail {name}") })
            })
            .collect()
    } else {
        vec![Target { pid: s.init_pid, start: s.init_start, who: format!("the init of jail {name}") }]
    };
    let plan = build::kill(&s, &targets, signal, &Host::detect());
    if plan_only {
        super::show(&plan, None);
        return Ok(0);
    }
    exec::run(&plan, &Options::traced(false)).1?;
    match targets.as_slice() {
        [one] if !all => eprintln!("procjail: sent {signal} to the init of jail {name} (pid {})", one.pid),
        _ => eprintln!("procjail: sent {signal} to {} process(es) of jail {name}", targets.len()),
    }
    Ok(0)
}

/// SIGTERM to the supervisor, which forwards it and kills after the grace period; then waits
/// until the supervisor has torn the jail down.
pub fn down(name: &str, wait: Duration, plan_only: bool) -> anyhow::Result<i32> {
    let s = state::running(name)?;
    let plan = build::down(&s, wait.as_millis() as u64, &Host::detect());
    if plan_only {
        super::show(&plan, None);
        return Ok(0);
    }
    exec::run(&plan, &Options::traced(false)).1?;
    eprintln!("procjail: jail {name} is down");
    Ok(0)
}
