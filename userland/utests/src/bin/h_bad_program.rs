//! Not a runnable program: `build.rs` links it into kernel space (`bad_program.ld`), so
//! `spawn("h_bad_program")` must fail with `BadProgram`. Were it ever started, it would
//! report that and exit non-zero.

#![no_std]
#![no_main]

fn main(_args: urt::StartArgs) -> i32 {
    urt::println!("h_bad_program: I should never have been started");
    1
}

urt::entry!(main);
