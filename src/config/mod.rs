//! The jail file: its types (which are also the source of `schema/jail.schema.json`), and the
//! loader that reads a TOML file into them, collecting every problem with its position.
//!
//! Every value that the validator may complain about is kept as [`Sp<T>`]: the value plus the
//! byte range it came from, so that an error can point at the exact spot in the file.

mod foreign;
mod limits;
mod lists;
mod load;
pub mod rules;
pub mod security;
mod table;
pub mod units;

pub use limits::{Lim, Limits, Rlimit};
pub use load::{KNOWN_KEYS, load_str};
pub use security::{Capabilities, PathList, Security, Sysctl};
pub use units::{Duration, Size};

use std::collections::BTreeMap;
use std::ops::Range;

use schemars::JsonSchema;
use serde::Serialize;

use rules::*;

/// A value with the byte range of the jail file it was read from.
#[derive(Debug, Clone, PartialEq)]
pub struct Sp<T> {
    pub value: T,
    pub span: Range<usize>,
}

impl<T> Sp<T> {
    pub fn new(value: T, span: Range<usize>) -> Self {
        Sp { value, span }
    }
}

impl<T: Serialize> Serialize for Sp<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

impl<T: JsonSchema> JsonSchema for Sp<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(g)
    }
}

/// One jail: what it runs, in which root, with which namespaces, mounts and limits.
///
/// Paths in this file are relative to the file itself.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "procjail jail file", transform = pids_leave_room_for_init)]
pub struct JailFile {
    /// The jail's hostname (RFC 1123, at most 64 bytes). Needs the uts namespace.
    /// Default: the file's name without `.toml`, when that is a valid hostname.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), regex(pattern = HOSTNAME_PATTERN))]
    pub hostname: Option<Sp<String>>,
    /// The root filesystem the command sees. Required.
    #[schemars(required)]
    pub rootfs: Option<Rootfs>,
    /// Which namespaces the jail gets.
    #[serde(default)]
    pub namespaces: Namespaces,
    /// The mounts a runc user expects without asking; each can be switched off.
    #[serde(default)]
    pub defaults: Defaults,
    /// The jail's own mounts, made in order after the defaults.
    #[serde(default)]
    pub mounts: Vec<Mount>,
    /// Resource limits: cgroup limits and rlimits.
    #[serde(default)]
    pub limits: Limits,
    /// What runs in the jail. Required.
    #[schemars(required)]
    pub command: Option<Command>,
    /// Who is PID 1 in the jail.
    #[serde(default)]
    pub init: Init,
    /// What confines the command: capabilities, no_new_privs, seccomp, masked and read-only
    /// paths, devices, keyring.
    #[serde(default)]
    pub security: Security,
    /// Namespaced sysctls for the jail.
    #[serde(default)]
    pub sysctl: Sysctl,
    /// The id maps of the user namespace (`[namespaces] user`).
    #[serde(default)]
    pub user: UserMaps,
    /// What the jail must show when it runs as an experiment (`procjail test`).
    /// `procjail up` ignores it; `procjail check` validates it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expect>,
}

/// The outcome an experiment must show. Every key given is checked; keys left out are not.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The exit code of `procjail up`: the command's, or 128+N when it died of signal N.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = EXIT_MAX))]
    pub exit: Option<Sp<i64>>,
    /// The signal that ended the command, as "SIGKILL" or "KILL".
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = signal_pattern()))]
    pub signal: Option<Sp<String>>,
    /// Whether the kernel OOM-killed in the jail's memory cgroup.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oom_killed: Option<Sp<bool>>,
    /// Whether a fork failed at the pids limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pids_limit_hit: Option<Sp<bool>>,
    /// Whether the jail was stopped by its timeout (`[command] timeout`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timed_out: Option<Sp<bool>>,
    /// The command's standard output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stdout: Option<Sp<Matcher>>,
    /// The command's standard error (procjail's own report line is left out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stderr: Option<Sp<Matcher>>,
    /// The run, setup and teardown included, takes at most this long.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<Sp<Duration>>,
    /// The jail uses at most this much CPU time (user + system).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_cpu_time: Option<Sp<Duration>>,
}

/// How output is matched: a string is the exact text; a table says `contains` or `regex`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Matcher {
    Contains(String),
    Regex(String),
    #[serde(untagged)]
    Exact(String),
}

impl JsonSchema for Matcher {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Matcher".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Output to match: a string is the exact text; { contains = \"...\" } a part of it; { regex = \"...\" } a regular expression (Rust regex syntax) that must match somewhere.",
            "oneOf": [
                { "type": "string" },
                { "type": "object", "properties": { "contains": { "type": "string" } }, "required": ["contains"], "additionalProperties": false },
                { "type": "object", "properties": { "regex": { "type": "string" } }, "required": ["regex"], "additionalProperties": false }
            ]
        })
    }
}

/// The root filesystem.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rootfs {
    /// A directory on the host, relative to the jail file. Must not be `/`.
    #[schemars(extend("not" = { "pattern": ROOT_PATTERN }))]
    pub path: Sp<String>,
    /// How to make the rootfs when `path` is missing: `"busybox"` makes it from the host's
    /// static busybox (Debian's `busybox-static`). Default: not made; a missing rootfs is an error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Sp<RootfsFrom>>,
    /// Mount the rootfs read-only in the jail. Default: false.
    #[serde(default)]
    pub readonly: bool,
}

/// Ways procjail can make a missing rootfs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum RootfsFrom {
    /// A static busybox from /bin/busybox (package busybox-static), with its applets linked.
    Busybox,
}

/// Namespaces: each one on (true) or off (false).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Namespaces {
    /// PID namespace: the jail's first process is PID 1. Default: true.
    pub pid: Sp<bool>,
    /// Mount namespace. Required: a jail needs its own mount table to pivot_root. Default: true.
    #[schemars(extend("const" = true))]
    pub mount: Sp<bool>,
    /// UTS namespace: the jail's own hostname. Default: true.
    pub uts: Sp<bool>,
    /// IPC namespace: System V IPC and POSIX message queues. Default: true.
    pub ipc: Sp<bool>,
    /// Network namespace: only a loopback device, down. Default: true.
    pub net: Sp<bool>,
    /// Cgroup namespace, entered after the jail is in its cgroup. Default: true.
    pub cgroup: Sp<bool>,
    /// User namespace: the jail's ids stand for other host ids (`[user]` maps them), and its
    /// capabilities count only inside it. Default: off when procjail runs as root; on, and
    /// required, when it does not (a rootless jail).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<Sp<bool>>,
}

impl Default for Namespaces {
    fn default() -> Self {
        let on = Sp::new(true, 0..0);
        Namespaces {
            pid: on.clone(),
            mount: on.clone(),
            uts: on.clone(),
            ipc: on.clone(),
            net: on.clone(),
            cgroup: on,
            user: None,
        }
    }
}

/// `[user]`: which host ids the jail's ids stand for, with `[namespaces] user` on. Default:
/// as root, the jail's 0 to 65535 are host 100000 to 165535 (the first range `useradd` gives in
/// /etc/subuid); as another user, the jail's 0 is that user (and nothing else is mapped), as
/// bubblewrap does. Other maps need root, or newuidmap and newgidmap (Debian's uidmap) with the
/// ranges /etc/subuid and /etc/subgid grant the user.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct UserMaps {
    /// `[{ inside = 0, outside = 100000, count = 65536 }]`: the jail's uids `inside` to
    /// `inside + count - 1` are the host's `outside` to `outside + count - 1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 340))]
    pub uid_map: Option<Sp<Vec<IdMap>>>,
    /// The same for gids.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 340))]
    pub gid_map: Option<Sp<Vec<IdMap>>>,
}

/// One line of a uid_map or gid_map.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IdMap {
    /// The first id in the jail.
    #[schemars(range(min = 0, max = 4294967294u32))]
    pub inside: Sp<i64>,
    /// The host id it stands for.
    #[schemars(range(min = 0, max = 4294967294u32))]
    pub outside: Sp<i64>,
    /// How many ids, from those.
    #[schemars(range(min = 1, max = 4294967295u32))]
    pub count: Sp<i64>,
}

/// The default mounts. Each is a visible step in the plan.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Defaults {
    /// A fresh procfs at /proc (nosuid, nodev, noexec). Needs the pid namespace. Default: true.
    pub proc: Sp<bool>,
    /// A minimal /dev on tmpfs: null, zero, full, random, urandom, tty bound from the host,
    /// and the fd, stdin, stdout, stderr, ptmx links. Default: true.
    pub dev: Sp<bool>,
    /// A new devpts instance at /dev/pts. Needs `dev`. Default: true.
    pub devpts: Sp<bool>,
    /// A tmpfs at /dev/shm (nosuid, nodev, 64MiB). Needs `dev`. Default: true.
    pub shm: Sp<bool>,
    /// sysfs at /sys, read-only. Needs the net namespace.
    /// Default: true when the net namespace is on, else false.
    pub sysfs: Option<Sp<bool>>,
    /// The jail's POSIX message queues at /dev/mqueue (nosuid, nodev, noexec), as docker,
    /// podman and `runc spec` mount them. Needs `dev` and the ipc namespace.
    /// Default: true when both are on, else false.
    pub mqueue: Option<Sp<bool>>,
    /// A read-only cgroup2 at /sys/fs/cgroup (nosuid, nodev, noexec, relatime), mounted after
    /// the jail enters its cgroup namespace, so its root is the jail's own cgroup (where Go's
    /// GOMAXPROCS and a JVM read their limits). Needs `sysfs` and the cgroup namespace.
    /// Default: false.
    pub cgroupfs: Sp<bool>,
}

impl Default for Defaults {
    fn default() -> Self {
        let on = Sp::new(true, 0..0);
        Defaults {
            proc: on.clone(),
            dev: on.clone(),
            devpts: on.clone(),
            shm: on,
            sysfs: None,
            mqueue: None,
            cgroupfs: Sp::new(false, 0..0),
        }
    }
}

/// One mount of the jail.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Mount {
    /// `"bind"` (a host path) or `"tmpfs"` (a fresh memory filesystem).
    #[serde(rename = "type")]
    pub kind: Sp<MountKind>,
    /// bind: the host path, relative to the jail file. Must exist. Not allowed for tmpfs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<Sp<String>>,
    /// Where in the jail: an absolute path, without `..`, not under /proc.
    #[schemars(regex(pattern = ABSOLUTE_PATTERN), extend("not" = { "pattern": TARGET_REFUSED_PATTERN }))]
    pub target: Sp<String>,
    /// Mount read-only (a bind is made read-only with mount_setattr). Default: false.
    #[serde(default)]
    pub readonly: bool,
    /// tmpfs: its size in bytes or with a unit ("16MiB"). Default: the kernel's (half of RAM).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(transform = Size::above_zero)]
    pub size: Option<Sp<Size>>,
    /// tmpfs: the mode of its root as an octal string, e.g. "1777". Default: "755".
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = MODE_PATTERN), extend("default" = "755"))]
    pub mode: Option<Sp<String>>,
    /// Mount options. tmpfs: beside the defaults nosuid and nodev, "noexec", "ro", "dev" or
    /// "suid" to lift a default, and the atime: "relatime" (the kernel's default),
    /// "strictatime", "noatime", "nodiratime". bind: "nosuid", "nodev", "noexec", "ro", set on
    /// the bound mount with mount_setattr (it keeps the source's otherwise). Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("items" = { "type": "string", "enum": TMPFS_OPTIONS }, "default" = []))]
    pub options: Option<Sp<Vec<String>>>,
}

/// Kinds of mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    Bind,
    Tmpfs,
}

/// The command run in the jail.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Command {
    /// The program and its arguments. argv[0] is a path in the rootfs, or a name looked up
    /// in the jail's PATH.
    #[schemars(
        length(min = 1),
        inner(regex(pattern = NO_NUL_PATTERN)),
        extend("prefixItems" = [{ "pattern": ARGV0_PATTERN }])
    )]
    pub argv: Sp<Vec<String>>,
    /// The whole environment of the command: nothing is inherited from procjail's.
    /// Default: { PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" }.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend(
        "propertyNames" = { "pattern": ENV_NAME_PATTERN },
        "additionalProperties" = { "type": "string", "pattern": NO_NUL_PATTERN },
        "default" = { "PATH": DEFAULT_PATH }
    ))]
    pub env: Option<Sp<BTreeMap<String, String>>>,
    /// The working directory in the jail, an absolute path. Default: "/".
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = CWD_PATTERN), extend("default" = "/"))]
    pub cwd: Option<Sp<String>>,
    /// Stop the jail after this long, as `up --timeout` does (SIGTERM to its init, SIGKILL
    /// after the grace period). Default: no timeout.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(transform = Duration::above_zero)]
    pub timeout: Option<Sp<Duration>>,
    /// Who the command runs as: "uid" or "uid:gid", numbers (the rootfs has no user database
    /// procjail reads). Default: "0:0".
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = USER_PATTERN), extend("default" = "0:0"))]
    pub user: Option<Sp<String>>,
    /// Its supplementary groups, by number. Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(inner(range(min = 0, max = ID_MAX)), extend("default" = []))]
    pub groups: Option<Sp<Vec<i64>>>,
}

/// PID 1 of the jail.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Init {
    /// `"builtin"`: procjail's small init is PID 1; it forwards signals, reaps zombies and ends
    /// what is left when the command exits. `"none"`: the command itself is PID 1.
    /// Default: "builtin".
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "builtin"))]
    pub mode: Option<Sp<InitMode>>,
    /// How long the init waits after SIGTERM before SIGKILL, when the command has exited
    /// and other processes are left, or when the jail is stopped. Default: "3s".
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = Duration(DEFAULT_GRACE_MS).to_string()))]
    pub grace: Option<Sp<Duration>>,
}

/// Who is PID 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum InitMode {
    Builtin,
    None,
}
