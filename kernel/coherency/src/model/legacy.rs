//! The legacy forwarded-mmap path on the cache model.
//!
//! One buffer of [`SIZE`] bytes in pages of [`PAGE`] bytes (two model lines each) is
//! shared by
//!
//! * task **A**, which maps it through the legacy path: its loads and stores go through
//!   a simulated page table (`pte`), one entry per page. An access the entry does not
//!   allow (any access to an unmapped page, a store to a read-only one) calls the real
//!   [`LegacyPages::on_fault`] and carries out the action on the model: `WaitDevice`
//!   completes the pending device work, `Map` runs the page's maintenance (`DC IVAC` or
//!   `DC CIVAC` of each line) and installs the entry, `Upgrade` makes it writable. A has
//!   no brackets: it loads and stores anywhere, at any time, except that it does not
//!   store into `N` while B has a bracket open (two writers racing on the same bytes);
//! * holder **B**, on the direct path, bracketing stores into the unaligned range `N`
//!   with the real [`plan_sync`] and [`Boundary`] (START WRITE or RW, planned with the
//!   real [`effective_dir`] from [`Boundary::may_be_stale`]; its END records its lines
//!   as dirty and cleans nothing), the invalidates of its START passed through
//!   [`LegacyPages::direct_start_op`]. While B is inside a WRITE/RW bracket, or the
//!   boundary's `dirty` set meets the page, A's faults pass `others_may_be_dirty`;
//! * the **device**: a submission (read or write of a range) first calls
//!   [`LegacyPages::on_device_submit`] and carries it out (zap: every entry unmapped;
//!   each page to clean joins the boundary's dirty lines), unless the hand-over check refuses
//!   it ([`plan_device_handover`] for a read: B holds write access;
//!   [`plan_device_write_handover`] for a write: B has a START open), then cleans the
//!   boundary's dirty lines it touches ([`Boundary::device_read`],
//!   [`Boundary::device_write`], which also marks a write's lines stale). The work is queued
//!   and happens later (`DevDone`, or when a fault or a START waits for it), so faults
//!   really meet a busy device;
//! * the **cache**, evicting and speculatively filling lines at random.
//!
//! Every CPU load and every device read is checked against `truth`, the last value
//! anyone wrote to each byte. The sequence ends with all device work completed, B's
//! bracket closed, a device read of the whole buffer (no CPU write lost) and an A load
//! of the whole buffer (no device write lost).
//!
//! Before the mapping exists, the kernel wrote some lines through its cacheable linear
//! map (`prelude`) and left them dirty: under [`LegacyPolicy::Fault`] they are in the
//! boundary's `dirty` set, as the buffer manager leaves a new buffer's zeros (so a
//! refault of their page must clean them, not discard them); under
//! [`LegacyPolicy::Uncached`] the mmap-time clean+invalidate must deal with them before
//! the model's CPU mapping becomes Normal-NC (this model's uncached buffer has no
//! cacheable direct path; the direct runner plays an uncached alias of a cached buffer).

use std::collections::VecDeque;

use mm::cache::CacheOp;

use super::cache::{Memory, LINE};
pub use super::legacy_mutation::LegacyMutation;
pub use super::legacy_scenario::{LFailure, LFailureKind, LOp, LStats, LegacyScenario};
use super::scenario::{BASE, GEOM};
use crate::legacy::{FaultAction, LegacyPages, LegacyPolicy, PageState};
use crate::SyncRequest;
use crate::{effective_dir, plan_device_handover, Boundary, Region, Work};
use crate::{plan_device_write_handover, plan_sync, CpuAccess, Dir, FenceWait, Handover, Phase};

/// Buffer size in bytes.
pub const SIZE: usize = 512;
/// Page size of the model, in bytes (a multiple of [`LINE`]).
pub const PAGE: usize = 128;
/// Number of pages of the buffer.
pub const PAGES: usize = SIZE / PAGE;

#[derive(Clone, Copy, Debug)]
enum Job {
    Read(usize, usize),
    Write(usize, usize),
}

/// Plays `s` with `m` applied around the real [`LegacyPages`].
pub fn run_legacy(s: &LegacyScenario, m: LegacyMutation) -> Result<LStats, LFailure> {
    let mut r = Runner::new(s, m);
    r.mmap();
    for (step, op) in s.ops.iter().enumerate() {
        r.step = step;
        r.play(*op)?;
    }
    r.step = s.ops.len();
    r.finish()?;
    Ok(r.stats)
}

struct Runner<'s> {
    s: &'s LegacyScenario,
    m: LegacyMutation,
    mem: Memory,
    /// The reference: last value written to each byte, by anyone.
    truth: Vec<u8>,
    /// The buffer's boundary state, kept as the kernel keeps it (for a cached buffer).
    bd: Boundary<4>,
    legacy: LegacyPages,
    /// A's page table, as the runner carried the actions out.
    pte: Vec<PageState>,
    b: CpuAccess,
    pending: VecDeque<Job>,
    stamp: u8,
    step: usize,
    stats: LStats,
}

impl<'s> Runner<'s> {
    fn new(s: &'s LegacyScenario, m: LegacyMutation) -> Self {
        let (n0, n1) = s.n;
        assert!(0 < n0 && n0 < n1 && n1 <= SIZE, "bad neighbour range");
        Self {
            s,
            m,
            mem: Memory::new(BASE, SIZE, true, false),
            truth: vec![0; SIZE],
            bd: Boundary::NEW,
            legacy: LegacyPages::new(PAGES, s.policy),
            pte: vec![PageState::Unmapped; PAGES],
            b: CpuAccess::default(),
            pending: VecDeque::new(),
            stamp: 0,
            step: 0,
            stats: LStats::default(),
        }
    }

    /// The kernel's stores through its linear map, then the exporter's mmap.
    fn mmap(&mut self) {
        for line in (0..SIZE / LINE).filter(|l| self.s.prelude & (1 << l) != 0) {
            let v = self.next_stamp();
            for i in line * LINE..(line + 1) * LINE {
                self.mem.cpu_store(i, v);
                self.truth[i] = v;
            }
            if self.s.policy == LegacyPolicy::Fault {
                self.bd.mark_dirty(GEOM, (line * LINE) as u64, LINE as u64);
            }
        }
        if let Some(op) = self.legacy.mmap_maintenance() {
            if self.m != LegacyMutation::UncachedMmapNoCleanInvalidate {
                (0..SIZE / LINE).for_each(|l| self.mem.dc(op, line_addr(l)));
            }
        }
        if self.s.policy == LegacyPolicy::Uncached {
            self.mem.set_cacheable(false);
            self.pte.fill(PageState::Writable);
        }
        assert_eq!(self.pte, self.states(), "mapping and state agree at mmap");
    }

    fn states(&self) -> Vec<PageState> {
        (0..PAGES).map(|p| self.legacy.state(p).unwrap()).collect()
    }

    fn play(&mut self, op: LOp) -> Result<(), LFailure> {
        match op {
            LOp::ARead(pick) => {
                let (s, e) = pick.within(0, SIZE);
                self.a_read(s, e)
            }
            LOp::AWrite(pick) => {
                let (s, e) = pick.within(0, SIZE);
                let n = self.s.n;
                let b_open = self.b.current().is_some();
                let bytes: Vec<usize> = (s..e)
                    .filter(|i| !(b_open && (n.0..n.1).contains(i)))
                    .collect();
                self.a_write(&bytes)
            }
            LOp::BStart(rw) => self.b_start(if rw { Dir::ReadWrite } else { Dir::Write }),
            LOp::BWrite(pick) => {
                if self.b.holds_write() {
                    let (s, e) = pick.within(self.s.n.0, self.s.n.1);
                    let v = self.next_stamp();
                    for i in s..e {
                        self.mem.cpu_store(i, v);
                        self.truth[i] = v;
                    }
                }
                Ok(())
            }
            LOp::BEnd => self.b_end(),
            LOp::DevRead(pick) => {
                let (s, e) = pick.map_or((0, SIZE), |p| p.within(0, SIZE));
                self.submit(Job::Read(s, e))
            }
            LOp::DevWrite(pick) => {
                let (s, e) = pick.map_or((0, SIZE), |p| p.within(0, SIZE));
                self.submit(Job::Write(s, e))
            }
            LOp::DevDone => match self.pending.pop_front() {
                Some(job) => self.execute(job),
                None => Ok(()),
            },
            LOp::Evict(i) => {
                self.mem.evict(usize::from(i) % (SIZE / LINE));
                Ok(())
            }
            LOp::Fill(i) => {
                self.mem.speculative_fill(usize::from(i) % (SIZE / LINE));
                Ok(())
            }
        }
    }

    fn finish(&mut self) -> Result<(), LFailure> {
        self.complete_all()?;
        self.b_end()?;
        self.submit(Job::Read(0, SIZE))?;
        assert_eq!(self.pending.len(), 1, "the final read was not refused");
        self.complete_all()?;
        self.a_read(0, SIZE)
    }

    // --- A: the legacy mapping -------------------------------------------------------

    fn a_read(&mut self, s: usize, e: usize) -> Result<(), LFailure> {
        for i in s..e {
            self.access(i / PAGE, false)?;
            let got = self.mem.cpu_load(i);
            self.check(LFailureKind::CpuRead, i, got)?;
            self.stats.cpu_checks += 1;
        }
        Ok(())
    }

    fn a_write(&mut self, bytes: &[usize]) -> Result<(), LFailure> {
        if bytes.is_empty() {
            return Ok(());
        }
        let v = self.next_stamp();
        for &i in bytes {
            self.access(i / PAGE, true)?;
            self.mem.cpu_store(i, v);
            self.truth[i] = v;
        }
        Ok(())
    }

    /// Makes `pte[page]` allow the access, taking faults as the MMU would.
    fn access(&mut self, page: usize, write: bool) -> Result<(), LFailure> {
        for _ in 0..4 {
            let allowed = match self.pte[page] {
                PageState::Unmapped => false,
                PageState::ReadOnly => !write,
                PageState::Writable => true,
            };
            if allowed {
                return Ok(());
            }
            self.fault(page, write)?;
        }
        Err(self.protocol("the fault handler never let the access through"))
    }

    fn fault(&mut self, page: usize, write: bool) -> Result<(), LFailure> {
        self.stats.faults += 1;
        let busy = !self.pending.is_empty();
        let boundary_dirty = self.m != LegacyMutation::RefaultIgnoresBoundaryDirty
            && self
                .bd
                .may_be_dirty(GEOM, (page * PAGE) as u64, PAGE as u64);
        let others = self.b.holds_write() || boundary_dirty;
        match self.m.on_fault(&mut self.legacy, page, write, busy, others) {
            FaultAction::WaitDevice => {
                self.stats.waits += 1;
                self.complete_all()?;
            }
            FaultAction::Map {
                maintenance,
                writable,
            } => {
                if let Some(op) = maintenance {
                    for l in page * PAGE / LINE..(page + 1) * PAGE / LINE {
                        self.mem.dc(op, line_addr(l));
                    }
                    self.stats.civac_maps += u64::from(op == CacheOp::CleanInvalidate);
                }
                self.pte[page] = if writable {
                    PageState::Writable
                } else {
                    PageState::ReadOnly
                };
            }
            FaultAction::Upgrade => {
                self.stats.upgrades += 1;
                self.pte[page] = PageState::Writable;
            }
            FaultAction::Retry => {}
            FaultAction::Illegal => return Err(self.protocol("a legal access was Illegal")),
        }
        self.consistent()
    }

    /// Unmutated, the runner's page table is exactly the crate's state, and the crate
    /// lists exactly the mapped pages as touched.
    fn consistent(&self) -> Result<(), LFailure> {
        if self.m == LegacyMutation::None && self.pte != self.states() {
            return Err(self.protocol("page table and LegacyPages disagree"));
        }
        if !self.legacy.touched_is_exact() {
            return Err(self.protocol("touched pages and page states disagree"));
        }
        Ok(())
    }

    // --- B: the direct path ----------------------------------------------------------

    fn b_request(&self, phase: Phase, dir: Dir) -> SyncRequest {
        let (n0, n1) = self.s.n;
        SyncRequest {
            phase,
            dir,
            offset: n0 as u64,
            len: (n1 - n0) as u64,
            size: SIZE as u64,
            policy: self.s.policy.mapping(),
            device_coherent: false,
            may_write: true,
        }
    }

    fn b_start(&mut self, dir: Dir) -> Result<(), LFailure> {
        if self.b.current().is_some() {
            return Ok(());
        }
        let region = self.b_region();
        let stale = self.bd.may_be_stale(GEOM, region, false);
        let planned = match self.m {
            LegacyMutation::StartWriteAfterDeviceWriteNotRw => dir,
            _ => effective_dir(Phase::Start, dir, stale),
        };
        let req = self.b_request(Phase::Start, planned);
        let plan = plan_sync(&req).expect("valid request");
        self.b.start(dir).expect("B was idle");
        if plan.wait_fences != FenceWait::None {
            self.complete_all()?;
        }
        let work = self.bd.sync(GEOM, plan.op.map(|p| p.0), region, false);
        if let Work::Pieces(p) = &work {
            let pieces: Vec<_> = p.iter(&self.bd).collect();
            for (op, o, l) in pieces {
                let guarded = if self.m == LegacyMutation::DirectStartIgnoresLegacy {
                    op
                } else {
                    self.legacy.direct_start_op(op)
                };
                self.stats.guarded += u64::from(guarded != op);
                self.maintain(guarded, o, l);
            }
        }
        self.bd.start_done(&work);
        Ok(())
    }

    fn b_end(&mut self) -> Result<(), LFailure> {
        let Some(dir) = self.b.current() else {
            return Ok(());
        };
        let plan = plan_sync(&self.b_request(Phase::End, dir)).expect("valid request");
        self.b.end(dir).expect("B was started");
        let work = self
            .bd
            .sync(GEOM, plan.op.map(|p| p.0), self.b_region(), false);
        self.apply(&work);
        Ok(())
    }

    fn b_region(&self) -> Region {
        let (n0, n1) = self.s.n;
        Region::range(n0 as u64, (n1 - n0) as u64)
    }

    fn maintain(&mut self, op: CacheOp, offset: u64, len: u64) {
        let runs = mm::cache::plan(GEOM, op, BASE + offset, len).expect("far below 2^64");
        self.mem.apply(&runs);
    }

    fn apply(&mut self, work: &Work) {
        match work {
            Work::None => {}
            Work::Region(op, r) => {
                for row in 0..r.rows {
                    self.maintain(*op, r.offset + row * r.stride, r.row_len);
                }
            }
            Work::Pieces(p) => {
                let pieces: Vec<_> = p.iter(&self.bd).collect();
                for (op, o, l) in pieces {
                    self.maintain(op, o, l);
                }
            }
        }
    }

    // --- the device ------------------------------------------------------------------

    fn submit(&mut self, job: Job) -> Result<(), LFailure> {
        let writes = matches!(job, Job::Write(..));
        let verdict = if writes {
            plan_device_write_handover(self.b.is_started())
        } else {
            plan_device_handover(self.b.holds_write())
        };
        if verdict != Handover::Ready {
            self.stats.refused += 1;
            return Ok(());
        }
        let plan = self.m.on_device_submit(&mut self.legacy, writes);
        if plan.zap {
            self.stats.zaps += 1;
            self.pte.fill(PageState::Unmapped);
        }
        if !plan.clean_pages.windows(2).all(|w| w[0] < w[1]) {
            return Err(self.protocol("clean_pages not ascending"));
        }
        // As the kernel does: the written pages join the boundary's dirty lines, and the
        // submission's clean below takes those the device touches.
        for &p in &plan.clean_pages {
            self.stats.cleaned_pages += 1;
            self.bd.mark_dirty(GEOM, (p * PAGE) as u64, PAGE as u64);
        }
        self.consistent()?;
        if self.s.policy == LegacyPolicy::Fault {
            let (s, e) = match job {
                Job::Read(s, e) | Job::Write(s, e) => (s as u64, e as u64),
            };
            let generation = self.bd.generation();
            let work = if writes {
                self.bd.device_write(GEOM, s, e - s)
            } else {
                self.bd.device_read(GEOM, Region::range(s, e - s))
            };
            if self.m != LegacyMutation::NoBoundaryCleanAtSubmit {
                self.apply(&work);
            }
            if writes {
                // Marked at submission: B's START decides before it waits the fence.
                self.bd.device_write_done(GEOM, &work, generation, s, e - s);
            } else {
                self.bd.device_read_done(&work, generation);
            }
        }
        self.pending.push_back(job);
        Ok(())
    }

    fn complete_all(&mut self) -> Result<(), LFailure> {
        while let Some(job) = self.pending.pop_front() {
            self.execute(job)?;
        }
        Ok(())
    }

    fn execute(&mut self, job: Job) -> Result<(), LFailure> {
        match job {
            Job::Read(s, e) => {
                for i in s..e {
                    let got = self.mem.device_read(i);
                    self.check(LFailureKind::DeviceRead, i, got)?;
                    self.stats.device_checks += 1;
                }
            }
            Job::Write(s, e) => {
                let v = self.next_stamp();
                for i in s..e {
                    self.mem.device_write(i, v);
                    self.truth[i] = v;
                }
            }
        }
        Ok(())
    }

    // --- bookkeeping -----------------------------------------------------------------

    fn next_stamp(&mut self) -> u8 {
        self.stamp = self
            .stamp
            .checked_add(1)
            .expect("at most 255 writes per scenario");
        self.stamp
    }

    fn check(&self, kind: LFailureKind, offset: usize, got: u8) -> Result<(), LFailure> {
        let expected = self.truth[offset];
        if got == expected {
            Ok(())
        } else {
            Err(LFailure {
                step: self.step,
                kind,
                offset,
                expected,
                got,
            })
        }
    }

    fn protocol(&self, what: &'static str) -> LFailure {
        LFailure {
            step: self.step,
            kind: LFailureKind::Protocol(what),
            offset: 0,
            expected: 0,
            got: 0,
        }
    }
}

fn line_addr(line: usize) -> u64 {
    BASE + (line * LINE) as u64
}
