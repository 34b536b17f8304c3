//! The cost model's parameters: every figure in one table, with where it comes from.

/// Every parameter of the memory-cost model, in cycles of a Cortex-A72 at 1.5 GHz (the
/// Raspberry Pi 4's BCM2711) unless said otherwise. Penalties are cycles *added* to the
/// instruction count (an instruction costs 1 in the model, as under `-icount`).
///
/// The table, with the source of every figure, is [`Params::SOURCES`] (the benchmark
/// report prints it).
///
/// What the model leaves out (so what its figures are not): prefetching (TRM 6.4: the
/// A72 prefetches, so sequential streams pay far less than `dram` per line on
/// hardware), overlapping misses (TRM 6.4: up to six outstanding line requests; every
/// penalty here is serialised: an upper bound on stalls), whether a streamed line is
/// really written whole (any ascending run of store misses counts), TLB misses and page-table walks, instruction
/// fetch, DRAM bandwidth limits and bank conflicts, and the devices' own time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    /// Extra cycles of an L1D hit.
    pub l1_hit: u64,
    /// Extra cycles of an L1D miss that hits L2.
    pub l2_hit: u64,
    /// Extra cycles of an L2 miss, and of every uncached load.
    pub dram: u64,
    /// Cycles of one 64-byte write to DRAM (dirty write-back, combined NC burst,
    /// Device store).
    pub wb: u64,
    /// Extra cycles of each cache-maintenance instruction.
    pub maint: u64,
    /// Write-combining buffers per CPU.
    pub wc_lines: u64,
    /// Write streaming: consecutive store-miss lines before L1D stops allocating (0 off).
    pub ws_l1: u64,
    /// Write streaming: consecutive store-miss lines before L2 stops allocating (0 never).
    pub ws_l2: u64,
}

impl Params {
    /// The defaults of the table above.
    pub const DEFAULT: Params = Params {
        l1_hit: 0,
        l2_hit: 16,
        dram: 200,
        wb: 40,
        maint: 4,
        wc_lines: 4,
        ws_l1: 4,
        ws_l2: 128,
    };

    /// Every parameter (and the two fixed choices, geometry and policies): its field
    /// name, default, what it charges, and its source.
    /// **estimate** marks a figure that no measurement of ours or TRM table gives.
    pub const SOURCES: [(&'static str, &'static str, &'static str, &'static str); 10] = [
        (
            "geometry",
            "L1D 32 KiB 4-way (128 sets), L2 1 MiB 16-way, 64 B lines",
            "-",
            "QEMU 10.0's `CCSIDR_EL1` for `-cpu cortex-a72` (`Geometry::cortex_a72` in `tools/cachemodel/src/geometry.rs`; the TRM's L1D is 2-way, same size); Cortex-A72 TRM (ARM 100095) 6.1, 7.1",
        ),
        (
            "policies",
            "write-back write-allocate, L2 inclusive of L1D, LRU in both",
            "-",
            "TRM 7.1: \"Inclusion property with L1 data caches\", L2 replacement \"pseudo-LRU or pseudo-random\" (software-programmable); the model uses true LRU in both levels (deterministic; an approximation)",
        ),
        (
            "`l1_hit`",
            "0",
            "a load or store that hits L1D",
            "the A72's 4-cycle load-to-use latency is hidden by out-of-order issue for independent accesses (an estimate: dependent chains would pay it)",
        ),
        (
            "`l2_hit`",
            "16",
            "an L1D miss served by L2 (or by another core's L1D through the SCU)",
            "published pointer-chase measurements of the A72 (Raspberry Pi 4, sandsoftwaresound.net \"ARM Cortex-A72 tuning: Memory access\", 2021; Chips and Cheese \"ARM's Cortex A72: aarch64 for the Masses\", 2023) put L2 load-to-use between about 9 and 21 cycles; 16 is a mid-range **estimate**",
        ),
        (
            "`dram`",
            "200",
            "an L2 miss (line fill from DRAM), and **every** Normal-NC or Device load of RAM",
            "the same measurements put BCM2711 DRAM latency at roughly 100-200 ns (150-300 cycles at 1.5 GHz); 200 cycles (133 ns) is an **estimate** in that range",
        ),
        (
            "`wb`",
            "40",
            "a dirty line written back to DRAM (L2 eviction, `DC CVAC`/`CIVAC` or set/way clean of a dirty line); one write-combined burst of Normal-NC stores; one Device store",
            "**estimate**: write-backs are posted, so the cost is the bus occupancy of a 64-byte write, about 25 ns at the 2-3 GB/s write bandwidth reported for the Raspberry Pi 4",
        ),
        (
            "`maint`",
            "4",
            "every `DC` by address or set/way, beyond the instruction (lookup in L1D and L2, broadcast)",
            "**estimate** (no published per-op figure found)",
        ),
        (
            "`ws_l1`",
            "4",
            "write streaming: from the `ws_l1`th consecutive ascending line missed by stores on, lines are written without a fill and not allocated in L1D (into L2); 0 = off",
            "the A72, like the A57, stops allocating after a programmable number of consecutive full-line writes (`CPUACTLR_EL1` write-streaming thresholds); 4 is the L1 reset threshold as recalled from the TRM (**to verify**)",
        ),
        (
            "`ws_l2`",
            "128",
            "from the `ws_l2`th such line on, not allocated in L2 either: written to DRAM (`wb` each); 0 = never",
            "as above, the L2 threshold (**to verify**)",
        ),
        (
            "`wc_lines`",
            "4",
            "write-combining buffers per CPU (lines open for Normal-NC store gathering)",
            "**estimate**; the architecture allows gathering for Normal-NC (not for Device-nGnRE); TRM 6.4: the L1 memory system buffers stores not yet written",
        ),
    ];

    /// The argument names [`Params::set`] takes.
    pub const KEYS: [&'static str; 8] = ["l1", "l2", "dram", "wb", "maint", "wc", "ws", "ws_l2"];

    /// Set the parameter named `key` (one of [`Params::KEYS`]); false if there is no
    /// such parameter.
    pub fn set(&mut self, key: &str, value: u64) -> bool {
        let field = match key {
            "l1" => &mut self.l1_hit,
            "l2" => &mut self.l2_hit,
            "dram" => &mut self.dram,
            "wb" => &mut self.wb,
            "maint" => &mut self.maint,
            "wc" => &mut self.wc_lines,
            "ws" => &mut self.ws_l1,
            "ws_l2" => &mut self.ws_l2,
            _ => return false,
        };
        *field = value;
        true
    }

    /// `key=value` pairs of every parameter, for reports.
    pub fn describe(&self) -> String {
        format!(
            "l1={} l2={} dram={} wb={} maint={} wc={} ws={} ws_l2={}",
            self.l1_hit,
            self.l2_hit,
            self.dram,
            self.wb,
            self.maint,
            self.wc_lines,
            self.ws_l1,
            self.ws_l2
        )
    }
}

impl Default for Params {
    fn default() -> Self {
        Params::DEFAULT
    }
}
