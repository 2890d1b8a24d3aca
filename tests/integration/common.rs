//! Shared helpers: running procjail, a busybox rootfs, jail files in temp folders, and the
//! snapshot of the host that every real-kernel test compares before and after.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_procjail")
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Real-kernel tests need root. They never skip: without root they fail, and say why.
pub fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test needs root (namespaces, mounts and cgroups are real): run the suite as root"
    );
}

/// A busybox rootfs shared by the tests, made once with `procjail rootfs busybox`.
pub fn rootfs() -> &'static Path {
    static ROOTFS: OnceLock<PathBuf> = OnceLock::new();
    ROOTFS.get_or_init(|| {
        let dir = repo().join("target/test-rootfs/busybox");
        if !dir.join("bin/busybox").exists() {
            let _ = std::fs::remove_dir_all(&dir);
            let out = Command::new(bin())
                .args(["rootfs", "busybox"])
                .arg(&dir)
                .output()
                .expect("run procjail rootfs");
            assert!(out.status.success(), "procjail rootfs failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        dir
    })
}

/// The repo's own busybox rootfs (rootfs/busybox, git-ignored) exists, so the plans of the
/// jails in jails/ do not depend on whether someone ran them before.
pub fn ensure_repo_rootfs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let dir = repo().join("rootfs/busybox");
        if !dir.join("bin/busybox").exists() {
            let run = procjail(&["rootfs", "busybox", &dir.display().to_string()]);
            assert_eq!(run.code, 0, "{run:?}");
        }
    });
}

/// A jail file in a fresh temp folder. `{rootfs}` in the text becomes the shared rootfs.
pub struct Jail {
    pub dir: tempfile::TempDir,
    pub file: PathBuf,
}

pub fn jail(name: &str, toml: &str) -> Jail {
    let dir = tempfile::Builder::new().prefix("procjail-test-").tempdir().expect("temp dir");
    let text = toml.replace("{rootfs}", &rootfs().display().to_string());
    let file = dir.path().join(format!("{name}.toml"));
    std::fs::write(&file, text).expect("write jail file");
    Jail { dir, file }
}

/// A jail running `sh -c SCRIPT` in the shared rootfs, with `extra` TOML before [command].
pub fn sh(name: &str, script: &str, extra: &str) -> Jail {
    let script = script.replace('\\', "\\\\").replace('"', "\\\"");
    jail(
        name,
        &format!(
            "[rootfs]\npath = \"{{rootfs}}\"\n{extra}\n[command]\nargv = [\"/bin/sh\", \"-c\", \"{script}\"]\n"
        ),
    )
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n--- stdout\n{}--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

/// Runs procjail with these arguments, stdin closed.
pub fn procjail(args: &[&str]) -> Run {
    let out = Command::new(bin()).args(args).stdin(Stdio::null()).output().expect("run procjail");
    Run::from(out)
}

/// The steps of a jail file's plan (`plan --json`), every phase's in order.
pub fn plan_steps(file: &std::path::Path) -> Vec<serde_json::Value> {
    let run = procjail(&["plan", "--json", file.to_str().unwrap()]);
    let plan: serde_json::Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"));
    plan["phases"].as_array().unwrap().iter().flat_map(|p| p["steps"].as_array().unwrap().clone()).collect()
}

/// `procjail up FILE` with the host checked before and after.
pub fn up(j: &Jail) -> Run {
    up_with(j, &[])
}

pub fn up_with(j: &Jail, extra: &[&str]) -> Run {
    require_root();
    let before = Snapshot::take(&j.file);
    let mut args = vec!["up"];
    args.extend_from_slice(extra);
    let file = j.file.display().to_string();
    args.push(&file);
    let run = procjail(&args);
    Snapshot::take(&j.file).assert_same(&before, &run);
    run
}

/// The source of the tmpfs a test mounts on the host on purpose, while other tests run (doctor's
/// mount in a host peer group): the test removes it itself, and no snapshot counts it as a leak.
pub const TEST_MOUNT: &str = "procjail-test-shared";

/// What a jail could leave on the host: mounts, its cgroups, its state, its processes.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    pub mounts: BTreeSet<String>,
    pub cgroups: BTreeSet<PathBuf>,
    pub state: BTreeSet<PathBuf>,
    pub processes: BTreeSet<i32>,
}

impl Snapshot {
    /// The host as seen for the jail of `file` (its name is the file's stem).
    pub fn take(file: &Path) -> Snapshot {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let mounts = procjail::host::mountinfo::parse(&mountinfo)
            .into_iter()
            .filter(|m| m.source != TEST_MOUNT)
            .map(|m| m.point)
            .collect();
        let mut cgroups = BTreeSet::new();
        for hierarchy in cgroup_hierarchies() {
            let dir = hierarchy.join("procjail").join(&name);
            if dir.exists() {
                cgroups.insert(dir);
            }
        }
        // NAME.lock, NAME.json, NAME.json.tmp; and a folder NAME, as an older procjail made.
        let state = ["lock", "json", "json.tmp"]
            .iter()
            .map(|ext| Path::new("/run/procjail").join(format!("{name}.{ext}")))
            .chain([Path::new("/run/procjail").join(&name)])
            .filter(|p| p.symlink_metadata().is_ok())
            .collect();
        Snapshot { mounts, cgroups, state, processes: jail_processes(&name) }
    }

    pub fn assert_same(&self, before: &Snapshot, run: &Run) {
        let leaked: Vec<&String> = self.mounts.difference(&before.mounts).collect();
        assert!(leaked.is_empty(), "mounts leaked onto the host: {leaked:?}\n{run:?}");
        assert!(self.cgroups.is_empty(), "cgroups left: {:?}\n{run:?}", self.cgroups);
        assert!(self.state.is_empty(), "state left: {:?}\n{run:?}", self.state);
        assert!(self.processes.is_empty(), "processes of the jail left: {:?}\n{run:?}", self.processes);
    }
}

/// Every cgroup hierarchy mounted on this host.
pub fn cgroup_hierarchies() -> Vec<PathBuf> {
    procjail::host::scan::cgroup_mounts()
}

/// Processes whose cgroup path names this jail (in any hierarchy).
pub fn jail_processes(name: &str) -> BTreeSet<i32> {
    procjail::host::scan::processes_of(name)
}

/// `procjail up FILE` running in the background, for tests that signal it. Its output is read
/// by two threads, so that a jail that hangs fails the test (after `TIMEOUT`) with what it said,
/// instead of hanging the suite.
pub struct Running {
    pub child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    stdout_seen: Vec<String>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
    pub before: Snapshot,
    pub file: PathBuf,
}

pub const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

pub fn spawn_up(j: &Jail, extra: &[&str]) -> Running {
    require_root();
    let before = Snapshot::take(&j.file);
    let mut child = Command::new(bin())
        .arg("up")
        .args(extra)
        .arg(&j.file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn procjail up");
    let (tx, lines) = std::sync::mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let (err, sink) = (child.stderr.take().unwrap(), stderr.clone());
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
            sink.lock().unwrap().push_str(&(line + "\n"));
        }
    });
    Running { child, lines, stdout_seen: Vec::new(), stderr, before, file: j.file.clone() }
}

impl Running {
    /// Reads stdout up to a line equal to `line` (the jail saying it is ready).
    pub fn wait_for(&mut self, line: &str) {
        loop {
            match self.lines.recv_timeout(TIMEOUT) {
                Ok(l) if l == line => return self.stdout_seen.push(l),
                Ok(l) => self.stdout_seen.push(l),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    self.fail(&format!("the jail ended before printing {line:?}"))
                }
                Err(_) => self.fail(&format!("no {line:?} after {TIMEOUT:?}")),
            }
        }
    }

    /// Kills procjail and fails the test with everything it said.
    fn fail(&mut self, why: &str) -> ! {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(std::time::Duration::from_millis(100));
        let name = self.file.file_stem().unwrap().to_string_lossy().into_owned();
        panic!(
            "{why}\n--- stdout\n{}\n--- stderr\n{}--- processes of the jail: {:?}",
            self.stdout_seen.join("\n"),
            self.stderr.lock().unwrap(),
            jail_processes(&name)
        );
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), sig).unwrap();
    }

    /// Waits for procjail to end (at most `TIMEOUT`); checks the host is as it was.
    pub fn finish(mut self) -> Run {
        let deadline = std::time::Instant::now() + TIMEOUT;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if std::time::Instant::now() > deadline {
                self.fail(&format!("procjail still running after {TIMEOUT:?}"));
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        // The readers end at EOF, once every process of the jail has gone too.
        let mut stdout: Vec<String> = std::mem::take(&mut self.stdout_seen);
        while let Ok(l) = self.lines.recv_timeout(TIMEOUT) {
            stdout.push(l);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        let stdout = stdout.iter().map(|l| format!("{l}\n")).collect();
        let run =
            Run { code: status.code().unwrap_or(-1), stdout, stderr: self.stderr.lock().unwrap().clone() };
        Snapshot::take(&self.file).assert_same(&self.before, &run);
        run
    }
}

/// Every jail file of jails/, sorted.
pub fn jail_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("jails"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "jails/ has no jail file");
    files
}
