//! The text of the confinement's steps and the user namespace's: capabilities, ids, seccomp,
//! masks and read-only paths, the device program, the checks.

use std::path::{Path, PathBuf};

use super::text::{in_root, names, qp, quote};
use super::{Proc, Target};
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

pub(super) fn verify(pid: Proc, checks: usize) -> String {
    let files = "{status,ns/*,mountinfo,cgroup,limits,uid_map,gid_map}";
    format!("read(\"/proc/{}/{files}\"): {checks} checks against the plan", pid.var())
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

pub(super) fn sysctl(key: &str, value: &str) -> String {
    let path = PathBuf::from("/proc/sys").join(key.replace('.', "/"));
    format!("{}; write($fd, {})", in_root("$fd", &path, "O_WRONLY", false), quote(value))
}

pub(super) fn mask(at: &Path) -> String {
    format!(
        "{}; a folder: mount(\"tmpfs\", \"/proc/self/fd/$fd\", \"tmpfs\", MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC, \"nr_inodes=1,mode=0555\"), \
         a file: mount(\"/proc/self/fd/$nullfd\", \"/proc/self/fd/$fd\", NULL, MS_BIND, NULL)",
        in_root("$fd", at, "O_PATH", false)
    )
}

pub(super) fn read_only(at: &Path) -> String {
    let open = in_root("$fd", at, "O_PATH", false);
    format!(
        "{open}; mount(\"/proc/self/fd/$fd\", \"/proc/self/fd/$fd\", NULL, MS_BIND|MS_REC, NULL); \
         {open}; mount_setattr($fd, \"\", AT_EMPTY_PATH|AT_RECURSIVE, {{attr_set: MOUNT_ATTR_RDONLY}})"
    )
}

pub(super) fn mount_attrs(set: u64) -> String {
    let named = [
        (0x1, "MOUNT_ATTR_RDONLY"),
        (0x2, "MOUNT_ATTR_NOSUID"),
        (0x4, "MOUNT_ATTR_NODEV"),
        (0x8, "MOUNT_ATTR_NOEXEC"),
    ];
    names(named.iter().filter(|(b, _)| set & b != 0).map(|(b, n)| (*n, *b)), set)
}

pub(super) fn mount_setattr(target: &Target, set: u64, recursive: bool) -> String {
    let flags = if recursive { "|AT_RECURSIVE" } else { "" };
    let attrs = format!("{{attr_set: {}}}", mount_attrs(set));
    match target {
        Target::InRoot(p) if p == Path::new("/") => {
            format!("mount_setattr(rootfd, \"\", AT_EMPTY_PATH{flags}, {attrs})")
        }
        Target::InRoot(p) => {
            format!(
                "{}; mount_setattr($fd, \"\", AT_EMPTY_PATH{flags}, {attrs})",
                in_root("$fd", p, "O_PATH", false)
            )
        }
        Target::Path(p) => {
            let flags = if recursive { "AT_RECURSIVE" } else { "0" };
            format!("mount_setattr(AT_FDCWD, {}, {flags}, {attrs})", qp(p))
        }
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
