//! Reads a jail file into [`JailFile`], reporting every problem at once.
//!
//! The TOML is parsed with positions (`toml::de::DeTable`), then each table is read key by key.
//! A wrong type, an unknown key or a missing key becomes a [`Diag`] and reading goes on, so one
//! run of `procjail check` shows everything that is wrong with a file.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::units::{DURATION_ACCEPTED, Duration, SIZE_ACCEPTED, Size, UnitError};
use super::*;
use crate::diag::{Diag, did_you_mean};

/// Every table of a jail file and its keys. The schema test checks that this list and the
/// schema generated from [`JailFile`] name the same keys.
pub const KNOWN_KEYS: &[(&str, &[&str])] = &[
    ("", &["hostname", "rootfs", "namespaces", "defaults", "mounts", "limits", "command", "init", "expect"]),
    ("rootfs", &["path", "from", "readonly"]),
    ("namespaces", &["pid", "mount", "uts", "ipc", "net", "cgroup"]),
    ("defaults", &["proc", "dev", "devpts", "shm", "sysfs"]),
    ("mounts", &["type", "source", "target", "readonly", "size", "mode"]),
    (
        "limits",
        &[
            "memory",
            "memory_swap",
            "pids",
            "cpus",
            "cpu_weight",
            "nofile",
            "nproc",
            "core",
            "fsize",
            "stack",
            "as",
            "cpu_time",
        ],
    ),
    ("command", &["argv", "env", "cwd", "timeout"]),
    (
        "expect",
        &[
            "exit",
            "signal",
            "oom_killed",
            "pids_limit_hit",
            "timed_out",
            "stdout",
            "stderr",
            "max_duration",
            "max_cpu_time",
        ],
    ),
    ("init", &["mode", "grace"]),
];

/// Parses `text` (the contents of a jail file) into the file and the problems found reading it.
/// A TOML syntax error is `Err`: nothing can be read past it. Otherwise the file is as complete
/// as it could be read, so the validator can look for more problems in what was understood.
pub fn load_str(text: &str) -> Result<(JailFile, Vec<Diag>), Vec<Diag>> {
    let (root, errors) = DeTable::parse_recoverable(text);
    let diags = RefCell::new(Vec::new());
    for e in errors {
        let span = e.span().unwrap_or(0..0);
        let msg = e.message().trim().to_string();
        diags
            .borrow_mut()
            .push(Diag::new(span, "TOML", msg).hint("this is not valid TOML; see https://toml.io"));
    }
    if !diags.borrow().is_empty() {
        return Err(diags.into_inner());
    }
    let whole = 0..text.len();
    let end = text.len()..text.len();
    let mut t = Table { name: String::new(), kind: "", span: whole, map: root.get_ref(), diags: &diags };
    let file = JailFile {
        hostname: t.string("hostname"),
        rootfs: t.table("rootfs").and_then(|mut r| read_rootfs(&mut r)),
        namespaces: t.table("namespaces").map(|mut n| read_namespaces(&mut n)).unwrap_or_default(),
        defaults: t.table("defaults").map(|mut d| read_defaults(&mut d)).unwrap_or_default(),
        mounts: t.array_of_tables("mounts").into_iter().filter_map(|mut m| read_mount(&mut m)).collect(),
        limits: t.table("limits").map(|mut l| read_limits(&mut l)).unwrap_or_default(),
        command: t.table("command").and_then(|mut c| read_command(&mut c)),
        init: t.table("init").map(|mut i| read_init(&mut i)).unwrap_or_default(),
        expect: t.table("expect").map(|mut e| read_expect(&mut e)),
    };
    t.finish();
    if file.rootfs.is_none() && !t.map.contains_key("rootfs") {
        diags.borrow_mut().push(
            Diag::new(end.clone(), "[rootfs]", "the jail has no rootfs")
                .accepted("a [rootfs] table with path = \"DIR\"")
                .hint("add:\n[rootfs]\npath = \"../rootfs/busybox\"\nfrom = \"busybox\""),
        );
    }
    if file.command.is_none() && !t.map.contains_key("command") {
        diags.borrow_mut().push(
            Diag::new(end, "[command]", "the jail has no command")
                .accepted("a [command] table with argv = [\"PROGRAM\", \"ARG\", ...]")
                .hint("add:\n[command]\nargv = [\"/bin/sh\", \"-c\", \"echo hello\"]"),
        );
    }
    Ok((file, diags.into_inner()))
}

/// A table whose required keys are missing or wrong reads as None: its problems are reported,
/// and the validator does not pile more on top.
fn read_rootfs(t: &mut Table) -> Option<Rootfs> {
    let from = t.choice("from", &[("busybox", RootfsFrom::Busybox)]);
    let readonly = t.bool("readonly").is_some_and(|b| b.value);
    let path = t.required(|t| t.string("path"), "path", "a directory, relative to the jail file");
    t.finish();
    Some(Rootfs { path: path?, from, readonly })
}

fn read_namespaces(t: &mut Table) -> Namespaces {
    let d = Namespaces::default();
    let mut get = |key| t.bool(key).unwrap_or_else(|| d.pid.clone());
    let ns = Namespaces {
        pid: get("pid"),
        mount: get("mount"),
        uts: get("uts"),
        ipc: get("ipc"),
        net: get("net"),
        cgroup: get("cgroup"),
    };
    t.finish();
    ns
}

fn read_defaults(t: &mut Table) -> Defaults {
    let d = Defaults::default();
    let mut get = |key| t.bool(key).unwrap_or_else(|| d.proc.clone());
    let defaults =
        Defaults { proc: get("proc"), dev: get("dev"), devpts: get("devpts"), shm: get("shm"), sysfs: None };
    let defaults = Defaults { sysfs: t.bool("sysfs"), ..defaults };
    t.finish();
    defaults
}

fn read_mount(t: &mut Table) -> Option<Mount> {
    let kind = t.required(
        |t| t.choice("type", &[("bind", MountKind::Bind), ("tmpfs", MountKind::Tmpfs)]),
        "type",
        "\"bind\" or \"tmpfs\"",
    );
    let target = t.required(|t| t.string("target"), "target", "an absolute path in the jail");
    let (source, readonly, size, mode) =
        (t.string("source"), t.bool("readonly"), t.size("size"), t.string("mode"));
    t.finish();
    Some(Mount {
        kind: kind?,
        source,
        target: target?,
        readonly: readonly.is_some_and(|b| b.value),
        size,
        mode,
    })
}

fn read_limits(t: &mut Table) -> Limits {
    let limits = Limits {
        memory: t.size("memory"),
        memory_swap: t.size("memory_swap"),
        pids: t.int("pids"),
        cpus: t.float("cpus"),
        cpu_weight: t.int("cpu_weight"),
        nofile: t.int("nofile"),
        nproc: t.int("nproc"),
        core: t.size("core"),
        fsize: t.size("fsize"),
        stack: t.size("stack"),
        address_space: t.size("as"),
        cpu_time: t.duration("cpu_time"),
    };
    t.finish();
    limits
}

fn read_command(t: &mut Table) -> Option<Command> {
    let argv =
        t.required(|t| t.string_list("argv"), "argv", "an array of strings: [\"/bin/sh\", \"-c\", \"...\"]");
    let (env, cwd, timeout) = (t.string_map("env"), t.string("cwd"), t.duration("timeout"));
    t.finish();
    Some(Command { argv: argv?, env, cwd, timeout })
}

fn read_expect(t: &mut Table) -> Expect {
    let expect = Expect {
        exit: t.int("exit"),
        signal: t.string("signal"),
        oom_killed: t.bool("oom_killed"),
        pids_limit_hit: t.bool("pids_limit_hit"),
        timed_out: t.bool("timed_out"),
        stdout: t.matcher("stdout"),
        stderr: t.matcher("stderr"),
        max_duration: t.duration("max_duration"),
        max_cpu_time: t.duration("max_cpu_time"),
    };
    t.finish();
    expect
}

fn read_init(t: &mut Table) -> Init {
    let init = Init {
        mode: t.choice("mode", &[("builtin", InitMode::Builtin), ("none", InitMode::None)]),
        grace: t.duration("grace"),
    };
    t.finish();
    init
}

/// One table being read: its keys are taken one by one, and what is left at `finish` is unknown.
struct Table<'a, 'i> {
    /// The key path of the table, for messages: `limits`, `mounts[2]`.
    name: String,
    /// Its entry in [`KNOWN_KEYS`].
    kind: &'static str,
    span: Range<usize>,
    map: &'a DeTable<'i>,
    diags: &'a RefCell<Vec<Diag>>,
}

impl<'a, 'i> Table<'a, 'i> {
    fn key_path(&self, key: &str) -> String {
        if self.name.is_empty() { key.to_string() } else { format!("{}.{key}", self.name) }
    }

    fn push(&self, d: Diag) {
        self.diags.borrow_mut().push(d);
    }

    fn get(&self, key: &str) -> Option<&'a Spanned<DeValue<'i>>> {
        self.map.get(key)
    }

    /// Reports a value of the wrong type.
    fn wrong_type(&self, key: &str, v: &Spanned<DeValue>, accepted: &str) {
        let found = v.get_ref().type_str();
        self.push(
            Diag::new(v.span(), self.key_path(key), format!("expected {accepted}, found {found}"))
                .accepted(accepted),
        );
    }

    /// Reads a key the table must have; a missing one is reported at the table's header.
    fn required<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Option<T>,
        key: &str,
        accepted: &str,
    ) -> Option<T> {
        let present = self.get(key).is_some();
        let value = read(self);
        if !present {
            let table =
                if self.name.is_empty() { "the file".to_string() } else { format!("[{}]", self.name) };
            self.push(
                Diag::new(self.span.clone(), self.key_path(key), format!("missing key `{key}` in {table}"))
                    .accepted(accepted)
                    .hint(format!("add `{key} = ...` to {table}")),
            );
        }
        value
    }

    fn string(&mut self, key: &str) -> Option<Sp<String>> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::String(s) => Some(Sp::new(s.to_string(), v.span())),
            _ => {
                self.wrong_type(key, v, "a string");
                None
            }
        }
    }

    fn bool(&mut self, key: &str) -> Option<Sp<bool>> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some(Sp::new(*b, v.span())),
            _ => {
                self.wrong_type(key, v, "true or false");
                None
            }
        }
    }

    fn int(&mut self, key: &str) -> Option<Sp<i64>> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Integer(i) => match i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()) {
                Ok(n) => Some(Sp::new(n, v.span())),
                Err(_) => {
                    self.push(Diag::new(v.span(), self.key_path(key), "integer does not fit in 64 bits"));
                    None
                }
            },
            _ => {
                self.wrong_type(key, v, "an integer");
                None
            }
        }
    }

    fn float(&mut self, key: &str) -> Option<Sp<f64>> {
        let v = self.get(key)?;
        let parsed = match v.get_ref() {
            DeValue::Float(f) => f.as_str().replace('_', "").parse::<f64>().ok(),
            DeValue::Integer(i) => i.as_str().replace('_', "").parse::<f64>().ok(),
            _ => None,
        };
        match parsed {
            Some(f) if f.is_finite() => Some(Sp::new(f, v.span())),
            _ => {
                self.wrong_type(key, v, "a number, like 0.5");
                None
            }
        }
    }

    fn units<T>(
        &mut self,
        key: &str,
        accepted: &str,
        from_int: fn(i64) -> Result<T, UnitError>,
        parse: fn(&str) -> Result<T, UnitError>,
    ) -> Option<Sp<T>> {
        let v = self.get(key)?;
        let result = match v.get_ref() {
            DeValue::String(s) => parse(s),
            DeValue::Integer(_) => match self.int(key) {
                Some(n) => from_int(n.value),
                None => return None,
            },
            _ => {
                self.wrong_type(key, v, accepted);
                return None;
            }
        };
        match result {
            Ok(x) => Some(Sp::new(x, v.span())),
            Err(e) => {
                self.push(Diag::new(v.span(), self.key_path(key), e.message).accepted(accepted).hint(e.hint));
                None
            }
        }
    }

    fn size(&mut self, key: &str) -> Option<Sp<Size>> {
        self.units(key, SIZE_ACCEPTED, Size::from_int, Size::parse)
    }

    fn duration(&mut self, key: &str) -> Option<Sp<Duration>> {
        self.units(key, DURATION_ACCEPTED, Duration::from_secs_int, Duration::parse)
    }

    fn choice<T: Copy>(&mut self, key: &str, options: &[(&str, T)]) -> Option<Sp<T>> {
        let names: Vec<String> = options.iter().map(|(n, _)| format!("\"{n}\"")).collect();
        let accepted = names.join(" or ");
        let s = self.string(key)?;
        if let Some((_, value)) = options.iter().find(|(n, _)| *n == s.value) {
            return Some(Sp::new(*value, s.span));
        }
        let mut d = Diag::new(s.span, self.key_path(key), format!("unknown value \"{}\"", s.value))
            .accepted(&accepted);
        if let Some(m) = did_you_mean(&s.value, options.iter().map(|(n, _)| *n)) {
            d = d.hint(format!("did you mean \"{m}\"?"));
        }
        self.push(d);
        None
    }

    fn string_list(&mut self, key: &str) -> Option<Sp<Vec<String>>> {
        let v = self.get(key)?;
        let Some(items) = v.get_ref().as_array() else {
            self.wrong_type(key, v, "an array of strings");
            return None;
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item.get_ref() {
                DeValue::String(s) => out.push(s.to_string()),
                other => self.push(
                    Diag::new(
                        item.span(),
                        format!("{}[{i}]", self.key_path(key)),
                        format!("expected a string, found {}", other.type_str()),
                    )
                    .accepted("a string")
                    .hint("quote it: every argument is a string"),
                ),
            }
        }
        (out.len() == items.len()).then(|| Sp::new(out, v.span()))
    }

    fn string_map(&mut self, key: &str) -> Option<Sp<BTreeMap<String, String>>> {
        let v = self.get(key)?;
        let Some(table) = v.get_ref().as_table() else {
            self.wrong_type(key, v, "a table of strings: { NAME = \"value\" }");
            return None;
        };
        let mut out = BTreeMap::new();
        let mut ok = true;
        for (k, item) in table {
            match item.get_ref() {
                DeValue::String(s) => {
                    out.insert(k.get_ref().to_string(), s.to_string());
                }
                other => {
                    ok = false;
                    self.push(
                        Diag::new(
                            item.span(),
                            format!("{}.{}", self.key_path(key), k.get_ref()),
                            format!("expected a string, found {}", other.type_str()),
                        )
                        .accepted("a string")
                        .hint("quote it: environment values are strings"),
                    );
                }
            }
        }
        ok.then(|| Sp::new(out, v.span()))
    }

    /// Output to match: "exact text", { contains = "..." } or { regex = "..." }.
    fn matcher(&mut self, key: &str) -> Option<Sp<Matcher>> {
        let v = self.get(key)?;
        let accepted = "a string (the exact text), { contains = \"...\" } or { regex = \"...\" }";
        match v.get_ref() {
            DeValue::String(s) => Some(Sp::new(Matcher::Exact(s.to_string()), v.span())),
            DeValue::Table(map) if map.len() == 1 => {
                let (k, inner) = map.iter().next().expect("one entry");
                let text = inner.get_ref().as_str().map(str::to_string);
                match (k.get_ref().as_ref(), text) {
                    ("contains", Some(s)) => Some(Sp::new(Matcher::Contains(s), v.span())),
                    ("regex", Some(s)) => Some(Sp::new(Matcher::Regex(s), v.span())),
                    _ => {
                        self.push(
                            Diag::new(v.span(), self.key_path(key), "not a way to match output")
                                .accepted(accepted),
                        );
                        None
                    }
                }
            }
            _ => {
                self.wrong_type(key, v, accepted);
                None
            }
        }
    }

    fn table(&mut self, key: &'static str) -> Option<Table<'a, 'i>> {
        let v = self.get(key)?;
        let Some(map) = v.get_ref().as_table() else {
            self.wrong_type(key, v, &format!("a table: [{key}]"));
            return None;
        };
        Some(Table { name: self.key_path(key), kind: key, span: header_span(v), map, diags: self.diags })
    }

    fn array_of_tables(&mut self, key: &'static str) -> Vec<Table<'a, 'i>> {
        let Some(v) = self.get(key) else {
            return Vec::new();
        };
        let Some(items) = v.get_ref().as_array() else {
            self.wrong_type(key, v, &format!("an array of tables: [[{key}]]"));
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item.get_ref().as_table() {
                Some(map) => out.push(Table {
                    name: format!("{key}[{}]", i + 1),
                    kind: key,
                    span: header_span(item),
                    map,
                    diags: self.diags,
                }),
                None => self.wrong_type(&format!("{key}[{}]", i + 1), item, "a table"),
            }
        }
        out
    }

    /// Reports every key of the table that procjail does not know, with a suggestion.
    fn finish(&self) {
        let known = KNOWN_KEYS.iter().find(|(t, _)| *t == self.kind).map_or(&[][..], |(_, k)| k);
        for (k, v) in self.map {
            let key = k.get_ref().as_ref();
            if known.contains(&key) {
                continue;
            }
            let table = if self.name.is_empty() {
                "at the top level".to_string()
            } else {
                format!("in [{}]", self.name)
            };
            let mut d = Diag::new(k.span(), self.key_path(key), format!("unknown key `{key}` {table}"))
                .accepted(format!("one of: {}", known.join(", ")));
            if let Some(m) = did_you_mean(key, known.iter().copied()) {
                d = d.hint(format!("did you mean `{m}`?"));
            } else if let Some((other, _)) =
                KNOWN_KEYS.iter().find(|(t, keys)| *t != self.kind && keys.contains(&key))
            {
                let where_ =
                    if other.is_empty() { "the top level".to_string() } else { format!("[{other}]") };
                d = d.hint(format!("`{key}` belongs in {where_}"));
            }
            let _ = v;
            self.push(d);
        }
    }
}

/// Where to point for a table: its `[header]` line when the span covers a whole table body.
fn header_span(v: &Spanned<DeValue>) -> Range<usize> {
    v.span()
}
