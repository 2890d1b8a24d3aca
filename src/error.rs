//! The errors of a run, and the exit codes they map to. The bottom layer: std, nix and libc
//! only, so every layer above can name them.

use nix::errno::Errno;

/// procjail itself failed: a bad jail file, a failed step, a leak found at teardown.
pub const EXIT_FAILED: i32 = 125;
/// The command was found but cannot be executed.
pub const EXIT_CANNOT_EXEC: i32 = 126;
/// The command was not found in the rootfs.
pub const EXIT_NOT_FOUND: i32 = 127;

/// What a failed step says: the errno, and a detail for the person reading it.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub errno: Errno,
    pub detail: String,
}

impl Failure {
    pub fn new(errno: Errno, detail: impl Into<String>) -> Failure {
        Failure { errno, detail: detail.into() }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Failure {
        self.detail = detail.into();
        self
    }
}

impl From<Errno> for Failure {
    fn from(errno: Errno) -> Failure {
        Failure { errno, detail: String::new() }
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure { errno: Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)), detail: String::new() }
    }
}

/// A step that failed, named as the plan names it: `step 9/31 [child] mount(...)`, with the
/// kernel's answer, the jail-file line it came from and a hint for that call and errno.
#[derive(Debug, Clone, PartialEq)]
pub struct StepError {
    pub what: String,
    pub errno: Errno,
    pub detail: String,
    pub origin: Option<String>,
    pub hint: Option<String>,
    /// 125, or 126/127 for an execve that failed.
    pub exit: i32,
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {:?} ({})", self.what, self.errno, self.errno.desc())?;
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        if let Some(o) = &self.origin {
            write!(f, "\n  from: {o}")?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

/// Why a walk stopped.
#[derive(Debug, Clone, PartialEq)]
pub enum Stop {
    /// A step failed (on any side: the jail's reports its own).
    Step(StepError),
    /// INT, TERM, HUP or QUIT came during setup: the walk stopped before this phase.
    Interrupted { signal: i32, name: String, phase: &'static str },
}

/// A walk that did not end well: what stopped it, if anything did, and every teardown step that
/// failed after it. Printed once, by `main`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct RunError {
    pub stop: Option<Stop>,
    pub teardown: Vec<StepError>,
}

impl RunError {
    pub fn exit_code(&self) -> i32 {
        match &self.stop {
            Some(Stop::Step(e)) => e.exit,
            Some(Stop::Interrupted { signal, .. }) => 128 + signal,
            None => EXIT_FAILED,
        }
    }
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.stop {
            Some(Stop::Step(e)) => write!(f, "{e}")?,
            Some(Stop::Interrupted { name, phase, .. }) => {
                write!(f, "interrupted by {name} before the {phase} phase")?
            }
            None => {
                write!(f, "teardown left something behind")?;
                for t in &self.teardown {
                    write!(f, "\n  {t}")?;
                }
                return write!(f, "\n  hint: this is a leak: what is named above is still on the host");
            }
        }
        for t in &self.teardown {
            write!(f, "\n  and then, in teardown: {}", t.to_string().replace('\n', "\n  "))?;
        }
        Ok(())
    }
}
