//! The `process` object of config.json: args, env, cwd, user, rlimits, capabilities,
//! noNewPrivileges, oomScoreAdj.

use serde_json::Value;

use super::doc::{BadInput, Doc, bad, key, q, q_list};
use super::import::Jail;
use super::import_linux::size;
use crate::host::{caps, rlimits};

/// `standin`: the first two args are the init `export oci --init` put in front, and go.
pub(super) fn process(doc: &mut Doc, j: &mut Jail, standin: bool) -> Result<(), BadInput> {
    if doc.peek("/process").is_none() {
        return Err(bad(
            "/process",
            "missing: runc refuses to start a container without one",
            "a process object with args",
        ));
    }
    let mut args = doc.strings("/process/args")?.unwrap_or_default();
    if standin {
        args.drain(..2);
    }
    if args.is_empty() {
        return Err(bad("/process/args", "missing or empty", "the command and its arguments, program first"));
    }
    j.set("command", "argv", q_list(&args), None);
    if doc.peek("/process/terminal") == Some(&Value::Bool(false)) {
        doc.take("/process/terminal");
    }
    let mut env: Vec<(String, String)> = Vec::new();
    for (i, e) in doc.strings("/process/env")?.unwrap_or_default().iter().enumerate() {
        let Some((k, v)) = e.split_once('=') else {
            return Err(bad(&format!("/process/env/{i}"), format!("{e:?} has no '='"), "\"NAME=value\""));
        };
        env.retain(|(n, _)| n != k);
        env.push((k.to_string(), v.to_string()));
    }
    let table: Vec<String> = env.iter().map(|(k, v)| format!("{} = {}", key(k), q(v))).collect();
    j.set("command", "env", format!("{{ {} }}", table.join(", ")), None);
    if let Some(cwd) = doc.string("/process/cwd")? {
        j.set("command", "cwd", q(&cwd), None);
    }
    user(doc, j)?;
    rlimits_of(doc, j)?;
    let nnp = doc.bool("/process/noNewPrivileges")?.unwrap_or(false);
    j.set("security", "no_new_privs", nnp.to_string(), None);
    if let Some(adj) = doc.int("/process/oomScoreAdj")? {
        j.set("security", "oom_score_adj", adj.to_string(), None);
    }
    Ok(())
}

fn user(doc: &mut Doc, j: &mut Jail) -> Result<(), BadInput> {
    let uid = doc.int("/process/user/uid")?.unwrap_or(0);
    let gid = doc.int("/process/user/gid")?.unwrap_or(0);
    for (p, v) in [("/process/user/uid", uid), ("/process/user/gid", gid)] {
        if !(0..=crate::config::rules::ID_MAX as i128).contains(&v) {
            return Err(bad(p, format!("{v} is not an id"), "0 to 4294967294"));
        }
    }
    j.set("command", "user", q(&format!("{uid}:{gid}")), None);
    let mut groups = Vec::new();
    if doc.len("/process/user/additionalGids")? > 0 {
        for i in 0..doc.len("/process/user/additionalGids")? {
            let p = format!("/process/user/additionalGids/{i}");
            groups.push(doc.int(&p)?.ok_or_else(|| bad(&p, "null", "a gid"))?.to_string());
        }
        j.set("command", "groups", format!("[{}]", groups.join(", ")), None);
    }
    if doc.peek("/process/user/umask").and_then(Value::as_u64) == Some(0o022) {
        doc.take("/process/user/umask");
    }
    Ok(())
}

/// process.rlimits: each type once, soft and hard, RLIM_INFINITY as "unlimited".
fn rlimits_of(doc: &mut Doc, j: &mut Jail) -> Result<(), BadInput> {
    let mut seen: Vec<String> = Vec::new();
    for i in 0..doc.len("/process/rlimits")? {
        let at = format!("/process/rlimits/{i}");
        let t = doc.string(&format!("{at}/type"))?.unwrap_or_default();
        let Some(r) = rlimits::by_name(&t) else {
            let names: Vec<&str> = rlimits::RLIMITS.iter().map(|r| r.name).collect();
            return Err(bad(&format!("{at}/type"), format!("{t:?} is not an rlimit"), names.join(", ")));
        };
        if seen.contains(&t) {
            return Err(bad(&format!("{at}/type"), format!("{t} is given twice"), "each type once"));
        }
        seen.push(t);
        let mut bound = |k: &str| -> Result<String, BadInput> {
            let p = format!("{at}/{k}");
            let v = doc.int(&p)?.ok_or_else(|| bad(&p, "missing", "an integer"))?;
            if v < 0 || v == u64::MAX as i128 {
                return Ok(q("unlimited"));
            }
            Ok(match r.key {
                "core" | "fsize" | "stack" | "as" | "data" | "memlock" | "msgqueue" | "rss" => size(v),
                "cpu_time" => q(&crate::config::Duration(v as u64 * 1000).to_string()),
                _ => v.to_string(),
            })
        };
        let (soft, hard) = (bound("soft")?, bound("hard")?);
        let value = if soft == hard { soft } else { format!("{{ soft = {soft}, hard = {hard} }}") };
        j.set("limits", r.key, value, None);
    }
    Ok(())
}

/// process.capabilities. A root command gets, through its execve, its bounding set (and its
/// inheritable one): procjail's `capabilities`. A command of another uid keeps only its ambient
/// set: procjail's `ambient`.
pub(super) fn capabilities(doc: &mut Doc, j: &mut Jail) -> Result<(), BadInput> {
    let base = "/process/capabilities";
    let mut set = |k: &str| -> Result<u64, BadInput> {
        let p = format!("{base}/{k}");
        let mut bits = 0;
        for (i, n) in doc.strings(&p)?.unwrap_or_default().iter().enumerate() {
            let Some(b) = caps::number(n) else {
                return Err(bad(
                    &format!("{p}/{i}"),
                    format!("{n:?} is not a capability"),
                    "CAP_CHOWN, CAP_KILL, ...",
                ));
            };
            bits |= 1u64 << b;
        }
        Ok(bits)
    };
    let (b, e, p, i, a) =
        (set("bounding")?, set("effective")?, set("permitted")?, set("inheritable")?, set("ambient")?);
    let root = doc.peek("/process/user/uid").and_then(Value::as_u64).unwrap_or(0) == 0;
    let names = |s: u64| q_list(&caps::names(s));
    let mut notes = Vec::new();
    if root {
        if i & !b != 0 {
            notes.push(format!("the inheritable {} are not in the bounding set: runc's root gets them through execve, procjail's does not", caps::names(i & !b).join(" ")));
        } else if i != 0 {
            notes
                .push("OCI's inheritable set is left empty: a root command's set is the bounding one".into());
        }
        if a != 0 {
            notes.push("OCI's ambient set is left out: root keeps its set through execve without it".into());
        }
        if e != p || p != b {
            notes.push("OCI's effective and permitted sets differ from the bounding one: a root command's execve gives it the bounding set".into());
        }
        j.set("security", "capabilities", names(b), (!notes.is_empty()).then(|| notes.join("; ")));
        return Ok(());
    }
    let kept = a & i & p;
    j.set("security", "capabilities", names(b), None);
    if kept != 0 {
        let note = (i != kept).then(|| "procjail's inheritable set is the ambient one".to_string());
        j.set("security", "ambient", names(kept), note);
    }
    Ok(())
}
