//! PID 1 done right: the built-in init forwards signals, reaps zombies, ends what is left;
//! the supervisor forwards, times out, and takes the jail with it when it is killed.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::common::*;

#[test]
fn exit_codes_0_to_255_pass_through() {
    for code in [0, 1, 2, 42, 126, 127, 128, 200, 255] {
        let run = up(&sh(&format!("exit-{code}"), &format!("exit {code}"), ""));
        assert_eq!(run.code, code, "{run:?}");
    }
}

#[test]
fn stopping_signals_end_the_command_with_128_plus_n() {
    for (sig, code) in [(Signal::SIGTERM, 143), (Signal::SIGINT, 130), (Signal::SIGHUP, 129)] {
        let name = format!("stop-{}", sig.as_str().to_lowercase());
        let j = sh(&name, "echo ready; sleep 100", "");
        let mut r = spawn_up(&j, &[]);
        r.wait_for("ready");
        r.signal(sig);
        let run = r.finish();
        assert_eq!(run.code, code, "{sig}: {run:?}");
    }
}

#[test]
fn every_forwarded_signal_reaches_the_command() {
    // INT and TERM also start the stop grace period (a second one kills at once), so only
    // one of them is sent here, last; each one alone is checked in the test above.
    let signals = ["HUP", "QUIT", "USR1", "USR2", "TERM"];
    let traps: String = signals.iter().map(|s| format!("trap 'echo got {s}' {s}; ")).collect();
    let script = format!("{traps} echo ready; n=0; while [ $n -lt 60 ]; do sleep 0.05; n=$((n+1)); done");
    let j = sh("forward", &script, "[init]\ngrace = \"20s\"");
    let mut r = spawn_up(&j, &[]);
    r.wait_for("ready");
    for s in signals {
        let sig: Signal = format!("SIG{s}").parse().unwrap();
        r.signal(sig);
        r.wait_for(&format!("got {s}"));
    }
    let run = r.finish();
    assert_eq!(run.code, 0, "{run:?}");
}

#[test]
fn a_signal_mask_of_the_supervisor_is_not_inherited() {
    // procjail blocks the signals it forwards and Rust ignores SIGPIPE; the command must start
    // with nothing blocked and nothing ignored.
    let j = jail(
        "sigmask",
        "[rootfs]\npath = \"{rootfs}\"\n[command]\nargv = [\"/bin/grep\", \"-E\", \"^Sig(Blk|Ign)\", \"/proc/self/status\"]\n",
    );
    let run = up(&j);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n", "{run:?}");
}

#[test]
fn a_hundred_orphans_are_all_reaped() {
    // 100 orphans (their parents exit at once), all blocked on a FIFO; the command becomes
    // `sleep`, which never waits for anything; then a watcher opens the FIFO, so that every
    // orphan ends at once, and counts the zombies a second later. (Orphans that ended while
    // the shell was still PID 1 would be reaped by the shell: a slow machine would see fewer.)
    let script = "mkfifo /tmp/gate; for i in $(seq 100); do (cat /tmp/gate >/dev/null &); done; \
                  (sleep 1; : >/tmp/gate; sleep 1; ps -o stat | grep -c '^Z') & exec sleep 3";
    let tmp = "[[mounts]]\ntype = \"tmpfs\"\ntarget = \"/tmp\"";
    let run = up(&sh("orphans", script, tmp));
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "0\n", "zombies left: {run:?}");
    // The same without the built-in init: `sleep` as PID 1 inherits the orphans and never
    // reaps them.
    let run = up(&sh("orphans-none", script, &format!("{tmp}\n[init]\nmode = \"none\"")));
    assert_eq!(run.stdout, "100\n", "{run:?}");
}

#[test]
fn what_outlives_the_command_is_ended_within_the_grace_period() {
    let start = Instant::now();
    let run = up(&sh("leftovers", "sleep 1000 & echo started", "[init]\ngrace = \"500ms\""));
    assert_eq!((run.code, run.stdout.as_str()), (0, "started\n"), "{run:?}");
    assert!(start.elapsed() < Duration::from_secs(5));
    // And one that ignores SIGTERM is killed when the grace period is over. The command waits
    // until the stubborn one has its trap set (an ignored signal survives its exec).
    let start = Instant::now();
    let run = up(&sh(
        "leftovers-stubborn",
        "(trap '' TERM; touch /tmp/ready; exec sleep 1000) & while [ ! -e /tmp/ready ]; do sleep 0.01; done",
        "[init]\ngrace = \"500ms\"\n[[mounts]]\ntype = \"tmpfs\"\ntarget = \"/tmp\"",
    ));
    assert_eq!(run.code, 0, "{run:?}");
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(500) && took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn timeout_escalates_to_sigkill_when_pid_1_ignores_sigterm() {
    // sh as PID 1 has no handler for TERM, so the kernel drops it: only KILL works.
    let j = sh(
        "timeout-none",
        "echo ready; while :; do sleep 1; done",
        "[init]\nmode = \"none\"\ngrace = \"300ms\"",
    );
    let start = Instant::now();
    let run = up_with(&j, &["--timeout", "300ms"]);
    assert_eq!(run.code, 137, "{run:?}");
    assert!(run.stderr.contains("timeout after 300ms: sending SIGTERM"), "{run:?}");
    assert!(run.stderr.contains("still running after the grace period: SIGKILL"), "{run:?}");
    assert!(start.elapsed() < Duration::from_secs(5));
    // With the built-in init, TERM reaches the shell and ends it: 143.
    let j = sh("timeout-builtin", "echo ready; while :; do sleep 1; done", "[init]\ngrace = \"300ms\"");
    let run = up_with(&j, &["--timeout", "300ms"]);
    assert_eq!(run.code, 143, "{run:?}");
}

#[test]
fn a_second_sigint_kills_the_jail_at_once() {
    let j = sh(
        "second-int",
        "trap 'echo got INT' INT; echo ready; while :; do sleep 0.1; done",
        "[init]\ngrace = \"30s\"",
    );
    let start = Instant::now();
    let mut r = spawn_up(&j, &[]);
    r.wait_for("ready");
    r.signal(Signal::SIGINT);
    r.wait_for("got INT");
    r.signal(Signal::SIGINT);
    let run = r.finish();
    assert_eq!(run.code, 137, "{run:?}");
    assert!(run.stderr.contains("second SIGINT: killing the jail now"), "{run:?}");
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[test]
fn sigkill_of_the_supervisor_takes_the_jail_with_it_and_the_next_run_cleans_up() {
    let j = sh("supervisor-killed", "echo ready; sleep 1000", "");
    let before = Snapshot::take(&j.file);
    let mut r = spawn_up(&j, &[]);
    r.wait_for("ready");
    assert!(!jail_processes("supervisor-killed").is_empty());
    r.signal(Signal::SIGKILL);
    let _ = r.child.wait();
    // PR_SET_PDEATHSIG kills the init, and with it the whole pid namespace.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !jail_processes("supervisor-killed").is_empty() {
        assert!(Instant::now() < deadline, "jail processes outlived their supervisor");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The empty cgroups are left; the next run of the same jail removes them.
    assert!(!Snapshot::take(&j.file).cgroups.is_empty());
    let run = up(&sh("supervisor-killed", "true", ""));
    assert_eq!(run.code, 0, "{run:?}");
    let after = Snapshot::take(&j.file);
    assert!(after.cgroups.is_empty() && after.processes.is_empty(), "{after:?}");
    assert_eq!(after.mounts, before.mounts);
}

#[test]
fn proc_1_exe_cannot_be_opened_from_inside() {
    let bin_before = std::fs::read(bin()).unwrap();
    let script = "cat /proc/1/exe > /dev/null || echo no-read; echo x >> /proc/1/exe || echo no-write; \
                  readlink /proc/1/exe || echo no-link; cat /proc/1/mem 2>/dev/null || echo no-mem";
    let run = up(&sh("proc1exe", script, ""));
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "no-read\nno-write\nno-link\nno-mem\n", "{run:?}");
    assert_eq!(std::fs::read(bin()).unwrap(), bin_before, "procjail's binary changed");
}

#[test]
fn the_init_holds_only_0_1_2_and_its_status_channel() {
    // Run procjail with an extra inherited descriptor (fd 7, a host file): the init must not
    // keep it. The init's descriptors are counted from the host while the jail runs.
    use std::os::unix::process::CommandExt;
    let j = sh("init-fds", "echo ready; sleep 100", "");
    let host_file = std::fs::File::open(&j.file).unwrap();
    let raw = std::os::fd::AsRawFd::as_raw_fd(&host_file);
    let before = Snapshot::take(&j.file);
    let mut cmd = std::process::Command::new(bin());
    cmd.arg("up").arg(&j.file).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::null());
    // SAFETY: dup2 in the forked child before exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(raw, 7) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    assert_eq!(line, "ready\n");
    let init = jail_processes("init-fds").into_iter().min().expect("the init");
    // The init takes its last steps (closing what it kept for the command) beside the command,
    // after the command's execve: read its descriptors once it waits in its loop (sigtimedwait).
    let in_loop =
        || std::fs::read_to_string(format!("/proc/{init}/wchan")).is_ok_and(|w| w.contains("sigtimedwait"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !in_loop() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let fds: Vec<String> = std::fs::read_dir(format!("/proc/{init}/fd"))
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_link(e.path()).unwrap().display().to_string())
        .collect();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let _ = child.wait();
    Snapshot::take(&j.file)
        .assert_same(&before, &Run { code: 0, stdout: String::new(), stderr: String::new() });
    assert_eq!(fds.len(), 4, "the init's descriptors: {fds:?}");
    assert_eq!(fds.iter().filter(|f| f.starts_with("socket:")).count(), 1, "{fds:?}");
    assert!(!fds.iter().any(|f| f.ends_with("init-fds.toml")), "{fds:?}");
}
