//! `procjail audit` (what procjail left on the host) and `procjail gc` (remove it, by the plan
//! of `build::gc`).

use crate::build;
use crate::exec::{self, Options};
use crate::host::{Host, scan};
use crate::state::{self, Leftover};

/// Prints what procjail left; exit 1 if anything.
pub fn audit(names: &[String]) -> anyhow::Result<i32> {
    let found = state::leftovers(names);
    for l in &found {
        let extra = match l {
            Leftover::Cgroup { processes, .. } if *processes > 0 => format!(" ({processes} processes)"),
            _ => String::new(),
        };
        println!("{}: {}{extra}", l.what(), l.place());
    }
    if found.is_empty() {
        println!("nothing left by procjail");
        Ok(0)
    } else {
        println!("{} thing(s) left; `procjail gc` removes them", found.len());
        Ok(1)
    }
}

/// Removes what `audit` finds; with no jail left at all, the empty parent folders too.
pub fn gc(names: &[String], plan_only: bool) -> anyhow::Result<i32> {
    let found = state::leftovers(names);
    let stale = found.iter().filter(|l| matches!(l, Leftover::State { .. })).count();
    let no_jail_left = names.is_empty() && state::all().len() == stale;
    let plan = build::gc(&found, &scan::cgroup_mounts(), no_jail_left, &Host::detect());
    if plan_only {
        super::show(&plan, None);
        return Ok(0);
    }
    exec::run(&plan, &Options::traced(false)).1?;
    for l in &found {
        println!("removed {}: {}", l.what(), l.place());
    }
    Ok(0)
}
