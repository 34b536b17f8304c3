//! What the cost model counts: events, penalty cycles by cause, and charges by the
//! parameter that prices them.

use super::Params;

/// Event counts over a run (see the table in the module documentation).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Events {
    /// Cacheable accesses that hit L1D.
    pub l1_hits: u64,
    /// L1D misses that hit L2.
    pub l2_hits: u64,
    /// L1D misses served by another CPU's L1D holding the line dirty.
    pub snoops: u64,
    /// L2 misses filled from DRAM.
    pub dram_fills: u64,
    /// Whole-line stores (`DC ZVA`) allocated without a fill.
    pub zero_allocs: u64,
    /// Dirty L1D lines evicted into L2.
    pub l1_writebacks: u64,
    /// Lines evicted from L2.
    pub l2_evictions: u64,
    /// Of those, dirty ones written back to DRAM.
    pub evict_writebacks: u64,
    /// `DC CVAC`/`CIVAC` of a line dirty in some cache: written back.
    pub clean_writebacks: u64,
    /// `DC CVAC`/`CIVAC` of a line dirty nowhere: only the operation.
    pub clean_nothing: u64,
    /// `DC IVAC`s.
    pub invalidates: u64,
    /// Set/way operations.
    pub set_way: u64,
    /// Set/way cleans that wrote a dirty L2 line back to DRAM.
    pub set_way_writebacks: u64,
    /// Normal-NC and Device loads of RAM.
    pub nc_loads: u64,
    /// Normal-NC stores.
    pub nc_stores: u64,
    /// Of those, stores gathered into an open write-combining buffer.
    pub wc_merged: u64,
    /// Write-combined bursts (a buffer opened for a line).
    pub wc_bursts: u64,
    /// Device-type stores to RAM.
    pub device_stores: u64,
    /// Normal write-through stores.
    pub wt_stores: u64,
    /// Lines written in write-streaming mode into L2 (no fill, no L1D allocation).
    pub stream_l2: u64,
    /// Lines written in write-streaming mode straight to DRAM.
    pub stream_dram: u64,
    /// Stores merged into a line being streamed.
    pub stream_merged: u64,
    /// Lines devices read.
    pub device_read_lines: u64,
    /// Lines devices wrote.
    pub device_write_lines: u64,
}

/// Penalty cycles by cause.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Penalties {
    /// L1D and L2 hits (and snoops).
    pub hits: u64,
    /// Line fills from DRAM.
    pub fills: u64,
    /// Uncached loads.
    pub nc_loads: u64,
    /// Dirty lines written back on eviction.
    pub evictions: u64,
    /// Dirty lines written back by maintenance (by address and set/way).
    pub cleans: u64,
    /// Uncached stores (write-combined bursts, Device stores).
    pub nc_stores: u64,
    /// Maintenance operations themselves.
    pub maint: u64,
    /// Lines written to DRAM in write-streaming mode.
    pub streams: u64,
}

impl Penalties {
    /// Every penalty cycle.
    pub fn total(&self) -> u64 {
        self.hits
            + self.fills
            + self.nc_loads
            + self.evictions
            + self.cleans
            + self.nc_stores
            + self.maint
            + self.streams
    }
}

/// Charges by the parameter that prices them: a CPU's penalty is their sum weighted by
/// the [`Params`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Units {
    /// Charges of `l1_hit`.
    pub l1_hit: u64,
    /// Charges of `l2_hit`.
    pub l2_hit: u64,
    /// Charges of `dram`.
    pub dram: u64,
    /// Charges of `wb`.
    pub wb: u64,
    /// Charges of `maint`.
    pub maint: u64,
}

impl Units {
    /// The penalty cycles these charges cost under `p`.
    pub fn penalty(&self, p: &Params) -> u64 {
        self.l1_hit * p.l1_hit
            + self.l2_hit * p.l2_hit
            + self.dram * p.dram
            + self.wb * p.wb
            + self.maint * p.maint
    }
}
