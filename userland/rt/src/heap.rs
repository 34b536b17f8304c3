//! The global allocator: a buddy heap over a 256 KiB static arena, initialised on the
//! first allocation. The arena lives in `.bss`; a program that never allocates does not
//! reference it, so the linker drops it (no 256 KiB of zero pages per tiny helper).

use buddy_system_allocator::LockedHeap;
use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;

/// Size of the heap arena.
pub const HEAP_SIZE: usize = 256 * 1024;

#[repr(C, align(4096))]
struct Arena(UnsafeCell<[u8; HEAP_SIZE]>);

// SAFETY: the arena is only ever touched through the heap, which hands out disjoint
// blocks under its lock; nothing creates references to the array itself.
unsafe impl Sync for Arena {}

static ARENA: Arena = Arena(UnsafeCell::new([0; HEAP_SIZE]));

struct UserHeap {
    heap: LockedHeap<20>,
    ready: spin::Once<()>,
}

impl UserHeap {
    fn init(&self) {
        self.ready.call_once(|| {
            // SAFETY: `call_once` runs this exactly once; the arena is a static used by
            // nothing but this heap, valid and writable for the life of the program.
            unsafe { self.heap.lock().init(ARENA.0.get() as usize, HEAP_SIZE) }
        });
    }
}

// SAFETY: forwards to `LockedHeap`, a correct `GlobalAlloc`, after making sure it has
// its memory; `init` is idempotent.
unsafe impl GlobalAlloc for UserHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.init();
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { self.heap.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above (caller's contract), so the heap is
        // initialised and owns it.
        unsafe { self.heap.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static HEAP: UserHeap = UserHeap {
    heap: LockedHeap::empty(),
    ready: spin::Once::new(),
};
