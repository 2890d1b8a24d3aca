//! OCI runtime bundles: `procjail import oci` reads a config.json into a jail file, and
//! `procjail export oci` writes a jail as a bundle that runc and crun run. Both are built on the
//! same facts: the validated spec on the way out, the jail file's own loader on the way in.

mod doc;
mod export;
mod export_seccomp;
mod import;
mod import_linux;
mod import_mounts;
mod import_process;

pub use doc::BadInput;
pub use doc::q as quote;
pub use export::{Bundle, InitChoice, export};
pub use export_seccomp::profile as seccomp_profile;
pub use import::import;

/// OCI's namespace types and procjail's `[namespaces]` keys (None: no place in a jail file yet),
/// in the order of runc's default spec: what import reads and export writes.
const NAMESPACE_TYPES: &[(&str, Option<&str>)] = &[
    ("pid", Some("pid")),
    ("network", Some("net")),
    ("ipc", Some("ipc")),
    ("uts", Some("uts")),
    ("mount", Some("mount")),
    ("cgroup", Some("cgroup")),
    ("user", Some("user")),
    ("time", None),
];

/// A key of config.json that the jail file does not carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotCarried {
    /// Its JSON pointer ("/process/capabilities").
    pub pointer: String,
    /// Its value, shortened.
    pub value: String,
    pub why: String,
    /// Leaving it out makes the jail weaker than the container.
    pub security: bool,
}

/// What `import` made: the jail file's text (with `SECCOMP_FILE` where the profile's file name
/// goes), the profile to write beside it, and the security keys it could not carry.
#[derive(Debug, Clone)]
pub struct Imported {
    pub toml: String,
    pub seccomp: Option<String>,
    pub refused: Vec<NotCarried>,
}
