//! `bench` (`init=bench`, run by `cargo xtask bench`): runs every benchmark suite and
//! prints one `BENCH {json}` line per measurement, then `BENCH-DONE`. What is measured
//! and how to read the numbers: the `bench` library's crate docs (`src/lib.rs`).

#![no_std]
#![no_main]

use bench::{
    boundary_suite, demo_suite, fail, frame_suite, handover_suite, limit_suite, readback_suite,
    smp_suite, sync_suite, uci_suite, Failed, TASK,
};
use urt::{StartArgs, Stat};

/// Print what the numbers depend on: the line size the maintenance works in, and whether
/// the kernel treats devices as coherent (then no sync does any maintenance).
fn describe_machine() -> Result<(), Failed> {
    let coherent = urt::stats(Stat::DevicesCoherent).map_err(|e| fail(TASK, "stats", e))?;
    urt::println!(
        "{TASK}: D-cache line {} bytes, devices {}",
        urt::dcache_line_size(),
        if coherent == 1 {
            "coherent (no maintenance: boot with dma=noncoherent to measure it)"
        } else {
            "non-coherent"
        }
    );
    Ok(())
}

fn run() -> Result<(), Failed> {
    describe_machine()?;
    // A machine with several CPUs runs the smp suite alone (`cargo xtask bench` boots a
    // 4-CPU machine for it after the 1-CPU run of every other suite).
    if urt::stats(Stat::Cpus).map_err(|e| fail(TASK, "stats", e))? > 1 {
        smp_suite::run()?;
        urt::println!("BENCH-DONE");
        return Ok(());
    }
    // A boot with `uci` (the EL0 option) runs the uci suite alone (`cargo xtask bench`
    // boots one for it, so the other suites' figures are those of a kernel without it).
    if uci_suite::available() {
        uci_suite::run()?;
        urt::println!("BENCH-DONE");
        return Ok(());
    }
    sync_suite::run()?;
    limit_suite::run()?;
    // Before the frame suite: the GPU's completion interrupts arrive at host-dependent
    // times, and the readback's block-device path allocates in the kernel, whose heap
    // they leave in a run-dependent state.
    readback_suite::run()?;
    frame_suite::run()?;
    boundary_suite::run()?;
    handover_suite::run()?;
    demo_suite::run()?;
    // The smp suite's TLBI case with no other CPU, to set beside the 4-CPU figures.
    smp_suite::run_single()?;
    urt::println!("BENCH-DONE");
    Ok(())
}

fn main(_args: StartArgs) -> i32 {
    match run() {
        Ok(()) => 0,
        Err(Failed) => 1,
    }
}

urt::entry!(main);
