//! Board support for the QEMU `virt` machine (AArch64).
//!
//! Everything board-specific lives here: discovery of the machine layout from the
//! flattened device tree (FDT) the kernel receives in `x0`, and small drivers for the
//! devices a microkernel needs before anything else runs — the PL011 UART, the GIC
//! (v2 or v3), the EL1 virtual generic timer, PSCI power control, semihosting, the
//! identification registers of virtio-mmio slots, and PCI enumeration behind a
//! generic ECAM host bridge (`pci`).
//!
//! **No address or interrupt number is hard-coded.** [`board::BoardInfo::parse`] reads
//! them all from the FDT. The table below is the QEMU 7.2 `virt` layout, kept purely
//! for orientation when reading logs or debugging:
//!
//! ```text
//! Base            Size         Device                     Interrupt (GIC INTID)
//! ----------------------------------------------------------------------------
//! 0x0000_0000     128 MiB      flash (2 banks of 64 MiB)  -
//! 0x0800_0000     64 KiB       GIC distributor            -
//! 0x0801_0000     64 KiB       GICv2 CPU interface        -
//! 0x0802_0000     4 KiB        GICv2m MSI frame           -
//! 0x0808_0000     128 KiB      GICv3 ITS                  -
//! 0x080a_0000     15.4 MiB     GICv3 redistributors       -
//! 0x0900_0000     4 KiB        PL011 UART                 SPI 1  -> 33 (level)
//! 0x0901_0000     4 KiB        PL031 RTC                  SPI 2  -> 34
//! 0x0902_0000     24 B         fw_cfg                     -
//! 0x0903_0000     4 KiB        PL061 GPIO (power button)  SPI 7  -> 39
//! 0x0a00_0000     32 x 512 B   virtio-mmio slots          SPI 16..47 -> 48..79 (edge)
//! 0x0c00_0000     32 MiB       platform bus               -
//! 0x1000_0000     ~751 MiB     PCIe MMIO window           SPI 3..6
//! 0x3eff_0000     64 KiB       PCIe PIO window            -
//! 0x4000_0000     -m size      RAM (DTB at its start when
//!                              booting an ELF/Image)      -
//! 0x40_1000_0000  256 MiB      PCIe ECAM                  -
//!
//! Generic timer PPIs: secure phys 13 -> 29, non-secure phys 14 -> 30,
//!                     virtual 11 -> 27, hypervisor 10 -> 26.
//! ```
//!
//! Modules that need AArch64 instructions (`hvc`, `smc`, `hlt`, system registers)
//! exist only when compiling for `target_arch = "aarch64"`; everything else also
//! builds on the host so it can be unit-tested.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]

pub mod board;
pub mod gic;
pub mod pci;
pub mod pl011;
#[cfg(target_arch = "aarch64")]
pub mod psci;
#[cfg(target_arch = "aarch64")]
pub mod semihosting;
pub mod timer;
pub mod virtio_mmio;

#[cfg(test)]
mod fake_mmio;

pub use board::{
    BoardError, BoardInfo, BootArgs, GicInfo, Irq, PsciMethod, Region, TimerInfo, Trigger,
    UartInfo, VirtioMmioSlot,
};

/// A byte-oriented console (implemented by [`pl011::Pl011`]).
pub trait Console {
    /// Writes all of `bytes`, blocking while the transmitter is full.
    fn write_bytes(&mut self, bytes: &[u8]);
    /// Returns the next received byte, if one is waiting.
    fn read_byte(&mut self) -> Option<u8>;
}

/// Whole-machine power control (implemented by [`PsciMethod`] on AArch64).
pub trait Power {
    /// Powers the machine off. Never returns.
    fn system_off(&self) -> !;
    /// Resets the machine. Never returns.
    fn system_reset(&self) -> !;
}
