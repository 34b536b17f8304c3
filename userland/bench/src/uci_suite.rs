//! Suite `uci` (its own boot, with `uci` on the kernel command line): what the EL0
//! option of END saves. A task that wrote a buffer hands it to the device:
//!
//! - variant `kernel`: END WRITE of the whole buffer (the kernel records its lines as
//!   dirty), then the present, which cleans them (`DC CVAC` in the kernel, in steps of
//!   at most 6,144 lines with a preemption point between two) and tells the device;
//! - variant `el0`: the task cleans the whole buffer itself
//!   (`urt::uclean::clean_dcache_range`: `DC CVAC` per line, unrolled by 8 as the
//!   kernel's loop is, then `DSB SY`), END WRITE with `USER_CLEANED` (nothing recorded;
//!   the kernel's `DSB`), then the present, which has nothing to clean.
//!
//! For every size in [`SIZES`] a fresh buffer created with `USER_CLEAN` is mapped,
//! imported as a GPU resource of whole rows (as in the `boundary` suite) and presented
//! once (the creation's zeros), not measured. Each repetition starts with an untimed
//! START WRITE; `cycles` is the END side plus the present (`end_cycles`: for `el0` the
//! user loop and the END call, `present_cycles`: the `gpu_present` call), per
//! operation. The kernel's event counters count only the kernel's own maintenance, so
//! `lines_cleaned` is the kernel's share: all lines for `kernel`, none for `el0` (the
//! task cleaned them). `masked_max`: the longest stretch the kernel ran with IRQs
//! masked during the measurement. The present's fence is waited for outside it.

use crate::boundary_suite::{width, Imported};
use crate::measure::{now, repeat, timed_sync, Totals};
use crate::report::Record;
use crate::sync_suite::reps_for;
use crate::{kib, mib, Failed, OrFail, FENCE_TIMEOUT_NS};
use core::cell::Cell;
use urt::sync::{END, START, USER_CLEANED, WRITE};
use urt::uclean::clean_dcache_range;
use urt::{policy, Fence};

/// Buffer sizes.
pub const SIZES: [u64; 4] = [kib(4), kib(64), mib(1), mib(4)];

/// Whether this boot has the EL0 option (`uci`): a buffer can opt in.
pub fn available() -> bool {
    match urt::buffer_create(4096, policy::CACHED | policy::USER_CLEAN) {
        Ok(h) => urt::handle_close(h).is_ok(),
        Err(_) => false,
    }
}

/// The END side and the present, `el0` or not, on one buffer.
fn measure(t: &Imported, el0: bool) -> Result<(), Failed> {
    let fence: Cell<Option<Fence>> = Cell::new(None);
    // The phases of the last attempt: `repeat` runs one again if a tick landed in it,
    // and with one repetition per call the last attempt is the one it kept.
    let last = Cell::new((0u64, 0u64));
    let wait = || match fence.take() {
        Some(f) => urt::fence_wait(f, FENCE_TIMEOUT_NS),
        None => Ok(()),
    };
    let mut totals = Totals::default();
    let (mut end_sum, mut present_sum) = (0, 0);
    for _ in 0..reps_for(t.buf.size) {
        let one = repeat(
            1,
            || urt::buffer_sync(t.buf.handle, START | WRITE, 0, 0),
            || {
                let end = if el0 {
                    let t0 = now();
                    clean_dcache_range(t.buf.ptr, t.buf.size as usize);
                    let user = crate::windows::window(t0, now());
                    user + timed_sync(t.buf.handle, END | WRITE | USER_CLEANED, 0, 0)?
                } else {
                    timed_sync(t.buf.handle, END | WRITE, 0, 0)?
                };
                let (f, present) = t.present()?;
                fence.set(Some(f));
                last.set((end, present));
                Ok(end + present)
            },
            wait,
        )
        .or_fail(if el0 {
            "el0 END + present"
        } else {
            "END + present"
        })?;
        totals.reps += one.reps;
        totals.cycles += one.cycles;
        totals.events += one.events;
        totals.masked_max = totals.masked_max.max(one.masked_max);
        end_sum += last.get().0;
        present_sum += last.get().1;
    }
    let reps = totals.reps.max(1);
    let extra = [
        ("end_cycles", end_sum / reps),
        ("present_cycles", present_sum / reps),
    ];
    Record {
        suite: "uci",
        case: "END WRITE + present",
        variant: if el0 { "el0" } else { "kernel" },
        size: t.buf.size,
        totals,
        phases: None,
        extra: &extra,
    }
    .print();
    Ok(())
}

/// Run the suite.
pub fn run() -> Result<(), Failed> {
    for size in SIZES {
        // A mapped `USER_CLEAN` buffer imported as a resource of whole rows.
        let t = Imported::with_policy(size, width(size), policy::CACHED | policy::USER_CLEAN)?;
        measure(&t, false)?;
        measure(&t, true)?;
        t.close()?;
    }
    Ok(())
}
