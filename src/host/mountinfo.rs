//! The one reader of `/proc/PID/mountinfo`: each line as a [`Mount`], with the kernel's octal
//! escapes (`\040` for a space, `\011`, `\012`, `\134`) decoded.

/// One line of mountinfo (proc(5)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub id: u32,
    pub parent: u32,
    /// "major:minor" of the filesystem.
    pub dev: String,
    /// The root of the mount within its filesystem.
    pub root: String,
    pub point: String,
    /// Per-mount options: rw/ro, nosuid, nodev, noexec, relatime...
    pub options: String,
    /// Optional fields: `shared:N`, `master:N`, `propagate_from:N`, `unbindable`.
    pub optional: Vec<String>,
    pub fstype: String,
    pub source: String,
    pub super_options: String,
}

impl Mount {
    /// The peer group this mount shares events with, if it is shared.
    pub fn shared(&self) -> Option<u32> {
        self.optional.iter().find_map(|o| o.strip_prefix("shared:")?.parse().ok())
    }

    /// The peer group this mount receives events from, if it is a slave.
    pub fn master(&self) -> Option<u32> {
        self.optional.iter().find_map(|o| o.strip_prefix("master:")?.parse().ok())
    }

    pub fn has_option(&self, name: &str) -> bool {
        self.options.split(',').any(|o| o == name)
    }
}

/// The mount a process reaches at `path` (absolute, without symlinks), as the kernel's lookup
/// does: from the root mount, component by component, into the first child mount whose point
/// the path crosses, and at each mount up its stack to the top. `None` where the path has no
/// mount of its own (it is inside another's). Pure: one read of mountinfo answers every path.
pub fn visible<'m>(mounts: &'m [Mount], path: &str) -> Option<&'m Mount> {
    visible_from(mounts, root(mounts)?, path)
}

/// The root of a mount table: a mount at "/" whose parent is not in the table (or is itself).
pub fn root(mounts: &[Mount]) -> Option<&Mount> {
    mounts.iter().find(|m| m.point == "/" && (m.parent == m.id || !mounts.iter().any(|p| p.id == m.parent)))
}

/// [`visible`], from the table's [`root`] found once for many paths.
pub fn visible_from<'m>(mounts: &'m [Mount], root: &'m Mount, path: &str) -> Option<&'m Mount> {
    let mut at = root;
    let crosses = |point: &str| path == point || path.strip_prefix(point).is_some_and(|r| r.starts_with('/'));
    loop {
        // Mounted on top of this one (the same point): the last listed is the top.
        if let Some(top) =
            mounts.iter().rev().find(|m| m.parent == at.id && m.id != at.id && m.point == at.point)
        {
            at = top;
            continue;
        }
        // The first mount point the rest of the path crosses.
        let next = mounts
            .iter()
            .filter(|m| m.parent == at.id && m.point != at.point && crosses(&m.point))
            .fold(None::<&Mount>, |best, m| match best {
                Some(b) if b.point.len() < m.point.len() => Some(b),
                _ => Some(m),
            });
        match next {
            Some(m) => at = m,
            None => return (at.point == path).then_some(at),
        }
    }
}

/// Parses a whole mountinfo text; a line that does not parse is left out.
pub fn parse(text: &str) -> Vec<Mount> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Mount> {
    let (left, right) = line.split_once(" - ")?;
    let mut l = left.split(' ');
    let id = l.next()?.parse().ok()?;
    let parent = l.next()?.parse().ok()?;
    let dev = l.next()?.to_string();
    let root = unescape(l.next()?);
    let point = unescape(l.next()?);
    let options = l.next()?.to_string();
    let optional = l.filter(|s| !s.is_empty()).map(String::from).collect();
    let mut r = right.split(' ');
    let fstype = r.next()?.to_string();
    let source = unescape(r.next()?);
    let super_options = r.next().unwrap_or("").to_string();
    Some(Mount { id, parent, dev, root, point, options, optional, fstype, source, super_options })
}

/// Decodes the octal escapes the kernel writes for space, tab, newline and backslash.
pub fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && let Some(n) =
                std::str::from_utf8(&bytes[i + 1..i + 4]).ok().and_then(|o| u8::from_str_radix(o, 8).ok())
        {
            out.push(n);
            i += 4;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The mount points of a mountinfo text (each line's fifth field, decoded; nothing else of it
/// is parsed: the teardown's check reads the host's table with this).
pub fn points(text: &str) -> Vec<String> {
    text.lines().filter(|l| l.contains(" - ")).filter_map(|l| l.split(' ').nth(4)).map(unescape).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn decodes_escapes_and_optional_fields() {
        let line = "36 25 0:32 / /mnt/a\\040b rw,nosuid shared:7 master:3 - tmpfs my\\134src rw,size=4k";
        let m = super::parse(line).remove(0);
        assert_eq!((m.id, m.parent, m.point.as_str(), m.source.as_str()), (36, 25, "/mnt/a b", "my\\src"));
        assert_eq!((m.shared(), m.master()), (Some(7), Some(3)));
        assert!(m.has_option("nosuid") && !m.has_option("ro"));
        assert_eq!(m.fstype, "tmpfs");
        assert_eq!(super::unescape("a\\011b\\012"), "a\tb\n");
        assert_eq!(super::unescape("end\\04"), "end\\04");
        let text = format!("{line}\nnot a mountinfo line\n37 25 0:33 / / rw - ext4 /dev/vda rw\n");
        assert_eq!(super::points(&text), ["/mnt/a b", "/"]);
    }

    #[test]
    fn the_visible_mount_at_a_path() {
        // A jail after pivot_root: its root (parent 900 is gone), /proc with a mask bound over
        // /proc/kcore, /dev with /dev/shm, then a second tmpfs over /dev that hides /dev/shm,
        // and a tmpfs stacked on /tmp twice.
        let text = "\
100 900 8:1 /rootfs / ro - ext4 /dev/sda1 rw
101 100 0:5 / /proc rw - proc proc rw
102 101 0:6 /null /proc/kcore ro - devtmpfs udev rw
103 100 0:7 / /dev rw - tmpfs tmpfs rw
104 103 0:8 / /dev/shm rw - tmpfs shm rw
105 100 0:9 / /tmp rw - tmpfs t1 rw
106 105 0:10 / /tmp rw - tmpfs t2 rw
107 103 0:11 / /dev rw - tmpfs over rw
108 100 0:12 / /proc/sys ro - proc proc rw";
        let m = super::parse(text);
        let at = |p: &str| super::visible(&m, p).map(|m| m.id);
        assert_eq!(at("/"), Some(100));
        assert_eq!(at("/proc"), Some(101));
        assert_eq!(at("/proc/kcore"), Some(102));
        assert_eq!(at("/proc/kcor"), None);
        assert_eq!(at("/tmp"), Some(106), "the top of the stack");
        assert_eq!(at("/dev"), Some(107));
        assert_eq!(at("/dev/shm"), None, "hidden under the second /dev");
        assert_eq!(at("/proc/sys"), None, "mounted on / at /proc/sys, under /proc: not reached");
        assert_eq!(at("/etc"), None);
    }
}
