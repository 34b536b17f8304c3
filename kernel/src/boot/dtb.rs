//! Getting at the DTB the loader passed in x0: checking that it can be read, copying it
//! into canonical form, and the early console it names.

use super::error::BootError;
use crate::memory::kspace;
use crate::memory::layout::{ImageLayout, LINEAR_BASE};
use core::cell::UnsafeCell;
use core::sync::atomic::AtomicUsize;
use core::sync::atomic::{AtomicBool, Ordering};
use mm::addr::PAGE_SIZE;
use platform::board::{
    check_blob, early_uart, fdt_total_size, normalize, normalize_dropping, BoardError,
};

/// Largest DTB accepted. The arm64 boot protocol says 2 MiB, but QEMU pads a `-dtb` file
/// to twice its size plus slack, so allow more free space than that.
const MAX_DTB_SIZE: usize = 16 * 1024 * 1024;

/// Read one byte of the linear map at `pa`, or `None` if the access faults (no RAM or
/// device answers there).
fn readable(pa: u64) -> bool {
    crate::arch::exception::probe_read(LINEAR_BASE + pa).is_ok()
}

/// The DTB as a byte slice through the boot linear map, after checking its header and
/// that every page of it can be read.
pub fn raw_slice(dtb_pa: u64) -> Result<&'static [u8], BootError> {
    if dtb_pa == 0 || !dtb_pa.is_multiple_of(8) {
        return Err(BootError::Dtb(
            "no DTB: x0 was zero or not 8-byte aligned at entry",
        ));
    }
    if dtb_pa >> 39 != 0 {
        return Err(BootError::Dtb("DTB above 512 GiB is not supported"));
    }
    // boot.S mapped the DTB's 1 GiB block and the next one (both below 512 GiB unless the
    // DTB starts in the last block, checked below). A read of an address where nothing
    // answers faults: probe before touching it.
    if !readable(dtb_pa) || !readable(dtb_pa + 39) {
        return Err(BootError::DtbUnreadable { pa: dtb_pa });
    }
    let va = LINEAR_BASE + dtb_pa;
    // SAFETY: the 40 header bytes are mapped (the DTB's block, and the next for a header
    // crossing into it) and readable (probed).
    let header = unsafe { core::slice::from_raw_parts(va as *const u8, 40) };
    let size = fdt_total_size(header).map_err(BootError::Board)?;
    if size > MAX_DTB_SIZE {
        return Err(BootError::Dtb("DTB larger than 16 MiB"));
    }
    let last = dtb_pa + size as u64 - 1;
    if (last >> 30) > (dtb_pa >> 30) + 1 || last >> 39 != 0 {
        return Err(BootError::Dtb("DTB crosses the 512 GiB line"));
    }
    let mut page = dtb_pa & !(PAGE_SIZE - 1);
    while page <= last {
        if !readable(page.max(dtb_pa)) {
            return Err(BootError::DtbUnreadable { pa: page });
        }
        page += PAGE_SIZE;
    }
    if !readable(last) {
        return Err(BootError::DtbUnreadable { pa: last });
    }
    // SAFETY: the whole blob lies in the two mapped blocks and every page of it is
    // readable (checked above); the memory is reserved from the allocators, so it stays
    // valid and unchanged.
    Ok(unsafe { core::slice::from_raw_parts(va as *const u8, size) })
}

/// Room for the normalized copy of the DTB (QEMU's own tree is about 8 KiB). It is
/// part of the image's .bss, so it stays small: a kernel on 38 MiB of RAM still needs
/// its 16 MiB heap in one piece.
const DTB_COPY_SIZE: usize = 256 * 1024;
/// Properties longer than this may be left out of the copy of a tree too big for it
/// (the kernel reads none that long: `interrupt-map` is the longest, a few hundred
/// bytes).
const MAX_KEPT_PROPERTY: usize = 64 * 1024;

/// Properties left out of the kernel's copy (reported at boot).
pub static DROPPED: AtomicUsize = AtomicUsize::new(0);

#[repr(C, align(8))]
struct DtbCopy(UnsafeCell<[u8; DTB_COPY_SIZE]>);

// SAFETY: written once by `canonical` (guarded by DTB_COPIED) before any reader exists;
// read-only afterwards.
unsafe impl Sync for DtbCopy {}

static DTB_COPY: DtbCopy = DtbCopy(UnsafeCell::new([0; DTB_COPY_SIZE]));
static DTB_COPIED: AtomicBool = AtomicBool::new(false);

/// The DTB in canonical form (no FDT_NOP tokens, no free space; see
/// `platform::board::normalize`), copied into the kernel image so the parser and the
/// kernel never depend on the loader's copy again. A tree whose content exceeds the
/// copy is used in place if it is already canonical (validates without NOPs: the
/// loader's memory is never written); if it holds NOPs (QEMU's `-dtb` leaves some),
/// its properties over 64 KiB are left out of the copy ([`DROPPED`]); only a tree
/// still too big then is refused, saying so.
pub fn canonical(raw: &'static [u8]) -> Result<&'static [u8], BoardError> {
    if DTB_COPIED.swap(true, Ordering::SeqCst) {
        return Err(BoardError::Malformed("DTB normalized twice"));
    }
    // SAFETY: the swap above makes this the only writer ever, and no reader exists yet.
    let buf = unsafe { &mut *DTB_COPY.0.get() };
    match normalize(raw, buf) {
        Ok(n) => Ok(&buf[..n]),
        Err(BoardError::Truncated { got, .. }) if got == DTB_COPY_SIZE => {
            if check_blob(raw).is_ok() {
                return Ok(raw);
            }
            match normalize_dropping(raw, buf, MAX_KEPT_PROPERTY) {
                Ok((n, dropped)) => {
                    DROPPED.store(dropped, Ordering::SeqCst);
                    Ok(&buf[..n])
                }
                Err(BoardError::Truncated { got, .. }) if got == DTB_COPY_SIZE => {
                    Err(BoardError::Invalid {
                        node: "/",
                        what: "the DTB holds FDT_NOP tokens and over 256 KiB of content \
                               even without its properties over 64 KiB (the kernel's copy \
                               buffer); pack it (`dtc -O dtb`)",
                    })
                }
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

/// Bootargs from a validated blob, even one the full parser rejects (to learn
/// `exit=semihosting`). (`fdt::Fdt::chosen` panics when /chosen is missing, hence the
/// manual lookup.)
pub fn bootargs(dtb: &'static [u8]) -> &'static str {
    let fdt = match fdt::Fdt::new(dtb) {
        Ok(f) => f,
        Err(_) => return "",
    };
    let bootargs = fdt
        .find_node("/chosen")
        .and_then(|n| n.property("bootargs"));
    bootargs.and_then(|p| p.as_str()).unwrap_or("")
}

/// Start the console on the UART the (validated) tree names, before the full parse, so
/// the parser's verdict can be shown; returns its physical base (the final tables must
/// map that page too). Without one, the console stays on semihosting.
pub fn early_console(image: &ImageLayout, dtb: &[u8]) -> Option<u64> {
    let base = early_uart(dtb)?;
    // One page of registers is all a PL011 has; `reg`'s size may be what is broken.
    kspace::map_early_device(image, base, PAGE_SIZE).ok()?;
    // SAFETY: the UART's registers were just mapped Device-nGnRE at this address and
    // stay mapped (the caller has the final tables map this page too).
    unsafe { crate::console::init((LINEAR_BASE + base) as usize) };
    Some(base)
}
