//! `[limits]` on the real cgroupfs of this host (hybrid here; pure v2 in tests/vm): memory and
//! OOM kills told apart from kill -9, pids, cpu, rlimits; no cgroup left afterwards.

use crate::common::*;

fn limited(name: &str, limits: &str, script: &str) -> Jail {
    let script = script.replace('\\', "\\\\").replace('"', "\\\"");
    jail(
        name,
        &format!(
            "[rootfs]\npath = \"{{rootfs}}\"\n[init]\ngrace = \"200ms\"\n[limits]\n{limits}\n[command]\nargv = [\"/bin/sh\", \"-c\", \"{script}\"]\n"
        ),
    )
}

/// `up --json-report` and the report it wrote.
fn up_report(j: &Jail, extra: &[&str]) -> (Run, serde_json::Value) {
    let report = j.dir.path().join("report.json");
    let mut args = vec!["--json-report", report.to_str().unwrap()];
    args.extend_from_slice(extra);
    let run = up_with(j, &args);
    let json =
        std::fs::read_to_string(&report).map(|t| serde_json::from_str(&t).unwrap()).unwrap_or_default();
    (run, json)
}

/// Allocates about `mib` MiB in the shell (a variable that holds it).
fn allocate(mib: u32) -> String {
    format!("x=$(head -c {} /dev/zero | tr '\\0' a); echo survived", mib << 20)
}

#[test]
fn an_allocation_beyond_memory_is_oom_killed_and_reported_as_oom() {
    let j = limited("oom", "memory = \"32MiB\"", &allocate(200));
    let (run, report) = up_report(&j, &[]);
    assert_eq!(run.code, 137, "{run:?}");
    assert!(!run.stdout.contains("survived"), "{run:?}");
    assert_eq!(report["oom_killed"], true, "{report:#}");
    assert!(report["oom_kills"].as_u64().unwrap() >= 1, "{report:#}");
    assert!(run.stderr.contains("OOM-killed at its memory limit (memory."), "{run:?}");
    assert!(run.stderr.contains("= 32MiB"), "{run:?}");
}

#[test]
fn kill_9_is_reported_as_a_signal_not_as_oom() {
    let j = limited("kill9", "memory = \"32MiB\"", "kill -9 $$");
    let (run, report) = up_report(&j, &[]);
    assert_eq!(run.code, 137, "{run:?}");
    assert_eq!(report["oom_killed"], false, "{report:#}");
    assert_eq!(report["oom_kills"], 0, "{report:#}");
    assert_eq!(report["command_signal"], "SIGKILL", "{report:#}");
    assert!(run.stderr.contains("the command was killed by SIGKILL: exit 137"), "{run:?}");
}

#[test]
fn an_allocation_under_the_limit_survives() {
    let j = limited("no-oom", "memory = \"64MiB\"", &allocate(8));
    let (run, report) = up_report(&j, &[]);
    assert_eq!((run.code, run.stdout.as_str()), (0, "survived\n"), "{run:?}");
    assert_eq!(report["oom_killed"], false);
    assert!(report["memory_peak"].as_u64().unwrap() > 8 << 20, "{report:#}");
}

#[test]
fn a_fork_loop_stops_at_pids() {
    let j = limited("forks", "pids = 10", "for i in $(seq 30); do sleep 5 & done; echo forked");
    let (run, report) = up_report(&j, &[]);
    // The shell itself gives up (exit 2) when a fork fails.
    assert!(run.stderr.contains("can't fork"), "{run:?}");
    assert!(report["pids_max_hit"].as_u64().unwrap() > 0, "{report:#}");
    assert!(run.stderr.contains("pids limit 10 hit"), "{run:?}");
}

#[test]
fn half_a_cpu_gets_about_half_a_cpu() {
    let j = limited("cpu-half", "cpus = 0.5", "timeout 1 sh -c 'while :; do :; done'; true");
    let (run, report) = up_report(&j, &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let cpu = report["user_cpu_ms"].as_u64().unwrap() + report["system_cpu_ms"].as_u64().unwrap();
    assert!(cpu < 700, "{cpu} ms of CPU in 1 s at cpus = 0.5: {report:#}");
    assert!(cpu > 200, "{cpu} ms of CPU: did the loop run? {report:#}");
}

#[test]
fn nofile_caps_open_files() {
    let j = limited("nofile", "nofile = 64", "ulimit -n; ulimit -Hn; exec 70>/dev/null && echo opened");
    let run = up(&j);
    assert_ne!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "64\n64\n", "{run:?}");
}

#[test]
fn raising_a_hard_limit_without_cap_sys_resource_is_refused_clearly() {
    use procjail::host::{CgroupKind, Host};
    let mut host = Host::standard(CgroupKind::Hybrid);
    host.cap_sys_resource = false;
    host.hard_limits.insert("nofile".into(), 1024);
    let text = format!(
        "[rootfs]\npath = \"{}\"\n[limits]\nnofile = 4096\n[command]\nargv = [\"/bin/true\"]\n",
        rootfs().display()
    );
    let e = procjail::spec::from_str(std::path::Path::new("/tmp/j.toml"), &text, &host).unwrap_err();
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].key, "limits.nofile");
    assert!(e[0].message.contains("above procjail's hard limit 1024"), "{:?}", e[0]);
    assert!(e[0].message.contains("without CAP_SYS_RESOURCE"), "{:?}", e[0]);
}

#[test]
fn the_cgroup_is_there_while_the_jail_runs_and_gone_after() {
    // The command sees its own cgroup (the cgroup namespace makes it "/").
    let j = limited("cg-live", "memory = \"48MiB\"", "cat /proc/self/cgroup");
    let run = up(&j);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.lines().all(|l| l.ends_with(":/")), "{run:?}");
}

#[test]
fn a_cgroup_left_by_a_killed_supervisor_is_reclaimed_by_the_next_run() {
    let j = limited("reclaim", "pids = 16", "true");
    // The jail's cgroups, as its plan makes them, left over as a killed supervisor leaves them.
    let plan = procjail(&["plan", "--json", j.file.to_str().unwrap()]);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let leftover: Vec<std::path::PathBuf> = plan["phases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["steps"].as_array().unwrap())
        .filter(|s| s["op"] == "rmdir" && s["when"][0]["exists"].is_string())
        .map(|s| s["path"].as_str().unwrap().into())
        .collect();
    assert!(!leftover.is_empty());
    for dir in &leftover {
        std::fs::create_dir_all(dir).unwrap();
    }
    let run = up(&j);
    assert_eq!(run.code, 0, "{run:?}");
    for dir in &leftover {
        assert!(!dir.exists(), "{} left", dir.display());
    }
}
