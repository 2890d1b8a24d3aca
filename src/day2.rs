//! Day-2 commands on running jails: `ps`, `inspect`, `kill`, `down`, `audit` and `gc`.
//! They read the state under /run/procjail and the live values in /proc and cgroupfs.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};

use crate::leftovers;
use crate::state::{self, State};

const NAMESPACES: &[&str] = &["mnt", "uts", "ipc", "pid", "net", "cgroup"];

/// Cgroup files whose values `inspect` shows, when the folder has them.
const CGROUP_FILES: &[&str] = &[
    "memory.current",
    "memory.peak",
    "memory.max",
    "memory.events",
    "memory.usage_in_bytes",
    "memory.max_usage_in_bytes",
    "memory.limit_in_bytes",
    "memory.oom_control",
    "pids.current",
    "pids.max",
    "pids.events",
    "cpu.stat",
    "cpu.max",
    "cpu.cfs_quota_us",
    "cpuacct.usage",
    "cgroup.procs",
];

fn read_trim(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

fn read_u64(path: &Path) -> Option<u64> {
    read_trim(path)?.parse().ok()
}

/// Memory in use now: memory.current (v2) or memory.usage_in_bytes (v1).
fn memory_now(s: &State) -> Option<u64> {
    let dir = s.memory_cgroup.as_ref()?;
    read_u64(&dir.join("memory.current")).or_else(|| read_u64(&dir.join("memory.usage_in_bytes")))
}

/// The processes of the jail: those in the pid namespace of its first process, as
/// (host pid, pid in the jail, command line).
pub fn processes(s: &State) -> Vec<(i32, i32, String)> {
    let Ok(ns) = std::fs::read_link(format!("/proc/{}/ns/pid", s.init_pid)) else { return Vec::new() };
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
        if std::fs::read_link(e.path().join("ns/pid")).ok().as_ref() != Some(&ns) {
            continue;
        }
        let status = std::fs::read_to_string(e.path().join("status")).unwrap_or_default();
        let inner = status
            .lines()
            .find_map(|l| l.strip_prefix("NSpid:"))
            .and_then(|v| v.split_whitespace().last()?.parse().ok())
            .unwrap_or(0);
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmdline).replace('\0', " ").trim().to_string();
        out.push((pid, inner, cmd));
    }
    out.sort();
    out
}

fn human(bytes: u64) -> String {
    crate::config::Size(bytes - bytes % 1024).to_string()
}

fn uptime(s: &State) -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    now.saturating_sub(s.started_at)
}

/// `procjail ps`: the running jails, one line each (stale state is listed after them).
pub fn ps(as_json: bool) -> anyhow::Result<i32> {
    let entries = state::all();
    let mut rows = Vec::new();
    for e in &entries {
        let Some(s) = e.state.as_ref().filter(|_| e.live) else { continue };
        let pids_now = s
            .pids_cgroup
            .as_ref()
            .and_then(|d| read_u64(&d.join("pids.current")))
            .unwrap_or(processes(s).len() as u64);
        rows.push(json!({
            "name": s.name, "pid": s.supervisor_pid, "init_pid": s.init_pid, "uptime_s": uptime(s),
            "memory": memory_now(s), "memory_limit": s.memory_limit,
            "pids": pids_now, "pids_limit": s.pids_limit, "command": s.argv.join(" "),
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
        println!(
            "{:<20} {:>7} {:>7} {:>6}s  {mem:>17}  {pids:>9}  {cmd}",
            r["name"].as_str().unwrap_or(""),
            r["pid"],
            r["init_pid"],
            r["uptime_s"]
        );
    }
    for name in stale {
        println!("{name:<20} (stale: its supervisor is gone; `procjail gc` removes what it left)");
    }
    Ok(0)
}

/// Everything about one running jail, as JSON.
fn inspect_value(s: &State) -> Value {
    let ns: serde_json::Map<String, Value> = NAMESPACES
        .iter()
        .map(|n| {
            let link = std::fs::read_link(format!("/proc/{}/ns/{n}", s.init_pid)).ok();
            let host = std::fs::read_link(format!("/proc/self/ns/{n}")).ok();
            let inode = |l: Option<PathBuf>| l.map(|l| l.display().to_string());
            (n.to_string(), json!({ "jail": inode(link), "host": inode(host) }))
        })
        .collect();
    let cgroups: serde_json::Map<String, Value> = s
        .cgroups
        .iter()
        .map(|dir| {
            let files: serde_json::Map<String, Value> = CGROUP_FILES
                .iter()
                .filter_map(|f| read_trim(&dir.join(f)).map(|v| (f.to_string(), Value::String(v))))
                .collect();
            (dir.display().to_string(), Value::Object(files))
        })
        .collect();
    let mountinfo = std::fs::read_to_string(format!("/proc/{}/mountinfo", s.init_pid)).unwrap_or_default();
    let mounts: Vec<Value> = mountinfo
        .lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let mut r = right.split(' ');
            let point = left.split(' ').nth(4)?;
            let options = left.split(' ').nth(5)?;
            Some(json!({ "target": point, "fstype": r.next()?, "source": r.next()?, "options": options }))
        })
        .collect();
    let procs: Vec<Value> = processes(s)
        .into_iter()
        .map(|(pid, inner, cmd)| json!({ "pid": pid, "jail_pid": inner, "command": cmd }))
        .collect();
    json!({
        "name": s.name, "supervisor_pid": s.supervisor_pid, "init_pid": s.init_pid, "uptime_s": uptime(s),
        "file": s.file, "file_sha256": s.file_sha256, "rootfs": s.rootfs,
        "namespaces": ns, "cgroups": cgroups, "mounts": mounts, "processes": procs, "plan": s.plan,
    })
}

/// `procjail inspect NAME`.
pub fn inspect(name: &str, as_json: bool) -> anyhow::Result<i32> {
    let s = state::running(name)?;
    let v = inspect_value(&s);
    if as_json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(0);
    }
    println!(
        "jail {} (supervisor pid {}, first process pid {}, up {}s)",
        s.name,
        s.supervisor_pid,
        s.init_pid,
        uptime(&s)
    );
    println!("file    {} (sha256 {})", s.file.display(), s.file_sha256);
    println!("rootfs  {}", s.rootfs.display());
    println!("\nnamespaces (jail / host)");
    for n in NAMESPACES {
        let e = &v["namespaces"][n];
        println!("  {n:<7} {:<24} {}", e["jail"].as_str().unwrap_or("-"), e["host"].as_str().unwrap_or("-"));
    }
    println!("\ncgroups");
    for (dir, files) in v["cgroups"].as_object().into_iter().flatten() {
        println!("  {dir}");
        for (f, val) in files.as_object().into_iter().flatten() {
            let one_line = val.as_str().unwrap_or("").replace('\n', ", ");
            println!("    {f:<26} {one_line}");
        }
    }
    println!("\nmounts (as the jail sees them)");
    for m in v["mounts"].as_array().into_iter().flatten() {
        let (t, fs, src) = (m["target"].as_str(), m["fstype"].as_str(), m["source"].as_str());
        println!("  {:<24} {:<8} {}", t.unwrap_or(""), fs.unwrap_or(""), src.unwrap_or(""));
    }
    println!("\nprocesses (host pid, pid in the jail, command)");
    for p in v["processes"].as_array().into_iter().flatten() {
        println!("  {:>7} {:>5}  {}", p["pid"], p["jail_pid"], p["command"].as_str().unwrap_or(""));
    }
    println!("\nplan: {} steps (`procjail inspect --json {name}` has them all)", s.plan["steps"]);
    Ok(0)
}

/// A signal from its name ("TERM", "SIGTERM") or number.
pub fn parse_signal(s: &str) -> anyhow::Result<Signal> {
    if let Ok(n) = s.parse::<i32>() {
        return Ok(Signal::try_from(n)?);
    }
    let name = if s.starts_with("SIG") { s.to_uppercase() } else { format!("SIG{}", s.to_uppercase()) };
    name.parse()
        .map_err(|_| anyhow::anyhow!("{s:?} is not a signal (try TERM, INT, KILL, HUP, USR1, or a number)"))
}

/// `procjail kill NAME [SIGNAL]`: to the jail's init (which forwards it to the command), or
/// with `all` to every process of the jail.
pub fn kill_jail(name: &str, signal: Signal, all: bool) -> anyhow::Result<i32> {
    let s = state::running(name)?;
    if !all {
        // Through a pidfd: the signal reaches that init, even if its pid were reused meanwhile.
        let fd = state::pidfd(s.init_pid, s.init_start)
            .ok_or_else(|| anyhow::anyhow!("jail {name}: its first process (pid {}) is gone", s.init_pid))?;
        state::pidfd_signal(&fd, signal)?;
        eprintln!("procjail: sent {signal} to the init of jail {name} (pid {})", s.init_pid);
        return Ok(0);
    }
    let targets: Vec<i32> = processes(&s).into_iter().map(|p| p.0).collect();
    for pid in &targets {
        match kill(Pid::from_raw(*pid), signal) {
            Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
            Err(e) => anyhow::bail!("kill({pid}, {signal}): {e}"),
        }
    }
    eprintln!("procjail: sent {signal} to {} process(es) of jail {name}", targets.len());
    Ok(0)
}

/// `procjail down NAME`: SIGTERM to the supervisor, which forwards it and kills after the grace
/// period; then waits until the supervisor has torn the jail down.
pub fn down(name: &str, wait: Duration) -> anyhow::Result<i32> {
    let s = state::running(name)?;
    let supervisor = state::pidfd(s.supervisor_pid, s.supervisor_start)
        .ok_or_else(|| anyhow::anyhow!("jail {name}: its supervisor (pid {}) is gone", s.supervisor_pid))?;
    state::pidfd_signal(&supervisor, Signal::SIGTERM)?;
    // The pidfd becomes readable when the supervisor exits; it releases the lock as it exits.
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            anyhow::bail!(
                "jail {name}: its supervisor (pid {}) is still running after {wait:?}",
                s.supervisor_pid
            );
        }
        let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        let mut fds =
            [nix::poll::PollFd::new(std::os::fd::AsFd::as_fd(&supervisor), nix::poll::PollFlags::POLLIN)];
        if nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms))? > 0 {
            break;
        }
    }
    if state::dir(name).exists() {
        anyhow::bail!("jail {name} stopped but left {} (run `procjail gc`)", state::dir(name).display());
    }
    eprintln!("procjail: jail {name} is down");
    Ok(0)
}

/// What procjail left on the host: (what, path) for each thing; only of the jails named, if any.
pub fn leftovers(names: &[String]) -> Vec<(String, PathBuf)> {
    let wanted = |n: &str| names.is_empty() || names.iter().any(|w| w == n);
    let entries = state::all();
    let live: Vec<&str> = entries.iter().filter(|e| e.live).map(|e| e.name.as_str()).collect();
    let mut found = Vec::new();
    for e in entries.iter().filter(|e| !e.live && wanted(&e.name)) {
        found.push(("stale state".to_string(), e.dir.clone()));
        if let Some(s) = &e.state {
            for m in leftovers::mounts_under(&s.rootfs).into_iter().filter(|m| Path::new(m) != s.rootfs) {
                found.push(("mount".to_string(), PathBuf::from(m)));
            }
        }
    }
    for m in leftovers::mounts_under(Path::new(leftovers::STATE_DIR)) {
        found.push(("mount".to_string(), PathBuf::from(m)));
    }
    for hierarchy in leftovers::cgroup_mounts() {
        let parent = hierarchy.join(crate::cgroups::PARENT);
        for d in std::fs::read_dir(&parent).into_iter().flatten().flatten() {
            let name = d.file_name().to_string_lossy().into_owned();
            if d.path().is_dir() && !live.contains(&name.as_str()) && wanted(&name) {
                found.push(("cgroup of a jail that is not running".to_string(), d.path()));
            }
        }
    }
    found
}

/// `procjail audit`: prints what procjail left; exit 1 if anything.
pub fn audit(names: &[String]) -> anyhow::Result<i32> {
    let found = leftovers(names);
    for (what, path) in &found {
        let procs = crate::cgroups::procs(path).map(|p| p.len()).unwrap_or(0);
        let extra = if procs > 0 { format!(" ({procs} processes)") } else { String::new() };
        println!("{what}: {}{extra}", path.display());
    }
    if found.is_empty() {
        println!("nothing left by procjail");
        Ok(0)
    } else {
        println!("{} thing(s) left; `procjail gc` removes them", found.len());
        Ok(1)
    }
}

/// `procjail gc`: removes what `audit` finds: kills what is left in stale cgroups, removes
/// them, detaches stray mounts, removes stale state.
pub fn gc(names: &[String]) -> anyhow::Result<i32> {
    let mut failed = Vec::new();
    for (what, path) in leftovers(names) {
        let result = match what.as_str() {
            "mount" => {
                nix::mount::umount2(&path, nix::mount::MntFlags::MNT_DETACH).map_err(|e| e.to_string())
            }
            "stale state" => std::fs::remove_dir_all(&path).map_err(|e| e.to_string()),
            _ => remove_cgroup(&path),
        };
        match result {
            Ok(()) => println!("removed {what}: {}", path.display()),
            Err(e) => failed.push(format!("{}: {e}", path.display())),
        }
    }
    // The parent folders stay while jails come and go (removing one under a jail that is
    // being set up would race with it); with no jail left at all, gc takes them away too.
    if names.is_empty() && state::all().is_empty() {
        for hierarchy in leftovers::cgroup_mounts() {
            let parent = hierarchy.join(crate::cgroups::PARENT);
            if parent.is_dir() && std::fs::remove_dir(&parent).is_ok() {
                println!("removed the empty parent cgroup {}", parent.display());
            }
        }
        if std::fs::remove_dir(leftovers::STATE_DIR).is_ok() {
            println!("removed the empty {}", leftovers::STATE_DIR);
        }
    }
    if failed.is_empty() { Ok(0) } else { anyhow::bail!("gc could not remove: {}", failed.join("; ")) }
}

/// Kills every process in a cgroup (cgroup.kill, or each pid), waits for it to empty, removes it:
/// the same steps as a jail's own teardown.
fn remove_cgroup(dir: &Path) -> Result<(), String> {
    let show = |f: crate::exec::Failure| format!("{:?} {}", f.errno, f.detail);
    crate::cgroups::kill(dir, dir.join("cgroup.kill").exists()).map_err(show)?;
    crate::cgroups::wait_empty(dir).map_err(show)?;
    crate::cgroups::rmdir(dir).map_err(show)
}
