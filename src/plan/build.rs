//! Builds the Plan from a validated spec and the host facts. Pure: no syscalls.

use crate::host::Host;
use crate::spec::{Origin, Spec};
use crate::{cgroups, init, mounts, namespaces, rootfs};

use super::{Op, Phase, Plan, Side, Step};

/// Collects phases and numbers steps as they are added.
#[derive(Debug, Default)]
pub struct Builder {
    phases: Vec<Phase>,
    next: usize,
}

impl Builder {
    /// Starts a new phase; the steps added next belong to it.
    pub fn phase(&mut self, name: &'static str, side: Side) {
        self.phases.push(Phase { name, side, steps: Vec::new() });
    }

    /// Adds a step to the current phase and returns its index.
    pub fn step(&mut self, op: Op, origin: Origin) -> usize {
        self.push(op, origin, None)
    }

    /// Adds a step that runs only if step `needs` ran.
    pub fn step_needing(&mut self, op: Op, origin: Origin, needs: usize) -> usize {
        self.push(op, origin, Some(needs))
    }

    fn push(&mut self, op: Op, origin: Origin, needs: Option<usize>) -> usize {
        self.next += 1;
        let phase = self.phases.last_mut().expect("a phase is started before its steps");
        phase.steps.push(Step { index: self.next, side: phase.side, op, origin, needs });
        self.next
    }

    pub fn finish(self) -> Vec<Phase> {
        self.phases.into_iter().filter(|p| !p.steps.is_empty()).collect()
    }
}

/// The whole plan of `procjail up`: make the rootfs if asked, cgroups, spawn, the child's
/// setup, exec, supervise, report, teardown.
pub fn build(spec: &Spec, host: &Host) -> Plan {
    let mut b = Builder::default();
    let (_, lock) = crate::state::plan_lock(&mut b, &spec.name);
    if spec.make_rootfs {
        rootfs::plan(&mut b, &spec.rootfs, &spec.rootfs_parents, &spec.rootfs_origin);
    }
    let cg = cgroups::plan_setup(&mut b, spec, host);
    let clone = namespaces::plan_spawn(&mut b, spec, &cg);
    namespaces::plan_child_start(&mut b, spec);
    mounts::plan_mounts(&mut b, spec);
    mounts::plan_pivot(&mut b, spec);
    namespaces::plan_confine(&mut b, spec);
    init::plan(&mut b, spec);
    b.phase("supervise", Side::Parent);
    b.step(Op::AwaitExec, Origin::Default);
    b.step(Op::Wait { grace_ms: spec.grace_ms, timeout_ms: spec.timeout_ms }, Origin::Default);
    b.phase("report", Side::Parent);
    cgroups::plan_report(&mut b, &cg);
    b.phase("teardown", Side::Parent);
    b.step_needing(Op::KillChild, Origin::Default, clone);
    cgroups::plan_teardown(&mut b, host, &cg);
    crate::state::plan_remove(&mut b, &spec.name, lock);
    b.step(Op::CheckMounts, Origin::Default);
    Plan { jail: spec.name.clone(), file: spec.file.clone(), host: host.clone(), phases: b.finish() }
}

/// The plan of `procjail rootfs busybox DIR`: only the steps that make the rootfs.
pub fn build_rootfs(dir: &std::path::Path, parents: &[std::path::PathBuf], host: &Host) -> Plan {
    let mut b = Builder::default();
    rootfs::plan(&mut b, dir, parents, &Origin::Default);
    Plan { jail: "rootfs".into(), file: dir.to_path_buf(), host: host.clone(), phases: b.finish() }
}
