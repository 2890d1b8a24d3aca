//! Problems found in a jail file, and how they are shown: cargo-style, with `file:line:col`,
//! the key, the offending line with a caret under it, what is accepted, and a hint.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use annotate_snippets::{AnnotationKind, Group, Level, Origin, Renderer, Snippet};

/// One problem in a jail file.
#[derive(Debug, Clone, PartialEq)]
pub struct Diag {
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
        Diag { span, key: key.into(), message: message.into(), accepted: None, hint: None }
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

/// All the problems of one file: the error `procjail check` and `plan` report.
#[derive(Debug, Clone, thiserror::Error)]
pub struct FileErrors {
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

impl FileErrors {
    /// `file:line:col` of a diagnostic.
    pub fn position(&self, d: &Diag) -> String {
        let (line, col) = line_col(&self.source_text, d.span.start);
        format!("{}:{line}:{col}", self.path.display())
    }

    /// The cargo-style report, coloured when `color` is set: the first [`SHOWN`] problems, each
    /// drawn from its own lines only, then how many more there are.
    pub fn render(&self, color: bool) -> String {
        let renderer = if color { Renderer::styled() } else { Renderer::plain() };
        let path = self.path.display().to_string();
        let index = LineIndex::new(&self.source_text);
        let mut out = String::new();
        for d in self.diags.iter().take(SHOWN) {
            let span = clamp(&self.source_text, d.span.clone());
            // Only the lines the span is on: drawing each problem against the whole file
            // would make a file with many problems quadratic.
            let (first, last) = (index.line(span.start), index.line(span.end.max(span.start)));
            let lines = index.range(&self.source_text, first).start..index.range(&self.source_text, last).end;
            let excerpt = &self.source_text[lines.clone()];
            let local = span.start - lines.start..(span.end - lines.start).min(excerpt.len());
            let label = d.accepted.as_deref().map(|a| format!("accepted: {a}")).unwrap_or_default();
            let title = format!("{}: {}", d.key, d.message);
            let mut report = if self.source_text.is_empty() {
                // Nothing to show (the file could not be read): the message alone, and where.
                vec![Level::ERROR.primary_title(title.to_string()).element(Origin::path(path.as_str()))]
            } else {
                let snippet = Snippet::source(excerpt).line_start(first).path(path.as_str());
                vec![
                    Level::ERROR
                        .primary_title(title)
                        .element(snippet.annotation(AnnotationKind::Primary.span(local).label(label))),
                ]
            };
            if let Some(hint) = &d.hint {
                report.push(Group::with_title(Level::HELP.secondary_title(hint.as_str())));
            }
            out.push_str(&renderer.render(&report));
            out.push_str("\n\n");
        }
        let n = self.diags.len();
        if n > SHOWN {
            out.push_str(&format!(
                "... and {} more problem{} (`procjail check --json` lists them all)\n\n",
                n - SHOWN,
                if n - SHOWN == 1 { "" } else { "s" }
            ));
        }
        out.push_str(&format!(
            "{}: {} problem{} in {path}",
            if color { "\x1b[1;31merror\x1b[0m" } else { "error" },
            n,
            if n == 1 { "" } else { "s" }
        ));
        out
    }

    /// One line per problem: `file:line:col: key: message`.
    pub fn short(&self) -> Vec<String> {
        self.diags.iter().map(|d| format!("{}: {}: {}", self.position(d), d.key, d.message)).collect()
    }
}

impl fmt::Display for FileErrors {
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
        .map(|c| (levenshtein(word, c), c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(did_you_mean("hostnme", ["hostname", "rootfs"]), Some("hostname"));
        assert_eq!(did_you_mean("memroy", ["memory", "pids"]), Some("memory"));
        assert_eq!(did_you_mean("zzz", ["memory", "pids"]), None);
    }

    #[test]
    fn positions() {
        assert_eq!(line_col("a\nbc\n", 3), (2, 2));
        assert_eq!(line_col("é=1", 2), (1, 2));
    }
}
