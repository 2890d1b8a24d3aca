//! The shape of the code, as the README's layout section draws it: the top-level modules import
//! each other only downwards, with no cycle; planners and the executor never import each other;
//! every `unsafe` is in src/sys/ with its SAFETY reason; files stay near 400 lines and
//! functions near 80.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::common::repo;

/// Each top-level module's layer: a module imports only from lower layers. The planners share
/// a layer (they may use each other, without a cycle); `exec` sits beside them and may not.
const LAYERS: &[(&str, u32)] = &[
    ("cli", 9),
    ("cmd", 8),
    ("build", 7),
    ("oci", 7),
    ("namespaces", 6),
    ("mounts", 6),
    ("cgroups", 6),
    ("init", 6),
    ("rootfs", 6),
    ("exec", 6),
    ("confine", 6),
    ("state", 5),
    ("plan", 4),
    ("doctor", 4),
    ("spec", 3),
    ("config", 2),
    ("seccomp", 2),
    ("diag", 1),
    ("host", 1),
    ("sys", 0),
    ("error", 0),
    ("json", 0),
];

const PLANNERS: &[&str] = &["namespaces", "mounts", "cgroups", "init", "rootfs", "confine"];

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// The top-level module a file of src/ belongs to (None: lib.rs, main.rs).
fn module_of(file: &Path) -> Option<String> {
    let rel = file.strip_prefix(repo().join("src")).unwrap();
    let first = rel.components().next()?.as_os_str().to_string_lossy().into_owned();
    let name = first.trim_end_matches(".rs").to_string();
    (!["lib", "main"].contains(&name.as_str())).then_some(name)
}

/// The top-level modules a text names as `crate::x` or `crate::{x, y::z}`.
fn imports(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + 7..];
        if let Some(group) = rest.strip_prefix('{') {
            let inner = &group[..group.find('}').unwrap_or(group.len())];
            for part in inner.split(',') {
                let name: String =
                    part.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !name.is_empty() && name != "self" {
                    out.insert(name);
                }
            }
        } else {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            out.insert(name);
        }
    }
    out
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(&repo().join("src")) {
        let Some(m) = module_of(&file) else { continue };
        let text = std::fs::read_to_string(&file).unwrap();
        // Comments name other modules to explain; only code imports.
        let code: String =
            text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
        let text = code;
        let entry = g.entry(m.clone()).or_default();
        entry.extend(imports(&text).into_iter().filter(|i| *i != m));
    }
    g
}

#[test]
fn the_layers_import_only_downwards_and_without_a_cycle() {
    let layer: BTreeMap<&str, u32> = LAYERS.iter().copied().collect();
    let g = graph();
    let mut wrong = Vec::new();
    for (from, tos) in &g {
        let Some(lf) = layer.get(from.as_str()) else {
            wrong.push(format!("{from} is not in the table of layers (tests/integration/layers.rs)"));
            continue;
        };
        for to in tos {
            let Some(lt) = layer.get(to.as_str()) else {
                wrong.push(format!("{from} imports crate::{to}, which is not a top-level module"));
                continue;
            };
            let sideways = lf == lt && PLANNERS.contains(&from.as_str()) && PLANNERS.contains(&to.as_str());
            if lt >= lf && !sideways {
                wrong.push(format!("{from} (layer {lf}) imports {to} (layer {lt})"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // No cycle, the planners' layer included: a depth-first search finds no back edge.
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) {
        match state.get(n) {
            Some(2) => return,
            Some(1) => panic!("an import cycle: {} -> {n}", path.join(" -> ")),
            _ => {}
        }
        state.insert(n.to_string(), 1);
        path.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            visit(m, g, state, path);
        }
        path.pop();
        state.insert(n.to_string(), 2);
    }
    let mut state = BTreeMap::new();
    for n in g.keys() {
        visit(n, &g, &mut state, &mut Vec::new());
    }
}

#[test]
fn every_unsafe_is_in_sys_with_its_reason() {
    for file in rust_files(&repo().join("src")) {
        let text = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let code = line.split("//").next().unwrap();
            if !code.contains("unsafe {") && !code.contains("unsafe fn") && !code.contains("unsafe impl") {
                continue;
            }
            // src/main.rs: the C entry point, which hands argv to sys::start.
            let in_sys = file.ends_with("src/sys.rs")
                || file.ends_with("src/main.rs")
                || file.parent().is_some_and(|d| d.ends_with("src/sys"));
            assert!(in_sys, "unsafe outside src/sys: {}:{}", file.display(), i + 1);
            let before = lines[..i].iter().rev().take(4).any(|l| l.contains("// SAFETY:"));
            assert!(before, "unsafe without a SAFETY comment: {}:{}", file.display(), i + 1);
        }
    }
}

#[test]
fn files_stay_near_400_lines_and_functions_near_80() {
    let mut long = Vec::new();
    for file in rust_files(&repo().join("src")) {
        let text = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        if lines.len() > 450 {
            long.push(format!("{}: {} lines", file.display(), lines.len()));
        }
        for (i, line) in lines.iter().enumerate() {
            let t = line.trim_start();
            let is_fn = ["fn ", "pub fn ", "pub(super) fn ", "pub(crate) fn ", "const fn "]
                .iter()
                .any(|p| t.starts_with(p));
            if !is_fn || line.ends_with(';') {
                continue;
            }
            let indent = &line[..line.len() - t.len()];
            let end = lines[i..].iter().position(|l| *l == format!("{indent}}}")).unwrap_or(0);
            // A table (a match of one line an arm, as bubblewrap's switch) may be long.
            let arms = lines[i..i + end].iter().filter(|l| l.contains(" => ")).count();
            if end + 1 > 90 && arms * 3 < end * 2 {
                long.push(format!("{}:{}: a function of {} lines", file.display(), i + 1, end + 1));
            }
        }
    }
    assert!(long.is_empty(), "{}", long.join("\n"));
}
