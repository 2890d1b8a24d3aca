//! The plan of `procjail exec NAME -- CMD...`: join the jail's cgroups, become non-dumpable (so
//! nothing in the jail can reach this process through /proc before it is fully inside: the runc
//! CVE-2016-9962 class), setns into each namespace the jail has, chroot into its root, fork (the
//! pid namespace applies to children), and in the child the jail's own exec tail: the same
//! capabilities, no_new_privs and the very seccomp bytes of the jail's command, from its state.
//! The kernel's answer is read back before the execve, as for `up`.

use crate::host::Host;
use crate::init;
use crate::namespaces::NAMESPACES;
use crate::plan::{
    Builder, Channel, Cond, Facts, Op, PhaseKind, Plan, Proc, Side, SignalSet, VERIFIED, Value,
};
use crate::spec::Origin;
use crate::state::State;

/// What the command read of the running jail: the /proc names of the namespaces its first
/// process does not share with us.
pub struct Joined {
    pub namespaces: Vec<&'static str>,
    /// The jail's process whose /proc/PID/{ns,root} are opened ([`State::entry_pid`]).
    pub via: i32,
}

/// The grace period of `procjail exec`'s own wait.
const GRACE_MS: u64 = 3000;

pub fn exec(state: &State, argv: &[String], joined: &Joined, host: &Host) -> Plan {
    let d = Origin::Default;
    let mut b = Builder::default();
    b.phase(PhaseKind::Join, Side::Parent);
    b.step(Op::BlockSignals { set: SignalSet::Supervisor }, d.clone());
    b.step(Op::OpenProc, d.clone());
    let init = joined.via;
    let own: Vec<_> = NAMESPACES.iter().filter(|ns| joined.namespaces.contains(&ns.proc_name)).collect();
    for ns in &own {
        let path = format!("/proc/{init}/ns/{}", ns.proc_name).into();
        b.step(Op::OpenNs { ns: ns.proc_name.to_string(), path }, d.clone());
    }
    b.step(Op::OpenRoot { path: format!("/proc/{init}/root").into() }, d.clone());
    let mut joined_at = 0;
    for cg in &state.cgroups {
        joined_at = b.step(Op::Write { path: cg.join("cgroup.procs"), value: Value::SelfPid }, d.clone());
    }
    b.step(Op::NotDumpable, d.clone());
    b.step(Op::JoinKeyring, Origin::Unset { key: "security.keyring".into() });
    for ns in &own {
        joined_at = b.step(Op::SetNs { ns: ns.proc_name.to_string(), flag: ns.flag }, d.clone());
    }
    let chroot = b.step(Op::Chroot, d.clone());
    b.step(Op::CloseRoot, d.clone());
    b.step(Op::SocketPair { channel: Channel::Sync }, d.clone());
    // The supervisor must not wait for the exec: it answers the command's "ready".
    let fork = b.step(Op::Fork { until_exec: false }, d.clone());
    b.step(Op::Close { channel: Channel::Sync, end: 1 }, d.clone());
    b.phase(PhaseKind::Enter, Side::Command);
    b.step(Op::Close { channel: Channel::Sync, end: 0 }, d.clone());
    let mut command = state.command.clone();
    command.argv = argv.to_vec();
    command.origin = Origin::Default;
    // procjail exec runs on the host with the host's whole bounding set.
    let report_ns = host.uid != 0 || joined.namespaces.contains(&"user");
    let all = crate::host::caps::all(host.cap_last_cap);
    let tail = init::exec_tail(&mut b, &command, Side::Command, host, all, report_ns);
    b.phase(PhaseKind::Supervise, Side::Parent);
    b.step(Op::AwaitReady, d.clone());
    if let Some(checks) = &state.checks {
        let in_cgroupns = joined.namespaces.contains(&"cgroup");
        let mut checks =
            checks.with_steps(&tail, joined_at.max(chroot), fork, in_cgroupns, host.seccomp_filters);
        // Read from inside the jail's user namespace, the ids are the jail's own.
        if joined.namespaces.contains(&"user") {
            let u = &command.user;
            checks.ids.value = (u.uid, u.gid, u.groups.clone());
        }
        b.step(Op::Verify { pid: Proc::Command, checks: Box::new(checks), observed: false }, d.clone());
    }
    b.step(Op::SyncSend { end: 0, msg: VERIFIED.into() }, d.clone());
    b.step(Op::AwaitExec, d.clone());
    b.step(Op::Wait { pid: Proc::Command, grace_ms: GRACE_MS, timeout_ms: None, state: None }, d.clone());
    b.phase(PhaseKind::Teardown, Side::Parent);
    b.step_when(Op::Kill { pid: Proc::Command }, d, vec![Cond::Ran(fork), Cond::NotReaped(Proc::Command)]);
    let facts = Facts { command: Some(command), ..Facts::default() };
    b.finish(&state.name, &state.file, host, facts)
}
