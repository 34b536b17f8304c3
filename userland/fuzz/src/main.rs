//! `fuzz`: the syscall fuzzer's launcher (`init=fuzz`).
//!
//! It records the free frames and live tasks, spawns `fuzz_worker` (which makes the
//! fuzzed calls against its model of what it created, spawning `fuzz_peer` and
//! `fuzz_victim` tasks along the way) and waits for it. The worker reports how many
//! violations it found; it is not expected to clean up: its death must free everything
//! it held. Once every task it started has ended, the free frames must be exactly what
//! they were (a few ticks are allowed for deferred frees).
//!
//! The last line is `fuzz: seed S, N calls, 0 violations` (exit 0), or it names the
//! violations (exit 1). Seed and count are fixed at build time (`FUZZ_SEED`,
//! `FUZZ_CALLS`; see the crate docs); `cargo xtask fuzz --seed S --calls N` sets them.

#![no_std]
#![no_main]

use fuzz::urt::{self, ExitHow, StartArgs, Stat};
use fuzz::{recv_words, CALLS, KEEP_GOING, SEED};

fn settle(free0: u64, tasks0: u64) -> (u64, u64) {
    let mut now = (0, 0);
    // Up to 30 s for peers still running after the worker ended, then the frees.
    for _ in 0..3000 {
        now = (
            urt::stats(Stat::FreeFrames).unwrap_or(0),
            urt::stats(Stat::Tasks).unwrap_or(0),
        );
        if now == (free0, tasks0) {
            break;
        }
        let _ = urt::sleep_ns(10_000_000);
    }
    now
}

fn main(_args: StartArgs) -> i32 {
    urt::println!(
        "fuzz: seed {}, {} calls{}",
        SEED,
        CALLS,
        if KEEP_GOING { ", keep going" } else { "" }
    );
    let free0 = urt::stats(Stat::FreeFrames).unwrap_or(0);
    let tasks0 = urt::stats(Stat::Tasks).unwrap_or(0);
    let mut problems = 0u64;
    let (mine, theirs) = match urt::channel_create() {
        Ok(p) => p,
        Err(e) => {
            urt::println!("fuzz: FAILED: channel_create: {e:?}");
            return 1;
        }
    };
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
    let (free, tasks) = settle(free0, tasks0);
    if tasks != tasks0 {
        urt::println!("fuzz: VIOLATION: {tasks} tasks live after the run, {tasks0} before");
        problems += 1;
    }
    if free != free0 {
        urt::println!(
            "fuzz: VIOLATION: {free} frames free after every task ended, {free0} before \
             ({} leaked)",
            free0 as i64 - free as i64
        );
        problems += 1;
    }
    let total = violations + problems;
    urt::println!("fuzz: seed {}, {} calls, {} violations", SEED, calls, total);
    i32::from(total != 0)
}

urt::entry!(main);
