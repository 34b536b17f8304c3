//! # The coherency sanitizer (guest side)
//!
//! QEMU's TCG models no caches: every `DC` instruction is a no-op and the virtio
//! devices are coherent, so a kernel that forgets a clean runs perfectly in QEMU. The
//! sanitizer watches the real kernel running the real programs inside QEMU (through a
//! TCG plugin, `tools/sanitizer-plugin`) and replays what it sees on a model of a
//! **non-coherent** machine ([`cachemodel`]): per-CPU write-back caches that devices
//! do not snoop. Where that machine would lose or misread data it reports a violation,
//! naming the CPU, the symbolised PC, the physical and virtual line, the GPU resource,
//! the device command and the syscalls in between.
//!
//! ## What it sees
//! - every load and store with its physical address (QEMU's) and memory type (its own
//!   walk of the guest's page tables under the tracked SCTLR/TCR/MAIR/TTBRn_EL1,
//!   cross-checked against QEMU's physical address) ([`session`], [`mmu`]);
//! - every executed `DC CVAC/IVAC/CIVAC/ZVA/CSW/ISW/CISW` with its operand register
//!   (translated by the same walk), every `DSB`, `TLBI` and `SVC` ([`insn`]);
//! - the devices' DMA, decoded from the virtio-mmio registers, the virtqueues and the
//!   commands in them as the device will read them: virtio-gpu resources, their
//!   backing pages and the rows TRANSFER_TO_HOST_2D reads, virtio-blk reads and writes,
//!   every descriptor and ring entry ([`virtio`]). Guest RAM is read from the shared
//!   memory-backend file ([`phys`]).
//!
//! ## What it cannot see
//! - when exactly a device touches memory: QEMU's devices run on other threads, so a
//!   device access is taken to happen at any time between the notify that submits it
//!   and the used-ring entry that completes it (completions are collected when the
//!   driver reads a used ring or an interrupt status);
//! - real cache capacity, evictions, speculation or prefetch: the model assumes they can
//!   happen at any time (worst case), so it finds bugs real hardware shows only
//!   sometimes, and it cannot say how likely they are;
//! - the instruction cache, the page-table walker's own accesses, DMA by devices other
//!   than virtio-mmio GPU and block (others' descriptors are still accounted), memory
//!   outside RAM, the contents a CPU computed from stale bytes;
//! - 16 and 64 KiB granules (a walk error is counted).
//!
//! ## Layers
//! [`options`] (plugin arguments) -> [`session::Sanitizer`] (the state and the event
//! handlers the plugin calls) -> [`cachemodel::Model`]; [`report`] and [`text`] turn the
//! result into JSON and text with [`symbols`]; [`frames`] is the would-have-read image
//! mode; [`cost`] is the memory-cost model that runs beside it with `cost=on`.

#![deny(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod cost;
pub mod frames;
pub mod insn;
pub mod mmu;
pub mod options;
pub mod phys;
pub mod report;
pub mod session;
pub mod symbols;
pub mod text;
pub mod virtio;

pub use options::Options;
pub use report::Report;
pub use session::Sanitizer;

#[cfg(test)]
mod tests;
