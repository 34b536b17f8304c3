//! The output: one `BENCH {json}` line per measurement on the console, in the project
//! bench's format (`userland/bench/src/report.rs`) where the figures exist on Linux.
//!
//! Fields: `suite`, `case`, `variant`, `size`, `reps`, `cycles` (per operation),
//! `total_cycles`, `syscalls` and `faults` (per operation: the syscalls the harness made
//! in the timed region, the page faults `getrusage` counted in it), `thrown` (tries
//! thrown away because an interrupt landed in them: depends on when the host finished
//! the boot's device work, so it is not a measured figure), and per-phase cycles for
//! `frame` (`write_cycles`, `sync_cycles`, `present_cycles`) and `readback`
//! (`device_cycles`, `sync_cycles`, `read_cycles`) records. Fields ending in `_min` /
//! `_max` are host-dependent ranges (see `readback`).

use crate::quiet::Totals;
use std::fmt::Write;

/// One measurement.
pub struct Record<'a> {
    /// `sync`, `frame` or `readback`.
    pub suite: &'a str,
    /// What was measured.
    pub case: &'a str,
    /// How.
    pub variant: &'a str,
    /// Bytes covered.
    pub size: u64,
    /// Cycles, syscalls and faults over all repetitions.
    pub totals: Totals,
    /// Per-operation extra fields (phases, ranges), already divided by the reps.
    pub extra: Vec<(&'a str, u64)>,
}

impl Record<'_> {
    /// The JSON object.
    pub fn json(&self) -> String {
        let t = &self.totals;
        let reps = t.reps.max(1);
        let mut s = format!(
            "{{\"suite\":\"{}\",\"case\":\"{}\",\"variant\":\"{}\",\"size\":{},\"reps\":{},\
             \"cycles\":{},\"total_cycles\":{},\"syscalls\":{},\"faults\":{},\"thrown\":{}",
            self.suite,
            self.case,
            self.variant,
            self.size,
            t.reps,
            t.cycles / reps,
            t.cycles,
            t.syscalls / reps,
            t.faults / reps,
            t.thrown,
        );
        for (name, v) in &self.extra {
            let _ = write!(s, ",\"{name}\":{v}");
        }
        s.push('}');
        s
    }

    /// Print `BENCH {json}`.
    pub fn print(&self) {
        println!("BENCH {}", self.json());
    }
}
