//! GICv3 LPIs and the Interrupt Translation Service (IHI 0069H, chapters 5 and 6): what
//! MSI-X needs. A PCI function writes an event ID to `GITS_TRANSLATER`; the ITS looks up
//! the function's device ID in its device table, the event in the function's
//! interrupt translation table (ITT), and raises the LPI it was mapped to on the
//! redistributor of the collection it was mapped to. LPIs are enabled per INTID by one
//! byte each in the LPI configuration table the redistributor reads
//! (`GICR_PROPBASER`), and are always group 1 edge interrupts.
//!
//! This module has the register blocks, the command encodings (host-tested) and the
//! sequences; the memory (tables, command queue) comes from the caller, physically
//! contiguous and mapped non-cacheable (the attributes programmed here say so).

use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::register_structs;
use tock_registers::registers::{ReadOnly, ReadWrite};

/// The first LPI INTID.
pub const FIRST_LPI: u32 = 8192;
/// Interrupt ID bits the kernel configures (`GICR_PROPBASER.IDbits + 1`): LPIs
/// 8192..16384, an 8 KiB configuration table and a 2 KiB pending table.
pub const ID_BITS: u32 = 14;
/// Bytes of the LPI configuration table for [`ID_BITS`].
pub const PROP_TABLE_BYTES: usize = (1 << ID_BITS) - FIRST_LPI as usize;
/// Bytes of the LPI pending table for [`ID_BITS`] (it must be 64 KiB aligned).
pub const PEND_TABLE_BYTES: usize = (1 << ID_BITS) / 8;
/// Offset of `GITS_TRANSLATER` from the ITS base: the MSI doorbell address.
pub const TRANSLATER: u64 = 0x1_0040;
/// LPI configuration byte: priority 0xa0, enabled.
pub const LPI_ENABLED_PRIO_A0: u8 = 0xa0 | 1;

register_structs! {
    /// The ITS control frame.
    pub ItsRegs {
        (0x000 => ctlr: ReadWrite<u32>),
        (0x004 => _iidr: ReadOnly<u32>),
        (0x008 => typer: ReadOnly<u64>),
        (0x010 => _reserved0),
        (0x080 => cbaser: ReadWrite<u64>),
        (0x088 => cwriter: ReadWrite<u64>),
        (0x090 => creadr: ReadOnly<u64>),
        (0x098 => _reserved1),
        (0x100 => baser: [ReadWrite<u64>; 8]),
        (0x140 => @END),
    }
}

/// Memory attributes written into the ITS and redistributor table registers:
/// inner non-cacheable (InnerCache = 1), non-shareable, matching the kernel's
/// non-cacheable mapping of that memory.
const INNER_NC: u64 = 1;

/// One ITS command (32 bytes).
pub type Command = [u64; 4];

/// `MAPD`: device `devid` uses the ITT at `itt_pa` (256-byte aligned) for `event_bits`
/// bits of event IDs.
pub const fn mapd(devid: u32, itt_pa: u64, event_bits: u32) -> Command {
    [
        0x08 | ((devid as u64) << 32),
        (event_bits.saturating_sub(1) & 0x1f) as u64,
        (1 << 63) | (itt_pa & 0x000f_ffff_ffff_ff00),
        0,
    ]
}

/// `MAPC`: collection `icid` targets the redistributor `rdbase` (a processor number or
/// `RD_base >> 16`, per `GITS_TYPER.PTA`).
pub const fn mapc(icid: u16, rdbase: u64) -> Command {
    [
        0x09,
        0,
        (1 << 63) | ((rdbase & 0xf_ffff_ffff) << 16) | icid as u64,
        0,
    ]
}

/// `MAPTI`: event `event` of device `devid` raises LPI `intid` on collection `icid`.
pub const fn mapti(devid: u32, event: u32, intid: u32, icid: u16) -> Command {
    [
        0x0a | ((devid as u64) << 32),
        event as u64 | ((intid as u64) << 32),
        icid as u64,
        0,
    ]
}

/// `INVALL`: the redistributors of collection `icid` reload every LPI configuration.
pub const fn invall(icid: u16) -> Command {
    [0x0d, 0, icid as u64, 0]
}

/// `SYNC`: wait until the effects of earlier commands on `rdbase` are visible.
pub const fn sync(rdbase: u64) -> Command {
    [0x05, 0, (rdbase & 0xf_ffff_ffff) << 16, 0]
}

/// What `GITS_TYPER` says about the ITS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItsInfo {
    /// Bytes per ITT entry.
    pub itt_entry: u32,
    /// Device ID bits.
    pub dev_bits: u32,
    /// Event ID bits.
    pub event_bits: u32,
    /// Collections target redistributors by physical address (else by processor number).
    pub pta: bool,
}

/// Decode `GITS_TYPER`.
pub const fn decode_typer(typer: u64) -> ItsInfo {
    ItsInfo {
        itt_entry: ((typer >> 4) & 0xf) as u32 + 1,
        event_bits: ((typer >> 8) & 0x1f) as u32 + 1,
        dev_bits: ((typer >> 13) & 0x1f) as u32 + 1,
        pta: typer & (1 << 19) != 0,
    }
}

/// `GITS_BASER<n>` types.
const BASER_DEVICES: u64 = 1;
const BASER_COLLECTIONS: u64 = 4;

/// A `GITS_BASER` value for a flat table of `pages` 4 KiB pages at `pa`.
pub const fn baser_value(old: u64, pa: u64, pages: u64) -> u64 {
    // Keep Type and Entry_Size (read-only); Valid, InnerCache, flat, 4 KiB pages.
    let keep = old & (0x7 << 56 | 0x1f << 48);
    keep | (1 << 63) | (INNER_NC << 59) | (pa & 0x0000_ffff_ffff_f000) | (pages - 1)
}

/// The ITS, driven with a command queue in caller-provided memory.
pub struct Its {
    regs: &'static ItsRegs,
    /// Kernel address and size of the command queue.
    queue_va: usize,
    queue_len: usize,
    info: ItsInfo,
}

/// Which tables `GITS_BASER` asks for: (index, type, entry size).
pub fn tables(regs: &ItsRegs) -> impl Iterator<Item = (usize, u64, u64)> + '_ {
    (0..8).filter_map(move |i| {
        let v = regs.baser[i].get();
        let ty = (v >> 56) & 7;
        let entry = ((v >> 48) & 0x1f) + 1;
        (ty == BASER_DEVICES || ty == BASER_COLLECTIONS).then_some((i, ty, entry))
    })
}

impl Its {
    /// Take over the ITS at `regs_va`: disable it, give it the command queue
    /// (`queue_pa`/`queue_va`, `queue_len` bytes, a multiple of 4 KiB) and the tables
    /// `table(type, entry_size)` returns (physical address, pages) for its device and
    /// collection tables, then enable it.
    ///
    /// # Safety
    /// `regs_va` must map the ITS control frame as device memory for the program's life;
    /// the queue and every table must be zeroed, physically contiguous, mapped
    /// non-cacheable at the given addresses and given to nothing else, ever.
    pub unsafe fn new(
        regs_va: usize,
        queue_va: usize,
        queue_pa: u64,
        queue_len: usize,
        mut table: impl FnMut(u64, u64) -> Option<(u64, u64)>,
    ) -> Result<Self, &'static str> {
        // SAFETY: per the caller's contract.
        let regs = unsafe { &*(regs_va as *const ItsRegs) };
        regs.ctlr.set(0);
        for _ in 0..1_000_000 {
            if regs.ctlr.get() & (1 << 31) != 0 {
                break; // Quiescent
            }
            core::hint::spin_loop();
        }
        let info = decode_typer(regs.typer.get());
        let mut wanted = [(0usize, 0u64, 0u64); 8];
        let mut n = 0;
        for t in tables(regs) {
            wanted[n] = t;
            n += 1;
        }
        for &(i, ty, entry) in &wanted[..n] {
            let (pa, pages) = table(ty, entry).ok_or("no memory for an ITS table")?;
            let old = regs.baser[i].get();
            regs.baser[i].set(baser_value(old, pa, pages));
            if regs.baser[i].get() & (1 << 63) == 0 {
                return Err("the ITS refused a table");
            }
        }
        let pages = (queue_len / 4096).clamp(1, 256) as u64;
        regs.cbaser
            .set((1 << 63) | (INNER_NC << 59) | (queue_pa & 0x000f_ffff_ffff_f000) | (pages - 1));
        regs.cwriter.set(0);
        regs.ctlr.set(1);
        Ok(Self {
            regs,
            queue_va,
            queue_len: pages as usize * 4096,
            info,
        })
    }

    /// What `GITS_TYPER` said.
    pub fn info(&self) -> ItsInfo {
        self.info
    }

    /// Queue `cmds` and wait (bounded) until the ITS has consumed them.
    pub fn run(&mut self, cmds: &[Command]) -> Result<(), &'static str> {
        for c in cmds {
            let at = self.regs.cwriter.get() as usize & 0xf_ffe0;
            let next = (at + 32) % self.queue_len;
            if next == self.regs.creadr.get() as usize & 0xf_ffe0 {
                return Err("ITS command queue full");
            }
            for (k, w) in c.iter().enumerate() {
                // SAFETY: `at + 8k` is inside the queue this value owns (at < len,
                // 32-byte slots), mapped non-cacheable: the ITS sees the write.
                unsafe { core::ptr::write_volatile((self.queue_va + at + 8 * k) as *mut u64, *w) };
            }
            self.regs.cwriter.set(next as u64);
        }
        for _ in 0..10_000_000 {
            let r = self.regs.creadr.get();
            if r & 1 != 0 {
                return Err("ITS command queue stalled on an error");
            }
            if r & 0xf_ffe0 == self.regs.cwriter.get() & 0xf_ffe0 {
                return Ok(());
            }
            core::hint::spin_loop();
        }
        Err("ITS did not process its commands")
    }
}

/// Redistributor registers for LPIs (RD_base frame offsets).
const GICR_CTLR: usize = 0x00;
const GICR_TYPER: usize = 0x08;
const GICR_PROPBASER: usize = 0x70;
const GICR_PENDBASER: usize = 0x78;

/// Give the redistributor at `rd_va` its LPI configuration table (`prop_pa`,
/// [`PROP_TABLE_BYTES`]) and pending table (`pend_pa`, 64 KiB aligned, zeroed) and
/// enable LPIs. Returns its processor number (the `MAPC` target when
/// `GITS_TYPER.PTA` is 0).
///
/// # Safety
/// `rd_va` must map this CPU's redistributor RD_base frame (device memory); both tables
/// must be zeroed, mapped non-cacheable and given to nothing else, ever.
pub unsafe fn enable_lpis(rd_va: usize, prop_pa: u64, pend_pa: u64) -> Result<u64, &'static str> {
    let rd = |off: usize| rd_va + off;
    // SAFETY: RD_base registers of a mapped redistributor frame (caller's contract).
    unsafe {
        let ctlr = core::ptr::read_volatile(rd(GICR_CTLR) as *const u32);
        if ctlr & 1 != 0 {
            return Err("LPIs already enabled (by firmware): their tables are unknown");
        }
        let typer = core::ptr::read_volatile(rd(GICR_TYPER) as *const u64);
        if typer & 1 == 0 {
            return Err("the redistributor does not support LPIs");
        }
        let prop = (prop_pa & 0x000f_ffff_ffff_f000) | (INNER_NC << 7) | u64::from(ID_BITS - 1);
        core::ptr::write_volatile(rd(GICR_PROPBASER) as *mut u64, prop);
        let pend = (pend_pa & 0x000f_ffff_ffff_0000) | (INNER_NC << 7);
        core::ptr::write_volatile(rd(GICR_PENDBASER) as *mut u64, pend);
        core::ptr::write_volatile(rd(GICR_CTLR) as *mut u32, ctlr | 1);
        Ok((typer >> 8) & 0xffff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_encodings() {
        // IHI 0069H 5.3: command number in DW0[7:0], fields as laid out there.
        assert_eq!(
            mapd(0x10, 0x4567_8900, 1),
            [0x10_0000_0008, 0, (1 << 63) | 0x4567_8900, 0]
        );
        assert_eq!(mapd(1, 0x1ff, 5)[1], 4, "Size is bits - 1");
        assert_eq!(
            mapd(1, 0x1ff, 5)[2],
            (1 << 63) | 0x100,
            "ITT address bits 51:8"
        );
        assert_eq!(mapc(3, 7), [0x09, 0, (1 << 63) | (7 << 16) | 3, 0]);
        assert_eq!(
            mapti(2, 5, 8192, 0),
            [0x2_0000_000a, 5 | (8192 << 32), 0, 0]
        );
        assert_eq!(invall(1), [0x0d, 0, 1, 0]);
        assert_eq!(sync(7), [0x05, 0, 7 << 16, 0]);
    }

    #[test]
    fn typer_and_baser() {
        // QEMU 10: ITT entry 12 bytes (0xb), 16 event bits, 16 device bits, PTA = 0.
        let t = (0xb << 4) | (15 << 8) | (15 << 13);
        assert_eq!(
            decode_typer(t),
            ItsInfo {
                itt_entry: 12,
                dev_bits: 16,
                event_bits: 16,
                pta: false
            }
        );
        assert!(decode_typer(1 << 19).pta);
        let old = (1 << 56) | (7 << 48) | 0x123; // devices, 8-byte entries, junk
        let v = baser_value(old, 0x4000_3000, 2);
        assert_eq!(v >> 56 & 7, 1);
        assert_eq!(v >> 48 & 0x1f, 7);
        assert_eq!(v & 0xff, 1, "pages - 1");
        assert_eq!(v & 0x0000_ffff_ffff_f000, 0x4000_3000);
        assert_ne!(v & (1 << 63), 0);
        assert_eq!(PROP_TABLE_BYTES, 8192);
        assert_eq!(PEND_TABLE_BYTES, 2048);
    }
}
