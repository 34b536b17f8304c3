//! The error type shared by every check of the protocol.

use core::fmt;

/// Why a `sync` request (or an access-state transition) was refused.
///
/// Every variant is a user error the kernel reports to the caller; none of them is a
/// reason to panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SyncError {
    /// The flags are not exactly one of START/END plus at least one of READ/WRITE, or
    /// carry unknown bits.
    BadFlags,
    /// The range does not lie inside the buffer, overflows, or is `len == 0` with a
    /// non-zero offset.
    OutOfRange,
    /// The holder asked for CPU write access without the map-write right.
    AccessDenied,
    /// END without a matching START: the holder is idle, or ended a different
    /// direction than it started.
    NotStarted,
    /// START while the holder is already inside a START/END bracket.
    AlreadyStarted,
}

impl fmt::Display for SyncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::BadFlags => "invalid sync flags",
            Self::OutOfRange => "sync range outside the buffer",
            Self::AccessDenied => "CPU write access requires the map-write right",
            Self::NotStarted => "sync END without a matching START",
            Self::AlreadyStarted => "sync START while CPU access is already started",
        })
    }
}

impl core::error::Error for SyncError {}
