//! The report's Linux section: Linux's measured rows beside this kernel's, with ratios
//! (`cargo xtask bench --linux`; the run itself is [`crate::linux`]).

use crate::bench::Record;
use crate::linux::{LinuxRun, HOST_DEPENDENT};
use crate::report::{int, size, table};
use crate::targets::{cycles, find, get, EIGHT_MIB};
use std::fmt::Write;

/// How to get the Linux figures, for reports without them.
pub const HOW: &str = "`cargo xtask bench --linux`";

fn opt(x: Option<f64>) -> String {
    x.map_or("-".into(), int)
}

/// `a / b` as `1.23x`.
fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "-".into(),
    }
}

fn num(r: Option<&Record>, f: &str) -> Option<f64> {
    r.and_then(|r| r.num(f))
}

/// The Linux record of `suite` / `case` / `variant` (any size).
fn lx<'a>(l: &'a LinuxRun, suite: &str, case: &str, variant: &str) -> Option<&'a Record> {
    find(&l.records, suite, case, variant).first().copied()
}

/// The key figures, this kernel's and Linux's: `(what, ours, linux)`. Where the work
/// happens differs: Linux cleans at END WRITE, this kernel at the device access that
/// reads the lines (the present), so the clean and the frame compare this kernel's sync
/// plus present with Linux's sync ioctls (Linux's present is not measured).
pub fn key_figures(rs: &[Record], l: &LinuxRun) -> Vec<(&'static str, Option<f64>, Option<f64>)> {
    let pair = |rs: &[Record], v| cycles(get(rs, "sync", "START+END WRITE", v, 4096));
    let linux_per_line = cycles(get(
        &l.records,
        "sync",
        "END WRITE",
        "linux-ioctl",
        EIGHT_MIB,
    ))
    .map(|c| c / (EIGHT_MIB / 64) as f64);
    let our_per_line = crate::report_boundary::clean_cost(rs, EIGHT_MIB)
        .filter(|&(_, lines)| lines > 0.0)
        .map(|(c, lines)| c / lines);
    let frame = |rs: &[Record], case, v, fields: &[&str]| {
        let r = find(rs, "frame", case, v).first().copied();
        fields.iter().map(|f| num(r, f)).sum::<Option<f64>>()
    };
    let both = ["sync_cycles", "present_cycles"];
    vec![
        (
            "START+END WRITE pair, 4 KiB, syscalls included (here nothing to clean yet)",
            pair(rs, "whole"),
            pair(&l.records, "linux-ioctl"),
        ),
        (
            "clean of 8 MiB per 64-byte line (here at the present, Linux at END WRITE)",
            our_per_line,
            linux_per_line,
        ),
        (
            "full frame: sync + present here / sync ioctls",
            frame(rs, "full-frame", "explicit-whole", &both),
            frame(&l.records, "full-frame", "linux-ioctl", &["sync_cycles"]),
        ),
        (
            "dirty 64x64: ranged sync + present here / sync ioctls (whole buffer)",
            frame(rs, "dirty-64x64", "explicit-ranged", &both),
            frame(&l.records, "dirty-64x64", "linux-ioctl", &["sync_cycles"]),
        ),
        (
            "readback 1 MiB: START+END READ (explicit ranged / ioctl, whole buffer)",
            num(
                find(rs, "readback", "1MiB", "explicit-ranged")
                    .first()
                    .copied(),
                "sync_cycles",
            ),
            num(lx(l, "readback", "1MiB", "linux-ioctl"), "sync_cycles"),
        ),
    ]
}

/// The key figures as a table (for the terminal and the report's top).
pub fn headline(rs: &[Record], l: &LinuxRun) -> String {
    let rows: Vec<Vec<String>> = key_figures(rs, l)
        .into_iter()
        .map(|(what, ours, linux)| {
            let show = |x: Option<f64>| {
                x.map_or("-".into(), |x| {
                    if x < 100.0 {
                        format!("{x:.2}")
                    } else {
                        int(x.round())
                    }
                })
            };
            vec![what.into(), show(ours), show(linux), ratio(linux, ours)]
        })
        .collect();
    table(
        &[
            "measurement (icount cycles)",
            "this kernel",
            "Linux",
            "Linux / this kernel",
        ],
        &rows,
    )
}

fn sync_table(rs: &[Record], l: &LinuxRun) -> String {
    let mut rows = Vec::new();
    let mut cases: Vec<&str> = Vec::new();
    for r in l.records.iter().filter(|r| r.suite == "sync") {
        if !cases.contains(&r.case.as_str()) {
            cases.push(&r.case);
        }
    }
    for case in cases {
        for r in l
            .records
            .iter()
            .filter(|r| r.suite == "sync" && r.case == case)
        {
            let whole = cycles(get(rs, "sync", case, "whole", r.size));
            let ranged = cycles(get(rs, "sync", case, "ranged", r.size));
            let linux = r.num("cycles");
            rows.push(vec![
                case.to_string(),
                size(r.size),
                opt(whole),
                opt(ranged),
                opt(linux),
                linux.map_or("-".into(), |c| format!("{:.2}", c / (r.size / 64) as f64)),
                ratio(linux, whole),
            ]);
        }
    }
    table(
        &[
            "case",
            "size",
            "this kernel, whole",
            "this kernel, ranged",
            "Linux ioctl",
            "Linux per line",
            "Linux / whole",
        ],
        &rows,
    )
}

/// Our frame strategies, in report order.
const OURS: &[&str] = &[
    "explicit-whole",
    "explicit-ranged",
    "legacy-fault",
    "legacy-uncached",
    "setway-clean-all",
];

fn frame_table(rs: &[Record], l: &LinuxRun, case: &str) -> String {
    let base = find(rs, "frame", case, "explicit-whole").first().copied();
    // This kernel cleans at the present (the coherence boundary), Linux at its END
    // ioctl: the total takes each system's present too (Linux has none measured).
    let ws = |r: Option<&Record>| {
        Some(
            num(r, "write_cycles")?
                + num(r, "sync_cycles")?
                + num(r, "present_cycles").unwrap_or(0.0),
        )
    };
    let mut rows = Vec::new();
    let mut row = |system: &str, r: Option<&Record>, variant: &str| {
        rows.push(vec![
            format!("{system}, {variant}"),
            opt(num(r, "write_cycles")),
            opt(num(r, "sync_cycles")),
            opt(num(r, "present_cycles")),
            opt(ws(r)),
            ratio(ws(r), ws(base)),
            opt(num(r, "syscalls")),
            opt(num(r, "faults")),
        ]);
    };
    for v in OURS {
        row(
            "this kernel",
            find(rs, "frame", case, v).first().copied(),
            v,
        );
    }
    for v in ["linux-ioctl", "linux-mmap-nosync"] {
        row("Linux", lx(l, "frame", case, v), v);
    }
    table(
        &[
            "system, strategy",
            "write",
            "sync",
            "present",
            "write + sync + present",
            "vs this kernel's explicit-whole",
            "syscalls",
            "faults",
        ],
        &rows,
    )
}

fn readback_table(rs: &[Record], l: &LinuxRun) -> String {
    let base = find(rs, "readback", "1MiB", "explicit-whole")
        .first()
        .copied();
    let sr = |r: Option<&Record>| Some(num(r, "sync_cycles")? + num(r, "read_cycles")?);
    let mut rows = Vec::new();
    for v in OURS {
        let r = find(rs, "readback", "1MiB", v).first().copied();
        rows.push(vec![
            format!("this kernel, {v}"),
            opt(num(r, "device_cycles")),
            opt(num(r, "sync_cycles")),
            opt(num(r, "read_cycles")),
            opt(sr(r)),
            ratio(sr(r), sr(base)),
            opt(num(r, "faults")),
        ]);
    }
    for v in ["linux-ioctl", "linux-mmap-nosync"] {
        let r = lx(l, "readback", "1MiB", v);
        let device = match (num(r, "device_cycles_min"), num(r, "device_cycles_max")) {
            (Some(a), Some(b)) => format!("{}..{} (host)", int(a), int(b)),
            _ => "-".into(),
        };
        rows.push(vec![
            format!("Linux, {v}"),
            device,
            opt(num(r, "sync_cycles")),
            opt(num(r, "read_cycles")),
            opt(sr(r)),
            ratio(sr(r), sr(base)),
            opt(num(r, "faults")),
        ]);
    }
    table(
        &[
            "system, strategy",
            "device write",
            "sync",
            "CPU read",
            "sync + read",
            "vs this kernel's explicit-whole",
            "faults",
        ],
        &rows,
    )
}

/// The host-dependent fields of both boots.
fn host_dependent(l: &LinuxRun) -> String {
    let mut rows = Vec::new();
    for r in &l.records {
        let other = l
            .second
            .as_ref()
            .and_then(|s| s.iter().find(|o| o.key() == r.key()));
        for f in HOST_DEPENDENT {
            let (Some(a), b) = (r.num(f), other.and_then(|o| o.num(f))) else {
                continue;
            };
            if a == 0.0 && b.unwrap_or(0.0) == 0.0 {
                continue;
            }
            rows.push(vec![r.key(), f.to_string(), int(a), opt(b)]);
        }
    }
    if rows.is_empty() {
        return "No try was thrown away in either boot.\n".into();
    }
    table(&["record", "field", "boot 1", "boot 2"], &rows)
}

/// The report's Linux section.
pub fn section(rs: &[Record], linux: Option<&LinuxRun>) -> String {
    let mut o = String::from("\n## Linux, measured on the same machine\n\n");
    let Some(l) = linux else {
        let _ = writeln!(
            o,
            "Not in this run: {HOW} boots Debian's arm64 Linux 6.12 on the same QEMU \
             machine and icount with the same workloads, and puts its figures here."
        );
        return o;
    };
    let _ = writeln!(
        o,
        "Produced by {HOW}: `{}` ({}) booted on the bench machine with the harness \
         `tools/linuxbench` as `/init`, which runs the same workloads through Linux's \
         interfaces: udmabuf dma-bufs over memfd pages, their cached mmap, \
         `DMA_BUF_IOCTL_SYNC`, an `O_DIRECT` read from virtio-blk. Cycles are PMCCNTR_EL0 \
         read at EL0 (perf event with `config1` rdpmc and `kernel.perf_user_access=1`), \
         user and kernel together, around exactly the `svc` or the loop, as here. Every \
         timed window is free of interrupts and task switches (perf events on the \
         `irq:irq_handler_entry` tracepoint and on context switches, read before and \
         after; a disturbed try is run again right after the next tick). Faults are \
         `getrusage`'s. Linux gets `nokaslr norandmaps randomize_kstack_offset=off \
         cryptomgr.notests` and QEMU `dtb-randomness=off` and a fixed virtual-time RTC \
         (`tools/xtask/src/linux.rs`). Determinism \
         check (two boots): {}.\n\nQEMU: `{}`\n",
        l.package,
        l.version,
        match l.diffs.as_ref() {
            None => "not run (use --check)".to_string(),
            Some(d) if d.is_empty() => "identical".to_string(),
            Some(d) => format!("{} figures DIFFER", d.len()),
        },
        l.command
    );
    o.push_str(&headline(rs, l));
    o.push_str(
        "\nLinux's sync has no range: every ioctl covers the whole buffer. On arm64 udmabuf \
         (a device without `dma-coherent`) START READ/RW invalidates every line, START \
         WRITE maintains nothing but still walks the scatter-gather list (one entry per \
         page), and every END (READ too) cleans every line (`arch/arm64/mm/dma-mapping.c`). \
         `Linux per line` is cycles / (size / 64): Linux has no line counter.\n\n### sync\n\n",
    );
    o.push_str(&sync_table(rs, l));
    for case in ["full-frame", "dirty-64x64"] {
        let _ = writeln!(o, "\n### frame: {case}\n");
        o.push_str(&frame_table(rs, l, case));
    }
    o.push_str(
        "\nLinux has no present here: no device imports a udmabuf on this machine, and the \
         virtio-gpu DRM driver is not loaded (its fbcon flushes would put host-timed \
         interrupts into every window), so Linux's frames are write + sync, this kernel's \
         write + sync + present: its clean happens at the present (the coherence \
         boundary), Linux's at the END ioctl. \
         `linux-mmap-nosync` writes through the dma-buf mmap with no sync at all: the \
         legacy-style mapping, which udmabuf does not make coherent by faults, zaps or an \
         uncached mapping, so on a non-coherent device it is simply incorrect.\n\n\
         ### readback: 1 MiB written by virtio-blk, then read by the CPU\n\n",
    );
    o.push_str(&readback_table(rs, l));
    o.push_str(
        "\nLinux's device write is an `O_DIRECT` `read(2)`, which returns when the device is \
         done (the wait and the completion interrupt included, so its cycles depend on the \
         host: the range over the readbacks, not compared by --check); this kernel's \
         `blk_read` returns a fence at once. Compare the sync and CPU read columns.\n\n\
         ### Host-dependent fields (not compared by --check)\n\n",
    );
    o.push_str(&host_dependent(l));
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::{parse, tests::fake_log};

    /// A Linux run with one record per workload the harness prints.
    fn fake_linux() -> LinuxRun {
        let mut log = String::new();
        for size in [4096u64, 8 << 20] {
            for case in ["START+END WRITE", "END WRITE"] {
                log.push_str(&format!(
                    "BENCH {{\"suite\":\"sync\",\"case\":\"{case}\",\"variant\":\"linux-ioctl\",\
                     \"size\":{size},\"reps\":1,\"cycles\":{},\"total_cycles\":1,\"syscalls\":1,\
                     \"faults\":0,\"thrown\":0}}\n",
                    2000 + size / 64 * 5
                ));
            }
        }
        for case in ["full-frame", "dirty-64x64"] {
            for v in ["linux-ioctl", "linux-mmap-nosync"] {
                log.push_str(&format!(
                    "BENCH {{\"suite\":\"frame\",\"case\":\"{case}\",\"variant\":\"{v}\",\"size\":1,\
                     \"reps\":3,\"cycles\":3,\"total_cycles\":9,\"syscalls\":2,\"faults\":0,\
                     \"thrown\":1,\"write_cycles\":1,\"sync_cycles\":520000}}\n"
                ));
            }
        }
        log.push_str(
            "BENCH {\"suite\":\"readback\",\"case\":\"1MiB\",\"variant\":\"linux-ioctl\",\
             \"size\":1048576,\"reps\":3,\"cycles\":3,\"total_cycles\":9,\"syscalls\":2,\
             \"faults\":0,\"thrown\":0,\"sync_cycles\":60000,\"read_cycles\":1,\
             \"device_cycles_min\":5,\"device_cycles_max\":7}\nBENCH-DONE\n",
        );
        LinuxRun {
            records: crate::linux::parse(&log).unwrap(),
            package: "linux-image-test.deb".into(),
            version: "Linux version 6.12-test".into(),
            command: "qemu".into(),
            diffs: Some(Vec::new()),
            second: None,
        }
    }

    #[test]
    fn linux_rows_stand_beside_ours_with_ratios() {
        let rs = parse(&fake_log()).unwrap();
        let l = fake_linux();
        let k = key_figures(&rs, &l);
        // The fake project run: 4 KiB pair 428; the fake Linux pair 2000 + 64 * 5.
        assert_eq!(k[0].1, Some(428.0));
        assert_eq!(k[0].2, Some(2320.0));
        // 8 MiB END WRITE per line: (2000 + 131072 * 5) / 131072.
        assert_eq!(k[1].2, Some((2000.0 + 131072.0 * 5.0) / 131072.0));
        // Ours: the present's clean of 8 MiB (the fake boundary suite), per line.
        let ours = crate::report_boundary::clean_cost(&rs, EIGHT_MIB).map(|(c, l)| c / l);
        assert!(ours.is_some() && k[1].1 == ours, "{:?}", k[1]);
        // The full frame: our sync + present (260,000 + 9,000) against Linux's syncs.
        assert_eq!(k[2].1, Some(269_000.0));
        assert_eq!(k[2].2, Some(520_000.0));
        let h = headline(&rs, &l);
        assert!(h.contains(" 1.93x |") && h.contains(" 5.42x |"), "{h}");
        let md = section(&rs, Some(&l));
        for s in [
            "linux-image-test.deb",
            "identical",
            "| Linux, linux-mmap-nosync",
            "| this kernel, legacy-uncached",
            "5..7 (host)",
            "| END WRITE       | 8 MiB",
            "frame: dirty-64x64",
            "Host-dependent",
            "thrown",
        ] {
            assert!(md.contains(s), "section lacks {s:?}:\n{md}");
        }
        let none = section(&rs, None);
        assert!(none.contains(HOW) && !none.contains("| Linux"));
    }
}
