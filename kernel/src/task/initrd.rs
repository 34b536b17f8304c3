//! The initrd: a tar archive of user programs (built and packed by `cargo xtask`),
//! placed in RAM by the loader and found through `/chosen` in the FDT.

use crate::memory::layout::phys_to_virt;
use mm::addr::PhysAddr;
use platform::board::Region;
use spin::Once;
use tar_no_std::TarArchiveRef;

static INITRD: Once<&'static [u8]> = Once::new();

/// Remember the initrd's location (its memory is reserved from the allocators at boot).
pub fn init(region: Option<Region>) {
    if let Some(r) = region {
        let va = phys_to_virt(PhysAddr::new(r.base)).as_u64();
        // SAFETY: the initrd range is RAM, mapped by the linear map and reserved from
        // the frame allocator and heap, so it stays valid and unchanged.
        let bytes = unsafe { core::slice::from_raw_parts(va as *const u8, r.size as usize) };
        INITRD.call_once(|| bytes);
    }
}

fn archive() -> Option<TarArchiveRef<'static>> {
    TarArchiveRef::new(INITRD.get()?).ok()
}

/// The bytes of program `name`, if the initrd has it.
pub fn find(name: &str) -> Option<&'static [u8]> {
    archive()?
        .entries()
        .find(|e| e.filename().as_str() == Ok(name))
        .map(|e| e.data())
}

/// Call `f` with every program name, in archive order.
pub fn for_each_name(mut f: impl FnMut(&str)) {
    if let Some(a) = archive() {
        for e in a.entries() {
            if let Ok(name) = e.filename().as_str() {
                f(name);
            }
        }
    }
}
