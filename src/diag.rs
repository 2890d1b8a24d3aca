//! Problems found in a jail file, and how they are shown: cargo-style, with `file:line:col`,
//! the key, the offending line with a caret under it, what is accepted, and a hint.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use annotate_snippets::{AnnotationKind, Group, Level, Origin, Renderer, Snippet};

/// How bad a problem is: an error stops the jail; a warning is legal but likely wrong, and is
/// shown by `check` and `plan` without stopping anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem in a jail file.
#[derive(Debug, Clone, PartialEq)]
pub struct Diag {
    pub level: Severity,
    /// Byte range in the file that the problem is about.
    pub span: Range<usize>,
    /// The key, as a path: `limits.memory`, `mounts[2].target`, or `[command]` for a table.
    pub key: String,
    pub message: String,
    /// What is accepted there.
    pub accepted: Option<String>,
    pub hint: Option<String>,
}

impl Diag {
    pub fn new(span: Range<usize>, key: impl Into<String>, message: impl Into<String>) -> Diag {
        Diag {
            level: Severity::Error,
            span,
            key: key.into(),
            message: message.into(),
            accepted: None,
            hint: None,
        }
    }

    /// A warning: legal, but likely not what was meant.
    pub fn warning(span: Range<usize>, key: impl Into<String>, message: impl Into<String>) -> Diag {
        Diag { level: Severity::Warning, ..Diag::new(span, key, message) }
    }

    pub fn accepted(mut self, accepted: impl Into<String>) -> Diag {
        self.accepted = Some(accepted.into());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Diag {
        self.hint = Some(hint.into());
        self
    }
}

/// How many problems a report draws; the rest are counted.
pub const SHOWN: usize = 50;

/// The problems of one file, errors and warnings: as an error, what `check`, `plan` and `up`
/// report for a file that has at least one error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct FileDiags {
    pub path: PathBuf,
    pub source_text: String,
    pub diags: Vec<Diag>,
}

/// Where each line of a text starts: built once, so that placing a diagnostic or a step's
/// origin is a binary search, not a scan of the file.
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(text.bytes().enumerate().filter(|(_, b)| *b == b'\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    /// The 1-based line of a byte offset.
    pub fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|s| *s <= offset)
    }

    /// The byte range of a 1-based line, without its newline.
    pub fn range(&self, text: &str, line: usize) -> Range<usize> {
        let start = self.starts[line - 1];
        let end = self.starts.get(line).map_or(text.len(), |n| n - 1);
        start..end.max(start)
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, text: &str, offset: usize) -> (usize, usize) {
        let offset = offset.min(text.len());
        let line = self.line(offset);
        let start = self.starts[line - 1];
        let col = text.get(start..offset).map_or(offset - start, |s| s.chars().count());
        (line, col + 1)
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

impl FileDiags {
    /// `file:line:col` of a diagnostic.
    pub fn position(&self, d: &Diag) -> String {
        let (line, col) = line_col(&self.source_text, d.span.start);
        format!("{}:{line}:{col}", self.path.display())
    }

    pub fn errors(&self) -> usize {
        self.diags.iter().filter(|d| d.level == Severity::Error).count()
    }

    pub fn warnings(&self) -> usize {
        self.diags.len() - self.errors()
    }

    /// The cargo-style report, coloured when `color` is set: the first [`SHOWN`] problems, each
    /// drawn from its own lines only, then how many more there are, then a count.
    pub fn render(&self, color: bool) -> String {
        let renderer = if color { Renderer::styled() } else { Renderer::plain() };
        let index = LineIndex::new(&self.source_text);
        let mut out = String::new();
        for d in self.diags.iter().take(SHOWN) {
            out.push_str(&renderer.render(&self.report(d, &index)));
            out.push_str("\n\n");
        }
        let n = self.diags.len();
        if n > SHOWN {
            let more = n - SHOWN;
            out.push_str(&format!(
                "... and {more} more problem{} (`procjail check --json` lists them all)\n\n",
                plural(more)
            ));
        }
        out.push_str(&self.summary(color));
        out
    }

    /// One diagnostic as annotate-snippets draws it.
    fn report<'a>(&'a self, d: &'a Diag, index: &LineIndex) -> Vec<Group<'a>> {
        let path = self.path.to_str().unwrap_or("jail file");
        let level = if d.level == Severity::Error { Level::ERROR } else { Level::WARNING };
        let title = format!("{}: {}", d.key, d.message);
        let mut report = if self.source_text.is_empty() || d.span == (0..0) {
            // Nothing to show (the file could not be read): the message alone, and where.
            vec![level.primary_title(title).element(Origin::path(path))]
        } else {
            let span = clamp(&self.source_text, d.span.clone());
            // Only the lines the span is on: drawing each problem against the whole file
            // would make a file with many problems quadratic.
            let (first, last) = (index.line(span.start), index.line(span.end.max(span.start)));
            let lines = index.range(&self.source_text, first).start..index.range(&self.source_text, last).end;
            let excerpt = &self.source_text[lines.clone()];
            let local = span.start - lines.start..(span.end - lines.start).min(excerpt.len());
            let label = d.accepted.as_deref().map(|a| format!("accepted: {a}")).unwrap_or_default();
            let snippet = Snippet::source(excerpt).line_start(first).path(path);
            vec![
                level
                    .primary_title(title)
                    .element(snippet.annotation(AnnotationKind::Primary.span(local).label(label))),
            ]
        };
        if let Some(hint) = &d.hint {
            report.push(Group::with_title(Level::HELP.secondary_title(hint.as_str())));
        }
        report
    }

    /// The last line: `error: 2 problems (and 1 warning) in FILE`, or `warning: …`.
    pub fn summary(&self, color: bool) -> String {
        let (errors, warnings) = (self.errors(), self.warnings());
        let paint = |text: &str, code: &str| {
            if color { format!("\x1b[1;{code}m{text}\x1b[0m") } else { text.to_string() }
        };
        let path = self.path.display();
        if errors == 0 {
            return format!("{}: {warnings} warning{} in {path}", paint("warning", "33"), plural(warnings));
        }
        let also = if warnings > 0 {
            format!(" (and {warnings} warning{})", plural(warnings))
        } else {
            String::new()
        };
        format!("{}: {errors} problem{}{also} in {path}", paint("error", "31"), plural(errors))
    }

    /// One line per problem: `file:line:col: key: message`.
    pub fn short(&self) -> Vec<String> {
        let index = LineIndex::new(&self.source_text);
        let at = |d: &Diag| {
            let (line, col) = index.line_col(&self.source_text, d.span.start);
            format!("{}:{line}:{col}", self.path.display())
        };
        self.diags.iter().map(|d| format!("{}: {}: {}", at(d), d.key, d.message)).collect()
    }

    /// Every problem as data (`check --json`): file, line, column, key, level, message,
    /// accepted, hint.
    pub fn json(&self) -> Vec<serde_json::Value> {
        let index = LineIndex::new(&self.source_text);
        self.diags
            .iter()
            .map(|d| {
                let (line, column) = index.line_col(&self.source_text, d.span.start);
                serde_json::json!({
                    "file": self.path.display().to_string(),
                    "line": line,
                    "column": column,
                    "key": d.key,
                    "level": d.level,
                    "message": d.message,
                    "accepted": d.accepted,
                    "hint": d.hint,
                })
            })
            .collect()
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

impl fmt::Display for FileDiags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

/// Keeps a span inside the text and on character boundaries; an empty span at the very end
/// of the file is widened to the last character so the caret has something to point at.
fn clamp(text: &str, span: Range<usize>) -> Range<usize> {
    let mut start = span.start.min(text.len());
    let mut end = span.end.clamp(start, text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    while !text.is_char_boundary(end) {
        end += 1;
    }
    if start == end && start == text.len() && start > 0 {
        start = text[..start].char_indices().next_back().map_or(0, |(i, _)| i);
    }
    start..end
}

/// Shows a path for messages, relative when it is under the current directory.
pub fn show(path: &Path) -> String {
    path.display().to_string()
}

/// The closest of `candidates` to `word`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (distance(word, c), c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Optimal string alignment distance: insertions, deletions, substitutions and transpositions
/// of two neighbours each count 1, so "bnid" is 1 from "bind" (Levenshtein says 2).
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // Three rows: the one before the last is what a transposition looks back to.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut last: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut row = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            row[j] = (last[j - 1] + cost).min(last[j] + 1).min(row[j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                row[j] = row[j].min(before[j - 2] + 1);
            }
        }
        before = std::mem::replace(&mut last, row);
    }
    last[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(did_you_mean("hostnme", ["hostname", "rootfs"]), Some("hostname"));
        assert_eq!(did_you_mean("memroy", ["memory", "pids"]), Some("memory"));
        assert_eq!(did_you_mean("zzz", ["memory", "pids"]), None);
        assert_eq!(did_you_mean("bnid", ["bind", "tmpfs"]), Some("bind"));
        assert_eq!(did_you_mean("tmfps", ["bind", "tmpfs"]), Some("tmpfs"));
        assert_eq!(distance("ca", "abc"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("abc", "abc"), 0);
    }

    #[test]
    fn positions() {
        assert_eq!(line_col("a\nbc\n", 3), (2, 2));
        assert_eq!(line_col("é=1", 2), (1, 2));
    }
}
