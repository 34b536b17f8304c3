use super::*;
use crate::phys::VecMem;

const MAIR: u64 = 0x0004_44ff; // the kernel's: 0 WB, 1 NC, 2 Device-nGnRE
const TCR: u64 = 16 | (16 << 16) | (2 << 30); // 48-bit halves, 4 KiB granules

fn regime() -> Regime {
    Regime {
        sctlr: 0b101,
        ttbr0: 0x1000 | (5 << 48), // ASID 5 in the top bits
        ttbr1: 0x5000,
        tcr: TCR,
        mair: MAIR,
    }
}

/// Tables in 64 KiB of memory at 0: TTBR0 L0 0x1000 -> L1 0x2000 -> L2 0x3000 -> L3
/// 0x4000; TTBR1 L0 0x5000 -> L1 0x6000 (a 1 GiB block).
fn tables() -> VecMem {
    let m = VecMem::new(0, 0x1_0000);
    m.write_u64(0x1000, 0x2000 | 3);
    m.write_u64(0x2000, 0x3000 | 3);
    m.write_u64(0x3000 + 2 * 8, 0x4000 | 3); // VA 0x40_0000: L2 index 2
    m.write_u64(0x4000 + 8, 0x9000 | 3 | (1 << 2) | (1 << 10)); // page 1 -> 0x9000, NC
    m.write_u64(0x3000 + 3 * 8, 0x80_0000 | 1 | (1 << 10)); // 2 MiB block at 0x60_0000, WB
    m.write_u64(0x5000 + 511 * 8, 0x6000 | 3); // VA 0xffff_ff80_0000_0000
    m.write_u64(0x6000, 0x4000_0000 | 1 | (2 << 2)); // 1 GiB block, Device
    m
}

#[test]
fn mair_attributes() {
    assert_eq!(mair_type(0xff), MemType::WriteBack);
    assert_eq!(mair_type(0x44), MemType::NonCacheable);
    assert_eq!(mair_type(0x04), MemType::Device);
    assert_eq!(mair_type(0x00), MemType::Device);
    assert_eq!(mair_type(0xbb), MemType::WriteThrough);
    assert_eq!(mair_type(0x4f), MemType::WriteBack, "inner WB decides");
}

#[test]
fn walks_pages_blocks_and_both_halves() {
    let m = tables();
    let r = regime();
    let t = r.translate(0x40_1234, &m).unwrap();
    assert_eq!(
        t,
        Translation {
            pa: 0x9234,
            mem: MemType::NonCacheable
        }
    );
    let t = r.translate(0x61_2345, &m).unwrap();
    assert_eq!(
        t,
        Translation {
            pa: 0x81_2345,
            mem: MemType::WriteBack
        }
    );
    let t = r.translate(0xffff_ff80_0012_3456, &m).unwrap();
    assert_eq!(
        t,
        Translation {
            pa: 0x4012_3456,
            mem: MemType::Device
        }
    );
    assert_eq!(
        r.translate(0x40_0000, &m),
        Err(WalkError::Fault),
        "page 0 unmapped"
    );
    assert_eq!(
        r.translate(0x1_0000_0000_0000, &m),
        Err(WalkError::OutOfRange)
    );
    assert_eq!(
        r.translate(0xff00_0000_0000_0000, &m),
        Err(WalkError::OutOfRange)
    );
    assert_eq!(
        r.translate(0x8000_0000_0000, &m),
        Err(WalkError::Fault),
        "L0 entry 256 empty"
    );
}

#[test]
fn mmu_off_and_caches_off() {
    let m = tables();
    let mut r = regime();
    r.sctlr = 0;
    let t = r.translate(0x4000_1000, &m).unwrap();
    assert_eq!(
        t,
        Translation {
            pa: 0x4000_1000,
            mem: MemType::Device
        }
    );
    r.sctlr = 1; // M without C
    assert_eq!(
        r.translate(0x61_0000, &m).unwrap().mem,
        MemType::NonCacheable
    );
    r.tcr = TCR | (1 << 14); // 64 KiB granule for TTBR0
    assert_eq!(r.translate(0x61_0000, &m), Err(WalkError::Unsupported));
}

#[test]
fn tlb_caches_per_root_and_flushes() {
    let m = tables();
    let r = regime();
    let mut tlb = Tlb::new();
    assert_eq!(tlb.translate(&r, 0x40_1000, &m).unwrap().pa, 0x9000);
    // Change the table: the cached entry still answers until flushed.
    m.write_u64(0x4000 + 8, 0xa000 | 3 | (1 << 10));
    assert_eq!(tlb.translate(&r, 0x40_1008, &m).unwrap().pa, 0x9008);
    let mut other = r;
    other.ttbr0 = 0x1000 | (6 << 48); // another ASID: another key
    assert_eq!(tlb.translate(&other, 0x40_1000, &m).unwrap().pa, 0xa000);
    tlb.forget(&r, 0x40_1000);
    assert_eq!(tlb.translate(&r, 0x40_1000, &m).unwrap().pa, 0xa000);
    m.write_u64(0x4000 + 8, 0xb000 | 3 | (1 << 10));
    tlb.flush();
    assert_eq!(tlb.translate(&r, 0x40_1000, &m).unwrap().pa, 0xb000);
}
