//! Teardown: runs on every path out of `up`, undoes exactly what was done, then checks that the
//! host is as it was. Also the hints that go with a failed step's errno.

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::waitpid;

use crate::exec::{Ctx, Failure, StepResult};
use crate::plan::{Op, Phase, Plan, Side, Step};

/// Runs the teardown phases: each step whose `needs` ran; every failure is collected, and the
/// rest still runs. Returns the failures as lines for the error report.
pub fn run(
    plan: &Plan,
    phases: &[Phase],
    ctx: &mut Ctx,
    mut apply: impl FnMut(&Step, &mut Ctx) -> StepResult,
) -> Vec<String> {
    let mut errors = Vec::new();
    for step in phases.iter().flat_map(|p| &p.steps) {
        if step.side != Side::Parent || step.needs.is_some_and(|n| !ctx.done.contains(&n)) {
            continue;
        }
        if let Err(f) = apply(step, ctx) {
            let detail = if f.detail.is_empty() { String::new() } else { format!(": {}", f.detail) };
            errors.push(format!("{}: {:?}{detail}", plan.describe(step), f.errno));
        }
    }
    errors
}

/// The jail's first process, if setup stopped before it was waited for: SIGKILL and reap.
pub fn kill_child(ctx: &mut Ctx) -> StepResult {
    let Some(child) = ctx.child else {
        return Ok(());
    };
    if ctx.reaped {
        return Ok(());
    }
    match kill(child, Signal::SIGKILL) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(e) => return Err(e.into()),
    }
    waitpid(child, None)?;
    ctx.reaped = true;
    Ok(())
}

/// Mount points in a mountinfo text (field 5), decoded from its octal escapes.
pub fn mount_points(mountinfo: &str) -> Vec<String> {
    mountinfo.lines().filter_map(|l| l.split(' ').nth(4)).map(unescape).collect()
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let code: String = chars.by_ref().take(3).collect();
            if let Ok(n) = u8::from_str_radix(&code, 8) {
                out.push(n as char);
                continue;
            }
            out.push_str(&code);
        } else {
            out.push(c);
        }
    }
    out
}

/// The host's mount table must have no mount that was not there before the run under the
/// rootfs or a mount target: the jail's mounts live and die in its own mount namespace.
pub fn check_mounts(ctx: &Ctx, plan: &Plan) -> StepResult {
    let now = crate::host::read_small("/proc/self/mountinfo")?;
    let before = mount_points(&ctx.mounts_before);
    let roots: Vec<&std::path::Path> = plan
        .steps()
        .filter_map(|s| match &s.op {
            Op::OpenRoot { path } => Some(path.as_path()),
            _ => None,
        })
        .collect();
    let leaked: Vec<String> = mount_points(&now)
        .into_iter()
        .filter(|m| !before.contains(m) && roots.iter().any(|r| std::path::Path::new(m).starts_with(r)))
        .collect();
    if leaked.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(Errno::EBUSY, format!("mounts leaked onto the host: {}", leaked.join(", "))))
    }
}

/// A hint for a failed step, specific to the call and the errno.
pub fn hint(op: &Op, e: Errno) -> Option<String> {
    let h = match (op, e) {
        (_, Errno::EPERM) if !nix::unistd::geteuid().is_root() => "procjail needs root: run it with sudo",
        (Op::PivotRoot { .. }, Errno::EINVAL) => {
            "pivot_root needs the new root to be a mount point that is not shared, on a root that is not the initramfs rootfs"
        }
        (Op::Mount { .. }, Errno::ENOENT) => "the source or the target is missing",
        (Op::Mount { .. }, Errno::EPERM) => "a missing capability (CAP_SYS_ADMIN), or a locked mount",
        (Op::Mount { .. }, Errno::ENODEV) => "this kernel does not have that filesystem type",
        (Op::MountPoint { .. }, Errno::ELOOP) => "replace the symlink with a directory in the rootfs",
        (Op::MountPoint { .. }, Errno::EROFS) => {
            "the rootfs is on a read-only filesystem: create the mount point in it first"
        }
        (Op::Write { .. }, Errno::ENOENT) => {
            "the cgroup file is missing: is the controller enabled on this host?"
        }
        (Op::Write { .. }, Errno::EINVAL) => "the kernel refused the value for this cgroup file",
        (Op::Write { .. }, Errno::EBUSY) => {
            "on cgroup v2, a cgroup with processes cannot enable controllers for its children"
        }
        (Op::Mkdir { .. }, Errno::EEXIST) => {
            "a jail of this name is running, or left over: run `procjail gc` or pick another --name"
        }
        (Op::Mkdir { .. }, Errno::ENOENT) => "the parent folder is missing",
        (Op::Execve { .. }, Errno::ENOENT) => "the program is not in the rootfs: check argv[0] and PATH",
        (Op::Execve { .. }, Errno::EACCES) => "the program is not executable: chmod +x it in the rootfs",
        (Op::Sethostname { .. }, Errno::EPERM) => "sethostname needs the uts namespace and CAP_SYS_ADMIN",
        (Op::Setrlimit { .. }, Errno::EPERM) => {
            "raising a hard rlimit needs CAP_SYS_RESOURCE: lower the value in [limits]"
        }
        (Op::Clone { .. }, Errno::EPERM) => "creating namespaces needs root (CAP_SYS_ADMIN)",
        (Op::Clone { .. }, Errno::ENOSPC) => "too many namespaces: see /proc/sys/user/max_*_namespaces",
        (_, Errno::EPERM) => "not root, or a missing capability",
        _ => return None,
    };
    Some(h.to_string())
}
