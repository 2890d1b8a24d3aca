//! OCI bundles in and out, against the real runc (Debian's 1.1.5): every experiment of jails/
//! exported and run under runc with the exit code and output it has under procjail; `runc spec`'s
//! default config imported and run under both, the process's view of itself compared; import →
//! export → import a fixed point; golden files of both directions (tests/golden/oci/). Container
//! ids and jail names start with `oci-`; every container is deleted by a guard, and the host is
//! checked to be as it was (mounts, cgroups, runc's state, processes).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use procjail::host::{CgroupKind, Host};

use crate::common::*;

/// runc's state folder for these tests only (runc's own /run/runc is left alone).
const RUNC_ROOT: &str = "/run/procjail-oci-tests";

/// Experiments whose output differs under runc on purpose, and why. The exit code must still be
/// the same, and the output must really differ (a stale entry fails).
const DIFFER: &[(&str, &str)] = &[
    (
        "pid-namespace",
        "it prints the jail's pids: PID 1 is procjail's init here and tini there, and runc's own \
         setup (runc init, then tini's exec) has used pids 2 to 5 before the shell gets 6",
    ),
    (
        "pid1-ignores-sigterm-fixed",
        "it prints the shell's pid: 2 under procjail's init, 6 under runc and tini (as \
         pid-namespace); the exit, 143 from the forwarded SIGTERM, is the same",
    ),
    (
        "ptrace-init",
        "its point is procjail's init: tini is dumpable and has the command's capabilities, so \
         /proc/1/exe opens (the runc CVE-2019-5736 class), where procjail's init refuses it",
    ),
];

fn require_runc() {
    require_root();
    let ok = Command::new("runc").arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(ok, "these tests need runc (apt-get install runc; .ci/run installs it)");
}

/// A container of these tests: deleted (with everything runc made for it) however the test ends.
struct Container {
    id: String,
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("runc").args(["--root", RUNC_ROOT, "delete", "-f", &self.id]).output();
        let _ = std::fs::remove_dir(RUNC_ROOT);
    }
}

/// runc with these tests' state folder: its stdout, or None when it failed.
fn runc(args: &[&str]) -> Option<String> {
    let out = Command::new("runc").args(["--root", RUNC_ROOT]).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether the container's process has started (runc state says "running").
fn running(id: &str) -> bool {
    runc(&["state", id]).is_some_and(|s| s.contains("\"status\": \"running\""))
}

/// `runc run` in the foreground, as `procjail up` runs a jail: `stop` (the jail's timeout and
/// grace period) after the container runs, SIGTERM to its PID 1, then SIGKILL, as procjail does.
/// A signal runc could not send (the container not yet running: slow in the VM) is sent again.
fn runc_run(bundle: &Path, id: &str, stop: Option<(u64, u64)>) -> Run {
    let _guard = Container { id: id.to_string() };
    let mut child = Command::new("runc")
        .args(["--root", RUNC_ROOT, "run", "-b"])
        .arg(bundle)
        .arg(id)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn runc run");
    let (out, err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let read = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let (out, err) = (read(Box::new(out)), read(Box::new(err)));
    let start = Instant::now();
    let mut ran: Option<Instant> = None;
    let mut sent = 0;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if let Some((timeout, grace)) = stop {
            if ran.is_none() && running(id) {
                ran = Some(Instant::now());
            }
            let t = ran.map_or(0, |r| r.elapsed().as_millis() as u64);
            if ran.is_some() && sent == 0 && t >= timeout && runc(&["kill", id, "TERM"]).is_some() {
                sent = 1;
            } else if sent == 1 && t >= timeout + grace && runc(&["kill", id, "KILL"]).is_some() {
                sent = 2;
            }
        }
        if start.elapsed() > TIMEOUT {
            runc(&["kill", id, "KILL"]);
            panic!("runc run {id} still running after {TIMEOUT:?} (signals sent: {sent})");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run { code: status.code().unwrap_or(-1), stdout: out.join().unwrap(), stderr: err.join().unwrap() }
}

/// What a run shows of the command: its exit code, its stdout, and whether its stderr says what
/// the experiment's `[expect] stderr` asks (stderr is not compared whole: how many forks a fork
/// bomb has refused when it is stopped is not the same twice).
fn shown(r: &Run, expect: Option<&procjail::spec::Expect>) -> (i32, String, bool) {
    let err: Vec<&str> = r.stderr.lines().filter(|l| !l.starts_with("procjail: ")).collect();
    let said = expect.and_then(|e| e.stderr.as_ref()).is_none_or(|m| m.matches(&(err.join("\n") + "\n")));
    (r.code, r.stdout.clone(), said)
}

/// Nothing of runc's left: its state, its cgroups (named after the id), the mounts.
fn assert_runc_left_nothing(id: &str, mounts_before: &std::collections::BTreeSet<String>) {
    assert!(!Path::new(RUNC_ROOT).join(id).exists(), "runc's state of {id} left");
    for h in cgroup_hierarchies() {
        assert!(!h.join(id).exists(), "runc's cgroup {} left", h.join(id).display());
    }
    let now = Snapshot::take(Path::new(&format!("{id}.toml")));
    let leaked: Vec<&String> = now.mounts.difference(mounts_before).collect();
    assert!(leaked.is_empty(), "mounts left by {id}: {leaked:?}");
    assert!(now.processes.is_empty(), "processes of {id} left");
}

fn export(file: &Path, dir: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["export", "oci"];
    let (f, d) = (file.display().to_string(), dir.display().to_string());
    args.extend([f.as_str(), d.as_str()]);
    args.extend_from_slice(extra);
    procjail(&args)
}

#[test]
fn every_experiment_runs_under_runc_as_under_procjail() {
    require_runc();
    ensure_repo_rootfs();
    let host = Host::detect();
    let mut wrong = Vec::new();
    for f in jail_files() {
        let name = f.file_stem().unwrap().to_string_lossy().into_owned();
        let id = format!("oci-{name}");
        let spec = procjail::spec::load(&f, &host).unwrap();
        // procjail's init goes along as tini, the nearest an OCI bundle has.
        let init = if spec.init == procjail::config::InitMode::Builtin { "tini" } else { "none" };
        let dir = tempfile::Builder::new().prefix("procjail-oci-").tempdir().unwrap();
        let bundle = dir.path().join("bundle");
        let e = export(&f, &bundle, &["--init", init]);
        assert_eq!(e.code, 0, "export {name}: {e:?}");
        let before = Snapshot::take(Path::new(&format!("{id}.toml")));
        let ours = procjail(&["up", "--name", &id, &f.display().to_string()]);
        Snapshot::take(Path::new(&format!("{id}.toml"))).assert_same(&before, &ours);
        let stop = spec.timeout_ms.map(|t| (t, spec.grace_ms));
        let theirs = runc_run(&bundle, &id, stop);
        assert_runc_left_nothing(&id, &before.mounts);
        let (a, b) = (shown(&ours, spec.expect.as_ref()), shown(&theirs, spec.expect.as_ref()));
        let differs = DIFFER.iter().any(|(n, _)| *n == name);
        if a.0 != b.0 {
            wrong.push(format!(
                "{name}: exit {} under procjail, {} under runc\n{ours:?}\n{theirs:?}",
                a.0, b.0
            ));
        } else if differs && a == b {
            wrong.push(format!("{name} is listed in DIFFER but runs the same: take it off the list"));
        } else if !differs && a != b {
            wrong.push(format!("{name}: the output differs\n--- procjail\n{ours:?}\n--- runc\n{theirs:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

/// What the command shows of itself: its capability sets, NoNewPrivs and Seccomp, the hostname,
/// its rlimits, then each mount point with its options (mountinfo's 5th and 6th fields).
const PROBE: &str = "grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status; echo host $(hostname); \
                     tail -n +2 /proc/self/limits; echo mounts; cut -d' ' -f5,6 /proc/self/mountinfo";

/// `runc spec` in `dir`: the default config of this runc, its command made the probe, its
/// rootfs the tests' busybox, no terminal.
fn runc_spec(dir: &Path, args: &[&str]) -> serde_json::Value {
    let out = Command::new("runc").args(["spec", "-b"]).arg(dir).output().expect("runc spec");
    assert!(out.status.success(), "runc spec: {}", String::from_utf8_lossy(&out.stderr));
    let mut c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    c["root"]["path"] = rootfs().display().to_string().into();
    c["process"]["terminal"] = false.into();
    c["process"]["args"] = args.iter().map(|a| a.to_string()).collect::<Vec<_>>().into();
    std::fs::write(dir.join("config.json"), serde_json::to_string_pretty(&c).unwrap()).unwrap();
    c
}

/// The probe's output: (status, hostname and limits lines; each mount point's options).
fn sections(text: &str) -> (String, BTreeMap<String, String>) {
    let (head, mounts) = text.split_once("mounts\n").expect("the probe's mounts");
    let m = mounts
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(p, o)| (p.to_string(), o.to_string()))
        .collect();
    (head.to_string(), m)
}

/// The restricting flags of a mount's options.
fn strict(o: &str) -> Vec<&str> {
    o.split(',').filter(|f| ["ro", "nosuid", "nodev", "noexec"].contains(f)).collect()
}

#[test]
fn runc_spec_imported_runs_alike_under_procjail_and_runc() {
    require_runc();
    let dir = tempfile::Builder::new().prefix("procjail-oci-").tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    std::fs::create_dir(&bundle).unwrap();
    let config = runc_spec(&bundle, &["/bin/sh", "-c", PROBE]);
    let jail = dir.path().join("oci-spec.toml");
    let imp = procjail(&["import", "oci", &bundle.display().to_string(), "-o", &jail.display().to_string()]);
    assert_eq!(imp.code, 0, "{imp:?}");
    let before = Snapshot::take(&jail);
    let ours = procjail(&["up", &jail.display().to_string()]);
    Snapshot::take(&jail).assert_same(&before, &ours);
    let theirs = runc_run(&bundle, "oci-spec", None);
    assert_runc_left_nothing("oci-spec", &before.mounts);
    assert_eq!((ours.code, theirs.code), (0, 0), "{ours:?}\n{theirs:?}");
    let ((ours_head, ours_m), (theirs_head, theirs_m)) = (sections(&ours.stdout), sections(&theirs.stdout));
    // The capability sets, NoNewPrivs, Seccomp, the hostname and every rlimit: the same.
    assert_eq!(ours_head, theirs_head, "the process's own view differs");
    // The mounts. Known, and each at least as strict under procjail:
    // - the rootfs is nodev under procjail; /proc is nosuid,nodev,noexec whatever the options
    //   (runc spec gives none), and so are the read-only paths bound from it; /dev is nodev and
    //   noexec, its nodes bound from the host, where runc makes them with mknod;
    // - a masked file is the host's /dev/null under procjail, the container's under runc;
    // - /sys/fs/cgroup is cgroup2 under procjail; on a v1 or hybrid host, runc's "cgroup" is a
    //   tmpfs of the v1 hierarchies.
    let masked: Vec<String> = config["linux"]["maskedPaths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    let nodes: Vec<String> = procjail::mounts::DEVICES.iter().map(|d| format!("/dev/{d}")).collect();
    let v2 = Host::detect().cgroup == CgroupKind::V2;
    for (point, o) in &ours_m {
        if nodes.contains(point) {
            assert!(!theirs_m.contains_key(point), "{point}: runc binds it too?");
            continue;
        }
        let Some(t) = theirs_m.get(point) else { panic!("{point} ({o}) is mounted under procjail only") };
        if masked.contains(point) {
            continue;
        }
        if o != t {
            let known = ["/", "/proc", "/dev"].contains(&point.as_str())
                || point.starts_with("/proc/")
                || masked.contains(point)
                || (point == "/sys/fs/cgroup" && !v2);
            assert!(known, "{point}: {o} under procjail, {t} under runc");
            for f in strict(t) {
                assert!(strict(o).contains(&f), "{point}: runc's is {f} ({t}), procjail's is not ({o})");
            }
        }
    }
    for (point, t) in &theirs_m {
        let v1_cgroups = !v2 && point.starts_with("/sys/fs/cgroup/");
        assert!(ours_m.contains_key(point) || v1_cgroups, "{point} ({t}) is mounted under runc only");
    }
}

/// A bundle in a temp folder from a config.json fixture: its rootfs a link to the tests'
/// busybox, and the folders its binds name.
fn fixture_bundle(config: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("procjail-oci-").tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    std::fs::create_dir(&bundle).unwrap();
    std::fs::write(bundle.join("config.json"), config).unwrap();
    std::os::unix::fs::symlink(rootfs(), bundle.join("rootfs")).unwrap();
    for d in ["config", "shm"] {
        std::fs::create_dir(bundle.join(d)).unwrap();
    }
    dir
}

/// `procjail import oci` run in `dir`, with paths relative to it.
fn import_in(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(bin())
        .args(["import", "oci"])
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Run::from(out)
}

/// Compares `text` with tests/golden/oci/NAME, or writes it there under PROCJAIL_BLESS.
fn golden(name: &str, text: &str) -> Option<String> {
    let path = repo().join("tests/golden/oci").join(name);
    if std::env::var_os("PROCJAIL_BLESS").is_some() {
        std::fs::write(&path, text).unwrap();
        return None;
    }
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    (old != text).then(|| format!("{} differs (PROCJAIL_BLESS=1 to accept):\n{text}", path.display()))
}

/// The config of `runc spec` as runc 1.1.5 writes it (committed, so the golden file does not
/// change with the runc installed).
const RUNC_SPEC: &str = include_str!("../golden/oci/runc-spec.config.json");
const FULL: &str = include_str!("../golden/oci/full.config.json");

#[test]
fn imports_match_the_golden_files() {
    let mut stale = Vec::new();
    for (name, config, lossy) in [("runc-spec", RUNC_SPEC, false), ("full", FULL, true)] {
        let dir = fixture_bundle(config);
        let mut args = vec!["bundle", "-o", "jail.toml"];
        if lossy {
            args.push("--lossy");
        }
        let run = import_in(dir.path(), &args);
        assert_eq!(run.code, 0, "{name}: {run:?}");
        let text = std::fs::read_to_string(dir.path().join("jail.toml")).unwrap();
        stale.extend(golden(&format!("{name}.toml"), &text));
        if let Ok(profile) = std::fs::read_to_string(dir.path().join("jail.seccomp.json")) {
            stale.extend(golden(&format!("{name}.seccomp.json"), &profile));
        }
    }
    assert!(stale.is_empty(), "{}", stale.join("\n"));
}

#[test]
fn exports_match_the_golden_files() {
    ensure_repo_rootfs();
    let root = repo().display().to_string();
    let mut stale = Vec::new();
    for (name, init) in [("busybox", "tini"), ("device-open-denied", "none"), ("readonly-bind", "catatonit")]
    {
        let dir = tempfile::Builder::new().prefix("procjail-oci-").tempdir().unwrap();
        let out = Command::new(bin())
            .args(["export", "oci", &format!("jails/{name}.toml")])
            .arg(dir.path().join("b"))
            .args(["--init", init])
            .current_dir(repo())
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let notes = String::from_utf8_lossy(&out.stderr).into_owned();
        let config =
            std::fs::read_to_string(dir.path().join("b/config.json")).unwrap().replace(&root, "$REPO");
        let v: serde_json::Value = serde_json::from_str(&config).unwrap();
        // The notes on stderr are the annotation's, one a line.
        let annotated = v["annotations"]["org.procjail.notes"].as_str().unwrap();
        let printed: Vec<&str> = notes.lines().map(|l| l.trim_start_matches("procjail: note: ")).collect();
        assert_eq!(printed.join("\n"), annotated, "{name}");
        stale.extend(golden(&format!("{name}.config.json"), &config));
    }
    assert!(stale.is_empty(), "{}", stale.join("\n"));
}

/// import → export → import: the second import is the first one's meaning. The first import
/// keeps config.json's own words in its comments (OCI's options, "cgroup"), so the fixed point
/// is that of the jail: the bundles exported from the first and the second import are the same,
/// and a third import is the second one, line for line.
#[test]
fn import_export_import_is_a_fixed_point() {
    for (name, config) in [("runc-spec", RUNC_SPEC), ("full", FULL)] {
        let dir = fixture_bundle(config);
        let d = dir.path();
        let mut jails = Vec::new();
        let mut bundles = Vec::new();
        let mut from = "bundle".to_string();
        for round in 1..=3 {
            let jail = format!("jail{round}.toml");
            let run = import_in(d, &[&from, "-o", &jail, "--lossy"]);
            assert_eq!(run.code, 0, "{name} round {round}: {run:?}");
            let text = std::fs::read_to_string(d.join(&jail)).unwrap();
            // Only the header (where it came from) and the profile's file name may differ.
            let body: Vec<String> = text
                .lines()
                .filter(|l| !l.starts_with("# Imported by"))
                .map(|l| l.replace(&format!("jail{round}.seccomp.json"), "PROFILE"))
                .collect();
            jails.push(body.join("\n"));
            let out = format!("export{round}");
            let e = Command::new(bin()).args(["export", "oci", &jail, &out]).current_dir(d).output().unwrap();
            assert!(e.status.success(), "{name} round {round}: {}", String::from_utf8_lossy(&e.stderr));
            let mut v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(d.join(&out).join("config.json")).unwrap())
                    .unwrap();
            v["annotations"]["org.procjail.source"] = "".into();
            bundles.push(v);
            // The next import reads this bundle; its rootfs and bind sources are the same folders.
            from = out;
        }
        assert_eq!(
            bundles[0], bundles[1],
            "{name}: export(import(x)) is not export(import(export(import(x))))"
        );
        assert_eq!(bundles[1], bundles[2], "{name}");
        assert_eq!(jails[1], jails[2], "{name}: import(export(import(x))) changes on another round");
    }
}

/// A jail with procjail's init, exported with tini in its place, imports with procjail's init.
#[test]
fn the_init_of_export_init_tini_imports_as_procjails() {
    ensure_repo_rootfs();
    let dir = tempfile::Builder::new().prefix("procjail-oci-").tempdir().unwrap();
    let jail = repo().join("jails/zombie-storm-fixed.toml");
    for init in ["tini", "catatonit"] {
        let b = dir.path().join(init);
        assert_eq!(export(&jail, &b, &["--init", init]).code, 0);
        let out = format!("{init}.toml");
        let run = import_in(dir.path(), &[init, "-o", &out]);
        assert_eq!(run.code, 0, "{run:?}");
        let text = std::fs::read_to_string(dir.path().join(&out)).unwrap();
        assert!(text.contains("mode = \"builtin\""), "{text}");
        assert!(text.contains("argv = [\"/bin/sh\", \"-c\""), "{text}");
        assert!(!text.contains("target = \"/dev/init\"") && !text.contains("# Not carried"), "{text}");
    }
}

#[test]
fn a_security_key_that_cannot_be_carried_stops_the_import() {
    let dir = fixture_bundle(FULL);
    let run = import_in(dir.path(), &["bundle", "-o", "jail.toml"]);
    assert_eq!(run.code, 125, "{run:?}");
    // The user namespace and its maps are carried ([namespaces] user, [user]); AppArmor is not.
    assert!(run.stderr.contains("/process/apparmorProfile"), "{}", run.stderr);
    for key in ["/linux/namespaces/6/type", "/linux/uidMappings"] {
        assert!(!run.stderr.contains(key), "{key} is carried now: {}", run.stderr);
    }
    assert!(run.stderr.contains("--lossy"), "{}", run.stderr);
    assert!(!dir.path().join("jail.toml").exists() && !dir.path().join("jail.seccomp.json").exists());
}

#[test]
fn a_malformed_config_says_which_key_and_what_is_accepted() {
    let mut base: serde_json::Value = serde_json::from_str(RUNC_SPEC).unwrap();
    base["process"]["terminal"] = false.into();
    let cases: &[(&str, serde_json::Value, &str, &str)] = &[
        ("/process/args", serde_json::json!("sh"), "/process/args: expected an array", "an array of strings"),
        (
            "/process/env",
            serde_json::json!(["PATH"]),
            "/process/env/0: \"PATH\" has no '='",
            "\"NAME=value\"",
        ),
        (
            "/process/rlimits",
            serde_json::json!([{ "type": "RLIMIT_FOO", "soft": 1, "hard": 1 }]),
            "/process/rlimits/0/type: \"RLIMIT_FOO\" is not an rlimit",
            "RLIMIT_NOFILE",
        ),
        (
            "/linux/namespaces",
            serde_json::json!([{ "type": "net" }]),
            "unknown namespace type \"net\"",
            "network",
        ),
        (
            "/process/capabilities/bounding",
            serde_json::json!(["CAP_FLY"]),
            "/process/capabilities/bounding/0: \"CAP_FLY\" is not a capability",
            "CAP_CHOWN",
        ),
        ("/root", serde_json::json!({}), "/root/path: missing", "the rootfs"),
    ];
    for (pointer, value, message, accepted) in cases {
        let mut c = base.clone();
        *c.pointer_mut(pointer).unwrap() = value.clone();
        let dir = fixture_bundle(&c.to_string());
        let run = import_in(dir.path(), &["bundle", "-o", "jail.toml"]);
        assert_eq!(run.code, 125, "{pointer}: {run:?}");
        assert!(run.stderr.contains(message) && run.stderr.contains(accepted), "{pointer}: {}", run.stderr);
    }
    let dir = fixture_bundle("{ not json");
    let run = import_in(dir.path(), &["bundle"]);
    assert!(run.code == 125 && run.stderr.contains("config.json:1:3: not JSON"), "{run:?}");
}

#[test]
fn an_export_with_its_rootfs_copied_runs_under_runc() {
    require_runc();
    ensure_repo_rootfs();
    let dir = tempfile::Builder::new().prefix("procjail-oci-").tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    let e = export(&repo().join("jails/busybox.toml"), &bundle, &["--copy-rootfs", "--init", "catatonit"]);
    assert_eq!(e.code, 0, "{e:?}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.join("config.json")).unwrap()).unwrap();
    assert_eq!(v["root"]["path"], "rootfs");
    assert!(bundle.join("rootfs/bin/busybox").is_file());
    let before = Snapshot::take(Path::new("oci-copied.toml"));
    let run = runc_run(&bundle, "oci-copied", None);
    assert_runc_left_nothing("oci-copied", &before.mounts);
    assert_eq!((run.code, run.stdout.as_str()), (0, "hello from busybox\n"), "{run:?}");
    // A bundle folder that is not empty is refused, and left alone.
    let again = export(&repo().join("jails/busybox.toml"), &bundle, &[]);
    assert!(again.code == 125 && again.stderr.contains("not empty"), "{again:?}");
}

/// BUNDLE may be the config.json itself, given by a bare name too: its folder is the bundle.
#[test]
fn a_config_file_given_for_its_bundle() {
    let dir = fixture_bundle(RUNC_SPEC);
    let bundle = dir.path().join("bundle");
    let run = import_in(&bundle, &["config.json"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("path = \"rootfs\""), "{}", run.stdout);
    let run = import_in(dir.path(), &["bundle/config.json"]);
    assert!(run.code == 0 && run.stdout.contains("path = \"bundle/rootfs\""), "{run:?}");
}
