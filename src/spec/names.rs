//! The rules for names a jail gives the kernel (its name, its hostname) and for paths.

use std::path::{Component, Path, PathBuf};

/// The one rule for a jail's name (it names folders in cgroupfs and /run/procjail): 1 to 64
/// letters, digits, '-', '_' or '.', not starting with '.'. The problem, if it breaks the rule.
pub fn name_problem(s: &str) -> Option<&'static str> {
    let ok = !s.is_empty() && s.len() <= 64 && !s.starts_with('.') && s.chars().all(is_name_char);
    (!ok).then_some("use 1 to 64 letters, digits, '-', '_' or '.', not starting with '.'")
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// The jail's name from its file: `jails/busybox.toml` → `busybox`; a character the rule does
/// not allow becomes '_', and a name that would start with '.' gets "jail" in front.
pub fn jail_name(path: &Path) -> String {
    if path == Path::new("-") {
        return "stdin".to_string();
    }
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let mut name: String = stem.chars().map(|c| if is_name_char(c) { c } else { '_' }).collect();
    if name.is_empty() || name.starts_with('.') {
        name = format!("jail{name}");
    }
    name.truncate(64);
    debug_assert!(name_problem(&name).is_none());
    name
}

/// The folders above `root` that do not exist yet, outermost first (the rootfs plan makes them).
pub fn missing_parents(root: &Path) -> Vec<PathBuf> {
    let mut out: Vec<_> = root
        .ancestors()
        .skip(1)
        .take_while(|p| !p.as_os_str().is_empty() && !p.exists())
        .map(Path::to_path_buf)
        .collect();
    out.reverse();
    out
}

/// Why a hostname is not valid under RFC 1123, if it is not.
pub fn hostname_problem(h: &str) -> Option<String> {
    if h.is_empty() {
        return Some("the hostname is empty".into());
    }
    if h.len() > 64 {
        return Some(format!("the hostname is {} bytes long; the kernel takes at most 64", h.len()));
    }
    for label in h.split('.') {
        if label.is_empty() {
            return Some("the hostname has an empty label (two dots in a row, or a dot at an end)".into());
        }
        if label.len() > 63 {
            return Some(format!("the label \"{label}\" is longer than 63 bytes"));
        }
        if let Some(c) = label.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-')) {
            return Some(format!("the hostname has {c:?}; only letters, digits, '-' and '.' are allowed"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Some(format!("the label \"{label}\" starts or ends with '-'"));
        }
    }
    None
}

/// Removes `.` and empty components without touching the filesystem.
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() { PathBuf::from(".") } else { out }
}
