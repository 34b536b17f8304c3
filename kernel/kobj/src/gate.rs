//! [`Gate`]: a per-object gate between the kernel's lock-free fast paths ("passes",
//! many at once, none of which may wait) and the kernel paths that must see the object
//! still while they decide and act ("closers", which wait for the passes inside to
//! leave).
//!
//! The kernel uses one per buffer: a `buffer_sync` on the fast path runs inside a pass
//! (it reads the device fences and changes the buffer's holder counts there), and a
//! device submission's last misuse check through its fence publication, a legacy fault's
//! decision and maintenance, and the creation or end of a legacy mapping run with the
//! gate closed. So a fast START can never slip between a submission's "no CPU writer
//! holds the buffer" and its fence, and the fast path never has to wait: a pass that
//! finds the gate closed is refused and the call takes the full path (behind the kernel
//! lock, so after the closer).
//!
//! Why not `spin::RwLock`: its writer waits for a moment with no reader at all, which
//! steady fast-path traffic on other CPUs could postpone for ever; here closing comes
//! first (new passes are refused at once) and the wait is only for the passes already
//! inside, each a bounded piece of code. Both sides touch one atomic word, so its
//! modification order decides every race: a pass counted before the close is waited
//! for, one counted after it sees the close. `loom` checks this (`cargo xtask test`
//! runs `tests/gate_loom.rs`).

#[cfg(loom)]
use loom::sync::atomic::{AtomicU32, Ordering};

#[cfg(not(loom))]
use core::sync::atomic::{AtomicU32, Ordering};

/// Passes inside are counted in the low half, closers in the high half.
const PASSES: u32 = 0xFFFF;
const CLOSER: u32 = 1 << 16;

/// See the module documentation.
#[derive(Debug, Default)]
pub struct Gate {
    state: AtomicU32,
}

/// A fast path inside an open [`Gate`]; it leaves when this is dropped.
#[must_use = "the pass leaves the gate when dropped"]
#[derive(Debug)]
pub struct Pass<'g>(&'g Gate);

/// A [`Gate`] closed: no pass is inside, and none enters until this is dropped.
#[must_use = "the gate opens again when dropped"]
#[derive(Debug)]
pub struct Closed<'g>(&'g Gate);

impl Gate {
    /// An open gate.
    #[cfg(not(loom))]
    pub const fn new() -> Gate {
        Gate {
            state: AtomicU32::new(0),
        }
    }

    /// An open gate (loom's atomics have no `const` constructor).
    #[cfg(loom)]
    pub fn new() -> Gate {
        Gate {
            state: AtomicU32::new(0),
        }
    }

    /// Enter if the gate is open; `None` if it is closed (or closing). Never waits.
    ///
    /// At most 65,535 passes may be inside at once (one per CPU in the kernel).
    #[inline(always)]
    pub fn try_pass(&self) -> Option<Pass<'_>> {
        let before = self.state.fetch_add(1, Ordering::Acquire);
        if before & !PASSES != 0 {
            self.state.fetch_sub(1, Ordering::Release);
            return None;
        }
        Some(Pass(self))
    }

    /// Close the gate and wait until the passes inside have left. Closers may nest (the
    /// gate opens when the last is dropped); callers serialize otherwise (the kernel
    /// closes only under its kernel lock), so closers never wait for each other.
    pub fn close(&self) -> Closed<'_> {
        self.state.fetch_add(CLOSER, Ordering::Acquire);
        while self.state.load(Ordering::Acquire) & PASSES != 0 {
            spin_hint();
        }
        Closed(self)
    }

    /// True if the gate is closed (for assertions and tests).
    pub fn is_closed(&self) -> bool {
        self.state.load(Ordering::Relaxed) & !PASSES != 0
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        self.0.state.fetch_sub(1, Ordering::Release);
    }
}

impl Drop for Closed<'_> {
    fn drop(&mut self) {
        self.0.state.fetch_sub(CLOSER, Ordering::Release);
    }
}

#[cfg(loom)]
fn spin_hint() {
    loom::thread::yield_now();
}

#[cfg(not(loom))]
fn spin_hint() {
    core::hint::spin_loop();
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_closed_gate_refuses_passes_until_every_closer_is_gone() {
        let g = Gate::new();
        let outer = g.close();
        assert!(g.try_pass().is_none());
        let inner = g.close();
        drop(outer);
        assert!(g.try_pass().is_none(), "one closer is still there");
        drop(inner);
        assert!(g.try_pass().is_some());
        assert!(!g.is_closed());
    }

    #[test]
    fn passes_do_not_exclude_each_other_and_a_refused_pass_leaves_no_count() {
        let g = Gate::new();
        let a = g.try_pass().unwrap();
        let b = g.try_pass().unwrap();
        drop((a, b));
        let c = g.close();
        for _ in 0..10 {
            assert!(g.try_pass().is_none());
        }
        drop(c);
        // Had a refused pass stayed counted, this close would wait for ever.
        let _c = g.close();
    }

    #[test]
    fn a_closer_waits_for_the_pass_inside() {
        use std::sync::atomic::AtomicBool;
        use std::sync::Arc;
        let g = Arc::new(Gate::new());
        let left = Arc::new(AtomicBool::new(false));
        let pass = g.try_pass().unwrap();
        let closer = {
            let (g, left) = (g.clone(), left.clone());
            std::thread::spawn(move || {
                let _c = g.close();
                assert!(left.load(Ordering::SeqCst), "closed with a pass inside");
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        left.store(true, Ordering::SeqCst);
        drop(pass);
        closer.join().unwrap();
    }
}
