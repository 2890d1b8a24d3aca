//! Validation of who the command is and what it may reach outside its capabilities: its user
//! and groups, its devices, its oom_score_adj, the namespaced sysctls of the jail.

use super::Validator;
use super::security::{DEFAULT_DEVICES, DeviceRule, Setting, User, unset, words};
use crate::config::rules::{ID_MAX, OOM_SCORE_ADJ_MAX, OOM_SCORE_ADJ_MIN};
use crate::config::{JailFile, PathList, Sp};
use crate::diag::Diag;
use crate::host::Host;

impl Validator<'_> {
    pub(super) fn devices(&mut self, l: Option<&Sp<PathList>>) -> Setting<Vec<DeviceRule>> {
        let key = "security.devices";
        let parse_all = |v: &[&str]| v.iter().filter_map(|r| parse_device(r).ok()).collect::<Vec<_>>();
        let Some(l) = l else { return Setting { value: parse_all(DEFAULT_DEVICES), origin: unset(key) } };
        let mut out = Vec::new();
        for w in words(&l.value) {
            if w == "default" {
                out.extend(parse_all(DEFAULT_DEVICES));
                continue;
            }
            match parse_device(&w) {
                Ok(r) => out.push(r),
                Err(why) => self.err(
                    Diag::new(l.span.clone(), key, format!("{w:?}: {why}"))
                        .accepted("\"default\", or rules like \"c 1:3 rwm\", \"c 136:* rw\", \"b 8:0 r\"")
                        .hint("TYPE MAJOR:MINOR ACCESS: c or b, numbers or *, some of r, w and m"),
                ),
            }
        }
        Setting { value: out, origin: self.origin(l, key) }
    }

    pub(super) fn oom_score_adj(&mut self, o: Option<&Sp<i64>>, host: &Host) -> Option<Setting<i32>> {
        let o = o?;
        let key = "security.oom_score_adj";
        if !(OOM_SCORE_ADJ_MIN..=OOM_SCORE_ADJ_MAX).contains(&o.value) {
            self.err(
                Diag::new(
                    o.span.clone(),
                    key,
                    format!("{} is not from {OOM_SCORE_ADJ_MIN} to {OOM_SCORE_ADJ_MAX}", o.value),
                )
                .accepted(format!("{OOM_SCORE_ADJ_MIN} to {OOM_SCORE_ADJ_MAX}")),
            );
            return None;
        }
        if (o.value as i32) < host.oom_score_adj && !host.cap_sys_resource {
            self.err(
                Diag::new(o.span.clone(), key, format!("lowering oom_score_adj below procjail's own ({}) needs CAP_SYS_RESOURCE, which this host's root does not have", host.oom_score_adj))
                    .accepted(format!("{} to 1000 on this host", host.oom_score_adj)),
            );
            return None;
        }
        Some(Setting { value: o.value as i32, origin: self.origin(o, key) })
    }

    pub(super) fn user(&mut self, f: &JailFile) -> User {
        let c = f.command.as_ref();
        let mut user = User { uid: 0, gid: 0, groups: Vec::new(), origin: unset("command.user") };
        if let Some(u) = c.and_then(|c| c.user.as_ref()) {
            match parse_user(&u.value) {
                Some((uid, gid)) => {
                    user = User { uid, gid, groups: vec![], origin: self.origin(u, "command.user") }
                }
                None => self.err(
                    Diag::new(
                        u.span.clone(),
                        "command.user",
                        format!("{:?} is not \"uid\" or \"uid:gid\"", u.value),
                    )
                    .accepted("numbers: \"1000\" or \"1000:1000\"")
                    .hint("procjail reads no user database in the rootfs: give the numbers"),
                ),
            }
        }
        if let Some(g) = c.and_then(|c| c.groups.as_ref()) {
            for v in &g.value {
                match u32::try_from(*v) {
                    Ok(v) if v != u32::MAX => user.groups.push(v),
                    _ => self.err(
                        Diag::new(g.span.clone(), "command.groups", format!("{v} is not a group id"))
                            .accepted(format!("0 to {ID_MAX}")),
                    ),
                }
            }
        }
        user
    }

    /// Namespaced sysctls only: what is written in the jail stays in the jail.
    pub(super) fn sysctls(&mut self, f: &JailFile, ns: &super::Namespaces) -> Vec<Setting<(String, String)>> {
        let mut out = Vec::new();
        for (k, v) in &f.sysctl.0 {
            let key = format!("sysctl.{k}");
            let ipc = [
                "kernel.msgmax",
                "kernel.msgmnb",
                "kernel.msgmni",
                "kernel.sem",
                "kernel.shmall",
                "kernel.shmmax",
                "kernel.shmmni",
                "kernel.shm_rmid_forced",
            ];
            let (ok, needs) = if ipc.contains(&k.as_str()) || k.starts_with("fs.mqueue.") {
                (ns.ipc, "the ipc namespace")
            } else if k.starts_with("net.") {
                (ns.net, "the net namespace")
            } else if k == "kernel.domainname" {
                (ns.uts, "the uts namespace")
            } else {
                self.err(
                    Diag::new(v.span.clone(), key, format!("{k} is not namespaced: writing it would change the host"))
                        .accepted("net.* (with the net namespace), kernel.msg*/sem/shm* and fs.mqueue.* (ipc), kernel.domainname (uts)")
                        .hint(if k == "kernel.hostname" { "set the top-level hostname key instead" } else { "set it on the host, if you mean to" }),
                );
                continue;
            };
            let bad_name = k.is_empty()
                || !k.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
                || k.contains("..");
            if !ok || bad_name || v.value.contains('\n') {
                let msg = if bad_name {
                    format!("{k:?} is not a sysctl name")
                } else if !ok {
                    format!("{k} needs {needs}, which is off")
                } else {
                    "a newline in the value".into()
                };
                self.err(
                    Diag::new(v.span.clone(), key, msg)
                        .accepted("a namespaced sysctl of a namespace the jail has, one line"),
                );
                continue;
            }
            out.push(Setting {
                value: (k.clone(), v.value.clone()),
                origin: self.origin(v, format!("sysctl.{k}")),
            });
        }
        out
    }
}

/// `[command] user`, "uid" or "uid:gid", as (uid, gid): the gid is the uid when not given (the
/// schema's `USER_PATTERN`).
pub fn parse_user(s: &str) -> Option<(u32, u32)> {
    let id = |s: &str| s.parse::<u32>().ok().filter(|v| *v != u32::MAX);
    match s.split_once(':') {
        None => id(s).map(|uid| (uid, uid)),
        Some((u, g)) => Some((id(u)?, id(g)?)),
    }
}

/// "c 1:3 rwm" → a rule (the schema's `DEVICE_PATTERN`).
pub fn parse_device(s: &str) -> Result<DeviceRule, String> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let (kind, nums, access) = match parts.as_slice() {
        ["a"] => return Ok(DeviceRule { kind: 'a', major: None, minor: None, access: "rwm".into() }),
        [k, n, a] => (*k, *n, *a),
        [k, n] => (*k, *n, "rwm"),
        _ => return Err("expected TYPE MAJOR:MINOR [ACCESS]".into()),
    };
    let kind = match kind {
        "c" | "b" | "a" => kind.chars().next().unwrap_or('a'),
        other => return Err(format!("the type {other:?} is not c, b or a")),
    };
    let (ma, mi) = nums.split_once(':').ok_or("the numbers are MAJOR:MINOR")?;
    let num = |v: &str| -> Result<Option<u32>, String> {
        if v == "*" {
            Ok(None)
        } else {
            v.parse().map(Some).map_err(|_| format!("{v:?} is not a number or *"))
        }
    };
    if access.is_empty() || !access.chars().all(|c| "rwm".contains(c)) {
        return Err(format!("the access {access:?} is not some of r, w, m"));
    }
    Ok(DeviceRule { kind, major: num(ma)?, minor: num(mi)?, access: access.to_string() })
}
