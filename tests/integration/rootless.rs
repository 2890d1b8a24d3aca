//! Step 11: jails made by an ordinary user, through a user namespace (and root's jails with one):
//! the id maps, the state under the user's own folder, the day-2 commands as that user, limits
//! refused without a delegated cgroup and enforced inside one (pure cgroup v2, the VM).

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::*;

/// The users the rootless tests run procjail as: ids no one has on either host, one per test,
/// so that tests running at once never share a state folder.
const UID: u32 = 4242;

/// The user's state folder (no XDG_RUNTIME_DIR here).
fn state_root_of(uid: u32) -> PathBuf {
    PathBuf::from(format!("/tmp/procjail-{uid}"))
}

fn state_root() -> PathBuf {
    state_root_of(UID)
}

/// `procjail ARGS` as this uid (and gid), no supplementary groups, a bare environment.
fn as_uid(uid: u32, args: &[&str]) -> Command {
    let mut c = Command::new("setpriv");
    c.args(["--reuid", &uid.to_string(), "--regid", &uid.to_string(), "--clear-groups", bin()])
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::null());
    c
}

fn run_as_user(args: &[&str]) -> Run {
    run_as(UID, args)
}

fn run_as(uid: u32, args: &[&str]) -> Run {
    Run::from(as_uid(uid, args).output().expect("run setpriv"))
}

/// A jail file the user can read, in a folder the user can read.
fn user_jail(name: &str, toml: &str) -> Jail {
    require_root();
    let j = jail(name, toml);
    std::fs::set_permissions(j.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    j
}

/// Processes of these uids, other than zombies: none may be left.
fn user_processes(uid: u32) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
        let status = std::fs::read_to_string(e.path().join("status")).unwrap_or_default();
        let uid_of: Option<u32> = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok());
        let zombie = status.lines().any(|l| l.starts_with("State:") && l.contains('Z'));
        if uid_of == Some(uid) && !zombie {
            out.push(pid);
        }
    }
    out
}

/// The host is as it was: no process of the user's, no mount that was not there, no state.
fn assert_clean(uid: u32, mounts_before: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !user_processes(uid).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(user_processes(uid), Vec::<i32>::new(), "processes of uid {uid} left");
    let now = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let (a, b) = (procjail::host::mountinfo::points(mounts_before), procjail::host::mountinfo::points(&now));
    assert_eq!(a, b, "the host's mount table changed");
}

fn cleanup_state(uid: u32) {
    let _ = std::fs::remove_dir_all(state_root_of(uid));
}

#[test]
fn a_user_runs_a_jail_as_its_own_root() {
    let before = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let j = user_jail(
        "rootless-up",
        "[rootfs]\npath = \"{rootfs}\"\nreadonly = true\n[[mounts]]\ntype = \"tmpfs\"\ntarget = \"/tmp\"\n[command]\n\
         argv = [\"/bin/sh\", \"-c\", \"id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; \
         grep -E 'CapEff|NoNewPrivs|Seccomp:' /proc/self/status; echo x > /tmp/f && stat -c %u /tmp/f; \
         mknod /tmp/n c 1 3 2>&1 || echo no mknod; hostname\"]\n",
    );
    let run = run_as_user(&["up", "--verify", &j.file.display().to_string()]);
    assert_eq!(run.code, 0, "{run:?}");
    let lines: Vec<Vec<&str>> = run.stdout.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(lines[0], ["0"], "root inside: {run:?}");
    assert_eq!(lines[1], ["0"]);
    assert_eq!(lines[2], ["0", &UID.to_string(), "1"], "the jail's 0 is the user: {run:?}");
    assert_eq!(lines[3], ["0", &UID.to_string(), "1"]);
    assert_eq!(lines[4], ["deny"], "setgroups denied with a user's own map");
    assert!(run.stdout.contains("CapEff:\t00000000800405fb"), "podman's 11, in the user namespace: {run:?}");
    assert!(run.stdout.contains("NoNewPrivs:\t1") && run.stdout.contains("Seccomp:\t2"), "{run:?}");
    assert!(run.stdout.contains("\n0\n"), "a file made inside is the jail's root's: {run:?}");
    assert!(run.stdout.contains("no mknod"), "{run:?}");
    assert!(run.stdout.trim_end().ends_with("rootless-up"), "its own hostname: {run:?}");
    // The kernel's answer, read back: the namespaces the command reported itself, the maps.
    assert!(run.stderr.contains("ns user") && run.stderr.contains("its own"), "{run:?}");
    assert!(run.stderr.contains(&format!("0 {UID} 1 / 0 {UID} 1")), "{run:?}");
    assert!(!run.stderr.contains(" NO "), "every check ok: {run:?}");
    // Its state was the user's own folder, 0700, and is gone.
    let root = state_root();
    let meta = std::fs::symlink_metadata(&root).unwrap();
    assert_eq!((std::os::unix::fs::MetadataExt::uid(&meta), meta.permissions().mode() & 0o777), (UID, 0o700));
    assert!(!root.join("rootless-up").exists());
    assert_clean(UID, &before);
    cleanup_state(UID);
}

#[test]
fn a_state_folder_someone_else_made_is_refused() {
    let root = PathBuf::from(format!("/tmp/procjail-{}", UID + 1));
    std::fs::create_dir_all(&root).unwrap(); // root's, not the user's
    let j = user_jail("rootless-trap", "[rootfs]\npath = \"{rootfs}\"\n[command]\nargv = [\"/bin/true\"]\n");
    let mut c = Command::new("setpriv");
    c.args([
        "--reuid",
        &(UID + 1).to_string(),
        "--regid",
        &(UID + 1).to_string(),
        "--clear-groups",
        bin(),
        "up",
    ])
    .arg(&j.file)
    .env_clear();
    let run = Run::from(c.output().unwrap());
    std::fs::remove_dir_all(&root).unwrap();
    assert_eq!(run.code, 125, "{run:?}");
    assert!(
        run.stderr.contains(&format!("is not a folder of uid {}'s that only it can write", UID + 1)),
        "{run:?}"
    );
}

#[test]
fn cgroup_limits_need_a_delegated_cgroup() {
    let j = user_jail(
        "rootless-limits",
        "[rootfs]\npath = \"{rootfs}\"\n[limits]\nmemory = \"64MiB\"\npids = 20\nnofile = 64\n[command]\nargv = [\"/bin/true\"]\n",
    );
    let uid = UID + 2;
    for cmd in ["check", "up"] {
        let run = run_as(uid, &["--color", "never", cmd, &j.file.display().to_string()]);
        assert_eq!(run.code, 125, "{run:?}");
        for key in ["limits.memory", "limits.pids"] {
            assert!(
                run.stderr
                    .contains(&format!("{key}: {key} needs a delegated cgroup: procjail runs as uid {uid}")),
                "{run:?}"
            );
        }
        assert!(!run.stderr.contains("limits.nofile"), "rlimits need no cgroup: {run:?}");
    }
    assert!(!state_root_of(uid).join("rootless-limits").exists(), "refused before anything was made");
    cleanup_state(uid);
}

#[test]
fn the_user_lists_enters_and_stops_its_jail() {
    let uid = UID + 3;
    let before = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let j = user_jail(
        "rootless-day2",
        "[rootfs]\npath = \"{rootfs}\"\n[command]\nargv = [\"/bin/sh\", \"-c\", \"echo ready; exec sleep 60\"]\n",
    );
    let mut up = as_uid(uid, &["up", &j.file.display().to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(up.stdout.as_mut().unwrap()), &mut first)
        .unwrap();
    assert_eq!(first, "ready\n");
    let ps = run_as(uid, &["ps", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&ps.stdout).unwrap();
    assert_eq!(doc["jails"][0]["name"], "rootless-day2", "{ps:?}");
    assert_eq!(doc["jails"][0]["memory_limit"], serde_json::Value::Null);
    // root's jails and the user's are apart: root does not list it.
    let root_ps = procjail(&["ps", "--json"]);
    assert!(!root_ps.stdout.contains("rootless-day2"), "{root_ps:?}");
    let inspect = run_as(uid, &["inspect", "--json", "rootless-day2"]);
    let doc: serde_json::Value = serde_json::from_str(&inspect.stdout).unwrap();
    let user = &doc["namespaces"]["user"];
    assert!(user["jail"].is_string() && user["jail"] != user["host"], "its own user namespace: {user}");
    let exec = run_as(
        uid,
        &[
            "exec",
            "rootless-day2",
            "--",
            "/bin/sh",
            "-c",
            "id -u; cat /proc/self/uid_map; grep NoNewPrivs /proc/self/status",
        ],
    );
    assert_eq!(exec.code, 0, "{exec:?}");
    assert!(exec.stdout.starts_with("0\n"), "{exec:?}");
    assert!(exec.stdout.contains(&format!("{uid}")) && exec.stdout.contains("NoNewPrivs:\t1"), "{exec:?}");
    assert_eq!(run_as(uid, &["down", "rootless-day2"]).code, 0);
    let status = up.wait().unwrap();
    assert_eq!(status.code(), Some(143), "the init forwarded TERM to sleep");
    let audit = run_as(uid, &["audit"]);
    assert_eq!(audit.code, 0, "{audit:?}");
    assert_eq!(run_as(uid, &["gc"]).code, 0);
    assert!(!state_root_of(uid).exists(), "gc removes the user's empty state folder");
    assert_clean(uid, &before);
}

#[test]
fn root_maps_its_jail_to_unused_ids() {
    let j = sh(
        "userns-root",
        "id -u; cat /proc/self/uid_map; echo x > /tmp/f; ls -ln /tmp/f | tr -s ' ' | cut -d' ' -f3; cat /proc/1/uid_map",
        "[namespaces]\nuser = true\n[limits]\npids = 20\n[[mounts]]\ntype = \"tmpfs\"\ntarget = \"/tmp\"",
    );
    let run = up_with(&j, &["--verify", "--report"]);
    assert_eq!(run.code, 0, "{run:?}");
    let lines: Vec<String> =
        run.stdout.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
    assert_eq!(lines[0], "0");
    assert_eq!(lines[1], "0 100000 65536", "root's default map");
    assert_eq!(lines[2], "0");
    assert!(run.stderr.contains("0 100000 65536 / 0 100000 65536"), "{run:?}");
    assert!(run.stderr.contains("pids limit 20"), "root's jail keeps its cgroups: {run:?}");
    // A map of root to root is refused: the namespace would protect nothing.
    let bad = jail(
        "userns-zero",
        "[rootfs]\npath = \"{rootfs}\"\n[namespaces]\nuser = true\n[user]\nuid_map = [{ inside = 0, outside = 0, count = 1 }]\n[command]\nargv = [\"/bin/true\"]\n",
    );
    let run = procjail(&["check", &bad.file.display().to_string()]);
    assert_eq!(run.code, 125);
    assert!(run.stderr.contains("maps the jail's root to the host's root"), "{run:?}");
}

/// On a pure cgroup v2 host (the VM), a subtree delegated to the user holds its jails' limits:
/// a fork loop (in a subshell: busybox's sh exits when a fork fails) stops at pids.max, counted; memory.max is written. On a v1 or hybrid host, whose
/// cgroup2 has no controller to delegate, the same jail is refused.
#[test]
fn limits_in_a_cgroup_delegated_to_the_user() {
    require_root();
    let uid = UID + 4;
    let v2 = procjail::host::Host::detect().cgroup == procjail::host::CgroupKind::V2;
    let j = user_jail(
        "rootless-deleg",
        "[rootfs]\npath = \"{rootfs}\"\n[defaults]\ncgroupfs = true\n[limits]\npids = 8\nmemory = \"32MiB\"\n[command]\nargv = [\"/bin/sh\", \"-c\", \
         \"(for i in 1 2 3 4 5 6 7 8 9 10; do sleep 5 & done) 2>/dev/null; read m < /sys/fs/cgroup/pids.max; echo $m; echo done\"]\n[init]\ngrace = \"1s\"\n",
    );
    if !v2 {
        let run = run_as(uid, &["check", &j.file.display().to_string()]);
        assert_eq!(run.code, 125, "{run:?}");
        assert!(run.stderr.contains("has no cgroup2 subtree delegated to it"), "{run:?}");
        return;
    }
    let d = Path::new("/sys/fs/cgroup/pj-test-deleg");
    let shell = d.join("shell");
    std::fs::create_dir_all(&shell).unwrap();
    for p in [
        d.to_path_buf(),
        d.join("cgroup.procs"),
        d.join("cgroup.subtree_control"),
        d.join("cgroup.threads"),
        shell.clone(),
        shell.join("cgroup.procs"),
    ] {
        std::os::unix::fs::chown(&p, Some(uid), Some(uid)).unwrap();
    }
    // Root puts the shell in the delegated leaf, which then runs procjail as the user.
    let script = format!("echo $$ > {}/cgroup.procs && exec \"$@\"", shell.display());
    // setpriv by its path: busybox's sh runs its own applet of that name.
    let setpriv = std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|d| Path::new(d).join("setpriv"))
        .find(|p| p.exists())
        .expect("setpriv");
    let out = Command::new("sh")
        .args([
            "-c",
            &script,
            "sh",
            &setpriv.display().to_string(),
            "--reuid",
            &uid.to_string(),
            "--regid",
            &uid.to_string(),
            "--clear-groups",
            bin(),
            "up",
        ])
        .arg(&j.file)
        .env_clear()
        .output()
        .unwrap();
    let run = Run::from(out);
    let lock = d.join("procjail/rootless-deleg.lock");
    let lock_left = lock.exists() && std::fs::remove_file(&lock).is_ok();
    let leftovers = [d.join("procjail"), shell.clone(), d.to_path_buf()];
    let cleaned: Vec<_> =
        leftovers.iter().filter(|p| p.exists()).map(|p| (p.clone(), std::fs::remove_dir(p))).collect();
    assert!(!lock_left, "{} was left", lock.display());
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("8\ndone"), "pids.max 8 in the jail's own cgroup: {run:?}");
    assert!(run.stderr.contains("pids limit 8 hit"), "{run:?}");
    assert!(!run.stderr.contains("hit 0 times"), "forks refused at the limit: {run:?}");
    for (p, r) in cleaned {
        assert!(r.is_ok(), "{} was left: {r:?}", p.display());
    }
    cleanup_state(uid);
}

/// A user's map of more than its own ids: refused without newuidmap and newgidmap, refused for a
/// range /etc/subuid does not grant, and planned as the helpers' steps when it is granted.
#[test]
fn ranges_go_through_newuidmap_when_granted() {
    use procjail::host::{CgroupKind, Host, user::SubIds};
    let text = "[rootfs]\npath = \"{rootfs}\"\n[user]\nuid_map = [{ inside = 0, outside = 1000, count = 1 }, { inside = 1, outside = 200000, count = 65536 }]\n\
                gid_map = [{ inside = 0, outside = 1000, count = 1 }, { inside = 1, outside = 200000, count = 65536 }]\n[command]\nargv = [\"/bin/true\"]\n"
        .replace("{rootfs}", &rootfs().display().to_string());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ranges.toml");
    let mut host = Host::standard(CgroupKind::V2);
    (host.uid, host.gid, host.state_dir) = (1000, 1000, "/tmp/procjail-1000".into());
    let problems = |host: &Host| match procjail::spec::from_str(&file, &text, host) {
        Ok(_) => Vec::new(),
        Err(d) => d.into_iter().map(|d| d.message).collect::<Vec<_>>(),
    };
    let p = problems(&host);
    assert!(p.iter().any(|m| m.contains("needs newuidmap and newgidmap")), "{p:?}");
    host.subids = SubIds { uids: vec![(100000, 65536)], gids: vec![(100000, 65536)], helpers: true };
    let p = problems(&host);
    assert!(
        p.iter().any(|m| m.contains("host uids 200000-265535 are not granted to uid 1000 in /etc/subuid")),
        "{p:?}"
    );
    host.subids = SubIds { uids: vec![(200000, 65536)], gids: vec![(200000, 65536)], helpers: true };
    let spec = procjail::spec::from_str(&file, &text, &host).unwrap();
    let plan = procjail::build::up(&spec, &host);
    let text = procjail::plan::print::text(&plan, procjail::plan::print::Style { color: false, width: 0 });
    assert!(text.contains("execve(\"/usr/bin/newuidmap\", [\"newuidmap\", \"$CHILD_PID\", \"0\", \"1000\", \"1\", \"1\", \"200000\", \"65536\"])"), "{text}");
    assert!(text.contains("execve(\"/usr/bin/newgidmap\""), "{text}");
    assert!(!text.contains("setgroups\", \"deny\""), "the helpers allow setgroups: {text}");
    assert!(
        text.contains("write(sync[0], \"mapped\")") && text.contains("read(sync[1]) = \"mapped\""),
        "{text}"
    );
}
