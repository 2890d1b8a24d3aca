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
const EXIT: u8 = 0x95;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> u64 {
    u64::from(code)
        | (u64::from(dst | (src << 4)) << 8)
        | ((off as u16 as u64) << 16)
        | ((imm as u32 as u64) << 32)
}

/// The program: for the access being asked (struct bpf_cgroup_dev_ctx: access_type = access << 16
/// | type, major, minor), 1 (allowed) if a rule matches, else 0. r2 type, r3 access, r4 major,
/// r5 minor.
pub fn program(rules: &[DeviceRule]) -> Vec<u64> {
    let mut p = vec![
        insn(LDX_W, 2, 1, 0, 0),
        insn(MOV64_REG, 3, 2, 0, 0),
        insn(RSH64_IMM, 3, 0, 0, 16),
        insn(AND64_IMM, 2, 0, 0, 0xffff),
        insn(LDX_W, 4, 1, 4, 0),
        insn(LDX_W, 5, 1, 8, 0),
    ];
    for r in rules {
        let mut block = Vec::new();
        let ty = match r.kind {
            'b' => Some(1),
            'c' => Some(2),
            _ => None,
        };
        let access = r.access.chars().fold(0, |a, c| {
            a | match c {
                'm' => 1,
                'r' => 2,
                _ => 4,
            }
        });
        // Each test skips the rest of this rule's block when it fails: the offsets are filled
        // in below, once the block's length is known.
        if let Some(t) = ty {
            block.push((JNE_IMM, 2, t));
        }
        if let Some(m) = r.major {
            block.push((JNE_IMM, 4, m as i32));
        }
        if let Some(m) = r.minor {
            block.push((JNE_IMM, 5, m as i32));
        }
        let mut code: Vec<(u8, u8, u8, i32, bool)> =
            block.into_iter().map(|(c, d, imm)| (c, d, 0, imm, true)).collect();
        if access != 7 {
            code.push((MOV64_REG, 1, 3, 0, false));
            code.push((AND64_IMM, 1, 0, !access & 7, false));
            code.push((JNE_IMM, 1, 0, 0, true));
        }
        code.push((MOV64_IMM, 0, 0, 1, false));
        code.push((EXIT, 0, 0, 0, false));
        let n = code.len();
        for (i, (c, d, s, imm, jumps)) in code.into_iter().enumerate() {
            let off = if jumps { (n - i - 1) as i16 } else { 0 };
            p.push(insn(c, d, s, off, imm));
        }
    }
    p.push(insn(MOV64_IMM, 0, 0, 0, 0));
    p.push(insn(EXIT, 0, 0, 0, 0));
    p
}

/// The program as the plan carries it: 8 bytes an instruction, little-endian, in hex.
pub fn hex(p: &[u64]) -> String {
    let bytes: Vec<u8> = p.iter().flat_map(|i| i.to_le_bytes()).collect();
    crate::json::hex(&bytes)
}

/// What the program answers (the tests run it): 1 allowed, 0 refused.
pub fn eval(p: &[u64], kind: char, major: u32, minor: u32, access: &str) -> u64 {
    let ty = if kind == 'b' { 1u64 } else { 2 };
    let acc = access.chars().fold(0u64, |a, c| {
        a | match c {
            'm' => 1,
            'r' => 2,
            _ => 4,
        }
    });
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
            JNE_IMM if r[dst] != imm as i64 as u64 => pc += off as usize,
            JNE_IMM => {}
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
    }
}
