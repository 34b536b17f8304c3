//! Architecture-specific code, re-exported under one name so generic modules never name
//! the architecture.

mod aarch64;

pub use aarch64::*;
