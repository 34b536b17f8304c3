//! AArch64 architecture support: boot assembly, exception vectors, the MMU switch-over,
//! cache maintenance instructions, the PMU cycle counter and small CPU helpers.
//!
//! Everything that names an AArch64 instruction or system register lives here; the
//! generic kernel reaches it through `crate::arch`.

pub mod cache;
pub mod cpu;
pub mod exception;
pub mod mmu;
pub mod pmu;
pub mod semihosting;

core::arch::global_asm!(include_str!("boot.S"), options(raw));
core::arch::global_asm!(include_str!("vectors.S"), options(raw));
