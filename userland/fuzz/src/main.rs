//! `fuzz`: the syscall fuzzer's launcher (`init=fuzz`).
//!
//! It records the baseline (free frames, kernel heap bytes in use, live tasks, its own
//! account's use of every quota, and its free handle slots), tells the worker what it
//! uses of each quota (the attackers predict every quota refusal from the root's use),
//! spawns `fuzz_worker` and waits for it. The worker makes the run's calls (single
//! fuzzed calls and stateful scenarios, see its docs) and reports how many violations
//! it found; it is not expected to clean up: its death must free everything it held.
//! Once every task of the run has ended, everything must be back at the baseline:
//! free frames, live tasks, the quota use and the handle slots exactly, the kernel heap
//! within `snapshot::HEAP_SLACK` (the frame allocator's free lists, see there).
//!
//! The last line is `fuzz: seed S, N calls, 0 violations` (exit 0), or it names the
//! violations (exit 1). Seed and count are fixed at build time (`FUZZ_SEED`,
//! `FUZZ_CALLS`; see the crate docs); `cargo xtask fuzz --seed S --calls N` sets them.

#![no_std]
#![no_main]

use fuzz::snapshot::{self, Snapshot};
use fuzz::urt::{self, ExitHow, StartArgs};
use fuzz::{recv_words, CALLS, KEEP_GOING, SEED};

/// The launcher's free handle slots (it holds no handle between runs: a channel is made
/// to count with, and closed).
fn free_slots() -> Result<usize, urt::Error> {
    let (a, b) = urt::channel_create()?;
    let n = snapshot::free_slots(a);
    let _ = urt::handle_close(a);
    let _ = urt::handle_close(b);
    n.map(|n| n + 2)
}

fn main(_args: StartArgs) -> i32 {
    urt::println!(
        "fuzz: seed {}, {} calls{}",
        SEED,
        CALLS,
        if KEEP_GOING { ", keep going" } else { "" }
    );
    let slots0 = free_slots();
    let base = Snapshot::take();
    let mut problems = 0u64;
    let (mine, theirs) = match urt::channel_create() {
        Ok(p) => p,
        Err(e) => {
            urt::println!("fuzz: FAILED: channel_create: {e:?}");
            return 1;
        }
    };
    // The rest of the root account's use, for the attackers' quota predictions.
    if let Err(e) = fuzz::state::drive::send_launcher_use(mine) {
        urt::println!("fuzz: FAILED: sending the launcher's quota use: {e:?}");
        return 1;
    }
    let worker = match urt::spawn("fuzz_worker", &[theirs]) {
        Ok(t) => t,
        Err(e) => {
            urt::println!("fuzz: FAILED: spawn fuzz_worker: {e:?}");
            return 1;
        }
    };
    let ended = urt::wait(worker);
    let mut report = [0u64; 2];
    let got = recv_words(mine, &mut report);
    let _ = urt::handle_close(worker);
    let _ = urt::handle_close(mine);
    let mut violations = 0;
    match (ended, got) {
        (Ok((0, ExitHow::Exited)), Ok(2)) => violations = report[0],
        (Ok((1, ExitHow::Exited)), Ok(2)) => violations = report[0].max(1),
        (e, r) => {
            urt::println!("fuzz: VIOLATION: fuzz_worker ended {e:?} with report {r:?} {report:?}");
            problems += 1;
        }
    }
    let calls = report[1];
    // Up to 30 s for tasks still ending after the worker, then the frees.
    let now = snapshot::settle(&base, 3000);
    if !now.back_at(&base) {
        urt::println!(
            "fuzz: VIOLATION: not back at the baseline after every task of the run ended: {}",
            now.diff(&base)
        );
        problems += 1;
    }
    let slots = free_slots();
    if slots != slots0 {
        urt::println!(
            "fuzz: VIOLATION: the launcher's free handle slots: {slots:?} after the run, \
             {slots0:?} before"
        );
        problems += 1;
    }
    urt::println!(
        "fuzz: after the run: {} frames free, {} kernel heap bytes used (baseline {}), {} tasks, \
         quota use {:?}, {:?} free handle slots",
        now.free_frames,
        now.heap_used,
        base.heap_used,
        now.tasks,
        now.quota,
        slots
    );
    let total = violations + problems;
    // The worker stops once the calls made (its own and its attackers') reach CALLS; a
    // scenario may end a few calls past it.
    urt::println!("fuzz: {calls} calls made");
    let calls = if calls >= CALLS { CALLS } else { calls };
    urt::println!("fuzz: seed {}, {} calls, {} violations", SEED, calls, total);
    i32::from(total != 0)
}

urt::entry!(main);
