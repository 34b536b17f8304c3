//! The coherency model: the rules that turn events into line states, violations and
//! counters. CPU-side events are here; device events, set/way maintenance and the
//! end-of-run summary are in `device.rs` and `setway.rs`.
//!
//! Per line the model keeps the bytes newer in a CPU cache than in RAM (`dirty`, with
//! the CPU and the last store) and the bytes newer in RAM than any cached copy could be
//! (`stale`, with who wrote them). The rules, with "may" meaning "at a time the kernel
//! does not control" (evictions and speculative fills):
//!
//! | event | checks | effect |
//! |---|---|---|
//! | cacheable load | stale bytes read: **stale read** (device) / **mixed** (NC store) / **lost device write** (written over) | those bytes now count as the CPU's |
//! | cacheable store | device access in flight: **device race** | bytes dirty; stale bytes stored over are no longer at risk |
//! | NC load / store | dirty bytes in the way: **mixed** | an NC store makes its bytes stale |
//! | clean (CVAC, CIVAC) | - | dirty bytes written back (complete at DSB); stale bytes left in a dirty line are now lost |
//! | invalidate (IVAC) | dirty bytes: **invalidate damage** | stale bytes dropped, unless a device write is still in flight |
//! | device read | dirty or uncompleted-clean bytes: **lost write**; lost stale bytes: **lost device write** | in flight until the end |
//! | device write | line dirty or clean pending: **lost device write** | at the end the bytes are stale |

use crate::event::{DcOp, MemType, Origin};
use crate::geometry::Geometry;
use crate::lines::{bits, Lines};
use crate::stats::Stats;
use crate::violation::{Actor, Kind, Violation, Writer};
use crate::{byte_mask, SetWayOp, SetWayOperand, LINE};

/// Violations of one signature kept in full (see [`Model::report`]).
pub const KEPT_PER_SIGNATURE: u32 = 4;

/// Read access to the guest's RAM as QEMU holds it (which, since QEMU has no caches, is
/// what the CPUs see). Needed only for snapshots (the modelled RAM contents).
pub trait Ram: Send {
    /// Read `out.len()` bytes at physical address `pa`; false if outside RAM.
    fn read(&self, pa: u64, out: &mut [u8]) -> bool;
}

/// What the model covers and how.
#[derive(Clone, Debug)]
pub struct Config {
    /// First byte of RAM (line-aligned).
    pub ram_base: u64,
    /// Bytes of RAM (a multiple of the line size).
    pub ram_size: u64,
    /// Number of CPUs (at most 64).
    pub cpus: usize,
    /// The data-cache levels (for set/way maintenance).
    pub geometry: Geometry,
    /// Keep the modelled RAM bytes of maintained lines, so [`Model::modelled_ram`] can
    /// say what a device would have read (needs a [`Ram`]).
    pub snapshots: bool,
    /// Devices snoop the caches (a coherent system): no device-side checks.
    pub coherent_devices: bool,
    /// Violations kept in full (the rest are counted).
    pub keep: usize,
}

impl Config {
    /// `cpus` CPUs over `ram_size` bytes at `ram_base`, Cortex-A72 caches, no
    /// snapshots, non-coherent devices, 64 violations kept.
    pub fn new(ram_base: u64, ram_size: u64, cpus: usize) -> Config {
        Config {
            ram_base,
            ram_size,
            cpus,
            geometry: Geometry::cortex_a72(),
            snapshots: false,
            coherent_devices: false,
            keep: 64,
        }
    }
}

/// The model.
pub struct Model {
    pub(crate) cfg: Config,
    pub(crate) lines: Lines,
    pub(crate) ram: Option<Box<dyn Ram>>,
    pub(crate) stats: Stats,
    pub(crate) kept: Vec<Violation>,
    /// How many violations of each signature (kind, actor, writer) are kept.
    kept_signatures: std::collections::HashMap<(Kind, u64, u64), u32>,
    /// Per CPU: lines written back by a clean that no completing DSB has followed yet.
    pub(crate) pending_clean: Vec<Vec<usize>>,
    /// Per CPU: set/way operations not yet applied (they take effect at a DSB).
    pub(crate) pending_set_way: Vec<Vec<(SetWayOp, SetWayOperand, Origin)>>,
    /// Clean line operations on lines with no dirty bytes.
    pub(crate) clean_not_dirty: u64,
    /// Invalidate-only line operations on lines with no stale bytes.
    pub(crate) invalidate_not_stale: u64,
}

impl Model {
    /// A model with every line invalid (empty caches, RAM authoritative).
    pub fn new(cfg: Config, ram: Option<Box<dyn Ram>>) -> Model {
        assert!((1..=64).contains(&cfg.cpus), "1 to 64 CPUs");
        let snapshots = cfg.snapshots && ram.is_some();
        let lines = Lines::new(cfg.ram_base, cfg.ram_size, snapshots);
        Model {
            pending_clean: vec![Vec::new(); cfg.cpus],
            pending_set_way: vec![Vec::new(); cfg.cpus],
            cfg,
            lines,
            ram,
            stats: Stats::default(),
            kept: Vec::new(),
            kept_signatures: std::collections::HashMap::new(),
            clean_not_dirty: 0,
            invalidate_not_stale: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Counters so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The violations kept in full, in the order found.
    pub fn violations(&self) -> &[Violation] {
        &self.kept
    }

    /// Dirty bytes of the line holding `pa` and the CPU holding them (tests, reports).
    pub fn dirty(&self, pa: u64) -> Option<(u8, u64)> {
        let i = self.lines.index(pa)?;
        self.lines.dirty_cpu(i).map(|c| (c, self.lines.dirty[i]))
    }

    /// Stale bytes of the line holding `pa` (0: none).
    pub fn stale(&self, pa: u64) -> u64 {
        self.lines.index(pa).map_or(0, |i| self.lines.stale[i])
    }

    /// Record a violation on line `i`. It is kept in full if it is the first of its
    /// kind on the line, fewer than `keep` are kept, and fewer than
    /// [`KEPT_PER_SIGNATURE`] of the same signature (kind, acting instruction or
    /// device, writing instruction or device): a missing clean over a whole frame
    /// shows as its first lines, and other problems still get room.
    pub(crate) fn report(
        &mut self,
        i: usize,
        kind: Kind,
        bytes: u64,
        actor: Actor,
        writer: Option<Writer>,
        why: &'static str,
    ) {
        self.stats.violations[kind.index()] += 1;
        let bit = 1u8 << kind.index();
        let first = self.lines.reported[i] & bit == 0;
        self.lines.reported[i] |= bit;
        let actor_sig = match actor {
            Actor::Cpu { origin, .. } => u64::from(origin.insn),
            Actor::Device(_) => 1 << 40,
            Actor::End => 1 << 41,
        };
        let writer_sig = match writer {
            Some(Writer::CpuStore(o)) => u64::from(o.insn),
            Some(Writer::NcStore(o)) => u64::from(o.insn) | 1 << 40,
            Some(Writer::Device(_)) => 1 << 41,
            None => 1 << 42,
        };
        let same = self
            .kept_signatures
            .entry((kind, actor_sig, writer_sig))
            .or_insert(0);
        if first && *same < KEPT_PER_SIGNATURE && self.kept.len() < self.cfg.keep {
            *same += 1;
            self.kept.push(Violation {
                kind,
                line: self.lines.address(i),
                bytes,
                actor,
                writer,
                why,
            });
        }
    }

    /// The line index and byte mask of an access that must not cross a line.
    #[inline]
    fn locate(&mut self, pa: u64, size: u64) -> Option<(usize, u64)> {
        match self.lines.index(pa) {
            Some(i) => {
                let off = pa % LINE;
                Some((i, byte_mask(off, size.min(LINE - off))))
            }
            None => {
                self.stats.outside += 1;
                None
            }
        }
    }

    /// A CPU access (bytes `mask`) while a device access to the line is in flight. A
    /// cacheable store races with any write in flight on the line (its write-back
    /// covers the whole line); other accesses race only on the bytes the device uses.
    fn check_inflight(
        &mut self,
        i: usize,
        origin: Origin,
        va: u64,
        mask: u64,
        store: bool,
        cacheable: bool,
    ) {
        if self.lines.state[i] & bits::INFLIGHT == 0 {
            return;
        }
        let Some(f) = self.lines.inflight.get(&i).copied() else {
            return;
        };
        let writer = Some(Writer::Device(crate::DevCmd(f.cmd)));
        let actor = Actor::Cpu { origin, va };
        let writing = f.writes > 0 && (store && cacheable || f.wmask & mask != 0);
        let reading = f.reads > 0 && f.rmask & mask != 0;
        if writing {
            let why = if store {
                "CPU store to a line a device is writing (the device's completion was not waited for)"
            } else {
                "CPU load of a line a device is writing (the device's completion was not waited for)"
            };
            self.report(i, Kind::DeviceRace, mask, actor, writer, why);
        } else if reading && store {
            self.report(
                i,
                Kind::DeviceRace,
                mask,
                actor,
                writer,
                "CPU store to a line a device is still reading (the device's completion was not waited for)",
            );
        }
    }

    /// A load that reads RAM (non-cacheable) or may hit a cached copy (cacheable) sees
    /// stale bytes `s` of line `i`: report what they miss.
    fn stale_seen(&mut self, i: usize, s: u64, actor: Actor, cacheable: bool) {
        let src = Writer::unpack(self.lines.stale_src[i]);
        let lost = self.lines.state[i] & bits::LOST != 0;
        let at_risk = self.lines.dirty[i] != 0;
        let (kind, why) = if lost {
            (
                Kind::LostDeviceWrite,
                "reads bytes a CPU write-back overwrote with older data (a store merged into a stale copy was cleaned)",
            )
        } else if !cacheable {
            if !at_risk {
                return; // RAM holds the newest bytes: a non-cacheable read is right
            }
            (
                Kind::LostDeviceWrite,
                "reads bytes a dirty line holding older data may overwrite at any time (a store merged into a stale copy)",
            )
        } else if matches!(src, Writer::Device(_)) {
            (
                Kind::StaleRead,
                "cacheable load of bytes a device wrote after the last invalidate: a copy cached before the device's write may be hit",
            )
        } else {
            (
                Kind::MixedAttributes,
                "cacheable load of bytes written through a non-cacheable mapping after the last invalidate: an older cached copy may be hit",
            )
        };
        self.report(i, kind, s, actor, Some(src), why);
        if cacheable {
            // The CPU now works with those bytes; report them once.
            self.lines.stale[i] &= !s;
        }
    }

    /// Copy the bytes `mask` of line `i` from QEMU's RAM into its snapshot (a full line
    /// makes the snapshot valid; a partial one only updates a valid snapshot).
    pub(crate) fn snapshot(&mut self, i: usize, mask: u64) {
        if !self.lines.has_snapshots() {
            return;
        }
        let has = self.lines.state[i] & bits::SNAP != 0;
        if !has && mask != u64::MAX {
            return;
        }
        let Some(ram) = self.ram.as_ref() else {
            return;
        };
        let mut buf = [0u8; LINE as usize];
        if !ram.read(self.lines.address(i), &mut buf) {
            return;
        }
        let snap = self.lines.snap_mut(i);
        for (b, (s, r)) in snap.iter_mut().zip(buf).enumerate() {
            if mask & (1 << b) != 0 {
                *s = r;
            }
        }
        self.lines.state[i] |= bits::SNAP;
    }
}

impl crate::Observer for Model {
    fn load(&mut self, origin: Origin, pa: u64, va: u64, size: u64, mem: MemType) {
        let Some((i, mask)) = self.locate(pa, size) else {
            return;
        };
        self.check_inflight(i, origin, va, mask, false, mem.cacheable());
        let actor = Actor::Cpu { origin, va };
        if mem.cacheable() {
            self.stats.loads += 1;
            let s = self.lines.stale[i] & mask;
            if s != 0 {
                self.stale_seen(i, s, actor, true);
            }
        } else {
            self.stats.nc_loads += 1;
            self.lines.state[i] |= bits::NONCOHERENT;
            let d = self.lines.dirty[i] & mask;
            if d != 0 {
                let w = Writer::CpuStore(Origin::unpack(self.lines.writer[i]));
                self.report(
                    i,
                    Kind::MixedAttributes,
                    d,
                    actor,
                    Some(w),
                    "non-cacheable load of bytes still dirty in a CPU cache (it reads the older bytes in RAM)",
                );
            }
            let s = self.lines.stale[i] & mask;
            if s != 0 {
                self.stale_seen(i, s, actor, false);
            }
        }
    }

    fn store(&mut self, origin: Origin, pa: u64, va: u64, size: u64, mem: MemType) {
        let Some((i, mask)) = self.locate(pa, size) else {
            return;
        };
        self.check_inflight(i, origin, va, mask, true, mem == MemType::WriteBack);
        match mem {
            MemType::WriteBack => {
                self.stats.stores += 1;
                let l = &mut self.lines;
                l.stale[i] &= !mask;
                if l.stale[i] == 0 {
                    l.state[i] &= !bits::LOST;
                }
                l.dirty[i] |= mask;
                l.state[i] = (l.state[i] & !bits::DIRTY_CPU) | u16::from(origin.cpu);
                l.writer[i] = origin.pack();
            }
            MemType::WriteThrough | MemType::NonCacheable | MemType::Device => {
                self.stats.nc_stores += 1;
                let write_through = mem == MemType::WriteThrough;
                if self.lines.dirty[i] != 0 {
                    let w = Writer::CpuStore(Origin::unpack(self.lines.writer[i]));
                    self.report(
                        i,
                        Kind::MixedAttributes,
                        self.lines.dirty[i],
                        Actor::Cpu { origin, va },
                        Some(w),
                        "non-cacheable store to a line dirty in a CPU cache (its write-back will overwrite the store)",
                    );
                }
                let l = &mut self.lines;
                if write_through {
                    // The cached copy (if any) is updated as well as RAM.
                    l.stale[i] &= !mask;
                } else {
                    l.state[i] |= bits::NONCOHERENT;
                    l.stale[i] |= mask;
                    l.stale_src[i] = Writer::NcStore(origin).pack();
                }
                self.snapshot(i, mask);
            }
        }
    }

    fn dc_va(&mut self, origin: Origin, op: DcOp, pa: u64, va: u64) {
        let Some((i, _)) = self.locate(pa & !(LINE - 1), LINE) else {
            return;
        };
        self.stats.dc[op.index()].issued += 1;
        self.lines.maint[i] += 1;
        let dirty = self.lines.dirty[i];
        let mut effective = false;
        if op.cleans() {
            let diverged = self.lines.state[i] & bits::DIVERGED != 0;
            if dirty != 0 {
                effective = true;
                let l = &mut self.lines;
                if l.stale[i] != 0 {
                    l.state[i] |= bits::LOST;
                }
                l.dirty[i] = 0;
                l.state[i] = (l.state[i] | bits::PENDING_CLEAN) & !bits::DIVERGED;
                self.pending_clean[usize::from(origin.cpu)].push(i);
                self.snapshot(i, u64::MAX);
            } else {
                if op == DcOp::Clean {
                    self.clean_not_dirty += 1;
                }
                if !diverged {
                    self.snapshot(i, u64::MAX);
                }
            }
        }
        if op.invalidates() {
            if !op.cleans() && dirty != 0 {
                let w = Writer::CpuStore(Origin::unpack(self.lines.writer[i]));
                self.report(
                    i,
                    Kind::InvalidateDamage,
                    dirty,
                    Actor::Cpu { origin, va },
                    Some(w),
                    "DC IVAC discarded bytes dirty in the cache (a partial line needs DC CIVAC)",
                );
                self.lines.dirty[i] = 0;
                self.lines.state[i] |= bits::DIVERGED;
            }
            let writing = self.lines.state[i] & bits::INFLIGHT != 0
                && self.lines.inflight.get(&i).is_some_and(|f| f.writes > 0);
            let l = &mut self.lines;
            if l.stale[i] != 0 && !writing && l.state[i] & bits::LOST == 0 {
                l.stale[i] = 0;
                effective = true;
            } else if !op.cleans() && l.stale[i] == 0 {
                self.invalidate_not_stale += 1;
            }
        }
        if effective {
            self.stats.dc[op.index()].effective += 1;
            self.lines.maint[i] += 1 << 32;
        }
    }

    fn dc_set_way(&mut self, origin: Origin, op: SetWayOp, operand: SetWayOperand) {
        self.stats.set_way += 1;
        if let Some(p) = self.pending_set_way.get_mut(usize::from(origin.cpu)) {
            p.push((op, operand, origin));
        }
    }

    fn dsb(&mut self, origin: Origin, completes: bool) {
        self.stats.dsb += 1;
        if !completes {
            return;
        }
        self.stats.dsb_completing += 1;
        let cpu = usize::from(origin.cpu);
        if let Some(pending) = self.pending_clean.get_mut(cpu) {
            for i in pending.drain(..) {
                self.lines.state[i] &= !bits::PENDING_CLEAN;
            }
        }
        self.apply_set_way(cpu);
    }

    fn device_read_begin(&mut self, cmd: crate::DevCmd, pa: u64, len: u64) {
        self.device_read(cmd, pa, len, true);
    }

    fn device_read_end(&mut self, cmd: crate::DevCmd, pa: u64, len: u64) {
        self.device_read(cmd, pa, len, false);
    }

    fn device_write_begin(&mut self, cmd: crate::DevCmd, pa: u64, len: u64) {
        self.device_write(cmd, pa, len, true);
    }

    fn device_write_end(&mut self, cmd: crate::DevCmd, pa: u64, len: u64) {
        self.device_write(cmd, pa, len, false);
    }
}
