//! `procjail up FILE`: runs the jail in the foreground, then prints its report.

use std::path::{Path, PathBuf};

use crate::exec::{self, Options};
use crate::host::{Host, read_small};
use crate::spec::{self, Overrides};
use crate::{build, config};

pub struct Args {
    pub file: PathBuf,
    pub trace: bool,
    pub timeout: Option<config::Duration>,
    pub json_report: Option<PathBuf>,
    pub name: Option<String>,
    pub verify: bool,
    pub trace_json: Option<PathBuf>,
    pub report: bool,
}

pub fn up(a: Args) -> anyhow::Result<i32> {
    let mountinfo = read_small("/proc/self/mountinfo")?;
    let host = Host::detect_with(&mountinfo);
    let overrides = Overrides { name: a.name, timeout_ms: a.timeout.map(|t| t.0) };
    let spec = spec::load_with(&a.file, &host, &overrides)?;
    let plan = build::up(&spec, &host);
    // The plan carries what the run needs; the rest is not kept by the jail's processes.
    drop((spec, host));
    let timeline =
        a.trace_json.as_ref().map(|_| exec::Timeline::new().map(std::sync::Arc::new)).transpose()?;
    let opts = Options {
        mounts_before: mountinfo,
        verify: a.verify,
        timeline: timeline.clone(),
        ..Options::traced(a.trace)
    }
    .with_test_hooks();
    let (mut report, result) = exec::run(&plan, &opts);
    if let (Some(path), Some(t)) = (&a.trace_json, &timeline) {
        super::write_output(path, &(serde_json::to_string_pretty(&t.document(&plan)?)? + "\n"))?;
    }
    // The report line says how the command ended: only when it ran to its end, and, unless
    // asked for, only when there is more to say than "exited 0" (a clean run is silent, as
    // bubblewrap's, runc's and crun's are).
    let stopped = result.as_ref().err().is_some_and(|e| e.stop.is_some());
    if !stopped
        && (a.report || a.trace || report.notable())
        && let Some(line) = report.line(&plan.jail)
    {
        exec::say(&line);
    }
    if let Some(path) = &a.json_report {
        write_report(&mut report, path, &plan.jail)?;
    }
    result?;
    Ok(report.exit_code())
}

fn write_report(report: &mut exec::Report, path: &Path, jail: &str) -> anyhow::Result<()> {
    super::write_output(path, &report.json(jail)?)
}
