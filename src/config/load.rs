//! Reads a jail file into [`JailFile`], reporting every problem at once.
//!
//! The TOML is parsed with positions (`toml::de::DeTable`), then each table is read key by key.
//! A wrong type, an unknown key or a missing key becomes a [`Diag`] and reading goes on, so one
//! run of `procjail check` shows everything that is wrong with a file.

use std::cell::RefCell;

use toml::de::DeTable;

use super::table::Table;
use super::*;
use crate::diag::Diag;

/// Every table of a jail file and its keys. The schema test checks that this list and the
/// schema generated from [`JailFile`] name the same keys.
pub const KNOWN_KEYS: &[(&str, &[&str])] = &[
    (
        "",
        &[
            "hostname",
            "rootfs",
            "namespaces",
            "defaults",
            "mounts",
            "limits",
            "command",
            "init",
            "security",
            "sysctl",
            "user",
            "expect",
        ],
    ),
    ("rootfs", &["path", "from", "readonly"]),
    ("namespaces", &["pid", "mount", "uts", "ipc", "net", "cgroup", "user"]),
    ("user", &["uid_map", "gid_map"]),
    ("uid_map", &["inside", "outside", "count"]),
    ("gid_map", &["inside", "outside", "count"]),
    ("defaults", &["proc", "dev", "devpts", "shm", "sysfs", "mqueue", "cgroupfs"]),
    ("mounts", &["type", "source", "target", "readonly", "size", "mode", "options"]),
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
            "data",
            "memlock",
            "msgqueue",
            "rss",
            "locks",
            "sigpending",
            "nice",
            "rtprio",
            "rttime",
        ],
    ),
    ("command", &["argv", "env", "cwd", "timeout", "user", "groups"]),
    (
        "security",
        &[
            "capabilities",
            "ambient",
            "no_new_privs",
            "seccomp",
            "masked_paths",
            "readonly_paths",
            "devices",
            "keyring",
            "oom_score_adj",
        ],
    ),
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
        let mut msg = e.message().trim().to_string();
        let mut hint = "this is not valid TOML; see https://toml.io".to_string();
        let mut accepted = "TOML (https://toml.io/en/v1.0.0)";
        if msg == "duplicate key" {
            accepted = "each key once in its table";
            let key = text.get(span.clone()).unwrap_or("").trim().to_string();
            msg = format!("duplicate key `{key}`");
            if let Some(line) = first_definition(text, &key, span.start) {
                hint = format!("`{key}` is set already on line {line}: keep one of them");
            }
        }
        diags.borrow_mut().push(Diag::new(span, "TOML", msg).accepted(accepted).hint(hint));
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
        security: t.table("security").map(|mut s| read_security(&mut s)).unwrap_or_default(),
        sysctl: t.table("sysctl").map(|s| Sysctl(s.dotted())).unwrap_or_default(),
        user: t.table("user").map(|mut u| read_user(&mut u)).unwrap_or_default(),
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

/// The line where `key` was first set in the table that `at` is in: looked for upwards, up to
/// the table's header.
fn first_definition(text: &str, key: &str, at: usize) -> Option<usize> {
    let at = at.min(text.len());
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let lines: Vec<&str> = text[..line_start].lines().collect();
    for (i, l) in lines.iter().enumerate().rev() {
        let t = l.trim_start();
        if t.starts_with('[') {
            return None;
        }
        let name = t.split('=').next().unwrap_or("").trim().trim_matches('"');
        if t.contains('=') && name == key.trim_matches('"') {
            return Some(i + 1);
        }
    }
    None
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
        user: t.bool("user"),
    };
    t.finish();
    ns
}

fn read_user(t: &mut Table) -> UserMaps {
    let mut map = |key: &'static str| {
        let span = t.get(key)?.span();
        let entries: Vec<IdMap> = t
            .array_of_tables(key)
            .into_iter()
            .filter_map(|mut e| {
                let inside =
                    e.required(|e| e.int("inside"), "inside", "the first id in the jail: inside = 0");
                let outside = e.required(
                    |e| e.int("outside"),
                    "outside",
                    "the host id it stands for: outside = 100000",
                );
                let count = e.required(|e| e.int("count"), "count", "how many ids: count = 65536");
                e.finish();
                Some(IdMap { inside: inside?, outside: outside?, count: count? })
            })
            .collect();
        Some(Sp::new(entries, span))
    };
    let user = UserMaps { uid_map: map("uid_map"), gid_map: map("gid_map") };
    t.finish();
    user
}

fn read_defaults(t: &mut Table) -> Defaults {
    let d = Defaults::default();
    let mut get = |key| t.bool(key).unwrap_or_else(|| d.proc.clone());
    let defaults = Defaults {
        proc: get("proc"),
        dev: get("dev"),
        devpts: get("devpts"),
        shm: get("shm"),
        sysfs: None,
        mqueue: None,
        cgroupfs: d.cgroupfs.clone(),
    };
    let cgroupfs = t.bool("cgroupfs").unwrap_or(d.cgroupfs);
    let defaults = Defaults { sysfs: t.bool("sysfs"), mqueue: t.bool("mqueue"), cgroupfs, ..defaults };
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
    let options = t.string_list("options");
    t.finish();
    Some(Mount {
        kind: kind?,
        source,
        target: target?,
        readonly: readonly.is_some_and(|b| b.value),
        size,
        mode,
        options,
    })
}

fn read_limits(t: &mut Table) -> Limits {
    let limits = Limits {
        memory: t.size("memory"),
        memory_swap: t.size("memory_swap"),
        pids: t.int("pids"),
        cpus: t.float("cpus"),
        cpu_weight: t.int("cpu_weight"),
        nofile: t.rlimit("nofile", Table::int),
        nproc: t.rlimit("nproc", Table::int),
        core: t.rlimit("core", Table::size),
        fsize: t.rlimit("fsize", Table::size),
        stack: t.rlimit("stack", Table::size),
        address_space: t.rlimit("as", Table::size),
        cpu_time: t.rlimit("cpu_time", Table::duration),
        data: t.rlimit("data", Table::size),
        memlock: t.rlimit("memlock", Table::size),
        msgqueue: t.rlimit("msgqueue", Table::size),
        rss: t.rlimit("rss", Table::size),
        locks: t.rlimit("locks", Table::int),
        sigpending: t.rlimit("sigpending", Table::int),
        nice: t.rlimit("nice", Table::int),
        rtprio: t.rlimit("rtprio", Table::int),
        rttime: t.rlimit("rttime", Table::int),
    };
    t.finish();
    limits
}

fn read_command(t: &mut Table) -> Option<Command> {
    let argv =
        t.required(|t| t.string_list("argv"), "argv", "an array of strings: [\"/bin/sh\", \"-c\", \"...\"]");
    let (env, cwd, timeout) = (t.string_map("env"), t.string("cwd"), t.duration("timeout"));
    let (user, groups) = (t.string("user"), t.int_list("groups"));
    t.finish();
    Some(Command { argv: argv?, env, cwd, timeout, user, groups })
}

fn read_security(t: &mut Table) -> Security {
    let s = Security {
        capabilities: t.capabilities("capabilities"),
        ambient: t.string_list("ambient"),
        no_new_privs: t.bool("no_new_privs"),
        seccomp: t.string("seccomp"),
        masked_paths: t.path_list("masked_paths"),
        readonly_paths: t.path_list("readonly_paths"),
        devices: t.path_list("devices"),
        keyring: t.string("keyring"),
        oom_score_adj: t.int("oom_score_adj"),
    };
    t.finish();
    s
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
