//! `procjail exec NAME -- CMD...`: a command in a running jail, by the plan of `build::exec`.

use crate::exec::{self, Options};
use crate::host::{Host, procfs};
use crate::namespaces::NAMESPACES;
use crate::{build, state};

pub fn exec(name: &str, argv: &[String], trace: bool) -> anyhow::Result<i32> {
    let state = state::running(name)?;
    let host = Host::detect();
    // Only the namespaces the jail has: the others are the host's, like ours.
    let init = state.entry_pid().to_string();
    let namespaces = NAMESPACES
        .iter()
        .filter(|ns| {
            let jail = procfs::namespace(&init, ns.proc_name);
            jail.is_some() && jail != procfs::namespace("self", ns.proc_name)
        })
        .map(|ns| ns.proc_name)
        .collect();
    let plan = build::exec(&state, argv, &build::Joined { namespaces, via: state.entry_pid() }, &host);
    let (report, result) = exec::run(&plan, &Options::traced(trace));
    result?;
    Ok(report.exit_code())
}
