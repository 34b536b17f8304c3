//! Suite `handover`: the cost of passing a buffer from a producer task to a consumer
//! task and back, with the sync calls each side makes.
//!
//! `bench` (the producer, A) creates [`BUFFERS`] cached buffers of [`BUFFER_SIZE`]
//! bytes, spawns `bench_peer` (the consumer, B) with one end of a channel and sends it
//! read-only duplicates of the buffers ([`Msg::Buffers`], eight handles per message), as
//! the demo's client does for its compositor. Then, for each round `i`, on buffer
//! `i % BUFFERS`:
//!
//! - A: START WRITE, writes the word [`stamp`]`(i)`, END WRITE, sends [`Msg::Turn`];
//! - B: receives it, START READ, reads and checks the word, END READ, sends
//!   [`Msg::Back`]; A receives that.
//!
//! All calls cover the whole buffer (`len` 0). No device touches these buffers, so no
//! call maintains anything: CPU caches are coherent with each other (A's END records
//! its lines as dirty; B's START finds nothing stale). After [`WARMUP_ROUNDS`], [`ROUNDS`] rounds are timed on A's
//! side: one record, case `ping-pong`, variant `whole`, with `reps` = the hand-overs
//! (two per round) and `cycles` and the kernel's events per hand-over. Both tasks'
//! syscalls count (the counters are global), and `syscalls` counts every `svc` entry: a
//! `channel_recv` that blocks is issued again when woken, so a hand-over shows 5 (the
//! giving task's START, END and send, the taking task's recv twice). The scheduler switching
//! between the tasks is part of the cost. The timed rounds start right after a timer tick
//! ([`between_ticks`]), so no tick lands in them.

use crate::measure::{between_ticks, now, Totals, Window};
use crate::report::Record;
use crate::{fail, kib, Failed, MappedBuffer, OrFail, TASK};
use urt::sync::{END, START, WRITE};
use urt::{ExitHow, Handle, Rights};

/// Buffers passed back and forth.
pub const BUFFERS: usize = 16;
/// Size of each buffer.
pub const BUFFER_SIZE: u64 = kib(4);
/// Rounds run before timing (each buffer once).
pub const WARMUP_ROUNDS: u32 = BUFFERS as u32;
/// Rounds timed (two hand-overs each).
pub const ROUNDS: u32 = 64;

/// The program that plays the consumer.
pub const PEER: &str = "bench_peer";

/// Handles per [`Msg::Buffers`] message.
pub const HANDLES_PER_MSG: usize = 8;

/// A message between `bench` and `bench_peer`: two little-endian u32 words `[kind, n]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Msg {
    /// A -> B: read-only handles of buffers `first..first + handles` (the handles travel
    /// with the message).
    Buffers {
        /// Index of the first buffer carried.
        first: u32,
    },
    /// A -> B: round `round`'s buffer (`round % BUFFERS`) is written and ended; read it.
    Turn {
        /// The round.
        round: u32,
    },
    /// B -> A: done reading round `round`'s buffer.
    Back {
        /// The round.
        round: u32,
    },
    /// A -> B: no more rounds; exit.
    Quit,
}

impl Msg {
    const BUFFERS: u32 = 1;
    const TURN: u32 = 2;
    const BACK: u32 = 3;
    const QUIT: u32 = 4;

    /// The wire form.
    pub fn encode(self) -> [u8; 8] {
        let (kind, n) = match self {
            Msg::Buffers { first } => (Self::BUFFERS, first),
            Msg::Turn { round } => (Self::TURN, round),
            Msg::Back { round } => (Self::BACK, round),
            Msg::Quit => (Self::QUIT, 0),
        };
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&kind.to_le_bytes());
        b[4..].copy_from_slice(&n.to_le_bytes());
        b
    }

    /// Parse the wire form; `None` for anything else.
    pub fn decode(b: &[u8]) -> Option<Msg> {
        let b: &[u8; 8] = b.try_into().ok()?;
        let kind = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let n = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
        Some(match (kind, n) {
            (Self::BUFFERS, first) => Msg::Buffers { first },
            (Self::TURN, round) => Msg::Turn { round },
            (Self::BACK, round) => Msg::Back { round },
            (Self::QUIT, 0) => Msg::Quit,
            _ => return None,
        })
    }
}

/// Send `msg` with `handles` (moved) on `ch`.
pub fn send(ch: Handle, msg: Msg, handles: &[Handle]) -> urt::Result<()> {
    urt::channel_send(ch, &msg.encode(), handles)
}

/// Receive the next message on `ch` (blocking) with up to `handles.len()` handles;
/// returns it and how many handles came with it. Anything but a [`Msg`] is
/// `InvalidArgument`.
pub fn recv(ch: Handle, handles: &mut [Handle]) -> urt::Result<(Msg, usize)> {
    let mut b = [0u8; 8];
    let (n, m) = urt::channel_recv(ch, &mut b, handles)?;
    let msg = Msg::decode(&b[..n]).ok_or(urt::Error::InvalidArgument)?;
    Ok((msg, m))
}

/// The word A writes at the start of the buffer in round `round` (never 0, so a buffer
/// still holding its initial zeros does not pass).
pub fn stamp(round: u32) -> u64 {
    0xb0b0_0000_0000_0000 | u64::from(round)
}

/// The producer's side of one round (see the module docs).
fn round(ch: Handle, bufs: &[MappedBuffer], round: u32) -> Result<(), Failed> {
    let buf = &bufs[round as usize % BUFFERS];
    urt::buffer_sync(buf.handle, START | WRITE, 0, 0).or_fail("START WRITE")?;
    // SAFETY: `ptr` is our writable mapping of the buffer (page-aligned, so aligned for
    // u64); between START WRITE and END WRITE no other task touches it (B reads only
    // after our Turn message).
    unsafe { buf.ptr.cast::<u64>().write_volatile(stamp(round)) };
    urt::buffer_sync(buf.handle, END | WRITE, 0, 0).or_fail("END WRITE")?;
    send(ch, Msg::Turn { round }, &[]).or_fail("sending a turn")?;
    match recv(ch, &mut []).or_fail("waiting for the peer")? {
        (Msg::Back { round: r }, 0) if r == round => Ok(()),
        (m, _) => Err(fail(
            TASK,
            "expected the buffer back",
            format_args!("{m:?}"),
        )),
    }
}

/// Run the suite.
pub fn run() -> Result<(), Failed> {
    let (ch, theirs) = urt::channel_create().or_fail("channel_create")?;
    let peer = urt::spawn(PEER, &[theirs]).or_fail("spawn bench_peer")?;

    let mut bufs = urt::alloc::vec::Vec::with_capacity(BUFFERS);
    let mut shared = [Handle(0); BUFFERS];
    for ro in shared.iter_mut() {
        let buf = MappedBuffer::new(BUFFER_SIZE)?;
        *ro = urt::handle_dup(buf.handle, Rights::MAP_READ.with(Rights::SHARE))
            .or_fail("handle_dup")?;
        bufs.push(buf);
    }
    for (i, handles) in shared.chunks(HANDLES_PER_MSG).enumerate() {
        let first = (i * HANDLES_PER_MSG) as u32;
        send(ch, Msg::Buffers { first }, handles).or_fail("sending the buffers")?;
    }

    for r in 0..WARMUP_ROUNDS {
        round(ch, &bufs, r)?;
    }
    let mut next = WARMUP_ROUNDS;
    let (cycles, span) = between_ticks(|| {
        let window = Window::open().or_fail("counters")?;
        let t0 = now();
        for r in next..next + ROUNDS {
            round(ch, &bufs, r)?;
        }
        let cycles = now() - t0;
        next += ROUNDS;
        Ok((cycles, window.close().or_fail("counters")?))
    })?;

    send(ch, Msg::Quit, &[]).or_fail("sending quit")?;
    let (code, how) = urt::wait(peer).or_fail("wait")?;
    if how != ExitHow::Exited || code != 0 {
        return Err(fail(
            TASK,
            PEER,
            format_args!("ended {how:?} with code {code:#x}"),
        ));
    }
    urt::handle_close(ch).or_fail("handle_close")?;
    for buf in bufs {
        buf.close()?;
    }

    Record {
        suite: "handover",
        case: "ping-pong",
        variant: "whole",
        size: BUFFER_SIZE,
        totals: Totals {
            reps: 2 * u64::from(ROUNDS),
            cycles,
            events: span.events,
            masked_max: span.masked_max,
        },
        phases: None,
        extra: &[],
    }
    .print();
    Ok(())
}
