//! The second walker: performs the plan's steps, in order, on the side each belongs to.
//!
//! One list, three processes. The supervisor walks the parent steps. At `clone` the child starts
//! walking the child steps that follow it; at `fork` (built-in init) the new process walks the
//! command steps. Each process simply skips the steps of the other sides, so the order in the
//! plan is the order things happen. A step that fails in the child is reported to the
//! supervisor over the sync channel as (step, errno, detail), and printed once, by the parent.
//! Teardown steps run on every path out, each only if the step it undoes ran.

pub mod inroot;
mod report;
pub mod supervise;

pub use report::Report;

use std::collections::BTreeSet;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::time::Instant;

use nix::errno::Errno;
use nix::unistd::Pid;

use crate::plan::{Op, Plan, Side, Step};
use crate::{cgroups, init, mounts, namespaces, rootfs, teardown};

/// Options of `procjail up`.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub trace: bool,
    /// The host's mount table before the run (teardown compares it).
    pub mountinfo: String,
    pub json_report: Option<PathBuf>,
}

/// What a failed step says: errno and a detail for the person reading it.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub errno: Errno,
    pub detail: String,
}

impl Failure {
    pub fn new(errno: Errno, detail: impl Into<String>) -> Failure {
        Failure { errno, detail: detail.into() }
    }
}

impl Failure {
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

pub type StepResult = Result<(), Failure>;

/// The state the walkers share along the way.
pub struct Ctx {
    pub side: Side,
    pub trace: bool,
    /// The sync channel: [parent's end, jail's end].
    pub sync: [Option<OwnedFd>; 2],
    /// The status channel (built-in init only): [parent's end, jail's end].
    pub status: [Option<OwnedFd>; 2],
    pub child: Option<Pid>,
    pub command: Option<Pid>,
    pub rootfd: Option<OwnedFd>,
    /// Steps that ran to completion (teardown undoes only those).
    pub done: BTreeSet<usize>,
    /// The jail's first process has been waited for.
    pub reaped: bool,
    pub report: Report,
    pub mounts_before: String,
    /// A failed step of the child's, as it reported it: (step index, failure).
    pub child_error: Option<(usize, Failure)>,
    /// When the jail's first process was cloned (the report's wall time starts there).
    pub started: Option<Instant>,
    /// The jail's lock, held while the supervisor runs.
    pub lock: Option<OwnedFd>,
    /// Namespaces opened for setns (`procjail exec`).
    pub ns_fds: Vec<(String, OwnedFd)>,
    /// PROCJAIL_FAILPOINT: the supervisor SIGKILLs itself before this step (for tests of
    /// what a killed supervisor leaves).
    pub failpoint: Option<usize>,
    /// PROCJAIL_INTERRUPT_AT: the supervisor sends itself SIGINT before this step, as a Ctrl-C
    /// arriving then would (for tests of the teardown that follows).
    pub interrupt_at: Option<usize>,
}

impl Ctx {
    pub fn channel(&mut self, channel: crate::plan::Channel) -> &mut [Option<OwnedFd>; 2] {
        match channel {
            crate::plan::Channel::Sync => &mut self.sync,
            crate::plan::Channel::Status => &mut self.status,
        }
    }

    pub fn new(trace: bool) -> Ctx {
        Ctx {
            side: Side::Parent,
            trace,
            sync: [None, None],
            status: [None, None],
            child: None,
            command: None,
            rootfd: None,
            done: BTreeSet::new(),
            reaped: false,
            report: Report::default(),
            mounts_before: String::new(),
            child_error: None,
            started: None,
            lock: None,
            ns_fds: Vec::new(),
            failpoint: std::env::var("PROCJAIL_FAILPOINT").ok().and_then(|v| v.parse().ok()),
            interrupt_at: std::env::var("PROCJAIL_INTERRUPT_AT").ok().and_then(|v| v.parse().ok()),
        }
    }
}

/// Why `up` failed: the step (or the check) and what the kernel said, with any teardown
/// problems that followed it. Printed once, by `main`.
#[derive(Debug, thiserror::Error)]
pub struct RunError {
    /// `step 9/31 [child] mount(...)`, or what failed when it is not a step.
    pub what: String,
    pub errno: Option<Errno>,
    pub detail: String,
    pub hint: Option<String>,
    /// The jail file line the step came from.
    pub origin: Option<String>,
    pub exit: i32,
    pub teardown: Vec<String>,
}

impl RunError {
    pub fn exit_code(&self) -> i32 {
        self.exit
    }
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.what)?;
        if let Some(e) = self.errno {
            write!(f, ": {e:?} ({})", e.desc())?;
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        if let Some(o) = &self.origin {
            write!(f, "\n  from: {o}")?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        for t in &self.teardown {
            write!(f, "\n  and then, in teardown: {t}")?;
        }
        Ok(())
    }
}

/// Runs one step: the one dispatch from op to the subsystem that performs it.
fn apply(step: &Step, ctx: &mut Ctx, plan: &Plan) -> StepResult {
    match &step.op {
        Op::Mkdir { path, mode, exist_ok } => rootfs::mkdir(path, *mode, *exist_ok),
        Op::CopyFile { from, to, mode } => rootfs::copy_file(from, to, *mode),
        Op::Symlinks { target, dir, names } => rootfs::symlinks(target, dir, names),
        Op::Write { path, value } => cgroups::write(path, value, ctx),
        Op::SocketPair { channel } => namespaces::socketpair(*channel, ctx),
        Op::Clone { flags, into_cgroup } => namespaces::clone(*flags, into_cgroup.as_deref(), ctx),
        Op::Close { channel, end } => namespaces::close(*channel, *end, ctx),
        Op::SyncSend { end, msg } => namespaces::send(*end, msg, ctx),
        Op::SyncRecv { end, msg } => namespaces::recv(*end, msg, ctx),
        Op::Pdeathsig => namespaces::pdeathsig(),
        Op::Unshare { flags } => namespaces::unshare(*flags),
        Op::Sethostname { name } => namespaces::sethostname(name),
        Op::Mount { source, target, target_in_root, fstype, flags, data } => mounts::mount(
            source.as_deref(),
            target,
            target_in_root.as_ref(),
            fstype.as_deref(),
            *flags,
            data.as_deref(),
            ctx,
        ),
        Op::OpenRoot { path } => mounts::open_root(path, ctx),
        Op::MountPoint { at, dir } => mounts::mount_point(at, *dir, ctx),
        Op::SymlinkIn { target, at } => mounts::symlink_in(target, at, ctx),
        Op::Chdir { path } => mounts::chdir(path),
        Op::PivotRoot { .. } => mounts::pivot_root(),
        Op::Umount2 { target, flags } => mounts::umount2(target, *flags),
        Op::NotDumpable => init::not_dumpable(),
        Op::BlockSignals => init::block_signals(),
        Op::Fork => init::fork(ctx),
        Op::Setsid => init::setsid(),
        Op::ResetSignals => init::reset_signals(),
        Op::Setrlimit { key, value, .. } => init::setrlimit(key, *value),
        Op::CloseFds => init::close_fds(),
        Op::DropPtrace => init::drop_ptrace(),
        Op::CloseHostFds => init::close_host_fds(ctx),
        Op::CloseRoot => {
            ctx.rootfd = None;
            Ok(())
        }
        Op::Execve { argv, env } => init::execve(argv, env),
        Op::InitLoop { grace_ms } => init::run_loop(*grace_ms, ctx),
        Op::AwaitExec => supervise::await_exec(ctx, plan),
        Op::Wait { grace_ms, timeout_ms } => supervise::wait(*grace_ms, *timeout_ms, ctx),
        Op::ReadCounter { path, counter } => cgroups::read_counter(path, *counter, &mut ctx.report),
        Op::KillChild => teardown::kill_child(ctx),
        Op::KillCgroup { path, kill_file } => cgroups::kill(path, *kill_file),
        Op::WaitEmpty { path } => cgroups::wait_empty(path),
        Op::Rmdir { path } => cgroups::rmdir(path),
        Op::Reclaim { path } => cgroups::reclaim(path),
        Op::CheckMounts => teardown::check_mounts(ctx, plan),
        Op::Lock { path } => crate::state::lock(path, ctx),
        Op::OpenNs { ns, path } => crate::enter::open_ns(ns, path, ctx),
        Op::SetNs { ns, flag } => crate::enter::setns(ns, *flag, ctx),
        Op::Chroot => crate::enter::chroot(ctx),
        Op::SaveState { path } => crate::state::save(path, plan, ctx),
        Op::Unlink { path } => crate::state::unlink(path),
    }
}

/// Runs a step with tracing; records it as done.
fn run_step(step: &Step, ctx: &mut Ctx, plan: &Plan) -> StepResult {
    if ctx.failpoint == Some(step.index) && ctx.side == Side::Parent {
        eprintln!("procjail: PROCJAIL_FAILPOINT: killing the supervisor before {}", plan.describe(step));
        let _ = nix::sys::signal::kill(nix::unistd::getpid(), nix::sys::signal::Signal::SIGKILL);
    }
    if ctx.interrupt_at == Some(step.index) && ctx.side == Side::Parent {
        let _ = nix::sys::signal::kill(nix::unistd::getpid(), nix::sys::signal::Signal::SIGINT);
    }
    let start = Instant::now();
    if ctx.trace && matches!(step.op, Op::Execve { .. } | Op::InitLoop { .. } | Op::Wait { .. }) {
        // These do not return (or not soon): say so before.
        eprintln!("{}", trace_line(plan, step, "…", None));
    }
    let result = apply(step, ctx, plan);
    // After clone or fork, only the process that stays on the step's side reports it.
    if ctx.trace && ctx.side == step.side && !matches!(step.op, Op::Execve { .. } | Op::InitLoop { .. }) {
        let outcome = match &result {
            Ok(()) => "ok".to_string(),
            Err(f) => format!("{:?}", f.errno),
        };
        eprintln!("{}", trace_line(plan, step, &outcome, Some(start.elapsed())));
    }
    if result.is_ok() {
        ctx.done.insert(step.index);
    }
    result
}

fn trace_line(plan: &Plan, step: &Step, outcome: &str, took: Option<std::time::Duration>) -> String {
    let took = took.map_or(String::new(), |d| format!(" ({:.3} ms)", d.as_secs_f64() * 1000.0));
    format!("procjail: trace: {} = {outcome}{took}", plan.describe(step))
}

/// Builds the error for a failed step, with the hint for its errno.
pub fn step_error(plan: &Plan, step: &Step, f: &Failure) -> RunError {
    let exit = match (&step.op, f.errno) {
        (Op::Execve { .. }, Errno::ENOENT) => 127,
        (Op::Execve { .. }, _) => 126,
        _ => crate::cli::EXIT_FAILED,
    };
    let origin = match &step.origin {
        crate::spec::Origin::Default => None,
        o => Some(crate::plan::print::origin(&plan.file, o)),
    };
    RunError {
        what: plan.describe(step),
        errno: Some(f.errno),
        detail: f.detail.clone(),
        hint: crate::teardown::hint(&step.op, f.errno),
        origin,
        exit,
        teardown: Vec::new(),
    }
}

/// `procjail up`: walks the plan on the parent side, then tears down. Returns the exit code.
pub fn up(plan: &Plan, opts: &Options) -> anyhow::Result<i32> {
    let mut ctx = Ctx::new(opts.trace);
    ctx.mounts_before = opts.mountinfo.clone();
    ctx.report = Report::for_plan(plan);
    let _signals = supervise::SignalGuard::block()?;
    let mut error: Option<RunError> = None;
    let teardown_at = plan.phases.iter().position(|p| p.name == "teardown").unwrap_or(plan.phases.len());
    'walk: for phase in &plan.phases[..teardown_at] {
        // A Ctrl-C during setup stops it (checked between the parent's phases) and tears down;
        // once the command runs, the supervisor forwards signals instead.
        let setup = phase.side == Side::Parent && !matches!(phase.name, "supervise" | "report");
        // (Only then is the pending signal taken: once the command runs, Wait forwards it.)
        if setup && let Some(sig) = supervise::interrupted() {
            error = Some(RunError {
                what: format!("interrupted by {sig} before the {} phase", phase.name),
                errno: None,
                detail: String::new(),
                hint: None,
                origin: None,
                exit: 128 + sig as i32,
                teardown: Vec::new(),
            });
            break 'walk;
        }
        for step in &phase.steps {
            if step.side != ctx.side {
                continue;
            }
            if let Err(f) = run_step(step, &mut ctx, plan) {
                error = Some(match supervise::take_child_error(&mut ctx, plan) {
                    Some(child_error) => child_error,
                    None => step_error(plan, step, &f),
                });
                break 'walk;
            }
            if ctx.side != Side::Parent {
                // The child (or the command) never comes back here: it execs or exits.
                child_walk(plan, step.index, &mut ctx);
            }
        }
    }
    let teardown_errors =
        teardown::run(plan, &plan.phases[teardown_at..], &mut ctx, |s, c| run_step(s, c, plan));
    if error.is_none()
        && let Some(line) = ctx.report.line(&plan.jail)
    {
        eprintln!("{line}");
    }
    if let Some(path) = &opts.json_report {
        ctx.report.write_json(path, &plan.jail)?;
    }
    match error {
        Some(mut e) => {
            e.teardown = teardown_errors;
            Err(e.into())
        }
        None if !teardown_errors.is_empty() => Err(RunError {
            what: "teardown".into(),
            errno: None,
            detail: teardown_errors.join("; "),
            hint: Some("this is a leak: what is named above is still on the host".into()),
            origin: None,
            exit: crate::cli::EXIT_FAILED,
            teardown: Vec::new(),
        }
        .into()),
        None => Ok(ctx.report.exit_code()),
    }
}

/// The walk of the jail's side after clone (and of the command's after fork). Never returns.
fn child_walk(plan: &Plan, after: usize, ctx: &mut Ctx) -> ! {
    for step in plan.steps().filter(|s| s.index > after) {
        if step.side != ctx.side {
            continue;
        }
        let side_before = ctx.side;
        if let Err(f) = run_step(step, ctx, plan) {
            let error = step_error(plan, step, &f);
            if ctx.sync[1].is_some() {
                namespaces::report_failure(ctx, step, &f);
            } else {
                // No supervisor listens (procjail exec): say it here.
                eprintln!("procjail: {error}");
            }
            let code = error.exit;
            unsafe { libc::_exit(code) };
        }
        if ctx.side != side_before {
            // fork: this process is now the command; go on from here on its side.
            child_walk(plan, step.index, ctx);
        }
    }
    unsafe { libc::_exit(crate::cli::EXIT_FAILED) }
}

/// Walks a plan whose parent forks the command and waits for it (`procjail exec`): returns the
/// command's exit code, as `up` does.
pub fn run_attached(plan: &Plan, trace: bool) -> anyhow::Result<i32> {
    let mut ctx = Ctx::new(trace);
    let _signals = supervise::SignalGuard::block()?;
    for step in plan.steps().filter(|s| s.side == Side::Parent) {
        run_step(step, &mut ctx, plan).map_err(|f| step_error(plan, step, &f))?;
        if ctx.side != Side::Parent {
            child_walk(plan, step.index, &mut ctx);
        }
    }
    Ok(ctx.report.exit_code())
}

/// Walks a plan that has only parent steps and no teardown (`procjail rootfs`).
pub fn run_parent_only(plan: &Plan, trace: bool) -> anyhow::Result<()> {
    let mut ctx = Ctx::new(trace);
    for step in plan.steps() {
        run_step(step, &mut ctx, plan).map_err(|f| step_error(plan, step, &f))?;
    }
    Ok(())
}
