//! Cgroups at run time: kill what is in one, wait until it is empty, read a counter.

use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill as send_signal};
use nix::unistd::Pid;

use super::Report;
use crate::error::Failure;
use crate::host::scan::cgroup_procs;
use crate::plan::Counter;

/// SIGKILL to every process of a cgroup: cgroup.kill (none to kill: nothing written, the
/// usual case once the jail's init has been reaped), or kill(2) for each pid.
pub fn kill(dir: &Path, kill_file: bool) -> Result<(), Failure> {
    if kill_file {
        if cgroup_procs(dir)?.is_empty() {
            return Ok(());
        }
        let mut f = std::fs::OpenOptions::new().write(true).open(dir.join("cgroup.kill"))?;
        f.write_all(b"1")?;
        return Ok(());
    }
    for pid in cgroup_procs(dir)? {
        match send_signal(Pid::from_raw(pid), Signal::SIGKILL) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(e) => return Err(Failure::new(e, format!("kill({pid}, SIGKILL)"))),
        }
    }
    Ok(())
}

/// How long teardown waits for a killed cgroup to empty before it calls it a leak.
const EMPTY_TIMEOUT: Duration = Duration::from_secs(10);

pub fn wait_empty(dir: &Path) -> Result<(), Failure> {
    let start = Instant::now();
    let mut pause = Duration::from_micros(200);
    loop {
        let left = cgroup_procs(dir)?;
        if left.is_empty() {
            return Ok(());
        }
        if start.elapsed() > EMPTY_TIMEOUT {
            let msg = format!("{} process(es) still in {}: {left:?}", left.len(), dir.display());
            return Err(Failure::new(Errno::EBUSY, msg));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Reads a counter of the report. A file this kernel does not have leaves it unknown.
pub fn read_counter(path: &Path, counter: Counter, report: &mut Report) -> Result<(), Failure> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let field = |name: &str| {
        text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse::<u64>().ok()))
    };
    match counter {
        Counter::OomKills => report.oom_kills = field("oom_kill "),
        Counter::MemoryPeak => report.memory_peak = text.trim().parse().ok(),
        Counter::PidsMaxHit => report.pids_max_hit = field("max "),
    }
    Ok(())
}

/// Loads the device program and attaches it to the jail's cgroup2 folder; closes its fd (the
/// attachment holds it until the cgroup goes).
pub fn device_filter(cgroup: &Path, program: &str) -> Result<(), Failure> {
    use std::os::fd::AsFd;
    let bytes: Vec<u8> = (0..program.len() / 2)
        .map(|i| u8::from_str_radix(&program[2 * i..2 * i + 2], 16).unwrap_or(0))
        .collect();
    let insns: Vec<u64> =
        bytes.chunks(8).map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect();
    let flags = nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC;
    let dir = nix::fcntl::open(cgroup, flags, nix::sys::stat::Mode::empty())
        .map_err(|e| Failure::new(e, format!("cannot open {}", cgroup.display())))?;
    let prog = crate::sys::bpf_device_program(&insns).map_err(|e| Failure::new(e, "BPF_PROG_LOAD"))?;
    crate::sys::bpf_attach_device(dir.as_fd(), prog.as_fd())
        .map_err(|e| Failure::new(e, "BPF_PROG_ATTACH"))?;
    Ok(())
}
