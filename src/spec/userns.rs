//! The user namespace: on or off (on, and required, when procjail is not root), its id maps,
//! and what they allow: a map only root may write, a range the helpers may write for this user,
//! the command's ids inside them, the cgroups such a jail can have.

use serde::{Deserialize, Serialize};

use super::{Origin, Validator};
use crate::config::{IdMap, JailFile, Sp};
use crate::diag::Diag;
use crate::host::Host;

/// One line of a uid_map or gid_map: the jail's ids `inside..inside+count` are the host's
/// `outside..outside+count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdRange {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

impl IdRange {
    /// The host id of the jail's `id`, if this line maps it.
    pub fn outside_of(&self, id: u32) -> Option<u32> {
        (id >= self.inside && id - self.inside < self.count).then(|| self.outside + (id - self.inside))
    }
}

/// The maps as /proc/PID/uid_map takes and shows them: `inside outside count` lines.
pub fn map_text(map: &[IdRange]) -> String {
    map.iter().map(|r| format!("{} {} {}\n", r.inside, r.outside, r.count)).collect()
}

/// How the maps get written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MapWriter {
    /// procjail writes /proc/PID/uid_map itself: any map as root; as another user only its own
    /// id, once `setgroups` is `deny` (else a user could drop a group that denies it access).
    Direct { deny_setgroups: bool },
    /// newuidmap and newgidmap (setuid root) write ranges /etc/subuid and /etc/subgid grant.
    Helpers,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMaps {
    pub uid: Vec<IdRange>,
    pub gid: Vec<IdRange>,
    pub writer: MapWriter,
    /// Where the uid map comes from (the jail file's `uid_map`, or the default), and the gid
    /// map's.
    pub origin: Origin,
    pub gid_origin: Origin,
}

impl IdMaps {
    /// The host uid and gid of the jail's `uid` and `gid`.
    pub fn outside(&self, uid: u32, gid: u32) -> (Option<u32>, Option<u32>) {
        let find = |m: &[IdRange], id| m.iter().find_map(|r| r.outside_of(id));
        (find(&self.uid, uid), find(&self.gid, gid))
    }
}

/// Root's default: the jail's 0-65535 are 100000-165535, the first range useradd hands out.
pub const ROOT_DEFAULT: IdRange = IdRange { inside: 0, outside: 100_000, count: 65_536 };

impl Validator<'_> {
    /// Whether the jail gets a user namespace: as the file says; when it does not say, only
    /// when procjail is not root, where it is required.
    pub(super) fn user_namespace(&mut self, f: &JailFile, host: &Host) -> bool {
        match &f.namespaces.user {
            Some(u) if !u.value && host.uid != 0 => {
                self.err(
                    Diag::new(u.span.clone(), "namespaces.user", format!("procjail runs as uid {}: without root, a jail is made in a user namespace of its own", host.uid))
                        .accepted("true (or nothing) when procjail is not root")
                        .hint("remove namespaces.user, or run procjail as root"),
                );
                true
            }
            Some(u) => u.value,
            None => host.uid != 0,
        }
    }

    /// The id maps of a jail with a user namespace, checked against who may write them.
    pub(super) fn id_maps(&mut self, f: &JailFile, host: &Host, on: bool) -> Option<IdMaps> {
        let u = &f.user;
        if !on {
            for m in [&u.uid_map, &u.gid_map].into_iter().flatten() {
                self.err(
                    Diag::new(m.span.clone(), "user", "an id map needs the user namespace")
                        .accepted("[user] maps with namespaces.user = true")
                        .hint("add `user = true` to [namespaces]"),
                );
            }
            return None;
        }
        let own = |id| vec![IdRange { inside: 0, outside: id, count: 1 }];
        let (def_uid, def_gid) = if host.uid == 0 {
            (vec![ROOT_DEFAULT], vec![ROOT_DEFAULT])
        } else {
            (own(host.uid), own(host.gid))
        };
        let uid = self.map("user.uid_map", u.uid_map.as_ref(), def_uid, host.uid == 0);
        let gid = self.map("user.gid_map", u.gid_map.as_ref(), def_gid, host.uid == 0);
        let origin = |m: Option<&Sp<Vec<IdMap>>>, key: &str| match m {
            Some(m) => self.origin(m, "[user]"),
            None => Origin::Unset { key: key.into() },
        };
        let (origin, gid_origin) =
            (origin(u.uid_map.as_ref(), "user.uid_map"), origin(u.gid_map.as_ref(), "user.gid_map"));
        let writer = if host.uid == 0 {
            MapWriter::Direct { deny_setgroups: false }
        } else if uid == own(host.uid) && gid == own(host.gid) {
            MapWriter::Direct { deny_setgroups: true }
        } else {
            self.helpers_may_write(u.uid_map.as_ref().or(u.gid_map.as_ref()), &uid, &gid, host);
            MapWriter::Helpers
        };
        Some(IdMaps { uid, gid, writer, origin, gid_origin })
    }

    /// One map: its lines valid and apart, inside and outside; root's 0 is never the host's 0.
    fn map(
        &mut self,
        key: &str,
        written: Option<&Sp<Vec<IdMap>>>,
        default: Vec<IdRange>,
        root: bool,
    ) -> Vec<IdRange> {
        let Some(m) = written else { return default };
        let mut out: Vec<IdRange> = Vec::new();
        for (i, line) in m.value.iter().enumerate() {
            let at = format!("{key}[{}]", i + 1);
            let id = |v: &Sp<i64>| u32::try_from(v.value).ok().filter(|v| *v != u32::MAX);
            let (Some(inside), Some(outside)) = (id(&line.inside), id(&line.outside)) else {
                let bad = if id(&line.inside).is_none() { &line.inside } else { &line.outside };
                self.err(
                    Diag::new(bad.span.clone(), at, format!("{} is not an id", bad.value))
                        .accepted("0 to 4294967294"),
                );
                continue;
            };
            let count = u32::try_from(line.count.value)
                .ok()
                .filter(|c| *c >= 1 && inside.checked_add(*c).is_some() && outside.checked_add(*c).is_some());
            let Some(count) = count else {
                self.err(
                    Diag::new(
                        line.count.span.clone(),
                        at,
                        format!("a count of {} does not fit", line.count.value),
                    )
                    .accepted("1 or more, with inside + count and outside + count under 2^32"),
                );
                continue;
            };
            let r = IdRange { inside, outside, count };
            let overlaps = |a: u32, b: u32, c: u32, d: u32| a < b + c && b < a + d;
            if let Some(o) = out.iter().find(|o| {
                overlaps(o.inside, r.inside, r.count, o.count)
                    || overlaps(o.outside, r.outside, r.count, o.count)
            }) {
                self.err(
                    Diag::new(
                        line.inside.span.clone(),
                        at,
                        format!(
                            "{inside}-{} → {outside}-{} overlaps {}-{} → {}-{}",
                            inside + count - 1,
                            outside + count - 1,
                            o.inside,
                            o.inside + o.count - 1,
                            o.outside,
                            o.outside + o.count - 1
                        ),
                    )
                    .accepted("lines whose inside ranges, and whose outside ranges, do not overlap"),
                );
                continue;
            }
            if root && r.outside_of(0) == Some(0) {
                self.err(
                    Diag::new(line.outside.span.clone(), at, "this maps the jail's root to the host's root: a user namespace then protects nothing")
                        .accepted("an outside range without 0 for the jail's 0")
                        .hint("map the jail's ids to unused host ids: { inside = 0, outside = 100000, count = 65536 }"),
                );
            }
            out.push(r);
        }
        if out.is_empty() { default } else { out }
    }

    /// Ranges other than the user's own id: newuidmap and newgidmap write them, if /etc/subuid
    /// and /etc/subgid grant them.
    fn helpers_may_write(
        &mut self,
        at: Option<&Sp<Vec<IdMap>>>,
        uid: &[IdRange],
        gid: &[IdRange],
        host: &Host,
    ) {
        let span = at.map_or(0..0, |m| m.span.clone());
        if !host.subids.helpers {
            self.err(
                Diag::new(span.clone(), "user", format!("as uid {}, a map of more than its own id needs newuidmap and newgidmap", host.uid))
                    .accepted("{ inside = 0, outside = your uid, count = 1 }, or ranges /etc/subuid grants")
                    .hint("apt-get install uidmap (and root adds your ranges: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 USER)"),
            );
            return;
        }
        for (which, map, own, granted, file) in [
            ("uid", uid, host.uid, &host.subids.uids, "/etc/subuid"),
            ("gid", gid, host.gid, &host.subids.gids, "/etc/subgid"),
        ] {
            for r in map {
                let mine = r.count == 1 && r.outside == own;
                let in_grant = granted.iter().any(|(first, n)| {
                    r.outside >= *first
                        && u64::from(r.outside) + u64::from(r.count) <= u64::from(*first) + u64::from(*n)
                });
                if !mine && !in_grant {
                    self.err(
                        Diag::new(
                            span.clone(),
                            format!("user.{which}_map"),
                            format!(
                                "host {which}s {}-{} are not granted to uid {} in {file}",
                                r.outside,
                                r.outside + r.count - 1,
                                host.uid
                            ),
                        )
                        .accepted(format!("your own {which} ({own}), or ranges in {file}: {granted:?}"))
                        .hint(format!("root adds a range: usermod --add-sub{which}s 100000-165535 USER")),
                    );
                }
            }
        }
    }
}

impl Validator<'_> {
    /// The command's uid, gid and groups must be ids of the jail's; with setgroups denied (a
    /// user's own map) it keeps no supplementary groups.
    pub(super) fn user_inside(&mut self, f: &JailFile, user: &super::User, maps: &IdMaps) {
        let cmd = f.command.as_ref();
        let span = cmd.and_then(|c| c.user.as_ref()).map_or(0..0, |u| u.span.clone());
        let (uid, gid) = maps.outside(user.uid, user.gid);
        for (which, id, found) in [("uid", user.uid, uid), ("gid", user.gid, gid)] {
            if found.is_none() {
                self.err(
                    Diag::new(
                        span.clone(),
                        "command.user",
                        format!("the jail has no {which} {id}: [user] maps none to it"),
                    )
                    .accepted(format!("an id {}_map maps", which))
                    .hint("map it in [user], or run the command as an id that is mapped (0 by default)"),
                );
            }
        }
        let groups_span = cmd.and_then(|c| c.groups.as_ref()).map_or(span, |g| g.span.clone());
        if maps.writer == (MapWriter::Direct { deny_setgroups: true }) && !user.groups.is_empty() {
            self.err(
                Diag::new(
                    groups_span,
                    "command.groups",
                    "a jail mapped to your own ids alone has setgroups denied: no supplementary groups",
                )
                .accepted("no groups, or gid ranges written by newgidmap")
                .hint("remove command.groups, or map a range in [user] (needs uidmap and /etc/subgid)"),
            );
        } else {
            for g in &user.groups {
                if maps.outside(user.uid, *g).1.is_none() {
                    self.err(
                        Diag::new(
                            groups_span.clone(),
                            "command.groups",
                            format!("the jail has no gid {g}: [user] maps none to it"),
                        )
                        .accepted("gids gid_map maps"),
                    );
                }
            }
        }
    }

    /// Without root, a cgroup limit needs a cgroup2 subtree delegated to the user, with the
    /// controller that enforces it; a limit is never silently dropped.
    pub(super) fn rootless_limits(&mut self, f: &JailFile, host: &Host) {
        if host.uid == 0 {
            return;
        }
        let l = &f.limits;
        let spans = [
            ("memory", "memory", l.memory.as_ref().map(|v| v.span.clone())),
            ("memory_swap", "memory", l.memory_swap.as_ref().map(|v| v.span.clone())),
            ("pids", "pids", l.pids.as_ref().map(|v| v.span.clone())),
            ("cpus", "cpu", l.cpus.as_ref().map(|v| v.span.clone())),
            ("cpu_weight", "cpu", l.cpu_weight.as_ref().map(|v| v.span.clone())),
        ];
        for (key, controller, span) in spans {
            let Some(span) = span else { continue };
            let why = match &host.delegation {
                None => format!(
                    "needs a delegated cgroup: procjail runs as uid {} and this host ({}) has no cgroup2 subtree delegated to it",
                    host.uid,
                    match host.cgroup {
                        crate::host::CgroupKind::V1 => "cgroup v1",
                        crate::host::CgroupKind::Hybrid => "cgroup v1 hybrid",
                        crate::host::CgroupKind::V2 => "cgroup v2",
                    }
                ),
                Some(d) if !d.controllers.iter().any(|c| c == controller) => format!(
                    "needs the {controller} controller, which the cgroup delegated to uid {} ({}) does not have",
                    host.uid, d.rel
                ),
                Some(_) => continue,
            };
            self.err(
                Diag::new(span, format!("limits.{key}"), format!("limits.{key} {why}"))
                    .accepted("rlimits (nofile, nproc, ...) only, without a delegated cgroup")
                    .hint("run as root; or on cgroup v2 run inside a delegated scope (systemd-run --user --scope -p Delegate=yes procjail up ...)"),
            );
        }
    }
}
