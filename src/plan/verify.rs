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
    pub rlimits: Vec<(String, (u64, u64), usize)>,
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
    pub rlimits: Vec<Expect<(String, (u64, u64))>>,
    /// The id maps: the host's (no user namespace), or these (uid_map, gid_map).
    pub id_maps: usize,
    #[serde(default)]
    pub maps: Option<(String, String)>,
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

/// The rows of [`Checks::compare_jail`]: namespaces, mounts, peer groups and cgroups; the id
/// maps' row, which comes last.
#[derive(Debug, Clone)]
pub struct JailRows {
    pub rows: Vec<Row>,
    pub maps: Row,
}

/// A uid_map or gid_map as one line: `0 1000 1; 1 100000 65536` (/proc aligns its columns).
fn one_line(map: &str) -> String {
    let lines: Vec<String> = map
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect();
    lines.join("; ")
}

fn hex(v: u64) -> String {
    format!("{v:016x}")
}

/// The /proc/PID/limits line of each rlimit key.
fn limits_name(key: &str) -> &'static str {
    crate::host::rlimits::by_key(key).proc_name
}

impl Checks {
    /// The number of checks (rows of the table).
    pub fn len(&self) -> usize {
        12 + self.namespaces.len() + self.mounts.len() + self.cgroups.len() + self.rlimits.len()
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether the command's /proc/PID/limits is read: only when the jail sets rlimits.
    pub fn reads_limits(&self) -> bool {
        !self.rlimits.is_empty()
    }

    /// The same checks, pointing at the steps of another plan that reach the same state
    /// (`procjail exec`): its exec tail's, the step that joined the jail, the fork.
    /// `in_cgroupns`: the checker has joined the jail's cgroup namespace, so it sees the
    /// jail's cgroups as its root, "/".
    pub fn with_steps(
        &self,
        tail: &TailMarks,
        joined: usize,
        fork: usize,
        in_cgroupns: bool,
        inherited_filters: u32,
    ) -> Checks {
        let mut c = self.clone();
        // The filters the checker's own process runs under, which the command inherits, plus ours.
        let ours = u32::from(tail.seccomp != 0);
        c.seccomp.value = (if inherited_filters + ours > 0 { 2 } else { 0 }, inherited_filters + ours);
        if in_cgroupns {
            c.cgroups.iter_mut().for_each(|g| g.value.1 = "/".into());
        }
        c.caps.step = tail.caps;
        c.no_new_privs.step = tail.no_new_privs;
        c.seccomp.step = tail.seccomp;
        c.ids.step = tail.user;
        c.namespaces.iter_mut().for_each(|n| n.step = joined);
        c.mounts.iter_mut().for_each(|m| m.step = joined);
        c.cgroups.iter_mut().for_each(|g| g.step = joined);
        c.rlimits =
            tail.rlimits.iter().map(|(k, v, s)| Expect { value: (k.clone(), *v), step: *s }).collect();
        c.no_host_peers = joined;
        c.id_maps = fork;
        c
    }

    /// The paths the comparison resolves in the jail: each mount's point.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.mounts.iter().map(|m| m.point.clone()).collect()
    }

    /// Every check against what the kernel shows.
    pub fn compare(&self, o: &Observed) -> Vec<Row> {
        self.compare_with(o, self.compare_jail(o))
    }

    /// The checks of what a process shares with its jail (namespaces, mounts, cgroups, id
    /// maps): they can be made before the process's own last steps ([`Checks::compare_with`]).
    pub fn compare_jail(&self, o: &Observed) -> JailRows {
        let mut rows = Vec::new();
        for n in &self.namespaces {
            rows.push(ns_row(n, o));
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
        let what = "mounts in a host peer group".to_string();
        rows.push(Row {
            what,
            planned: "none".into(),
            ok: leaked.is_empty(),
            read,
            step: self.no_host_peers,
        });
        for cg in &self.cgroups {
            rows.push(cgroup_row(cg, o));
        }
        JailRows { rows, maps: self.maps_row(o) }
    }

    /// Every check, those of the jail already made: in the order of [`Checks::compare`].
    pub fn compare_with(&self, o: &Observed, jail: JailRows) -> Vec<Row> {
        let mut rows = self.status_rows(o);
        rows.extend(jail.rows);
        for r in &self.rlimits {
            rows.push(rlimit_row(r, o));
        }
        rows.push(jail.maps);
        rows
    }

    /// The id maps: the host's, or the user namespace's as planned.
    fn maps_row(&self, o: &Observed) -> Row {
        let what = "uid_map, gid_map".to_string();
        let step = self.id_maps;
        let maps_same = o.uid_map == o.host_uid_map && o.gid_map == o.host_gid_map;
        let read = if maps_same {
            "the host's".to_string()
        } else {
            format!("{} / {}", one_line(&o.uid_map), one_line(&o.gid_map))
        };
        match &self.maps {
            None => Row { what, planned: "the host's".into(), ok: maps_same, read, step },
            Some((u, g)) => {
                let planned = format!("{} / {}", one_line(u), one_line(g));
                Row { what, ok: !maps_same && read == planned, planned, read, step }
            }
        }
    }

    /// The capability sets, NoNewPrivs, Seccomp and the ids of /proc/PID/status.
    fn status_rows(&self, o: &Observed) -> Vec<Row> {
        let mut rows = Vec::new();
        let mut row = |what: &str, planned: String, step: usize| {
            let read = o
                .status
                .get(what)
                .map_or("?".to_string(), |v| v.split_whitespace().collect::<Vec<_>>().join(" "));
            rows.push(Row { what: format!("status {what}"), ok: planned == read, planned, read, step });
        };
        let c = &self.caps.value;
        for (field, v) in [
            ("CapBnd", c.bounding),
            ("CapPrm", c.permitted),
            ("CapEff", c.effective),
            ("CapInh", c.inheritable),
            ("CapAmb", c.ambient),
        ] {
            row(field, hex(v), self.caps.step);
        }
        row("NoNewPrivs", u8::from(self.no_new_privs.value).to_string(), self.no_new_privs.step);
        let (mode, filters) = self.seccomp.value;
        row("Seccomp", mode.to_string(), self.seccomp.step);
        row("Seccomp_filters", filters.to_string(), self.seccomp.step);
        let (uid, gid, groups) = &self.ids.value;
        row("Uid", format!("{uid} {uid} {uid} {uid}"), self.ids.step);
        row("Gid", format!("{gid} {gid} {gid} {gid}"), self.ids.step);
        let gs: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
        row("Groups", gs.join(" "), self.ids.step);
        rows
    }
}

fn ns_row(n: &Expect<(String, bool)>, o: &Observed) -> Row {
    let (name, own) = &n.value;
    let read = match (o.ns.get(name), o.host_ns.get(name)) {
        (Some(m), Some(h)) if m == h => format!("the host's ({m})"),
        (Some(m), _) => format!("its own ({m})"),
        _ => "?".into(),
    };
    let planned = if *own { "its own" } else { "the host's" };
    Row {
        what: format!("ns {name}"),
        ok: read.starts_with(planned),
        planned: planned.into(),
        read,
        step: n.step,
    }
}

fn cgroup_row(cg: &Expect<(Option<String>, String)>, o: &Observed) -> Row {
    let (controller, path) = &cg.value;
    let found = o.cgroup.lines().any(|l| {
        let mut f = l.splitn(3, ':');
        let (_, ctrl, p) = (f.next(), f.next().unwrap_or(""), f.next().unwrap_or(""));
        p == path && controller.as_ref().map_or(ctrl.is_empty(), |c| ctrl.split(',').any(|x| x == c))
    });
    let what = format!("cgroup {}", controller.as_deref().unwrap_or("(cgroup2)"));
    let read = if found { path.clone() } else { "elsewhere".into() };
    Row { what, planned: path.clone(), read, ok: found, step: cg.step }
}

fn rlimit_row(r: &Expect<(String, (u64, u64))>, o: &Observed) -> Row {
    let (key, (soft, hard)) = &r.value;
    let name = limits_name(key);
    let line = o.limits.lines().find(|l| l.starts_with(name)).unwrap_or("");
    let fields: Vec<&str> = line[name.len().min(line.len())..].split_whitespace().collect();
    let show = |v: u64| if v == u64::MAX { "unlimited".to_string() } else { v.to_string() };
    let planned = format!("{} {}", show(*soft), show(*hard));
    let read = format!("{} {}", fields.first().unwrap_or(&"?"), fields.get(1).unwrap_or(&"?"));
    Row { what: format!("limits {name}"), ok: planned == read, planned, read, step: r.step }
}

/// A mount of the plan, found where the path leads in the jail (through its symlinks, as the
/// jail sees it): the root of a mount, and that mount masked or read-only as planned.
fn mount_row(m: &MountCheck, o: &Observed) -> Row {
    let point = m.point.display().to_string();
    let is = match m.is {
        MountIs::There => ("there", "mounted"),
        MountIs::Masked => ("masked", "masked"),
        MountIs::ReadOnly => ("read-only", "ro"),
    };
    let what = format!("mount {point} {}", is.0);
    let none = crate::host::probe::Point::default();
    let found = o.points.get(&m.point).unwrap_or(&none);
    let read = match (&found.mount, m.is) {
        (None, _) if m.if_exists && !found.exists => "absent (if it exists)".to_string(),
        (None, _) if !found.exists => "no such path".to_string(),
        (None, _) => "not mounted".to_string(),
        (Some(_), MountIs::There) => "mounted".into(),
        (Some(x), MountIs::Masked)
            if x.root.ends_with("/null") || (x.fstype == "tmpfs" && x.has_option("ro")) =>
        {
            "masked".into()
        }
        (Some(x), MountIs::Masked) => format!("{} {} {}", x.fstype, x.root, x.options),
        (Some(x), MountIs::ReadOnly) if x.has_option("ro") => "ro".into(),
        (Some(x), MountIs::ReadOnly) => x.options.clone(),
    };
    let ok = read == is.1 || read == "absent (if it exists)";
    Row { what, ok, planned: is.1.into(), read, step: m.step }
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
