//! Identification of virtio-mmio transport slots (virtio 1.2, section 4.2.2).
//!
//! QEMU `virt` always has 32 slots; most are empty (device ID 0). The kernel probes
//! each slot listed in the FDT and hands populated ones to its virtio drivers.

/// `"virt"` in little-endian: the value of the MagicValue register.
pub const MAGIC: u32 = 0x7472_6976;

const MAGIC_VALUE: usize = 0x000;
const VERSION: usize = 0x004;
const DEVICE_ID: usize = 0x008;
const VENDOR_ID: usize = 0x00c;

/// What a populated slot reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VirtioMmioId {
    /// Transport version: 1 = legacy, 2 = virtio 1.x.
    pub version: u32,
    /// Device type (see [`device_name`]).
    pub device_id: u32,
    /// Vendor ID (`0x554d4551`, "QEMU", on QEMU).
    pub vendor_id: u32,
}

/// Reads a slot's identification registers. Returns `None` if the magic value is
/// wrong or the slot is empty (device ID 0).
///
/// # Safety
///
/// `base_va` must be the 4-byte-aligned virtual address of a mapped virtio-mmio
/// register block (at least 0x10 bytes, device memory). Reading these registers has
/// no side effects.
pub unsafe fn probe(base_va: usize) -> Option<VirtioMmioId> {
    let read = |offset: usize| {
        // SAFETY: the caller guarantees the first 0x10 bytes at `base_va` are mapped,
        // aligned device registers; `offset` is one of the four ID registers.
        unsafe { core::ptr::read_volatile((base_va + offset) as *const u32) }
    };
    if read(MAGIC_VALUE) != MAGIC {
        return None;
    }
    let id = VirtioMmioId {
        version: read(VERSION),
        device_id: read(DEVICE_ID),
        vendor_id: read(VENDOR_ID),
    };
    (id.device_id != 0).then_some(id)
}

/// Human-readable name of a virtio device ID (virtio 1.2, section 5).
pub fn device_name(device_id: u32) -> &'static str {
    match device_id {
        0 => "none",
        1 => "network",
        2 => "block",
        3 => "console",
        4 => "entropy",
        5 => "memory balloon (traditional)",
        6 => "ioMemory",
        7 => "rpmsg",
        8 => "SCSI host",
        9 => "9P transport",
        10 => "mac80211 wlan",
        11 => "rproc serial",
        12 => "virtio CAIF",
        13 => "memory balloon",
        16 => "GPU",
        17 => "timer/clock",
        18 => "input",
        19 => "socket",
        20 => "crypto",
        21 => "signal distribution",
        22 => "pstore",
        23 => "IOMMU",
        24 => "memory",
        25 => "sound",
        26 => "file system",
        27 => "pmem",
        28 => "RPMB",
        29 => "mac80211 hwsim",
        30 => "video encoder",
        31 => "video decoder",
        32 => "SCMI",
        33 => "nitro secure module",
        34 => "I2C adapter",
        35 => "watchdog",
        36 => "CAN",
        38 => "parameter server",
        39 => "audio policy",
        40 => "Bluetooth",
        41 => "GPIO",
        42 => "RDMA",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake_mmio::FakeMmio;

    #[test]
    fn probe_reads_id_registers() {
        let mem = FakeMmio::new(0x200);
        // SAFETY: `mem` is a mapped, aligned 0x200-byte buffer.
        assert_eq!(unsafe { probe(mem.base()) }, None, "no magic");
        mem.write32(0, MAGIC);
        mem.write32(4, 2);
        mem.write32(0xc, 0x554d_4551);
        // SAFETY: `mem` is a mapped, aligned 0x200-byte buffer.
        assert_eq!(unsafe { probe(mem.base()) }, None, "empty slot");
        mem.write32(8, 16);
        assert_eq!(
            // SAFETY: `mem` is a mapped, aligned 0x200-byte buffer.
            unsafe { probe(mem.base()) },
            Some(VirtioMmioId {
                version: 2,
                device_id: 16,
                vendor_id: 0x554d_4551
            })
        );
        mem.write32(0, 0x7472_6975);
        // SAFETY: `mem` is a mapped, aligned 0x200-byte buffer.
        assert_eq!(unsafe { probe(mem.base()) }, None, "bad magic");
    }

    #[test]
    fn names() {
        assert_eq!(device_name(1), "network");
        assert_eq!(device_name(2), "block");
        assert_eq!(device_name(16), "GPU");
        assert_eq!(device_name(18), "input");
        assert_eq!(device_name(14), "unknown");
        assert_eq!(device_name(u32::MAX), "unknown");
    }
}
