//! The implicit END: a task's open START WRITE ends as END WRITE would when the task
//! closes its last handle to the buffer, moves its last handle away over a channel, or
//! dies; moving one of two handles ends nothing. Non-coherent boot.
//!
//! An END WRITE cleans nothing by itself (coherence-boundary maintenance): it records the
//! buffer's lines dirty, and the next device read cleans them. So each case keeps a GPU
//! resource of the buffer (a resource handle is not a buffer handle) and presents it
//! after the implicit END: the present must clean the whole buffer. While the START is
//! still open, the misuse detector refuses the present (`Busy`).

#![no_std]
#![no_main]

use urt::sync::{END, START, WRITE};
use urt::trace::{OP_CLEAN, OP_DEVICE_READ};
use urt::{format, policy, prot, Error, ExitHow, Handle, Rights, StartArgs};
use utests::isolate::UDF_HOLDING_START;
use utests::{
    check, clear_trace, expect_err, ok, send_u64s, Boot, TestResult, TraceCheck, TraceOp,
};

const SIZE: u64 = 2 * 4096;
/// A 64 x 32 B8G8R8X8 resource: exactly SIZE bytes.
const W: u32 = 64;
const H: u32 = 32;
/// What a present of the whole resource does after an END WRITE of the whole buffer.
const PRESENT_AFTER_END: [TraceOp; 2] = [(OP_CLEAN, 0, SIZE), (OP_DEVICE_READ, 0, SIZE)];

/// A new cached buffer with a GPU resource of it, presented once (so no line is dirty),
/// then a START WRITE on it with bytes written: its handle, id and resource.
fn written() -> Result<(Handle, u64, Handle), utests::Failed> {
    let (h, id, res) = imported()?;
    let map = ok!(urt::buffer_map(h, prot::READ | prot::WRITE));
    ok!(urt::buffer_sync(h, START | WRITE, 0, 0));
    // SAFETY: `map` is our live read-write mapping of SIZE bytes.
    unsafe { utests::write_pattern(map, SIZE as usize, 3) };
    // SAFETY: nothing references the mapping any more.
    ok!(unsafe { urt::buffer_unmap(map) });
    Ok((h, id, res))
}

/// A new cached buffer and a GPU resource of it, presented once.
fn imported() -> Result<(Handle, u64, Handle), utests::Failed> {
    let h = ok!(urt::buffer_create(SIZE, policy::CACHED));
    let id = ok!(urt::buffer_info(h)).id;
    let res = ok!(urt::gpu_import(h, W, H, format::B8G8R8X8));
    let fence = ok!(urt::gpu_present(res, 0, 0, W, H));
    ok!(urt::fence_wait(fence, 5_000_000_000));
    Ok((h, id, res))
}

/// Present the whole resource: the trace must show `want` for buffer `id`.
fn present(res: Handle, id: u64, what: &str, want: &[TraceOp]) -> TestResult {
    clear_trace()?;
    let fence = ok!(urt::gpu_present(res, 0, 0, W, H), "{}", what);
    TraceCheck::new(id).expect(what, want)?;
    ok!(urt::fence_wait(fence, 5_000_000_000));
    Ok(())
}

/// The present is refused: a START WRITE is still open on the buffer.
fn refused(res: Handle, what: &str) -> TestResult {
    expect_err!(urt::gpu_present(res, 0, 0, W, H), Error::Busy, "{}", what);
    Ok(())
}

fn test(_args: StartArgs) -> TestResult {
    utests::expect_boot(Boot::NONCOHERENT)?;

    // Close of the last handle.
    let (h, id, res) = written()?;
    refused(res, "present with START WRITE open")?;
    clear_trace()?;
    ok!(urt::handle_close(h));
    TraceCheck::new(id).expect("closing the last handle (the END cleans nothing)", &[])?;
    present(
        res,
        id,
        "present after closing the last handle with START WRITE open",
        &PRESENT_AFTER_END,
    )?;
    ok!(urt::handle_close(res));

    // Move of the last handle: the START ends; the receiver's handle has none open.
    let (h, id, res) = written()?;
    let (a, b) = ok!(urt::channel_create());
    ok!(urt::channel_send(a, b"", &[h]));
    present(
        res,
        id,
        "present after moving the last handle away with START WRITE open",
        &PRESENT_AFTER_END,
    )?;
    let mut hs = [Handle(0); 1];
    let (_, n) = ok!(urt::channel_recv(b, &mut [], &mut hs));
    check!(n == 1, "the moved handle arrives");
    expect_err!(
        urt::buffer_sync(hs[0], END | WRITE, 0, 0),
        Error::NotStarted,
        "END WRITE after the START ended with the move"
    );
    ok!(urt::handle_close(hs[0]));
    ok!(urt::handle_close(res));

    // Moving one of two handles ends nothing; the END still works.
    let (h, id, res) = written()?;
    let keep = ok!(urt::handle_dup(
        h,
        Rights::MAP_READ.with(Rights::MAP_WRITE).with(Rights::SHARE)
    ));
    ok!(urt::channel_send(a, b"", &[h]));
    refused(res, "present after moving one of two handles")?;
    ok!(urt::buffer_sync(keep, END | WRITE, 0, 0));
    present(
        res,
        id,
        "present after END WRITE on the handle kept",
        &PRESENT_AFTER_END,
    )?;
    let (_, n) = ok!(urt::channel_recv(b, &mut [], &mut hs));
    check!(n == 1, "the moved handle arrives");
    for x in [hs[0], keep, a, b, res] {
        ok!(urt::handle_close(x));
    }

    // Death with a START WRITE open (the helper takes it, then executes `udf`).
    let (h, id, res) = imported()?;
    let lent = ok!(urt::handle_dup(
        h,
        Rights::MAP_READ.with(Rights::MAP_WRITE).with(Rights::SHARE)
    ));
    let (mine, theirs) = ok!(urt::channel_create());
    let task = ok!(urt::spawn("h_isolate", &[theirs, lent]));
    ok!(send_u64s(mine, &[UDF_HOLDING_START, 0]));
    let (_, how) = ok!(urt::wait(task));
    check!(how == ExitHow::Killed, "the helper died ({:?})", how);
    present(
        res,
        id,
        "present after the death of a task with START WRITE open",
        &PRESENT_AFTER_END,
    )?;
    for x in [task, mine, theirs, lent, h, res] {
        let _ = urt::handle_close(x);
    }
    clear_trace()?;
    Ok(())
}

utests::test_main!(test);
