//! Test-only host model: a write-back, non-coherent data cache over RAM plus a DMA
//! device and a non-cacheable alias ([`cache`]), mutations of the planner and of the
//! coherence-boundary rules ([`mutation`]), a scenario runner that plays a CPU holder, a
//! neighbour holder, the device and a legacy uncached mapping against a reference
//! through the real planner and [`crate::Boundary`] ([`scenario`], [`runner`]), with a
//! line-exact oracle of what the boundary must maintain ([`exact`]), and the legacy
//! forwarded-mmap path played on the same cache ([`legacy`], [`legacy_scenario`],
//! [`legacy_mutation`]).

pub mod cache;
pub mod exact;
pub mod legacy;
pub mod legacy_mutation;
pub mod legacy_scenario;
pub mod mutation;
pub mod runner;
pub mod scenario;
