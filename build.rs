//! build.rs: the release binary's code in the order it runs at start.
//!
//! lld lays out the functions named in `link/startup.order` (made by `benches/order.sh`) first
//! and in that order: the code procjail runs to start a jail sits together instead of scattered
//! over 4 MiB of .text, so the kernel's fault-around (64 KiB mapped around each page fault)
//! brings in little else. Fewer page faults on every start, fewer resident pages in every
//! supervisor and init. For the static release builds of x86_64 (musl, which rustc's lld links
//! directly, and the glibc fallback, which it links through cc with its lld); a name the file
//! has and the binary lacks is skipped.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=link/startup.order");
    let target = std::env::var("TARGET").unwrap_or_default();
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    // lld's own options: as they are when rustc runs lld itself, behind -Wl, when it runs cc.
    let ld = |arg: &str| match target.as_str() {
        "x86_64-unknown-linux-musl" => println!("cargo::rustc-link-arg-bins={arg}"),
        _ => println!("cargo::rustc-link-arg-bins=-Wl,{arg}"),
    };
    let ordered = ["x86_64-unknown-linux-musl", "x86_64-unknown-linux-gnu"].contains(&target.as_str());
    if ordered && release {
        let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
        ld(&format!("--symbol-ordering-file={dir}/link/startup.order"));
        ld("--no-warn-symbol-ordering");
    }
    // musl's open(3) costs a second syscall for every file opened, its memcpy some 30 cycles for
    // every copy however short: procjail's own (sys::runtime's __wrap_open, __wrap_memcpy).
    if target == "x86_64-unknown-linux-musl" {
        ld("--wrap=open");
        ld("--wrap=memcpy");
    }
    // benches/order.sh asks for the linker's map (each function's address) of the very build it
    // traces: another profile (an unstripped one) would name the functions differently.
    println!("cargo::rerun-if-env-changed=PROCJAIL_LINK_MAP");
    if let Ok(map) = std::env::var("PROCJAIL_LINK_MAP") {
        ld(&format!("-Map={map}"));
        ld("--no-demangle");
    }
}
