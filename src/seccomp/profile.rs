//! The docker/OCI seccomp profile format (what `docker run --security-opt seccomp=FILE` and
//! config.json's `linux.seccomp` take): defaultAction, defaultErrnoRet, and syscalls with names,
//! action, errnoRet, args, and docker's includes/excludes by capability, architecture and kernel.

use serde::Deserialize;

use super::{Action, Cmp, Cond, Filter, Rule, number};
use crate::host::caps;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    default_action: String,
    #[serde(default)]
    default_errno_ret: Option<u16>,
    #[serde(default)]
    syscalls: Vec<Entry>,
    #[serde(default, rename = "comment")]
    _comment: Option<String>,
    #[serde(default, rename = "architectures")]
    _architectures: Option<Vec<String>>,
    #[serde(default, rename = "archMap")]
    _arch_map: Option<serde_json::Value>,
    #[serde(default, rename = "flags")]
    _flags: Option<Vec<String>>,
    #[serde(default, rename = "listenerPath")]
    _listener_path: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Entry {
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    name: Option<String>,
    action: String,
    #[serde(default)]
    errno_ret: Option<u16>,
    #[serde(default)]
    args: Vec<Arg>,
    #[serde(default)]
    includes: Filters,
    #[serde(default)]
    excludes: Filters,
    #[serde(default)]
    comment: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filters {
    #[serde(default)]
    caps: Vec<String>,
    #[serde(default)]
    arches: Vec<String>,
    #[serde(default)]
    min_kernel: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Arg {
    index: u8,
    value: u64,
    #[serde(default)]
    value_two: u64,
    op: String,
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
pub struct Parsed(Profile);

pub fn parse(text: &str) -> Result<Parsed, ProfileError> {
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

impl Parsed {
    /// The rules that apply to a jail keeping `jail_caps`, on this architecture and kernel.
    pub fn filter(&self, jail_caps: u64, kernel: (u32, u32)) -> Filter {
        let p = &self.0;
        let default = action(&p.default_action, p.default_errno_ret).expect("checked in parse");
        let mut f = Filter { default, syscalls: Default::default(), unknown: Vec::new() };
        for e in &p.syscalls {
            let has = |c: &String| jail_caps & caps::bit(c) != 0;
            let inc = &e.includes;
            if !inc.caps.iter().all(has)
                || (!inc.arches.is_empty() && !inc.arches.iter().any(|a| arch_names().contains(&a.as_str())))
                || inc.min_kernel.as_deref().is_some_and(|m| !kernel_at_least(m, kernel))
            {
                continue;
            }
            let exc = &e.excludes;
            if exc.caps.iter().any(has)
                || exc.arches.iter().any(|a| arch_names().contains(&a.as_str()))
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
                match number(name) {
                    Some(nr) => {
                        let entry = f.syscalls.entry(nr).or_insert_with(|| (name.clone(), Vec::new()));
                        entry.1.push(Rule { action: act, conds: conds.clone() });
                    }
                    None if !f.unknown.contains(name) => f.unknown.push(name.clone()),
                    None => {}
                }
            }
        }
        f
    }
}
