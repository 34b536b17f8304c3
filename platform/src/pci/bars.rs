//! Sizing BARs (decoding off, all ones written, the read-back mask) and handing out
//! addresses inside the host bridge's memory windows.

use super::{Bar, Bdf, ConfigSpace};

/// A BAR as sizing found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Sized {
    /// Not implemented, or the upper half of a 64-bit BAR.
    None,
    /// Memory of `size` bytes.
    Mem {
        size: u64,
        is64: bool,
        prefetchable: bool,
    },
    /// I/O of `size` bytes.
    Io { size: u32 },
    /// The reserved memory type.
    Reserved,
}

impl Sized {
    /// The enumeration result for a BAR that gets no address.
    pub(super) fn unassigned(self) -> Bar {
        match self {
            Sized::None => Bar::None,
            Sized::Mem { size, .. } => Bar::Unfit { size },
            Sized::Io { size } => Bar::Io { size },
            Sized::Reserved => Bar::Reserved,
        }
    }
}
use crate::board::{PciHost, PciSpace, PciWindow};

const BAR0: u16 = 0x10;

/// The raw size of each BAR of `bdf` (`count` of them: 6 for endpoints, 2 for bridges),
/// with memory and I/O decoding off while sizing. The original values are restored.
pub(super) fn size_bars(cfg: &impl ConfigSpace, bdf: Bdf, count: usize) -> [Sized; 6] {
    let rd = |off: u16| cfg.read32(bdf.bus, bdf.device, bdf.function, off);
    let wr = |off: u16, v: u32| cfg.write32(bdf.bus, bdf.device, bdf.function, off, v);
    let command = rd(0x04);
    wr(0x04, command & !0b11 & 0xffff);
    let mut bars = [Sized::None; 6];
    let mut i = 0;
    while i < count {
        let off = BAR0 + 4 * i as u16;
        let orig = rd(off);
        if orig & 1 == 1 {
            wr(off, u32::MAX);
            let mask = rd(off) & !0b11;
            wr(off, orig);
            // 16-bit I/O decoders leave the upper half zero.
            let mask = if mask >> 16 == 0 {
                mask | 0xffff_0000
            } else {
                mask
            };
            if mask & 0xffff != 0 {
                bars[i] = Sized::Io {
                    size: (!mask).wrapping_add(1),
                };
            }
            i += 1;
            continue;
        }
        let prefetchable = orig & 0b1000 != 0;
        match (orig >> 1) & 0b11 {
            0 => {
                wr(off, u32::MAX);
                let mask = rd(off) & !0xf;
                wr(off, orig);
                if mask != 0 {
                    bars[i] = Sized::Mem {
                        size: u64::from((!mask).wrapping_add(1)),
                        is64: false,
                        prefetchable,
                    };
                }
                i += 1;
            }
            2 if i + 1 < count => {
                let orig_hi = rd(off + 4);
                wr(off, u32::MAX);
                wr(off + 4, u32::MAX);
                let mask = (u64::from(rd(off + 4)) << 32) | u64::from(rd(off) & !0xf);
                wr(off, orig);
                wr(off + 4, orig_hi);
                if mask != 0 {
                    bars[i] = Sized::Mem {
                        size: (!mask).wrapping_add(1),
                        is64: true,
                        prefetchable,
                    };
                }
                i += 2;
            }
            _ => {
                bars[i] = Sized::Reserved;
                i += 1;
            }
        }
    }
    wr(0x04, command & 0xffff);
    bars
}

/// Bump allocation inside the host's windows: the 32-bit memory window for every BAR
/// (and bridge window), the 64-bit one for 64-bit BARs on the root bus once the 32-bit
/// one is full.
pub(super) struct Windows {
    mem32: Option<Cursor>,
    mem64: Option<Cursor>,
}

#[derive(Clone, Copy)]
pub(super) struct Cursor {
    window: PciWindow,
    /// Next free PCI address.
    next: u64,
}

impl Cursor {
    fn new(window: PciWindow) -> Self {
        Self {
            window,
            next: window.pci_base,
        }
    }

    fn end(&self) -> u64 {
        self.window.pci_base + self.window.size
    }

    /// `size` bytes aligned to `align`: (pci, cpu).
    fn take(&mut self, size: u64, align: u64) -> Option<(u64, u64)> {
        let at = self.next.checked_next_multiple_of(align)?;
        let end = at.checked_add(size)?;
        if end > self.end() {
            return None;
        }
        self.next = end;
        Some((at, at - self.window.pci_base + self.window.cpu_base))
    }
}

impl Windows {
    pub(super) fn new(host: &PciHost) -> Self {
        // BARs are assigned below 4 GiB PCI addresses from the 32-bit window.
        let mem32 = host
            .window(PciSpace::Mem32)
            .filter(|w| w.pci_base.checked_add(w.size).is_some_and(|e| e <= 1 << 32))
            .map(|w| Cursor::new(*w));
        let mem64 = host.window(PciSpace::Mem64).map(|w| Cursor::new(*w));
        Self { mem32, mem64 }
    }

    /// An address for a memory BAR of `size` bytes (naturally aligned, at least one
    /// page so no two devices share a page mapping).
    pub(super) fn alloc(&mut self, size: u64, is64: bool, root_bus: bool) -> Option<(u64, u64)> {
        if size == 0 || !size.is_power_of_two() {
            return None;
        }
        let align = size.max(4096);
        if let Some(got) = self.mem32.as_mut().and_then(|c| c.take(size, align)) {
            return Some(got);
        }
        if is64 && root_bus {
            return self.mem64.as_mut().and_then(|c| c.take(size, align));
        }
        None
    }

    /// Align the 32-bit cursor to 1 MiB (a bridge window's granule) and return it.
    pub(super) fn bridge_start(&mut self) -> Option<u64> {
        let c = self.mem32.as_mut()?;
        c.next = c.next.checked_next_multiple_of(1 << 20)?.min(c.end());
        Some(c.next)
    }

    /// Close a bridge window opened at `start`: the 1 MiB-aligned end of what was
    /// allocated since, `None` if nothing was.
    pub(super) fn bridge_end(&mut self, start: u64) -> Option<u64> {
        let c = self.mem32.as_mut()?;
        if c.next == start {
            return None;
        }
        c.next = c.next.checked_next_multiple_of(1 << 20)?.min(c.end());
        Some(c.next)
    }
}
