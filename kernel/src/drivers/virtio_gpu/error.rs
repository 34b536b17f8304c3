//! Driver errors.

use super::protocol::resp;
use crate::drivers::virtio::VirtioError;
use core::fmt;

/// Why a GPU operation failed. Nothing the device reports makes the driver panic: a bad
/// response becomes [`GpuError::Device`], a broken device [`GpuError::Transport`] or
/// [`GpuError::Timeout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GpuError {
    /// No resource with that id (never created, or released).
    NotFound,
    /// The device answered with this response type instead of OK (0x1200.. are errors;
    /// 0 means it wrote no response).
    Device(u32),
    /// No memory for DMA buffers.
    NoMemory,
    /// The control queue stayed full (the device is not completing requests).
    QueueFull,
    /// A request the driver refuses (empty or out-of-bounds rectangle, size mismatch,
    /// bad page list, too many backing entries).
    InvalidArgument,
    /// A synchronous request did not complete in time.
    Timeout,
    /// The transport could not be brought up or the device failed (the reason).
    Transport(&'static str),
}

impl fmt::Display for GpuError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound => f.write_str("no such GPU resource"),
            Self::Device(t) => write!(f, "device answered {} ({t:#x})", resp::name(*t)),
            Self::NoMemory => f.write_str("out of DMA memory"),
            Self::QueueFull => f.write_str("control queue full (device not completing)"),
            Self::InvalidArgument => f.write_str("invalid argument"),
            Self::Timeout => f.write_str("device did not complete the request in time"),
            Self::Transport(why) => write!(f, "virtio transport: {why}"),
        }
    }
}

impl From<VirtioError> for GpuError {
    fn from(e: VirtioError) -> Self {
        match e {
            VirtioError::NoMemory => Self::NoMemory,
            VirtioError::InvalidArgument => Self::InvalidArgument,
            VirtioError::Transport(why) => Self::Transport(why),
        }
    }
}
