//! The plan of `procjail up`.

use crate::cgroups;
use crate::host::Host;
use crate::host::user::JailFiles;
use crate::plan::verify::Expect;
use crate::plan::{Builder, Cond, Facts, Op, PhaseKind, Plan, Proc, Side, SignalSet};
use crate::spec::{Origin, Spec};
use crate::{confine, init, mounts, namespaces};

/// Make the rootfs if asked, the state folder and lock, the cgroups, spawn, the child's setup,
/// exec, supervise, report, teardown.
pub fn up(spec: &Spec, host: &Host) -> Plan {
    let mut b = Builder::default();
    let files = JailFiles::of(&host.state_dir, &spec.name);
    let lock = plan_state(&mut b, &files, host);
    if spec.make_rootfs {
        b.phase(PhaseKind::Rootfs, Side::Parent);
        crate::rootfs::plan(&mut b, &spec.rootfs, &spec.rootfs_parents, &spec.rootfs_origin);
    }
    let cg = cgroups::plan_setup(&mut b, spec, host);
    let net_outside = namespaces::net_from_supervisor(spec, host);
    let net_late = mounts::sysfs_after_pivot(spec, net_outside);
    let clone = namespaces::plan_spawn(&mut b, spec, &cg, net_outside, net_late);
    let save = b.step(Op::SaveState { path: files.state.clone() }, Origin::Default);
    namespaces::plan_child_start(&mut b, spec, host);
    confine::child_start(&mut b, spec, net_outside);
    let m = mounts::plan_mounts(&mut b, spec, net_outside);
    let mut mount_checks = m.checks;
    namespaces::plan_hostname(&mut b, spec);
    namespaces::plan_confine(&mut b, spec);
    mount_checks.extend(mounts::plan_cgroupfs(&mut b, spec));
    let tail = init::plan(&mut b, spec, host);
    let cgroups = cg
        .leaves
        .iter()
        .map(|l| Expect { value: (l.controller.clone(), l.rel.clone()), step: l.mkdir_step })
        .collect();
    let net = m.joined_net.unwrap_or(clone);
    let at = confine::CheckSteps { clone, net, slave: m.slave, mounts: mount_checks, cgroups };
    let checks = confine::checks(spec, host, &tail, at);
    b.phase(PhaseKind::Supervise, Side::Parent);
    let who = if spec.init == crate::config::InitMode::Builtin { Proc::Command } else { Proc::Child };
    // The jail's namespaces, mounts and cgroups read from its first process once it says
    // "started" (init::plan), while the command is made and takes its last steps; after
    // "ready", only the command's own status and limits.
    let observed = init::announces_start(host);
    if observed {
        b.step(Op::AwaitStarted, Origin::Default);
        b.step(Op::Observe { pid: Proc::Child, paths: checks.paths() }, Origin::Default);
    }
    b.step(Op::AwaitReady, Origin::Default);
    b.step(Op::Verify { pid: who, checks: Box::new(checks.clone()), observed }, Origin::Default);
    b.step(Op::SyncSend { end: 0, msg: crate::plan::VERIFIED.into() }, Origin::Default);
    b.step(Op::AwaitExec, Origin::Default);
    // The host's mount table checked while the command runs, off the way out: every mount the
    // jail makes is in its own namespace, a slave of the host's, made before the command's
    // execve; teardown checks again only on a way out that did not get here.
    let checked = b.step(Op::CheckMounts, Origin::Default);
    let state = Some(files.state.clone());
    let wait = Op::Wait { pid: Proc::Child, grace_ms: spec.grace_ms, timeout_ms: spec.timeout_ms, state };
    b.step(wait, Origin::Default);
    b.phase(PhaseKind::Report, Side::Parent);
    cgroups::plan_report(&mut b, &cg);
    b.phase(PhaseKind::Teardown, Side::Parent);
    let kill = Op::Kill { pid: Proc::Child };
    b.step_when(kill, Origin::Default, vec![Cond::Ran(clone), Cond::NotReaped(Proc::Child)]);
    cgroups::plan_teardown(&mut b, host, &cg);
    plan_state_removal(&mut b, &files, lock, save);
    b.step_when(Op::CheckMounts, Origin::Default, vec![Cond::NotRan(checked)]);
    let facts = Facts {
        rootfs: Some(spec.rootfs.clone()),
        cgroups: cg.leaves.iter().map(|l| l.path.clone()).collect(),
        memory_cgroup: cg.memory.as_ref().map(|d| d.path.clone()),
        pids_cgroup: cg.pids.as_ref().map(|d| d.path.clone()),
        memory_limits: cg.memory_limits.clone(),
        pids_limit: cg.pids_limit,
        command: Some(spec.exec()),
        checks: Some(checks),
        file_sha256: spec.sha256.clone(),
    };
    let mut plan = b.finish(&spec.name, &spec.file, host, facts);
    plan.summary = super::summary::summary(spec, &plan);
    plan
}

/// Phase "state" (parent): the supervisor's signals blocked (a Ctrl-C from here on leads to
/// teardown), umask 0 (every mode the plan names is the mode made), the state folder and the
/// jail's lock in it. Returns the index of the lock step.
fn plan_state(b: &mut Builder, files: &JailFiles, host: &Host) -> usize {
    let d = Origin::Default;
    b.phase(PhaseKind::State, Side::Parent);
    b.step(Op::BlockSignals { set: SignalSet::Supervisor }, d.clone());
    b.step(Op::Umask { mask: 0 }, d.clone());
    let root = host.state_dir.clone();
    if host.uid == 0 {
        b.step(Op::Mkdir { path: root.clone(), mode: 0o755, exist_ok: true }, d.clone());
    } else {
        // Another user's folder may be in /tmp, where anyone could have made it first: it must
        // be a real folder of this user's that no one else can write.
        b.step(Op::Mkdir { path: root.clone(), mode: 0o700, exist_ok: true }, d.clone());
        b.step(Op::CheckPrivate { path: root.clone(), uid: host.uid }, d.clone());
    }
    b.step(Op::Lock { path: files.lock.clone() }, d)
}

/// The teardown steps of the state: only what this run made, and only if it holds the lock,
/// which goes last (it is let go of when the supervisor exits).
fn plan_state_removal(b: &mut Builder, files: &JailFiles, lock: usize, save: usize) {
    let d = Origin::Default;
    b.step_needing(Op::Unlink { path: files.state.clone() }, d.clone(), save);
    b.step_needing(Op::Unlink { path: files.lock.clone() }, d, lock);
}
