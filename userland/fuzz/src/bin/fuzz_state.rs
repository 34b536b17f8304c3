//! The stateful fuzzer's attacker task (and its children): see `fuzz::state`.

#![no_std]
#![no_main]

fn main(args: fuzz::urt::StartArgs) -> i32 {
    fuzz::state::main(args)
}

fuzz::urt::entry!(main);
