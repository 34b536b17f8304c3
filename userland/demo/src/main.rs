//! `demo`, the launcher (`init=demo`): creates the channel between client and
//! compositor, spawns both with one end each, and waits for them. Exits 0 only if both
//! exited 0 (the kernel powers off when it exits).

#![no_std]
#![no_main]

use demo::{Failed, OrFail};
use urt::{ExitHow, StartArgs};

const TASK: &str = "demo";

fn run() -> Result<(), Failed> {
    let (to_client, to_compositor) = urt::channel_create().or_fail(TASK, "channel_create")?;
    let compositor = urt::spawn("compositor", &[to_client]).or_fail(TASK, "spawn compositor")?;
    let client = urt::spawn("client", &[to_compositor]).or_fail(TASK, "spawn client")?;
    let mut ok = true;
    for (name, task) in [("compositor", compositor), ("client", client)] {
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
