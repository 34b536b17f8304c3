//! Maintenance by set/way. An operand names one set of one way of one level of the
//! issuing CPU's caches; without a capacity model the model does not know which way
//! holds a line, so it treats an operation on any way of a set as covering the whole
//! set, and a line as covered once its set is covered at every level up to the point
//! of coherency (it may sit in any of them). The operations take effect at the next
//! completing `DSB` (which the architecture requires before their effects are
//! guaranteed), one scan over the CPU's lines for all of them.
//!
//! Set/way operations are local to the CPU: with more than one CPU they do not remove
//! copies other CPUs may hold, so they never drop stale bytes then.

use crate::lines::bits;
use crate::model::Model;
use crate::violation::{Actor, Kind, Writer};
use crate::{Origin, SetWayOp};

impl Model {
    /// Apply CPU `cpu`'s pending set/way operations.
    pub(crate) fn apply_set_way(&mut self, cpu: usize) {
        let Some(pending) = self.pending_set_way.get_mut(cpu) else {
            return;
        };
        if pending.is_empty() {
            return;
        }
        let ops = std::mem::take(pending);
        let levels = self.cfg.geometry.levels.clone();
        // Per level: sets covered by a clean, by an invalidate.
        let mut clean: Vec<Vec<bool>> = levels
            .iter()
            .map(|l| vec![false; l.sets as usize])
            .collect();
        let mut inval = clean.clone();
        let mut last = Origin::default();
        for (op, operand, origin) in &ops {
            last = *origin;
            let Some(l) = usize::from(operand.level).checked_sub(1) else {
                continue;
            };
            let Some(sets) = clean.get_mut(l) else {
                continue;
            };
            let Some(set) = sets.get_mut(operand.set as usize) else {
                continue;
            };
            if *op != SetWayOp::Invalidate {
                *set = true;
            }
            if *op != SetWayOp::Clean {
                inval[l][operand.set as usize] = true;
            }
        }
        let covered = |cover: &Vec<Vec<bool>>, pa: u64| {
            levels
                .iter()
                .zip(cover)
                .all(|(level, sets)| sets[level.set_of(pa) as usize])
        };
        let single_cpu = self.cfg.cpus == 1;
        for i in 0..self.lines.count() {
            let dirty_here = self.lines.dirty_cpu(i) == Some(cpu as u8);
            let stale = self.lines.stale[i] != 0;
            if !(dirty_here || stale && single_cpu) {
                continue;
            }
            let pa = self.lines.address(i);
            let cleaned = dirty_here && covered(&clean, pa);
            let dropped = covered(&inval, pa);
            if cleaned {
                let l = &mut self.lines;
                if l.stale[i] != 0 {
                    l.state[i] |= bits::LOST;
                }
                l.dirty[i] = 0;
                l.state[i] &= !bits::DIVERGED;
                l.maint[i] += (1 << 32) + 1;
                self.snapshot(i, u64::MAX);
            } else if dirty_here && dropped {
                let w = Writer::CpuStore(Origin::unpack(self.lines.writer[i]));
                let bytes = self.lines.dirty[i];
                self.report(
                    i,
                    Kind::InvalidateDamage,
                    bytes,
                    Actor::Cpu {
                        origin: last,
                        va: 0,
                    },
                    Some(w),
                    "DC ISW discarded bytes dirty in the cache",
                );
                self.lines.dirty[i] = 0;
                self.lines.state[i] |= bits::DIVERGED;
            }
            let l = &mut self.lines;
            if dropped && single_cpu && l.stale[i] != 0 && l.state[i] & bits::LOST == 0 {
                let writing = l.state[i] & bits::INFLIGHT != 0
                    && l.inflight.get(&i).is_some_and(|f| f.writes > 0);
                if !writing {
                    l.stale[i] = 0;
                    l.maint[i] += (1 << 32) + 1;
                }
            }
        }
    }
}
