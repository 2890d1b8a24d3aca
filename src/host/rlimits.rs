//! rlimits: which `[limits]` key sets which resource, and the kernel's name for it.

use nix::sys::resource::Resource;

/// One rlimit a jail file can set.
#[derive(Debug, Clone, Copy)]
pub struct Rlimit {
    /// The key in `[limits]`.
    pub key: &'static str,
    pub resource: Resource,
    /// The kernel's name, as the plan prints it.
    pub name: &'static str,
}

pub const RLIMITS: &[Rlimit] = &[
    Rlimit { key: "nofile", resource: Resource::RLIMIT_NOFILE, name: "RLIMIT_NOFILE" },
    Rlimit { key: "nproc", resource: Resource::RLIMIT_NPROC, name: "RLIMIT_NPROC" },
    Rlimit { key: "core", resource: Resource::RLIMIT_CORE, name: "RLIMIT_CORE" },
    Rlimit { key: "fsize", resource: Resource::RLIMIT_FSIZE, name: "RLIMIT_FSIZE" },
    Rlimit { key: "stack", resource: Resource::RLIMIT_STACK, name: "RLIMIT_STACK" },
    Rlimit { key: "as", resource: Resource::RLIMIT_AS, name: "RLIMIT_AS" },
    Rlimit { key: "cpu_time", resource: Resource::RLIMIT_CPU, name: "RLIMIT_CPU" },
];

pub fn by_key(key: &str) -> &'static Rlimit {
    RLIMITS.iter().find(|r| r.key == key).expect("known rlimit key")
}
