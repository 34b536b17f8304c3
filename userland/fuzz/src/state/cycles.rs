//! Random sends, receives, duplicates and closes among a few channels and buffers,
//! every result predicted by a full model of the queues: which ends are alive, what is
//! queued for each, which handles each message carries. An attacker trying every way
//! to close a cycle of queued ends (an end through its own channel, through its peer, a
//! duplicate of it, an end that has ends queued for it, longer rings built one send at
//! a time) must be refused each time as SYSCALLS.md's cycle rule says, a refused send
//! must move nothing, received handles keep exactly their rights, and every channel,
//! message and buffer is charged and given back when the model says.

use super::att::{add, Att, Ch};
use crate::snapshot::QUOTAS;
use crate::Mask;
use urt::alloc::collections::VecDeque;
use urt::alloc::vec::Vec;
use urt::{Error, ObjectKind, Rights, Sys};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Obj {
    /// Channel, side.
    End(usize, usize),
    Buf(usize),
}

struct Msg {
    items: Vec<(Obj, u32)>,
}

struct Chan {
    /// Queue of messages for side s.
    q: [VecDeque<Msg>; 2],
    /// References to side s: handles and queued items.
    refs: [u32; 2],
    freed: bool,
}

#[derive(Clone, Copy)]
struct H {
    v: u32,
    obj: Obj,
    rights: u32,
}

struct Model {
    hs: Vec<H>,
    chans: Vec<Chan>,
    /// References per buffer (`u32::MAX` once freed).
    bufs: Vec<u32>,
}

const CHAN_RIGHTS: u32 = Rights::SEND.0 | Rights::RECV.0 | Rights::SHARE.0;
const BUF_RIGHTS: u32 = Rights::ALL.0 & !Rights::WAIT.0 & !Rights::SEND.0 & !Rights::RECV.0;

impl Model {
    fn has_ends_queued(&self, c: usize, s: usize) -> bool {
        self.chans[c].q[s]
            .iter()
            .any(|m| m.items.iter().any(|(o, _)| matches!(o, Obj::End(..))))
    }

    fn add_ref(&mut self, o: Obj) {
        match o {
            Obj::End(c, s) => self.chans[c].refs[s] += 1,
            Obj::Buf(b) => self.bufs[b] += 1,
        }
    }

    /// Drop one reference to `o`, and everything that frees, without recursion;
    /// `refund` collects the charges given back.
    fn drop_ref(&mut self, o: Obj, refund: &mut Ch) {
        let mut work: Vec<Obj> = Vec::new();
        work.push(o);
        while let Some(o) = work.pop() {
            match o {
                Obj::Buf(b) => {
                    self.bufs[b] -= 1;
                    if self.bufs[b] == 0 {
                        self.bufs[b] = u32::MAX;
                        refund[super::att::FRAMES] += super::att::buffer_frames(1);
                        refund[super::att::HEAP] += super::att::buffer_heap(1);
                    }
                }
                Obj::End(c, s) => {
                    self.chans[c].refs[s] -= 1;
                    if self.chans[c].refs[s] == 0 {
                        // Nobody can receive what is queued for it: dropped.
                        while let Some(m) = self.chans[c].q[s].pop_front() {
                            add(refund, &Att::message_charges());
                            for (x, _) in m.items {
                                work.push(x);
                            }
                        }
                        if self.chans[c].refs == [0, 0] && !self.chans[c].freed {
                            self.chans[c].freed = true;
                            add(refund, &Att::channel_charges());
                        }
                    }
                }
            }
        }
    }
}

fn kind_of(o: Obj) -> u64 {
    match o {
        Obj::End(..) => ObjectKind::Channel as u64,
        Obj::Buf(_) => ObjectKind::Buffer as u64,
    }
}

/// The scenario.
pub fn run(a: &mut Att) {
    let mut m = Model {
        hs: Vec::new(),
        chans: Vec::new(),
        bufs: Vec::new(),
    };
    let steps = 100 + a.g.below(1500);
    for _ in 0..steps {
        if a.over() {
            break;
        }
        let pick = a.g.below(100);
        match pick {
            0..=9 if m.chans.len() < 24 => {
                if let Ok((x, y)) = a.channel() {
                    let c = m.chans.len();
                    m.chans.push(Chan {
                        q: [VecDeque::new(), VecDeque::new()],
                        refs: [1, 1],
                        freed: false,
                    });
                    m.hs.push(H {
                        v: x,
                        obj: Obj::End(c, 0),
                        rights: CHAN_RIGHTS,
                    });
                    m.hs.push(H {
                        v: y,
                        obj: Obj::End(c, 1),
                        rights: CHAN_RIGHTS,
                    });
                }
            }
            10..=14 if m.bufs.len() < 24 => {
                if let Ok((b, _)) = a.buffer(4096, urt::policy::CACHED) {
                    let i = m.bufs.len();
                    m.bufs.push(1);
                    m.hs.push(H {
                        v: b,
                        obj: Obj::Buf(i),
                        rights: BUF_RIGHTS,
                    });
                }
            }
            15..=22 if !m.hs.is_empty() => dup(a, &mut m),
            23..=64 if !m.hs.is_empty() => send(a, &mut m),
            65..=82 if !m.hs.is_empty() => recv(a, &mut m),
            83..=92 if !m.hs.is_empty() => {
                let i = a.g.index(m.hs.len());
                let h = m.hs.swap_remove(i);
                a.close(h.v);
                let mut refund = [0; QUOTAS];
                m.drop_ref(h.obj, &mut refund);
                a.refund(&refund);
            }
            _ if !m.hs.is_empty() => {
                let h = m.hs[a.g.index(m.hs.len())];
                if let Some((k, r)) = a.info(h.v, Mask::OK) {
                    if k != kind_of(h.obj) || r != h.rights {
                        a.fail(
                            Sys::HandleInfo,
                            [h.v as u64, 0, 0, 0, 0, 0],
                            [0, k, r as u64],
                            "handle_info: kind or rights differ from the model",
                        );
                    }
                }
            }
            _ => {}
        }
        a.step();
        if a.g.chance(1, 16) {
            a.check_quota("cycles: a channel, message or buffer charged or given back otherwise than the model says");
        }
    }
    a.check_quota("cycles: the model's charges at the end");
    for h in m.hs {
        a.keep.push(h.v);
    }
}

fn dup(a: &mut Att, m: &mut Model) {
    let h = m.hs[a.g.index(m.hs.len())];
    let rights = h.rights & a.g.next_u64() as u32;
    let want = if h.rights & Rights::SHARE.0 == 0 {
        Mask::err(Error::AccessDenied)
    } else if a.live >= super::att::TABLE {
        Mask::err(Error::TableFull)
    } else {
        Mask::OK
    };
    let r = a.sys(
        Sys::HandleDup,
        [h.v as u64, rights as u64, 0, 0, 0, 0],
        want,
    );
    if r[0] == 0 {
        a.live += 1;
        m.add_ref(h.obj);
        m.hs.push(H {
            v: r[1] as u32,
            obj: h.obj,
            rights,
        });
    }
}

fn send(a: &mut Att, m: &mut Model) {
    let ends: Vec<usize> = (0..m.hs.len())
        .filter(|&i| matches!(m.hs[i].obj, Obj::End(..)))
        .collect();
    if ends.is_empty() {
        return;
    }
    let via = m.hs[ends[a.g.index(ends.len())]];
    let Obj::End(c, s) = via.obj else { return };
    // Carried handles: often ends (the via end itself, its peer, others), sometimes a
    // repeat.
    let n = a.g.below(4) as usize;
    let mut carry: Vec<usize> = Vec::new();
    for _ in 0..n {
        let i = match a.g.below(6) {
            0 => m.hs.iter().position(|h| h.v == via.v).unwrap_or(0),
            1 if !carry.is_empty() => carry[a.g.index(carry.len())],
            2 | 3 => ends[a.g.index(ends.len())],
            _ => a.g.index(m.hs.len()),
        };
        carry.push(i);
    }
    // The documented order: SEND; per handle: SHARE, repeat; per end: the cycle rule;
    // the peer's state; the quotas.
    let mut rule = None;
    if via.rights & Rights::SEND.0 == 0 {
        rule = Some(Error::AccessDenied);
    }
    if rule.is_none() {
        for (k, &i) in carry.iter().enumerate() {
            if m.hs[i].rights & Rights::SHARE.0 == 0 {
                rule = Some(Error::AccessDenied);
                break;
            }
            if carry[..k].contains(&i) {
                rule = Some(Error::InvalidArgument);
                break;
            }
        }
    }
    if rule.is_none() {
        for &i in &carry {
            if let Obj::End(c2, s2) = m.hs[i].obj {
                if c2 == c {
                    rule = Some(Error::InvalidArgument);
                    break;
                }
                if m.has_ends_queued(c2, s2) {
                    rule = Some(Error::Busy);
                    break;
                }
            }
        }
    }
    if rule.is_none() {
        if m.chans[c].refs[1 - s] == 0 {
            rule = Some(Error::PeerClosed);
        } else if m.chans[c].q[1 - s].len() >= urt::limits::CHANNEL_DEPTH {
            rule = Some(Error::QueueFull);
        }
    }
    let vals: Vec<u32> = carry.iter().map(|&i| m.hs[i].v).collect();
    let nbytes = a.g.index(257);
    if a.send(via.v, nbytes, &vals, rule).is_ok() {
        let mut items = Vec::new();
        let mut idx = carry.clone();
        idx.sort_unstable();
        idx.dedup();
        for &i in &carry {
            items.push((m.hs[i].obj, m.hs[i].rights));
        }
        for &i in idx.iter().rev() {
            m.hs.swap_remove(i);
        }
        m.chans[c].q[1 - s].push_back(Msg { items });
    } else {
        // Nothing moved: every carried handle is still ours, as it was.
        for &i in &carry {
            let h = m.hs[i];
            if a.info(h.v, Mask::OK) != Some((kind_of(h.obj), h.rights)) {
                a.fail(
                    Sys::ChannelSend,
                    [via.v as u64, 0, 0, 0, 0, 0],
                    [h.v as u64, 0, 0],
                    "a refused send changed a handle it carried",
                );
            }
        }
    }
}

fn recv(a: &mut Att, m: &mut Model) {
    let ends: Vec<usize> = (0..m.hs.len())
        .filter(|&i| matches!(m.hs[i].obj, Obj::End(..)))
        .collect();
    if ends.is_empty() {
        return;
    }
    let h = m.hs[ends[a.g.index(ends.len())]];
    let Obj::End(c, s) = h.obj else { return };
    let small = a.g.chance(1, 8);
    let (blen, hlen) = if small { (0, 0) } else { (256, 8) };
    let want = if h.rights & Rights::RECV.0 == 0 {
        Mask::err(Error::AccessDenied)
    } else {
        match m.chans[c].q[s].front() {
            None if m.chans[c].refs[1 - s] > 0 => return, // would block
            None => Mask::err(Error::PeerClosed),
            Some(msg) if small && !msg.items.is_empty() => Mask::err(Error::BufferTooSmall),
            Some(_) if small => Mask::OK.or(Error::BufferTooSmall),
            Some(msg) if a.live + msg.items.len() > super::att::TABLE => {
                Mask::err(Error::TableFull)
            }
            Some(_) => Mask::OK,
        }
    };
    let mut bytes = [0u8; 256];
    let mut hv = [0u32; 8];
    let args = [
        h.v as u64,
        bytes.as_mut_ptr() as u64,
        blen,
        hv.as_mut_ptr() as u64,
        hlen,
        0,
    ];
    let r = a.sys(Sys::ChannelRecv, args, want);
    if r[0] != 0 {
        return;
    }
    let Some(msg) = m.chans[c].q[s].pop_front() else {
        return;
    };
    a.refund(&Att::message_charges());
    if r[2] as usize != msg.items.len() {
        a.fail(
            Sys::ChannelRecv,
            args,
            r,
            "received a different number of handles than sent",
        );
        return;
    }
    for (k, (obj, rights)) in msg.items.into_iter().enumerate() {
        let v = hv[k];
        a.live += 1;
        m.hs.push(H { v, obj, rights });
        // Rights never grow on the way: exactly what was sent.
        if a.info(v, Mask::OK) != Some((kind_of(obj), rights)) {
            a.fail(
                Sys::HandleInfo,
                [v as u64, 0, 0, 0, 0, 0],
                [0, kind_of(obj), rights as u64],
                "a received handle's kind or rights differ from what was sent",
            );
        }
    }
}
