//! `pipeline`, the capture pipeline's launcher (`init=pipeline`): creates the channel
//! between capture and filter, spawns both with one end each, and waits for them. Exits
//! 0 only if both exited 0 (the kernel powers off when it exits). The protocol is in
//! `demo::pipeline`.

#![no_std]
#![no_main]

use urt::StartArgs;

fn main(_args: StartArgs) -> i32 {
    demo::exit_code(demo::launch("pipeline", "filter", "capture"))
}

urt::entry!(main);
