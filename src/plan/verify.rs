//! What the kernel must show of the command before its execve, computed with the plan, each
//! with the step whose effect it is; and the comparison with what the kernel does show
//! ([`crate::host::probe::Observed`]). `up` stops the jail at a mismatch; `up --verify` and
//! `inspect` print the table.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::host::caps;
use crate::host::probe::Observed;

/// The steps of the exec tail the checks point at.
#[derive(Debug, Clone, Default)]
pub struct TailMarks {
    pub caps: usize,
    pub no_new_privs: usize,
    pub seccomp: usize,
    pub user: usize,
    pub rlimits: Vec<(String, u64, usize)>,
}

/// A value the kernel must show, and the step that makes it so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expect<T> {
    pub value: T,
    pub step: usize,
}

/// The five capability sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapSets {
    pub bounding: u64,
    pub permitted: u64,
    pub effective: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

/// What a mount of the plan must look like in the jail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountIs {
    /// A mount at that point.
    There,
    /// /dev/null bound over a file, or an empty read-only tmpfs over a folder.
    Masked,
    /// Mounted read-only.
    ReadOnly,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountCheck {
    pub point: PathBuf,
    pub is: MountIs,
    /// Its step runs "if it exists": absent is as planned.
    pub if_exists: bool,
    pub step: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checks {
    pub caps: Expect<CapSets>,
    pub no_new_privs: Expect<bool>,
    /// Seccomp mode (0 or 2) and the number of filters.
    pub seccomp: Expect<(u8, u32)>,
    /// uid, gid, supplementary groups.
    pub ids: Expect<(u32, u32, Vec<u32>)>,
    /// Each namespace by its /proc name: the jail's own (true) or the host's.
    pub namespaces: Vec<Expect<(String, bool)>>,
    pub mounts: Vec<MountCheck>,
    /// The step after which no mount may be in a host peer group (`/` made a slave).
    pub no_host_peers: usize,
    /// (controller, or none for cgroup2; the path under the hierarchy's root).
    pub cgroups: Vec<Expect<(Option<String>, String)>>,
    /// (the `[limits]` key, soft = hard).
    pub rlimits: Vec<Expect<(String, u64)>>,
    /// The id maps are the host's (no user namespace).
    pub id_maps: usize,
}

/// One line of the comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub what: String,
    pub planned: String,
    pub read: String,
    pub ok: bool,
    pub step: usize,
}

fn hex(v: u64) -> String {
    format!("{v:016x}")
}

/// The /proc/PID/limits line of each rlimit key.
fn limits_name(key: &str) -> &'static str {
    match key {
        "nofile" => "Max open files",
        "nproc" => "Max processes",
        "core" => "Max core file size",
        "fsize" => "Max file size",
        "stack" => "Max stack size",
        "as" => "Max address space",
        _ => "Max cpu time",
    }
}

impl Checks {
    /// The number of checks (rows of the table).
    pub fn len(&self) -> usize {
        12 + self.namespaces.len() + self.mounts.len() + self.cgroups.len() + self.rlimits.len()
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// The same checks, pointing at the steps of another plan that reach the same state
    /// (`procjail exec`): its exec tail's, the step that joined the jail, the fork.
    pub fn with_steps(&self, tail: &TailMarks, joined: usize, fork: usize) -> Checks {
        let mut c = self.clone();
        c.caps.step = tail.caps;
        c.no_new_privs.step = tail.no_new_privs;
        c.seccomp.step = tail.seccomp;
        c.ids.step = tail.user;
        c.namespaces.iter_mut().for_each(|n| n.step = joined);
        c.mounts.iter_mut().for_each(|m| m.step = joined);
        c.cgroups.iter_mut().for_each(|g| g.step = joined);
        c.rlimits = tail.rlimits.iter().map(|(k, v, s)| Expect { value: (k.clone(), *v), step: *s }).collect();
        c.no_host_peers = joined;
        c.id_maps = fork;
        c
    }

    /// The paths whose existence in the jail the comparison needs.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.mounts.iter().filter(|m| m.if_exists).map(|m| m.point.clone()).collect()
    }

    /// Every check against what the kernel shows.
    pub fn compare(&self, o: &Observed) -> Vec<Row> {
        let mut rows = Vec::new();
        let mut row = |what: String, planned: String, read: String, step: usize| {
            let ok = planned == read;
            rows.push(Row { what, planned, read, ok, step });
        };
        let st = |k: &str| {
            o.status.get(k).map_or_else(|| "?".to_string(), |v| v.split_whitespace().collect::<Vec<_>>().join(" "))
        };
        let c = &self.caps.value;
        for (field, v) in [
            ("CapBnd", c.bounding),
            ("CapPrm", c.permitted),
            ("CapEff", c.effective),
            ("CapInh", c.inheritable),
            ("CapAmb", c.ambient),
        ] {
            row(format!("status {field}"), hex(v), st(field), self.caps.step);
        }
        row("status NoNewPrivs".into(), u8::from(self.no_new_privs.value).to_string(), st("NoNewPrivs"), self.no_new_privs.step);
        let (mode, filters) = self.seccomp.value;
        row("status Seccomp".into(), mode.to_string(), st("Seccomp"), self.seccomp.step);
        row("status Seccomp_filters".into(), filters.to_string(), st("Seccomp_filters"), self.seccomp.step);
        let (uid, gid, groups) = &self.ids.value;
        row("status Uid".into(), format!("{uid} {uid} {uid} {uid}"), st("Uid"), self.ids.step);
        row("status Gid".into(), format!("{gid} {gid} {gid} {gid}"), st("Gid"), self.ids.step);
        let gs: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
        row("status Groups".into(), gs.join(" "), st("Groups"), self.ids.step);
        for n in &self.namespaces {
            let (name, own) = &n.value;
            let (mine, host) = (o.ns.get(name), o.host_ns.get(name));
            let read = match (mine, host) {
                (Some(m), Some(h)) if m == h => format!("the host's ({m})"),
                (Some(m), _) => format!("its own ({m})"),
                _ => "?".into(),
            };
            let planned = if *own { "its own" } else { "the host's" };
            let ok = read.starts_with(planned);
            rows.push(Row { what: format!("ns {name}"), planned: planned.into(), read, ok, step: n.step });
        }
        for m in &self.mounts {
            rows.push(mount_row(m, o));
        }
        let leaked: Vec<String> = o
            .mounts
            .iter()
            .filter(|m| m.shared().is_some_and(|g| o.host_peer_groups.contains(&g)))
            .map(|m| m.point.clone())
            .collect();
        let read = if leaked.is_empty() { "none".into() } else { leaked.join(" ") };
        rows.push(Row { what: "mounts in a host peer group".into(), planned: "none".into(), ok: leaked.is_empty(), read, step: self.no_host_peers });
        for cg in &self.cgroups {
            let (controller, path) = &cg.value;
            let found = o.cgroup.lines().any(|l| {
                let mut f = l.splitn(3, ':');
                let (_, ctrl, p) = (f.next(), f.next().unwrap_or(""), f.next().unwrap_or(""));
                p == path && controller.as_ref().map_or(ctrl.is_empty(), |c| ctrl.split(',').any(|x| x == c))
            });
            let what = format!("cgroup {}", controller.as_deref().unwrap_or("(cgroup2)"));
            let read = if found { path.clone() } else { "elsewhere".into() };
            rows.push(Row { what, planned: path.clone(), read, ok: found, step: cg.step });
        }
        for r in &self.rlimits {
            let (key, v) = &r.value;
            let name = limits_name(key);
            let line = o.limits.lines().find(|l| l.starts_with(name)).unwrap_or("");
            let fields: Vec<&str> = line[name.len().min(line.len())..].split_whitespace().collect();
            let show = |v: u64| if v == u64::MAX { "unlimited".to_string() } else { v.to_string() };
            let planned = format!("{} {}", show(*v), show(*v));
            let read = format!("{} {}", fields.first().unwrap_or(&"?"), fields.get(1).unwrap_or(&"?"));
            rows.push(Row { what: format!("limits {name}"), ok: planned == read, planned, read, step: r.step });
        }
        let maps_same = o.uid_map == o.host_uid_map && o.gid_map == o.host_gid_map;
        let read = if maps_same { "the host's".to_string() } else { o.uid_map.trim().replace('\n', "; ") };
        rows.push(Row { what: "uid_map, gid_map".into(), planned: "the host's".into(), ok: maps_same, read, step: self.id_maps });
        rows
    }
}

fn mount_row(m: &MountCheck, o: &Observed) -> Row {
    let point = m.point.display().to_string();
    let top = o.mounts.iter().rev().find(|x| x.point == point);
    let what = format!(
        "mount {point} {}",
        match m.is {
            MountIs::There => "there",
            MountIs::Masked => "masked",
            MountIs::ReadOnly => "read-only",
        }
    );
    let planned = match m.is {
        MountIs::There => "mounted",
        MountIs::Masked => "masked",
        MountIs::ReadOnly => "ro",
    };
    let read = match top {
        None if m.if_exists && !o.existing.contains(&m.point) => return Row { what, planned: planned.into(), read: "absent (if it exists)".into(), ok: true, step: m.step },
        None => "not mounted".to_string(),
        Some(x) => match m.is {
            MountIs::There => "mounted".into(),
            MountIs::Masked if x.root.ends_with("/null") || (x.fstype == "tmpfs" && x.has_option("ro")) => "masked".into(),
            MountIs::Masked => format!("{} {} {}", x.fstype, x.root, x.options),
            MountIs::ReadOnly if x.has_option("ro") => "ro".into(),
            MountIs::ReadOnly => x.options.clone(),
        },
    };
    Row { what, ok: read == planned, planned: planned.into(), read, step: m.step }
}

/// The table, for `up --verify` and `inspect`.
pub fn table(rows: &[Row]) -> String {
    let w = rows.iter().map(|r| r.what.len()).max().unwrap_or(0).max(5);
    let p = rows.iter().map(|r| r.planned.len()).max().unwrap_or(0).clamp(7, 40);
    let mut out = format!("{:<w$}  {:<p$}  {:<4}  {}\n", "check", "planned", "ok", "read back (step)");
    for r in rows {
        let ok = if r.ok { "ok" } else { "NO" };
        out.push_str(&format!("{:<w$}  {:<p$}  {ok:<4}  {} (step {})\n", r.what, r.planned, r.read, r.step));
    }
    out
}

/// A capability difference, in names: `+CAP_X -CAP_Y`.
pub fn cap_difference(planned: &str, read: &str) -> String {
    let (p, r) = (u64::from_str_radix(planned, 16).unwrap_or(0), u64::from_str_radix(read, 16).unwrap_or(0));
    let mut out = Vec::new();
    out.extend(caps::names(r & !p).into_iter().map(|n| format!("+{n}")));
    out.extend(caps::names(p & !r).into_iter().map(|n| format!("-{n}")));
    out.join(" ")
}
