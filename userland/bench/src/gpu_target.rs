//! What the `frame` and `readback` suites measure on: a buffer imported as a GPU
//! resource and mapped as a coherency strategy ([`Variant`]) wants. Each suite adds its
//! own measured operations (`impl Target` in [`frame_suite`](crate::frame_suite) and
//! [`readback_suite`](crate::readback_suite)); setting up and tearing down is the same
//! for both: `buffer_create`, `gpu_import`, then either `buffer_map` or `gpu_map_offset`
//! + `gpu_mmap`, in that order, and `buffer_unmap` and the two `handle_close`s at the end.

use crate::{Failed, OrFail};
use urt::{format, legacy, policy, Handle};

/// Bytes per pixel (B8G8R8X8).
pub const BYTES_PER_PIXEL: u64 = 4;

/// How the CPU's view of the buffer and the device's are kept coherent. The frame suite
/// writes with the CPU and has the device read (`WRITE` syncs); the readback suite has
/// the device write and reads with the CPU (`READ` syncs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// Direct mapping; START and END of the whole buffer (`len` 0). In the frame suite
    /// END WRITE cleans every line of the 8100 KiB buffer whatever was written; in the
    /// readback suite START READ invalidates all of it.
    ExplicitWhole,
    /// Direct mapping; START and END of exactly the bytes the CPU wrote or the device
    /// wrote: in the frame suite one byte range for the full frame and
    /// `buffer_sync_rect` of the rectangle's rows for the dirty case, in the readback
    /// suite the 1 MiB the device wrote.
    ExplicitRanged,
    /// Mapping through the GPU driver (`gpu_map_offset` + `gpu_mmap`, policy `FAULT`), no
    /// sync calls. Frames: pages fault in during the write phase, and the present zaps
    /// the mapping and cleans the pages written since the last present. Readback: the
    /// device write zaps it, and every page the CPU then touches faults (wait for the
    /// device, invalidate the page, map it).
    LegacyFault,
    /// Mapping through the GPU driver with policy `UNCACHED`: no faults, no maintenance
    /// (and under QEMU no visible cost of uncached stores or loads either).
    LegacyUncached,
    /// Direct mapping, no `buffer_sync` at all; `bench_clean_all` cleans and invalidates
    /// every data cache level by set/way (after the CPU writes, or before it reads).
    SetwayCleanAll,
}

impl Variant {
    /// Every variant, in output order.
    pub const ALL: [Variant; 5] = [
        Variant::ExplicitWhole,
        Variant::ExplicitRanged,
        Variant::LegacyFault,
        Variant::LegacyUncached,
        Variant::SetwayCleanAll,
    ];

    /// The `variant` in the output.
    pub fn name(self) -> &'static str {
        match self {
            Variant::ExplicitWhole => "explicit-whole",
            Variant::ExplicitRanged => "explicit-ranged",
            Variant::LegacyFault => "legacy-fault",
            Variant::LegacyUncached => "legacy-uncached",
            Variant::SetwayCleanAll => "setway-clean-all",
        }
    }
}

/// A cached buffer of `width` x `height` B8G8R8X8 pixels imported as a GPU resource and
/// mapped as a [`Variant`] wants.
pub struct Target {
    /// How the buffer is mapped and kept coherent.
    pub variant: Variant,
    /// The buffer handle.
    pub buffer: Handle,
    /// The GPU resource imported from it.
    pub resource: Handle,
    /// Start of the mapping (direct or forwarded) of the whole buffer.
    pub pixels: *mut u8,
}

impl Target {
    /// Create the buffer, import it and map it with `prot` ([`urt::prot`]) as `variant`
    /// wants: directly (`buffer_map`) or through the GPU driver (`gpu_map_offset` +
    /// `gpu_mmap` with the legacy policy).
    pub fn new(variant: Variant, width: u32, height: u32, prot: u64) -> Result<Target, Failed> {
        let size = u64::from(width) * u64::from(height) * BYTES_PER_PIXEL;
        let buffer = urt::buffer_create(size, policy::CACHED).or_fail("buffer_create")?;
        let resource =
            urt::gpu_import(buffer, width, height, format::B8G8R8X8).or_fail("gpu_import")?;
        let forwarded = |policy: u64| {
            let offset = urt::gpu_map_offset(resource).or_fail("gpu_map_offset")?;
            urt::gpu_mmap(offset, size, prot, policy).or_fail("gpu_mmap")
        };
        let pixels = match variant {
            Variant::ExplicitWhole | Variant::ExplicitRanged | Variant::SetwayCleanAll => {
                urt::buffer_map(buffer, prot).or_fail("buffer_map")?
            }
            Variant::LegacyFault => forwarded(legacy::FAULT)?,
            Variant::LegacyUncached => forwarded(legacy::UNCACHED)?,
        };
        Ok(Target {
            variant,
            buffer,
            resource,
            pixels,
        })
    }

    /// Unmap the buffer and close the resource and the buffer.
    pub fn close(self) -> Result<(), Failed> {
        // SAFETY: `pixels` is the mapping `new` made; `self` is consumed, so nothing uses
        // it afterwards. (`buffer_unmap` removes forwarded mappings too.)
        unsafe { urt::buffer_unmap(self.pixels) }.or_fail("buffer_unmap")?;
        urt::handle_close(self.resource).or_fail("handle_close")?;
        urt::handle_close(self.buffer).or_fail("handle_close")
    }
}
