//! `cargo xtask bench --linux`: Linux, measured on the project's QEMU machine.
//!
//! Boots Debian's arm64 Linux 6.12 ([`crate::linux_kernel`]) on the machine the bench
//! kernel runs on (`-M virt`, `-cpu cortex-a72`, 1 GiB, one CPU, the 1920x1080
//! virtio-gpu, the capture disk on virtio-blk, `-icount shift=0,sleep=off`) with the
//! `linuxbench` harness as `/init` (`tools/linuxbench`), and collects its `BENCH` lines.
//!
//! Linux reads more of the host than the bench kernel does, so the run pins it: QEMU
//! gets `-machine dtb-randomness=off` (no random `kaslr-seed` / `rng-seed` in the
//! device tree) and `-rtc base=2025-01-01T00:00:00,clock=vm` (the PL031 clock starts at
//! a fixed date and follows the virtual clock); Linux gets `nokaslr norandmaps
//! randomize_kstack_offset=off` (the same addresses and per-syscall stack offsets every
//! boot) and `cryptomgr.notests` (otherwise the crypto self-tests run in a CPU-bound
//! kthread during the benchmark and preempt it in most long windows). The remaining host dependence is the block device's completion interrupts
//! (at boot, and in the readback's device write): no timed window may contain an
//! interrupt (the harness retries it), and the fields that depend on the host
//! ([`HOST_DEPENDENT`]) are reported apart and left out of `--check`.

use crate::bench::{differences, Record};
use crate::qemu::{Machine, Outcome};
use crate::{build, linux_kernel, Result};
use serde_json::{json, Map, Value};
use std::process::Command;
use std::time::Duration;

/// Kernel command line of the Linux run.
pub const APPEND: &str =
    "console=ttyAMA0 rdinit=/init quiet nokaslr norandmaps randomize_kstack_offset=off cryptomgr.notests";

/// QEMU arguments the Linux run adds to the bench machine's (see the module docs).
pub const EXTRA: &[&str] = &[
    "-machine",
    "dtb-randomness=off",
    "-rtc",
    "base=2025-01-01T00:00:00,clock=vm",
];

/// One boot's limit (a run takes about a minute).
const TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// Fields that depend on the host (not compared by `--check`): tries thrown away
/// because an interrupt landed in them, and the device write's range (Linux's `read`
/// waits for the device, whose completion interrupt arrives when the host is done).
pub const HOST_DEPENDENT: &[&str] = &["thrown", "device_cycles_min", "device_cycles_max"];

/// Fields every Linux record has.
const FIELDS: &[&str] = &[
    "size",
    "reps",
    "cycles",
    "total_cycles",
    "syscalls",
    "faults",
    "thrown",
];

/// What a Linux run produced.
pub struct LinuxRun {
    /// The records of the first boot.
    pub records: Vec<Record>,
    /// The kernel package (`.deb` name).
    pub package: String,
    /// `/proc/version` as the harness printed it.
    pub version: String,
    /// The QEMU command line.
    pub command: String,
    /// With `--check`: the deterministic figures that differ between the two boots.
    pub diffs: Option<Vec<String>>,
    /// With `--check`: the second boot's records (for the host-dependent spread).
    pub second: Option<Vec<Record>>,
}

/// Make sure `target` is installed for the active toolchain (rustup target add).
pub fn rust_target(target: &str) -> Result<()> {
    let sysroot = Command::new("rustc")
        .current_dir(build::root())
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("running rustc: {e}"))?;
    let sysroot = String::from_utf8_lossy(&sysroot.stdout).trim().to_string();
    let lib = std::path::Path::new(&sysroot)
        .join("lib/rustlib")
        .join(target)
        .join("lib");
    if lib.is_dir() {
        return Ok(());
    }
    eprintln!("xtask: installing the Rust target {target}: rustup target add {target}");
    let ok = Command::new("rustup")
        .current_dir(build::root())
        .args(["target", "add", target])
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`rustup target add {target}` failed; run it by hand"
        ))
    }
}

/// One harness record (a `BENCH` line's object, or one of a published run's).
pub fn record(v: Value) -> Result<Record> {
    let Value::Object(raw) = v else {
        return Err("not an object".into());
    };
    let s = |f: &str| raw.get(f).and_then(Value::as_str).map(str::to_string);
    let (Some(suite), Some(case), Some(variant)) = (s("suite"), s("case"), s("variant")) else {
        return Err("no suite/case/variant".into());
    };
    if let Some(f) = FIELDS
        .iter()
        .find(|f| raw.get(**f).and_then(Value::as_u64).is_none())
    {
        return Err(format!("no integer field {f:?}"));
    }
    let size = raw["size"].as_u64().unwrap_or(0);
    Ok(Record {
        suite,
        case,
        variant,
        size,
        raw,
    })
}

/// The records of a harness run; it must end with `BENCH-DONE`.
pub fn parse(output: &str) -> Result<Vec<Record>> {
    if let Some(l) = output.lines().find(|l| l.contains("linuxbench: error:")) {
        return Err(l.trim().to_string());
    }
    if !output.lines().any(|l| l.trim() == "BENCH-DONE") {
        return Err("the harness did not print BENCH-DONE".into());
    }
    let mut records: Vec<Record> = Vec::new();
    for line in output.lines() {
        let Some(at) = line.find("BENCH {") else {
            continue;
        };
        let v: Value = serde_json::from_str(line[at + 6..].trim())
            .map_err(|e| format!("bad BENCH line ({e}): {line}"))?;
        let r = record(v).map_err(|e| format!("{e}: {line}"))?;
        if records.iter().any(|o| o.key() == r.key()) {
            return Err(format!("duplicate record {}", r.key()));
        }
        records.push(r);
    }
    if records.is_empty() {
        return Err("the harness printed no BENCH records".into());
    }
    Ok(records)
}

/// The records without their [`HOST_DEPENDENT`] fields.
pub fn deterministic(rs: &[Record]) -> Vec<Record> {
    rs.iter()
        .map(|r| {
            let mut r = r.clone();
            for f in HOST_DEPENDENT {
                r.raw.remove(*f);
            }
            r
        })
        .collect()
}

pub fn records_of(o: &Outcome) -> Result<Vec<Record>> {
    let parsed = parse(&o.output);
    let problem = match o.status {
        None => Some(format!("QEMU killed after {:?} (timeout)", o.elapsed)),
        Some(0) => None,
        Some(s) => Some(format!("QEMU exited with status {s}")),
    };
    match (problem, parsed) {
        (None, Ok(r)) => Ok(r),
        (p, e) => {
            let why = [p, e.err()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("; ");
            let tail: Vec<&str> = o.output.lines().rev().take(40).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            Err(format!(
                "Linux benchmark run failed: {why}\n--- output (last 40 lines) ---\n{}",
                tail.join("\n")
            ))
        }
    }
}

/// The Linux machine (the bench machine's, with Linux and the harness) and its kernel.
pub fn machine(gpu: &str) -> Result<(Machine, linux_kernel::Kernel)> {
    let kernel = linux_kernel::kernel()?;
    let initramfs = linux_kernel::initramfs(&kernel)?;
    let mut m = Machine::new(&kernel.image);
    m.initrd = Some(initramfs);
    m.memory = "1G";
    m.gpu = gpu.into();
    m.disk = Some(build::capture_disk()?);
    m.icount = true;
    m.append = APPEND.into();
    m.extra = EXTRA.iter().map(|s| s.to_string()).collect();
    Ok((m, kernel))
}

/// Boot Linux once (twice with `check`) and collect the records.
pub fn run(check: bool, gpu: &str, command_line: impl Fn(&Machine) -> String) -> Result<LinuxRun> {
    let (m, kernel) = machine(gpu)?;
    let command = command_line(&m);
    println!("$ {command}");
    let boots = if check { 2 } else { 1 };
    let mut runs = Vec::new();
    let mut version = String::new();
    for n in 1..=boots {
        println!("xtask: Linux bench run {n} of {boots} ({})", kernel.package);
        let o = m.run_captured(TIMEOUT)?;
        let records = records_of(&o)?;
        if let Some(v) = o
            .output
            .lines()
            .find_map(|l| l.split("linuxbench: ").nth(1))
        {
            version = v.split(';').next().unwrap_or(v).trim().to_string();
        }
        println!(
            "xtask: Linux bench run {n}: {} records in {:.0?}",
            records.len(),
            o.elapsed
        );
        runs.push(records);
    }
    let second = runs.get(1).cloned();
    let diffs = second
        .as_ref()
        .map(|b| differences(&deterministic(&runs[0]), &deterministic(b)));
    Ok(LinuxRun {
        records: runs.swap_remove(0),
        package: kernel.package,
        version,
        command,
        diffs,
        second,
    })
}

impl LinuxRun {
    /// The `linux` object of results.json.
    pub fn json(&self) -> Value {
        let obj = |r: &Record| Value::Object(r.raw.clone());
        json!({
            "what": "Debian's arm64 Linux kernel on the same QEMU machine and icount, running \
                     the same workloads through udmabuf, dma-buf mmap and DMA_BUF_IOCTL_SYNC \
                     (tools/linuxbench)",
            "package": self.package,
            "version": self.version,
            "qemu": self.command,
            "host_dependent_fields": HOST_DEPENDENT,
            "deterministic_check": self.diffs.as_ref().map(Vec::is_empty),
            "records": self.records.iter().map(obj).collect::<Vec<_>>(),
            "second_run_host_dependent": self.second.as_ref().map(|rs| rs.iter().map(|r| {
                let mut m = Map::new();
                m.insert("key".into(), r.key().into());
                for f in HOST_DEPENDENT {
                    if let Some(v) = r.raw.get(*f) {
                        m.insert((*f).into(), v.clone());
                    }
                }
                Value::Object(m)
            }).collect::<Vec<_>>()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "linuxbench: Linux version 6.12; PMCCNTR_EL0 readable\n\
        BENCH {\"suite\":\"sync\",\"case\":\"END WRITE\",\"variant\":\"linux-ioctl\",\"size\":4096,\"reps\":16,\"cycles\":900,\"total_cycles\":14400,\"syscalls\":1,\"faults\":0,\"thrown\":0}\n\
        BENCH {\"suite\":\"readback\",\"case\":\"1MiB\",\"variant\":\"linux-ioctl\",\"size\":1048576,\"reps\":3,\"cycles\":500000,\"total_cycles\":1500000,\"syscalls\":2,\"faults\":0,\"thrown\":2,\"sync_cycles\":250000,\"read_cycles\":250000,\"device_cycles_min\":90000,\"device_cycles_max\":95000}\n\
        BENCH-DONE\n";

    #[test]
    fn parses_and_checks_only_deterministic_fields() {
        let a = parse(LOG).unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].num("cycles"), Some(900.0));
        let mut b = a.clone();
        b[1].raw.insert("device_cycles_max".into(), json!(99000));
        b[1].raw.insert("thrown".into(), json!(0));
        assert!(differences(&deterministic(&a), &deterministic(&b)).is_empty());
        b[0].raw.insert("cycles".into(), json!(901));
        let d = differences(&deterministic(&a), &deterministic(&b));
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].contains("cycles 900 vs 901"));
    }

    #[test]
    fn rejects_failed_or_incomplete_runs() {
        assert!(parse(&LOG.replace("BENCH-DONE", ""))
            .unwrap_err()
            .contains("BENCH-DONE"));
        let e = parse(&format!(
            "linuxbench: error: /dev/vda did not appear\n{LOG}"
        ))
        .unwrap_err();
        assert!(e.contains("/dev/vda"));
        assert!(parse(&LOG.replace("\"faults\":0,", ""))
            .unwrap_err()
            .contains("faults"));
        let dup = format!("{}\n{LOG}", LOG.lines().nth(1).unwrap());
        assert!(parse(&dup).unwrap_err().contains("duplicate"));
    }

    #[test]
    fn windows_are_parsed_and_checked_by_their_lengths() {
        let log = |a: u64, b: u64| {
            LOG.replace(
                "\"device_cycles_max\":95000}",
                &format!(
                    "\"device_cycles_max\":95000,\"windows\":[[1,{a},{}],[2,{b},{}]]}}",
                    a + 10,
                    b + 20
                ),
            )
        };
        let a = parse(&log(1000, 2000)).unwrap();
        let w = a[1].raw["windows"].as_array().unwrap();
        assert_eq!(w[1], json!([2, 2000, 2020]));
        // Where the windows lie depends on the boot; their phases and lengths must not.
        let b = parse(&log(5000, 7000)).unwrap();
        assert!(differences(&deterministic(&a), &deterministic(&b)).is_empty());
        let mut c = b.clone();
        c[1].raw
            .insert("windows".into(), json!([[1, 5000, 5010], [2, 7000, 7021]]));
        let d = differences(&deterministic(&a), &deterministic(&c));
        assert!(d.len() == 1 && d[0].contains("windows"), "{d:?}");
    }
}
