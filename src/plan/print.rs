//! The first walker: shows the plan to a person (numbered steps grouped by phase, fitted to a
//! 100-column terminal) or to a program (JSON). It makes no syscall.

use std::path::Path;

use serde::Serialize;

use super::{Cond, Plan, Side, Step};
use crate::spec::Origin;

/// The width `plan` fits its lines to, unless told otherwise.
pub const WIDTH: usize = 100;

/// How the text is shown: colour, and the width lines are fitted to (0: no wrapping).
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
    pub width: usize,
}

/// `--color`: when procjail colours what it prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless NO_COLOR is set (https://no-color.org).
    #[default]
    Auto,
    Always,
    Never,
}

static COLOR: std::sync::OnceLock<ColorChoice> = std::sync::OnceLock::new();

/// Sets `--color` for the whole run (once, from the command line).
pub fn set_color(choice: ColorChoice) {
    let _ = COLOR.set(choice);
}

/// Whether to colour a stream: `--color always|never`, or with `auto` only on a terminal and
/// never with NO_COLOR set.
pub fn use_color(stream_is_terminal: bool) -> bool {
    match COLOR.get().copied().unwrap_or_default() {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => stream_is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    }
}

impl Style {
    /// Colour as [`use_color`] says for this stream.
    pub fn for_stream(is_terminal: bool) -> Style {
        Style { color: use_color(is_terminal), width: WIDTH }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() }
    }

    pub fn bold(&self, t: &str) -> String {
        self.paint("1", t)
    }

    pub fn dim(&self, t: &str) -> String {
        self.paint("2", t)
    }

    pub fn side(&self, side: Side) -> String {
        let code = match side {
            Side::Parent => "36",
            Side::Child => "33",
            Side::Command => "35",
        };
        self.paint(code, &format!("[{}]", side.as_str()))
    }
}

/// Where a step came from, as the printer shows it: `busybox.toml:14 [[mounts]] #2`, `default`.
pub fn origin(file: &Path, o: &Origin) -> String {
    match o {
        Origin::Default => "default".into(),
        Origin::Found(what) => what.clone(),
        Origin::Unset { key } => format!("default {key}"),
        Origin::File { line, what } => {
            let name = file
                .file_name()
                .map_or_else(|| file.display().to_string(), |n| n.to_string_lossy().into_owned());
            format!("{name}:{line} {what}")
        }
    }
}

/// The plan for a person.
pub fn text(plan: &Plan, style: Style) -> String {
    let total = plan.len();
    let width = total.to_string().len();
    let cgroup = serde_json::to_value(plan.host.cgroup).ok().and_then(|v| v.as_str().map(String::from));
    let head = format!(
        "{} (jail {}, host cgroup {}): {total} steps",
        plan.file.display(),
        plan.jail,
        cgroup.unwrap_or_default()
    );
    // "plan for " is 9 columns; the rest wraps as a step does.
    let mut out = String::new();
    for (i, line) in fit(&head, style.width.saturating_sub(9)).iter().enumerate() {
        let lead = if i == 0 { style.bold("plan for") } else { "        ".to_string() };
        out.push_str(&format!("{lead} {line}\n"));
    }
    let key_width = plan.summary.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (what, how) in &plan.summary {
        for (i, line) in fit(how, style.width.saturating_sub(key_width + 4)).iter().enumerate() {
            let key = if i == 0 { what.as_str() } else { "" };
            out.push_str(&format!("  {}  {line}\n", style.dim(&format!("{key:<key_width$}"))));
        }
    }
    for phase in &plan.phases {
        out.push_str(&format!("\n{} {}\n", style.bold(phase.kind.name()), style.side(phase.side)));
        for step in &phase.steps {
            out.push_str(&step_lines(plan, step, width, style));
        }
    }
    out
}

/// One step: `  7  mount(...)` with its origin on the right, or on the next line when the
/// syscall is long; a long syscall wraps after a comma.
fn step_lines(plan: &Plan, step: &Step, width: usize, style: Style) -> String {
    let indent = width + 4;
    let call = step.op.to_string();
    let from = origin(&plan.file, &step.origin);
    let when = condition(&step.when);
    let need = match (when.is_empty(), from.as_str()) {
        (false, "default") => when,
        (false, _) => format!("{from}, {when}"),
        (true, "default") => String::new(),
        (true, _) => from,
    };
    let max = if style.width == 0 { usize::MAX } else { style.width.max(indent + 20) };
    let lines = if style.width == 0 { vec![call.clone()] } else { wrap(&call, max - indent) };
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        let num = if i == 0 { format!("{:>width$}", step.index) } else { " ".repeat(width) };
        out.push_str(&format!("  {num}  {line}"));
        let last = i + 1 == lines.len();
        if last && !need.is_empty() {
            let used = indent + line.chars().count();
            if style.width == 0 {
                out.push_str(&format!("  {}", style.dim(&need)));
            } else if used + 2 + need.chars().count() <= max {
                let pad = max - used - need.chars().count();
                out.push_str(&format!("{}{}", " ".repeat(pad), style.dim(&need)));
            } else {
                for part in wrap(&format!("← {need}"), max - indent - 2) {
                    out.push_str(&format!("\n{}{}", " ".repeat(indent + 2), style.dim(&part)));
                }
            }
        }
        out.push('\n');
    }
    out
}

/// `text` wrapped to `max` columns, or whole when there is no width (a pipe).
fn fit(text: &str, max: usize) -> Vec<String> {
    if max == 0 { vec![text.to_string()] } else { wrap(text, max.max(20)) }
}

/// Splits `text` into lines of at most `max` characters (the lines after the first indented by
/// two), never inside a token: after ", " where it can, else after a `|` or a `/`, else at a
/// space; cut hard only where a token is longer than a line. Linear in the text: each line looks
/// only at its own characters.
fn wrap(text: &str, max: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut rest: &str = text;
    let mut first = true;
    loop {
        let room = if first { max } else { max.saturating_sub(2).max(1) };
        let prefix = if first { "" } else { "  " };
        let Some((cut_at, _)) = rest.char_indices().nth(room) else {
            lines.push(format!("{prefix}{rest}"));
            return lines;
        };
        let head = &rest[..cut_at];
        let after = |pat: &str| head.rfind(pat).map(|i| i + pat.len()).filter(|i| *i > room / 3);
        let split = after(", ")
            .or_else(|| after("|"))
            .or_else(|| after("/"))
            .or_else(|| after(" "))
            .unwrap_or(cut_at);
        lines.push(format!("{prefix}{}", rest[..split].trim_end()));
        // A break at a space leaves no space at the start of the next line.
        rest = rest[split..].trim_start();
        first = false;
    }
}

/// A step's conditions as the text shows them: `if step 6 ran and if $CHILD_PID is not reaped`.
pub fn condition(when: &[Cond]) -> String {
    when.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(" and ")
}

#[derive(Serialize)]
struct JsonStep<'a> {
    #[serde(flatten)]
    step: &'a Step,
    /// The conditions as text ("" when it always runs).
    condition: String,
    /// The state-changing syscalls it makes (`plan::calls`).
    calls: Vec<String>,
    syscall: String,
}

#[derive(Serialize)]
struct JsonPhase<'a> {
    name: &'a str,
    side: Side,
    role: super::Role,
    steps: Vec<JsonStep<'a>>,
}

/// The plan in the shape `plan --json` prints, ready to serialize (also into state.json).
#[derive(Serialize)]
pub struct JsonPlan<'a> {
    version: u32,
    jail: &'a str,
    file: &'a Path,
    host: &'a crate::host::Host,
    steps: usize,
    /// What `plan` prints first: what the jail is, in a few words.
    summary: std::collections::BTreeMap<&'a str, &'a str>,
    phases: Vec<JsonPhase<'a>>,
}

/// The plan for programs: see "plan --json" in the README for the shape.
pub fn json(plan: &Plan) -> String {
    serde_json::to_string_pretty(&json_doc(plan)).expect("a plan serializes")
}

pub fn json_doc(plan: &Plan) -> JsonPlan<'_> {
    let phases = plan
        .phases
        .iter()
        .map(|p| JsonPhase {
            name: p.kind.name(),
            side: p.side,
            role: p.kind.role(),
            steps: p
                .steps
                .iter()
                .map(|s| JsonStep {
                    step: s,
                    condition: condition(&s.when),
                    calls: s.op.calls().iter().map(|c| c.short()).collect(),
                    syscall: s.op.to_string(),
                })
                .collect(),
        })
        .collect();
    let summary = plan.summary.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    JsonPlan {
        version: 1,
        jail: &plan.jail,
        file: &plan.file,
        host: &plan.host,
        steps: plan.len(),
        summary,
        phases,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn wraps_after_commas() {
        let lines = super::wrap("call(\"aaaa\", \"bbbb\", \"cccc\")", 16);
        assert_eq!(lines, vec!["call(\"aaaa\",", "  \"bbbb\",", "  \"cccc\")"]);
    }

    #[test]
    fn wraps_at_flags_and_slashes_before_cutting() {
        let lines = super::wrap("m(MS_NOSUID|MS_NODEV|MS_NOEXEC)", 16);
        assert_eq!(lines, vec!["m(MS_NOSUID|", "  MS_NODEV|", "  MS_NOEXEC)"]);
        let lines = super::wrap("\"/srv/rootfs/busybox/proc\"", 16);
        assert_eq!(lines, vec!["\"/srv/rootfs/", "  busybox/proc\""]);
        // A token longer than a line is cut; nothing is lost.
        let long = "x".repeat(40);
        assert_eq!(super::wrap(&long, 16).concat().replace(' ', ""), long);
    }
}
