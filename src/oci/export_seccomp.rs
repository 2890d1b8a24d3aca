//! The jail's seccomp filter as OCI's `linux.seccomp`: the rules procjail compiled (the profile
//! read for the jail's capabilities, this architecture and this kernel), in the form runc and crun
//! load with libseccomp.
//!
//! Two things differ in how a runtime reads a profile. procjail's rules for one syscall are tried
//! in order, the first that holds wins; libseccomp's have no order, so rules of one syscall with
//! different actions are written only when the first has no condition (the rest never apply).
//! And runc turns the conditions of one rule on the same argument into separate rules (an OR),
//! where procjail ANDs them: such conditions are written as the disjoint ranges they leave
//! ("not 38 and not 40" is "< 38, or 39, or > 40"), each range one condition.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::seccomp::{Action, Cmp, Cond, Filter, Rule};

/// OCI's name of an action, and its errno if it has one.
fn action(a: Action) -> (&'static str, Option<u16>) {
    match a {
        Action::Allow => ("SCMP_ACT_ALLOW", None),
        Action::Errno(e) => ("SCMP_ACT_ERRNO", Some(e)),
        Action::KillProcess => ("SCMP_ACT_KILL_PROCESS", None),
        Action::KillThread => ("SCMP_ACT_KILL_THREAD", None),
        Action::Trap => ("SCMP_ACT_TRAP", None),
        Action::Log => ("SCMP_ACT_LOG", None),
        Action::Trace(m) => ("SCMP_ACT_TRACE", Some(m)),
    }
}

/// The architecture's name in OCI.
fn arch() -> &'static str {
    if cfg!(target_arch = "aarch64") { "SCMP_ARCH_AARCH64" } else { "SCMP_ARCH_X86_64" }
}

/// An inclusive range of an argument's values.
type Range = (u64, u64);

fn ranges(c: &Cond) -> Vec<Range> {
    let v = c.value;
    match c.cmp {
        Cmp::Eq => vec![(v, v)],
        Cmp::Ne if v == 0 => vec![(1, u64::MAX)],
        Cmp::Ne if v == u64::MAX => vec![(0, v - 1)],
        Cmp::Ne => vec![(0, v - 1), (v + 1, u64::MAX)],
        Cmp::Lt if v == 0 => vec![],
        Cmp::Lt => vec![(0, v - 1)],
        Cmp::Le => vec![(0, v)],
        Cmp::Gt if v == u64::MAX => vec![],
        Cmp::Gt => vec![(v + 1, u64::MAX)],
        Cmp::Ge => vec![(v, u64::MAX)],
        Cmp::MaskedEq(_) => unreachable!("masked conditions are not ranges"),
    }
}

fn intersect(a: &[Range], b: &[Range]) -> Vec<Range> {
    let mut out = Vec::new();
    for &(a0, a1) in a {
        for &(b0, b1) in b {
            let (lo, hi) = (a0.max(b0), a1.min(b1));
            if lo <= hi {
                out.push((lo, hi));
            }
        }
    }
    out.sort();
    out
}

/// The one condition a range is, if it is one: None for every value.
fn as_cond(arg: u8, (lo, hi): Range) -> Result<Option<Value>, ()> {
    let c = |op: &str, v: u64| Some(json!({ "index": arg, "value": v, "op": op }));
    Ok(match (lo, hi) {
        (0, u64::MAX) => None,
        (lo, hi) if lo == hi => c("SCMP_CMP_EQ", lo),
        (0, hi) => c("SCMP_CMP_LE", hi),
        (lo, u64::MAX) => c("SCMP_CMP_GE", lo),
        _ => return Err(()),
    })
}

/// The argument conditions of one rule as alternatives of at most one condition per argument.
fn alternatives(name: &str, rule: &Rule) -> Result<Vec<Vec<Value>>, String> {
    let mut by_arg: BTreeMap<u8, Vec<&Cond>> = BTreeMap::new();
    for c in &rule.conds {
        by_arg.entry(c.arg).or_default().push(c);
    }
    let mut product: Vec<Vec<Value>> = vec![Vec::new()];
    for (arg, conds) in by_arg {
        let choices: Vec<Option<Value>> = match conds.as_slice() {
            [Cond { cmp: Cmp::MaskedEq(mask), value, .. }] => {
                vec![Some(
                    json!({ "index": arg, "value": mask, "valueTwo": value, "op": "SCMP_CMP_MASKED_EQ" }),
                )]
            }
            _ if conds.iter().any(|c| matches!(c.cmp, Cmp::MaskedEq(_))) => {
                return Err(format!(
                    "{name}: a masked condition beside others on argument {arg}, which runc would OR"
                ));
            }
            _ => {
                let set = conds.iter().fold(vec![(0, u64::MAX)], |acc, c| intersect(&acc, &ranges(c)));
                set.into_iter()
                    .map(|r| as_cond(arg, r))
                    .collect::<Result<_, _>>()
                    .map_err(|_| format!("{name}: the conditions on argument {arg} leave a range no single OCI condition can say"))?
            }
        };
        product = product
            .into_iter()
            .flat_map(|p| choices.iter().map(move |c| p.iter().cloned().chain(c.clone()).collect()))
            .collect();
    }
    Ok(product)
}

/// `linux.seccomp` for this filter, or why it cannot be written.
pub fn profile(f: &Filter) -> Result<Value, String> {
    let (default, default_errno) = action(f.default);
    // Syscalls with the same rules share an entry, in the order of their first number.
    let mut groups: Vec<(Vec<Rule>, Vec<String>)> = Vec::new();
    for (name, rules) in f.syscalls.values() {
        let mut rules = rules.clone();
        if let Some(i) = rules.iter().position(|r| r.conds.is_empty()) {
            rules.truncate(i + 1);
        }
        let first = rules[0].action;
        if rules.iter().any(|r| r.action != first) && !rules[0].conds.is_empty() {
            return Err(format!(
                "{name}: rules with different actions and conditions, whose order libseccomp does not keep"
            ));
        }
        if rules.len() == 1 && rules[0].conds.is_empty() && rules[0].action == f.default {
            continue;
        }
        match groups.iter_mut().find(|(r, _)| *r == rules) {
            Some((_, names)) => names.push(name.to_string()),
            None => groups.push((rules, vec![name.to_string()])),
        }
    }
    let mut entries = Vec::new();
    for (rules, names) in groups {
        for rule in &rules {
            let (act, errno) = action(rule.action);
            for args in alternatives(&names[0], rule)? {
                let mut e = json!({ "names": names, "action": act });
                if let Some(n) = errno {
                    e["errnoRet"] = n.into();
                }
                if !args.is_empty() {
                    e["args"] = Value::Array(args);
                }
                entries.push(e);
            }
        }
    }
    let mut p = json!({ "defaultAction": default, "architectures": [arch()], "syscalls": entries });
    if let Some(n) = default_errno {
        p["defaultErrnoRet"] = n.into();
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::caps;

    /// What the written profile means, read back by procjail's own reader, is what the filter
    /// says, for every syscall number and arguments around each rule's values: runc's OR of one
    /// argument's conditions is never needed to read it.
    #[test]
    fn the_profile_means_what_the_filter_says() {
        for kept in [caps::set(caps::DEFAULT), caps::all(40), 0] {
            let f = crate::seccomp::default_filter(kept, (6, 18));
            let p = profile(&f).unwrap();
            for e in p["syscalls"].as_array().unwrap() {
                let args = e["args"].as_array().map_or(0, |a| a.len());
                let mut idx: Vec<u64> = e["args"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| a["index"].as_u64().unwrap())
                    .collect();
                idx.dedup();
                assert_eq!(idx.len(), args, "one condition per argument: {e}");
            }
            let back = crate::seccomp::parse(&p.to_string()).unwrap().filter(0, (6, 18));
            for nr in 0..480u32 {
                let mut samples =
                    vec![[0u64; 6], [38, 1, 0, 0, 0, 0], [39, 0, 0, 0, 0, 0], [40, 0, 0, 0, 0, 0]];
                if let Some((_, rules)) = f.syscalls.get(&nr) {
                    for c in rules.iter().flat_map(|r| &r.conds) {
                        for v in
                            [c.value, c.value.wrapping_add(1), c.value.wrapping_sub(1), c.value | 1 << 40]
                        {
                            let mut a = [0u64; 6];
                            a[usize::from(c.arg)] = v;
                            samples.push(a);
                        }
                    }
                }
                for a in samples {
                    assert_eq!(back.decide(nr, a), f.decide(nr, a), "nr {nr} args {a:x?}");
                }
            }
        }
    }

    #[test]
    fn ranges_no_single_condition_can_say_are_refused() {
        let mut f = crate::seccomp::default_filter(0, (6, 18));
        let between = Rule {
            action: Action::Allow,
            conds: vec![Cond { arg: 0, cmp: Cmp::Gt, value: 5 }, Cond { arg: 0, cmp: Cmp::Lt, value: 9 }],
        };
        f.syscalls.insert(0, ("read", vec![between]));
        assert!(profile(&f).unwrap_err().contains("read: the conditions on argument 0"));
    }
}
