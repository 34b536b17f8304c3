//! `bench_peer`: the consumer of the `handover` suite (see `bench::handover_suite`).
//! Started by `bench` with one end of a channel; receives read-only handles of the
//! buffers, then for each turn reads the round's buffer between START READ and END READ,
//! checks the word the producer wrote and hands the buffer back, until told to quit.

#![no_std]
#![no_main]

use bench::handover_suite::{recv, send, stamp, Msg, BUFFERS, HANDLES_PER_MSG, PEER};
use bench::{fail, Failed};
use core::fmt::Display;
use urt::sync::{END, READ, START};
use urt::{prot, Handle, StartArgs};

/// Report an error as `bench_peer: <what>: <e>`.
fn or_fail<T, E: Display>(r: Result<T, E>, what: &str) -> Result<T, Failed> {
    r.map_err(|e| fail(PEER, what, e))
}

/// A buffer as this task sees it: its read-only handle and mapping.
#[derive(Clone, Copy)]
struct Shared {
    handle: Handle,
    ptr: *const u64,
}

fn run(args: &StartArgs) -> Result<(), Failed> {
    let ch = args
        .get(0)
        .ok_or_else(|| fail(PEER, "start handles", "no channel"))?;

    let mut bufs = [None::<Shared>; BUFFERS];
    for _ in 0..BUFFERS / HANDLES_PER_MSG {
        let mut handles = [Handle(0); HANDLES_PER_MSG];
        match or_fail(recv(ch, &mut handles), "waiting for the buffers")? {
            (Msg::Buffers { first }, HANDLES_PER_MSG)
                if first as usize + HANDLES_PER_MSG <= BUFFERS =>
            {
                for (slot, handle) in bufs[first as usize..].iter_mut().zip(handles) {
                    let ptr = or_fail(urt::buffer_map(handle, prot::READ), "buffer_map")?;
                    *slot = Some(Shared {
                        handle,
                        ptr: ptr.cast(),
                    });
                }
            }
            (m, _) => return Err(fail(PEER, "expected buffers", format_args!("{m:?}"))),
        }
    }

    loop {
        match or_fail(recv(ch, &mut []), "waiting for a turn")? {
            (Msg::Turn { round }, 0) => {
                let Some(buf) = bufs[round as usize % BUFFERS] else {
                    return Err(fail(PEER, "turn", "buffer never received"));
                };
                or_fail(
                    urt::buffer_sync(buf.handle, START | READ, 0, 0),
                    "START READ",
                )?;
                // SAFETY: `ptr` is our read-only mapping of the buffer (page-aligned, so
                // aligned for u64); between START READ and END READ the producer does not
                // write it (it waits for our Back message).
                let word = unsafe { buf.ptr.read_volatile() };
                or_fail(urt::buffer_sync(buf.handle, END | READ, 0, 0), "END READ")?;
                if word != stamp(round) {
                    return Err(fail(
                        PEER,
                        "stale data",
                        format_args!("round {round}: read {word:#x}"),
                    ));
                }
                or_fail(
                    send(ch, Msg::Back { round }, &[]),
                    "sending the buffer back",
                )?;
            }
            (Msg::Quit, 0) => return Ok(()),
            (m, _) => return Err(fail(PEER, "expected a turn", format_args!("{m:?}"))),
        }
    }
}

fn main(args: StartArgs) -> i32 {
    match run(&args) {
        Ok(()) => 0,
        Err(Failed) => 1,
    }
}

urt::entry!(main);
