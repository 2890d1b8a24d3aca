//! The second walker: performs the plan's steps, in order, on the side each belongs to. The only
//! code in procjail that changes anything; it imports the plan and the state format, never a
//! planner.
//!
//! One list, three processes, one loop. The supervisor walks the parent steps. At `clone` the
//! child goes on walking the same list from there, taking the child steps; at `fork` the new
//! process takes the command steps. Each process skips the steps of the other sides, so the
//! order in the plan is the order things happen. A step runs only if its conditions hold; a
//! step that fails in the child is reported to the supervisor over the sync channel as (step,
//! errno, detail), and printed once, by the parent. Teardown steps run on every way out.

mod apply;
mod caps;
mod cgroup;
mod check;
mod ctx;
mod fs;
mod init_loop;
mod inroot;
mod mount;
mod ns;
mod proc;
mod report;
mod supervise;
mod sync;
mod timeline;

pub use ctx::Options;
pub use report::Report;
pub use timeline::Timeline;

use ctx::{Ctx, Done, Handles, Journal};

use crate::error::{EXIT_FAILED, Failure, RunError, StepError, Stop};
use crate::plan::{Cond, Plan, Role, Side, Step};
use crate::sys;

/// Walks `plan` in this process (the supervisor), and in every process its clone and fork steps
/// make. Returns, in the supervisor, the report of the run, and why it stopped together with
/// anything teardown could not undo, if it did not end well.
pub fn run(plan: &Plan, opts: &Options) -> (Report, Result<(), RunError>) {
    let mut ctx = Ctx { plan, opts, side: Side::Parent, h: Handles::default(), j: Journal::default() };
    ctx.j.report = Report::for_plan(plan);
    let mut stop: Option<Stop> = None;
    let mut teardown: Vec<StepError> = Vec::new();
    for phase in &plan.phases {
        let role = phase.kind.role();
        if phase.side != ctx.side || (stop.is_some() && role != Role::Teardown) {
            continue;
        }
        // A Ctrl-C during setup stops it (checked between the supervisor's phases) and tears
        // down; once the command runs, the supervisor forwards signals instead.
        if role == Role::Setup
            && ctx.side == Side::Parent
            && let Some(sig) = supervise::interrupted()
        {
            stop = Some(Stop::Interrupted {
                signal: sig as i32,
                name: sig.to_string(),
                phase: phase.kind.name(),
            });
            continue;
        }
        for step in &phase.steps {
            if step.side != ctx.side {
                continue;
            }
            match run_step(step, phase.kind.name(), &mut ctx) {
                Ok(Done::Became(side)) => ctx.side = side,
                Ok(_) => {}
                Err(f) if ctx.side != Side::Parent => die(&ctx, step, &f),
                Err(f) if role == Role::Teardown => teardown.push(step_error(plan, step, &f)),
                Err(f) => {
                    let error =
                        supervise::take_child_error(&mut ctx).unwrap_or_else(|| step_error(plan, step, &f));
                    stop = Some(Stop::Step(error));
                    break;
                }
            }
        }
    }
    if ctx.side != Side::Parent {
        // The child and the command end in execve or the init's exit; a plan that lets them
        // walk off its end is wrong.
        sys::exit_now(EXIT_FAILED);
    }
    let result = match stop {
        None if teardown.is_empty() => Ok(()),
        stop => Err(RunError { stop, teardown }),
    };
    (ctx.j.report, result)
}

/// Whether a step's conditions hold; the first that does not, as the trace says it. The lookup
/// of `if PATH exists in the jail` is the step's own open: its descriptor waits in `found`.
fn unmet(cond: &Cond, ctx: &mut Ctx<'_>) -> Option<String> {
    match cond {
        Cond::Ran(n) => (!ctx.j.done.contains(n)).then(|| format!("step {n} did not run")),
        Cond::NotRan(n) => ctx.j.done.contains(n).then(|| format!("step {n} ran")),
        Cond::Exists(p) => (!p.exists()).then(|| format!("{} does not exist", p.display())),
        Cond::NotReaped(p) => ctx.j.reaped.contains(&(*p).into()).then(|| format!("{} was reaped", p.var())),
        Cond::InRootExists(p) => {
            let h = &mut ctx.h;
            h.found =
                h.rootfd.as_ref().and_then(|r| inroot::open(r, p, nix::fcntl::OFlag::O_PATH, false).ok());
            h.found.is_none().then(|| format!("{} does not exist in the jail", p.display()))
        }
    }
}

/// Runs a step whose conditions hold, with tracing; records it as done.
fn run_step(step: &Step, phase: &str, ctx: &mut Ctx<'_>) -> Result<Done, Failure> {
    let start = timeline::now_ns();
    if let Some(why) = step.when.iter().find_map(|c| unmet(c, ctx)) {
        ctx.h.found = None;
        trace(ctx, step, phase, &format!("skipped ({why})"), None);
        return Ok(Done::Ok);
    }
    if ctx.side == Side::Parent {
        test_hooks(step, ctx);
    }
    if ctx.opts.skip_step == Some(step.index) {
        trace(ctx, step, phase, "passed over (PROCJAIL_SKIP_STEP)", None);
        ctx.j.done.insert(step.index);
        return Ok(Done::Ok);
    }
    let long = step.op.runs_long();
    if long {
        // These do not return (or not soon): say so before.
        trace(ctx, step, phase, "…", Some(start));
    }
    let result = apply::apply(step, ctx);
    ctx.h.found = None;
    // After clone or fork, only the process that stays on the step's side reports it.
    if !matches!(result, Ok(Done::Became(_))) {
        let outcome = match &result {
            Ok(Done::Note(note)) => format!("ok [{note}]"),
            Ok(_) => "ok".to_string(),
            Err(f) => format!("{:?}", f.errno),
        };
        trace(ctx, step, phase, &outcome, Some(start));
    }
    if result.is_ok() {
        ctx.j.done.insert(step.index);
    }
    result
}

/// `--trace`'s line on stderr, and `--trace-json`'s event: "…" before a step that does not
/// return soon, its outcome after; no start for a step that did not run.
fn trace(ctx: &Ctx<'_>, step: &Step, phase: &str, outcome: &str, start: Option<i64>) {
    let begun = outcome == "…";
    if ctx.opts.trace {
        let took = start
            .filter(|_| !begun)
            .map_or(String::new(), |t| format!(" ({:.3} ms)", (timeline::now_ns() - t) as f64 / 1e6));
        say(&format!("procjail: trace: {} = {outcome}{took}", ctx.plan.describe(step)));
    }
    if let Some(t) = &ctx.opts.timeline {
        let (ph, at) = match start {
            None => ("i", timeline::now_ns()),
            Some(s) if begun => ("B", s),
            Some(s) if step.op.runs_long() => ("E", timeline::now_ns().max(s)),
            Some(s) => ("X", s),
        };
        t.record(ctx.side, phase, step, ph, at, outcome);
    }
}

/// A line on stderr in one write, so the lines of the supervisor, the jail's init and the
/// command never interleave.
pub fn say(line: &str) {
    use std::io::Write as _;
    let _ = std::io::stderr().write_all(format!("{line}\n").as_bytes());
}

/// PROCJAIL_FAILPOINT and PROCJAIL_INTERRUPT_AT: tests of what a killed or interrupted
/// supervisor leaves. Not set, they do nothing.
fn test_hooks(step: &Step, ctx: &Ctx<'_>) {
    use nix::sys::signal::{Signal, raise};
    if ctx.opts.failpoint == Some(step.index) {
        say(&format!(
            "procjail: PROCJAIL_FAILPOINT: killing the supervisor before {}",
            ctx.plan.describe(step)
        ));
        let _ = raise(Signal::SIGKILL);
    }
    if ctx.opts.interrupt_at == Some(step.index) {
        let _ = raise(Signal::SIGINT);
    }
}

/// The error for a failed step, with the hint for its errno and the line it came from.
pub fn step_error(plan: &Plan, step: &Step, f: &Failure) -> StepError {
    let origin = match &step.origin {
        crate::spec::Origin::Default => None,
        o => Some(crate::plan::print::origin(&plan.file, o)),
    };
    StepError {
        what: plan.describe(step),
        errno: f.errno,
        detail: f.detail.clone(),
        origin,
        hint: crate::plan::hint(&step.op, f.errno, nix::unistd::geteuid().is_root()),
        exit: step.op.exit_code(f.errno),
    }
}

/// A step of the jail's side failed: tell the supervisor which (or, with nobody listening, say
/// it here), and exit with the step's code.
fn die(ctx: &Ctx<'_>, step: &Step, f: &Failure) -> ! {
    let error = step_error(ctx.plan, step, f);
    if !sync::report_failure(&ctx.h, step, f) {
        say(&format!("procjail: {error}"));
    }
    sys::exit_now(error.exit)
}
