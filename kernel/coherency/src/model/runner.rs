//! The scenario runner: plays a [`Scenario`] against the cache model and the
//! reference, through the (possibly mutated) real planner and boundary rules. See
//! [`super::scenario`] for what is played and what is skipped.

use std::collections::VecDeque;

mod parties;

use mm::cache::CacheOp;

use super::cache::{Memory, LINE};
use super::exact::Shadow;
use super::mutation::Mutation;
use super::scenario::{Check, Failure, FailureKind, Op, Scenario, Span, Stats, BASE, GEOM, SIZE};
use crate::{
    resolve_range, Boundary, CpuAccess, Dir, FenceWait, Phase, Policy, Region, SyncError,
    SyncRequest, Work,
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

/// Plays `s` with `mutation` applied, checking the data only.
pub fn run(s: &Scenario, mutation: Mutation) -> Result<Stats, Failure> {
    run_checked(s, mutation, Check::Data)
}

/// Plays `s` with `mutation` applied, with the checks of `check`.
pub fn run_checked(s: &Scenario, mutation: Mutation, check: Check) -> Result<Stats, Failure> {
    if s.tight {
        play::<2>(s, mutation, check)
    } else {
        play::<4>(s, mutation, check)
    }
}

fn play<const N: usize>(s: &Scenario, m: Mutation, check: Check) -> Result<Stats, Failure> {
    let mut r = Runner::<N>::new(s, m, check);
    for (step, op) in s.ops.iter().enumerate() {
        r.step = step;
        r.play(*op)?;
    }
    r.step = s.ops.len();
    r.finish()?;
    Ok(r.stats)
}

struct Runner<'s, const N: usize> {
    s: &'s Scenario,
    m: Mutation,
    /// Exactness checks on: [`Check::Exact`], not tight, cached and non-coherent.
    exact: bool,
    /// Cached and non-coherent: the boundary rules apply.
    maintained: bool,
    mem: Memory,
    /// The reference: last value written to each byte, by anyone.
    truth: Vec<u8>,
    /// The buffer's boundary state, kept as the kernel keeps it.
    bd: Boundary<N>,
    /// The exactness oracle's own account.
    shadow: Shadow,
    /// U's uncached mapping exists.
    u_mapped: bool,
    /// Device jobs submitted and not completed yet, oldest first.
    pending: VecDeque<Job>,
    a: Holder,
    b: Holder,
    stamp: u8,
    step: usize,
    stats: Stats,
}

impl<'s, const N: usize> Runner<'s, N> {
    fn new(s: &'s Scenario, m: Mutation, check: Check) -> Self {
        let (n0, n1) = s.n;
        assert!(0 < n0 && n0 < n1 && n1 <= SIZE, "bad neighbour range");
        let cacheable = s.policy == Policy::Cached;
        let maintained = cacheable && !s.coherent;
        let mut r = Self {
            s,
            m,
            exact: check == Check::Exact && !s.tight && maintained,
            maintained,
            mem: Memory::new(BASE, SIZE, cacheable, s.coherent),
            truth: vec![0; SIZE],
            bd: Boundary::NEW,
            shadow: Shadow::default(),
            u_mapped: false,
            pending: VecDeque::new(),
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
        };
        r.bd.lossy = m == Mutation::OverflowSubset;
        if cacheable {
            // A new cached buffer: the kernel zeroed it through the cache and left the
            // clean to whoever needs it (memory still holds the page's old contents).
            r.mem.fill_ram(0xa5);
            (0..SIZE).for_each(|i| r.mem.cpu_store(i, 0));
            if maintained {
                r.bd.mark_dirty(GEOM, 0, SIZE as u64);
                r.shadow.dirty = [true; SIZE / LINE];
            }
        }
        r
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
                self.submit(Job::Read(s, e))
            }
            Op::DevWrite(pick) => {
                let (s, e) = pick.map_or((0, SIZE), |p| p.within(0, SIZE));
                self.submit(Job::Write(s, e))
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
            // On a coherent machine a snooping device may be answered from a clean line
            // an uncached store went around: not modelled (see the scenario docs).
            Op::UMap | Op::UUnmap | Op::URead(_) | Op::UWrite(_) if self.s.coherent => Ok(()),
            Op::UMap => {
                self.u_map();
                Ok(())
            }
            Op::UUnmap => self.u_unmap(),
            Op::URead(pick) => {
                let (s, e) = pick.within(0, SIZE);
                self.u_read(s, e)
            }
            Op::UWrite(pick) => {
                let started = self.a.access.is_started() || self.b.access.is_started();
                if self.u_mapped && !started {
                    let v = self.next_stamp();
                    let (s, e) = pick.within(0, SIZE);
                    for i in s..e {
                        self.mem.uncached_store(i, v);
                        self.truth[i] = v;
                    }
                }
                Ok(())
            }
        }
    }

    fn finish(&mut self) -> Result<(), Failure> {
        self.end(Who::A, false)?;
        self.end(Who::B, false)?;
        self.submit(Job::Read(0, SIZE))?;
        assert!(
            matches!(self.pending.back(), Some(Job::Read(0, SIZE))),
            "the final device read was refused"
        );
        self.complete(self.pending.len())?;
        self.u_read(0, SIZE)?;
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

    /// One `sync` call as the kernel makes it: whether a non-coherent party is involved
    /// (an uncached mapping; stale lines for a START), the direction to plan with
    /// ([`crate::effective_dir`]), the (mutated) planner, the fence wait, the access state
    /// machine (with the task's own direction), the boundary's work on the model, and
    /// the boundary's bookkeeping.
    fn sync(
        &mut self,
        who: Who,
        phase: Phase,
        dir: Dir,
        off: u64,
        len: u64,
    ) -> Result<(), Failure> {
        let (o, l) = resolve_range(off, len, SIZE as u64).map_err(|e| self.protocol(e))?;
        let region = Region::range(o, l);
        let u_start = self.u_mapped && self.m != Mutation::UncachedWriterIgnored;
        let u_end = self.u_mapped && self.m != Mutation::NoCleanAtEndWrite;
        let stale = self.bd.may_be_stale(GEOM, region, u_start);
        let planned = self.m.effective_dir(phase, dir, stale);
        if (phase, dir) == (Phase::Start, Dir::Write) {
            self.stats.upgraded += u64::from(planned != dir);
            self.stats.plain_start_writes += u64::from(planned == dir);
        }
        // A non-coherent party besides the devices: stale lines (which on a coherent
        // machine only an uncached mapping leaves) or an uncached mapping.
        let party = match phase {
            Phase::Start => stale,
            Phase::End => u_end,
        };
        let req = SyncRequest {
            phase,
            dir: planned,
            offset: off,
            len,
            size: SIZE as u64,
            policy: self.s.policy,
            device_coherent: self.s.coherent && !party,
            may_write: self.holder(who).may_write,
        };
        let plan = self.m.plan_sync(&req).map_err(|e| self.protocol(e))?;
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
        let op = plan.op.map(|(op, ..)| op);
        let (s, e) = (o as usize, (o + l) as usize);
        let work = match phase {
            Phase::End if self.m == Mutation::CleanAtEveryEnd && op.is_some() => {
                Work::Region(CacheOp::Clean, region)
            }
            Phase::End => self.bd.sync(GEOM, op, region, u_end),
            Phase::Start => {
                let all = u_start || self.m == Mutation::InvalidateWholeRange;
                if op.is_some() {
                    let dirty = self.bd.dirty();
                    let sel = |i: usize| all || self.bd.stale().contains_line(i as u64);
                    self.stats.dirty_stale += super::exact::lines(s, e)
                        .filter(|&i| sel(i) && dirty.contains_line(i as u64))
                        .count() as u64;
                }
                let w = self.bd.sync(GEOM, op, region, all);
                if self.m == Mutation::DirtyStalePlainInvalidate {
                    w.without_civac()
                } else {
                    w
                }
            }
        };
        let lines = self.apply(&work);
        self.stats.skipped += u64::from(lines == 0);
        if phase == Phase::Start && self.m != Mutation::NoClearStale {
            self.bd.start_done(&work);
        }
        if self.exact {
            let sh = &mut self.shadow;
            let want = match (phase, op) {
                (_, None) => 0,
                (Phase::Start, Some(_)) if u_start => super::exact::lines(s, e).len() as u64,
                (Phase::Start, Some(_)) => Shadow::count(&sh.stale, s, e),
                (Phase::End, Some(_)) if u_end => super::exact::lines(s, e).len() as u64,
                (Phase::End, Some(_)) => 0,
            };
            match (phase, op) {
                (_, None) => {}
                (Phase::Start, Some(_)) => Shadow::set(&mut sh.stale, s, e, false),
                (Phase::End, Some(_)) if !u_end => Shadow::set(&mut sh.dirty, s, e, true),
                (Phase::End, Some(_)) => {}
            }
            self.exact_check(lines, want, "sync")?;
        }
        Ok(())
    }

    /// Carry `work` out on the model; returns the `DC` instructions executed.
    fn apply(&mut self, work: &Work) -> u64 {
        let mut lines = 0;
        let mut piece = |mem: &mut Memory, op: CacheOp, o: u64, l: u64| {
            let runs = self.m.piece_runs(GEOM, op, BASE + o, l);
            lines += mem.apply(&runs);
        };
        match work {
            Work::None => {}
            Work::Region(op, r) => {
                for row in 0..r.rows {
                    piece(&mut self.mem, *op, r.offset + row * r.stride, r.row_len);
                }
            }
            Work::Pieces(p) => {
                for (op, o, l) in p.iter(&self.bd) {
                    piece(&mut self.mem, op, o, l);
                }
            }
        }
        self.stats.dc_lines += lines;
        lines
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
