//! What the walk carries from step to step: the options it was started with, the descriptors
//! and processes earlier steps made, and a journal of what happened.

use std::collections::BTreeSet;
use std::os::fd::OwnedFd;
use std::time::Instant;

use nix::unistd::Pid;

use super::Report;
use crate::error::Failure;
use crate::plan::{Channel, Plan, Proc, Side};

/// How a walk is run; parsed once by the command.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Print each step as it runs (`--trace`).
    pub trace: bool,
    /// PROCJAIL_FAILPOINT: the supervisor SIGKILLs itself before this step (for tests of what a
    /// killed supervisor leaves).
    pub failpoint: Option<usize>,
    /// PROCJAIL_INTERRUPT_AT: the supervisor sends itself SIGINT before this step, as a Ctrl-C
    /// arriving then would (for tests of the teardown that follows).
    pub interrupt_at: Option<usize>,
    /// Print the table of the checks before execve (`up --verify`).
    pub verify: bool,
    /// PROCJAIL_SKIP_STEP: this step is passed over as if it had run (for tests of the checks
    /// before execve, which must then find its effect missing).
    pub skip_step: Option<usize>,
    /// The host's mount table before the run (the teardown's check compares it).
    pub mounts_before: String,
    /// `up --trace-json`: where each process of the run records its steps.
    pub timeline: Option<std::sync::Arc<super::timeline::Timeline>>,
}

impl Options {
    /// `--trace`, or PROCJAIL_TRACE=1 (for runs started by other programs: tests, scripts).
    pub fn traced(trace: bool) -> Options {
        let trace = trace || std::env::var_os("PROCJAIL_TRACE").is_some_and(|v| v == "1");
        Options { trace, ..Options::default() }
    }

    /// The test hooks, from the environment.
    pub fn with_test_hooks(mut self) -> Options {
        let var = |k: &str| std::env::var(k).ok().and_then(|v| v.parse().ok());
        self.failpoint = var("PROCJAIL_FAILPOINT");
        self.interrupt_at = var("PROCJAIL_INTERRUPT_AT");
        self.skip_step = var("PROCJAIL_SKIP_STEP");
        self
    }
}

/// The descriptors and processes that steps make and later steps use.
#[derive(Debug, Default)]
pub struct Handles {
    /// The sync channel: [parent's end, jail's end].
    pub sync: [Option<OwnedFd>; 2],
    /// The status channel (built-in init only): [parent's end, jail's end].
    pub status: [Option<OwnedFd>; 2],
    pub rootfd: Option<OwnedFd>,
    /// The jail's lock, held while the supervisor runs.
    pub lock: Option<OwnedFd>,
    /// Namespaces opened for setns (`procjail exec`).
    pub ns_fds: Vec<(String, OwnedFd)>,
    /// The pidfd of the last Signal step (`procjail down` waits on it).
    pub pidfd: Option<OwnedFd>,
    /// The host's /dev/null, checked, that masks are bound from.
    pub nullfd: Option<OwnedFd>,
    /// The empty read-only tmpfs of the first folder masked (its root, opened after its mount),
    /// which the other folder masks bind: one superblock for them all.
    pub maskfs: Option<OwnedFd>,
    /// The host's procfs, opened before entering a jail.
    pub procfd: Option<OwnedFd>,
    /// The folder of the rootfs an OpenDir step opened (`$dev`).
    pub dir: Option<OwnedFd>,
    /// What an `if PATH exists in the jail` condition opened: the step's own `$fd`.
    pub found: Option<OwnedFd>,
    pub child: Option<Pid>,
    pub command: Option<Pid>,
}

impl Handles {
    pub fn channel(&mut self, channel: Channel) -> &mut [Option<OwnedFd>; 2] {
        match channel {
            Channel::Sync => &mut self.sync,
            Channel::Status => &mut self.status,
        }
    }

    pub fn pid(&self, p: Proc) -> Option<Pid> {
        match p {
            Proc::Child => self.child,
            Proc::Command => self.command,
        }
    }
}

/// What has happened so far.
#[derive(Debug, Default)]
pub struct Journal {
    /// Steps that ran to completion (teardown undoes only those).
    pub done: BTreeSet<usize>,
    /// Processes that have been waited for.
    pub reaped: BTreeSet<ProcKey>,
    /// When the jail's first process was cloned (the report's wall time starts there).
    pub started: Option<Instant>,
    pub report: Report,
    /// A failed step of the child's, as it reported it: (step index, failure).
    pub child_error: Option<(usize, Failure)>,
    /// The command's namespaces as it read them itself (`SendReadyNs`): name → link.
    pub own_ns: std::collections::BTreeMap<String, String>,
    /// The pid of the process that said "ready" (its credentials on the sync channel).
    pub ready_pid: Option<i32>,
    /// The checks of the jail the Observe step made, for Verify to finish.
    pub jail_rows: Option<crate::plan::verify::JailRows>,
    /// What the Observe step read of the jail, for Verify to finish.
    pub observed: Option<crate::host::probe::Observed>,
    /// The pids and times NAME.json was first written with (SaveState), for its second write.
    pub saved: Option<crate::state::Pids>,
}

/// [`Proc`] as a set key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProcKey {
    Child,
    Command,
}

impl From<Proc> for ProcKey {
    fn from(p: Proc) -> ProcKey {
        match p {
            Proc::Child => ProcKey::Child,
            Proc::Command => ProcKey::Command,
        }
    }
}

/// Everything a step's performer may use.
pub struct Ctx<'p> {
    pub plan: &'p Plan,
    pub opts: &'p Options,
    /// The side this process walks: Parent until a clone or fork makes it the new process.
    pub side: Side,
    pub h: Handles,
    pub j: Journal,
}

/// What a performed step returns to the walker.
#[derive(Debug)]
pub enum Done {
    Ok,
    /// clone or fork: this process is the new one, and walks this side from here.
    Became(Side),
    /// Done, with a note for the trace (the pid made, where an in-root path led).
    Note(String),
}
