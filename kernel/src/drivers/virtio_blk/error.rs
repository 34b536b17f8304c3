//! Driver errors.

use crate::drivers::virtio::VirtioError;
use core::fmt;

/// Why a block operation was refused or failed before reaching the device. A request
/// the device fails is not an error here: it fails its sequence number
/// ([`super::BlkDevice::seq_failed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlkError {
    /// A request the driver refuses (no sectors, page lengths that do not add up to the
    /// sectors or are not whole sectors).
    InvalidArgument,
    /// The sectors run past the end of the disk.
    OutOfRange,
    /// No memory for DMA buffers or the segment list.
    NoMemory,
    /// The request queue stayed full (the device is not completing requests).
    QueueFull,
    /// The transport could not be brought up or the device failed (the reason).
    Transport(&'static str),
}

impl fmt::Display for BlkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidArgument => f.write_str("invalid argument"),
            Self::OutOfRange => f.write_str("sectors past the end of the disk"),
            Self::NoMemory => f.write_str("out of memory"),
            Self::QueueFull => f.write_str("request queue full (device not completing)"),
            Self::Transport(why) => write!(f, "virtio transport: {why}"),
        }
    }
}

impl From<VirtioError> for BlkError {
    fn from(e: VirtioError) -> Self {
        match e {
            VirtioError::NoMemory => Self::NoMemory,
            VirtioError::InvalidArgument => Self::InvalidArgument,
            VirtioError::Transport(why) => Self::Transport(why),
        }
    }
}
