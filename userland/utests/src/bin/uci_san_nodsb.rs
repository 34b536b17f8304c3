//! `uci_san_nodsb`: [`utests::cases::uci_writer`] in mode `NoDsb`, run as `init` under the
//! coherency sanitizer on a kernel booted with `dma=noncoherent uci`.

#![no_std]
#![no_main]

use utests::cases::uci_writer::{run, Mode};

fn main(_args: urt::StartArgs) -> i32 {
    run(Mode::NoDsb, "uci_san_nodsb")
}

urt::entry!(main);
