//! Validation of the rootfs and the mounts: paths on the host and targets in the jail.

use std::path::{Component, Path, PathBuf};

use super::{Defaults, Mount, MountSpec, Origin, Validator, normalize};
use crate::config::{self, JailFile, MountKind, RootfsFrom, Sp};
use crate::diag::Diag;

impl Validator<'_> {
    pub(super) fn rootfs(&mut self, f: &JailFile) -> (PathBuf, Origin, bool) {
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
        // What it is once its symlinks are followed: never the host's / or a kernel filesystem.
        if let Ok(real) = std::fs::canonicalize(&path)
            && (real == Path::new("/") || ["/proc", "/sys", "/dev"].iter().any(|k| real.starts_with(k)))
        {
            self.err(
                Diag::new(r.path.span.clone(), "rootfs.path", format!("{} leads to {}, which cannot be a rootfs", path.display(), real.display()))
                    .accepted(accepted)
                    .hint("point it at a folder of the jail's own files; the host's /, /proc, /sys and /dev are the host's"),
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

    pub(super) fn mount(&mut self, n: usize, m: &config::Mount) -> Option<Mount> {
        let key = format!("mounts[{n}]");
        let origin = self.origin(&m.kind, format!("[[mounts]] #{n}"));
        let target = self.target(&key, &m.target)?;
        let spec = match m.kind.value {
            MountKind::Bind => self.bind(&key, m, target)?,
            MountKind::Tmpfs => self.tmpfs(&key, m, target),
        };
        Some(Mount { spec, origin })
    }

    /// A bind mount: a source that exists on the host, no tmpfs keys.
    fn bind(&mut self, key: &str, m: &config::Mount, target: PathBuf) -> Option<MountSpec> {
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
                Diag::new(m.kind.span.clone(), format!("{key}.source"), "a bind mount needs a source")
                    .accepted("a host path, relative to the jail file")
                    .hint("add source = \"DIR\""),
            );
            return None;
        };
        let path = self.host_path(&source.value);
        let meta = match std::fs::metadata(&path) {
            Ok(meta) => meta,
            Err(e) => {
                let (what, hint) = source_problem(&e, &path);
                self.err(
                    Diag::new(
                        source.span.clone(),
                        format!("{key}.source"),
                        format!("the bind source {} {what}", path.display()),
                    )
                    .accepted("an existing file or directory on the host, relative to the jail file")
                    .hint(hint),
                );
                return None;
            }
        };
        let (readonly, attrs) = self.bind_attrs(key, m);
        Some(MountSpec::Bind { source: path, target, readonly, attrs, is_dir: meta.is_dir() })
    }

    /// A bind's options: the mount_setattr attributes it gets beside read-only.
    fn bind_attrs(&mut self, key: &str, m: &config::Mount) -> (bool, u64) {
        use crate::sys::{MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID};
        let (mut readonly, mut attrs) = (m.readonly, 0);
        for o in m.options.iter().flat_map(|o| o.value.iter().map(move |v| (o, v))) {
            match o.1.as_str() {
                "nosuid" => attrs |= MOUNT_ATTR_NOSUID,
                "nodev" => attrs |= MOUNT_ATTR_NODEV,
                "noexec" => attrs |= MOUNT_ATTR_NOEXEC,
                "ro" => readonly = true,
                other => self.err(
                    Diag::new(
                        o.0.span.clone(),
                        format!("{key}.options"),
                        format!("{other:?} is not an option of a bind mount"),
                    )
                    .accepted("\"nosuid\", \"nodev\", \"noexec\", \"ro\"")
                    .hint("a bind keeps its source's other flags; tmpfs options are for type = \"tmpfs\""),
                ),
            }
        }
        (readonly, attrs)
    }

    /// A tmpfs: no source, a size above 0, an octal mode.
    fn tmpfs(&mut self, key: &str, m: &config::Mount, target: PathBuf) -> MountSpec {
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
                Diag::new(
                    s.span.clone(),
                    format!("{key}.size"),
                    "a tmpfs size of 0 means no limit at all to the kernel",
                )
                .accepted("a size of 1 byte or more")
                .hint("write the size you want, e.g. \"16MiB\", or remove `size` for the kernel's default"),
            );
        }
        let mode = match &m.mode {
            None => 0o755,
            Some(s) => match parse_mode(&s.value) {
                Some(v) => v,
                None => {
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
        let flags = self.tmpfs_flags(key, m);
        MountSpec::Tmpfs { target, size: m.size.as_ref().map(|s| s.value), mode, flags }
    }

    /// nosuid and nodev by default; the options lift them or add noexec; readonly adds ro.
    fn tmpfs_flags(&mut self, key: &str, m: &config::Mount) -> u64 {
        use nix::mount::MsFlags;
        let mut f = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
        for o in m.options.iter().flat_map(|o| o.value.iter().map(move |v| (o, v))) {
            match o.1.as_str() {
                "dev" => f.remove(MsFlags::MS_NODEV),
                "suid" => f.remove(MsFlags::MS_NOSUID),
                "nodev" => f.insert(MsFlags::MS_NODEV),
                "nosuid" => f.insert(MsFlags::MS_NOSUID),
                "noexec" => f.insert(MsFlags::MS_NOEXEC),
                "exec" => f.remove(MsFlags::MS_NOEXEC),
                "ro" => f.insert(MsFlags::MS_RDONLY),
                "relatime" => f.insert(MsFlags::MS_RELATIME),
                "strictatime" => f.insert(MsFlags::MS_STRICTATIME),
                "noatime" => f.insert(MsFlags::MS_NOATIME),
                "nodiratime" => f.insert(MsFlags::MS_NODIRATIME),
                other => self.err(
                    Diag::new(
                        o.0.span.clone(),
                        format!("{key}.options"),
                        format!("{other:?} is not a tmpfs option procjail takes"),
                    )
                    .accepted(
                        crate::config::rules::TMPFS_OPTIONS
                            .iter()
                            .map(|o| format!("{o:?}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                    )
                    .hint("size and mode have keys of their own"),
                ),
            }
        }
        if m.readonly {
            f.insert(MsFlags::MS_RDONLY);
        }
        f.bits()
    }

    /// A mount target: absolute, no `..`, not / itself, not under /proc.
    pub(super) fn target(&mut self, key: &str, t: &Sp<String>) -> Option<PathBuf> {
        let accepted = "an absolute path in the jail, without `..`, not / and not under /proc";
        let p = Path::new(&t.value);
        match target_problem(&t.value) {
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

    pub(super) fn duplicate_targets(&mut self, f: &JailFile, d: &Defaults) {
        let mut seen: std::collections::HashMap<PathBuf, String> = std::collections::HashMap::new();
        for (path, on, what) in [
            ("/proc", d.proc, "defaults.proc"),
            ("/dev", d.dev, "defaults.dev"),
            ("/dev/pts", d.devpts, "defaults.devpts"),
            ("/dev/shm", d.shm, "defaults.shm"),
            ("/sys", d.sysfs, "defaults.sysfs"),
            ("/dev/mqueue", d.mqueue, "defaults.mqueue"),
            ("/sys/fs/cgroup", d.cgroupfs, "defaults.cgroupfs"),
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
}

/// The mode of a tmpfs: an octal string of at most 7777 (the schema's `MODE_PATTERN`).
pub fn parse_mode(s: &str) -> Option<u32> {
    u32::from_str_radix(s, 8).ok().filter(|v| *v <= 0o7777)
}

/// Why a mount target is refused, if it is: not absolute, with `..`, / itself, under /proc, or
/// with a NUL byte (the schema's `ABSOLUTE_PATTERN` and `TARGET_REFUSED_PATTERN`).
pub fn target_problem(t: &str) -> Option<String> {
    let p = Path::new(t);
    if !p.is_absolute() {
        Some(format!("the target \"{t}\" is not absolute"))
    } else if p.components().any(|c| c == Component::ParentDir) {
        Some(format!("the target \"{t}\" has `..`: it could lead out of the rootfs"))
    } else if normalize(p) == Path::new("/") {
        Some("the target cannot be / itself: that is the rootfs".into())
    } else if normalize(p).starts_with("/proc") {
        Some(format!("the target \"{t}\" is under /proc, where the kernel's files live"))
    } else if t.contains('\0') {
        Some("the target has a NUL byte".into())
    } else {
        None
    }
}

/// Why a bind source cannot be used, in words, and what to do: by the errno stat gave.
fn source_problem(e: &std::io::Error, path: &Path) -> (String, String) {
    let p = path.display();
    match e.raw_os_error().map(nix::errno::Errno::from_raw) {
        Some(nix::errno::Errno::ENOENT) => {
            ("does not exist".into(), format!("create it (mkdir -p {p}) or fix the path"))
        }
        Some(nix::errno::Errno::ELOOP) => (
            "is a loop of symlinks (ELOOP)".into(),
            format!("see where it leads with `namei -l {p}` and point the symlink at a real file"),
        ),
        Some(nix::errno::Errno::EACCES) => (
            "cannot be reached: permission denied (EACCES)".into(),
            format!(
                "a folder on the way lacks search (x) permission for procjail's user: see `namei -l {p}`"
            ),
        ),
        Some(nix::errno::Errno::ENOTDIR) => (
            "goes through something that is not a directory (ENOTDIR)".into(),
            format!("check each folder of the path: `namei -l {p}`"),
        ),
        Some(nix::errno::Errno::ENAMETOOLONG) => {
            ("is too long a path (ENAMETOOLONG)".into(), "shorten the path".into())
        }
        _ => (format!("cannot be read: {e}"), format!("check the path: `namei -l {p}`")),
    }
}
