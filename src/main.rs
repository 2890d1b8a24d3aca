//! procjail's entry point: everything is in the library; errors are printed once, in cli::main.
//!
//! It starts at its own C `main`, without std's runtime start-up (whose stack-overflow handler
//! reads /proc/self/maps and sets up an alternate signal stack and two handlers, on every start:
//! about 15 syscalls); `sys::start` does what procjail needs of it and hands back argv.
#![no_main]

/// dlmalloc, except in a cloned jail process: see `sys::memory`.
#[global_allocator]
static ALLOC: procjail::sys::memory::Alloc = procjail::sys::memory::Alloc;

// The binary's one C `main` (`no_main` leaves std's out), which libc calls once after its own
// start-up, with the command line.
#[unsafe(no_mangle)]
extern "C" fn main(argc: std::ffi::c_int, argv: *const *const std::ffi::c_char) -> std::ffi::c_int {
    // SAFETY: argc and argv as libc passed them to main.
    let args = unsafe { procjail::sys::start(argc, argv) };
    // std::process::exit flushes stdout, as returning from std's main would.
    std::process::exit(procjail::cli::main(args))
}
