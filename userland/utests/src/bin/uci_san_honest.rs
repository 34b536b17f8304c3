//! `uci_san_honest`: [`utests::cases::uci_writer`] in mode `Honest`, run as `init` under the
//! coherency sanitizer on a kernel booted with `dma=noncoherent uci`.

#![no_std]
#![no_main]

use utests::cases::uci_writer::{run, Mode};

fn main(_args: urt::StartArgs) -> i32 {
    run(Mode::Honest, "uci_san_honest")
}

urt::entry!(main);
