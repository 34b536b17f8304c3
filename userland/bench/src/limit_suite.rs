//! Suite `limit`: the floor a `buffer_sync` can approach. `bench_dc_loop` runs the same
//! unrolled DC loop `buffer_sync` uses over a whole buffer, timed *inside* the kernel
//! with nothing around it; its `cycles` are that loop alone (no syscall entry, handle
//! lookup, range checks or return), for the sizes of the `sync` suite. The gap between a
//! `sync` `whole` record and the `limit` record of the same size and operation is the
//! overhead of the call.
//!
//! Cases: `clean` (DC CVAC, what END WRITE does) and `invalidate` (DC IVAC, what START
//! READ does); variant `bare-dc-loop`. The kernel's events are counted around the call,
//! as everywhere (so `syscalls` is 1).

use crate::measure::repeat;
use crate::report::Record;
use crate::sync_suite::{reps_for, SIZES};
use crate::{Failed, MappedBuffer, OrFail};
use urt::trace::{OP_CLEAN, OP_INVALIDATE};

/// The operations measured: `(case, op)`; `bench_dc_loop` numbers its operations like
/// the trace (1 clean, 2 invalidate, 3 clean + invalidate).
pub const CASES: [(&str, u64); 2] = [("clean", OP_CLEAN), ("invalidate", OP_INVALIDATE)];

/// Run the suite.
pub fn run() -> Result<(), Failed> {
    for size in SIZES {
        let buf = MappedBuffer::new(size)?;
        for (case, op) in CASES {
            let totals = repeat(
                reps_for(size),
                || Ok(()),
                || urt::bench_dc_loop(buf.handle, op, 0, size),
                || Ok(()),
            )
            .or_fail("bench_dc_loop")?;
            Record {
                suite: "limit",
                case,
                variant: "bare-dc-loop",
                size,
                totals,
                phases: None,
                extra: &[],
            }
            .print();
        }
        buf.close()?;
    }
    Ok(())
}
