//! The stateful fuzzer: an attacker task (`fuzz_state`) that the worker starts with a
//! *scenario*, which builds kernel state over a long sequence of calls as a hostile
//! program would, checks every result and an invariant after every step, and then dies
//! holding what it built (or cleans up, or hands it to the worker). The worker proves
//! afterwards that everything came back (`fuzz::snapshot`).
//!
//! Scenarios ([`NAMES`]):
//! - `nest-chain`, `nest-tree`: channel ends nested in other ends' queues, as deep
//!   chains (thousands of levels) and as wide trees; the cycle rule tried on them (an
//!   end through its own channel, an end with ends queued for it, a root into its own
//!   subtree);
//! - `cycles`: random sends, receives and closes among a few channels, every result
//!   predicted by a full model of the queues (the cycle rule, `Busy`,
//!   `InvalidArgument`, nothing moved by a refused send);
//! - `fill-channels`, `fill-heap`, `fill-frames`, `fill-gpu`, `fill-tasks`: channels
//!   full of messages, a random mix of every kind of object, big buffers, GPU
//!   resources, blocked child tasks, until a quota refuses. Every charge is predicted
//!   from SYSCALLS.md's table and the root's use (the launcher's and the worker's,
//!   passed in the orders, plus this task's), so the refusal must come exactly when
//!   the table says, with the documented error, and never earlier or later; while
//!   full, calls that need nothing more still succeed;
//! - `depth`: a chain of tasks each spawning the next until `spawn` refuses at the
//!   documented account depth;
//! - `rights`: handles derived through duplicates, channels, `spawn` and `gpu_import`,
//!   each carrying at most its source's rights, and every call that needs a right
//!   (maps, syncs, legacy maps, presents, `blk_read`) refusing exactly when it lacks it;
//! - `reuse`: one handle slot reused thousands (sometimes 66,000) of times: no value
//!   repeats, and stale values stay `BadHandle` for ever.
//!
//! After every step: the kernel answers `stats`, the heap in use is within its size,
//! one quota (in turn) is within its limit, and periodically this task's charges are
//! exactly what the model of SYSCALLS.md's table says.

pub mod att;
mod child;
mod cycles;
pub mod drive;
mod end;
mod fill;
mod make;
mod nest;
mod reuse;
mod rights;
mod sink;

pub use att::Att;

/// Scenario: a chain of channel ends, each queued for the one before.
pub const NEST_CHAIN: u64 = 1;
/// Scenario: a wide tree of channel ends in queues.
pub const NEST_TREE: u64 = 2;
/// Scenario: random sends, receives and closes among a few channels (full model).
pub const CYCLES: u64 = 3;
/// Scenario: channels full of messages until a quota refuses.
pub const FILL_CHANNELS: u64 = 4;
/// Scenario: every kind of object, mixed, until the kernel-heap quota refuses.
pub const FILL_HEAP: u64 = 5;
/// Scenario: big buffers until the frames quota refuses.
pub const FILL_FRAMES: u64 = 6;
/// Scenario: GPU resources until a GPU quota refuses.
pub const FILL_GPU: u64 = 7;
/// Scenario: blocked child tasks holding objects until the tasks quota refuses.
pub const FILL_TASKS: u64 = 8;
/// Scenario: a chain of tasks, each spawned by the one before, to the depth limit.
pub const DEPTH: u64 = 9;
/// Scenario: rights through duplicates, channels, spawn and imports.
pub const RIGHTS: u64 = 10;
/// Scenario: one handle slot reused many times.
pub const REUSE: u64 = 11;
/// Number of scenarios (1..=SCENARIOS).
pub const SCENARIOS: u64 = 11;

/// Scenario names, by number.
pub const NAMES: [&str; SCENARIOS as usize + 1] = [
    "?",
    "nest-chain",
    "nest-tree",
    "cycles",
    "fill-channels",
    "fill-heap",
    "fill-frames",
    "fill-gpu",
    "fill-tasks",
    "depth",
    "rights",
    "reuse",
];

/// Child mode: make a few objects, say "ready", block until the parent's end closes.
pub const CHILD_HOLD: u64 = 100;
/// Child mode: spawn the next link of a chain, or report the depth where that failed.
pub const CHILD_CHAIN: u64 = 101;
/// Child mode: report the rights of the handles it was given and send them back.
pub const CHILD_ECHO: u64 = 102;

/// Ending: exit with everything still held.
pub const END_EXIT: u64 = 0;
/// Ending: die of a fault with everything still held.
pub const END_FAULT: u64 = 1;
/// Ending: close everything; this task's charges must be back at their start.
pub const END_CLEAN: u64 = 2;
/// Ending: hand what was built to the worker (in the report), then exit.
pub const END_HAND_OVER: u64 = 3;
/// Number of endings (0..ENDINGS).
pub const ENDINGS: u64 = 4;
/// Ending names.
pub const END_NAMES: [&str; ENDINGS as usize] = ["exit", "fault", "clean", "hand-over"];

/// The account depth of the worker (the root account is 1, the launcher, which the
/// kernel starts, 2): its attackers are at 4.
pub const WORKER_DEPTH: u64 = 3;
/// How deep accounts may be (SYSCALLS.md: "Accounts are at most 16 deep").
pub const MAX_ACCOUNT_DEPTH: u64 = 16;

/// Orders, the first message an attacker receives:
/// `[scenario, seed, budget, ending, depth, others[0..7]]` where `depth` is its
/// account's depth and `others` what the root account uses apart from the attacker's
/// own account, per quota resource.
pub const ORDER_WORDS: usize = 5 + crate::snapshot::QUOTAS;

/// The report an attacker sends before it ends: `[violations, calls, how, code,
/// call, num, a0..a5, x0, x1, x2, handed, made, refused, heap_growth, charged_growth]`:
/// how it will end (`how` 0 exit, 1 killed; `code` the exit code or exception class),
/// its first violation, how many handles ride with the report (`handed`), how many
/// objects it made, the error of the first quota refusal (0 if none), and the kernel
/// heap growth it saw against what it was charged for.
pub const REPORT_WORDS: usize = 21;

/// Exception class of a data abort from EL0 (a write through a read-only mapping).
pub const EC_DABT_LOW: u64 = 0x24;
/// Exception class of an undefined instruction.
pub const EC_UNKNOWN: u64 = 0x00;

/// Run the program `fuzz_state`: an attacker (orders from the worker) or one of its
/// children. Returns the exit code.
pub fn main(args: urt::StartArgs) -> i32 {
    let Some(ch) = args.get(0) else {
        return 97;
    };
    let mut w = [0u64; ORDER_WORDS];
    match crate::recv_words(ch, &mut w) {
        Ok(n) if n >= 2 => {}
        _ => return 97,
    }
    match w[0] {
        CHILD_HOLD | CHILD_CHAIN | CHILD_ECHO => child::main(ch, &w, &args),
        s @ 1..=SCENARIOS => att::run(ch, s, &w),
        _ => 97,
    }
}
