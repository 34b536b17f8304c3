//! The guest's stage-1 translation for EL1&0, walked in the guest's own tables (read
//! from its RAM): virtual address -> physical address and memory type. Only what the
//! kernel uses is supported: 4 KiB granules, 39- to 48-bit address spaces, TTBR0 and
//! TTBR1 halves, MAIR attributes (Arm ARM D8). With the MMU off every data access is
//! Device-nGnRnE; with SCTLR.C clear Normal memory is not cached.
//!
//! A small translation cache (direct-mapped, keyed by page and table root) keeps the
//! walks off the hot path; it is flushed at every TLBI and every write of a translation
//! register, and the front end cross-checks its physical address against QEMU's.

use crate::phys::PhysMem;
use cachemodel::MemType;

/// The translation registers of one CPU.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Regime {
    /// SCTLR_EL1.
    pub sctlr: u64,
    /// TTBR0_EL1.
    pub ttbr0: u64,
    /// TTBR1_EL1.
    pub ttbr1: u64,
    /// TCR_EL1.
    pub tcr: u64,
    /// MAIR_EL1.
    pub mair: u64,
}

/// A translation: physical address of the page and the memory type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    /// Physical address of the byte translated.
    pub pa: u64,
    /// Memory type of the mapping.
    pub mem: MemType,
}

/// Why a walk found no translation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WalkError {
    /// The address is outside both halves' ranges, or the half's walks are disabled.
    OutOfRange,
    /// A descriptor on the way was invalid (the access would fault).
    Fault,
    /// A granule or size the sanitizer does not walk.
    Unsupported,
    /// A table lies outside readable RAM.
    Unreadable,
}

const SCTLR_M: u64 = 1;
const SCTLR_C: u64 = 1 << 2;

/// Memory type of MAIR attribute byte `attr` (Arm ARM D19.2.97 MAIR_EL1), judged by its
/// inner (L1) cacheability.
pub fn mair_type(attr: u8) -> MemType {
    if attr & 0xf0 == 0 {
        return MemType::Device; // 0b0000dd00
    }
    let inner = attr & 0x0f;
    match inner >> 2 {
        0b01 if inner & 0b11 == 0 => MemType::NonCacheable,
        0b01 | 0b11 => MemType::WriteBack,
        0b00 if inner & 0b11 == 0 => MemType::Device, // UNPREDICTABLE: treat as uncached
        _ => MemType::WriteThrough,
    }
}

impl Regime {
    /// Translate `va` for a data access, walking the tables in `mem`.
    pub fn translate(&self, va: u64, mem: &dyn PhysMem) -> Result<Translation, WalkError> {
        if self.sctlr & SCTLR_M == 0 {
            return Ok(Translation {
                pa: va,
                mem: MemType::Device,
            });
        }
        let upper = (va >> 55) & 1 == 1;
        let (tsz, tg, epd, ttbr) = if upper {
            (
                (self.tcr >> 16) & 0x3f,
                (self.tcr >> 30) & 3,
                (self.tcr >> 23) & 1,
                self.ttbr1,
            )
        } else {
            (
                self.tcr & 0x3f,
                (self.tcr >> 14) & 3,
                (self.tcr >> 7) & 1,
                self.ttbr0,
            )
        };
        // 4 KiB granule: TG0 = 0b00, TG1 = 0b10.
        let four_k = if upper { tg == 2 } else { tg == 0 };
        if !four_k || !(16..=25).contains(&tsz) {
            return Err(WalkError::Unsupported);
        }
        if epd == 1 {
            return Err(WalkError::OutOfRange);
        }
        let bits = 64 - tsz;
        let top = va >> bits;
        let expect = if upper { u64::MAX >> bits } else { 0 };
        if top != expect {
            return Err(WalkError::OutOfRange);
        }
        // First level: 0 for 40..48 bits, 1 for 31..39 (4 KiB granule).
        let mut level = if bits > 39 { 0 } else { 1 };
        let mut table = ttbr & 0x0000_ffff_ffff_fffe;
        loop {
            let shift = 39 - 9 * level;
            let idx = (va >> shift) & 0x1ff;
            let desc = mem.read_u64(table + idx * 8).ok_or(WalkError::Unreadable)?;
            if desc & 1 == 0 {
                return Err(WalkError::Fault);
            }
            let is_table = desc & 2 != 0;
            if level < 3 && is_table {
                table = desc & 0x0000_ffff_ffff_f000;
                level += 1;
                continue;
            }
            if level == 3 && !is_table {
                return Err(WalkError::Fault); // reserved encoding at level 3
            }
            if level == 0 {
                return Err(WalkError::Fault); // no blocks at level 0 with 4 KiB
            }
            let size_mask = (1u64 << shift) - 1;
            let out = desc & 0x0000_ffff_ffff_f000 & !size_mask;
            let attr_index = (desc >> 2) & 7;
            let attr = (self.mair >> (8 * attr_index)) as u8;
            let mut mem_type = mair_type(attr);
            if self.sctlr & SCTLR_C == 0 && mem_type.cacheable() {
                mem_type = MemType::NonCacheable;
            }
            return Ok(Translation {
                pa: out | (va & size_mask),
                mem: mem_type,
            });
        }
    }

    /// The table root `va` is translated with (the translation cache's key).
    pub fn root_of(&self, va: u64) -> u64 {
        if self.sctlr & SCTLR_M == 0 {
            0
        } else if (va >> 55) & 1 == 1 {
            self.ttbr1 | 1
        } else {
            self.ttbr0 & !1
        }
    }
}

const TLB_SIZE: usize = 4096;

#[derive(Clone, Copy)]
struct Entry {
    page: u64,
    root: u64,
    pa_page: u64,
    mem: MemType,
    valid: bool,
}

/// A direct-mapped cache of page translations.
pub struct Tlb {
    entries: Vec<Entry>,
}

impl Default for Tlb {
    fn default() -> Self {
        Self::new()
    }
}

impl Tlb {
    /// An empty cache.
    pub fn new() -> Tlb {
        Tlb {
            entries: vec![
                Entry {
                    page: 0,
                    root: 0,
                    pa_page: 0,
                    mem: MemType::Device,
                    valid: false,
                };
                TLB_SIZE
            ],
        }
    }

    /// Translate `va` under `regime`, walking on a miss (and caching the result).
    #[inline]
    pub fn translate(
        &mut self,
        regime: &Regime,
        va: u64,
        mem: &dyn PhysMem,
    ) -> Result<Translation, WalkError> {
        let page = va >> 12;
        let root = regime.root_of(va);
        let slot = (page as usize ^ (root >> 12) as usize) % TLB_SIZE;
        let e = self.entries[slot];
        if e.valid && e.page == page && e.root == root {
            return Ok(Translation {
                pa: e.pa_page | (va & 0xfff),
                mem: e.mem,
            });
        }
        let t = regime.translate(va, mem)?;
        self.entries[slot] = Entry {
            page,
            root,
            pa_page: t.pa & !0xfff,
            mem: t.mem,
            valid: true,
        };
        Ok(t)
    }

    /// Forget the translation of `va` under `regime` (a cross-check failed).
    pub fn forget(&mut self, regime: &Regime, va: u64) {
        let page = va >> 12;
        let slot = (page as usize ^ (regime.root_of(va) >> 12) as usize) % TLB_SIZE;
        self.entries[slot].valid = false;
    }

    /// Forget everything (TLBI, translation register written).
    pub fn flush(&mut self) {
        for e in &mut self.entries {
            e.valid = false;
        }
    }
}

#[cfg(test)]
mod tests;
