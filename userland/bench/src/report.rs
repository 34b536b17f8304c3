//! The output: one `BENCH {json}` line per measurement, formatted by hand with
//! `core::fmt` (integers only: there is no floating point in user code).

use crate::measure::{Totals, EVENT_NAMES};
use crate::windows::Windows;
use core::fmt;

/// JSON names of the three [`Phases`] of a `frame` record.
pub const FRAME_PHASES: [&str; 3] = ["write_cycles", "sync_cycles", "present_cycles"];
/// JSON names of the three [`Phases`] of a `readback` record: the device write
/// (`blk_read`), the sync (START + END READ, or the set/way clean), the CPU read.
pub const READBACK_PHASES: [&str; 3] = ["device_cycles", "sync_cycles", "read_cycles"];

/// Cycles of the three phases of a frame, summed over the frames measured. (A
/// `readback` record uses the same three slots for its phases: `write` is the device
/// write, `sync` the sync, `present` the CPU read; see [`READBACK_PHASES`].)
#[derive(Clone, Copy, Debug, Default)]
pub struct Phases {
    /// The CPU writing pixels (including legacy-mapping faults).
    pub write: u64,
    /// Making the writes visible to the device: START + END, or the set/way clean; 0
    /// when nothing is called (legacy mappings).
    pub sync: u64,
    /// The `gpu_present` syscall (for legacy mappings: including the zap and clean).
    pub present: u64,
    /// The raw counter values of the windows the three phases add up.
    pub windows: Windows,
}

impl Phases {
    /// All three.
    pub fn sum(&self) -> u64 {
        self.write + self.sync + self.present
    }
}

/// Phase by phase.
impl core::ops::AddAssign for Phases {
    fn add_assign(&mut self, p: Phases) {
        self.write += p.write;
        self.sync += p.sync;
        self.present += p.present;
        self.windows.extend(&p.windows);
    }
}

/// One measurement.
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    /// The suite (`sync`, `limit`, `frame`, `handover`, `readback`, `smp`, ...).
    pub suite: &'a str,
    /// What was measured within the suite.
    pub case: &'a str,
    /// How it was done.
    pub variant: &'a str,
    /// Bytes the operation covers.
    pub size: u64,
    /// Cycles and kernel events over all the operations measured.
    pub totals: Totals,
    /// Frame and readback records: the cycles of each phase over all operations.
    pub phases: Option<Phases>,
    /// Further named figures of the record, printed after the kernel's events (the
    /// `smp` suite's spread: `min_cycles`, `max_cycles`).
    pub extra: &'a [(&'a str, u64)],
}

impl Record<'_> {
    /// Print `BENCH {json}` on the console.
    pub fn print(&self) {
        urt::println!("BENCH {self}");
    }
}

/// Formats as a JSON object: the names and size, `reps`, `cycles` per operation,
/// `total_cycles`, then (frames) the per-frame phases, then the kernel's events per
/// operation.
impl fmt::Display for Record<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reps = self.totals.reps.max(1);
        write!(
            f,
            "{{\"suite\":{},\"case\":{},\"variant\":{},\"size\":{},\"reps\":{}",
            JsonStr(self.suite),
            JsonStr(self.case),
            JsonStr(self.variant),
            self.size,
            self.totals.reps,
        )?;
        match self.phases {
            None => write!(
                f,
                ",\"cycles\":{},\"total_cycles\":{}",
                self.totals.cycles / reps,
                self.totals.cycles
            )?,
            // `cycles` is the sum of the phases as printed, so the line adds up.
            Some(p) => {
                let (write, sync, present) = (p.write / reps, p.sync / reps, p.present / reps);
                let [a, b, c] = if self.suite == "readback" {
                    READBACK_PHASES
                } else {
                    FRAME_PHASES
                };
                write!(
                    f,
                    ",\"cycles\":{},\"total_cycles\":{},\"{a}\":{write},\"{b}\":{sync},\
                     \"{c}\":{present}",
                    write + sync + present,
                    self.totals.cycles,
                )?;
                f.write_str(",\"windows\":[")?;
                for (i, (phase, start, end)) in p.windows.as_slice().iter().enumerate() {
                    let sep = if i > 0 { "," } else { "" };
                    write!(f, "{sep}[{phase},{start},{end}]")?;
                }
                f.write_str("]")?;
                if p.windows.overflow {
                    f.write_str(",\"windows_overflow\":true")?;
                }
            }
        }
        let per_op = self.totals.events / reps;
        for (name, value) in EVENT_NAMES.iter().zip(per_op.0) {
            write!(f, ",\"{name}\":{value}")?;
        }
        for (name, value) in self.extra {
            write!(f, ",{}:{value}", JsonStr(name))?;
        }
        write!(f, ",\"masked_max\":{}}}", self.totals.masked_max)
    }
}

/// A string as a JSON string literal (quoted, with `"`, `\` and control characters
/// escaped).
struct JsonStr<'a>(&'a str);

impl fmt::Display for JsonStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                c if (c as u32) < 0x20 => write!(f, "\\u{:04x}", c as u32)?,
                c => write!(f, "{c}")?,
            }
        }
        f.write_str("\"")
    }
}
