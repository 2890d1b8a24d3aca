//! The text of the steps that work in the rootfs: paths opened with openat2 in it, the
//! entries made through a folder, mounts on what those opens returned.

use std::path::{Path, PathBuf};

use nix::mount::MsFlags;

use super::text::{ms_flags, names, opt, qp, quote};
use super::{Target, Via};

/// The in-root path as openat2 gets it: relative to rootfd ("." for "/").
pub(super) fn rel(p: &Path) -> String {
    let r = p.strip_prefix("/").unwrap_or(p);
    quote(if r.as_os_str().is_empty() { "." } else { r.to_str().unwrap_or("?") })
}

/// `$fd = openat2(rootfd, "dev", O_PATH, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS)`
pub(super) fn in_root(var: &str, p: &Path, flags: &str, no_symlinks: bool) -> String {
    let extra = if no_symlinks { "|RESOLVE_NO_SYMLINKS" } else { "" };
    format!(
        "{var} = openat2(rootfd, {}, {flags}|O_CLOEXEC, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS{extra})",
        rel(p)
    )
}

/// The last component of a path, quoted.
pub(super) fn entry_name(p: &Path) -> String {
    quote(&p.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned()))
}

pub(super) fn sysctl(key: &str, value: &str) -> String {
    let path = PathBuf::from("/proc/sys").join(key.replace('.', "/"));
    format!("{}; write($fd, {})", in_root("$fd", &path, "O_WRONLY", false), quote(value))
}

pub(super) fn mask(at: &Path) -> String {
    format!(
        "{}; the first folder: mount(\"tmpfs\", \"/proc/self/fd/$fd\", \"tmpfs\", MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC, \"nr_inodes=1,mode=0555\"), \
         {}; a folder after it: mount(\"/proc/self/fd/$maskfs\", \"/proc/self/fd/$fd\", NULL, MS_BIND, NULL); \
         a file: mount(\"/proc/self/fd/$nullfd\", \"/proc/self/fd/$fd\", NULL, MS_BIND, NULL)",
        in_root("$fd", at, "O_PATH", false),
        in_root("$maskfs", at, "O_PATH", false)
    )
}

pub(super) fn read_only(at: &Path) -> String {
    let open = in_root("$fd", at, "O_PATH", false);
    format!(
        "{open}; mount(\"/proc/self/fd/$fd\", \"/proc/self/fd/$fd\", NULL, MS_BIND|MS_REC, NULL); \
         {open}; mount_setattr($fd, \"\", AT_EMPTY_PATH|AT_RECURSIVE, {{attr_set: MOUNT_ATTR_RDONLY}})"
    )
}

pub(super) fn mount_attrs(set: u64) -> String {
    let named = [
        (0x1, "MOUNT_ATTR_RDONLY"),
        (0x2, "MOUNT_ATTR_NOSUID"),
        (0x4, "MOUNT_ATTR_NODEV"),
        (0x8, "MOUNT_ATTR_NOEXEC"),
    ];
    names(named.iter().filter(|(b, _)| set & b != 0).map(|(b, n)| (*n, *b)), set)
}

pub(super) fn mount_setattr(target: &Target, set: u64, recursive: bool) -> String {
    let flags = if recursive { "|AT_RECURSIVE" } else { "" };
    let attrs = format!("{{attr_set: {}}}", mount_attrs(set));
    match target {
        Target::InRoot(p) if p == Path::new("/") => {
            format!("mount_setattr(rootfd, \"\", AT_EMPTY_PATH{flags}, {attrs})")
        }
        Target::InRoot(p) => {
            format!(
                "{}; mount_setattr($fd, \"\", AT_EMPTY_PATH{flags}, {attrs})",
                in_root("$fd", p, "O_PATH", false)
            )
        }
        Target::Path(p) => {
            let flags = if recursive { "AT_RECURSIVE" } else { "0" };
            format!("mount_setattr(AT_FDCWD, {}, {flags}, {attrs})", qp(p))
        }
    }
}

/// The variable an [`Op::OpenDir`] step keeps a folder in: `$dev` for /dev.
pub fn dir_var(at: &Path) -> String {
    match at.file_name().and_then(|n| n.to_str()) {
        Some(n) if n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => format!("${n}"),
        _ => "$dir".into(),
    }
}

/// The folder an entry is made in, and the step's own lookup of it (if it makes one).
pub(super) fn parent_of(at: &Path, via: Via, no_symlinks: bool) -> (String, String) {
    let parent = at.parent().unwrap_or(Path::new("/"));
    match via {
        Via::Root => ("rootfd".into(), String::new()),
        Via::Dir => (dir_var(parent), String::new()),
        Via::Lookup => ("$dir".into(), format!("{}; ", in_root("$dir", parent, "O_DIRECTORY", no_symlinks))),
    }
}

pub(super) fn mount_point(at: &Path, dir: bool, no_symlinks: bool, via: Via) -> String {
    let name = entry_name(at);
    let (d, open) = parent_of(at, via, no_symlinks);
    let make = if dir {
        format!("mkdirat({d}, {name}, 0755)")
    } else {
        format!("mknodat({d}, {name}, S_IFREG|0644)")
    };
    format!("{open}{make} unless it exists")
}

pub(super) fn symlink_in(target: &str, at: &Path, via: Via) -> String {
    let name = entry_name(at);
    let (d, open) = parent_of(at, via, false);
    format!("{open}symlinkat({}, {d}, {name})", quote(target))
}

pub(super) fn mount(
    source: &Option<String>,
    target: &Target,
    fstype: &Option<String>,
    flags: MsFlags,
    data: &Option<String>,
) -> String {
    let (prefix, t) = match target {
        Target::Path(p) => (String::new(), qp(p)),
        Target::InRoot(p) => {
            (format!("{}; ", in_root("$fd", p, "O_PATH", false)), quote("/proc/self/fd/$fd"))
        }
    };
    format!("{prefix}mount({}, {t}, {}, {}, {})", opt(source), opt(fstype), ms_flags(flags), opt(data))
}
