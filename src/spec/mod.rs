//! A validated jail: the file's values checked against each other and against the host facts,
//! with paths made absolute and every value tagged with the line it came from.
//!
//! Validation only reads: it looks at the rootfs and bind sources (stat), never changes anything.

mod access;
mod command;
mod defaults;
mod expect;
mod inroot;
mod limits;
mod mounts;
mod names;
#[cfg(test)]
mod schema_rules;
mod security;
mod source;
mod userns;
mod warnings;

pub use access::{parse_device, parse_user};
pub use expect::{Expect, OutputMatch};
pub use mounts::{parse_mode, target_problem};
pub use names::{hostname_problem, jail_name, missing_parents, name_problem, normalize};
pub use security::{Confine, DEFAULT_DEVICES, DeviceRule, MASKED, READONLY, Setting, User};
pub use source::MAX_FILE;
pub use userns::{IdMaps, IdRange, MapWriter, map_text};

use std::path::{Path, PathBuf};

use sha2::Digest as _;

use crate::config::{self, InitMode, JailFile, Size, Sp};
use crate::diag::{Diag, FileDiags, LineIndex, Severity};
use crate::host::Host;

/// Where a value, and so a plan step, came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Origin {
    /// Not written in the file: one of procjail's defaults.
    Default,
    /// A line of the jail file, and what is there (`[[mounts]] #2`, `limits.memory`).
    File { line: usize, what: String },
    /// Something found on the host (`gc`: what a killed run left).
    Found(String),
    /// Not in the file: the default of this key, which changes it.
    Unset { key: String },
}

/// One rlimit of the command, by its `[limits]` key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rlimit {
    pub key: String,
    /// u64::MAX: RLIM_INFINITY.
    pub soft: u64,
    pub hard: u64,
    pub origin: Origin,
}

/// What the command is run with: the input of the one exec tail that `up` and `exec` share
/// (`init::exec_tail`). It is saved in state.json, so `procjail exec` runs its command exactly
/// as the jail's own.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Exec {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    pub rlimits: Vec<Rlimit>,
    /// The `[command]` line.
    pub origin: Origin,
    pub user: User,
    /// Bounding = permitted = effective.
    pub caps: Setting<u64>,
    /// Ambient = inheritable.
    pub ambient: Setting<u64>,
    pub no_new_privs: Setting<bool>,
    /// The compiled filter; None: no seccomp.
    pub seccomp: Setting<Option<crate::seccomp::Program>>,
    pub oom_score_adj: Option<Setting<i32>>,
    /// Whether setgroups is allowed in the jail: not in a user namespace mapped to a user's own
    /// ids alone (its setgroups is "deny").
    #[serde(default = "yes")]
    pub setgroups: bool,
}

fn yes() -> bool {
    true
}

/// What the command line sets beside the file: validated with it, by the same rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `up --name`.
    pub name: Option<String>,
    /// `up --timeout`, in ms.
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespaces {
    pub pid: bool,
    pub mount: bool,
    pub uts: bool,
    pub ipc: bool,
    pub net: bool,
    pub cgroup: bool,
    pub user: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defaults {
    pub proc: bool,
    pub dev: bool,
    pub devpts: bool,
    pub shm: bool,
    pub sysfs: bool,
    pub mqueue: bool,
    /// A read-only cgroup2 at /sys/fs/cgroup, in the jail's cgroup namespace.
    pub cgroupfs: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MountSpec {
    /// `attrs`: what mount_setattr sets on it beside MOUNT_ATTR_RDONLY (nosuid, nodev, noexec).
    Bind { source: PathBuf, target: PathBuf, readonly: bool, attrs: u64, is_dir: bool },
    /// `flags`: the mount flags (nosuid and nodev unless lifted, noexec, ro).
    Tmpfs { target: PathBuf, size: Option<Size>, mode: u32, flags: u64 },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Mount {
    pub spec: MountSpec,
    pub origin: Origin,
}

/// A limit value with its origin.
#[derive(Debug, Clone, PartialEq)]
pub struct Limit<T> {
    pub value: T,
    pub origin: Origin,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Limits {
    pub memory: Option<Limit<u64>>,
    pub memory_swap: Option<Limit<u64>>,
    pub pids: Option<Limit<u64>>,
    pub cpus: Option<Limit<f64>>,
    pub cpu_weight: Option<Limit<u64>>,
    /// rlimits by `[limits]` key, in [`crate::host::rlimits::RLIMITS`] order: (soft, hard),
    /// u64::MAX for RLIM_INFINITY.
    pub rlimits: Vec<(&'static str, Limit<(u64, u64)>)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// The jail's name: the file's name without `.toml`. Names its cgroup.
    pub name: String,
    /// The jail file, as given on the command line.
    pub file: PathBuf,
    pub hostname: Option<(String, Origin)>,
    pub rootfs: PathBuf,
    pub rootfs_origin: Origin,
    /// Whether the rootfs is missing and must be made from busybox first.
    pub make_rootfs: bool,
    /// The missing folders above a rootfs to make, outermost first.
    pub rootfs_parents: Vec<PathBuf>,
    pub rootfs_readonly: bool,
    pub namespaces: Namespaces,
    pub defaults: Defaults,
    pub mounts: Vec<Mount>,
    pub limits: Limits,
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    pub command_origin: Origin,
    pub init: InitMode,
    pub grace_ms: u64,
    /// `[command] timeout`: stop the jail after this long.
    pub timeout_ms: Option<u64>,
    /// What the jail must show as an experiment.
    pub expect: Option<Expect>,
    /// What confines it.
    pub confine: Confine,
    /// What is legal but likely wrong: `check` and `plan` show it, nothing stops on it.
    pub warnings: FileDiags,
    /// The sha256 of the jail file's text as it was read (state.json records it).
    pub sha256: String,
    /// The user namespace's id maps, when the jail has one.
    pub id_maps: Option<IdMaps>,
}

pub use crate::config::rules::{DEFAULT_GRACE_MS, DEFAULT_PATH};

impl Spec {
    /// What the command runs with.
    pub fn exec(&self) -> Exec {
        Exec {
            argv: self.argv.clone(),
            env: self.env.clone(),
            cwd: self.cwd.clone(),
            rlimits: self
                .limits
                .rlimits
                .iter()
                .map(|(k, l)| Rlimit {
                    key: k.to_string(),
                    soft: l.value.0,
                    hard: l.value.1,
                    origin: l.origin.clone(),
                })
                .collect(),
            origin: self.command_origin.clone(),
            user: self.confine.user.clone(),
            caps: self.confine.caps.clone(),
            ambient: self.confine.ambient.clone(),
            no_new_privs: self.confine.no_new_privs.clone(),
            seccomp: self.confine.seccomp.clone(),
            oom_score_adj: self.confine.oom_score_adj.clone(),
            setgroups: self
                .id_maps
                .as_ref()
                .is_none_or(|m| m.writer != (MapWriter::Direct { deny_setgroups: true })),
        }
    }
}

/// Reads and validates a jail file, with what the command line overrides.
pub fn load_with(path: &Path, host: &Host, overrides: &Overrides) -> Result<Spec, FileDiags> {
    let mut spec = load(path, host)?;
    if let Some(name) = &overrides.name {
        spec.name = name.clone();
    }
    if let Some(t) = overrides.timeout_ms {
        spec.timeout_ms = Some(t);
    }
    Ok(spec)
}

/// Reads and validates a jail file.
pub fn load(path: &Path, host: &Host) -> Result<Spec, FileDiags> {
    let text = source::read(path)?;
    from_str(path, &text, host).map_err(|diags| FileDiags {
        path: path.to_path_buf(),
        source_text: text,
        diags,
    })
}

/// Validates the text of a jail file found at `path` (paths in it are relative to its folder).
pub fn from_str(path: &Path, text: &str, host: &Host) -> Result<Spec, Vec<Diag>> {
    let (file, read_problems) = config::load_str(text)?;
    let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let mut v =
        Validator { lines: LineIndex::new(text), _text: std::marker::PhantomData, dir, diags: read_problems };
    let mut spec = v.spec(path, &file, host);
    v.diags.sort_by_key(|d| (d.span.start, d.span.end));
    v.diags.dedup();
    if v.diags.iter().any(|d| d.level == Severity::Error) {
        return Err(v.diags);
    }
    spec.warnings.diags = v.diags;
    spec.sha256 = crate::json::hex(&sha2::Sha256::digest(text.as_bytes()));
    Ok(spec)
}

struct Validator<'t> {
    lines: LineIndex,
    _text: std::marker::PhantomData<&'t str>,
    dir: PathBuf,
    diags: Vec<Diag>,
}

impl Validator<'_> {
    fn origin<T>(&self, sp: &Sp<T>, what: impl Into<String>) -> Origin {
        if sp.span == (0..0) {
            return Origin::Default;
        }
        Origin::File { line: self.lines.line(sp.span.start), what: what.into() }
    }

    fn err(&mut self, d: Diag) {
        self.diags.push(d);
    }

    /// Whether a key under `prefix` already has an error: a warning about it would only repeat
    /// the error in other words (a program "not in the rootfs" of a rootfs that is refused).
    fn has_error(&self, prefix: &str) -> bool {
        self.diags.iter().any(|d| d.level == Severity::Error && d.key.starts_with(prefix))
    }

    /// Legal, but likely not what was meant.
    fn warn(&mut self, d: Diag) {
        self.diags.push(Diag { level: Severity::Warning, ..d });
    }

    fn host_path(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        let joined = if p.is_absolute() { p.to_path_buf() } else { self.dir.join(p) };
        let absolute = if joined.is_absolute() {
            joined
        } else {
            std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")).join(joined)
        };
        normalize(&absolute)
    }

    fn spec(&mut self, path: &Path, f: &JailFile, host: &Host) -> Spec {
        let name = jail_name(path);
        let mut ns = self.namespaces(f);
        ns.user = self.user_namespace(f, host);
        let id_maps = self.id_maps(f, host, ns.user);
        let defaults = self.defaults(f, &ns);
        if defaults.cgroupfs && host.cgroup != crate::host::CgroupKind::V2 {
            self.warn(
                Diag::new(f.defaults.cgroupfs.span.clone(), "defaults.cgroupfs", "on a cgroup v1 or hybrid host the jail's limits are in the v1 hierarchies: the cgroup2 at /sys/fs/cgroup shows none of them")
                    .accepted("cgroupfs on a cgroup v2 host, where the jail's cgroup2 folder holds its limits")
                    .hint("a program that reads its limits there (Go, a JVM) finds none here: set them for it (GOMAXPROCS, -Xmx)"),
            );
        }
        let (rootfs, rootfs_origin, make_rootfs) = self.rootfs(f);
        let rootfs_parents = if make_rootfs { missing_parents(&rootfs) } else { Vec::new() };
        let hostname = self.hostname(f, &ns, &name);
        let mounts =
            f.mounts.iter().enumerate().filter_map(|(i, m)| self.mount(i + 1, m)).collect::<Vec<_>>();
        self.duplicate_targets(f, &defaults);
        let init = f.init.mode.as_ref().map_or(InitMode::Builtin, |m| m.value);
        let limits = self.limits(f, host, init);
        let (argv, env, cwd, command_origin) = self.command(f, host);
        if init == InitMode::Builtin && !ns.pid {
            let span = f.init.mode.as_ref().map_or(f.namespaces.pid.span.clone(), |m| m.span.clone());
            self.err(
                Diag::new(span, "init.mode", "the built-in init needs the pid namespace: it must be PID 1")
                    .accepted("init.mode = \"none\" when namespaces.pid = false")
                    .hint("turn namespaces.pid on, or set init.mode = \"none\""),
            );
        }
        let confine = self.confine(f, host, &ns, init);
        if let Some(maps) = &id_maps {
            self.user_inside(f, &confine.user, maps);
        }
        self.rootless_limits(f, host);
        if !make_rootfs && rootfs.is_dir() && !self.has_error("rootfs") {
            self.rootfs_warnings(f, &rootfs, &argv, &env, &cwd);
        }
        Spec {
            name,
            file: path.to_path_buf(),
            hostname,
            rootfs,
            rootfs_origin,
            make_rootfs,
            rootfs_parents,
            rootfs_readonly: f.rootfs.as_ref().is_some_and(|r| r.readonly),
            namespaces: ns,
            defaults,
            mounts,
            limits,
            argv,
            env,
            cwd,
            command_origin,
            init,
            grace_ms: f.init.grace.as_ref().map_or(DEFAULT_GRACE_MS, |g| g.value.0),
            timeout_ms: f.command.as_ref().and_then(|c| c.timeout.as_ref()).map(|t| t.value.0),
            expect: self.expect(f),
            confine,
            warnings: FileDiags { path: path.to_path_buf(), source_text: String::new(), diags: Vec::new() },
            sha256: String::new(),
            id_maps,
        }
    }
}
