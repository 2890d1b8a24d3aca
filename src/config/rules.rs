//! What `check` accepts, in the words of a JSON Schema: the defaults, bounds and patterns that the
//! schema attributes of the jail file's types and the validator (`crate::spec`) share. The tests
//! of `spec` hold each pattern to the check it stands for, string by string.
//!
//! The patterns are ECMA-262 as JSON Schema wants them, and read the same by Rust's regex:
//! no look-around, no inline flags.

use schemars::Schema;
use serde_json::json;

/// The command's PATH when the file gives no environment.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// How long the built-in init waits after SIGTERM before SIGKILL.
pub const DEFAULT_GRACE_MS: u64 = 3000;

/// The most pids a kernel has (include/linux/threads.h), and so the most pids.max takes.
pub const PID_MAX_LIMIT: i64 = 4 << 20;
/// docker's and podman's smallest memory limit.
pub const MEMORY_MIN: u64 = 6 << 20;
/// `limits.cpus`: from a hundredth of a CPU to 1024 CPUs.
pub const CPUS_MIN: f64 = 0.01;
pub const CPUS_MAX: f64 = 1024.0;
/// `limits.cpu_weight`: cgroup v2's cpu.weight.
pub const CPU_WEIGHT_MIN: i64 = 1;
pub const CPU_WEIGHT_MAX: i64 = 10000;
/// `limits.nofile`: fewer descriptors than stdin, stdout, stderr and one more are of no use.
pub const NOFILE_MIN: i64 = 4;
/// `security.oom_score_adj`: the kernel's range.
pub const OOM_SCORE_ADJ_MIN: i64 = -1000;
pub const OOM_SCORE_ADJ_MAX: i64 = 1000;
/// `expect.exit`: an exit status.
pub const EXIT_MAX: i64 = 255;
/// The largest uid or gid: u32::MAX is -1, "no change", to setuid and setgroups.
pub const ID_MAX: i64 = u32::MAX as i64 - 1;

/// A hostname as RFC 1123 has it, in labels of 1 to 63 letters, digits and '-' that do not start
/// or end with '-'. The schema adds the length, 1 to 64 bytes.
pub const HOSTNAME_PATTERN: &str =
    r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$";

/// An absolute path.
pub const ABSOLUTE_PATTERN: &str = "^/";

/// A path with a `..` component.
pub const PARENT_DIR_PATTERN: &str = r"(^|/)\.\.(/|$)";

/// Paths that are / itself once `.` and repeated slashes are taken out ("", "/", "//", "/./").
pub const ROOT_PATTERN: &str = r"^(/+\.)*/*$";

/// The absolute mount targets `check` refuses: with `..`, / itself, /proc and what is under it,
/// or with a NUL byte.
pub const TARGET_REFUSED_PATTERN: &str = r"(^|/)\.\.(/|$)|^(/+\.)*/*$|^(/+\.)*/+proc(/|$)|\x00";

/// An octal mode of at most 7777, as `u32::from_str_radix(s, 8)` reads it: a '+' may lead, and
/// zeros.
pub const MODE_PATTERN: &str = r"^\+?0*[0-7]{1,4}$";

/// argv[0]: an absolute path, or a bare name (no '/'), not empty.
pub const ARGV0_PATTERN: &str = r"^(/|[^/]+$)";

/// A string execve can pass: no NUL byte.
pub const NO_NUL_PATTERN: &str = r"^[^\x00]*$";

/// An environment variable's name: not empty, no '=' and no NUL.
pub const ENV_NAME_PATTERN: &str = r"^[^=\x00]+$";

/// The working directory: absolute, no NUL.
pub const CWD_PATTERN: &str = r"^/[^\x00]*$";

/// A decimal u32 as `str::parse` reads it ('+' and zeros may lead), of at most 4294967294.
macro_rules! id {
    () => {
        r"\+?0*([0-9]{1,9}|[1-3][0-9]{9}|4[01][0-9]{8}|42[0-8][0-9]{7}|429[0-3][0-9]{6}|4294[0-8][0-9]{5}|42949[0-5][0-9]{4}|429496[0-6][0-9]{3}|4294967[01][0-9]{2}|42949672[0-8][0-9]|429496729[0-4])"
    };
}

/// A device number: a decimal u32 up to 4294967295, or `*`.
macro_rules! device_number {
    () => {
        r"(\*|\+?0*([0-9]{1,9}|[1-3][0-9]{9}|4[01][0-9]{8}|42[0-8][0-9]{7}|429[0-3][0-9]{6}|4294[0-8][0-9]{5}|42949[0-5][0-9]{4}|429496[0-6][0-9]{3}|4294967[01][0-9]{2}|42949672[0-8][0-9]|429496729[0-5]))"
    };
}

/// `[command] user`: "uid" or "uid:gid", numbers up to 4294967294.
pub const USER_PATTERN: &str = concat!("^", id!(), "(:", id!(), ")?$");

/// An item of `security.devices`: "default", or `TYPE MAJOR:MINOR [ACCESS]` ("c 1:3 rwm"), or "a".
pub const DEVICE_PATTERN: &str =
    concat!(r"^(default|\s*(a|[abc]\s+", device_number!(), ":", device_number!(), r"(\s+[rwm]+)?)\s*)$");

/// `expect.signal`: a signal's name, with or without "SIG", as nix reads it on this platform.
pub fn signal_pattern() -> String {
    let names: Vec<&str> =
        nix::sys::signal::Signal::iterator().map(|s| s.as_str().trim_start_matches("SIG")).collect();
    format!("^(SIG)?({})$", names.join("|"))
}

/// A capability's name, with or without "CAP_", in any case ("CAP_NET_ADMIN", "net_admin").
pub const CAPABILITY_PATTERN: &str = "^(CAP_)?[A-Za-z_]+$";

/// The options of a tmpfs mount that `check` takes (the schema's list for both kinds: a bind's
/// are a part of them).
pub const TMPFS_OPTIONS: &[&str] = &[
    "noexec",
    "dev",
    "suid",
    "nodev",
    "nosuid",
    "exec",
    "ro",
    "relatime",
    "strictatime",
    "noatime",
    "nodiratime",
];

/// The options of a bind mount that `check` takes: what mount_setattr can add to it.
pub const BIND_OPTIONS: &[&str] = &["nosuid", "nodev", "noexec", "ro"];

/// The jail file's one rule across tables that the schema can say: the built-in init is one of
/// the jail's processes, so unless `init.mode = "none"`, `limits.pids` must be at least 2.
pub fn pids_leave_room_for_init(schema: &mut Schema) {
    schema.insert(
        "if".into(),
        json!({
            "required": ["init"],
            "properties": { "init": { "required": ["mode"], "properties": { "mode": { "const": "none" } } } }
        }),
    );
    schema.insert(
        "else".into(),
        json!({ "properties": { "limits": { "properties": { "pids": { "minimum": 2 } } } } }),
    );
}
