//! The filter as a classic BPF program: the architecture checked first, then a binary search
//! on the syscall number over runs of numbers that get the same answer (two instructions a
//! level, so any jump length works), each leaf returning its action or testing the arguments. Loading it costs the kernel time linear in
//! its length, which is why it is a tree and not docker's linear chain.

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use super::{ARCH, AUDIT_ARCH, Action, Cmp, Cond, Filter, Rule};

/// One instruction: struct sock_filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

const LD_W_ABS: u16 = 0x20;
const JMP_JA: u16 = 0x05;
const JMP_JEQ_K: u16 = 0x15;
const JMP_JGT_K: u16 = 0x25;
const JMP_JGE_K: u16 = 0x35;
const ALU_AND_K: u16 = 0x54;
const RET_K: u16 = 0x06;

/// Offsets in struct seccomp_data.
const NR: u32 = 0;
const ARCH_OFF: u32 = 4;
fn arg_lo(i: u8) -> u32 {
    16 + 8 * u32::from(i)
}
fn arg_hi(i: u8) -> u32 {
    20 + 8 * u32::from(i)
}

/// The compiled program, with what a person needs to know of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Program {
    pub arch: String,
    /// The instructions, 8 bytes each as the kernel takes them, in hex.
    pub bytes: String,
    pub insns: usize,
    pub sha256: String,
    /// What it does, for the plan: the default, how many are allowed, the argument rules.
    pub summary: String,
}

impl Program {
    pub fn code(&self) -> Vec<Insn> {
        let raw: Vec<u8> = (0..self.bytes.len() / 2)
            .map(|i| u8::from_str_radix(&self.bytes[2 * i..2 * i + 2], 16).unwrap_or(0))
            .collect();
        raw.chunks(8)
            .map(|c| Insn {
                code: u16::from_le_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect()
    }
}

/// A jump target while building.
#[derive(Debug, Clone, Copy)]
enum Item {
    Insn(Insn),
    /// A conditional jump: code, k, and the labels it goes to when true and false.
    Jump(u16, u32, usize, usize),
    /// An unconditional jump to a label.
    Ja(usize),
    Label(usize),
}

struct Builder {
    items: Vec<Item>,
    labels: usize,
}

impl Builder {
    fn label(&mut self) -> usize {
        self.labels += 1;
        self.labels
    }
    fn ins(&mut self, code: u16, k: u32) {
        self.items.push(Item::Insn(Insn { code, jt: 0, jf: 0, k }));
    }
    fn ret(&mut self, a: Action) {
        self.ins(RET_K, a.ret());
    }
    fn at(&mut self, l: usize) {
        self.items.push(Item::Label(l));
    }
}

/// Compiles a filter for this architecture.
pub fn compile(f: &Filter) -> Result<Program, String> {
    let mut b = Builder { items: Vec::new(), labels: 0 };
    // Another architecture (a 32-bit binary's int 0x80): its numbers mean other calls, so the
    // process is killed, as seccompiler and Firecracker do.
    b.ins(LD_W_ABS, ARCH_OFF);
    let native = b.label();
    let other = b.label();
    b.items.push(Item::Jump(JMP_JEQ_K, AUDIT_ARCH, native, other));
    b.at(other);
    b.ret(Action::KillProcess);
    b.at(native);
    b.ins(LD_W_ABS, NR);
    // x32 (the same arch with bit 30 set): the profile's default.
    let x32 = b.label();
    let tree = b.label();
    b.items.push(Item::Jump(JMP_JGE_K, 0x4000_0000, x32, tree));
    b.at(x32);
    b.ret(f.default);
    b.at(tree);
    let spans = intervals(f);
    let mut bodies = Vec::new();
    search(&mut b, &spans, &mut bodies);
    for (label, rules) in bodies {
        b.at(label);
        rules_body(&mut b, rules, f.default);
    }
    let insns = resolve(&b.items, b.labels)?;
    if insns.len() > 4096 {
        return Err(format!("the filter has {} instructions; the kernel takes at most 4096", insns.len()));
    }
    let mut bytes = Vec::with_capacity(insns.len() * 8);
    for i in &insns {
        bytes.extend(i.code.to_le_bytes());
        bytes.extend([i.jt, i.jf]);
        bytes.extend(i.k.to_le_bytes());
    }
    let hex = crate::json::hex(&bytes);
    let sha256 = crate::json::hex(&sha2::Sha256::digest(&bytes));
    Ok(Program { arch: ARCH.into(), bytes: hex, insns: insns.len(), sha256, summary: summary(f) })
}

/// What the filter answers for a run of syscall numbers: an action, or a syscall's rules.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Verdict<'r> {
    Ret(Action),
    Rules(&'r Vec<Rule>),
}

/// The syscall numbers from 0 up, as runs of one verdict: `(first number, verdict)`, each run
/// up to the next one's first number, the last one (the default) to the end. Neighbouring
/// numbers with the same answer share a run, so the search has a leaf per run, not per syscall:
/// docker's 300-odd allowed calls fall into a few dozen runs.
fn intervals(f: &Filter) -> Vec<(u32, Verdict<'_>)> {
    fn push<'r>(out: &mut Vec<(u32, Verdict<'r>)>, nr: u32, v: Verdict<'r>) {
        if out.last().is_none_or(|(_, last)| *last != v) {
            out.push((nr, v));
        }
    }
    let mut out = Vec::new();
    let mut next = 0u32;
    for (nr, (_, rules)) in &f.syscalls {
        if *nr > next {
            push(&mut out, next, Verdict::Ret(f.default));
        }
        let v = match rules.as_slice() {
            [only] if only.conds.is_empty() => Verdict::Ret(only.action),
            _ => Verdict::Rules(rules),
        };
        push(&mut out, *nr, v);
        next = nr + 1;
    }
    push(&mut out, next, Verdict::Ret(f.default));
    out
}

/// The binary search over the runs (two instructions a level, so any jump length works); a
/// leaf returns its action, or jumps to its syscall's rules, laid out after the tree.
fn search<'r>(b: &mut Builder, spans: &[(u32, Verdict<'r>)], bodies: &mut Vec<(usize, &'r Vec<Rule>)>) {
    if let [(_, v)] = spans {
        match v {
            Verdict::Ret(a) => b.ret(*a),
            Verdict::Rules(rules) => {
                let body = b.label();
                b.items.push(Item::Ja(body));
                bodies.push((body, rules));
            }
        }
        return;
    }
    // nr >= the middle run's first number: on to the right half, by a long jump; else the left.
    let mid = spans.len() / 2;
    let (go_right, right, left) = (b.label(), b.label(), b.label());
    b.items.push(Item::Jump(JMP_JGE_K, spans[mid].0, go_right, left));
    b.at(go_right);
    b.items.push(Item::Ja(right));
    b.at(left);
    search(b, &spans[..mid], bodies);
    b.at(right);
    search(b, &spans[mid..], bodies);
}

/// A syscall's rules in order: the first whose conditions all hold gives the action.
fn rules_body(b: &mut Builder, rules: &[Rule], default: Action) {
    for r in rules {
        let next = b.label();
        for c in &r.conds {
            cond(b, c, next);
        }
        b.ret(r.action);
        b.at(next);
    }
    b.ret(default);
}

/// Falls through when the condition holds, jumps to `fail` when it does not.
fn cond(b: &mut Builder, c: &Cond, fail: usize) {
    let (hi, lo) = ((c.value >> 32) as u32, c.value as u32);
    let ok = b.label();
    match c.cmp {
        Cmp::Eq | Cmp::Ne | Cmp::MaskedEq(_) => {
            let mask = if let Cmp::MaskedEq(m) = c.cmp { Some(((m >> 32) as u32, m as u32)) } else { None };
            let (eq, ne) = if c.cmp == Cmp::Ne { (fail, ok) } else { (ok, fail) };
            let lo_part = b.label();
            b.ins(LD_W_ABS, arg_hi(c.arg));
            if let Some((mh, _)) = mask {
                b.ins(ALU_AND_K, mh);
            }
            // High words differ: not equal.
            b.items.push(Item::Jump(JMP_JEQ_K, hi, lo_part, ne));
            b.at(lo_part);
            b.ins(LD_W_ABS, arg_lo(c.arg));
            if let Some((_, ml)) = mask {
                b.ins(ALU_AND_K, ml);
            }
            b.items.push(Item::Jump(JMP_JEQ_K, lo, eq, ne));
        }
        Cmp::Ge | Cmp::Gt | Cmp::Lt | Cmp::Le => {
            // a >= v (or a > v) on 64 bits: compare the high words, then the low ones.
            let strict = matches!(c.cmp, Cmp::Gt | Cmp::Le);
            let (yes, no) = if matches!(c.cmp, Cmp::Ge | Cmp::Gt) { (ok, fail) } else { (fail, ok) };
            let (eq_hi, lo_part) = (b.label(), b.label());
            b.ins(LD_W_ABS, arg_hi(c.arg));
            b.items.push(Item::Jump(JMP_JGT_K, hi, yes, eq_hi));
            b.at(eq_hi);
            b.items.push(Item::Jump(JMP_JEQ_K, hi, lo_part, no));
            b.at(lo_part);
            b.ins(LD_W_ABS, arg_lo(c.arg));
            b.items.push(Item::Jump(if strict { JMP_JGT_K } else { JMP_JGE_K }, lo, yes, no));
        }
    }
    b.at(ok);
}

/// Labels to offsets. A conditional jump reaches at most 255 instructions ahead; the search
/// and the bodies are laid out so that it never needs more.
fn resolve(items: &[Item], labels: usize) -> Result<Vec<Insn>, String> {
    // Labels are numbered from 1 as they are made: a label's offset is at[label].
    let mut at = vec![usize::MAX; labels + 1];
    let mut pc = 0usize;
    for it in items {
        match it {
            Item::Label(l) => at[*l] = pc,
            _ => pc += 1,
        }
    }
    let mut out = Vec::with_capacity(pc);
    for it in items {
        let here = out.len();
        let off = |l: &usize| -> Result<usize, String> {
            let to = at[*l];
            to.checked_sub(here + 1).ok_or_else(|| "a backward jump".to_string())
        };
        match it {
            Item::Label(_) => {}
            Item::Insn(i) => out.push(*i),
            Item::Ja(l) => out.push(Insn { code: JMP_JA, jt: 0, jf: 0, k: off(l)? as u32 }),
            Item::Jump(code, k, t, f) => {
                let (jt, jf) = (off(t)?, off(f)?);
                if jt > 255 || jf > 255 {
                    return Err(format!(
                        "a rule of the profile is too long for a BPF jump ({} instructions)",
                        jt.max(jf)
                    ));
                }
                out.push(Insn { code: *code, jt: jt as u8, jf: jf as u8, k: *k });
            }
        }
    }
    Ok(out)
}

/// `default ERRNO(EPERM); allow 296; clone if arg0 & 0x7e020000 == 0; ...; another arch: KILL_PROCESS`
fn summary(f: &Filter) -> String {
    let mut parts = vec![format!("default {}", f.default.show())];
    let plain: Vec<&&str> = f
        .syscalls
        .values()
        .filter(|(_, r)| matches!(r.as_slice(), [one] if one.conds.is_empty() && one.action == Action::Allow))
        .map(|(n, _)| n)
        .collect();
    parts.push(format!("allow {}", plain.len()));
    for (name, rules) in f.syscalls.values() {
        match rules.as_slice() {
            [one] if one.conds.is_empty() && one.action == Action::Allow => {}
            [one] if one.conds.is_empty() => parts.push(format!("{name} {}", one.action.show())),
            rules => {
                let alts: Vec<String> = rules
                    .iter()
                    .map(|r| {
                        let cs: Vec<String> = r.conds.iter().map(show_cond).collect();
                        let act = if r.action == Action::Allow {
                            String::new()
                        } else {
                            format!(" → {}", r.action.show())
                        };
                        format!("{}{act}", cs.join(" && "))
                    })
                    .collect();
                parts.push(format!("{name} if {}", alts.join(" || ")));
            }
        }
    }
    parts.push("another arch: KILL_PROCESS".into());
    if !f.unknown.is_empty() {
        parts.push(format!("{} names not on {ARCH} skipped", f.unknown.len()));
    }
    parts.join("; ")
}

fn show_cond(c: &Cond) -> String {
    let a = format!("arg{}", c.arg);
    match c.cmp {
        Cmp::Eq => format!("{a} == {:#x}", c.value),
        Cmp::Ne => format!("{a} != {:#x}", c.value),
        Cmp::Lt => format!("{a} < {:#x}", c.value),
        Cmp::Le => format!("{a} <= {:#x}", c.value),
        Cmp::Gt => format!("{a} > {:#x}", c.value),
        Cmp::Ge => format!("{a} >= {:#x}", c.value),
        Cmp::MaskedEq(m) => format!("{a} & {m:#x} == {:#x}", c.value),
    }
}

/// Runs a program as the kernel would, on one syscall: its SECCOMP_RET_* value. For tests and
/// for `procjail` to say what a filter answers.
pub fn eval(code: &[Insn], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    let mut data = [0u8; 64];
    data[0..4].copy_from_slice(&nr.to_le_bytes());
    data[4..8].copy_from_slice(&arch.to_le_bytes());
    for (i, a) in args.iter().enumerate() {
        data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
    }
    let (mut acc, mut pc) = (0u32, 0usize);
    while pc < code.len() {
        let i = code[pc];
        pc += 1;
        match i.code {
            LD_W_ABS => {
                let o = i.k as usize;
                acc = u32::from_le_bytes([data[o], data[o + 1], data[o + 2], data[o + 3]]);
            }
            ALU_AND_K => acc &= i.k,
            JMP_JA => pc += i.k as usize,
            JMP_JEQ_K | JMP_JGT_K | JMP_JGE_K => {
                let hit = match i.code {
                    JMP_JEQ_K => acc == i.k,
                    JMP_JGT_K => acc > i.k,
                    _ => acc >= i.k,
                };
                pc += usize::from(if hit { i.jt } else { i.jf });
            }
            RET_K => return i.k,
            _ => return Action::KillProcess.ret(),
        }
    }
    Action::KillProcess.ret()
}
