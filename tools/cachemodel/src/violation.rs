//! What the model reports: a [`Violation`] is a moment where, on real non-coherent
//! hardware, some party would see or keep the wrong bytes.

use crate::event::{DevCmd, Origin};

/// The kinds of violation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A device reads bytes whose newest copy is still dirty in a CPU cache (a missing
    /// or incomplete clean: the device reads old bytes).
    LostWrite,
    /// A CPU reads, through a cacheable mapping, bytes a device wrote after the last
    /// invalidate: a copy cached before the device's write may be hit.
    StaleRead,
    /// Bytes a device wrote can be overwritten by a CPU write-back: the line was dirty
    /// when the device wrote it, or a CPU store merged into a copy older than the
    /// device's bytes.
    LostDeviceWrite,
    /// An invalidate discarded dirty bytes (for example a partial line at the edge of
    /// a range, which needs clean+invalidate).
    InvalidateDamage,
    /// The same line is used through a cacheable and a non-cacheable mapping so that
    /// one of them misses the other's bytes.
    MixedAttributes,
    /// A CPU accessed a line while a device access to it was in flight (a missing wait
    /// for the device's completion).
    DeviceRace,
}

impl Kind {
    /// Every kind, in index order.
    pub const ALL: [Kind; 6] = [
        Kind::LostWrite,
        Kind::StaleRead,
        Kind::LostDeviceWrite,
        Kind::InvalidateDamage,
        Kind::MixedAttributes,
        Kind::DeviceRace,
    ];

    /// Index into per-kind tables.
    pub fn index(self) -> usize {
        self as usize
    }

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::LostWrite => "lost write",
            Kind::StaleRead => "stale read",
            Kind::LostDeviceWrite => "lost device write",
            Kind::InvalidateDamage => "invalidate damage",
            Kind::MixedAttributes => "mixed cacheable/non-cacheable use",
            Kind::DeviceRace => "access during device transfer",
        }
    }
}

/// Who wrote the bytes at stake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Writer {
    /// A CPU store through a cacheable mapping.
    CpuStore(Origin),
    /// A CPU store through a non-cacheable mapping.
    NcStore(Origin),
    /// A device command.
    Device(DevCmd),
}

impl Writer {
    const DEVICE: u64 = 1 << 63;
    const NC: u64 = 1 << 62;

    /// Packed for per-line storage (origins keep their CPU below 64).
    pub fn pack(self) -> u64 {
        match self {
            Writer::CpuStore(o) => o.pack() & !(Self::DEVICE | Self::NC),
            Writer::NcStore(o) => (o.pack() & !(Self::DEVICE | Self::NC)) | Self::NC,
            Writer::Device(c) => Self::DEVICE | u64::from(c.0),
        }
    }

    /// The inverse of [`Writer::pack`].
    pub fn unpack(v: u64) -> Writer {
        if v & Self::DEVICE != 0 {
            Writer::Device(DevCmd(v as u32))
        } else if v & Self::NC != 0 {
            Writer::NcStore(Origin::unpack(v & !Self::NC))
        } else {
            Writer::CpuStore(Origin::unpack(v))
        }
    }
}

/// Who was acting when the violation was detected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Actor {
    /// A CPU instruction (load, store, maintenance) at virtual address `va`.
    Cpu {
        /// The instruction.
        origin: Origin,
        /// The address it used.
        va: u64,
    },
    /// A device command.
    Device(DevCmd),
    /// The end of the run (state left behind).
    End,
}

/// One violation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Violation {
    /// What went wrong.
    pub kind: Kind,
    /// Physical address of the line.
    pub line: u64,
    /// The bytes of the line at stake (bit i = byte i).
    pub bytes: u64,
    /// Who was acting.
    pub actor: Actor,
    /// Who wrote the bytes that are lost or missed.
    pub writer: Option<Writer>,
    /// One sentence of explanation.
    pub why: &'static str,
}
