//! 1,000 spawn / wait / close cycles of a trivial helper leave the free frame count and
//! the live task count where they started.

#![no_std]
#![no_main]

use urt::{ExitHow, StartArgs, Stat};
use utests::{check, check_eq, ok, TestResult, H_EXIT_CODE};

const CYCLES: u32 = 1000;

fn test(_args: StartArgs) -> TestResult {
    let free0 = ok!(urt::stats(Stat::FreeFrames));
    let tasks0 = ok!(urt::stats(Stat::Tasks));
    let ticks0 = ok!(urt::stats(Stat::Ticks));
    let mut free_after_10 = 0;
    for i in 0..CYCLES {
        let task = ok!(urt::spawn("h_exit", &[]), "spawn #{}", i);
        let (code, how) = ok!(urt::wait(task), "wait #{}", i);
        check!(
            how == ExitHow::Exited && code == H_EXIT_CODE,
            "#{}: ended {:?} code {:#x}",
            i,
            how,
            code
        );
        ok!(urt::handle_close(task), "close #{}", i);
        if i == 9 {
            free_after_10 = ok!(urt::stats(Stat::FreeFrames));
        }
    }
    let free1 = ok!(utests::free_frames_settled(free0));
    let ticks = ok!(urt::stats(Stat::Ticks)) - ticks0;
    urt::println!(
        "test_spawn_exit_1000: {} cycles in {} ticks; free frames {} -> {} (after 10: {})",
        CYCLES,
        ticks,
        free0,
        free1,
        free_after_10
    );
    check_eq!(ok!(urt::stats(Stat::Tasks)), tasks0, "live tasks");
    check_eq!(free1, free0, "free frames after {} cycles", CYCLES);
    Ok(())
}

utests::test_main!(test);
