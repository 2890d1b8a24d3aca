//! rlimits: which `[limits]` key sets which resource, and how their values are read.

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

/// cpu.weight (v2, 1..=10000) to cpu.shares (v1, 2..=262144), as runc and crun convert it.
pub fn weight_to_shares(weight: u64) -> u64 {
    2 + (weight.clamp(1, 10000) - 1) * 262_142 / 9_999
}

#[cfg(test)]
mod tests {
    #[test]
    fn shares() {
        assert_eq!(super::weight_to_shares(1), 2);
        assert_eq!(super::weight_to_shares(100), 2597);
        assert_eq!(super::weight_to_shares(10000), 262_144);
    }
}
