//! `procjail ps`: the running jails, one line each (stale state is listed after them).

use std::path::Path;

use serde_json::json;

use crate::cgroups::files;
use crate::config::Size;
use crate::host::{CgroupKind, procfs};
use crate::state::{self, State};

pub fn read_trim(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

fn read_u64(path: &Path) -> Option<u64> {
    read_trim(path)?.parse().ok()
}

/// Memory in use now, from the jail's memory cgroup.
fn memory_now(s: &State) -> Option<u64> {
    let dir = s.memory_cgroup.as_ref()?;
    read_u64(&dir.join(files::memory_current(s.cgroup_kind == CgroupKind::V2)))
}

pub fn uptime(s: &State) -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    now.saturating_sub(s.started_at)
}

pub fn ps(as_json: bool) -> anyhow::Result<i32> {
    let entries = state::all();
    let mut rows = Vec::new();
    for e in &entries {
        let Some(s) = e.state.as_ref().filter(|_| e.live) else { continue };
        let pids_now = s
            .pids_cgroup
            .as_ref()
            .and_then(|d| read_u64(&d.join("pids.current")))
            .unwrap_or(procfs::processes_in_pidns(s.init_pid).len() as u64);
        rows.push(json!({
            "name": s.name, "pid": s.supervisor_pid, "init_pid": s.init_pid, "uptime_s": uptime(s),
            "memory": memory_now(s), "memory_limit": s.memory_limit,
            "pids": pids_now, "pids_limit": s.pids_limit, "command": s.command.argv.join(" "),
        }));
    }
    let stale: Vec<&str> = entries.iter().filter(|e| !e.live).map(|e| e.name.as_str()).collect();
    if as_json {
        println!("{}", serde_json::to_string_pretty(&json!({ "jails": rows, "stale": stale }))?);
        return Ok(0);
    }
    println!(
        "{:<20} {:>7} {:>7} {:>7}  {:>17}  {:>9}  COMMAND",
        "NAME", "PID", "INIT", "UPTIME", "MEMORY", "PIDS"
    );
    for r in &rows {
        let human = |v: u64| Size(v).human();
        let mem = match (r["memory"].as_u64(), r["memory_limit"].as_u64()) {
            (Some(m), Some(l)) => format!("{}/{}", human(m), human(l)),
            (Some(m), None) => human(m),
            _ => "-".into(),
        };
        let pids = match r["pids_limit"].as_u64() {
            Some(l) => format!("{}/{l}", r["pids"]),
            None => r["pids"].to_string(),
        };
        let mut cmd = r["command"].as_str().unwrap_or("").to_string();
        if cmd.chars().count() > 40 {
            cmd = cmd.chars().take(39).collect::<String>() + "…";
        }
        let name = r["name"].as_str().unwrap_or("");
        println!(
            "{name:<20} {:>7} {:>7} {:>6}s  {mem:>17}  {pids:>9}  {cmd}",
            r["pid"], r["init_pid"], r["uptime_s"]
        );
    }
    for name in stale {
        println!("{name:<20} (stale: its supervisor is gone; `procjail gc` removes what it left)");
    }
    Ok(0)
}
