//! The first user program: proves EL0 entry, the `log` call and `exit`.

#![no_std]
#![no_main]

fn main(_args: urt::StartArgs) -> i32 {
    urt::println!("init: hello from EL0");
    0
}

urt::entry!(main);
