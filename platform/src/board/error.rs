//! Errors reported while discovering the board from its device tree.

use core::fmt;

/// Why a device tree could not be turned into a [`super::BoardInfo`].
///
/// Every variant names exactly what is wrong, so a boot log line is enough to fix it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoardError {
    /// The blob does not start with the FDT magic `0xd00dfeed`.
    BadMagic,
    /// The buffer is shorter than the header says (or than a header).
    Truncated {
        /// Bytes required.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
    /// The blob's structure is broken (bad offsets, tokens, strings, ...).
    Malformed(&'static str),
    /// A node the kernel needs is absent.
    MissingNode(&'static str),
    /// A needed node lacks a needed property.
    MissingProperty {
        /// The node (or its role, e.g. `"arm,pl011 UART"`).
        node: &'static str,
        /// The missing property.
        property: &'static str,
    },
    /// A property has a value this crate cannot use.
    Invalid {
        /// The node (or its role).
        node: &'static str,
        /// What is wrong with it.
        what: &'static str,
    },
}

impl fmt::Display for BoardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadMagic => write!(
                f,
                "not a flattened device tree: bad magic (want 0xd00dfeed)"
            ),
            Self::Truncated { needed, got } => {
                write!(f, "device tree truncated: need {needed} bytes, got {got}")
            }
            Self::Malformed(what) => write!(f, "malformed device tree: {what}"),
            Self::MissingNode(node) => write!(f, "device tree has no {node} node"),
            Self::MissingProperty { node, property } => {
                write!(
                    f,
                    "device tree node {node} lacks the \"{property}\" property"
                )
            }
            Self::Invalid { node, what } => write!(f, "device tree node {node}: {what}"),
        }
    }
}

impl core::error::Error for BoardError {}

/// Maps an `fdt` crate error onto [`BoardError`].
pub(crate) fn from_fdt(err: fdt::FdtError) -> BoardError {
    match err {
        fdt::FdtError::BadMagic => BoardError::BadMagic,
        fdt::FdtError::BadPtr => BoardError::Malformed("null device tree pointer"),
        fdt::FdtError::BufferTooSmall => {
            BoardError::Malformed("buffer smaller than the header's totalsize")
        }
    }
}
