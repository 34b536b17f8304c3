//! The attacker's children (`fuzz_state` started by an attacker). Each reads its
//! orders `[mode, seed, depth]` from its first handle (a channel end) and:
//! - [`CHILD_HOLD`]: makes a few objects of its own (a buffer, a channel with an end
//!   queued in it, sometimes a GPU resource and a mapping), sends `[violations, calls]`
//!   ("ready"), then blocks on its channel until the parent's end closes, and exits or
//!   dies of a fault holding everything;
//! - [`CHILD_CHAIN`]: spawns the next link (orders `[CHILD_CHAIN, seed, depth + 1]`) and
//!   passes the report of the chain's end up, or, if `spawn` refused, reports
//!   `[depth, error, violations, error of a spawn of a program that does not exist]`
//!   itself; then blocks like a holder;
//! - [`CHILD_ECHO`]: sends back the kind and rights of each handle it was given, with
//!   the handles, then blocks like a holder.
//!
//! Every call's result is checked against the documented errors; the violations are
//! counted into what it reports. A child whose report a full quota refuses ends at
//! once, so its parent (blocked on the report) sees `PeerClosed` instead of waiting for
//! ever.

use super::{CHILD_CHAIN, CHILD_ECHO, CHILD_HOLD, ORDER_WORDS};
use crate::{check, raw, recv_words, send_words, Mask, Rng};
use urt::{Handle, StartArgs, Sys};

/// In a chain's report: a link below ended without its report (a full quota refused
/// the message).
pub const LOST: u64 = 99;

struct Kid {
    calls: u64,
    violations: u64,
}

impl Kid {
    fn sys(&mut self, num: Sys, a: [u64; 6]) -> [u64; 3] {
        // SAFETY: pointers are this task's own arrays; handles are its own.
        let r = unsafe { raw(num as u64, a) };
        self.calls += 1;
        if let Err(v) = check(self.calls, num as u64, a, r, Mask::NONE) {
            self.violations += 1;
            urt::println!("fuzz_state child: VIOLATION {v}");
        }
        r
    }

    /// Block until the parent's end closes, then exit (or fault: `g` decides).
    fn hold(&mut self, ch: Handle, g: &mut Rng) -> i32 {
        let mut b = [0u8; 8];
        loop {
            let r = self.sys(
                Sys::ChannelRecv,
                [ch.0 as u64, b.as_mut_ptr() as u64, 8, 0, 0, 0],
            );
            if r[0] != 0 {
                break;
            }
        }
        if g.chance(1, 3) {
            // SAFETY: a deliberate undefined instruction: die holding everything.
            unsafe { core::arch::asm!("udf #1") };
        }
        i32::from(self.violations != 0)
    }
}

/// The child's program.
pub fn main(ch: Handle, w: &[u64; ORDER_WORDS], args: &StartArgs) -> i32 {
    let mut g = Rng::derive(w[1], 6, w[2]);
    let mut k = Kid {
        calls: 0,
        violations: 0,
    };
    match w[0] {
        CHILD_HOLD => {
            let size = 4096 * (1 + g.below(64));
            let b = k.sys(Sys::BufferCreate, [size, g.below(2), 0, 0, 0, 0]);
            if b[0] == 0 && g.chance(1, 2) {
                k.sys(Sys::BufferMap, [b[1], 1 + g.below(3), 0, 0, 0, 0]);
            }
            if b[0] == 0 && g.chance(1, 3) {
                k.sys(Sys::GpuImport, [b[1], 32, 32, urt::format::B8G8R8X8, 0, 0]);
            }
            let c = k.sys(Sys::ChannelCreate, [0; 6]);
            if c[0] == 0 {
                let e = k.sys(Sys::ChannelCreate, [0; 6]);
                if e[0] == 0 {
                    let hs = [e[1] as u32, b[1] as u32];
                    let n = if b[0] == 0 { 2 } else { 1 };
                    k.sys(
                        Sys::ChannelSend,
                        [c[1], hs.as_ptr() as u64, 8, hs.as_ptr() as u64, n, 0],
                    );
                }
            }
            // The parent waits for this: if a full quota refuses it, end now (the parent
            // then sees the end closed) rather than both waiting for ever.
            if send_words(ch, &[k.violations, k.calls]).is_err() {
                return i32::from(k.violations != 0);
            }
            k.hold(ch, &mut g)
        }
        CHILD_CHAIN => {
            let depth = w[2];
            let c = k.sys(Sys::ChannelCreate, [0; 6]);
            let mut report = [depth, 0, 0, 0];
            if c[0] != 0 {
                report[1] = c[0];
            } else {
                let (d0, d1) = (Handle(c[1] as u32), Handle(c[2] as u32));
                let _ = send_words(d0, &[CHILD_CHAIN, w[1], depth + 1]);
                let name = b"fuzz_state";
                let hs = [d1.0];
                let r = k.sys(
                    Sys::Spawn,
                    [
                        name.as_ptr() as u64,
                        name.len() as u64,
                        hs.as_ptr() as u64,
                        1,
                        0,
                        0,
                    ],
                );
                if r[0] != 0 {
                    report[1] = r[0];
                    // Where the depth refuses, it refuses before looking for the
                    // program (SYSCALLS.md's order: TableFull, then NotFound).
                    let bad = b"fuzz_nonexistent";
                    let r = k.sys(
                        Sys::Spawn,
                        [bad.as_ptr() as u64, bad.len() as u64, 0, 0, 0, 0],
                    );
                    report[3] = r[0];
                } else {
                    // The chain's end reports through every link (a link that could not
                    // send its report ends, and then this one reports LOST).
                    let mut up = [0u64; 4];
                    report = match recv_words(d0, &mut up) {
                        Ok(_) => up,
                        Err(_) => [depth + 1, LOST, 0, LOST],
                    };
                }
            }
            report[2] += k.violations;
            if send_words(ch, &report).is_err() {
                return i32::from(k.violations != 0);
            }
            k.hold(ch, &mut g)
        }
        CHILD_ECHO => {
            let mut words = [0u64; 8];
            let mut hs = [0u32; 3];
            let n = args.count.clamp(1, 4) - 1;
            for i in 0..n {
                let h = args.get(i + 1).unwrap_or(Handle(0));
                let r = k.sys(Sys::HandleInfo, [h.0 as u64, 0, 0, 0, 0, 0]);
                words[2 * i] = r[1];
                words[2 * i + 1] = r[2];
                hs[i] = h.0;
            }
            words[7] = k.violations;
            let mut bytes = [0u8; 64];
            for (i, x) in words.iter().enumerate() {
                bytes[8 * i..8 * i + 8].copy_from_slice(&x.to_le_bytes());
            }
            let r = k.sys(
                Sys::ChannelSend,
                [
                    ch.0 as u64,
                    bytes.as_ptr() as u64,
                    64,
                    hs.as_ptr() as u64,
                    n as u64,
                    0,
                ],
            );
            if r[0] != 0 {
                // A full quota: end now (the parent sees the end closed).
                return i32::from(k.violations != 0);
            }
            k.hold(ch, &mut g)
        }
        _ => 97,
    }
}
