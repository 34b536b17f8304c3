//! Portable memory-management logic for the AArch64 microkernel.
//!
//! Everything here is pure data manipulation: no inline assembly, no MMIO, no global
//! state, no allocator. The kernel supplies the hardware-facing parts (issuing `DC`
//! instructions, TLB maintenance, a frame allocator) and this crate decides *what* to
//! do, which lets the whole crate be tested on the host.
//!
//! * [`addr`]: [`PhysAddr`] / [`VirtAddr`] newtypes, page constants, alignment helpers
//!   and the 48-bit canonical-VA rule.
//! * [`cache`]: cache-maintenance range arithmetic for DMA coherency on non-coherent
//!   hardware: [`cache::plan`] turns a byte range into whole-line `DC CVAC` /
//!   `DC IVAC` / `DC CIVAC` runs without ever discarding a neighbour's dirty bytes.
//! * [`ranges`]: physical range subtraction for boot-time memory discovery.
//! * [`pgtable`]: AArch64 stage-1 translation tables (4 KiB granule, 48-bit VA, levels
//!   0..3): descriptor encoding via `tock-registers` bitfields, `MAIR_EL1` layout, and
//!   [`pgtable::PageTable`] with map / unmap / protect / translate over table memory the
//!   kernel provides through the safe [`pgtable::TableMemory`] trait.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod addr;
pub mod cache;
pub mod pgtable;
pub mod ranges;

pub use addr::{Half, PhysAddr, VirtAddr, PAGE_SHIFT, PAGE_SIZE};
