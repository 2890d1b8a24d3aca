//! `procjail import oci` and `procjail export oci`: OCI runtime bundles in and out.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::diag::FileDiags;
use crate::host::Host;
use crate::oci::{self, InitChoice};
use crate::spec;

/// The formats of `import` and `export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An OCI runtime bundle: config.json and a rootfs (runc, crun, containerd, podman).
    Oci,
}

/// `import oci BUNDLE [-o FILE] [--lossy]`.
pub fn import(bundle: &Path, out: Option<&Path>, lossy: bool) -> anyhow::Result<i32> {
    let imported = oci::import(bundle, out)?;
    if !imported.refused.is_empty() {
        let list: Vec<String> =
            imported.refused.iter().map(|n| format!("  {} = {}: {}", n.pointer, n.value, n.why)).collect();
        if !lossy {
            bail!(
                "config.json has security settings a jail file cannot carry; the jail would be weaker than the container:\n{}\n(--lossy imports it anyway, with them listed at the end of the file)",
                list.join("\n")
            );
        }
        eprintln!("procjail: --lossy: the jail is weaker than the container without:\n{}", list.join("\n"));
    }
    let file = match out {
        Some(o) => o.to_path_buf(),
        None => std::env::current_dir()?.join("imported.toml"),
    };
    let mut text = imported.toml.clone();
    let profile = match &imported.seccomp {
        Some(p) => {
            let Some(o) = out else {
                bail!(
                    "config.json has linux.seccomp, which is written as a profile file beside the jail file: give -o FILE"
                );
            };
            let name = format!("{}.seccomp.json", o.file_stem().unwrap_or_default().to_string_lossy());
            text = text.replace("SECCOMP_FILE", &crate::oci::quote(&name));
            let path = file.with_file_name(&name);
            std::fs::write(&path, p).with_context(|| format!("cannot write {}", path.display()))?;
            Some(path)
        }
        None => None,
    };
    // The jail file's own validator: what it refuses, the import refuses.
    if let Err(diags) = spec::from_str(&file, &text, &Host::detect()) {
        if let Some(p) = &profile {
            let _ = std::fs::remove_file(p);
        }
        let fd = FileDiags { path: file, source_text: text, diags };
        let color = crate::plan::print::use_color(std::io::stderr().is_terminal());
        bail!("the imported jail does not pass check:\n{}", fd.render(color));
    }
    match out {
        Some(o) => std::fs::write(o, &text).with_context(|| format!("cannot write {}", o.display()))?,
        None => print!("{text}"),
    }
    Ok(0)
}

/// `export oci FILE DIR [--init none|tini|catatonit] [--copy-rootfs]`.
pub fn export(file: &Path, dir: &Path, init: InitChoice, copy_rootfs: bool) -> anyhow::Result<i32> {
    let host = Host::detect();
    let spec = spec::load(file, &host)?;
    if spec.make_rootfs {
        bail!(
            "{} does not exist yet: run `procjail rootfs busybox {}` (or `procjail up` once) first",
            spec.rootfs.display(),
            spec.rootfs.display()
        );
    }
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        bail!("{} exists and is not empty: give a new folder", dir.display());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot make {}", dir.display()))?;
    let root = if copy_rootfs {
        copy_tree(&spec.rootfs, &dir.join("rootfs"))?;
        PathBuf::from("rootfs")
    } else {
        std::fs::canonicalize(&spec.rootfs)?
    };
    let bundle = oci::export(&spec, init, &root, host.cgroup == crate::host::CgroupKind::V2)?;
    let text = serde_json::to_string_pretty(&bundle.config)? + "\n";
    std::fs::write(dir.join("config.json"), text)?;
    for n in &bundle.notes {
        eprintln!("procjail: note: {n}");
    }
    Ok(0)
}

/// A copy of a rootfs: folders, files, symlinks, with their modes and owners.
fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::symlink_metadata(from)?;
    let t = meta.file_type();
    if t.is_symlink() {
        std::os::unix::fs::symlink(std::fs::read_link(from)?, to)?;
    } else if t.is_dir() {
        std::fs::create_dir(to).with_context(|| format!("cannot make {}", to.display()))?;
        for e in std::fs::read_dir(from)? {
            let e = e?;
            copy_tree(&e.path(), &to.join(e.file_name()))?;
        }
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    } else if t.is_file() {
        std::fs::copy(from, to).with_context(|| format!("cannot copy {}", from.display()))?;
    } else {
        bail!(
            "{} is a device, socket or fifo: --copy-rootfs copies folders, files and symlinks",
            from.display()
        );
    }
    std::os::unix::fs::lchown(to, Some(meta.uid()), Some(meta.gid()))?;
    Ok(())
}
