//! `cargo xtask test`: host unit tests, then QEMU test kernels, one summary line.
//!
//! Each QEMU case boots the test kernel once with its own machine and command line, under
//! a timeout (a hang counts as a failure). `ktest=all` boots report one line per in-kernel
//! test, which become individual results here.

use crate::build::{self, Flavor};
use crate::demo::{self, Rgb};
use crate::qemu::{Machine, Outcome, QEMU};
use crate::Result;
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(60);
/// The user test boot runs many programs (the kernel times out each one after 60 s).
const USER_TIMEOUT: Duration = Duration::from_secs(600);
/// The demo renders and presents every frame, then holds the last one for 1.5 s.
const DEMO_TIMEOUT: Duration = Duration::from_secs(180);
/// The fixed-seed syscall fuzz run (`cargo xtask fuzz --calls 150000 --seed 1`): half
/// single calls, half stateful scenarios, every scenario at least once (about 20 s).
const FUZZ_SEED: u64 = 1;
const FUZZ_CALLS: u64 = 150_000;

/// Exit statuses the kernel reports through semihosting (kernel/src/power.rs).
const EXIT_PANIC: i32 = 2;
const EXIT_FATAL: i32 = 3;
pub(crate) const EXIT_BOOT_ERROR: i32 = 4;

#[derive(Default)]
pub(crate) struct Tally {
    passed: usize,
    failed: usize,
    failures: Vec<String>,
}

impl Tally {
    pub(crate) fn record(&mut self, name: &str, result: std::result::Result<(), String>) {
        match result {
            Ok(()) => {
                self.passed += 1;
                println!("test {name} ... ok");
            }
            Err(why) => {
                self.failed += 1;
                println!(
                    "test {name} ... FAILED\n    {}",
                    why.replace('\n', "\n    ")
                );
                self.failures.push(name.to_string());
            }
        }
    }
}

/// Run the host and/or QEMU suites.
pub fn run_all(host: bool, qemu: bool) -> Result<ExitCode> {
    let mut tally = Tally::default();
    if host {
        host_tests(&mut tally)?;
    }
    if qemu {
        qemu_tests(&mut tally)?;
    }
    println!();
    if !tally.failures.is_empty() {
        println!("failures:");
        for f in &tally.failures {
            println!("    {f}");
        }
    }
    println!("{} passed, {} failed", tally.passed, tally.failed);
    Ok(if tally.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `cargo test` over the host crates; each crate's result line is added to the tally.
fn host_tests(tally: &mut Tally) -> Result<()> {
    println!("== host tests (cargo test)");
    let out = Command::new(crate::setup::cargo())
        .current_dir(build::root())
        .args(["test", "--no-fail-fast"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("running cargo test: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut results = 0;
    for line in text.lines() {
        if line.starts_with("test ") && (line.ends_with("... FAILED") || line.contains("panicked"))
        {
            println!("{line}");
        }
        if let Some(rest) = line.strip_prefix("test result: ") {
            results += 1;
            let count = |what: &str| -> usize {
                rest.split(';')
                    .find_map(|p| {
                        p.trim()
                            .strip_suffix(what)
                            .and_then(|n| n.trim().rsplit(' ').next()?.parse().ok())
                    })
                    .unwrap_or(0)
            };
            tally.passed += count("passed");
            tally.failed += count("failed");
        }
    }
    if !out.status.success() {
        println!("{text}");
        tally.record(
            "host/cargo-test",
            Err(format!("cargo test exited with {}", out.status)),
        );
    } else if results == 0 {
        tally.record(
            "host/cargo-test",
            Err("cargo test reported no results".into()),
        );
    }
    loom_model(tally)?;
    println!("host: {} passed, {} failed", tally.passed, tally.failed);
    Ok(())
}

/// The loom model of the buffer gate between the syscall fast path and the kernel's
/// submissions (`kernel/kobj/tests/gate_loom.rs`).
fn loom_model(tally: &mut Tally) -> Result<()> {
    tally.record("host/loom-gate-model", run_loom_model()?);
    Ok(())
}

/// Its tests, how many of them pass for the model to count as checked.
const LOOM_TESTS: usize = 4;

/// Run the gate's loom model (`cargo xtask test`, and the `loom` check of `cargo xtask
/// mutants`): built with `--cfg loom` in its own target directory, so the normal host
/// build is not rebuilt. `Err(output)` if a test failed (or fewer ran than it has).
pub fn run_loom_model() -> Result<std::result::Result<(), String>> {
    let out = Command::new(crate::setup::cargo())
        .current_dir(build::root())
        .args(["test", "-p", "kobj", "--test", "gate_loom", "--release"])
        .arg("--target-dir")
        .arg(build::root().join("target/loom"))
        .env("RUSTFLAGS", "--cfg loom")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("running the loom model: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let ok =
        out.status.success() && text.contains(&format!("test result: ok. {LOOM_TESTS} passed"));
    Ok(if ok {
        Ok(())
    } else {
        Err(format!("{text}{}", String::from_utf8_lossy(&out.stderr)))
    })
}

fn qemu_tests(tally: &mut Tally) -> Result<()> {
    println!("== QEMU tests");
    let built = build::kernel(Flavor::Test)?;
    let base = Machine::new(&built.image);
    // In-kernel suites on three boards: EL1 + GICv2, EL1 + GICv3, EL2 + GICv3.
    for (el2, gic) in [(false, 2u8), (false, 3), (true, 3)] {
        let el = if el2 { 2 } else { 1 };
        let mut m = base.clone();
        m.el2 = el2;
        m.gic = gic;
        m.append = format!("exit=semihosting ktest=all expect-el={el}");
        ktest_suite(tally, &format!("qemu/el{el}-gicv{gic}"), &m)?;
    }

    // A normal boot: the report lists the machine, ticks run, PSCI powers off, exit 0.
    let mut m = base.clone();
    m.append = "ticks=3".into();
    let o = m.run_captured(TIMEOUT)?;
    tally.record(
        "qemu/normal-boot-report-and-power-off",
        check(
            &o,
            Some(0),
            &[
                "memory  0x0040000000..0x0080000000 (1024 MiB)",
                "uart    PL011 at 0x9000000, IRQ 33",
                "gic     GICv3",
                "timer   virtual timer IRQ 27",
                "psci    method Hvc",
                "GPU (device ID 16), version 2",
                "tick 3",
                "powering off (PSCI SYSTEM_OFF",
            ],
        ),
    );

    // Deliberate fatal paths must be reported and end the run with their codes.
    let fatal_cases: [(&str, &str, i32, &[&str]); 3] = [
        (
            "qemu/fatal-data-abort-reported",
            "fatal-abort",
            EXIT_FATAL,
            &[
                "FATAL EXCEPTION: EL1h sync",
                "Data Abort from EL1 (EC 0x25), translation fault on read",
                "FAR_EL1 0xffffff7ffff00000",
                "ELR_EL1 0x",
                "x30",
            ],
        ),
        (
            "qemu/stack-overflow-reported",
            "stack-overflow",
            EXIT_FATAL,
            &["KERNEL STACK OVERFLOW", "Data Abort from EL1"],
        ),
        (
            "qemu/panic-reported",
            "panic",
            EXIT_PANIC,
            &[
                "KERNEL PANIC at kernel/src/ktest/mod.rs",
                "deliberate test panic",
            ],
        ),
    ];
    for (name, which, code, needles) in fatal_cases {
        let mut m = base.clone();
        m.append = format!("exit=semihosting ktest={which}");
        let o = m.run_captured(TIMEOUT)?;
        tally.record(name, check(&o, Some(code), needles));
    }

    // A DTB whose interrupt controller is unrecognisable: a boot error naming it.
    // User tasks: every test_* program of the initrd, one line each, with devices
    // treated as non-coherent so every maintenance operation really runs; then the
    // coherency-dependent tests again with QEMU's dma-coherent devices honoured.
    // Both boots have the capture disk (scene::capture's layout) for the block-device
    // tests.
    let initrd = build::initrd()?;
    let disk = build::capture_disk()?;
    let mut m = base.clone();
    m.initrd = Some(initrd.clone());
    m.disk = Some(disk.clone());
    m.append = "exit=semihosting dma=noncoherent utest=all".into();
    user_suite(tally, "qemu/user", &m)?;
    let mut m = base.clone();
    m.initrd = Some(initrd.clone());
    m.disk = Some(disk.clone());
    m.append = format!(
        "exit=semihosting misuse=report utest={}",
        COHERENT_UTESTS.join(",")
    );
    user_suite(tally, "qemu/user-coherent", &m)?;

    // The EL0 option (`uci`: EL0 may clean by address): END with USER_CLEANED on a
    // USER_CLEAN buffer, and which DC instructions EL0 may issue.
    let mut m = base.clone();
    m.initrd = Some(initrd.clone());
    m.append = format!(
        "exit=semihosting dma=noncoherent uci utest={}",
        UCI_UTESTS.join(",")
    );
    user_suite(tally, "qemu/user-uci", &m)?;

    // Bounded latency, where time is the instruction count (-icount): a 10 ms sleeper
    // stays within two ticks of its deadline while another task syncs 64 MiB, whole
    // and as millions of one-line rows.
    let mut m = base.clone();
    m.initrd = Some(initrd.clone());
    m.icount = true;
    m.append = "exit=semihosting dma=noncoherent utest=icount_sync_latency".into();
    user_suite(tally, "qemu/icount", &m)?;

    // The syscall fuzzer: a fixed seed, 150,000 calls checked against SYSCALLS.md and
    // the fuzzer's models, half of them random and adversarial single calls, half in
    // stateful scenarios (nested channels, cycles, full quotas, derived rights, reused
    // slots; every scenario once), every resource back at its baseline afterwards
    // (about 20 s). A violation, a kernel panic or a hang fails it; the message says
    // how to reproduce.
    let result = crate::fuzz::case(&built.image, FUZZ_SEED, FUZZ_CALLS)?;
    tally.record(&format!("qemu/fuzz-seed-{FUZZ_SEED}"), result);
    // The reproducers of the kernel bugs the fuzzer found, as regression tests.
    let result = crate::fuzz::repro_case(&built.image)?;
    tally.record("qemu/fuzz-repro", result);

    // The GPU demo, as `cargo xtask run` boots it: the screendump of its final frame
    // must be exactly what the scene crate computes for that frame. It runs under the
    // coherency sanitizer (a model of non-coherent caches watching every access,
    // maintenance instruction and DMA): no violation, and the image the GPU would have
    // read from the modelled RAM equals the screen.
    let so = crate::sanitize::plugin()?;
    let mut m = base.clone();
    m.initrd = Some(initrd.clone());
    m.append = demo::APPEND.into();
    m.qmp = Some(build::out_dir().join("qmp-test.sock"));
    let san = crate::sanitize::attach(&mut m, &so, "test-demo", &built.elf, true)?;
    let result = demo_pixel_exact(&m, Screen::Demo)?;
    tally.record("qemu/demo-screendump-pixel-exact", result);
    tally.record("qemu/sanitize-demo", sanitized(&san, Screen::Demo));

    // The capture pipeline: frames the virtio-blk device writes into buffers, filtered
    // on the CPU, composed and presented; the screendump must be exactly the host's
    // pipeline_screen(N, filter(N, capture_frame(N))). Under the sanitizer too.
    let mut m = base.clone();
    m.initrd = Some(initrd.clone());
    m.disk = Some(disk);
    m.append = demo::PIPELINE_APPEND.into();
    m.qmp = Some(build::out_dir().join("qmp-test.sock"));
    let san = crate::sanitize::attach(&mut m, &so, "test-pipeline", &built.elf, true)?;
    let result = demo_pixel_exact(&m, Screen::Pipeline)?;
    tally.record("qemu/pipeline-screendump-pixel-exact", result);
    tally.record("qemu/sanitize-pipeline", sanitized(&san, Screen::Pipeline));

    // The EL0 option of END under the sanitizer: honest writers clean, a liar is caught.
    crate::uci_cases::run(tally, &base, &built.elf, &initrd, &so)?;

    // The same scene drawn through the legacy forwarded mapping (no sync calls; the
    // exporter faults pages in and zaps/cleans them at each present).
    let mut m = base.clone();
    m.initrd = Some(initrd);
    m.append = "exit=semihosting init=legacy dma=noncoherent".into();
    m.qmp = Some(build::out_dir().join("qmp-test.sock"));
    let result = demo_pixel_exact(&m, Screen::Demo)?;
    tally.record("qemu/legacy-demo-screendump-pixel-exact", result);

    let dtb = patched_dtb(&base, b"arm,gic-v3\0", b"arm,gic-v9\0")?;
    let mut m = base.clone();
    m.dtb = Some(dtb);
    m.append = "exit=semihosting".into();
    let o = m.run_captured(TIMEOUT)?;
    tally.record(
        "qemu/dtb-without-gic-boot-error",
        check(
            &o,
            Some(EXIT_BOOT_ERROR),
            &["BOOT ERROR", "interrupt controller"],
        ),
    );

    // Every boot failure that used to be silent or hang: a named error and status 4.
    crate::boot_cases::run(tally, &base)?;

    // The devices on PCI (virtio-gpu-pci, virtio-blk-pci) instead of virtio-mmio.
    crate::pci_cases::run(tally, &base)?;

    // A 4-CPU board: bring-up, maxcpus/nosmp, a CPU that fails, the suite and the demo.
    crate::smp_cases::run(tally, &base)?;
    Ok(())
}

/// Boot `m` and record each line `<marker> NAME ... ok|FAILED...` it prints as a test
/// named `prefix/NAME`; the run itself must end with status 0 after a
/// `<marker> summary:` line, or it counts as one more failure.
fn suite(
    tally: &mut Tally,
    prefix: &str,
    m: &Machine,
    marker: &str,
    timeout: Duration,
) -> Result<()> {
    let o = m.run_captured(timeout)?;
    let mut seen = 0;
    for line in o.output.lines() {
        let Some(rest) = line.strip_prefix(marker).and_then(|r| r.strip_prefix(' ')) else {
            continue;
        };
        if let Some((name, verdict)) = rest.split_once(" ... ") {
            seen += 1;
            let r = if verdict == "ok" {
                Ok(())
            } else {
                Err(verdict.to_string())
            };
            tally.record(&format!("{prefix}/{name}"), r);
        }
    }
    let summary = format!("{marker} summary:");
    if o.status != Some(0) || seen == 0 || !o.output.contains(&summary) {
        tally.record(&format!("{prefix}/boot"), check(&o, Some(0), &[&summary]));
    }
    Ok(())
}

/// Boot a `utest=` kernel and record each user test line.
pub(crate) fn user_suite(tally: &mut Tally, prefix: &str, m: &Machine) -> Result<()> {
    suite(tally, prefix, m, "utest", USER_TIMEOUT)
}

/// Boot a `ktest=all` kernel and record each in-kernel test line.
pub(crate) fn ktest_suite(tally: &mut Tally, prefix: &str, m: &Machine) -> Result<()> {
    suite(tally, prefix, m, "ktest", TIMEOUT)
}

/// The user tests run again with QEMU's dma-coherent devices honoured (no maintenance):
/// the same test bodies as `test_*`, built as programs that expect this boot.
const COHERENT_UTESTS: &[&str] = &[
    "coherent_buffer_trace",
    "coherent_buffer_coherent",
    "coherent_gpu_misuse",
    "coherent_capture_trace",
];

/// The user tests of the `uci` boot (the EL0 option of END).
const UCI_UTESTS: &[&str] = &["uci_clean", "uci_faults"];

/// Which program's screen a pixel-exact test expects.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Screen {
    /// The GPU demo (and its legacy variant): `scene::composite` of the client frame.
    Demo,
    /// The capture pipeline: `scene::capture::pipeline_screen` of the filtered capture.
    Pipeline,
}

impl Screen {
    fn name(self) -> &'static str {
        match self {
            Screen::Demo => "demo",
            Screen::Pipeline => "pipeline",
        }
    }

    /// The frame the run must end on.
    fn last_frame(self) -> u32 {
        match self {
            Screen::Demo => scene::FRAMES,
            Screen::Pipeline => scene::capture::PIPELINE_FRAMES,
        }
    }

    fn expected(self, frame: u32, width: u32, height: u32) -> Rgb {
        match self {
            Screen::Demo => Rgb::expected(frame, width, height),
            Screen::Pipeline => Rgb::expected_pipeline(frame, width, height),
        }
    }
}

/// Boot the demo (or the pipeline), take its screendump at the final frame and compare
/// it pixel for pixel with what the `scene` crate computes for that frame at the
/// screendump's size. On a mismatch both images are saved as PNG beside the screendump.
pub(crate) fn demo_pixel_exact(
    m: &Machine,
    screen: Screen,
) -> Result<std::result::Result<(), String>> {
    let name = screen.name();
    let ppm = build::out_dir().join(format!("{name}-test.ppm"));
    let run = demo::boot(m, &ppm, false, DEMO_TIMEOUT)?;
    let outcome = Outcome {
        status: run.status,
        output: run.output,
        elapsed: run.elapsed,
    };
    let status = match outcome.status {
        Some(s) => format!("QEMU exited with status {s}"),
        None => format!("QEMU killed after {:?} (hang)", outcome.elapsed),
    };
    let fail = |why: String| Ok(Err(with_tail(&outcome, &[why, status.clone()])));
    let Some(frame) = run.frame else {
        return fail(format!(
            "the demo never printed \"{}N presented\"",
            demo::MARKER
        ));
    };
    if frame != screen.last_frame() {
        return fail(format!(
            "final frame {frame}, expected {}",
            screen.last_frame()
        ));
    }
    let got = match run.screendump.and_then(|p| Rgb::read_ppm(&p)) {
        Ok(img) => img,
        Err(e) => return fail(format!("no screendump: {e}")),
    };
    let want = screen.expected(frame, got.width, got.height);
    if let Some(((x, y), n)) = demo::first_mismatch(&got, &want) {
        let got_png = build::out_dir().join(format!("{name}-test-got.png"));
        let want_png = build::out_dir().join(format!("{name}-test-expected.png"));
        got.write_png(&got_png)?;
        want.write_png(&want_png)?;
        return fail(format!(
            "frame {frame} at {}x{}: pixel ({x}, {y}) is {}, expected {} ({n} pixels differ; \
             images: {}, {})",
            got.width,
            got.height,
            demo::hex(got.at(x, y)),
            demo::hex(want.at(x, y)),
            demo::shown(&got_png),
            demo::shown(&want_png),
        ));
    }
    Ok(check(&outcome, Some(0), &[]))
}

/// The sanitizer's verdict on a screen program's run: no violation, and its
/// would-have-read image equals the screendump [`demo_pixel_exact`] took.
fn sanitized(s: &crate::sanitize::Session, screen: Screen) -> std::result::Result<(), String> {
    let shot = build::out_dir().join(format!("{}-test.ppm", screen.name()));
    crate::sanitize::verdict(s, Some(&shot)).map(|_| ())
}

/// Check a run's exit status and that its output holds every `needle`.
pub(crate) fn check(
    o: &Outcome,
    status: Option<i32>,
    needles: &[&str],
) -> std::result::Result<(), String> {
    let mut problems = Vec::new();
    match o.status {
        None => problems.push(format!("timed out after {:?} (hang)", o.elapsed)),
        s if s != status => problems.push(format!("exit status {s:?}, expected {status:?}")),
        _ => {}
    }
    for n in needles {
        if !o.output.contains(n) {
            problems.push(format!("output lacks {n:?}"));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(with_tail(o, &problems))
}

/// `problems`, one per line, followed by the last 40 lines of the run's output.
fn with_tail(o: &Outcome, problems: &[String]) -> String {
    let tail: Vec<&str> = o.output.lines().rev().take(40).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    format!(
        "{}\n--- output (last 40 lines) ---\n{}",
        problems.join("\n"),
        tail.join("\n")
    )
}

/// QEMU's own DTB for `m`'s board with one byte string replaced (same length).
fn patched_dtb(m: &Machine, from: &[u8], to: &[u8]) -> Result<std::path::PathBuf> {
    assert_eq!(
        from.len(),
        to.len(),
        "in-place patch keeps the DTB's layout"
    );
    let path = build::out_dir().join(format!("virt-gicv{}.dtb", m.gic));
    let mut args = m.args();
    let i = args
        .iter()
        .position(|a| a == "-M")
        .expect("machine argument")
        + 1;
    args[i] = format!("{},dumpdtb={}", args[i], path.display());
    let out = Command::new(QEMU)
        .args(&args)
        .output()
        .map_err(|e| format!("{QEMU}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "dumping the DTB failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let mut dtb = std::fs::read(&path).map_err(|e| e.to_string())?;
    let at = dtb
        .windows(from.len())
        .position(|w| w == from)
        .ok_or("string to patch not found in DTB")?;
    dtb[at..at + to.len()].copy_from_slice(to);
    let patched = build::out_dir().join(format!("virt-gicv{}-patched.dtb", m.gic));
    std::fs::write(&patched, dtb).map_err(|e| e.to_string())?;
    Ok(patched)
}
