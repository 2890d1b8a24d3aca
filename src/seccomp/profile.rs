//! The docker/OCI seccomp profile format (what `docker run --security-opt seccomp=FILE` and
//! config.json's `linux.seccomp` take): defaultAction, defaultErrnoRet, and syscalls with names,
//! action, errnoRet, args, and docker's includes/excludes by capability, architecture and kernel.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::{Action, Cmp, Cond, Filter, Rule};
use crate::host::caps;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile<'a> {
    #[serde(borrow)]
    default_action: Text<'a>,
    #[serde(default)]
    default_errno_ret: Option<u16>,
    #[serde(default, borrow)]
    syscalls: Vec<Entry<'a>>,
    #[serde(default, rename = "comment")]
    _comment: Option<IgnoredAny>,
    #[serde(default, rename = "architectures")]
    _architectures: Option<IgnoredAny>,
    #[serde(default, rename = "archMap")]
    _arch_map: Option<IgnoredAny>,
    #[serde(default, rename = "flags")]
    _flags: Option<IgnoredAny>,
    #[serde(default, rename = "listenerPath")]
    _listener_path: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Entry<'a> {
    #[serde(default, borrow)]
    names: Vec<Text<'a>>,
    #[serde(default, borrow)]
    name: Option<Text<'a>>,
    #[serde(borrow)]
    action: Text<'a>,
    #[serde(default)]
    errno_ret: Option<u16>,
    #[serde(default, borrow)]
    args: Vec<Arg<'a>>,
    #[serde(default, borrow)]
    includes: Filters<'a>,
    #[serde(default, borrow)]
    excludes: Filters<'a>,
    #[serde(default)]
    comment: Option<IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filters<'a> {
    #[serde(default, borrow)]
    caps: Vec<Text<'a>>,
    #[serde(default, borrow)]
    arches: Vec<Text<'a>>,
    #[serde(default, borrow)]
    min_kernel: Option<Text<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Arg<'a> {
    index: u8,
    value: u64,
    #[serde(default)]
    value_two: u64,
    #[serde(borrow)]
    op: Text<'a>,
}

/// A string of the profile, borrowed from its text where it has no escapes (most do not): the
/// default profile is read on every start, and its few hundred names cost no allocation.
#[derive(Debug)]
struct Text<'a>(Cow<'a, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

/// A profile that does not parse, with where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// A parsed profile, ready to be made into the filter of a jail.
#[derive(Debug)]
pub struct Parsed<'a>(Profile<'a>);

pub fn parse(text: &str) -> Result<Parsed<'_>, ProfileError> {
    let p: Profile = serde_json::from_str(text).map_err(|e| ProfileError {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let at = |message: String| ProfileError { line: 0, column: 0, message };
    action(&p.default_action, p.default_errno_ret).map_err(at)?;
    for e in &p.syscalls {
        action(&e.action, e.errno_ret).map_err(at)?;
        for a in &e.args {
            cmp(&a.op, a.value).map_err(at)?;
            if a.index > 5 {
                return Err(at(format!("args index {} is not 0 to 5", a.index)));
            }
        }
        for c in e.includes.caps.iter().chain(&e.excludes.caps) {
            if caps::number(c).is_none() {
                return Err(at(format!("{c:?} is not a capability")));
            }
        }
    }
    Ok(Parsed(p))
}

fn action(name: &str, errno: Option<u16>) -> Result<Action, String> {
    Ok(match name {
        "SCMP_ACT_ALLOW" => Action::Allow,
        "SCMP_ACT_ERRNO" => Action::Errno(errno.unwrap_or(1)),
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => Action::KillThread,
        "SCMP_ACT_KILL_PROCESS" => Action::KillProcess,
        "SCMP_ACT_TRAP" => Action::Trap,
        "SCMP_ACT_LOG" => Action::Log,
        "SCMP_ACT_TRACE" => Action::Trace(errno.unwrap_or(0)),
        other => {
            return Err(format!(
                "unknown action {other:?} (SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL_PROCESS, ...)"
            ));
        }
    })
}

fn cmp(op: &str, two: u64) -> Result<Cmp, String> {
    Ok(match op {
        "SCMP_CMP_EQ" => Cmp::Eq,
        "SCMP_CMP_NE" => Cmp::Ne,
        "SCMP_CMP_LT" => Cmp::Lt,
        "SCMP_CMP_LE" => Cmp::Le,
        "SCMP_CMP_GT" => Cmp::Gt,
        "SCMP_CMP_GE" => Cmp::Ge,
        "SCMP_CMP_MASKED_EQ" => Cmp::MaskedEq(two),
        other => {
            return Err(format!("unknown op {other:?} (SCMP_CMP_EQ, SCMP_CMP_NE, SCMP_CMP_MASKED_EQ, ...)"));
        }
    })
}

/// docker's architecture names for this one.
fn arch_names() -> &'static [&'static str] {
    if cfg!(target_arch = "aarch64") {
        &["arm64", "aarch64", "SCMP_ARCH_AARCH64"]
    } else {
        &["amd64", "x86_64", "SCMP_ARCH_X86_64"]
    }
}

fn kernel_at_least(min: &str, kernel: (u32, u32)) -> bool {
    let mut p = min.split('.').map(|x| x.parse::<u32>().unwrap_or(0));
    kernel >= (p.next().unwrap_or(0), p.next().unwrap_or(0))
}

impl Parsed<'_> {
    /// The rules that apply to a jail keeping `jail_caps`, on this architecture and kernel.
    pub fn filter(&self, jail_caps: u64, kernel: (u32, u32)) -> Filter {
        let p = &self.0;
        let default = action(&p.default_action, p.default_errno_ret).expect("checked in parse");
        let mut f = Filter { default, syscalls: Default::default(), unknown: Vec::new() };
        for e in &p.syscalls {
            let has = |c: &Text<'_>| jail_caps & caps::bit(c) != 0;
            let inc = &e.includes;
            if !inc.caps.iter().all(has)
                || (!inc.arches.is_empty() && !inc.arches.iter().any(|a| arch_names().contains(&&**a)))
                || inc.min_kernel.as_deref().is_some_and(|m| !kernel_at_least(m, kernel))
            {
                continue;
            }
            let exc = &e.excludes;
            if exc.caps.iter().any(has)
                || exc.arches.iter().any(|a| arch_names().contains(&&**a))
                || exc.min_kernel.as_deref().is_some_and(|m| kernel_at_least(m, kernel))
            {
                continue;
            }
            let act = action(&e.action, e.errno_ret).expect("checked in parse");
            let conds: Vec<Cond> = e
                .args
                .iter()
                .map(|a| Cond {
                    arg: a.index,
                    cmp: cmp(&a.op, a.value_two).expect("checked"),
                    value: a.value,
                })
                .map(|c| match c.cmp {
                    // docker's MASKED_EQ: value is the mask, valueTwo the value.
                    Cmp::MaskedEq(two) => Cond { cmp: Cmp::MaskedEq(c.value), value: two, ..c },
                    _ => c,
                })
                .collect();
            let _ = &e.comment;
            for name in e.names.iter().chain(e.name.as_ref()) {
                match name.parse::<syscalls::Sysno>() {
                    Ok(sys) => {
                        let entry =
                            f.syscalls.entry(sys.id() as u32).or_insert_with(|| (sys.name(), Vec::new()));
                        entry.1.push(Rule { action: act, conds: conds.clone() });
                    }
                    Err(()) if !f.unknown.iter().any(|u| u == &**name) => f.unknown.push(name.to_string()),
                    Err(()) => {}
                }
            }
        }
        f
    }
}
