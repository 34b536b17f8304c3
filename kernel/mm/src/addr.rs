//! Typed physical and virtual addresses.
//!
//! [`PhysAddr`] and [`VirtAddr`] are plain `u64` newtypes so that the two address
//! spaces cannot be mixed up by accident. All alignment helpers take the alignment
//! in bytes, which must be a non-zero power of two (they panic otherwise: passing a
//! bad alignment is a programming error, not a runtime condition).

use core::fmt;

/// Size of a translation granule / base page in bytes (4 KiB).
pub const PAGE_SIZE: u64 = 4096;

/// `log2(PAGE_SIZE)`.
pub const PAGE_SHIFT: u32 = 12;

/// Panics unless `align` is a non-zero power of two.
#[inline]
#[track_caller]
fn check_align(align: u64) {
    assert!(
        align.is_power_of_two(),
        "alignment {align:#x} is not a power of two"
    );
}

macro_rules! addr_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(transparent)]
        pub struct $name(u64);

        impl $name {
            /// Wraps a raw address.
            #[inline]
            pub const fn new(addr: u64) -> Self {
                Self(addr)
            }

            /// Returns the raw address.
            #[inline]
            pub const fn as_u64(self) -> u64 {
                self.0
            }

            /// Rounds down to a multiple of `align` (a non-zero power of two).
            ///
            /// # Panics
            /// If `align` is not a power of two.
            #[inline]
            #[track_caller]
            pub fn align_down(self, align: u64) -> Self {
                check_align(align);
                Self(self.0 & !(align - 1))
            }

            /// Rounds up to a multiple of `align` (a non-zero power of two);
            /// `None` if the result does not fit in 64 bits.
            ///
            /// # Panics
            /// If `align` is not a power of two.
            #[inline]
            #[track_caller]
            pub fn align_up(self, align: u64) -> Option<Self> {
                check_align(align);
                self.0.checked_add(align - 1).map(|v| Self(v & !(align - 1)))
            }

            /// Whether the address is a multiple of `align` (a non-zero power of two).
            ///
            /// # Panics
            /// If `align` is not a power of two.
            #[inline]
            #[track_caller]
            pub fn is_aligned(self, align: u64) -> bool {
                check_align(align);
                self.0 & (align - 1) == 0
            }

            /// `self + off`, or `None` on overflow.
            #[inline]
            pub const fn checked_add(self, off: u64) -> Option<Self> {
                match self.0.checked_add(off) {
                    Some(v) => Some(Self(v)),
                    None => None,
                }
            }

            /// Offset of the address within its 4 KiB page.
            #[inline]
            pub const fn page_offset(self) -> u64 {
                self.0 & (PAGE_SIZE - 1)
            }
        }

        /// Formats as `0x` followed by the hex digits (the `#` flag does not add a
        /// second prefix); width/fill flags apply to the digits.
        impl fmt::LowerHex for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                if !f.alternate() {
                    f.write_str("0x")?;
                }
                fmt::LowerHex::fmt(&self.0, f)
            }
        }

        /// Formats as `0x` followed by 16 zero-padded hex digits.
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:#018x}", self.0)
            }
        }
    };
}

addr_type!(
    /// A physical (output) address.
    PhysAddr
);

addr_type!(
    /// A virtual (input) address.
    VirtAddr
);

/// Which translation table base register serves a virtual address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Half {
    /// Bits 63..48 all zero: translated through `TTBR0_EL1` (user space).
    Lower,
    /// Bits 63..48 all one: translated through `TTBR1_EL1` (kernel space).
    Upper,
}

impl VirtAddr {
    /// Number of significant VA bits (`TnSZ = 16`).
    pub const VA_BITS: u32 = 48;

    /// Bits 63..48 (the part that selects the half).
    const TOP_MASK: u64 = !((1 << Self::VA_BITS) - 1);

    /// Whether the address is canonical for a 48-bit AArch64 VA space: bits 63..48 are
    /// either all zero (TTBR0 half) or all one (TTBR1 half).
    ///
    /// Unlike x86-64 this does not require those bits to equal bit 47; with
    /// `T0SZ = T1SZ = 16` each half spans the full 2^48 bytes.
    #[inline]
    pub const fn is_canonical(self) -> bool {
        let top = self.0 & Self::TOP_MASK;
        top == 0 || top == Self::TOP_MASK
    }

    /// The half this address belongs to, or `None` if it is not canonical.
    #[inline]
    pub const fn half(self) -> Option<Half> {
        match self.0 & Self::TOP_MASK {
            0 => Some(Half::Lower),
            Self::TOP_MASK => Some(Half::Upper),
            _ => None,
        }
    }

    /// The low 48 bits: the offset translated by the tables, identical for both halves.
    #[inline]
    pub const fn offset48(self) -> u64 {
        self.0 & !Self::TOP_MASK
    }

    /// Rebuilds an address from a 48-bit offset (`offset < 2^48`) and a half.
    #[inline]
    pub const fn from_offset48(half: Half, offset: u64) -> Self {
        let off = offset & !Self::TOP_MASK;
        match half {
            Half::Lower => Self(off),
            Half::Upper => Self(off | Self::TOP_MASK),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment() {
        let a = PhysAddr::new(0x1234);
        assert_eq!(a.align_down(PAGE_SIZE), PhysAddr::new(0x1000));
        assert_eq!(a.align_up(PAGE_SIZE), Some(PhysAddr::new(0x2000)));
        assert_eq!(
            PhysAddr::new(0x2000).align_up(PAGE_SIZE),
            Some(PhysAddr::new(0x2000))
        );
        assert!(!a.is_aligned(PAGE_SIZE));
        assert!(a.is_aligned(4));
        assert_eq!(a.page_offset(), 0x234);
        assert_eq!(VirtAddr::new(u64::MAX).align_up(PAGE_SIZE), None);
        assert_eq!(
            VirtAddr::new(u64::MAX - 0xfff).align_up(PAGE_SIZE),
            Some(VirtAddr::new(u64::MAX - 0xfff))
        );
        assert_eq!(VirtAddr::new(u64::MAX).checked_add(1), None);
        assert_eq!(VirtAddr::new(1).checked_add(2), Some(VirtAddr::new(3)));
    }

    #[test]
    #[should_panic(expected = "not a power of two")]
    fn bad_alignment_panics() {
        let _ = PhysAddr::new(0).align_down(3);
    }

    #[test]
    fn canonical() {
        assert!(VirtAddr::new(0).is_canonical());
        assert!(VirtAddr::new(0x0000_ffff_ffff_ffff).is_canonical());
        assert!(VirtAddr::new(0xffff_0000_0000_0000).is_canonical());
        assert!(VirtAddr::new(u64::MAX).is_canonical());
        assert!(!VirtAddr::new(0x0001_0000_0000_0000).is_canonical());
        assert!(!VirtAddr::new(0xfffe_ffff_ffff_ffff).is_canonical());
        assert!(!VirtAddr::new(0x8000_0000_0000_0000).is_canonical());
        assert_eq!(VirtAddr::new(0x8000_0000_0000).half(), Some(Half::Lower));
        assert_eq!(
            VirtAddr::new(0xffff_0000_0000_1000).half(),
            Some(Half::Upper)
        );
        assert_eq!(VirtAddr::new(0x1_0000_0000_0000).half(), None);
        let v = VirtAddr::new(0xffff_8000_0020_1000);
        assert_eq!(v.offset48(), 0x8000_0020_1000);
        assert_eq!(VirtAddr::from_offset48(Half::Upper, v.offset48()), v);
    }

    #[test]
    fn formatting() {
        let p = PhysAddr::new(0xdead_b000);
        assert_eq!(format!("{p}"), "0x00000000deadb000");
        assert_eq!(format!("{p:x}"), "0xdeadb000");
        assert_eq!(format!("{p:#x}"), "0xdeadb000");
        assert_eq!(format!("{}", VirtAddr::new(u64::MAX)), "0xffffffffffffffff");
    }
}
