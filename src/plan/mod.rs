//! The Plan: an ordered list of phases, each run on one side (the supervisor on the host, the
//! jail's first process, or the command), each holding typed steps. A step is one syscall or
//! one cgroupfs write (a few are a short fixed sequence, and say so), and renders as that.
//!
//! Two walkers use the same Plan: [`print`] shows it, `crate::exec` performs it. Both read a
//! step's text from the same `Display` impl ([`text`]), so `plan`, `up --trace` and error
//! messages agree, and [`calls`] says which syscalls each step makes, which the fidelity test
//! holds the executor to under strace.
//!
//! This module is data: it imports the spec (where a step came from) and the host facts, and
//! nothing that performs.

pub mod calls;
mod hint;
mod kinds;
mod op;
pub mod print;
mod text;
mod text_rootfs;
pub mod verify;
mod words;

pub use hint::hint;
pub use op::{Channel, Counter, INIT_FORWARDS, Op, Proc, SUPERVISOR_SIGNALS, SignalSet, Value};
pub use text::{clone_flags, quote};

use std::path::PathBuf;

use serde::Serialize;

use crate::host::Host;
use crate::spec::{Exec, Origin};

/// What the command says when it is ready for its execve, and what the supervisor answers once
/// the kernel has shown it what the plan asked for.
pub const READY: &str = "ready";
/// What the command says when it starts its last steps: from then on its namespaces, mounts
/// and cgroups are those it will exec with, and the supervisor reads them meanwhile.
pub const STARTED: &str = "started";
pub const VERIFIED: &str = "verified";
/// The message that carries the descriptor of the net namespace the supervisor made for the jail.
pub const NETNS: &str = "net";
/// The jail's only network device, brought up in its net namespace.
pub const LOOPBACK: &str = "lo";

/// Which process performs a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// procjail itself, on the host: it clones the jail, supervises it and tears it down.
    Parent,
    /// The jail's first process (PID 1 in its pid namespace): it sets up the mounts, and is the
    /// built-in init afterwards.
    Child,
    /// The command, forked by the built-in init (or by `procjail exec`), up to its execve.
    Command,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Parent => "parent",
            Side::Child => "child",
            Side::Command => "command",
        }
    }
}

/// The phases of every plan procjail makes, in the order they can appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PhaseKind {
    /// /run/procjail and the jail's lock in it, NAME.lock.
    State,
    /// The rootfs, when `from` makes it.
    Rootfs,
    /// The jail's cgroups and limits.
    Cgroups,
    /// The channels, the clone, the v1 cgroups, "go", state.json.
    Spawn,
    /// The child's first steps.
    Enter,
    /// The child's mount table.
    Mounts,
    /// Into the rootfs.
    Pivot,
    /// After "go": the cgroup namespace.
    Confine,
    /// The built-in init before it forks the command.
    Init,
    /// `procjail exec`: into a running jail's cgroups and namespaces.
    Join,
    /// The command's last steps before execve.
    Exec,
    /// The built-in init's loop.
    Reap,
    /// The supervisor waits for the jail.
    Supervise,
    /// Counters read from the cgroups.
    Report,
    /// What setup did, undone.
    Teardown,
    /// `procjail kill` and `down`: signals through pidfds.
    Signal,
    /// `procjail gc`: what killed runs left.
    Gc,
}

/// What a phase is for, which decides how the walker treats it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Stops at the first failure; a Ctrl-C before it stops the walk.
    Setup,
    /// The jail runs: the supervisor forwards signals instead of stopping.
    Run,
    /// Reads what the run left in the cgroups.
    Report,
    /// Runs on every way out; a failure is noted and the rest still runs.
    Teardown,
}

impl PhaseKind {
    pub fn name(self) -> &'static str {
        match self {
            PhaseKind::State => "state",
            PhaseKind::Rootfs => "rootfs",
            PhaseKind::Cgroups => "cgroups",
            PhaseKind::Spawn => "spawn",
            PhaseKind::Enter => "enter",
            PhaseKind::Mounts => "mounts",
            PhaseKind::Pivot => "pivot",
            PhaseKind::Confine => "confine",
            PhaseKind::Init => "init",
            PhaseKind::Join => "join",
            PhaseKind::Exec => "exec",
            PhaseKind::Reap => "reap",
            PhaseKind::Supervise => "supervise",
            PhaseKind::Report => "report",
            PhaseKind::Teardown => "teardown",
            PhaseKind::Signal => "signal",
            PhaseKind::Gc => "gc",
        }
    }

    pub fn role(self) -> Role {
        match self {
            PhaseKind::Reap | PhaseKind::Supervise => Role::Run,
            PhaseKind::Report => Role::Report,
            PhaseKind::Teardown => Role::Teardown,
            PhaseKind::State
            | PhaseKind::Rootfs
            | PhaseKind::Cgroups
            | PhaseKind::Spawn
            | PhaseKind::Enter
            | PhaseKind::Mounts
            | PhaseKind::Pivot
            | PhaseKind::Confine
            | PhaseKind::Init
            | PhaseKind::Join
            | PhaseKind::Exec
            | PhaseKind::Signal
            | PhaseKind::Gc => Role::Setup,
        }
    }
}

/// Where a path is looked up: in the process's own view of the filesystem, or inside the
/// rootfs through `rootfd` (openat2 with RESOLVE_IN_ROOT: `..` and symlinks stay inside), and
/// then used as `/proc/self/fd/N` of what that open returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Path(PathBuf),
    InRoot(PathBuf),
}

/// How a step that makes an entry in the rootfs reaches the folder it is made in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// The folder is the rootfs itself: `rootfd`.
    Root,
    /// The folder an [`Op::OpenDir`] step opened and holds (`$dev` for /dev).
    Dir,
    /// The folder opened in the rootfs for this step alone (openat2 of the parent).
    Lookup,
}

/// A condition a step runs under; a step runs only if all of its conditions hold. The walker
/// checks them just before the step; `up --trace` says which one was false.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cond {
    /// Step N ran and succeeded (teardown undoes only what was done).
    Ran(usize),
    /// Step N did not run (a check teardown makes only on a way out that skipped it).
    NotRan(usize),
    /// The path exists now (something a killed run left, a file this kernel may not have).
    Exists(PathBuf),
    /// The process has not been waited for yet.
    NotReaped(Proc),
    /// The path exists in the rootfs (resolved in it: a file this kernel may not have). The
    /// lookup is the step's own `$fd = openat2(rootfd, PATH, O_PATH)`: the step goes on with the
    /// descriptor it returned, so the path is opened once.
    InRootExists(PathBuf),
}

/// A step and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// 1-based, across the whole plan.
    pub index: usize,
    pub side: Side,
    #[serde(flatten)]
    pub op: Op,
    pub origin: Origin,
    /// Runs only if all of these hold; empty: always.
    pub when: Vec<Cond>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Phase {
    pub kind: PhaseKind,
    pub side: Side,
    pub steps: Vec<Step>,
}

/// What the builder knew that the walkers and the state need again: carried here, so nothing
/// has to be read back out of step paths.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Facts {
    /// The rootfs on the host (the teardown's mount check looks under it).
    pub rootfs: Option<PathBuf>,
    /// The jail's own cgroup folders, one per hierarchy.
    pub cgroups: Vec<PathBuf>,
    /// Where the memory and pids counters are read.
    pub memory_cgroup: Option<PathBuf>,
    pub pids_cgroup: Option<PathBuf>,
    /// The memory limits written, as (file, bytes), for the report.
    pub memory_limits: Vec<(String, u64)>,
    pub pids_limit: Option<u64>,
    /// What the command runs with: `procjail exec` plans its own command from it.
    pub command: Option<Exec>,
    /// What the kernel must show of the command before its execve.
    pub checks: Option<verify::Checks>,
    /// The sha256 of the jail file's text, as it was read to make the plan.
    pub file_sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub jail: String,
    pub file: PathBuf,
    pub host: Host,
    pub phases: Vec<Phase>,
    /// What the jail is, in a few lines (`plan` prints them first): (what, how).
    pub summary: Vec<(String, String)>,
    #[serde(skip)]
    pub facts: Facts,
}

impl Plan {
    pub fn steps(&self) -> impl Iterator<Item = &Step> {
        self.phases.iter().flat_map(|p| p.steps.iter())
    }

    pub fn len(&self) -> usize {
        self.phases.iter().map(|p| p.steps.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn step(&self, index: usize) -> Option<&Step> {
        self.steps().find(|s| s.index == index)
    }

    /// `step 7/23 [child] mount(...)`, as errors and traces name a step.
    pub fn describe(&self, step: &Step) -> String {
        format!("step {}/{} [{}] {}", step.index, self.len(), step.side.as_str(), step.op)
    }
}

/// Collects phases and numbers steps as they are added.
#[derive(Debug, Default)]
pub struct Builder {
    phases: Vec<Phase>,
    next: usize,
}

impl Builder {
    /// Starts a new phase; the steps added next belong to it.
    pub fn phase(&mut self, kind: PhaseKind, side: Side) {
        self.phases.push(Phase { kind, side, steps: Vec::new() });
    }

    /// Adds a step to the current phase and returns its index.
    pub fn step(&mut self, op: Op, origin: Origin) -> usize {
        self.step_when(op, origin, Vec::new())
    }

    /// Adds a step that runs only if step `needs` ran.
    pub fn step_needing(&mut self, op: Op, origin: Origin, needs: usize) -> usize {
        self.step_when(op, origin, vec![Cond::Ran(needs)])
    }

    /// Adds a step that runs only if all of `when` hold.
    pub fn step_when(&mut self, op: Op, origin: Origin, when: Vec<Cond>) -> usize {
        self.next += 1;
        let phase = self.phases.last_mut().expect("a phase is started before its steps");
        phase.steps.push(Step { index: self.next, side: phase.side, op, origin, when });
        self.next
    }

    /// The plan, without empty phases.
    pub fn finish(self, jail: &str, file: &std::path::Path, host: &Host, facts: Facts) -> Plan {
        let phases = self.phases.into_iter().filter(|p| !p.steps.is_empty()).collect();
        Plan {
            jail: jail.to_string(),
            file: file.to_path_buf(),
            host: host.clone(),
            phases,
            summary: Vec::new(),
            facts,
        }
    }
}

/// The signals of an ignored set (SigIgn) that `ResetSignals` puts back to SIG_DFL: all but
/// KILL and STOP, which are never ignored.
pub fn resettable(ignored: u64) -> impl Iterator<Item = i32> {
    (1..=64).filter(move |s| ignored & (1 << (s - 1)) != 0 && *s != libc::SIGKILL && *s != libc::SIGSTOP)
}
