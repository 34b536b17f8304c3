//! `cargo xtask bench`: boot the benchmark kernel under deterministic instruction
//! counting, collect the `BENCH {json}` lines of the `bench` program, and write
//! `target/xtask/bench/{results.json, report.md, sync.svg, frame.svg}`.
//!
//! QEMU runs with `-icount shift=0,sleep=off`, so PMCCNTR_EL0 counts retired
//! instructions: every figure is in "icount cycles" (instructions, not time) and is the
//! same on every run and every host. `--check` runs the suite twice and fails if any
//! figure differs (beyond what [`host_timed`] documents).
//!
//! Three boots make a run: every suite on one CPU; the `uci` suite on the same machine
//! with `uci` on the command line (the EL0 option; the program runs only that suite when
//! a buffer can opt in); then the `smp` suite on a machine with [`SMP_CPUS`] CPUs
//! (`bench=smp`; the program runs only that suite when it finds several CPUs online).
//! `--smp-only` runs just the last. The first two boot again on the kernel built with
//! the IRQ-masked stretch probe (`--features latency`): `masked_max` comes from there,
//! every other figure from the kernel without the probe ([`merge_masked`]).

use crate::build::{self, Flavor};
use crate::demo::shown;
use crate::qemu::{Machine, Outcome};
use crate::{plot, report, targets, Result};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// icount runs are slow (every instruction is counted); the full suite takes minutes.
const TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// Kernel command line of a benchmark boot. `devirq=poll`: device completions are
/// polled for when a fence is waited on (after the timed windows) instead of arriving by
/// interrupt at host-dependent moments, so no device interrupt lands in a timed window.
const APPEND: &str = "exit=semihosting init=bench dma=noncoherent devirq=poll";

/// The GPU at the frame workloads' size (1920x1080, 4 bytes per pixel).
pub const GPU: &str = "virtio-gpu-device,xres=1920,yres=1080";

/// CPUs of the machine the smp suite runs on.
pub const SMP_CPUS: u32 = 4;

/// The prefix of a measurement line; its JSON object follows.
const MARKER: &str = "BENCH {";
/// The line that ends a complete run.
const DONE: &str = "BENCH-DONE";

/// Numeric fields every record has (per operation unless named `total_*`).
pub const FIELDS: &[&str] = &[
    "size",
    "reps",
    "cycles",
    "total_cycles",
    "lines_cleaned",
    "lines_invalidated",
    "lines_clean_invalidated",
    "syscalls",
    "faults",
    "zaps",
    "tlbis",
    "setway_ops",
];

/// The fields of `demo` records (line counts per frame of the demo programs; their
/// cycles depend on the host, so they are not printed).
pub const DEMO_FIELDS: &[&str] = &[
    "size",
    "reps",
    "lines_cleaned",
    "lines_invalidated",
    "lines_clean_invalidated",
    "cpu_only_lines",
];

/// Per-frame phases that `frame` records have in addition.
pub const FRAME_PHASES: &[&str] = &["write_cycles", "sync_cycles", "present_cycles"];

/// Per-readback phases that `readback` records have in addition.
pub const READBACK_PHASES: &[&str] = &["device_cycles", "sync_cycles", "read_cycles"];

/// The phases records of `suite` have besides [`FIELDS`].
pub fn phases(suite: &str) -> &'static [&'static str] {
    match suite {
        "frame" => FRAME_PHASES,
        "readback" => READBACK_PHASES,
        _ => &[],
    }
}

/// One measurement.
#[derive(Clone, Debug)]
pub struct Record {
    /// `sync`, `limit`, `frame`, `handover` or `readback`.
    pub suite: String,
    /// What was measured (e.g. `END WRITE`).
    pub case: String,
    /// How (e.g. `whole`, `ranged`, `explicit-whole`).
    pub variant: String,
    /// Buffer size in bytes.
    pub size: u64,
    /// The object as printed.
    pub raw: Map<String, Value>,
}

impl Record {
    /// The numeric field `name`, if present.
    pub fn num(&self, name: &str) -> Option<f64> {
        self.raw.get(name).and_then(Value::as_f64)
    }

    /// `suite / case / variant / size`: unique within a run.
    pub fn key(&self) -> String {
        format!(
            "{} / {} / {} / {}",
            self.suite, self.case, self.variant, self.size
        )
    }

    /// Lines maintained per operation, whatever the kind.
    pub fn lines(&self) -> f64 {
        [
            "lines_cleaned",
            "lines_invalidated",
            "lines_clean_invalidated",
        ]
        .iter()
        .filter_map(|f| self.num(f))
        .sum()
    }
}

/// The records of a run's serial output. The run must end with `BENCH-DONE`; every
/// `BENCH` line must be a JSON object with the documented fields, and no two may
/// measure the same thing.
pub fn parse(output: &str) -> Result<Vec<Record>> {
    let mut records: Vec<Record> = Vec::new();
    let mut done = false;
    for (i, line) in output.lines().enumerate() {
        let line = line.trim_end();
        if line.trim() == DONE {
            done = true;
            continue;
        }
        let Some(at) = line.find(MARKER) else {
            continue;
        };
        let r = parse_record(&line[at + MARKER.len() - 1..])
            .map_err(|e| format!("output line {}: {e}: {line}", i + 1))?;
        if records.iter().any(|o| o.key() == r.key()) {
            return Err(format!(
                "output line {}: duplicate record {}",
                i + 1,
                r.key()
            ));
        }
        records.push(r);
    }
    if !done {
        return Err(format!("the run did not print {DONE}"));
    }
    if records.is_empty() {
        return Err("the run printed no BENCH records".into());
    }
    Ok(records)
}

pub fn parse_record(text: &str) -> Result<Record> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("bad JSON ({e})"))?;
    let Value::Object(raw) = v else {
        return Err("not a JSON object".into());
    };
    let string = |f: &str| -> Result<String> {
        raw.get(f)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("no string field {f:?}"))
    };
    let (suite, case, variant) = (string("suite")?, string("case")?, string("variant")?);
    let required = if suite == "demo" { DEMO_FIELDS } else { FIELDS };
    for f in required.iter().chain(phases(&suite)) {
        match raw.get(*f).and_then(Value::as_f64) {
            Some(x) if x >= 0.0 => {}
            _ => return Err(format!("no non-negative number field {f:?}")),
        }
    }
    let size = raw
        .get("size")
        .and_then(Value::as_u64)
        .ok_or("\"size\" is not an integer")?;
    Ok(Record {
        suite,
        case,
        variant,
        size,
        raw,
    })
}

/// How far two runs' `median_cycles` of a host-timed record may be apart (relative):
/// `Some(t)` within `t`, `None` not compared at all.
pub type Tolerance = Option<f64>;

/// Records whose cycles depend on the host, not only on the instructions run (README,
/// "Benchmarks on 4 CPUs"; `userland/bench/src/smp_suite.rs`), with how far two runs'
/// medians may differ; `None` for every other record (compared exactly):
///
/// - the `smp` suite's legacy hand-overs with writer threads: the writers' faults wait
///   for the present's GPU fence, which QEMU completes on its own thread whenever the
///   host gets to it, so when they run again, how many faults land inside a present's
///   window and how many re-faults a writer's next pass finds vary from run to run. The
///   median stays within [`HOST_TIMED_TOLERANCE`] (measured over thirteen runs: 0.06%).
/// - its `TLBI broadcast` right after a tick on 4 CPUs (`idle`, `3-busy`): QEMU makes
///   the broadcasting CPU wait for the rest of a round-robin turn whose length depends on
///   host-clock timers (2.4 or 3.5 million cycles): its cycles are reported, not
///   compared.
///
/// Two runs must still agree exactly on their [`HOST_TIMED_EXACT`] fields.
pub fn host_timed(r: &Record) -> Option<Tolerance> {
    if r.suite != "smp" {
        return None;
    }
    match r.case.as_str() {
        "legacy present" | "legacy re-fault" if !r.variant.starts_with("0-") => {
            Some(Some(HOST_TIMED_TOLERANCE))
        }
        "TLBI broadcast" if r.variant == "idle" || r.variant == "3-busy" => Some(None),
        _ => None,
    }
}

/// The fields of a [`host_timed`] record that two runs must still agree on exactly.
pub const HOST_TIMED_EXACT: &[&str] = &[
    "suite",
    "case",
    "variant",
    "size",
    "lines_cleaned",
    "lines_clean_invalidated",
    "syscalls",
    "zaps",
    "tlbis",
    "setway_ops",
];

/// How far apart (relative) two runs' `median_cycles` of a legacy hand-over with
/// writers may be.
pub const HOST_TIMED_TOLERANCE: f64 = 0.01;

/// Whether two runs' values of `field` of record `r` count as the same.
fn same(r: &Record, field: &str, x: Option<&Value>, y: Option<&Value>) -> bool {
    let Some(tolerance) = host_timed(r) else {
        return x == y;
    };
    if x == y {
        return true;
    }
    if HOST_TIMED_EXACT.contains(&field) {
        return false;
    }
    match (field, tolerance) {
        ("median_cycles", Some(t)) => {
            match (x.and_then(Value::as_f64), y.and_then(Value::as_f64)) {
                (Some(a), Some(b)) => (a - b).abs() <= t * a.max(b),
                _ => false,
            }
        }
        _ => true,
    }
}

/// A record's `windows` (`[[phase, start, end], ...]`) as `[[phase, end - start], ...]`.
fn window_lengths(w: &Value) -> Value {
    let lengths: Vec<Value> = w
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| {
            let v: Vec<u64> = x
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_u64).collect())
                .unwrap_or_default();
            match v[..] {
                [phase, start, end] => json!([phase, end.wrapping_sub(start)]),
                _ => x.clone(),
            }
        })
        .collect();
    Value::Array(lengths)
}

/// Where two runs' figures differ: one line per differing field or missing record
/// (within what [`host_timed`] records may vary by; timed windows by their lengths, not
/// their positions in the run).
pub fn differences(a: &[Record], b: &[Record]) -> Vec<String> {
    let mut out = Vec::new();
    for r in a {
        match b.iter().find(|o| o.key() == r.key()) {
            None => out.push(format!("{}: only in run 1", r.key())),
            Some(o) => {
                let mut fields: Vec<&String> = r.raw.keys().chain(o.raw.keys()).collect();
                fields.sort();
                fields.dedup();
                for f in fields {
                    let (x, y) = (r.raw.get(f), o.raw.get(f));
                    // Windows are compared by their phases and lengths: where in the run
                    // they start depends on untimed work (fence polling) whose length
                    // depends on the host.
                    let (x, y) = if f == "windows" {
                        (x.map(window_lengths), y.map(window_lengths))
                    } else {
                        (x.cloned(), y.cloned())
                    };
                    let (x, y) = (x.as_ref(), y.as_ref());
                    if !same(r, f, x, y) {
                        let show = |v: Option<&Value>| v.map_or("-".into(), Value::to_string);
                        out.push(format!("{}: {f} {} vs {}", r.key(), show(x), show(y)));
                    }
                }
            }
        }
    }
    for r in b {
        if !a.iter().any(|o| o.key() == r.key()) {
            out.push(format!("{}: only in run 2", r.key()));
        }
    }
    out
}

/// The benchmark machine (bench kernel, initrd, capture disk, icount); also returns
/// the kernel ELF.
pub fn machine(quick: bool) -> Result<(Machine, PathBuf)> {
    let image = build::kernel(Flavor::Bench)?;
    let mut m = Machine::new(&image.image);
    m.initrd = Some(build::initrd()?);
    m.memory = "1G";
    m.gpu = GPU.into();
    // The readback suite reads the capture disk.
    m.disk = Some(build::capture_disk()?);
    m.icount = true;
    m.append = if quick {
        format!("{APPEND} bench=quick")
    } else {
        APPEND.into()
    };
    Ok((m, image.elf))
}

/// `cargo xtask bench [--check] [--quick] [--publish] [--linux] [--smp-only]`.
pub fn run(
    check: bool,
    quick: bool,
    publish: bool,
    linux: bool,
    smp_only: bool,
) -> Result<ExitCode> {
    if publish && (quick || smp_only) {
        return Err("--publish records the full suite; drop --quick and --smp-only".into());
    }
    if !build::user_crates().contains(&"bench") {
        return Err("userland/bench (the benchmark program) is not a workspace member yet".into());
    }
    // A published figure comes from a commit, and only after two identical runs.
    let commit = if publish {
        Some(crate::publish::clean_commit(&build::root())?)
    } else {
        None
    };
    let check = check || publish;
    let (m, _) = machine(quick)?;
    // The smp suite's machine: the same with SMP_CPUS CPUs (the program runs only the
    // smp suite when it finds several CPUs online).
    let mut smp = m.clone();
    smp.smp = SMP_CPUS;
    smp.append = format!("{APPEND} bench=smp");
    // The uci suite's machine: the same with the EL0 option on (the program runs only
    // the uci suite when a buffer can opt in), so the other figures are a kernel's
    // without it.
    let mut uci = m.clone();
    uci.append = format!("{} uci", m.append);
    let command = command_line(&m);
    let smp_command = command_line(&smp);
    // Each 1-CPU boot again on the kernel with the IRQ-masked stretch probe: the
    // stretches come from there (`merge_masked`), every other figure from the kernel
    // without the probe's instructions. (The smp suite reports no stretches.)
    let mut machines = Vec::new();
    if !smp_only {
        let probe_image = build::kernel(Flavor::BenchLatency)?.image;
        let probe = |m: &Machine| {
            let mut p = m.clone();
            p.kernel = probe_image.clone();
            p
        };
        println!("$ {command}");
        println!("$ {}", command_line(&uci));
        println!(
            "  (and both again with {}: its IRQ-masked stretches only)",
            shown(&probe_image)
        );
        let (m_probe, uci_probe) = (probe(&m), probe(&uci));
        machines.push(("1 CPU", m, Some(m_probe)));
        machines.push(("uci", uci, Some(uci_probe)));
    }
    println!("$ {smp_command}");
    machines.push(("smp", smp, None));

    let runs = if check { 2 } else { 1 };
    let mut results = Vec::new();
    for n in 1..=runs {
        let mut records = Vec::new();
        for (what, m, probe) in &machines {
            let boot = |m: &Machine, what: &str| -> Result<Vec<Record>> {
                println!("xtask: bench run {n} of {runs} ({what})");
                let o = m.run_captured(TIMEOUT)?;
                let got = outcome_records(&o)?;
                println!(
                    "xtask: bench run {n} ({what}): {} records in {:.0?}",
                    got.len(),
                    o.elapsed
                );
                Ok(got)
            };
            let mut got = boot(m, what)?;
            if let Some(probe) = probe {
                let stretches = boot(probe, &format!("{what}, latency probe"))?;
                merge_masked(&mut got, &stretches)
                    .map_err(|e| format!("bench run {n} ({what}): {e}"))?;
            }
            records.extend(got);
        }
        results.push(records);
    }
    let diffs = if check {
        differences(&results[0], &results[1])
    } else {
        Vec::new()
    };
    let records = &results[0];
    // --linux: the same workloads on Linux, same machine (crate::linux).
    let linux = if linux {
        Some(crate::linux::run(check, GPU, command_line)?)
    } else {
        None
    };
    let mut diffs = diffs;
    if let Some(d) = linux.as_ref().and_then(|l| l.diffs.as_ref()) {
        diffs.extend(d.iter().map(|d| format!("linux: {d}")));
    }

    let dir = build::out_dir().join("bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let meta = Meta {
        command: if smp_only { String::new() } else { command },
        smp_command: Some(smp_command),
        git: git_describe(),
        commit,
        quick,
        checked: check.then_some(diffs.is_empty()),
        linux,
        model: match crate::model_data::ModelRun::load_matching(&dir, records) {
            Ok(m) => m,
            Err(e) => {
                println!("xtask: report without modeled cycles: {e}");
                None
            }
        },
    };
    if meta.model.is_some() {
        println!("xtask: report.md includes the model run of the same figures (model.json)");
    }
    let files = write_outputs(&dir, records, &meta)?;

    println!();
    print!("{}", report::headline(records));
    if let Some(l) = &meta.linux {
        println!("\nLinux on the same machine ({})\n", l.package);
        print!("{}", crate::linux_report::headline(records, l));
    }
    println!();
    for f in &files {
        println!("xtask: wrote {}", shown(f));
    }
    if publish && !diffs.is_empty() {
        eprintln!("xtask: not published: the two runs differ");
    } else if publish {
        let to = build::root().join(crate::publish::DIR);
        std::fs::create_dir_all(&to).map_err(|e| format!("{}: {e}", to.display()))?;
        // A model run of other figures must not stay beside these.
        if meta.model.is_none() {
            for stale in ["model.json", "model.svg"] {
                let _ = std::fs::remove_file(to.join(stale));
            }
        }
        for f in &files {
            let dest = to.join(f.file_name().expect("file"));
            std::fs::copy(f, &dest).map_err(|e| format!("{}: {e}", dest.display()))?;
            println!("xtask: published {}", shown(&dest));
        }
        crate::publish::update_readme(&build::root())?;
        println!("xtask: README.md figures rewritten from the published results.json");
    }
    if !diffs.is_empty() {
        eprintln!(
            "xtask: bench --check: {} figures differ between two runs:",
            diffs.len()
        );
        for d in &diffs {
            eprintln!("    {d}");
        }
        return Ok(ExitCode::FAILURE);
    }
    if check {
        println!(
            "xtask: bench --check: both runs identical ({} records{})",
            records.len(),
            meta.linux.as_ref().map_or(String::new(), |l| format!(
                ", and Linux's {} records apart from their host-dependent fields",
                l.records.len()
            ))
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether field `f` of a record measures time (cycles or timed windows), so that the
/// latency probe's instructions change it.
fn timed_field(f: &str) -> bool {
    f.ends_with("cycles") || f.ends_with("_median") || f == "windows" || f == "masked_max"
}

/// Give `records` (a boot of the kernel without the latency probe, which reports no
/// IRQ-masked stretch) the `masked_max` of the same boot on the kernel with it
/// (`probe`). The two must have measured the same things with the same results: the
/// same records, equal in every field that is not timed ([`timed_field`]).
pub fn merge_masked(records: &mut [Record], probe: &[Record]) -> Result<()> {
    if records.len() != probe.len() {
        return Err(format!(
            "{} records, but {} on the kernel with the latency probe",
            records.len(),
            probe.len()
        ));
    }
    for r in records.iter_mut() {
        let p = probe
            .iter()
            .find(|p| p.key() == r.key())
            .ok_or_else(|| format!("{}: not measured on the latency kernel", r.key()))?;
        let mut fields: Vec<&String> = r.raw.keys().chain(p.raw.keys()).collect();
        fields.sort();
        fields.dedup();
        for f in fields.into_iter().filter(|f| !timed_field(f)) {
            if r.raw.get(f) != p.raw.get(f) {
                return Err(format!(
                    "{}: {f} differs on the kernel with the latency probe",
                    r.key()
                ));
            }
        }
        match (r.num("masked_max"), p.raw.get("masked_max")) {
            (Some(x), _) if x != 0.0 => {
                return Err(format!(
                    "{}: the kernel without the latency probe reported a stretch",
                    r.key()
                ))
            }
            (Some(_), Some(m)) => {
                r.raw.insert("masked_max".into(), m.clone());
            }
            (None, None) => {}
            _ => return Err(format!("{}: masked_max in only one of the boots", r.key())),
        }
    }
    Ok(())
}

/// The QEMU command line as a shell would take it, paths relative to the workspace root.
pub fn command_line(m: &Machine) -> String {
    let root = format!("{}/", build::root().display());
    let mut words = vec![crate::qemu::QEMU.to_string()];
    for a in m.args() {
        let a = a.replace(&root, "");
        words.push(if a.contains(' ') { format!("'{a}'") } else { a });
    }
    words.join(" ")
}

/// The records of a finished run, or why it failed with the tail of its output.
pub fn outcome_records(o: &Outcome) -> Result<Vec<Record>> {
    let problem = match o.status {
        None => Some(format!("QEMU killed after {:?} (timeout)", o.elapsed)),
        Some(0) => None,
        Some(s) => Some(format!("QEMU exited with status {s}")),
    };
    let parsed = parse(&o.output);
    let why = match (problem, parsed) {
        (None, Ok(records)) => return Ok(records),
        (Some(p), Ok(_)) => p,
        (None, Err(e)) => e,
        (Some(p), Err(e)) => format!("{p}; {e}"),
    };
    let tail: Vec<&str> = o.output.lines().rev().take(40).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Err(format!(
        "benchmark run failed: {why}\n--- output (last 40 lines) ---\n{}",
        tail.join("\n")
    ))
}

/// What results.json records besides the measurements.
pub struct Meta {
    /// The QEMU command line (of the 1-CPU run of every suite but `smp`; empty with
    /// `--smp-only`).
    pub command: String,
    /// The QEMU command line of the smp suite's run, if it ran.
    pub smp_command: Option<String>,
    /// `git describe` of the tree, if available.
    pub git: Option<String>,
    /// The commit measured, for a published run (whose tree was clean).
    pub commit: Option<String>,
    /// `--quick` (fewer sizes and repetitions).
    pub quick: bool,
    /// With `--check`: whether the two runs were identical.
    pub checked: Option<bool>,
    /// With `--linux`: Linux's run on the same machine.
    pub linux: Option<crate::linux::LinuxRun>,
    /// The memory-cost model's run of the same program (`bench --model`), if any.
    pub model: Option<crate::model_data::ModelRun>,
}

/// results.json, report.md and the plots in `dir`; returns the paths written.
pub fn write_outputs(dir: &Path, records: &[Record], meta: &Meta) -> Result<Vec<PathBuf>> {
    let results = json!({
        "unit": "icount cycles: PMCCNTR_EL0 under QEMU -icount shift=0,sleep=off \
                 counts retired instructions (not time)",
        "qemu": meta.command,
        "qemu_smp": meta.smp_command,
        "git": meta.git,
        "commit": meta.commit,
        "quick": meta.quick,
        "deterministic_check": meta.checked,
        "targets": targets::targets(records).iter().map(|t| json!({
            "target": t.name, "measured": t.measured, "bound": t.bound, "met": t.met,
        })).collect::<Vec<_>>(),
        "records": records.iter().map(|r| Value::Object(r.raw.clone())).collect::<Vec<_>>(),
        "linux": meta.linux.as_ref().map(crate::linux::LinuxRun::json),
    });
    let text = serde_json::to_string_pretty(&results).map_err(|e| e.to_string())? + "\n";
    let mut outputs = vec![
        ("results.json", text),
        ("report.md", report::markdown(records, meta)),
        ("sync.svg", plot::sync_svg(records)?),
        ("frame.svg", plot::frame_svg(records)?),
    ];
    if let Some(m) = &meta.model {
        let json = serde_json::to_string_pretty(&m.json()).map_err(|e| e.to_string())? + "\n";
        outputs.push(("model.json", json));
        outputs.push(("model.svg", crate::plot_model::model_svg(m)?));
    }
    let mut written = Vec::new();
    for (name, body) in outputs {
        let path = dir.join(name);
        std::fs::write(&path, body).map_err(|e| format!("{}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// `git describe --always --dirty --tags` of the workspace, if git is there.
pub fn git_describe() -> Option<String> {
    let out = std::process::Command::new("git")
        .current_dir(build::root())
        .args(["describe", "--always", "--dirty", "--tags"])
        .output()
        .ok()?;
    let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !s.is_empty()).then_some(s)
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A complete fake run: every suite, case, variant and size the program emits, with
    /// made-up but plausible figures (lines per op follow the size).
    pub fn fake_log() -> String {
        let mut s = String::from("[ 1] INFO  started 'bench' as task 1\r\n");
        let mut line = |suite: &str, case: &str, variant: &str, size: u64, extra: Value| {
            let lines = size / 64;
            let mut v = json!({
                "suite": suite, "case": case, "variant": variant, "size": size, "reps": 8,
                "cycles": 300 + lines * 2, "total_cycles": (300 + lines * 2) * 8,
                "lines_cleaned": (if case.contains("WRITE") || case == "clean" { lines } else { 0 }),
                "lines_invalidated": (if case.contains("START READ") || case == "invalidate" { lines } else { 0 }),
                "lines_clean_invalidated": 0, "syscalls": 1, "faults": 0, "zaps": 0,
                "tlbis": 0, "setway_ops": 0, "masked_max": 900,
            });
            if suite == "limit" {
                v["cycles"] = json!(lines * 2 + lines / 8);
                v["syscalls"] = json!(0);
            }
            if let (Value::Object(o), Value::Object(e)) = (&mut v, extra) {
                o.extend(e);
            }
            s.push_str(&format!("BENCH {v}\r\n"));
        };
        let sizes = [4u64, 16, 64, 256, 1024, 4096, 8192, 16384].map(|k| k * 1024);
        let cases = [
            "START READ",
            "START WRITE",
            "START RW",
            "END READ",
            "END WRITE",
            "END RW",
            "START+END WRITE",
        ];
        for size in sizes {
            for case in cases {
                for variant in ["whole", "ranged"] {
                    line("sync", case, variant, size, json!({}));
                }
            }
            for case in ["clean", "invalidate"] {
                line("limit", case, "bare-dc-loop", size, json!({}));
            }
        }
        let fb = 1920 * 1080 * 4;
        for (case, sync) in [
            ("full-frame", 260_000u64),
            ("dirty-64x64", 600),
            ("dirty-1-page", 300),
        ] {
            for (i, variant) in [
                "explicit-whole",
                "explicit-ranged",
                "legacy-fault",
                "legacy-uncached",
                "setway-clean-all",
            ]
            .iter()
            .enumerate()
            {
                let sync = if *variant == "explicit-whole" {
                    260_000
                } else {
                    sync * (i as u64 + 1)
                };
                let write = if case == "full-frame" {
                    4_000_000
                } else {
                    20_000
                };
                let legacy = variant.starts_with("legacy");
                let extra = json!({
                    "cycles": (write + sync + 9_000 + if legacy { 3_000_000 } else { 0 }),
                    "write_cycles": write, "sync_cycles": sync, "present_cycles": 9_000,
                    "masked_max": if legacy { 300_000 } else { 9_000 },
                });
                line("frame", case, variant, fb, extra);
            }
        }
        line(
            "handover",
            "4KiB ping-pong",
            "explicit",
            4096,
            json!({"syscalls": 4}),
        );
        for (i, variant) in [
            "explicit-whole",
            "explicit-ranged",
            "legacy-fault",
            "legacy-uncached",
            "setway-clean-all",
        ]
        .iter()
        .enumerate()
        {
            let (device, sync, read) = (2_000 + i as u64, 30_000 * i as u64, 200_000u64);
            let extra = json!({
                "cycles": device + sync + read,
                "device_cycles": device, "sync_cycles": sync, "read_cycles": read,
            });
            line("readback", "1MiB", variant, 1 << 20, extra);
        }
        for size in sizes {
            let lines = size / 64;
            for (case, c, l) in [
                ("START+END WRITE", 700, 0),
                ("present, all lines dirty", 2_000 + lines * 5 / 2, lines),
                ("present, nothing dirty", 2_000, 0),
                ("END WRITE, uncached alias", 400 + lines * 9 / 4, lines),
            ] {
                let extra = json!({"cycles": c, "lines_cleaned": l});
                line("boundary", case, "whole", size, extra);
            }
        }
        for (variant, c, l) in [("dirty", 3_000 + 4320 * 3, 4320), ("clean", 3_000, 0)] {
            let extra = json!({"cycles": c, "lines_cleaned": l});
            line("boundary", "present rectangle", variant, 1080 * 256, extra);
        }
        for (case, frames, cleaned) in [("demo", 60, 129_600), ("pipeline", 30, 130_000)] {
            s.push_str(&format!(
                "BENCH {}\r\n",
                json!({"suite": "demo", "case": case, "variant": "per-frame", "size": frames,
                       "reps": frames, "lines_cleaned": cleaned, "lines_invalidated": 4000,
                       "lines_clean_invalidated": 0, "cpu_only_lines": 0})
            ));
        }
        s.push_str(&smp_fake_log());
        s.push_str("BENCH-DONE\r\n[ 2] INFO  'bench' exited: Exited with code 0\r\n");
        s
    }

    /// The smp suite's records as its 4-CPU run prints them (and the 1-CPU run's
    /// `TLBI broadcast` records), with figures like those measured.
    pub fn smp_fake_log() -> String {
        let mut s = String::new();
        let mut line = |case: &str, variant: &str, size: u64, reps: u64, c: [u64; 3], ev: Value| {
            let mut v = json!({
                "suite": "smp", "case": case, "variant": variant, "size": size, "reps": reps,
                "cycles": c[0], "total_cycles": c[0] * reps, "lines_cleaned": 0,
                "lines_invalidated": 0, "lines_clean_invalidated": 0, "syscalls": 1,
                "faults": 0, "zaps": 0, "tlbis": 0, "setway_ops": 0,
                "median_cycles": c[0], "min_cycles": c[1], "max_cycles": c[2], "masked_max": 0,
            });
            if let (Value::Object(o), Value::Object(e)) = (&mut v, ev) {
                o.extend(e);
            }
            s.push_str(&format!("BENCH {v}\r\n"));
        };
        for (n, variant, med) in [
            (1, "1-thread", 907),
            (2, "2-threads", 907),
            (4, "4-threads", 919),
        ] {
            let mut ev = json!({"syscalls": 2, "median_cycles": med});
            for t in 0..n {
                ev[format!("thread{t}_median")] = json!(907 + 12 * t);
            }
            line(
                "START+END WRITE",
                variant,
                4096,
                128 * n,
                [med + 6, 907, 943],
                ev,
            );
        }
        for (v, present) in [
            ("0-writers", 15_479),
            ("1-writer", 542_108),
            ("3-writers", 418_762),
        ] {
            let ev = json!({"lines_cleaned": 3072, "zaps": 1, "tlbis": 1});
            let c = [present, present - 100, present * 9];
            line("legacy present", v, 48 * 4096, 8, c, ev);
            let ev = json!({"syscalls": 0, "faults": 1});
            line("legacy re-fault", v, 4096, 60, [1_100, 1_093, 1_101], ev);
        }
        for (variant, c) in [("1-cpu", 7_982), ("idle", 2_441_174), ("3-busy", 2_440_967)] {
            for (late, c) in [("", c), (", late", 7_982)] {
                let ev = json!({"tlbis": 1});
                line(
                    "TLBI broadcast",
                    &format!("{variant}{late}"),
                    4096,
                    8,
                    [c, c, c],
                    ev,
                );
            }
        }
        s
    }

    #[test]
    fn parses_a_complete_run() {
        let records = parse(&fake_log()).unwrap();
        assert_eq!(
            records.len(),
            8 * 7 * 2 + 8 * 2 + 3 * 5 + 1 + 5 + 8 * 4 + 2 + 2 + 3 + 6 + 6
        );
        let r = records
            .iter()
            .find(|r| r.case == "END WRITE" && r.variant == "whole" && r.size == 8 << 20)
            .unwrap();
        assert_eq!(r.num("lines_cleaned"), Some(131072.0));
        assert_eq!(r.lines(), 131072.0);
        assert_eq!(r.key(), "sync / END WRITE / whole / 8388608");
    }

    #[test]
    fn rejects_incomplete_or_malformed_runs() {
        let log = fake_log();
        let cut = log.replace("BENCH-DONE", "");
        assert!(parse(&cut).unwrap_err().contains("BENCH-DONE"));
        assert!(parse("BENCH-DONE\n")
            .unwrap_err()
            .contains("no BENCH records"));
        let bad = format!("BENCH {{\"suite\": \"sync\"\n{log}");
        assert!(parse(&bad).unwrap_err().contains("line 1: bad JSON"));
        let missing = log.replacen("\"tlbis\":0,", "", 1);
        assert!(parse(&missing).unwrap_err().contains("\"tlbis\""));
        let first = log.lines().nth(1).unwrap();
        let dup = format!("{first}\n{log}");
        assert!(parse(&dup).unwrap_err().contains("duplicate record"));
        let no_phase = log.replacen("\"sync_cycles\":", "\"x\":", 1);
        assert!(parse(&no_phase).unwrap_err().contains("sync_cycles"));
        let no_read = log.replacen("\"read_cycles\":", "\"x\":", 1);
        assert!(parse(&no_read).unwrap_err().contains("read_cycles"));
    }

    #[test]
    fn differences_name_each_differing_figure() {
        let a = parse(&fake_log()).unwrap();
        assert!(differences(&a, &a).is_empty());
        let mut b = a.clone();
        b[3].raw.insert("cycles".into(), json!(1));
        b.pop();
        let d = differences(&a, &b);
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d[0].starts_with(&format!("{}: cycles ", a[3].key())));
        assert!(d[1].ends_with("only in run 1"));
    }

    #[test]
    fn stretches_come_from_the_probe_kernel_and_nothing_else() {
        let probe = parse(&fake_log()).unwrap();
        let plain_of = |probe: &[Record]| {
            let mut plain = probe.to_vec();
            for r in &mut plain {
                if r.raw.contains_key("masked_max") {
                    r.raw.insert("masked_max".into(), json!(0));
                }
                if let Some(c) = r.num("cycles") {
                    r.raw.insert("cycles".into(), json!(c - 20.0));
                }
            }
            plain
        };
        let mut plain = plain_of(&probe);
        merge_masked(&mut plain, &probe).unwrap();
        for (r, p) in plain.iter().zip(&probe) {
            assert_eq!(
                r.raw.get("masked_max"),
                p.raw.get("masked_max"),
                "{}",
                r.key()
            );
            if let Some(c) = p.num("cycles") {
                assert_eq!(
                    r.num("cycles"),
                    Some(c - 20.0),
                    "cycles stay the plain kernel's"
                );
            }
        }
        assert!(probe
            .iter()
            .any(|r| r.num("masked_max").unwrap_or(0.0) > 0.0));
        // A figure that is not timed must agree.
        let mut plain = plain_of(&probe);
        plain[2].raw.insert("lines_cleaned".into(), json!(12345));
        let e = merge_masked(&mut plain, &probe).unwrap_err();
        assert!(e.contains("lines_cleaned differs"), "{e}");
        // The kernel without the probe reports no stretch.
        let mut plain = plain_of(&probe);
        let i = plain
            .iter()
            .position(|r| r.raw.contains_key("masked_max"))
            .unwrap();
        plain[i].raw.insert("masked_max".into(), json!(7));
        let e = merge_masked(&mut plain, &probe).unwrap_err();
        assert!(e.contains("reported a stretch"), "{e}");
        // The same records.
        let mut plain = plain_of(&probe);
        plain.pop();
        assert!(merge_masked(&mut plain, &probe).is_err());
    }

    #[test]
    fn host_timed_records_vary_only_as_documented() {
        let a = parse(&fake_log()).unwrap();
        let i = a
            .iter()
            .position(|r| r.case == "legacy present" && r.variant == "3-writers")
            .unwrap();
        let median = a[i].num("median_cycles").unwrap();
        let mut b = a.clone();
        for (f, v) in [
            ("cycles", json!(1)),
            ("faults", json!(7)),
            ("max_cycles", json!(9)),
            ("median_cycles", json!(median * 1.005)),
        ] {
            b[i].raw.insert(f.into(), v);
        }
        assert!(differences(&a, &b).is_empty());
        b[i].raw
            .insert("median_cycles".into(), json!(median * 1.02));
        b[i].raw.insert("tlbis".into(), json!(2));
        assert_eq!(differences(&a, &b).len(), 2);
        // Right after a tick on 4 CPUs the TLBI's cycles are not compared; on 1 CPU, or
        // late, they are.
        for (variant, differ) in [("idle", 0), ("idle, late", 1), ("1-cpu", 1)] {
            let j = a
                .iter()
                .position(|r| r.case == "TLBI broadcast" && r.variant == variant)
                .unwrap();
            let mut b = a.clone();
            b[j].raw.insert("median_cycles".into(), json!(3_471_266));
            assert_eq!(differences(&a, &b).len(), differ, "{variant}");
        }
        // Without writers the legacy figures are exact.
        let k = a
            .iter()
            .position(|r| r.case == "legacy present" && r.variant == "0-writers")
            .unwrap();
        let mut b = a.clone();
        b[k].raw.insert("max_cycles".into(), json!(1));
        assert_eq!(differences(&a, &b).len(), 1);
    }

    #[test]
    fn windows_compare_by_length_not_position() {
        let a = parse(&fake_log()).unwrap();
        let (mut x, mut y) = (a.clone(), a.clone());
        x[0].raw
            .insert("windows".into(), json!([[0, 100, 150], [2, 150, 180]]));
        y[0].raw
            .insert("windows".into(), json!([[0, 1100, 1150], [2, 1150, 1180]]));
        assert!(differences(&x, &y).is_empty());
        y[0].raw
            .insert("windows".into(), json!([[0, 1100, 1151], [2, 1150, 1180]]));
        let d = differences(&x, &y);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].contains("windows"), "{d:?}");
    }

    #[test]
    fn failed_runs_report_the_tail() {
        let o = Outcome {
            status: Some(2),
            output: "KERNEL PANIC at x\n".into(),
            elapsed: Duration::from_secs(1),
        };
        let e = outcome_records(&o).unwrap_err();
        assert!(e.contains("status 2") && e.contains("BENCH-DONE") && e.contains("KERNEL PANIC"));
        let o = Outcome {
            status: Some(0),
            output: fake_log(),
            elapsed: Duration::from_secs(1),
        };
        assert!(outcome_records(&o).is_ok());
    }

    #[test]
    fn writes_every_output() {
        let records = parse(&fake_log()).unwrap();
        let dir = std::env::temp_dir().join(format!("xtask-bench-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let meta = Meta {
            command: "qemu-system-aarch64 -icount shift=0,sleep=off".into(),
            smp_command: Some("qemu-system-aarch64 -smp 4 -icount shift=0,sleep=off".into()),
            git: Some("v0-test".into()),
            commit: None,
            quick: false,
            checked: Some(true),
            linux: None,
            model: None,
        };
        let files = write_outputs(&dir, &records, &meta).unwrap();
        assert_eq!(files.len(), 4);
        let json: Value =
            serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
        assert_eq!(json["records"].as_array().unwrap().len(), records.len());
        assert_eq!(json["git"], "v0-test");
        for svg in &files[2..] {
            assert!(std::fs::read_to_string(svg).unwrap().contains("<svg"));
        }
        if std::env::var_os("XTASK_KEEP_BENCH_TEST").is_none() {
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}
