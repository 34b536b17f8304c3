//! Counters: the traffic the model saw, the maintenance issued, and how much of it did
//! something.

use crate::violation::Kind;

/// Per maintenance operation: lines issued, and lines where it did something.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpCounts {
    /// Lines the instruction was executed on.
    pub issued: u64,
    /// Of those: a clean wrote back dirty bytes, or an invalidate dropped bytes older
    /// than RAM (what the operation is for).
    pub effective: u64,
}

/// Everything counted over a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Cacheable CPU loads / stores.
    pub loads: u64,
    /// Cacheable CPU stores.
    pub stores: u64,
    /// Non-cacheable (or Device-type) CPU loads of RAM.
    pub nc_loads: u64,
    /// Non-cacheable CPU stores to RAM.
    pub nc_stores: u64,
    /// Accesses outside the modelled RAM (ignored).
    pub outside: u64,
    /// `DC CVAC`, `DC IVAC`, `DC CIVAC` (indexed by [`crate::DcOp::index`]).
    pub dc: [OpCounts; 3],
    /// Set/way operations (each one set of one way of one level).
    pub set_way: u64,
    /// `DSB`s, and those that complete maintenance.
    pub dsb: u64,
    /// `DSB`s of a domain or type that completes maintenance (SY, ST, OSH, OSHST).
    pub dsb_completing: u64,
    /// Lines devices read / wrote.
    pub device_read_lines: u64,
    /// Lines devices wrote.
    pub device_write_lines: u64,
    /// Violations found, by [`Kind::index`] (every occurrence).
    pub violations: [u64; 6],
}

impl Stats {
    /// Every violation counted.
    pub fn violation_total(&self) -> u64 {
        self.violations.iter().sum()
    }

    /// The count for one kind.
    pub fn violations_of(&self, kind: Kind) -> u64 {
        self.violations[kind.index()]
    }
}

/// Maintenance over a run: issued, needed, waste.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Line operations executed (by address and by set/way).
    pub issued: u64,
    /// Of those, effective ones on lines a non-coherent party (device or non-cacheable
    /// mapping) touched during the run: the maintenance the run needed.
    pub needed: u64,
    /// Cleans of lines that held no dirty bytes.
    pub clean_not_dirty: u64,
    /// Invalidates (without clean) of lines that held no stale bytes.
    pub invalidate_not_stale: u64,
    /// Line operations on lines no device and no non-cacheable mapping ever touched in
    /// the run (buffers only the CPU used).
    pub on_cpu_only_lines: u64,
    /// `issued - needed`.
    pub waste: u64,
}
