//! Exact descriptor encodings and attribute round trips.

use super::*;

#[test]
fn mair_value() {
    assert_eq!(MAIR_EL1_VALUE, 0x0000_0000_0004_44ff);
    for m in MemAttr::ALL {
        assert_eq!(MemAttr::from_index(m.index()), Some(m));
    }
    assert_eq!(MemAttr::from_index(3), None);
}

#[test]
fn raw_descriptor_bits() {
    let cases = [
        // Kernel RW Normal page: AF, SH=ISH, AP=00, PXN+UXN, AttrIndx 0, global.
        (KRW, 0x4000_1000, 0x0060_0000_4000_1703),
        // User RX Normal page: AP=11, nG, PXN only.
        (
            PageAttrs::user(Access::UserReadExec, MemAttr::Normal),
            0x5000_0000,
            0x0020_0000_5000_0fc3,
        ),
        // Kernel RX with software bits 0b1010: AP=10, UXN only, bits 55..58.
        (
            PageAttrs::kernel(Access::KernelReadExec, MemAttr::Normal).with_sw(0b1010),
            0x6000_0000,
            0x0540_0000_6000_0783,
        ),
        // User RO non-cacheable: AttrIndx 1.
        (
            PageAttrs::user(Access::UserRead, MemAttr::NormalNonCacheable),
            0x7000_0000,
            0x0060_0000_7000_0fc7,
        ),
        // Kernel RW device: AttrIndx 2, SH=OSH.
        (
            PageAttrs::kernel(Access::KernelReadWrite, MemAttr::Device),
            0x0900_0000,
            0x0060_0000_0900_060b,
        ),
        // User RW: AP=01.
        (
            PageAttrs::user(Access::UserReadWrite, MemAttr::Normal),
            0x1000,
            0x0060_0000_0000_1f43,
        ),
        // Kernel RO: AP=10.
        (
            PageAttrs::kernel(Access::KernelRead, MemAttr::Normal),
            0x2000,
            0x0060_0000_0000_2783,
        ),
    ];
    for (attrs, phys, want) in cases {
        let mut mem = TestMem::new();
        let mut pt = PageTable::new(&mut mem).unwrap();
        pt.map(&mut mem, va(0x40_0000), pa(phys), PAGE_SIZE, attrs, true)
            .unwrap();
        assert_eq!(
            pt.raw_descriptor(&mem, va(0x40_0000)),
            Some(want),
            "{attrs:?}: {want:#x}"
        );
        assert_eq!(descriptor::leaf_descriptor(pa(phys), attrs, 3), want);
        assert_eq!(descriptor_bits(attrs) | 0x3 | phys, want);
    }
}

#[test]
fn block_and_table_descriptors() {
    let mut mem = TestMem::new();
    let mut pt = PageTable::new(&mut mem).unwrap();
    let dev = PageAttrs::kernel(Access::KernelReadWrite, MemAttr::Device);
    pt.map(
        &mut mem,
        va(0x20_0000),
        pa(0x0900_0000),
        BLOCK_2M,
        dev,
        true,
    )
    .unwrap();
    // 2 MiB block: TYPE = 0.
    assert_eq!(
        pt.raw_descriptor(&mem, va(0x20_0000)),
        Some(0x0060_0000_0900_0609)
    );
    // Root entry 0 is a table descriptor: VALID | TYPE | address.
    let l0 = mem.table(pt.root())[0];
    assert_eq!(l0 & 0x3, 0x3);
    assert_eq!(l0 & !0xfff, TABLE_BASE + PAGE_SIZE);
    assert_eq!(l0 & 0xfff, 0x3);
    assert_eq!(l0 >> 48, 0);
}

#[test]
fn round_trip_every_access_and_memattr() {
    let mut mem = TestMem::new();
    let mut pt = PageTable::new(&mut mem).unwrap();
    let mut n = 0u64;
    for access in Access::ALL {
        for m in MemAttr::ALL {
            for global in [true, false] {
                let attrs = PageAttrs {
                    access,
                    mem: m,
                    global,
                    sw: (n % 16) as u8,
                };
                let v = va(0x1000_0000 + n * PAGE_SIZE);
                let p = pa(0x8000_0000 + n * 2 * PAGE_SIZE);
                pt.map(&mut mem, v, p, PAGE_SIZE, attrs, true).unwrap();
                let t = pt.translate(&mem, va(v.as_u64() + 0x123)).unwrap();
                assert_eq!(
                    t,
                    Translation {
                        pa: pa(p.as_u64() + 0x123),
                        attrs,
                        size: PAGE_SIZE
                    }
                );
                assert_eq!(
                    descriptor::decode_attrs(descriptor_bits(attrs)),
                    Some(attrs)
                );
                n += 1;
            }
        }
    }
    assert_eq!(mappings(&pt, &mem).len() as u64, n);
}

#[test]
fn permission_invariants() {
    use descriptor::{PageDescriptor, STAGE1_PAGE_DESCRIPTOR as D};
    for access in Access::ALL {
        let d = PageDescriptor::new(descriptor_bits(PageAttrs::kernel(access, MemAttr::Normal)));
        let ap = d.read(D::AP);
        let el0 = ap & 0b01 != 0;
        let writable = ap & 0b10 == 0;
        assert_eq!(el0, access.is_user(), "{access:?}");
        assert_eq!(writable, access.is_writable(), "{access:?}");
        let pxn = d.is_set(D::PXN);
        let uxn = d.is_set(D::UXN);
        // Never executable at EL1 if user, never at EL0 if kernel, never if writable.
        if access.is_user() {
            assert!(pxn);
        } else {
            assert!(uxn);
        }
        if writable {
            assert!(pxn && uxn);
        }
        assert_eq!(!(pxn && uxn), access.is_executable(), "{access:?}");
        assert!(d.is_set(D::AF));
    }
}

#[test]
fn decode_rejects_foreign_encodings() {
    let rw = descriptor_bits(KRW);
    // Writable and EL1-executable.
    let pxn = 1 << 53;
    assert_eq!(descriptor::decode_attrs(rw & !pxn), None);
    // Unknown AttrIndx 5.
    assert_eq!(descriptor::decode_attrs(rw | 5 << 2), None);
    // Kernel page executable at EL0.
    let uxn = 1 << 54;
    assert_eq!(descriptor::decode_attrs(rw & !uxn), None);
}

#[test]
fn sw_bits_are_masked() {
    assert_eq!(KRW.with_sw(0xff).sw, 0xf);
    assert_eq!(
        URO.with_global(true),
        PageAttrs::kernel(Access::UserRead, MemAttr::Normal)
    );
}

#[test]
fn error_display() {
    assert_eq!(
        MapError::AlreadyMapped { va: va(0x1000) }.to_string(),
        "0x0000000000001000 is already mapped"
    );
    assert!(MapError::OutOfTables.to_string().contains("out of memory"));
    assert!(MapError::NotMapped { va: va(0) }
        .to_string()
        .contains("not mapped"));
}
