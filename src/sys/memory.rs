//! What an idle jail keeps in memory: procjail's allocator, and the trims before a long wait.
//!
//! The jail's first process is a copy of the supervisor (clone without CLONE_VM): every page is
//! shared, copy-on-write, until one of the two writes it. glibc's malloc would serve the child's
//! allocations from free chunks all over the inherited heap and write chunk headers on every
//! free, so the child would end up with a private copy of most of the supervisor's heap (about
//! 140 KiB for the busybox jail) that it never reads. So, from the clone on, the child (and the
//! command it forks, until execve) allocates from pages of its own, a bump region mapped for
//! it, and never frees into the inherited heap: what it inherited stays shared. It allocates
//! little (setup's paths and messages; the init's loop allocates nothing), so nothing is reused.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// procjail's allocator: glibc's malloc, but in a cloned child, the child's own region.
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

/// In a cloned child that will not read anything it inherited on the heap again (the built-in
/// init, once it holds in locals what its loop needs): madvise(MADV_DONTNEED) over the heap it
/// was cloned with. Those pages leave the child; the supervisor keeps its own.
///
/// The heap is the program break's area, from above the thread's own block: static glibc puts
/// the TLS and the thread control block (`pthread_self()`, x86-64's variant II: the TLS below
/// it) first in that area, before malloc's first use of it; those stay.
fn drop_inherited_heap() {
    if !OWN.load(Ordering::Acquire) {
        return;
    }
    let page = 4096;
    // SAFETY: pthread_self and sbrk(0) only read the thread pointer and the program break.
    let (tcb, end) = unsafe { (libc::pthread_self() as usize, libc::sbrk(0) as usize) };
    // struct pthread is about 2.3 KiB: a page past its start is past its end.
    let start = (tcb + 2 * page) & !(page - 1);
    let end = end & !(page - 1);
    // The TLS block was taken from the break only if it lies below it and above the image (a
    // block glibc had to mmap lies elsewhere: then nothing is dropped).
    if start > &raw const _end as usize && end > start && end - start < REGION {
        // SAFETY: malloc's heap, which this process no longer reads nor frees into (see
        // `Alloc`): its pages may read back as zero.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
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

// SAFETY: before `own_pages`, every call is System's (glibc malloc). After it, new blocks come
// from the region, aligned and of the size asked, never handed out twice; a free is a no-op
// (the block stays valid and unused); realloc copies into a new block. A block System made
// before the clone is never passed back to System in the child, so its heap is not written.
unsafe impl GlobalAlloc for Alloc {
    // SAFETY: GlobalAlloc's contract, as above.
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if OWN.load(Ordering::Acquire)
            && let Some(p) = bump(layout)
        {
            return p;
        }
        // SAFETY: the caller's layout, as GlobalAlloc asks.
        unsafe { System.alloc(layout) }
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
        unsafe { System.alloc_zeroed(layout) }
    }

    // SAFETY: GlobalAlloc's contract, as above.
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !OWN.load(Ordering::Acquire) {
            // SAFETY: `ptr` came from System with this layout (no region before own_pages).
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    // SAFETY: GlobalAlloc's contract, as above.
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !OWN.load(Ordering::Acquire) {
            // SAFETY: `ptr` came from System with `layout`; the caller's new size.
            return unsafe { System.realloc(ptr, layout, new_size) };
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
/// supervisor: its thread's malloc cache, then malloc_trim(0) ([`trim_heap`]). A cloned child
/// (the init, in its loop: see [`drop_inherited_heap`] for what it may no longer read): the heap
/// it was cloned with, which malloc_trim would only write to. Both: [`drop_code_pages`].
pub fn trim_idle() {
    if OWN.load(Ordering::Acquire) {
        drop_inherited_heap();
    } else {
        trim_heap();
    }
    drop_code_pages();
}

/// glibc's free heap pages back to the kernel. First the thread's cache (tcache: up to seven
/// freed blocks of each small size, kept for the next malloc of that size, which malloc_trim
/// counts as in use; setup leaves about 85 KiB there): `__libc_thread_freeres` is what glibc
/// runs when a thread exits, and hands those blocks back to the heap and turns the cache off for
/// the thread (later mallocs, few in an idle supervisor, go straight to the heap). Then
/// malloc_trim(0): madvise(MADV_DONTNEED) over every free page inside the heap, brk down at its
/// top.
fn trim_heap() {
    #[cfg(target_env = "gnu")]
    {
        unsafe extern "C" {
            /// glibc's (libc.a, GLIBC_PRIVATE in libc.so): a thread's malloc cache and buffers.
            fn __libc_thread_freeres();
        }
        // SAFETY: the supervisor's one thread, as glibc does at its exit; malloc goes on working
        // (from the heap itself), and nothing of ours points into glibc's per-thread buffers.
        unsafe { __libc_thread_freeres() };
    }
    // SAFETY: malloc_trim works on malloc's own free memory only; nothing of ours points there.
    unsafe { libc::malloc_trim(0) };
}

unsafe extern "C" {
    /// The linker's: the first byte of the executable's image, and the end of its code.
    static __executable_start: u8;
    static etext: u8;
    /// The end of the image's data (bss).
    static _end: u8;
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
