//! Seccomp: a profile (the docker/OCI JSON format, or procjail's default in that format) made
//! into a filter for the jail's capabilities and this architecture, and compiled to the classic
//! BPF program the kernel loads, all while planning: no syscalls. The plan carries the program's
//! bytes; `up` and `exec` load exactly those.

mod bpf;
mod default_program;
mod profile;

pub use bpf::{Insn, Program, compile, eval};
pub use profile::{ProfileError, parse};

use std::collections::BTreeMap;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What the filter answers a syscall with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    Allow,
    /// Fails with this errno.
    Errno(u16),
    KillProcess,
    KillThread,
    /// SIGSYS to the thread.
    Trap,
    /// Allowed, and logged.
    Log,
    /// To a ptrace tracer (ENOSYS without one).
    Trace(u16),
}

impl Action {
    /// The SECCOMP_RET_* value of the action.
    pub fn ret(self) -> u32 {
        match self {
            Action::KillProcess => 0x8000_0000,
            Action::KillThread => 0x0000_0000,
            Action::Trap => 0x0003_0000,
            Action::Errno(e) => 0x0005_0000 | u32::from(e),
            Action::Trace(m) => 0x7ff0_0000 | u32::from(m),
            Action::Log => 0x7ffc_0000,
            Action::Allow => 0x7fff_0000,
        }
    }

    pub fn show(self) -> String {
        match self {
            Action::Allow => "ALLOW".into(),
            Action::Errno(e) => {
                let name = nix::errno::Errno::from_raw(i32::from(e));
                format!("ERRNO({name:?})")
            }
            Action::KillProcess => "KILL_PROCESS".into(),
            Action::KillThread => "KILL_THREAD".into(),
            Action::Trap => "TRAP".into(),
            Action::Log => "LOG".into(),
            Action::Trace(m) => format!("TRACE({m})"),
        }
    }
}

/// How an argument is compared (64 bits, unsigned).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `(arg & mask) == value`.
    MaskedEq(u64),
}

/// One condition on an argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cond {
    pub arg: u8,
    pub cmp: Cmp,
    pub value: u64,
}

/// An action, taken when every condition holds (none: always).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub action: Action,
    pub conds: Vec<Cond>,
}

/// The filter of one architecture: each syscall's rules in order (the first that holds wins),
/// the default for the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub default: Action,
    pub syscalls: BTreeMap<u32, (&'static str, Vec<Rule>)>,
    /// Names in the profile this architecture does not have (skipped, as docker skips them).
    pub unknown: Vec<String>,
}

/// The architecture procjail runs on, as seccomp_data.arch names it.
pub const AUDIT_ARCH: u32 = if cfg!(target_arch = "aarch64") { 0xC000_00B7 } else { 0xC000_003E };
/// Its name, as the plan prints it.
pub const ARCH: &str = if cfg!(target_arch = "aarch64") { "aarch64" } else { "x86_64" };

/// The number of a syscall on this architecture.
pub fn number(name: &str) -> Option<u32> {
    syscalls::Sysno::from_str(name).ok().map(|s| s.id() as u32)
}

/// The name of a syscall number on this architecture.
pub fn name(nr: u32) -> Option<&'static str> {
    syscalls::Sysno::new(nr as usize).map(|s| s.name())
}

/// procjail's default profile (docker's semantics), in the docker/OCI JSON format.
pub const DEFAULT_PROFILE: &str = include_str!("default.json");

/// The default profile, for a jail that keeps `caps`, on a kernel of this version.
pub fn default_filter(caps: u64, kernel: (u32, u32)) -> Filter {
    parse(DEFAULT_PROFILE).expect("the default profile parses").filter(caps, kernel)
}

/// The default profile's program for the default capabilities, compiled ahead
/// (`default_program.rs`, which a test keeps equal to what [`compile`] makes now): parsing,
/// filtering and compiling it took 0.12 to 0.2 ms of every start. The profile has no
/// `minKernel`, so the kernel does not change it. None for other capabilities or another
/// architecture: compile those.
pub fn default_program(caps: u64) -> Option<Program> {
    use default_program as d;
    (cfg!(target_arch = "x86_64") && caps == d::CAPS).then(|| Program {
        arch: ARCH.to_string(),
        bytes: d::BYTES.to_string(),
        insns: d::INSNS,
        sha256: d::SHA256.to_string(),
        summary: d::SUMMARY.to_string(),
    })
}

/// Where a jail's seccomp rules come from: the profile's text and what it was filtered for. The
/// filter itself is made again only when asked (`export oci` writes it as the bundle's
/// profile); `up` needs just the program.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    pub profile: std::borrow::Cow<'static, str>,
    pub caps: u64,
    pub kernel: (u32, u32),
}

impl Rules {
    /// The rules for this jail (the profile was parsed when the jail file was checked).
    pub fn filter(&self) -> Filter {
        parse(&self.profile).expect("checked when the jail file was read").filter(self.caps, self.kernel)
    }
}

impl Cond {
    fn holds(&self, args: &[u64; 6]) -> bool {
        let a = args[usize::from(self.arg)];
        match self.cmp {
            Cmp::Eq => a == self.value,
            Cmp::Ne => a != self.value,
            Cmp::Lt => a < self.value,
            Cmp::Le => a <= self.value,
            Cmp::Gt => a > self.value,
            Cmp::Ge => a >= self.value,
            Cmp::MaskedEq(m) => a & m == self.value,
        }
    }
}

impl Filter {
    /// What the filter answers, read straight from its rules: the meaning the compiled program
    /// must have (the tests hold [`compile`] to it).
    pub fn decide(&self, nr: u32, args: [u64; 6]) -> Action {
        let Some((_, rules)) = self.syscalls.get(&nr) else { return self.default };
        rules.iter().find(|r| r.conds.iter().all(|c| c.holds(&args))).map_or(self.default, |r| r.action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::caps;

    fn run(p: &Program, nr: &str, args: [u64; 6]) -> u32 {
        eval(&p.code(), AUDIT_ARCH, number(nr).unwrap(), args)
    }

    /// default_program.rs is what the compiler makes of the default profile for the default
    /// capabilities, on any kernel; `PROCJAIL_BLESS=1 cargo test --lib` writes it again.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn the_compiled_default_program_is_fresh() {
        let caps = crate::host::caps::set(crate::host::caps::DEFAULT);
        let made = compile(&default_filter(caps, (3, 10))).unwrap();
        assert_eq!(made, compile(&default_filter(caps, (99, 0))).unwrap(), "the kernel changes it");
        let text = format!(
            "//! The default profile (default.json) compiled for the default capabilities on x86_64: what\n\
             //! `seccomp::default_program` hands out without compiling. Written by the test\n\
             //! `the_compiled_default_program_is_fresh` (`PROCJAIL_BLESS=1 cargo test --lib`), which fails\n\
             //! while it differs from what `compile` makes now.\n\n\
             pub const CAPS: u64 = {caps:#x};\n\
             pub const INSNS: usize = {};\n\
             pub const SHA256: &str = \"{}\";\n\
             pub const SUMMARY: &str = {:?};\n\
             pub const BYTES: &str = \"{}\";\n",
            made.insns, made.sha256, made.summary, made.bytes
        );
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/seccomp/default_program.rs");
        if std::env::var_os("PROCJAIL_BLESS").is_some() {
            std::fs::write(path, &text).unwrap();
        }
        assert_eq!(std::fs::read_to_string(path).unwrap(), text, "PROCJAIL_BLESS=1 to write it again");
        assert_eq!(default_program(caps), Some(made));
        assert_eq!(default_program(caps & !crate::host::caps::bit("CAP_CHOWN")), None);
    }

    #[test]
    fn the_default_profile_allows_the_usual_and_refuses_the_rest() {
        let f = default_filter(caps::set(caps::DEFAULT), (6, 18));
        let p = compile(&f).unwrap();
        let eperm = Action::Errno(1).ret();
        assert_eq!(run(&p, "read", [0; 6]), Action::Allow.ret());
        assert_eq!(run(&p, "mount", [0; 6]), eperm);
        assert_eq!(run(&p, "keyctl", [0; 6]), eperm);
        assert_eq!(run(&p, "io_uring_setup", [0; 6]), eperm);
        assert_eq!(run(&p, "clone3", [0; 6]), Action::Errno(38).ret());
        assert_eq!(run(&p, "clone", [0x11, 0, 0, 0, 0, 0]), Action::Allow.ret());
        assert_eq!(run(&p, "clone", [0x1000_0000 | 0x11, 0, 0, 0, 0, 0]), eperm);
        assert_eq!(run(&p, "socket", [2, 1, 0, 0, 0, 0]), Action::Allow.ret());
        assert_eq!(run(&p, "socket", [40, 1, 0, 0, 0, 0]), eperm);
        assert_eq!(run(&p, "socket", [38 | (1 << 32), 1, 0, 0, 0, 0]), Action::Allow.ret());
        assert_eq!(run(&p, "personality", [0xffff_ffff, 0, 0, 0, 0, 0]), Action::Allow.ret());
        assert_eq!(run(&p, "personality", [0x0040000, 0, 0, 0, 0, 0]), eperm);
        assert_eq!(run(&p, "chroot", [0; 6]), Action::Allow.ret(), "CAP_SYS_CHROOT is kept");
        // Another architecture, and x32 numbers.
        assert_eq!(eval(&p.code(), 0x4000_0003, 3, [0; 6]), Action::KillProcess.ret());
        assert_eq!(eval(&p.code(), AUDIT_ARCH, 0x4000_0000 | 39, [0; 6]), eperm);
        // CAP_SYS_ADMIN opens the mount family and every clone.
        let admin = default_filter(caps::set(caps::DEFAULT) | caps::bit("CAP_SYS_ADMIN"), (6, 18));
        let p = compile(&admin).unwrap();
        assert_eq!(run(&p, "mount", [0; 6]), Action::Allow.ret());
        assert_eq!(run(&p, "clone3", [0; 6]), Action::Allow.ret());
        assert!(p.summary.starts_with("default ERRNO(EPERM); allow "), "{}", p.summary);
    }

    #[test]
    fn the_program_means_what_the_rules_say() {
        // Every syscall number, with arguments around each rule's values.
        let mut rng = 0x1234_5678_9abc_def0u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for caps_kept in [caps::set(caps::DEFAULT), caps::all(40), 0] {
            let f = default_filter(caps_kept, (6, 18));
            let code = compile(&f).unwrap().code();
            // Every number a syscall has, those past the last, and x32's (bit 30 set).
            for nr in (0..600u32).chain([1000, 0x3fff_ffff, 0x4000_0000, 0x4000_0005, u32::MAX]) {
                let mut samples = vec![[0u64; 6]];
                if let Some((_, rules)) = f.syscalls.get(&nr) {
                    for c in rules.iter().flat_map(|r| &r.conds) {
                        for v in [
                            c.value,
                            c.value.wrapping_add(1),
                            c.value.wrapping_sub(1),
                            c.value | 1 << 40,
                            next(),
                        ] {
                            let mut a = [next(), next(), next(), next(), next(), next()];
                            a[usize::from(c.arg)] = v;
                            samples.push(a);
                        }
                    }
                }
                for a in samples {
                    assert_eq!(eval(&code, AUDIT_ARCH, nr, a), f.decide(nr, a).ret(), "nr {nr} args {a:x?}");
                }
            }
        }
    }

    #[test]
    fn comparisons_work_on_64_bits() {
        for cmp in [Cmp::Eq, Cmp::Ne, Cmp::Lt, Cmp::Le, Cmp::Gt, Cmp::Ge, Cmp::MaskedEq(0xff00_0000_00ff)] {
            let v = 0x1_0000_0010u64;
            let f = Filter {
                default: Action::Errno(1),
                syscalls: [(
                    0,
                    (
                        "read",
                        vec![Rule { action: Action::Allow, conds: vec![Cond { arg: 2, cmp, value: v }] }],
                    ),
                )]
                .into_iter()
                .collect(),
                unknown: vec![],
            };
            let code = compile(&f).unwrap().code();
            for a in [0, v, v - 1, v + 1, 0x10, 0x2_0000_0000, u64::MAX, 0xff00_0000_0010, 0x1000_0000_0010] {
                let args = [0, 0, a, 0, 0, 0];
                assert_eq!(eval(&code, AUDIT_ARCH, 0, args), f.decide(0, args).ret(), "{cmp:?} {a:#x}");
            }
        }
    }
}
