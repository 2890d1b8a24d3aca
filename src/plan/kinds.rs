//! The small kinds the steps name: the channels, the processes, values written, targets of
//! mounts, signal sets, counters.

use nix::sys::signal::Signal;
use serde::Serialize;

/// The two socketpairs between the supervisor and the jail: `sync` (go, and the report of a
/// failed step, or EOF once the command has exec'd) and `status` (the built-in init tells the
/// supervisor how the command itself ended, which its own exit code cannot say exactly).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Sync,
    Status,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sync => "sync",
            Channel::Status => "status",
        }
    }
}

/// A process the plan knows by the step that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proc {
    /// The jail's first process, from clone: `$CHILD_PID`.
    Child,
    /// The command, from fork: `$COMMAND_PID`.
    Command,
}

impl Proc {
    pub fn var(self) -> &'static str {
        match self {
            Proc::Child => "$CHILD_PID",
            Proc::Command => "$COMMAND_PID",
        }
    }
}

/// A value known only when the jail runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Value {
    Text(String),
    /// The host pid of the jail's first process, from clone.
    ChildPid,
    /// The pid of the process doing the write (`procjail exec` joining the jail's cgroups).
    SelfPid,
}

/// Which signals a sigprocmask step blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalSet {
    /// Every signal: the built-in init takes them with sigtimedwait.
    All,
    /// The supervisor's: the ones it forwards, and SIGCHLD.
    Supervisor,
}

/// The signals the supervisor forwards to the jail's init (and blocks, with SIGCHLD, to take
/// them with sigtimedwait). A first INT or TERM starts the grace period.
pub const SUPERVISOR_SIGNALS: &[Signal] =
    &[Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP, Signal::SIGQUIT, Signal::SIGUSR1, Signal::SIGUSR2];

/// The signals the built-in init passes on to the command.
pub const INIT_FORWARDS: &[Signal] = &[
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGCONT,
];

/// A counter the report reads from a cgroup file when the jail has ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Counter {
    /// OOM kills: `oom_kill N` in memory.events (v2) or memory.oom_control (v1).
    OomKills,
    /// Peak memory: memory.peak (v2) or memory.max_usage_in_bytes (v1).
    MemoryPeak,
    /// Times a fork failed at the pids limit: `max N` in pids.events.
    PidsMaxHit,
}
