//! Memory types (`MAIR_EL1`), access permissions and the [`PageAttrs`] of a mapping.

/// `MAIR_EL1` attribute encoding: Normal memory, inner and outer write-back
/// non-transient, read- and write-allocate (`0b1111_1111`).
pub const MAIR_ATTR_NORMAL_WB: u8 = 0xff;
/// `MAIR_EL1` attribute encoding: Normal memory, inner and outer non-cacheable
/// (`0b0100_0100`).
pub const MAIR_ATTR_NORMAL_NC: u8 = 0x44;
/// `MAIR_EL1` attribute encoding: Device-nGnRE (`0b0000_0100`).
pub const MAIR_ATTR_DEVICE_NGNRE: u8 = 0x04;

/// Width in bits of one `MAIR_EL1.Attr<n>` field.
const MAIR_ATTR_BITS: u32 = 8;

/// Places `attr` in field `Attr<index>` of `MAIR_EL1`.
const fn mair_field(attr: MemAttr, encoding: u8) -> u64 {
    (encoding as u64) << (attr as u32 * MAIR_ATTR_BITS)
}

/// Value to program into `MAIR_EL1` so that [`MemAttr`] discriminants are valid
/// `AttrIndx` values: Attr0 = `0xff` (Normal WB RWA), Attr1 = `0x44` (Normal NC),
/// Attr2 = `0x04` (Device-nGnRE), Attr3..7 = 0 (unused).
pub const MAIR_EL1_VALUE: u64 = mair_field(MemAttr::Normal, MAIR_ATTR_NORMAL_WB)
    | mair_field(MemAttr::NormalNonCacheable, MAIR_ATTR_NORMAL_NC)
    | mair_field(MemAttr::Device, MAIR_ATTR_DEVICE_NGNRE);

/// Memory type of a mapping; the discriminant is the `MAIR_EL1` index (`AttrIndx`).
///
/// Shareability written to the descriptor (`SH`):
/// * `Normal` and `NormalNonCacheable`: Inner Shareable, so all cores of the cluster see
///   coherent data (the architecture treats Normal non-cacheable as Outer Shareable
///   regardless).
/// * `Device`: Outer Shareable. The architecture ignores `SH` for Device memory and
///   treats it as Outer Shareable, so that is the value written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MemAttr {
    /// Ordinary cacheable RAM (`MAIR` Attr0).
    Normal = 0,
    /// Normal memory, non-cacheable: e.g. DMA buffers shared with non-coherent devices
    /// (`MAIR` Attr1).
    NormalNonCacheable = 1,
    /// Device-nGnRE MMIO (`MAIR` Attr2). Map it without execute permission.
    Device = 2,
}

impl MemAttr {
    /// All memory types, for iteration.
    pub const ALL: [MemAttr; 3] = [Self::Normal, Self::NormalNonCacheable, Self::Device];

    /// The `AttrIndx` value (index into `MAIR_EL1`).
    pub const fn index(self) -> u64 {
        self as u64
    }

    /// Inverse of [`MemAttr::index`].
    pub const fn from_index(index: u64) -> Option<Self> {
        match index {
            0 => Some(Self::Normal),
            1 => Some(Self::NormalNonCacheable),
            2 => Some(Self::Device),
            _ => None,
        }
    }
}

/// Who may access a mapping and how.
///
/// Encoding (`AP[2:1]`, `PXN`, `UXN`):
///
/// | Access            | AP              | PXN | UXN |
/// |-------------------|-----------------|-----|-----|
/// | `KernelRead`      | `0b10` RO EL1   | 1   | 1   |
/// | `KernelReadWrite` | `0b00` RW EL1   | 1   | 1   |
/// | `KernelReadExec`  | `0b10` RO EL1   | 0   | 1   |
/// | `UserRead`        | `0b11` RO EL1+0 | 1   | 1   |
/// | `UserReadWrite`   | `0b01` RW EL1+0 | 1   | 1   |
/// | `UserReadExec`    | `0b11` RO EL1+0 | 1   | 0   |
///
/// Kernel-only entries are never executable at EL0 (`UXN`; note EL0 could otherwise
/// execute an `AP = EL1-only` page), user entries are never executable at EL1 (`PXN`),
/// and no writable entry is executable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    /// EL1 read-only.
    KernelRead,
    /// EL1 read/write.
    KernelReadWrite,
    /// EL1 read + execute.
    KernelReadExec,
    /// EL0 and EL1 read-only.
    UserRead,
    /// EL0 and EL1 read/write.
    UserReadWrite,
    /// EL0 and EL1 read, EL0 execute.
    UserReadExec,
}

impl Access {
    /// All access kinds, for iteration.
    pub const ALL: [Access; 6] = [
        Self::KernelRead,
        Self::KernelReadWrite,
        Self::KernelReadExec,
        Self::UserRead,
        Self::UserReadWrite,
        Self::UserReadExec,
    ];

    /// Whether EL0 can access the mapping.
    pub const fn is_user(self) -> bool {
        matches!(
            self,
            Self::UserRead | Self::UserReadWrite | Self::UserReadExec
        )
    }

    /// Whether the mapping is writable.
    pub const fn is_writable(self) -> bool {
        matches!(self, Self::KernelReadWrite | Self::UserReadWrite)
    }

    /// Whether the mapping is executable (at its own exception level only).
    pub const fn is_executable(self) -> bool {
        matches!(self, Self::KernelReadExec | Self::UserReadExec)
    }
}

/// Number of software-defined descriptor bits (55..58).
pub const SW_BITS: u32 = 4;

/// Attributes of a leaf (page or block) mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PageAttrs {
    /// Permissions.
    pub access: Access,
    /// Memory type.
    pub mem: MemAttr,
    /// `false` sets `nG`: the TLB entry is tagged with the current ASID (user mappings).
    pub global: bool,
    /// Software bits 55..58, free for the kernel (e.g. dirty tracking, COW). Only the low
    /// [`SW_BITS`] bits are stored; higher bits are ignored.
    pub sw: u8,
}

impl PageAttrs {
    /// A global (all-ASID) mapping, software bits clear.
    pub const fn kernel(access: Access, mem: MemAttr) -> Self {
        Self {
            access,
            mem,
            global: true,
            sw: 0,
        }
    }

    /// A non-global (per-ASID, `nG`) mapping, software bits clear.
    pub const fn user(access: Access, mem: MemAttr) -> Self {
        Self {
            access,
            mem,
            global: false,
            sw: 0,
        }
    }

    /// Same attributes with software bits `sw` (masked to [`SW_BITS`] bits).
    pub const fn with_sw(self, sw: u8) -> Self {
        Self {
            sw: sw & ((1 << SW_BITS) - 1),
            ..self
        }
    }

    /// Same attributes with `global` replaced.
    pub const fn with_global(self, global: bool) -> Self {
        Self { global, ..self }
    }
}
