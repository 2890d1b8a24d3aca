//! `mounts` of config.json: the ones procjail makes by itself ([defaults]), binds and tmpfs
//! ([[mounts]]); any other kind is not carried.

use serde_json::Value;

use super::doc::{BadInput, Doc, bad, q, q_list};
use super::import::{Ctx, Jail, Line};
use super::import_linux::{Ns, size};

/// The default mounts: (destination, OCI type, `[defaults]` key, the options procjail gives it).
pub(super) const DEFAULTS: &[(&str, &str, &str, &[&str])] = &[
    ("/proc", "proc", "proc", &["nosuid", "nodev", "noexec"]),
    ("/dev", "tmpfs", "dev", &["nosuid", "nodev", "noexec", "strictatime", "mode=755", "size=65536k"]),
    ("/dev/pts", "devpts", "devpts", &["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]),
    ("/dev/shm", "tmpfs", "shm", &["nosuid", "nodev", "noexec", "mode=1777", "size=65536k"]),
    ("/dev/mqueue", "mqueue", "mqueue", &["nosuid", "nodev", "noexec"]),
    ("/sys", "sysfs", "sysfs", &["nosuid", "nodev", "noexec", "ro"]),
    ("/sys/fs/cgroup", "cgroup2", "cgroupfs", &["nosuid", "nodev", "noexec", "relatime", "ro"]),
];

pub(super) fn mounts(doc: &mut Doc, j: &mut Jail, ctx: &Ctx, ns: &Ns) -> Result<(), BadInput> {
    let mut found: Vec<&str> = Vec::new();
    for i in 0..doc.len("/mounts")? {
        let at = format!("/mounts/{i}");
        let dest = doc.string(&format!("{at}/destination"))?.ok_or_else(|| {
            bad(&format!("{at}/destination"), "missing", "an absolute path in the container")
        })?;
        let kind = doc.peek(&format!("{at}/type")).and_then(Value::as_str).unwrap_or("").to_string();
        let options = doc.peek(&format!("{at}/options")).cloned();
        let opts: Vec<String> = match &options {
            None => Vec::new(),
            Some(Value::Array(a)) => a.iter().map(|o| o.as_str().unwrap_or("").to_string()).collect(),
            Some(v) => {
                return Err(bad(
                    &format!("{at}/options"),
                    format!("expected an array, found {v}"),
                    "an array of strings",
                ));
            }
        };
        let clean = crate::spec::normalize(std::path::Path::new(&dest)).display().to_string();
        if ctx.standin && clean == super::export::INIT_AT {
            doc.take(&at);
            continue;
        }
        let default = DEFAULTS
            .iter()
            .find(|(d, t, _, _)| *d == clean && (*t == kind || (*d == "/sys/fs/cgroup" && kind == "cgroup")));
        if let Some((_, _, k, ours)) = default.filter(|(_, _, k, _)| !found.contains(k)) {
            found.push(k);
            take(doc, &at, &["type", "source", "options"]);
            let same = |o: &&str| !["gid=5", "relatime", "rw"].contains(o);
            let theirs: Vec<&str> = opts.iter().map(String::as_str).filter(same).collect();
            let mine: Vec<&str> = ours.iter().copied().filter(same).collect();
            let mut note = Vec::new();
            if theirs.iter().any(|o| !mine.contains(o)) || mine.iter().any(|o| !theirs.contains(o)) {
                let theirs = if opts.is_empty() { "none".to_string() } else { opts.join(",") };
                note.push(format!("OCI's options: {theirs}; procjail's: {}", ours.join(",")));
            }
            if *k == "cgroupfs" && kind == "cgroup" {
                note.push("OCI's \"cgroup\" is the host's kind (v1 hierarchies on a v1 or hybrid host); procjail mounts cgroup2".into());
            }
            if opts.iter().any(|o| o == "gid=5") {
                note.push("procjail's devpts has no gid=5: a pty belongs to the gid that opens it".into());
            }
            j.set("defaults", k, "true".into(), (!note.is_empty()).then(|| note.join("; ")));
            continue;
        }
        let is_bind = kind == "bind" || opts.iter().any(|o| o == "bind" || o == "rbind");
        if is_bind {
            bind(doc, j, ctx, &at, &clean, &opts)?;
        } else if kind == "tmpfs" {
            tmpfs(doc, j, &at, &clean, &opts)?;
        } else {
            // Left untaken: listed at the end with its type.
            let v = doc.take(&at).unwrap_or(Value::Null);
            j.lose(&at, &v, format!("procjail's mounts are bind and tmpfs, not {kind:?}"), false);
        }
    }
    for (_, _, k, _) in DEFAULTS {
        let on_by_default = match *k {
            "sysfs" => ns.net,
            "mqueue" => ns.ipc && found.contains(&"dev"),
            "cgroupfs" => false,
            "devpts" | "shm" => found.contains(&"dev"),
            _ => true,
        };
        if !found.contains(k) && on_by_default {
            j.set("defaults", k, "false".into(), Some("not in config.json".into()));
        }
    }
    if found.contains(&"cgroupfs") && !ns.cgroup {
        let why = "config.json mounts its cgroups without a cgroup namespace (runc shows the container's own); procjail mounts them in one";
        j.replace("namespaces", "cgroup", "true".into(), Some(why.into()));
    }
    Ok(())
}

fn take(doc: &mut Doc, at: &str, keys: &[&str]) {
    for k in keys {
        doc.take(&format!("{at}/{k}"));
    }
}

/// Marks the options this mount carries as taken; the others stay and are listed at the end.
fn take_options(doc: &mut Doc, at: &str, opts: &[String], carried: impl Fn(&str) -> bool) {
    for (i, o) in opts.iter().enumerate() {
        if carried(o) {
            doc.take(&format!("{at}/options/{i}"));
        }
    }
}

fn bind(
    doc: &mut Doc,
    j: &mut Jail,
    ctx: &Ctx,
    at: &str,
    dest: &str,
    opts: &[String],
) -> Result<(), BadInput> {
    let source = doc
        .string(&format!("{at}/source"))?
        .ok_or_else(|| bad(&format!("{at}/source"), "a bind mount needs a source", "a host path"))?;
    doc.take(&format!("{at}/type"));
    let keep = ["nosuid", "nodev", "noexec", "ro"];
    let carried = |o: &str| {
        keep.contains(&o) || ["bind", "rbind", "rw", "rprivate", "private", "rslave", "slave"].contains(&o)
    };
    take_options(doc, at, opts, carried);
    let mut lines = vec![
        Line { text: "type = \"bind\"".into(), comment: None },
        Line { text: format!("source = {}", q(&ctx.path(&source))), comment: None },
        Line { text: format!("target = {}", q(dest)), comment: None },
    ];
    let mut notes = Vec::new();
    if opts.iter().any(|o| o == "bind") {
        notes.push("OCI's bind is not recursive; procjail's always is (rbind)");
    }
    if opts.iter().any(|o| ["rprivate", "private", "rslave", "slave"].contains(&o.as_str())) {
        notes.push("procjail's mounts are slaves of the host's, whatever the propagation asked");
    }
    let ours: Vec<String> = opts.iter().filter(|o| keep.contains(&o.as_str())).cloned().collect();
    if !ours.is_empty() {
        lines.push(Line { text: format!("options = {}", q_list(&ours)), comment: None });
    }
    if let Some(n) = (!notes.is_empty()).then(|| notes.join("; ")) {
        lines[0].comment = Some(n);
    }
    j.mounts.push(lines);
    Ok(())
}

fn tmpfs(doc: &mut Doc, j: &mut Jail, at: &str, dest: &str, opts: &[String]) -> Result<(), BadInput> {
    take(doc, at, &["type", "source"]);
    let flags = crate::config::rules::TMPFS_OPTIONS;
    let mut lines = vec![
        Line { text: "type = \"tmpfs\"".into(), comment: None },
        Line { text: format!("target = {}", q(dest)), comment: None },
    ];
    let mut kept = Vec::new();
    for (i, o) in opts.iter().enumerate() {
        let p = format!("{at}/options/{i}");
        if let Some(v) = o.strip_prefix("size=") {
            match parse_size(v) {
                Some(b) => lines.push(Line { text: format!("size = {}", size(b)), comment: None }),
                None => continue,
            }
        } else if let Some(m) = o.strip_prefix("mode=") {
            if crate::spec::parse_mode(m).is_none() {
                return Err(bad(&p, format!("{m:?} is not an octal mode"), "mode=1777"));
            }
            lines.push(Line { text: format!("mode = {}", q(m)), comment: None });
        } else if flags.contains(&o.as_str()) {
            kept.push(o.clone());
        } else if o != "rw" {
            continue;
        }
        doc.take(&p);
    }
    // procjail's tmpfs is nosuid and nodev unless lifted: say so when OCI's is not.
    for (flag, lift) in [("nosuid", "suid"), ("nodev", "dev")] {
        if !opts.iter().any(|o| o == flag) {
            kept.push(lift.to_string());
        } else {
            kept.retain(|o| o != flag);
        }
    }
    if !kept.is_empty() {
        lines.push(Line { text: format!("options = {}", q_list(&kept)), comment: None });
    }
    j.mounts.push(lines);
    Ok(())
}

/// A tmpfs size= option: bytes, or with k, m, g (binary, as the kernel reads them).
fn parse_size(v: &str) -> Option<i128> {
    let (n, mult) = match v.chars().last()? {
        'k' | 'K' => (&v[..v.len() - 1], 1 << 10),
        'm' | 'M' => (&v[..v.len() - 1], 1 << 20),
        'g' | 'G' => (&v[..v.len() - 1], 1 << 30),
        _ => (v, 1),
    };
    n.parse::<i128>().ok().map(|n| n * mult).filter(|b| *b > 0)
}
