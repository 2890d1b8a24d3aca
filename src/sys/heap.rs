//! procjail's heap: dlmalloc over one reserved range of address space.
//!
//! Why not libc's malloc: procjail is linked with musl (see "The build" in README.md), whose
//! malloc hands freed groups back to the kernel at once: one `up` made 140 mmap and 135 munmap
//! calls, more time than musl saves at start. dlmalloc keeps what it was given, and grows like a
//! program break: its memory comes from one range reserved at the first allocation
//! ([`RESERVE`], address space only; pages are made when touched), handed to it in pieces one
//! after the other, so the heap is always one contiguous run of pages. That makes the two trims
//! of an idle jail one call each: the supervisor gives back the heap's free top ([`trim`]), and
//! a cloned child drops the whole heap it inherited ([`drop_inherited`]).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Address space reserved for the heap (MAP_NORESERVE: not memory). An idle supervisor uses
/// about 200 KiB of it; what does not fit goes to mmaps of its own (not dropped by the trims).
const RESERVE: usize = 1 << 30;
const PAGE: usize = 4096;

/// The reserved range: its start (0 until the first allocation, or if it could not be had),
/// and how much of it dlmalloc has been given.
static BASE: AtomicUsize = AtomicUsize::new(0);
static USED: AtomicUsize = AtomicUsize::new(0);
/// Whether the range was asked for (once: a host that refuses it, strict overcommit say, is not
/// asked again; the heap then grows by mmaps of its own).
static ASKED: AtomicBool = AtomicBool::new(false);

/// The system side of dlmalloc: pieces of the reserved range, or mmaps once it is used up.
pub(super) struct Pages;

fn map(len: usize, flags: libc::c_int) -> *mut u8 {
    // SAFETY: a new private anonymous mapping; nothing else refers to it.
    let p =
        unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, flags, -1, 0) };
    if p == libc::MAP_FAILED { std::ptr::null_mut() } else { p.cast() }
}

fn reserved(ptr: *mut u8) -> bool {
    let base = BASE.load(Ordering::Relaxed);
    base != 0 && (ptr as usize) >= base && (ptr as usize) < base + RESERVE
}

/// madvise(MADV_DONTNEED): the range's pages go back; they read as zero when touched again.
fn drop_pages(start: usize, end: usize) {
    let (start, end) = ((start + PAGE - 1) & !(PAGE - 1), end & !(PAGE - 1));
    if end > start {
        // SAFETY: free memory of the heap's own range, which nothing reads before writing.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
    }
}

// SAFETY: every region handed out is fresh (zeroed) memory of the size given, not handed out
// twice; regions dlmalloc gives back are either unmapped (its own mmaps) or kept mapped.
unsafe impl dlmalloc::Allocator for Pages {
    fn alloc(&self, size: usize) -> (*mut u8, usize, u32) {
        if !ASKED.swap(true, Ordering::Relaxed) {
            let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
            let p = map(RESERVE, flags);
            if !p.is_null() {
                BASE.store(p as usize, Ordering::Relaxed);
            }
        }
        let (base, used) = (BASE.load(Ordering::Relaxed), USED.load(Ordering::Relaxed));
        if base != 0 && RESERVE - used >= size {
            // The next piece: dlmalloc sees it adjoin the last one and grows its top.
            USED.store(used + size, Ordering::Relaxed);
            return ((base + used) as *mut u8, size, 0);
        }
        let p = map(size, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS);
        (p, if p.is_null() { 0 } else { size }, 0)
    }

    fn remap(&self, _ptr: *mut u8, _old: usize, _new: usize, _can_move: bool) -> *mut u8 {
        std::ptr::null_mut()
    }

    /// The heap's free top past `new`: its pages go back, the range stays dlmalloc's (false:
    /// nothing changes size). The segment's last page stays: dlmalloc keeps a fencepost there.
    fn free_part(&self, ptr: *mut u8, old: usize, new: usize) -> bool {
        if reserved(ptr) {
            drop_pages(ptr as usize + new, ptr as usize + old - PAGE);
            return false;
        }
        // SAFETY: the tail of a mapping of dlmalloc's own, which it no longer uses.
        unsafe { libc::munmap(ptr.add(new).cast(), old - new) == 0 }
    }

    /// A whole segment dlmalloc no longer uses: its own mmaps go; a piece of the range stays as
    /// it is (false: dlmalloc then keeps it, its free chunk's header inside it, so nothing is
    /// dropped there).
    fn free(&self, ptr: *mut u8, size: usize) -> bool {
        if reserved(ptr) {
            return false;
        }
        // SAFETY: a mapping of dlmalloc's own (see alloc), which it no longer uses.
        unsafe { libc::munmap(ptr.cast(), size) == 0 }
    }

    fn can_release_part(&self, _flags: u32) -> bool {
        true
    }

    fn allocates_zeros(&self) -> bool {
        true
    }

    fn page_size(&self) -> usize {
        PAGE
    }
}

/// The one heap. The supervisor has one thread (and a cloned child does not use this heap:
/// see `memory::Alloc`), so the lock is never contended.
static HEAP: Mutex<dlmalloc::Dlmalloc<Pages>> = Mutex::new(dlmalloc::Dlmalloc::new_with_allocator(Pages));

/// The heap, even if a panic left its lock poisoned (abort-on-panic builds never do).
pub(super) fn heap() -> std::sync::MutexGuard<'static, dlmalloc::Dlmalloc<Pages>> {
    HEAP.lock().unwrap_or_else(|e| e.into_inner())
}

/// The supervisor, gone idle: the pages of the heap's free top go back to the kernel.
pub(super) fn trim() {
    // SAFETY: trim works on dlmalloc's own free memory only.
    unsafe { heap().trim(0) };
}

/// A cloned child that no longer reads what it inherited on the heap: all of the heap's pages
/// leave it (the supervisor keeps its own).
pub(super) fn drop_inherited() {
    let base = BASE.load(Ordering::Relaxed);
    if base != 0 {
        drop_pages(base, base + USED.load(Ordering::Relaxed));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    /// Resident pages of the heap's range (mincore).
    fn resident() -> usize {
        let (base, used) = (super::BASE.load(Ordering::Relaxed), super::USED.load(Ordering::Relaxed));
        let mut vec = vec![0u8; used / super::PAGE];
        // SAFETY: the range is mapped (reserved); vec has a byte for each of its pages.
        unsafe { libc::mincore(base as *mut libc::c_void, used, vec.as_mut_ptr()) };
        vec.iter().filter(|b| **b & 1 == 1).count()
    }

    /// The test binary's allocator is not procjail's: this heap is the test's alone.
    #[test]
    fn the_heap_gives_back_its_free_top_and_goes_on_serving() {
        let fill = |p: *mut u8, v: u8| {
            // SAFETY: a block of 4096 bytes from the heap.
            unsafe { std::ptr::write_bytes(p, v, 4096) }
        };
        // SAFETY: a block of 4096 bytes from the heap, written before.
        let holds =
            |p: *mut u8, v: u8| unsafe { std::slice::from_raw_parts(p, 4096) }.iter().all(|b| *b == v);
        // SAFETY: malloc and free of dlmalloc's own blocks, each freed once with its size.
        unsafe {
            let blocks: Vec<*mut u8> = (0..400).map(|_| super::heap().malloc(4096, 16)).collect();
            for (i, p) in blocks.iter().enumerate() {
                fill(*p, i as u8);
            }
            let before = resident();
            for p in &blocks[100..] {
                super::heap().free(*p, 4096, 16);
            }
            super::trim();
            assert!(resident() + 250 < before, "{} pages of {before} still resident", resident());
            for (i, p) in blocks[..100].iter().enumerate() {
                assert!(holds(*p, i as u8), "block {i} changed");
            }
            let again: Vec<*mut u8> = (0..400).map(|_| super::heap().malloc(4096, 16)).collect();
            for p in &again {
                fill(*p, 0xa5);
            }
            assert!(again.iter().all(|p| holds(*p, 0xa5)));
            assert!(blocks[..100].iter().enumerate().all(|(i, p)| holds(*p, i as u8)));
            for p in again.iter().chain(&blocks[..100]) {
                super::heap().free(*p, 4096, 16);
            }
        }
    }
}
