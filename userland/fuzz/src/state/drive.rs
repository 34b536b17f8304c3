//! The worker's side of a scenario: start an attacker with its orders, wait for it to
//! end, take what it handed over (and close it), and prove that everything came back:
//! free frames, kernel heap, live tasks and the worker's account (`fuzz::snapshot`),
//! and that it ended the way its report said.

use super::att::Ch;
use super::{END_NAMES, NAMES, ORDER_WORDS, REPORT_WORDS, WORKER_DEPTH};
use crate::snapshot::{self, Snapshot, QUOTAS};
use crate::{code_name, sys_name, SEED};
use urt::{ExitHow, Handle, Quota};

/// What a scenario came to.
#[derive(Clone, Copy, Debug, Default)]
pub struct Driven {
    /// Calls the attacker made (and the worker made for it).
    pub calls: u64,
    /// Violations (the attacker's and the worker's checks).
    pub violations: u64,
    /// Objects the attacker made.
    pub made: u64,
    /// The first quota refusal's error (0 if none).
    pub refused: u64,
    /// The most the kernel heap grew during the attack, and the most the attacker was
    /// charged for meanwhile (SYSCALLS.md: the charges cover what the objects take).
    pub heap: (u64, u64),
}

/// What the launcher uses of each quota resource: the first message it sends the
/// worker (the rest of the root account's use, for the attackers' predictions).
pub fn launcher_use(report: Handle) -> Ch {
    let mut w = [0u64; QUOTAS];
    let _ = crate::recv_words(report, &mut w);
    w
}

/// The launcher's side: send what it uses on `to` (before it starts the worker).
pub fn send_launcher_use(to: Handle) -> urt::Result<()> {
    let mut w = [0u64; QUOTAS];
    for (x, q) in w.iter_mut().zip(Quota::ALL) {
        *x = urt::quota(*q)?.0;
    }
    crate::send_words(to, &w)
}

fn violation(d: &mut Driven, s: u64, ending: u64, why: core::fmt::Arguments<'_>) {
    d.violations += 1;
    urt::println!(
        "fuzz: VIOLATION (seed {}, scenario {} ending {}): {}",
        SEED,
        NAMES[s as usize],
        END_NAMES[ending as usize],
        why
    );
}

/// Run scenario `s` with `seed`, at most about `budget` calls, ending `ending`; the
/// launcher uses `launcher`. The worker must have no other task alive (its account
/// must not change on its own meanwhile).
pub fn run(launcher: &Ch, s: u64, seed: u64, budget: u64, ending: u64) -> Driven {
    let mut d = Driven::default();
    let base = Snapshot::take();
    let (mine, theirs) = match urt::channel_create() {
        Ok(p) => p,
        Err(e) => {
            violation(&mut d, s, ending, format_args!("channel_create: {e:?}"));
            return d;
        }
    };
    let mut orders = [0u64; ORDER_WORDS];
    orders[..5].copy_from_slice(&[s, seed, budget, ending, WORKER_DEPTH + 1]);
    for (i, q) in Quota::ALL.iter().enumerate() {
        orders[5 + i] = launcher[i] + urt::quota(*q).map_or(0, |(u, _)| u);
    }
    d.calls += 2 + QUOTAS as u64;
    let _ = crate::send_words(mine, &orders);
    let task = match urt::spawn("fuzz_state", &[theirs]) {
        Ok(t) => t,
        Err(e) => {
            violation(&mut d, s, ending, format_args!("spawn fuzz_state: {e:?}"));
            let _ = urt::handle_close(mine);
            let _ = urt::handle_close(theirs);
            return d;
        }
    };
    let ended = urt::wait(task);
    // The attacker is gone: drain its channel. Every message but the last hands over
    // one handle (the worker holds it now, and lets it go: whatever hangs below it goes
    // too); the last one is the report.
    let mut bytes = [0u8; REPORT_WORDS * 8];
    let mut handed = 0u64;
    let mut report = None;
    loop {
        let mut hs = [Handle(0); urt::limits::MAX_MSG_HANDLES];
        let got = urt::channel_recv(mine, &mut bytes, &mut hs);
        d.calls += 1;
        match got {
            Ok((len, n)) => {
                for &h in &hs[..n] {
                    handed += 1;
                    d.calls += 1;
                    if urt::handle_close(h).is_err() {
                        violation(
                            &mut d,
                            s,
                            ending,
                            format_args!("a handed-over handle {:#x} was not live", h.0),
                        );
                    }
                }
                if len == REPORT_WORDS * 8 {
                    report = Some(bytes);
                }
            }
            Err(urt::RecvError::Other(urt::Error::PeerClosed)) => break,
            Err(e) => {
                violation(
                    &mut d,
                    s,
                    ending,
                    format_args!("draining the attacker's channel: {e:?}"),
                );
                break;
            }
        }
    }
    let _ = urt::handle_close(task);
    let _ = urt::handle_close(mine);
    d.calls += 2;
    let Some(bytes) = report else {
        violation(
            &mut d,
            s,
            ending,
            format_args!("no report from the attacker; it ended {ended:?}"),
        );
        return d;
    };
    let mut w = [0u64; REPORT_WORDS];
    for (i, x) in w.iter_mut().enumerate() {
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[8 * i..8 * i + 8]);
        *x = u64::from_le_bytes(b);
    }
    d.calls += w[1];
    d.made = w[16];
    d.refused = w[17];
    d.heap = (w[18], w[19]);
    if w[0] != 0 {
        d.violations += w[0];
        urt::println!(
            "fuzz: VIOLATION (seed {}, scenario {} ending {}): {} in the attacker, the first: call #{} {} args [{:#x}, {:#x}, {:#x}, {:#x}, {:#x}, {:#x}] -> {} ({:#x}, {:#x})",
            SEED,
            NAMES[s as usize],
            END_NAMES[ending as usize],
            w[0],
            w[4],
            sys_name(w[5]),
            w[6],
            w[7],
            w[8],
            w[9],
            w[10],
            w[11],
            code_name(w[12]),
            w[13],
            w[14]
        );
    }
    if w[15] != handed {
        violation(
            &mut d,
            s,
            ending,
            format_args!("{} handles handed over, {} arrived", w[15], handed),
        );
    }
    let how = match ended {
        Ok((code, ExitHow::Exited)) => (0, code),
        Ok((code, ExitHow::Killed)) => (1, code),
        Err(e) => (9, e as u64),
    };
    if how != (w[2], w[3]) {
        violation(
            &mut d,
            s,
            ending,
            format_args!(
                "the attacker ended {ended:?}; it said it would ({}, {:#x})",
                w[2], w[3]
            ),
        );
    }
    // Everything it made, held, sent, nested or handed over is gone: children ended,
    // frames and heap back, the worker's account as before.
    let now = snapshot::settle(&base, 500);
    if !now.back_at(&base) {
        violation(
            &mut d,
            s,
            ending,
            format_args!(
                "not back at the worker's baseline after the attacker ended: {}",
                now.diff(&base)
            ),
        );
    }
    d.calls += 10;
    d
}
