//! Validation of `[security]`, `[sysctl]` and `[command] user`: the confinement of the jail,
//! secure by default, each default with the key that changes it. The seccomp profile is read
//! and compiled here, for the jail's own capability set: the plan carries the program.

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Origin, Validator};
use crate::config::{Capabilities, InitMode, JailFile, PathList, Sp};
use crate::diag::{Diag, did_you_mean};
use crate::host::{Host, caps};
use crate::seccomp::{self, Program};

/// A setting with where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Setting<T> {
    pub value: T,
    pub origin: Origin,
}

/// Who the command runs as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub origin: Origin,
}

/// A device rule: `c 1:3 rwm`; None for `*`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRule {
    /// 'c', 'b', or 'a' (both).
    pub kind: char,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    /// Some of "rwm".
    pub access: String,
}

impl std::fmt::Display for DeviceRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = |v: Option<u32>| v.map_or("*".to_string(), |v| v.to_string());
        write!(f, "{} {}:{} {}", self.kind, n(self.major), n(self.minor), self.access)
    }
}

/// The confinement of a jail.
#[derive(Debug, Clone, PartialEq)]
pub struct Confine {
    /// Bounding = permitted = effective.
    pub caps: Setting<u64>,
    /// Ambient = inheritable (a non-root command's capabilities after its execve).
    pub ambient: Setting<u64>,
    pub no_new_privs: Setting<bool>,
    /// None: `seccomp = "none"`.
    pub seccomp: Setting<Option<Program>>,
    /// Where the program's rules come from, for this jail's capabilities, architecture and
    /// kernel (`export oci` writes them as the bundle's profile).
    pub seccomp_rules: Option<seccomp::Rules>,
    pub masked: Setting<Vec<PathBuf>>,
    pub readonly: Setting<Vec<PathBuf>>,
    pub devices: Setting<Vec<DeviceRule>>,
    pub new_keyring: Setting<bool>,
    pub oom_score_adj: Option<Setting<i32>>,
    pub user: User,
    /// Namespaced sysctls: (key, value).
    pub sysctl: Vec<Setting<(String, String)>>,
}

/// docker's masked paths, and /proc/kallsyms (kernel addresses).
pub const MASKED: &[&str] = &[
    "/proc/acpi",
    "/proc/asound",
    "/proc/interrupts",
    "/proc/kallsyms",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/sys/devices/virtual/powercap",
    "/sys/firmware",
];

/// Every OCI runtime's read-only paths.
pub const READONLY: &[&str] = &["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

/// The devices procjail makes in /dev: null zero full random urandom tty, ptmx, and the ptys.
pub const DEFAULT_DEVICES: &[&str] = &[
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
];

/// The words of a "default"-or-a-list key.
pub(super) fn words(l: &PathList) -> Vec<String> {
    match l {
        PathList::Default(w) => vec![w.clone()],
        PathList::List(v) => v.clone(),
    }
}

pub(super) fn unset(key: &str) -> Origin {
    Origin::Unset { key: key.into() }
}

impl Validator<'_> {
    pub(super) fn confine(
        &mut self,
        f: &JailFile,
        host: &Host,
        ns: &super::Namespaces,
        init: InitMode,
    ) -> Confine {
        let s = &f.security;
        let caps = self.capabilities(s.capabilities.as_ref(), host, init);
        let ambient = self.ambient(s.ambient.as_ref(), caps.value, host);
        let no_new_privs = match &s.no_new_privs {
            Some(b) => Setting { value: b.value, origin: self.origin(b, "security.no_new_privs") },
            None => Setting { value: true, origin: unset("security.no_new_privs") },
        };
        let (seccomp, seccomp_rules) = self.seccomp(s.seccomp.as_ref(), caps.value, host);
        let masked = self.paths(s.masked_paths.as_ref(), "security.masked_paths", MASKED);
        let readonly = self.paths(s.readonly_paths.as_ref(), "security.readonly_paths", READONLY);
        let devices = self.devices(s.devices.as_ref());
        let new_keyring = match &s.keyring {
            None => Setting { value: true, origin: unset("security.keyring") },
            Some(k) if k.value == "new" || k.value == "inherit" => {
                Setting { value: k.value == "new", origin: self.origin(k, "security.keyring") }
            }
            Some(k) => {
                self.err(
                    Diag::new(
                        k.span.clone(),
                        "security.keyring",
                        format!("{:?} is not a keyring choice", k.value),
                    )
                    .accepted("\"new\" or \"inherit\""),
                );
                Setting { value: true, origin: unset("security.keyring") }
            }
        };
        let oom_score_adj = self.oom_score_adj(s.oom_score_adj.as_ref(), host);
        let user = self.user(f);
        let sysctl = self.sysctls(f, ns);
        let c = Confine {
            caps,
            ambient,
            no_new_privs,
            seccomp,
            seccomp_rules,
            masked,
            readonly,
            devices,
            new_keyring,
            oom_score_adj,
            user,
            sysctl,
        };
        self.refuse_undoing(f, &c);
        c
    }

    fn cap_names(&mut self, names: &[String], span: &std::ops::Range<usize>, key: &str, host: &Host) -> u64 {
        let mut set = 0;
        for n in names {
            match caps::number(n) {
                Some(i) if i <= host.cap_last_cap => set |= 1 << i,
                Some(i) => self.err(
                    Diag::new(
                        span.clone(),
                        key,
                        format!(
                            "{n} (number {i}) is newer than this kernel, whose last is {}",
                            host.cap_last_cap
                        ),
                    )
                    .accepted(format!("capabilities 0 to {}", host.cap_last_cap)),
                ),
                None => {
                    let mut d = Diag::new(span.clone(), key, format!("{n:?} is not a capability")).accepted(
                        "names as capabilities(7) gives them: \"CAP_NET_ADMIN\" (the CAP_ may be left out)",
                    );
                    let up = format!("CAP_{}", n.trim_start_matches("CAP_").to_ascii_uppercase());
                    if let Some(m) = did_you_mean(&up, caps::NAMES.iter().copied()) {
                        d = d.hint(format!("did you mean \"{m}\"?"));
                    }
                    self.err(d);
                }
            }
        }
        set
    }

    fn capabilities(&mut self, c: Option<&Sp<Capabilities>>, host: &Host, init: InitMode) -> Setting<u64> {
        let default = caps::set(caps::DEFAULT);
        let Some(c) = c else { return Setting { value: default, origin: unset("security.capabilities") } };
        let key = "security.capabilities";
        let value = match &c.value {
            Capabilities::Default(w) if w == "default" => default,
            Capabilities::Default(w) => {
                self.err(
                    Diag::new(c.span.clone(), key, format!("{w:?} is not a capability set"))
                        .accepted("\"default\", a list of capabilities, or { add = [...], drop = [...] }")
                        .hint("write capabilities = [\"CAP_...\"] for a whole set"),
                );
                default
            }
            Capabilities::List(l) => self.cap_names(l, &c.span, key, host),
            Capabilities::Relative { add, drop } => {
                let (a, d) =
                    (self.cap_names(add, &c.span, key, host), self.cap_names(drop, &c.span, key, host));
                (default | a) & !d
            }
        };
        if init == InitMode::Builtin && value & caps::bit("CAP_SYS_PTRACE") != 0 {
            self.err(
                Diag::new(c.span.clone(), key, "CAP_SYS_PTRACE with the built-in init lets the command read the init's memory and open /proc/1/exe, which is the procjail binary (the runc CVE-2019-5736 class)")
                    .accepted("capabilities without CAP_SYS_PTRACE, or init.mode = \"none\"")
                    .hint("set [init] mode = \"none\" if the command must trace"),
            );
        }
        Setting { value, origin: self.origin(c, key) }
    }

    fn ambient(&mut self, a: Option<&Sp<Vec<String>>>, caps_kept: u64, host: &Host) -> Setting<u64> {
        let Some(a) = a else { return Setting { value: 0, origin: unset("security.ambient") } };
        let key = "security.ambient";
        let value = self.cap_names(&a.value, &a.span, key, host);
        if value & !caps_kept != 0 {
            self.err(
                Diag::new(
                    a.span.clone(),
                    key,
                    format!("{} not in security.capabilities", caps::show(value & !caps_kept)),
                )
                .accepted("capabilities the command keeps")
                .hint("add them to security.capabilities too"),
            );
        }
        Setting { value, origin: self.origin(a, key) }
    }

    fn seccomp(
        &mut self,
        s: Option<&Sp<String>>,
        caps_kept: u64,
        host: &Host,
    ) -> (Setting<Option<Program>>, Option<seccomp::Rules>) {
        let key = "security.seccomp";
        let default = |origin| {
            let rules = seccomp::Rules {
                profile: seccomp::DEFAULT_PROFILE.into(),
                caps: caps_kept,
                kernel: host.kernel,
            };
            seccomp::default_program(caps_kept).map(|p| (Setting { value: Some(p), origin }, Some(rules)))
        };
        let (text, origin, span) = match s {
            None => match default(unset(key)) {
                Some(compiled) => return compiled,
                None => (seccomp::DEFAULT_PROFILE.into(), unset(key), None),
            },
            Some(s) if s.value == "default" => match default(self.origin(s, key)) {
                Some(compiled) => return compiled,
                None => (seccomp::DEFAULT_PROFILE.into(), self.origin(s, key), Some(s)),
            },
            Some(s) if s.value == "none" => {
                return (Setting { value: None, origin: self.origin(s, key) }, None);
            }
            Some(s) => {
                let path = self.host_path(&s.value);
                match std::fs::read_to_string(&path) {
                    Ok(t) => (std::borrow::Cow::Owned(t), self.origin(s, key), Some(s)),
                    Err(e) => {
                        self.err(
                            Diag::new(s.span.clone(), key, format!("cannot read the profile {}: {e}", path.display()))
                                .accepted("\"default\", \"none\", or a docker/OCI seccomp profile (JSON), relative to the jail file"),
                        );
                        return (Setting { value: None, origin: self.origin(s, key) }, None);
                    }
                }
            }
        };
        let fail = |v: &mut Self, msg: String| {
            let span = span.map_or(0..0, |s| s.span.clone());
            v.err(Diag::new(span, key, msg).accepted("a docker/OCI seccomp profile (JSON)"));
        };
        let parsed = match seccomp::parse(&text) {
            Ok(p) => p,
            Err(e) => {
                let where_ = s.map_or("the default profile".to_string(), |s| s.value.clone());
                fail(self, format!("{where_}:{}:{}: {}", e.line, e.column, e.message));
                return (Setting { value: None, origin }, None);
            }
        };
        let filter = parsed.filter(caps_kept, host.kernel);
        match seccomp::compile(&filter) {
            Ok(p) => {
                let rules = seccomp::Rules { profile: text.clone(), caps: caps_kept, kernel: host.kernel };
                (Setting { value: Some(p), origin }, Some(rules))
            }
            Err(e) => {
                fail(self, e);
                (Setting { value: None, origin }, None)
            }
        }
    }

    /// "default" or a list of absolute in-jail paths, "default" standing for the default list.
    fn paths(&mut self, l: Option<&Sp<PathList>>, key: &str, default: &[&str]) -> Setting<Vec<PathBuf>> {
        let defaults = || default.iter().map(PathBuf::from).collect::<Vec<_>>();
        let Some(l) = l else { return Setting { value: defaults(), origin: unset(key) } };
        let mut out = Vec::new();
        for w in words(&l.value) {
            if w == "default" {
                out.extend(defaults());
                continue;
            }
            let p = Path::new(&w);
            if !p.is_absolute() || p.components().any(|c| c == Component::ParentDir) {
                self.err(
                    Diag::new(l.span.clone(), key, format!("{w:?} is not an absolute path without `..`"))
                        .accepted("\"default\", or absolute paths in the jail, like \"/proc/keys\""),
                );
                continue;
            }
            if !out.contains(&p.to_path_buf()) {
                out.push(super::normalize(p));
            }
        }
        Setting { value: out, origin: self.origin(l, key) }
    }

    /// What would undo the jail.
    fn refuse_undoing(&mut self, f: &JailFile, c: &Confine) {
        let admin = c.caps.value & caps::bit("CAP_SYS_ADMIN") != 0;
        if admin && c.seccomp.value.is_none() {
            let span = f.security.seccomp.as_ref().map_or(0..0, |s| s.span.clone());
            self.err(
                Diag::new(span, "security.seccomp", "seccomp \"none\" with CAP_SYS_ADMIN: the jail can umount its masks and read-only paths, mount a fresh procfs, load BPF and make namespaces; it confines nothing")
                    .accepted("seccomp \"default\" (or a profile) when the jail keeps CAP_SYS_ADMIN")
                    .hint("keep seccomp = \"default\", or drop CAP_SYS_ADMIN"),
            );
        }
        if c.ambient.value != 0 && c.user.uid == 0 {
            let span = f.security.ambient.as_ref().map_or(0..0, |s| s.span.clone());
            self.err(
                Diag::new(span, "security.ambient", "ambient capabilities matter only for a command that is not uid 0: root keeps its set through execve")
                    .accepted("ambient with [command] user = \"UID\" other than 0")
                    .hint("remove security.ambient, or set [command] user"),
            );
        }
    }
}
