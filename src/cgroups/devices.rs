//! Which devices the jail may open or make: the devices cgroup's rules (v1), or the same rules
//! as a BPF_PROG_TYPE_CGROUP_DEVICE program (cgroup2), compiled while planning.

use crate::spec::DeviceRule;

/// The v1 devices.allow line of a rule.
pub fn v1_line(r: &DeviceRule) -> String {
    r.to_string()
}

const LDX_W: u8 = 0x61; // r_dst = *(u32 *)(r_src + off)
const MOV64_REG: u8 = 0xbf;
const MOV64_IMM: u8 = 0xb7;
const AND64_IMM: u8 = 0x57;
const RSH64_IMM: u8 = 0x77;
const JNE_IMM: u8 = 0x55;
const JEQ_IMM: u8 = 0x15;
const JA: u8 = 0x05;
const EXIT: u8 = 0x95;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> u64 {
    u64::from(code)
        | (u64::from(dst | (src << 4)) << 8)
        | ((off as u16 as u64) << 16)
        | ((imm as u32 as u64) << 32)
}

/// A program being written: instructions, jumps to labels, labels placed later.
#[derive(Default)]
struct Asm {
    code: Vec<(u64, Option<usize>)>,
    labels: Vec<usize>,
}

impl Asm {
    fn label(&mut self) -> usize {
        self.labels.push(usize::MAX);
        self.labels.len() - 1
    }

    fn here(&mut self, label: usize) {
        self.labels[label] = self.code.len();
    }

    fn op(&mut self, code: u8, dst: u8, src: u8, off: i16, imm: i32) {
        self.code.push((insn(code, dst, src, off, imm), None));
    }

    fn jump(&mut self, code: u8, dst: u8, imm: i32, to: usize) {
        self.code.push((insn(code, dst, 0, 0, imm), Some(to)));
    }

    fn finish(self) -> Vec<u64> {
        let labels = self.labels;
        let at = |i: usize, l: usize| ((labels[l] as i64 - i as i64 - 1) as i16 as u16 as u64) << 16;
        self.code.into_iter().enumerate().map(|(i, (x, to))| to.map_or(x, |l| x | at(i, l))).collect()
    }
}

/// The access bits of a rule: m 1, r 2, w 4.
fn access_bits(access: &str) -> i32 {
    access.chars().fold(0, |a, c| {
        a | match c {
            'm' => 1,
            'r' => 2,
            _ => 4,
        }
    })
}

/// The program: for the access being asked (struct bpf_cgroup_dev_ctx: access_type = access << 16
/// | type, major, minor), 1 (allowed) if a rule matches, else 0. r2 type, r3 access, r4 major,
/// r5 minor.
///
/// Written as a tree, which the verifier walks in a few dozen steps (a block of tests per rule,
/// each with its own exit, took it 143 and 0.08 to 0.12 ms of every start): the rules grouped by
/// type and access, each group's majors tested once, then their minors, every match jumping to
/// one "allow" exit. A rule that allows every device of a group ends the group (what would
/// follow is unreachable, which the verifier refuses); one that allows everything is the whole
/// program.
pub fn program(rules: &[DeviceRule]) -> Vec<u64> {
    let mut a = Asm::default();
    a.op(LDX_W, 2, 1, 0, 0);
    a.op(MOV64_REG, 3, 2, 0, 0);
    a.op(RSH64_IMM, 3, 0, 0, 16);
    a.op(AND64_IMM, 2, 0, 0, 0xffff);
    a.op(LDX_W, 4, 1, 4, 0);
    a.op(LDX_W, 5, 1, 8, 0);
    let allow = a.label();
    let groups = group(rules);
    if groups.iter().any(|g| {
        g.ty.is_none() && g.access == 7 && g.majors.iter().any(|m| m.0.is_none() && m.1.contains(&None))
    }) {
        return vec![insn(MOV64_IMM, 0, 0, 0, 1), insn(EXIT, 0, 0, 0, 0)];
    }
    for g in &groups {
        let next = a.label();
        if let Some(t) = g.ty {
            a.jump(JNE_IMM, 2, t, next);
        }
        if g.access != 7 {
            a.op(MOV64_REG, 1, 3, 0, 0);
            a.op(AND64_IMM, 1, 0, 0, !g.access & 7);
            a.jump(JNE_IMM, 1, 0, next);
        }
        for (major, minors) in &g.majors {
            let any_minor = minors.contains(&None);
            match (major, any_minor) {
                (None, true) => {
                    a.jump(JA, 0, 0, allow);
                    break;
                }
                (Some(m), true) => a.jump(JEQ_IMM, 4, *m as i32, allow),
                (_, false) => {
                    let skip = a.label();
                    if let Some(m) = major {
                        a.jump(JNE_IMM, 4, *m as i32, skip);
                    }
                    for minor in minors.iter().flatten() {
                        a.jump(JEQ_IMM, 5, *minor as i32, allow);
                    }
                    a.here(skip);
                }
            }
        }
        a.here(next);
    }
    a.op(MOV64_IMM, 0, 0, 0, 0);
    a.op(EXIT, 0, 0, 0, 0);
    a.here(allow);
    a.op(MOV64_IMM, 0, 0, 0, 1);
    a.op(EXIT, 0, 0, 0, 0);
    a.finish()
}

/// Rules of one type (None: both) and access, their majors (None: any) in the order they come,
/// each with its minors (None: any).
struct Group {
    ty: Option<i32>,
    access: i32,
    majors: Vec<(Option<u32>, Vec<Option<u32>>)>,
}

fn group(rules: &[DeviceRule]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for r in rules {
        let ty = match r.kind {
            'b' => Some(1),
            'c' => Some(2),
            _ => None,
        };
        let access = access_bits(&r.access);
        let i = match groups.iter().position(|g| g.ty == ty && g.access == access) {
            Some(i) => i,
            None => {
                groups.push(Group { ty, access, majors: Vec::new() });
                groups.len() - 1
            }
        };
        let majors = &mut groups[i].majors;
        match majors.iter_mut().find(|(m, _)| *m == r.major) {
            Some((_, minors)) => minors.push(r.minor),
            None => majors.push((r.major, vec![r.minor])),
        }
    }
    groups
}

/// The program as the plan carries it: 8 bytes an instruction, little-endian, in hex.
pub fn hex(p: &[u64]) -> String {
    let bytes: Vec<u8> = p.iter().flat_map(|i| i.to_le_bytes()).collect();
    crate::json::hex(&bytes)
}

/// What the program answers (the tests run it): 1 allowed, 0 refused.
pub fn eval(p: &[u64], kind: char, major: u32, minor: u32, access: &str) -> u64 {
    let ty = if kind == 'b' { 1u64 } else { 2 };
    let acc = access_bits(access) as u64;
    let ctx = [(acc << 16) | ty, u64::from(major), u64::from(minor)];
    let mut r = [0u64; 11];
    let mut pc = 0;
    while pc < p.len() {
        let i = p[pc];
        let (code, dst, src) = ((i & 0xff) as u8, ((i >> 8) & 0xf) as usize, ((i >> 12) & 0xf) as usize);
        let (off, imm) = ((i >> 16) as u16 as i16, (i >> 32) as u32 as i32);
        pc += 1;
        match code {
            LDX_W => r[dst] = ctx[(off / 4) as usize],
            MOV64_REG => r[dst] = r[src],
            MOV64_IMM => r[dst] = imm as i64 as u64,
            AND64_IMM => r[dst] &= imm as i64 as u64,
            RSH64_IMM => r[dst] >>= imm,
            JNE_IMM if r[dst] != imm as i64 as u64 => pc = pc.wrapping_add_signed(off.into()),
            JNE_IMM => {}
            JEQ_IMM if r[dst] == imm as i64 as u64 => pc = pc.wrapping_add_signed(off.into()),
            JEQ_IMM => {}
            JA => pc = pc.wrapping_add_signed(off.into()),
            EXIT => return r[0],
            _ => return 0,
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use crate::spec::parse_device;

    #[test]
    fn the_default_rules_allow_only_procjails_nodes() {
        let rules: Vec<_> = crate::spec::DEFAULT_DEVICES.iter().map(|r| parse_device(r).unwrap()).collect();
        let p = super::program(&rules);
        assert_eq!(super::eval(&p, 'c', 1, 3, "rw"), 1);
        assert_eq!(super::eval(&p, 'c', 136, 7, "rw"), 1);
        assert_eq!(super::eval(&p, 'c', 1, 11, "r"), 0, "/dev/kmsg");
        assert_eq!(super::eval(&p, 'b', 8, 0, "r"), 0);
        assert_eq!(super::eval(&p, 'b', 1, 3, "r"), 0, "a block device with /dev/null's numbers");
        let ro = super::program(&[parse_device("c 1:3 r").unwrap(), parse_device("b 8:* rw").unwrap()]);
        assert_eq!(super::eval(&ro, 'c', 1, 3, "r"), 1);
        assert_eq!(super::eval(&ro, 'c', 1, 3, "w"), 0);
        assert_eq!(super::eval(&ro, 'c', 1, 3, "m"), 0);
        assert_eq!(super::eval(&ro, 'b', 8, 16, "rw"), 1);
        assert_eq!(p.len(), 21, "the default rules as a tree: {}", super::hex(&p));
    }

    /// What the rules allow, read directly: the oracle the program is held to.
    fn allows(rules: &[crate::spec::DeviceRule], kind: char, major: u32, minor: u32, access: &str) -> bool {
        rules.iter().any(|r| {
            (r.kind == 'a' || r.kind == kind)
                && r.major.is_none_or(|m| m == major)
                && r.minor.is_none_or(|m| m == minor)
                && access.chars().all(|c| r.access.contains(c))
        })
    }

    #[test]
    fn the_program_answers_as_the_rules_do() {
        let sets: &[&[&str]] = &[
            crate::spec::DEFAULT_DEVICES,
            &["c 1:3 r", "b 8:* rw", "c 1:5 rwm", "c 1:3 w", "c *:7 m"],
            &["a 5:* rw", "c 136:* rwm", "b *:* r", "c 1:9 rwm"],
            &["c *:* rwm", "b 7:0 r"],
            &["a *:* rwm"],
            &[],
        ];
        for set in sets {
            let rules: Vec<_> = set.iter().map(|r| parse_device(r).unwrap()).collect();
            let p = super::program(&rules);
            for kind in ['b', 'c'] {
                for major in [0, 1, 5, 7, 8, 136, 4095] {
                    for minor in [0, 2, 3, 5, 7, 9, 16, 255] {
                        for access in ["m", "r", "w", "rw", "rm", "wm", "rwm"] {
                            let want = allows(&rules, kind, major, minor, access);
                            let got = super::eval(&p, kind, major, minor, access) == 1;
                            assert_eq!(got, want, "{set:?}: {kind} {major}:{minor} {access}");
                        }
                    }
                }
            }
        }
    }
}
