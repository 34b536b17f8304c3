//! Suite `sync`: one `DMA_BUF_IOCTL_SYNC` on a udmabuf, for each direction and size of
//! the project's sync suite (`userland/bench/src/sync_suite.rs`: the same sizes, cases,
//! repetitions and untimed START/END around each timed call). Linux syncs only whole
//! buffers, so there is one variant, `linux-ioctl` (the project's `whole`). A record's
//! `windows` are its measured calls, phase 0 ([`crate::record`]).

use crate::dmabuf::sync::{END, READ, RW, START, WRITE};
use crate::dmabuf::DmaBuf;
use crate::quiet::{repeat, Spans};
use crate::record::Record;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// Buffer sizes (the project's).
pub const SIZES: [u64; 8] = [
    4 * KIB,
    16 * KIB,
    64 * KIB,
    256 * KIB,
    MIB,
    4 * MIB,
    8 * MIB,
    16 * MIB,
];

/// Repetitions (the project's: 16 up to 1 MiB, then 1).
pub fn reps_for(size: u64) -> u64 {
    if size <= MIB {
        16
    } else {
        1
    }
}

/// `(case, untimed before, timed flags, untimed after)`; a second timed flag makes a pair.
type Case = (&'static str, Option<u64>, &'static [u64], Option<u64>);

/// The project's cases.
pub const CASES: [Case; 7] = [
    ("START READ", None, &[START | READ], Some(END | READ)),
    ("START WRITE", None, &[START | WRITE], Some(END | WRITE)),
    ("START RW", None, &[START | RW], Some(END | RW)),
    ("END READ", Some(START | READ), &[END | READ], None),
    ("END WRITE", Some(START | WRITE), &[END | WRITE], None),
    ("END RW", Some(START | RW), &[END | RW], None),
    ("START+END WRITE", None, &[START | WRITE, END | WRITE], None),
];

/// Run the suite on dma-bufs made through `/dev/udmabuf` (`udmabuf`).
pub fn run(udmabuf: i32) -> Result<(), String> {
    for size in SIZES {
        let buf = DmaBuf::new(udmabuf, size as usize)?;
        for (name, before, timed, after) in CASES {
            let untimed = |f: Option<u64>| f.map_or(Ok(()), |f| buf.sync(f).map(|_| ()));
            let (totals, windows) = repeat(
                name,
                reps_for(size),
                timed.len() as u64,
                || untimed(before),
                || {
                    let mut spans: Spans = [None; 2];
                    for (w, &f) in spans.iter_mut().zip(timed) {
                        *w = Some(buf.sync_span(f)?);
                    }
                    Ok(spans)
                },
                || untimed(after),
            )?;
            Record {
                suite: "sync",
                case: name,
                variant: "linux-ioctl",
                size,
                totals,
                extra: Vec::new(),
                windows: windows.into_iter().map(|(s, e)| (0, s, e)).collect(),
            }
            .print();
        }
    }
    Ok(())
}
