//! Small readers of /proc: a process's start time, its namespaces, the holder of a lock.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::{Shows, read_proc, read_small};

/// Start time of a process in clock ticks after boot, from /proc/PID/stat (field 22): a pid that
/// was reused has another.
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = read_proc(&format!("/proc/{pid}/stat"), Shows::Once).ok()?;
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    stat.rsplit_once(')')?.1.split_whitespace().nth(19)?.parse().ok()
}

/// This process's pid and start time, from one read of /proc/self/stat (no getpid).
pub fn self_start_time() -> Option<(i32, u64)> {
    let stat = read_proc("/proc/self/stat", Shows::Once).ok()?;
    let pid = stat.split_whitespace().next()?.parse().ok()?;
    Some((pid, stat.rsplit_once(')')?.1.split_whitespace().nth(19)?.parse().ok()?))
}

/// The namespace a process is in (`net:[4026531840]`), by its /proc name (mnt, uts, ...).
pub fn namespace(pid: &str, ns: &str) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).ok().map(|l| l.display().to_string())
}

/// The pid holding an exclusive flock on `path`, read from /proc/locks (so that asking takes no
/// lock itself). None when nobody holds one.
pub fn lock_holder(path: &Path) -> Option<i32> {
    lock_holder_in(&read_small("/proc/locks").ok()?, path)
}

/// The same, in a text of /proc/locks already read (one read for many jails: it has a line for
/// each lock on the host).
pub fn lock_holder_in(locks: &str, path: &Path) -> Option<i32> {
    let meta = std::fs::metadata(path).ok()?;
    let (major, minor) = crate::sys::major_minor(meta.dev());
    let wanted = format!("{major:02x}:{minor:02x}:{}", meta.ino());
    locks.lines().find_map(|l| {
        // "1: FLOCK  ADVISORY  WRITE 8051 00:19:1234 0 EOF"; waiters have "->" after the number.
        let f: Vec<&str> = l.split_whitespace().collect();
        let ok =
            f.get(1) == Some(&"FLOCK") && f.get(3) == Some(&"WRITE") && f.get(5) == Some(&wanted.as_str());
        if ok { f.get(4)?.parse().ok() } else { None }
    })
}

/// A field of /proc/PID/status (`CapEff`, `NoNewPrivs`, `SigIgn` ...), trimmed.
pub fn status_field(pid: &str, field: &str) -> Option<String> {
    let status = read_proc(&format!("/proc/{pid}/status"), Shows::Once).ok()?;
    status.lines().find_map(|l| Some(l.strip_prefix(field)?.strip_prefix(':')?.trim().to_string()))
}

/// The processes in the pid namespace of `pid`, as (host pid, pid in that namespace, command
/// line), sorted by host pid.
pub fn processes_in_pidns(pid: i32) -> Vec<(i32, i32, String)> {
    let Some(ns) = namespace(&pid.to_string(), "pid") else { return Vec::new() };
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(p) = name.parse::<i32>() else { continue };
        if namespace(&name, "pid").as_ref() != Some(&ns) {
            continue;
        }
        let inner =
            status_field(&name, "NSpid").and_then(|v| v.split_whitespace().last()?.parse().ok()).unwrap_or(0);
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmdline).replace('\0', " ").trim().to_string();
        out.push((p, inner, cmd));
    }
    out.sort();
    out
}
