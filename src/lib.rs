//! procjail: run a process in a jail described by a TOML file, and show exactly what the kernel
//! is asked to do.
//!
//! The front half is pure: [`config`] reads the file, [`spec`] validates it against the
//! [`host`] facts, and the planners ([`build`] and the subsystems under it) turn it into a
//! [`plan`]: an ordered list of steps. The back half walks the same steps: [`plan::print`]
//! shows them, [`exec`] performs them.
//!
//! The layers, each importing only from the ones below it (a test holds the code to this):
//!
//! ```text
//! main → cli → cmd ─┬─→ build → namespaces, mounts, cgroups, init, rootfs, confine ─┐
//!                   └─→ exec ───────────────────────────────────────────────────────┤
//!                                 state → plan → spec → config, seccomp → diag, host
//!                                       doctor → spec, host         host → sys, error
//! ```
//!
//! `exec` (the only code that changes anything) and the planners never import each other.

pub mod build;
pub mod cgroups;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod confine;
pub mod diag;
pub mod doctor;
pub mod error;
pub mod exec;
pub mod host;
pub mod init;
pub mod json;
pub mod mounts;
pub mod namespaces;
pub mod oci;
pub mod plan;
pub mod rootfs;
pub mod seccomp;
pub mod spec;
pub mod state;
pub mod sys;
