//! How an attacker ends: its report to the worker (made room for by receiving its
//! spare message, however full the quotas are), then exit, a fault, a clean-up whose
//! charges must come back exactly, or a hand-over of what it built to the worker.

use super::att::*;
use super::{EC_DABT_LOW, EC_UNKNOWN, END_CLEAN, END_EXIT, END_FAULT, END_HAND_OVER, REPORT_WORDS};
use crate::{raw, Mask};
use urt::Sys;

impl Att {
    /// Wait (up to about 5 s) until every child has ended: this account's task count is
    /// back to one.
    pub fn await_children(&mut self) {
        for _ in 0..500 {
            let r = self.sys(Sys::Quota, [TASKS as u64, 0, 0, 0, 0, 0], Mask::OK);
            if r[1] <= 1 {
                self.children = 0;
                return;
            }
            let _ = urt::sleep_ns(10_000_000);
        }
        self.fail(
            Sys::Quota,
            [TASKS as u64, 0, 0, 0, 0, 0],
            [0, 0, 0],
            "children still alive 5 s after their parent's ends closed",
        );
    }

    fn report(&mut self, how: u64, code: u64, handed: u64) {
        let mut w = [0u64; REPORT_WORDS];
        w[0] = self.violations;
        w[1] = self.calls;
        w[2] = how;
        w[3] = code;
        if let Some(v) = self.first {
            w[4] = v.call;
            w[5] = v.num;
            w[6..12].copy_from_slice(&v.args);
            w[12..15].copy_from_slice(&v.got);
        }
        w[15] = handed;
        w[16] = self.made;
        w[17] = self.refused;
        w[18] = self.heap_growth;
        w[19] = self.charged_growth;
        let mut bytes = [0u8; REPORT_WORDS * 8];
        for (i, x) in w.iter().enumerate() {
            bytes[8 * i..8 * i + 8].copy_from_slice(&x.to_le_bytes());
        }
        // The report must get through however full the quotas are: it is how the worker
        // learns the verdict. Receiving the spare message makes room for it.
        if let Some((_, s1)) = self.spare {
            let mut b = [0u8; 8];
            let a = [s1 as u64, b.as_mut_ptr() as u64, 8, 0, 0, 0];
            if self.sys(Sys::ChannelRecv, a, Mask::OK)[0] == 0 {
                self.refund(&Self::message_charges());
            }
        }
        let a = [
            self.ch.0 as u64,
            bytes.as_ptr() as u64,
            bytes.len() as u64,
            0,
            0,
            0,
        ];
        // SAFETY: reads our array.
        let r = unsafe { raw(Sys::ChannelSend as u64, a) };
        if r[0] != 0 {
            urt::println!(
                "fuzz_state: the report could not be sent: {}",
                crate::code_name(r[0])
            );
        }
    }

    /// Hand what was built to the worker, through the report channel (its end's queue,
    /// up to [`HAND_OVER_MESSAGES`] messages before the report): every kept handle that
    /// can move, one to a message (an end with ends queued for it cannot: `Busy`, and
    /// is closed instead, with all below it; so is a handle without `SHARE`), and a
    /// fresh chain of ends nested under the worker's end, as deep as the quotas allow.
    /// Returns how many handles went.
    fn hand_over(&mut self) -> u64 {
        let mut handed = 0;
        let mut messages = 0;
        for h in core::mem::take(&mut self.keep) {
            let share = self
                .info(h, Mask::OK)
                .is_some_and(|(_, r)| r & urt::Rights::SHARE.0 != 0);
            if !share || messages >= HAND_OVER_MESSAGES {
                self.close(h);
                continue;
            }
            // Whether it may move depends on what is queued for it (the scenario's
            // structures); what the kernel answers must be documented, and a refusal
            // moves nothing.
            let ch = self.ch.0;
            let charges = [(MESSAGES, 1), (HEAP, MESSAGE_HEAP)];
            let bytes = [0u8; 8];
            let a = [
                ch as u64,
                bytes.as_ptr() as u64,
                8,
                (&h) as *const u32 as u64,
                1,
                0,
            ];
            let r = self.sys(Sys::ChannelSend, a, Mask::NONE);
            if r[0] == 0 {
                self.charge(&charges);
                self.live -= 1;
                handed += 1;
                messages += 1;
            } else {
                self.close(h);
            }
        }
        // Closing what could not move freed what hung below it: the kernel's figures
        // are the model's from here (unless children are still ending, whose charges
        // go on their own time: then no chain, whose refusals could not be predicted).
        self.sync_quota();
        let depth = self.g.below(300);
        if self.children > 0 {
            return handed;
        }
        // A chain under the worker's end: it outlives this task, in another's queue.
        if let Ok((x, mut y)) = self.channel() {
            if self.send(self.ch.0, 8, &[x], None).is_ok() {
                handed += 1;
                for _ in 0..depth {
                    let Ok((x2, y2)) = self.channel() else { break };
                    if self.send(y, 8, &[x2], None).is_err() {
                        self.close(x2);
                        self.close(y2);
                        self.refund(&Self::channel_charges());
                        break;
                    }
                    self.close(y);
                    y = y2;
                }
            } else {
                self.close(x);
                self.refund(&Self::channel_charges());
            }
            self.close(y);
        }
        handed
    }

    /// End as ordered: report, then exit, fault, clean up or hand over.
    pub(super) fn finish(mut self) -> i32 {
        self.check_heap();
        let code = u64::from(self.violations != 0);
        match self.ending {
            END_FAULT => {
                let ro = self.maps.iter().find(|m| !m.1).map(|m| m.0);
                let ec = if ro.is_some() {
                    EC_DABT_LOW
                } else {
                    EC_UNKNOWN
                };
                self.report(1, ec, 0);
                if let Some(p) = ro {
                    // SAFETY: a deliberately faulting store to a read-only mapping; this
                    // task dies here with everything it holds.
                    unsafe { crate::poke(p, 0xdead) };
                } else {
                    // SAFETY: a deliberately undefined instruction; this task dies.
                    unsafe { core::arch::asm!("udf #0") };
                }
                // Still alive: the write went through.
                urt::println!(
                    "fuzz_state: VIOLATION: a store to a read-only mapping did not fault"
                );
                98
            }
            END_HAND_OVER => {
                let handed = self.hand_over();
                self.report(0, code, handed);
                code as i32
            }
            END_CLEAN => {
                for h in core::mem::take(&mut self.keep) {
                    self.close(h);
                }
                for (addr, _) in core::mem::take(&mut self.maps) {
                    self.sys(Sys::BufferUnmap, [addr, 0, 0, 0, 0, 0], Mask::OK);
                }
                if let Some((s0, s1)) = self.spare.take() {
                    let mut b = [0u8; 8];
                    let a = [s1 as u64, b.as_mut_ptr() as u64, 8, 0, 0, 0];
                    self.sys(Sys::ChannelRecv, a, Mask::OK);
                    self.close(s0);
                    self.close(s1);
                }
                if self.children > 0 {
                    self.await_children();
                }
                let used = self.read_quota();
                if used != self.start {
                    for (i, (&u, &st)) in used.iter().zip(&self.start).enumerate() {
                        if u != st {
                            urt::println!(
                                "fuzz_state: after closing everything, {} quota: {} (at the start {})",
                                crate::snapshot::QUOTA_NAMES[i],
                                u,
                                st
                            );
                        }
                    }
                    self.fail(
                        Sys::Quota,
                        [0; 6],
                        [0, 0, 0],
                        "this task's charges not back at the start after it closed everything",
                    );
                }
                let code = u64::from(self.violations != 0);
                self.report(0, code, 0);
                code as i32
            }
            _ => {
                debug_assert_eq!(self.ending, END_EXIT);
                self.report(0, code, 0);
                code as i32
            }
        }
    }
}
