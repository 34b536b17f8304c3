//! Test-only host model: a write-back, non-coherent data cache over RAM plus a DMA
//! device ([`cache`]), mutations of the planner ([`mutation`]) and a scenario runner
//! that plays a CPU holder, a neighbour holder and the device against a reference
//! ([`scenario`], [`runner`]).

pub mod cache;
pub mod mutation;
pub mod runner;
pub mod scenario;
