//! Quotas: a task that fills its kernel-heap quota (with channels nested in each other's
//! queues, all reachable) gets `NoMemory` or `TableFull` from then on, and nothing else;
//! the kernel stays up and answers everyone; its parent's account counts the child's
//! use; when the child exits everything comes back, to the byte. Also: a task cannot
//! wait on itself.

#![no_std]
#![no_main]

use urt::alloc::vec::Vec;
use urt::{policy, Error, ExitHow, Handle, Quota, Rights, StartArgs, Stat};
use utests::{check, check_eq, expect_err, ok, recv_u64, send_u64, TestResult};

/// Channels per chain: each chain's top end is the only handle kept.
const CHAIN: u64 = 500;

/// The child: fill the heap quota, check the errors, report, wait, exit.
fn child(ch: Handle, side: Handle) -> TestResult {
    let mut hs = [Handle(0); 1];
    check_eq!(
        ok!(urt::channel_recv(side, &mut [], &mut hs)),
        (0, 1),
        "our own task handle"
    );
    let me = hs[0];
    expect_err!(urt::wait(me), Error::InvalidArgument, "wait on oneself");
    ok!(urt::handle_close(me));
    let mut tops: Vec<Handle> = Vec::new();
    let failure = loop {
        match utests::nest(CHAIN) {
            Ok(top) => tops.push(top),
            Err(e) => break e,
        }
        check!(
            tops.len() < 200,
            "200 chains of {} fit in the heap quota",
            CHAIN
        );
    };
    check!(
        failure == Error::NoMemory || failure == Error::TableFull,
        "nesting stopped with {:?}",
        failure
    );
    let (used, limit) = ok!(urt::quota(Quota::HeapBytes));
    check!(
        used <= limit,
        "heap quota used {} past its limit {}",
        used,
        limit
    );
    // (Its limit is its parent's, shared with the parent's own use.)
    check!(
        used > limit / 2,
        "stopped with only {} of {} bytes of heap quota used",
        used,
        limit
    );
    // Top it up with the smallest thing that takes kernel heap, a one-page buffer.
    let mut pages = Vec::new();
    let last = loop {
        match urt::buffer_create(4096, policy::CACHED) {
            Ok(b) => pages.push(b),
            Err(e) => break e,
        }
        check!(pages.len() < 64, "64 one-page buffers after the chains");
    };
    check_eq!(
        last,
        Error::NoMemory,
        "buffer_create with the quota used up"
    );
    // Everything that needs kernel heap now fails cleanly; nothing else breaks.
    for _ in 0..3 {
        match urt::channel_create() {
            Err(Error::NoMemory | Error::TableFull) => {}
            other => check!(false, "channel_create when full: {:?}", other.map(|_| ())),
        }
        expect_err!(
            urt::buffer_create(4096, policy::CACHED),
            Error::NoMemory,
            "buffer_create with the heap quota used up"
        );
        expect_err!(urt::spawn("h_exit", &[]), Error::NoMemory, "spawn");
    }
    check!(ok!(urt::stats(Stat::Tasks)) >= 2, "the kernel answers");
    // A message takes kernel heap too: give one page back to report.
    expect_err!(
        send_u64(ch, 0),
        Error::NoMemory,
        "a message with the quota used up"
    );
    if let Some(b) = pages.pop() {
        ok!(urt::handle_close(b));
    }
    ok!(send_u64(ch, tops.len() as u64));
    let _ = ok!(recv_u64(ch));
    // Exit holding everything.
    Ok(())
}

fn test(args: StartArgs) -> TestResult {
    if args.count == 2 {
        return child(args.handles[0], args.handles[1]);
    }
    let q0 = utests::quota_used()?;
    let heap0 = ok!(urt::stats(Stat::HeapUsed));
    let (mine, theirs) = ok!(urt::channel_create());
    let (yours_a, yours_b) = ok!(urt::channel_create());
    let task = ok!(urt::spawn("test_quota", &[theirs, yours_a]));
    // The child's own task handle reaches it over a second channel: it must not be able
    // to wait on itself.
    let for_child = ok!(urt::handle_dup(task, Rights::WAIT.with(Rights::SHARE)));
    ok!(urt::channel_send(yours_b, b"", &[for_child]));
    let chains = match recv_u64(mine) {
        Ok(n) => n,
        Err(_) => {
            let (code, how) = ok!(urt::wait(task));
            check!(false, "the child failed early: {:?} {:#x}", how, code);
            0
        }
    };
    urt::println!(
        "test_quota: the child filled its heap quota with {} chains",
        chains
    );
    // The child's use counts in our account too.
    let (used, _) = ok!(urt::quota(Quota::HeapBytes));
    check!(
        used > q0[1] + chains * CHAIN * 4096,
        "our account shows {} heap bytes with the child's, {} before",
        used,
        q0[1]
    );
    // Meanwhile others are unaffected: our own quota still has room.
    let b = ok!(
        urt::buffer_create(4096, policy::CACHED),
        "buffer_create in the parent"
    );
    ok!(urt::handle_close(b));
    ok!(send_u64(mine, 0));
    let (code, how) = ok!(urt::wait(task));
    check_eq!((code, how), (0, ExitHow::Exited), "the child");
    for h in [task, mine, yours_b] {
        ok!(urt::handle_close(h));
    }
    utests::expect_quota_back(&q0, "after the child exited")?;
    let heap1 = ok!(urt::stats(Stat::HeapUsed));
    check!(
        heap1 <= heap0 + 16 * 1024,
        "kernel heap {} bytes after, {} before",
        heap1,
        heap0
    );
    Ok(())
}

utests::test_main!(test);
