//! Day-2 tools on running jails: ps, inspect, exec, kill, down, a second up of a running name,
//! and audit / gc after a supervisor killed at several points.

use std::time::{Duration, Instant};

use crate::common::*;

fn sleeper(name: &str, extra: &str) -> Jail {
    jail(
        name,
        &format!(
            "hostname = \"{name}\"\n[rootfs]\npath = \"{{rootfs}}\"\n{extra}\n[init]\ngrace = \"1s\"\n[command]\nargv = [\"/bin/sh\", \"-c\", \"echo ready; sleep 60\"]\n"
        ),
    )
}

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"))
}

#[test]
fn two_jails_at_once_show_in_ps_and_go_down() {
    let (a, b) = (sleeper("day2-a", "[limits]\npids = 20"), sleeper("day2-b", ""));
    let mut ra = spawn_up(&a, &[]);
    let mut rb = spawn_up(&b, &[]);
    ra.wait_for("ready");
    rb.wait_for("ready");
    let ps = json(&procjail(&["ps", "--json"]));
    let names: Vec<&str> =
        ps["jails"].as_array().unwrap().iter().filter_map(|j| j["name"].as_str()).collect();
    assert!(names.contains(&"day2-a") && names.contains(&"day2-b"), "{ps:#}");
    let a_row = ps["jails"].as_array().unwrap().iter().find(|j| j["name"] == "day2-a").unwrap();
    assert_eq!(a_row["pid"].as_u64().unwrap() as u32, ra.child.id());
    assert_eq!(a_row["pids_limit"], "20", "limits are strings in JSON");
    assert_eq!(a_row["command"], "/bin/sh -c echo ready; sleep 60");
    let text = procjail(&["ps"]);
    assert!(text.stdout.lines().any(|l| l.starts_with("day2-a ") && l.contains("/20")), "{text:?}");
    assert!(text.stdout.lines().any(|l| l.starts_with("day2-b ")), "{text:?}");
    assert_eq!(procjail(&["down", "day2-a"]).code, 0);
    assert_eq!(procjail(&["down", "day2-b"]).code, 0);
    assert_eq!(ra.finish().code, 143);
    assert_eq!(rb.finish().code, 143);
}

#[test]
fn inspect_matches_proc_and_cgroupfs() {
    let j = sleeper("day2-inspect", "[limits]\nmemory = \"48MiB\"\npids = 20");
    let mut r = spawn_up(&j, &[]);
    r.wait_for("ready");
    let v = json(&procjail(&["inspect", "--json", "day2-inspect"]));
    let init = v["init_pid"].as_i64().unwrap();
    for ns in ["mnt", "uts", "ipc", "pid", "net", "cgroup"] {
        let real = std::fs::read_link(format!("/proc/{init}/ns/{ns}")).unwrap().display().to_string();
        assert_eq!(v["namespaces"][ns]["jail"], real.as_str(), "{ns}");
        assert_ne!(v["namespaces"][ns]["jail"], v["namespaces"][ns]["host"], "{ns}");
    }
    let procs = v["processes"].as_array().unwrap();
    assert!(procs.iter().any(|p| p["jail_pid"] == 1 && p["pid"] == init), "{procs:?}");
    assert!(procs.iter().any(|p| p["command"] == "sleep 60"), "{procs:?}");
    let cgroups = v["cgroups"].as_object().unwrap();
    assert!(!cgroups.is_empty());
    for (dir, files) in cgroups {
        let procs_file = std::fs::read_to_string(format!("{dir}/cgroup.procs")).unwrap();
        assert_eq!(files["cgroup.procs"].as_str().unwrap(), procs_file.trim(), "{dir}");
        if let Some(max) = files.get("pids.max") {
            assert_eq!(max, "20");
        }
    }
    assert!(v["mounts"].as_array().unwrap().iter().any(|m| m["target"] == "/proc" && m["fstype"] == "proc"));
    // The plan, which the supervisor writes into NAME.json once the jail has run 100 ms (its
    // first write leaves it out), is the one `plan --json` prints for the file.
    assert_eq!(v["plan"]["jail"], "day2-inspect");
    let planned = json(&procjail(&["plan", "--json", j.file.to_str().unwrap()]));
    assert_eq!(v["plan"]["phases"], planned["phases"]);
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("/run/procjail/day2-inspect.json").unwrap()).unwrap();
    assert_eq!(saved["plan"], v["plan"]);
    assert_eq!(saved["builtin_init"], true);
    // The kernel's answer for the running command matches the plan, row by row.
    let rows = v["verification"]["rows"].as_array().unwrap_or_else(|| panic!("no verification: {v:#}"));
    assert!(rows.len() > 40, "{rows:?}");
    assert!(rows.iter().all(|r| r["ok"] == true), "{rows:#?}");
    let text = procjail(&["inspect", "day2-inspect"]);
    assert!(text.stdout.contains("namespaces (jail / host)"), "{text:?}");
    assert_eq!(procjail(&["kill", "day2-inspect"]).code, 0);
    assert_eq!(r.finish().code, 143);
}

#[test]
fn exec_sees_the_jail_and_is_counted_in_its_cgroup() {
    let j = sleeper("day2-exec", "[[mounts]]\ntype = \"tmpfs\"\ntarget = \"/scratch\"");
    let mut r = spawn_up(&j, &[]);
    r.wait_for("ready");
    let script = "hostname; ps -o pid,comm | grep -E '^ +(1|2) '; grep -c ' /scratch ' /proc/self/mountinfo; \
                  tail -1 /proc/self/cgroup; ls /proc/$$/fd; true";
    let run = procjail(&["exec", "day2-exec", "--", "/bin/sh", "-c", script]);
    assert_eq!(run.code, 0, "{run:?}");
    // Its hostname, its processes (the init is PID 1, the jail's command PID 2), its mounts,
    // its cgroup (the root of its cgroup namespace), and nothing but 0, 1, 2 open.
    assert_eq!(run.stdout, "day2-exec\n    1 procjail\n    2 sleep\n1\n0::/\n0\n1\n2\n", "{run:?}");
    // From the host: while an exec runs, its processes are in the jail's cgroup.
    let before = jail_processes("day2-exec").len();
    let mut exec = std::process::Command::new(bin())
        .args(["exec", "day2-exec", "--", "/bin/sleep", "1"])
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while jail_processes("day2-exec").len() < before + 2 {
        assert!(Instant::now() < deadline, "exec not counted in the jail's cgroup");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(exec.wait().unwrap().success());
    // Exit codes as for up.
    assert_eq!(procjail(&["exec", "day2-exec", "--", "/bin/sh", "-c", "exit 7"]).code, 7);
    let missing = procjail(&["exec", "day2-exec", "--", "/bin/nope"]);
    assert_eq!(missing.code, 127, "{missing:?}");
    assert!(missing.stderr.contains("[command] execve(\"/bin/nope\""), "{missing:?}");
    let traced = procjail(&["exec", "--trace", "day2-exec", "--", "/bin/true"]);
    assert!(traced.stderr.contains("[parent] setns(mntfd, CLONE_NEWNS) = ok"), "{traced:?}");
    assert!(traced.stderr.contains("[parent] prctl(PR_SET_DUMPABLE, 0) = ok"), "{traced:?}");
    assert_eq!(procjail(&["kill", "day2-exec", "KILL", "--all"]).code, 0);
    assert_eq!(r.finish().code, 137);
}

#[test]
fn a_second_up_of_a_running_name_fails_and_leaves_the_first_alone() {
    let j = sleeper("day2-twice", "[limits]\npids = 20");
    let mut first = spawn_up(&j, &[]);
    first.wait_for("ready");
    let second = procjail(&["up", j.file.to_str().unwrap()]);
    assert_eq!(second.code, 125, "{second:?}");
    assert!(second.stderr.contains("a jail of this name is running"), "{second:?}");
    assert!(second.stderr.contains(&format!("procjail pid {}", first.child.id())), "{second:?}");
    assert_eq!(second.stderr.matches("a jail of this name is running").count(), 1, "{second:?}");
    // The first is untouched: still listed, its cgroups and state still there.
    let ps = json(&procjail(&["ps", "--json"]));
    assert!(ps["jails"].as_array().unwrap().iter().any(|j| j["name"] == "day2-twice"));
    assert!(!jail_processes("day2-twice").is_empty());
    assert_eq!(procjail(&["down", "day2-twice"]).code, 0);
    assert_eq!(first.finish().code, 143);
}

#[test]
fn audit_and_gc_clean_up_after_a_supervisor_killed_at_any_point() {
    // A jail that ends by itself within a second, for the failpoints in teardown.
    let j = jail(
        "day2-killed",
        "[rootfs]\npath = \"{rootfs}\"\n[limits]\nmemory = \"48MiB\"\npids = 20\n[command]\nargv = [\"/bin/sleep\", \"1\"]\n",
    );
    let steps = plan_steps(&j.file);
    let at = |op: &str| steps.iter().find(|s| s["op"] == op).unwrap()["index"].as_u64().unwrap().to_string();
    let write = steps.iter().find(|s| s["op"] == "write").unwrap()["index"].as_u64().unwrap().to_string();
    let lock = at("lock");
    // make_netns: the child waits for the net namespace the supervisor makes (as root).
    let points =
        [lock.clone(), write, at("clone"), at("make_netns"), at("save_state"), at("wait"), at("kill_cgroup")];
    for point in points {
        let before = Snapshot::take(&j.file);
        let out = std::process::Command::new(bin())
            .args(["up", j.file.to_str().unwrap()])
            .env("PROCJAIL_FAILPOINT", &point)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            None,
            "killed at step {point}: {:?}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The jail dies with its supervisor.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !jail_processes("day2-killed").is_empty() {
            assert!(Instant::now() < deadline, "jail processes outlived the supervisor (step {point})");
            std::thread::sleep(Duration::from_millis(20));
        }
        let audit = procjail(&["audit", "day2-killed"]);
        if point == lock {
            // Killed before it took the lock, it had made nothing yet.
            assert_eq!((audit.code, audit.stdout.as_str()), (0, "nothing left by procjail\n"), "{audit:?}");
            Snapshot::take(&j.file).assert_same(&before, &audit);
            continue;
        }
        assert_eq!(audit.code, 1, "step {point}: {audit:?}");
        // Killed after it took the lock: its lock is left, and its state from the step that
        // writes it on.
        assert!(audit.stdout.contains("stale state: /run/procjail/day2-killed."), "step {point}: {audit:?}");
        assert!(audit.stdout.contains("/run/procjail/day2-killed.lock"), "step {point}: {audit:?}");
        let gc = procjail(&["gc", "day2-killed"]);
        assert_eq!(gc.code, 0, "step {point}: {gc:?}");
        let audit = procjail(&["audit", "day2-killed"]);
        assert_eq!((audit.code, audit.stdout.as_str()), (0, "nothing left by procjail\n"), "step {point}");
        Snapshot::take(&j.file).assert_same(&before, &audit);
    }
}

#[test]
fn gc_removes_the_state_folder_an_older_procjail_left() {
    // Before state was NAME.lock and NAME.json, it was a folder: NAME/lock, NAME/state.json.
    let dir = std::path::Path::new("/run/procjail/day2-older");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("lock"), "").unwrap();
    std::fs::write(dir.join("state.json"), "{}").unwrap();
    let audit = procjail(&["audit", "day2-older"]);
    assert_eq!(audit.code, 1, "{audit:?}");
    let want = "stale state: /run/procjail/day2-older/lock, /run/procjail/day2-older/state.json, /run/procjail/day2-older\n";
    assert!(audit.stdout.contains(want), "{audit:?}");
    assert_eq!(procjail(&["gc", "day2-older"]).code, 0);
    assert!(!dir.exists(), "{} is still there", dir.display());
    let audit = procjail(&["audit", "day2-older"]);
    assert_eq!((audit.code, audit.stdout.as_str()), (0, "nothing left by procjail\n"));
}
