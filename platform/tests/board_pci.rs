//! The PCIe host bridge from device trees dumped from QEMU 10.0 `virt`
//! (`-M virt,gic-version=N,dumpdtb=... -cpu cortex-a72 -m 1G -device virtio-gpu-pci`,
//! GICv3 also with `-device virtio-blk-pci`; packed with `dtc -I dtb -O dtb`), plus
//! edits that break it.

use platform::board::{
    BoardError, BoardInfo, Irq, MsiController, PciSpace, PciWindow, Region, Trigger,
};

const GICV3: &[u8] = include_bytes!("data/virt-gicv3-pci.dtb");
const GICV2: &[u8] = include_bytes!("data/virt-gicv2-pci.dtb");

fn spi(n: u32) -> Irq {
    Irq {
        intid: 32 + n,
        trigger: Trigger::Level,
    }
}

#[test]
fn qemu_host_bridge() {
    for (dtb, its) in [
        (GICV3, MsiController::GicV3Its),
        (GICV2, MsiController::GicV2m),
    ] {
        let info = BoardInfo::parse(dtb).unwrap();
        assert_eq!(info.pci.len(), 1);
        let h = &info.pci[0];
        assert_eq!(
            h.ecam,
            Region {
                base: 0x40_1000_0000,
                size: 0x1000_0000
            }
        );
        assert_eq!((h.bus_start, h.bus_end, h.domain), (0, 255, 0));
        assert!(h.dma_coherent);
        assert_eq!(
            h.windows.as_slice(),
            &[
                PciWindow {
                    space: PciSpace::Io,
                    prefetchable: false,
                    pci_base: 0,
                    cpu_base: 0x3eff_0000,
                    size: 0x1_0000
                },
                PciWindow {
                    space: PciSpace::Mem32,
                    prefetchable: false,
                    pci_base: 0x1000_0000,
                    cpu_base: 0x1000_0000,
                    size: 0x2eff_0000
                },
                PciWindow {
                    space: PciSpace::Mem64,
                    prefetchable: false,
                    pci_base: 0x80_0000_0000,
                    cpu_base: 0x80_0000_0000,
                    size: 0x80_0000_0000
                },
            ]
        );
        assert_eq!(h.window(PciSpace::Mem32).unwrap().cpu_base, 0x1000_0000);
        let msi = h.msi.expect("msi");
        assert_eq!(msi.controller, its);
        // GICv3: msi-map <0 &its 0 0x10000>; GICv2: msi-parent <&v2m>.
        assert_eq!((msi.rid_base, msi.msi_base, msi.length), (0, 0, 0x1_0000));
        let (base, size) = match its {
            MsiController::GicV3Its => (0x0808_0000, 0x2_0000),
            _ => (0x0802_0000, 0x1000),
        };
        assert_eq!(msi.reg, Some(Region { base, size }));
        assert_eq!(msi.device_id(0x0208), Some(0x0208));
        assert_eq!(msi.device_id(0x1_0000), None);
        // QEMU's swizzle: device d, pin p (1..4) -> SPI 3 + (d + p - 1) % 4.
        assert_eq!(h.intx.len(), 16);
        for d in 0..8u8 {
            for p in 1..=4u8 {
                let want = spi(3 + (u32::from(d) + u32::from(p) - 1) % 4);
                assert_eq!(h.route_intx(0, d, 0, p), Some(want), "dev {d} pin {p}");
                assert_eq!(h.route_intx(0, d, 5, p), Some(want), "function ignored");
            }
            assert_eq!(h.route_intx(0, d, 0, 0), None, "no pin");
            assert_eq!(h.route_intx(0, d, 0, 5), None);
        }
    }
}

/// Replace the first occurrence of `from` (a property value) with `to`, same length.
fn patch(dtb: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut v = dtb.to_vec();
    let at = v
        .windows(from.len())
        .position(|w| w == from)
        .expect("pattern in DTB");
    v[at..at + to.len()].copy_from_slice(to);
    v
}

fn be(cells: &[u32]) -> Vec<u8> {
    cells.iter().flat_map(|c| c.to_be_bytes()).collect()
}

#[test]
fn bus_range_limited_by_ecam_size() {
    // reg = <0x40 0x10000000 0x00 0x10000000> -> 4 MiB of ECAM: buses 0..=3.
    let dtb = patch(
        GICV3,
        &be(&[0x40, 0x1000_0000, 0, 0x1000_0000]),
        &be(&[0x40, 0x1000_0000, 0, 0x40_0000]),
    );
    let info = BoardInfo::parse(&dtb).unwrap();
    assert_eq!((info.pci[0].bus_start, info.pci[0].bus_end), (0, 3));
}

#[test]
fn broken_hosts_are_named_errors() {
    let role = "pci-host-ecam-generic PCIe host";
    let cases: [(&[u32], &[u32], &str); 3] = [
        // bus-range <0 0xff> -> <0x10 0x0f>
        (&[0, 0xff], &[0x10, 0x0f], "bus-range is not a range"),
        // the GIC's phandle in the first interrupt-map entry -> one that matches nothing
        (
            &[0, 0, 0, 1, 0x8002],
            &[0, 0, 0, 1, 0x7777],
            "interrupt-map names a phandle that matches no node",
        ),
        // an SPI number out of range in the first interrupt-map entry
        (
            &[0x8002, 0, 0, 0, 3, 4],
            &[0x8002, 0, 0, 0, 5000, 4],
            "SPI number in interrupts is out of range",
        ),
    ];
    for (from, to, what) in cases {
        let dtb = patch(GICV3, &be(from), &be(to));
        match BoardInfo::parse(&dtb) {
            Err(BoardError::Invalid { node, what: got }) => {
                assert_eq!(node, role);
                assert!(got.contains(what), "{got}");
            }
            other => panic!("{what}: {other:?}"),
        }
    }
}

#[test]
fn old_dtbs_without_pci_devices_still_list_the_host() {
    let info = BoardInfo::parse(include_bytes!("data/virt-gicv3.dtb")).unwrap();
    assert_eq!(info.pci.len(), 1);
}
