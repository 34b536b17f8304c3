//! Channel ends nested in queues: deep chains, wide trees, and channels full of
//! messages until a quota refuses; the cycle rule tried on each (SYSCALLS.md,
//! "Channels": an end may not be sent over its own channel, `InvalidArgument`, nor
//! while an end is queued for it, `Busy`).

use super::att::{add, minus, Att};
use super::sink::Sink;
use crate::snapshot::QUOTAS;
use crate::Mask;
use urt::alloc::vec::Vec;
use urt::{Error, Rights, Sys};

/// Sends that the cycle rule must refuse, around an end `busy` that has ends queued
/// for it (or `None`) and a sending end `tx` of another channel. Nothing may move:
/// afterwards a buffer that rode along is still ours.
pub fn refused_sends(a: &mut Att, busy: Option<u32>, tx: u32) {
    // An end through itself, a duplicate of it through it.
    a.send(tx, 4, &[tx], Some(Error::InvalidArgument)).ok();
    if let Some(d) = a.dup(tx, Rights::SHARE.0 | Rights::SEND.0) {
        a.send(tx, 0, &[d], Some(Error::InvalidArgument)).ok();
        a.close(d);
    }
    // A fresh channel: either end through the other; the busy end through either.
    let Ok((p, q)) = a.channel() else { return };
    a.send(p, 0, &[q], Some(Error::InvalidArgument)).ok();
    a.send(q, 0, &[p], Some(Error::InvalidArgument)).ok();
    if let Some(b) = busy {
        a.send(p, 0, &[b], Some(Error::Busy)).ok();
        // A buffer first, then the busy end: refused as a whole, the buffer stays.
        if let Ok((buf, ch)) = a.buffer(4096, urt::policy::CACHED) {
            a.send(q, 16, &[buf, b], Some(Error::Busy)).ok();
            if a.info(buf, Mask::OK).is_none() {
                a.fail(
                    Sys::HandleInfo,
                    [buf as u64, 0, 0, 0, 0, 0],
                    [0; 3],
                    "a refused send moved a handle out of the table",
                );
            }
            a.close(buf);
            a.refund(&ch);
        }
        // Through the channel whose queue it would close a cycle in.
        a.send(tx, 0, &[b], Some(Error::Busy)).ok();
    }
    a.close(p);
    a.close(q);
    a.refund(&Att::channel_charges());
}

/// A chain of ends, each queued for the one before, thousands deep (until the depth
/// drawn, the budget or a quota); the cycle rule tried on it; then either torn down
/// by closing its root (every charge back at once, however deep) or kept to the end.
pub fn chain(a: &mut Att) {
    let depth = match a.g.below(4) {
        0 => 1 + a.g.below(100),
        _ => 500 + a.g.below(3500),
    };
    let payload = a.g.chance(1, 4);
    let Ok((root, mut tx)) = a.channel() else {
        return;
    };
    let mut ledger = Att::channel_charges();
    let mut levels = 0;
    while levels < depth && !a.over() {
        let Ok((x, y)) = a.channel() else { break };
        let mut hs = [x, 0];
        let mut n = 1;
        let mut extra = [0; QUOTAS];
        if payload && a.g.chance(1, 8) {
            let policy = a.g.below(2);
            if let Ok((b, ch)) = a.buffer(4096, policy) {
                hs[1] = b;
                n = 2;
                extra = ch;
            }
        }
        let nbytes = a.g.index(257);
        if a.send(tx, nbytes, &hs[..n], None).is_err() {
            for &h in &hs[..n] {
                a.close(h);
            }
            a.close(y);
            a.refund(&Att::channel_charges());
            a.refund(&extra);
            break;
        }
        a.close(tx);
        tx = y;
        levels += 1;
        add(&mut ledger, &Att::channel_charges());
        add(&mut ledger, &Att::message_charges());
        add(&mut ledger, &extra);
        if levels % 16 == 0 {
            a.step();
        }
    }
    a.step();
    // The root has ends queued (unless nothing was nested): it can go nowhere.
    refused_sends(a, (levels > 0).then_some(root), tx);
    a.step();
    match a.g.below(3) {
        0 => {
            // Close the root: everything but the last channel (whose sending end we
            // hold) goes at once.
            a.close(root);
            let last = if levels > 0 {
                Att::channel_charges()
            } else {
                ledger
            };
            a.refund(&minus(&ledger, &last));
            a.check_quota(
                "closing the root of a nested chain did not give back every charge in it",
            );
            a.close(tx);
            a.refund(&last);
            a.check_quota("closing the last end of a chain did not give back its channel");
        }
        1 if levels > 0 => {
            // Receive the first level: the root's queue empties, and the root (nothing
            // queued for it now) may itself be sent, into the deepest level's queue.
            let mut hs = [0u32; 8];
            let mut b = [0u8; 256];
            let r = a.sys(
                Sys::ChannelRecv,
                [
                    root as u64,
                    b.as_mut_ptr() as u64,
                    256,
                    hs.as_mut_ptr() as u64,
                    8,
                    0,
                ],
                Mask::OK,
            );
            if r[0] == 0 {
                a.live += r[2] as usize;
                a.refund(&Att::message_charges());
                // The first level's end: now ours, with the rest of the chain below it.
                let first = hs[0];
                if a.send(tx, 0, &[root], None).is_ok() {
                    add(&mut ledger, &Att::message_charges());
                } else {
                    a.keep.push(root);
                }
                for &h in &hs[1..r[2] as usize] {
                    a.keep.push(h);
                }
                a.keep.push(first);
                a.keep.push(tx);
            } else {
                a.keep.push(root);
                a.keep.push(tx);
            }
        }
        _ => {
            a.keep.push(root);
            a.keep.push(tx);
        }
    }
}

/// A wide tree of ends: each node's queue holds up to `width` children (eight to a
/// message), depth-first to the drawn size; the cycle rule tried on it; then closed
/// (every charge back) or kept.
pub fn tree(a: &mut Att) {
    let width = 1 + a.g.below(64) as u32;
    let max_nodes = 50 + a.g.below(2000);
    let max_depth = 1 + a.g.below(8) as u32;
    let Ok((root, y0)) = a.channel() else {
        return;
    };
    let mut ledger = Att::channel_charges();
    let mut nodes = 1;
    // (sending end of a node, children left to add, depth)
    let mut stack: Vec<(u32, u32, u32)> = Vec::new();
    stack.push((y0, width, 1));
    let mut full = false;
    while let Some(&(y, left, d)) = stack.last() {
        if a.over() || full || nodes >= max_nodes || a.live + 16 > super::att::TABLE {
            break;
        }
        if left == 0 || d >= max_depth {
            a.close(y);
            stack.pop();
            continue;
        }
        let batch = left.min(8) as usize;
        let mut xs = [0u32; 8];
        let mut ys = [0u32; 8];
        let mut made = 0;
        for k in 0..batch {
            match a.channel() {
                Ok((x, yy)) => {
                    xs[k] = x;
                    ys[k] = yy;
                    made += 1;
                }
                Err(_) => {
                    full = true;
                    break;
                }
            }
        }
        if made == 0 {
            break;
        }
        let nbytes = a.g.index(64);
        let sent = a.send(y, nbytes, &xs[..made], None).is_ok();
        if let Some(top) = stack.last_mut() {
            top.1 = left.saturating_sub(made as u32);
        }
        if !sent {
            for k in 0..made {
                a.close(xs[k]);
                a.close(ys[k]);
                a.refund(&Att::channel_charges());
            }
            break;
        }
        add(&mut ledger, &Att::message_charges());
        for &yy in &ys[..made] {
            add(&mut ledger, &Att::channel_charges());
            stack.push((yy, width, d + 1));
        }
        nodes += made as u64;
        a.step();
    }
    // The root has children (unless none were made): refused everywhere, and through
    // its own channel.
    if let Some(&(y, _, _)) = stack.last() {
        let busy = (nodes > 1 && y != y0).then_some(root);
        refused_sends(a, busy, y);
    }
    // A sending end has nothing queued for it: it may be moved into another node's
    // queue (no cycle: nothing hangs below it).
    if stack.len() >= 2 {
        let (ya, _, _) = stack[stack.len() - 1];
        let (yb, _, _) = stack[stack.len() - 2];
        if a.send(yb, 0, &[ya], None).is_ok() {
            add(&mut ledger, &Att::message_charges());
            stack.pop();
        }
    }
    for (y, _, _) in stack.drain(..) {
        a.close(y);
    }
    a.step();
    if a.g.chance(1, 2) {
        // Every sending end is closed: closing the root frees the whole tree.
        a.close(root);
        a.refund(&ledger);
        a.check_quota("closing the root of a tree of ends did not give back every charge in it");
    } else {
        a.keep.push(root);
    }
}

/// Channels full of messages (bytes, sometimes a buffer, sometimes a channel end)
/// until a quota refuses, kept in a sink; an end with an end queued for it cannot go
/// into the sink (`Busy`) and is closed instead; while full, calls that need nothing
/// more still succeed.
pub fn fill_channels(a: &mut Att) {
    let Ok(mut sink) = Sink::new(a) else { return };
    'fill: while !a.over() {
        let Ok((p, q)) = a.channel() else { break };
        let mut ledger = Att::channel_charges();
        // Mostly full queues, sometimes one more (QueueFull).
        let n = 12 + a.g.below(6);
        // Sometimes one message carries a channel end (then q cannot go to the sink).
        let end_at = if a.g.chance(1, 16) { a.g.below(n) } else { n };
        let mut ends_queued = false;
        for k in 0..n {
            let rule = (k >= 16).then_some(Error::QueueFull);
            // 0: a buffer rides along; 1: a channel end; 2: bytes only.
            let kind = if k == end_at {
                1
            } else if a.g.chance(1, 16) {
                0
            } else {
                2
            };
            let mut extra = [0; QUOTAS];
            let mut h = 0;
            if rule.is_none() && kind == 0 {
                if let Ok((b, ch)) = a.buffer(4096, urt::policy::CACHED) {
                    h = b;
                    extra = ch;
                }
            } else if rule.is_none() && kind == 1 {
                if let Ok((e, f)) = a.channel() {
                    a.close(f);
                    h = e;
                    extra = Att::channel_charges();
                }
            }
            let hs = [h];
            let hs: &[u32] = if h != 0 { &hs } else { &[] };
            let nbytes = 1 + a.g.index(256);
            match a.send(p, nbytes, hs, rule) {
                Ok(()) => {
                    add(&mut ledger, &Att::message_charges());
                    add(&mut ledger, &extra);
                    ends_queued |= kind == 1 && h != 0;
                }
                Err(_) => {
                    if h != 0 {
                        a.close(h);
                        a.refund(&extra);
                    }
                    if rule.is_none() {
                        // A quota refused: keep what there is and stop.
                        if sink.put(a, &[p], &[0; QUOTAS]).is_err() {
                            a.keep.push(p);
                        }
                        a.keep.push(q);
                        break 'fill;
                    }
                }
            }
        }
        if ends_queued {
            // q has an end queued for it: the sink (or anywhere) must refuse it.
            a.send(sink.tx, 0, &[p, q], Some(Error::Busy)).ok();
            let chan = Att::channel_charges();
            let ok = sink.put(a, &[p], &chan).is_ok();
            // Closing q drops its queue and the ends in it; the channel lives on in
            // the sink with p.
            a.close(q);
            if ok {
                a.refund(&minus(&ledger, &chan));
            } else {
                a.close(p);
                a.refund(&ledger);
            }
            a.step();
            if !ok {
                break;
            }
            continue;
        }
        if sink.put(a, &[p, q], &ledger).is_err() {
            a.keep.push(p);
            a.keep.push(q);
            break;
        }
        a.step();
    }
    // Full (or out of budget): what needs no quota still works.
    if let Some(d) = a.dup(sink.tx, Rights::SEND.0) {
        a.close(d);
    }
    let _ = a.channel().map(|(x, y)| {
        a.close(x);
        a.close(y);
        a.refund(&Att::channel_charges());
    });
    a.check_quota("filling channels with messages: a charge differs from SYSCALLS.md's table");
    a.check_heap();
    if a.g.chance(1, 3) {
        sink.close(a);
        a.check_quota("closing a sink of full channels did not give back every charge in it");
    } else {
        sink.keep(a);
    }
}
