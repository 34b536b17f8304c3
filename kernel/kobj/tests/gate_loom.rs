//! Model check of `kobj::gate::Gate` with loom: every interleaving (and every memory
//! ordering loom models) of fast-path passes against a closer.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p kobj --test gate_loom --release`
//! (`cargo xtask test` does, in its own target directory).
#![cfg(loom)]

use kobj::gate::Gate;
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;

/// The buffer state the kernel guards with the gate: the holders' counts (the gate
/// carries them, as the kernel's `cpu_holders` and `cpu_writers`) and the device fence,
/// a plain cell written by the closer and read by passes (loom reports any access to
/// it not ordered by the gate).
struct Buffer {
    gate: Gate,
    fence: UnsafeCell<u64>,
}

/// A fast START WRITE: inside a pass, no fence pending -> leave counting a holder that
/// writes. Returns whether it started (a refused pass, or one that finds a fence, takes
/// the full path, modelled as "did not start").
fn fast_start(b: &Buffer) -> bool {
    let Some(pass) = b.gate.try_pass() else {
        return false;
    };
    // SAFETY: loom's cell: it reports a race if a closer could write at the same time.
    if b.fence.with(|f| unsafe { *f }) != 0 {
        return false;
    }
    pass.leave_with(1, 1);
    true
}

/// The kernel's fast START WRITE as it is: on a buffer no closer ever marked, one step
/// of the gate's word ([`Gate::try_change_unmarked`], no look at the fence); on any
/// other, [`fast_start`]'s pass.
fn fast_start_quiet_first(b: &Buffer) -> bool {
    b.gate.try_change_unmarked(1, 1) || fast_start(b)
}

/// A device submission: gate closed, no CPU writer -> publish the fence and mark the
/// gate (as the kernel's `Buffer::publish_fence`).
fn submit(b: &Buffer) -> bool {
    let _closed = b.gate.close();
    if b.gate.counts().1 > 0 {
        return false;
    }
    // SAFETY: loom's cell: it reports a race if a pass could read at the same time.
    b.fence.with_mut(|f| unsafe { *f = 1 });
    b.gate.mark(1);
    true
}

fn buffer() -> Arc<Buffer> {
    Arc::new(Buffer {
        gate: Gate::new(),
        fence: UnsafeCell::new(0),
    })
}

/// A START (`start`) on one CPU against a submission: they never both succeed.
fn one_start_and_a_submission(start: fn(&Buffer) -> bool) {
    loom::model(move || {
        let b = buffer();
        let b2 = b.clone();
        let cpu = thread::spawn(move || start(&b2));
        let device = submit(&b);
        let started = cpu.join().unwrap();
        assert!(
            !(started && device),
            "START WRITE and submission both succeeded"
        );
    });
}

/// STARTs (`start`) on two CPUs at once (neither waits for the other) against a
/// submission: no START succeeds alongside it, and every START that succeeded is
/// counted (a refused one leaves no trace).
fn two_starts_and_a_submission(start: fn(&Buffer) -> bool) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(move || {
        let b = buffer();
        let cpus: Vec<_> = (0..2)
            .map(|_| {
                let b = b.clone();
                thread::spawn(move || start(&b))
            })
            .collect();
        let device = submit(&b);
        let started = cpus
            .into_iter()
            .map(|c| u32::from(c.join().unwrap()))
            .sum::<u32>();
        assert!(
            !(device && started > 0),
            "a START WRITE and the submission both succeeded"
        );
        let _closed = b.gate.close();
        assert_eq!(b.gate.counts(), (started, started));
    });
}

/// The property the kernel needs: a START WRITE and a device read never both succeed
/// (the device would read lines a CPU is writing), whatever the interleaving.
#[test]
fn a_fast_start_and_a_submission_never_both_succeed() {
    one_start_and_a_submission(fast_start);
}

/// Two CPUs' passes at once against a closer.
#[test]
fn two_passes_and_a_closer() {
    two_starts_and_a_submission(fast_start);
}

/// The quiet START's one step against a submission: never both (the submission's check
/// of the writers and its fence happen with the gate closed, and the step fails on a
/// closed gate or a marked one), and a START after the submission takes the pass and
/// sees the fence.
#[test]
fn a_quiet_start_and_a_submission_never_both_succeed() {
    one_start_and_a_submission(fast_start_quiet_first);
}

/// Two CPUs' STARTs as the kernel makes them (the one step, else the pass) against a
/// submission.
#[test]
fn two_quiet_starts_and_a_closer() {
    two_starts_and_a_submission(fast_start_quiet_first);
}
