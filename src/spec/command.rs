//! Validation of the hostname, the command and its environment.

use std::path::{Path, PathBuf};

use super::{DEFAULT_PATH, Namespaces, Origin, Validator, hostname_problem, normalize};
use crate::config::JailFile;
use crate::diag::Diag;

impl Validator<'_> {
    pub(super) fn hostname(&mut self, f: &JailFile, ns: &Namespaces, name: &str) -> Option<(String, Origin)> {
        let Some(h) = &f.hostname else {
            return (ns.uts && hostname_problem(name).is_none()).then(|| (name.to_string(), Origin::Default));
        };
        if let Some(problem) = hostname_problem(&h.value) {
            self.err(
                Diag::new(h.span.clone(), "hostname", problem)
                    .accepted("1 to 64 bytes of letters, digits and '-', in dot-separated labels that do not start or end with '-'")
                    .hint("e.g. hostname = \"web-1\""),
            );
        }
        if !ns.uts {
            self.err(
                Diag::new(h.span.clone(), "hostname", "a hostname needs the uts namespace, which is off")
                    .accepted("no hostname when namespaces.uts = false")
                    .hint(
                        "turn namespaces.uts on, or remove hostname: without it the host's name would change",
                    ),
            );
        }
        Some((h.value.clone(), self.origin(h, "hostname")))
    }

    pub(super) fn command(&mut self, f: &JailFile) -> (Vec<String>, Vec<(String, String)>, PathBuf, Origin) {
        let Some(c) = &f.command else {
            return (Vec::new(), Vec::new(), PathBuf::from("/"), Origin::Default);
        };
        let origin = self.origin(&c.argv, "[command]");
        let argv = &c.argv;
        if argv.value.is_empty() {
            self.err(
                Diag::new(argv.span.clone(), "command.argv", "argv is empty")
                    .accepted("at least the program: [\"/bin/sh\", ...]")
                    .hint("e.g. argv = [\"/bin/sh\", \"-c\", \"echo hello\"]"),
            );
        } else if argv.value[0].is_empty() {
            self.err(
                Diag::new(argv.span.clone(), "command.argv", "argv[0], the program, is empty")
                    .accepted("a path in the rootfs or a name looked up in PATH"),
            );
        }
        for (i, a) in argv.value.iter().enumerate() {
            if a.contains('\0') {
                self.err(
                    Diag::new(
                        argv.span.clone(),
                        format!("command.argv[{i}]"),
                        "has a NUL byte, which execve cannot pass",
                    )
                    .accepted("strings without \\u0000"),
                );
            }
        }
        let mut env = Vec::new();
        match &c.env {
            None => env.push(("PATH".to_string(), DEFAULT_PATH.to_string())),
            Some(e) => {
                for (k, v) in &e.value {
                    let problem = if k.is_empty() {
                        Some("an environment name cannot be empty".to_string())
                    } else if k.contains('=') {
                        Some(format!("the name \"{k}\" has '=', which ends a name in the environment"))
                    } else if k.contains('\0') || v.contains('\0') {
                        Some(format!("{k} has a NUL byte, which execve cannot pass"))
                    } else {
                        None
                    };
                    if let Some(message) = problem {
                        self.err(
                            Diag::new(e.span.clone(), format!("command.env.{k}"), message)
                                .accepted("names without '=' or NUL, values without NUL"),
                        );
                    }
                    env.push((k.clone(), v.clone()));
                }
            }
        }
        let cwd = match &c.cwd {
            None => PathBuf::from("/"),
            Some(cwd) if Path::new(&cwd.value).is_absolute() && !cwd.value.contains('\0') => {
                normalize(Path::new(&cwd.value))
            }
            Some(cwd) => {
                self.err(
                    Diag::new(
                        cwd.span.clone(),
                        "command.cwd",
                        format!("\"{}\" is not an absolute path", cwd.value),
                    )
                    .accepted("an absolute path in the jail, like \"/\"")
                    .hint(format!("write \"/{}\"", cwd.value)),
                );
                PathBuf::from("/")
            }
        };
        (argv.value.clone(), env, cwd, origin)
    }
}
