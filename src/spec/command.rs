//! Validation of the hostname, the command and its environment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{DEFAULT_PATH, Namespaces, Origin, Validator, hostname_problem, normalize};
use crate::config::{JailFile, Sp};
use crate::diag::Diag;
use crate::host::Host;

const PROGRAM_ACCEPTED: &str =
    "an absolute path in the jail (\"/app/run.sh\") or a bare name looked up in PATH (\"sh\")";

/// The longest single argument or `NAME=value` the kernel passes (MAX_ARG_STRLEN: 32 pages,
/// with the NUL).
const MAX_ARG_STRLEN: usize = 32 * 4096;

impl Validator<'_> {
    pub(super) fn hostname(&mut self, f: &JailFile, ns: &Namespaces, name: &str) -> Option<(String, Origin)> {
        let Some(h) = &f.hostname else {
            if !ns.uts {
                return None;
            }
            if let Some(problem) = hostname_problem(name) {
                // Not in the file: the warning is about the file as a whole (span 0..0).
                self.warn(
                    Diag::new(0..0, "hostname", format!("the jail's name \"{name}\" is not a hostname ({problem}), so none is set: the jail keeps a copy of the host's"))
                        .accepted("a hostname of letters, digits, '-' and '.'")
                        .hint(format!("set one: hostname = \"{}\"", name.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '.', "-").trim_matches('-'))),
                );
                return None;
            }
            return Some((name.to_string(), Origin::Default));
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

    pub(super) fn command(
        &mut self,
        f: &JailFile,
        host: &Host,
    ) -> (Vec<String>, Vec<(String, String)>, PathBuf, Origin) {
        let Some(c) = &f.command else {
            return (Vec::new(), Vec::new(), PathBuf::from("/"), Origin::Default);
        };
        let origin = self.origin(&c.argv, "[command]");
        let argv = &c.argv;
        self.program(argv, c.cwd.as_ref());
        let env = self.env(c.env.as_ref());
        self.arg_sizes(argv, &env, f, host);
        if let Some(t) = c.timeout.as_ref().filter(|t| t.value.0 == 0) {
            self.err(
                Diag::new(
                    t.span.clone(),
                    "command.timeout",
                    "a timeout of 0 would stop the jail before its command runs",
                )
                .accepted("a duration above 0, like \"30s\"")
                .hint("remove command.timeout for no timeout"),
            );
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

    /// argv[0], the program: there, absolute or a bare name; and no NUL in any argument.
    fn program(&mut self, argv: &Sp<Vec<String>>, cwd: Option<&Sp<String>>) {
        if argv.value.is_empty() {
            self.err(
                Diag::new(argv.span.clone(), "command.argv", "argv is empty")
                    .accepted("at least the program: [\"/bin/sh\", ...]")
                    .hint("e.g. argv = [\"/bin/sh\", \"-c\", \"echo hello\"]"),
            );
        } else if argv.value[0].is_empty() {
            self.err(
                Diag::new(argv.span.clone(), "command.argv", "argv[0], the program, is empty")
                    .accepted(PROGRAM_ACCEPTED),
            );
        } else if argv.value[0].contains('/') && !argv.value[0].starts_with('/') {
            let cwd = cwd.map_or("/", |c| c.value.as_str());
            let absolute = normalize(&Path::new("/").join(cwd).join(&argv.value[0]));
            self.err(
                Diag::new(
                    argv.span.clone(),
                    "command.argv[0]",
                    format!(
                        "\"{}\" is a relative path: execve would look for it from the jail's cwd ({cwd}), while every other path in the file is relative to the file",
                        argv.value[0]
                    ),
                )
                .accepted(PROGRAM_ACCEPTED)
                .hint(format!("write the path in the jail: \"{}\"", absolute.display())),
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
    }

    /// The environment: the file's table, or PATH alone; names and values execve can pass.
    fn env(&mut self, written: Option<&Sp<BTreeMap<String, String>>>) -> Vec<(String, String)> {
        let mut env = Vec::new();
        match written {
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
        env
    }

    /// What execve would refuse with E2BIG: one string over MAX_ARG_STRLEN, or argv and the
    /// environment together over the quarter of the stack limit the kernel gives them.
    fn arg_sizes(&mut self, argv: &Sp<Vec<String>>, env: &[(String, String)], f: &JailFile, host: &Host) {
        let strings =
            argv.value.iter().map(String::len).chain(env.iter().map(|(k, v)| k.len() + 1 + v.len()));
        for (i, len) in strings.clone().enumerate() {
            if len + 1 > MAX_ARG_STRLEN {
                let (key, span) = match i.checked_sub(argv.value.len()) {
                    None => (format!("command.argv[{i}]"), argv.span.clone()),
                    Some(e) => {
                        let span = f
                            .command
                            .as_ref()
                            .and_then(|c| c.env.as_ref())
                            .map_or(argv.span.clone(), |e| e.span.clone());
                        (format!("command.env.{}", env[e].0), span)
                    }
                };
                self.err(
                    Diag::new(
                        span,
                        key,
                        format!(
                            "is {len} bytes: execve takes at most {} in one string (MAX_ARG_STRLEN)",
                            MAX_ARG_STRLEN - 1
                        ),
                    )
                    .accepted(format!("strings of at most {} bytes", MAX_ARG_STRLEN - 1))
                    .hint("pass large data in a file (a bind mount) or on stdin"),
                );
            }
        }
        let stack = f.limits.stack.as_ref().map_or(host.stack_soft, |s| match s.value.soft {
            crate::config::Lim::Is(v) => v.0,
            crate::config::Lim::Unlimited => u64::MAX,
        });
        // fs/exec.c: a quarter of the stack limit, at most 3/4 of 8 MiB, at least 128 KiB; the
        // pointers to the strings count too.
        let limit = (stack / 4).clamp(128 << 10, 6 << 20) as usize;
        let pointers = (argv.value.len().max(1) + env.len()) * std::mem::size_of::<usize>();
        let total: usize = strings.map(|l| l + 1).sum::<usize>() + pointers;
        if total > limit {
            self.err(
                Diag::new(argv.span.clone(), "command.argv", format!("argv and env are {total} bytes: execve takes at most {limit} here (a quarter of the {} stack limit, the kernel's ARG_MAX)", crate::config::Size(stack).human()))
                    .accepted(format!("argv and env of at most {limit} bytes, with a pointer of 8 bytes each"))
                    .hint("pass large data in a file (a bind mount) or on stdin, or raise limits.stack"),
            );
        }
    }
}
