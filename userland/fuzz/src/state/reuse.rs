//! One handle slot reused over and over (sometimes 66,000 times, past the 65,535
//! generations a slot has): every new value must be one never seen (the slot's
//! generation only moves on; a used-up slot is retired and another index takes its
//! place, never past 512), and every stale value must stay `BadHandle` for every call
//! however often its slot was reused and whatever kind of object the slot holds now
//! (SYSCALLS.md, "Handles": no handle value ever repeats).

use super::att::Att;
use crate::Mask;
use urt::alloc::vec::Vec;
use urt::{Error, Handle, Sys};

/// Slot indices a table may use (twice its capacity).
const SLOTS: usize = 2 * super::att::TABLE;

/// The scenario.
pub fn run(a: &mut Att) {
    let n = if a.g.chance(1, 12) {
        66_000
    } else {
        200 + a.g.below(4000)
    };
    let Ok((e, f)) = a.channel() else { return };
    let mut gens = [0u16; SLOTS];
    for v in [e, f] {
        let h = Handle(v);
        if let Some(s) = h.slot() {
            gens[s as usize % SLOTS] = h.generation();
        }
    }
    let mut stale: Vec<u32> = Vec::new();
    for i in 0..n {
        if a.over() {
            break;
        }
        // A new handle in the lowest free slot: a duplicate, sometimes a buffer.
        let buffer = i % 97 == 0;
        let v = if buffer {
            match a.buffer(4096, urt::policy::CACHED) {
                Ok((b, _)) => b,
                Err(_) => break,
            }
        } else {
            let rights = a.g.below(16) as u32 & 0xd;
            match a.dup(e, rights) {
                Some(d) => d,
                None => break,
            }
        };
        let h = Handle(v);
        let fresh = match h.slot() {
            Some(s) if (s as usize) < SLOTS => {
                let ok = h.generation() > gens[s as usize];
                gens[s as usize] = gens[s as usize].max(h.generation());
                ok
            }
            _ => false,
        };
        if !fresh || stale.contains(&v) {
            a.fail(
                if buffer {
                    Sys::BufferCreate
                } else {
                    Sys::HandleDup
                },
                [e as u64, i, 0, 0, 0, 0],
                [0, v as u64, 0],
                "a handle value repeated (or its slot is outside the table's 512 indices)",
            );
            break;
        }
        // The stale values of this slot and others: none names the new object.
        if i % 16 == 0 || buffer {
            for k in 0..stale.len().min(4) {
                let s = stale[(a.g.index(stale.len()) + k) % stale.len()];
                let num = match a.g.below(3) {
                    0 => Sys::HandleInfo,
                    1 => Sys::HandleClose,
                    _ => Sys::BufferInfo,
                };
                a.sys(num, [s as u64, 0, 0, 0, 0, 0], Mask::err(Error::BadHandle));
            }
        }
        a.close(v);
        if buffer {
            a.refund(&{
                let mut c = [0; crate::snapshot::QUOTAS];
                c[super::att::FRAMES] = super::att::buffer_frames(1);
                c[super::att::HEAP] = super::att::buffer_heap(1);
                c
            });
        }
        if stale.len() < 64 {
            stale.push(v);
        } else if a.g.chance(1, 64) {
            let k = a.g.index(64);
            stale[k] = v;
        }
        if i % 256 == 0 {
            a.step();
        }
    }
    a.keep.push(e);
    a.keep.push(f);
}
