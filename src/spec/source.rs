//! Reading a jail file: its size, its encoding, and errors that say which byte is wrong.

use std::io::Read as _;
use std::path::Path;

use crate::diag::{Diag, FileDiags};

/// The largest jail file procjail reads: a jail is a page of settings, and a file this big is a
/// mistake (a rootfs image given as the jail file, say) that should not eat the machine.
pub const MAX_FILE: u64 = 16 << 20;

/// A jail file's text: UTF-8 (an invalid byte is placed at its line and column), without a
/// byte-order mark (which would shift the first line's columns).
pub(super) fn read(path: &Path) -> Result<String, FileDiags> {
    let fail = |text: String, span: std::ops::Range<usize>, msg: String, hint: &str| FileDiags {
        path: path.to_path_buf(),
        source_text: text,
        diags: vec![Diag::new(span, "file", msg).hint(hint)],
    };
    let cannot = |e: std::io::Error| {
        let msg = format!("cannot read {}: {}", path.display(), io_words(&e));
        fail(String::new(), 0..0, msg, "check the path")
    };
    let too_big = |len: u64| {
        let msg =
            format!("{} is {len} bytes or more; a jail file may have at most {MAX_FILE}", path.display());
        fail(String::new(), 0..0, msg, "is this the jail file? (a rootfs image, a log?)")
    };
    let mut bytes = Vec::new();
    if path == Path::new("-") {
        // `-`: the jail file is standard input (paths in it are relative to the current folder).
        std::io::stdin().lock().take(MAX_FILE + 1).read_to_end(&mut bytes).map_err(cannot)?;
    } else {
        // Opened first, then asked its size: the size is that of the file read.
        let file = std::fs::File::open(path).map_err(cannot)?;
        let meta = file.metadata().map_err(cannot)?;
        if meta.is_dir() {
            let hint = format!("give the jail files in it: {}/*.toml", path.display());
            let msg = format!("{} is a folder, not a jail file", path.display());
            return Err(fail(String::new(), 0..0, msg, &hint));
        }
        if meta.len() > MAX_FILE {
            return Err(too_big(meta.len()));
        }
        // One read of the whole file, one more to see its end.
        bytes.reserve_exact(meta.len() as usize + 1);
        file.take(MAX_FILE + 1).read_to_end(&mut bytes).map_err(cannot)?;
    }
    if bytes.len() as u64 > MAX_FILE {
        return Err(too_big(bytes.len() as u64));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes).to_vec();
    match String::from_utf8(bytes) {
        Ok(t) => Ok(t),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
            // In the lossy text every bad byte is U+FFFD: the same offset up to the first one.
            let msg = format!("the byte {:#04x} is not UTF-8", e.as_bytes()[at]);
            Err(fail(text, at..at + 3, msg, "a jail file is UTF-8 text: save it as UTF-8"))
        }
    }
}

/// An I/O error in words, without Rust's "(os error N)".
fn io_words(e: &std::io::Error) -> String {
    let s = e.to_string();
    s.split(" (os error").next().unwrap_or(&s).to_string()
}
