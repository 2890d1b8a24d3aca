//! The schema knows what `check` knows: a file that check refuses for a bound or a pattern, the
//! schema refuses too (as the jsonschema crate and editors read it), and an edge that check takes,
//! the schema takes. `taplo lint`, the linter of the TOML language server, checks every jail file
//! of jails/ against the schema through its `#:schema` comment, and refuses a bad one.
//! (The patterns themselves are held to their checks string by string in src/spec/schema_rules.rs.)

use std::path::Path;
use std::process::Command;

use procjail::host::{CgroupKind, Host};

use crate::common::*;

/// A jail file: `extra`, with a rootfs (made from busybox, so none need exist) and a command
/// unless it has its own. Top-level keys come first, as TOML wants them.
fn file(extra: &str) -> String {
    let rootfs =
        if extra.contains("[rootfs]") { "" } else { "[rootfs]\npath = \"missing\"\nfrom = \"busybox\"\n" };
    let command = if extra.contains("[command]") { "" } else { "[command]\nargv = [\"/bin/true\"]\n" };
    if extra.starts_with('[') {
        format!("{rootfs}{command}{extra}\n")
    } else {
        format!("{extra}\n{rootfs}{command}")
    }
}

/// The keys `check` has an error at.
fn check_errors(text: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    match procjail::spec::from_str(&dir.path().join("jail.toml"), text, &Host::standard(CgroupKind::V2)) {
        Ok(_) => Vec::new(),
        Err(diags) => diags.into_iter().map(|d| d.key).collect(),
    }
}

/// What the schema says of `text`: its errors, with where they are.
fn schema_errors(text: &str) -> Vec<String> {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join("schema/jail.schema.json")).unwrap())
            .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema");
    let json = serde_json::to_value(toml::from_str::<toml::Value>(text).unwrap()).unwrap();
    validator.iter_errors(&json).map(|e| format!("{e} at {}", e.instance_path())).collect()
}

/// Bad files: (the TOML, the key check refuses).
const REFUSED: &[(&str, &str)] = &[
    ("[limits]\npids = 0", "limits.pids"),
    ("[limits]\npids = 1", "limits.pids"),
    ("[limits]\npids = 4194305", "limits.pids"),
    ("[limits]\ncpu_weight = 0", "limits.cpu_weight"),
    ("[limits]\ncpu_weight = 10001", "limits.cpu_weight"),
    ("[limits]\ncpus = 0", "limits.cpus"),
    ("[limits]\ncpus = 1024.5", "limits.cpus"),
    ("[limits]\nmemory = 0", "limits.memory"),
    ("[limits]\nmemory = \"0MiB\"", "limits.memory"),
    ("[limits]\nmemory = 65536", "limits.memory"),
    ("[limits]\nmemory = \"64 MiB\"", "limits.memory"),
    ("[limits]\nmemory_swap = \"0\"\nmemory = \"64MiB\"", "limits.memory_swap"),
    ("[limits]\nnofile = 3", "limits.nofile"),
    ("[limits]\nnofile = { soft = 3, hard = 8 }", "limits.nofile"),
    ("[limits]\nnproc = { soft = 1, hard = -2 }", "limits.nproc"),
    ("[limits]\ncore = { soft = \"1M\" }", "limits.core.hard"),
    ("[limits]\ncpu_time = \"10\"", "limits.cpu_time"),
    ("[[mounts]]\ntype = \"tmpfs\"\ntarget = \"relative\"", "mounts[1].target"),
    ("[[mounts]]\ntype = \"tmpfs\"\ntarget = \"/proc/sys\"", "mounts[1].target"),
    ("[[mounts]]\ntype = \"tmpfs\"\ntarget = \"/a/../b\"", "mounts[1].target"),
    ("[[mounts]]\ntype = \"tmpfs\"\ntarget = \"/./\"", "mounts[1].target"),
    ("[[mounts]]\ntype = \"tmpfs\"\ntarget = \"/t\"\nmode = \"999\"", "mounts[1].mode"),
    ("[[mounts]]\ntype = \"tmpfs\"\ntarget = \"/t\"\nmode = \"17777\"", "mounts[1].mode"),
    ("[[mounts]]\ntype = \"tmpfs\"\ntarget = \"/t\"\nsize = 0", "mounts[1].size"),
    ("[[mounts]]\ntype = \"tmpfs\"\ntarget = \"/t\"\noptions = [\"size=1M\"]", "mounts[1].options"),
    ("[command]\nargv = []", "command.argv"),
    ("[command]\nargv = [\"\"]", "command.argv"),
    ("[command]\nargv = [\"bin/sh\"]", "command.argv[0]"),
    ("[command]\nargv = [\"/bin/true\"]\ncwd = \"tmp\"", "command.cwd"),
    ("[command]\nargv = [\"/bin/true\"]\nuser = \"nobody\"", "command.user"),
    ("[command]\nargv = [\"/bin/true\"]\nuser = \"4294967295\"", "command.user"),
    ("[command]\nargv = [\"/bin/true\"]\ngroups = [-1]", "command.groups"),
    ("[command]\nargv = [\"/bin/true\"]\ntimeout = \"0s\"", "command.timeout"),
    ("[command]\nargv = [\"/bin/true\"]\nenv = { \"A=B\" = \"1\" }", "command.env"),
    ("hostname = \"-web\"", "hostname"),
    ("hostname = \"web_1\"", "hostname"),
    ("hostname = \"a..b\"", "hostname"),
    ("[rootfs]\npath = \"/\"", "rootfs.path"),
    ("[namespaces]\nmount = false", "namespaces.mount"),
    ("[init]\ngrace = \"3 s\"", "init.grace"),
    ("[expect]\nexit = 256", "expect.exit"),
    ("[expect]\nexit = -1", "expect.exit"),
    ("[expect]\nsignal = \"SIGFOO\"", "expect.signal"),
    ("[security]\noom_score_adj = 1001", "security.oom_score_adj"),
    ("[security]\nkeyring = \"old\"", "security.keyring"),
    ("[security]\ndevices = [\"c 1:3 x\"]", "security.devices"),
    ("[security]\nmasked_paths = [\"proc/kcore\"]", "security.masked_paths"),
    ("[security]\nambient = [\"CAP-NET-RAW\"]", "security.ambient"),
    ("[sysctl]\n\"net.core.somaxconn\" = \"1\\n2\"", "sysctl.net.core.somaxconn"),
];

/// Good edges: check takes each, and so must the schema.
const TAKEN: &[&str] = &[
    "[limits]\npids = 2",
    "[limits]\npids = 4194304",
    "[init]\nmode = \"none\"\n[limits]\npids = 1",
    "[limits]\ncpu_weight = 1\ncpus = 0.01",
    "[limits]\ncpu_weight = 10000\ncpus = 1024",
    "[limits]\nmemory = 6291456\nmemory_swap = \"1.5GiB\"\nnofile = 4\nnproc = 0\ncore = 0",
    "[limits]\nmemory = \"6M\"\ncpu_time = 0\nstack = \".5K\"",
    "[limits]\nnofile = { soft = 4, hard = \"unlimited\" }\ncore = \"unlimited\"\nmemlock = \"64KiB\"\nrttime = 0",
    "[limits]\ncpu_time = { soft = \"1s\", hard = 2 }\nfsize = { soft = 0, hard = \"1G\" }",
    "[[mounts]]\ntype = \"tmpfs\"\ntarget = \"/t\"\noptions = [\"strictatime\", \"noatime\", \"relatime\"]",
    "[defaults]\nmqueue = false\ncgroupfs = true",
    "[[mounts]]\ntype = \"tmpfs\"\ntarget = \"/proc2/x\"\nmode = \"0\"\nsize = \"1\"",
    "[[mounts]]\ntype = \"tmpfs\"\ntarget = \"//data/./x\"\nmode = \"01777\"\noptions = [\"noexec\", \"dev\"]",
    "[command]\nargv = [\"sh\", \"\"]\ncwd = \"/\"\nuser = \"4294967294:0\"\ngroups = [0, 4294967294]\ntimeout = 1",
    "[command]\nargv = [\"/bin/true\"]\nenv = { PATH = \"/bin\", \"a b\" = \"\" }\ntimeout = \"0.5s\"",
    "hostname = \"a-1.b-2.example\"",
    "[init]\ngrace = 0",
    "[expect]\nexit = 255\nsignal = \"KILL\"",
    "[expect]\nexit = 0\nsignal = \"SIGTERM\"\nmax_duration = \"1.5s\"",
    "[security]\noom_score_adj = -1000\nkeyring = \"inherit\"",
    "[security]\ndevices = [\"default\", \"c 136:* rw\", \"a\"]\nmasked_paths = [\"default\", \"/x/.\"]",
    "[security]\ncapabilities = { add = [\"net_raw\"], drop = [\"CAP_CHOWN\"] }",
    "[sysctl]\nnet.ipv4.ip_unprivileged_port_start = 0\n\"net.core.somaxconn\" = \"1024\"",
];

#[test]
fn what_check_refuses_for_a_bound_or_a_pattern_the_schema_refuses() {
    for (extra, key) in REFUSED {
        let text = file(extra);
        let by_check = check_errors(&text);
        assert!(by_check.iter().any(|k| k.starts_with(key)), "check takes {key} in:\n{text}\n{by_check:?}");
        assert!(!schema_errors(&text).is_empty(), "the schema takes what check refuses ({key}):\n{text}");
    }
}

#[test]
fn what_check_takes_at_an_edge_the_schema_takes() {
    for extra in TAKEN {
        let text = file(extra);
        assert_eq!(check_errors(&text), Vec::<String>::new(), "check refuses:\n{text}");
        let errors = schema_errors(&text);
        assert!(errors.is_empty(), "the schema refuses what check takes:\n{text}\n{errors:#?}");
    }
}

#[test]
fn the_schema_gives_the_defaults() {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join("schema/jail.schema.json")).unwrap())
            .unwrap();
    let defs = &schema["$defs"];
    let default = |table: &serde_json::Value, key: &str| table["properties"][key]["default"].clone();
    use serde_json::json;
    for key in ["pid", "mount", "uts", "ipc", "net", "cgroup"] {
        assert_eq!(default(&defs["Namespaces"], key), json!(true), "namespaces.{key}");
    }
    for key in ["proc", "dev", "devpts", "shm"] {
        assert_eq!(default(&defs["Defaults"], key), json!(true), "defaults.{key}");
    }
    assert_eq!(default(&schema["properties"]["rootfs"], "readonly"), json!(false));
    assert_eq!(default(&defs["Init"], "mode"), json!("builtin"));
    assert_eq!(default(&defs["Init"], "grace"), json!("3s"));
    assert_eq!(default(&defs["Mount"], "mode"), json!("755"));
    let command = &schema["properties"]["command"];
    assert_eq!(default(command, "cwd"), json!("/"));
    assert_eq!(default(command, "user"), json!("0:0"));
    assert_eq!(default(command, "env")["PATH"], json!(procjail::spec::DEFAULT_PATH));
    let security = &defs["Security"];
    assert_eq!(default(security, "no_new_privs"), json!(true));
    assert_eq!(default(security, "seccomp"), json!("default"));
    assert_eq!(default(security, "keyring"), json!("new"));
    assert_eq!(defs["Capabilities"]["default"], json!("default"));
    assert_eq!(defs["PathList"]["default"], json!("default"));
    // Each default is itself valid where it stands: a file that writes them all out is taken.
    let all = "[namespaces]\npid = true\nmount = true\n[defaults]\nproc = true\n[init]\nmode = \"builtin\"\n\
               grace = \"3s\"\n[security]\nno_new_privs = true\nseccomp = \"default\"\nkeyring = \"new\"\n\
               capabilities = \"default\"\nmasked_paths = \"default\"\n[[mounts]]\ntype = \"tmpfs\"\n\
               target = \"/t\"\nmode = \"755\"\n[command]\nargv = [\"/bin/true\"]\ncwd = \"/\"\nuser = \"0:0\"";
    assert_eq!(check_errors(&file(all)), Vec::<String>::new());
    assert_eq!(schema_errors(&file(all)), Vec::<String>::new());
}

/// The taplo CLI. Its tests never skip: without it they fail, and say how to get it.
fn taplo() -> Command {
    let found = Command::new("taplo").arg("--version").output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "taplo is not on PATH: install taplo: see .ci/run (python3 -m pip install taplo)"
    );
    let mut c = Command::new("taplo");
    c.args(["lint", "--no-auto-config", "--colors", "never"]).env("RUST_LOG", "warn");
    c
}

#[test]
fn taplo_lint_takes_every_jail_file() {
    let files = jail_files();
    let out = taplo().args(&files).current_dir(repo()).output().unwrap();
    assert!(
        out.status.success(),
        "taplo lint jails/*.toml:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A bad jail file beside a copy of the schema, as jails/ and schema/ are: its `#:schema`
/// comment is the one every jail file starts with.
fn lint_beside_the_schema(dir: &Path, text: &str) -> (bool, String) {
    std::fs::create_dir_all(dir.join("jails")).unwrap();
    std::fs::create_dir_all(dir.join("schema")).unwrap();
    std::fs::copy(repo().join("schema/jail.schema.json"), dir.join("schema/jail.schema.json")).unwrap();
    std::fs::write(dir.join("jails/bad.toml"), format!("#:schema ../schema/jail.schema.json\n{text}"))
        .unwrap();
    let out = taplo().arg("jails/bad.toml").current_dir(dir).output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), said)
}

#[test]
fn taplo_lint_refuses_a_bad_jail_file() {
    let dir = tempfile::tempdir().unwrap();
    // Each bad value on its own: taplo must point at its line (the file's line 1 is #:schema).
    let bad = [
        ("[limits]\npids = 0", "pids = 0"),
        ("[limits]\ncpu_weight = 0", "cpu_weight = 0"),
        ("[[mounts]]\ntype = \"tmpfs\"\ntarget = \"relative\"", "target = \"relative\""),
        ("[[mounts]]\ntype = \"tmpfs\"\ntarget = \"/t\"\nmode = \"999\"", "mode = \"999\""),
        ("[command]\nargv = []", "argv = []"),
        ("hostname = \"-web\"", "hostname = \"-web\""),
        ("[limits]\nmemory = \"0MiB\"", "memory = \"0MiB\""),
    ];
    for (extra, line_text) in bad {
        let text = file(extra);
        let line = 2 + text.lines().position(|l| l == line_text).unwrap();
        let (ok, said) = lint_beside_the_schema(dir.path(), &text);
        assert!(!ok, "taplo lint takes:\n{text}\n{said}");
        assert!(said.contains(&format!("bad.toml:{line}:")), "taplo does not point at line {line}:\n{said}");
    }
    // And the same file, made good, it takes: what it refused was the value.
    let (ok, said) = lint_beside_the_schema(dir.path(), &file("[limits]\npids = 64"));
    assert!(ok, "{said}");
}
