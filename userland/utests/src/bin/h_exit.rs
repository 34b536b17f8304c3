//! Helper: exits at once with `utests::H_EXIT_CODE` (the trivial task for spawn tests).

#![no_std]
#![no_main]

fn main(_args: urt::StartArgs) -> i32 {
    utests::H_EXIT_CODE as i32
}

urt::entry!(main);
