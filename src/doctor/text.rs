//! The report for a person: the facts, then the findings.

use std::fmt::Write as _;

use super::Report;
use super::facts::{Facts, Pid1};
use crate::config::Size;

fn size(v: Option<u64>) -> String {
    v.map_or("-".into(), |v| Size(v).human())
}

/// Names after a label, a few to a line.
fn names(out: &mut String, label: &str, hex: &str, names: &[String]) {
    let short: Vec<&str> = names.iter().map(|n| n.trim_start_matches("CAP_")).collect();
    let first = if short.is_empty() { "none".to_string() } else { String::new() };
    let _ = write!(out, "  {label:<12} {hex}  {first}");
    for (i, chunk) in short.chunks(8).enumerate() {
        if i > 0 {
            let _ = write!(out, "\n  {:<12} {:<16}  ", "", "");
        }
        out.push_str(&chunk.join(" "));
    }
    out.push('\n');
}

fn head(out: &mut String, f: &Facts, jail: Option<&str>) {
    let inner = f.ns_pid.map_or(String::new(), |p| format!(", pid {p} in its pid namespace"));
    let jail = jail.map_or(String::new(), |j| format!("; the command of jail {j}"));
    let _ = writeln!(out, "pid {} ({}), {}{inner}{jail}", f.pid, f.name, f.state);
    let _ = writeln!(out, "\nnamespaces (compared with {})", f.host_from);
    for n in &f.namespaces {
        let whose = if n.shared { "shared with the host" } else { "its own" };
        let _ = writeln!(out, "  {:<7} {:<22} {whose}", n.name, n.id);
    }
    out.push_str("\ncapabilities\n");
    for (set, _, c) in f.caps.sets() {
        names(out, set, &c.hex, &c.names);
    }
    let nnp = match f.no_new_privs {
        Some(true) => "on",
        Some(false) => "off",
        None => "?",
    };
    let _ = writeln!(out, "\nno_new_privs  {nnp}");
    let seccomp = match (f.seccomp.mode, f.seccomp.filters) {
        (Some(0), _) => "none (mode 0)".to_string(),
        (Some(1), _) => "strict (mode 1)".to_string(),
        (Some(m), Some(n)) => {
            format!("filter (mode {m}), {}", super::findings::count(n as usize, "filter", "filters"))
        }
        (Some(m), None) => format!("filter (mode {m})"),
        (None, _) => "not in this kernel".to_string(),
    };
    let _ = writeln!(out, "seccomp       {seccomp}");
    let u = &f.user;
    let show = |v: &[u32]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(" ");
    let map = |m: &[(u32, u32, u32)]| {
        m.iter().map(|(a, b, n)| format!("{a} {b} {n}")).collect::<Vec<_>>().join("; ")
    };
    let userns = if u.own_userns { "a user namespace of its own" } else { "the host's user namespace" };
    let groups = if u.groups.is_empty() { "none".into() } else { show(&u.groups) };
    let _ = writeln!(out, "user          uid {}, gid {}, groups {groups}", show(&u.uid), show(&u.gid));
    let _ = writeln!(out, "              {userns}: uid_map {}, gid_map {}", map(&u.uid_map), map(&u.gid_map));
}

fn mounts(out: &mut String, f: &Facts) {
    out.push_str("\nmounts (as it sees them)\n");
    let w = f.mounts.iter().map(|m| m.point.len()).max().unwrap_or(5).min(40);
    for m in &f.mounts {
        let host = m.host_peer.map_or(String::new(), |g| format!("  <- the host's peer group {g}"));
        let ro = if m.ro { "ro" } else { "rw" };
        let _ = writeln!(
            out,
            "  {:>4} {:<w$} {:<8} {ro}  {:<16} {}{host}",
            m.id, m.point, m.fstype, m.propagation, m.source
        );
    }
    out.push_str("\nsensitive paths (procjail masks or makes them read-only)\n");
    for p in &f.paths {
        let mark = if p.ok { "" } else { "   <- should be " };
        let want = if p.ok { "" } else { p.want };
        let _ = writeln!(out, "  {:<30} {}{mark}{want}", p.path, p.is);
    }
}

fn cgroups(out: &mut String, f: &Facts) {
    out.push_str("\ncgroups\n");
    for c in &f.cgroups {
        let _ = writeln!(out, "  {:<8} {}  ({})", c.hierarchy, c.path, c.dir);
        let mut parts = Vec::new();
        if c.memory_limit.is_some() || c.memory_now.is_some() {
            parts.push(format!(
                "memory {} of {}",
                size(c.memory_now),
                size(c.memory_limit).replace('-', "no limit")
            ));
        }
        if let Some(p) = c.memory_peak {
            parts.push(format!("peak {}", Size(p).human()));
        }
        if let Some(n) = c.memory_failcnt {
            parts.push(format!("failcnt {n}"));
        }
        if let Some((file, n)) = &c.oom_kills {
            parts.push(format!("oom kills {n} ({file})"));
        }
        if let Some(n) = c.pids_now {
            parts.push(format!("pids {n} of {}", c.pids_limit.map_or("max".into(), |l| l.to_string())));
        }
        if let Some(n) = c.forks_refused {
            parts.push(format!("forks refused {n}"));
        }
        if let Some((q, p)) = c.cpu_quota {
            parts.push(format!("cpu quota {:.2} CPU ({q}/{p} us)", q as f64 / p as f64));
        }
        if let Some(n) = c.cpu_throttled {
            let t = c.cpu_throttled_us.unwrap_or(0) as f64 / 1e6;
            parts.push(format!("throttled {n} of {} periods, {t:.3} s", c.cpu_periods.unwrap_or(0)));
        }
        if !parts.is_empty() {
            let _ = writeln!(out, "           {}", parts.join(", "));
        }
    }
}

fn rest(out: &mut String, f: &Facts) {
    out.push_str("\nrlimits                     soft         hard\n");
    for l in &f.rlimits {
        let v = |v: Option<u64>| v.map_or("unlimited".into(), |v| v.to_string());
        let line = format!("  {:<25} {:<12} {:<12} {}", l.name, v(l.soft), v(l.hard), l.units);
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let limit = f.fds.soft_limit.map_or("unlimited".into(), |l| l.to_string());
    let _ = writeln!(out, "\ndescriptors: {} open, soft limit {limit}", f.fds.open);
    for d in f.fds.list.iter().take(20) {
        let stdio = if d.fd <= 2 { " (stdio, passed in: not judged)" } else { "" };
        let why = d.outside.as_ref().map_or(String::new(), |w| format!("   <- outside{stdio}: {w}"));
        let _ = writeln!(out, "  {:>4} {}{why}", d.fd, d.target);
    }
    if f.fds.list.len() > 20 {
        let _ = writeln!(out, "  ... and {} more", f.fds.list.len() - 20);
    }
    match &f.pid1 {
        Some(p) => pid1(out, p),
        None => out.push_str("\nPID 1 of its pid namespace: not seen from here\n"),
    }
}

fn pid1(out: &mut String, p: &Pid1) {
    let who = if p.is_it { " (the process itself)" } else { "" };
    let _ = writeln!(out, "\nPID 1 of its pid namespace: pid {} ({}){who}", p.pid, p.name);
    let _ = writeln!(out, "  {}", p.masks);
    let _ = writeln!(out, "  SIGTERM: {}; SIGCHLD: {}", p.sigterm, p.sigchld);
    match p.children {
        Some(n) => {
            let _ = writeln!(out, "  {n} children, {} of them zombies", p.zombies.len());
        }
        None => out.push_str("  the host's own init (its children are not read, nor is it judged)\n"),
    }
}

/// The whole report.
pub fn text(r: &Report) -> String {
    let mut out = String::new();
    head(&mut out, &r.facts, r.jail.as_deref());
    mounts(&mut out, &r.facts);
    cgroups(&mut out, &r.facts);
    rest(&mut out, &r.facts);
    if r.findings.is_empty() {
        out.push_str("\nno finding\n");
        return out;
    }
    let _ = writeln!(out, "\n{}", super::findings::count(r.findings.len(), "finding", "findings"));
    for f in &r.findings {
        let _ = writeln!(out, "\n{}: {}", f.id, f.what);
        for e in &f.evidence {
            let _ = writeln!(out, "  evidence:  {e}");
        }
        let _ = writeln!(out, "  reproduce: procjail up jails/{}.toml", f.experiment);
        let _ = writeln!(out, "  fix:       {}", f.fix);
    }
    out
}
