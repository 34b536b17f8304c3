//! The scenario runner: plays a [`Scenario`] against the cache model and the
//! reference, through the (possibly mutated) real planner. See [`super::scenario`] for
//! what is played and what is skipped.

use std::collections::VecDeque;

use mm::cache::{self, CacheOp};

use super::cache::Memory;
use super::mutation::Mutation;
use super::scenario::{Failure, FailureKind, Op, Scenario, Span, Stats, BASE, GEOM, SIZE};
use crate::{
    device_wrote_after_sync, resolve_range, CpuAccess, Dir, FenceWait, Handover, Phase, Policy,
    SyncError, SyncRequest,
};

/// A queued device job over `[start, end)`.
#[derive(Clone, Copy, Debug)]
enum Job {
    Read(usize, usize),
    Write(usize, usize),
}

#[derive(Clone, Copy, Default)]
struct Holder {
    access: CpuAccess,
    /// The START request's `(offset, len)`, as passed (len 0 = whole).
    req: (u64, u64),
    /// The resolved `[start, end)`.
    range: (usize, usize),
    may_write: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Who {
    A,
    B,
}

/// Plays `s` with `mutation` applied to the planner.
pub fn run(s: &Scenario, mutation: Mutation) -> Result<Stats, Failure> {
    let mut r = Runner::new(s, mutation);
    for (step, op) in s.ops.iter().enumerate() {
        r.step = step;
        r.play(*op)?;
    }
    r.step = s.ops.len();
    r.finish()?;
    Ok(r.stats)
}

struct Runner<'s> {
    s: &'s Scenario,
    m: Mutation,
    mem: Memory,
    /// The reference: last value written to each byte, by anyone.
    truth: Vec<u8>,
    /// The buffer's `device_wrote` bit, kept as the kernel keeps it.
    device_wrote: bool,
    /// Device jobs submitted and not completed yet, oldest first.
    pending: VecDeque<Job>,
    /// [`Mutation::NoCleanBeforeDeviceWrite`]: END cleans not done yet, `(offset, len)`.
    deferred: Vec<(u64, u64)>,
    a: Holder,
    b: Holder,
    stamp: u8,
    step: usize,
    stats: Stats,
}

impl<'s> Runner<'s> {
    fn new(s: &'s Scenario, m: Mutation) -> Self {
        let (n0, n1) = s.n;
        assert!(0 < n0 && n0 < n1 && n1 <= SIZE, "bad neighbour range");
        let cacheable = s.policy == Policy::Cached;
        Self {
            s,
            m,
            mem: Memory::new(BASE, SIZE, cacheable, s.coherent),
            truth: vec![0; SIZE],
            device_wrote: false,
            pending: VecDeque::new(),
            deferred: Vec::new(),
            a: Holder {
                may_write: s.a_may_write,
                ..Holder::default()
            },
            b: Holder {
                may_write: true,
                req: (n0 as u64, (n1 - n0) as u64),
                range: s.n,
                ..Holder::default()
            },
            stamp: 0,
            step: 0,
            stats: Stats::default(),
        }
    }

    fn play(&mut self, op: Op) -> Result<(), Failure> {
        match op {
            Op::AStart(dir, span) => self.a_start(dir, span),
            Op::AEnd(whole) => self.end(Who::A, whole),
            Op::ARead(pick) => match self.a.access.current() {
                Some(d) if d.reads() => {
                    let (s, e) = pick.within(self.a.range.0, self.a.range.1);
                    self.cpu_read(s, e)
                }
                _ => Ok(()),
            },
            Op::AWrite(pick) => {
                if self.a.access.holds_write() {
                    let (s, e) = pick.within(self.a.range.0, self.a.range.1);
                    let n = self.s.n;
                    self.cpu_write((s..e).filter(|i| !(n.0..n.1).contains(i)));
                }
                Ok(())
            }
            Op::BStart => self.b_start(),
            Op::BWrite(pick) => {
                if self.b.access.holds_write() {
                    let (s, e) = pick.within(self.s.n.0, self.s.n.1);
                    self.cpu_write(s..e);
                }
                Ok(())
            }
            Op::BEnd => self.end(Who::B, false),
            Op::DevRead(pick) => {
                let (s, e) = pick.map_or((0, SIZE), |p| p.within(0, SIZE));
                self.submit(Job::Read(s, e));
                Ok(())
            }
            Op::DevWrite(pick) => {
                let (s, e) = pick.map_or((0, SIZE), |p| p.within(0, SIZE));
                self.submit(Job::Write(s, e));
                Ok(())
            }
            Op::DevDone => match self.pending.pop_front() {
                Some(job) => self.execute(job),
                None => Ok(()),
            },
            Op::Evict(i) => {
                self.mem.evict(usize::from(i) % self.mem.line_count());
                Ok(())
            }
            Op::Fill(i) => {
                let i = usize::from(i) % self.mem.line_count();
                let writing = self.pending.iter().any(|j| matches!(j, Job::Write(..)));
                let absent = !self.mem.is_present(i);
                self.mem.speculative_fill(i);
                self.stats.fills_during_write +=
                    u64::from(writing && absent && self.mem.is_present(i));
                Ok(())
            }
        }
    }

    fn finish(&mut self) -> Result<(), Failure> {
        self.end(Who::A, false)?;
        self.end(Who::B, false)?;
        self.submit(Job::Read(0, SIZE));
        assert!(
            matches!(self.pending.back(), Some(Job::Read(0, SIZE))),
            "the final device read was refused"
        );
        self.complete(self.pending.len())?;
        self.a.range = (0, SIZE);
        self.sync(Who::A, Phase::Start, Dir::Read, 0, 0)?;
        self.cpu_read(0, SIZE)?;
        self.sync(Who::A, Phase::End, Dir::Read, 0, 0)
    }

    /// The `(offset, len)` request for a START of A over `span`, if playable now.
    fn a_request(&self, span: Span) -> Option<(u64, u64)> {
        let (n0, n1) = self.s.n;
        let w = self.a.may_write;
        let (s, e) = match span {
            Span::Whole if w && self.b.access.current().is_some() => return None,
            Span::Whole => return Some((0, 0)),
            Span::Left(touch, pick) => {
                let hi = if w { n0 } else { n1 };
                match (touch, pick.within(0, hi)) {
                    (true, (s, _)) => (s, hi),
                    (false, r) => r,
                }
            }
            Span::Right(touch, pick) => {
                let lo = if w { n1 } else { n0 };
                if lo == SIZE {
                    return None;
                }
                match (touch, pick.within(lo, SIZE)) {
                    (true, _) => (lo, lo + 1 + usize::from(pick.1) % (SIZE - lo)),
                    (false, r) => r,
                }
            }
        };
        Some((s as u64, (e - s) as u64))
    }

    fn a_start(&mut self, dir: Dir, span: Span) -> Result<(), Failure> {
        if self.a.access.current().is_some() {
            return Ok(());
        }
        let Some((off, len)) = self.a_request(span) else {
            return Ok(());
        };
        let (o, l) = resolve_range(off, len, SIZE as u64).expect("runner picks valid ranges");
        let range = (o as usize, (o + l) as usize);
        let dir = if self.a.may_write { dir } else { Dir::Read };
        self.a.req = (off, len);
        self.a.range = range;
        self.sync(Who::A, Phase::Start, dir, off, len)
    }

    fn b_start(&mut self) -> Result<(), Failure> {
        if self.b.access.current().is_some() {
            return Ok(());
        }
        let (off, len) = self.b.req;
        self.sync(Who::B, Phase::Start, Dir::Write, off, len)
    }

    fn end(&mut self, who: Who, whole: bool) -> Result<(), Failure> {
        let h = self.holder(who);
        let Some(dir) = h.access.current() else {
            return Ok(());
        };
        let (off, len) = if whole { (0, 0) } else { h.req };
        self.sync(who, Phase::End, dir, off, len)
    }

    fn holder(&mut self, who: Who) -> &mut Holder {
        match who {
            Who::A => &mut self.a,
            Who::B => &mut self.b,
        }
    }

    /// One `sync` call as the kernel makes it: the direction to plan with
    /// ([`crate::effective_dir`]), the (mutated) planner, the fence wait, the access
    /// state machine (with the task's own direction), the maintenance on the model, and
    /// the `device_wrote` bookkeeping.
    fn sync(
        &mut self,
        who: Who,
        phase: Phase,
        dir: Dir,
        off: u64,
        len: u64,
    ) -> Result<(), Failure> {
        self.flush_deferred();
        let planned = self.m.effective_dir(phase, dir, self.device_wrote);
        if (phase, dir) == (Phase::Start, Dir::Write) {
            self.stats.upgraded += u64::from(planned != dir);
            self.stats.plain_start_writes += u64::from(planned == dir);
        }
        let req = SyncRequest {
            phase,
            dir: planned,
            offset: off,
            len,
            size: SIZE as u64,
            policy: self.s.policy,
            device_coherent: self.s.coherent,
            may_write: self.holder(who).may_write,
        };
        let mut plan = self.m.plan_sync(&req).map_err(|e| self.protocol(e))?;
        let through = match plan.wait_fences {
            FenceWait::None => 0,
            FenceWait::Writers => self
                .pending
                .iter()
                .rposition(|j| matches!(j, Job::Write(..)))
                .map_or(0, |i| i + 1),
            FenceWait::All => self.pending.len(),
        };
        self.stats.fence_waits += through as u64;
        self.complete(through)?;
        let h = self.holder(who);
        let moved = match phase {
            Phase::Start => h.access.start(dir),
            Phase::End => h.access.end(dir),
        };
        moved.map_err(|e| self.protocol(e))?;
        if self.m.defers_end_clean() && phase == Phase::End {
            if let Some((CacheOp::Clean, o, l)) = plan.op.take() {
                self.deferred.push((o, l));
            }
        }
        let runs = self.m.line_runs(&plan, GEOM, BASE);
        self.stats.dc_lines += self.mem.apply(&runs);
        self.device_wrote = device_wrote_after_sync(self.device_wrote, &req);
        Ok(())
    }

    /// [`Mutation::NoCleanBeforeDeviceWrite`]: the deferred END cleans, run now.
    fn flush_deferred(&mut self) {
        for (o, l) in std::mem::take(&mut self.deferred) {
            let plan = cache::plan(GEOM, CacheOp::Clean, BASE + o, l).unwrap();
            self.stats.dc_lines += self.mem.apply(&plan);
        }
    }

    /// A device submission, if the kernel's hand-over check lets it go: queued, the
    /// `device_wrote` bit set for a write.
    fn submit(&mut self, job: Job) {
        let write_held = self.a.access.holds_write() || self.b.access.holds_write();
        let started = self.a.access.is_started() || self.b.access.is_started();
        let writes = matches!(job, Job::Write(..));
        if self.m.handover(writes, write_held, started) != Handover::Ready {
            self.stats.refused += u64::from(write_held);
            self.stats.refused_writes += u64::from(!write_held);
            return;
        }
        if writes {
            if self.m.defers_end_clean() {
                self.deferred.clear(); // the mutation: no clean before a writing device
            }
            if self.m.invalidates_at_device_write() {
                let plan = cache::plan(GEOM, CacheOp::CleanInvalidate, BASE, SIZE as u64);
                self.mem.apply(&plan.unwrap());
            }
            self.device_wrote = true;
        } else {
            self.flush_deferred();
        }
        self.pending.push_back(job);
    }

    /// Completes the `n` oldest queued device jobs.
    fn complete(&mut self, n: usize) -> Result<(), Failure> {
        for _ in 0..n {
            let job = self.pending.pop_front().expect("n <= pending");
            self.execute(job)?;
        }
        Ok(())
    }

    fn execute(&mut self, job: Job) -> Result<(), Failure> {
        match job {
            Job::Read(s, e) => self.device_read(s, e),
            Job::Write(s, e) => {
                self.device_write(s, e);
                Ok(())
            }
        }
    }

    fn next_stamp(&mut self) -> u8 {
        self.stamp = self
            .stamp
            .checked_add(1)
            .expect("at most 255 writes per scenario");
        self.stamp
    }

    fn cpu_write(&mut self, bytes: impl Iterator<Item = usize>) {
        let v = self.next_stamp();
        for i in bytes {
            self.mem.cpu_store(i, v);
            self.truth[i] = v;
        }
    }

    fn device_write(&mut self, s: usize, e: usize) {
        let v = self.next_stamp();
        for i in s..e {
            self.mem.device_write(i, v);
            self.truth[i] = v;
        }
    }

    fn cpu_read(&mut self, s: usize, e: usize) -> Result<(), Failure> {
        for i in s..e {
            let got = self.mem.cpu_load(i);
            self.check(FailureKind::CpuRead, i, got)?;
            self.stats.cpu_checks += 1;
        }
        Ok(())
    }

    fn device_read(&mut self, s: usize, e: usize) -> Result<(), Failure> {
        for i in s..e {
            let got = self.mem.device_read(i);
            self.check(FailureKind::DeviceRead, i, got)?;
            self.stats.device_checks += 1;
        }
        Ok(())
    }

    fn check(&self, kind: FailureKind, offset: usize, got: u8) -> Result<(), Failure> {
        let expected = self.truth[offset];
        if got == expected {
            Ok(())
        } else {
            Err(Failure {
                step: self.step,
                kind,
                offset,
                expected,
                got,
            })
        }
    }

    fn protocol(&self, e: SyncError) -> Failure {
        Failure {
            step: self.step,
            kind: FailureKind::Protocol(e),
            offset: 0,
            expected: 0,
            got: 0,
        }
    }
}
