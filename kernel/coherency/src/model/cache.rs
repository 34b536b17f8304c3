//! A write-back data cache over RAM, byte-granular, in lines of [`LINE`] bytes, with a
//! DMA device that bypasses it (or snoops it, when coherent).
//!
//! Semantics follow the Arm ARM for Normal write-back memory:
//! * load: a hit returns the cached bytes; a miss fills the line from RAM (clean);
//! * store: allocate on miss (fill from RAM), write into the line, mark it dirty; RAM is
//!   untouched (write-back);
//! * eviction at any time: a dirty line is written back, a clean one dropped;
//! * speculative fill at any time: any absent line may be filled from RAM (clean);
//! * `DC CVAC` writes back a dirty line and keeps it (clean); `DC IVAC` drops it, dirty
//!   data lost; `DC CIVAC` writes back if dirty, then drops.
//!
//! A Normal-NC (uncached) buffer has no lines of its own: CPU accesses go to RAM and
//! speculative fills do nothing. Lines left over from a cacheable alias (the kernel's
//! linear map, before [`Memory::set_cacheable`] switched the mapping to Normal-NC) are
//! still evicted (written back if dirty) and maintained; CPU accesses through the NC
//! mapping neither see nor update them. A coherent device reads present lines and
//! updates them as it writes RAM.

use mm::cache::{CacheOp, RangePlan};

/// Line size of the model in bytes.
pub const LINE: usize = 64;

/// One cache line: present or not, dirty or not, and its bytes.
#[derive(Clone, Copy, Debug)]
struct Line {
    valid: bool,
    dirty: bool,
    data: [u8; LINE],
}

impl Line {
    const ABSENT: Line = Line {
        valid: false,
        dirty: false,
        data: [0; LINE],
    };
}

/// RAM of one buffer at a line-aligned base address, the cache lines covering it, and
/// the device's port to it.
#[derive(Clone, Debug)]
pub struct Memory {
    base: u64,
    ram: Vec<u8>,
    lines: Vec<Line>,
    cacheable: bool,
    coherent_device: bool,
}

impl Memory {
    /// A zeroed buffer of `size` bytes (a multiple of [`LINE`]) at `base`, with an empty
    /// cache.
    pub fn new(base: u64, size: usize, cacheable: bool, coherent_device: bool) -> Self {
        assert!(base.is_multiple_of(LINE as u64) && size.is_multiple_of(LINE));
        Self {
            base,
            ram: vec![0; size],
            lines: vec![Line::ABSENT; size / LINE],
            cacheable,
            coherent_device,
        }
    }

    /// Number of lines covering the buffer.
    pub fn line_count(&self) -> usize {
        self.lines.len()
    }

    /// Whether line `i` is present in the cache.
    pub fn is_present(&self, i: usize) -> bool {
        self.lines[i].valid
    }

    /// Whether line `i` is present and dirty.
    pub fn is_dirty(&self, i: usize) -> bool {
        self.lines[i].valid && self.lines[i].dirty
    }

    fn fill(&mut self, i: usize) {
        let mut data = [0; LINE];
        data.copy_from_slice(&self.ram[i * LINE..(i + 1) * LINE]);
        self.lines[i] = Line {
            valid: true,
            dirty: false,
            data,
        };
    }

    fn write_back(&mut self, i: usize) {
        let l = self.lines[i];
        if l.valid && l.dirty {
            self.ram[i * LINE..(i + 1) * LINE].copy_from_slice(&l.data);
            self.lines[i].dirty = false;
        }
    }

    /// CPU load of the byte at buffer offset `off`.
    pub fn cpu_load(&mut self, off: usize) -> u8 {
        if !self.cacheable {
            return self.ram[off];
        }
        let i = off / LINE;
        if !self.lines[i].valid {
            self.fill(i);
        }
        self.lines[i].data[off % LINE]
    }

    /// CPU store of `v` to buffer offset `off`.
    pub fn cpu_store(&mut self, off: usize, v: u8) {
        if !self.cacheable {
            self.ram[off] = v;
            return;
        }
        let i = off / LINE;
        if !self.lines[i].valid {
            self.fill(i);
        }
        self.lines[i].data[off % LINE] = v;
        self.lines[i].dirty = true;
    }

    /// Switches the CPU's mapping of the buffer between cacheable and Normal-NC (a new
    /// mapping with another memory type). Lines already present stay, as they would in
    /// hardware, until evicted or maintained.
    pub fn set_cacheable(&mut self, cacheable: bool) {
        self.cacheable = cacheable;
    }

    /// The cache evicts line `i` on its own (write-back if dirty).
    pub fn evict(&mut self, i: usize) {
        self.write_back(i);
        self.lines[i].valid = false;
    }

    /// The core speculatively fills line `i` if it is absent.
    pub fn speculative_fill(&mut self, i: usize) {
        if self.cacheable && !self.lines[i].valid {
            self.fill(i);
        }
    }

    /// One `DC <op>` by address `addr` (inside the buffer).
    pub fn dc(&mut self, op: CacheOp, addr: u64) {
        let i = usize::try_from((addr - self.base) / LINE as u64).unwrap();
        if !self.lines[i].valid {
            return;
        }
        match op {
            CacheOp::Clean => self.write_back(i),
            CacheOp::Invalidate => self.lines[i].valid = false,
            CacheOp::CleanInvalidate => {
                self.write_back(i);
                self.lines[i].valid = false;
            }
        }
    }

    /// Executes every line of `plan`; returns the number of `DC` instructions.
    pub fn apply(&mut self, plan: &RangePlan) -> u64 {
        for run in plan {
            for addr in run.line_addrs() {
                self.dc(run.op, addr);
            }
        }
        plan.total_lines()
    }

    /// Load through a Normal-NC alias of the buffer (a legacy uncached mapping of a
    /// cached buffer): memory, whatever the cache holds.
    pub fn uncached_load(&self, off: usize) -> u8 {
        self.ram[off]
    }

    /// Store through a Normal-NC alias: memory only; a cached copy of the line, if any,
    /// is now stale.
    pub fn uncached_store(&mut self, off: usize, v: u8) {
        self.ram[off] = v;
    }

    /// Overwrite memory (not the cache) with `v`: what a fresh page holds before the
    /// kernel zeroes it.
    pub fn fill_ram(&mut self, v: u8) {
        self.ram.fill(v);
    }

    /// Device (DMA) read of the byte at buffer offset `off`.
    pub fn device_read(&self, off: usize) -> u8 {
        let l = &self.lines[off / LINE];
        if self.coherent_device && l.valid {
            l.data[off % LINE]
        } else {
            self.ram[off]
        }
    }

    /// Device (DMA) write of `v` to buffer offset `off`.
    pub fn device_write(&mut self, off: usize, v: u8) {
        self.ram[off] = v;
        let l = &mut self.lines[off / LINE];
        if self.coherent_device && l.valid {
            l.data[off % LINE] = v;
        }
    }
}
