//! Confinement on the real kernel: the capability sets, no_new_privs and seccomp as the command
//! reads them in /proc/self/status; the filter's verdicts; masks and read-only paths; which
//! devices hold (the BPF program on cgroup2, the devices cgroup on v1); the user, sysctls,
//! oom_score_adj and loopback; `exec` confined as the command; the check before execve refusing
//! a jail whose kernel did not do a step; and `check`'s refusals of what would undo the jail.

use crate::common::*;

fn status_lines(run: &Run) -> Vec<String> {
    run.stdout.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect()
}

const STATUS: &str =
    "grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp|Seccomp_filters):' /proc/self/status";

#[test]
fn the_command_gets_podmans_capabilities_no_new_privs_and_seccomp() {
    let run = up(&sh("confine-default", STATUS, ""));
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        status_lines(&run),
        [
            "CapInh: 0000000000000000",
            "CapPrm: 00000000800405fb",
            "CapEff: 00000000800405fb",
            "CapBnd: 00000000800405fb",
            "CapAmb: 0000000000000000",
            "NoNewPrivs: 1",
            "Seccomp: 2",
            "Seccomp_filters: 1",
        ],
        "{run:?}"
    );
    // Without the built-in init the command is PID 1, confined the same.
    let run = up(&sh("confine-none", STATUS, "[init]\nmode = \"none\""));
    assert!(
        run.stdout.contains("CapEff:\t00000000800405fb") && run.stdout.contains("Seccomp:\t2"),
        "{run:?}"
    );
}

#[test]
fn capabilities_add_drop_a_whole_list_and_the_switches_off() {
    let run = up(&sh(
        "caps-changed",
        STATUS,
        "[security]\ncapabilities = { add = [\"CAP_NET_RAW\"], drop = [\"CAP_CHOWN\"] }\nno_new_privs = false\nseccomp = \"none\"",
    ));
    // 0x800405fb - CHOWN (bit 0) + NET_RAW (bit 13)
    let want = format!("CapEff: {:016x}", (0x8004_05fbu64 & !1) | (1 << 13));
    let lines = status_lines(&run);
    assert!(lines.contains(&want), "{run:?}");
    assert!(
        lines.contains(&"NoNewPrivs: 0".to_string()) && lines.contains(&"Seccomp: 0".to_string()),
        "{run:?}"
    );
    let run = up(&sh("caps-list", STATUS, "[security]\ncapabilities = [\"CAP_KILL\"]"));
    assert!(status_lines(&run).contains(&"CapBnd: 0000000000000020".to_string()), "{run:?}");
}

#[test]
fn the_filter_refuses_what_docker_refuses_and_lets_the_rest_through() {
    // unshare(CLONE_NEWUSER) needs no capability: only the filter refuses it.
    let run = up(&sh("seccomp-userns", "unshare -U true; echo rc=$?", ""));
    assert!(run.stdout.contains("rc=1") && run.stderr.contains("Operation not permitted"), "{run:?}");
    let run = up(&sh("seccomp-userns-off", "unshare -U true; echo rc=$?", "[security]\nseccomp = \"none\""));
    assert!(run.stdout.contains("rc=0"), "{run:?}");
    // What a shell session needs works under the filter: pipes, forks, a background job, sleep.
    let run = up(&sh("seccomp-usual", "echo a | tr a b; (sleep 0.01 &); wait; ls /proc/self/fd | wc -l", ""));
    assert_eq!(run.stdout, "b\n4\n", "{run:?}");
}

#[test]
fn a_profile_file_in_the_docker_format_is_loaded_exactly() {
    // Everything allowed but mkdir, which gets EACCES (13).
    let j = sh(
        "seccomp-file",
        "mkdir /tmp/x; echo rc=$?",
        "[[mounts]]\ntype = \"tmpfs\"\ntarget = \"/tmp\"\n[security]\nseccomp = \"profile.json\"",
    );
    std::fs::write(
        j.dir.path().join("profile.json"),
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}"#,
    )
    .unwrap();
    let run = up(&j);
    assert!(run.stdout.contains("rc=1") && run.stderr.contains("Permission denied"), "{run:?}");
    let plan = procjail(&["plan", "--width", "0", j.file.to_str().unwrap()]);
    assert!(
        plan.stdout.contains("default ALLOW; allow 0; mkdir ERRNO(EACCES); mkdirat ERRNO(EACCES)"),
        "{plan:?}"
    );
}

#[test]
fn masks_hide_and_read_only_paths_refuse() {
    let run = up(&sh(
        "masks",
        "wc -c < /proc/kallsyms; wc -c < /proc/keys; ls /sys/firmware | wc -l; echo 1 > /proc/sys/vm/drop_caches; grep -c ' /proc/sys ro,' /proc/self/mountinfo; \
         grep ' - tmpfs tmpfs ro,nr_inodes=1,' /proc/self/mountinfo | cut -d' ' -f3 | sort -u | wc -l",
        "",
    ));
    // The folder masks (under /proc and /sys) are one tmpfs, bound: one device number.
    assert_eq!(run.stdout, "0\n0\n0\n1\n1\n", "{run:?}");
    assert!(run.stderr.contains("Read-only file system"), "{run:?}");
}

#[test]
fn only_the_devices_procjail_makes_can_be_opened() {
    // With CAP_MKNOD and a tmpfs that allows nodes, the device rules are what holds: the BPF
    // program of the jail's cgroup2 folder (v2 and hybrid) or the v1 devices cgroup. Then rules
    // of different access and major: the BPF program groups them, v1 takes them line by line.
    let cases = [
        (
            "devices",
            "mknod /x/kmsg c 1 11 && echo made; head -c1 /x/kmsg; echo rc=$?; mknod /x/sda b 8 0; echo rc=$?; mknod /x/null c 1 3 && echo ok > /x/null && echo null",
            "[[mounts]]\ntype = \"tmpfs\"\ntarget = \"/x\"\noptions = [\"dev\"]\n[security]\ncapabilities = { add = [\"CAP_MKNOD\"] }\ndevices = [\"default\", \"c 1:11 m\"]",
            "made\nrc=1\nrc=1\nnull\n",
        ),
        (
            "devaccess",
            "head -c1 /dev/zero | wc -c; echo x > /dev/zero; head -c1 /dev/urandom; echo x > /dev/null && echo null",
            "[security]\ndevices = [\"c 1:3 rwm\", \"c 1:5 r\", \"c 5:0 rw\", \"c 136:* rwm\"]",
            "1\nnull\n",
        ),
    ];
    for (name, script, extra, stdout) in cases {
        let j = sh(name, script, extra);
        let run = up(&j);
        assert_eq!(run.stdout, stdout, "{run:?}");
        assert_eq!(run.stderr.matches("Operation not permitted").count(), 2, "{run:?}");
        let plan = procjail(&["plan", "--width", "0", j.file.to_str().unwrap()]);
        let host = procjail::host::Host::detect();
        let how = if host.unified.is_some() { "BPF_PROG_TYPE_CGROUP_DEVICE" } else { "devices.allow" };
        assert!(plan.stdout.contains(how), "{plan:?}");
    }
}

#[test]
fn the_user_sysctls_oom_score_and_loopback() {
    let run = up(&jail(
        "who",
        "[rootfs]\npath = \"{rootfs}\"\n[sysctl]\n\"kernel.msgmax\" = \"4242\"\n[security]\noom_score_adj = 500\n[command]\nuser = \"1000:1000\"\ngroups = [10]\nargv = [\"/bin/sh\", \"-c\", \"id; cat /proc/sys/kernel/msgmax /proc/self/oom_score_adj /sys/class/net/lo/flags\"]\n",
    ));
    assert_eq!(run.stdout, "uid=1000 gid=1000 groups=10\n4242\n500\n0x9\n", "{run:?}");
}

#[test]
fn the_jails_net_namespace_is_its_own_in_sysfs_and_its_sysctls() {
    // As root the supervisor makes the net namespace and the child enters it on the way: sysfs
    // (which shows the mounter's net devices) and a net.* sysctl must be the jail's, not the host's.
    let key = "/proc/sys/net/ipv4/ip_unprivileged_port_start";
    let before = std::fs::read_to_string(key).unwrap();
    let value = if before.trim() == "80" { "81" } else { "80" };
    let run = up(&sh(
        "netns",
        &format!("ls /sys/class/net; cat {key} /sys/class/net/lo/operstate; readlink /proc/self/ns/net"),
        &format!("[sysctl]\n\"net.ipv4.ip_unprivileged_port_start\" = \"{value}\""),
    ));
    let host_ns = std::fs::read_link("/proc/self/ns/net").unwrap();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines[..3], ["lo", value, "unknown"], "{run:?}");
    assert_ne!(lines[3], host_ns.to_str().unwrap(), "{run:?}");
    assert_eq!(std::fs::read_to_string(key).unwrap(), before, "the host's value is untouched");
    // Without a sysctl the child enters it after pivot_root, and mounts /sys there; with a
    // mount of the jail's under /sys, before that mount.
    for (name, extra) in
        [("netns-late", ""), ("netns-under-sys", "[[mounts]]\ntype = \"tmpfs\"\ntarget = \"/sys/fs/cgroup\"")]
    {
        let run = up(&sh(
            name,
            "ls /sys/class/net; ls /sys/firmware | wc -l; grep -c ' /sys/fs/cgroup ' /proc/self/mountinfo",
            extra,
        ));
        let cgroup_mounts = if extra.is_empty() { "0" } else { "1" };
        assert_eq!(run.stdout, format!("lo\n0\n{cgroup_mounts}\n"), "{name}: {run:?}");
    }
}

#[test]
fn exec_is_confined_as_the_command() {
    let j = jail(
        "exec-confined",
        "[rootfs]\npath = \"{rootfs}\"\n[init]\ngrace = \"1s\"\n[command]\nargv = [\"/bin/sh\", \"-c\", \"echo ready; sleep 60\"]\n",
    );
    let mut r = spawn_up(&j, &[]);
    r.wait_for("ready");
    let exec = procjail(&["exec", "exec-confined", "--", "/bin/sh", "-c", STATUS]);
    let userns = procjail(&["exec", "exec-confined", "--", "/bin/sh", "-c", "unshare -U true"]);
    assert_eq!(procjail(&["down", "exec-confined"]).code, 0);
    r.finish();
    let lines = status_lines(&exec);
    assert!(lines.contains(&"CapEff: 00000000800405fb".to_string()), "{exec:?}");
    assert!(
        lines.contains(&"NoNewPrivs: 1".to_string()) && lines.contains(&"Seccomp: 2".to_string()),
        "{exec:?}"
    );
    assert!(userns.code != 0 && userns.stderr.contains("Operation not permitted"), "{userns:?}");
}

#[test]
fn a_step_the_kernel_did_not_do_stops_the_jail_before_execve() {
    // The test hook passes over the command's capset as if it had run: the check must see the
    // capabilities it still has.
    let j = sh("unverified", "echo should not run", "");
    let steps = plan_steps(&j.file);
    let capset = steps.iter().find(|s| s["op"] == "capset" && s["side"] == "command").unwrap();
    let at = capset["index"].to_string();
    let before = Snapshot::take(&j.file);
    let out = std::process::Command::new(bin())
        .args(["up", j.file.to_str().unwrap()])
        .env("PROCJAIL_SKIP_STEP", &at)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let run = Run::from(out);
    Snapshot::take(&j.file).assert_same(&before, &run);
    assert_eq!(run.code, 125, "{run:?}");
    assert_eq!(run.stdout, "", "the command never ran: {run:?}");
    assert!(run.stderr.contains(&format!("the kernel does not show the effect of step {at}/")), "{run:?}");
    assert!(run.stderr.contains("status CapPrm reads "), "{run:?}");
    assert!(run.stderr.contains("the plan says 00000000800405fb (+CAP_DAC_READ_SEARCH"), "{run:?}");
}

#[test]
fn up_verify_prints_the_kernels_answer() {
    let run = up_with(&sh("verify-table", "true", ""), &["--verify"]);
    assert_eq!(run.code, 0, "{run:?}");
    for row in [
        "status CapEff",
        "status Seccomp",
        "ns pid",
        "mount /proc/kallsyms masked",
        "mount /proc/sys read-only",
    ] {
        let line =
            run.stderr.lines().find(|l| l.starts_with(row)).unwrap_or_else(|| panic!("no {row}: {run:?}"));
        assert!(line.contains(" ok "), "{line}");
    }
    // As root the child enters the net namespace the supervisor made: that step, not the
    // clone, is the one the net row names.
    let j = sh("verify-net", "true", "");
    let steps = plan_steps(&j.file);
    let join = steps.iter().find(|s| s["op"] == "join_netns").expect("a join_netns step");
    let run = up_with(&j, &["--verify"]);
    let net = run.stderr.lines().find(|l| l.starts_with("ns net")).unwrap_or_else(|| panic!("{run:?}"));
    assert!(net.ends_with(&format!("(step {})", join["index"])), "{net}");
}

/// tests/probe/probe.c, built static: probes busybox cannot make. tests/vm/run.sh builds it for
/// the VM; here it is built with gcc when missing or older than its source.
fn probe() -> std::path::PathBuf {
    let out = repo().join("target/probe-static");
    let src = repo().join("tests/probe/probe.c");
    let fresh = |o: &std::path::Path| {
        let (a, b) = (
            std::fs::metadata(o).and_then(|m| m.modified()),
            std::fs::metadata(&src).and_then(|m| m.modified()),
        );
        match (a, b) {
            (Ok(a), Ok(b)) => a >= b,
            (a, _) => a.is_ok(),
        }
    };
    static BUILD: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = BUILD.lock().unwrap();
    if !fresh(&out) {
        let ok = std::process::Command::new("gcc")
            .args(["-static", "-O2", "-o"])
            .arg(&out)
            .arg(&src)
            .status()
            .expect("gcc (with libc6-dev for -static): .ci/run installs them");
        assert!(ok.success(), "gcc -static tests/probe/probe.c failed");
    }
    out
}

/// A jail running the probe with `args`, and `extra` TOML before [command].
fn probing(name: &str, args: &str, extra: &str) -> Jail {
    let p = probe().display().to_string();
    jail(
        name,
        &format!(
            "[rootfs]\npath = \"{{rootfs}}\"\n[[mounts]]\ntype = \"bind\"\nsource = \"{p}\"\ntarget = \"/probe\"\nreadonly = true\n{extra}\n[command]\nargv = [\"/probe\"{args}]\n"
        ),
    )
}

#[test]
fn what_busybox_cannot_ask_is_refused_too() {
    let run = up(&probing("probes", "", ""));
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout,
        "keyctl=EPERM\nclone3=ENOSYS\nbpf=EPERM\nio_uring_setup=EPERM\nsocket_vsock=EPERM\nsocket_alg=EPERM\n\
         socket_packet=EPERM\nsocket_inet=ok\npersonality=EPERM\nperf_event_open=EPERM\nunshare_user=EPERM\n\
         open_by_handle_at=EPERM\n",
        "{run:?}"
    );
}

#[test]
fn the_jail_gets_a_new_session_keyring() {
    // This test's own session keyring, and the jail's (keyctl needs seccomp off to be asked).
    // SAFETY: keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, create) with integers.
    let host = unsafe { libc::syscall(libc::SYS_keyctl, 0, -3i64, 1) };
    assert!(host > 0, "no session keyring: {}", std::io::Error::last_os_error());
    let off = "[security]\nseccomp = \"none\"";
    let new = up(&probing("keyring-new", ", \"keyring\"", off));
    let inherit = up(&probing("keyring-inherit", ", \"keyring\"", &format!("{off}\nkeyring = \"inherit\"")));
    assert_eq!(inherit.stdout, format!("keyring={host}\n"), "{inherit:?}");
    assert!(new.stdout.starts_with("keyring=") && new.stdout != inherit.stdout, "{new:?}");
}
