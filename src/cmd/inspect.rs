//! `procjail inspect NAME`: a running jail's namespaces, cgroups and live values, its mounts as
//! it sees them, its processes, its plan.

use serde_json::{Value, json};

use super::ps::{read_trim, uptime};
use crate::host::{mountinfo, probe, procfs, read_small};
use crate::namespaces::NAMESPACES;
use crate::state::{self, State};

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

/// The order `inspect` lists the namespaces in.
const SHOWN: &[&str] = &["user", "mnt", "uts", "ipc", "pid", "net", "cgroup"];

fn inspect_value(s: &State) -> Value {
    let init = s.entry_pid().to_string();
    let ns: serde_json::Map<String, Value> = SHOWN
        .iter()
        .filter(|n| NAMESPACES.iter().any(|ns| ns.proc_name == **n))
        .map(|n| {
            let (jail, host) = (procfs::namespace(&init, n), procfs::namespace("self", n));
            (n.to_string(), json!({ "jail": jail, "host": host }))
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
    let text = read_small(&format!("/proc/{init}/mountinfo")).unwrap_or_default();
    let mounts: Vec<Value> = mountinfo::parse(&text)
        .into_iter()
        .map(|m| json!({ "target": m.point, "fstype": m.fstype, "source": m.source, "options": m.options }))
        .collect();
    let procs: Vec<Value> = procfs::processes_in_pidns(s.init_pid)
        .into_iter()
        .map(|(pid, inner, cmd)| json!({ "pid": pid, "jail_pid": inner, "command": cmd }))
        .collect();
    json!({
        "name": s.name, "supervisor_pid": s.supervisor_pid, "init_pid": s.init_pid, "uptime_s": uptime(s),
        "file": s.file, "file_sha256": s.file_sha256, "rootfs": s.rootfs,
        "namespaces": ns, "cgroups": cgroups, "mounts": mounts, "processes": procs,
        "verification": verification(s), "plan": s.plan,
    })
}

fn open_proc() -> Option<std::os::fd::OwnedFd> {
    let flags = nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC;
    nix::fcntl::open("/proc", flags, nix::sys::stat::Mode::empty()).ok()
}

/// The pid of a running jail's command: the first child of the built-in init (None when it has
/// none), or the init itself when the jail has no built-in init (the command is its PID 1).
pub fn command_pid(s: &State) -> Option<i32> {
    use std::os::fd::AsFd;
    if !s.builtin_init {
        return Some(s.init_pid);
    }
    probe::children(open_proc()?.as_fd(), s.init_pid).first().copied()
}

/// The checks of the plan against the jail's command as it is now (the init's first child, or
/// the init itself without the built-in one): what the kernel holds for it.
fn verification(s: &State) -> Value {
    use std::os::fd::AsFd;
    let Some(checks) = &s.checks else { return Value::Null };
    let Some((proc, pid)) = open_proc().zip(command_pid(s)) else { return Value::Null };
    match probe::observe(proc.as_fd(), pid, &checks.paths(), &probe::HostView::read()) {
        Ok(seen) => json!({ "pid": pid, "rows": checks.compare(&seen) }),
        Err(_) => Value::Null,
    }
}

pub fn inspect(name: &str, as_json: bool) -> anyhow::Result<i32> {
    let s = state::running_with_plan(name)?;
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
    for n in SHOWN {
        let e = &v["namespaces"][n];
        println!("  {n:<7} {:<24} {}", e["jail"].as_str().unwrap_or("-"), e["host"].as_str().unwrap_or("-"));
    }
    println!("\ncgroups");
    for (dir, files) in v["cgroups"].as_object().into_iter().flatten() {
        println!("  {dir}");
        for (f, val) in files.as_object().into_iter().flatten() {
            println!("    {f:<26} {}", val.as_str().unwrap_or("").replace('\n', ", "));
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
    if let Some(rows) = v["verification"]["rows"].as_array() {
        println!(
            "\nthe kernel's answer for the command (pid {}), against the plan",
            v["verification"]["pid"]
        );
        let rows: Vec<crate::plan::verify::Row> = rows
            .iter()
            .map(|r| crate::plan::verify::Row {
                what: r["what"].as_str().unwrap_or("").into(),
                planned: r["planned"].as_str().unwrap_or("").into(),
                read: r["read"].as_str().unwrap_or("").into(),
                ok: r["ok"].as_bool().unwrap_or(false),
                step: r["step"].as_u64().unwrap_or(0) as usize,
            })
            .collect();
        for line in crate::plan::verify::table(&rows).lines() {
            println!("  {line}");
        }
    }
    match &s.plan {
        Some(plan) => {
            println!("\nplan: {} steps (`procjail inspect --json {name}` has them all)", plan["steps"])
        }
        None => println!("\nplan: not in its state yet (written once the jail has run 100 ms)"),
    }
    Ok(0)
}
