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
    /// Its line in /proc/PID/limits.
    pub line: &'static str,
}

pub const RLIMITS: &[Rlimit] = &[
    Rlimit {
        key: "nofile",
        resource: Resource::RLIMIT_NOFILE,
        name: "RLIMIT_NOFILE",
        line: "Max open files",
    },
    Rlimit { key: "nproc", resource: Resource::RLIMIT_NPROC, name: "RLIMIT_NPROC", line: "Max processes" },
    Rlimit { key: "core", resource: Resource::RLIMIT_CORE, name: "RLIMIT_CORE", line: "Max core file size" },
    Rlimit { key: "fsize", resource: Resource::RLIMIT_FSIZE, name: "RLIMIT_FSIZE", line: "Max file size" },
    Rlimit { key: "stack", resource: Resource::RLIMIT_STACK, name: "RLIMIT_STACK", line: "Max stack size" },
    Rlimit { key: "as", resource: Resource::RLIMIT_AS, name: "RLIMIT_AS", line: "Max address space" },
    Rlimit { key: "cpu_time", resource: Resource::RLIMIT_CPU, name: "RLIMIT_CPU", line: "Max cpu time" },
];

pub fn by_key(key: &str) -> &'static Rlimit {
    RLIMITS.iter().find(|r| r.key == key).expect("known rlimit key")
}

/// The (soft, hard) values of a line of a /proc/PID/limits text (`Max open files`); u64::MAX
/// for unlimited.
pub fn limit_in(text: &str, line: &str) -> Option<(u64, u64)> {
    let value = |v: &str| if v == "unlimited" { Some(u64::MAX) } else { v.parse().ok() };
    let rest = text.lines().find_map(|l| l.strip_prefix(line).filter(|r| r.starts_with(' ')))?;
    let mut f = rest.split_whitespace();
    Some((value(f.next()?)?, value(f.next()?)?))
}
