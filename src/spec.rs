//! A validated jail: the file's values checked against each other and against the host facts,
//! with paths made absolute and every value tagged with the line it came from.
//!
//! Validation only reads: it looks at the rootfs and bind sources (stat), never changes anything.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use crate::config::{self, InitMode, JailFile, MountKind, RootfsFrom, Size, Sp};
use crate::diag::{Diag, FileErrors, line_col};
use crate::host::Host;

/// Where a value, and so a plan step, came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Origin {
    /// Not written in the file: one of procjail's defaults.
    Default,
    /// A line of the jail file, and what is there (`[[mounts]] #2`, `limits.memory`).
    File { line: usize, what: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespaces {
    pub pid: bool,
    pub mount: bool,
    pub uts: bool,
    pub ipc: bool,
    pub net: bool,
    pub cgroup: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defaults {
    pub proc: bool,
    pub dev: bool,
    pub devpts: bool,
    pub shm: bool,
    pub sysfs: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MountSpec {
    Bind { source: PathBuf, target: PathBuf, readonly: bool, is_dir: bool },
    Tmpfs { target: PathBuf, size: Option<Size>, mode: u32, readonly: bool },
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
    /// rlimits by `[limits]` key, in [`crate::limits::RLIMITS`] order.
    pub rlimits: Vec<(&'static str, Limit<u64>)>,
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
}

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
pub const DEFAULT_GRACE_MS: u64 = 3000;

/// Reads and validates a jail file.
pub fn load(path: &Path, host: &Host) -> Result<Spec, FileErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| FileErrors {
        path: path.to_path_buf(),
        source_text: String::new(),
        diags: vec![Diag::new(0..0, "file", format!("cannot read {}: {e}", path.display()))],
    })?;
    from_str(path, &text, host).map_err(|diags| FileErrors {
        path: path.to_path_buf(),
        source_text: text,
        diags,
    })
}

/// Validates the text of a jail file found at `path` (paths in it are relative to its folder).
pub fn from_str(path: &Path, text: &str, host: &Host) -> Result<Spec, Vec<Diag>> {
    let (file, read_problems) = config::load_str(text)?;
    let mut v =
        Validator { text, dir: path.parent().unwrap_or(Path::new(".")).to_path_buf(), diags: read_problems };
    let spec = v.spec(path, &file, host);
    if v.diags.is_empty() {
        return Ok(spec);
    }
    v.diags.sort_by_key(|d| (d.span.start, d.span.end));
    v.diags.dedup();
    Err(v.diags)
}

struct Validator<'t> {
    text: &'t str,
    dir: PathBuf,
    diags: Vec<Diag>,
}

impl Validator<'_> {
    fn origin<T>(&self, sp: &Sp<T>, what: impl Into<String>) -> Origin {
        if sp.span == (0..0) {
            return Origin::Default;
        }
        Origin::File { line: line_col(self.text, sp.span.start).0, what: what.into() }
    }

    fn err(&mut self, d: Diag) {
        self.diags.push(d);
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
        let ns = self.namespaces(f);
        let defaults = self.defaults(f, &ns);
        let (rootfs, rootfs_origin, make_rootfs) = self.rootfs(f);
        let rootfs_parents = if make_rootfs { crate::rootfs::missing_parents(&rootfs) } else { Vec::new() };
        let hostname = self.hostname(f, &ns, &name);
        let mounts =
            f.mounts.iter().enumerate().filter_map(|(i, m)| self.mount(i + 1, m)).collect::<Vec<_>>();
        self.duplicate_targets(f, &defaults);
        let limits = self.limits(f, host);
        let (argv, env, cwd, command_origin) = self.command(f);
        let init = f.init.mode.as_ref().map_or(InitMode::Builtin, |m| m.value);
        if init == InitMode::Builtin && !ns.pid {
            let span = f.init.mode.as_ref().map_or(f.namespaces.pid.span.clone(), |m| m.span.clone());
            self.err(
                Diag::new(span, "init.mode", "the built-in init needs the pid namespace: it must be PID 1")
                    .accepted("init.mode = \"none\" when namespaces.pid = false")
                    .hint("turn namespaces.pid on, or set init.mode = \"none\""),
            );
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
        }
    }

    fn namespaces(&mut self, f: &JailFile) -> Namespaces {
        let n = &f.namespaces;
        if !n.mount.value {
            self.err(
                Diag::new(n.mount.span.clone(), "namespaces.mount", "a jail needs its own mount namespace")
                    .accepted("true")
                    .hint("remove the line: pivot_root and the jail's mounts need a mount namespace"),
            );
        }
        Namespaces {
            pid: n.pid.value,
            mount: n.mount.value,
            uts: n.uts.value,
            ipc: n.ipc.value,
            net: n.net.value,
            cgroup: n.cgroup.value,
        }
    }

    fn defaults(&mut self, f: &JailFile, ns: &Namespaces) -> Defaults {
        let d = &f.defaults;
        let sysfs = match &d.sysfs {
            Some(s) if s.value && !ns.net => {
                self.err(
                    Diag::new(s.span.clone(), "defaults.sysfs", "sysfs needs the net namespace: it shows the network devices of the namespace that mounts it")
                        .accepted("false when namespaces.net = false")
                        .hint("turn namespaces.net on, or remove defaults.sysfs"),
                );
                false
            }
            Some(s) => s.value,
            None => ns.net,
        };
        for (key, sp) in [("devpts", &d.devpts), ("shm", &d.shm)] {
            if sp.value && sp.span != (0..0) && !d.dev.value {
                self.err(
                    Diag::new(
                        sp.span.clone(),
                        format!("defaults.{key}"),
                        format!("/dev/{} needs the default /dev", if key == "shm" { "shm" } else { "pts" }),
                    )
                    .accepted("false when defaults.dev = false")
                    .hint(format!("set defaults.dev = true, or defaults.{key} = false")),
                );
            }
        }
        Defaults {
            proc: d.proc.value,
            dev: d.dev.value,
            devpts: d.dev.value && d.devpts.value,
            shm: d.dev.value && d.shm.value,
            sysfs,
        }
    }

    fn rootfs(&mut self, f: &JailFile) -> (PathBuf, Origin, bool) {
        let Some(r) = &f.rootfs else {
            return (PathBuf::new(), Origin::Default, false);
        };
        let origin = self.origin(&r.path, "[rootfs]");
        let path = self.host_path(&r.path.value);
        let accepted = "a directory on the host, relative to the jail file, other than /";
        if r.path.value.is_empty() || path == Path::new("/") {
            self.err(
                Diag::new(r.path.span.clone(), "rootfs.path", "the rootfs cannot be the host's /")
                    .accepted(accepted)
                    .hint("point it at a directory that holds the jail's files, e.g. \"../rootfs/busybox\""),
            );
            return (path, origin, false);
        }
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => (path, origin, false),
            Ok(_) => {
                self.err(
                    Diag::new(
                        r.path.span.clone(),
                        "rootfs.path",
                        format!("{} is not a directory", path.display()),
                    )
                    .accepted(accepted),
                );
                (path, origin, false)
            }
            Err(_) if r.from.as_ref().map(|f| f.value) == Some(RootfsFrom::Busybox) => (path, origin, true),
            Err(_) => {
                self.err(
                    Diag::new(
                        r.path.span.clone(),
                        "rootfs.path",
                        format!("{} does not exist", path.display()),
                    )
                    .accepted(accepted)
                    .hint(format!(
                        "make it with `procjail rootfs busybox {}`, or add from = \"busybox\"",
                        path.display()
                    )),
                );
                (path, origin, false)
            }
        }
    }

    fn hostname(&mut self, f: &JailFile, ns: &Namespaces, name: &str) -> Option<(String, Origin)> {
        let Some(h) = &f.hostname else {
            return (ns.uts && hostname_problem(name).is_none()).then(|| (name.to_string(), Origin::Default));
        };
        if let Some(problem) = hostname_problem(&h.value) {
            self.err(
                Diag::new(h.span.clone(), "hostname", problem)
                    .accepted("1 to 64 bytes of letters, digits and '-', in dot-separated labels that do not start or end with '-'")
                    .hint("e.g. hostname = \"web-1\""),
            );
        }
        if !ns.uts {
            self.err(
                Diag::new(h.span.clone(), "hostname", "a hostname needs the uts namespace, which is off")
                    .accepted("no hostname when namespaces.uts = false")
                    .hint(
                        "turn namespaces.uts on, or remove hostname: without it the host's name would change",
                    ),
            );
        }
        Some((h.value.clone(), self.origin(h, "hostname")))
    }

    fn mount(&mut self, n: usize, m: &config::Mount) -> Option<Mount> {
        let key = format!("mounts[{n}]");
        let origin = self.origin(&m.kind, format!("[[mounts]] #{n}"));
        let target = self.target(&key, &m.target)?;
        let spec = match m.kind.value {
            MountKind::Bind => {
                for (k, span) in
                    [("size", m.size.as_ref().map(|s| &s.span)), ("mode", m.mode.as_ref().map(|s| &s.span))]
                {
                    if let Some(span) = span {
                        self.err(
                            Diag::new(
                                span.clone(),
                                format!("{key}.{k}"),
                                format!("`{k}` is for tmpfs mounts, not bind mounts"),
                            )
                            .hint(format!("remove `{k}`")),
                        );
                    }
                }
                let Some(source) = &m.source else {
                    self.err(
                        Diag::new(
                            m.kind.span.clone(),
                            format!("{key}.source"),
                            "a bind mount needs a source",
                        )
                        .accepted("a host path, relative to the jail file")
                        .hint("add source = \"DIR\""),
                    );
                    return None;
                };
                let path = self.host_path(&source.value);
                let Ok(meta) = std::fs::metadata(&path) else {
                    self.err(
                        Diag::new(
                            source.span.clone(),
                            format!("{key}.source"),
                            format!("the bind source {} does not exist", path.display()),
                        )
                        .accepted("an existing file or directory on the host, relative to the jail file")
                        .hint(format!("create it (mkdir -p {}) or fix the path", path.display())),
                    );
                    return None;
                };
                MountSpec::Bind { source: path, target, readonly: m.readonly, is_dir: meta.is_dir() }
            }
            MountKind::Tmpfs => {
                if let Some(s) = &m.source {
                    self.err(
                        Diag::new(s.span.clone(), format!("{key}.source"), "a tmpfs has no source")
                            .hint("remove `source`, or use type = \"bind\""),
                    );
                }
                if let Some(s) = &m.size
                    && s.value.0 == 0
                {
                    self.err(
                        Diag::new(s.span.clone(), format!("{key}.size"), "a tmpfs size of 0 means no limit at all to the kernel")
                            .accepted("a size of 1 byte or more")
                            .hint("write the size you want, e.g. \"16MiB\", or remove `size` for the kernel's default"),
                    );
                }
                let mode = match &m.mode {
                    None => 0o755,
                    Some(s) => match u32::from_str_radix(&s.value, 8) {
                        Ok(v) if v <= 0o7777 => v,
                        _ => {
                            self.err(
                                Diag::new(
                                    s.span.clone(),
                                    format!("{key}.mode"),
                                    format!("\"{}\" is not an octal mode", s.value),
                                )
                                .accepted("an octal string from \"0\" to \"7777\", like \"1777\""),
                            );
                            0o755
                        }
                    },
                };
                MountSpec::Tmpfs {
                    target,
                    size: m.size.as_ref().map(|s| s.value),
                    mode,
                    readonly: m.readonly,
                }
            }
        };
        Some(Mount { spec, origin })
    }

    /// A mount target: absolute, no `..`, not / itself, not under /proc.
    fn target(&mut self, key: &str, t: &Sp<String>) -> Option<PathBuf> {
        let accepted = "an absolute path in the jail, without `..`, not / and not under /proc";
        let p = Path::new(&t.value);
        let problem = if !p.is_absolute() {
            Some(format!("the target \"{}\" is not absolute", t.value))
        } else if p.components().any(|c| c == Component::ParentDir) {
            Some(format!("the target \"{}\" has `..`: it could lead out of the rootfs", t.value))
        } else if normalize(p) == Path::new("/") {
            Some("the target cannot be / itself: that is the rootfs".into())
        } else if normalize(p).starts_with("/proc") {
            Some(format!("the target \"{}\" is under /proc, where the kernel's files live", t.value))
        } else if t.value.contains('\0') {
            Some("the target has a NUL byte".into())
        } else {
            None
        };
        match problem {
            Some(message) => {
                let hint = if p.is_absolute() {
                    "pick another place, e.g. \"/data\"".to_string()
                } else {
                    format!("write \"/{}\"", t.value.trim_start_matches("./"))
                };
                self.err(
                    Diag::new(t.span.clone(), format!("{key}.target"), message).accepted(accepted).hint(hint),
                );
                None
            }
            None => Some(normalize(p)),
        }
    }

    fn duplicate_targets(&mut self, f: &JailFile, d: &Defaults) {
        let mut seen: BTreeMap<PathBuf, String> = BTreeMap::new();
        for (path, on, what) in [
            ("/proc", d.proc, "defaults.proc"),
            ("/dev", d.dev, "defaults.dev"),
            ("/dev/pts", d.devpts, "defaults.devpts"),
            ("/dev/shm", d.shm, "defaults.shm"),
            ("/sys", d.sysfs, "defaults.sysfs"),
        ] {
            if on {
                seen.insert(PathBuf::from(path), what.to_string());
            }
        }
        for (i, m) in f.mounts.iter().enumerate() {
            let target = normalize(Path::new(&m.target.value));
            if !target.is_absolute() {
                continue;
            }
            let this = format!("mounts[{}]", i + 1);
            if let Some(first) = seen.get(&target) {
                let hint = if first.starts_with("defaults.") {
                    format!("set {first} = false to mount your own there")
                } else {
                    "remove one of them".into()
                };
                self.err(
                    Diag::new(
                        m.target.span.clone(),
                        format!("{this}.target"),
                        format!("{} is already a mount target ({first})", target.display()),
                    )
                    .accepted("each target once")
                    .hint(hint),
                );
            } else {
                seen.insert(target, this);
            }
        }
    }

    fn command(&mut self, f: &JailFile) -> (Vec<String>, Vec<(String, String)>, PathBuf, Origin) {
        let Some(c) = &f.command else {
            return (Vec::new(), Vec::new(), PathBuf::from("/"), Origin::Default);
        };
        let origin = self.origin(&c.argv, "[command]");
        let argv = &c.argv;
        if argv.value.is_empty() {
            self.err(
                Diag::new(argv.span.clone(), "command.argv", "argv is empty")
                    .accepted("at least the program: [\"/bin/sh\", ...]")
                    .hint("e.g. argv = [\"/bin/sh\", \"-c\", \"echo hello\"]"),
            );
        } else if argv.value[0].is_empty() {
            self.err(
                Diag::new(argv.span.clone(), "command.argv", "argv[0], the program, is empty")
                    .accepted("a path in the rootfs or a name looked up in PATH"),
            );
        }
        for (i, a) in argv.value.iter().enumerate() {
            if a.contains('\0') {
                self.err(
                    Diag::new(
                        argv.span.clone(),
                        format!("command.argv[{i}]"),
                        "has a NUL byte, which execve cannot pass",
                    )
                    .accepted("strings without \\u0000"),
                );
            }
        }
        let mut env = Vec::new();
        match &c.env {
            None => env.push(("PATH".to_string(), DEFAULT_PATH.to_string())),
            Some(e) => {
                for (k, v) in &e.value {
                    let problem = if k.is_empty() {
                        Some("an environment name cannot be empty".to_string())
                    } else if k.contains('=') {
                        Some(format!("the name \"{k}\" has '=', which ends a name in the environment"))
                    } else if k.contains('\0') || v.contains('\0') {
                        Some(format!("{k} has a NUL byte, which execve cannot pass"))
                    } else {
                        None
                    };
                    if let Some(message) = problem {
                        self.err(
                            Diag::new(e.span.clone(), format!("command.env.{k}"), message)
                                .accepted("names without '=' or NUL, values without NUL"),
                        );
                    }
                    env.push((k.clone(), v.clone()));
                }
            }
        }
        let cwd = match &c.cwd {
            None => PathBuf::from("/"),
            Some(cwd) if Path::new(&cwd.value).is_absolute() && !cwd.value.contains('\0') => {
                normalize(Path::new(&cwd.value))
            }
            Some(cwd) => {
                self.err(
                    Diag::new(
                        cwd.span.clone(),
                        "command.cwd",
                        format!("\"{}\" is not an absolute path", cwd.value),
                    )
                    .accepted("an absolute path in the jail, like \"/\"")
                    .hint(format!("write \"/{}\"", cwd.value)),
                );
                PathBuf::from("/")
            }
        };
        (argv.value.clone(), env, cwd, origin)
    }

    fn limits(&mut self, f: &JailFile, host: &Host) -> Limits {
        let l = &f.limits;
        let mut out = Limits::default();
        let positive = |v: &mut Self, key: &str, sp: &Sp<Size>| -> Option<Limit<u64>> {
            if sp.value.0 == 0 {
                v.err(
                    Diag::new(
                        sp.span.clone(),
                        format!("limits.{key}"),
                        format!("a {key} limit of 0 leaves the jail nothing"),
                    )
                    .accepted("a size of 1 byte or more, like \"64MiB\"")
                    .hint(format!("remove limits.{key} for no limit")),
                );
                return None;
            }
            Some(Limit { value: sp.value.0, origin: v.origin(sp, format!("limits.{key}")) })
        };
        out.memory = l.memory.as_ref().and_then(|m| positive(self, "memory", m));
        out.memory_swap = l.memory_swap.as_ref().and_then(|m| positive(self, "memory_swap", m));
        if let Some(sw) = &l.memory_swap {
            match &out.memory {
                None => self.err(
                    Diag::new(sw.span.clone(), "limits.memory_swap", "memory_swap needs memory")
                        .accepted("memory_swap together with memory")
                        .hint("add limits.memory"),
                ),
                Some(m) if sw.value.0 < m.value => self.err(
                    Diag::new(
                        sw.span.clone(),
                        "limits.memory_swap",
                        format!("memory_swap ({}) is less than memory ({})", sw.value, Size(m.value)),
                    )
                    .accepted("memory + swap: at least `memory`"),
                ),
                _ => {}
            }
        }
        if let Some(p) = &l.pids {
            if p.value < 1 {
                self.err(
                    Diag::new(
                        p.span.clone(),
                        "limits.pids",
                        format!("pids must be 1 or more, not {}", p.value),
                    )
                    .accepted("an integer of 1 or more")
                    .hint("the jail's init and command need at least 2"),
                );
            } else {
                out.pids = Some(Limit { value: p.value as u64, origin: self.origin(p, "limits.pids") });
            }
        }
        if let Some(c) = &l.cpus {
            if !(0.01..=1024.0).contains(&c.value) {
                self.err(
                    Diag::new(
                        c.span.clone(),
                        "limits.cpus",
                        format!("cpus must be from 0.01 to 1024, not {}", c.value),
                    )
                    .accepted("a number of CPUs from 0.01 to 1024, like 0.5"),
                );
            } else {
                out.cpus = Some(Limit { value: c.value, origin: self.origin(c, "limits.cpus") });
            }
        }
        if let Some(w) = &l.cpu_weight {
            if !(1..=10000).contains(&w.value) {
                self.err(
                    Diag::new(
                        w.span.clone(),
                        "limits.cpu_weight",
                        format!("cpu_weight must be from 1 to 10000, not {}", w.value),
                    )
                    .accepted("an integer from 1 to 10000 (100 is the default share)"),
                );
            } else {
                out.cpu_weight =
                    Some(Limit { value: w.value as u64, origin: self.origin(w, "limits.cpu_weight") });
            }
        }
        let ints = [("nofile", &l.nofile), ("nproc", &l.nproc)];
        let sizes = [("core", &l.core), ("fsize", &l.fsize), ("stack", &l.stack), ("as", &l.address_space)];
        let mut rl: Vec<(&'static str, Sp<i64>)> = Vec::new();
        for (k, v) in ints {
            if let Some(v) = v {
                rl.push((k, v.clone()));
            }
        }
        for (k, v) in sizes {
            if let Some(v) = v {
                rl.push((k, Sp::new(v.value.0.min(i64::MAX as u64) as i64, v.span.clone())));
            }
        }
        if let Some(v) = &l.cpu_time {
            rl.push(("cpu_time", Sp::new(v.value.0.div_ceil(1000) as i64, v.span.clone())));
        }
        for r in crate::limits::RLIMITS {
            let Some((key, v)) = rl.iter().find(|(k, _)| *k == r.key) else {
                continue;
            };
            let min = if *key == "nofile" { 4 } else { 0 };
            if v.value < min {
                self.err(
                    Diag::new(
                        v.span.clone(),
                        format!("limits.{key}"),
                        format!("{key} must be {min} or more, not {}", v.value),
                    )
                    .accepted(format!("an integer of {min} or more")),
                );
                continue;
            }
            if let Some(hard) = host.hard_limit(key)
                && !host.cap_sys_resource
                && v.value as u64 > hard
            {
                self.err(
                    Diag::new(v.span.clone(), format!("limits.{key}"), format!("{key} = {} is above procjail's hard limit {hard} ({}), and without CAP_SYS_RESOURCE a hard limit can only be lowered", v.value, r.name))
                        .accepted(format!("at most {hard} on this host"))
                        .hint(format!("lower it to {hard} or less, or raise the hard limit of the shell that runs procjail")),
                );
                continue;
            }
            out.rlimits.push((
                key,
                Limit { value: v.value as u64, origin: self.origin(v, format!("limits.{key}")) },
            ));
        }
        out
    }
}

/// The jail's name from its file: `jails/busybox.toml` → `busybox`.
pub fn jail_name(path: &Path) -> String {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let clean: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '_' })
        .collect();
    if clean.is_empty() || clean.starts_with('.') { format!("jail{clean}") } else { clean }
}

/// Why a hostname is not valid under RFC 1123, if it is not.
pub fn hostname_problem(h: &str) -> Option<String> {
    if h.is_empty() {
        return Some("the hostname is empty".into());
    }
    if h.len() > 64 {
        return Some(format!("the hostname is {} bytes long; the kernel takes at most 64", h.len()));
    }
    for label in h.split('.') {
        if label.is_empty() {
            return Some("the hostname has an empty label (two dots in a row, or a dot at an end)".into());
        }
        if label.len() > 63 {
            return Some(format!("the label \"{label}\" is longer than 63 bytes"));
        }
        if let Some(c) = label.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-')) {
            return Some(format!("the hostname has {c:?}; only letters, digits, '-' and '.' are allowed"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Some(format!("the label \"{label}\" starts or ends with '-'"));
        }
    }
    None
}

/// Removes `.` and empty components without touching the filesystem.
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() { PathBuf::from(".") } else { out }
}
