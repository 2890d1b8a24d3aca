//! The plan is what procjail does. Every experiment of jails/ runs under `strace -f`, and each
//! of procjail's own processes (the supervisor, the jail's first process, the command up to its
//! execve) must make exactly the state-changing syscalls of the plan's steps of its side, in
//! plan order, as `procjail::plan::calls` lists them; a step that made none must be one whose
//! condition was false (`up --trace` says `skipped (why)`). `procjail rootfs` and `procjail
//! exec` are held to their plans the same way.
//!
//! "State-changing" is the list in [`checked`]: what changes the host, the jail or a process's
//! credentials, limits, signals, namespaces or files. Reads, stats, read-only and O_PATH opens,
//! closes, memory management, waiting, and writes to fds 1 and 2 (procjail's messages, the
//! trace itself) are not. The Rust runtime's own start-up (SIGPIPE ignored, the SIGSEGV and
//! SIGBUS handlers of its stack guard) happens before main and is left out too.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use procjail::host::Host;
use procjail::plan::calls::{Call, Times};
use procjail::plan::{Plan, Side};

use crate::common::*;

/// One syscall as strace printed it.
#[derive(Debug, Clone)]
struct Sys {
    name: String,
    line: String,
}

/// The syscalls procjail must account for with a step.
const ALWAYS: &[&str] = &[
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "chmod",
    "fchmod",
    "fchmodat",
    "chown",
    "fchown",
    "lchown",
    "fchownat",
    "unlink",
    "unlinkat",
    "rmdir",
    "rename",
    "renameat",
    "renameat2",
    "symlink",
    "symlinkat",
    "link",
    "linkat",
    "truncate",
    "ftruncate",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "chdir",
    "fchdir",
    "mount_setattr",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsmount",
    "fsconfig",
    "clone",
    "clone3",
    "fork",
    "vfork",
    "execve",
    "execveat",
    "unshare",
    "setns",
    "kill",
    "tkill",
    "tgkill",
    "pidfd_send_signal",
    "setsid",
    "setpgid",
    "sethostname",
    "setdomainname",
    "capset",
    "setrlimit",
    "setuid",
    "setgid",
    "setreuid",
    "setregid",
    "setresuid",
    "setresgid",
    "setgroups",
    "setfsuid",
    "setfsgid",
    "seccomp",
    "bpf",
    "ioctl",
    "umask",
    "personality",
    "flock",
    "close_range",
    "socketpair",
    "setsockopt",
    "rt_sigprocmask",
    "rt_sigaction",
    "copy_file_range",
    "sendfile",
    "keyctl",
    "add_key",
    "ioprio_set",
    "sched_setaffinity",
];

/// The syscalls checked only with some arguments (see [`checked`]).
const SOMETIMES: &[&str] = &[
    "write",
    "pwrite64",
    "writev",
    "sendmsg",
    "sendto",
    "open",
    "openat",
    "openat2",
    "creat",
    "prctl",
    "prlimit64",
];

/// Whether a syscall changes state (see the module's comment).
fn checked(s: &Sys) -> bool {
    let args = s.line.split_once('(').map_or("", |(_, a)| a);
    match s.name.as_str() {
        "write" | "pwrite64" | "writev" | "sendmsg" | "sendto" => {
            !(args.starts_with("1<") || args.starts_with("2<"))
        }
        "open" | "openat" | "openat2" | "creat" => {
            ["O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC"].iter().any(|f| args.contains(f))
        }
        "prctl" => {
            args.starts_with("PR_SET_")
                || args.starts_with("PR_CAPBSET_DROP")
                || args.starts_with("PR_CAP_AMBIENT")
        }
        "prlimit64" => args.split(", ").nth(2).is_some_and(|new| new != "NULL"),
        name => ALWAYS.contains(&name),
    }
}

/// The Rust runtime's start-up, before main: SIGPIPE ignored, the stack guard's handlers.
fn runtime(s: &Sys) -> bool {
    s.name == "rt_sigaction"
        && ["SIGPIPE, {sa_handler=SIG_IGN", "SIGSEGV,", "SIGBUS,"]
            .iter()
            .any(|p| s.line.contains(&format!("({p}")))
}

/// Parses one `strace -ff` file: the syscalls of one process.
fn parse(path: &Path) -> Vec<Sys> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter(|l| !l.starts_with("+++") && !l.starts_with("---") && l.contains('('))
        .map(|l| Sys { name: l.split('(').next().unwrap().to_string(), line: l.to_string() })
        .collect()
}

fn returned(s: &Sys) -> Option<i64> {
    s.line.rsplit_once(" = ")?.1.split_whitespace().next()?.parse().ok()
}

/// The pid a clone made, as strace's pid namespace names it: `= 2 /* 16483 in strace's PID NS */`.
fn made(s: &Sys) -> Option<i32> {
    let (_, ret) = s.line.rsplit_once(" = ")?;
    let host = ret.split_once("/* ").and_then(|(_, c)| c.split_whitespace().next()?.parse().ok());
    host.or_else(|| ret.split_whitespace().next()?.parse().ok()).filter(|p| *p > 0)
}

/// The processes of one traced run: pid → syscalls, and which pid each clone/fork made.
struct Traced {
    calls: BTreeMap<i32, Vec<Sys>>,
    root: i32,
}

impl Traced {
    fn load(dir: &Path, prefix: &str, run: &Run) -> Traced {
        let mut calls = BTreeMap::new();
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix(&format!("{prefix}.")).and_then(|p| p.parse().ok()) {
                calls.insert(pid, parse(&e.path()));
            }
        }
        let root = *calls
            .iter()
            .find(|(_, c)| c.first().is_some_and(|s| s.name == "execve" && s.line.contains("procjail")))
            .unwrap_or_else(|| panic!("procjail's own process is not in the trace: {run:?}"))
            .0;
        Traced { calls, root }
    }

    /// The pid the first clone-like call of `pid` made.
    fn child_of(&self, pid: i32) -> Option<i32> {
        self.calls[&pid]
            .iter()
            .find(|s| matches!(s.name.as_str(), "clone" | "clone3" | "fork" | "vfork"))
            .and_then(made)
    }

    /// The checked syscalls of a process of procjail's: up to its execve of the command.
    fn checked(&self, pid: i32) -> Vec<Sys> {
        let mut out = Vec::new();
        for s in &self.calls[&pid] {
            if pid == self.root && s.name == "execve" && s.line.contains(bin()) {
                continue; // procjail itself starting
            }
            if checked(s) && !(pid == self.root && runtime(s)) {
                out.push(s.clone());
            }
            if s.name == "execve" && returned(s) == Some(0) {
                break;
            }
        }
        out
    }
}

/// What the trace said of each step: "ok", "skipped (...)", "…", or the errno.
fn outcomes(plan: &Plan, stderr: &str) -> BTreeMap<usize, Vec<String>> {
    let mut out: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for line in stderr.lines() {
        // The init's steps after the command's exec run beside the command, whose own output (a
        // shell's message, written in pieces) may hold a trace line in the middle of its line.
        let Some(at) = line.find("procjail: trace: step ") else { continue };
        let line = &line[at..];
        let Some(rest) = line.strip_prefix("procjail: trace: step ") else { continue };
        let index: usize = rest.split('/').next().unwrap().parse().unwrap();
        let step = plan.step(index).unwrap_or_else(|| panic!("no step {index} in the plan: {line}"));
        let head = format!("procjail: trace: {} = ", plan.describe(step));
        let result = line
            .strip_prefix(&head)
            .unwrap_or_else(|| panic!("the trace's text is not the plan's:\n{line}\n{head}"));
        out.entry(index).or_default().push(result.to_string());
    }
    out
}

/// The calls a process must have made: each step of its side that ran, in plan order. A step
/// that failed may have stopped part way: each of its calls is optional then.
fn expected(
    plan: &Plan,
    side: Side,
    said: &BTreeMap<usize, Vec<String>>,
) -> Result<Vec<(usize, Call)>, String> {
    let mut out = Vec::new();
    for step in plan.steps().filter(|s| s.side == side) {
        let Some(results) = said.get(&step.index) else {
            return Err(format!("step {} [{}] {} is not in the trace", step.index, side.as_str(), step.op));
        };
        let last = results.last().unwrap();
        if last.starts_with("skipped (") {
            continue;
        }
        let failed = !last.starts_with("ok") && last != "…";
        for mut c in step.op.calls() {
            if failed {
                c.times = Times::Any;
            }
            out.push((step.index, c));
        }
        if failed {
            break;
        }
    }
    Ok(out)
}

fn matches(c: &Call, s: &Sys) -> bool {
    c.names.contains(&s.name.as_str()) && c.arg.as_ref().is_none_or(|a| s.line.contains(a.as_str()))
}

/// Whether `calls` match the pattern exactly; else where they part, for the message.
fn fit(pattern: &[(usize, Call)], calls: &[Sys]) -> Result<(), String> {
    // reach[j]: the pattern's first i elements can account for the first j calls.
    let mut reach = vec![false; calls.len() + 1];
    reach[0] = true;
    let mut furthest = 0;
    for (_, c) in pattern {
        let (min, max) = match c.times {
            Times::Once => (1, 1),
            Times::OneOrMore => (1, usize::MAX),
            Times::Any => (0, usize::MAX),
            Times::Exactly(n) => (n, n),
        };
        let mut next = vec![false; calls.len() + 1];
        for j in (0..=calls.len()).filter(|j| reach[*j]) {
            let mut k = 0;
            loop {
                if k >= min {
                    next[j + k] = true;
                }
                if k == max || j + k == calls.len() || !matches(c, &calls[j + k]) {
                    break;
                }
                k += 1;
            }
        }
        reach = next;
        if let Some(j) = reach.iter().rposition(|r| *r) {
            furthest = furthest.max(j);
        }
    }
    if reach[calls.len()] {
        return Ok(());
    }
    let near: Vec<String> =
        calls.iter().skip(furthest.saturating_sub(3)).take(8).map(|s| s.line.clone()).collect();
    let steps: Vec<String> = pattern.iter().map(|(i, c)| format!("{i}:{}", c.short())).collect();
    Err(format!(
        "the syscalls part from the plan after {furthest} of {}; around there:\n  {}\nthe plan's calls: {}",
        calls.len(),
        near.join("\n  "),
        steps.join(" ")
    ))
}

/// Runs `procjail ARGS` under strace; returns its stderr and the processes' syscalls.
fn traced(args: &[&str]) -> (Run, Traced) {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("t");
    // Only these stop the traced processes (seccomp-bpf): a fork bomb's thousands of syscalls
    // after the command's execve cost nothing.
    let wanted = [ALWAYS, SOMETIMES].concat().join(",");
    let out = Command::new("strace")
        .args(["-ff", "-qq", "-y", "-s", "4096", "--pidns-translation", "--seccomp-bpf"])
        .arg(format!("--trace={wanted}"))
        .arg("-o")
        .arg(&prefix)
        .arg(bin())
        .args(args)
        .current_dir(repo())
        .env("PROCJAIL_TRACE", "1")
        .stdin(Stdio::null())
        .output()
        .expect("strace: apt-get install strace (.ci/run does)");
    let run = Run::from(out);
    let t = Traced::load(dir.path(), "t", &run);
    (run, t)
}

/// Holds the processes of a traced run to the plan: the root is the parent; what its clone
/// made, the child; what the child's (or the parent's) fork made, the command.
fn hold(plan: &Plan, stderr: &str, t: &Traced) -> Result<(), String> {
    let said = outcomes(plan, stderr);
    let mut sides = vec![(Side::Parent, t.root)];
    let has = |side: Side| plan.steps().any(|s| s.side == side);
    if has(Side::Child) {
        let child = t.child_of(t.root).ok_or("no clone in the supervisor")?;
        sides.push((Side::Child, child));
        if has(Side::Command) {
            sides.push((Side::Command, t.child_of(child).ok_or("no fork in the jail's first process")?));
        }
    } else if has(Side::Command) {
        sides.push((Side::Command, t.child_of(t.root).ok_or("no fork in procjail")?));
    }
    for (side, pid) in sides {
        let pattern = expected(plan, side, &said)?;
        fit(&pattern, &t.checked(pid)).map_err(|e| format!("[{}] pid {pid}: {e}", side.as_str()))?;
    }
    Ok(())
}

#[test]
fn every_experiment_makes_exactly_the_syscalls_of_its_plan() {
    require_root();
    ensure_repo_rootfs();
    let host = Host::detect();
    let mut failed = Vec::new();
    for file in jail_files() {
        let rel = file.strip_prefix(repo()).unwrap().display().to_string();
        // A name of its own: `procjail test jails/` (experiments.rs) runs the same files under
        // their own names at the same time, and a name runs once at a time.
        let name = format!("fid-{}", file.file_stem().unwrap().to_string_lossy());
        let overrides = procjail::spec::Overrides { name: Some(name.clone()), timeout_ms: None };
        let spec = procjail::spec::load_with(&file, &host, &overrides).unwrap();
        let plan = procjail::build::up(&spec, &host);
        let named = std::path::PathBuf::from(format!("{name}.toml"));
        let before = Snapshot::take(&named);
        let (run, t) = traced(&["up", "--trace", "--name", &name, &rel]);
        Snapshot::take(&named).assert_same(&before, &run);
        if let Err(e) = hold(&plan, &run.stderr, &t) {
            failed.push(format!("{rel}: {e}"));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
}

#[test]
fn rootfs_makes_exactly_the_syscalls_of_its_plan() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("a/b/rootfs");
    let plan = procjail::build::rootfs(&root, &procjail::spec::missing_parents(&root), &Host::detect());
    let (run, t) = traced(&["rootfs", "busybox", "--trace", root.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{run:?}");
    hold(&plan, &run.stderr, &t).unwrap();
}

#[test]
fn exec_makes_exactly_the_syscalls_of_its_plan() {
    let j = sh("fidelity-exec", "echo ready; sleep 60", "[init]\ngrace = \"1s\"\n[limits]\npids = 20");
    let mut r = spawn_up(&j, &[]);
    r.wait_for("ready");
    let state = procjail::state::running("fidelity-exec").unwrap();
    // The namespaces the jail has of its own (read while it runs, as `procjail exec` does).
    let init = state.init_pid.to_string();
    let namespaces: Vec<&'static str> = procjail::namespaces::NAMESPACES
        .iter()
        .filter(|ns| {
            let jail = procjail::host::procfs::namespace(&init, ns.proc_name);
            jail.is_some() && jail != procjail::host::procfs::namespace("self", ns.proc_name)
        })
        .map(|ns| ns.proc_name)
        .collect();
    let traced =
        std::panic::catch_unwind(|| traced(&["exec", "--trace", "fidelity-exec", "--", "/bin/true"]));
    let down = procjail(&["down", "fidelity-exec"]);
    r.finish();
    assert_eq!(down.code, 0, "{down:?}");
    let (run, t) = traced.unwrap();
    assert_eq!(run.code, 0, "{run:?}");
    let argv = vec!["/bin/true".to_string()];
    let plan = procjail::build::exec(
        &state,
        &argv,
        &procjail::build::Joined { namespaces, via: state.init_pid },
        &Host::detect(),
    );
    hold(&plan, &run.stderr, &t).unwrap();
}

#[test]
fn down_and_gc_make_exactly_the_syscalls_of_their_plans() {
    let host = Host::detect();
    let j = sh("fidelity-down", "echo ready; sleep 60", "[init]\ngrace = \"1s\"");
    let mut r = spawn_up(&j, &[]);
    r.wait_for("ready");
    let state = procjail::state::running("fidelity-down").unwrap();
    let plan = procjail::build::down(&state, 60_000, &host);
    let traced_down = std::panic::catch_unwind(|| traced(&["down", "fidelity-down"]));
    r.finish();
    let (run, t) = traced_down.unwrap();
    assert_eq!(run.code, 0, "{run:?}");
    hold(&plan, &run.stderr, &t).unwrap();

    // A supervisor killed just after its clone leaves its cgroups and state: gc's plan removes them.
    let j = jail(
        "fidelity-gc",
        "[rootfs]\npath = \"{rootfs}\"\n[limits]\nmemory = \"48MiB\"\npids = 20\n[command]\nargv = [\"/bin/true\"]\n",
    );
    let spec = procjail::spec::load(&j.file, &host).unwrap();
    let up = procjail::build::up(&spec, &host);
    let clone = up.steps().find(|s| matches!(s.op, procjail::plan::Op::Clone { .. })).unwrap().index;
    let before = Snapshot::take(&j.file);
    let killed = Command::new(bin())
        .args(["up", j.file.to_str().unwrap()])
        .env("PROCJAIL_FAILPOINT", (clone + 1).to_string())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(killed.status.code(), None, "{:?}", Run::from(killed));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !jail_processes("fidelity-gc").is_empty() {
        assert!(std::time::Instant::now() < deadline, "the jail outlived its supervisor");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let found = procjail::state::leftovers(&["fidelity-gc".to_string()]);
    assert!(found.len() >= 2, "{found:?}");
    let plan = procjail::build::gc(&found, &procjail::host::scan::cgroup_mounts(), false, &host);
    let (run, t) = traced(&["gc", "fidelity-gc"]);
    assert_eq!(run.code, 0, "{run:?}");
    Snapshot::take(&j.file).assert_same(&before, &run);
    hold(&plan, &run.stderr, &t).unwrap();
}
