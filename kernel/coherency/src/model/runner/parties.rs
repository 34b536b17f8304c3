//! The runner's non-CPU parties: device submissions (with the clean the boundary
//! plans for them), U's uncached mapping, and the exactness checks.

use mm::cache::{self, CacheOp};

use super::{Job, Runner};
use crate::model::cache::LINE;
use crate::model::exact::Shadow;
use crate::model::mutation::Mutation;
use crate::model::scenario::{Failure, FailureKind, BASE, GEOM, SIZE};
use crate::{Handover, Region};

impl<const N: usize> Runner<'_, N> {
    /// The exactness checks after one sync or submission that executed `lines` lines
    /// where the rules name `want`: the count, then both sets against the oracle's.
    pub(super) fn exact_check(
        &self,
        lines: u64,
        want: u64,
        what: &'static str,
    ) -> Result<(), Failure> {
        let why = if lines != want {
            Some(what)
        } else if !Shadow::equals(&self.shadow.dirty, self.bd.dirty()) {
            Some("dirty set")
        } else if !Shadow::equals(&self.shadow.stale, self.bd.stale()) {
            Some("stale set")
        } else {
            None
        };
        match why {
            None => Ok(()),
            Some(why) => Err(Failure {
                step: self.step,
                kind: FailureKind::Inexact(why),
                offset: 0,
                expected: want.min(255) as u8,
                got: lines.min(255) as u8,
            }),
        }
    }

    /// A device submission, if the kernel's hand-over check lets it go: the clean of
    /// the dirty lines it touches, the boundary's bookkeeping, then queued.
    pub(super) fn submit(&mut self, job: Job) -> Result<(), Failure> {
        let write_held = self.a.access.holds_write() || self.b.access.holds_write();
        let started = self.a.access.is_started() || self.b.access.is_started();
        let writes = matches!(job, Job::Write(..));
        if self.m.handover(writes, write_held, started) != Handover::Ready {
            self.stats.refused += u64::from(write_held);
            self.stats.refused_writes += u64::from(!write_held);
            return Ok(());
        }
        if self.maintained {
            let (s, e) = match job {
                Job::Read(s, e) | Job::Write(s, e) => (s, e),
            };
            let (o, l) = (s as u64, (e - s) as u64);
            let generation = self.bd.generation();
            let work = if writes {
                self.bd.device_write(GEOM, o, l)
            } else {
                self.bd.device_read(GEOM, Region::range(o, l))
            };
            let skip = match self.m {
                Mutation::NoCleanBeforeDeviceWrite => writes,
                Mutation::NoCleanAtDeviceRead => !writes,
                _ => false,
            };
            let lines = if skip { 0 } else { self.apply(&work) };
            self.stats.submit_cleans += lines;
            if writes && self.m.invalidates_at_device_write() {
                let plan = cache::plan(GEOM, CacheOp::CleanInvalidate, BASE, SIZE as u64);
                self.mem.apply(&plan.unwrap());
            }
            match (self.m, writes) {
                (Mutation::NoClearDirty, true) => self.bd.mark_stale(GEOM, o, l),
                (Mutation::NoClearDirty, false) => {}
                (Mutation::NoStaleMark, true) => self.bd.device_read_done(&work, generation),
                (_, true) => self.bd.device_write_done(GEOM, &work, generation, o, l),
                (_, false) => self.bd.device_read_done(&work, generation),
            }
            if self.exact {
                let want = Shadow::count(&self.shadow.dirty, s, e);
                Shadow::set(&mut self.shadow.dirty, s, e, false);
                if writes {
                    Shadow::set(&mut self.shadow.stale, s, e, true);
                }
                self.exact_check(lines, want, "submission")?;
            }
        }
        self.pending.push_back(job);
        Ok(())
    }

    /// U's mapping appears: the exporter's clean+invalidate of the range (whatever the
    /// devices: no line of the cacheable alias may shadow it), its lines now clean.
    pub(super) fn u_map(&mut self) {
        if self.u_mapped {
            return;
        }
        self.u_mapped = true;
        if self.m != Mutation::UncachedMapNoCleanInvalidate {
            let plan = cache::plan(GEOM, CacheOp::CleanInvalidate, BASE, SIZE as u64);
            self.mem.apply(&plan.unwrap());
            self.bd.cleaned(GEOM, 0, SIZE as u64);
            self.shadow.dirty = Default::default();
        }
    }

    /// U's mapping goes: everything it may have written is stale for the cache.
    pub(super) fn u_unmap(&mut self) -> Result<(), Failure> {
        if !self.u_mapped {
            return Ok(());
        }
        self.u_mapped = false;
        if self.m != Mutation::UncachedUnmapNoStale {
            self.bd.mark_stale(GEOM, 0, SIZE as u64);
            self.shadow.stale = [true; SIZE / LINE];
        }
        if self.exact {
            self.exact_check(0, 0, "uncached unmap")?;
        }
        Ok(())
    }

    /// U loads `[s, e)`, unless a holder holds write access (its bytes are not ENDed).
    pub(super) fn u_read(&mut self, s: usize, e: usize) -> Result<(), Failure> {
        let held = self.a.access.holds_write() || self.b.access.holds_write();
        if !self.u_mapped || held {
            return Ok(());
        }
        for i in s..e {
            let got = self.mem.uncached_load(i);
            self.check(FailureKind::UncachedRead, i, got)?;
            self.stats.uncached_checks += 1;
        }
        Ok(())
    }
}
