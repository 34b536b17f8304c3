//! The implicit END: a task's open START WRITE ends as END WRITE would (the whole
//! buffer cleaned, as the trace shows) when the task closes its last handle to the
//! buffer, moves its last handle away over a channel, or dies; moving one of two handles
//! ends nothing. Non-coherent boot.

#![no_std]
#![no_main]

use urt::sync::{END, START, WRITE};
use urt::trace::OP_CLEAN;
use urt::{policy, prot, Error, ExitHow, Handle, Rights, StartArgs};
use utests::isolate::UDF_HOLDING_START;
use utests::{
    check, clear_trace, expect_err, ok, send_u64s, Boot, TestResult, TraceCheck, TraceOp,
};

const SIZE: u64 = 2 * 4096;
const WHOLE: [TraceOp; 1] = [(OP_CLEAN, 0, SIZE)];

/// A new cached buffer, its id, and a START WRITE on it with bytes written.
fn written() -> Result<(Handle, u64), utests::Failed> {
    let h = ok!(urt::buffer_create(SIZE, policy::CACHED));
    let id = ok!(urt::buffer_info(h)).id;
    let map = ok!(urt::buffer_map(h, prot::READ | prot::WRITE));
    ok!(urt::buffer_sync(h, START | WRITE, 0, 0));
    // SAFETY: `map` is our live read-write mapping of SIZE bytes.
    unsafe { utests::write_pattern(map, SIZE as usize, 3) };
    // SAFETY: nothing references the mapping any more.
    ok!(unsafe { urt::buffer_unmap(map) });
    Ok((h, id))
}

fn test(_args: StartArgs) -> TestResult {
    utests::expect_boot(Boot::NONCOHERENT)?;

    // Close of the last handle.
    let (h, id) = written()?;
    clear_trace()?;
    ok!(urt::handle_close(h));
    TraceCheck::new(id).expect("closing the last handle with START WRITE open", &WHOLE)?;

    // Move of the last handle: the START ends; the receiver's handle has none open.
    let (h, id) = written()?;
    let (a, b) = ok!(urt::channel_create());
    clear_trace()?;
    ok!(urt::channel_send(a, b"", &[h]));
    TraceCheck::new(id).expect("moving the last handle away with START WRITE open", &WHOLE)?;
    let mut hs = [Handle(0); 1];
    let (_, n) = ok!(urt::channel_recv(b, &mut [], &mut hs));
    check!(n == 1, "the moved handle arrives");
    expect_err!(
        urt::buffer_sync(hs[0], END | WRITE, 0, 0),
        Error::NotStarted,
        "END WRITE after the START ended with the move"
    );
    ok!(urt::handle_close(hs[0]));

    // Moving one of two handles ends nothing; the END still works.
    let (h, id) = written()?;
    let keep = ok!(urt::handle_dup(
        h,
        Rights::MAP_READ.with(Rights::MAP_WRITE).with(Rights::SHARE)
    ));
    clear_trace()?;
    ok!(urt::channel_send(a, b"", &[h]));
    TraceCheck::new(id).expect("moving one of two handles", &[])?;
    ok!(urt::buffer_sync(keep, END | WRITE, 0, 0));
    TraceCheck::new(id).expect("END WRITE on the handle kept", &WHOLE)?;
    let (_, n) = ok!(urt::channel_recv(b, &mut [], &mut hs));
    check!(n == 1, "the moved handle arrives");
    for x in [hs[0], keep, a, b] {
        ok!(urt::handle_close(x));
    }

    // Death with a START WRITE open (the helper takes it, then executes `udf`).
    let h = ok!(urt::buffer_create(SIZE, policy::CACHED));
    let id = ok!(urt::buffer_info(h)).id;
    let lent = ok!(urt::handle_dup(
        h,
        Rights::MAP_READ.with(Rights::MAP_WRITE).with(Rights::SHARE)
    ));
    let (mine, theirs) = ok!(urt::channel_create());
    clear_trace()?;
    let task = ok!(urt::spawn("h_isolate", &[theirs, lent]));
    ok!(send_u64s(mine, &[UDF_HOLDING_START, 0]));
    let (_, how) = ok!(urt::wait(task));
    check!(how == ExitHow::Killed, "the helper died ({:?})", how);
    TraceCheck::new(id).expect("death with START WRITE open", &WHOLE)?;
    for x in [task, mine, theirs, lent, h] {
        let _ = urt::handle_close(x);
    }
    clear_trace()?;
    Ok(())
}

utests::test_main!(test);
