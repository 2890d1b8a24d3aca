//! Where a path in the jail leads in a rootfs on the host, as the kernel's RESOLVE_IN_ROOT
//! would resolve it (symlinks followed inside the rootfs, `..` stopping at its top), read with
//! lstat and readlink only: validation looks, it never opens.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

/// The kernel's limit on symlinks followed in one lookup (MAXSYMLINKS).
const MAX_LINKS: usize = 40;

/// Where a path in the jail leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The path in the jail it reaches, with every symlink followed.
    pub real: PathBuf,
    /// Whether it exists (false also when a symlink loops or a folder on the way is a file).
    pub exists: bool,
    /// The first symlink on the way, in the jail, and what it says.
    pub first_link: Option<(PathBuf, PathBuf)>,
}

/// Resolves `path` (absolute, in the jail) inside `root` (the rootfs on the host).
pub fn resolve(root: &Path, path: &Path) -> Resolved {
    let mut todo: VecDeque<OsString> = parts(path);
    let mut real = PathBuf::from("/");
    let mut first_link = None;
    let mut links = 0;
    while let Some(part) = todo.pop_front() {
        if part == ".." {
            real.pop();
            continue;
        }
        let next = real.join(&part);
        let on_host = root.join(next.strip_prefix("/").unwrap_or(&next));
        let Ok(meta) = std::fs::symlink_metadata(&on_host) else {
            real = next;
            real.extend(todo.iter());
            return Resolved { real, exists: false, first_link };
        };
        if !meta.file_type().is_symlink() {
            if !meta.is_dir() && !todo.is_empty() {
                real = next;
                real.extend(todo.iter());
                return Resolved { real, exists: false, first_link };
            }
            real = next;
            continue;
        }
        links += 1;
        let Ok(target) = std::fs::read_link(&on_host) else {
            return Resolved { real: next, exists: false, first_link };
        };
        if links > MAX_LINKS {
            return Resolved { real: next, exists: false, first_link };
        }
        first_link.get_or_insert_with(|| (next.clone(), target.clone()));
        if target.is_absolute() {
            real = PathBuf::from("/");
        }
        for p in parts(&target).into_iter().rev() {
            todo.push_front(p);
        }
    }
    Resolved { real, exists: true, first_link }
}

/// The names of a path, `.` dropped, `..` kept.
fn parts(path: &Path) -> VecDeque<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_links_inside_the_root() {
        let root = std::env::temp_dir().join(format!("procjail-inroot-{}", std::process::id()));
        std::fs::create_dir_all(root.join("usr/bin")).unwrap();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("usr/bin/busybox"), "").unwrap();
        std::os::unix::fs::symlink("/usr/bin", root.join("bin")).unwrap();
        std::os::unix::fs::symlink("../../etc", root.join("usr/bin/up")).unwrap();
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        let r = resolve(&root, Path::new("/bin/busybox"));
        assert_eq!((r.real.as_path(), r.exists), (Path::new("/usr/bin/busybox"), true));
        assert_eq!(r.first_link, Some((PathBuf::from("/bin"), PathBuf::from("/usr/bin"))));
        // `..` stops at the top of the rootfs, as RESOLVE_IN_ROOT does.
        let r = resolve(&root, Path::new("/bin/up/../../../x"));
        assert_eq!((r.real.as_path(), r.exists), (Path::new("/x"), false));
        assert!(!resolve(&root, Path::new("/loop")).exists);
        assert!(!resolve(&root, Path::new("/usr/bin/busybox/x")).exists);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
