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
    /// QEMU's `-cpu cortex-a72`: the `CCSIDR_EL1` values it reports (target/arm/cpu64.c,
    /// `aarch64_a72_initfn`): L1D `0x701fe00a` (32 KiB, 2-way, 64-byte lines, 256 sets)
    /// and L2 `0x707fe07a` (1 MiB, 16-way, 1024 sets), as in the Cortex-A72 TRM
    /// (ARM 100095, 6.1 and 7.1; the L2 size is configurable there, 1 MiB in QEMU).
    pub fn cortex_a72() -> Geometry {
        Geometry {
            name: "Cortex-A72 (QEMU)",
            levels: vec![
                CacheLevel::from_ccsidr(0x701f_e00a),
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
                sets: 256,
                ways: 2
            }
        );
        assert_eq!(g.levels[0].size(), 32 * 1024);
        assert_eq!(g.levels[1].size(), 1024 * 1024);
        assert_eq!(g.levels[1].ways, 16);
        assert_eq!(g.level(1), Some(&g.levels[0]));
        assert_eq!(g.level(0), None);
        assert_eq!(g.level(3), None);
        assert_eq!(g.levels[0].set_of(0x4000_0040), 1);
        assert_eq!(g.levels[0].set_of(0x4000_4000), 0);
    }
}
