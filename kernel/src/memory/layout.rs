//! The kernel's virtual address layout and the kernel image's sections.
//!
//! | range (TTBR1 half)                          | what                                        |
//! |---------------------------------------------|---------------------------------------------|
//! | `LINEAR_BASE + PA`  (0xffff_0000_0000_0000) | linear map: all RAM RW+XN, devices nGnRE    |
//! | `KIMAGE_BASE` ..    (0xffff_ff80_0000_0000) | the kernel image, by section (see link.ld)  |
//!
//! The image's own physical pages are left out of the linear map, so there is no
//! writable alias of kernel text or rodata. TTBR0 (the low half) belongs to user tasks.

use mm::addr::{PhysAddr, VirtAddr};

/// Base of the linear map: `va = LINEAR_BASE + pa`.
pub const LINEAR_BASE: u64 = 0xFFFF_0000_0000_0000;
#[cfg_attr(not(feature = "ktest"), allow(dead_code))] // used by the QEMU tests (ktest)
/// Link address of the kernel image (must equal `KIMAGE_BASE` in link.ld).
pub const KIMAGE_BASE: u64 = 0xFFFF_FF80_0000_0000;

extern "C" {
    static __image_start: u8;
    static __text_end: u8;
    static __rodata_end: u8;
    static __stack_guard: u8;
    static __stack_bottom: u8;
    static __image_end: u8;
}

fn sym(s: &u8) -> u64 {
    s as *const u8 as u64
}

/// Where the kernel image sections are, as link (virtual) addresses.
#[derive(Clone, Copy, Debug)]
pub struct ImageLayout {
    /// Physical address the image was loaded at.
    pub load_pa: u64,
    /// Start of .text (= KIMAGE_BASE).
    pub text: u64,
    /// End of .text / start of .rodata.
    pub text_end: u64,
    /// End of .rodata / start of .data.
    pub rodata_end: u64,
    /// The boot stack's guard page (left unmapped).
    pub stack_guard: u64,
    /// Lowest address of the boot stack proper.
    pub stack_bottom: u64,
    /// End of the image, .bss and stack included.
    pub end: u64,
}

impl ImageLayout {
    /// Read the section symbols from the linker script.
    pub fn current(load_pa: u64) -> Self {
        // SAFETY: these are linker-defined symbols; only their addresses are taken.
        unsafe {
            Self {
                load_pa,
                text: sym(&__image_start),
                text_end: sym(&__text_end),
                rodata_end: sym(&__rodata_end),
                stack_guard: sym(&__stack_guard),
                stack_bottom: sym(&__stack_bottom),
                end: sym(&__image_end),
            }
        }
    }

    /// Physical address of an address inside the image.
    pub fn pa_of(&self, va: u64) -> u64 {
        va - self.text + self.load_pa
    }

    /// Physical extent of the image: `[load_pa, load_pa + size)`.
    pub fn phys_size(&self) -> u64 {
        self.end - self.text
    }

    /// True if `pa` lies inside the image.
    pub fn contains_pa(&self, pa: u64) -> bool {
        pa >= self.load_pa && pa < self.load_pa + self.phys_size()
    }
}

/// The linear-map address of a physical address.
pub fn phys_to_virt(pa: PhysAddr) -> VirtAddr {
    VirtAddr::new(LINEAR_BASE + pa.as_u64())
}
