//! `procjail doctor PID|NAME`: reads what the kernel shows of a process (any process of the
//! host, or a running jail's command) and prints the facts and the findings; exit 0 with no
//! finding, 1 with one, 125 when the process cannot be read.

use crate::doctor::{self, Report};
use crate::host::process;
use crate::state;

/// The pid `doctor NAME` looks at: the jail's command (the init's first child), or the init
/// itself when there is no built-in init or no command any more.
fn jail_pid(name: &str) -> anyhow::Result<i32> {
    let s = state::running(name)?;
    Ok(super::inspect::command_pid(&s).unwrap_or(s.init_pid))
}

pub fn doctor(target: &str, as_json: bool) -> anyhow::Result<i32> {
    let (pid, jail) = match target.parse::<i32>() {
        Ok(pid) if pid > 0 => (pid, None),
        Ok(_) => anyhow::bail!("{target} is not a pid: pids start at 1"),
        Err(_) => {
            if let Some(problem) = crate::spec::name_problem(target) {
                anyhow::bail!("{target:?} is neither a pid nor a jail's name: {problem}");
            }
            (jail_pid(target)?, Some(target.to_string()))
        }
    };
    let reading = process::read(pid, &doctor::paths())?;
    let report = Report::of(&reading, jail.as_deref());
    if as_json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", doctor::text::text(&report));
    }
    Ok(report.exit_code())
}
