//! Running out: buffers are created (64 MiB first, then halving down to a page) until
//! memory is gone; every further create says NoMemory, as does spawn, and nothing
//! panics. Then tasks are spawned (each blocked on a channel) into the last few MiB
//! until spawn says NoMemory. Then the handle table is filled until TableFull for
//! create, dup, channel_create and spawn. After each phase everything is freed and the
//! free frames are back exactly where they started.

#![no_std]
#![no_main]

use urt::alloc::vec::Vec;
use urt::{policy, Error, ExitHow, Handle, Quota, Rights, StartArgs, Stat};
use utests::isolate::HOLD;
use utests::{check, check_eq, expect_err, ok, send_u64s, TestResult};

const MAX: u64 = urt::limits::MAX_BUFFER;
const PAGE: u64 = 4096;

/// Frames this task may still be charged for (its quota; the kernel keeps a reserve of
/// free frames no task can take).
fn frames_left() -> Result<u64, utests::Failed> {
    let (used, limit) = ok!(urt::quota(Quota::Frames));
    Ok(limit.saturating_sub(used))
}

/// Create buffers, largest first, until even a page fails (or the frames left to this
/// task's quota drop to `leave`); returns them. Every failure must be NoMemory.
fn fill(leave: u64, bufs: &mut Vec<Handle>) -> TestResult {
    let mut size = MAX;
    loop {
        let free = frames_left()?;
        if leave > 0 && free * PAGE < leave + size {
            if size == PAGE {
                return Ok(());
            }
            size /= 2;
            continue;
        }
        match urt::buffer_create(size, policy::CACHED) {
            Ok(h) => bufs.push(h),
            Err(Error::NoMemory) if size == PAGE => return Ok(()),
            Err(Error::NoMemory) => size /= 2,
            Err(e) => {
                check!(
                    false,
                    "buffer_create({:#x}) with {} buffers: {:?}",
                    size,
                    bufs.len(),
                    e
                );
            }
        }
    }
}

fn close_all(hs: &mut Vec<Handle>) -> TestResult {
    for h in hs.drain(..) {
        ok!(urt::handle_close(h));
    }
    Ok(())
}

fn memory(free0: u64) -> TestResult {
    let mut bufs = Vec::new();
    fill(0, &mut bufs)?;
    let free = ok!(urt::stats(Stat::FreeFrames));
    urt::println!(
        "test_exhaustion: {} buffers, {} frames left",
        bufs.len(),
        free
    );
    for size in [PAGE, PAGE, 2 * PAGE, MAX] {
        expect_err!(
            urt::buffer_create(size, policy::CACHED),
            Error::NoMemory,
            "create {:#x} when full",
            size
        );
        expect_err!(
            urt::buffer_create(size, policy::UNCACHED),
            Error::NoMemory,
            "uncached {:#x} when full",
            size
        );
    }
    expect_err!(
        urt::spawn("h_exit", &[]),
        Error::NoMemory,
        "spawn when memory is full"
    );
    // Calls that may or may not need a frame: success or NoMemory, never worse.
    match urt::channel_create() {
        Ok((a, b)) => {
            ok!(urt::handle_close(a));
            ok!(urt::handle_close(b));
        }
        Err(e) => check_eq!(e, Error::NoMemory, "channel_create when full"),
    }
    for (i, &b) in bufs.iter().enumerate().take(8) {
        match urt::buffer_map(b, 3) {
            // SAFETY: just mapped; nothing references it.
            Ok(p) => ok!(unsafe { urt::buffer_unmap(p) }),
            Err(e) => check_eq!(e, Error::NoMemory, "buffer_map #{} when full", i),
        }
    }
    close_all(&mut bufs)?;
    check_eq!(
        ok!(utests::free_frames_settled(free0)),
        free0,
        "free frames after freeing every buffer"
    );
    Ok(())
}

fn tasks(free0: u64, tasks0: u64) -> TestResult {
    let mut bufs = Vec::new();
    // Leave about 6 MiB for tasks (each needs its stack, image and tables).
    fill(6 << 20, &mut bufs)?;
    let mut held: Vec<(Handle, Handle)> = Vec::new();
    let failure = loop {
        let (mine, theirs) = match urt::channel_create() {
            Ok(p) => p,
            Err(e) => break e,
        };
        ok!(send_u64s(mine, &[HOLD, 0]));
        match urt::spawn("h_isolate", &[theirs]) {
            Ok(t) => held.push((t, mine)),
            Err(e) => {
                ok!(urt::handle_close(theirs));
                ok!(urt::handle_close(mine));
                break e;
            }
        }
        check!(
            held.len() < 120,
            "120 tasks fit in the memory left: the fill left too much"
        );
    };
    urt::println!(
        "test_exhaustion: {} tasks spawned, then {:?}",
        held.len(),
        failure
    );
    check_eq!(failure, Error::NoMemory, "spawn into exhausted memory");
    check!(!held.is_empty(), "no task fit in 6 MiB");
    expect_err!(urt::spawn("h_exit", &[]), Error::NoMemory, "spawn again");
    // Let them go: closing our ends ends their wait; each exits 0.
    for (t, mine) in held.drain(..) {
        ok!(urt::handle_close(mine));
        check_eq!(ok!(urt::wait(t)), (0, ExitHow::Exited), "held task");
        ok!(urt::handle_close(t));
    }
    close_all(&mut bufs)?;
    check_eq!(
        ok!(urt::stats(Stat::Tasks)),
        tasks0,
        "live tasks after the task phase"
    );
    check_eq!(
        ok!(utests::free_frames_settled(free0)),
        free0,
        "free frames after the task phase"
    );
    Ok(())
}

fn table(free0: u64) -> TestResult {
    let mut hs = Vec::new();
    let err = loop {
        match urt::buffer_create(PAGE, policy::CACHED) {
            Ok(h) => hs.push(h),
            Err(e) => break e,
        }
        check!(
            hs.len() <= urt::limits::MAX_HANDLES,
            "more than 256 handles"
        );
    };
    check_eq!(
        err,
        Error::TableFull,
        "buffer_create with {} handles",
        hs.len()
    );
    check!(
        hs.len() >= urt::limits::MAX_HANDLES - 2,
        "table full at only {} handles",
        hs.len()
    );
    for _ in 0..3 {
        expect_err!(
            urt::buffer_create(PAGE, policy::CACHED),
            Error::TableFull,
            "create again"
        );
    }
    expect_err!(
        urt::handle_dup(hs[0], Rights::SHARE),
        Error::TableFull,
        "dup"
    );
    expect_err!(urt::channel_create(), Error::TableFull, "channel_create");
    expect_err!(urt::spawn("h_exit", &[]), Error::TableFull, "spawn");
    // One slot free: a channel still needs two.
    let last = hs.pop().unwrap_or(Handle(0));
    ok!(urt::handle_close(last));
    expect_err!(
        urt::channel_create(),
        Error::TableFull,
        "channel_create with one slot"
    );
    close_all(&mut hs)?;
    check_eq!(
        ok!(utests::free_frames_settled(free0)),
        free0,
        "free frames after the table phase"
    );
    Ok(())
}

fn test(_args: StartArgs) -> TestResult {
    let free0 = ok!(urt::stats(Stat::FreeFrames));
    let tasks0 = ok!(urt::stats(Stat::Tasks));
    memory(free0)?;
    tasks(free0, tasks0)?;
    table(free0)?;
    // And once more: the first phase leaves nothing behind that changes the second run.
    memory(free0)?;
    Ok(())
}

utests::test_main!(test);
