//! The timed windows of the records that print none (`sync`, `boundary`, `handover`),
//! found in the plugin's cycle-counter reads, so that `bench --model` can give them
//! modeled cycles too without the bench program printing more.
//!
//! How, and why it cannot pick the wrong windows silently:
//!
//! - Only the program's reads count: the `MRS` is at a user address (below the kernel's
//!   upper half). A syscall timed at its `svc` (`timed_syscall_span` in `urt`, always
//!   inlined as `mrs; svc #0; mrs`) is a pair of consecutive user reads whose second
//!   `MRS` is 8 bytes after the first.
//! - Records are printed in the order they were measured, after their measurement. The
//!   search walks the user reads once, in order: a record's windows are the first run
//!   after the previous record's that fits, and a record with printed windows (frame,
//!   readback) moves the walk past its last window.
//! - `sync` and `boundary`: per repetition one or two timed calls (the last of a group
//!   of up to three consecutive ones: a repetition may time calls before what it
//!   measures), `reps` groups in a row, whose lengths add up to exactly the record's
//!   `total_cycles`. `handover`: one window from one user
//!   read to a later one (within [`HANDOVER_READS`]) exactly `total_cycles` long.
//! - A record for which no such run exists (a repetition retried after a timer tick
//!   leaves its discarded call between the others) is not attributed, and named.

use crate::bench::Record;
use crate::bench_model::{add, sub, Read, Row};
use cachemodel::CostUnits;

/// Reads at addresses from here up are the kernel's.
const KERNEL_VA: u64 = 1 << 48;

/// How far (in user reads) the hand-over's closing read may be from its opening one.
const HANDOVER_READS: usize = 64;

/// How many timed calls the search looks past before giving up on a record.
const LOOKAHEAD: usize = 4096;

/// A timed call: indices of its two reads in the user reads.
#[derive(Clone, Copy, Debug)]
struct Call {
    start: usize,
    end: usize,
}

fn length(user: &[&Read], c: &Call) -> u64 {
    user[c.end].value.wrapping_sub(user[c.start].value)
}

/// Find the windows of every `sync`, `boundary` and `handover` record; returns the
/// rows attributed and the keys of the records that could not be.
pub fn find(records: &[Record], reads: &[Read]) -> (Vec<Row>, Vec<String>) {
    let user: Vec<&Read> = reads.iter().filter(|r| r.pc < KERNEL_VA).collect();
    let calls: Vec<Call> = (1..user.len())
        .filter(|&i| user[i].pc == user[i - 1].pc.wrapping_add(8))
        .map(|i| Call {
            start: i - 1,
            end: i,
        })
        .collect();
    // The walk: the first user read not yet claimed.
    let mut at = 0usize;
    let mut rows = Vec::new();
    let mut missed = Vec::new();
    for r in records {
        let total = r.num("total_cycles").unwrap_or(-1.0);
        let reps = r.num("reps").unwrap_or(0.0) as u64;
        let windows: Option<Vec<(usize, usize)>> = match r.suite.as_str() {
            "frame" | "readback" => {
                // Past this record's last printed window.
                let last = r
                    .raw
                    .get("windows")
                    .and_then(|w| w.as_array())
                    .and_then(|w| w.last())
                    .and_then(|w| w.get(2))
                    .and_then(|v| v.as_u64());
                if let Some(end) = last {
                    if let Some(i) = (at..user.len()).find(|&i| user[i].value == end) {
                        at = i + 1;
                    }
                }
                continue;
            }
            "sync" | "boundary" => {
                let first = calls.partition_point(|c| c.start < at);
                // Per repetition, a group of `g` timed calls of which the last `m` are
                // the measured ones (the others: timed calls the repetition makes
                // before what it measures, e.g. the rectangle's START and END before
                // its present).
                let run = |g: usize, m: usize| {
                    let k = g * reps as usize;
                    (first..calls.len().min(first + LOOKAHEAD)).find_map(|s| {
                        let group = calls.get(s..s + k)?;
                        let used: Vec<&Call> = group.chunks(g).flat_map(|c| &c[g - m..]).collect();
                        let sum: u64 = used.iter().map(|c| length(&user, c)).sum();
                        (sum as f64 == total)
                            .then(|| used.iter().map(|c| (c.start, c.end)).collect())
                    })
                };
                let shapes: &[(usize, usize)] = if r.case == "START+END WRITE" {
                    &[(2, 2), (1, 1), (3, 2)]
                } else {
                    &[(1, 1), (2, 2), (2, 1), (3, 1), (3, 2)]
                };
                shapes.iter().find_map(|&(g, m)| run(g, m))
            }
            "handover" => (at..user.len()).find_map(|i| {
                (i + 1..user.len().min(i + 1 + HANDOVER_READS))
                    .find(|&j| user[j].value.wrapping_sub(user[i].value) as f64 == total)
                    .map(|j| vec![(i, j)])
            }),
            _ => continue,
        };
        let Some(windows) = windows.filter(|w| !w.is_empty()) else {
            missed.push(r.key());
            continue;
        };
        let mut cycles = 0;
        let mut units = CostUnits::default();
        for &(s, e) in &windows {
            cycles += user[e].value - user[s].value;
            add(&mut units, sub(user[e].units, user[s].units));
        }
        at = windows.last().map_or(at, |w| w.1 + 1);
        rows.push(Row {
            suite: r.suite.clone(),
            case: r.case.clone(),
            variant: r.variant.clone(),
            size: r.size,
            reps,
            cycles: [cycles, 0, 0],
            units: [units, CostUnits::default(), CostUnits::default()],
            faults: r.num("faults").unwrap_or(0.0) as u64,
            tlbis: r.num("tlbis").unwrap_or(0.0) as u64,
        });
    }
    (rows, missed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::parse_record;

    fn read(value: u64, pc: u64, dram: u64) -> Read {
        Read {
            value,
            pc,
            units: CostUnits {
                dram,
                ..CostUnits::default()
            },
        }
    }

    fn record(suite: &str, case: &str, reps: u64, total: u64) -> Record {
        parse_record(&format!(
            "{{\"suite\":\"{suite}\",\"case\":\"{case}\",\"variant\":\"whole\",\"size\":4096,\
             \"reps\":{reps},\"cycles\":{},\"total_cycles\":{total},\"lines_cleaned\":0,\
             \"lines_invalidated\":0,\"lines_clean_invalidated\":0,\"syscalls\":1,\"faults\":0,\
             \"zaps\":0,\"tlbis\":0,\"setway_ops\":0}}",
            total / reps
        ))
        .unwrap()
    }

    #[test]
    fn timed_calls_are_found_in_order_and_exactly() {
        const K: u64 = 0xffff_0000_0000_1000;
        let reads = vec![
            read(100, 0x4000, 0),
            read(110, K, 1), // the kernel's: ignored
            read(150, 0x4008, 2),
            read(200, 0x4000, 2),
            read(260, 0x4008, 5),
            // A pair that is not a timed call (now() ... now()).
            read(300, 0x5000, 5),
            read(400, 0x6000, 9),
            read(500, 0x4000, 9),
            read(540, 0x4008, 10),
            // Two repetitions of (timed START, timed END, timed present): 7 + 9 counted.
            read(600, 0x4000, 10),
            read(601, 0x4008, 10),
            read(610, 0x4000, 10),
            read(611, 0x4008, 10),
            read(620, 0x4000, 10),
            read(627, 0x4008, 11),
            read(630, 0x4000, 11),
            read(631, 0x4008, 11),
            read(640, 0x4000, 11),
            read(641, 0x4008, 11),
            read(650, 0x4000, 11),
            read(659, 0x4008, 13),
        ];
        let records = vec![
            record("sync", "END WRITE", 2, 110),
            record("handover", "ping-pong", 1, 100),
            record("boundary", "present", 1, 40),
            record("boundary", "present rectangle", 2, 16),
            // Nothing left that adds up to this.
            record("sync", "START READ", 1, 41),
        ];
        let (rows, missed) = find(&records, &reads);
        assert_eq!(rows.len(), 4, "{rows:?}");
        assert_eq!((rows[3].cycles[0], rows[3].units[0].dram), (16, 3));
        assert_eq!(rows[0].cycles[0], 110);
        // dram charges: 0 -> 2 in the first call (the kernel's read between does not
        // split it), 2 -> 5 in the second.
        assert_eq!(rows[0].units[0].dram, 5);
        assert_eq!((rows[1].cycles[0], rows[1].units[0].dram), (100, 4));
        assert_eq!((rows[2].cycles[0], rows[2].units[0].dram), (40, 1));
        assert_eq!(missed, vec!["sync / START READ / whole / 4096".to_string()]);
        // The walk never goes back: a second identical record finds nothing.
        let twice = vec![records[2].clone(), records[2].clone()];
        let (rows, missed) = find(&twice, &reads);
        assert_eq!((rows.len(), missed.len()), (1, 1));
    }
}
