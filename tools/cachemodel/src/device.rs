//! Device-side events, the modelled RAM (what a device would read) and the end-of-run
//! summary.

use crate::lines::bits;
use crate::model::Model;
use crate::stats::Summary;
use crate::violation::{Actor, Kind, Writer};
use crate::{line_pieces, DevCmd, Origin, LINE};

impl Model {
    /// A device read of `[pa, pa + len)` submitted (`begin`) or completed.
    pub(crate) fn device_read(&mut self, cmd: DevCmd, pa: u64, len: u64, begin: bool) {
        for (line, mask) in line_pieces(pa, len) {
            let Some(i) = self.lines.index(line) else {
                self.stats.outside += 1;
                continue;
            };
            if !begin {
                self.inflight_done(i, false);
                continue;
            }
            self.stats.device_read_lines += 1;
            self.lines.state[i] |= bits::NONCOHERENT;
            self.inflight_add(i, cmd, false, mask);
            if self.cfg.coherent_devices {
                continue;
            }
            let actor = Actor::Device(cmd);
            let d = self.lines.dirty[i] & mask;
            let writer = Some(Writer::CpuStore(Origin::unpack(self.lines.writer[i])));
            if d != 0 {
                self.report(
                    i,
                    Kind::LostWrite,
                    d,
                    actor,
                    writer,
                    "the device reads bytes still dirty in a CPU cache: RAM holds older bytes (a clean is missing)",
                );
            } else if self.lines.state[i] & bits::PENDING_CLEAN != 0 {
                self.report(
                    i,
                    Kind::LostWrite,
                    mask,
                    actor,
                    writer,
                    "the device reads a line whose clean was not completed by a DSB before the device was told",
                );
            }
            let s = self.lines.stale[i] & mask;
            let risky = self.lines.state[i] & bits::LOST != 0 || self.lines.dirty[i] != 0;
            if s != 0 && risky {
                let src = Some(Writer::unpack(self.lines.stale_src[i]));
                self.report(
                    i,
                    Kind::LostDeviceWrite,
                    s,
                    actor,
                    src,
                    "the device reads bytes a CPU write-back overwrote, or may overwrite at any time, with older data",
                );
            }
        }
    }

    /// A device write of `[pa, pa + len)` submitted (`begin`) or completed.
    pub(crate) fn device_write(&mut self, cmd: DevCmd, pa: u64, len: u64, begin: bool) {
        for (line, mask) in line_pieces(pa, len) {
            let Some(i) = self.lines.index(line) else {
                self.stats.outside += 1;
                continue;
            };
            if begin {
                self.stats.device_write_lines += 1;
                self.lines.state[i] |= bits::NONCOHERENT;
                self.inflight_add(i, cmd, true, mask);
                if self.cfg.coherent_devices {
                    continue;
                }
                let actor = Actor::Device(cmd);
                let writer = Some(Writer::CpuStore(Origin::unpack(self.lines.writer[i])));
                if self.lines.dirty[i] != 0 {
                    self.report(
                        i,
                        Kind::LostDeviceWrite,
                        mask,
                        actor,
                        writer,
                        "the device writes a line dirty in a CPU cache: a write-back at any time overwrites the device's bytes",
                    );
                } else if self.lines.state[i] & bits::PENDING_CLEAN != 0 {
                    self.report(
                        i,
                        Kind::LostDeviceWrite,
                        mask,
                        actor,
                        writer,
                        "the device writes a line whose clean was not completed by a DSB: the write-back may land after the device's bytes",
                    );
                }
                continue;
            }
            self.inflight_done(i, true);
            if self.cfg.coherent_devices {
                // A coherent device's write replaces the cached copies' bytes.
                self.lines.dirty[i] &= !mask;
                continue;
            }
            let l = &mut self.lines;
            l.stale[i] |= mask;
            l.stale_src[i] = Writer::Device(cmd).pack();
            if l.stale[i] == mask {
                l.state[i] &= !bits::LOST;
            }
            self.snapshot(i, mask);
        }
    }

    fn inflight_add(&mut self, i: usize, cmd: DevCmd, write: bool, mask: u64) {
        let f = self.lines.inflight.entry(i).or_default();
        if write {
            f.writes = f.writes.saturating_add(1);
            f.wmask |= mask;
        } else {
            f.reads = f.reads.saturating_add(1);
            f.rmask |= mask;
        }
        f.cmd = cmd.0;
        self.lines.state[i] |= bits::INFLIGHT;
    }

    fn inflight_done(&mut self, i: usize, write: bool) {
        let Some(f) = self.lines.inflight.get_mut(&i) else {
            return;
        };
        if write {
            f.writes = f.writes.saturating_sub(1);
            if f.writes == 0 {
                f.wmask = 0;
            }
        } else {
            f.reads = f.reads.saturating_sub(1);
            if f.reads == 0 {
                f.rmask = 0;
            }
        }
        if f.reads == 0 && f.writes == 0 {
            self.lines.inflight.remove(&i);
            self.lines.state[i] &= !bits::INFLIGHT;
        }
    }

    /// The bytes a device reading `[pa, pa + out.len())` now would get from the
    /// modelled RAM: a line's snapshot where it holds bytes newer in a cache (or an
    /// invalidate discarded them), QEMU's RAM elsewhere. Returns the number of lines
    /// whose RAM contents are unknown (dirty, never written back while snapshots were
    /// on: QEMU's bytes are used), or `None` without RAM access.
    pub fn modelled_ram(&self, pa: u64, out: &mut [u8]) -> Option<u64> {
        let ram = self.ram.as_ref()?;
        if !ram.read(pa, out) {
            return None;
        }
        let mut unknown = 0;
        let mut at = 0usize;
        for (line, mask) in line_pieces(pa, out.len() as u64) {
            let n = mask.count_ones() as usize;
            let off = mask.trailing_zeros() as usize;
            if let Some(i) = self.lines.index(line) {
                let st = self.lines.state[i];
                let newer_in_cache = self.lines.dirty[i] != 0 || st & bits::DIVERGED != 0;
                if newer_in_cache && st & bits::SNAP != 0 && self.lines.has_snapshots() {
                    out[at..at + n].copy_from_slice(&self.lines.snap(i)[off..off + n]);
                } else if self.lines.dirty[i] != 0 {
                    unknown += 1;
                }
            }
            at += n;
        }
        Some(unknown)
    }

    /// Maintenance over the run so far: issued, needed, waste (scans every line).
    pub fn summary(&self) -> Summary {
        let mut s = Summary {
            issued: self.stats.dc.iter().map(|c| c.issued).sum::<u64>() + self.stats.set_way,
            clean_not_dirty: self.clean_not_dirty,
            invalidate_not_stale: self.invalidate_not_stale,
            ..Summary::default()
        };
        for (i, &m) in self.lines.maint.iter().enumerate() {
            if m == 0 {
                continue;
            }
            if self.lines.state[i] & bits::NONCOHERENT == 0 {
                s.on_cpu_only_lines += m & 0xffff_ffff;
            } else {
                s.needed += m >> 32;
            }
        }
        s.waste = s.issued.saturating_sub(s.needed);
        s
    }

    /// Distinct lines with at least one violation.
    pub fn violation_lines(&self) -> u64 {
        self.lines.reported.iter().filter(|&&r| r != 0).count() as u64
    }

    /// Line size (for callers that walk lines).
    pub fn line(&self) -> u64 {
        LINE
    }
}
