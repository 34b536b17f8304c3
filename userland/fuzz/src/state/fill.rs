//! Filling quotas: the kernel heap with a mix of every kind of object, the frames with
//! big buffers, the GPU with resources, the task table with blocked children, and the
//! account depth with a chain of tasks. Every refusal must come exactly where the
//! charges of SYSCALLS.md's table put it (`Att::want_charges`).

use super::att::{self, Att, Ch, HEAP, TASKS};
use super::child::LOST;
use super::sink::{Sink, PER_MESSAGE};
use super::{CHILD_CHAIN, CHILD_HOLD, MAX_ACCOUNT_DEPTH};
use crate::snapshot::QUOTAS;
use crate::Mask;
use urt::alloc::vec::Vec;
use urt::{Error, Handle, Sys};

/// Handles waiting to go into the sink, with what they alone keep alive.
struct Batch {
    hs: Vec<u32>,
    ledger: Ch,
}

impl Batch {
    fn new() -> Batch {
        Batch {
            hs: Vec::new(),
            ledger: [0; QUOTAS],
        }
    }

    fn add(&mut self, h: u32, c: &Ch) {
        self.hs.push(h);
        att::add(&mut self.ledger, c);
    }

    /// Into the sink once a message's worth is waiting (or `now`), a message at a
    /// time; false if a quota refused (what is left stays in the batch).
    fn flush(&mut self, a: &mut Att, sink: &mut Sink, now: bool) -> bool {
        while self.hs.len() >= PER_MESSAGE || (now && !self.hs.is_empty()) {
            let n = self.hs.len().min(PER_MESSAGE);
            // The whole ledger rides with the first message: it is only ever summed.
            if sink.put(a, &self.hs[..n], &self.ledger).is_err() {
                return false;
            }
            self.hs.drain(..n);
            self.ledger = [0; QUOTAS];
        }
        true
    }
}

/// Spawn a holder child with `[orders end]`: it makes objects of its own, says ready,
/// and blocks until the end we keep closes. Returns (our end, task handle, everything
/// the child and its channel were charged, which its end gives back).
fn holder(a: &mut Att) -> Result<(u32, u32, Ch), Error> {
    let before = a.mine;
    let (c0, c1) = a.channel()?;
    let seed = a.g.next_u64();
    if let Err(e) = a.send_words(c0, &[CHILD_HOLD, seed, 0], &[], None) {
        a.close(c0);
        a.close(c1);
        a.refund(&Att::channel_charges());
        return Err(e);
    }
    let t = match a.spawn(&[c1]) {
        Ok(t) => t,
        Err(e) => {
            a.close(c0);
            a.close(c1);
            a.refund(&Att::channel_charges());
            a.refund(&Att::message_charges());
            return Err(e);
        }
    };
    // Its ready report: its own calls were all documented. If a full quota refused
    // the report, the child ended instead (its end closed): that is a refusal too.
    let mut w = [0u64; 2];
    let got = crate::recv_words(Handle(c0), &mut w);
    a.calls += 1;
    match got {
        Ok(_) if w[0] == 0 => {}
        Err(urt::Error::PeerClosed) => {
            a.sys(Sys::Wait, [t as u64, 0, 0, 0, 0, 0], Mask::OK);
            a.close(t);
            a.close(c0);
            a.children -= 1;
            a.sync_quota();
            a.refusal(urt::Error::NoMemory as u64);
            return Err(urt::Error::NoMemory);
        }
        _ => a.fail(
            Sys::ChannelRecv,
            [c0 as u64, 0, 0, 0, 0, 0],
            [w[0], w[1], 0],
            "a holder child found a violation (see its line) or sent no ready",
        ),
    }
    a.sync_quota();
    Ok((c0, t, att::minus(&a.mine, &before)))
}

/// Calls that take no quota keep working while everything is full; then the sink is
/// kept or closed.
fn while_full(a: &mut Att, sink: Sink, mut rest: Batch) {
    if let Some(d) = a.dup(sink.tx, urt::Rights::SEND.0) {
        a.close(d);
    }
    a.stat(urt::Stat::HeapUsed);
    a.check_quota("full: a charge differs from SYSCALLS.md's table");
    a.check_heap();
    if a.g.chance(1, 3) {
        // Everything goes: the sink, and what a full quota kept out of it.
        for h in rest.hs.drain(..) {
            a.close(h);
        }
        a.refund(&rest.ledger);
        sink.close(a);
        if a.children > 0 {
            a.await_children();
        }
        a.check_quota("closing a full sink (and the children whose ends were in it) did not give back every charge");
    } else {
        a.keep.append(&mut rest.hs);
        sink.keep(a);
    }
}

/// A random mix of channels, messages, small buffers, GPU resources, mappings and
/// holder children until the kernel-heap quota (or another) refuses.
pub fn heap(a: &mut Att) {
    let Ok(mut sink) = Sink::new(a) else { return };
    let mut batch = Batch::new();
    let mut refused = false;
    while !a.over() && !refused {
        match a.g.below(20) {
            // Mostly channels and small buffers (GPU resources rarely enough that the
            // heap, not their count, runs out first).
            0..=7 => match a.channel() {
                Ok((p, q)) => {
                    let mut l = Att::channel_charges();
                    for _ in 0..a.g.below(4) {
                        if a.send(p, 64, &[], None).is_err() {
                            refused = true;
                            break;
                        }
                        att::add(&mut l, &Att::message_charges());
                    }
                    batch.add(p, &l);
                    batch.add(q, &[0; QUOTAS]);
                }
                Err(_) => refused = true,
            },
            8..=15 => {
                let policy = a.g.below(2);
                match a.buffer(4096, policy) {
                    Ok((b, c)) => batch.add(b, &c),
                    Err(_) => refused = true,
                }
            }
            16 if a.g.chance(1, 2) => match a.buffer(4096, urt::policy::CACHED) {
                Ok((b, c)) => match a.import(b, 32, 32) {
                    Ok((r, rc)) => {
                        batch.add(b, &c);
                        batch.add(r, &rc);
                    }
                    Err(_) => {
                        batch.add(b, &c);
                        refused = true;
                    }
                },
                Err(_) => refused = true,
            },
            17 if a.maps.len() < urt::limits::MAX_MAPPINGS => {
                let (size, policy, prot) =
                    (4096 * (1 + a.g.below(16)), a.g.below(2), 1 + a.g.below(3));
                match a.buffer(size, policy) {
                    Ok((b, c)) => {
                        if a.map(b, prot).is_some() {
                            // The mapping keeps the buffer (and its charges) to the
                            // end; the handle goes to the sink.
                            batch.add(b, &[0; QUOTAS]);
                        } else {
                            refused = true;
                            batch.add(b, &c);
                        }
                    }
                    Err(_) => refused = true,
                }
            }
            18 if a.g.chance(1, 3) => match holder(a) {
                Ok((c0, t, l)) => {
                    batch.add(c0, &l);
                    batch.add(t, &[0; QUOTAS]);
                }
                Err(_) => refused = true,
            },
            _ => {}
        }
        if !batch.flush(a, &mut sink, false) {
            refused = true;
        }
        a.step();
    }
    batch.flush(a, &mut sink, true);
    while_full(a, sink, batch);
}

/// Big buffers (mostly 64 MiB) until the frames quota refuses.
pub fn frames(a: &mut Att) {
    let Ok(mut sink) = Sink::new(a) else { return };
    let mut batch = Batch::new();
    for _ in 0..40 {
        if a.over() {
            break;
        }
        let size = if a.g.chance(3, 4) {
            urt::limits::MAX_BUFFER
        } else {
            4096 * (1 + a.g.below(16384))
        };
        let policy = a.g.below(2);
        match a.buffer(size, policy) {
            Ok((b, c)) => batch.add(b, &c),
            Err(_) => break,
        }
        if !batch.flush(a, &mut sink, false) {
            break;
        }
        a.step();
    }
    batch.flush(a, &mut sink, true);
    while_full(a, sink, batch);
}

/// GPU resources until a GPU quota refuses: a big buffer imported whole several times
/// (GPU bytes), then small ones (the resource count).
pub fn gpu(a: &mut Att) {
    let Ok(mut sink) = Sink::new(a) else { return };
    let mut batch = Batch::new();
    // Half the runs go for the GPU bytes (64 MiB resources until 256 MiB are used),
    // half for the count (a few big ones, then small ones).
    let bytes_first = a.g.chance(1, 2);
    let side = if bytes_first {
        4096
    } else {
        [1024u64, 2048, 4096][a.g.index(3)]
    };
    let big_ones = if bytes_first { 8 } else { a.g.below(8) };
    // The buffers stay in hand while they are imported, and go to the sink after.
    let mut bufs = Batch::new();
    if let Ok((big, c)) = a.buffer(side * side * 4, urt::policy::CACHED) {
        bufs.add(big, &c);
        for _ in 0..big_ones {
            if a.over() {
                break;
            }
            match a.import(big, side, side) {
                Ok((r, rc)) => batch.add(r, &rc),
                Err(_) => break,
            }
            if !batch.flush(a, &mut sink, false) {
                break;
            }
            a.step();
        }
    }
    if let Ok((small, c)) = a.buffer(4096, urt::policy::CACHED) {
        bufs.add(small, &c);
        while !a.over() {
            let (w, h) = (1 + a.g.below(32), 1 + a.g.below(32));
            match a.import(small, w, h) {
                Ok((r, rc)) => batch.add(r, &rc),
                Err(_) => break,
            }
            if !batch.flush(a, &mut sink, false) {
                break;
            }
            a.step();
        }
    }
    for (i, &h) in bufs.hs.iter().enumerate() {
        batch.add(h, &if i == 0 { bufs.ledger } else { [0; QUOTAS] });
    }
    batch.flush(a, &mut sink, true);
    while_full(a, sink, batch);
}

/// Holder children until the tasks quota (or the heap) refuses.
pub fn tasks(a: &mut Att) {
    let Ok(mut sink) = Sink::new(a) else { return };
    let mut batch = Batch::new();
    while !a.over() {
        match holder(a) {
            Ok((c0, t, l)) => {
                batch.add(c0, &l);
                batch.add(t, &[0; QUOTAS]);
            }
            Err(_) => break,
        }
        if !batch.flush(a, &mut sink, false) {
            break;
        }
        a.step();
    }
    batch.flush(a, &mut sink, true);
    while_full(a, sink, batch);
}

/// A chain of tasks, each spawning the next, until `spawn` refuses: at the documented
/// account depth (TableFull), unless the tasks or heap quota had too little room for
/// the whole chain.
pub fn depth(a: &mut Att) {
    let Ok((c0, c1)) = a.channel() else { return };
    let seed = a.g.next_u64();
    let orders = [CHILD_CHAIN, seed, a.depth + 1];
    let spawned = match a.send_words(c0, &orders, &[], None) {
        Ok(()) => a.spawn(&[c1]),
        Err(e) => Err(e),
    };
    match spawned {
        Ok(t) => a.keep.push(t),
        Err(_) => {
            a.close(c0);
            a.close(c1);
            a.sync_quota();
            return;
        }
    }
    let mut w = [0u64; 4];
    let got = crate::recv_words(Handle(c0), &mut w);
    a.calls += 1;
    a.keep.push(c0);
    let (deepest, err, violations, bad_name) = (w[0], w[1], w[2], w[3]);
    // Each link: a task and a channel (and a message in flight).
    let links = MAX_ACCOUNT_DEPTH - a.depth;
    let per_link = att::TASK_HEAP + att::CHANNEL_HEAP + att::MESSAGE_HEAP;
    let tight = a.room(TASKS) < links + 1 || a.room(HEAP) < (links + 1) * per_link;
    let exact = deepest == MAX_ACCOUNT_DEPTH
        && err == Error::TableFull as u64
        && bad_name == Error::TableFull as u64;
    // Short of room: the tasks quota refuses before the program is looked for, the
    // heap after (SYSCALLS.md's order: TableFull, NotFound, BadProgram, NoMemory).
    let early = deepest < MAX_ACCOUNT_DEPTH
        && ((err == Error::TableFull as u64 && bad_name == err)
            || (err == Error::NoMemory as u64 && bad_name == Error::NotFound as u64)
            || err == LOST);
    if got.is_err() || violations != 0 || !(exact || (tight && early)) {
        urt::println!(
            "fuzz_state: depth: the chain ended at account depth {deepest} with {} ({} for a \
             program that does not exist) (SYSCALLS.md: accounts are at most \
             {MAX_ACCOUNT_DEPTH} deep, so a task at depth {MAX_ACCOUNT_DEPTH} gets TableFull, \
             before NotFound); {violations} violations in the chain",
            crate::code_name(err),
            crate::code_name(bad_name)
        );
        a.fail(
            Sys::Spawn,
            [deepest, 0, 0, 0, 0, 0],
            [err, deepest, violations],
            "spawn refused at another account depth than SYSCALLS.md says",
        );
    }
    a.sync_quota();
}
