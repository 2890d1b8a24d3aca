//! `up --trace-json FILE`: the run as Chrome trace events (the JSON format that ui.perfetto.dev
//! and chrome://tracing open), one track each for the supervisor, the jail's init and the
//! command, each step a slice with its syscall text, duration and result.
//!
//! The three processes share one anonymous file (a memfd made before the walk, close-on-exec):
//! each appends one JSON line per step in a single write, and the file offset they share is
//! updated atomically per write, so lines never overlap. The init closes the file with the rest
//! of the host's descriptors when its setup is done, and the command at its execve, so neither
//! holds it while the jail runs. At the end the supervisor reads the lines back and writes FILE.
//! These writes are procjail's own output, as `--trace`'s lines on stderr are: not steps.

use std::os::fd::{AsFd, OwnedFd};

use nix::sys::memfd::{MFdFlags, memfd_create};
use nix::time::{ClockId, clock_gettime};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::plan::{Plan, Side, Step};

/// The shared file of a run's events, and when the run began (CLOCK_MONOTONIC, ns).
#[derive(Debug)]
pub struct Timeline {
    file: OwnedFd,
    start_ns: i64,
}

/// One line of the file: a step, on the track of the process that did it.
#[derive(Debug, Serialize, Deserialize)]
struct Line {
    side: Side,
    phase: String,
    step: usize,
    text: String,
    /// "X": a step that ran (with its duration); "B": a step that does not return soon (its end,
    /// "E", follows if it returns); "i": a step skipped, or passed over.
    ph: String,
    ts_ns: i64,
    dur_ns: i64,
    result: String,
    pid: i32,
}

/// Now, on the clock every process of the run shares.
pub fn now_ns() -> i64 {
    clock_gettime(ClockId::CLOCK_MONOTONIC).map_or(0, |t| t.tv_sec() * 1_000_000_000 + t.tv_nsec())
}

impl Timeline {
    pub fn new() -> std::io::Result<Timeline> {
        let file = memfd_create("procjail-trace", MFdFlags::MFD_CLOEXEC)?;
        // The supervisor, the init and the command write to it at once, through one shared file
        // offset; in the v2 VM (Linux 6.1) two of them wrote a line at the same offset and one
        // was lost. O_APPEND: each write goes at the end, under the inode's lock.
        nix::fcntl::fcntl(&file, nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_APPEND))?;
        Ok(Timeline { file, start_ns: now_ns() })
    }

    /// Appends one event of this process (a failed write only loses the event).
    pub fn record(&self, side: Side, phase: &str, step: &Step, ph: &str, start_ns: i64, result: &str) {
        let dur_ns = if ph == "X" { now_ns() - start_ns } else { 0 };
        let line = Line {
            side,
            phase: phase.to_string(),
            step: step.index,
            text: step.op.to_string(),
            ph: ph.to_string(),
            ts_ns: start_ns - self.start_ns,
            dur_ns,
            result: result.to_string(),
            pid: nix::unistd::getpid().as_raw(),
        };
        if let Ok(mut text) = serde_json::to_string(&line) {
            text.push('\n');
            let _ = nix::unistd::write(self.file.as_fd(), text.as_bytes());
        }
    }

    /// Reads the events back: the Chrome trace document of the run.
    pub fn document(&self, plan: &Plan) -> std::io::Result<Value> {
        let mut bytes = Vec::new();
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = nix::sys::uio::pread(self.file.as_fd(), &mut buf, bytes.len() as i64)?;
            if n == 0 {
                break;
            }
            bytes.extend_from_slice(&buf[..n]);
        }
        let lines: Vec<Line> =
            String::from_utf8_lossy(&bytes).lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
        Ok(chrome(plan, &lines))
    }
}

/// The track of a side: its thread id in the trace, and its name.
fn track(side: Side) -> (u32, &'static str) {
    match side {
        Side::Parent => (1, "supervisor [parent]"),
        Side::Child => (2, "jail's init [child]"),
        Side::Command => (3, "command [command]"),
    }
}

/// The Chrome trace event format: metadata naming the process and its three tracks, then one
/// event per line (timestamps and durations in microseconds).
fn chrome(plan: &Plan, lines: &[Line]) -> Value {
    let mut events = vec![json!({
        "ph": "M", "name": "process_name", "pid": 1, "tid": 0,
        "args": { "name": format!("procjail up {}", plan.jail) },
    })];
    for side in [Side::Parent, Side::Child, Side::Command] {
        let (tid, name) = track(side);
        events.push(
            json!({ "ph": "M", "name": "thread_name", "pid": 1, "tid": tid, "args": { "name": name } }),
        );
        events.push(json!({ "ph": "M", "name": "thread_sort_index", "pid": 1, "tid": tid, "args": { "sort_index": tid } }));
    }
    for l in lines {
        let (tid, _) = track(l.side);
        let call = l.text.split('(').next().unwrap_or(&l.text);
        let mut e = json!({
            "name": format!("{} {call}", l.step),
            "cat": l.phase,
            "ph": l.ph,
            "ts": l.ts_ns as f64 / 1000.0,
            "pid": 1,
            "tid": tid,
            "args": { "step": l.step, "syscall": l.text, "result": l.result, "phase": l.phase, "pid": l.pid },
        });
        match l.ph.as_str() {
            "X" => e["dur"] = json!(l.dur_ns as f64 / 1000.0),
            "i" => e["s"] = json!("t"),
            _ => {}
        }
        events.push(e);
    }
    json!({
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {
            "jail": plan.jail,
            "file": plan.file.display().to_string(),
            "steps": plan.len(),
            "version": env!("CARGO_PKG_VERSION"),
        },
    })
}
