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
//! `_max` are host-dependent ranges (see `readback`). Every record also has `windows`, as the project's bench prints them (`userland/bench/src/windows.rs`):
//! `[phase, start, end]`, the raw PMCCNTR_EL0 values around every timed window their
//! cycles add up (phase 0 `write`, 1 `sync`, 2 `read`: the index of the phase field in
//! the project's record; 0 for `sync` records, which have no phases), so that `cargo xtask bench --model --linux` can price exactly
//! those windows. They are taken inside the timed code (the values it subtracts anyway)
//! and printed after it.

use crate::quiet::Totals;
use std::fmt::Write;

/// Phase of a frame's write window (the index of `write_cycles` in the project's frame
/// record).
pub const WRITE_PHASE: u8 = 0;
/// Phase of a sync window (`sync_cycles`).
pub const SYNC_PHASE: u8 = 1;
/// Phase of a readback's CPU read window (`read_cycles`).
pub const READ_PHASE: u8 = 2;

/// `window`'s cycles (`(start, end)` counter values), as the timed code computed them.
pub fn cycles(window: (u64, u64)) -> u64 {
    window.1.wrapping_sub(window.0)
}

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
    /// The timed windows: `(phase, start, end)`; empty: none printed.
    pub windows: Vec<(u8, u64, u64)>,
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
        if !self.windows.is_empty() {
            s.push_str(",\"windows\":[");
            for (i, (phase, start, end)) in self.windows.iter().enumerate() {
                let comma = if i == 0 { "" } else { "," };
                let _ = write!(s, "{comma}[{phase},{start},{end}]");
            }
            s.push(']');
        }
        s.push('}');
        s
    }

    /// Print `BENCH {json}`.
    pub fn print(&self) {
        println!("BENCH {}", self.json());
    }
}
