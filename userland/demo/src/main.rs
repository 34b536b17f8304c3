//! `demo`, the launcher (`init=demo`): creates the channel between client and
//! compositor, spawns both with one end each, and waits for them. Exits 0 only if both
//! exited 0 (the kernel powers off when it exits).

#![no_std]
#![no_main]

use urt::StartArgs;

fn main(_args: StartArgs) -> i32 {
    demo::exit_code(demo::launch("demo", "compositor", "client"))
}

urt::entry!(main);
