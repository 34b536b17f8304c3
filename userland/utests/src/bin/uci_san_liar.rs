//! `uci_san_liar`: [`utests::cases::uci_writer`] in mode `Liar`, run as `init` under the
//! coherency sanitizer on a kernel booted with `dma=noncoherent uci`.

#![no_std]
#![no_main]

use utests::cases::uci_writer::{run, Mode};

fn main(_args: urt::StartArgs) -> i32 {
    run(Mode::Liar, "uci_san_liar")
}

urt::entry!(main);
