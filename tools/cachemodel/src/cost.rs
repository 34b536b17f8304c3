//! A memory-cost model: what the event stream would cost on a Cortex-A72 memory system,
//! in cycles added to the instruction count (**modeled cycles = instructions +
//! penalties**). It implements [`Observer`], so the sanitizer feeds it the same events
//! as the coherency [`crate::Model`], which it neither reads nor changes.
//!
//! Unlike the coherency model (no capacity, worst case), this model has capacity: a
//! set-associative L1D per CPU and one shared L2 with the geometry of
//! [`Geometry::cortex_a72`], write-back and write-allocate for Normal write-back
//! memory (with the A72's write streaming for store streams), L2 inclusive of every
//! L1D, LRU replacement in both levels. Per access:
//!
//! | event | penalty (see [`Params`]) | counted as |
//! |---|---|---|
//! | cacheable load/store, L1D hit | `l1_hit` | `l1_hits` |
//! | L1D miss, L2 hit (or another L1D holds it: snoop through the SCU) | `l2_hit` | `l2_hits` / `snoops` |
//! | L2 miss: line fill from DRAM | `dram` | `dram_fills` |
//! | `DC ZVA` (a whole-line store) missing L2 | 0: allocated without a fill | `zero_allocs` |
//! | store miss, from the `ws_l1`th consecutive ascending line on (write streaming) | 0: no fill, no L1D allocation, written into L2 dirty; further stores to the line merge | `stream_l2`, `stream_merged` |
//! | the same from the `ws_l2`th line on | `wb`: not allocated in L2 either, written to DRAM | `stream_dram` |
//! | dirty line evicted from L2 (with its L1D copies: inclusion) | `wb` | `evict_writebacks` |
//! | dirty line evicted from L1D into L2 | 0 (the L2 holds it) | `l1_writebacks` |
//! | `DC CVAC`/`CIVAC` (broadcast) of a line dirty anywhere | `maint` + `wb` | `clean_writebacks` |
//! | `DC CVAC`/`CIVAC` of a clean or absent line | `maint` | `clean_nothing` |
//! | `DC IVAC` | `maint` (dirty bytes are dropped: the sanitizer's business) | `invalidates` |
//! | `DC CSW/ISW/CISW` | `maint` (+ `wb` for a dirty L2 line; an L1D line goes to L2) | `set_way` |
//! | Normal-NC or Device load of RAM | `dram`, every load | `nc_loads` |
//! | Normal-NC store | `wb` per burst: stores gather in `wc_lines` per-CPU buffers of one 64-byte line each (the oldest closes when one more line is needed; a `DSB` closes all) | `wc_bursts`, `wc_merged` |
//! | Device store | `wb` each (Device-nGnRE does not gather) | `device_stores` |
//! | Normal write-through store | as a Normal-NC store (the cached copy, if any, is updated) | `wt_stores` |
//! | device DMA | 0: devices do not snoop (non-coherent, as the sanitizer assumes) | `device_read_lines` / `device_write_lines` |

mod cache;
mod counts;
mod params;
#[cfg(test)]
mod tests;

pub use counts::{Events, Penalties, Units};
pub use params::Params;

use crate::event::{DcOp, DevCmd, MemType, Observer, Origin, SetWayOp, SetWayOperand};
use crate::geometry::Geometry;
use cache::{Cache, Way, INVALID};
use std::collections::VecDeque;

/// A CPU's store-miss sequence (write streaming).
#[derive(Clone, Copy, Debug)]
struct Stream {
    /// The line of the last store miss.
    last: u64,
    /// Consecutive ascending lines missed by stores, `last` included.
    run: u64,
    /// The line being written in streaming mode: further stores to it merge.
    open: Option<u64>,
}

/// The memory-cost model.
pub struct CostModel {
    params: Params,
    l1: Vec<Cache>,
    l2: Cache,
    /// Per CPU: lines with an open write-combining buffer, oldest first.
    wc: Vec<VecDeque<u64>>,
    /// Per CPU: the charges so far.
    per_cpu: Vec<Units>,
    /// Per CPU: write streaming.
    stream: Vec<Stream>,
    events: Events,
    penalties: Penalties,
    line: u64,
}

/// Which parameter prices a charge.
#[derive(Clone, Copy)]
enum Unit {
    L1,
    L2,
    Dram,
    Wb,
    Maint,
}

/// Which [`Penalties`] field a charge goes to.
#[derive(Clone, Copy)]
enum Cause {
    Hit,
    Fill,
    NcLoad,
    Evict,
    Clean,
    NcStore,
    Maint,
    Stream,
}

impl CostModel {
    /// `cpus` CPUs with the caches of `geometry` (its first two levels: L1D per CPU,
    /// shared L2), every cache empty.
    pub fn new(cpus: usize, geometry: &Geometry, params: Params) -> CostModel {
        let cpus = cpus.max(1);
        let l1 = geometry.level(1).copied().expect("an L1D");
        let l2 = geometry.level(2).copied().expect("an L2");
        assert_eq!(l1.line, l2.line, "one line size");
        CostModel {
            params,
            l1: (0..cpus).map(|_| Cache::new(l1)).collect(),
            l2: Cache::new(l2),
            wc: vec![VecDeque::new(); cpus],
            per_cpu: vec![Units::default(); cpus],
            stream: vec![
                Stream {
                    last: u64::MAX,
                    run: 0,
                    open: None,
                };
                cpus
            ],
            events: Events::default(),
            penalties: Penalties::default(),
            line: l1.line,
        }
    }

    /// The parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Event counts so far.
    pub fn events(&self) -> &Events {
        &self.events
    }

    /// Penalty cycles so far, by cause.
    pub fn penalties(&self) -> &Penalties {
        &self.penalties
    }

    /// Penalty cycles charged to `cpu` so far (the cumulative figure a timed window
    /// subtracts).
    pub fn cpu_penalty(&self, cpu: usize) -> u64 {
        self.cpu_units(cpu).penalty(&self.params)
    }

    /// The charges made to `cpu` so far, by parameter: its penalty under any other
    /// latencies is [`Units::penalty`] of these (the caches' behaviour does not depend
    /// on the latencies, only on `wc_lines`).
    pub fn cpu_units(&self, cpu: usize) -> Units {
        self.per_cpu.get(cpu).copied().unwrap_or_default()
    }

    fn cpu(&self, origin: Origin) -> usize {
        usize::from(origin.cpu).min(self.l1.len() - 1)
    }

    fn charge(&mut self, cpu: usize, cause: Cause, unit: Unit) {
        let u = &mut self.per_cpu[cpu];
        let (count, cycles) = match unit {
            Unit::L1 => (&mut u.l1_hit, self.params.l1_hit),
            Unit::L2 => (&mut u.l2_hit, self.params.l2_hit),
            Unit::Dram => (&mut u.dram, self.params.dram),
            Unit::Wb => (&mut u.wb, self.params.wb),
            Unit::Maint => (&mut u.maint, self.params.maint),
        };
        *count += 1;
        let p = &mut self.penalties;
        *match cause {
            Cause::Hit => &mut p.hits,
            Cause::Fill => &mut p.fills,
            Cause::NcLoad => &mut p.nc_loads,
            Cause::Evict => &mut p.evictions,
            Cause::Clean => &mut p.cleans,
            Cause::NcStore => &mut p.nc_stores,
            Cause::Maint => &mut p.maint,
            Cause::Stream => &mut p.streams,
        } += cycles;
    }

    /// Mark the L2 copy of `line` dirty (inclusion: an L1D line is in L2).
    fn l2_dirty(&mut self, line: u64) {
        if let Some(k) = self.l2.find(line) {
            self.l2.ways[k].dirty = true;
        }
    }

    /// Whether `line` is dirty in any cache.
    fn dirty_anywhere(&self, line: u64) -> bool {
        let in_l1 = self
            .l1
            .iter()
            .any(|c| c.find(line).is_some_and(|i| c.ways[i].dirty));
        in_l1 || self.l2.find(line).is_some_and(|k| self.l2.ways[k].dirty)
    }

    /// Drop `line` from every cache; whether it was dirty anywhere.
    fn drop_everywhere(&mut self, line: u64) -> bool {
        let mut dirty = false;
        for c in &mut self.l1 {
            dirty |= c.remove(line).is_some_and(|w| w.dirty);
        }
        dirty | self.l2.remove(line).is_some_and(|w| w.dirty)
    }

    /// Mark `line` clean in every cache.
    fn clean_everywhere(&mut self, line: u64) {
        for c in self.l1.iter_mut().chain(std::iter::once(&mut self.l2)) {
            if let Some(i) = c.find(line) {
                c.ways[i].dirty = false;
            }
        }
    }

    /// A cacheable access by `cpu` to `line`; `full` for a whole-line store.
    fn access(&mut self, cpu: usize, line: u64, store: bool, full: bool) {
        if let Some(i) = self.l1[cpu].find(line) {
            self.l1[cpu].touch(i);
            self.events.l1_hits += 1;
            self.charge(cpu, Cause::Hit, Unit::L1);
            if store {
                self.l1[cpu].ways[i].dirty = true;
                self.drop_from_other_l1(cpu, line);
            }
            return;
        }
        if store && !full {
            if self.stream_store(cpu, line) {
                return;
            }
        } else if !store {
            self.stream[cpu].run = 0; // a linefill for a load ends a store stream
        }
        // Other cores' copies (the SCU's duplicate tags): a dirty one is written into
        // L2 and served from there; a store takes the line from them.
        let mut snooped = false;
        for o in 0..self.l1.len() {
            if o == cpu {
                continue;
            }
            if let Some(j) = self.l1[o].find(line) {
                if self.l1[o].ways[j].dirty {
                    snooped = true;
                    self.l1[o].ways[j].dirty = false;
                    self.l2_dirty(line);
                }
                if store {
                    self.l1[o].remove(line);
                }
            }
        }
        match self.l2.find(line) {
            Some(k) => {
                self.l2.touch(k);
                if snooped {
                    self.events.snoops += 1;
                } else {
                    self.events.l2_hits += 1;
                }
                self.charge(cpu, Cause::Hit, Unit::L2);
            }
            None => {
                if full {
                    self.events.zero_allocs += 1;
                } else {
                    self.events.dram_fills += 1;
                    self.charge(cpu, Cause::Fill, Unit::Dram);
                }
                let (_, victim) = self.l2.insert(line, false);
                if let Some(v) = victim {
                    self.evict_l2(cpu, v);
                }
            }
        }
        let (_, victim) = self.l1[cpu].insert(line, store);
        if let Some(v) = victim.filter(|v| v.dirty) {
            self.events.l1_writebacks += 1;
            self.l2_dirty(v.tag);
        }
    }

    /// A store by `cpu` missing L1D on `line`: write streaming (TRM: after a number of
    /// consecutive full-line writes the core stops allocating). Stores that miss on
    /// consecutive ascending lines count as a stream; from the `ws_l1`th line on, the
    /// line is written without a fill and without an L1D allocation (into L2, dirty), and
    /// from the `ws_l2`th on not allocated in L2 either (a write to DRAM). Further stores
    /// to the line being streamed merge. Returns whether the store was handled so.
    fn stream_store(&mut self, cpu: usize, line: u64) -> bool {
        let p = self.params;
        let s = &mut self.stream[cpu];
        if s.open == Some(line) {
            self.events.stream_merged += 1;
            return true;
        }
        s.run = if s.last.checked_add(self.line) == Some(line) {
            s.run + 1
        } else {
            1
        };
        s.last = line;
        if p.ws_l1 == 0 || s.run < p.ws_l1 {
            s.open = None;
            return false;
        }
        s.open = Some(line);
        let to_dram = p.ws_l2 > 0 && s.run >= p.ws_l2;
        self.drop_from_other_l1(cpu, line);
        match self.l2.find(line) {
            Some(k) => {
                self.l2.touch(k);
                self.l2.ways[k].dirty = true;
                self.events.stream_l2 += 1;
            }
            None if to_dram => {
                self.events.stream_dram += 1;
                self.charge(cpu, Cause::Stream, Unit::Wb);
            }
            None => {
                self.events.stream_l2 += 1;
                let (_, victim) = self.l2.insert(line, true);
                if let Some(v) = victim {
                    self.evict_l2(cpu, v);
                }
            }
        }
        true
    }

    fn drop_from_other_l1(&mut self, cpu: usize, line: u64) {
        for o in 0..self.l1.len() {
            if o != cpu && self.l1[o].remove(line).is_some_and(|w| w.dirty) {
                self.l2_dirty(line);
            }
        }
    }

    /// `v` left L2: its L1D copies go too (inclusion); dirty anywhere: a write-back.
    fn evict_l2(&mut self, cpu: usize, v: Way) {
        self.events.l2_evictions += 1;
        let mut dirty = v.dirty;
        for c in &mut self.l1 {
            dirty |= c.remove(v.tag).is_some_and(|w| w.dirty);
        }
        if dirty {
            self.events.evict_writebacks += 1;
            self.charge(cpu, Cause::Evict, Unit::Wb);
        }
    }

    /// A Normal-NC store by `cpu` to `line`: gathered if a buffer holds the line.
    fn combine(&mut self, cpu: usize, line: u64) {
        let wc = &mut self.wc[cpu];
        if wc.contains(&line) {
            self.events.wc_merged += 1;
            return;
        }
        if wc.len() as u64 >= self.params.wc_lines {
            wc.pop_front();
        }
        if self.params.wc_lines > 0 {
            wc.push_back(line);
        }
        self.events.wc_bursts += 1;
        self.charge(cpu, Cause::NcStore, Unit::Wb);
    }
}

impl Observer for CostModel {
    fn load(&mut self, origin: Origin, pa: u64, _va: u64, _size: u64, mem: MemType) {
        let cpu = self.cpu(origin);
        if mem.cacheable() {
            self.access(cpu, pa & !(self.line - 1), false, false);
        } else {
            self.events.nc_loads += 1;
            self.charge(cpu, Cause::NcLoad, Unit::Dram);
        }
    }

    fn store(&mut self, origin: Origin, pa: u64, _va: u64, size: u64, mem: MemType) {
        let cpu = self.cpu(origin);
        let line = pa & !(self.line - 1);
        match mem {
            MemType::WriteBack => self.access(cpu, line, true, size >= self.line),
            MemType::NonCacheable => {
                self.events.nc_stores += 1;
                self.combine(cpu, line);
            }
            MemType::WriteThrough => {
                self.events.wt_stores += 1;
                self.combine(cpu, line);
            }
            MemType::Device => {
                self.events.device_stores += 1;
                self.charge(cpu, Cause::NcStore, Unit::Wb);
            }
        }
    }

    fn dc_va(&mut self, origin: Origin, op: DcOp, pa: u64, _va: u64) {
        let cpu = self.cpu(origin);
        let line = pa & !(self.line - 1);
        self.charge(cpu, Cause::Maint, Unit::Maint);
        if op.cleans() {
            if self.dirty_anywhere(line) {
                self.events.clean_writebacks += 1;
                self.charge(cpu, Cause::Clean, Unit::Wb);
                self.clean_everywhere(line);
            } else {
                self.events.clean_nothing += 1;
            }
        } else {
            self.events.invalidates += 1;
        }
        if op.invalidates() {
            self.drop_everywhere(line);
        }
    }

    fn dc_set_way(&mut self, origin: Origin, op: SetWayOp, operand: SetWayOperand) {
        let cpu = self.cpu(origin);
        self.events.set_way += 1;
        self.charge(cpu, Cause::Maint, Unit::Maint);
        let cleans = matches!(op, SetWayOp::Clean | SetWayOp::CleanInvalidate);
        let invalidates = matches!(op, SetWayOp::Invalidate | SetWayOp::CleanInvalidate);
        match operand.level {
            1 => {
                let c = &mut self.l1[cpu];
                let Some(i) = c.slot(operand.set, operand.way) else {
                    return;
                };
                let w = c.ways[i];
                if w.tag == INVALID {
                    return;
                }
                if cleans && w.dirty {
                    c.ways[i].dirty = false;
                    self.l2_dirty(w.tag);
                }
                if invalidates {
                    let c = &mut self.l1[cpu];
                    c.ways[i].tag = INVALID;
                    c.ways[i].dirty = false;
                }
            }
            2 => {
                let Some(k) = self.l2.slot(operand.set, operand.way) else {
                    return;
                };
                let tag = self.l2.ways[k].tag;
                if tag == INVALID {
                    return;
                }
                if cleans && self.dirty_anywhere(tag) {
                    self.events.set_way_writebacks += 1;
                    self.charge(cpu, Cause::Clean, Unit::Wb);
                    self.clean_everywhere(tag);
                }
                if invalidates {
                    self.drop_everywhere(tag);
                }
            }
            _ => {}
        }
    }

    fn dsb(&mut self, origin: Origin, _completes_maintenance: bool) {
        let cpu = self.cpu(origin);
        self.wc[cpu].clear();
    }

    fn device_read_begin(&mut self, _cmd: DevCmd, pa: u64, len: u64) {
        self.events.device_read_lines += crate::line_pieces(pa, len).count() as u64;
    }

    fn device_read_end(&mut self, _cmd: DevCmd, _pa: u64, _len: u64) {}

    fn device_write_begin(&mut self, _cmd: DevCmd, pa: u64, len: u64) {
        self.events.device_write_lines += crate::line_pieces(pa, len).count() as u64;
    }

    fn device_write_end(&mut self, _cmd: DevCmd, _pa: u64, _len: u64) {}
}
