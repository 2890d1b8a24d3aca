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
    /// Its row in /proc/PID/limits.
    pub proc_name: &'static str,
}

pub const RLIMITS: &[Rlimit] = &[
    Rlimit {
        key: "nofile",
        resource: Resource::RLIMIT_NOFILE,
        name: "RLIMIT_NOFILE",
        proc_name: "Max open files",
    },
    Rlimit {
        key: "nproc",
        resource: Resource::RLIMIT_NPROC,
        name: "RLIMIT_NPROC",
        proc_name: "Max processes",
    },
    Rlimit {
        key: "core",
        resource: Resource::RLIMIT_CORE,
        name: "RLIMIT_CORE",
        proc_name: "Max core file size",
    },
    Rlimit {
        key: "fsize",
        resource: Resource::RLIMIT_FSIZE,
        name: "RLIMIT_FSIZE",
        proc_name: "Max file size",
    },
    Rlimit {
        key: "stack",
        resource: Resource::RLIMIT_STACK,
        name: "RLIMIT_STACK",
        proc_name: "Max stack size",
    },
    Rlimit { key: "as", resource: Resource::RLIMIT_AS, name: "RLIMIT_AS", proc_name: "Max address space" },
    Rlimit { key: "cpu_time", resource: Resource::RLIMIT_CPU, name: "RLIMIT_CPU", proc_name: "Max cpu time" },
    Rlimit { key: "data", resource: Resource::RLIMIT_DATA, name: "RLIMIT_DATA", proc_name: "Max data size" },
    Rlimit {
        key: "memlock",
        resource: Resource::RLIMIT_MEMLOCK,
        name: "RLIMIT_MEMLOCK",
        proc_name: "Max locked memory",
    },
    Rlimit {
        key: "msgqueue",
        resource: Resource::RLIMIT_MSGQUEUE,
        name: "RLIMIT_MSGQUEUE",
        proc_name: "Max msgqueue size",
    },
    Rlimit { key: "rss", resource: Resource::RLIMIT_RSS, name: "RLIMIT_RSS", proc_name: "Max resident set" },
    Rlimit {
        key: "locks",
        resource: Resource::RLIMIT_LOCKS,
        name: "RLIMIT_LOCKS",
        proc_name: "Max file locks",
    },
    Rlimit {
        key: "sigpending",
        resource: Resource::RLIMIT_SIGPENDING,
        name: "RLIMIT_SIGPENDING",
        proc_name: "Max pending signals",
    },
    Rlimit {
        key: "nice",
        resource: Resource::RLIMIT_NICE,
        name: "RLIMIT_NICE",
        proc_name: "Max nice priority",
    },
    Rlimit {
        key: "rtprio",
        resource: Resource::RLIMIT_RTPRIO,
        name: "RLIMIT_RTPRIO",
        proc_name: "Max realtime priority",
    },
    Rlimit {
        key: "rttime",
        resource: Resource::RLIMIT_RTTIME,
        name: "RLIMIT_RTTIME",
        proc_name: "Max realtime timeout",
    },
];

/// An rlimit by the kernel's name ("RLIMIT_NOFILE"), as OCI's process.rlimits[].type has it.
pub fn by_name(name: &str) -> Option<&'static Rlimit> {
    RLIMITS.iter().find(|r| r.name == name)
}

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
