//! The `sync` ABI flags and their decoding into a [`Phase`] and a [`Dir`].

use crate::SyncError;

/// The raw flag bits of the `sync` system call (a plain `u64` in the ABI), numbered like
/// Linux's `DMA_BUF_SYNC_*`.
///
/// A valid word is exactly one of [`START`](Self::START) / [`END`](Self::END) together
/// with [`READ`](Self::READ), [`WRITE`](Self::WRITE) or both ([`RW`](Self::RW)).
#[derive(Clone, Copy, Debug)]
pub struct SyncFlags;

impl SyncFlags {
    /// Begin CPU access.
    pub const START: u64 = 1;
    /// End CPU access.
    pub const END: u64 = 2;
    /// The CPU reads the range.
    pub const READ: u64 = 4;
    /// The CPU writes the range.
    pub const WRITE: u64 = 8;
    /// The CPU reads and writes the range.
    pub const RW: u64 = Self::READ | Self::WRITE;
    /// Every defined bit; anything else is [`SyncError::BadFlags`].
    pub const VALID: u64 = Self::START | Self::END | Self::RW;

    /// Decodes a raw flag word.
    ///
    /// # Errors
    /// [`SyncError::BadFlags`] unless exactly one of START/END and at least one of
    /// READ/WRITE is set and no other bit is.
    pub const fn parse(raw: u64) -> Result<(Phase, Dir), SyncError> {
        if raw & !Self::VALID != 0 {
            return Err(SyncError::BadFlags);
        }
        let phase = match raw & (Self::START | Self::END) {
            Self::START => Phase::Start,
            Self::END => Phase::End,
            _ => return Err(SyncError::BadFlags),
        };
        let dir = match raw & Self::RW {
            Self::READ => Dir::Read,
            Self::WRITE => Dir::Write,
            Self::RW => Dir::ReadWrite,
            _ => return Err(SyncError::BadFlags),
        };
        Ok((phase, dir))
    }

    /// The flag word for `phase` and `dir`: the inverse of [`SyncFlags::parse`].
    pub const fn encode(phase: Phase, dir: Dir) -> u64 {
        let p = match phase {
            Phase::Start => Self::START,
            Phase::End => Self::END,
        };
        let d = match dir {
            Dir::Read => Self::READ,
            Dir::Write => Self::WRITE,
            Dir::ReadWrite => Self::RW,
        };
        p | d
    }
}

/// Which side of the CPU-access bracket a request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// The CPU is about to access the buffer: make the CPU's view current.
    Start,
    /// The CPU is done: make the device's view (RAM) current.
    End,
}

/// The direction of CPU access inside a bracket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dir {
    /// The CPU only reads.
    Read,
    /// The CPU only writes.
    Write,
    /// The CPU reads and writes.
    ReadWrite,
}

impl Dir {
    /// Every direction, for exhaustive iteration.
    pub const ALL: [Dir; 3] = [Dir::Read, Dir::Write, Dir::ReadWrite];

    /// Whether the CPU reads (READ or RW).
    pub const fn reads(self) -> bool {
        matches!(self, Dir::Read | Dir::ReadWrite)
    }

    /// Whether the CPU writes (WRITE or RW).
    pub const fn writes(self) -> bool {
        matches!(self, Dir::Write | Dir::ReadWrite)
    }
}
