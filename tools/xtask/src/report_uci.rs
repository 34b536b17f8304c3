//! The report's section on the EL0 option of END (the `uci` suite): the kernel's clean
//! at the present against the task's own `DC CVAC` loop and an END that records nothing.

use crate::bench::Record;
use crate::report::{int, size, sizes_of, table};
use crate::targets::get;
use std::fmt::Write;

const CASE: &str = "END WRITE + present";

fn opt(x: Option<f64>) -> String {
    x.map_or("-".into(), int)
}

fn num(r: Option<&Record>, f: &str) -> Option<f64> {
    r.and_then(|r| r.num(f))
}

/// `(kernel path cycles, EL0 path cycles)` for `size`.
pub fn totals(rs: &[Record], size: u64) -> Option<(f64, f64)> {
    let k = get(rs, "uci", CASE, "kernel", size)?;
    let e = get(rs, "uci", CASE, "el0", size)?;
    Some((k.num("cycles")?, e.num("cycles")?))
}

/// `## uci`.
pub fn uci_section(rs: &[Record]) -> String {
    let mut o = String::from("\n## uci: the EL0 option of END\n\n");
    o.push_str(
        "The same machine booted with `uci` (SCTLR_EL1.UCI: EL0 may clean by address). A \
         task hands a buffer it wrote to the device: `kernel` is END WRITE (the lines \
         become dirty) and the present that cleans them; `el0` is the task's own `DC CVAC` \
         loop over the buffer (unrolled by 8 like the kernel's, then `DSB SY`), END WRITE \
         with `USER_CLEANED` (nothing recorded; a `DSB`) and a present with nothing to \
         clean. Cycles per hand-over, user loop included; `kernel lines` are the lines the \
         kernel cleaned (the task's own are not counted); `masked max` is the longest \
         stretch with IRQs masked. The per-line cost is the same in both (one `DC` and one \
         `add` per line plus the loop's branch every 8 lines): what the option saves is the \
         kernel's plumbing around the clean and its steps, and the clean leaves the \
         present (and its IRQ-masked stretches) for the writer's own time.\n\n",
    );
    let rows: Vec<Vec<String>> = sizes_of(rs, |r| r.suite == "uci")
        .into_iter()
        .map(|s| {
            let k = get(rs, "uci", CASE, "kernel", s);
            let e = get(rs, "uci", CASE, "el0", s);
            let saved = totals(rs, s).map_or("-".into(), |(k, e)| {
                format!("{} ({:.1}%)", int(k - e), 100.0 * (k - e) / k)
            });
            vec![
                size(s),
                opt(num(k, "end_cycles")),
                opt(num(k, "present_cycles")),
                opt(num(k, "cycles")),
                opt(num(k, "lines_cleaned")),
                opt(num(k, "masked_max")),
                opt(num(e, "end_cycles")),
                opt(num(e, "present_cycles")),
                opt(num(e, "cycles")),
                opt(num(e, "lines_cleaned")),
                opt(num(e, "masked_max")),
                saved,
            ]
        })
        .collect();
    o.push_str(&table(
        &[
            "size",
            "kernel: END",
            "present",
            "total",
            "kernel lines",
            "masked max",
            "el0: loop + END",
            "present",
            "total",
            "kernel lines",
            "masked max",
            "saved",
        ],
        &rows,
    ));
    let _ = writeln!(o);
    o
}
