//! The text of the confinement's steps and the user namespace's: capabilities, ids, seccomp,
//! the device program, the checks.

use std::path::Path;

use super::Proc;
use super::text::{qp, quote};
use nix::sys::signal::Signal;

use crate::host::caps;

pub(super) fn capset(effective: u64, permitted: u64, inheritable: u64) -> String {
    let p = if permitted == effective { "the same".to_string() } else { caps::show(permitted) };
    format!(
        "capset({{_LINUX_CAPABILITY_VERSION_3, 0}}, {{effective: {}, permitted: {p}, inheritable: {}}})",
        caps::show(effective),
        caps::show(inheritable)
    )
}

pub(super) fn seccomp(p: &crate::seccomp::Program) -> String {
    let digest = &p.sha256[..12];
    format!(
        "seccomp(SECCOMP_SET_MODE_FILTER, 0, {{{}, {} insns, sha256 {digest}…: {}}})",
        p.arch, p.insns, p.summary
    )
}

pub(super) fn verify(pid: Proc, checks: usize, observed: bool, limits: bool) -> String {
    let files = match (observed, limits) {
        (true, true) => "{status,limits}",
        (true, false) => "status",
        (false, _) => "{status,ns/*,mountinfo,cgroup,limits,uid_map,gid_map}",
    };
    let and = if observed { ", the jail's read and checked before" } else { "" };
    format!("read(\"/proc/{}/{files}\"){and}: {checks} checks against the plan", pid.var())
}

pub(super) fn observe(pid: Proc, points: usize) -> String {
    let files = "{ns/*,mountinfo,cgroup,uid_map,gid_map}";
    format!(
        "read(\"/proc/{}/{files}\"), {points} planned points resolved in its root, and checked against the plan, while the command takes its last steps",
        pid.var()
    )
}

pub(super) fn id_map_helper(program: &std::path::Path, map: &[crate::spec::IdRange]) -> String {
    let name = program.file_name().map_or(String::new(), |n| n.to_string_lossy().into_owned());
    let mut args = vec![quote(&name), "\"$CHILD_PID\"".to_string()];
    for r in map {
        args.extend([r.inside, r.outside, r.count].iter().map(|n| format!("\"{n}\"")));
    }
    format!("fork(); execve({}, [{}]); wait4() = exit 0", qp(program), args.join(", "))
}

pub(super) fn reset_signals(ignored: u64) -> String {
    let names: Vec<String> = super::resettable(ignored)
        .map(|s| {
            Signal::try_from(s)
                .map_or(format!("SIG{s}"), |sig| sig.as_str().trim_start_matches("SIG").to_string())
        })
        .collect();
    match names.as_slice() {
        [] => "sigprocmask(SIG_SETMASK, [], NULL)".into(),
        _ => format!(
            "sigprocmask(SIG_SETMASK, [], NULL); rt_sigaction(each of [{}], SIG_DFL)",
            names.join(",")
        ),
    }
}

pub(super) fn bounding_drop(drop: u64) -> String {
    let drop = caps::names(drop);
    format!("prctl(PR_CAPBSET_DROP, each of {}: {})", drop.len(), drop.join("|"))
}

pub(super) fn set_user(uid: u32, gid: u32, groups: &Option<Vec<u32>>) -> String {
    let ids = format!("setresgid({gid}, {gid}, {gid}); setresuid({uid}, {uid}, {uid})");
    match groups {
        Some(groups) => {
            let g: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
            format!("setgroups({}, [{}]); {ids}", g.len(), g.join(", "))
        }
        None => ids,
    }
}

pub(super) fn device_filter(cgroup: &Path, rules: &[String], insns: usize) -> String {
    format!(
        "bpf(BPF_PROG_LOAD, {{BPF_PROG_TYPE_CGROUP_DEVICE, {insns} insns: allow {}; deny the rest}}) = progfd; \
         bpf(BPF_PROG_ATTACH, {{open({}, O_DIRECTORY), BPF_CGROUP_DEVICE, progfd, BPF_F_ALLOW_MULTI}}); close(progfd)",
        rules.join(", "),
        qp(cgroup)
    )
}
