//! `pipeline`, the capture pipeline's launcher (`init=pipeline`): creates the channel
//! between capture and filter, spawns both with one end each, and waits for them. Exits
//! 0 only if both exited 0 (the kernel powers off when it exits). The protocol is in
//! `demo::pipeline`.

#![no_std]
#![no_main]

use demo::{Failed, OrFail};
use urt::{ExitHow, StartArgs};

const TASK: &str = "pipeline";

fn run() -> Result<(), Failed> {
    let (to_capture, to_filter) = urt::channel_create().or_fail(TASK, "channel_create")?;
    let filter = urt::spawn("filter", &[to_capture]).or_fail(TASK, "spawn filter")?;
    let capture = urt::spawn("capture", &[to_filter]).or_fail(TASK, "spawn capture")?;
    let mut ok = true;
    for (name, task) in [("filter", filter), ("capture", capture)] {
        let (code, how) = urt::wait(task).or_fail(TASK, "wait")?;
        if how != ExitHow::Exited || code != 0 {
            urt::println!("{TASK}: {name} ended {how:?} with code {code:#x}");
            ok = false;
        }
    }
    if ok {
        Ok(())
    } else {
        Err(Failed)
    }
}

fn main(_args: StartArgs) -> i32 {
    match run() {
        Ok(()) => 0,
        Err(Failed) => 1,
    }
}

urt::entry!(main);
