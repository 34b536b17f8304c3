//! The attacker's core: every call checked against the documented errors and a
//! prediction, the quota model (SYSCALLS.md's charge table applied to the root's use),
//! the invariants after each step, and the report and ending.

use super::ORDER_WORDS;
use crate::snapshot::QUOTAS;
use crate::{check, raw, Mask, Rng, Violation, KEEP_GOING};
use urt::alloc::vec::Vec;
use urt::{Error, Handle, Quota, Stat, Sys};

/// Charges per quota resource, in `Quota` order.
pub type Ch = [u64; QUOTAS];

/// `l += c`, per resource.
pub fn add(l: &mut Ch, c: &Ch) {
    for (x, y) in l.iter_mut().zip(c) {
        *x += y;
    }
}

/// `l - c`, per resource (never below 0).
pub fn minus(l: &Ch, c: &Ch) -> Ch {
    let mut out = *l;
    for (x, y) in out.iter_mut().zip(c) {
        *x = x.saturating_sub(*y);
    }
    out
}

/// Quota resource indices.
pub const FRAMES: usize = Quota::Frames as usize;
/// Kernel heap bytes.
pub const HEAP: usize = Quota::HeapBytes as usize;
/// Live tasks.
pub const TASKS: usize = Quota::Tasks as usize;
/// Live channels.
pub const CHANNELS: usize = Quota::Channels as usize;
/// Queued messages.
pub const MESSAGES: usize = Quota::Messages as usize;
/// Live GPU resources.
pub const GPU_RES: usize = Quota::GpuResources as usize;
/// GPU bytes.
pub const GPU_BYTES: usize = Quota::GpuBytes as usize;

/// SYSCALLS.md, "Quotas": kernel heap charged per task.
pub const TASK_HEAP: u64 = 48 * 1024;
/// Per channel.
pub const CHANNEL_HEAP: u64 = 4608;
/// Per queued message.
pub const MESSAGE_HEAP: u64 = 512;
/// Per GPU resource.
pub const RESOURCE_HEAP: u64 = 1024;
/// Per mapping (legacy ones 8 more per page).
pub const MAPPING_HEAP: u64 = 512;

/// Frames charged for a buffer of `pages` pages (`pages + pages/512 + 2`, the kernel
/// window's tables rounded up).
pub fn buffer_frames(pages: u64) -> u64 {
    pages + pages.div_ceil(512) + 2
}

/// Kernel heap charged for a buffer of `pages` pages (`1,024 + 16 per page`).
pub fn buffer_heap(pages: u64) -> u64 {
    1024 + 16 * pages
}

/// Kernel heap the kernel may take beyond the charges of the objects a task made: the
/// frame allocator's free lists (B-trees in the kernel heap) grow with fragmentation.
pub const UNCHARGED_HEAP: u64 = 64 * 1024;

/// Below this many bytes from the GPU-bytes limit, the device itself may refuse a
/// resource (QEMU's `max_hostmem` is the same 256 MiB, and it wants room to spare).
pub const DEVICE_SLACK: u64 = 1 << 20;

/// One charge: resource index and amount, in the order the kernel takes them.
pub type Charge = (usize, u64);

/// Messages (each with a handle) an attacker hands over before its report; with the
/// chain's head and the report, its channel's queue of 16 never fills.
pub const HAND_OVER_MESSAGES: u64 = 12;

/// Handles a task may hold at once.
pub const TABLE: usize = urt::limits::MAX_HANDLES;

/// The attacker.
pub struct Att {
    /// This scenario's generator.
    pub g: Rng,
    /// The order/report channel end.
    pub ch: Handle,
    /// Calls made.
    pub calls: u64,
    pub(super) budget: u64,
    /// Violations found.
    pub violations: u64,
    pub(super) first: Option<Violation>,
    /// What the root account uses apart from this task's account.
    pub(super) others: Ch,
    /// The limits (this account's, which are every ancestor's too).
    pub limit: Ch,
    /// This account's use as the model has it.
    pub mine: Ch,
    pub(super) start: Ch,
    /// This task's account depth.
    pub depth: u64,
    /// Handles in this task's table (the model's count).
    pub live: usize,
    pub(super) steps: u64,
    pub(super) heap0: u64,
    pub(super) heap_growth: u64,
    pub(super) charged_growth: u64,
    /// Objects made.
    pub made: u64,
    /// The first quota refusal's error code (0 until one).
    pub refused: u64,
    /// What to close (or hand over) at the end, besides what closing these frees.
    pub keep: Vec<u32>,
    /// Live mappings `(address, writable)`.
    pub maps: Vec<(u64, bool)>,
    /// Children spawned that may still be alive.
    pub children: u64,
    pub(super) ending: u64,
    /// A channel with one message queued at its second end, received just before the
    /// report: that frees a message and its heap, so the report gets through however
    /// full the quotas were left.
    pub(super) spare: Option<(u32, u32)>,
}

impl Att {
    fn new(ch: Handle, w: &[u64; ORDER_WORDS]) -> Att {
        let mut others = [0; QUOTAS];
        others.copy_from_slice(&w[5..5 + QUOTAS]);
        let mut a = Att {
            g: Rng::derive(w[1], 5, 0),
            ch,
            calls: 0,
            budget: w[2],
            violations: 0,
            first: None,
            others,
            limit: [0; QUOTAS],
            mine: [0; QUOTAS],
            start: [0; QUOTAS],
            depth: w[4],
            live: 1,
            steps: 0,
            heap0: 0,
            heap_growth: 0,
            charged_growth: 0,
            made: 0,
            refused: 0,
            keep: Vec::new(),
            maps: Vec::new(),
            children: 0,
            ending: w[3],
            spare: None,
        };
        for (i, q) in Quota::ALL.iter().enumerate() {
            let r = a.sys(Sys::Quota, [*q as u64, 0, 0, 0, 0, 0], Mask::OK);
            a.mine[i] = r[1];
            a.limit[i] = r[2];
        }
        a.start = a.mine;
        a.heap0 = a.stat(Stat::HeapUsed);
        if let Ok((s0, s1)) = a.channel() {
            if a.send(s0, 1, &[], None).is_ok() {
                a.spare = Some((s0, s1));
            }
        }
        a
    }

    // ---- calls ---------------------------------------------------------------------

    /// Make a call and check it: the result must be documented for the call and in
    /// `want` (unless `want` is [`Mask::NONE`]).
    pub fn sys(&mut self, num: Sys, a: [u64; 6], want: Mask) -> [u64; 3] {
        // SAFETY: the scenarios pass pointers only to this task's own arrays, which the
        // kernel may write, and name handles the model accounts for.
        let r = unsafe { raw(num as u64, a) };
        self.calls += 1;
        if let Err(v) = check(self.calls, num as u64, a, r, want) {
            self.violation(v);
        }
        r
    }

    /// Record a violation found by a scenario's own check of a result.
    pub fn fail(&mut self, num: Sys, a: [u64; 6], got: [u64; 3], why: &'static str) {
        let v = Violation {
            call: self.calls,
            num: num as u64,
            args: a,
            got,
            want: Mask::NONE,
            why,
        };
        self.violation(v);
    }

    fn violation(&mut self, v: Violation) {
        self.violations += 1;
        if self.first.is_none() {
            urt::println!("fuzz_state: VIOLATION (seed {}) {}", crate::SEED, v);
            self.first = Some(v);
        }
    }

    /// True once the scenario should stop building: out of calls, or a violation.
    pub fn over(&self) -> bool {
        self.calls >= self.budget || (self.violations > 0 && !KEEP_GOING)
    }

    /// `stats(what)`, which must answer.
    pub fn stat(&mut self, what: Stat) -> u64 {
        self.sys(Sys::Stats, [what as u64, 0, 0, 0, 0, 0], Mask::OK)[1]
    }

    // ---- the quota model -----------------------------------------------------------

    /// What the kernel must answer for a call that would take `charges` (in the order
    /// it takes them) once every other check passed: the error of the first resource
    /// the root account has no room for, else success.
    pub fn want_charges(&self, charges: &[Charge]) -> Mask {
        for &(r, n) in charges {
            if self.others[r] + self.mine[r] + n > self.limit[r] {
                let e = if matches!(r, FRAMES | HEAP | GPU_BYTES) {
                    Error::NoMemory
                } else {
                    Error::TableFull
                };
                return Mask::err(e);
            }
        }
        Mask::OK
    }

    /// Room left under the root's limit of resource `r`.
    pub fn room(&self, r: usize) -> u64 {
        self.limit[r]
            .saturating_sub(self.others[r])
            .saturating_sub(self.mine[r])
    }

    /// Add (a call succeeded) `charges` to the model.
    pub fn charge(&mut self, charges: &[Charge]) {
        for &(r, n) in charges {
            self.mine[r] += n;
        }
    }

    /// Take `charges` off the model (what they paid for is gone).
    pub fn refund(&mut self, charges: &Ch) {
        for (m, c) in self.mine.iter_mut().zip(charges) {
            *m = m.saturating_sub(*c);
        }
    }

    /// Note the first quota refusal.
    pub fn refusal(&mut self, x0: u64) {
        if self.refused == 0 {
            self.refused = x0;
        }
    }

    /// This account's use as the kernel reports it (7 calls).
    pub fn read_quota(&mut self) -> Ch {
        let mut used = [0; QUOTAS];
        for (i, q) in Quota::ALL.iter().enumerate() {
            let r = self.sys(Sys::Quota, [*q as u64, 0, 0, 0, 0, 0], Mask::OK);
            used[i] = r[1];
            if r[1] > r[2] || r[2] != self.limit[i] {
                self.fail(
                    Sys::Quota,
                    [*q as u64, 0, 0, 0, 0, 0],
                    r,
                    "quota: used past the limit, or the limit changed",
                );
            }
        }
        used
    }

    /// Take the kernel's figures as the model's (after calls whose charge SYSCALLS.md
    /// does not fix exactly: page tables of a mapping or a task).
    pub fn sync_quota(&mut self) {
        self.mine = self.read_quota();
    }

    /// The kernel's figures must be the model's: every charge as SYSCALLS.md's table
    /// says, every refund when the object went.
    pub fn check_quota(&mut self, why: &'static str) {
        let used = self.read_quota();
        for (i, (&u, &m)) in used.iter().zip(&self.mine).enumerate() {
            if u != m {
                urt::println!(
                    "fuzz_state: {} quota: kernel {} model {} ({})",
                    crate::snapshot::QUOTA_NAMES[i],
                    u,
                    m,
                    why
                );
                self.fail(Sys::Quota, [i as u64, 0, 0, 0, 0, 0], [0, u, 0], why);
                self.mine = used;
                return;
            }
        }
    }

    /// The kernel heap grown since the start must be covered by the charges taken
    /// since the start (SYSCALLS.md: "The heap charges are at least what each object
    /// takes"), give or take the frame allocator's lists.
    pub fn check_heap(&mut self) {
        let heap = self.stat(Stat::HeapUsed);
        let size = self.stat(Stat::HeapSize);
        let growth = heap.saturating_sub(self.heap0);
        let charged = self.mine[HEAP].saturating_sub(self.start[HEAP]);
        self.heap_growth = self.heap_growth.max(growth);
        self.charged_growth = self.charged_growth.max(charged);
        if heap > size || growth > charged + UNCHARGED_HEAP {
            self.fail(
                Sys::Stats,
                [Stat::HeapUsed as u64, 0, 0, 0, 0, 0],
                [0, heap, charged],
                "kernel heap grew past what its objects were charged (or past its size)",
            );
        }
    }

    /// The invariants after each step: the kernel answers, the heap is within its
    /// size, a quota (each in turn) within its limit; every 32 steps the whole quota
    /// model and the heap against the charges.
    pub fn step(&mut self) {
        self.steps += 1;
        let tasks = self.stat(Stat::Tasks);
        if tasks < 3 {
            self.fail(
                Sys::Stats,
                [Stat::Tasks as u64, 0, 0, 0, 0, 0],
                [0, tasks, 0],
                "fewer live tasks than the launcher, the worker and this one",
            );
        }
        let q = (self.steps % QUOTAS as u64) as usize;
        let r = self.sys(Sys::Quota, [q as u64, 0, 0, 0, 0, 0], Mask::OK);
        if r[1] > r[2] {
            self.fail(
                Sys::Quota,
                [q as u64, 0, 0, 0, 0, 0],
                r,
                "quota: used past the limit",
            );
        }
        if self.steps.is_multiple_of(32) {
            self.check_quota("a charge or refund differs from SYSCALLS.md's table");
            self.check_heap();
        }
    }
}

/// Run scenario `s` with the orders `w` on the report channel `ch`.
pub fn run(ch: Handle, s: u64, w: &[u64; ORDER_WORDS]) -> i32 {
    let mut a = Att::new(ch, w);
    match s {
        super::NEST_CHAIN => super::nest::chain(&mut a),
        super::NEST_TREE => super::nest::tree(&mut a),
        super::CYCLES => super::cycles::run(&mut a),
        super::FILL_CHANNELS => super::nest::fill_channels(&mut a),
        super::FILL_HEAP => super::fill::heap(&mut a),
        super::FILL_FRAMES => super::fill::frames(&mut a),
        super::FILL_GPU => super::fill::gpu(&mut a),
        super::FILL_TASKS => super::fill::tasks(&mut a),
        super::DEPTH => super::fill::depth(&mut a),
        super::RIGHTS => super::rights::run(&mut a),
        _ => super::reuse::run(&mut a),
    }
    a.finish()
}
