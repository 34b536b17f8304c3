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
//! - `sync` and `boundary`: per repetition one or two timed calls out of a group of up
//!   to three consecutive ones (a repetition may time calls around what it measures),
//!   `reps` groups in a row, the measured calls of every group made at the same
//!   addresses, whose lengths add up to exactly the record's `total_cycles`. `handover`: one window from one user
//!   read to a later one (within [`HANDOVER_READS`]) exactly `total_cycles` long.
//! - A repetition retried (an interrupt landed in it) leaves its discarded calls among
//!   the others: if no run fits, one with one more group, one of which is left out.
//! - A harness that times its untimed calls too (Linux's) makes them at other addresses:
//!   the addresses of calls a record made around its measured ones are never taken as
//!   measured calls of a later record of the suite (their lengths can be equal).
//! - A record for which nothing fits is not attributed, and named.
//!
//! Linux's harness prints the windows of all its records (`tools/linuxbench/src/record.rs`),
//! but Linux's perf code may reprogram the counter, so a value need not be unique in a
//! run: with `printed` set, [`find`] prices every record that prints windows here
//! in the walk's order ([`in_order`]): each window is the first user read at or after the
//! walk returning its start value, followed by the very next user read returning its end
//! value (no user read of the counter happens inside a window).

use crate::bench::Record;
use crate::bench_model::{add, checked_row, printed_windows, sub, Read, Row};
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

/// The row of a record with printed windows, each window found in `user` in order from
/// `at` (see the module docs); returns it and the index after its last window's end.
fn in_order(r: &Record, user: &[&Read], mut at: usize) -> crate::Result<(Row, usize)> {
    let mut cycles = [0u64; 3];
    let mut units = [CostUnits::default(); 3];
    for (phase, start, end) in printed_windows(r)? {
        let i = (at..user.len())
            .find(|&i| user[i].value == start)
            .ok_or_else(|| format!("no counter read returning {start} after the last window"))?;
        match user.get(i + 1) {
            Some(e) if e.value == end => {}
            _ => {
                return Err(format!(
                    "the user read after the one returning {start} does not return {end}"
                ))
            }
        }
        cycles[phase] += end - start;
        add(&mut units[phase], sub(user[i + 1].units, user[i].units));
        at = i + 2;
    }
    Ok((checked_row(r, cycles, units)?, at))
}

/// Find the windows of every `sync`, `boundary` and `handover` record, and with
/// `printed` price every record's printed windows instead ([`in_order`]: Linux's); returns the rows attributed and the records that could not be (keys;
/// for a printed record, with the reason).
pub fn find(records: &[Record], reads: &[Read], printed: bool) -> (Vec<Row>, Vec<String>) {
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
    // Per suite: the addresses of calls a matched record made around its measured ones
    // and never measured; no later record's measured call may be at one of them (a
    // harness that times its untimed calls too makes them there, and their lengths can
    // equal a measured call's).
    let mut untimed: Vec<(String, Vec<u64>)> = Vec::new();
    let mut skipped: Vec<u64> = Vec::new();
    let mut rows = Vec::new();
    let mut missed = Vec::new();
    for r in records {
        let total = r.num("total_cycles").unwrap_or(-1.0);
        let reps = r.num("reps").unwrap_or(0.0) as u64;
        if printed && r.raw.contains_key("windows") {
            match in_order(r, &user, at) {
                Ok((row, next)) => {
                    rows.push(row);
                    at = next;
                }
                Err(e) => missed.push(format!("{} ({e})", r.key())),
            }
            continue;
        }
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
                let known: Vec<u64> = untimed
                    .iter()
                    .find(|(suite, _)| *suite == r.suite)
                    .map(|(_, pcs)| pcs.clone())
                    .unwrap_or_default();
                // Per repetition, a group of `g` timed calls of which `m` from the
                // `o`th on are the measured ones (the others: calls the repetition
                // makes around what it measures, e.g. the rectangle's START and END
                // before its present, or a harness that times its untimed calls too).
                // The measured calls of every group are made at the same addresses as
                // the first group's.
                // With `retried`: one more group than `reps`, one of which (a
                // repetition run again because a tick landed in it) is left out.
                let at_shape = |s: usize, (g, o, m): (usize, usize, usize), retried: bool| {
                    let n = reps as usize + usize::from(retried);
                    let groups: Vec<&[Call]> = calls.get(s..s + g * n)?.chunks(g).collect();
                    let drops: Vec<Option<usize>> = if retried {
                        (0..n).map(Some).collect()
                    } else {
                        vec![None]
                    };
                    drops.into_iter().find_map(|drop| {
                        let kept: Vec<&[Call]> = groups
                            .iter()
                            .enumerate()
                            .filter(|(i, _)| Some(*i) != drop)
                            .map(|(_, c)| *c)
                            .collect();
                        let used: Vec<&Call> = kept.iter().flat_map(|c| &c[o..o + m]).collect();
                        let pcs = |j: usize| user[used[j].start].pc;
                        if (m..used.len()).any(|j| pcs(j) != pcs(j % m))
                            || (0..m).any(|j| known.contains(&pcs(j)))
                        {
                            return None;
                        }
                        let sum: u64 = used.iter().map(|c| length(&user, c)).sum();
                        if sum as f64 != total {
                            return None;
                        }
                        let around: Vec<u64> = kept
                            .iter()
                            .flat_map(|c| c[..o].iter().chain(&c[o + m..]))
                            .map(|c| user[c.start].pc)
                            .collect();
                        let w: Vec<(usize, usize)> =
                            used.iter().map(|c| (c.start, c.end)).collect();
                        Some((w, around))
                    })
                };
                let pair = r.case == "START+END WRITE";
                let mut shapes: Vec<(usize, usize, usize)> =
                    vec![if pair { (2, 0, 2) } else { (1, 0, 1) }];
                for g in 1..=3 {
                    for m in 1..=g {
                        for o in (0..=g - m).rev() {
                            if !shapes.contains(&(g, o, m)) {
                                shapes.push((g, o, m));
                            }
                        }
                    }
                }
                // The earliest start that fits any shape; failing that, the same with
                // one repetition retried.
                let end = calls.len().min(first + LOOKAHEAD);
                [false, true]
                    .into_iter()
                    .find_map(|retried| {
                        (first..end).find_map(|s| {
                            shapes.iter().find_map(|&shape| at_shape(s, shape, retried))
                        })
                    })
                    .map(|(w, around)| {
                        skipped = around;
                        w
                    })
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
        let measured: Vec<u64> = windows.iter().map(|w| user[w.0].pc).collect();
        let i = match untimed.iter().position(|(suite, _)| *suite == r.suite) {
            Some(i) => i,
            None => {
                untimed.push((r.suite.clone(), Vec::new()));
                untimed.len() - 1
            }
        };
        for pc in std::mem::take(&mut skipped) {
            if !measured.contains(&pc) && !untimed[i].1.contains(&pc) {
                untimed[i].1.push(pc);
            }
        }
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
        let (rows, missed) = find(&records, &reads, false);
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
        let (rows, missed) = find(&twice, &reads, false);
        assert_eq!((rows.len(), missed.len()), (1, 1));
    }

    #[test]
    fn a_harness_that_times_its_untimed_calls_too_is_read_by_address() {
        // START case: (timed START at 0x100, untimed END at 0x200) x 2; END case:
        // (untimed START at 0x200, timed END at 0x100) x 2. START calls are 30 long,
        // END calls 20: shifted by one call, the START case would take 30 + 30 from the
        // END case's untimed START; the addresses tell them apart.
        let mut reads = Vec::new();
        let mut t = 1000;
        let mut call = |pc: u64, len: u64, dram: u64| {
            reads.push(read(t, pc, dram));
            reads.push(read(t + len, pc + 8, dram + 1));
            t += len + 100;
        };
        for _ in 0..2 {
            call(0x100, 30, 0);
            call(0x200, 20, 10);
        }
        for _ in 0..2 {
            call(0x200, 30, 10);
            call(0x100, 20, 0);
        }
        let records = vec![
            record("sync", "START RW", 2, 60),
            record("sync", "END RW", 2, 40),
        ];
        let (rows, missed) = find(&records, &reads, false);
        assert!(missed.is_empty(), "{missed:?}");
        // Each took its own calls: one dram charge per call, all from the 0x100 site.
        assert_eq!((rows[0].cycles[0], rows[0].units[0].dram), (60, 2));
        assert_eq!((rows[1].cycles[0], rows[1].units[0].dram), (40, 2));
    }

    #[test]
    fn a_retried_repetition_is_left_out() {
        // Three calls for two repetitions: the second (a tick landed in it) was run
        // again; 10 + 10 counted.
        let reads = vec![
            read(100, 0x4000, 0),
            read(110, 0x4008, 1),
            read(200, 0x4000, 1),
            read(290, 0x4008, 5),
            read(300, 0x4000, 5),
            read(310, 0x4008, 6),
        ];
        let (rows, missed) = find(&[record("sync", "END WRITE", 2, 20)], &reads, false);
        assert!(missed.is_empty());
        assert_eq!((rows[0].cycles[0], rows[0].units[0].dram), (20, 2));
    }

    /// A Linux harness record (`tools/linuxbench`) with printed windows.
    fn linux(suite: &str, variant: &str, total: u64, phases: &str, windows: &str) -> Record {
        crate::linux::record(
            serde_json::from_str(&format!(
                "{{\"suite\":\"{suite}\",\"case\":\"c\",\"variant\":\"{variant}\",\
                 \"size\":64,\"reps\":2,\"cycles\":{},\"total_cycles\":{total},\
                 \"syscalls\":2,\"faults\":1,\"thrown\":0{phases},\"windows\":{windows}}}",
                total / 2
            ))
            .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn printed_windows_are_priced_from_the_reads_in_order() {
        const K: u64 = 0xffff_0000_0000_1000;
        let reads = vec![
            // Before the walk reaches the frame: a read returning the same value as a
            // later window's start (Linux may reprogram the counter); not taken.
            read(1100, 0x9000, 0),
            read(50, 0x4000, 0),
            read(60, 0x4008, 1),
            // Frame, two operations: (START, write, END) each.
            read(1000, 0x4000, 1),
            read(1005, K, 2), // the kernel's read inside the ioctl: ignored
            read(1010, 0x4008, 3),
            read(1100, 0x5000, 3),
            read(1150, 0x5008, 13),
            read(1200, 0x4000, 13),
            read(1220, 0x4008, 17),
            read(2000, 0x4000, 17),
            read(2010, 0x4008, 17),
            read(2100, 0x5000, 17),
            read(2150, 0x5008, 27),
            read(2200, 0x4000, 27),
            read(2220, 0x4008, 30),
            // Readback without sync, two operations: the read only (phase 2).
            read(3000, 0x6000, 30),
            read(3400, 0x6008, 130),
            read(4000, 0x6000, 130),
            read(4400, 0x6008, 230),
        ];
        let records = vec![
            record("sync", "END WRITE", 1, 10),
            linux(
                "frame",
                "linux-ioctl",
                160,
                ",\"write_cycles\":50,\"sync_cycles\":30",
                "[[1,1000,1010],[0,1100,1150],[1,1200,1220],\
                 [1,2000,2010],[0,2100,2150],[1,2200,2220]]",
            ),
            linux(
                "readback",
                "linux-mmap-nosync",
                800,
                ",\"sync_cycles\":0,\"read_cycles\":400,\"device_cycles_min\":9,\
                 \"device_cycles_max\":99",
                "[[2,3000,3400],[2,4000,4400]]",
            ),
        ];
        let (rows, missed) = find(&records, &reads, true);
        assert!(missed.is_empty(), "{missed:?}");
        assert_eq!(rows.len(), 3);
        let f = &rows[1];
        assert_eq!((f.suite.as_str(), f.cycles), ("frame", [100, 60, 0]));
        // dram: writes 3 -> 13 and 17 -> 27; syncs 1 -> 3, 13 -> 17, 17 -> 17, 27 -> 30.
        assert_eq!((f.units[0].dram, f.units[1].dram, f.faults), (20, 9, 1));
        let r = &rows[2];
        assert_eq!((r.cycles, r.units[2].dram), ([0, 0, 800], 200));
        // Without `printed` (this kernel's bench prices them from `windows` by value):
        // skipped, and the walk still moves past them.
        let (rows, missed) = find(&records, &reads, false);
        assert_eq!((rows.len(), missed.len()), (1, 0));
    }

    #[test]
    fn printed_windows_that_do_not_match_the_reads_are_named() {
        let reads = vec![
            read(1000, 0x5000, 0),
            read(1050, 0x6000, 1),
            read(1060, 0x5008, 2),
            read(2000, 0x5000, 2),
            read(2050, 0x5008, 3),
        ];
        let frame = |total: u64, write: u64, windows: &str| {
            linux(
                "frame",
                "linux-mmap-nosync",
                total,
                &format!(",\"write_cycles\":{write},\"sync_cycles\":0"),
                windows,
            )
        };
        // A user read inside the window: not the window's end.
        let (rows, missed) = find(&[frame(60, 30, "[[0,1000,1060]]")], &reads, true);
        assert!(rows.is_empty());
        assert!(missed[0].contains("does not return 1060"), "{missed:?}");
        // No read returns the start.
        let (_, missed) = find(&[frame(50, 25, "[[0,1001,1051]]")], &reads, true);
        assert!(
            missed[0].contains("no counter read returning 1001"),
            "{missed:?}"
        );
        // Windows that do not add up to the record's phases.
        let (_, missed) = find(&[frame(50, 20, "[[0,2000,2050]]")], &reads, true);
        assert!(missed[0].contains("write_cycles"), "{missed:?}");
        // A window in a phase the record does not print (Linux's frame has no present).
        let (_, missed) = find(&[frame(50, 0, "[[2,2000,2050]]")], &reads, true);
        assert!(missed[0].contains("present_cycles"), "{missed:?}");
        let (rows, missed) = find(&[frame(50, 25, "[[0,2000,2050]]")], &reads, true);
        assert!(missed.is_empty(), "{missed:?}");
        assert_eq!((rows[0].cycles, rows[0].units[0].dram), ([50, 0, 0], 1));
    }

    #[test]
    fn a_sync_record_with_printed_windows_is_priced_by_them() {
        // Two calls of equal length at the same address: by length alone the first
        // would be taken; the printed windows name the second.
        let reads = vec![
            read(100, 0x4000, 0),
            read(110, 0x4008, 1),
            read(200, 0x4000, 1),
            read(210, 0x4008, 4),
        ];
        let mut r = linux("sync", "linux-ioctl", 20, "", "[[0,200,210],[0,200,210]]");
        r.raw.insert("reps".into(), serde_json::json!(2));
        let (rows, missed) = find(&[r.clone()], &reads, true);
        assert!(!missed.is_empty(), "the same window cannot be taken twice");
        r.raw
            .insert("windows".into(), serde_json::json!([[0, 200, 210]]));
        r.raw.insert("total_cycles".into(), serde_json::json!(10));
        let (rows2, missed) = find(&[r], &reads, true);
        assert!(rows.is_empty() && missed.is_empty(), "{missed:?}");
        assert_eq!((rows2[0].cycles, rows2[0].units[0].dram), ([10, 0, 0], 3));
    }
}
