//! Bad jail files: every problem is found, at its exact position, with a clear message.
//! These run the validator directly (pure, no root needed) and `procjail check` for exit codes.

use std::path::Path;

use procjail::diag::line_col;
use procjail::host::{CgroupKind, Host};

use crate::common::*;

/// (key, line, column, message) of every problem in `text`, for a jail file in /tmp.
fn problems_in(dir: &Path, text: &str) -> Vec<(String, usize, usize, String)> {
    let text = text
        .replace("{rootfs}", &rootfs().display().to_string())
        .replace("{dir}", &dir.display().to_string());
    let file = dir.join("jail.toml");
    match procjail::spec::from_str(&file, &text, &Host::standard(CgroupKind::Hybrid)) {
        Ok(_) => Vec::new(),
        Err(diags) => diags
            .into_iter()
            .map(|d| {
                let (l, c) = line_col(&text, d.span.start);
                (d.key, l, c, d.message)
            })
            .collect(),
    }
}

fn problems(text: &str) -> Vec<(String, usize, usize, String)> {
    let dir = tempfile::tempdir().unwrap();
    problems_in(dir.path(), text)
}

/// Asserts the file has exactly one problem, at `key`, `line`:`col`, with a message holding `msg`.
#[track_caller]
fn one(text: &str, key: &str, line: usize, col: usize, msg: &str) {
    let p = problems(text);
    assert_eq!(p.len(), 1, "expected one problem, got {p:#?}\nin:\n{text}");
    let (k, l, c, m) = &p[0];
    assert_eq!((k.as_str(), *l, *c), (key, line, col), "message: {m}");
    assert!(m.contains(msg), "{m:?} does not contain {msg:?}");
}

const OK: &str = "[rootfs]\npath = \"{rootfs}\"\n[command]\nargv = [\"/bin/true\"]\n";

fn with(extra: &str) -> String {
    format!("{OK}{extra}")
}

#[test]
fn a_good_file_has_no_problem() {
    assert_eq!(problems(OK), vec![]);
}

#[test]
fn malformed_toml() {
    one("hostname = \"x\n", "TOML", 1, 14, "");
    one("[rootfs\n", "TOML", 1, 8, "");
}

#[test]
fn wrong_types() {
    one(&with("[limits]\npids = \"64\"\n"), "limits.pids", 6, 8, "expected an integer, found string");
    one(&with("[init]\nmode = 1\n"), "init.mode", 6, 8, "expected a string, found integer");
    one(
        &with("[namespaces]\nnet = \"yes\"\n"),
        "namespaces.net",
        6,
        7,
        "expected true or false, found string",
    );
    one(
        "[rootfs]\npath = \"{rootfs}\"\n[command]\nargv = \"/bin/sh\"\n",
        "command.argv",
        4,
        8,
        "expected an array of strings, found string",
    );
    one(
        "[rootfs]\npath = \"{rootfs}\"\n[command]\nargv = [\"/bin/sh\", 1]\n",
        "command.argv[1]",
        4,
        20,
        "expected a string, found integer",
    );
    one(&format!("limits = 5\n{OK}"), "limits", 1, 10, "expected a table: [limits], found integer");
}

#[test]
fn missing_rootfs_or_command_points_at_the_end_not_at_line_one() {
    one("hostname = \"a\"\n[command]\nargv = [\"/bin/true\"]\n", "[rootfs]", 4, 1, "the jail has no rootfs");
    one("[rootfs]\npath = \"{rootfs}\"\n", "[command]", 3, 1, "the jail has no command");
}

#[test]
fn a_missing_key_points_at_its_table() {
    one(
        "[rootfs]\nreadonly = true\n[command]\nargv = [\"/bin/true\"]\n",
        "rootfs.path",
        1,
        1,
        "missing key `path` in [rootfs]",
    );
    one(&with("[[mounts]]\ntarget = \"/x\"\n"), "mounts[1].type", 5, 1, "missing key `type` in [mounts[1]]");
}

#[test]
fn unknown_keys_suggest_the_right_one() {
    one(&format!("hostnme = \"x\"\n{OK}"), "hostnme", 1, 1, "unknown key `hostnme` at the top level");
    one(&with("[limits]\nmemroy = \"1M\"\n"), "limits.memroy", 6, 1, "unknown key `memroy` in [limits]");
    let dir = tempfile::tempdir().unwrap();
    let text = format!("memory = \"1M\"\n{OK}").replace("{rootfs}", &rootfs().display().to_string());
    let file = dir.path().join("j.toml");
    let e = procjail::spec::from_str(&file, &text, &Host::standard(CgroupKind::V2)).unwrap_err();
    assert_eq!(e[0].hint.as_deref(), Some("`memory` belongs in [limits]"));
    let text = with("[limits]\nmemroy = 1\n").replace("{rootfs}", &rootfs().display().to_string());
    let e = procjail::spec::from_str(&file, &text, &Host::standard(CgroupKind::V2)).unwrap_err();
    assert_eq!(e[0].hint.as_deref(), Some("did you mean `memory`?"));
}

#[test]
fn rootfs_missing_not_a_directory_or_slash() {
    one(
        "[rootfs]\npath = \"nope\"\n[command]\nargv = [\"/bin/true\"]\n",
        "rootfs.path",
        2,
        8,
        "does not exist",
    );
    // With from = "busybox" a missing rootfs is fine: it will be made.
    assert_eq!(
        problems("[rootfs]\npath = \"nope\"\nfrom = \"busybox\"\n[command]\nargv = [\"/bin/true\"]\n"),
        vec![]
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("afile"), "").unwrap();
    let p = problems_in(dir.path(), "[rootfs]\npath = \"afile\"\n[command]\nargv = [\"/bin/true\"]\n");
    assert_eq!(p.len(), 1);
    assert!(p[0].3.ends_with("afile is not a directory"), "{p:?}");
    one(
        "[rootfs]\npath = \"/\"\n[command]\nargv = [\"/bin/true\"]\n",
        "rootfs.path",
        2,
        8,
        "cannot be the host's /",
    );
    one(
        "[rootfs]\npath = \"/usr/..\"\n[command]\nargv = [\"/bin/true\"]\n",
        "rootfs.path",
        2,
        8,
        "cannot be the host's /",
    );
    let p = problems("[rootfs]\npath = \"x\"\nfrom = \"debian\"\n[command]\nargv = [\"/bin/true\"]\n");
    assert_eq!(
        p.iter().map(|p| (p.0.as_str(), p.1, p.2)).collect::<Vec<_>>(),
        [("rootfs.path", 2, 8), ("rootfs.from", 3, 8)]
    );
    assert_eq!(p[1].3, "unknown value \"debian\"");
}

#[test]
fn mount_targets() {
    let m = |t: &str| with(&format!("[[mounts]]\ntype = \"tmpfs\"\ntarget = \"{t}\"\n"));
    one(&m("tmp"), "mounts[1].target", 7, 10, "is not absolute");
    one(&m("/tmp/../etc"), "mounts[1].target", 7, 10, "has `..`");
    one(&m("/proc/sys"), "mounts[1].target", 7, 10, "under /proc");
    one(&m("/"), "mounts[1].target", 7, 10, "cannot be / itself");
    one(&m("/dev/shm"), "mounts[1].target", 7, 10, "already a mount target (defaults.shm)");
    let two = with(
        "[[mounts]]\ntype = \"tmpfs\"\ntarget = \"/a\"\n[[mounts]]\ntype = \"tmpfs\"\ntarget = \"/a/\"\n",
    );
    one(&two, "mounts[2].target", 10, 10, "/a is already a mount target (mounts[1])");
}

#[test]
fn bind_sources() {
    one(
        &with("[[mounts]]\ntype = \"bind\"\nsource = \"missing\"\ntarget = \"/data\"\n"),
        "mounts[1].source",
        7,
        10,
        "does not exist",
    );
    one(
        &with("[[mounts]]\ntype = \"bind\"\ntarget = \"/data\"\n"),
        "mounts[1].source",
        6,
        8,
        "a bind mount needs a source",
    );
    one(
        &with("[[mounts]]\ntype = \"tmpfs\"\nsource = \"x\"\ntarget = \"/data\"\n"),
        "mounts[1].source",
        7,
        10,
        "a tmpfs has no source",
    );
    one(
        &with("[[mounts]]\ntype = \"tmpfs\"\ntarget = \"/data\"\nmode = \"999\"\n"),
        "mounts[1].mode",
        8,
        8,
        "not an octal mode",
    );
}

#[test]
fn sizes() {
    let mem = |v: &str| with(&format!("[limits]\nmemory = {v}\n"));
    one(&mem("-1"), "limits.memory", 6, 10, "-1 is not a size: docker's and OCI's \"no limit\"");
    one(&mem("\"-1M\""), "limits.memory", 6, 10, "a size cannot be negative");
    one(&mem("0"), "limits.memory", 6, 10, "a memory limit of 0 leaves the jail nothing");
    one(&mem("\"99999999999999999999\""), "limits.memory", 6, 10, "too large");
    one(&mem("\"17179869184GiB\""), "limits.memory", 6, 10, "too large");
    one(&mem("\"64 MB\""), "limits.memory", 6, 10, "unknown unit \" MB\"");
    one(&mem("\"1e99\""), "limits.memory", 6, 10, "unknown unit \"e99\"");
    one(&mem("\"64MiX\""), "limits.memory", 6, 10, "unknown unit \"MiX\"");
    one(
        &with("[[mounts]]\ntype = \"tmpfs\"\ntarget = \"/t\"\nsize = 0\n"),
        "mounts[1].size",
        8,
        8,
        "means no limit at all",
    );
    one(
        &with("[limits]\nmemory = \"64M\"\nmemory_swap = \"32M\"\n"),
        "limits.memory_swap",
        7,
        15,
        "less than memory",
    );
    one(&with("[init]\ngrace = \"2\"\n"), "init.grace", 6, 9, "has no unit");
}

#[test]
fn counts_and_ranges() {
    one(&with("[limits]\npids = 0\n"), "limits.pids", 6, 8, "pids must be 1 or more, not 0");
    one(&with("[limits]\ncpus = 0\n"), "limits.cpus", 6, 8, "cpus must be from 0.01 to 1024");
    one(&with("[limits]\ncpu_weight = 20000\n"), "limits.cpu_weight", 6, 14, "from 1 to 10000");
    one(&with("[limits]\nnofile = 2\n"), "limits.nofile", 6, 10, "nofile must be 4 or more");
}

#[test]
fn rlimits_soft_hard_and_unlimited() {
    let soft_above = with("[limits]\nnofile = { soft = 100, hard = 50 }\n");
    one(&soft_above, "limits.nofile", 6, 10, "the soft limit (100) is above the hard limit (50)");
    one(&with("[limits]\ncore = -1\n"), "limits.core", 6, 8, "RLIM_INFINITY");
    one(&with("[limits]\nnofile = { soft = 10 }\n"), "limits.nofile.hard", 6, 10, "missing key `hard`");
    one(
        &with("[limits]\nnofile = { soft = 10, hard = 10, max = 3 }\n"),
        "limits.nofile.max",
        6,
        34,
        "unknown key",
    );
    one(
        &with("[limits]\nnofile = { soft = 2, hard = 10 }\n"),
        "limits.nofile",
        6,
        10,
        "nofile must be 4 or more",
    );
    // Taken: "unlimited", a soft below the hard, every unit, every new kind.
    let good = "[limits]\nnofile = { soft = 64, hard = \"unlimited\" }\ncore = \"unlimited\"\nmemlock = \"64KiB\"\n\
        cpu_time = { soft = \"10s\", hard = \"20s\" }\nnice = 0\nrtprio = 0\nrttime = 1000\nsigpending = 100\n";
    assert_eq!(problems(&with(good)), vec![]);
}

#[test]
fn mount_options_of_each_kind() {
    let bind = "[[mounts]]\ntype = \"bind\"\nsource = \"/tmp\"\ntarget = \"/b\"\n";
    assert_eq!(
        problems(&with(&format!("{bind}options = [\"nosuid\", \"nodev\", \"noexec\", \"ro\"]\n"))),
        vec![]
    );
    one(
        &with(&format!("{bind}options = [\"dev\"]\n")),
        "mounts[1].options",
        9,
        11,
        "not an option of a bind mount",
    );
    let tmpfs = "[[mounts]]\ntype = \"tmpfs\"\ntarget = \"/t\"\n";
    assert_eq!(
        problems(&with(&format!("{tmpfs}options = [\"noexec\", \"strictatime\", \"nodiratime\"]\n"))),
        vec![]
    );
}

#[test]
fn hostnames() {
    let long = "a".repeat(65);
    one(&format!("hostname = \"{long}\"\n{OK}"), "hostname", 1, 12, "65 bytes long");
    one(&format!("hostname = \"bad_name\"\n{OK}"), "hostname", 1, 12, "'_'");
    one(&format!("hostname = \"-x\"\n{OK}"), "hostname", 1, 12, "starts or ends with '-'");
    one(
        &format!("hostname = \"x\"\n{OK}[namespaces]\nuts = false\n"),
        "hostname",
        1,
        12,
        "needs the uts namespace",
    );
}

#[test]
fn command() {
    one("[rootfs]\npath = \"{rootfs}\"\n[command]\nargv = []\n", "command.argv", 4, 8, "argv is empty");
    one(
        "[rootfs]\npath = \"{rootfs}\"\n[command]\nargv = [\"\"]\n",
        "command.argv",
        4,
        8,
        "argv[0], the program, is empty",
    );
    one(
        "[rootfs]\npath = \"{rootfs}\"\n[command]\nargv = [\"a\\u0000b\"]\n",
        "command.argv[0]",
        4,
        8,
        "NUL byte",
    );
    one(&format!("{OK}env = {{ \"A=B\" = \"x\" }}\n"), "command.env.A=B", 5, 7, "has '='");
    one(&format!("{OK}env = {{ A = \"x\\u0000\" }}\n"), "command.env.A", 5, 7, "NUL byte");
    one(&format!("{OK}cwd = \"tmp\"\n"), "command.cwd", 5, 7, "not an absolute path");
}

#[test]
fn options_that_need_a_namespace_that_is_off() {
    one(
        &with("[namespaces]\nnet = false\n[defaults]\nsysfs = true\n"),
        "defaults.sysfs",
        8,
        9,
        "needs the net namespace",
    );
    one(&with("[namespaces]\npid = false\n"), "init.mode", 6, 7, "needs the pid namespace");
    one(&with("[namespaces]\nmount = false\n"), "namespaces.mount", 6, 9, "own mount namespace");
    one(&with("[defaults]\ndev = false\nshm = true\n"), "defaults.shm", 7, 7, "needs the default /dev");
    one(
        &with("[namespaces]\nipc = false\n[defaults]\nmqueue = true\n"),
        "defaults.mqueue",
        8,
        10,
        "namespaces.ipc is off",
    );
    one(
        &with("[namespaces]\ncgroup = false\n[defaults]\ncgroupfs = true\n"),
        "defaults.cgroupfs",
        8,
        12,
        "namespaces.cgroup is off",
    );
    // Without the ipc namespace, /dev/mqueue is simply off by default.
    assert_eq!(problems(&with("[namespaces]\nipc = false\n")), vec![]);
    // Without the net namespace, sysfs is simply off by default.
    assert_eq!(problems(&with("[namespaces]\nnet = false\n")), vec![]);
}

#[test]
fn expectations() {
    one(&with("[expect]\nsignal = \"SIGNOPE\"\n"), "expect.signal", 6, 10, "\"SIGNOPE\" is not a signal");
    one(&with("[expect]\nexit = 300\n"), "expect.exit", 6, 8, "300 is not an exit code");
    one(&with("[expect]\nstdout = { regex = \"(\" }\n"), "expect.stdout", 6, 10, "not a regular expression");
    one(
        &with("[expect]\nstdout = { starts = \"x\" }\n"),
        "expect.stdout",
        6,
        10,
        "not a way to match output",
    );
    one(&with("[expect]\nstdout = 5\n"), "expect.stdout", 6, 10, "expected a string (the exact text)");
    one(&with("[expect]\nexitt = 0\n"), "expect.exitt", 6, 1, "unknown key `exitt` in [expect]");
    let ok = "[expect]\nexit = 137\nsignal = \"KILL\"\noom_killed = true\nstdout = { contains = \"x\" }\nmax_duration = \"2s\"\n";
    assert_eq!(problems(&with(ok)), vec![]);
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = "hostnme = \"x\"\n[rootfs]\npath = \"/nope\"\n[limits]\nmemory = \"64 MB\"\npids = 0\nmemroy = 5\n[[mounts]]\ntype = \"tmpfs\"\ntarget = \"tmp\"\n[command]\nargv = []\n";
    let keys: Vec<String> = problems(text).into_iter().map(|p| p.0).collect();
    assert_eq!(
        keys,
        [
            "hostnme",
            "rootfs.path",
            "limits.memory",
            "limits.pids",
            "limits.memroy",
            "mounts[1].target",
            "command.argv"
        ]
    );
}

#[test]
fn check_prints_each_problem_once_and_exits_125() {
    let j =
        jail("bad", "[rootfs]\npath = \"{rootfs}\"\n[limits]\npids = 0\n[command]\nargv = [\"/bin/true\"]\n");
    let file = j.file.display().to_string();
    let run = procjail(&["check", &file]);
    assert_eq!(run.code, 125, "{run:?}");
    assert_eq!(run.stderr.matches("pids must be 1 or more").count(), 1, "{run:?}");
    assert!(run.stderr.contains(&format!("--> {file}:4:8")), "{run:?}");
    assert!(run.stderr.contains("accepted: an integer from 2 to 4194304"), "{run:?}");
    assert!(run.stderr.contains("help: the jail's init and command need at least 2"), "{run:?}");
    assert_eq!(run.stdout, format!("error  {file} (1 problem)\n"));
    let run = procjail(&["plan", &file]);
    assert_eq!(run.code, 125, "{run:?}");
    assert_eq!(run.stderr.matches("pids must be 1 or more").count(), 1, "{run:?}");
    let run = procjail(&["up", &file]);
    assert_eq!(run.code, 125, "{run:?}");
    assert_eq!(run.stderr.matches("pids must be 1 or more").count(), 1, "{run:?}");
}

#[test]
fn check_says_ok_for_each_good_file() {
    let run = procjail(&["check", "jails/busybox.toml"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.starts_with("ok     jails/busybox.toml (jail busybox, "), "{run:?}");
}

#[test]
fn what_would_undo_the_jail_is_refused() {
    // Line 5 is the first line after OK.
    one(
        &with("[security]\ncapabilities = { add = [\"CAP_SYS_PTRACE\"] }"),
        "security.capabilities",
        6,
        16,
        "CVE-2019-5736",
    );
    one(
        &with("[security]\ncapabilities = { add = [\"CAP_SYS_ADMIN\"] }\nseccomp = \"none\""),
        "security.seccomp",
        7,
        11,
        "confines nothing",
    );
    one(&with("[sysctl]\n\"vm.drop_caches\" = \"1\""), "sysctl.vm.drop_caches", 6, 20, "not namespaced");
    one(
        &with("[sysctl]\nkernel.core_pattern = \"|/x\""),
        "sysctl.kernel.core_pattern",
        6,
        23,
        "would change the host",
    );
    one(
        &with("[namespaces]\nnet = false\n[sysctl]\n\"net.ipv4.ip_forward\" = \"1\""),
        "sysctl.net.ipv4.ip_forward",
        8,
        25,
        "needs the net namespace",
    );
    one(
        &with("[security]\ncapabilities = [\"CAP_SYS_ADMN\"]"),
        "security.capabilities",
        6,
        16,
        "is not a capability",
    );
    one(&with("[security]\nambient = [\"CAP_KILL\"]"), "security.ambient", 6, 11, "not uid 0");
    one(&with("[security]\ndevices = [\"c 1:3 rwx\"]"), "security.devices", 6, 11, "some of r, w, m");
    one(&with("[security]\nkeyring = \"shared\""), "security.keyring", 6, 11, "not a keyring choice");
    one(
        &with("[security]\nmasked_paths = [\"proc/kcore\"]"),
        "security.masked_paths",
        6,
        16,
        "not an absolute path",
    );
    one(&with("[security]\nseccomp = \"nope.json\""), "security.seccomp", 6, 11, "cannot read the profile");
    one(&with("[security]\noom_score_adj = 2000"), "security.oom_score_adj", 6, 17, "not from -1000 to 1000");
}

#[test]
fn a_bad_seccomp_profile_says_where() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.json"), "{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\",\n  \"syscalls\": [ { \"names\": [\"read\"], \"action\": \"SCMP_ACT_MAYBE\" } ]\n}\n").unwrap();
    let p = problems_in(dir.path(), &with("[security]\nseccomp = \"p.json\""));
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].3.contains("unknown action \"SCMP_ACT_MAYBE\""), "{p:?}");
    std::fs::write(dir.path().join("p.json"), "{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\",\n  oops\n}\n")
        .unwrap();
    let p = problems_in(dir.path(), &with("[security]\nseccomp = \"p.json\""));
    assert!(p[0].3.starts_with("p.json:3:3: "), "{p:?}");
}

#[test]
fn a_rootfs_that_leads_to_the_host_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/", dir.path().join("slash")).unwrap();
    std::os::unix::fs::symlink("/proc/self", dir.path().join("proc")).unwrap();
    for (name, leads) in [("slash", "leads to /,"), ("proc", "leads to /proc/")] {
        let p = problems_in(
            dir.path(),
            &format!("[rootfs]\npath = \"{name}\"\n[command]\nargv = [\"/bin/true\"]\n"),
        );
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].0, "rootfs.path");
        assert!(p[0].3.contains(leads), "{p:?}");
    }
    let p = problems("[rootfs]\npath = \"/proc/self/root\"\n[command]\nargv = [\"/bin/true\"]\n");
    assert!(p.iter().any(|x| x.3.contains("leads to /,") || x.3.contains("cannot be the host")), "{p:?}");
}
