//! The few lines `plan` prints before its steps: what the jail is, in the words of its keys.

use crate::config::{InitMode, Size};
use crate::host::caps;
use crate::plan::{Plan, Side};
use crate::spec::Spec;

/// (what, how it is), in the order `plan` prints them.
pub fn summary(spec: &Spec, plan: &Plan) -> Vec<(String, String)> {
    let ns = &spec.namespaces;
    let all = [
        ("pid", ns.pid),
        ("mount", ns.mount),
        ("uts", ns.uts),
        ("ipc", ns.ipc),
        ("net", ns.net),
        ("cgroup", ns.cgroup),
        ("user", ns.user),
    ];
    let own: Vec<&str> = all.iter().filter(|(_, on)| *on).map(|(n, _)| *n).collect();
    let shared: Vec<&str> = all.iter().filter(|(_, on)| !*on).map(|(n, _)| *n).collect();
    let mut namespaces = format!("new {}", own.join(" "));
    if let Some(m) = &spec.id_maps {
        let lines: Vec<String> =
            m.uid.iter().map(|r| format!("{} → {}, {}", r.inside, r.outside, r.count)).collect();
        namespaces.push_str(&format!(" (uids {})", lines.join("; ")));
    }
    if !shared.is_empty() {
        namespaces.push_str(&format!("; the host's {}", shared.join(" ")));
    }
    let mut rootfs = spec.rootfs.display().to_string();
    if spec.make_rootfs {
        rootfs.push_str(" (made from busybox first)");
    }
    if spec.rootfs_readonly {
        rootfs.push_str(", read-only");
    }
    let confinement = confinement(spec, plan.host.uid == 0);
    vec![
        ("namespaces".into(), namespaces),
        ("rootfs".into(), rootfs),
        ("limits".into(), limits(spec)),
        ("init".into(), init(spec)),
        ("confinement".into(), confinement),
        ("command".into(), spec.argv.iter().map(|a| shell_word(a)).collect::<Vec<_>>().join(" ")),
        ("steps".into(), steps(plan)),
    ]
}

fn limits(spec: &Spec) -> String {
    let l = &spec.limits;
    let mut out = Vec::new();
    if let Some(m) = &l.memory {
        out.push(format!("memory {}", Size(m.value).human()));
    }
    if let Some(m) = &l.memory_swap {
        out.push(format!("memory+swap {}", Size(m.value).human()));
    }
    if let Some(p) = &l.pids {
        out.push(format!("pids {}", p.value));
    }
    if let Some(c) = &l.cpus {
        out.push(format!("cpus {}", c.value));
    }
    if let Some(w) = &l.cpu_weight {
        out.push(format!("cpu_weight {}", w.value));
    }
    for (key, r) in &l.rlimits {
        let show = |x: u64| if x == u64::MAX { "unlimited".to_string() } else { x.to_string() };
        let (soft, hard) = r.value;
        if soft == hard {
            out.push(format!("{key} {}", show(soft)));
        } else {
            out.push(format!("{key} {}/{}", show(soft), show(hard)));
        }
    }
    if out.is_empty() { "none".into() } else { out.join(", ") }
}

fn init(spec: &Spec) -> String {
    match spec.init {
        InitMode::Builtin => {
            format!("procjail's built-in init as PID 1 (reaps, forwards signals, grace {} ms)", spec.grace_ms)
        }
        InitMode::None => "none: the command is PID 1".into(),
    }
}

fn confinement(spec: &Spec, root: bool) -> String {
    let c = &spec.confine;
    let n = caps::names(c.caps.value).len();
    let mut out = vec![format!("{n} capabilit{}", if n == 1 { "y" } else { "ies" })];
    if c.no_new_privs.value {
        out.push("no_new_privs".into());
    }
    out.push(match &c.seccomp.value {
        Some(p) => format!("seccomp ({} instructions)", p.insns),
        None => "no seccomp".into(),
    });
    out.push(format!("{} masked and {} read-only paths", c.masked.value.len(), c.readonly.value.len()));
    out.push(if root {
        format!("{} device rules", c.devices.value.len())
    } else {
        "no device rules (not root: a user namespace makes no device node)".into()
    });
    if c.user.uid != 0 {
        out.push(format!("uid {}", c.user.uid));
    }
    out.join(", ")
}

fn steps(plan: &Plan) -> String {
    let count =
        |side: Side| plan.phases.iter().filter(|p| p.side == side).map(|p| p.steps.len()).sum::<usize>();
    format!(
        "{}: {} by the supervisor, {} by the jail's init, {} by the command",
        plan.len(),
        count(Side::Parent),
        count(Side::Child),
        count(Side::Command)
    )
}

/// An argument as a shell would need it written: as it is when it is plain, else in single
/// quotes.
fn shell_word(a: &str) -> String {
    let plain = !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "/._-=:,@%+".contains(c));
    if plain { a.to_string() } else { format!("'{}'", a.replace('\'', "'\\''")) }
}
