//! `procjail doctor` on real processes: each failing experiment diagnosed while it runs (a copy
//! that stays alive in the state to diagnose) by its own finding, and its fixed twin clean of it;
//! a container run by Debian's runc; a plain process of the host; a pid that does not exist.
//! Every jail is `up --name doctor-...`, and the host is checked as it was afterwards.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::common::*;

/// The jails of a batch, brought down if the test fails while they run.
struct Batch(Vec<String>);

impl Drop for Batch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for name in &self.0 {
                let _ = procjail(&["down", name, "--wait", "10s"]);
            }
        }
    }
}

/// Jails `doctor-NAME` running `sh -c SCRIPT` (each says "ready" once it is in the state to
/// diagnose), started together, each diagnosed while it runs, then brought down.
fn diagnose_all(jails: &[(&str, &str, &str)]) -> Vec<(Run, Value)> {
    let mut running = Vec::new();
    let mut batch = Batch(Vec::new());
    for (name, extra, script) in jails {
        let name = format!("doctor-{name}");
        let j = sh(&name, script, extra);
        let r = spawn_up(&j, &["--name", &name]);
        batch.0.push(name.clone());
        running.push((name, j, r));
    }
    let mut out = Vec::new();
    for (name, _j, r) in &mut running {
        r.wait_for("ready");
        out.push(procjail(&["doctor", "--json", name]));
    }
    for (name, _j, r) in running {
        let down = procjail(&["down", &name]);
        r.finish();
        assert_eq!(down.code, 0, "{down:?}");
    }
    batch.0.clear();
    out.into_iter()
        .map(|run| {
            let v = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"));
            (run, v)
        })
        .collect()
}

/// Waits until `pid` runs `comm` (it has exec'd it).
fn wait_exec(pid: &str, comm: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::fs::read_to_string(format!("/proc/{pid}/comm")).map_or(true, |c| c.trim() != comm) {
        assert!(std::time::Instant::now() < deadline, "pid {pid} did not exec {comm}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn diagnose(name: &str, extra: &str, script: &str) -> (Run, Value) {
    diagnose_all(&[(name, extra, script)]).remove(0)
}

fn ids(v: &Value) -> Vec<&str> {
    v["findings"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap()).collect()
}

fn finding<'v>(v: &'v Value, id: &str) -> &'v Value {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .unwrap_or_else(|| panic!("no {id}: {v:#}"))
}

/// The findings that are the jail's own: without every finding of the counters of a cgroup it
/// shares with the test runner (a jail without a limit of that controller gets no v1 cgroup of
/// it on a hybrid host), whose history is not the jail's.
fn own_ids(v: &Value) -> Vec<&str> {
    let shared = |f: &Value| {
        ["oom-kill", "fork-bomb", "cpu-throttle"].contains(&f["id"].as_str().unwrap())
            && !f["evidence"][0].as_str().unwrap().contains("/procjail/doctor-")
    };
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| !shared(f))
        .map(|f| f["id"].as_str().unwrap())
        .collect()
}

/// Exit 1 with a finding, 0 without.
fn exit_as_found(run: &Run, v: &Value) {
    assert_eq!(run.code, i32::from(!ids(v).is_empty()), "{run:?}");
}

/// A failing experiment's copy and its twin: the one has the finding (exit 1), the other has
/// none of its own at all (the twins run with procjail's defaults).
fn pair(failing: &(Run, Value), fixed: &(Run, Value), id: &str) {
    assert!(ids(&failing.1).contains(&id), "{id} not found: {:#}", failing.1["findings"]);
    assert_eq!(failing.0.code, 1, "{:?}", failing.0);
    let experiment = finding(&failing.1, id)["experiment"].as_str().unwrap();
    assert!(repo().join(format!("jails/{experiment}.toml")).exists(), "{experiment}");
    assert!(own_ids(&fixed.1).is_empty(), "the twin of {id} has findings: {:#}", fixed.1["findings"]);
    exit_as_found(&fixed.0, &fixed.1);
}

const FOREVER: &str = "echo ready; while :; do sleep 1; done";

#[test]
fn pid1_ignoring_sigterm_and_the_builtin_init() {
    let none = "[init]\nmode = \"none\"\ngrace = \"500ms\"";
    let runs = diagnose_all(&[("sigterm", none, FOREVER), ("sigterm-fixed", "", FOREVER)]);
    pair(&runs[0], &runs[1], "pid1-ignores-sigterm");
    let (failing, fixed) = (&runs[0].1, &runs[1].1);
    // Without an init the shell is PID 1, and doctor looks at it; with one, at the command.
    assert_eq!(
        (failing["facts"]["ns_pid"].as_i64(), failing["facts"]["pid1"]["is_it"].as_bool()),
        (Some(1), Some(true))
    );
    assert_eq!(fixed["facts"]["ns_pid"], 2);
    assert_eq!(fixed["facts"]["pid1"]["name"], "procjail");
    assert!(fixed["facts"]["pid1"]["sigterm"].as_str().unwrap().starts_with("waited for"), "{fixed:#}");
    let ev = finding(failing, "pid1-ignores-sigterm")["evidence"][0].as_str().unwrap();
    assert!(ev.contains("SigCgt 0000000000010002") && ev.contains("default action"), "{ev}");
    assert_eq!(failing["jail"], "doctor-sigterm");
}

#[test]
fn zombies_under_a_pid1_that_never_waits_and_none_under_the_init() {
    let script = "mkfifo /tmp/gate; for i in $(seq 100); do (cat /tmp/gate >/dev/null &); done; \
                  (sleep 1; : >/tmp/gate; sleep 1; echo ready) & exec sleep 60";
    let tmp = "[[mounts]]\ntype = \"tmpfs\"\ntarget = \"/tmp\"\n";
    let none = format!("{tmp}[init]\nmode = \"none\"\ngrace = \"500ms\"");
    let runs = diagnose_all(&[("zombies", &none, script), ("zombies-fixed", tmp, script)]);
    pair(&runs[0], &runs[1], "zombie-storm");
    let zombies = runs[0].1["facts"]["pid1"]["zombies"].as_array().unwrap();
    assert!(zombies.len() >= 100, "{zombies:?}");
    assert!(zombies.iter().filter(|z| z[1] == "cat").count() == 100, "{zombies:?}");
    assert_eq!(runs[1].1["facts"]["pid1"]["zombies"], serde_json::json!([]));
}

#[test]
fn an_oom_kill_counted_in_the_memory_cgroup() {
    let limit = "[limits]\nmemory = \"32MiB\"";
    let runs = diagnose_all(&[
        ("oom", limit, "tail /dev/zero; echo ready; exec sleep 60"),
        ("oom-fixed", limit, "head -c 1000000 /dev/zero | tail -c 10 >/dev/null; echo ready; exec sleep 60"),
    ]);
    pair(&runs[0], &runs[1], "oom-kill");
    let cgroups = runs[0].1["facts"]["cgroups"].as_array().unwrap();
    let memory = cgroups.iter().find(|c| c["oom_kills"].is_array()).unwrap();
    assert_eq!(memory["path"], "/procjail/doctor-oom");
    assert_eq!(memory["memory_limit"], "33554432");
    assert!(memory["oom_kills"][1].as_u64().unwrap() >= 1, "{memory:#}");
    let ev = finding(&runs[0].1, "oom-kill")["evidence"][0].as_str().unwrap();
    assert!(
        ev.ends_with("/memory.oom_control: oom_kill 1") || ev.ends_with("/memory.events: oom_kill 1"),
        "{ev}"
    );
}

#[test]
fn forks_refused_at_pids_max() {
    let limit = "[limits]\npids = 64";
    let forks = |n: u32| {
        format!(
            "(i=0; while [ $i -lt {n} ]; do sleep 60 & i=$((i+1)); done) 2>/dev/null; echo ready; exec sleep 60"
        )
    };
    let runs = diagnose_all(&[("forks", limit, &forks(100)), ("forks-fixed", limit, &forks(10))]);
    pair(&runs[0], &runs[1], "fork-bomb");
    let pids =
        runs[0].1["facts"]["cgroups"].as_array().unwrap().iter().find(|c| c["pids_limit"] == "64").unwrap();
    assert!(pids["forks_refused"].as_u64().unwrap() >= 1, "{pids:#}");
    assert!(finding(&runs[0].1, "fork-bomb")["evidence"][0].as_str().unwrap().contains("/pids.events: max "));
}

#[test]
fn cpu_throttled_by_its_quota() {
    // The same busy loop under a fifth of a CPU, and under a quota above what one thread uses.
    let busy = "timeout 1 sh -c 'while :; do :; done'; echo ready; exec sleep 60";
    let runs =
        diagnose_all(&[("cpu", "[limits]\ncpus = 0.2", busy), ("cpu-fixed", "[limits]\ncpus = 2", busy)]);
    pair(&runs[0], &runs[1], "cpu-throttle");
    let cpu =
        runs[0].1["facts"]["cgroups"].as_array().unwrap().iter().find(|c| c["cpu_quota"].is_array()).unwrap();
    assert_eq!(cpu["cpu_quota"], serde_json::json!([20000, 100000]));
    assert!(
        cpu["cpu_throttled"].as_u64().unwrap() > 0 && cpu["cpu_throttled_us"].as_u64().unwrap() > 0,
        "{cpu:#}"
    );
}

#[test]
fn descriptors_near_rlimit_nofile() {
    let limit = "[limits]\nnofile = 64";
    let open = |n: u32| {
        format!(
            "i=3; while [ $i -lt {n} ]; do eval \"exec $i</dev/null\"; i=$((i+1)); done; echo ready; exec sleep 60"
        )
    };
    let runs = diagnose_all(&[("nofile", limit, &open(56)), ("nofile-fixed", limit, &open(10))]);
    pair(&runs[0], &runs[1], "nofile");
    let fds = &runs[0].1["facts"]["fds"];
    assert_eq!((fds["open"].as_u64(), fds["soft_limit"].as_u64()), (Some(56), Some(64)));
}

#[test]
fn the_escape_class_and_the_defaults() {
    let security = |s: &str| format!("[security]\n{s}");
    let runs = diagnose_all(&[
        ("masked-off", &security("masked_paths = []"), FOREVER),
        ("ro-off", &security("readonly_paths = []"), FOREVER),
        ("seccomp-off", &security("seccomp = \"none\""), FOREVER),
        (
            "caps-off",
            &security("capabilities = { add = [\"CAP_SYS_ADMIN\"] }\nno_new_privs = false"),
            FOREVER,
        ),
        ("defaults", "", FOREVER),
    ]);
    assert_eq!(own_ids(&runs[0].1), ["masked-paths"]);
    let masked = finding(&runs[0].1, "masked-paths")["evidence"].to_string();
    assert!(masked.contains("/proc/kallsyms not masked (proc /proc)"), "{masked}");
    assert_eq!(own_ids(&runs[1].1), ["readonly-paths"]);
    assert!(
        finding(&runs[1].1, "readonly-paths")["evidence"]
            .to_string()
            .contains("/proc/sys writable (proc /proc rw)")
    );
    assert_eq!(own_ids(&runs[2].1), ["seccomp"]);
    assert_eq!(own_ids(&runs[3].1), ["capabilities", "no-new-privs"]);
    assert!(finding(&runs[3].1, "capabilities")["what"].as_str().unwrap().ends_with(": CAP_SYS_ADMIN"));
    // procjail's defaults: podman's 11, no_new_privs, seccomp, the masks and read-only paths.
    let defaults = &runs[4];
    assert!(own_ids(&defaults.1).is_empty(), "{:#}", defaults.1["findings"]);
    exit_as_found(&defaults.0, &defaults.1);
    let f = &defaults.1["facts"];
    assert_eq!(f["caps"]["bounding"]["hex"], "00000000800405fb");
    assert_eq!((f["no_new_privs"].as_bool(), f["seccomp"]["mode"].as_u64()), (Some(true), Some(2)));
    let sys = f["paths"].as_array().unwrap().iter().find(|p| p["path"] == "/proc/sys").unwrap();
    assert_eq!(sys["is"], "read-only");
    for (run, _) in &runs {
        assert!(run.stderr.is_empty(), "{run:?}");
    }
}

/// A process of the host in a mount namespace of its own, rooted in the rootfs by chroot, that
/// kept a descriptor of the host's /sys/fs/cgroup open (runc's CVE-2024-21626).
#[test]
fn a_descriptor_leaked_from_the_host_and_the_jail_that_closes_them() {
    require_root();
    let before = Snapshot::take(Path::new("doctor-fd-leak"));
    let script =
        format!("exec 7</sys/fs/cgroup; exec unshare -m chroot {} /bin/sleep 60", rootfs().display());
    let mut child = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    wait_exec(&pid, "sleep");
    let run = procjail(&["doctor", "--json", &pid]);
    let _ = child.kill();
    let _ = child.wait();
    Snapshot::take(Path::new("doctor-fd-leak")).assert_same(&before, &run);
    let v: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"));
    assert_eq!(run.code, 1);
    let leak = finding(&v, "fd-leak")["evidence"].to_string();
    assert!(leak.contains(&format!("/proc/{pid}/fd/7 -> /sys/fs/cgroup: fdinfo mnt_id ")), "{leak}");
    // The fd-leak experiment's settings (procjail's defaults): 0, 1 and 2 only.
    let (run, v) = diagnose("fd-leak", "", "echo ready; exec sleep 60");
    assert_eq!(v["facts"]["fds"]["open"].as_u64(), Some(3), "{v:#}");
    assert!(own_ids(&v).is_empty(), "{:#}", v["findings"]);
    exit_as_found(&run, &v);
}

/// A tmpfs of the host made shared, unmounted when the test ends, however it ends.
struct SharedMount(PathBuf);

impl SharedMount {
    fn new(dir: &Path) -> SharedMount {
        use nix::mount::{MsFlags, mount};
        mount(Some(TEST_MOUNT), dir, Some("tmpfs"), MsFlags::empty(), None::<&str>).expect("mount a tmpfs");
        let shared = SharedMount(dir.to_path_buf());
        mount(None::<&str>, dir, None::<&str>, MsFlags::MS_SHARED, None::<&str>).expect("make it shared");
        shared
    }
}

impl Drop for SharedMount {
    fn drop(&mut self) {
        let _ = nix::mount::umount(&self.0);
    }
}

#[test]
fn a_mount_shared_with_the_host_and_the_jail_that_makes_it_a_slave() {
    require_root();
    let dir = tempfile::Builder::new().prefix("procjail-doctor-").tempdir().unwrap();
    let before = Snapshot::take(Path::new("doctor-shared"));
    let shared = SharedMount::new(dir.path());
    std::fs::create_dir(shared.0.join("data")).unwrap();
    // A runtime that made its mounts shared, or never made them slaves (on a host whose / is
    // shared): the copy of the tmpfs in its namespace is a peer of the host's.
    let mut child =
        Command::new("unshare").args(["-m", "--propagation", "shared", "sleep", "60"]).spawn().unwrap();
    let pid = child.id().to_string();
    wait_exec(&pid, "sleep");
    let run = procjail(&["doctor", "--json", &pid]);
    let _ = child.kill();
    let _ = child.wait();
    let v: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"));
    let ev = finding(&v, "mount-propagation")["evidence"].to_string();
    assert!(ev.contains(&format!("{} shared:", shared.0.display())), "{ev}");
    // The mount-propagation experiment's settings, its data bound from the shared tmpfs: a slave.
    let extra = format!(
        "[[mounts]]\ntype = \"bind\"\nsource = \"{}/data\"\ntarget = \"/mnt\"\n[security]\ncapabilities = {{ add = [\"CAP_SYS_ADMIN\"] }}",
        shared.0.display()
    );
    let script = "mkdir /mnt/inside && mount -t tmpfs inside /mnt/inside && echo ready; exec sleep 60";
    let (run, v) = diagnose("propagation", &extra, script);
    assert_eq!(own_ids(&v), ["capabilities"], "{run:?}");
    let mnt = v["facts"]["mounts"].as_array().unwrap().iter().find(|m| m["point"] == "/mnt").unwrap();
    assert!(mnt["propagation"].as_str().unwrap().starts_with("master:"), "{mnt:#}");
    drop(shared);
    Snapshot::take(Path::new("doctor-shared")).assert_same(&before, &run);
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&format!(" {} ", dir.path().display())), "the shared tmpfs is still mounted");
}

/// procjail's rlimits of a "Max ..." line, as the JSON has them.
fn rlimit(v: &Value, name: &str) -> (Option<u64>, Option<u64>) {
    let l = v["facts"]["rlimits"].as_array().unwrap().iter().find(|l| l["name"] == name).unwrap();
    (l["soft"].as_u64(), l["hard"].as_u64())
}

#[test]
fn a_plain_process_of_the_host() {
    require_root();
    let mut child = Command::new("sleep").arg("60").spawn().unwrap();
    let pid = child.id().to_string();
    let json = procjail(&["doctor", "--json", &pid]);
    let text = procjail(&["doctor", &pid]);
    let _ = child.kill();
    let _ = child.wait();
    let v: Value = serde_json::from_str(&json.stdout).unwrap_or_else(|e| panic!("{e}: {json:?}"));
    let ns = v["facts"]["namespaces"].as_array().unwrap();
    assert!(ns.len() >= 7 && ns.iter().all(|n| n["shared"] == true), "{ns:#?}");
    for n in ns {
        let line = format!(
            "{:<7} {:<22} shared with the host",
            n["name"].as_str().unwrap(),
            n["id"].as_str().unwrap()
        );
        assert!(text.stdout.contains(&line), "{line}\n{text:?}");
    }
    let found = ids(&v);
    assert_eq!(json.code, i32::from(!found.is_empty()), "{json:?}");
    assert_eq!(text.code, json.code);
    // PID 1's duties and propagation are the host's own business; its capabilities are root's.
    for id in ["pid1-ignores-sigterm", "zombie-storm", "mount-propagation", "userns-root"] {
        assert!(!found.contains(&id), "{found:?}");
    }
    let caps = std::fs::read_to_string(format!("/proc/{}/status", std::process::id())).unwrap();
    assert_eq!(found.contains(&"capabilities"), !caps.contains("CapEff:\t00000000800405fb"));
    assert!(rlimit(&v, "Max open files").0.is_some());
    assert!(text.stdout.contains("\nnamespaces (compared with "), "{text:?}");
}

/// The syscalls of `procjail doctor` that change nothing: reads, the runtime's own setup, and
/// its output.
const READ_ONLY: &[&str] = &[
    "access",
    "arch_prctl",
    "brk",
    "close",
    "execve",
    "exit_group",
    "fstat",
    "futex",
    "getdents64",
    "geteuid",
    "getrandom",
    "gettid",
    "getuid",
    "lseek",
    "mmap",
    "mprotect",
    "munmap",
    "newfstatat",
    "openat",
    "openat2",
    "poll",
    "pread64",
    "prlimit64",
    "read",
    "readlink",
    "readlinkat",
    "rseq",
    "rt_sigaction",
    "rt_sigprocmask",
    "sched_getaffinity",
    "set_robust_list",
    "set_tid_address",
    "sigaltstack",
    "statx",
    "write",
];

#[test]
fn doctor_only_reads() {
    require_root();
    let mut child = Command::new("sleep").arg("60").spawn().unwrap();
    let trace = tempfile::NamedTempFile::new().unwrap();
    let out = Command::new("strace")
        .args(["-f", "-qq", "-o"])
        .arg(trace.path())
        .args([bin(), "doctor", &child.id().to_string()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(trace.path()).unwrap();
    for line in text.lines().filter(|l| !l.contains("resumed>")) {
        let call = line.split_whitespace().nth(1).and_then(|c| c.split('(').next()).unwrap_or("");
        assert!(READ_ONLY.contains(&call), "doctor made {call}: {line}");
        let writes = ["O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC"].iter().any(|f| line.contains(f));
        assert!(!(call.starts_with("open") && writes), "{line}");
        assert!(call != "write" || line.contains("write(1, "), "{line}");
        // prlimit64(0, RESOURCE, NULL, &old): a read of its own limit.
        assert!(call != "prlimit64" || line.contains(", NULL, "), "{line}");
    }
}

#[test]
fn what_cannot_be_read_exits_125_and_says_why() {
    let pid_max: u64 = std::fs::read_to_string("/proc/sys/kernel/pid_max").unwrap().trim().parse().unwrap();
    let missing = (pid_max + 1).to_string();
    let run = procjail(&["doctor", &missing]);
    assert_eq!(run.code, 125, "{run:?}");
    assert!(
        run.stderr.starts_with(&format!("procjail: no process {missing} in the pid namespace")),
        "{run:?}"
    );
    assert_eq!(run.stderr.lines().count(), 1, "printed once: {run:?}");
    assert!(run.stdout.is_empty());
    let run = procjail(&["doctor", "doctor-not-running"]);
    assert_eq!(run.code, 125, "{run:?}");
    assert!(run.stderr.contains("no jail named \"doctor-not-running\" is running"), "{run:?}");
    // Not root: nobody may not read another process's ns, fd and root.
    use std::os::unix::process::CommandExt;
    let out = Command::new(bin())
        .args(["doctor", &std::process::id().to_string()])
        .uid(65534)
        .gid(65534)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let run = Run::from(out);
    assert_eq!(run.code, 125, "{run:?}");
    assert!(run.stderr.contains("procjail doctor needs root") && run.stderr.contains("uid 65534"), "{run:?}");
}

/// The names of a capability list of runc's config.json, as doctor prints them (number order).
fn cap_names(v: &Value) -> Vec<String> {
    let mut names: Vec<String> =
        v.as_array().into_iter().flatten().map(|c| c.as_str().unwrap().to_string()).collect();
    names.sort_by_key(|n| procjail::host::caps::number(n));
    names
}

/// A container of Debian's runc, deleted when the test ends, however it ends.
struct RuncContainer(String);

impl Drop for RuncContainer {
    fn drop(&mut self) {
        let _ = Command::new("runc").args(["delete", "-f", &self.0]).status();
    }
}

#[test]
fn a_container_of_runc_as_its_config_says() {
    require_root();
    let runc = Command::new("runc").arg("--version").output();
    assert!(
        runc.is_ok_and(|o| o.status.success()),
        "runc is missing: .ci/run installs it (apt-get install runc)"
    );
    let bundle = tempfile::Builder::new().prefix("procjail-doctor-runc-").tempdir().unwrap();
    let before = Snapshot::take(Path::new("doctor-runc"));
    assert!(Command::new("runc").arg("spec").current_dir(bundle.path()).status().unwrap().success());
    let made = procjail(&["rootfs", "busybox", &bundle.path().join("rootfs").display().to_string()]);
    assert_eq!(made.code, 0, "{made:?}");
    let config_path = bundle.path().join("config.json");
    let mut config: Value = serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    config["process"]["args"] = serde_json::json!(["sleep", "60"]);
    config["process"]["terminal"] = Value::Bool(false);
    std::fs::write(&config_path, config.to_string()).unwrap();
    let id = format!("doctor-runc-{}", std::process::id());
    let container = RuncContainer(id.clone());
    let pid_file = bundle.path().join("pid");
    let status = Command::new("runc")
        .args(["run", "-d", "--pid-file"])
        .arg(&pid_file)
        .arg(&id)
        .current_dir(bundle.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "runc run -d failed");
    let pid = std::fs::read_to_string(&pid_file).unwrap().trim().to_string();
    let run = procjail(&["doctor", "--json", &pid]);
    let v: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"));
    let dirs: Vec<String> = v["facts"]["cgroups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["dir"].as_str().unwrap().to_string())
        .collect();
    drop(container);
    for dir in dirs.iter().filter(|d| d.contains(&id)) {
        assert!(!Path::new(dir).exists(), "runc delete left {dir}");
    }
    Snapshot::take(Path::new("doctor-runc")).assert_same(&before, &run);
    runc_facts(&config, &v);
    runc_findings(&config, &v);
    assert_eq!(run.code, 1);
}

/// The facts doctor read, as runc's config.json says.
fn runc_facts(config: &Value, v: &Value) {
    let (caps, f) = (&config["process"]["capabilities"], &v["facts"]);
    for set in ["bounding", "effective", "permitted"] {
        assert_eq!(cap_names(&f["caps"][set]["names"]), cap_names(&caps[set]), "{set}");
    }
    // The kernel keeps an ambient capability only if it is inheritable too.
    let inheritable = cap_names(&caps["inheritable"]);
    let ambient: Vec<String> =
        cap_names(&caps["ambient"]).into_iter().filter(|c| inheritable.contains(c)).collect();
    assert_eq!(cap_names(&f["caps"]["ambient"]["names"]), ambient);
    assert_eq!(f["no_new_privs"], config["process"]["noNewPrivileges"]);
    let own: Vec<&str> = config["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| match n["type"].as_str().unwrap() {
            "network" => "net",
            "mount" => "mnt",
            other => other,
        })
        .collect();
    for n in f["namespaces"].as_array().unwrap() {
        let name = n["name"].as_str().unwrap();
        assert_eq!(n["shared"], !own.contains(&name), "{name}");
    }
    let nofile = config["process"]["rlimits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "RLIMIT_NOFILE")
        .unwrap();
    assert_eq!(rlimit(v, "Max open files"), (nofile["soft"].as_u64(), nofile["hard"].as_u64()));
    assert_eq!(f["ns_pid"], 1, "sleep is the container's PID 1");
    assert_eq!(f["seccomp"]["mode"], if config["linux"]["seccomp"].is_null() { 0 } else { 2 });
}

/// The findings runc's config deserves: capabilities beyond podman's 11, no seccomp, procjail's
/// masked paths it does not mask (where this kernel has them), sleep as PID 1.
fn runc_findings(config: &Value, v: &Value) {
    let podman = procjail::host::caps::set(procjail::host::caps::DEFAULT);
    let caps = &config["process"]["capabilities"];
    let all: u64 = ["bounding", "effective", "permitted"]
        .iter()
        .flat_map(|s| cap_names(&caps[*s]))
        .fold(0, |s, n| s | procjail::host::caps::bit(&n));
    let listed = |key: &str| -> Vec<String> {
        config["linux"][key].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string()).collect()
    };
    let unmasked: Vec<&str> = procjail::spec::MASKED
        .iter()
        .copied()
        .filter(|p| !listed("maskedPaths").iter().any(|m| m == p) && Path::new(p).exists())
        .collect();
    let unprotected = procjail::spec::READONLY
        .iter()
        .any(|p| !listed("readonlyPaths").iter().any(|m| m == p) && Path::new(p).exists());
    let mut deserved = vec!["pid1-ignores-sigterm"];
    deserved.extend((all & !podman != 0).then_some("capabilities"));
    deserved.extend((config["process"]["noNewPrivileges"] != true).then_some("no-new-privs"));
    deserved.extend(config["linux"]["seccomp"].is_null().then_some("seccomp"));
    deserved.extend(unprotected.then_some("readonly-paths"));
    deserved.extend((!unmasked.is_empty()).then_some("masked-paths"));
    assert_eq!(ids(v), deserved, "{:#}", v["findings"]);
    if !unmasked.is_empty() {
        let ev = finding(v, "masked-paths")["evidence"].as_array().unwrap().len();
        assert_eq!(ev, unmasked.len(), "{unmasked:?}: {:#}", v["findings"]);
    }
}
