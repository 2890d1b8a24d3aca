//! Step 9: every bad input refused well (position, key, what is accepted, a hint), what is legal
//! but likely wrong warned about, and the command line around it (check --json, `-`, --color,
//! completions, the man page, --help).

use std::path::Path;
use std::process::Command;

use procjail::diag::{Diag, Severity, line_col};
use procjail::host::{CgroupKind, Host};

use crate::common::*;

/// Every diagnostic of `text` as a jail file in `dir`, errors and warnings, with its position.
fn diags_in(dir: &Path, text: &str) -> Vec<(Diag, usize, usize)> {
    let text = text.replace("{rootfs}", &rootfs().display().to_string());
    let file = dir.join("jail.toml");
    let diags = match procjail::spec::from_str(&file, &text, &Host::standard(CgroupKind::Hybrid)) {
        Ok(spec) => spec.warnings.diags,
        Err(diags) => diags,
    };
    diags
        .into_iter()
        .map(|d| {
            let (l, c) = line_col(&text, d.span.start);
            (d, l, c)
        })
        .collect()
}

fn diags(text: &str) -> Vec<(Diag, usize, usize)> {
    let dir = tempfile::tempdir().unwrap();
    diags_in(dir.path(), text)
}

/// Exactly one diagnostic, of this level, key and position, its message holding `msg` and its
/// hint holding `hint`; every error also says what is accepted.
#[track_caller]
fn only(text: &str, level: Severity, key: &str, at: (usize, usize), msg: &str, hint: &str) {
    let d = diags(text);
    assert_eq!(d.len(), 1, "expected one diagnostic, got {d:#?}\nin:\n{text}");
    let (d, l, c) = &d[0];
    assert_eq!((d.level, d.key.as_str(), (*l, *c)), (level, key, at), "{d:#?}");
    assert!(d.message.contains(msg), "{:?} does not contain {msg:?}", d.message);
    let h = d.hint.as_deref().unwrap_or("");
    assert!(h.contains(hint), "hint {h:?} does not contain {hint:?} ({})", d.message);
    if level == Severity::Error {
        assert!(d.accepted.is_some(), "an error says what is accepted: {d:#?}");
    }
}

#[track_caller]
fn error(text: &str, key: &str, at: (usize, usize), msg: &str, hint: &str) {
    only(text, Severity::Error, key, at, msg, hint);
}

#[track_caller]
fn warning(text: &str, key: &str, at: (usize, usize), msg: &str, hint: &str) {
    only(text, Severity::Warning, key, at, msg, hint);
}

const OK: &str = "[rootfs]\npath = \"{rootfs}\"\n[command]\nargv = [\"/bin/true\"]\n";

fn with(extra: &str) -> String {
    format!("{OK}{extra}")
}

fn command(argv: &str, extra: &str) -> String {
    format!("[rootfs]\npath = \"{{rootfs}}\"\n[command]\nargv = {argv}\n{extra}")
}

#[test]
fn wrong_values_that_were_accepted_are_refused() {
    let mem = |v: &str| with(&format!("[limits]\nmemory = {v}\n"));
    error(
        &mem("512"),
        "limits.memory",
        (6, 10),
        "too small to start a process",
        "for 512 MiB write \"512MiB\"",
    );
    error(&mem("\"5MiB\""), "limits.memory", (6, 10), "too small", "with a unit");
    error(&command("[\"./run.sh\"]", ""), "command.argv[0]", (4, 8), "is a relative path", "\"/run.sh\"");
    error(
        &command("[\"bin/run.sh\"]", "cwd = \"/tmp\"\n"),
        "command.argv[0]",
        (4, 8),
        "(/tmp)",
        "\"/tmp/bin/run.sh\"",
    );
    let pids = |v: &str| with(&format!("[limits]\npids = {v}\n"));
    error(&pids("1"), "limits.pids", (6, 8), "the built-in init is the first", "need at least 2");
    assert!(
        diags(&with("[init]\nmode = \"none\"\n[limits]\npids = 1\n")).is_empty(),
        "without the init 1 is enough"
    );
    error(
        &pids("4194305"),
        "limits.pids",
        (6, 8),
        "above the kernel's PID_MAX_LIMIT (4194304)",
        "remove limits.pids",
    );
    assert!(diags(&pids("4194304")).is_empty());
    error(
        &format!("{OK}timeout = \"0s\"\n"),
        "command.timeout",
        (5, 11),
        "a timeout of 0",
        "remove command.timeout",
    );
}

#[test]
fn what_execve_would_refuse_with_e2big_is_refused() {
    let long = "x".repeat(128 * 1024);
    error(
        &command(&format!("[\"/bin/echo\", \"{long}\"]"), ""),
        "command.argv[1]",
        (4, 8),
        "MAX_ARG_STRLEN",
        "in a file",
    );
    // Many strings, each short: together over a quarter of an 8 MiB stack (2 MiB).
    let args = vec![format!("\"{}\"", "y".repeat(100_000)); 25].join(", ");
    let text = command(&format!("[\"/bin/echo\", {args}]"), "") + "[limits]\nstack = \"8MiB\"\n";
    error(&text, "command.argv", (4, 8), "execve takes at most 2097152 here", "raise limits.stack");
    // With a larger stack the kernel gives them more room (up to 6 MiB).
    let text = command(&format!("[\"/bin/echo\", {args}]"), "") + "[limits]\nstack = \"16MiB\"\n";
    assert!(diags(&text).is_empty(), "{:#?}", diags(&text));
    let big_env = format!("env = {{ BIG = \"{}\" }}\n", "z".repeat(128 * 1024));
    error(&format!("{OK}{big_env}"), "command.env.BIG", (5, 7), "MAX_ARG_STRLEN", "in a file");
}

#[test]
fn bind_sources_are_refused_for_what_stat_said() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("loop", dir.path().join("loop")).unwrap();
    std::fs::write(dir.path().join("file"), "").unwrap();
    let bind =
        |src: &str| with(&format!("[[mounts]]\ntype = \"bind\"\nsource = \"{src}\"\ntarget = \"/data\"\n"));
    let d = diags_in(dir.path(), &bind("loop"));
    assert_eq!(d.len(), 1, "{d:#?}");
    assert!(d[0].0.message.contains("is a loop of symlinks (ELOOP)"), "{d:#?}");
    assert!(d[0].0.hint.as_deref().unwrap().contains("namei -l"), "{d:#?}");
    let d = diags_in(dir.path(), &bind("file/x"));
    assert!(d[0].0.message.contains("not a directory (ENOTDIR)"), "{d:#?}");
    let d = diags_in(dir.path(), &bind("missing"));
    assert!(
        d[0].0.message.contains("does not exist") && d[0].0.hint.as_deref().unwrap().contains("mkdir -p")
    );
}

#[test]
fn an_unreadable_bind_source_says_permission_denied_not_missing() {
    // Root reads everything: `check` (pure, no root needed) runs as nobody here.
    let dir = tempfile::tempdir().unwrap();
    let open =
        |p: &Path| std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    open(dir.path());
    std::fs::create_dir_all(dir.path().join("locked/data")).unwrap();
    std::fs::set_permissions(dir.path().join("locked"), std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .unwrap();
    let text = with("[[mounts]]\ntype = \"bind\"\nsource = \"locked/data\"\ntarget = \"/data\"\n")
        .replace("{rootfs}", &rootfs().display().to_string());
    let file = dir.path().join("j.toml");
    std::fs::write(&file, text).unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", bin(), "--color", "never", "check"])
        .arg(&file)
        .output()
        .unwrap();
    let run = Run::from(out);
    assert_eq!(run.code, 125, "{run:?}");
    assert!(run.stderr.contains("cannot be reached: permission denied (EACCES)"), "{run:?}");
    assert!(!run.stderr.contains("does not exist") && !run.stderr.contains("mkdir -p"), "{run:?}");
}

#[test]
fn numbers_that_are_not_amounts() {
    for (v, word) in [("nan", "nan (not a number)"), ("inf", "infinite"), ("-inf", "infinite")] {
        error(&with(&format!("[limits]\ncpus = {v}\n")), "limits.cpus", (6, 8), word, "TOML's nan and inf");
    }
}

#[test]
fn typos_with_swapped_letters_get_a_suggestion() {
    for (typo, right) in [("bnid", "bind"), ("tmfps", "tmpfs")] {
        let text = with(&format!("[[mounts]]\ntype = \"{typo}\"\ntarget = \"/x\"\n"));
        error(
            &text,
            "mounts[1].type",
            (6, 8),
            &format!("unknown value \"{typo}\""),
            &format!("did you mean \"{right}\"?"),
        );
    }
}

#[test]
fn names_from_docker_and_oci_get_their_procjail_name() {
    let mount =
        |k: &str| with(&format!("[[mounts]]\ntype = \"bind\"\nsource = \"/tmp\"\ntarget = \"/t\"\n{k}\n"));
    error(&mount("src = \"/tmp\""), "mounts[1].src", (9, 1), "unknown key `src`", "`source`");
    error(&mount("destination = \"/t\""), "mounts[1].destination", (9, 1), "unknown key", "`target`");
    error(&mount("ro = true"), "mounts[1].ro", (9, 1), "unknown key", "`readonly = true`");
    error(&format!("network = \"none\"\n{OK}"), "network", (1, 1), "unknown key", "[namespaces] net");
    let limit = |k: &str| with(&format!("[limits]\n{k}\n"));
    error(&limit("pids_limit = 64"), "limits.pids_limit", (6, 1), "unknown key", "`pids`");
    error(
        &limit("cpu_shares = 512"),
        "limits.cpu_shares",
        (6, 1),
        "unknown key",
        "docker's 1024 shares is weight 100",
    );
    error(&limit("memory_limit = \"1G\""), "limits.memory_limit", (6, 1), "unknown key", "`memory`");
    error(&limit("memory = \"512m\""), "limits.memory", (6, 10), "unknown unit \"m\"", "\"512M\"");
    error(
        &limit("memory = \"64M\"\nmemory_swap = -1"),
        "limits.memory_swap",
        (7, 15),
        "-1 is not a size",
        "remove `memory_swap`",
    );
    let env = format!("{OK}env = [\"A=1\", \"B=two\"]\n");
    error(&env, "command.env", (5, 7), "expected a table of strings", "env = { A = \"1\", B = \"two\" }");
}

#[test]
fn a_duplicate_key_names_itself_and_its_first_line() {
    error(
        &with("[limits]\npids = 5\npids = 6\n"),
        "TOML",
        (7, 1),
        "duplicate key `pids`",
        "set already on line 6",
    );
}

#[test]
fn file_problems_are_placed_where_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let check = |path: &Path| procjail(&["--color", "never", "check", &path.display().to_string()]);
    // Missing, or a folder: the message and the path, no empty snippet drawn at 1:1.
    for (path, msg) in
        [(dir.path().join("nope.toml"), "No such file"), (dir.path().to_path_buf(), "is a folder")]
    {
        let run = check(&path);
        assert_eq!(run.code, 125, "{run:?}");
        assert!(run.stderr.contains(msg), "{run:?}");
        assert!(!run.stderr.contains(":1:1") && !run.stderr.contains("1 |"), "{run:?}");
    }
    // Invalid UTF-8: at its line and column.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, b"# ok\nhostname = \"a\xffb\"\n").unwrap();
    let run = check(&bad);
    assert!(run.stderr.contains("the byte 0xff is not UTF-8"), "{run:?}");
    assert!(run.stderr.contains(&format!("{}:2:14", bad.display())), "{run:?}");
    // A BOM does not shift line 1's columns.
    let bom = dir.path().join("bom.toml");
    std::fs::write(&bom, b"\xef\xbb\xbfhostnme = \"x\"\n").unwrap();
    let run = check(&bom);
    assert!(run.stderr.contains(&format!("{}:1:1", bom.display())), "{run:?}");
    // Too big: refused before it is read.
    let big = dir.path().join("big.toml");
    std::fs::File::create(&big).unwrap().set_len(procjail::spec::MAX_FILE + 1).unwrap();
    let run = check(&big);
    assert!(run.stderr.contains("a jail file may have at most"), "{run:?}");
}

#[test]
fn a_bad_regex_says_error_once() {
    let j = jail("re", &with("[expect]\nstdout = { regex = \"(a\" }\n"));
    let run = procjail(&["--color", "never", "check", &j.file.display().to_string()]);
    assert_eq!(run.code, 125);
    let first = run.stderr.lines().next().unwrap();
    assert_eq!(
        first, "error: expect.stdout: not a regular expression: unclosed group at character 1",
        "{run:?}"
    );
    assert_eq!(run.stderr.matches("error").count(), 2, "the problem and the summary line: {run:?}");
}

#[test]
fn likely_mistakes_are_warnings() {
    warning(
        &command("[\"/bin/nope\"]", ""),
        "command.argv[0]",
        (4, 8),
        "/bin/nope is not in the rootfs",
        "fix the name",
    );
    warning(
        &command("[\"nope\"]", ""),
        "command.argv[0]",
        (4, 8),
        "in none of PATH's folders",
        "fix the name",
    );
    assert!(diags(&command("[\"sh\"]", "")).is_empty(), "sh is found in PATH");
    warning(
        &format!("{OK}cwd = \"/nowhere\"\n"),
        "command.cwd",
        (5, 7),
        "/nowhere is not in the rootfs",
        "make the folder",
    );
    warning(&with("[limits]\nmemory = \"8MiB\"\n"), "limits.memory", (6, 10), "is small", "OOM kill");
    // A mount target through a symlink of the rootfs: the rootfs's own /bin → /usr/bin.
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("usr/bin")).unwrap();
    std::fs::write(root.path().join("usr/bin/true"), "").unwrap();
    std::os::unix::fs::symlink("usr/bin", root.path().join("bin")).unwrap();
    let text = format!(
        "[rootfs]\npath = \"{}\"\n[command]\nargv = [\"/usr/bin/true\"]\n[[mounts]]\ntype = \"tmpfs\"\ntarget = \"/bin/x\"\n",
        root.path().display()
    );
    warning(
        &text,
        "mounts[1].target",
        (7, 10),
        "goes through the symlink /bin → usr/bin",
        "target = \"/usr/bin/x\"",
    );
    // A jail whose file name is no hostname keeps the host's: said, at the file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("my_jail.toml");
    let text = OK.replace("{rootfs}", &rootfs().display().to_string());
    let spec = procjail::spec::from_str(&file, &text, &Host::standard(CgroupKind::V2)).unwrap();
    let w = &spec.warnings.diags;
    assert_eq!(w.len(), 1, "{w:#?}");
    assert!(w[0].message.contains("\"my_jail\" is not a hostname"), "{w:#?}");
    assert_eq!(w[0].hint.as_deref(), Some("set one: hostname = \"my-jail\""));
    // A warning is shown and does not fail check or plan.
    std::fs::write(&file, &text).unwrap();
    let run = procjail(&["--color", "never", "check", &file.display().to_string()]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains("warning: hostname:") && run.stderr.contains("warning: 1 warning in"),
        "{run:?}"
    );
    let run = procjail(&["--color", "never", "plan", &file.display().to_string()]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("warning: hostname:"), "{run:?}");
}

#[test]
fn no_warning_repeats_an_error() {
    // The program is not looked for in a rootfs that is refused, nor a NUL program in PATH.
    let d = diags("[rootfs]\npath = \"/proc/self/root\"\n[command]\nargv = [\"/bin/nope\"]\n");
    assert!(d.iter().all(|(d, _, _)| d.level == Severity::Error), "{d:#?}");
    let d = diags(&command("[\"a\\u0000b\"]", ""));
    assert_eq!(d.len(), 1, "{d:#?}");
}

#[test]
fn a_flood_of_problems_shows_fifty_then_a_count_and_json_lists_all() {
    let keys: String = (0..200).map(|i| format!("unknown{i} = 1\n")).collect();
    let j = jail("flood", &format!("{keys}{OK}"));
    let file = j.file.display().to_string();
    let run = procjail(&["--color", "never", "check", &file]);
    assert_eq!(run.code, 125);
    assert_eq!(run.stderr.matches("unknown key `unknown").count(), 50, "{}", &run.stderr[..2000]);
    assert!(run.stderr.contains("... and 150 more problems (`procjail check --json` lists them all)"));
    assert!(run.stderr.trim_end().ends_with(&format!("error: 200 problems in {file}")));
    let run = procjail(&["check", "--json", &file]);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["files"][0]["diagnostics"].as_array().unwrap().len(), 200);
}
