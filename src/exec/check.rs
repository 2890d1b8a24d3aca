//! Checks at the end of a walk: they read, and fail when the host is not as it should be.

use std::path::Path;

use nix::errno::Errno;

use super::Options;
use crate::error::Failure;
use crate::host::{mountinfo, read_small};
use crate::plan::Plan;

/// The host's mount table must have no mount under the rootfs that was not there before the
/// run: the jail's mounts live and die in its own mount namespace.
pub fn mounts(plan: &Plan, opts: &Options) -> Result<(), Failure> {
    let Some(root) = &plan.facts.rootfs else { return Ok(()) };
    let now = read_small("/proc/self/mountinfo")?;
    if now == opts.mounts_before {
        return Ok(());
    }
    let under = |text: &str| -> Vec<String> {
        mountinfo::points(text).into_iter().filter(|m| Path::new(m).starts_with(root)).collect()
    };
    let before = under(&opts.mounts_before);
    let leaked: Vec<String> = under(&now).into_iter().filter(|m| !before.contains(m)).collect();
    if leaked.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(Errno::EBUSY, format!("mounts leaked onto the host: {}", leaked.join(", "))))
    }
}

/// The path must be gone.
pub fn gone(path: &Path) -> Result<(), Failure> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
        Ok(_) => Err(Failure::new(Errno::EEXIST, format!("{} is still there", path.display()))),
    }
}

/// A user's state folder: a real folder of its own, not writable by anyone else.
pub fn private(path: &Path, uid: u32) -> Result<(), Failure> {
    if crate::host::user::private_dir_of(path, uid) {
        return Ok(());
    }
    let msg = format!("{} is not a folder of uid {uid}'s that only it can write", path.display());
    Err(Failure::new(Errno::EPERM, msg))
}

/// /proc opened here, unless the walk holds the host's procfs already (opened before entering a
/// jail): then None.
fn open_procfs(h: &super::ctx::Handles) -> Result<Option<std::os::fd::OwnedFd>, Failure> {
    if h.procfd.is_some() {
        return Ok(None);
    }
    let flags = nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC;
    Ok(Some(nix::fcntl::open("/proc", flags, nix::sys::stat::Mode::empty())?))
}

/// The pid of the process the checks are about, as the host sees it. The command of the built-in
/// init: the sender of "ready" (the sync channel passes its credentials).
fn checked_pid(
    who: crate::plan::Proc,
    h: &super::ctx::Handles,
    j: &super::ctx::Journal,
) -> Result<i32, Failure> {
    use crate::plan::Proc;
    match (who, h.pid(who)) {
        (_, Some(p)) => Ok(p.as_raw()),
        (Proc::Command, None) => {
            j.ready_pid.ok_or_else(|| Failure::new(Errno::ESRCH, "\"ready\" came without its sender's pid"))
        }
        (Proc::Child, None) => Err(Errno::ESRCH.into()),
    }
}

/// What the jail's first process shares with the command, read while the command takes its last
/// steps: Verify finishes it.
pub fn observe(
    who: crate::plan::Proc,
    paths: &[std::path::PathBuf],
    plan: &Plan,
    h: &super::ctx::Handles,
    j: &mut super::ctx::Journal,
) -> Result<(), Failure> {
    use std::os::fd::AsFd;
    let opened = open_procfs(h)?;
    let proc = opened.as_ref().or(h.procfd.as_ref()).ok_or(Errno::EBADF)?;
    let pid = checked_pid(who, h, j)?;
    let seen = crate::host::probe::observe_jail(proc.as_fd(), pid, paths, &plan.host.view)
        .map_err(|e| Failure::from(e).with_detail(format!("cannot read /proc/{pid}")))?;
    // The checks of the plan's Verify step: those of the jail are made now, off the way to the
    // execve.
    let checks = plan.steps().find_map(|s| match &s.op {
        crate::plan::Op::Verify { checks, .. } => Some(checks),
        _ => None,
    });
    j.jail_rows = checks.map(|c| c.compare_jail(&seen));
    j.observed = Some(seen);
    Ok(())
}

/// The kernel's answer before the command's execve: its /proc entries read back (after an
/// Observe step, only what its last steps changed) and compared with the plan. A mismatch
/// fails this step, naming the step whose effect is missing.
pub fn verify(
    who: crate::plan::Proc,
    checks: &crate::plan::verify::Checks,
    plan: &Plan,
    h: &super::ctx::Handles,
    j: &mut super::ctx::Journal,
    opts: &Options,
) -> Result<(), Failure> {
    use crate::host::probe;
    use std::os::fd::AsFd;
    let opened = open_procfs(h)?;
    let proc = opened.as_ref().or(h.procfd.as_ref()).ok_or(Errno::EBADF)?;
    let read =
        |pid: i32| move |e: std::io::Error| Failure::from(e).with_detail(format!("cannot read /proc/{pid}"));
    let pid = checked_pid(who, h, j)?;
    let mut seen = match j.observed.take() {
        Some(mut seen) => {
            seen.pid = pid;
            probe::observe_process(proc.as_fd(), &mut seen, checks.reads_limits()).map_err(read(pid))?;
            seen
        }
        None => probe::observe(proc.as_fd(), pid, &checks.paths(), &plan.host.view).map_err(read(pid))?,
    };
    // The namespaces the command read itself, where the supervisor could not read them.
    for (n, link) in &j.own_ns {
        seen.ns.entry(n.clone()).or_insert_with(|| link.clone());
    }
    let rows = match j.jail_rows.take() {
        Some(jail) if j.own_ns.is_empty() => checks.compare_with(&seen, jail),
        _ => checks.compare(&seen),
    };
    if opts.verify {
        let table = crate::plan::verify::table(&rows);
        super::say(&format!(
            "procjail: the kernel's answer for pid {pid}, before its execve:\n{}",
            table.trim_end()
        ));
    }
    match rows.iter().find(|r| !r.ok) {
        None => Ok(()),
        Some(r) => {
            let step = plan.step(r.step).map_or(format!("step {}", r.step), |s| plan.describe(s));
            let mut msg = format!(
                "the kernel does not show the effect of {step}: {} reads {}, the plan says {}",
                r.what, r.read, r.planned
            );
            if r.what.starts_with("status Cap") {
                msg.push_str(&format!(" ({})", crate::plan::verify::cap_difference(&r.planned, &r.read)));
            }
            Err(Failure::new(Errno::EPROTO, msg))
        }
    }
}
