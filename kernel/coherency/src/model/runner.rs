//! The scenario runner: plays a [`Scenario`] against the cache model and the
//! reference, through the (possibly mutated) real planner. See [`super::scenario`] for
//! what is played and what is skipped.

use super::cache::{Memory, LINE};
use super::mutation::Mutation;
use super::scenario::{Failure, FailureKind, Op, Scenario, Span, Stats, BASE, GEOM, SIZE};
use crate::{
    plan_device_handover, resolve_range, CpuAccess, Dir, Handover, Phase, Policy, SyncError,
    SyncRequest,
};

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
    /// Per line: the device wrote it since a START READ/RW last covered it.
    dev_dirty: Vec<bool>,
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
            dev_dirty: vec![false; SIZE / LINE],
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
                if self.device_may_go() {
                    let (s, e) = pick.map_or((0, SIZE), |p| p.within(0, SIZE));
                    self.device_read(s, e)?;
                }
                Ok(())
            }
            Op::DevWrite(pick) => {
                let (s, e) = pick.map_or((0, SIZE), |p| p.within(0, SIZE));
                let (a0, a1) = self.a.range;
                let into_a_read = self.a.access.current().is_some() && s < a1 && a0 < e;
                if self.device_may_go() && !into_a_read {
                    self.device_write(s, e);
                }
                Ok(())
            }
            Op::Evict(i) => {
                self.mem.evict(usize::from(i) % self.mem.line_count());
                Ok(())
            }
            Op::Fill(i) => {
                self.mem
                    .speculative_fill(usize::from(i) % self.mem.line_count());
                Ok(())
            }
        }
    }

    fn finish(&mut self) -> Result<(), Failure> {
        self.end(Who::A, false)?;
        self.end(Who::B, false)?;
        assert!(self.device_may_go());
        self.device_read(0, SIZE)?;
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
        let dir = self.caveat(dir, range);
        self.a.req = (off, len);
        self.a.range = range;
        self.sync(Who::A, Phase::Start, dir, off, len)
    }

    fn b_start(&mut self) -> Result<(), Failure> {
        if self.b.access.current().is_some() {
            return Ok(());
        }
        let dir = self.caveat(Dir::Write, self.s.n);
        let (off, len) = self.b.req;
        self.sync(Who::B, Phase::Start, dir, off, len)
    }

    /// START WRITE over lines the device wrote since their last invalidate is played as
    /// START RW (see the crate docs).
    fn caveat(&mut self, dir: Dir, (s, e): (usize, usize)) -> Dir {
        if dir == Dir::Write && self.dev_dirty[s / LINE..e.div_ceil(LINE)].contains(&true) {
            self.stats.upgraded += 1;
            Dir::ReadWrite
        } else {
            dir
        }
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

    /// One `sync` call: the (mutated) planner, the access state machine, the maintenance
    /// on the model, and the protocol bookkeeping of device-written lines.
    fn sync(
        &mut self,
        who: Who,
        phase: Phase,
        dir: Dir,
        off: u64,
        len: u64,
    ) -> Result<(), Failure> {
        let req = SyncRequest {
            phase,
            dir,
            offset: off,
            len,
            size: SIZE as u64,
            policy: self.s.policy,
            device_coherent: self.s.coherent,
            may_write: self.holder(who).may_write,
        };
        let plan = self.m.plan_sync(&req).map_err(|e| self.protocol(e))?;
        let h = self.holder(who);
        let moved = match phase {
            Phase::Start => h.access.start(dir),
            Phase::End => h.access.end(dir),
        };
        moved.map_err(|e| self.protocol(e))?;
        // Fences: the model's device work is complete when submitted.
        let runs = self.m.line_runs(&plan, GEOM, BASE);
        self.stats.dc_lines += self.mem.apply(&runs);
        if phase == Phase::Start && dir.reads() {
            let (o, l) = resolve_range(off, len, SIZE as u64).map_err(|e| self.protocol(e))?;
            let (s, e) = (o as usize, (o + l) as usize);
            self.dev_dirty[s / LINE..e.div_ceil(LINE)].fill(false);
        }
        Ok(())
    }

    fn device_may_go(&mut self) -> bool {
        let held = self.a.access.holds_write() || self.b.access.holds_write();
        let ok = plan_device_handover(held) == Handover::Ready;
        self.stats.refused += u64::from(!ok);
        ok
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
        self.dev_dirty[s / LINE..e.div_ceil(LINE)].fill(true);
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
