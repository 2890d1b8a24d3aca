//! Validation of `[expect]`: what an experiment must show, checked by `procjail test`.

use super::Validator;
use crate::config::rules::EXIT_MAX;
use crate::config::{JailFile, Matcher, Sp};
use crate::diag::Diag;

/// How output must look.
#[derive(Debug, Clone)]
pub enum OutputMatch {
    Exact(String),
    Contains(String),
    Regex(regex::Regex),
}

impl PartialEq for OutputMatch {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl OutputMatch {
    pub fn matches(&self, text: &str) -> bool {
        match self {
            OutputMatch::Exact(t) => text == t,
            OutputMatch::Contains(t) => text.contains(t.as_str()),
            OutputMatch::Regex(r) => r.is_match(text),
        }
    }
}

impl std::fmt::Display for OutputMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutputMatch::Exact(t) => write!(f, "{t:?}"),
            OutputMatch::Contains(t) => write!(f, "containing {t:?}"),
            OutputMatch::Regex(r) => write!(f, "matching /{}/", r.as_str()),
        }
    }
}

/// The checked expectations of an experiment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Expect {
    pub exit: Option<i32>,
    /// The signal number that ended the command.
    pub signal: Option<i32>,
    pub oom_killed: Option<bool>,
    pub pids_limit_hit: Option<bool>,
    pub timed_out: Option<bool>,
    pub stdout: Option<OutputMatch>,
    pub stderr: Option<OutputMatch>,
    pub max_duration_ms: Option<u64>,
    pub max_cpu_ms: Option<u64>,
}

impl Validator<'_> {
    pub(super) fn expect(&mut self, f: &JailFile) -> Option<Expect> {
        let e = f.expect.as_ref()?;
        let mut out = Expect {
            oom_killed: e.oom_killed.as_ref().map(|b| b.value),
            pids_limit_hit: e.pids_limit_hit.as_ref().map(|b| b.value),
            timed_out: e.timed_out.as_ref().map(|b| b.value),
            max_duration_ms: e.max_duration.as_ref().map(|d| d.value.0),
            max_cpu_ms: e.max_cpu_time.as_ref().map(|d| d.value.0),
            ..Expect::default()
        };
        if let Some(x) = &e.exit {
            match i32::try_from(x.value) {
                Ok(code) if (0..=EXIT_MAX).contains(&x.value) => out.exit = Some(code),
                _ => self.err(
                    Diag::new(x.span.clone(), "expect.exit", format!("{} is not an exit code", x.value))
                        .accepted(format!("an integer from 0 to {EXIT_MAX} (128+N for signal N)")),
                ),
            }
        }
        if let Some(s) = &e.signal {
            let name = if s.value.starts_with("SIG") { s.value.clone() } else { format!("SIG{}", s.value) };
            match name.parse::<nix::sys::signal::Signal>() {
                Ok(sig) => out.signal = Some(sig as i32),
                Err(_) => self.err(
                    Diag::new(s.span.clone(), "expect.signal", format!("\"{}\" is not a signal", s.value))
                        .accepted("a signal name: \"SIGKILL\", \"KILL\", \"TERM\", ...")
                        .hint("see `kill -l`"),
                ),
            }
        }
        out.stdout = e.stdout.as_ref().and_then(|m| self.output("expect.stdout", m));
        out.stderr = e.stderr.as_ref().and_then(|m| self.output("expect.stderr", m));
        Some(out)
    }

    fn output(&mut self, key: &str, m: &Sp<Matcher>) -> Option<OutputMatch> {
        match &m.value {
            Matcher::Exact(t) => Some(OutputMatch::Exact(t.clone())),
            Matcher::Contains(t) => Some(OutputMatch::Contains(t.clone())),
            Matcher::Regex(r) => match regex::Regex::new(r) {
                Ok(re) => Some(OutputMatch::Regex(re)),
                Err(e) => {
                    self.err(
                        Diag::new(
                            m.span.clone(),
                            key,
                            format!("not a regular expression: {}", regex_problem(&e)),
                        )
                        .accepted("a regex in Rust's syntax (https://docs.rs/regex)"),
                    );
                    None
                }
            },
        }
    }
}

/// The regex crate's error in one line: "unclosed group at character 2", without its own
/// "regex parse error:" and "error:" (the report says "error" once).
fn regex_problem(e: &regex::Error) -> String {
    let text = e.to_string();
    let lines: Vec<&str> = text.lines().collect();
    let what = lines.iter().rev().find_map(|l| l.trim().strip_prefix("error: ")).unwrap_or(text.trim());
    // The pattern is drawn indented by 4 with a caret line under it: the caret's column.
    let at = lines.iter().find(|l| l.trim() == "^" || l.trim().chars().all(|c| c == '^') && l.contains('^'));
    match at.and_then(|l| l.find('^')) {
        Some(col) if col >= 4 => format!("{what} at character {}", col - 3),
        _ => what.to_string(),
    }
}
