//! The hand-written fast path of a plain `buffer_sync` START (START READ, START WRITE,
//! START RW on a buffer no closer ever marked, `Buffer::quiet`): the vector's first
//! instructions for an `svc` from EL0, in assembly, so that it saves only the four
//! registers it uses instead of every register a Rust function may change (the Rust
//! fast path, `syscall::fast`, saves x0..x18 and x30 and dispatches through two calls:
//! 42 of its 109 instructions for a START WRITE).
//!
//! It does exactly what the Rust fast path does for these three words
//! (`buffer::fast_call` and `fast_finish`'s START, with `HandleTable::pick_raw` and
//! `resolve_range`), in the same order: this CPU's task and its `ending` flag, the
//! task's lock, the handle (slot in range, generation, upper bits, a buffer), the
//! rights, the range, the open accesses (none of this buffer, room for one), the gate's
//! one step (open and unmarked, the counts changed), the reference, the new entry, the
//! lock released, the per-CPU syscall count. At any other outcome it restores what it
//! changed and goes on to `el0_sync` as if it had never run: the Rust fast path, then
//! the full path, handle the call from the start (errors included). Test kernels check
//! every START it takes hold of against the Rust fast path's lookup and the full path's
//! planner before its gate step ([`fast_start_check`]).
//!
//! It reads kernel data in place, so its offsets come from the Rust types at compile
//! time (`offset_of!`, the way Linux's `asm-offsets` does it) wherever the types say
//! where a field is; where a foreign type's layout is not specified (the `spin` mutex's
//! flag and data, `Arc`'s pointer and strong count, an empty slot's tag),
//! [`check_layout`] compares what the assembly assumes with the real thing at boot, on
//! every kernel, and stops the boot if they differ.
//!
//! Why assembly, written by hand: the benchmarks' bound on a 4 KiB START WRITE (80
//! icount cycles, `svc` included) is below what any Rust function called from the
//! vector can reach (the call must save every caller-saved register the function may
//! change, 25 instructions before it does anything), and no crate writes a syscall
//! entry. Only START is here: END (whose bound the Rust path meets) keeps the Rust
//! path.

use super::buffer;
use crate::buffer::Buffer;
use crate::smp::PerCpu;
use crate::task::object::Object;
use crate::task::{Core, CpuAccessSlots, Objects};
use abi::{Rights, Sys};
use alloc::sync::Arc;
use coherency::{CpuAccess, Dir, SyncFlags};
use core::mem::{align_of, offset_of, size_of};
use kobj::gate::Gate;
use kobj::HandleTable;

/// An open access's entry in the task's table ([`CpuAccessSlots`]).
type Entry = (Arc<Buffer>, CpuAccess);
/// A handle slot's entry (`kobj`'s `Slot::entry`, an `Option` of this).
type SlotEntry = (Object, Rights);

/// Where the `spin` mutex keeps its data: after its flag (a byte at offset 0), at the
/// data's alignment ([`check_layout`] checks both).
const MUTEX_DATA: usize = align_of::<Objects>();
/// A task's handle table's [`kobj::RawSlots`], from the task's [`Core`].
const SLOTS: usize = Core::OBJECTS_OFFSET
    + MUTEX_DATA
    + offset_of!(Objects, handles)
    + HandleTable::<Object>::RAW_OFFSET;
/// A slot's `Option<(Object, Rights)>`: its payload is at its start (it is no larger
/// than the payload), and `None` is a value of [`Object`]'s tag that no variant has (the
/// compile-time checks below, and [`check_layout`]).
const SLOT_ENTRY: usize = HandleTable::<Object>::SLOT_ENTRY + offset_of!(SlotEntry, 0);
/// The task's open accesses (an `ArrayVec`, `repr(C)`: its `u32` length, then its
/// elements at their alignment).
const ACCESSES: usize = Core::OBJECTS_OFFSET + MUTEX_DATA + offset_of!(Objects, cpu_access);
const ACCESS_XS: usize = ACCESSES + align_of::<Entry>();
/// `Arc`'s pointer is to its `ArcInner`, `repr(C)`: two counts (the strong one first),
/// then the value ([`check_layout`] checks).
const ARC_DATA: usize = 2 * size_of::<usize>();
/// `Object`'s tag for a buffer: its explicit discriminant (`repr(u64)`: the tag, then
/// the `Arc`).
const TAG_BUFFER: u64 = 2;

/// A `CpuAccess` started in `dir`, as its byte.
const fn access_byte(dir: Dir) -> u8 {
    // SAFETY: `CpuAccess` is one byte (asserted below) with no padding, so every value
    // of it is a valid `u8`.
    unsafe { core::mem::transmute::<CpuAccess, u8>(CpuAccess::started(dir)) }
}

/// The 16-bit chunk `i` of `v`.
const fn chunk(v: u64, i: u32) -> u64 {
    (v >> (16 * i)) & 0xffff
}

const DELTA_READ: u64 = Gate::unmarked_delta(1, 0);
const DELTA_WRITE: u64 = Gate::unmarked_delta(1, 1);

// What the assembly takes for granted about the types, checked as the kernel compiles.
const _: () = {
    assert!(
        Core::OBJECTS_OFFSET == 0,
        "the task's lock is the first thing in Core"
    );
    assert!(size_of::<CpuAccess>() == 1 && size_of::<Rights>() == 4);
    // A `Some` is its payload (same size: the payload starts at 0), and `None` is marked
    // by a value of `Object`'s tag (the only field of the entry with more than one
    // invalid value: `Option<Option<..>>` fits too), so a `None` slot's tag is never 2.
    assert!(size_of::<Option<SlotEntry>>() == size_of::<SlotEntry>());
    assert!(size_of::<Option<Option<SlotEntry>>>() == size_of::<SlotEntry>());
    assert!(align_of::<Buffer>() <= ARC_DATA);
    assert!(size_of::<Object>() == 16 && offset_of!(SlotEntry, 0) % 8 == 0);
    let slot = HandleTable::<Object>::SLOT_SIZE;
    assert!(slot.is_power_of_two() && size_of::<Entry>() == 16);
    assert!(offset_of!(Entry, 0) == 0 && align_of::<Entry>() == 8);
    // The open accesses: a `u32` length, then the elements.
    let accesses = size_of::<CpuAccessSlots>();
    assert!(accesses == align_of::<Entry>() + crate::task::OPEN_ACCESSES * size_of::<Entry>());
    assert!(size_of::<u16>() == 2 && HandleTable::<Object>::SLOT_GENERATION.is_multiple_of(2));
    // The gate's change is two 16-bit chunks (a `movz` and a `movk`).
    assert!(chunk(DELTA_WRITE, 0) == 0 && chunk(DELTA_WRITE, 3) == 0);
    assert!(chunk(DELTA_READ, 0) == 0 && chunk(DELTA_READ, 3) == 0);
    // `vectors.S` compares with these numbers before it branches here.
    assert!(Sys::BufferSync as u64 == 17);
    assert!(SyncFlags::START | SyncFlags::READ == 5);
    assert!(SyncFlags::START | SyncFlags::WRITE == 9);
    assert!(SyncFlags::START | SyncFlags::RW == 13);
};

core::arch::global_asm!(
    r#"
// A START's fast path (see syscall/fast_start.rs). Entered from the lower-EL sync
// vector with every register as the exception left it, x8 = 17 (buffer_sync) and x1 the
// START's word: nothing is known yet of what the exception is. Uses x1 and x8 (both
// known values, put back on every way out) and x9..x12 (saved); x0, x2 and x3 (the
// handle, offset and length) are only read until the START has taken hold.
.macro FAST_START word, need, d1, d2, access
    mrs     x1, esr_el1
    lsr     x1, x1, #26
    cmp     x1, #{EC_SVC64}
    b.ne    90f
    stp     x9, x10, [sp, #-32]!
    stp     x11, x12, [sp, #16]
    .if {KTEST}
    stp     x13, x14, [sp, #-16]!
    .endif
    // This CPU's task (published before its thread went to EL0), if it is not ending.
    mrs     x9, tpidr_el1
    ldr     x10, [x9, #{PERCPU_FAST_TASK}]
    cbz     x10, 80f
    ldrb    w1, [x10, #{CORE_ENDING}]
    cbnz    w1, 80f
    // The task's lock, if it is free (the Rust path waits for it).
    ldaxrb  w1, [x10]
    cbnz    w1, 80f
    mov     w1, #1
    stxrb   w8, w1, [x10]
    cbnz    w8, 80f
    // Held from here: every way out below releases it (70).
    // The handle: its slot (value - 1, 16 bits) in range, the slot's generation equal
    // to every bit above them, a buffer in it.
    sub     w1, w0, #1
    and     x1, x1, #0xffff
    ldr     x8, [x10, #{SLOTS_LEN}]
    cmp     x1, x8
    b.hs    70f
    ldr     x8, [x10, #{SLOTS_BASE}]
    add     x8, x8, x1, lsl #{SLOT_SHIFT}
    ldrh    w1, [x8, #{SLOT_GENERATION}]
    cmp     x1, x0, lsr #16
    b.ne    70f
    ldr     x1, [x8, #{SLOT_TAG}]
    cmp     x1, #{TAG_BUFFER}
    b.ne    70f
    // Its rights, then x8 is the buffer (its ArcInner).
    ldr     w1, [x8, #{SLOT_RIGHTS}]
    ldr     x8, [x8, #{SLOT_ARC}]
    and     w1, w1, #\need
    cmp     w1, #\need
    b.ne    70f
    // The range: offset + length within the buffer, or length 0 at offset 0.
    ldr     x1, [x8, #{BUF_SIZE}]
    cbz     x3, 50f
    adds    x11, x2, x3
    b.cs    70f
    cmp     x11, x1
    b.hi    70f
51: ldr     w1, [x10, #{ACC_LEN}]
    cbnz    w1, 40f
    // No access open in the task: the entry is the first.
    CHECK_HOOK \word
    GATE_STEP \d1, \d2, 70f
    REFERENCE
    str     x8, [x10, #{ACC_XS_ARC}]
    mov     w1, #\access
    strb    w1, [x10, #{ACC_XS_ACCESS}]
    mov     w1, #1
    str     w1, [x10, #{ACC_LEN}]
60: stlrb   wzr, [x10]
    ldr     x1, [x9, #{PERCPU_SYSCALLS}]
    add     x1, x1, #1
    str     x1, [x9, #{PERCPU_SYSCALLS}]
    mov     x0, xzr
    mov     x1, xzr
    mov     x2, xzr
    mov     x8, #{SYS_SYNC}
    POP_SCRATCH
    eret
    // Ways out to the vector's path, with the registers as they came.
70: stlrb   wzr, [x10]
80: POP_SCRATCH
    mov     x8, #{SYS_SYNC}
90: mov     x1, #\word
    b       el0_sync
    // Length 0: the whole buffer, from offset 0 only.
50: cbnz    x2, 70b
    b       51b
    // Accesses open: none may be this buffer's, and there must be room for one more.
40: cmp     w1, #{ACC_CAP}
    b.hs    70b
    add     x11, x10, #{ACC_XS}
41: ldr     x12, [x11], #{ENTRY_SIZE}
    cmp     x12, x8
    b.eq    70b
    subs    w1, w1, #1
    b.ne    41b
    CHECK_HOOK \word
    GATE_STEP \d1, \d2, 70b
    REFERENCE
    ldr     w1, [x10, #{ACC_LEN}]
    add     x11, x10, #{ACC_XS}
    add     x11, x11, x1, lsl #{ENTRY_SHIFT}
    str     x8, [x11]
    mov     w12, #\access
    strb    w12, [x11, #{ENTRY_ACCESS}]
    add     w1, w1, #1
    str     w1, [x10, #{ACC_LEN}]
    b       60b
95: b       fast_start_overflow
    .if {KTEST}
96: b       fast_start_unchecked
    .endif
.endm

// The gate's one step (kobj::gate::Gate::try_change_unmarked): the counts changed by
// d1/d2 (the 16-bit chunks 1 and 2 of the change) if no closer is inside and none ever
// marked the buffer; otherwise to `out` (70: the lock released), nothing changed.
.macro GATE_STEP d1, d2, out
    add     x11, x8, #{BUF_GATE}
1:  movz    x12, #\d1, lsl #16
    movk    x12, #\d2, lsl #32
    ldaxr   x1, [x11]
    tst     x1, #{GATE_FAILS}
    b.ne    \out
    add     x1, x1, x12
    stlxr   w12, x1, [x11]
    cbnz    w12, 1b
    .if {KTEST}
    cbz     x13, 96f
    .endif
.endm

// The entry's reference to the buffer (Arc::clone: the strong count up by one; past
// isize::MAX, as Arc, the kernel stops).
.macro REFERENCE
2:  ldxr    x1, [x8]
    add     x1, x1, #1
    stxr    w12, x1, [x8]
    cbnz    w12, 2b
    tbnz    x1, #63, 95f
.endm

.macro POP_SCRATCH
    .if {KTEST}
    ldp     x13, x14, [sp], #16
    .endif
    ldp     x11, x12, [sp, #16]
    ldp     x9, x10, [sp], #32
.endm

// Test kernels: the Rust check of a START about to take hold (fast_start_check, below),
// every register kept; x13 = whether it checked the START (the gate's step must then
// fail if it did not).
.macro CHECK_HOOK word
    .if {KTEST}
    sub     sp, sp, #160
    stp     x0, x1, [sp, #0]
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x30, [sp, #144]
    mov     x5, x3
    mov     x4, x2
    mov     x2, x0
    mov     x3, #\word
    mov     x1, x8
    add     x0, x10, #{MUTEX_DATA}
    bl      fast_start_check
    str     x0, [sp, #104]
    ldp     x0, x1, [sp, #0]
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x30, [sp, #144]
    add     sp, sp, #160
    .endif
.endm

.section .text.fast_start, "ax"
.global fast_start_read
.global fast_start_write
.global fast_start_rw
.if {ENABLED}
fast_start_read:
    FAST_START {WORD_READ}, {NEED_READ}, {DR1}, {DR2}, {ACCESS_READ}
fast_start_write:
    FAST_START {WORD_WRITE}, {NEED_WRITE}, {DW1}, {DW2}, {ACCESS_WRITE}
fast_start_rw:
    FAST_START {WORD_RW}, {NEED_WRITE}, {DW1}, {DW2}, {ACCESS_RW}
.else
fast_start_read:
fast_start_write:
fast_start_rw:
    b       el0_sync
.endif
"#,
    // The latency kernel's probe times every exception from `fast_syscall` on: it keeps
    // the Rust path.
    ENABLED = const !cfg!(feature = "latency") as u64,
    KTEST = const cfg!(feature = "ktest") as u64,
    EC_SVC64 = const crate::arch::exception::ec::SVC64,
    SYS_SYNC = const Sys::BufferSync as u64,
    PERCPU_FAST_TASK = const offset_of!(PerCpu, fast_task),
    PERCPU_SYSCALLS = const offset_of!(PerCpu, syscalls),
    CORE_ENDING = const Core::ENDING_OFFSET,
    MUTEX_DATA = const MUTEX_DATA,
    SLOTS_BASE = const SLOTS + offset_of!(kobj::RawSlots, base),
    SLOTS_LEN = const SLOTS + offset_of!(kobj::RawSlots, len),
    SLOT_SHIFT = const HandleTable::<Object>::SLOT_SIZE.trailing_zeros(),
    SLOT_GENERATION = const HandleTable::<Object>::SLOT_GENERATION,
    SLOT_TAG = const SLOT_ENTRY,
    SLOT_ARC = const SLOT_ENTRY + 8,
    SLOT_RIGHTS = const HandleTable::<Object>::SLOT_ENTRY + offset_of!(SlotEntry, 1),
    TAG_BUFFER = const TAG_BUFFER,
    BUF_SIZE = const ARC_DATA + offset_of!(Buffer, size),
    BUF_GATE = const ARC_DATA + offset_of!(Buffer, gate) + Gate::WORD_OFFSET,
    GATE_FAILS = const Gate::UNMARKED_FAILS,
    ACC_LEN = const ACCESSES,
    ACC_CAP = const crate::task::OPEN_ACCESSES,
    ACC_XS = const ACCESS_XS,
    ACC_XS_ARC = const ACCESS_XS + offset_of!(Entry, 0),
    ACC_XS_ACCESS = const ACCESS_XS + offset_of!(Entry, 1),
    ENTRY_SIZE = const size_of::<Entry>(),
    ENTRY_SHIFT = const size_of::<Entry>().trailing_zeros(),
    ENTRY_ACCESS = const offset_of!(Entry, 1),
    WORD_READ = const SyncFlags::START | SyncFlags::READ,
    WORD_WRITE = const SyncFlags::START | SyncFlags::WRITE,
    WORD_RW = const SyncFlags::START | SyncFlags::RW,
    NEED_READ = const Rights::MAP_READ.0,
    NEED_WRITE = const Rights::MAP_READ.0 | Rights::MAP_WRITE.0,
    DR1 = const chunk(DELTA_READ, 1),
    DR2 = const chunk(DELTA_READ, 2),
    DW1 = const chunk(DELTA_WRITE, 1),
    DW2 = const chunk(DELTA_WRITE, 2),
    ACCESS_READ = const access_byte(Dir::Read),
    ACCESS_WRITE = const access_byte(Dir::Write),
    ACCESS_RW = const access_byte(Dir::ReadWrite),
);

/// An open access's reference count overflowed (as `Arc::clone` would abort).
#[no_mangle]
extern "C" fn fast_start_overflow() -> ! {
    panic!("a buffer's reference count overflowed (fast START)");
}

/// Test kernels: the assembly took hold of a START the check did not cover.
#[no_mangle]
extern "C" fn fast_start_unchecked() -> ! {
    panic!("the fast START took hold without a pass of a buffer it could not check");
}

/// Test kernels: the assembly START is about to take hold of the buffer `arc` (its
/// `ArcInner`) for the call `(handle, word, offset, len)`, holding the task's lock over
/// `objects`. Checks it found what the Rust fast path finds (the same buffer, the
/// rights, the range, no open access of it, room for one) and, on a quiet buffer, that
/// the full path's planner agrees (`buffer::quiet_start_checked`); returns whether it
/// checked the planner (1), which the gate's step must then match.
///
/// # Safety
/// Called only by the assembly above, with the task's lock held by it and `objects`
/// the data that lock guards.
#[no_mangle]
unsafe extern "C" fn fast_start_check(
    objects: *const Objects,
    arc: usize,
    handle: u64,
    word: u64,
    offset: u64,
    len: u64,
) -> u64 {
    // SAFETY: the caller holds the lock that guards `objects` (see `# Safety`), so
    // nothing else writes it until it lets go, after this returns.
    let o = unsafe { &*objects };
    let dir = match word {
        w if w == SyncFlags::START | SyncFlags::READ => Dir::Read,
        w if w == SyncFlags::START | SyncFlags::WRITE => Dir::Write,
        _ => Dir::ReadWrite,
    };
    let a = [handle, word, offset, len, 0, 0];
    u64::from(buffer::asm_start_checked(o, a, dir, arc + ARC_DATA))
}

/// Compares what the assembly assumes of types whose layout Rust does not specify with
/// the real layout, and stops the boot if any differs (a new compiler or crate version
/// may change them; the kernel would then read the wrong fields).
pub fn check_layout() {
    use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
    let fail = |what: &str| panic!("the fast START's layout assumption failed: {what}");
    // The `spin` mutex: its flag a byte at its start (1 while held), its data at
    // `MUTEX_DATA`.
    let m = spin::Mutex::new(Objects {
        handles: HandleTable::new(1),
        cpu_access: CpuAccessSlots::new(),
    });
    let base = &m as *const _ as usize;
    // SAFETY: the mutex is at least one byte, and its flag (an `AtomicBool`, so a byte
    // that is always initialized) is where this reads if the assumption holds; if it
    // does not, the byte read is still inside the live mutex (its first), and only
    // compared.
    let flag = || unsafe { &*(base as *const AtomicU8) }.load(Ordering::Relaxed);
    {
        let g = m.lock();
        if &*g as *const Objects as usize - base != MUTEX_DATA {
            fail("the mutex's data");
        }
        if flag() != 1 {
            fail("the mutex's flag while held");
        }
    }
    if flag() != 0 {
        fail("the mutex's flag while free");
    }
    // `Arc`: one pointer, to the strong count, the value `ARC_DATA` after it.
    let a = Arc::new(0u64);
    let b = a.clone();
    // SAFETY: reads the first 8 bytes of `a` (an `Arc` is at least a pointer, and its
    // size is checked to be exactly that just below) as an address, only to compare it.
    let inner: usize = unsafe { core::mem::transmute_copy(&a) };
    if inner + ARC_DATA != Arc::as_ptr(&a) as usize || size_of::<Arc<u64>>() != 8 {
        fail("Arc's pointer");
    }
    // SAFETY: `inner` is the `ArcInner` of `a`, live (held by `a` and `b`); its first
    // word is a count, an `AtomicUsize`, if the assumption holds; read atomically.
    let strong = unsafe { &*(inner as *const AtomicUsize) }.load(Ordering::Relaxed);
    if strong != Arc::strong_count(&a) || strong != 2 {
        fail("Arc's strong count");
    }
    drop(b);
    // An empty slot's tag is not a buffer's: `None` is a value of `Object`'s tag that
    // is no variant's (see the compile-time checks), written over the old tag.
    let mut slot = core::mem::MaybeUninit::<Option<SlotEntry>>::uninit();
    let p = slot.as_mut_ptr() as *mut u64;
    // SAFETY: `slot` is `size_of::<SlotEntry>()` (16) bytes, so its first word is
    // writable; this makes it a buffer's tag before `None` is written over the slot.
    unsafe { p.write(TAG_BUFFER) };
    slot.write(None);
    let tag: u64;
    // SAFETY: reads the slot's first word as the assembly does, in place: a load of
    // memory that is live and aligned (whatever Rust considers its bytes to be).
    unsafe {
        core::arch::asm!("ldr {t}, [{p}]", t = out(reg) tag, p = in(reg) p, options(nostack, readonly))
    };
    if tag == TAG_BUFFER {
        fail("an empty slot's tag");
    }
}
