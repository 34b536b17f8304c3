//! The fuzzer proper, spawned by `fuzz` with a channel end for its report.
//!
//! Call `i` draws everything from its own generator, `Rng::derive(SEED, 1, i)`: which
//! call, and arguments that are valid (named from the model), adversarial (stale,
//! forged, closed or wrong-kind handles; null, kernel-space, unmapped, read-only,
//! misaligned, wrapping pointers; huge, negative, off-by-one lengths; every flag bit) or
//! a mix. The model holds what the worker created: its live handles with their kinds,
//! objects and rights, buffers (size, policy, its open START), resources (size, map
//! offset), channels (what is queued at each end, which ends are open), mappings
//! (direct and legacy), tasks it started (peers that share buffers and run their own
//! sync/present sequences; victims that die). With it the worker
//! - never makes a call that would block forever or kill it: it receives only when
//!   something is queued or the peer end is gone, waits only on its own tasks (which
//!   all end), touches only live mappings, never lets the kernel write outside its
//!   scratch area, never hands garbage one of its live handles by accident;
//! - predicts each result: every `x0` must be in the call's documented set, and where
//!   the model decides it (the first failing check in the documented order, or
//!   success/a resource error such as NoMemory, TableFull, QueueFull or Busy for a valid
//!   call) it must be that; results (`handle_info`, `buffer_info`, received sizes) must
//!   match the model.
//!
//! Results that depend on timing (Busy from a peer's open START, TimedOut) never change
//! the model, so a seed replays the same sequence of calls.
//!
//! Half of the run's calls are *stateful scenarios* (`fuzz::state`): whenever the calls
//! made in scenarios are no more than the single calls, the worker reaps its peers,
//! counts its free handle slots against the model (`handle_dup` until `TableFull`),
//! and starts an attacker task (`fuzz_state`) with the next scenario (the first eleven
//! are every scenario once, in a seeded order; then drawn at random) and a seeded
//! ending; when the attacker has ended, free frames, kernel heap, live tasks and this
//! task's quota use must be back where they were (`state::drive`). The attacker's calls
//! count towards the run's. After every single call the kernel must answer `stats` and
//! one quota (each in turn) must be within its limit.

#![no_std]
#![no_main]

use core::cell::UnsafeCell;
use fuzz::urt::{
    self,
    alloc::{collections::VecDeque, vec, vec::Vec},
    Error, Handle, ObjectKind, Rights, StartArgs, Sys,
};
use fuzz::{check, peek, peer, poke, raw, send_words, state, victim, Mask, Rng, Violation};
use fuzz::{CALLS, KEEP_GOING, SEED};

const SCRATCH_SIZE: usize = 64 * 1024;
/// Where the kernel may write: received bytes at +4096, handles at +8192, trace and
/// counters from +16384.
const RECV_BYTES: u64 = 4096;
const RECV_HANDLES: u64 = 8192;
const TRACE_AT: u64 = 16384;
const TRACE_CAP: u64 = (SCRATCH_SIZE as u64 - TRACE_AT) / 40;

#[repr(C, align(4096))]
struct Scratch(UnsafeCell<[u8; SCRATCH_SIZE]>);

// SAFETY: single-threaded; only raw pointers (ours and the kernel's) touch it.
unsafe impl Sync for Scratch {}

static SCRATCH: Scratch = Scratch(UnsafeCell::new([0; SCRATCH_SIZE]));
static RODATA: [u8; 4096] = [0x5a; 4096];

fn scratch() -> u64 {
    SCRATCH.0.get() as u64
}

fn put_u32s(at: u64, vs: &[u32]) {
    for (i, v) in vs.iter().enumerate() {
        // SAFETY: inside SCRATCH (callers keep `at` + 4 * len within it), 4-aligned.
        unsafe { ((at + 4 * i as u64) as *mut u32).write_volatile(*v) };
    }
}

fn get_u32(at: u64) -> u32 {
    // SAFETY: inside SCRATCH, 4-aligned.
    unsafe { (at as *const u32).read_volatile() }
}

/// Live-buffer budget: the worker never holds more, so NoMemory never comes from its
/// own appetite.
const BUFFER_BUDGET: u64 = 256 << 20;
/// Host memory for GPU resources (QEMU allocates width * height * 4 per resource).
const PIXEL_BUDGET: u64 = 96 << 20;
const MAX_PEERS: usize = 3;
/// Stateful scenarios besides the single calls (`FUZZ_STATEFUL=0` turns them off).
const STATEFUL: bool = fuzz::parse_u64(option_env!("FUZZ_STATEFUL"), 1) != 0;
/// Only this scenario (`FUZZ_SCENARIO=n`, for debugging one; 0: all of them).
const ONLY: u64 = fuzz::parse_u64(option_env!("FUZZ_SCENARIO"), 0);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Task,
    Chan,
    Buf,
    Res,
}

impl Kind {
    fn abi(self) -> u64 {
        match self {
            Kind::Task => ObjectKind::Task as u64,
            Kind::Chan => ObjectKind::Channel as u64,
            Kind::Buf => ObjectKind::Buffer as u64,
            Kind::Res => ObjectKind::Resource as u64,
        }
    }
}

/// A reference to an object: its kind and index in that kind's table. For channels the
/// index is `2 * channel + end`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct ObjRef {
    kind: Kind,
    idx: usize,
}

#[derive(Clone, Copy, Debug)]
struct H {
    v: u32,
    obj: ObjRef,
    rights: u32,
}

struct BufObj {
    size: u64,
    policy: u64,
    kid: u64,
    /// Our open START's direction bits (READ 4, WRITE 8).
    start: Option<u64>,
    /// Handles in our table or in queued messages.
    refs: usize,
    /// Peers alive that hold it (or a resource of it) with MAP_WRITE.
    shared: usize,
    /// Still counted against the budget.
    counted: bool,
}

struct ResObj {
    buf: usize,
    w: u64,
    h: u64,
    off: u64,
    refs: usize,
}

struct Msg {
    len: usize,
    hs: Vec<(ObjRef, u32)>,
}

struct Chan {
    /// Handles to end i (our table, queued messages).
    refs: [usize; 2],
    /// May carry handles (and then is never carried itself).
    carrier: bool,
    /// Messages waiting to be received at end i.
    q: [VecDeque<Msg>; 2],
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TaskState {
    /// A peer still running (or not yet waited on); its report end is `report`.
    Peer {
        report: u32,
        bufs: [Option<usize>; 3],
    },
    /// Ended with this status.
    Ended(u64, u64),
}

struct TaskObj {
    state: TaskState,
    refs: usize,
}

#[derive(Clone, Copy)]
struct MapM {
    addr: u64,
    len: u64,
    buf: usize,
    writable: bool,
    legacy: bool,
}

struct W {
    hs: Vec<H>,
    stale: Vec<u32>,
    reserved: Vec<u32>,
    /// Highest generation seen per slot.
    gens: [u16; 512],
    bufs: Vec<BufObj>,
    ress: Vec<ResObj>,
    chans: Vec<Chan>,
    tasks: Vec<TaskObj>,
    maps: Vec<MapM>,
    /// Dead objects' slots, reused (the worker's heap is small and runs are long).
    free: [Vec<usize>; 4],
    live_bytes: u64,
    pixels: u64,
    fence: u64,
    /// Our recent fences, and whether the device may fail them (a present of a
    /// resource under 16x16 pixels: QEMU refuses such a scanout).
    fences: VecDeque<(u64, bool)>,
    peers: usize,
    strict: bool,
    gpu: Option<(u64, u64)>,
    blk: bool,
    violations: u64,
    seen: Vec<(u64, u64, u32)>,
    call: u64,
    ok: u64,
    /// What the launcher uses of each quota (for the attackers' predictions).
    launcher: [u64; fuzz::snapshot::QUOTAS],
    /// Per scenario: runs, calls, runs that ended on a quota refusal, the most kernel
    /// heap an attacker took and the most it was charged for.
    runs: [(u64, u64, u64, u64, u64, u64); state::SCENARIOS as usize + 1],
    /// The first scenarios run every one in a seeded order.
    order: [u64; state::SCENARIOS as usize],
}

enum Verdict {
    Go,
    Stop,
}

impl W {
    // ---- handles -------------------------------------------------------------------

    fn find(&self, arg: u64) -> Option<usize> {
        if arg > u32::MAX as u64 {
            return None;
        }
        self.hs.iter().position(|h| h.v as u64 == arg)
    }

    fn free_slots(&self) -> usize {
        256 - self.hs.len() - self.reserved.len()
    }

    fn of_kind(&self, k: Kind) -> Vec<usize> {
        (0..self.hs.len())
            .filter(|&i| self.hs[i].obj.kind == k)
            .collect()
    }

    /// A value that names none of our handles.
    fn not_ours(&self, v: u64) -> u64 {
        let low = v as u32;
        if self.hs.iter().any(|h| h.v == low) || self.reserved.contains(&low) {
            v ^ 0x8000_0000
        } else {
            v
        }
    }

    fn garbage_handle(&self, g: &mut Rng) -> u64 {
        let v = match g.below(8) {
            0 => 0,
            1 | 2 if !self.stale.is_empty() => g.pick(&self.stale) as u64,
            3 => Handle::new(g.below(260) as u16, g.below(8) as u16).0 as u64,
            4 => g.next_u64() & 0xffff_ffff,
            5 => g.next_u64(),
            6 => {
                // A live handle's value with bits above 31: still BadHandle.
                if self.hs.is_empty() {
                    u64::MAX
                } else {
                    (g.pick(&self.hs).v as u64) | (1 + g.below(0xffff)) << 32
                }
            }
            _ => Handle::new(g.below(256) as u16, 1 + g.below(3) as u16).0 as u64,
        };
        self.not_ours(v)
    }

    /// A handle argument: mostly a live handle of `want`, sometimes any live handle,
    /// sometimes garbage.
    fn handle_arg(&self, g: &mut Rng, want: Kind) -> u64 {
        let of = self.of_kind(want);
        match g.below(10) {
            0..=6 if !of.is_empty() => self.hs[g.pick(&of)].v as u64,
            7 if !self.hs.is_empty() => g.pick(&self.hs).v as u64,
            _ => self.garbage_handle(g),
        }
    }

    /// Classify a handle argument for a call that needs `kind` and `need` rights:
    /// `Ok(index)` or the error the documented order gives first.
    fn hcheck(&self, arg: u64, kind: Kind, need: u32) -> Result<usize, Error> {
        let i = self.find(arg).ok_or(Error::BadHandle)?;
        if self.hs[i].obj.kind != kind {
            return Err(Error::WrongType);
        }
        if self.hs[i].rights & need != need {
            return Err(Error::AccessDenied);
        }
        Ok(i)
    }

    fn add_handle(&mut self, v: u64, obj: ObjRef, rights: u32) -> Result<(), &'static str> {
        let h = Handle(v as u32);
        let (Some(slot), gen) = (h.slot(), h.generation()) else {
            return Err("a call returned the null handle");
        };
        // A table has at most 512 slot indices (a used-up slot is retired for another).
        if v > u32::MAX as u64 || slot >= 512 {
            return Err("a call returned a handle value outside the documented encoding");
        }
        if self.hs.iter().any(|x| x.v == v as u32) || self.reserved.contains(&(v as u32)) {
            return Err("a call returned a handle value that is already live");
        }
        if gen <= self.gens[slot as usize] {
            return Err(
                "a slot's generation did not move on: a stale handle value names a new object",
            );
        }
        self.gens[slot as usize] = gen;
        self.hs.push(H {
            v: v as u32,
            obj,
            rights,
        });
        self.add_ref(obj);
        Ok(())
    }

    fn add_ref(&mut self, o: ObjRef) {
        match o.kind {
            Kind::Buf => self.bufs[o.idx].refs += 1,
            Kind::Res => self.ress[o.idx].refs += 1,
            Kind::Chan => self.chans[o.idx / 2].refs[o.idx % 2] += 1,
            Kind::Task => self.tasks[o.idx].refs += 1,
        }
    }

    /// Drop one reference to `o` (a handle closed or a queued message dropped).
    fn drop_ref(&mut self, o: ObjRef) {
        match o.kind {
            Kind::Buf => {
                self.bufs[o.idx].refs -= 1;
                self.buf_maybe_gone(o.idx);
            }
            Kind::Res => {
                self.ress[o.idx].refs -= 1;
                if self.ress[o.idx].refs == 0 {
                    let r = &self.ress[o.idx];
                    self.pixels -= r.w * r.h * 4;
                    let b = r.buf;
                    self.free[1].push(o.idx);
                    self.buf_maybe_gone(b);
                }
            }
            Kind::Chan => {
                let (c, e) = (o.idx / 2, o.idx % 2);
                self.chans[c].refs[e] -= 1;
                if self.chans[c].refs[e] == 0 {
                    // Nobody can receive what is queued at this end any more: the kernel
                    // drops those messages (and closes their handles) as the end goes.
                    while let Some(m) = self.chans[c].q[e].pop_front() {
                        for (obj, _) in m.hs {
                            self.drop_ref(obj);
                        }
                    }
                    if self.chans[c].refs == [0, 0] {
                        self.free[2].push(c);
                    }
                }
            }
            Kind::Task => {
                self.tasks[o.idx].refs -= 1;
                if self.tasks[o.idx].refs == 0
                    && matches!(self.tasks[o.idx].state, TaskState::Ended(..))
                {
                    self.free[3].push(o.idx);
                }
            }
        }
    }

    fn buf_maybe_gone(&mut self, b: usize) {
        // An open START of ours holds the buffer too (the kernel keeps it in the task's
        // CPU access state, and without a handle it can never be ENDed).
        let holders = self.bufs[b].refs
            + self
                .ress
                .iter()
                .filter(|r| r.buf == b && r.refs > 0)
                .count()
            + self.maps.iter().filter(|m| m.buf == b).count()
            + self.bufs[b].shared
            + usize::from(self.bufs[b].start.is_some());
        if holders == 0 && self.bufs[b].counted {
            self.bufs[b].counted = false;
            self.live_bytes -= self.bufs[b].size;
            self.free[0].push(b);
        }
    }

    fn slot_of(&mut self, kind: usize, len: usize) -> usize {
        self.free[kind].pop().unwrap_or(len)
    }

    fn remove_handle(&mut self, i: usize) -> H {
        let h = self.hs.swap_remove(i);
        if self.stale.len() >= 64 {
            self.stale.remove(0);
        }
        self.stale.push(h.v);
        h
    }

    fn close_handle(&mut self, i: usize) {
        // Our CPU access state is per task and buffer: closing our last handle to the
        // buffer ends an open START as its END would (SYSCALLS.md, "Buffers").
        let h = self.remove_handle(i);
        if h.obj.kind == Kind::Buf
            && !self
                .hs
                .iter()
                .any(|o| o.obj.kind == Kind::Buf && o.obj.idx == h.obj.idx)
        {
            self.bufs[h.obj.idx].start = None;
        }
        self.drop_ref(h.obj);
    }

    /// The buffer object behind a buffer or resource reference.
    fn buf_of(&self, o: ObjRef) -> Option<usize> {
        match o.kind {
            Kind::Buf => Some(o.idx),
            Kind::Res => Some(self.ress[o.idx].buf),
            _ => None,
        }
    }

    // ---- pointers ------------------------------------------------------------------

    /// A pointer the kernel reads `len` bytes from: `(ptr, readable)`; `readable` is
    /// None when the model cannot tell (it overlaps a mapping of ours).
    fn rptr(&self, g: &mut Rng, len: u64) -> (u64, Option<bool>) {
        let p = match g.below(14) {
            0 => 0,
            1 => g.next_u64(),
            2 => 0xffff_ff80_0000_0000 + g.below(1 << 20),
            3 => 0xffff_0000_4000_0000 + g.below(1 << 30),
            4 => 0x7f_8000_0000 + g.below(1 << 30),
            5 => urt::abi::USER_END - 1 - g.below(64),
            6 => u64::MAX - g.below(64),
            7 => urt::abi::USER_STACK_TOP - urt::abi::USER_STACK_SIZE - 4096 + g.below(4096),
            8 => g.below(0x40_0000),
            9 if !self.maps.is_empty() => {
                let m = g.pick(&self.maps);
                m.addr + g.below(m.len)
            }
            10 | 11 => RODATA.as_ptr() as u64 + g.below(4096),
            _ => scratch() + g.below(SCRATCH_SIZE as u64),
        };
        (p, self.readable(p, len))
    }

    fn readable(&self, p: u64, len: u64) -> Option<bool> {
        if len == 0 {
            return Some(true);
        }
        let Some(end) = p.checked_add(len) else {
            return Some(false);
        };
        let inside = |base: u64, size: u64| p >= base && end <= base + size;
        if inside(scratch(), SCRATCH_SIZE as u64) || inside(RODATA.as_ptr() as u64, 4096) {
            return Some(true);
        }
        if end > urt::abi::USER_END || p >= urt::abi::USER_END {
            return Some(false);
        }
        if self.maps.iter().any(|m| p < m.addr + m.len && end > m.addr) {
            return None;
        }
        if end <= 0x40_0000 {
            return Some(false);
        }
        let guard = urt::abi::USER_STACK_TOP - urt::abi::USER_STACK_SIZE;
        if p >= guard - 4096 && end <= guard {
            return Some(false);
        }
        if p >= 0x7f_8000_0000 && end <= urt::abi::USER_MAP_END {
            return Some(false);
        }
        None
    }

    /// A pointer the kernel writes `len` bytes to: scratch at `at`, or refused memory.
    fn wptr(&self, g: &mut Rng, at: u64, len: u64) -> (u64, Option<bool>) {
        match g.below(8) {
            0 => (RODATA.as_ptr() as u64, Some(len == 0)),
            1 => (0, Some(len == 0)),
            2 => (0xffff_ff80_0000_0000, Some(len == 0)),
            3 => (u64::MAX - 3, Some(len == 0)),
            _ => (scratch() + at, Some(true)),
        }
    }

    // ---- issuing -------------------------------------------------------------------

    fn issue(&mut self, num: u64, a: [u64; 6], want: Mask) -> Result<[u64; 3], Verdict> {
        // SAFETY: the generators aim every pointer the kernel may write through at
        // SCRATCH or at memory the kernel must refuse, and every handle argument that
        // names a live handle of ours does so on purpose and is modelled.
        let r = unsafe { raw(num, a) };
        match check(self.call, num, a, r, want) {
            Ok(()) => {
                if r[0] == 0 {
                    self.ok += 1;
                }
                Ok(r)
            }
            Err(v) => Err(self.violation(v)),
        }
    }

    fn violation(&mut self, v: Violation) -> Verdict {
        self.violations += 1;
        let sig = (v.num, v.got[0], v.want.0);
        if !self.seen.contains(&sig) {
            self.seen.push(sig);
            urt::println!("fuzz: VIOLATION (seed {}) {}", SEED, v);
            if let Some(i) = self.find(v.args[0]) {
                let h = self.hs[i];
                let k = urt::handle_info(Handle(h.v));
                let desc = match h.obj.kind {
                    Kind::Buf => {
                        let b = &self.bufs[h.obj.idx];
                        let info = urt::buffer_info(Handle(h.v));
                        urt::println!(
                            "  model: buffer #{} size {:#x} id {} start {:?}; kernel: {:?}",
                            h.obj.idx,
                            b.size,
                            b.kid,
                            b.start,
                            info
                        );
                        ""
                    }
                    Kind::Res => "resource",
                    Kind::Chan => "channel end",
                    Kind::Task => "task",
                };
                urt::println!(
                    "  model: handle {:#x} is {:?} {} rights {:#x}; kernel handle_info {:?}",
                    h.v,
                    h.obj,
                    desc,
                    h.rights,
                    k
                );
            }
        }
        if KEEP_GOING {
            Verdict::Go
        } else {
            Verdict::Stop
        }
    }

    fn fail(&mut self, num: u64, a: [u64; 6], got: [u64; 3], why: &'static str) -> Verdict {
        let v = Violation {
            call: self.call,
            num,
            args: a,
            got,
            want: Mask::NONE,
            why,
        };
        self.violation(v)
    }

    // ---- invariants ----------------------------------------------------------------

    /// After every step: the kernel answers (`stats`: at least the launcher and this
    /// task live), and one quota resource (each in turn) is within its limit.
    fn invariants(&mut self, step: u64) -> Result<(), Verdict> {
        let a = [urt::Stat::Tasks as u64, 0, 0, 0, 0, 0];
        // SAFETY: no pointer, no handle.
        let r = unsafe { raw(Sys::Stats as u64, a) };
        if r[0] != 0 || r[1] < 2 {
            return Err(self.fail(Sys::Stats as u64, a, r, "stats: the kernel did not answer"));
        }
        let a = [step % fuzz::snapshot::QUOTAS as u64, 0, 0, 0, 0, 0];
        // SAFETY: no pointer, no handle.
        let r = unsafe { raw(Sys::Quota as u64, a) };
        if r[0] != 0 || r[1] > r[2] {
            return Err(self.fail(Sys::Quota as u64, a, r, "quota: used past the limit"));
        }
        Ok(())
    }

    // ---- stateful scenarios --------------------------------------------------------

    /// Run the `k`th scenario (an attacker task, `fuzz::state`) with at most
    /// `remaining` calls; returns the calls it made. First every peer is reaped (the
    /// worker's account must not change while the attacker runs, whose predictions
    /// depend on it) and the worker's handle table is counted against the model.
    fn scenario(&mut self, k: u64, remaining: u64) -> Result<u64, Verdict> {
        for t in 0..self.tasks.len() {
            self.reap_peer(t)?;
        }
        // Peers send their report just before they exit: wait for the exits.
        let mut alone = false;
        for _ in 0..500 {
            if urt::quota(urt::Quota::Tasks).map(|q| q.0) == Ok(1) {
                alone = true;
                break;
            }
            let _ = urt::sleep_ns(10_000_000);
        }
        if !alone {
            return Err(self.fail(
                Sys::Quota as u64,
                [urt::Quota::Tasks as u64, 0, 0, 0, 0, 0],
                [0; 3],
                "peers still alive 5 s after their reports",
            ));
        }
        let report = Handle(self.reserved[0]);
        match fuzz::snapshot::free_slots(report) {
            Ok(n) if n == self.free_slots() => {}
            other => {
                urt::println!(
                    "fuzz: the kernel counts {:?} free handle slots, the model {}",
                    other,
                    self.free_slots()
                );
                return Err(self.fail(
                    Sys::HandleDup as u64,
                    [report.0 as u64, 0, 0, 0, 0, 0],
                    [0; 3],
                    "the worker's free handle slots differ from the model",
                ));
            }
        }
        let mut g = Rng::derive(SEED, 4, k);
        let s = if ONLY != 0 {
            ONLY
        } else if (k as usize) < self.order.len() {
            self.order[k as usize]
        } else {
            // The long ones (in calls: channels full of messages; in time: 64 MiB
            // buffers) half as often as the others.
            let weight = |s: u64| {
                if s == state::FILL_CHANNELS || s == state::FILL_FRAMES {
                    1
                } else {
                    2
                }
            };
            let total: u64 = (1..=state::SCENARIOS).map(weight).sum();
            let mut x = g.below(total);
            let mut s = 1;
            while x >= weight(s) {
                x -= weight(s);
                s += 1;
            }
            s
        };
        let ending = g.below(state::ENDINGS);
        let cap = if s == state::REUSE { 200_000 } else { 60_000 };
        let budget = remaining.min(cap);
        let seed = g.next_u64();
        let d = state::drive::run(&self.launcher, s, seed, budget, ending);
        let r = &mut self.runs[s as usize];
        r.0 += 1;
        r.1 += d.calls;
        r.2 += u64::from(d.refused != 0);
        r.5 += u64::from(d.refused == Error::NoMemory as u64);
        r.3 = r.3.max(d.heap.0);
        r.4 = r.4.max(d.heap.1);
        self.violations += d.violations;
        if d.violations > 0 && !KEEP_GOING {
            return Err(Verdict::Stop);
        }
        Ok(d.calls)
    }

    // ---- the calls -----------------------------------------------------------------

    fn step(&mut self, g: &mut Rng) -> Result<(), Verdict> {
        // Keep the handle table and the mapping budget from sitting at their limits:
        // close or unmap more often as they fill (still drawn from the call's stream).
        let fill = g.below(256) as usize;
        if fill < self.hs.len().saturating_sub(96) {
            return self.close(g);
        }
        if fill < 2 * self.maps.len().saturating_sub(40) {
            return self.unmap(g);
        }
        match g.below(100) {
            0..=5 => self.buffer_create(g),
            6..=10 => self.buffer_map(g),
            11..=13 => self.unmap(g),
            14..=21 => self.touch(g),
            22..=31 => self.sync(g),
            32..=34 => self.import(g),
            35..=39 => self.present(g),
            40..=41 => self.fence_wait(g),
            42..=43 => self.map_offset(g),
            44..=47 => self.gpu_mmap(g),
            48..=52 => self.close(g),
            53..=55 => self.dup(g),
            56..=58 => self.info(g),
            59..=60 => self.channel_create(g),
            61..=64 => self.send(g),
            65..=67 => self.recv(g),
            68 => self.spawn_peer(g),
            69 => self.spawn_victim(g),
            70..=71 => self.spawn_bad(g),
            72 => self.wait(g),
            73..=87 => self.garbage(g),
            _ => self.misc(g),
        }
    }

    fn buffer_create(&mut self, g: &mut Rng) -> Result<(), Verdict> {
        let size = match g.below(10) {
            0 => g.length(),
            1 => 0,
            2 => urt::limits::MAX_BUFFER + g.below(2) * g.below(1 << 20),
            3 => 1 << (12 + g.below(15)),
            _ => 1 + g.below(64 * 1024),
        };
        let policy = if g.chance(1, 10) {
            g.pick(&[2, 3, u64::MAX, 1 << 32])
        } else {
            g.below(2)
        };
        let rounded = size.div_ceil(4096) * 4096;
        let want = if policy > 1 || size == 0 {
            Mask::err(Error::InvalidArgument)
        } else if size > urt::limits::MAX_BUFFER {
            Mask::err(Error::TooLarge)
        } else if self.free_slots() == 0 {
            Mask::err(Error::TableFull)
        } else if self.live_bytes + rounded > BUFFER_BUDGET {
            // Over our budget: do not make it (the call is still fine to check).
            return Ok(());
        } else {
            Mask::OK.or(Error::NoMemory)
        };
        let a = [size, policy, 0, 0, 0, 0];
        let r = self.issue(Sys::BufferCreate as u64, a, want)?;
        if r[0] == 0 {
            let info = self.issue(Sys::BufferInfo as u64, [r[1], 0, 0, 0, 0, 0], Mask::OK)?;
            if info[1] != rounded || info[2] & 0xffff_ffff != policy {
                return Err(self.fail(
                    Sys::BufferInfo as u64,
                    [r[1], 0, 0, 0, 0, 0],
                    info,
                    "buffer_info of a new buffer: wrong size or policy",
                ));
            }
            let b = BufObj {
                size: rounded,
                policy,
                kid: info[2] >> 32,
                start: None,
                refs: 0,
                shared: 0,
                counted: true,
            };
            let idx = self.slot_of(0, self.bufs.len());
            if idx == self.bufs.len() {
                self.bufs.push(b);
            } else {
                self.bufs[idx] = b;
            }
            self.live_bytes += rounded;
            let obj = ObjRef {
                kind: Kind::Buf,
                idx,
            };
            let rights = Rights::MAP_READ.0
                | Rights::MAP_WRITE.0
                | Rights::SHARE.0
                | Rights::DEVICE.0
                | Rights::DEVICE_WRITE.0;
            if let Err(why) = self.add_handle(r[1], obj, rights) {
                return Err(self.fail(Sys::BufferCreate as u64, a, r, why));
            }
        }
        Ok(())
    }

    fn mapping_count(&self) -> (usize, usize) {
        let legacy = self.maps.iter().filter(|m| m.legacy).count();
        (self.maps.len() - legacy, legacy)
    }

    fn buffer_map(&mut self, g: &mut Rng) -> Result<(), Verdict> {
        let h = self.handle_arg(g, Kind::Buf);
        let prot = if g.chance(1, 8) {
            g.pick(&[0, 4, 5, 8, u64::MAX, 1 << 32 | 1])
        } else {
            1 + g.below(3)
        };
        let (direct, legacy) = self.mapping_count();
        let want = match self.hcheck(h, Kind::Buf, 0) {
            Err(e) => Mask::err(e),
            Ok(_) if !(1..=3).contains(&prot) => Mask::err(Error::InvalidArgument),
            Ok(i) => {
                let r = self.hs[i].rights;
                let need = Rights::MAP_READ.0 | if prot == 1 { 0 } else { Rights::MAP_WRITE.0 };
                if r & need != need {
                    Mask::err(Error::AccessDenied)
                } else if direct >= 64 {
                    Mask::err(Error::TableFull)
                } else if direct + legacy >= 64 {
                    // SYSCALLS.md: "TableFull (64 mappings)"; whether legacy ones count
                    // here is not said.
                    Mask::OK.or(Error::TableFull).or(Error::NoMemory)
                } else {
                    Mask::OK.or(Error::NoMemory)
                }
            }
        };
        let a = [h, prot, 0, 0, 0, 0];
        let r = self.issue(Sys::BufferMap as u64, a, want)?;
        if r[0] == 0 {
            let i = self.find(h).unwrap_or(0);
            let b = self.hs[i].obj.idx;
            let (lo, hi) = (urt::abi::USER_MAP_BASE, urt::abi::USER_MAP_END);
            let len = self.bufs[b].size;
            if r[1] < lo
                || r[1] + len > hi
                || r[1] % 4096 != 0
                || self
                    .maps
                    .iter()
                    .any(|m| r[1] < m.addr + m.len && r[1] + len > m.addr)
            {
                return Err(self.fail(
                    Sys::BufferMap as u64,
                    a,
                    r,
                    "buffer_map returned an address outside the window or over another mapping",
                ));
            }
            self.maps.push(MapM {
                addr: r[1],
                len,
                buf: b,
                writable: prot != 1,
                legacy: false,
            });
        }
        Ok(())
    }

    fn unmap(&mut self, g: &mut Rng) -> Result<(), Verdict> {
        let (addr, idx) = match g.below(6) {
            0..=3 if !self.maps.is_empty() => {
                let i = g.index(self.maps.len());
                (self.maps[i].addr, Some(i))
            }
            4 if !self.maps.is_empty() => {
                let m = g.pick(&self.maps);
                (m.addr + 1 + g.below(m.len - 1), None)
            }
            _ => {
                let a = g.pick(&[
                    0,
                    0x10_0000_0000,
                    u64::MAX,
                    0xffff_ff80_0000_0000,
                    scratch(),
                    0x7f_ffff_f000,
                ]);
                (a, None)
            }
        };
        let idx = idx.or_else(|| self.maps.iter().position(|m| m.addr == addr));
        let want = if idx.is_some() {
            Mask::OK
        } else {
            Mask::err(Error::InvalidArgument)
        };
        let r = self.issue(Sys::BufferUnmap as u64, [addr, 0, 0, 0, 0, 0], want)?;
        if r[0] == 0 {
            if let Some(i) = idx {
                let m = self.maps.swap_remove(i);
                self.buf_maybe_gone(m.buf);
            }
        }
        Ok(())
    }

    fn touch(&mut self, g: &mut Rng) -> Result<(), Verdict> {
        if self.maps.is_empty() {
            return Ok(());
        }
        let m = self.maps[g.index(self.maps.len())];
        for _ in 0..1 + g.below(8) {
            let off = g.below(m.len / 8) * 8;
            if m.writable && g.chance(1, 2) {
                // SAFETY: a live writable mapping of ours; nothing references it.
                unsafe { poke(m.addr + off, self.call ^ off) };
                // SAFETY: as above; our own write must read back (one CPU, one task).
                let back = unsafe { peek(m.addr + off) };
                if back != self.call ^ off && self.bufs[m.buf].shared == 0 {
                    return Err(self.fail(
                        Sys::BufferMap as u64,
                        [m.addr, off, 0, 0, 0, 0],
                        [back, 0, 0],
                        "a word written through a mapping did not read back",
                    ));
                }
            } else {
                // SAFETY: a live readable mapping of ours.
                let _ = unsafe { peek(m.addr + off) };
            }
        }
        Ok(())
    }

    fn sync(&mut self, g: &mut Rng) -> Result<(), Verdict> {
        let h = self.handle_arg(g, Kind::Buf);
        let rect = g.chance(1, 4);
        let known = self.find(h).filter(|&i| self.hs[i].obj.kind == Kind::Buf);
        let (size, open) = known.map_or((4096, None), |i| {
            let b = &self.bufs[self.hs[i].obj.idx];
            (b.size, b.start)
        });
        let flags = match g.below(10) {
            0 => g.next_u64(),
            1 => g.below(32),
            2 | 3 if open.is_some() => 2 | open.unwrap_or(4),
            4 | 5 => 2 | g.pick(&[4, 8, 12]),
            _ => 1 | g.pick(&[4, 8, 12]),
        };
        let (offset, len) = match g.below(8) {
            0 => (0, 0),
            1 => (g.length(), g.length()),
            2 => (g.below(size + 2), 0),
            3 => (size - g.below(size), g.below(4096)),
            4 => (u64::MAX - g.below(4), 1 + g.below(8)),
            _ => {
                let o = g.below(size);
                (o, 1 + g.below(size - o))
            }
        };
        let (row_len, rows, stride) = match g.below(6) {
            0 => (g.length(), g.length(), g.length()),
            1 => (0, 1 + g.below(4), 64),
            2 => (64 + g.below(64), 2 + g.below(4), 32),
            _ => (1 + g.below(512), 1 + g.below(16), 512 + g.below(2048)),
        };
        let want = match self.hcheck(h, Kind::Buf, 0) {
            Err(e) => Mask::err(e),
            Ok(i) => {
                let rights = self.hs[i].rights;
                let b = &self.bufs[self.hs[i].obj.idx];
                let open_count = self.bufs.iter().filter(|b| b.start.is_some()).count();
                sync_want(
                    flags,
                    offset,
                    len,
                    b.size,
                    rights,
                    b.start,
                    rect.then_some((row_len, rows, stride)),
                    open_count,
                )
            }
        };
        let (num, a) = if rect {
            (
                Sys::BufferSyncRect,
                [h, flags, offset, row_len, rows, stride],
            )
        } else {
            (Sys::BufferSync, [h, flags, offset, len, 0, 0])
        };
        let r = self.issue(num as u64, a, want)?;
        if r[0] == 0 {
            let b = self.hs[self.find(h).unwrap_or(0)].obj.idx;
            self.bufs[b].start = if flags & 1 != 0 {
                Some(flags & 12)
            } else {
                None
            };
        }
        Ok(())
    }

    fn import(&mut self, g: &mut Rng) -> Result<(), Verdict> {
        let h = self.handle_arg(g, Kind::Buf);
        let size = self
            .find(h)
            .filter(|&i| self.hs[i].obj.kind == Kind::Buf)
            .map_or(4096, |i| self.bufs[self.hs[i].obj.idx].size);
        let (w, hh) = match g.below(8) {
            0 => (g.length(), g.length()),
            1 => (g.pick(&[0, 16385, 1 << 32 | 4]), 1 + g.below(4)),
            2 => (1 + g.below(64), g.pick(&[0, 16385, u64::MAX])),
            _ => {
                let px = size / 4;
                let w = 1 + g.below(px.clamp(1, 2048));
                let hmax = (px / w).max(1);
                let over = g.below(2);
                (w, 1 + g.below(hmax + over))
            }
        };
        let format = if g.chance(1, 10) {
            g.pick(&[0, 5, 66, 135, u64::MAX])
        } else {
            g.pick(&urt::format::ALL)
        };
        let Some(_) = self.gpu else { return Ok(()) };
        let want = match self.hcheck(h, Kind::Buf, Rights::DEVICE.0) {
            Err(e) => Mask::err(e),
            Ok(_)
                if !(1..=16384).contains(&w)
                    || !(1..=16384).contains(&hh)
                    || !urt::format::ALL.contains(&format) =>
            {
                Mask::err(Error::InvalidArgument)
            }
            Ok(_) if w * hh * 4 > size => Mask::err(Error::OutOfRange),
            Ok(_) if self.free_slots() == 0 => Mask::err(Error::TableFull),
            Ok(_) if self.pixels + w * hh * 4 > PIXEL_BUDGET => return Ok(()),
            Ok(_) => Mask::OK.or(Error::NoMemory).or(Error::DeviceError),
        };
        let a = [h, w, hh, format, 0, 0];
        let r = self.issue(Sys::GpuImport as u64, a, want)?;
        if r[0] == 0 {
            let b = self.hs[self.find(h).unwrap_or(0)].obj.idx;
            let off = self.issue(Sys::GpuMapOffset as u64, [r[1], 0, 0, 0, 0, 0], Mask::OK)?;
            if off[1] % 4096 != 0
                || self.ress.iter().any(|x| {
                    x.refs > 0 && off[1] < x.off + self.bufs[x.buf].size && x.off < off[1] + size
                })
            {
                return Err(self.fail(
                    Sys::GpuMapOffset as u64,
                    [r[1], 0, 0, 0, 0, 0],
                    off,
                    "map offset not page-aligned or overlapping another live resource's",
                ));
            }
            let x = ResObj {
                buf: b,
                w,
                h: hh,
                off: off[1],
                refs: 0,
            };
            let idx = self.slot_of(1, self.ress.len());
            if idx == self.ress.len() {
                self.ress.push(x);
            } else {
                self.ress[idx] = x;
            }
            self.pixels += w * hh * 4;
            let obj = ObjRef {
                kind: Kind::Res,
                idx,
            };
            // The resource carries the buffer handle's SHARE / MAP_READ / MAP_WRITE, and
            // DEVICE (which the import needed).
            let from = self.find(h).map_or(0, |i| self.hs[i].rights);
            let rights = (from & (Rights::SHARE.0 | Rights::MAP_READ.0 | Rights::MAP_WRITE.0))
                | Rights::DEVICE.0;
            if let Err(why) = self.add_handle(r[1], obj, rights) {
                return Err(self.fail(Sys::GpuImport as u64, a, r, why));
            }
        }
        Ok(())
    }

    fn present(&mut self, g: &mut Rng) -> Result<(), Verdict> {
        let h = self.handle_arg(g, Kind::Res);
        let (rw, rh) = self
            .find(h)
            .filter(|&i| self.hs[i].obj.kind == Kind::Res)
            .map_or((64, 64), |i| {
                (
                    self.ress[self.hs[i].obj.idx].w,
                    self.ress[self.hs[i].obj.idx].h,
                )
            });
        let (x, y, w, hh) = match g.below(6) {
            0 => (g.length(), g.length(), g.length(), g.length()),
            1 => (0, 0, rw, rh),
            2 => (
                g.below(rw + 1),
                g.below(rh + 1),
                g.below(rw + 2),
                g.below(rh + 2),
            ),
            _ => {
                let (x, y) = (g.below(rw), g.below(rh));
                (x, y, 1 + g.below(rw - x), 1 + g.below(rh - y))
            }
        };
        let want = match self.hcheck(h, Kind::Res, Rights::DEVICE.0) {
            Err(e) => Mask::err(e),
            Ok(i) => {
                let inside =
                    |s: u64, l: u64, m: u64| l > 0 && s.checked_add(l).is_some_and(|e| e <= m);
                let res = &self.ress[self.hs[i].obj.idx];
                let b = &self.bufs[res.buf];
                if !inside(x, w, res.w) || !inside(y, hh, res.h) {
                    Mask::err(Error::OutOfRange)
                } else if self.strict && b.start.is_some_and(|d| d & 8 != 0) {
                    Mask::err(Error::Busy)
                } else if self.strict && b.shared > 0 {
                    Mask::OK.or(Error::Busy)
                } else {
                    Mask::OK
                }
            }
        };
        let r = self.issue(Sys::GpuPresent as u64, [h, x, y, w, hh, 0], want)?;
        if r[0] == 0 {
            if r[1] == 0 || urt::abi::fence::device(r[1]) != urt::abi::fence::GPU {
                return Err(self.fail(
                    Sys::GpuPresent as u64,
                    [h, x, y, w, hh, 0],
                    r,
                    "present returned a fence that is not a GPU fence",
                ));
            }
            self.fence = self.fence.max(r[1]);
            let i = self.find(h).unwrap_or(0);
            let res = &self.ress[self.hs[i].obj.idx];
            let small = res.w < 16 || res.h < 16;
            if self.fences.len() >= 64 {
                self.fences.pop_front();
            }
            self.fences.push_back((r[1], small));
        }
        Ok(())
    }

    fn fence_wait(&mut self, g: &mut Rng) -> Result<(), Verdict> {
        let f = match g.below(6) {
            0 => 0,
            1 => g.next_u64() | 1 << 62,
            2 => urt::abi::fence::make(urt::abi::fence::BLK, 1 + g.below(4)),
            3 => self.fence + 1 + g.below(3),
            _ => self.fence.saturating_sub(g.below(3)),
        };
        let t = g.pick(&[
            0,
            0,
            1_000_000,
            1_000_000_000,
            urt::limits::MAX_TIMEOUT_NS,
            urt::limits::MAX_TIMEOUT_NS + 1,
            u64::MAX,
        ]);
        let want = if t > urt::limits::MAX_TIMEOUT_NS || f == 0 || f >> 56 != 0 {
            // Block fences are never issued without a disk (we hold no fence from it).
            if f >> 56 == urt::abi::fence::BLK && self.blk && t <= urt::limits::MAX_TIMEOUT_NS {
                Mask::NONE
            } else {
                Mask::err(Error::InvalidArgument)
            }
        } else if f <= self.fence {
            let base = if t < 1_000_000_000 {
                Mask::OK.or(Error::TimedOut)
            } else {
                Mask::OK
            };
            match self.fences.iter().find(|x| x.0 == f) {
                Some(&(_, false)) => base,
                // A small resource's, or a peer's (which may be one).
                _ => base.or(Error::DeviceError),
            }
        } else {
            // Maybe issued by a peer, maybe never issued.
            Mask::OK
                .or(Error::TimedOut)
                .or(Error::InvalidArgument)
                .or(Error::DeviceError)
        };
        if f > self.fence && t > 1_000_000_000 && f >> 56 == 0 {
            return Ok(()); // a fence nobody may ever issue must not be waited for long
        }
        self.issue(Sys::FenceWait as u64, [f, t, 0, 0, 0, 0], want)?;
        Ok(())
    }

    fn map_offset(&mut self, g: &mut Rng) -> Result<(), Verdict> {
        let h = self.handle_arg(g, Kind::Res);
        let want = match self.hcheck(h, Kind::Res, 0) {
            Err(e) => Mask::err(e),
            Ok(_) => Mask::OK,
        };
        let r = self.issue(Sys::GpuMapOffset as u64, [h, 0, 0, 0, 0, 0], want)?;
        if r[0] == 0 {
            let i = self.find(h).unwrap_or(0);
            if r[1] != self.ress[self.hs[i].obj.idx].off {
                return Err(self.fail(
                    Sys::GpuMapOffset as u64,
                    [h, 0, 0, 0, 0, 0],
                    r,
                    "map offset changed",
                ));
            }
        }
        Ok(())
    }

    /// The resource handle gpu_mmap would use for `offset`: the caller's first (lowest
    /// slot) resource handle whose range holds it.
    fn mmap_owner(&self, offset: u64) -> Option<usize> {
        (0..self.hs.len())
            .filter(|&i| {
                let h = &self.hs[i];
                h.obj.kind == Kind::Res && {
                    let r = &self.ress[h.obj.idx];
                    offset >= r.off && offset < r.off + self.bufs[r.buf].size
                }
            })
            .min_by_key(|&i| Handle(self.hs[i].v).slot())
    }

    fn gpu_mmap(&mut self, g: &mut Rng) -> Result<(), Verdict> {
        let res = self.of_kind(Kind::Res);
        let (offset, len) = if !res.is_empty() && g.chance(4, 5) {
            let r = &self.ress[self.hs[g.pick(&res)].obj.idx];
            let size = self.bufs[r.buf].size;
            let page = g.below(size / 4096 + 1);
            let off = r.off
                + page * 4096
                + if g.chance(1, 10) {
                    1 + g.below(4095)
                } else {
                    0
                };
            let len = match g.below(5) {
                0 => g.length(),
                1 => 0,
                _ => 1 + g.below(size - (page * 4096).min(size) + 8192),
            };
            (off, len)
        } else {
            let r = g.next_u64() & !4095;
            (g.pick(&[0, 4096, 1 << 40, !4095, r]), g.length())
        };
        let prot = if g.chance(1, 8) {
            g.pick(&[0, 4, u64::MAX])
        } else {
            1 + g.below(3)
        };
        let policy = if g.chance(1, 8) {
            g.pick(&[2, u64::MAX])
        } else {
            g.below(2)
        };
        let (direct, legacy) = self.mapping_count();
        let owner = self.mmap_owner(offset);
        let want = if !(1..=3).contains(&prot) || policy > 1 || len == 0 || offset % 4096 != 0 {
            Mask::err(Error::InvalidArgument)
        } else if let Some(i) = owner {
            let r = &self.ress[self.hs[i].obj.idx];
            let start = offset - r.off;
            let size = self.bufs[r.buf].size;
            let rights = self.hs[i].rights;
            let need = Rights::MAP_READ.0 | if prot == 1 { 0 } else { Rights::MAP_WRITE.0 };
            match len
                .checked_next_multiple_of(4096)
                .and_then(|l| start.checked_add(l))
            {
                Some(end) if end <= size => {
                    if rights & need != need {
                        Mask::err(Error::AccessDenied)
                    } else if direct + legacy >= 64 {
                        Mask::err(Error::TableFull)
                    } else {
                        Mask::OK.or(Error::NoMemory)
                    }
                }
                _ => Mask::err(Error::OutOfRange),
            }
        } else {
            Mask::err(Error::NotFound)
        };
        let a = [offset, len, prot, policy, 0, 0];
        let r = self.issue(Sys::GpuMmap as u64, a, want)?;
        if r[0] == 0 {
            let i = owner.unwrap_or(0);
            let b = self.ress[self.hs[i].obj.idx].buf;
            let l = len.next_multiple_of(4096);
            if self
                .maps
                .iter()
                .any(|m| r[1] < m.addr + m.len && r[1] + l > m.addr)
                || r[1] < urt::abi::USER_MAP_BASE
            {
                return Err(self.fail(
                    Sys::GpuMmap as u64,
                    a,
                    r,
                    "gpu_mmap returned an address over another mapping",
                ));
            }
            self.maps.push(MapM {
                addr: r[1],
                len: l,
                buf: b,
                writable: prot != 1,
                legacy: true,
            });
        }
        Ok(())
    }

    fn close(&mut self, g: &mut Rng) -> Result<(), Verdict> {
        let (v, idx) = if !self.hs.is_empty() && g.chance(3, 4) {
            let i = g.index(self.hs.len());
            (self.hs[i].v as u64, Some(i))
        } else {
            (self.garbage_handle(g), None)
        };
        let want = if idx.is_some() {
            Mask::OK
        } else {
            Mask::err(Error::BadHandle)
        };
        let r = self.issue(Sys::HandleClose as u64, [v, 0, 0, 0, 0, 0], want)?;
        if r[0] == 0 {
            if let Some(i) = idx {
                self.close_handle(i);
            }
        }
        Ok(())
    }

    fn dup(&mut self, g: &mut Rng) -> Result<(), Verdict> {
        let h = if !self.hs.is_empty() && g.chance(3, 4) {
            g.pick(&self.hs).v as u64
        } else {
            self.garbage_handle(g)
        };
        let rights = match g.below(8) {
            0 => g.next_u64(),
            1 => g.pick(&[0x100, 0x1ff, 1 << 31, 1 << 32, 1 << 32 | 1, u64::MAX]),
            2 => 0,
            _ => g.below(0x100),
        };
        let want = match self.find(h) {
            None => Mask::err(Error::BadHandle),
            Some(_) if rights > 0xff => Mask::err(Error::InvalidArgument),
            Some(i)
                if self.hs[i].rights & Rights::SHARE.0 == 0
                    || rights as u32 & !self.hs[i].rights != 0 =>
            {
                Mask::err(Error::AccessDenied)
            }
            Some(_) if self.free_slots() == 0 => Mask::err(Error::TableFull),
            Some(_) => Mask::OK,
        };
        let a = [h, rights, 0, 0, 0, 0];
        let r = self.issue(Sys::HandleDup as u64, a, want)?;
        if r[0] == 0 {
            let obj = self.hs[self.find(h).unwrap_or(0)].obj;
            if let Err(why) = self.add_handle(r[1], obj, rights as u32) {
                return Err(self.fail(Sys::HandleDup as u64, a, r, why));
            }
        }
        Ok(())
    }

    fn info(&mut self, g: &mut Rng) -> Result<(), Verdict> {
        let buffer = g.chance(1, 3);
        let h = if !self.hs.is_empty() && g.chance(4, 5) {
            g.pick(&self.hs).v as u64
        } else {
            self.garbage_handle(g)
        };
        if buffer {
            let want = match self.hcheck(h, Kind::Buf, 0) {
                Err(e) => Mask::err(e),
                Ok(_) => Mask::OK,
            };
            let r = self.issue(Sys::BufferInfo as u64, [h, 0, 0, 0, 0, 0], want)?;
            if r[0] == 0 {
                let b = &self.bufs[self.hs[self.find(h).unwrap_or(0)].obj.idx];
                if r[1] != b.size || r[2] != b.policy | b.kid << 32 {
                    return Err(self.fail(
                        Sys::BufferInfo as u64,
                        [h, 0, 0, 0, 0, 0],
                        r,
                        "buffer_info differs from the model",
                    ));
                }
            }
        } else {
            let want = if self.find(h).is_some() {
                Mask::OK
            } else {
                Mask::err(Error::BadHandle)
            };
            let r = self.issue(Sys::HandleInfo as u64, [h, 0, 0, 0, 0, 0], want)?;
            if r[0] == 0 {
                let x = self.hs[self.find(h).unwrap_or(0)];
                if r[1] != x.obj.kind.abi() || r[2] != x.rights as u64 {
                    return Err(self.fail(
                        Sys::HandleInfo as u64,
                        [h, 0, 0, 0, 0, 0],
                        r,
                        "handle_info kind or rights differ from the model",
                    ));
                }
            }
        }
        Ok(())
    }

    fn channel_create(&mut self, g: &mut Rng) -> Result<(), Verdict> {
        let want = if self.free_slots() < 2 {
            Mask::err(Error::TableFull)
        } else {
            Mask::OK.or(Error::NoMemory)
        };
        let r = self.issue(Sys::ChannelCreate as u64, [0; 6], want)?;
        if r[0] == 0 {
            let x = Chan {
                refs: [0, 0],
                carrier: g.chance(1, 2),
                q: [VecDeque::new(), VecDeque::new()],
            };
            let c = self.slot_of(2, self.chans.len());
            if c == self.chans.len() {
                self.chans.push(x);
            } else {
                self.chans[c] = x;
            }
            let rights = Rights::SEND.0 | Rights::RECV.0 | Rights::SHARE.0;
            for e in 0..2 {
                if let Err(why) = self.add_handle(
                    r[1 + e],
                    ObjRef {
                        kind: Kind::Chan,
                        idx: 2 * c + e,
                    },
                    rights,
                ) {
                    return Err(self.fail(Sys::ChannelCreate as u64, [0; 6], r, why));
                }
            }
        }
        Ok(())
    }

    fn send(&mut self, g: &mut Rng) -> Result<(), Verdict> {
        let h = self.handle_arg(g, Kind::Chan);
        let blen = match g.below(6) {
            0 => g.length(),
            1 => 257,
            _ => g.below(257),
        };
        let (bptr, breadable) = if g.chance(4, 5) {
            (scratch() + g.below(4096), Some(true))
        } else {
            self.rptr(g, blen)
        };
        let carrier = self
            .find(h)
            .filter(|&i| self.hs[i].obj.kind == Kind::Chan)
            .map(|i| self.chans[self.hs[i].obj.idx / 2].carrier);
        // The handle array, written into scratch from the model (or garbage).
        let mut vals: Vec<u32> = Vec::new();
        let nh = match g.below(8) {
            0 => g.length(),
            1 => 9,
            2..=4 if carrier == Some(true) => 1 + g.below(3),
            _ => 0,
        };
        let hptr_at = RECV_HANDLES + 1024;
        let (hptr, hreadable) = if nh <= 8 && g.chance(5, 6) {
            for _ in 0..nh {
                let v = match g.below(10) {
                    0 => self.garbage_handle(g) as u32,
                    1 if !vals.is_empty() => g.pick(&vals),
                    2 => h as u32,
                    _ if !self.hs.is_empty() => g.pick(&self.hs).v,
                    _ => 0,
                };
                vals.push(v);
            }
            put_u32s(scratch() + hptr_at, &vals);
            let misalign = if g.chance(1, 12) { 2 } else { 0 };
            (scratch() + hptr_at + misalign, Some(misalign == 0))
        } else {
            self.rptr(g, nh.saturating_mul(4))
        };
        let a = [h, bptr, blen, hptr, nh, 0];
        let mut want = Mask::NONE;
        let mut plan: Option<(usize, usize, Vec<usize>)> = None;
        match self.hcheck(h, Kind::Chan, Rights::SEND.0) {
            Err(e) => want = Mask::err(e),
            Ok(_) if blen > 256 || nh > 8 => want = Mask::err(Error::TooLarge),
            Ok(i) => {
                let hr = if nh == 0 {
                    Some(true)
                } else if hptr % 4 != 0 {
                    Some(false)
                } else {
                    hreadable
                };
                match (breadable, hr) {
                    (Some(false), _) => want = Mask::err(Error::BadAddress),
                    (Some(true), Some(false)) => want = Mask::err(Error::BadAddress),
                    (Some(true), Some(true))
                        if hptr >= scratch() && hptr < scratch() + SCRATCH_SIZE as u64
                            || nh == 0 =>
                    {
                        // Per passed handle in order: BadHandle, AccessDenied, twice.
                        let vals: Vec<u32> = (0..nh).map(|k| get_u32(hptr + 4 * k)).collect();
                        let mut moved = Vec::new();
                        let me = self.hs[i].obj;
                        for (k, &v) in vals.iter().enumerate() {
                            match self.find(v as u64) {
                                None => {
                                    want = Mask::err(Error::BadHandle);
                                    break;
                                }
                                Some(j) if self.hs[j].rights & Rights::SHARE.0 == 0 => {
                                    want = Mask::err(Error::AccessDenied);
                                    break;
                                }
                                Some(_) if vals[..k].contains(&v) => {
                                    want = Mask::err(Error::InvalidArgument);
                                    break;
                                }
                                Some(j) => moved.push(j),
                            }
                        }
                        // The cycle rule, per passed handle in order: no end of this
                        // channel (InvalidArgument), no end with a channel end queued
                        // for it (Busy).
                        let c = me.idx / 2;
                        if want == Mask::NONE {
                            for &j in &moved {
                                let o = self.hs[j].obj;
                                if o.kind != Kind::Chan {
                                    continue;
                                }
                                if o.idx / 2 == c {
                                    want = Mask::err(Error::InvalidArgument);
                                    break;
                                }
                                let carries_ends = self.chans[o.idx / 2].q[o.idx % 2]
                                    .iter()
                                    .any(|m| m.hs.iter().any(|(r, _)| r.kind == Kind::Chan));
                                if carries_ends {
                                    want = Mask::err(Error::Busy);
                                    break;
                                }
                            }
                        }
                        if want == Mask::NONE {
                            let peer_end = (me.idx % 2) ^ 1;
                            if self.chans[c].refs[peer_end] == 0 {
                                want = Mask::err(Error::PeerClosed);
                            } else if self.chans[c].q[peer_end].len() >= 16 {
                                want = Mask::err(Error::QueueFull);
                            } else if moved.iter().any(|&j| {
                                let o = self.hs[j].obj;
                                // Never put a channel in a carrier it could end up in,
                                // nor carry a carrier (no cycles of queued ends).
                                o.kind == Kind::Chan
                                    && (self.chans[o.idx / 2].carrier || o.idx / 2 == c)
                            }) || (!self.chans[c].carrier && !moved.is_empty())
                            {
                                return Ok(()); // legal, but the model keeps no cycles
                            } else {
                                want = Mask::OK;
                                plan = Some((c, peer_end, moved));
                            }
                        }
                    }
                    _ => {
                        // Memory the model cannot judge (it overlaps a mapping, or a
                        // legacy page not faulted in yet): no handles then, and the
                        // result is as for readable bytes, or BadAddress.
                        if nh > 0 {
                            return Ok(());
                        }
                        let me = self.hs[i].obj;
                        let (c, peer_end) = (me.idx / 2, (me.idx % 2) ^ 1);
                        want = if self.chans[c].refs[peer_end] == 0 {
                            Mask::err(Error::PeerClosed)
                        } else if self.chans[c].q[peer_end].len() >= 16 {
                            Mask::err(Error::QueueFull)
                        } else {
                            plan = Some((c, peer_end, Vec::new()));
                            Mask::OK
                        }
                        .or(Error::BadAddress);
                    }
                }
            }
        }
        let r = self.issue(Sys::ChannelSend as u64, a, want)?;
        if r[0] == 0 {
            let Some((c, end, mut moved)) = plan else {
                return Err(self.fail(
                    Sys::ChannelSend as u64,
                    a,
                    r,
                    "send succeeded where the model cannot follow it",
                ));
            };
            // The message holds the handles in the order passed; each keeps its
            // reference to its object (now the message's).
            let hs: Vec<(ObjRef, u32)> = moved
                .iter()
                .map(|&j| (self.hs[j].obj, self.hs[j].rights))
                .collect();
            moved.sort_unstable();
            for &j in moved.iter().rev() {
                let h = self.remove_handle(j);
                // Moving the last handle of a buffer away ends this task's START on it,
                // as closing it would (SYSCALLS.md, "Buffers").
                if h.obj.kind == Kind::Buf
                    && !self
                        .hs
                        .iter()
                        .any(|o| o.obj.kind == Kind::Buf && o.obj.idx == h.obj.idx)
                {
                    self.bufs[h.obj.idx].start = None;
                }
            }
            self.chans[c].q[end].push_back(Msg {
                len: blen as usize,
                hs,
            });
        }
        Ok(())
    }

    fn recv(&mut self, g: &mut Rng) -> Result<(), Verdict> {
        let h = self.handle_arg(g, Kind::Chan);
        let blen = match g.below(5) {
            0 => g.length(),
            1 => g.below(64),
            _ => 256,
        };
        let hlen = match g.below(5) {
            0 => g.length(),
            1 => g.below(3),
            _ => 8,
        };
        let (bptr, bw) = if blen <= 256 {
            self.wptr(g, RECV_BYTES, blen)
        } else {
            self.rptr(g, blen)
        };
        let bw = if blen > 256
            && bw == Some(true)
            && bptr >= RODATA.as_ptr() as u64
            && bptr < RODATA.as_ptr() as u64 + 4096
        {
            Some(false)
        } else {
            bw
        };
        let (hptr, hw) = if hlen <= 8 {
            self.wptr(g, RECV_HANDLES, hlen * 4)
        } else {
            self.rptr(g, hlen.saturating_mul(4))
        };
        let hptr = if g.chance(1, 12) { hptr + 2 } else { hptr };
        let hw = if hlen > 8
            && hw == Some(true)
            && hptr >= RODATA.as_ptr() as u64
            && hptr < RODATA.as_ptr() as u64 + 4096
        {
            Some(false)
        } else {
            hw
        };
        // A long range that starts in scratch or rodata may run into memory we cannot
        // judge; over-long receive buffers are only tried at refused addresses.
        if (blen > 256 && bw != Some(false))
            || (hlen > 8 && hw != Some(false) && hlen.checked_mul(4).is_some())
        {
            return Ok(());
        }
        let a = [h, bptr, blen, hptr, hlen, 0];
        let mut head: Option<(usize, usize)> = None;
        let want = match self.hcheck(h, Kind::Chan, Rights::RECV.0) {
            Err(e) => Mask::err(e),
            Ok(_)
                if bw == Some(false)
                    || (hlen > 0
                        && (hw == Some(false)
                            || hptr % 4 != 0
                            || hlen.checked_mul(4).is_none())) =>
            {
                Mask::err(Error::BadAddress)
            }
            Ok(i) => {
                let o = self.hs[i].obj;
                let (c, e) = (o.idx / 2, o.idx % 2);
                match self.chans[c].q[e].front() {
                    None if self.chans[c].refs[e ^ 1] == 0 => Mask::err(Error::PeerClosed),
                    None => return Ok(()), // would block: the other end is open
                    Some(m) => {
                        head = Some((c, e));
                        if m.len as u64 > blen || m.hs.len() as u64 > hlen {
                            Mask::err(Error::BufferTooSmall)
                        } else if self.free_slots() < m.hs.len() {
                            Mask::err(Error::TableFull)
                        } else {
                            Mask::OK
                        }
                    }
                }
            }
        };
        let r = self.issue(Sys::ChannelRecv as u64, a, want)?;
        if let Some((c, e)) = head {
            let (len, n) = {
                let m = &self.chans[c].q[e][0];
                (m.len as u64, m.hs.len() as u64)
            };
            if (r[0] == 0 || r[0] == Error::BufferTooSmall as u64) && (r[1], r[2]) != (len, n) {
                return Err(self.fail(
                    Sys::ChannelRecv as u64,
                    a,
                    r,
                    "received (or reported) sizes differ from the message sent",
                ));
            }
            if r[0] == 0 {
                let m = self.chans[c].q[e].pop_front().unwrap_or(Msg {
                    len: 0,
                    hs: Vec::new(),
                });
                for (k, (obj, rights)) in m.hs.into_iter().enumerate() {
                    let v = get_u32(hptr + 4 * k as u64) as u64;
                    // The message's reference becomes the new handle's (added before
                    // the message's is dropped, so the count never passes through 0).
                    if let Err(why) = self.add_handle(v, obj, rights) {
                        return Err(self.fail(Sys::ChannelRecv as u64, a, r, why));
                    }
                    self.drop_ref(obj);
                    let info = self.issue(Sys::HandleInfo as u64, [v, 0, 0, 0, 0, 0], Mask::OK)?;
                    if info[1] != obj.kind.abi() || info[2] != rights as u64 {
                        return Err(self.fail(
                            Sys::HandleInfo as u64,
                            [v, 0, 0, 0, 0, 0],
                            info,
                            "a received handle's kind or rights differ from what was sent",
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Give a peer up to three buffers/resources (duplicates with random rights) and
    /// a report channel.
    fn spawn_peer(&mut self, g: &mut Rng) -> Result<(), Verdict> {
        if self.peers >= MAX_PEERS || self.free_slots() < 8 {
            return Ok(());
        }
        let cands: Vec<usize> = (0..self.hs.len())
            .filter(|&i| {
                matches!(self.hs[i].obj.kind, Kind::Buf | Kind::Res)
                    && self.hs[i].rights & Rights::SHARE.0 != 0
            })
            .collect();
        if cands.is_empty() {
            return Ok(());
        }
        let mut words = [0u64; 14];
        words[0] = g.next_u64();
        words[1] = 20 + g.below(200);
        let mut passed: Vec<u32> = Vec::new();
        let mut objs: Vec<ObjRef> = Vec::new();
        for k in 0..1 + g.index(3) {
            let i = g.pick(&cands);
            let src = self.hs[i];
            if objs.contains(&src.obj) {
                continue;
            }
            // A duplicate with random rights (within the source's).
            let rights = src.rights & (g.next_u64() as u32 | Rights::SHARE.0) & 0xff;
            let a = [src.v as u64, rights as u64, 0, 0, 0, 0];
            let r = self.issue(Sys::HandleDup as u64, a, Mask::OK)?;
            if let Err(why) = self.add_handle(r[1], src.obj, rights) {
                return Err(self.fail(Sys::HandleDup as u64, a, r, why));
            }
            passed.push(r[1] as u32);
            objs.push(src.obj);
            let b = self.buf_of(src.obj).unwrap_or(0);
            let (a2, b2) = match src.obj.kind {
                Kind::Buf => (self.bufs[b].size, self.bufs[b].policy),
                _ => (self.ress[src.obj.idx].w, self.ress[src.obj.idx].h),
            };
            words[2 + 4 * k] = src.obj.kind.abi();
            words[3 + 4 * k] = b as u64;
            words[4 + 4 * k] = a2;
            words[5 + 4 * k] = b2;
        }
        // Compact the words to the handles actually passed.
        let r = self.issue(Sys::ChannelCreate as u64, [0; 6], Mask::OK)?;
        let (mine, theirs) = (r[1] as u32, r[2] as u32);
        self.reserved.push(mine);
        self.reserved.push(theirs);
        let mut order = vec![theirs];
        order.extend_from_slice(&passed);
        let mut packed = [0u64; 14];
        packed[0] = words[0];
        packed[1] = words[1];
        let mut k2 = 0;
        for k in 0..3 {
            if words[2 + 4 * k] != 0 {
                packed[2 + 4 * k2..6 + 4 * k2].copy_from_slice(&words[2 + 4 * k..6 + 4 * k]);
                k2 += 1;
            }
        }
        if send_words(Handle(mine), &packed).is_err() {
            return Err(self.fail(
                Sys::ChannelSend as u64,
                [mine as u64, 0, 0, 0, 0, 0],
                [0; 3],
                "sending a peer its orders failed",
            ));
        }
        let name = b"fuzz_peer";
        let nptr = scratch() + 2048;
        for (k, &c) in name.iter().enumerate() {
            // SAFETY: inside SCRATCH.
            unsafe { ((nptr + k as u64) as *mut u8).write_volatile(c) };
        }
        let hptr = scratch() + 3072;
        put_u32s(hptr, &order);
        let a = [nptr, name.len() as u64, hptr, order.len() as u64, 0, 0];
        let want = if self.free_slots() + order.len() < 1 {
            Mask::err(Error::TableFull)
        } else {
            Mask::OK.or(Error::NoMemory)
        };
        let r = self.issue(Sys::Spawn as u64, a, want)?;
        if r[0] != 0 {
            self.reserved.retain(|&x| x != theirs);
            let _ = urt::handle_close(Handle(theirs));
            self.reserved.retain(|&x| x != mine);
            let _ = urt::handle_close(Handle(mine));
            return Ok(());
        }
        self.reserved.retain(|&x| x != theirs);
        for v in passed {
            let i = self.find(v as u64).unwrap_or(0);
            let obj = self.hs[i].obj;
            self.remove_handle(i);
            // The peer holds it now: the buffer lives (and may be held for write).
            if let Some(b) = self.buf_of(obj) {
                self.bufs[b].shared += 1;
            }
            self.drop_ref(obj);
        }
        // `shared` counts every buffer it holds alive (and may hold for write); they
        // are released when it has ended.
        let mut held = [None; 3];
        for (k, o) in objs.iter().enumerate() {
            held[k] = self.buf_of(*o);
        }
        let x = TaskObj {
            state: TaskState::Peer {
                report: mine,
                bufs: held,
            },
            refs: 0,
        };
        let idx = self.slot_of(3, self.tasks.len());
        if idx == self.tasks.len() {
            self.tasks.push(x);
        } else {
            self.tasks[idx] = x;
        }
        self.peers += 1;
        let obj = ObjRef {
            kind: Kind::Task,
            idx,
        };
        if let Err(why) = self.add_handle(r[1], obj, Rights::WAIT.0 | Rights::SHARE.0) {
            return Err(self.fail(Sys::Spawn as u64, a, r, why));
        }
        Ok(())
    }

    /// Collect a peer's report (blocks until it has finished: it always does).
    fn reap_peer(&mut self, t: usize) -> Result<(), Verdict> {
        let TaskState::Peer { report, bufs } = self.tasks[t].state else {
            return Ok(());
        };
        let mut w = [0u64; peer::REPORT_WORDS];
        let got = fuzz::recv_words(Handle(report), &mut w);
        let _ = urt::handle_close(Handle(report));
        self.reserved.retain(|&x| x != report);
        self.peers -= 1;
        // The peer's status: wait on it only through a task handle if we have one.
        let code = match got {
            Ok(n) if n == peer::REPORT_WORDS && w[0] == 0 => 0,
            Ok(n) if n == peer::REPORT_WORDS => {
                let v = Violation {
                    call: w[1],
                    num: w[2],
                    args: [w[3], w[4], w[5], w[6], w[7], w[8]],
                    got: [w[9], w[10], w[11]],
                    want: Mask::NONE,
                    why: "in a fuzz_peer (see its VIOLATION line)",
                };
                if let Verdict::Stop = self.violation(v) {
                    return Err(Verdict::Stop);
                }
                1
            }
            other => {
                urt::println!("fuzz: peer report: {:?}", other);
                // Settled either way: never reap it again.
                self.tasks[t].state = TaskState::Ended(u64::MAX, 1);
                return Err(self.fail(
                    Sys::ChannelRecv as u64,
                    [report as u64, 0, 0, 0, 0, 0],
                    [0; 3],
                    "a peer ended without its report",
                ));
            }
        };
        // It has sent its report and exits right after; its buffers stay held until
        // then, which `wait` settles (if we still can) — otherwise keep them shared.
        let handle = self.hs.iter().position(|h| {
            h.obj
                == ObjRef {
                    kind: Kind::Task,
                    idx: t,
                }
                && h.rights & Rights::WAIT.0 != 0
        });
        if let Some(i) = handle {
            let v = self.hs[i].v as u64;
            let r = self.issue(Sys::Wait as u64, [v, 0, 0, 0, 0, 0], Mask::OK)?;
            if (r[1], r[2]) != (code, 0) {
                return Err(self.fail(
                    Sys::Wait as u64,
                    [v, 0, 0, 0, 0, 0],
                    r,
                    "a peer ended otherwise than it reported",
                ));
            }
            self.tasks[t].state = TaskState::Ended(code, 0);
            for b in bufs.into_iter().flatten() {
                self.bufs[b].shared -= 1;
                self.buf_maybe_gone(b);
            }
        } else {
            // No way to know when it is gone: its buffers stay "shared" (Busy allowed).
            self.tasks[t].state = TaskState::Ended(code, 0);
        }
        if self.tasks[t].refs == 0 {
            self.free[3].push(t);
        }
        Ok(())
    }

    fn spawn_victim(&mut self, g: &mut Rng) -> Result<(), Verdict> {
        if self.free_slots() < 8 {
            return Ok(());
        }
        let mode = 1 + g.below(victim::MODES);
        let (nb, nr) = victim::needs(mode);
        let pick = |w: &W, g: &mut Rng, k: Kind, need: u32| -> Option<usize> {
            let c: Vec<usize> = (0..w.hs.len())
                .filter(|&i| w.hs[i].obj.kind == k && w.hs[i].rights & need == need)
                .collect();
            (!c.is_empty()).then(|| g.pick(&c))
        };
        let share = Rights::SHARE.0 | Rights::MAP_READ.0 | Rights::MAP_WRITE.0;
        let b = if nb || mode == victim::GARBAGE_EXIT {
            pick(self, g, Kind::Buf, share)
        } else {
            None
        };
        let rr = if nr || mode == victim::GARBAGE_EXIT {
            pick(self, g, Kind::Res, share)
        } else {
            None
        };
        if (nb && b.is_none()) || (nr && rr.is_none()) {
            return Ok(());
        }
        let mut passed = [0u32; 2];
        let mut objs = Vec::new();
        for (k, src) in [b, rr].into_iter().enumerate() {
            let Some(i) = src else { continue };
            let s = self.hs[i];
            let rights = s.rights;
            let a = [s.v as u64, rights as u64, 0, 0, 0, 0];
            let r = self.issue(Sys::HandleDup as u64, a, Mask::OK)?;
            if let Err(why) = self.add_handle(r[1], s.obj, rights) {
                return Err(self.fail(Sys::HandleDup as u64, a, r, why));
            }
            passed[k] = r[1] as u32;
            objs.push(s.obj);
        }
        let r = self.issue(Sys::ChannelCreate as u64, [0; 6], Mask::OK)?;
        let (mine, theirs) = (Handle(r[1] as u32), Handle(r[2] as u32));
        let seed = g.next_u64();
        let _ = send_words(mine, &[mode, seed]);
        let mut hs = vec![theirs];
        // Handle slots 1 and 2 are buffer and resource; a missing one is passed as a
        // duplicate of the channel end (the victim ignores it by position).
        let extra = [passed[0], passed[1]];
        let mut dummies = Vec::new();
        for v in extra {
            if v != 0 {
                hs.push(Handle(v));
            } else {
                let d = urt::handle_dup(theirs, Rights::SHARE).unwrap_or(Handle(0));
                dummies.push(d);
                hs.push(d);
            }
        }
        // The victim treats a channel duplicate in slot 1/2 as absent: it only maps or
        // syncs what its mode needs, and modes that need one always get a real one.
        let task = match urt::spawn("fuzz_victim", &hs) {
            Ok(t) => t,
            Err(e) => {
                urt::println!("fuzz: spawn fuzz_victim: {e:?}");
                return Err(self.fail(
                    Sys::Spawn as u64,
                    [0; 6],
                    [e as u64, 0, 0],
                    "spawning a victim failed",
                ));
            }
        };
        for v in passed.into_iter().filter(|&v| v != 0) {
            let i = self.find(v as u64).unwrap_or(0);
            let obj = self.hs[i].obj;
            self.remove_handle(i);
            self.drop_ref(obj);
        }
        let got = urt::wait(task);
        let _ = urt::handle_close(task);
        let _ = urt::handle_close(mine);
        let (code, how) = match got {
            Ok((c, h)) => (c, h as u64),
            Err(e) => (e as u64, 99),
        };
        let want = match victim::expected_ec(mode) {
            Some(ec) => (ec, 1),
            None => (victim::GARBAGE_EXIT_CODE, 0),
        };
        let sp_unchecked =
            mode == victim::MISALIGNED_SP && (code, how) == (victim::SP_UNCHECKED, 0);
        if (code, how) != want && !sp_unchecked {
            urt::println!(
                "fuzz: victim mode {} ended (code {:#x}, how {}), expected (code {:#x}, how {})",
                mode,
                code,
                how,
                want.0,
                want.1
            );
            return Err(self.fail(
                Sys::Wait as u64,
                [task.0 as u64, mode, 0, 0, 0, 0],
                [0, code, how],
                "a victim task ended otherwise than its mode says",
            ));
        }
        Ok(())
    }

    fn spawn_bad(&mut self, g: &mut Rng) -> Result<(), Verdict> {
        let names: [&[u8]; 6] = [
            b"fuzz_nonexistent",
            b"",
            b"\xff\xfe",
            b"fuzz_peer\0",
            b"FUZZ_PEER",
            &[b'x'; 65],
        ];
        let name = g.pick(&names);
        let nptr = scratch() + 2048;
        for (k, &c) in name.iter().enumerate() {
            // SAFETY: inside SCRATCH.
            unsafe { ((nptr + k as u64) as *mut u8).write_volatile(c) };
        }
        let (nptr, nlen, nreadable) = match g.below(6) {
            0 => {
                let l = g.length();
                let (p, rd) = self.rptr(g, l);
                (p, l, rd)
            }
            _ => (nptr, name.len() as u64, Some(true)),
        };
        let nh = match g.below(6) {
            0 => g.length(),
            1 => 5,
            _ => g.below(5),
        };
        let hptr = scratch() + 3072;
        let mut vals = Vec::new();
        for _ in 0..nh.min(4) {
            vals.push(match g.below(5) {
                0 => self.garbage_handle(g) as u32,
                1 if !vals.is_empty() => g.pick(&vals),
                _ if !self.hs.is_empty() => g.pick(&self.hs).v,
                _ => 0,
            });
        }
        put_u32s(hptr, &vals);
        let (hptr, hreadable) = if g.chance(1, 8) {
            self.rptr(g, nh.saturating_mul(4))
        } else {
            (hptr, Some(true))
        };
        let want = if nlen == 0 {
            Mask::err(Error::InvalidArgument)
        } else if nlen > 64 || nh > 4 {
            Mask::err(Error::TooLarge)
        } else if nreadable != Some(true) {
            if nreadable.is_none() {
                return Ok(());
            }
            Mask::err(Error::BadAddress)
        } else if nh > 0 && (hptr % 4 != 0 || hreadable == Some(false)) {
            Mask::err(Error::BadAddress)
        } else if nh > 0
            && (hreadable.is_none()
                || !(hptr >= scratch() && hptr < scratch() + SCRATCH_SIZE as u64))
        {
            return Ok(());
        } else {
            let vals: Vec<u32> = (0..nh).map(|k| get_u32(hptr + 4 * k)).collect();
            let mut m = Mask::NONE;
            for (k, &v) in vals.iter().enumerate() {
                match self.find(v as u64) {
                    None => {
                        m = Mask::err(Error::BadHandle);
                        break;
                    }
                    Some(j) if self.hs[j].rights & Rights::SHARE.0 == 0 => {
                        m = Mask::err(Error::AccessDenied);
                        break;
                    }
                    Some(_) if vals[..k].contains(&v) => {
                        m = Mask::err(Error::InvalidArgument);
                        break;
                    }
                    Some(_) => {}
                }
            }
            if m != Mask::NONE {
                m
            } else {
                // Read the name back exactly as the kernel will see it.
                let mut nb = [0u8; 64];
                for (k, b) in nb.iter_mut().enumerate().take(nlen as usize) {
                    // SAFETY: readable per the model (scratch or rodata).
                    *b = unsafe { ((nptr + k as u64) as *const u8).read_volatile() };
                }
                let n = &nb[..nlen as usize];
                if n == b"fuzz_peer" || n == b"fuzz_victim" || n == b"fuzz_worker" || n == b"fuzz" {
                    return Ok(()); // a real program: not for garbage
                }
                if self.free_slots() + (nh as usize) < 1 {
                    Mask::err(Error::TableFull)
                } else {
                    Mask::err(Error::NotFound)
                }
            }
        };
        self.issue(Sys::Spawn as u64, [nptr, nlen, hptr, nh, 0, 0], want)?;
        Ok(())
    }

    fn wait(&mut self, g: &mut Rng) -> Result<(), Verdict> {
        let h = self.handle_arg(g, Kind::Task);
        let want = match self.hcheck(h, Kind::Task, Rights::WAIT.0) {
            Err(e) => Mask::err(e),
            Ok(i) => {
                let t = self.hs[i].obj.idx;
                if let TaskState::Peer { .. } = self.tasks[t].state {
                    // Waiting on a running peer: collect its report (blocks until done).
                    return self.reap_peer(t);
                }
                Mask::OK
            }
        };
        let r = self.issue(Sys::Wait as u64, [h, 0, 0, 0, 0, 0], want)?;
        if r[0] == 0 {
            let t = self.hs[self.find(h).unwrap_or(0)].obj.idx;
            if let TaskState::Ended(c, how) = self.tasks[t].state {
                if (r[1], r[2]) != (c, how) {
                    return Err(self.fail(
                        Sys::Wait as u64,
                        [h, 0, 0, 0, 0, 0],
                        r,
                        "wait on an ended task changed its answer",
                    ));
                }
            }
        }
        Ok(())
    }

    fn garbage(&mut self, g: &mut Rng) -> Result<(), Verdict> {
        // Any number, garbage arguments that cannot name our handles, refused or
        // scratch pointers: only the documented set is checked (and UnknownSyscall for
        // numbers SYSCALLS.md does not define).
        let num = match g.below(20) {
            0 => fuzz::LAST_SYSCALL + 1 + g.below(1000),
            1 => g.next_u64() | 1 << 40,
            2 => 1 << 32 | (1 + g.below(fuzz::LAST_SYSCALL)),
            _ => 1 + g.below(fuzz::LAST_SYSCALL),
        };
        let mut a = [0u64; 6];
        for v in a.iter_mut() {
            *v = match g.below(4) {
                0 => self.garbage_handle(g),
                1 => g.length(),
                2 => self.rptr(g, 0).0,
                _ => g.next_u64(),
            };
        }
        let avoid = |w: &W, v: u64| w.not_ours(v);
        for v in a.iter_mut() {
            *v = avoid(self, *v);
        }
        let want = match Sys::try_from(num) {
            Err(_) => Mask::err(Error::UnknownSyscall),
            Ok(s) => match s {
                Sys::Exit
                | Sys::ThreadExit
                | Sys::ThreadCreate
                | Sys::Yield
                | Sys::Cycles
                | Sys::Stats
                | Sys::GpuDisplayInfo => return Ok(()),
                Sys::Log => {
                    a[1] = if g.chance(1, 2) {
                        0
                    } else {
                        4097 + g.below(1 << 20)
                    };
                    Mask::NONE
                }
                Sys::Sleep => {
                    a[0] = 1_000_000_000_001 + g.below(u64::MAX - 1_000_000_000_001);
                    Mask::err(Error::InvalidArgument)
                }
                Sys::Spawn => {
                    if (1..=64).contains(&a[1]) {
                        a[1] = 65 + g.below(100);
                    }
                    Mask::NONE
                }
                Sys::Trace => {
                    a[0] = g.below(3);
                    a[1] = scratch() + TRACE_AT;
                    a[2] = g.below(TRACE_CAP + 1);
                    if a[0] > 1 {
                        Mask::err(Error::InvalidArgument)
                    } else {
                        Mask::OK.or(Error::NotSupported)
                    }
                }
                Sys::Counters => {
                    let (p, ok) = self.wptr(g, TRACE_AT, 64);
                    a[0] = p;
                    if ok == Some(true) {
                        Mask::OK
                    } else {
                        Mask::err(Error::BadAddress)
                    }
                }
                Sys::ChannelRecv
                | Sys::ChannelSend
                | Sys::Wait
                | Sys::HandleClose
                | Sys::HandleDup
                | Sys::HandleInfo
                | Sys::BufferMap
                | Sys::BufferSync
                | Sys::BufferSyncRect
                | Sys::BufferInfo
                | Sys::GpuImport
                | Sys::GpuPresent
                | Sys::GpuMapOffset
                | Sys::BenchDcLoop
                | Sys::BlkRead => {
                    // The handle is garbage: BadHandle first (after NotSupported for
                    // device calls without the device).
                    match s {
                        Sys::GpuImport if self.gpu.is_none() => Mask::err(Error::NotSupported),
                        Sys::BlkRead if !self.blk => Mask::err(Error::NotSupported),
                        Sys::BenchDcLoop => Mask::err(Error::BadHandle).or(Error::NotSupported),
                        _ => Mask::err(Error::BadHandle),
                    }
                }
                Sys::BufferUnmap => {
                    if self.maps.iter().any(|m| m.addr == a[0]) {
                        return Ok(());
                    }
                    Mask::err(Error::InvalidArgument)
                }
                Sys::GpuMmap => {
                    // Could name one of our resources: left to the modelled gpu_mmap.
                    if self.mmap_owner(a[0]).is_some() {
                        return Ok(());
                    }
                    Mask::NONE
                }
                Sys::BufferCreate | Sys::ChannelCreate => {
                    // Could succeed: give it an argument that cannot.
                    if s == Sys::ChannelCreate {
                        return Ok(());
                    }
                    if a[1] <= 1 && a[0] != 0 && a[0] <= urt::limits::MAX_BUFFER {
                        a[1] = 2 + g.below(100);
                    }
                    Mask::NONE
                }
                Sys::FenceWait => {
                    if a[1] <= urt::limits::MAX_TIMEOUT_NS && a[0] > self.fence && a[0] >> 56 == 0 {
                        a[1] = 0;
                    }
                    Mask::NONE
                }
                _ => Mask::NONE,
            },
        };
        let r = self.issue(num, a, want)?;
        if r[0] == 0 && Sys::try_from(num).is_ok_and(|s| s == Sys::GpuMmap) {
            // A mapping of someone's resource we do not own cannot happen (NotFound);
            // should it, drop it so nothing can touch it.
            // SAFETY: nothing references a mapping made by garbage.
            let _ = unsafe { urt::buffer_unmap(r[1] as *mut u8) };
            return Err(self.fail(num, a, r, "garbage gpu_mmap mapped something"));
        }
        Ok(())
    }

    fn misc(&mut self, g: &mut Rng) -> Result<(), Verdict> {
        match g.below(12) {
            0 => {
                self.issue(Sys::Yield as u64, [g.next_u64(); 6], Mask::OK)?;
            }
            1 => {
                self.issue(Sys::Cycles as u64, [g.next_u64(); 6], Mask::OK)?;
            }
            2 => {
                let stats = urt::Stat::ALL.len() as u64;
                let what = if g.chance(1, 3) {
                    g.length()
                } else {
                    g.below(stats)
                };
                let want = if what < stats {
                    Mask::OK
                } else {
                    Mask::err(Error::InvalidArgument)
                };
                self.issue(Sys::Stats as u64, [what, 0, 0, 0, 0, 0], want)?;
                // Quotas: every resource answers (used, limit), used never past limit.
                let quotas = urt::Quota::ALL.len() as u64;
                let which = if g.chance(1, 3) {
                    g.length()
                } else {
                    g.below(quotas)
                };
                let want = if which < quotas {
                    Mask::OK
                } else {
                    Mask::err(Error::InvalidArgument)
                };
                let r = self.issue(Sys::Quota as u64, [which, 0, 0, 0, 0, 0], want)?;
                if r[0] == 0 && r[1] > r[2] {
                    return Err(self.fail(
                        Sys::Quota as u64,
                        [which, 0, 0, 0, 0, 0],
                        r,
                        "quota: used past the limit",
                    ));
                }
            }
            3 => {
                let (p, ok) = self.wptr(g, TRACE_AT, 64);
                let p = if g.chance(1, 6) { p + 4 } else { p };
                let want = if ok == Some(true) && p % 8 == 0 {
                    Mask::OK
                } else {
                    Mask::err(Error::BadAddress)
                };
                self.issue(Sys::Counters as u64, [p, 0, 0, 0, 0, 0], want)?;
            }
            4 => {
                let cmd = if g.chance(1, 8) {
                    g.length()
                } else {
                    g.below(2)
                };
                let cap = if g.chance(1, 4) {
                    g.length()
                } else {
                    g.below(TRACE_CAP + 1)
                };
                let (p, ok) = self.wptr(g, TRACE_AT, cap.saturating_mul(40));
                let p = if g.chance(1, 8) { p + 4 } else { p };
                let fits = cap <= TRACE_CAP || ok != Some(true);
                if !fits {
                    return Ok(());
                }
                let want = if cmd > 1 {
                    Mask::err(Error::InvalidArgument)
                } else if cmd == 0 || cap == 0 || (ok == Some(true) && p % 8 == 0) {
                    Mask::OK.or(Error::NotSupported)
                } else {
                    Mask::err(Error::BadAddress).or(Error::NotSupported)
                };
                self.issue(Sys::Trace as u64, [cmd, p, cap, 0, 0, 0], want)?;
            }
            5 => {
                let l = if g.chance(1, 2) {
                    4097 + g.below(1 << 16)
                } else {
                    g.below(4097)
                };
                let (p, rd) = self.rptr(g, l);
                let want = if l > 4096 {
                    Mask::err(Error::TooLarge)
                } else {
                    match rd {
                        Some(false) => Mask::err(Error::BadAddress),
                        Some(true) if l == 0 => Mask::OK,
                        _ => return Ok(()), // would print: not garbage
                    }
                };
                self.issue(Sys::Log as u64, [p, l, 0, 0, 0, 0], want)?;
            }
            6 => {
                let want = if self.gpu.is_some() {
                    Mask::OK
                } else {
                    Mask::err(Error::NotSupported)
                };
                let r = self.issue(Sys::GpuDisplayInfo as u64, [0; 6], want)?;
                if r[0] == 0 && Some((r[1], r[2])) != self.gpu {
                    return Err(self.fail(
                        Sys::GpuDisplayInfo as u64,
                        [0; 6],
                        r,
                        "display size changed",
                    ));
                }
            }
            7 => {
                let ns = if g.chance(1, 20) {
                    g.below(3_000_000)
                } else {
                    1_000_000_000_001 + g.below(1 << 40)
                };
                let want = if ns <= 1_000_000_000_000 {
                    Mask::OK
                } else {
                    Mask::err(Error::InvalidArgument)
                };
                self.issue(Sys::Sleep as u64, [ns, 0, 0, 0, 0, 0], want)?;
            }
            8 => {
                let h = self.handle_arg(g, Kind::Buf);
                let op = g.below(5);
                self.issue(
                    Sys::BenchDcLoop as u64,
                    [h, op, g.length(), g.length(), 0, 0],
                    Mask::NONE,
                )?;
                self.issue(Sys::BenchCleanAll as u64, [0; 6], Mask::NONE)?;
            }
            9 => {
                let want = if self.blk {
                    Mask::OK
                } else {
                    Mask::err(Error::NotSupported)
                };
                self.issue(Sys::BlkInfo as u64, [0; 6], want)?;
            }
            10 => {
                let h = self.handle_arg(g, Kind::Buf);
                let a = [
                    h,
                    g.pick(&[0, 512, 1, 4096]),
                    g.length(),
                    g.pick(&[0, 1, 8, 2049]),
                    0,
                    0,
                ];
                let want = if !self.blk {
                    Mask::err(Error::NotSupported)
                } else {
                    match self.hcheck(h, Kind::Buf, Rights::DEVICE_WRITE.0) {
                        Err(e) => Mask::err(e),
                        // With a disk the model does not follow device writes.
                        Ok(_) => return Ok(()),
                    }
                };
                self.issue(Sys::BlkRead as u64, a, want)?;
            }
            _ => {
                let num = fuzz::LAST_SYSCALL + 1 + g.below(4);
                self.issue(num, [g.next_u64(); 6], Mask::err(Error::UnknownSyscall))?;
            }
        }
        Ok(())
    }
}

/// What `buffer_sync` (`rect`: `buffer_sync_rect` with `(row_len, rows, stride)`) on a
/// live buffer handle with `rights` may return, given this task's open START on it and
/// how many STARTs it has open in all.
#[allow(clippy::too_many_arguments)]
fn sync_want(
    flags: u64,
    offset: u64,
    len: u64,
    size: u64,
    rights: u32,
    open: Option<u64>,
    rect: Option<(u64, u64, u64)>,
    _open_count: usize,
) -> Mask {
    let phase = flags & 3;
    let dir = flags & 12;
    if flags & !31 != 0 || (phase != 1 && phase != 2) || dir == 0 {
        return Mask::err(Error::BadFlags);
    }
    // USER_CLEANED (16): only with END WRITE/RW; then NotSupported, as the fuzzer's
    // boot has no `uci`.
    if flags & 16 != 0 {
        if phase != 2 || dir & 8 == 0 {
            return Mask::err(Error::BadFlags);
        }
        return Mask::err(Error::NotSupported);
    }
    let range_ok = match rect {
        None if len == 0 => offset == 0,
        None => offset.checked_add(len).is_some_and(|e| e <= size),
        Some((row_len, rows, stride)) => {
            let end = rows
                .checked_sub(1)
                .and_then(|r| r.checked_mul(stride))
                .and_then(|x| x.checked_add(offset))
                .and_then(|x| x.checked_add(row_len));
            row_len > 0 && !(rows > 1 && row_len > stride) && end.is_some_and(|e| e <= size)
        }
    };
    if !range_ok {
        return Mask::err(Error::OutOfRange);
    }
    let need = Rights::MAP_READ.0 | if dir & 8 != 0 { Rights::MAP_WRITE.0 } else { 0 };
    if rights & need != need {
        return Mask::err(Error::AccessDenied);
    }
    match (phase, open) {
        (1, Some(_)) => Mask::err(Error::AlreadyStarted),
        // At most 16 STARTs may be open in a task (TableFull beyond).
        (1, None) => Mask::OK.or(Error::TableFull),
        (_, Some(d)) if d == dir => Mask::OK,
        _ => Mask::err(Error::NotStarted),
    }
}

fn main(args: StartArgs) -> i32 {
    let report = args.get(0).unwrap_or(Handle(0));
    // Fill scratch with garbage (deterministically).
    let mut g0 = Rng::derive(SEED, 0, 0);
    for i in 0..SCRATCH_SIZE / 8 {
        // SAFETY: inside SCRATCH, 8-aligned.
        unsafe { poke(scratch() + 8 * i as u64, g0.next_u64()) };
    }
    let mut w = W {
        hs: Vec::new(),
        stale: Vec::new(),
        reserved: vec![report.0],
        gens: [0; 512],
        bufs: Vec::new(),
        ress: Vec::new(),
        chans: Vec::new(),
        tasks: Vec::new(),
        maps: Vec::new(),
        free: [Vec::new(), Vec::new(), Vec::new(), Vec::new()],
        live_bytes: 0,
        pixels: 0,
        fence: 0,
        fences: VecDeque::new(),
        peers: 0,
        strict: urt::stats(urt::Stat::MisuseStrict).unwrap_or(1) == 1,
        gpu: urt::gpu_display_info()
            .ok()
            .map(|(a, b)| (a as u64, b as u64)),
        // SAFETY: blk_info takes no pointer or handle.
        blk: unsafe { raw(Sys::BlkInfo as u64, [0; 6]) }[0] == 0,
        violations: 0,
        seen: Vec::new(),
        call: 0,
        ok: 0,
        launcher: state::drive::launcher_use(report),
        runs: [(0, 0, 0, 0, 0, 0); state::SCENARIOS as usize + 1],
        order: core::array::from_fn(|i| i as u64 + 1),
    };
    if let Some(slot) = report.slot() {
        w.gens[slot as usize] = report.generation();
    }
    // A seeded order of the scenarios, so that even a short run has each once.
    let mut g0 = Rng::derive(SEED, 4, u64::MAX);
    for i in (1..w.order.len()).rev() {
        let j = g0.index(i + 1);
        w.order.swap(i, j);
    }
    let every = (CALLS / 20).max(1000);
    let (mut done, mut single, mut stateful, mut k) = (0u64, 0u64, 0u64, 0u64);
    let mut next_line = every;
    let mut i = 0u64;
    // Half the calls in single fuzzed calls, half in stateful scenarios.
    while done < CALLS {
        w.call = i;
        if stateful <= single && STATEFUL {
            match w.scenario(k, CALLS - done) {
                Ok(n) => {
                    stateful += n;
                    done += n;
                }
                Err(_) => break,
            }
            k += 1;
        } else {
            let mut g = Rng::derive(SEED, 1, i);
            i += 1;
            single += 1;
            done += 1;
            if let Err(Verdict::Stop) = w.step(&mut g).and_then(|()| w.invariants(i)) {
                break;
            }
        }
        if done >= next_line {
            next_line = (done / every + 1) * every;
            urt::println!(
                "fuzz: {}/{} calls ({} single, {} ok; {} in {} scenarios); {} handles, {} mappings, {} buffers ({} KiB), {} peers running",
                done,
                CALLS,
                single,
                w.ok,
                stateful,
                k,
                w.hs.len(),
                w.maps.len(),
                w.bufs.iter().filter(|b| b.counted).count(),
                w.live_bytes / 1024,
                w.peers
            );
        }
    }
    for s in 1..=state::SCENARIOS as usize {
        let (runs, calls, refused, heap, charged, no_memory) = w.runs[s];
        urt::println!(
            "fuzz: scenario {:<13} {:>3} runs, {:>8} calls, {:>3} ended on a quota ({} NoMemory); \
             kernel heap taken at most {} KiB, charged at most {} KiB",
            state::NAMES[s],
            runs,
            calls,
            refused,
            no_memory,
            heap / 1024,
            charged / 1024
        );
    }
    // Collect the peers' reports (each has finished or will).
    if w.violations == 0 || KEEP_GOING {
        for t in 0..w.tasks.len() {
            if let Err(Verdict::Stop) = w.reap_peer(t) {
                break;
            }
        }
    }
    let _ = send_words(report, &[w.violations, done]);
    // Exit with everything still open: the kernel must free it all.
    i32::from(w.violations != 0)
}

urt::entry!(main);
