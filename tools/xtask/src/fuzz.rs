//! `cargo xtask fuzz --calls N --seed S`: the syscall fuzzer (`userland/fuzz`) on the
//! test kernel.
//!
//! The ABI has no argv, so the seed and the call count are baked into the fuzz programs
//! at build time: this command builds the `fuzz` crate with `FUZZ_SEED`, `FUZZ_CALLS`
//! (and `FUZZ_KEEP_GOING`) set, packs its programs into their own initrd
//! (`target/xtask/fuzz-initrd.tar`), and boots the test kernel with `init=fuzz
//! dma=noncoherent` on the usual machine (virtio-gpu, and the capture disk so `blk_read`
//! is fuzzed too). N counts every call of the run, the single fuzzed calls and the
//! stateful scenarios' (`userland/fuzz/src/state`). The run passes when QEMU exits 0
//! after `fuzz: seed S, N calls, 0 violations`, which the launcher prints only if every
//! resource is back at its baseline; a violation (exit 1), a kernel panic or fatal
//! exception (exit 2 or 3) or a hang (timeout, scaled with N) fails it. Rerunning the
//! same command replays the same calls. `--init fuzz_repro` boots the reproducers of
//! the kernel bugs the fuzzer found instead.

use crate::build::{self, Flavor, TARGET};
use crate::qemu::{Machine, QEMU};
use crate::Result;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The fuzz crate's programs (the initrd of a fuzz boot).
const PROGRAMS: &[&str] = &[
    "fuzz",
    "fuzz_worker",
    "fuzz_peer",
    "fuzz_victim",
    "fuzz_state",
    "fuzz_repro",
];

/// Kernel command line of a fuzz boot.
pub const APPEND: &str = "exit=semihosting init=fuzz dma=noncoherent";

/// One fuzz run's parameters.
#[derive(Clone, Debug)]
pub struct Params {
    /// The seed.
    pub seed: u64,
    /// Fuzzed calls.
    pub calls: u64,
    /// Report every distinct violation instead of stopping at the first.
    pub keep_going: bool,
    /// CPUs of the machine (`-smp`).
    pub smp: u32,
    /// The first program (`fuzz`, or `fuzz_repro` for the reproducers).
    pub init: String,
}

impl Params {
    /// The command that reproduces this run.
    pub fn command(&self) -> String {
        format!(
            "cargo xtask fuzz --calls {} --seed {}{}{}{}",
            self.calls,
            self.seed,
            if self.keep_going { " --keep-going" } else { "" },
            if self.smp == 1 {
                String::new()
            } else {
                format!(" --smp {}", self.smp)
            },
            if self.init == "fuzz" {
                String::new()
            } else {
                format!(" --init {}", self.init)
            }
        )
    }

    /// The wall-time limit: boot, plus a generous per-call allowance (the fuzzer makes
    /// a few thousand calls per second under TCG, peers and victims included).
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(90 + self.calls / 200)
    }

    /// The last line of a clean run.
    pub fn pass_line(&self) -> String {
        format!(
            "fuzz: seed {}, {} calls, 0 violations",
            self.seed, self.calls
        )
    }
}

/// Build the fuzz programs for `p` and pack them into their initrd.
pub fn initrd(p: &Params) -> Result<PathBuf> {
    let status = build::target_cargo()?
        .args([
            "build",
            "--profile",
            "user",
            "--target",
            TARGET,
            "-p",
            "fuzz",
        ])
        .env("FUZZ_SEED", p.seed.to_string())
        .env("FUZZ_CALLS", p.calls.to_string())
        .env("FUZZ_KEEP_GOING", if p.keep_going { "1" } else { "0" })
        .status()
        .map_err(|e| format!("running cargo: {e}"))?;
    if !status.success() {
        return Err("building the fuzz programs failed".into());
    }
    let bin_dir = build::root().join("target").join(TARGET).join("user");
    let mut builder = tar::Builder::new(Vec::new());
    for name in PROGRAMS {
        let data =
            std::fs::read(bin_dir.join(name)).map_err(|e| format!("fuzz program {name}: {e}"))?;
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(0o755);
        header.set_cksum();
        builder
            .append_data(&mut header, name, &data[..])
            .map_err(|e| e.to_string())?;
    }
    let tar = builder.into_inner().map_err(|e| e.to_string())?;
    std::fs::create_dir_all(build::out_dir()).map_err(|e| e.to_string())?;
    let path = build::out_dir().join("fuzz-initrd.tar");
    std::fs::write(&path, tar).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// What a fuzz boot came to.
pub struct Run {
    /// QEMU's exit status (`None`: killed at the timeout).
    pub status: Option<i32>,
    /// Everything it printed.
    pub output: String,
    /// Wall time.
    pub elapsed: Duration,
}

/// Boot `kernel` (a test-kernel Image) with the fuzz initrd for `p`; with `echo`, the
/// serial output is shown as it arrives.
pub fn boot(kernel: &Path, p: &Params, echo: bool) -> Result<Run> {
    let mut m = Machine::new(kernel);
    m.initrd = Some(initrd(p)?);
    // The capture disk, so blk_read (the device-write right) is fuzzed too.
    m.disk = Some(build::capture_disk()?);
    m.smp = p.smp;
    m.append = if p.init == "fuzz" {
        APPEND.into()
    } else {
        APPEND.replace("init=fuzz", &format!("init={}", p.init))
    };
    if echo {
        println!("$ {} {}", QEMU, m.args().join(" "));
    }
    let mut child = m
        .command()?
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{QEMU}: {e}"))?;
    let stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let timeout = p.timeout();
    let mut output = String::new();
    let status = loop {
        while let Ok(line) = rx.try_recv() {
            if echo {
                println!("{line}");
            }
            output.push_str(&line);
            output.push('\n');
        }
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            break Some(s.code().unwrap_or(-1));
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = reader.join();
    while let Ok(line) = rx.try_recv() {
        if echo {
            println!("{line}");
        }
        output.push_str(&line);
        output.push('\n');
    }
    output.push_str(&String::from_utf8_lossy(
        &err_reader.join().unwrap_or_default(),
    ));
    Ok(Run {
        status,
        output,
        elapsed: start.elapsed(),
    })
}

/// The verdict on a run: `Ok(())` only for QEMU exit 0 with the clean last line.
pub fn verdict(p: &Params, run: &Run) -> std::result::Result<(), String> {
    let pass = p.pass_line();
    let mut why = Vec::new();
    match run.status {
        Some(0) if run.output.contains(&pass) => return Ok(()),
        Some(0) => why.push(format!("QEMU exited 0 but the output lacks {pass:?}")),
        Some(1) => why.push("the fuzzer found a violation (exit 1)".to_string()),
        Some(2) => why.push("KERNEL PANIC (exit 2)".to_string()),
        Some(3) => why.push("kernel fatal exception (exit 3)".to_string()),
        Some(s) => why.push(format!("QEMU exited with status {s}")),
        None => why.push(format!(
            "HANG: killed after {:?} (timeout for {} calls)",
            run.elapsed, p.calls
        )),
    }
    // The lines that say what happened.
    let keys = [
        "VIOLATION",
        "PANIC",
        "FATAL",
        "killed:",
        "panic:",
        "fuzz: seed",
        "exited:",
    ];
    for line in run.output.lines() {
        if keys.iter().any(|k| line.contains(k)) {
            why.push(format!("  {line}"));
        }
    }
    let tail: Vec<&str> = run.output.lines().rev().take(15).collect();
    why.push("--- output (last 15 lines) ---".into());
    why.extend(tail.into_iter().rev().map(str::to_string));
    why.push(format!("reproduce with: {}", p.command()));
    Err(why.join("\n"))
}

/// One fuzz case for `cargo xtask test`: the test kernel `kernel`, seed and calls.
// Called by the `qemu/fuzz-seed-N` case of test.rs.
pub fn case(kernel: &Path, seed: u64, calls: u64) -> Result<std::result::Result<(), String>> {
    let p = Params {
        seed,
        calls,
        keep_going: false,
        init: "fuzz".into(),
        smp: 1,
    };
    let run = boot(kernel, &p, false)?;
    Ok(verdict(&p, &run))
}

/// The reproducers of the kernel bugs the fuzzer found (`fuzz_repro`) for `cargo xtask
/// test`: every one must print `ok` and the program exit 0.
pub fn repro_case(kernel: &Path) -> Result<std::result::Result<(), String>> {
    let p = Params {
        seed: 0,
        calls: 0,
        keep_going: false,
        init: "fuzz_repro".into(),
        smp: 1,
    };
    let run = boot(kernel, &p, false)?;
    if run.status == Some(0) && run.output.contains("repro: 0 deviations present") {
        return Ok(Ok(()));
    }
    let mut why: Vec<String> = vec![format!("QEMU status {:?}", run.status)];
    why.extend(
        run.output
            .lines()
            .filter(|l| l.starts_with("repro") || l.contains("PANIC") || l.contains("panic"))
            .map(str::to_string),
    );
    why.push(format!("reproduce with: {}", p.command()));
    Ok(Err(why.join("\n")))
}

/// `cargo xtask fuzz`.
pub fn run(p: &Params, kernel: Option<&Path>) -> Result<ExitCode> {
    let image = match kernel {
        Some(k) => k.to_path_buf(),
        None => build::kernel(Flavor::Test)?.image,
    };
    if p.init == "fuzz" {
        println!(
            "xtask: fuzz seed {}, {} calls (timeout {:?})",
            p.seed,
            p.calls,
            p.timeout()
        );
    } else {
        println!("xtask: fuzz programs, init={}", p.init);
    }
    let run = boot(&image, p, true)?;
    if p.init != "fuzz" {
        println!("xtask: {} ended with QEMU status {:?}", p.init, run.status);
        return Ok(if run.status == Some(0) {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    match verdict(p, &run) {
        Ok(()) => {
            println!(
                "xtask: fuzz PASSED: seed {}, {} calls, 0 violations, in {:.1} s",
                p.seed,
                p.calls,
                run.elapsed.as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(why) => {
            eprintln!(
                "xtask: fuzz FAILED after {:.1} s: {why}",
                run.elapsed.as_secs_f64()
            );
            Ok(ExitCode::FAILURE)
        }
    }
}
