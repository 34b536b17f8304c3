//! Cache geometry: the data/unified cache levels of a core, each with its line size,
//! sets and ways, as `CCSIDR_EL1` describes them. Set/way maintenance needs it to know
//! which lines an operand names; a capacity (cost) model needs it for everything.

/// One data or unified cache level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheLevel {
    /// Line size in bytes.
    pub line: u64,
    /// Number of sets.
    pub sets: u32,
    /// Associativity.
    pub ways: u32,
}

impl CacheLevel {
    /// Decode a `CCSIDR_EL1` value (the 32-bit format without FEAT_CCIDX).
    pub fn from_ccsidr(ccsidr: u64) -> CacheLevel {
        CacheLevel {
            line: 1 << ((ccsidr & 0x7) + 4),
            ways: (((ccsidr >> 3) & 0x3ff) + 1) as u32,
            sets: (((ccsidr >> 13) & 0x7fff) + 1) as u32,
        }
    }

    /// Capacity in bytes.
    pub fn size(&self) -> u64 {
        self.line * u64::from(self.sets) * u64::from(self.ways)
    }

    /// The set a physical address maps to.
    pub fn set_of(&self, pa: u64) -> u32 {
        ((pa / self.line) % u64::from(self.sets)) as u32
    }
}

/// The data-cache levels of a core up to the point of coherency, L1 first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// The core's name (for reports).
    pub name: &'static str,
    /// L1D, L2, ...
    pub levels: Vec<CacheLevel>,
}

impl Geometry {
    /// QEMU's `-cpu cortex-a72`: the `CCSIDR_EL1` values QEMU 10.0 reports, which the
    /// guest's set/way loops are built from: L1D `0x700fe01a` (32 KiB, **4-way**,
    /// 64-byte lines, 128 sets) and L2 `0x707fe07a` (1 MiB, 16-way, 1024 sets). Read back
    /// from the guest, not from a source listing: the bench kernel's `DC CISW` loop,
    /// which decodes `CCSIDR_EL1` itself, puts the L1 way in bits [31:30] and counts 128
    /// sets (its operands `0x40000000`, `0x80000000`, `0xc0000000` start ways 1 to 3).
    /// The Cortex-A72 TRM (ARM 100095, 6.1 and 7.1) gives a 2-way L1D of the same size;
    /// what matters for decoding set/way operands is what the guest reads, so this is
    /// QEMU's. The L2 size is configurable in the TRM, 1 MiB in QEMU.
    pub fn cortex_a72() -> Geometry {
        Geometry {
            name: "Cortex-A72 (QEMU)",
            levels: vec![
                CacheLevel::from_ccsidr(0x700f_e01a),
                CacheLevel::from_ccsidr(0x707f_e07a),
            ],
        }
    }

    /// The level numbered `level` (1-based), if there is one.
    pub fn level(&self, level: u8) -> Option<&CacheLevel> {
        self.levels.get(usize::from(level).checked_sub(1)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a72_geometry_decodes_qemu_ccsidr() {
        let g = Geometry::cortex_a72();
        assert_eq!(
            g.levels[0],
            CacheLevel {
                line: 64,
                sets: 128,
                ways: 4
            }
        );
        assert_eq!(g.levels[0].size(), 32 * 1024);
        assert_eq!(g.levels[1].size(), 1024 * 1024);
        assert_eq!(g.levels[1].ways, 16);
        assert_eq!(g.level(1), Some(&g.levels[0]));
        assert_eq!(g.level(0), None);
        assert_eq!(g.level(3), None);
        assert_eq!(g.levels[0].set_of(0x4000_0040), 1);
        assert_eq!(g.levels[0].set_of(0x4000_2000), 0);
    }
}
