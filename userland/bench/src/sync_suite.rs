//! Suite `sync`: the cost of one `buffer_sync` call on a mapped, cached buffer, for each
//! direction and size.
//!
//! For every size in [`SIZES`] a fresh cached buffer is created and mapped read-write
//! (the CPU does not touch it: under QEMU the contents do not change what the kernel
//! does). Each [`CASES`] entry is measured with variant `whole` (`len` 0: the whole
//! buffer) and `ranged` (offset [`RANGE_EDGE`], `len = size - 2 * RANGE_EDGE`: a byte
//! range whose ends fall inside cache lines, so the edge lines are handled as partial).
//! `cycles` are those of exactly the `svc` ([`timed_sync`]: the cycle counter read
//! right before and right after it), the pair's the sum of its two calls'; the START or
//! END that keeps the pairing valid runs untimed and outside the counters.
//!
//! What the numbers show (non-coherent devices, `dma=noncoherent`): no device ever
//! touches these buffers, so with coherence-boundary maintenance no call maintains a
//! line (END WRITE and RW record their lines as dirty, START READ and RW find none
//! stale), whatever the size: this is the cost of the call itself. Where the clean went
//! (the present that reads the lines) is the `boundary` suite.

use crate::measure::{repeat, timed_sync};
use crate::report::Record;
use crate::{kib, mib, Failed, MappedBuffer, OrFail};
use urt::sync::{END, READ, RW, START, WRITE};

/// Buffer sizes measured (bytes).
pub const SIZES: [u64; 8] = [
    kib(4),
    kib(16),
    kib(64),
    kib(256),
    mib(1),
    mib(4),
    mib(8),
    mib(16),
];

/// Repetitions: small cases are averaged over 16 calls; from 4 MiB on one call is
/// enough (the count is deterministic and a call is hundreds of thousands of cycles).
pub fn reps_for(size: u64) -> u64 {
    if size <= mib(1) {
        16
    } else {
        1
    }
}

/// Bytes left out at each end of the `ranged` variant.
pub const RANGE_EDGE: u64 = 100;

/// One thing to measure: the `buffer_sync` flags of the timed call(s), and the untimed
/// calls before and after that keep every START matched by an END.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    /// The `case` in the output.
    pub name: &'static str,
    /// Untimed call before (the START an END needs).
    pub before: Option<u64>,
    /// The timed call, or the timed pair.
    pub timed: Timed,
    /// Untimed call after (the END a START needs).
    pub after: Option<u64>,
}

/// The timed part of a [`Case`].
#[derive(Clone, Copy, Debug)]
pub enum Timed {
    /// One call with these flags.
    One(u64),
    /// Two calls in a row; their cycles added.
    Pair(u64, u64),
}

/// Every case: each START and END alone, and a START WRITE + END WRITE pair.
pub const CASES: [Case; 7] = [
    Case {
        name: "START READ",
        before: None,
        timed: Timed::One(START | READ),
        after: Some(END | READ),
    },
    Case {
        name: "START WRITE",
        before: None,
        timed: Timed::One(START | WRITE),
        after: Some(END | WRITE),
    },
    Case {
        name: "START RW",
        before: None,
        timed: Timed::One(START | RW),
        after: Some(END | RW),
    },
    Case {
        name: "END READ",
        before: Some(START | READ),
        timed: Timed::One(END | READ),
        after: None,
    },
    Case {
        name: "END WRITE",
        before: Some(START | WRITE),
        timed: Timed::One(END | WRITE),
        after: None,
    },
    Case {
        name: "END RW",
        before: Some(START | RW),
        timed: Timed::One(END | RW),
        after: None,
    },
    Case {
        name: "START+END WRITE",
        before: None,
        timed: Timed::Pair(START | WRITE, END | WRITE),
        after: None,
    },
];

/// The byte ranges measured: `(variant, offset, len)`.
pub fn variants(size: u64) -> [(&'static str, u64, u64); 2] {
    [
        ("whole", 0, 0),
        ("ranged", RANGE_EDGE, size - 2 * RANGE_EDGE),
    ]
}

/// Run the suite.
pub fn run() -> Result<(), Failed> {
    for size in SIZES {
        let buf = MappedBuffer::new(size)?;
        for case in CASES {
            for (variant, offset, len) in variants(size) {
                measure(&buf, case, variant, offset, len)?;
            }
        }
        buf.close()?;
    }
    Ok(())
}

/// Measure `case` over `[offset, offset + len)` of `buf` and print the record.
fn measure(
    buf: &MappedBuffer,
    case: Case,
    variant: &str,
    offset: u64,
    len: u64,
) -> Result<(), Failed> {
    let h = buf.handle;
    let untimed =
        |flags: Option<u64>| flags.map_or(Ok(()), |f| urt::buffer_sync(h, f, offset, len));
    let sync = |flags: u64| timed_sync(h, flags, offset, len);
    let totals = repeat(
        reps_for(buf.size),
        || untimed(case.before),
        || match case.timed {
            Timed::One(a) => sync(a),
            Timed::Pair(a, b) => Ok(sync(a)? + sync(b)?),
        },
        || untimed(case.after),
    )
    .or_fail(case.name)?;
    Record {
        suite: "sync",
        case: case.name,
        variant,
        size: buf.size,
        totals,
        phases: None,
        extra: &[],
    }
    .print();
    Ok(())
}
