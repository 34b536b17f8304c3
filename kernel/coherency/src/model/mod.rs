//! Test-only host model: a write-back, non-coherent data cache over RAM plus a DMA
//! device ([`cache`]), mutations of the planner ([`mutation`]) and a scenario runner
//! that plays a CPU holder, a neighbour holder and the device against a reference
//! ([`scenario`], [`runner`]), and the legacy forwarded-mmap path played on the same
//! cache ([`legacy`]).

pub mod cache;
pub mod legacy;
pub mod mutation;
pub mod runner;
pub mod scenario;
