//! `procjail import oci`: config.json → a jail file. Each key read is marked; what has no place
//! in a jail file is listed at the end, and a security key among them stops the import unless
//! `--lossy` is given, so that a jail is never silently weaker than its container.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::doc::{BadInput, Doc, bad, kind, q};
use super::{Imported, NotCarried};

/// A jail file being written: its top-level keys, its tables in the order of jails/busybox.toml,
/// its mounts, and what was not carried.
#[derive(Default)]
pub(super) struct Jail {
    pub top: Vec<Line>,
    pub tables: Vec<(&'static str, Vec<Line>)>,
    pub mounts: Vec<Vec<Line>>,
    pub not_carried: Vec<NotCarried>,
    pub seccomp: Option<String>,
}

/// One `key = value` line, with a comment on an approximation.
pub(super) struct Line {
    pub text: String,
    pub comment: Option<String>,
}

const ORDER: &[&str] =
    &["rootfs", "namespaces", "user", "defaults", "limits", "command", "init", "security", "sysctl"];

impl Jail {
    pub fn set(&mut self, table: &'static str, key: &str, value: String, comment: Option<String>) {
        let line = Line { text: format!("{key} = {value}"), comment };
        if table.is_empty() {
            return self.top.push(line);
        }
        match self.tables.iter_mut().find(|(t, _)| *t == table) {
            Some((_, lines)) => lines.push(line),
            None => self.tables.push((table, vec![line])),
        }
    }

    /// Sets a key again (a later key changes an earlier decision).
    pub fn replace(&mut self, table: &'static str, key: &str, value: String, comment: Option<String>) {
        if let Some((_, lines)) = self.tables.iter_mut().find(|(t, _)| *t == table) {
            lines.retain(|l| !l.text.starts_with(&format!("{key} = ")));
        }
        self.set(table, key, value, comment);
    }

    /// A key of config.json that has no place in the jail file, and why.
    pub fn lose(&mut self, pointer: &str, value: &Value, why: impl Into<String>, security: bool) {
        let shown = match value {
            Value::String(s) => q(s),
            other => {
                let t = other.to_string();
                if t.len() > 60 { format!("{}...", &t[..t.floor_char_boundary(57)]) } else { t }
            }
        };
        self.not_carried.push(NotCarried {
            pointer: pointer.to_string(),
            value: shown,
            why: why.into(),
            security,
        });
    }

    fn text(&self, header: &[String]) -> String {
        let mut out: Vec<String> = header.to_vec();
        let line = |l: &Line| match &l.comment {
            Some(c) => format!("{}  # {c}", l.text),
            None => l.text.clone(),
        };
        out.extend(self.top.iter().map(line));
        for name in ORDER {
            let Some((_, lines)) = self.tables.iter().find(|(t, _)| t == name) else { continue };
            // The mounts go after [defaults], as in jails/busybox.toml.
            if *name == "limits" || (*name == "command" && !self.tables.iter().any(|(t, _)| *t == "limits")) {
                for m in &self.mounts {
                    out.push(String::new());
                    out.push("[[mounts]]".into());
                    out.extend(m.iter().map(line));
                }
            }
            out.push(String::new());
            out.push(format!("[{name}]"));
            out.extend(lines.iter().map(line));
        }
        if !self.not_carried.is_empty() {
            out.push(String::new());
            out.push("# Not carried: config.json keys a jail file has no place for (procjail does".into());
            out.push("# something else, or nothing):".into());
            for n in &self.not_carried {
                let mark = if n.security { " [security]" } else { "" };
                out.push(format!("#   {} = {}{mark}: {}", n.pointer, n.value, n.why));
            }
        }
        out.join("\n") + "\n"
    }
}

/// Reads BUNDLE/config.json (or the file given) into a jail file written at `out` (paths in it
/// relative to `out`'s folder; the current folder when it goes to stdout).
pub fn import(bundle: &Path, out: Option<&Path>) -> anyhow::Result<Imported> {
    let (config, dir) = if bundle.is_dir() {
        (bundle.join("config.json"), bundle.to_path_buf())
    } else {
        let parent = bundle.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        (bundle.to_path_buf(), parent.to_path_buf())
    };
    let text = std::fs::read_to_string(&config)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", config.display()))?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}:{}:{}: not JSON: {e}", config.display(), e.line(), e.column()))?;
    if !value.is_object() {
        return Err(
            bad("", format!("expected an object, found {}", kind(&value)), "a config.json object").into()
        );
    }
    let dir = std::path::absolute(&dir)?;
    let out_dir = match out {
        Some(o) => std::path::absolute(o)?.parent().unwrap_or(Path::new("/")).to_path_buf(),
        None => std::env::current_dir()?,
    };
    let mut doc = Doc::new(value);
    let mut j = Jail::default();
    let standin = init_standin(&mut doc);
    let ctx = Ctx { bundle: dir, out_dir, standin };
    read(&mut doc, &mut j, &ctx)?;
    for (pointer, v) in doc.left() {
        let (why, security) = super::import_linux::why_not(&pointer, &v);
        j.lose(&pointer, &v, why, security);
    }
    let version = doc.peek("/ociVersion").and_then(Value::as_str).unwrap_or("?").to_string();
    let mut header = Vec::new();
    if let Some(s) = out.and_then(schema_path) {
        header.push(format!("#:schema {s}"));
    }
    header.push(format!(
        "# Imported by `procjail import oci` from {} (ociVersion {version}).",
        config.display()
    ));
    header.push(
        "# Approximations are commented where they are; what was not carried is listed at the end.".into(),
    );
    let refused = j.not_carried.iter().filter(|n| n.security).cloned().collect();
    Ok(Imported { toml: j.text(&header), seccomp: j.seccomp.take(), refused })
}

/// Where the bundle is and where the jail file goes: relative paths are written from there.
pub(super) struct Ctx {
    pub bundle: PathBuf,
    pub out_dir: PathBuf,
    /// The bundle is one of `export oci --init tini|catatonit`: its init at /dev/init stands for
    /// procjail's, and goes.
    pub standin: bool,
}

/// procjail's own annotations, taken; and whether the bundle's PID 1 is the init that `export
/// oci --init` put in front of the command in place of procjail's (its annotation says so, its
/// args start with it, and it is bound at /dev/init).
fn init_standin(doc: &mut Doc) -> bool {
    for k in ["org.procjail.source", "org.procjail.notes"] {
        doc.take(&format!("/annotations/{k}"));
    }
    let init = doc.peek("/annotations/org.procjail.init").and_then(Value::as_str).map(String::from);
    let at = super::export::INIT_AT;
    let args: Vec<&str> = doc
        .peek("/process/args")
        .and_then(Value::as_array)
        .map_or(Vec::new(), |a| a.iter().take(2).filter_map(Value::as_str).collect());
    let bound = doc
        .peek("/mounts")
        .and_then(Value::as_array)
        .is_some_and(|m| m.iter().any(|m| m.get("destination").and_then(Value::as_str) == Some(at)));
    match init.as_deref() {
        Some("none") => {
            doc.take("/annotations/org.procjail.init");
            false
        }
        Some("tini" | "catatonit") if args == [at, "--"] && bound => {
            doc.take("/annotations/org.procjail.init");
            true
        }
        _ => false,
    }
}

impl Ctx {
    /// A path of config.json (absolute, or relative to the bundle) as the jail file writes it:
    /// relative to the jail file's folder when it is below it, else absolute.
    pub fn path(&self, p: &str) -> String {
        let abs = crate::spec::normalize(&self.bundle.join(p));
        match abs.strip_prefix(&self.out_dir) {
            Ok(rel) if rel.as_os_str().is_empty() => ".".into(),
            Ok(rel) => rel.display().to_string(),
            Err(_) => abs.display().to_string(),
        }
    }
}

/// The schema of a jail file in a procjail checkout above `out`: `#:schema` relative to it.
fn schema_path(out: &Path) -> Option<String> {
    let dir = std::path::absolute(out).ok()?.parent()?.to_path_buf();
    let mut up = String::new();
    for d in dir.ancestors() {
        if d.join("schema/jail.schema.json").is_file() && d.join("Cargo.toml").is_file() {
            return Some(format!("{up}schema/jail.schema.json"));
        }
        up.push_str("../");
    }
    None
}

fn read(doc: &mut Doc, j: &mut Jail, ctx: &Ctx) -> Result<(), BadInput> {
    doc.take("/ociVersion");
    if matches!(doc.peek("/linux/rootfsPropagation").and_then(Value::as_str), Some("slave" | "rslave")) {
        doc.take("/linux/rootfsPropagation");
    }
    let root = doc.string("/root/path")?.ok_or_else(|| bad("/root/path", "missing", "the rootfs, a path"))?;
    j.set("rootfs", "path", q(&ctx.path(&root)), None);
    if doc.bool("/root/readonly")? == Some(true) {
        j.set("rootfs", "readonly", "true".into(), None);
    }
    let ns = super::import_linux::namespaces(doc, j)?;
    if let Some(h) = doc.string("/hostname")? {
        j.top.insert(0, Line { text: format!("hostname = {}", q(&h)), comment: None });
    } else if ns.uts {
        j.top.insert(0, Line {
            text: "# hostname: none in config.json".into(),
            comment: Some("runc keeps the host's name in the new uts namespace; procjail names it after the file when that is a valid hostname".into()),
        });
    }
    super::import_mounts::mounts(doc, j, ctx, &ns)?;
    super::import_linux::resources(doc, j)?;
    super::import_process::process(doc, j, ctx.standin)?;
    if ctx.standin && ns.pid {
        let why = "the bundle's init at /dev/init stood in for procjail's";
        j.set("init", "mode", q("builtin"), Some(why.into()));
    } else {
        let why = "OCI has no init: the command is PID 1; \"builtin\" gives procjail's (docker run --init)";
        j.set("init", "mode", q("none"), Some(why.into()));
    }
    super::import_process::capabilities(doc, j)?;
    super::import_linux::security(doc, j)?;
    super::import_linux::sysctl(doc, j)?;
    Ok(())
}
