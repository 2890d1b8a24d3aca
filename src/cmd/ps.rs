//! `procjail ps`: the running jails, one line each (stale state is listed after them).

use std::path::Path;

use serde_json::json;

use crate::cgroups::files;
use crate::config::Size;
use crate::host::{CgroupKind, procfs, scan};
use crate::json::limit_value;
use crate::state::{self, State};

pub fn read_trim(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

fn read_u64(path: &Path) -> Option<u64> {
    read_trim(path)?.parse().ok()
}

/// Memory in use now, from the jail's memory cgroup.
fn memory_now<P>(s: &State<P>) -> Option<u64> {
    let dir = s.memory_cgroup.as_ref()?;
    read_u64(&dir.join(files::memory_current(s.cgroup_kind == CgroupKind::V2)))
}

pub fn uptime<P>(s: &State<P>) -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    now.saturating_sub(s.started_at)
}

pub fn ps(as_json: bool) -> anyhow::Result<i32> {
    let entries = state::all();
    let mut rows = Vec::new();
    for e in &entries {
        let Some(s) = e.state.as_ref().filter(|_| e.live) else { continue };
        // pids.current, or the processes in one of its cgroups (each has them all); a scan of
        // /proc only for a jail with no cgroup (a pure v1 host, no limits).
        let pids_now = s
            .pids_cgroup
            .as_ref()
            .and_then(|d| read_u64(&d.join("pids.current")))
            .or_else(|| Some(scan::cgroup_procs(s.cgroups.first()?).ok()?.len() as u64))
            .unwrap_or_else(|| procfs::processes_in_pidns(s.init_pid).len() as u64);
        rows.push((s, memory_now(s), pids_now));
    }
    let stale: Vec<&str> = entries.iter().filter(|e| !e.live).map(|e| e.name.as_str()).collect();
    if as_json {
        // Limits as strings (JavaScript rounds a u64 number), no limit as null.
        let rows: Vec<_> = rows
            .iter()
            .map(|(s, memory, pids)| {
                json!({
                    "name": s.name, "pid": s.supervisor_pid, "init_pid": s.init_pid, "uptime_s": uptime(s),
                    "memory": memory, "memory_limit": limit_value(s.memory_limit),
                    "pids": pids, "pids_limit": limit_value(s.pids_limit), "command": s.command.argv.join(" "),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&json!({ "jails": rows, "stale": stale }))?);
        return Ok(0);
    }
    println!(
        "{:<20} {:>7} {:>7} {:>7}  {:>17}  {:>9}  COMMAND",
        "NAME", "PID", "INIT", "UPTIME", "MEMORY", "PIDS"
    );
    for (s, memory, pids_now) in &rows {
        let human = |v: u64| Size(v).human();
        let mem = match (memory, s.memory_limit) {
            (Some(m), Some(l)) => format!("{}/{}", human(*m), human(l)),
            (Some(m), None) => human(*m),
            _ => "-".into(),
        };
        let pids = match s.pids_limit {
            Some(l) => format!("{pids_now}/{l}"),
            None => pids_now.to_string(),
        };
        let mut cmd = s.command.argv.join(" ");
        if cmd.chars().count() > 40 {
            cmd = cmd.chars().take(39).collect::<String>() + "…";
        }
        println!(
            "{:<20} {:>7} {:>7} {:>6}s  {mem:>17}  {pids:>9}  {cmd}",
            s.name,
            s.supervisor_pid,
            s.init_pid,
            uptime(s)
        );
    }
    for name in stale {
        println!("{name:<20} (stale: its supervisor is gone; `procjail gc` removes what it left)");
    }
    Ok(0)
}
