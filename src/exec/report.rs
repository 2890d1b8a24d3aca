//! The report printed when a jail ends: how the command ended (exit status, signal, OOM kill
//! and which limit), peak memory, times the pids limit was hit, wall and CPU time.
//!
//! A bare 137 cannot tell an OOM kill from `kill -9`: the report can, from the memory cgroup's
//! `oom_kill` counter and from the built-in init's word on how the command ended.

use std::time::Duration;

use serde::Serialize;

use crate::config::Size;
use crate::error::EXIT_FAILED;
use crate::plan::Plan;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// What `up` exits with: the command's status, or 128+N when it died of signal N.
    pub exit_code: Option<i32>,
    /// How the command itself ended: its exit status, or the signal that killed it.
    pub command_exit: Option<i32>,
    pub command_signal: Option<String>,
    /// OOM kills counted by the jail's memory cgroup.
    pub oom_kills: Option<u64>,
    pub oom_killed: bool,
    /// The memory limits of the plan, as "file = value".
    pub memory_limits: Vec<String>,
    pub memory_peak: Option<u64>,
    /// Forks refused at the pids limit.
    pub pids_max_hit: Option<u64>,
    #[serde(with = "crate::json::limit")]
    pub pids_limit: Option<u64>,
    pub timed_out: bool,
    pub wall_ms: u64,
    pub user_cpu_ms: u64,
    pub system_cpu_ms: u64,
}

impl Report {
    /// Notes the limits the plan writes, so the report can say which one was hit.
    pub fn for_plan(plan: &Plan) -> Report {
        let f = &plan.facts;
        Report {
            memory_limits: f.memory_limits.iter().map(|(file, v)| format!("{file} = {}", Size(*v))).collect(),
            pids_limit: f.pids_limit,
            ..Report::default()
        }
    }

    /// The wait status of the jail's first process.
    pub fn set_status(&mut self, status: i32, wall: Duration) {
        self.wall_ms = wall.as_millis() as u64;
        if libc::WIFEXITED(status) {
            self.exit_code = Some(libc::WEXITSTATUS(status));
            self.command_exit = Some(libc::WEXITSTATUS(status));
        } else if libc::WIFSIGNALED(status) {
            let sig = libc::WTERMSIG(status);
            self.exit_code = Some(128 + sig);
            self.command_signal = Some(signal_name(sig));
        }
    }

    /// What the built-in init said of the command: "exit N" or "signal N". It replaces what
    /// the init's own exit status (128+N for a signal) could only suggest.
    pub fn set_command_status(&mut self, said: &str) {
        let mut words = said.split_whitespace();
        match (words.next(), words.next().and_then(|n| n.parse::<i32>().ok())) {
            (Some("exit"), Some(n)) => (self.command_exit, self.command_signal) = (Some(n), None),
            (Some("signal"), Some(n)) => {
                (self.command_exit, self.command_signal) = (None, Some(signal_name(n)))
            }
            _ => {}
        }
    }

    pub fn set_rusage(&mut self, u: &libc::rusage) {
        let ms = |t: libc::timeval| (t.tv_sec as u64) * 1000 + (t.tv_usec as u64) / 1000;
        self.user_cpu_ms = ms(u.ru_utime);
        self.system_cpu_ms = ms(u.ru_stime);
    }

    pub fn exit_code(&self) -> i32 {
        self.exit_code.unwrap_or(EXIT_FAILED)
    }

    fn finish(&mut self) {
        self.oom_killed = self.oom_kills.is_some_and(|n| n > 0);
    }

    /// Whether the run has something to say beyond "exited 0": another status, a signal, an
    /// OOM kill (what [`Self::finish`] makes `oom_killed` of), forks refused at the pids limit,
    /// the timeout.
    pub fn notable(&self) -> bool {
        self.exit_code != Some(0)
            || self.command_signal.is_some()
            || self.oom_kills.is_some_and(|n| n > 0)
            || self.pids_max_hit.is_some_and(|n| n > 0)
            || self.timed_out
    }

    /// The one line: how it ended, then the figures.
    pub fn line(&mut self, jail: &str) -> Option<String> {
        self.finish();
        let code = self.exit_code?;
        let limits = self.memory_limits.join(", ");
        let how = match (&self.command_signal, self.oom_killed) {
            (_, true) => format!("the command was OOM-killed at its memory limit ({limits}): exit {code}"),
            (Some(s), false) => format!("the command was killed by {s}: exit {code}"),
            (None, false) => format!("exited {code}"),
        };
        let mut parts = vec![format!("jail {jail}: {how}")];
        if self.timed_out {
            parts.push("stopped by --timeout".into());
        }
        if let Some(p) = self.memory_peak {
            parts.push(format!("memory peak {}", human(p)));
        }
        if let Some(n) = self.oom_kills {
            parts.push(format!("oom kills {n}"));
        }
        if let Some(n) = self.pids_max_hit {
            match self.pids_limit {
                Some(max) => parts.push(format!("pids limit {max} hit {n} times")),
                None => parts.push(format!("pids limit hit {n} times")),
            }
        }
        parts.push(format!(
            "wall {:.3}s, cpu {:.3}s user + {:.3}s system",
            self.wall_ms as f64 / 1000.0,
            self.user_cpu_ms as f64 / 1000.0,
            self.system_cpu_ms as f64 / 1000.0
        ));
        Some(format!("procjail: {}", parts.join("; ")))
    }

    /// The report as JSON (`up --json-report`).
    pub fn json(&mut self, jail: &str) -> anyhow::Result<String> {
        self.finish();
        let mut v = serde_json::to_value(&*self)?;
        v["jail"] = jail.into();
        Ok(serde_json::to_string_pretty(&v)? + "\n")
    }
}

fn signal_name(sig: i32) -> String {
    nix::sys::signal::Signal::try_from(sig).map_or(format!("signal {sig}"), |s| s.to_string())
}

fn human(bytes: u64) -> String {
    Size(bytes).human()
}
