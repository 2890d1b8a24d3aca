//! `procjail up` against the real kernel: isolation, mounts, exit codes, failures, and that the
//! host is as it was afterwards (every `up` here goes through `common::up`, which checks).

use crate::common::*;

#[test]
fn hello_from_the_jail_hostname() {
    let j = jail(
        "hello",
        "hostname = \"jailhost\"\n[rootfs]\npath = \"{rootfs}\"\n[command]\nargv = [\"/bin/sh\", \"-c\", \"echo hello from $(hostname)\"]\n",
    );
    let host_before = nix::unistd::gethostname().unwrap();
    let run = up(&j);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "hello from jailhost\n");
    assert_eq!(nix::unistd::gethostname().unwrap(), host_before);
    // A clean run says nothing of its own; --report asks for the line anyway.
    assert_eq!(run.stderr, "", "{run:?}");
    let run = up_with(&j, &["--report"]);
    assert!(
        run.stderr.contains("procjail: jail hello: exited 0;") && run.stderr.contains("; wall "),
        "{run:?}"
    );
}

#[test]
fn the_report_line_speaks_when_the_command_fails() {
    let run = up(&sh("report-exit", "exit 3", ""));
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stderr.contains("procjail: jail report-exit: exited 3;"), "{run:?}");
    let run = up(&sh("report-signal", "kill -KILL $$", ""));
    assert_eq!(run.code, 137, "{run:?}");
    assert!(run.stderr.contains("the command was killed by SIGKILL: exit 137"), "{run:?}");
}

#[test]
fn the_command_is_pid_2_under_init_and_pid_1_without() {
    let run = up(&sh("pid-builtin", "echo $$", ""));
    assert_eq!((run.code, run.stdout.as_str()), (0, "2\n"), "{run:?}");
    let run = up(&sh("pid-none", "echo $$", "[init]\nmode = \"none\""));
    assert_eq!((run.code, run.stdout.as_str()), (0, "1\n"), "{run:?}");
}

#[test]
fn ps_sees_only_the_jail() {
    let run = up(&sh("ps-only", "ps -o pid,comm; true", ""));
    assert_eq!(run.code, 0, "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().skip(1).map(str::trim).collect();
    assert_eq!(lines, ["1 procjail", "2 sh", "3 ps"], "{run:?}");
}

#[test]
fn mounts_made_inside_do_not_reach_the_host() {
    let run = up(&sh(
        "mount-inside",
        "mkdir -p /tmp/m && mount -t tmpfs none /tmp/m && grep -c ' /tmp/m ' /proc/self/mountinfo",
        "[[mounts]]\ntype = \"tmpfs\"\ntarget = \"/tmp\"\n[security]\ncapabilities = { add = [\"CAP_SYS_ADMIN\"] }",
    ));
    assert_eq!((run.code, run.stdout.as_str()), (0, "1\n"), "{run:?}");
    // common::up has checked the host's mount table is as before.
}

#[test]
fn a_readonly_bind_rejects_writes() {
    let j = sh(
        "ro-bind",
        "echo x > /data/f; echo rc=$?; cat /data/hello",
        "[[mounts]]\ntype = \"bind\"\nsource = \"data\"\ntarget = \"/data\"\nreadonly = true",
    );
    std::fs::create_dir(j.dir.path().join("data")).unwrap();
    std::fs::write(j.dir.path().join("data/hello"), "from the host\n").unwrap();
    let run = up(&j);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "rc=1\nfrom the host\n", "{run:?}");
    assert!(run.stderr.contains("Read-only file system"), "{run:?}");
    assert!(!j.dir.path().join("data/f").exists());
}

#[test]
fn a_readonly_rootfs_rejects_writes() {
    let j = jail(
        "ro-root",
        "[rootfs]\npath = \"{rootfs}\"\nreadonly = true\n[command]\nargv = [\"/bin/touch\", \"/newfile\"]\n",
    );
    let run = up(&j);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("Read-only file system"), "{run:?}");
    assert!(!rootfs().join("newfile").exists());
}

#[test]
fn a_writable_bind_writes_through_to_the_host() {
    let j = sh(
        "rw-bind",
        "echo written > /data/out",
        "[[mounts]]\ntype = \"bind\"\nsource = \"data\"\ntarget = \"/data\"",
    );
    std::fs::create_dir(j.dir.path().join("data")).unwrap();
    let run = up(&j);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(std::fs::read_to_string(j.dir.path().join("data/out")).unwrap(), "written\n");
}

#[test]
fn tmpfs_size_is_enforced() {
    let j = sh(
        "tmpfs-full",
        "dd if=/dev/zero of=/scratch/f bs=1024 count=200 2>&1; echo rc=$?",
        "[[mounts]]\ntype = \"tmpfs\"\ntarget = \"/scratch\"\nsize = \"64KiB\"",
    );
    let run = up(&j);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("No space left on device"), "{run:?}");
    assert!(run.stdout.contains("rc=1"), "{run:?}");
}

#[test]
fn a_symlink_in_the_rootfs_cannot_redirect_a_mount_onto_the_host() {
    // A rootfs of our own, with /data -> /etc (absolute) and /up -> ../../../../var (relative).
    let j = jail(
        "symlink-escape",
        "[rootfs]\npath = \"root\"\n[[mounts]]\ntype = \"tmpfs\"\ntarget = \"/data/x\"\n[[mounts]]\ntype = \"tmpfs\"\ntarget = \"/up\"\n[command]\nargv = [\"/bin/sh\", \"-c\", \"grep -E ' /(etc/x|var) ' /proc/self/mountinfo | cut -d' ' -f5\"]\n",
    );
    let root = j.dir.path().join("root");
    copy_rootfs(&root);
    let _ = std::fs::remove_dir(root.join("data"));
    std::os::unix::fs::symlink("/etc", root.join("data")).unwrap();
    std::os::unix::fs::symlink("../../../../var", root.join("up")).unwrap();
    let host_etc_before: Vec<_> =
        std::fs::read_dir("/etc").unwrap().flatten().map(|e| e.file_name()).collect();
    let run = up(&j);
    assert_eq!(run.code, 0, "{run:?}");
    // Both mounts landed in the rootfs (its own /etc/x and /var), not on the host's; and the
    // check before execve found them where the jail's paths lead.
    assert_eq!(run.stdout, "/etc/x\n/var\n", "{run:?}");
    assert!(root.join("etc/x").is_dir(), "the mount point was made inside the rootfs");
    let host_etc_after: Vec<_> =
        std::fs::read_dir("/etc").unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(host_etc_before, host_etc_after);
    assert!(!std::path::Path::new("/etc/x").exists());
}

/// A private copy of the shared rootfs (binary and links), to change freely.
fn copy_rootfs(to: &std::path::Path) {
    let ok = std::process::Command::new("cp").arg("-a").arg(rootfs()).arg(to).status().unwrap().success();
    assert!(ok);
}

#[test]
fn exit_codes_pass_through() {
    assert_eq!(up(&sh("exit-0", "exit 0", "")).code, 0);
    assert_eq!(up(&sh("exit-3", "exit 3", "")).code, 3);
    let run = up(&sh("exit-sig", "kill -USR1 $$", ""));
    assert_eq!(run.code, 128 + 10, "{run:?}");
    // Under the built-in init the command dies of the signal; init passes on 128+N.
    let run = up(&sh("exit-kill", "kill -KILL $$", ""));
    assert_eq!(run.code, 128 + 9, "{run:?}");
    // As PID 1 (init none) a shell cannot even kill itself: the kernel protects a
    // namespace's init from signals it has no handler for, SIGKILL from inside included.
    let run = up(&sh("exit-kill-none", "kill -KILL $$; echo still here", "[init]\nmode = \"none\""));
    assert_eq!((run.code, run.stdout.as_str()), (0, "still here\n"), "{run:?}");
}

#[test]
fn a_command_not_found_exits_127_and_not_executable_126() {
    let j = jail("not-found", "[rootfs]\npath = \"{rootfs}\"\n[command]\nargv = [\"/bin/nope\"]\n");
    let run = up(&j);
    assert_eq!(run.code, 127, "{run:?}");
    assert!(run.stderr.contains("[command] execve(\"/bin/nope\""), "{run:?}");
    assert!(run.stderr.contains("ENOENT"), "{run:?}");
    assert!(run.stderr.contains("/bin/nope: not found in the rootfs"), "{run:?}");
    assert!(run.stderr.contains("from: not-found.toml:4 [command]"), "{run:?}");
    let run = up(&jail(
        "not-found-path",
        "[rootfs]\npath = \"{rootfs}\"\n[command]\nargv = [\"nope\"]\nenv = { PATH = \"/bin:/usr/bin\" }\n",
    ));
    assert_eq!(run.code, 127, "{run:?}");
    assert!(run.stderr.contains("execvpe(\"nope\""), "{run:?}");
    let run = up(&jail("not-exec", "[rootfs]\npath = \"{rootfs}\"\n[command]\nargv = [\"/proc/version\"]\n"));
    assert_eq!(run.code, 126, "{run:?}");
    assert!(run.stderr.contains("EACCES"), "{run:?}");
    let run = up(&jail(
        "not-exec-none",
        "[rootfs]\npath = \"{rootfs}\"\n[init]\nmode = \"none\"\n[command]\nargv = [\"/dev/null\"]\n",
    ));
    assert_eq!(run.code, 126, "{run:?}");
}

#[test]
fn a_failing_step_names_itself_and_the_jail_line_and_leaves_nothing() {
    // The rootfs has a file where the jail wants a tmpfs: the mount point step fails.
    let j = jail(
        "bad-target",
        "[rootfs]\npath = \"root\"\n[[mounts]]\ntype = \"tmpfs\"\ntarget = \"/afile\"\n[command]\nargv = [\"/bin/true\"]\n",
    );
    let root = j.dir.path().join("root");
    copy_rootfs(&root);
    std::fs::write(root.join("afile"), "").unwrap();
    let run = up(&j);
    assert_eq!(run.code, 125, "{run:?}");
    let first = run.stderr.lines().find(|l| l.starts_with("procjail: step")).unwrap_or_default();
    assert!(first.contains("[child] mkdirat(rootfd, \"afile\", 0755) unless it exists: ENOTDIR"), "{run:?}");
    assert!(first.contains("/afile in the rootfs is not a directory"), "{run:?}");
    assert!(run.stderr.contains("from: bad-target.toml:4 [[mounts]] #1"), "{run:?}");
    assert_eq!(run.stderr.matches("ENOTDIR").count(), 1, "printed once: {run:?}");
}

#[test]
fn a_missing_bind_source_is_refused_before_anything_runs() {
    let j = sh("no-source", "true", "[[mounts]]\ntype = \"bind\"\nsource = \"gone\"\ntarget = \"/data\"");
    let run = up(&j);
    assert_eq!(run.code, 125, "{run:?}");
    assert!(run.stderr.contains("mounts[1].source: the bind source"), "{run:?}");
    assert!(run.stderr.contains("no-source.toml:5:10"), "{run:?}");
}

#[test]
fn only_fds_0_1_2_are_open_inside() {
    // The shell's own descriptors (a pipe would add its own).
    let run = up(&sh("fds", "ls /proc/$$/fd; true", ""));
    assert_eq!((run.code, run.stdout.as_str()), (0, "0\n1\n2\n"), "{run:?}");
    let run = up(&sh("fds-none", "ls /proc/$$/fd; true", "[init]\nmode = \"none\""));
    assert_eq!((run.code, run.stdout.as_str()), (0, "0\n1\n2\n"), "{run:?}");
}

#[test]
fn sigpipe_has_its_default_action() {
    let run = up(&sh("sigpipe", "yes | head -1", ""));
    assert_eq!((run.code, run.stdout.as_str()), (0, "y\n"), "{run:?}");
}

#[test]
fn the_environment_is_only_the_files() {
    let j = jail(
        "env",
        "[rootfs]\npath = \"{rootfs}\"\n[command]\nargv = [\"/bin/env\"]\nenv = { PATH = \"/bin\", GREETING = \"hi\" }\ncwd = \"/tmp\"\n",
    );
    let run = up(&j);
    assert_eq!(run.code, 0, "{run:?}");
    let mut lines: Vec<&str> = run.stdout.lines().collect();
    lines.sort();
    assert_eq!(lines, ["GREETING=hi", "PATH=/bin"], "{run:?}");
}

#[test]
fn the_cwd_and_default_mounts_are_there() {
    let j = jail(
        "defaults",
        "[rootfs]\npath = \"{rootfs}\"\n[command]\nargv = [\"/bin/sh\", \"-c\", \"pwd; ls /dev | tr '\\\\n' ' '; echo; test -c /dev/pts/ptmx && echo pts; grep -c sysfs /proc/mounts\"]\ncwd = \"/tmp\"\n",
    );
    let run = up(&j);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout,
        "/tmp\nfd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero \npts\n1\n",
        "{run:?}"
    );
}

#[test]
fn trace_prints_every_step_it_runs() {
    let j = sh("traced", "true", "");
    let run = up_with(&j, &["--trace"]);
    assert_eq!(run.code, 0, "{run:?}");
    let plan = procjail(&["plan", "--json", &j.file.display().to_string()]);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let steps = plan["steps"].as_u64().unwrap();
    for i in 1..=steps {
        assert!(run.stderr.contains(&format!("step {i}/{steps} [")), "step {i} not traced: {run:?}");
    }
    assert!(run.stderr.contains("[child] pivot_root(\".\", \".\") = ok ("), "{run:?}");
    // The supervisor reads what the command's last steps keep while it takes them, and only
    // its status once it is ready (and its limits, when the jail sets some).
    let at = |what: &str| {
        let line = run.stderr.lines().position(|l| l.contains(what) && l.contains("= ok"));
        line.unwrap_or_else(|| panic!("no {what:?} that ran: {run:?}"))
    };
    assert!(
        at("[child] write(sync[1], \"started\")") < at("[child] clone(CLONE_VFORK|SIGCHLD) = $COMMAND_PID")
    );
    assert!(at("[parent] read(sync[0]) = \"started\"") < at("{ns/*,mountinfo,cgroup,uid_map,gid_map}\"), "));
    assert!(at("{ns/*,mountinfo,cgroup,uid_map,gid_map}\"), ") < at("[parent] read(sync[0]) = \"ready\""));
    assert!(at("[parent] read(sync[0]) = \"ready\"") < at("/status\"), the jail's read and checked before"));
}

#[test]
fn ctrl_c_during_setup_stops_it_and_tears_down_what_was_done() {
    // The Ctrl-C arrives while the cgroups are being made (a test hook raises SIGINT there):
    // procjail stops before the next phase, undoes what it did, and exits 130.
    let j = sh("interrupted", "echo should not run", "[limits]\npids = 20");
    let plan = procjail(&["plan", "--json", j.file.to_str().unwrap()]);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let cgroups = plan["phases"].as_array().unwrap().iter().find(|p| p["name"] == "cgroups").unwrap();
    let at = cgroups["steps"][0]["index"].to_string();
    let before = Snapshot::take(&j.file);
    let out = std::process::Command::new(bin())
        .args(["up", j.file.to_str().unwrap()])
        .env("PROCJAIL_INTERRUPT_AT", &at)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let run = Run::from(out);
    Snapshot::take(&j.file).assert_same(&before, &run);
    assert_eq!(run.code, 130, "{run:?}");
    assert_eq!(run.stdout, "", "{run:?}");
    assert!(run.stderr.contains("interrupted by SIGINT before the spawn phase"), "{run:?}");
}

#[test]
fn a_state_file_that_cannot_be_written_stops_the_jail_and_leaves_no_temporary_file() {
    // NAME.json is a folder here: the rename of NAME.json.tmp over it fails.
    let j = sh("state-eisdir", "echo should not run", "");
    let state = std::path::Path::new("/run/procjail/state-eisdir.json");
    std::fs::create_dir_all(state).unwrap();
    // Not `up`: its check of the host would count the folder the test made as state left.
    let run = procjail(&["up", j.file.to_str().unwrap()]);
    std::fs::remove_dir(state).unwrap();
    assert!(jail_processes("state-eisdir").is_empty(), "{run:?}");
    for hierarchy in cgroup_hierarchies() {
        assert!(!hierarchy.join("procjail/state-eisdir").exists(), "{run:?}");
    }
    assert_eq!(run.code, 125, "{run:?}");
    assert!(run.stderr.contains("state-eisdir.json.tmp") && run.stderr.contains("EISDIR"), "{run:?}");
    assert!(!run.stdout.contains("should not run"), "{run:?}");
    assert!(!std::path::Path::new("/run/procjail/state-eisdir.json.tmp").exists());
    assert!(!std::path::Path::new("/run/procjail/state-eisdir.lock").exists());
}
