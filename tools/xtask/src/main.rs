//! `cargo xtask`: the one entry point for building, running and testing the kernel.
//!
//! - `cargo xtask run`   build the kernel and boot the virtio-gpu demo headless in QEMU
//!   (serial on stdout); saves the final frame as `target/xtask/demo-final.png`;
//!   `--pipeline` boots the capture pipeline instead (`init=pipeline` with the capture
//!   disk), saving `target/xtask/pipeline-final.png`; `--pci` puts the GPU and the disk
//!   on PCI (`virtio-gpu-pci`, `virtio-blk-pci`)
//! - `cargo xtask test`  host unit tests, then the QEMU test kernels; ends with
//!   `N passed, N failed` and exits non-zero on any failure
//! - `cargo xtask gdb`   boot QEMU paused with its gdbstub and attach gdb-multiarch
//! - `cargo xtask bench` boot the benchmark kernel under `-icount` and write the report,
//!   results and plots to `target/xtask/bench/`; `--linux` also boots Debian's arm64
//!   Linux on the same machine with the same workloads and reports it side by side
//! - `cargo xtask fuzz`  build the syscall fuzzer with a seed and call count and run it
//!   on the test kernel (`init=fuzz`); fails on a violation, kernel panic or hang
//! - `cargo xtask sanitize` boot the demo, the pipeline, the legacy demo and the user
//!   tests under the coherency sanitizer (QEMU plugin); fails on any violation
//! - `cargo xtask mutants` apply each deliberate kernel bug of `kernel/mutants.txt` to a
//!   scratch copy and run its checks; prints `N/N caught`

mod bench;
mod bench_model;
mod bench_windows;
mod boot_cases;
mod breakeven;
mod build;
mod demo;
mod fdt_edit;
mod fuzz;
mod linux;
mod linux_kernel;
mod linux_model;
mod linux_report;
mod model_data;
mod mutants;
mod pci_cases;
mod plot;
mod plot_model;
mod publish;
mod qemu;
mod qmp;
mod report;
mod report_boundary;
mod report_model;
mod report_smp;
mod report_uci;
mod sanitize;
mod sanitize_cost;
mod setup;
mod smp_cases;
mod targets;
mod test;
mod uci_cases;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Build, run and test the kernel")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build the kernel and boot the GPU demo in QEMU (headless, serial on this
    /// terminal); save its final frame as target/xtask/demo-final.png (with --pipeline:
    /// the capture pipeline, target/xtask/pipeline-final.png).
    Run {
        /// Boot at EL2 (`-M virt,virtualization=on`); the kernel drops to EL1.
        #[arg(long)]
        el2: bool,
        /// GIC version of the virtual board (2 or 3).
        #[arg(long, default_value_t = 3)]
        gic: u8,
        /// Extra kernel command line (appended to the default).
        #[arg(long, default_value = "")]
        append: String,
        /// Show the display in a window (QEMU's gtk or sdl display, whichever exists).
        #[arg(long)]
        window: bool,
        /// Boot the capture pipeline (`init=pipeline`: virtio-blk capture, CPU filter,
        /// display) with the capture disk attached, instead of the GPU demo.
        #[arg(long)]
        pipeline: bool,
        /// Attach the GPU (and the capture disk) on PCI (`virtio-gpu-pci`,
        /// `virtio-blk-pci`) instead of virtio-mmio.
        #[arg(long)]
        pci: bool,
        /// CPUs of the virtual board (`-smp N`).
        #[arg(long, default_value_t = 1)]
        smp: u32,
    },
    /// Run every test: host unit tests, then QEMU test kernels.
    Test {
        /// Only run the QEMU tests.
        #[arg(long)]
        qemu_only: bool,
        /// Only run the host tests.
        #[arg(long)]
        host_only: bool,
    },
    /// Boot QEMU paused with a gdbstub on :1234 and start gdb-multiarch with symbols.
    Gdb {
        /// Boot at EL2.
        #[arg(long)]
        el2: bool,
    },
    /// Run the benchmarks under deterministic instruction counting (-icount) and write
    /// target/xtask/bench/{results.json,report.md,sync.svg,frame.svg}.
    Bench {
        /// Run the suite twice and fail if any figure differs (determinism).
        #[arg(long)]
        check: bool,
        /// Fewer sizes and repetitions (kernel argument `bench=quick`).
        #[arg(long)]
        quick: bool,
        /// Also copy the outputs to tools/xtask/bench-results/ (the committed copy) and
        /// rewrite the README's figures from them. Needs a clean tree (the commit is
        /// recorded) and implies --check; not with --quick, nor when the runs differ.
        #[arg(long)]
        publish: bool,
        /// Also boot Debian's arm64 Linux 6.12 (fetched with apt-get into target/linux/)
        /// on the same machine with the same workloads, and put its figures beside
        /// this kernel's (tools/linuxbench).
        #[arg(long)]
        linux: bool,
        /// Only the 4-CPU run of the smp suite (quicker while working on it; the outputs
        /// then have its records only). Not with --publish.
        #[arg(long)]
        smp_only: bool,
        /// Only rewrite the README's figures from the committed
        /// tools/xtask/bench-results/results.json (no run).
        #[arg(long)]
        readme_only: bool,
        /// Instead: run the suite under the coherency sanitizer's memory-cost model and
        /// give the frame and readback records modeled cycles beside their icount
        /// cycles, with a sensitivity run (writes target/xtask/bench/model.{md,json,svg};
        /// a later `bench` includes model.json in report.md when its icount figures are
        /// the run's). With --publish: into tools/xtask/bench-results/ (the published
        /// run's figures must be the model run's) and the README.
        #[arg(long)]
        model: bool,
        /// With --model: a cost-model parameter, KEY=VALUE (l1, l2, dram, wb, maint, wc,
        /// ws, ws_l2, fault, tlbi). Repeatable.
        #[arg(long = "cost-param")]
        cost_params: Vec<String>,
    },
    /// Run the syscall fuzzer (userland/fuzz) on the test kernel: N seeded calls, half
    /// random and adversarial single calls, half stateful scenarios run by attacker
    /// tasks, checked against SYSCALLS.md and models of what they created, with every
    /// resource back at its baseline at the end. The seed and count are built into the
    /// programs; rerun the same command to reproduce a failure.
    Fuzz {
        /// Fuzzed calls.
        #[arg(long, default_value_t = 20_000)]
        calls: u64,
        /// The seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Report every distinct violation instead of stopping at the first.
        #[arg(long)]
        keep_going: bool,
        /// Boot this test-kernel Image instead of building one.
        #[arg(long)]
        kernel: Option<std::path::PathBuf>,
        /// The first program: `fuzz`, or `fuzz_repro` (the reproducers of the kernel
        /// deviations the fuzzer found).
        #[arg(long, default_value = "fuzz")]
        init: String,
        /// CPUs of the machine.
        #[arg(long, default_value_t = 1)]
        smp: u32,
    },
    /// Boot programs under the coherency sanitizer (a QEMU plugin modelling
    /// non-coherent caches) and report per run: violations (must be 0), maintenance
    /// issued, needed and wasted; writes target/xtask/sanitize/<run>/.
    Sanitize {
        /// A run: demo, pipeline, legacy, utests, or init=PROGRAM (any initrd program,
        /// normal kernel, devices non-coherent). Repeatable; default: the first four.
        #[arg(long = "run")]
        runs: Vec<String>,
        /// Extra kernel command line.
        #[arg(long, default_value = "")]
        append: String,
        /// Write the would-have-read image of every GPU flush, not only the last.
        #[arg(long)]
        images_all: bool,
        /// Also run the memory-cost model (a model of a Cortex-A72's caches and DRAM,
        /// cachemodel::cost) and print, per run, its modeled cycles, penalties and
        /// event counts.
        #[arg(long)]
        cost: bool,
        /// A cost-model parameter, KEY=VALUE (l1, l2, dram, wb, maint, wc; cycles).
        /// Repeatable; implies --cost.
        #[arg(long = "cost-param")]
        cost_params: Vec<String>,
    },
    /// Kernel mutation testing: apply each mutant of kernel/mutants.txt alone to a
    /// scratch copy of the workspace and run its checks; every one must be caught.
    Mutants {
        /// Only these mutants (1-based, repeatable).
        #[arg(long)]
        only: Vec<usize>,
        /// Also write the summary to tools/xtask/mutants-results.md (whole list only).
        #[arg(long)]
        publish: bool,
        /// Run this check for every mutant instead of the list's (repeatable), e.g.
        /// `--check sanitize:demo` to see what the sanitizer catches on its own.
        #[arg(long = "check")]
        checks: Vec<String>,
    },
    /// Run checks (used by `mutants` in its scratch copy): utest:a+b, smp4:a+b, smp4w:a+b,
    /// uci:a+b, coherent:a+b, ktest, sanitize:RUN, host:CRATE, loom; stops at the first
    /// that fails.
    #[command(hide = true)]
    Check {
        /// The checks.
        checks: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Run {
            el2,
            gic,
            append,
            window,
            pipeline,
            pci,
            smp,
        } => run(el2, gic, &append, window, pipeline, pci, smp),
        Cmd::Test {
            qemu_only,
            host_only,
        } => test::run_all(!qemu_only, !host_only),
        Cmd::Gdb { el2 } => gdb(el2),
        Cmd::Bench {
            readme_only: true, ..
        } => publish::update_readme(&build::root()).map(|()| ExitCode::SUCCESS),
        Cmd::Bench {
            model: true,
            quick,
            cost_params,
            publish,
            linux,
            ..
        } => bench_model::run(quick, &cost_params, publish, linux),
        Cmd::Bench {
            check,
            quick,
            publish,
            linux,
            smp_only,
            readme_only: false,
            model: false,
            ..
        } => bench::run(check, quick, publish, linux, smp_only),
        Cmd::Fuzz {
            calls,
            seed,
            keep_going,
            kernel,
            init,
            smp,
        } => fuzz::run(
            &fuzz::Params {
                seed,
                calls,
                keep_going,
                init,
                smp,
            },
            kernel.as_deref(),
        ),
        Cmd::Sanitize {
            runs,
            append,
            images_all,
            cost,
            cost_params,
        } => sanitize::run(sanitize::Args {
            runs,
            append,
            images_all,
            cost: cost || !cost_params.is_empty(),
            cost_params,
        }),
        Cmd::Mutants {
            only,
            publish,
            checks,
        } => mutants::run(mutants::Args {
            only,
            publish,
            checks,
        }),
        Cmd::Check { checks } => mutants::check(&checks),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Errors in xtask are messages for the user.
pub type Result<T> = std::result::Result<T, String>;

/// How long `cargo xtask run` lets the demo take before killing QEMU.
const RUN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

fn run(
    el2: bool,
    gic: u8,
    append: &str,
    window: bool,
    pipeline: bool,
    pci: bool,
    smp: u32,
) -> Result<ExitCode> {
    let image = build::kernel(build::Flavor::Normal)?;
    let mut machine = qemu::Machine::new(&image.image);
    machine.pci = pci;
    machine.smp = smp;
    machine.initrd = Some(build::initrd()?);
    machine.el2 = el2;
    machine.gic = gic;
    // The kernel takes the first `init=`, so the pipeline has its own default line.
    let (base, name) = if pipeline {
        machine.disk = Some(build::capture_disk()?);
        (demo::PIPELINE_APPEND, "pipeline")
    } else {
        (demo::APPEND, "demo")
    };
    machine.append = format!("{base} {append}").trim().to_string();
    machine.display = if window {
        qemu::window_display()
    } else {
        "none"
    };
    machine.qmp = Some(build::out_dir().join("qmp.sock"));
    println!("$ {} {}", qemu::QEMU, machine.args().join(" "));
    let ppm = build::out_dir().join(format!("{name}-final.ppm"));
    let png = build::out_dir().join(format!("{name}-final.png"));
    let _ = std::fs::remove_file(&png);
    let run = demo::boot(&machine, &ppm, true, RUN_TIMEOUT)?;
    let saved = run.screendump.and_then(|ppm| {
        let img = demo::Rgb::read_ppm(&ppm)?;
        img.write_png(&png)?;
        Ok(img)
    });
    let mut ok = true;
    match run.status {
        Some(0) => {}
        Some(s) => {
            eprintln!("xtask: QEMU exited with status {s}");
            ok = false;
        }
        None => {
            eprintln!("xtask: QEMU killed after {:?}", RUN_TIMEOUT);
            ok = false;
        }
    }
    match saved {
        Ok(img) => println!(
            "xtask: frame {} ({}x{}) saved to {}",
            run.frame.unwrap_or_default(),
            img.width,
            img.height,
            demo::shown(&png)
        ),
        Err(e) => {
            eprintln!("xtask: no screenshot: {e}");
            ok = false;
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn gdb(el2: bool) -> Result<ExitCode> {
    let image = build::kernel(build::Flavor::Normal)?;
    let mut machine = qemu::Machine::new(&image.image);
    machine.el2 = el2;
    machine.initrd = Some(build::initrd()?);
    machine.append = "exit=semihosting".into();
    machine.gdb_paused = true;
    setup::tool("gdb-multiarch", "gdb-multiarch")?;
    let mut child = machine.spawn_background()?;
    println!("QEMU paused with its gdbstub on localhost:1234; starting gdb-multiarch");
    let status = std::process::Command::new("gdb-multiarch")
        .arg(&image.elf)
        .args([
            "-ex",
            "set architecture aarch64",
            "-ex",
            "target remote localhost:1234",
        ])
        .status()
        .map_err(|e| format!("gdb-multiarch: {e}"))?;
    let _ = child.kill();
    let _ = child.wait();
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
