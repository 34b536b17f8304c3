//! Suite `demo`: how much cache maintenance the real demo programs cause per frame, and
//! how much of it lands on buffers no device touches.
//!
//! The bench runs the GPU demo's launcher (`demo`: a client renders
//! [`scene::FRAMES`] frames into two cached buffers in turn, a compositor reads each
//! and composes it into its scanout buffer, which it presents), exactly as `cargo xtask
//! run` does, on this boot's 1920x1080 display, and reads the kernel's counters around
//! the run:
//!
//! - the lines cleaned, invalidated and cleaned+invalidated per frame, all buffers;
//! - `cpu_only_lines` per frame: lines maintained on buffers that no device has
//!   imported or been told to write (`stats(CpuOnlyLines)`): the client's buffers. With
//!   coherence-boundary maintenance these are never maintained.
//!
//! The capture pipeline (`pipeline`) is not run here: its filter waits for each block
//! fence with a timeout, and under `-icount shift=0,sleep=off` with `devirq=poll` an
//! idle guest's clock runs ahead of the host's I/O thread, so on a busy host the
//! timeout can expire before the host has written the frame (the run then fails).
//! [`run_one`] runs any launcher the same way; the pipeline's figures from such a run
//! are in the report's text.
//!
//! Only the line counts are printed: they are the same on every run. The programs pace
//! themselves with sleeps and wait for device fences, so their instruction counts
//! depend on when the host completes the device's work.

use crate::measure::Events;
use crate::{fail, Failed, OrFail, TASK};
use urt::{ExitHow, Stat};

/// One record: `BENCH {json}` with the line counts per frame.
fn print(case: &str, frames: u64, lines: Events, cpu_only: u64) {
    let per = |v: u64| v / frames;
    urt::println!(
        "BENCH {{\"suite\":\"demo\",\"case\":\"{case}\",\"variant\":\"per-frame\",\
         \"size\":{frames},\"reps\":{frames},\"lines_cleaned\":{},\"lines_invalidated\":{},\
         \"lines_clean_invalidated\":{},\"cpu_only_lines\":{}}}",
        per(lines.0[0]),
        per(lines.0[1]),
        per(lines.0[2]),
        per(cpu_only),
    );
}

/// Run the launcher `program` (which shows `frames` frames) and print its record.
pub fn run_one(program: &str, frames: u64) -> Result<(), Failed> {
    let cpu_only = urt::stats(Stat::CpuOnlyLines).or_fail("stats")?;
    let before: Events = urt::counters().or_fail("counters")?.into();
    let task = urt::spawn(program, &[]).or_fail(program)?;
    let (code, how) = urt::wait(task).or_fail("wait")?;
    if (code, how) != (0, ExitHow::Exited) {
        return Err(fail(
            TASK,
            program,
            format_args!("ended {how:?} with code {code:#x}"),
        ));
    }
    urt::handle_close(task).or_fail("handle_close")?;
    let lines = Events::from(urt::counters().or_fail("counters")?) - before;
    let cpu_only = urt::stats(Stat::CpuOnlyLines).or_fail("stats")? - cpu_only;
    print(program, frames, lines, cpu_only);
    Ok(())
}

/// Run the suite.
pub fn run() -> Result<(), Failed> {
    run_one("demo", u64::from(scene::FRAMES))
}
