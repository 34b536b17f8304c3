//! The memory-cost model beside the sanitizer (`cost=on`): a [`cachemodel::CostModel`]
//! fed the same events as the coherency model, the instructions each CPU executed
//! (counted by the front end per translation block), and every read of the cycle
//! counter (`MRS Xt, PMCCNTR_EL0`) with the penalty its CPU had accumulated then, so
//! that a benchmark window between two reads can be given its modeled cycles:
//! `(end - start) + (penalty at end - penalty at start)`.
//!
//! The cost model only observes: it never changes what the coherency model sees or
//! reports.

use crate::session::Sanitizer;
use cachemodel::{CostModel, CostParams, CostUnits, Geometry};
use serde_json::{json, Value};
use std::fmt::Write;

/// One read of the cycle counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CounterRead {
    /// The CPU.
    pub cpu: usize,
    /// The value the `MRS` returned.
    pub value: u64,
    /// That CPU's instructions executed before the `MRS` (the front end's count: exact
    /// unless a block was left early by an exception).
    pub instructions: u64,
    /// That CPU's penalty cycles before the `MRS`.
    pub penalty: u64,
    /// The charges behind `penalty`, by parameter (so that a window's penalty can be
    /// recomputed under other latencies).
    pub units: CostUnits,
    /// The virtual address of the `MRS` (so that a reader can tell a program's reads
    /// from the kernel's, and the two reads around one `svc` from other pairs).
    pub pc: u64,
}

/// The cost model's state in a run.
pub struct Cost {
    /// The model.
    pub model: CostModel,
    /// Per CPU: instructions executed.
    pub instructions: Vec<u64>,
    /// Per CPU: a cycle-counter read whose value is not yet known (Rt, and the read
    /// with `value` 0).
    pending: Vec<Option<(u8, CounterRead)>>,
    /// Every cycle-counter read, in execution order.
    pub reads: Vec<CounterRead>,
}

impl Cost {
    /// A cost model for `cpus` CPUs with `params`.
    pub fn new(cpus: usize, geometry: &Geometry, params: CostParams) -> Cost {
        Cost {
            model: CostModel::new(cpus, geometry, params),
            instructions: vec![0; cpus.max(1)],
            pending: vec![None; cpus.max(1)],
            reads: Vec::new(),
        }
    }

    /// The JSON summary of the run.
    pub fn json(&self) -> Value {
        let e = self.model.events();
        let p = self.model.penalties();
        let pr = self.model.params();
        let instructions: u64 = self.instructions.iter().sum();
        let per_cpu: Vec<Value> = self
            .instructions
            .iter()
            .enumerate()
            .map(|(c, i)| json!({"instructions": i, "penalty": self.model.cpu_penalty(c)}))
            .collect();
        json!({
            "model": "Cortex-A72 memory-cost model (cachemodel::cost): modeled cycles = instructions + penalties",
            "params": {
                "l1_hit": pr.l1_hit, "l2_hit": pr.l2_hit, "dram": pr.dram, "wb": pr.wb,
                "maint": pr.maint, "wc_lines": pr.wc_lines, "ws_l1": pr.ws_l1, "ws_l2": pr.ws_l2,
            },
            "instructions": instructions,
            "penalty": p.total(),
            "modeled_cycles": instructions + p.total(),
            "penalties": {
                "hits": p.hits, "fills": p.fills, "nc_loads": p.nc_loads,
                "evictions": p.evictions, "cleans": p.cleans, "nc_stores": p.nc_stores,
                "maint": p.maint, "streams": p.streams,
            },
            "events": {
                "l1_hits": e.l1_hits, "l2_hits": e.l2_hits, "snoops": e.snoops,
                "dram_fills": e.dram_fills, "zero_allocs": e.zero_allocs,
                "l1_writebacks": e.l1_writebacks, "l2_evictions": e.l2_evictions,
                "evict_writebacks": e.evict_writebacks,
                "clean_writebacks": e.clean_writebacks, "clean_nothing": e.clean_nothing,
                "invalidates": e.invalidates, "set_way": e.set_way,
                "set_way_writebacks": e.set_way_writebacks,
                "nc_loads": e.nc_loads, "nc_stores": e.nc_stores,
                "wc_merged": e.wc_merged, "wc_bursts": e.wc_bursts,
                "device_stores": e.device_stores, "wt_stores": e.wt_stores,
                "stream_l2": e.stream_l2, "stream_dram": e.stream_dram,
                "stream_merged": e.stream_merged,
                "device_read_lines": e.device_read_lines,
                "device_write_lines": e.device_write_lines,
            },
            "per_cpu": per_cpu,
            "counter_reads": self.reads.len(),
        })
    }

    /// The header of [`Cost::reads_tsv`].
    pub const TSV_HEADER: &'static str =
        "cpu\tvalue\tinstructions\tpenalty\tl1_hit\tl2_hit\tdram\twb\tmaint\tpc\n";

    /// The cycle-counter reads as tab-separated text, one per line after
    /// [`Cost::TSV_HEADER`]: the CPU, the value read, the CPU's instructions and penalty
    /// before the read, the charges behind the penalty by parameter, and the address of
    /// the `MRS` (hexadecimal).
    pub fn reads_tsv(&self) -> String {
        let mut t = String::from(Self::TSV_HEADER);
        for r in &self.reads {
            let u = r.units;
            let _ = writeln!(
                t,
                "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{:#x}",
                r.cpu,
                r.value,
                r.instructions,
                r.penalty,
                u.l1_hit,
                u.l2_hit,
                u.dram,
                u.wb,
                u.maint,
                r.pc
            );
        }
        t
    }
}

impl Sanitizer {
    /// Whether the cost model runs (`cost=on`).
    pub fn cost_on(&self) -> bool {
        self.cost.is_some()
    }

    /// The cost model, if it runs.
    pub fn cost(&self) -> Option<&Cost> {
        self.cost.as_ref()
    }

    /// `cpu` is about to execute a translation block of `n` instructions.
    pub fn executed(&mut self, cpu: usize, n: u64) {
        if let Some(c) = self.cost.as_mut() {
            if let Some(i) = c.instructions.get_mut(cpu) {
                *i += n;
            }
        }
    }

    /// `cpu` is about to execute `MRS Xrt, PMCCNTR_EL0`: remember its penalty now; the
    /// value is given by [`Sanitizer::counter_value`] once the instruction ran. `rest`
    /// is the number of instructions of its translation block from it to the block's
    /// end (the front end counts a block's instructions when the block is entered);
    /// `pc` is the address of the `MRS`.
    pub fn counter_read(&mut self, cpu: usize, rt: u8, rest: u64, pc: u64) {
        let Some(c) = self.cost.as_mut() else {
            return;
        };
        let cpu = cpu.min(c.pending.len() - 1);
        c.pending[cpu] = Some((
            rt,
            CounterRead {
                cpu,
                value: 0,
                instructions: c.instructions[cpu].saturating_sub(rest),
                penalty: c.model.cpu_penalty(cpu),
                units: c.model.cpu_units(cpu),
                pc,
            },
        ));
    }

    /// The register a cycle-counter read on `cpu` is waiting to be read from, if any.
    pub fn counter_pending(&self, cpu: usize) -> Option<u8> {
        let c = self.cost.as_ref()?;
        c.pending.get(cpu).copied().flatten().map(|(rt, _)| rt)
    }

    /// The value the pending cycle-counter read on `cpu` returned.
    pub fn counter_value(&mut self, cpu: usize, value: u64) {
        let Some(c) = self.cost.as_mut() else {
            return;
        };
        if let Some((_, mut read)) = c.pending.get_mut(cpu).and_then(Option::take) {
            read.value = value;
            c.reads.push(read);
        }
    }
}
