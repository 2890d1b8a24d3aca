//! procjail: run a process in a jail described by a TOML file, and show exactly what the kernel
//! is asked to do.
//!
//! The front half is pure: [`config`] reads the file, [`spec`] validates it against the
//! [`host`] facts, and [`plan`] turns it into an ordered list of steps. The back half walks the
//! same steps: the printer shows them, the executor performs them.

pub mod cgroups;
pub mod cli;
pub mod config;
pub mod day2;
pub mod diag;
pub mod enter;
pub mod exec;
pub mod experiment;
pub mod host;
pub mod init;
pub mod leftovers;
pub mod limits;
pub mod mounts;
pub mod namespaces;
pub mod plan;
pub mod rootfs;
pub mod spec;
pub mod state;
pub mod teardown;
