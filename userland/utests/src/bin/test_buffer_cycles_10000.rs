//! 10,000 cycles of `buffer_create` (1 to 3 pages, cached and uncached) / map / START
//! WRITE / write / END WRITE / unmap / close leave the free frame count where it
//! started. Each new buffer must read as zero (even where the previous one, likely on
//! the same frames, was written), and what is written reads back.
//!
//! The maintenance trace (test kernels record every create and sync) is cleared every
//! 100 cycles, so a recording kernel's trace cannot stand in for a leak.

#![no_std]
#![no_main]

use urt::sync::{END, START, WRITE};
use urt::{policy, prot, Error, Handle, StartArgs, Stat};
use utests::{check, check_eq, ok, Failed, TestResult};

const CYCLES: u32 = 10_000;
const WARM_UP: u32 = 100;

fn clear_trace() -> TestResult {
    match urt::trace_clear() {
        Ok(()) | Err(Error::NotSupported) => Ok(()),
        Err(e) => {
            urt::println!("FAIL trace(CLEAR): {:?}", e);
            Err(Failed)
        }
    }
}

fn cycle(i: u32) -> TestResult {
    let pages = 1 + (i % 3) as u64;
    let size = pages * 4096;
    let pol = if i % 5 == 4 {
        policy::UNCACHED
    } else {
        policy::CACHED
    };
    let h: Handle = ok!(urt::buffer_create(size, pol), "create #{}", i);
    let map = ok!(urt::buffer_map(h, prot::READ | prot::WRITE), "map #{}", i);
    let w = map as *mut u64;
    ok!(
        urt::buffer_sync(h, START | WRITE, 0, 0),
        "START WRITE #{}",
        i
    );
    let stamp = 0xc0de_0000_0000_0000 | i as u64;
    for p in 0..pages as usize {
        let first = p * 512;
        let last = first + 511;
        // SAFETY: `first` and `last` are words of page `p` of our live read-write mapping
        // of `pages` pages; nothing references it.
        let (a, b) = unsafe {
            let a = w.add(first).read_volatile();
            let b = w.add(last).read_volatile();
            w.add(first).write_volatile(stamp + p as u64);
            w.add(last).write_volatile(!(stamp + p as u64));
            (a, b)
        };
        check!(
            a == 0 && b == 0,
            "#{}: new buffer page {} holds {:#x} / {:#x}",
            i,
            p,
            a,
            b
        );
    }
    ok!(urt::buffer_sync(h, END | WRITE, 0, 0), "END WRITE #{}", i);
    for p in 0..pages as usize {
        // SAFETY: as above, reading.
        let (a, b) = unsafe {
            (
                w.add(p * 512).read_volatile(),
                w.add(p * 512 + 511).read_volatile(),
            )
        };
        check!(
            a == stamp + p as u64 && b == !(stamp + p as u64),
            "#{}: page {} reads back {:#x} / {:#x}",
            i,
            p,
            a,
            b
        );
    }
    // SAFETY: nothing references the mapping any more.
    ok!(unsafe { urt::buffer_unmap(map) }, "unmap #{}", i);
    ok!(urt::handle_close(h), "close #{}", i);
    if i % 100 == 99 {
        clear_trace()?;
    }
    Ok(())
}

fn test(_args: StartArgs) -> TestResult {
    // Warm up (page tables for the mapping area, kernel structures that stay), then
    // measure.
    clear_trace()?;
    for i in 0..WARM_UP {
        cycle(i)?;
    }
    clear_trace()?;
    let free0 = ok!(urt::stats(Stat::FreeFrames));
    let ticks0 = ok!(urt::stats(Stat::Ticks));
    let mut free_mid = 0;
    for i in 0..CYCLES {
        cycle(i)?;
        if i == CYCLES / 2 {
            free_mid = ok!(urt::stats(Stat::FreeFrames));
        }
    }
    clear_trace()?;
    let free1 = ok!(utests::free_frames_settled(free0));
    let ticks = ok!(urt::stats(Stat::Ticks)) - ticks0;
    urt::println!(
        "test_buffer_cycles_10000: {} cycles in {} ticks; free frames {} -> {} (half way: {})",
        CYCLES,
        ticks,
        free0,
        free1,
        free_mid
    );
    check_eq!(free1, free0, "free frames after {} cycles", CYCLES);
    Ok(())
}

utests::test_main!(test);
