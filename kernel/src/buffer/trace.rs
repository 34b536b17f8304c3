//! The maintenance trace: in test kernels every range operation of buffer maintenance
//! is recorded (op, buffer, offset, length, address) so QEMU tests can assert exactly
//! what was issued. QEMU cannot show a missing clean in the data; the trace can.
//! Normal kernels record nothing and `trace` answers `NotSupported`.
//!
//! Maintenance entries come from the DC loop itself ([`crate::arch::cache::Executed`]):
//! the instruction it executed and the lines it counted while executing, not the plan it
//! was given, so a broken loop shows in the trace. An entry with op 0 means the loop's
//! count and its end address disagree (it skipped or repeated lines) or it executed an
//! instruction that is not a clean or invalidate. Blocking on a device fence is
//! recorded where the task blocks (`OP_FENCE_WAIT`).

use crate::arch::cache::Executed;
use abi::trace::Entry;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};
use mm::cache::CacheOp;
use spin::Mutex;

/// Most entries kept; later ones are counted but dropped. The whole capacity is
/// reserved at boot ([`reserve`]), so recording never allocates: a syscall cannot grow
/// the kernel heap through the trace, and the heap in use is the same before and after
/// any amount of recording.
const CAPACITY: usize = 8192;

struct Trace {
    entries: Vec<Entry>,
    dropped: usize,
}

static TRACE: Mutex<Trace> = Mutex::new(Trace {
    entries: Vec::new(),
    dropped: 0,
});

/// The next run recorded continues the previous step of the same operation.
static CONTINUE: AtomicBool = AtomicBool::new(false);

/// Say that the next maintenance run recorded is the next step of the operation whose
/// run was recorded last (see `buffer::job`).
pub fn continue_next() {
    if ENABLED {
        CONTINUE.store(true, Ordering::Relaxed);
    }
}

/// True if this kernel records the trace.
pub const ENABLED: bool = cfg!(feature = "ktest");

/// Reserve the trace's [`CAPACITY`] entries (once, at boot; test kernels only). If the
/// heap cannot give them, fewer are kept (and the rest counted as dropped).
pub fn reserve() {
    if ENABLED {
        let _ = TRACE.lock().entries.try_reserve_exact(CAPACITY);
    }
}

/// Keep `e` if there is room already reserved (never allocates), or count it dropped.
fn keep(t: &mut Trace, e: Entry) {
    if t.entries.len() < CAPACITY.min(t.entries.capacity()) {
        t.entries.push(e);
    } else {
        t.dropped += 1;
    }
}

/// Record what one DC loop executed for `buffer`, whose first byte is at `base_va`.
pub fn record(buffer: u64, base_va: u64, done: &Executed) {
    if !ENABLED {
        return;
    }
    let (op, lines) = match done.covered() {
        Some((CacheOp::Clean, _, n)) => (abi::trace::OP_CLEAN, n),
        Some((CacheOp::Invalidate, _, n)) => (abi::trace::OP_INVALIDATE, n),
        Some((CacheOp::CleanInvalidate, _, n)) => (abi::trace::OP_CLEAN_INVALIDATE, n),
        None => (0, done.lines),
    };
    push(Entry {
        op,
        buffer,
        offset: done.start.wrapping_sub(base_va),
        len: lines * done.line,
        va: done.start,
    });
}

fn push(e: Entry) {
    let mut t = TRACE.lock();
    // A range maintained in several bounded steps (`buffer::job`) is one operation:
    // the first run of a later step extends the last entry when it continues it (same
    // op and buffer, the next line).
    let continuing = CONTINUE.swap(false, Ordering::Relaxed);
    if let Some(last) = t.entries.last_mut().filter(|_| continuing) {
        let continues = last.op == e.op
            && last.buffer == e.buffer
            && last.va.checked_add(last.len) == Some(e.va)
            && last.offset.checked_add(last.len) == Some(e.offset);
        if continues {
            last.len += e.len;
            return;
        }
    }
    keep(&mut t, e);
}

/// Record that a device is being told to read `[offset, offset + len)` of `buffer`.
pub fn record_device_read(buffer: u64, offset: u64, len: u64) {
    record_event(abi::trace::OP_DEVICE_READ, buffer, offset, len, 0);
}

/// Record a non-maintenance event (`abi::trace::OP_*`).
pub fn record_event(op: u64, buffer: u64, offset: u64, len: u64, va: u64) {
    if !ENABLED {
        return;
    }
    let mut t = TRACE.lock();
    let e = Entry {
        op,
        buffer,
        offset,
        len,
        va,
    };
    keep(&mut t, e);
}

/// Forget everything recorded.
pub fn clear() {
    let mut t = TRACE.lock();
    t.entries.clear();
    t.dropped = 0;
}

/// Call `f` with the recorded entries; returns the total recorded (kept + dropped).
pub fn with_entries<R>(f: impl FnOnce(&[Entry]) -> R) -> (R, usize) {
    let t = TRACE.lock();
    (f(&t.entries), t.entries.len() + t.dropped)
}
