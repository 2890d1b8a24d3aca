//! Where procjail's binary meets its libc: the start-up it does instead of std's, the thread id
//! that a child of a clone which is not libc's fork must put right, and, in the musl build,
//! its own open(3) and memcpy(3).

use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What std's runtime start-up does that procjail needs, for a binary that starts at its own C
/// `main` (src/main.rs): fds 0, 1 and 2 open (a closed one would be taken by the first file
/// procjail opens; it gets /dev/null, or procjail aborts, as std does), and SIGPIPE ignored (a write to a closed pipe
/// or socket then fails with EPIPE instead of killing the supervisor before its teardown). Left
/// out: std's stack-overflow handler; an overflow is a plain SIGSEGV. Returns the command line,
/// from C main's argv (std takes it by itself only from glibc, or from its own start-up).
///
/// # Safety
/// `argv` is C main's: `argc` pointers to NUL-terminated strings.
// SAFETY: unsafe to call (the caller vouches for argv); its own unsafe blocks give their reasons.
pub unsafe fn start(argc: libc::c_int, argv: *const *const libc::c_char) -> Vec<std::ffi::OsString> {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd { fd, events: 0, revents: 0 });
    // SAFETY: three pollfd of ours, and no wait.
    if unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) } > 0 {
        for p in fds.iter().filter(|p| p.revents & libc::POLLNVAL != 0) {
            // SAFETY: a constant path; open takes the lowest free fd, which is this one, as the
            // lower ones are open (checked in order).
            let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
            if fd != p.fd {
                std::process::abort();
            }
        }
    }
    // SAFETY: SIG_IGN for SIGPIPE, as std's start-up sets it.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    (0..argc.max(0) as usize)
        // SAFETY: the caller's promise: argc valid C strings at argv.
        .map(|i| unsafe { std::ffi::CStr::from_ptr(*argv.add(i)) })
        .map(|arg| std::ffi::OsStr::from_bytes(arg.to_bytes()).to_os_string())
        .collect()
}

/// Where musl keeps the thread's id for itself (its `struct pthread`'s `tid`), once found: 0
/// until then, or where there is no such place to keep right (glibc asks the kernel, gettid,
/// where it matters).
static TID: AtomicUsize = AtomicUsize::new(0);

/// Before a clone that is not libc's fork (sys::clone_fork, clone3_into): finds where musl keeps
/// the thread's id, once. Such a clone leaves the child with its parent's id there, and musl reads
/// it instead of asking the kernel: its raise and abort (a panic, in procjail) would signal that
/// id, which in the jail's pid namespace is some other process, or none. The child puts its own
/// there ([`own_tid`]), as musl's fork does.
pub(super) fn find_tid() {
    if !cfg!(target_env = "musl") || TID.load(Ordering::Relaxed) != 0 {
        return;
    }
    // SAFETY: pthread_self is musl's `struct pthread` of this thread, far longer than 52 bytes;
    // its `tid` follows six words (self, dtv, prev, next, sysinfo, canary). Only read here, and
    // taken only if it holds this thread's id.
    let (slot, own) = unsafe {
        let slot = (libc::pthread_self() as *mut u8).add(48).cast::<libc::c_int>();
        (slot, libc::syscall(libc::SYS_gettid) as libc::c_int)
    };
    // SAFETY: a read of the int at `slot`, inside the struct (above).
    if unsafe { slot.read() } == own {
        TID.store(slot as usize, Ordering::Relaxed);
    }
}

/// In a cloned child: its own id where musl keeps it (found by the parent, [`find_tid`]).
pub(super) fn own_tid() {
    let slot = TID.load(Ordering::Relaxed) as *mut libc::c_int;
    if !slot.is_null() {
        // SAFETY: the place find_tid checked, in this process's own copy of the parent's memory.
        unsafe { slot.write(libc::syscall(libc::SYS_gettid) as libc::c_int) };
    }
}

/// procjail's `open` in the musl build (build.rs links it with `--wrap=open`: every call of
/// open(3) in the binary, std's and musl's own, comes here). musl's open sets FD_CLOEXEC a second
/// time with fcntl after an open with O_CLOEXEC (for kernels before 2.6.23, which ignored the
/// flag): one more syscall for every file opened, and std opens every file with O_CLOEXEC. This
/// is open as glibc makes it: one openat(AT_FDCWD, ...), the flags as given (a 64-bit kernel
/// sets O_LARGEFILE itself, which musl's open passes too).
///
/// # Safety
/// open(3)'s contract: `path` is a NUL-terminated string; `mode` is read when `flags` creates.
#[cfg(target_env = "musl")]
#[unsafe(no_mangle)]
// SAFETY: the C calls open(3) makes; x86-64 passes the variadic mode as it passes an int.
pub unsafe extern "C" fn __wrap_open(
    path: *const libc::c_char,
    flags: libc::c_int,
    mode: libc::c_uint,
) -> libc::c_int {
    // SAFETY: openat with the caller's path and flags; errno is set by libc's syscall().
    unsafe { libc::syscall(libc::SYS_openat, libc::AT_FDCWD, path, flags, mode) as libc::c_int }
}

/// procjail's memcpy in the musl build (build.rs links it with `--wrap=memcpy`): copies of up to
/// 32 bytes, most of procjail's (serde_json writes a state file a token at a time, format! a
/// piece at a time), as two overlapping loads and stores; longer ones with `rep movsb`. musl's
/// copies byte by byte up to an 8-byte boundary and starts `rep movsq`, some 30 cycles, for
/// every copy, however short: a quarter of procjail's own CPU at start went there.
///
/// # Safety
/// memcpy(3)'s contract: `n` bytes readable at `src`, writable at `dst`, not overlapping.
#[cfg(target_env = "musl")]
#[unsafe(no_mangle)]
// SAFETY: the C calls memcpy(3) makes, with its contract.
pub unsafe extern "C" fn __wrap_memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: every read is inside [src, src + n) and every write inside [dst, dst + n): see
    // copy_ends for the pairs, whose widths are at most n. `rep movsb` copies rcx bytes from rsi
    // to rdi, forward (the ABI keeps the direction flag clear).
    unsafe {
        match n {
            17..=32 => copy_ends::<u128>(dst, src, n),
            8..=16 => copy_ends::<u64>(dst, src, n),
            4..=7 => copy_ends::<u32>(dst, src, n),
            1..=3 => {
                let (a, b, c) = (*src, *src.add(n / 2), *src.add(n - 1));
                *dst = a;
                *dst.add(n / 2) = b;
                *dst.add(n - 1) = c;
            }
            0 => {}
            // The CPU's own string copy (fast with ERMS, as every x86-64 of the last decade has).
            _ => std::arch::asm!(
                "rep movsb",
                inout("rcx") n => _,
                inout("rdi") dst => _,
                inout("rsi") src => _,
                options(nostack, preserves_flags)
            ),
        }
    }
    dst
}

/// n bytes (from one to two widths of T) as two loads of T, one at the start and one at the
/// end (they overlap when n is under two widths), then two stores: no loop, no call.
///
/// # Safety
/// `size_of::<T>() <= n`; n bytes readable at `src` and writable at `dst`, not overlapping.
#[cfg(target_env = "musl")]
#[inline(always)]
// SAFETY: unsafe to call (the caller vouches for the ranges); the reads and writes below.
unsafe fn copy_ends<T>(dst: *mut u8, src: *const u8, n: usize) {
    let w = std::mem::size_of::<T>();
    // SAFETY: [0, w) and [n - w, n) are inside both ranges, as w <= n; unaligned accesses.
    unsafe {
        let (a, b) = (src.cast::<T>().read_unaligned(), src.add(n - w).cast::<T>().read_unaligned());
        dst.cast::<T>().write_unaligned(a);
        dst.add(n - w).cast::<T>().write_unaligned(b);
    }
}

#[cfg(test)]
mod tests {
    /// A raw clone's child finds its own id where musl keeps it (what its raise and abort use).
    #[test]
    fn a_cloned_child_has_its_own_thread_id_in_libc() {
        super::find_tid();
        let slot = super::TID.load(std::sync::atomic::Ordering::Relaxed) as *const libc::c_int;
        assert_eq!(slot.is_null(), !cfg!(target_env = "musl"), "musl's struct pthread is not as expected");
        match crate::sys::clone_fork(0).unwrap() {
            crate::sys::Forked::Child => {
                // SAFETY: the slot find_tid checked, in this child's copy of the memory.
                let own = slot.is_null() || unsafe { slot.read() } == nix::unistd::gettid().as_raw();
                crate::sys::exit_now(i32::from(!own));
            }
            crate::sys::Forked::Parent(pid) => {
                let status = nix::sys::wait::waitpid(pid, None).unwrap();
                assert_eq!(status, nix::sys::wait::WaitStatus::Exited(pid, 0));
            }
        }
    }

    /// procjail's memcpy copies every length and alignment as memcpy does, and nothing beside.
    #[cfg(target_env = "musl")]
    #[test]
    fn the_short_copy_is_a_copy() {
        let src: Vec<u8> = (0..200u32).map(|i| (i * 7 + 3) as u8).collect();
        for n in 0..=80 {
            for (from, to) in [(0, 0), (1, 3), (5, 0), (7, 9)] {
                let mut dst = vec![0xeeu8; 200];
                // SAFETY: n bytes at from and at to are inside both 200-byte buffers.
                unsafe { super::__wrap_memcpy(dst.as_mut_ptr().add(to), src.as_ptr().add(from), n) };
                assert_eq!(dst[to..to + n], src[from..from + n], "n {n}");
                assert!(dst[..to].iter().chain(&dst[to + n..]).all(|b| *b == 0xee), "n {n}: wrote outside");
            }
        }
    }
}
