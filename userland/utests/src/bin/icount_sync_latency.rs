//! No sync, whatever its size or shape, and no present's clean keeps the CPU from
//! others: while this task maintains a 64 MiB buffer whole (START RW and END RW, 1 Mi
//! lines each) and as a rectangle of 1 Mi one-byte rows, after presenting a second
//! 64 MiB buffer whose every line it ENDed for write (the present cleans 1 Mi lines
//! before the device reads; presented once, as the sleeps start: waiting for the device
//! would let QEMU skip idle time), a task sleeping 10 ms at a time is never more than
//! two ticks late (at most the rest of our time slice), and no tick is lost. The first buffer has a
//! one-page legacy uncached mapping: a non-coherent party that no submission
//! announces, so every START invalidates and every END cleans its whole range at once
//! (a buffer only the CPU used would need no maintenance at all). Run under
//! `-icount shift=0,sleep=off` (a boot of its own in `cargo xtask test`), where time is
//! the instruction count, so the result does not depend on the host; that is why its
//! name does not start with `test_` (`utest=all` runs those without icount).

#![no_std]
#![no_main]

use urt::sync::{END, READ, START, WRITE};
use urt::{format, legacy, policy, prot, ExitHow, StartArgs, Stat};
use utests::{check, check_eq, ok, recv_u64, send_u64, TestResult};

const SIZE: u64 = urt::limits::MAX_BUFFER;
const SLEEPS: u64 = 30;
/// The sleeper's slice wait: after its deadline tick it may wait for our slice to end.
const MAX_LATE: u64 = 2;

fn test(_args: StartArgs) -> TestResult {
    let h = ok!(urt::buffer_create(SIZE, policy::CACHED));
    let res = ok!(urt::gpu_import(h, 16, 16, format::B8G8R8X8));
    let fake = ok!(urt::gpu_map_offset(res));
    let nc = ok!(urt::gpu_mmap(
        fake,
        4096,
        prot::READ | prot::WRITE,
        legacy::UNCACHED
    ));
    let shown = ok!(urt::buffer_create(SIZE, policy::CACHED));
    let shown_res = ok!(urt::gpu_import(shown, 4096, 4096, format::B8G8R8X8));
    let (mine, theirs) = ok!(urt::channel_create());
    let task = ok!(urt::spawn("h_sleeper", &[theirs]));
    let with_sleeper = ok!(urt::stats(Stat::Tasks));
    ok!(send_u64(mine, SLEEPS));
    let t0 = ok!(urt::stats(Stat::Ticks));
    ok!(urt::buffer_sync(shown, START | WRITE, 0, 0));
    ok!(urt::buffer_sync(shown, END | WRITE, 0, 0));
    ok!(urt::gpu_present(shown_res, 0, 0, 4096, 4096));
    let mut rounds = 0;
    // Sync until the sleeper has finished its sleeps (and exited).
    while ok!(urt::stats(Stat::Tasks)) == with_sleeper {
        ok!(urt::buffer_sync(h, START | READ | WRITE, 0, 0));
        ok!(urt::buffer_sync(h, END | READ | WRITE, 0, 0));
        // 1 Mi rows of one byte, 64 bytes apart: a line each (the test kernel records
        // every row in its trace, which costs far more than the line).
        ok!(urt::buffer_sync_rect(h, START | WRITE, 0, 1, SIZE / 64, 64));
        ok!(urt::buffer_sync_rect(h, END | WRITE, 0, 1, SIZE / 64, 64));
        rounds += 1;
        check!(rounds < 1000, "the sleeper never finished");
    }
    let worst = ok!(recv_u64(mine), "the sleeper's report");
    let ticks = ok!(urt::stats(Stat::Ticks)) - t0;
    urt::println!(
        "icount_sync_latency: {} rounds of syncs over {} ticks; the sleeper was at most {} ticks late",
        rounds,
        ticks,
        worst
    );
    check!(rounds >= 2, "the syncs did not overlap the sleeps");
    check!(
        worst <= MAX_LATE,
        "a 10 ms sleeper ran {} ticks after its deadline",
        worst
    );
    let (code, how) = ok!(urt::wait(task));
    check_eq!((code, how), (0, ExitHow::Exited), "h_sleeper");
    // SAFETY: nothing uses the uncached mapping.
    ok!(unsafe { urt::buffer_unmap(nc) });
    ok!(urt::buffer_sync(shown, START | WRITE, 0, 0)); // the present is done
    ok!(urt::buffer_sync(shown, END | WRITE, 0, 0));
    for x in [task, mine, res, h, shown_res, shown] {
        ok!(urt::handle_close(x));
    }
    Ok(())
}

utests::test_main!(test);
