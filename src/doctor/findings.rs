//! The findings: what in the facts is one of the production failures of `jails/`, each with
//! its evidence and the experiment that reproduces it. A pure function of [`Facts`].

use serde::Serialize;

use super::facts::Facts;
use crate::host::caps;

/// Descriptors at or above this share of the soft RLIMIT_NOFILE are a finding (percent).
pub const NOFILE_PERCENT: u64 = 80;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Finding {
    /// A short name; the failure modes' own are their experiments' names.
    pub id: &'static str,
    pub what: String,
    /// What was read that shows it: a /proc or cgroup file and its value.
    pub evidence: Vec<String>,
    /// The experiment in jails/ that reproduces it (jails/NAME.toml).
    pub experiment: &'static str,
    /// How it is fixed (and the twin experiment that shows the fix, if there is one).
    pub fix: &'static str,
}

/// Each finding: its id, the experiment that reproduces it, and how it is fixed.
pub const TABLE: &[(&str, &str, &str)] = &[
    (
        "pid1-ignores-sigterm",
        "pid1-ignores-sigterm",
        "an init as PID 1 (`[init] mode = \"builtin\"`, `docker run --init`): see pid1-ignores-sigterm-fixed",
    ),
    ("zombie-storm", "zombie-storm", "an init as PID 1 that reaps every orphan: see zombie-storm-fixed"),
    ("oom-kill", "oom-kill", "a memory limit above what it needs (`limits.memory`), or find what grows"),
    ("fork-bomb", "fork-bomb", "find what forks; `limits.pids` is what kept it from the host"),
    ("cpu-throttle", "cpu-throttle", "a CPU quota above its load (`limits.cpus`)"),
    ("nofile", "nofile", "a higher `limits.nofile`, or find the descriptors it does not close"),
    (
        "fd-leak",
        "fd-leak",
        "close every descriptor above 2 before execve (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC))",
    ),
    (
        "mount-propagation",
        "mount-propagation",
        "make / a slave before mounting anything (procjail's first child step: MS_REC|MS_SLAVE)",
    ),
    ("capabilities", "caps-default", "podman's 11 (`security.capabilities = \"default\"`)"),
    ("no-new-privs", "caps-default", "`security.no_new_privs = true`"),
    ("seccomp", "no-userns-off", "a seccomp filter (`security.seccomp = \"default\"`): see no-userns"),
    (
        "readonly-paths",
        "proc-sys-readonly-off",
        "the read-only paths (`security.readonly_paths = \"default\"`): see proc-sys-readonly",
    ),
    ("masked-paths", "masked-proc-off", "the masks (`security.masked_paths = \"default\"`): see masked-proc"),
    (
        "userns-root",
        "caps-default",
        "map the namespace's 0 to an unprivileged host id (0 100000 65536), or no user namespace and podman's 11",
    ),
];

pub(crate) fn finding(id: &'static str, what: String, evidence: Vec<String>) -> Finding {
    let &(_, experiment, fix) = TABLE.iter().find(|(i, ..)| *i == id).expect("a finding of the table");
    Finding { id, what, evidence, experiment, fix }
}

/// Every finding in the facts, in the order of jails/README.md.
pub fn of(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    pid1(f, &mut out);
    cgroups(f, &mut out);
    descriptors(f, &mut out);
    mounts(f, &mut out);
    confinement(f, &mut out);
    out
}

/// "1 mount", "2 mounts".
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn own(f: &Facts, ns: &str) -> bool {
    f.namespaces.iter().any(|n| n.name == ns && !n.shared)
}

/// PID 1 of a pid namespace of its own (the host's init is not judged).
fn pid1(f: &Facts, out: &mut Vec<Finding>) {
    let Some(p) = f.pid1.as_ref().filter(|_| own(f, "pid")) else { return };
    if !p.sigterm_handled {
        let what = format!(
            "PID 1 of its pid namespace (pid {}, {}) has no SIGTERM handler and is not an init: the kernel drops the TERM of a `docker stop`, which then waits its grace period and kills",
            p.pid, p.name
        );
        let ev =
            vec![format!("/proc/{}/status: {}: SIGTERM (signal 15, bit 14): {}", p.pid, p.masks, p.sigterm)];
        out.push(finding("pid1-ignores-sigterm", what, ev));
    }
    if !p.zombies.is_empty() {
        let what = format!(
            "{} zombies under PID 1 (pid {}, {}): it does not reap the orphans it inherits",
            p.zombies.len(),
            p.pid,
            p.name
        );
        let shown: Vec<String> = p.zombies.iter().take(5).map(|(pid, n)| format!("{pid} ({n})")).collect();
        let more =
            if p.zombies.len() > 5 { format!(" and {} more", p.zombies.len() - 5) } else { String::new() };
        let ev = vec![
            format!("/proc/PID/status State: Z, PPid: {}: {}{more}", p.pid, shown.join(", ")),
            format!("/proc/{}/status: SIGCHLD {}", p.pid, p.sigchld),
        ];
        out.push(finding("zombie-storm", what, ev));
    }
}

fn cgroups(f: &Facts, out: &mut Vec<Finding>) {
    for c in &f.cgroups {
        if let Some((file, n)) = c.oom_kills.as_ref().filter(|(_, n)| *n > 0) {
            let limit = c.memory_limit.map_or("no limit".into(), |l| crate::config::Size(l).human());
            let killed = count(*n as usize, "process", "processes");
            let what = format!("the kernel OOM-killed {killed} in its memory cgroup {} ({limit})", c.path);
            out.push(finding("oom-kill", what, vec![format!("{}/{file}: oom_kill {n}", c.dir)]));
        }
    }
    for c in &f.cgroups {
        if let Some(n) = c.forks_refused.filter(|n| *n > 0) {
            let limit = c.pids_limit.map_or("max".to_string(), |l| l.to_string());
            let what = format!("{n} forks refused at pids.max = {limit} in its cgroup {}", c.path);
            out.push(finding("fork-bomb", what, vec![format!("{}/pids.events: max {n}", c.dir)]));
        }
    }
    for c in &f.cgroups {
        if let Some(n) = c.cpu_throttled.filter(|n| *n > 0) {
            let quota = c.cpu_quota.map_or("no quota here".into(), |(q, p)| {
                format!("quota {q}/{p} us = {:.2} CPU", q as f64 / p as f64)
            });
            let time = c.cpu_throttled_us.unwrap_or(0) as f64 / 1e6;
            let periods = c.cpu_periods.unwrap_or(0);
            let what = format!("CPU throttled in {n} of {periods} periods, {time:.3} s in all ({quota})");
            let ev = vec![format!("{}/cpu.stat: nr_throttled {n}, throttled {time:.3} s", c.dir)];
            out.push(finding("cpu-throttle", what, ev));
        }
    }
}

fn descriptors(f: &Facts, out: &mut Vec<Finding>) {
    if let Some(limit) = f.fds.soft_limit.filter(|l| *l > 0) {
        let open = f.fds.open as u64;
        if open * 100 >= limit * NOFILE_PERCENT {
            let what = format!(
                "{open} descriptors open of a soft RLIMIT_NOFILE of {limit} ({}%): the next opens get EMFILE \"Too many open files\"",
                open * 100 / limit
            );
            let ev = vec![format!(
                "/proc/{}/fd: {open} entries; /proc/{}/limits: Max open files {limit}",
                f.pid, f.pid
            )];
            out.push(finding("nofile", what, ev));
        }
    }
    let leaked: Vec<String> = f
        .fds
        .list
        .iter()
        .filter(|d| d.fd > 2)
        .filter_map(|d| Some(format!("fd/{} -> {}: {}", d.fd, d.target, d.outside.as_ref()?)))
        .collect();
    if !leaked.is_empty() {
        let what = format!(
            "{} outside its mount namespace or root: a way out (the runc CVE-2024-21626 class)",
            count(leaked.len(), "descriptor points", "descriptors point")
        );
        out.push(finding(
            "fd-leak",
            what,
            leaked.into_iter().map(|l| format!("/proc/{}/{l}", f.pid)).collect(),
        ));
    }
}

/// A mount in a host peer group, for a process with a mount namespace of its own.
fn mounts(f: &Facts, out: &mut Vec<Finding>) {
    if !own(f, "mnt") {
        return;
    }
    let shared: Vec<String> = f
        .mounts
        .iter()
        .filter_map(|m| Some(format!("{} shared:{} ({} {})", m.point, m.host_peer?, m.fstype, m.source)))
        .collect();
    if !shared.is_empty() {
        let what = format!(
            "{} in a peer group of the host's: mounts propagate both ways, into the host and out of it",
            count(shared.len(), "mount", "mounts")
        );
        let ev = shared.into_iter().map(|s| format!("/proc/{}/mountinfo: {s}", f.pid)).collect();
        out.push(finding("mount-propagation", what, ev));
    }
}

/// The escape class: capabilities, no_new_privs, seccomp, the read-only and masked paths, a user
/// namespace whose root is the host's.
fn confinement(f: &Facts, out: &mut Vec<Finding>) {
    let default = caps::set(caps::DEFAULT);
    let sets = f.caps.sets();
    let extra =
        sets.iter().filter(|(n, ..)| *n != "inheritable").fold(0, |s, (_, _, c)| s | c.value) & !default;
    if extra != 0 {
        let names = caps::names(extra);
        let n = count(names.len(), "capability", "capabilities");
        let what = format!("{n} beyond podman's default 11: {}", names.join(" "));
        let hex: Vec<String> = sets.iter().map(|(_, field, c)| format!("{field} {}", c.hex)).collect();
        let ev = vec![format!("/proc/{}/status: {} (podman's: {default:016x})", f.pid, hex.join(", "))];
        out.push(finding("capabilities", what, ev));
    }
    if f.no_new_privs == Some(false) {
        let what =
            "no_new_privs is off: a setuid binary or file capabilities can raise its privileges".into();
        out.push(finding("no-new-privs", what, vec![format!("/proc/{}/status: NoNewPrivs 0", f.pid)]));
    }
    if f.seccomp.mode == Some(0) {
        let what = "no seccomp filter: every syscall reaches the kernel (unshare, keyctl, bpf, ...)".into();
        out.push(finding("seccomp", what, vec![format!("/proc/{}/status: Seccomp 0", f.pid)]));
    }
    for (id, want) in [("readonly-paths", "read-only"), ("masked-paths", "masked")] {
        let bad: Vec<String> = f
            .paths
            .iter()
            .filter(|p| p.want == want && !p.ok)
            .map(|p| format!("{} {}", p.path, p.is))
            .collect();
        if !bad.is_empty() {
            let what = format!("{} of procjail's {want} paths are not {want}", bad.len());
            let ev = bad.into_iter().map(|b| format!("/proc/{}/mountinfo: {b}", f.pid)).collect();
            out.push(finding(id, what, ev));
        }
    }
    if f.user.own_userns && f.user.root_is_host_root {
        let what = "a user namespace of its own that maps its uid 0 to the host's uid 0: its root is the host's root".into();
        let map: Vec<String> = f.user.uid_map.iter().map(|(a, b, n)| format!("{a} {b} {n}")).collect();
        out.push(finding("userns-root", what, vec![format!("/proc/{}/uid_map: {}", f.pid, map.join("; "))]));
    }
}
