//! `BoardInfo::parse` on device trees dumped from QEMU 7.2 `virt`
//! (`-cpu cortex-a72 -m 1G -device virtio-gpu-device -initrd <13 bytes> -append console=pl011`).

use platform::board::{
    fdt_total_size, BoardError, BoardInfo, GicInfo, Irq, PsciMethod, Region, Trigger,
};

const GICV2: &[u8] = include_bytes!("data/virt-gicv2.dtb");
const GICV3: &[u8] = include_bytes!("data/virt-gicv3.dtb");
const GICV3_EL2: &[u8] = include_bytes!("data/virt-gicv3-el2.dtb");

fn check_common(info: &BoardInfo<'_>, dtb: &[u8]) {
    assert_eq!(info.model, "linux,dummy-virt");
    assert_eq!(
        info.memory.as_slice(),
        &[Region {
            base: 0x4000_0000,
            size: 0x4000_0000
        }]
    );
    assert!(info.reserved.is_empty());
    assert_eq!(
        info.uart.reg,
        Region {
            base: 0x0900_0000,
            size: 0x1000
        }
    );
    assert_eq!(
        info.uart.irq,
        Some(Irq {
            intid: 33,
            trigger: Trigger::Level
        })
    );
    assert_eq!(
        info.timer.virt_irq,
        Irq {
            intid: 27,
            trigger: Trigger::Level
        }
    );
    assert_eq!(
        info.timer.phys_irq,
        Irq {
            intid: 30,
            trigger: Trigger::Level
        }
    );
    assert_eq!(info.virtio_mmio.len(), 32);
    for (i, slot) in info.virtio_mmio.iter().enumerate() {
        let i = i as u64;
        assert_eq!(
            slot.reg,
            Region {
                base: 0x0a00_0000 + i * 0x200,
                size: 0x200
            }
        );
        assert_eq!(
            slot.irq,
            Irq {
                intid: 48 + i as u32,
                trigger: Trigger::Edge
            }
        );
        assert!(slot.dma_coherent);
    }
    assert_eq!(info.bootargs, "console=pl011");
    assert_eq!(info.boot_args().get("console"), Some("pl011"));
    assert_eq!(
        info.initrd,
        Some(Region {
            base: 0x4800_0000,
            size: 13
        })
    );
    assert_eq!(info.initrd.unwrap().end(), 0x4800_000d);
    assert_eq!(info.dtb_size, dtb.len());
    assert_eq!(fdt_total_size(dtb), Ok(dtb.len()));
}

#[test]
fn gicv2() {
    let info = BoardInfo::parse(GICV2).unwrap();
    check_common(&info, GICV2);
    assert_eq!(
        info.gic,
        GicInfo::V2 {
            dist: Region {
                base: 0x0800_0000,
                size: 0x1_0000
            },
            cpu: Region {
                base: 0x0801_0000,
                size: 0x1_0000
            },
        }
    );
    assert_eq!(info.psci, PsciMethod::Hvc);
}

#[test]
fn gicv3() {
    let info = BoardInfo::parse(GICV3).unwrap();
    check_common(&info, GICV3);
    assert_eq!(
        info.gic,
        GicInfo::V3 {
            dist: Region {
                base: 0x0800_0000,
                size: 0x1_0000
            },
            redist: Region {
                base: 0x080a_0000,
                size: 0xf6_0000
            },
        }
    );
    assert_eq!(info.psci, PsciMethod::Hvc);
}

#[test]
fn gicv3_virtualization_uses_smc() {
    let info = BoardInfo::parse(GICV3_EL2).unwrap();
    check_common(&info, GICV3_EL2);
    assert!(matches!(
        info.gic,
        GicInfo::V3 {
            redist: Region {
                base: 0x080a_0000,
                ..
            },
            ..
        }
    ));
    assert_eq!(info.psci, PsciMethod::Smc);
}

#[test]
fn trailing_bytes_after_the_blob_are_ignored() {
    let mut padded = GICV3.to_vec();
    padded.extend_from_slice(&[0xff; 100]);
    let info = BoardInfo::parse(&padded).unwrap();
    assert_eq!(info.dtb_size, GICV3.len());
}

#[test]
fn header_checks() {
    assert_eq!(
        fdt_total_size(&GICV2[..39]),
        Err(BoardError::Truncated {
            needed: 40,
            got: 39
        })
    );
    assert_eq!(fdt_total_size(&GICV2[..40]), Ok(GICV2.len()));
    let mut bad = GICV2.to_vec();
    bad[0] = 0;
    assert_eq!(fdt_total_size(&bad), Err(BoardError::BadMagic));
    assert_eq!(BoardInfo::parse(&bad), Err(BoardError::BadMagic));
    let n = GICV2.len();
    assert_eq!(
        BoardInfo::parse(&GICV2[..n - 1]),
        Err(BoardError::Truncated {
            needed: n,
            got: n - 1
        })
    );
}
