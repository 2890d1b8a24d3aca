//! build.rs: the release binary's code in the order it runs at start.
//!
//! lld lays out the functions named in `link/startup.order` (made by `benches/order.sh`) first
//! and in that order: the code procjail runs to start a jail sits together instead of scattered
//! over 4.5 MiB of .text, so the kernel's fault-around (64 KiB mapped around each page fault)
//! brings in little else. Fewer page faults on every start, fewer resident pages in every
//! supervisor and init. Only for the static release build of x86_64-unknown-linux-gnu, which rustc
//! links with its own lld; a name the file has and the binary lacks is skipped.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=link/startup.order");
    let target = std::env::var("TARGET").unwrap_or_default();
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    if target == "x86_64-unknown-linux-gnu" && release {
        let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
        println!("cargo::rustc-link-arg-bins=-Wl,--symbol-ordering-file={dir}/link/startup.order");
        println!("cargo::rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
    // benches/order.sh asks for the linker's map (each function's address) of the very build it
    // traces: another profile (an unstripped one) would name the functions differently.
    println!("cargo::rerun-if-env-changed=PROCJAIL_LINK_MAP");
    if let Ok(map) = std::env::var("PROCJAIL_LINK_MAP") {
        println!("cargo::rustc-link-arg-bins=-Wl,-Map={map},--no-demangle");
    }
}
