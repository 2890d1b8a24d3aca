//! What an idle jail keeps in memory: procjail's allocator, and the trims before a long wait.
//!
//! The jail's first process is a copy of the supervisor (clone without CLONE_VM): every page is
//! shared, copy-on-write, until one of the two writes it. A malloc would serve the child's
//! allocations from free chunks all over the inherited heap and write chunk headers on every
//! free, so the child would end up with a private copy of most of the supervisor's heap (about
//! 140 KiB for the busybox jail) that it never reads. So, from the clone on, the child (and the
//! command it forks, until execve) allocates from pages of its own, a bump region mapped for
//! it, and never frees into the inherited heap: what it inherited stays shared. It allocates
//! little (setup's paths and messages; the init's loop allocates nothing), so nothing is reused.
//! Before the clone, and in the supervisor always, blocks come from procjail's heap (`heap`).

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::heap;

/// procjail's allocator: its heap (dlmalloc), but in a cloned child, the child's own region.
pub struct Alloc;

/// How long a jail runs before its supervisor and init give back what setup left in memory
/// ([`trim_idle`]): a jail that ends sooner is not slowed by it.
pub const IDLE: std::time::Duration = std::time::Duration::from_millis(100);

/// The child's region: reserved address space, pages are made only when touched.
const REGION: usize = 64 << 20;
static OWN: AtomicBool = AtomicBool::new(false);
static NEXT: AtomicUsize = AtomicUsize::new(0);
static END: AtomicUsize = AtomicUsize::new(0);
/// Called in the child right after clone: its allocations go to a region of its own from here.
/// If the region cannot be mapped, it goes on with malloc (more memory, same behaviour).
pub fn own_pages() {
    // SAFETY: a new private anonymous mapping; nothing else refers to it.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            REGION,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p != libc::MAP_FAILED {
        NEXT.store(p as usize, Ordering::Relaxed);
        END.store(p as usize + REGION, Ordering::Relaxed);
        OWN.store(true, Ordering::Release);
    }
}

/// The next `layout` of the child's region, or None when it is full.
fn bump(layout: Layout) -> Option<*mut u8> {
    let mut cur = NEXT.load(Ordering::Relaxed);
    loop {
        let start = cur.checked_add(layout.align() - 1)? & !(layout.align() - 1);
        let end = start.checked_add(layout.size())?;
        if end > END.load(Ordering::Relaxed) {
            return None;
        }
        match NEXT.compare_exchange_weak(cur, end, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return Some(start as *mut u8),
            Err(now) => cur = now,
        }
    }
}

// SAFETY: before `own_pages`, every call is the heap's (dlmalloc). After it, new blocks come
// from the region, aligned and of the size asked, never handed out twice; a free is a no-op
// (the block stays valid and unused); realloc copies into a new block. A block the heap made
// before the clone is never passed back to it in the child, so the heap is not written.
unsafe impl GlobalAlloc for Alloc {
    // SAFETY: GlobalAlloc's contract, as above.
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if OWN.load(Ordering::Acquire)
            && let Some(p) = bump(layout)
        {
            return p;
        }
        // SAFETY: the caller's layout, as GlobalAlloc asks.
        unsafe { heap::heap().malloc(layout.size(), layout.align()) }
    }

    // SAFETY: GlobalAlloc's contract, as above.
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if OWN.load(Ordering::Acquire)
            && let Some(p) = bump(layout)
        {
            // The region's pages are zero when first touched, but a block is never reused:
            // it is zero already.
            return p;
        }
        // SAFETY: as in alloc.
        unsafe { heap::heap().calloc(layout.size(), layout.align()) }
    }

    // SAFETY: GlobalAlloc's contract, as above.
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !OWN.load(Ordering::Acquire) {
            // SAFETY: `ptr` came from the heap with this layout (no region before own_pages).
            unsafe { heap::heap().free(ptr, layout.size(), layout.align()) }
        }
    }

    // SAFETY: GlobalAlloc's contract, as above.
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !OWN.load(Ordering::Acquire) {
            // SAFETY: `ptr` came from the heap with `layout`; the caller's new size.
            return unsafe { heap::heap().realloc(ptr, layout.size(), layout.align(), new_size) };
        }
        // SAFETY: the caller guarantees new_size with layout's align is a valid layout.
        let new = unsafe { self.alloc(Layout::from_size_align_unchecked(new_size, layout.align())) };
        if !new.is_null() {
            // SAFETY: both blocks are valid for the smaller of the two sizes and do not overlap.
            unsafe { std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size)) };
        }
        new
    }
}

/// What a process that has gone idle gives back, once the jail has run [`IDLE`]. The
/// supervisor: the pages of its heap's free top ([`heap::trim`]). A cloned child (the init, in
/// its loop, which holds in locals what it needs and no longer reads what it inherited on the
/// heap): the whole heap it was cloned with ([`heap::drop_inherited`]); those pages leave the
/// child, the supervisor keeps its own. Both: [`drop_code_pages`].
pub fn trim_idle() {
    if OWN.load(Ordering::Acquire) {
        heap::drop_inherited();
    } else {
        heap::trim();
    }
    drop_code_pages();
}

unsafe extern "C" {
    /// The linker's: the first byte of the executable's image, and the end of its code.
    static __executable_start: u8;
    static etext: u8;
}

/// madvise(MADV_DONTNEED) over procjail's own read-only data and code: the pages setup touched
/// (clap, the TOML parser, the planner: most of the binary) leave this process's page tables;
/// they stay in the page cache, and only what runs from here on faults back in. Read-only,
/// private, never-written file pages come back from the file as they were.
fn drop_code_pages() {
    let (start, end) = (&raw const __executable_start as usize, &raw const etext as usize);
    let page = 4096;
    let (start, end) = (start & !(page - 1), (end + page - 1) & !(page - 1));
    // SAFETY: the range is the image's read-only segments (headers, rodata, text), mapped
    // private from the file and never written; dropping their pages loses nothing.
    unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
}

#[cfg(test)]
mod tests {
    use std::alloc::{GlobalAlloc, Layout};

    /// The test binary's own allocator is System: switching procjail's to the region here
    /// changes only the calls made to `Alloc` directly.
    #[test]
    fn a_child_allocates_aligned_blocks_of_its_own_and_realloc_keeps_the_bytes() {
        super::own_pages();
        let a = super::Alloc;
        // SAFETY: layouts of non-zero size; the blocks are used within their sizes.
        unsafe {
            let p = a.alloc(Layout::from_size_align(3, 1).unwrap());
            let q = a.alloc(Layout::from_size_align(64, 32).unwrap());
            assert_eq!(q as usize % 32, 0);
            assert!(q as usize >= p as usize + 3, "no overlap");
            std::ptr::copy_nonoverlapping(b"jail".as_ptr(), q, 4);
            let r = a.realloc(q, Layout::from_size_align(64, 32).unwrap(), 4096);
            assert_eq!(std::slice::from_raw_parts(r, 4), b"jail");
            assert_eq!(r as usize % 32, 0);
            a.dealloc(r, Layout::from_size_align(4096, 32).unwrap());
            let z = a.alloc_zeroed(Layout::from_size_align(128, 8).unwrap());
            assert!(std::slice::from_raw_parts(z, 128).iter().all(|b| *b == 0));
            assert!(z as usize > r as usize, "a freed block is not handed out again");
        }
    }
}
