//! The report printed when a jail ends: how it ended (exit status, signal, OOM kill), peak
//! memory, times the pids limit was hit, wall and CPU time.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::config::Size;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// The exit status, when the jail's first process exited.
    pub exit_code: Option<i32>,
    /// The signal that killed it, when one did (name, e.g. "SIGKILL").
    pub signal: Option<String>,
    /// OOM kills in the jail's memory cgroup; Some(n > 0) means the kernel killed for memory.
    pub oom_kills: Option<u64>,
    pub oom_killed: bool,
    pub memory_peak: Option<u64>,
    /// Forks refused at the pids limit.
    pub pids_max_hit: Option<u64>,
    pub timed_out: bool,
    pub wall_ms: u64,
    pub user_cpu_ms: u64,
    pub system_cpu_ms: u64,
    #[serde(skip)]
    raw_status: Option<i32>,
}

impl Report {
    pub fn set_status(&mut self, status: i32, wall: Duration) {
        self.raw_status = Some(status);
        self.wall_ms = wall.as_millis() as u64;
        if libc::WIFEXITED(status) {
            self.exit_code = Some(libc::WEXITSTATUS(status));
        } else if libc::WIFSIGNALED(status) {
            let sig = libc::WTERMSIG(status);
            self.signal = Some(
                nix::sys::signal::Signal::try_from(sig)
                    .map_or(format!("signal {sig}"), |s| s.to_string()),
            );
        }
    }

    pub fn set_rusage(&mut self, u: &libc::rusage) {
        let ms = |t: libc::timeval| (t.tv_sec as u64) * 1000 + (t.tv_usec as u64) / 1000;
        self.user_cpu_ms = ms(u.ru_utime);
        self.system_cpu_ms = ms(u.ru_stime);
    }

    /// What `up` exits with: the command's status, or 128+N for signal N.
    pub fn exit_code(&self) -> i32 {
        match self.raw_status {
            Some(s) if libc::WIFEXITED(s) => libc::WEXITSTATUS(s),
            Some(s) if libc::WIFSIGNALED(s) => 128 + libc::WTERMSIG(s),
            _ => crate::cli::EXIT_FAILED,
        }
    }

    fn finish(&mut self) {
        self.oom_killed = self.oom_kills.is_some_and(|n| n > 0);
    }

    /// One line on stderr, only when the jail ran.
    pub fn print(&mut self, jail: &str, ran: bool) {
        self.finish();
        if self.raw_status.is_none() || !ran {
            return;
        }
        let code = self.exit_code();
        let how = match (&self.signal, self.oom_killed) {
            (_, true) => format!("was OOM-killed by the memory limit (exit {code})"),
            (Some(s), false) => format!("was killed by {s} (exit {code})"),
            (None, false) => match code {
                c if c > 128 && self.oom_killed => format!("exited {c} after an OOM kill"),
                c => format!("exited {c}"),
            },
        };
        let mut parts = vec![format!("jail {jail} {how}")];
        if self.timed_out {
            parts.push("after --timeout".into());
        }
        if let Some(p) = self.memory_peak {
            parts.push(format!("memory peak {}", human(p)));
        }
        if let Some(n) = self.oom_kills {
            parts.push(format!("oom kills {n}"));
        }
        if let Some(n) = self.pids_max_hit {
            parts.push(format!("pids limit hit {n}"));
        }
        parts.push(format!(
            "wall {:.3}s, cpu {:.3}s user {:.3}s system",
            self.wall_ms as f64 / 1000.0,
            self.user_cpu_ms as f64 / 1000.0,
            self.system_cpu_ms as f64 / 1000.0
        ));
        eprintln!("procjail: {}", parts.join("; "));
    }

    pub fn write_json(&mut self, path: &Path, jail: &str) -> anyhow::Result<()> {
        self.finish();
        let mut v = serde_json::to_value(&*self)?;
        v["jail"] = jail.into();
        std::fs::write(path, serde_json::to_string_pretty(&v)? + "\n")?;
        Ok(())
    }
}

fn human(bytes: u64) -> String {
    let s = Size(bytes);
    if bytes >= 1 << 20 {
        format!("{:.1}MiB", bytes as f64 / (1 << 20) as f64)
    } else {
        s.to_string()
    }
}
