//! Capabilities by name and number (capability(7)), and the sets of them procjail uses.

/// Every capability this code knows, by number (CAP_CHOWN = 0 ... CAP_CHECKPOINT_RESTORE = 40).
pub const NAMES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The capabilities a jail's command keeps by default: podman's 11 (docker's 14 without
/// MKNOD, NET_RAW and AUDIT_WRITE: procjail makes /dev itself, raw sockets are the AF_PACKET
/// exploit class, and the audit log is the host's).
pub const DEFAULT: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

/// The number of a capability, from its name with or without `CAP_`, in any case.
pub fn number(name: &str) -> Option<u32> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") { upper } else { format!("CAP_{upper}") };
    NAMES.iter().position(|n| *n == full).map(|i| i as u32)
}

/// The bit of a capability.
pub fn bit(name: &str) -> u64 {
    number(name).map_or(0, |n| 1 << n)
}

/// The set of these names.
pub fn set(names: &[&str]) -> u64 {
    names.iter().fold(0, |s, n| s | bit(n))
}

/// The names in a set, in number order; bits without a name as `CAP_<n>`.
pub fn names(set: u64) -> Vec<String> {
    (0..64)
        .filter(|i| set & (1 << i) != 0)
        .map(|i| NAMES.get(i as usize).map_or(format!("CAP_{i}"), |n| n.to_string()))
        .collect()
}

/// `CAP_CHOWN|CAP_KILL`, or `0`.
pub fn show(set: u64) -> String {
    let n = names(set);
    if n.is_empty() { "0".into() } else { n.join("|") }
}

/// Every capability up to `last` (the kernel's cap_last_cap).
pub fn all(last: u32) -> u64 {
    if last >= 63 { u64::MAX } else { (1u64 << (last + 1)) - 1 }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_and_numbers() {
        assert_eq!(super::number("CAP_SYS_ADMIN"), Some(21));
        assert_eq!(super::number("sys_admin"), Some(21));
        assert_eq!(super::NAMES.len(), 41);
        // podman's 11, as /proc/PID/status shows them.
        assert_eq!(super::set(super::DEFAULT), 0x8004_05fb);
        assert_eq!(super::all(40), 0x1ff_ffff_ffff);
    }
}
