//! The state of a running jail, under /run/procjail/NAME: a lock the supervisor holds for its
//! whole life (so two jails of one name cannot run, and a dead supervisor is told from a live
//! one without trusting pids), and state.json (pids, start times, the file and its hash, the
//! cgroups, the command, the plan), written atomically. Teardown removes it.

use std::io::Write as _;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::exec::{Ctx, Failure, StepResult};
use crate::host::CgroupKind;
use crate::leftovers::STATE_DIR;
use crate::plan::{Builder, Counter, Op, Plan, Side, Value};
use crate::spec::Origin;

/// What `procjail ps`, `inspect`, `exec`, `kill` and `down` know of a running jail. `P` is the
/// plan: written straight from the Plan, read back as JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State<P = serde_json::Value> {
    pub version: u32,
    pub name: String,
    pub supervisor_pid: i32,
    /// Start time of the process, in clock ticks after boot (/proc/PID/stat field 22): a pid
    /// that was reused has another.
    pub supervisor_start: u64,
    /// The jail's first process (its init, or the command with init mode "none").
    pub init_pid: i32,
    pub init_start: u64,
    /// Seconds since the epoch.
    pub started_at: u64,
    pub file: PathBuf,
    pub file_sha256: String,
    pub rootfs: PathBuf,
    pub cgroup_kind: CgroupKind,
    /// The jail's own cgroup folders, one per hierarchy.
    pub cgroups: Vec<PathBuf>,
    pub memory_cgroup: Option<PathBuf>,
    pub pids_cgroup: Option<PathBuf>,
    pub memory_limit: Option<u64>,
    pub pids_limit: Option<u64>,
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    pub rlimits: Vec<(String, u64)>,
    /// The plan that was run, as `plan --json` prints it.
    pub plan: P,
}

pub fn dir(name: &str) -> PathBuf {
    Path::new(STATE_DIR).join(name)
}

/// Phase "state" (parent): the folder and the lock. Returns the index of the lock step.
pub fn plan_lock(b: &mut Builder, name: &str) -> (usize, usize) {
    b.phase("state", Side::Parent);
    b.step(Op::Mkdir { path: STATE_DIR.into(), mode: 0o755, exist_ok: true }, Origin::Default);
    let mkdir = b.step(Op::Mkdir { path: dir(name), mode: 0o755, exist_ok: true }, Origin::Default);
    let lock = b.step(Op::Lock { path: dir(name).join("lock") }, Origin::Default);
    (mkdir, lock)
}

/// The teardown steps of the state: only if this run holds the lock.
pub fn plan_remove(b: &mut Builder, name: &str, lock: usize) {
    b.step_needing(Op::Unlink { path: dir(name).join("state.json") }, Origin::Default, lock);
    b.step_needing(Op::Unlink { path: dir(name).join("lock") }, Origin::Default, lock);
    b.step_needing(Op::Rmdir { path: dir(name) }, Origin::Default, lock);
}

/// open + flock(LOCK_EX|LOCK_NB): a second jail of the same name stops here.
pub fn lock(path: &Path, ctx: &mut Ctx) -> StepResult {
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(path)?;
    // SAFETY: flock on a descriptor we own.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let errno = Errno::last();
        let holder = path.parent().and_then(|d| read(d).ok()).map(|s| s.supervisor_pid);
        let who = holder.map_or("another procjail".to_string(), |p| format!("procjail pid {p}"));
        return Err(Failure::new(
            errno,
            format!("a jail of this name is running: {who} holds {}", path.display()),
        ));
    }
    ctx.lock = Some(file.into());
    Ok(())
}

pub fn unlink(path: &Path) -> StepResult {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Start time of a process in clock ticks after boot, from /proc/PID/stat (field 22).
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = crate::host::read_small(&format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    stat.rsplit_once(')')?.1.split_whitespace().nth(19)?.parse().ok()
}

/// A pidfd for `pid`, if it is still the process that started at `start`. It is opened first and
/// checked after: from then on it names that process, whatever happens to the pid.
pub fn pidfd(pid: i32, start: u64) -> Option<std::os::fd::OwnedFd> {
    // SAFETY: pidfd_open returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: the descriptor was just returned to us and nothing else owns it.
    let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd as i32) };
    (start_time(pid) == Some(start)).then_some(fd)
}

/// pidfd_send_signal(2).
pub fn pidfd_signal(fd: &std::os::fd::OwnedFd, sig: nix::sys::signal::Signal) -> nix::Result<()> {
    // SAFETY: a valid pidfd, no siginfo.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_send_signal, fd.as_raw_fd(), sig as i32, 0usize, 0u32) };
    if r == 0 { Ok(()) } else { Err(Errno::last()) }
}

/// Writes state.json.tmp and renames it over state.json, so readers never see half a file.
pub fn save(path: &Path, plan: &Plan, ctx: &Ctx) -> StepResult {
    let state = from_plan(plan, ctx);
    let tmp = path.with_extension("json.tmp");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
    serde_json::to_writer_pretty(&mut f, &state).map_err(|e| Failure::new(Errno::EIO, e.to_string()))?;
    f.flush()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// The state of a run, from its plan (what was asked for) and its context (what happened).
fn from_plan<'p>(plan: &'p Plan, ctx: &Ctx) -> State<crate::plan::print::JsonPlan<'p>> {
    let me = std::process::id() as i32;
    let init = ctx.child.map_or(0, |p| p.as_raw());
    let file = std::path::absolute(&plan.file).unwrap_or_else(|_| plan.file.clone());
    let file_sha256 = std::fs::read(&file).map(|b| hex(&sha2::Sha256::digest(&b))).unwrap_or_default();
    let mut s = State {
        version: 1,
        name: plan.jail.clone(),
        supervisor_pid: me,
        supervisor_start: start_time(me).unwrap_or(0),
        init_pid: init,
        init_start: start_time(init).unwrap_or(0),
        started_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        file,
        file_sha256,
        rootfs: PathBuf::new(),
        cgroup_kind: plan.host.cgroup,
        cgroups: Vec::new(),
        memory_cgroup: None,
        pids_cgroup: None,
        memory_limit: None,
        pids_limit: None,
        argv: Vec::new(),
        env: Vec::new(),
        cwd: "/".into(),
        rlimits: Vec::new(),
        plan: crate::plan::print::json_doc(plan),
    };
    for phase in &plan.phases {
        for step in &phase.steps {
            match &step.op {
                Op::OpenRoot { path } => s.rootfs = path.clone(),
                Op::Reclaim { path } => s.cgroups.push(path.clone()),
                Op::ReadCounter { path, counter: Counter::MemoryPeak } => {
                    s.memory_cgroup = path.parent().map(Path::to_path_buf)
                }
                Op::ReadCounter { path, counter: Counter::PidsMaxHit } => {
                    s.pids_cgroup = path.parent().map(Path::to_path_buf)
                }
                Op::Write { path, value: Value::Text(v) } => {
                    match path.file_name().and_then(|f| f.to_str()) {
                        Some("memory.max" | "memory.limit_in_bytes") => s.memory_limit = v.parse().ok(),
                        Some("pids.max") => s.pids_limit = v.parse().ok(),
                        _ => {}
                    }
                }
                Op::Execve { argv, env } => (s.argv, s.env) = (argv.clone(), env.clone()),
                Op::Chdir { path } if phase.name == "exec" => s.cwd = path.clone(),
                Op::Setrlimit { key, value, .. } => s.rlimits.push((key.clone(), *value)),
                _ => {}
            }
        }
    }
    s
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads the state in a jail's folder.
pub fn read(dir: &Path) -> anyhow::Result<State> {
    let text = std::fs::read_to_string(dir.join("state.json"))?;
    Ok(serde_json::from_str(&text)?)
}

/// Whether the supervisor that wrote `dir`'s state still runs: it holds the lock. (The pid and
/// its start time say the same, unless the pid was reused; the lock cannot be fooled.)
pub fn is_live(dir: &Path) -> bool {
    let Ok(file) = std::fs::OpenOptions::new().write(true).open(dir.join("lock")) else { return false };
    // SAFETY: flock on a descriptor we own; released when it closes.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) != 0 }
}

/// A jail's state folder, running or left over.
#[derive(Debug)]
pub struct Entry {
    pub name: String,
    pub dir: PathBuf,
    pub state: Option<State>,
    pub live: bool,
}

/// Every folder under /run/procjail, sorted by name.
pub fn all() -> Vec<Entry> {
    let Ok(entries) = std::fs::read_dir(STATE_DIR) else { return Vec::new() };
    let mut out: Vec<Entry> = entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| {
            let dir = e.path();
            Entry {
                name: e.file_name().to_string_lossy().into_owned(),
                state: read(&dir).ok(),
                live: is_live(&dir),
                dir,
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// A running jail by name, or a clear error.
pub fn running(name: &str) -> anyhow::Result<State> {
    let dir = dir(name);
    if !dir.exists() {
        anyhow::bail!("no jail named {name:?} is running (nothing in {})", dir.display());
    }
    if !is_live(&dir) {
        anyhow::bail!(
            "the jail {name:?} is not running: its supervisor is gone and left {} (run `procjail gc`)",
            dir.display()
        );
    }
    let state = read(&dir)?;
    if start_time(state.init_pid) != Some(state.init_start) {
        anyhow::bail!(
            "the jail {name:?} has no first process any more (pid {} is gone or reused)",
            state.init_pid
        );
    }
    Ok(state)
}
