//! Reasons the boot cannot go on, and how they end the run: a `BOOT ERROR:` line naming
//! what is wrong (on the UART, or through semihosting before there is one) and exit
//! status 4.

use crate::power::{self, ExitCode};
use core::fmt::{self, Write};
use platform::board::{BoardError, Region};

/// A reason the boot cannot go on.
pub enum BootError {
    /// The DTB pointer or blob itself (before it can be parsed).
    Dtb(&'static str),
    /// x0 points at memory that cannot be read.
    DtbUnreadable { pa: u64 },
    /// The blob parses but does not lie in RAM (the kernel would hand it out).
    DtbOutsideRam { pa: u64, size: u64 },
    /// The tree is malformed or lacks what the kernel needs.
    Board(BoardError),
    /// The initrd `/chosen` names does not lie in RAM.
    InitrdOutsideRam(Region),
    /// `init=` or `utest=` asks for a program but the loader gave no initrd.
    NoInitrd(&'static str),
    /// The timer tick never came.
    NoTick { intid: u32, gic: u8, ms: u64 },
    /// The kernel's page tables could not be built.
    Map(mm::pgtable::MapError),
    /// Not enough RAM for the heap.
    NoMemory,
}

impl fmt::Display for BootError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dtb(s) => write!(f, "device tree: {s}"),
            Self::DtbUnreadable { pa } => write!(
                f,
                "device tree: x0 = {pa:#x} is not readable memory (no RAM or device there)"
            ),
            Self::DtbOutsideRam { pa, size } => write!(
                f,
                "device tree: the DTB at {pa:#x}..{:#x} lies outside the RAM it describes \
                 (the boot protocol wants it in RAM, where the kernel reserves it)",
                pa + size
            ),
            Self::Board(e) => write!(f, "device tree: {e}"),
            Self::InitrdOutsideRam(r) => write!(
                f,
                "initrd: /chosen says {:#x}..{:#x}, which lies outside RAM",
                r.base,
                r.end()
            ),
            Self::NoInitrd(what) => write!(
                f,
                "no initrd: {what} needs one (the loader put no linux,initrd-start/-end in \
                 /chosen; QEMU: -initrd FILE)"
            ),
            Self::NoTick { intid, gic, ms } => write!(
                f,
                "timer: no tick from the virtual timer (INTID {intid}) within {ms} ms of \
                 enabling it through the GICv{gic} the device tree describes (is it the \
                 interrupt controller the board has, and does the firmware leave the \
                 interrupt non-secure?)"
            ),
            Self::Map(e) => write!(f, "building kernel page tables: {e}"),
            Self::NoMemory => f.write_str("not enough free RAM for the kernel heap"),
        }
    }
}

/// Report `e` and stop with exit status 4.
pub fn boot_error(e: BootError) -> ! {
    let _ = writeln!(crate::console::PanicWriter, "\nBOOT ERROR: {e}");
    power::fail(ExitCode::BootError)
}
