//! `procjail check FILE...`: validates jail files, one line each, or as JSON for editors and CI.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use crate::diag::FileDiags;
use crate::error::EXIT_FAILED;
use crate::host::Host;
use crate::plan::print::use_color;
use crate::{build, spec};

/// What `check` found in one file.
struct Checked {
    /// `(jail name, steps)` when the file is valid.
    valid: Option<(String, usize)>,
    /// Its problems: errors, or only warnings when it is valid.
    diags: FileDiags,
}

pub fn check(files: &[PathBuf], json: bool) -> anyhow::Result<i32> {
    let host = Host::detect();
    let results: Vec<Checked> = files.iter().map(|f| check_one(f, &host)).collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&as_json(&results))?);
    } else {
        let color = use_color(std::io::stderr().is_terminal());
        for r in &results {
            print_one(r, color);
        }
    }
    Ok(if results.iter().all(|r| r.valid.is_some()) { 0 } else { EXIT_FAILED })
}

fn check_one(file: &Path, host: &Host) -> Checked {
    match spec::load(file, host) {
        Ok(spec) => {
            let steps = build::up(&spec, host).len();
            Checked { valid: Some((spec.name.clone(), steps)), diags: spec.warnings }
        }
        Err(diags) => Checked { valid: None, diags },
    }
}

/// The problems on stderr, cargo-style; one line per file on stdout.
fn print_one(r: &Checked, color: bool) {
    let file = r.diags.path.display();
    let n = r.diags.diags.len();
    if n > 0 {
        eprintln!("{}\n", r.diags.render(color));
    }
    let warnings = r.diags.warnings();
    match &r.valid {
        Some((name, steps)) => {
            let also = if warnings > 0 {
                format!(", {warnings} warning{}", plural(warnings))
            } else {
                String::new()
            };
            println!("ok     {file} (jail {name}, {steps} steps{also})");
        }
        None => {
            let errors = r.diags.errors();
            println!("error  {file} ({errors} problem{})", plural(errors));
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `check --json`: for each file, whether it is valid and every diagnostic.
fn as_json(results: &[Checked]) -> serde_json::Value {
    let files: Vec<serde_json::Value> = results
        .iter()
        .map(|r| {
            serde_json::json!({
                "file": r.diags.path.display().to_string(),
                "valid": r.valid.is_some(),
                "jail": r.valid.as_ref().map(|(n, _)| n),
                "steps": r.valid.as_ref().map(|(_, s)| s),
                "errors": r.diags.errors(),
                "warnings": r.diags.warnings(),
                "diagnostics": r.diags.json(),
            })
        })
        .collect();
    serde_json::json!({ "files": files })
}
