//! Warnings: what is legal but likely wrong, looked up in a rootfs that exists already (a rootfs
//! made from busybox at `up` is not there to look in yet).

use std::path::Path;

use super::inroot::resolve;
use super::{Validator, normalize};
use crate::config::JailFile;
use crate::diag::Diag;

impl Validator<'_> {
    /// argv[0] and cwd missing from the rootfs, and mount targets that go through a symlink.
    pub(super) fn rootfs_warnings(
        &mut self,
        f: &JailFile,
        root: &Path,
        argv: &[String],
        env: &[(String, String)],
        cwd: &Path,
    ) {
        if let Some(c) = &f.command {
            if let Some(program) = argv.first().filter(|p| !p.is_empty() && !self.has_error("command.argv")) {
                self.program_warning(program, root, env, &c.argv.span);
            }
            if let Some(sp) = c.cwd.as_ref().filter(|_| !self.has_error("command.cwd")) {
                let r = resolve(root, cwd);
                if !r.exists {
                    self.warn(
                        Diag::new(
                            sp.span.clone(),
                            "command.cwd",
                            format!(
                                "{} is not in the rootfs {}: `up` will fail at the chdir",
                                cwd.display(),
                                root.display()
                            ),
                        )
                        .accepted("a folder that exists in the rootfs")
                        .hint("make the folder in the rootfs, or mount something there"),
                    );
                }
            }
        }
        for (i, written) in f.mounts.iter().enumerate() {
            let target = normalize(Path::new(&written.target.value));
            if !target.is_absolute() {
                continue;
            }
            let r = resolve(root, &target);
            if let Some((link, to)) = r.first_link.filter(|_| r.real != target) {
                self.warn(
                    Diag::new(
                        written.target.span.clone(),
                        format!("mounts[{}].target", i + 1),
                        format!(
                            "{} goes through the symlink {} → {} in the rootfs: the mount lands on {}",
                            target.display(),
                            link.display(),
                            to.display(),
                            r.real.display()
                        ),
                    )
                    .accepted("a target without symlinks on the way")
                    .hint(format!("write target = \"{}\" to say where it lands", r.real.display())),
                );
            }
        }
    }

    /// argv[0]: a path that must exist, or a name that must be in one of PATH's folders.
    fn program_warning(
        &mut self,
        program: &str,
        root: &Path,
        env: &[(String, String)],
        span: &std::ops::Range<usize>,
    ) {
        let found = if program.starts_with('/') {
            resolve(root, Path::new(program)).exists
        } else {
            let path = env.iter().find(|(k, _)| k == "PATH").map_or("", |(_, v)| v.as_str());
            path.split(':')
                .filter(|d| d.starts_with('/'))
                .any(|d| resolve(root, &Path::new(d).join(program)).exists)
        };
        if !found {
            let where_ = if program.starts_with('/') {
                "is not in the rootfs".to_string()
            } else {
                "is in none of PATH's folders in the rootfs".to_string()
            };
            self.warn(
                Diag::new(
                    span.clone(),
                    "command.argv[0]",
                    format!("{program} {where_} {}: `up` will exit 127", root.display()),
                )
                .accepted("a program that exists in the rootfs")
                .hint("put it in the rootfs, bind-mount it in, or fix the name"),
            );
        }
    }
}
