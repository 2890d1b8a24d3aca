//! Which state-changing syscalls each step makes, in order: the contract between a step's text
//! and its performer in `exec/`. `plan --json` shows it for each step, and the fidelity test
//! runs every experiment under `strace -f` and holds each process of procjail's to it.
//!
//! "State-changing" means what changes the host, the jail or a process's credentials, limits,
//! signals, namespaces or files: mkdir, mount, write to a file or socket, clone, execve, kill,
//! prctl(PR_SET_*), ... Reads, stats, opens without O_CREAT or write access, closes, memory
//! management, waiting and writes to the terminal or a pipe (procjail's own messages) are not.

use std::path::Path;

use super::{Channel, Op, Target};

/// How many times a step makes a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Times {
    Once,
    /// Retried or looped: one or more.
    OneOrMore,
    /// As often as signals or processes come: zero or more.
    Any,
    Exactly(usize),
}

/// One call (or one of a few alternatives) a step makes, and a string its strace line shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub names: &'static [&'static str],
    /// Quoted as strace shows it: a path, a flag name.
    pub arg: Option<String>,
    pub times: Times,
}

impl Call {
    fn new(names: &'static [&'static str], times: Times) -> Call {
        Call { names, arg: None, times }
    }

    fn arg(mut self, a: impl Into<String>) -> Call {
        self.arg = Some(a.into());
        self
    }

    /// `mkdir`, `rmdir+`, `kill*`, `symlink×93`, as `plan --json` lists them.
    pub fn short(&self) -> String {
        let name = self.names.join("|");
        match self.times {
            Times::Once => name,
            Times::OneOrMore => format!("{name}+"),
            Times::Any => format!("{name}*"),
            Times::Exactly(n) => format!("{name}×{n}"),
        }
    }
}

fn path(p: &Path) -> String {
    format!("{:?}", p.to_string_lossy())
}

fn once(names: &'static [&'static str]) -> Call {
    Call::new(names, Times::Once)
}

fn save_state(p: &Path) -> Vec<Call> {
    let tmp = path(&crate::host::user::state_tmp(p));
    vec![
        once(&["openat"]).arg(tmp.clone()),
        Call::new(&["write"], Times::OneOrMore),
        Call::new(&["rename"], Times::Any).arg(path(p)),
        Call::new(&["unlink", "unlinkat"], Times::Any).arg(tmp),
    ]
}

fn mount(source: &Option<String>, target: &Target) -> Vec<Call> {
    let m = once(&["mount"]);
    match (source, target) {
        (Some(s), _) => vec![m.arg(format!("{s:?}"))],
        (None, Target::Path(p)) => vec![m.arg(path(p))],
        (None, Target::InRoot(_)) => vec![m],
    }
}

/// One prctl for each capability in the set.
fn each(option: &str, set: u64) -> Vec<Call> {
    vec![Call::new(&["prctl"], Times::Exactly(set.count_ones() as usize)).arg(option)]
}

impl Op {
    /// The state-changing syscalls this step makes, in order.
    pub fn calls(&self) -> Vec<Call> {
        match self {
            Op::Umask { .. } => vec![once(&["umask"])],
            Op::Mkdir { path: p, .. } => vec![once(&["mkdir", "mkdirat"]).arg(path(p))],
            Op::CopyFile { to, .. } => {
                vec![once(&["openat"]).arg(path(to)), Call::new(&["copy_file_range"], Times::OneOrMore)]
            }
            Op::Symlinks { names, .. } => {
                vec![Call::new(&["symlink", "symlinkat"], Times::Exactly(names.len()))]
            }
            Op::Write { path: p, .. } => vec![once(&["openat"]).arg(path(p)), once(&["write"])],
            Op::Unlink { path: p } => vec![once(&["unlink", "unlinkat"]).arg(path(p))],
            Op::Rmdir { path: p } => vec![Call::new(&["rmdir"], Times::OneOrMore).arg(path(p))],
            Op::Lock { path: p } => vec![once(&["openat"]).arg(path(p)), once(&["flock"])],
            Op::SaveState { path: p } => save_state(p),
            Op::MountPoint { dir: true, .. } => vec![once(&["mkdirat"])],
            Op::MountPoint { dir: false, .. } => vec![once(&["mknodat"])],
            Op::SymlinkIn { target, .. } => vec![once(&["symlinkat"]).arg(format!("{target:?}"))],
            Op::Mount { source, target, .. } => mount(source, target),
            Op::Chdir { path: p } => vec![once(&["chdir"]).arg(path(p))],
            Op::PivotRoot => vec![once(&["pivot_root"])],
            Op::Umount2 { target, .. } => vec![once(&["umount2"]).arg(path(target))],
            Op::Chroot => vec![once(&["fchdir"]), once(&["chroot"]), once(&["chdir"])],
            Op::Clone { into_cgroup: None, .. } => vec![once(&["clone"])],
            Op::Clone { into_cgroup: Some(_), .. } => vec![once(&["clone3"])],
            Op::Unshare { .. } => vec![once(&["unshare"])],
            Op::Sethostname { name } => vec![once(&["sethostname"]).arg(format!("{name:?}"))],
            Op::SetNs { .. } => vec![once(&["setns"])],
            Op::SocketPair { channel: Channel::Sync } => vec![once(&["socketpair"]), once(&["setsockopt"])],
            Op::SocketPair { .. } => vec![once(&["socketpair"])],
            Op::SyncSend { msg, .. } => vec![once(&["write"]).arg(format!("{msg:?}"))],
            Op::Pdeathsig => vec![once(&["prctl"]).arg("PR_SET_PDEATHSIG")],
            Op::NotDumpable => vec![once(&["prctl"]).arg("PR_SET_DUMPABLE")],
            Op::BlockSignals { .. } => vec![once(&["rt_sigprocmask"])],
            Op::Fork { .. } => vec![once(&["clone", "clone3"])],
            Op::Setsid => vec![once(&["setsid"])],
            Op::ResetSignals { ignored } => vec![
                once(&["rt_sigprocmask"]),
                Call::new(&["rt_sigaction"], Times::Exactly(super::resettable(*ignored).count())),
            ],
            Op::Setrlimit { .. } => vec![once(&["prlimit64", "setrlimit"])],
            Op::CloseFds => vec![once(&["close_range"])],
            Op::CloseHostFds => vec![Call::new(&["close_range"], Times::OneOrMore)],
            Op::Execve { .. } => vec![Call::new(&["execve"], Times::OneOrMore)],
            Op::Kill { .. } => vec![once(&["kill"])],
            Op::Signal { .. } => vec![once(&["pidfd_send_signal"])],
            Op::InitLoop { .. } => vec![Call::new(&["kill", "write"], Times::Any)],
            // Signals forwarded before and after NAME.json's second write, if the jail runs
            // that long.
            Op::Wait { state, .. } => {
                let kill = || Call::new(&["kill"], Times::Any);
                let again = state.as_deref().map(save_state).unwrap_or_default();
                let again = again.into_iter().map(|c| Call { times: Times::Any, ..c });
                std::iter::once(kill()).chain(again).chain(std::iter::once(kill())).collect()
            }
            Op::KillCgroup { path: p, kill_file: true } => {
                let open = Call::new(&["openat"], Times::Any).arg(path(&p.join("cgroup.kill")));
                vec![open, Call::new(&["write"], Times::Any)]
            }
            Op::KillCgroup { kill_file: false, .. } => vec![Call::new(&["kill"], Times::Any)],
            Op::CapBoundingDrop { drop } => each("PR_CAPBSET_DROP", *drop),
            Op::AmbientClear => vec![once(&["prctl"]).arg("PR_CAP_AMBIENT")],
            Op::KeepCaps => vec![once(&["prctl"]).arg("PR_SET_KEEPCAPS")],
            Op::SetUser { groups: Some(_), .. } => {
                vec![once(&["setgroups"]), once(&["setresgid"]), once(&["setresuid"])]
            }
            Op::SetUser { groups: None, .. } => vec![once(&["setresgid"]), once(&["setresuid"])],
            Op::WriteIdMap { file, .. } => vec![once(&["openat"]).arg(file.clone()), once(&["write"])],
            Op::IdMapHelper { .. } => {
                vec![once(&["clone", "clone3", "vfork", "fork"]), once(&["wait4", "waitid"])]
            }
            Op::Capset { .. } => vec![once(&["capset"])],
            Op::AmbientRaise { caps } => each("PR_CAP_AMBIENT", *caps),
            Op::NoNewPrivs => vec![once(&["prctl"]).arg("PR_SET_NO_NEW_PRIVS")],
            Op::Seccomp { .. } => vec![once(&["seccomp"])],
            Op::JoinKeyring => vec![once(&["keyctl"])],
            Op::OomScoreAdj { .. } => {
                vec![once(&["openat"]).arg("\"/proc/self/oom_score_adj\""), once(&["write"])]
            }
            Op::SendReadyNs => vec![once(&["write"])],
            Op::LinkUp { .. } => vec![once(&["ioctl"]).arg("SIOCSIFFLAGS")],
            Op::MakeNetns { .. } => vec![
                once(&["unshare"]).arg("CLONE_NEWNET"),
                once(&["setns"]).arg("CLONE_NEWNET"),
                once(&["sendmsg"]),
                once(&["ioctl"]).arg("SIOCSIFFLAGS"),
            ],
            Op::JoinNetns => vec![once(&["setns"]).arg("CLONE_NEWNET")],
            Op::Sysctl { .. } => vec![once(&["openat2"]), once(&["write"])],
            Op::Mask { .. } => vec![once(&["mount"])],
            Op::ReadOnly { .. } => vec![once(&["mount"]), once(&["mount_setattr"])],
            Op::MountSetattr { .. } => vec![once(&["mount_setattr"])],
            Op::DeviceFilter { .. } => vec![Call::new(&["bpf"], Times::Exactly(2))],
            // Reads, opens for reading, closes, waits and checks: nothing to show strace.
            Op::OpenRoot { .. } => Vec::new(),
            Op::CloseRoot => Vec::new(),
            Op::OpenNs { .. } => Vec::new(),
            Op::OpenProc => Vec::new(),
            Op::Close { .. } => Vec::new(),
            Op::SyncRecv { .. } => Vec::new(),
            Op::AwaitExec => Vec::new(),
            Op::AwaitStarted | Op::AwaitReady => Vec::new(),
            Op::Observe { .. } => Vec::new(),
            Op::Verify { .. } => Vec::new(),
            Op::OpenNull { .. } => Vec::new(),
            Op::OpenDir { .. } => Vec::new(),
            Op::CloseDir { .. } => Vec::new(),
            Op::AwaitExit { .. } => Vec::new(),
            Op::WaitEmpty { .. } => Vec::new(),
            Op::ReadCounter { .. } => Vec::new(),
            Op::CheckMounts => Vec::new(),
            Op::CheckGone { .. } => Vec::new(),
            Op::CheckPrivate { .. } => Vec::new(),
        }
    }
}
