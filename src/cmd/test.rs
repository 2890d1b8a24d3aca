//! `procjail test`: runs the jail files that have an `[expect]` table as experiments, checks
//! what each showed against what it must show, and checks that nothing leaked.
//!
//! Each experiment runs as `procjail up --json-report` in its own process (stdout and stderr
//! captured), one at a time or `-j N` at once.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use serde::Serialize;

use crate::build;
use crate::exec::{self, Options};
use crate::host::Host;
use crate::host::scan::Snapshot;
use crate::spec::{self, Expect};

/// How an experiment came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    /// The file has no [expect] table.
    Skip,
}

/// One experiment's result.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub name: String,
    pub file: PathBuf,
    pub result: Verdict,
    pub seconds: f64,
    /// (what, expected, actual) for each check that failed.
    pub mismatches: Vec<(String, String, String)>,
    /// What was left on the host after the run.
    pub leaks: Vec<String>,
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// The jail files under `paths` (a file, or every *.toml in a folder), sorted.
pub fn collect(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)?
                .flatten()
                .map(|e| e.path())
                .filter(|f| f.extension().is_some_and(|e| e == "toml"))
                .collect();
            found.sort();
            files.extend(found);
        } else if p.exists() {
            files.push(p.clone());
        } else {
            anyhow::bail!("{}: no such file or folder", p.display());
        }
    }
    Ok(files)
}

/// Runs the experiments and prints a line for each, then `N passed, M failed[, K skipped]`.
/// Returns 0 only when every experiment passed.
pub fn run(paths: &[PathBuf], jobs: usize, json: Option<&Path>) -> anyhow::Result<i32> {
    let files = collect(paths)?;
    let host = Host::detect();
    make_rootfs_first(&files, &host)?;
    let exe = std::env::current_exe()?;
    let color = crate::plan::print::use_color(std::io::stdout().is_terminal());
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Outcome>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(file) = files.get(i) else { break };
                    let outcome = run_one(&exe, file, &host);
                    print!("{}", show(&outcome, color));
                    results.lock().expect("results").push(outcome);
                }
            });
        }
    });
    let mut results = results.into_inner().expect("results");
    results.sort_by(|a, b| a.file.cmp(&b.file));
    let count = |r: Verdict| results.iter().filter(|o| o.result == r).count();
    let (passed, failed, skipped) = (count(Verdict::Pass), count(Verdict::Fail), count(Verdict::Skip));
    let mut summary = format!("{passed} passed, {failed} failed");
    if skipped > 0 {
        summary.push_str(&format!(", {skipped} skipped"));
    }
    println!("{summary}");
    if let Some(path) = json {
        let doc = serde_json::json!({ "passed": passed, "failed": failed, "skipped": skipped, "experiments": results });
        super::write_output(path, &(serde_json::to_string_pretty(&doc)? + "\n"))?;
    }
    Ok(if failed == 0 { 0 } else { 1 })
}

/// Experiments that share a rootfs to be made from busybox would race to make it when they run
/// at once: make each such rootfs first, once, with the same steps `up` would take.
fn make_rootfs_first(files: &[PathBuf], host: &Host) -> anyhow::Result<()> {
    let mut made = std::collections::BTreeSet::new();
    for file in files {
        let Ok(spec) = spec::load(file, host) else { continue };
        if spec.make_rootfs && spec.expect.is_some() && made.insert(spec.rootfs.clone()) {
            let plan = build::rootfs(&spec.rootfs, &spec.rootfs_parents, host);
            exec::run(&plan, &Options::default()).1?;
            println!("made the rootfs {} from busybox", spec.rootfs.display());
        }
    }
    Ok(())
}

fn outcome(file: &Path, name: &str) -> Outcome {
    Outcome {
        name: name.to_string(),
        file: file.to_path_buf(),
        result: Verdict::Skip,
        seconds: 0.0,
        mismatches: Vec::new(),
        leaks: Vec::new(),
        exit_code: None,
        stdout: String::new(),
        stderr: String::new(),
    }
}

fn run_one(exe: &Path, file: &Path, host: &Host) -> Outcome {
    let name = spec::jail_name(file);
    let mut out = outcome(file, &name);
    let spec = match spec::load(file, host) {
        Ok(spec) => spec,
        Err(e) => {
            out.result = Verdict::Fail;
            out.mismatches.push(("jail file".into(), "valid".into(), e.short().join("; ")));
            return out;
        }
    };
    let Some(expect) = spec.expect.clone() else { return out };
    let report_file = std::env::temp_dir().join(format!("procjail-test-{}-{name}.json", std::process::id()));
    let before = Snapshot::take(&spec.name, &spec.rootfs);
    let start = Instant::now();
    let run = Command::new(exe)
        .arg("up")
        .arg("--json-report")
        .arg(&report_file)
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output();
    out.seconds = start.elapsed().as_secs_f64();
    let run = match run {
        Ok(r) => r,
        Err(e) => {
            out.result = Verdict::Fail;
            out.mismatches.push(("procjail up".into(), "runs".into(), e.to_string()));
            return out;
        }
    };
    out.exit_code = run.status.code();
    out.stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    out.stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    let report: serde_json::Value = std::fs::read_to_string(&report_file)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let _ = std::fs::remove_file(&report_file);
    out.mismatches = compare(&expect, &out, &report);
    out.leaks = Snapshot::take(&spec.name, &spec.rootfs).new_since(&before, &spec.name);
    out.result =
        if out.mismatches.is_empty() && out.leaks.is_empty() { Verdict::Pass } else { Verdict::Fail };
    out
}

/// The command's own stderr: procjail's lines (its report, its errors) left out.
fn command_stderr(stderr: &str) -> String {
    stderr
        .lines()
        .filter(|l| !l.starts_with("procjail: ") && !l.starts_with("  "))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Every expectation that the run did not meet, as (what, expected, actual).
fn compare(e: &Expect, o: &Outcome, report: &serde_json::Value) -> Vec<(String, String, String)> {
    let mut m = Vec::new();
    let mut check = |what: &str, ok: bool, expected: String, actual: String| {
        if !ok {
            m.push((what.to_string(), expected, actual));
        }
    };
    let show = |v: Option<String>| v.unwrap_or_else(|| "nothing".into());
    if let Some(x) = e.exit {
        check("exit", o.exit_code == Some(x), x.to_string(), show(o.exit_code.map(|c| c.to_string())));
    }
    if let Some(sig) = e.signal {
        let want = nix::sys::signal::Signal::try_from(sig).map(|s| s.to_string()).unwrap_or_default();
        let got = report["command_signal"].as_str().map(String::from);
        check("signal", got.as_deref() == Some(want.as_str()), want, show(got));
    }
    for (what, want) in [("oom_killed", e.oom_killed), ("timed_out", e.timed_out)] {
        if let Some(want) = want {
            let got = report[what].as_bool().unwrap_or(false);
            check(what, got == want, want.to_string(), got.to_string());
        }
    }
    if let Some(want) = e.pids_limit_hit {
        let hits = report["pids_max_hit"].as_u64().unwrap_or(0);
        check("pids_limit_hit", (hits > 0) == want, want.to_string(), format!("{} ({hits} times)", hits > 0));
    }
    if let Some(want) = &e.stdout {
        check("stdout", want.matches(&o.stdout), want.to_string(), format!("{:?}", o.stdout));
    }
    if let Some(want) = &e.stderr {
        let err = command_stderr(&o.stderr);
        check("stderr", want.matches(&err), want.to_string(), format!("{err:?}"));
    }
    if let Some(ms) = e.max_duration_ms {
        let took = (o.seconds * 1000.0) as u64;
        check("max_duration", took <= ms, format!("at most {ms} ms"), format!("{took} ms"));
    }
    if let Some(ms) = e.max_cpu_ms {
        let cpu = report["user_cpu_ms"].as_u64().unwrap_or(0) + report["system_cpu_ms"].as_u64().unwrap_or(0);
        check("max_cpu_time", cpu <= ms, format!("at most {ms} ms"), format!("{cpu} ms"));
    }
    m
}

/// One line per experiment; for a failure, expected and actual side by side and the output.
fn show(o: &Outcome, color: bool) -> String {
    let paint = |code: &str, t: &str| if color { format!("\x1b[{code}m{t}\x1b[0m") } else { t.to_string() };
    let label = match o.result {
        Verdict::Pass => paint("32", "PASS"),
        Verdict::Fail => paint("1;31", "FAIL"),
        Verdict::Skip => paint("33", "SKIP"),
    };
    let time =
        if o.result == Verdict::Skip { "no [expect]".to_string() } else { format!("{:.2}s", o.seconds) };
    let mut s = format!("{label}  {:<32} {time}\n", o.name);
    if o.result != Verdict::Fail {
        return s;
    }
    s.push_str(&format!("      {:<16} {:<36} {}\n", "", "expected", "actual"));
    for (what, want, got) in &o.mismatches {
        s.push_str(&format!("      {what:<16} {want:<36} {got}\n"));
    }
    for leak in &o.leaks {
        s.push_str(&format!("      leaked           {leak}\n"));
    }
    for (name, text) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
        if !text.is_empty() {
            s.push_str(&format!("      --- {name}\n"));
            for line in text.lines().take(40) {
                s.push_str(&format!("      | {line}\n"));
            }
        }
    }
    s
}

/// What `procjail test` runs by default.
pub fn default_paths() -> Vec<PathBuf> {
    vec![PathBuf::from("jails")]
}
