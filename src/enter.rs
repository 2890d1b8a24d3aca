//! `procjail exec NAME -- CMD...`: a command in a running jail. Its own small plan, walked like
//! `up`'s: join the jail's cgroups, become non-dumpable (so nothing in the jail can reach this
//! process through /proc before it is fully inside: the runc CVE-2016-9962 class), setns into
//! each namespace, chroot into the jail's root, fork (the pid namespace applies to children),
//! and in the child the same last steps as the jail's own command.

use std::path::PathBuf;

use nix::sched::CloneFlags;

use crate::plan::{Builder, Op, Phase, Plan, Side, Value};
use crate::spec::Origin;
use crate::state::State;

/// The namespaces joined, in order: the mount namespace last, since it changes what paths mean.
pub const JOIN: &[(&str, CloneFlags)] = &[
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("pid", CloneFlags::CLONE_NEWPID),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

/// The plan of an exec into the jail of `state`.
pub fn build(state: &State, argv: &[String], host: &crate::host::Host) -> Plan {
    let d = Origin::Default;
    let mut b = Builder::default();
    b.phase("join", Side::Parent);
    let init = state.init_pid;
    // Only the namespaces the jail has: the others are the host's, like ours.
    let own: Vec<&(&str, CloneFlags)> = JOIN
        .iter()
        .filter(|(ns, _)| {
            let jail = std::fs::read_link(format!("/proc/{init}/ns/{ns}")).ok();
            jail.is_some() && jail != std::fs::read_link(format!("/proc/self/ns/{ns}")).ok()
        })
        .collect();
    for (ns, _) in &own {
        b.step(Op::OpenNs { ns: ns.to_string(), path: format!("/proc/{init}/ns/{ns}").into() }, d.clone());
    }
    b.step(Op::OpenRoot { path: format!("/proc/{init}/root").into() }, d.clone());
    for cg in &state.cgroups {
        b.step(Op::Write { path: cg.join("cgroup.procs"), value: Value::SelfPid }, d.clone());
    }
    b.step(Op::NotDumpable, d.clone());
    for (ns, flag) in &own {
        b.step(Op::SetNs { ns: ns.to_string(), flag: *flag }, d.clone());
    }
    b.step(Op::Chroot, d.clone());
    b.step(Op::CloseRoot, d.clone());
    b.step(Op::Fork, d.clone());
    b.phase("exec", Side::Command);
    b.step(Op::Setsid, d.clone());
    b.step(Op::ResetSignals, d.clone());
    for (key, value) in &state.rlimits {
        let r = crate::limits::by_key(key);
        b.step(Op::Setrlimit { key: key.clone(), resource: r.name.to_string(), value: *value }, d.clone());
    }
    b.step(Op::Chdir { path: state.cwd.clone() }, d.clone());
    b.step(Op::DropPtrace, d.clone());
    b.step(Op::CloseFds, d.clone());
    b.step(Op::Execve { argv: argv.to_vec(), env: state.env.clone() }, d.clone());
    b.phase("supervise", Side::Parent);
    b.step(Op::Wait { grace_ms: 3000, timeout_ms: None }, d);
    let phases: Vec<Phase> = b.finish();
    Plan { jail: state.name.clone(), file: PathBuf::from(&state.file), host: host.clone(), phases }
}

// ---- performing the steps ----

use std::os::fd::AsRawFd;

use crate::exec::{Ctx, Failure, StepResult};

pub fn open_ns(ns: &str, path: &std::path::Path, ctx: &mut Ctx) -> StepResult {
    let fd = nix::fcntl::open(
        path,
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| Failure::new(e, format!("cannot open {}", path.display())))?;
    ctx.ns_fds.push((ns.to_string(), fd));
    Ok(())
}

pub fn setns(ns: &str, flag: CloneFlags, ctx: &mut Ctx) -> StepResult {
    let i = ctx.ns_fds.iter().position(|(n, _)| n == ns).ok_or(nix::errno::Errno::EBADF)?;
    let (_, fd) = ctx.ns_fds.remove(i);
    nix::sched::setns(&fd, flag)?;
    Ok(())
}

/// fchdir to the jail's root (opened before setns) and chroot there.
pub fn chroot(ctx: &Ctx) -> StepResult {
    let root = ctx.rootfd.as_ref().ok_or(nix::errno::Errno::EBADF)?;
    // SAFETY: fchdir on a descriptor we own.
    if unsafe { libc::fchdir(root.as_raw_fd()) } != 0 {
        return Err(nix::errno::Errno::last().into());
    }
    nix::unistd::chroot(".")?;
    nix::unistd::chdir("/")?;
    Ok(())
}

/// `procjail exec`: walks the exec plan; returns the command's exit code.
pub fn run(name: &str, argv: &[String], trace: bool) -> anyhow::Result<i32> {
    let state = crate::state::running(name)?;
    let host = crate::host::Host::detect();
    let plan = build(&state, argv, &host);
    crate::exec::run_attached(&plan, trace)
}
