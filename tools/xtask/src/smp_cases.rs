//! The QEMU tests on a 4-CPU board: every CPU of `/cpus` comes up through PSCI
//! `CPU_ON` (at EL1 and EL2, GICv2 and GICv3), `maxcpus=` and `nosmp` are honoured, a
//! CPU that cannot be started is reported while the rest go on, and the in-kernel
//! suites, every user test, the demo, the pipeline and the legacy demo (pixel-exact)
//! run with tasks spread over the CPUs.

use crate::boot_cases::dump_dtb;
use crate::build;
use crate::fdt_edit::cells;
use crate::qemu::Machine;
use crate::test::{check, demo_pixel_exact, ktest_suite, user_suite, Screen, Tally};
use crate::Result;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(60);
/// CPUs of the SMP board.
pub const CPUS: u32 = 4;

/// The command line of the race-window runs (without `utest=`): a fast-path START on a
/// quiet buffer spins this long between its look and the test kernel's check
/// (`race-window`), long enough for another CPU's submission to close the gate.
pub const RACE_WINDOW_APPEND: &str = "exit=semihosting dma=noncoherent race-window=20000";

/// The user tests run again with the race window: `test_sync_race`, whose presents race
/// the first START on each fresh buffer. (Not `test_blk_race`: its reader STARTs a
/// buffer no read has marked yet for as long as the reads are refused, so every START
/// would spend the window under the task's lock, which the next read waits for before
/// it looks, and nearly every read would find the buffer held.)
const RACE_UTESTS: [&str; 1] = ["test_sync_race"];

/// Run the SMP variants on `base` (the test kernel).
pub fn run(tally: &mut Tally, base: &Machine) -> Result<()> {
    let mut smp = base.clone();
    smp.smp = CPUS;
    let all = "cpus    4 online (MPIDR 0x0, 0x1, 0x2, 0x3), 4 in /cpus";

    for (el2, gic) in [(false, 2u8), (false, 3), (true, 3)] {
        let el = if el2 { 2 } else { 1 };
        let mut m = smp.clone();
        m.el2 = el2;
        m.gic = gic;
        m.append = format!("exit=semihosting ktest=all expect-el={el}");
        let o = m.run_captured(TIMEOUT)?;
        tally.record(
            &format!("qemu/smp4-el{el}-gicv{gic}-all-cpus-online"),
            check(&o, Some(0), &[all]),
        );
        ktest_suite(tally, &format!("qemu/smp4-el{el}-gicv{gic}"), &m)?;
    }

    for (args, want) in [
        ("maxcpus=2", "cpus    2 online (MPIDR 0x0, 0x1), 4 in /cpus"),
        ("nosmp", "cpus    1 online (MPIDR 0x0), 4 in /cpus"),
    ] {
        let mut m = smp.clone();
        m.append = format!("exit=semihosting ticks=1 {args}");
        let o = m.run_captured(TIMEOUT)?;
        tally.record(&format!("qemu/smp4-{args}"), check(&o, Some(0), &[want]));
    }

    // CPU 3's MPIDR changed to one PSCI does not know: it is reported, the others run.
    let mut m = smp.clone();
    m.append = "exit=semihosting ticks=1".into();
    let mut tree = dump_dtb(&m, "smp4")?;
    tree.set("/cpus/cpu@3", "reg", &cells(&[0x63]))?;
    let dtb = build::out_dir().join("smp4-bad-cpu.dtb");
    std::fs::write(&dtb, tree.to_bytes()).map_err(|e| format!("{}: {e}", dtb.display()))?;
    m.dtb = Some(dtb);
    let o = m.run_captured(TIMEOUT)?;
    tally.record(
        "qemu/smp4-cpu-that-fails-is-reported",
        check(
            &o,
            Some(0),
            &[
                "cpu 0x63 did not come up: PSCI CPU_ON: invalid parameters",
                "cpus    3 online (MPIDR 0x0, 0x1, 0x2), 4 in /cpus",
                "tick 1",
            ],
        ),
    );

    // Every user test, with tasks spread over the four CPUs.
    let initrd = build::initrd()?;
    let disk = build::capture_disk()?;
    let mut m = smp.clone();
    m.initrd = Some(initrd.clone());
    m.disk = Some(disk.clone());
    m.append = "exit=semihosting dma=noncoherent utest=all".into();
    user_suite(tally, "qemu/smp4-user", &m)?;
    // The presents' race again, with a wide window between a fast-path START's look at
    // a quiet buffer and the test kernel's check of it (`race-window`): presents on
    // other CPUs close the gate inside it on every run, not once in many.
    m.append = format!("{RACE_WINDOW_APPEND} utest={}", RACE_UTESTS.join(","));
    user_suite(tally, "qemu/smp4-race-window", &m)?;

    // The demo, the pipeline and the legacy demo, pixel-exact.
    let qmp = Some(build::out_dir().join("qmp-smp.sock"));
    for (name, append, screen, with_disk) in [
        ("demo", crate::demo::APPEND, Screen::Demo, false),
        (
            "pipeline",
            crate::demo::PIPELINE_APPEND,
            Screen::Pipeline,
            true,
        ),
        (
            "legacy-demo",
            "exit=semihosting init=legacy dma=noncoherent",
            Screen::Demo,
            false,
        ),
        // A writer thread keeps drawing through the legacy mapping on another CPU while
        // each present zaps and cleans it.
        (
            "legacy-race",
            "exit=semihosting init=legacy_race dma=noncoherent",
            Screen::Demo,
            false,
        ),
    ] {
        let mut m = smp.clone();
        m.initrd = Some(initrd.clone());
        m.disk = with_disk.then(|| disk.clone());
        m.append = append.into();
        m.qmp = qmp.clone();
        let result = demo_pixel_exact(&m, screen)?;
        tally.record(&format!("qemu/smp4-{name}-screendump-pixel-exact"), result);
    }
    Ok(())
}
