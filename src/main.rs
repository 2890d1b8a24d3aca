//! procjail's entry point: everything is in the library; errors are printed once, in cli::main.
//!
//! It starts at its own C `main`, without std's runtime start-up (whose stack-overflow handler
//! reads /proc/self/maps and sets up an alternate signal stack and two handlers, on every start:
//! about 15 syscalls); `sys::start` does what procjail needs of it.
#![no_main]

/// glibc's malloc, except in a cloned jail process: see `sys::memory`.
#[global_allocator]
static ALLOC: procjail::sys::memory::Alloc = procjail::sys::memory::Alloc;

// SAFETY: the binary's one C `main` (`no_main` leaves std's out), which glibc calls once after its
// own start-up; std takes argv and the environment from glibc by itself.
#[unsafe(no_mangle)]
extern "C" fn main(_argc: std::ffi::c_int, _argv: *const *const std::ffi::c_char) -> std::ffi::c_int {
    procjail::sys::start();
    // std::process::exit flushes stdout, as returning from std's main would.
    std::process::exit(procjail::cli::main())
}
