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

/// The mount points of a mountinfo text.
pub fn points(text: &str) -> Vec<String> {
    parse(text).into_iter().map(|m| m.point).collect()
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
    }
}
