//! `procjail doctor`: what the kernel shows of a process, judged against the production failures
//! the experiments of `jails/` reproduce. Pure: [`host::process`](crate::host::process) reads,
//! [`facts`] turns what was read into facts, [`findings`] finds the failures in them, [`text`]
//! prints them. Nothing here reads or changes anything.

pub mod cgroup;
pub mod facts;
pub mod findings;
pub mod text;

#[cfg(test)]
mod tests;

use serde::Serialize;

use crate::host::process::Reading;

/// The report on one process.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The jail it is the command (or init) of, when asked by name.
    pub jail: Option<String>,
    pub facts: facts::Facts,
    pub findings: Vec<findings::Finding>,
}

impl Report {
    pub fn of(reading: &Reading, jail: Option<&str>) -> Report {
        let facts = facts::of(reading);
        let findings = findings::of(&facts);
        Report { jail: jail.map(String::from), facts, findings }
    }

    /// 0: no finding; 1: at least one.
    pub fn exit_code(&self) -> i32 {
        i32::from(!self.findings.is_empty())
    }
}

/// The in-root paths doctor resolves in the process's root: procjail's masked and read-only
/// paths.
pub fn paths() -> Vec<std::path::PathBuf> {
    crate::spec::MASKED.iter().chain(crate::spec::READONLY).map(std::path::PathBuf::from).collect()
}
