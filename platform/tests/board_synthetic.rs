//! `BoardInfo::parse` on device trees built with `vm-fdt`: optional features,
//! console selection, reserved memory and ordering.

mod common;

use common::{uart_node, Spec, GIC_ROLE};
use platform::board::{BoardError, BoardInfo, GicInfo, Irq, PsciMethod, Region, Trigger};
use vm_fdt::FdtWriter;

#[test]
fn minimal_tree_parses() {
    let dtb = Spec::default().build();
    let info = BoardInfo::parse(&dtb).unwrap();
    assert_eq!(info.model, "test,virt");
    assert_eq!(
        info.memory.as_slice(),
        &[Region {
            base: 0x4000_0000,
            size: 0x800_0000
        }]
    );
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
    assert_eq!(info.uart.reg.base, 0x0900_0000);
    assert_eq!(
        info.uart.irq,
        Some(Irq {
            intid: 33,
            trigger: Trigger::Level
        })
    );
    assert_eq!(info.timer.virt_irq.intid, 27);
    assert_eq!(info.timer.phys_irq.intid, 30);
    assert_eq!(info.psci, PsciMethod::Hvc);
    // Written in descending order, returned sorted by address.
    let bases: Vec<_> = info
        .virtio_mmio
        .iter()
        .map(|s| (s.reg.base, s.irq.intid))
        .collect();
    assert_eq!(bases, [(0x0a00_0000, 48), (0x0a00_0200, 49)]);
    assert!(info
        .virtio_mmio
        .iter()
        .all(|s| !s.dma_coherent && s.irq.trigger == Trigger::Edge));
    assert_eq!(info.bootargs, "", "no /chosen");
    assert_eq!(info.initrd, None);
    assert!(info.reserved.is_empty());
    assert_eq!(info.dtb_size, dtb.len());
}

#[test]
fn several_memory_regions_are_sorted() {
    let spec = Spec {
        memory: Some(vec![1, 0, 0, 0x1000, 0, 0x4000_0000, 0, 0x2000]),
        ..Spec::default()
    };
    let dtb = spec.build();
    let info = BoardInfo::parse(&dtb).unwrap();
    assert_eq!(
        info.memory.as_slice(),
        &[
            Region {
                base: 0x4000_0000,
                size: 0x2000
            },
            Region {
                base: 0x1_0000_0000,
                size: 0x1000
            }
        ]
    );
}

#[test]
fn gic_v2_compatibles() {
    for compat in ["arm,cortex-a15-gic", "arm,gic-400"] {
        let dtb = Spec {
            gic: Some(compat),
            ..Spec::default()
        }
        .build();
        let info = BoardInfo::parse(&dtb).unwrap();
        assert_eq!(
            info.gic,
            GicInfo::V2 {
                dist: Region {
                    base: 0x0800_0000,
                    size: 0x1_0000
                },
                cpu: Region {
                    base: 0x080a_0000,
                    size: 0xf6_0000
                },
            },
            "{compat}"
        );
    }
    let spec = Spec {
        gic: Some("arm,gic-v5"),
        ..Spec::default()
    };
    assert_eq!(spec.parse_err(), BoardError::MissingNode(GIC_ROLE));
}

#[test]
fn stdout_path_selects_the_console() {
    fn second_uart(w: &mut FdtWriter) -> vm_fdt::FdtWriterResult<()> {
        uart_node(w, 0x0904_0000, 8)?;
        let n = w.begin_node("aliases")?;
        w.property_string("serial1", "/pl011@9040000")?;
        w.end_node(n)
    }
    let by_path = Spec {
        extra: Some(second_uart),
        chosen: Some(|w| w.property_string("stdout-path", "/pl011@9040000:115200n8")),
        ..Spec::default()
    };
    let by_alias = Spec {
        chosen: Some(|w| w.property_string("stdout-path", "serial1")),
        ..by_path.clone()
    };
    let dangling = Spec {
        chosen: Some(|w| w.property_string("stdout-path", "/nope@1")),
        ..by_path.clone()
    };
    let not_uart = Spec {
        chosen: Some(|w| w.property_string("stdout-path", "/psci")),
        ..by_path.clone()
    };
    for (spec, base, intid) in [
        (by_path, 0x0904_0000, 40),
        (by_alias, 0x0904_0000, 40),
        (dangling, 0x0900_0000, 33),
        (not_uart, 0x0900_0000, 33),
    ] {
        let dtb = spec.build();
        let info = BoardInfo::parse(&dtb).unwrap();
        assert_eq!(
            (info.uart.reg.base, info.uart.irq.unwrap().intid),
            (base, intid)
        );
    }
}

#[test]
fn disabled_nodes_are_ignored() {
    fn disabled_uart(w: &mut FdtWriter) -> vm_fdt::FdtWriterResult<()> {
        let n = w.begin_node("pl011@9040000")?;
        w.property_string("compatible", "arm,pl011")?;
        w.property_array_u32("reg", &[0, 0x0904_0000, 0, 0x1000])?;
        w.property_string("status", "disabled")?;
        w.end_node(n)
    }
    let spec = Spec {
        uart: false,
        extra: Some(disabled_uart),
        ..Spec::default()
    };
    assert_eq!(spec.parse_err(), BoardError::MissingNode("arm,pl011 UART"));
    let dtb = Spec {
        extra: Some(disabled_uart),
        ..Spec::default()
    }
    .build();
    assert_eq!(BoardInfo::parse(&dtb).unwrap().uart.reg.base, 0x0900_0000);
}

#[test]
fn chosen_bootargs_and_initrd() {
    let spec = Spec {
        chosen: Some(|w| {
            w.property_string("bootargs", "init=/sbin/init quiet")?;
            w.property_u64("linux,initrd-start", 0x1_4800_0000)?;
            w.property_u64("linux,initrd-end", 0x1_4810_0000)
        }),
        ..Spec::default()
    };
    let dtb = spec.build();
    let info = BoardInfo::parse(&dtb).unwrap();
    assert_eq!(info.bootargs, "init=/sbin/init quiet");
    assert!(info.boot_args().has_flag("quiet"));
    assert_eq!(
        info.initrd,
        Some(Region {
            base: 0x1_4800_0000,
            size: 0x10_0000
        })
    );

    let backwards = Spec {
        chosen: Some(|w| {
            w.property_u32("linux,initrd-start", 0x4800_0000)?;
            w.property_u32("linux,initrd-end", 0x4700_0000)
        }),
        ..Spec::default()
    };
    assert_eq!(
        backwards.parse_err(),
        BoardError::Invalid {
            node: "/chosen",
            what: "linux,initrd-end is below linux,initrd-start"
        }
    );
    let half = Spec {
        chosen: Some(|w| w.property_u32("linux,initrd-start", 0x4800_0000)),
        ..Spec::default()
    };
    assert_eq!(
        half.parse_err(),
        BoardError::MissingProperty {
            node: "/chosen",
            property: "linux,initrd-end"
        }
    );
    let odd = Spec {
        chosen: Some(|w| {
            w.property_array_u32("linux,initrd-start", &[0, 0, 1])?;
            w.property_u32("linux,initrd-end", 0x4800_0000)
        }),
        ..Spec::default()
    };
    assert_eq!(
        odd.parse_err(),
        BoardError::Invalid {
            node: "/chosen",
            what: "linux,initrd-start/-end is neither 1 nor 2 cells"
        }
    );
}

#[test]
fn reserved_memory_sources() {
    fn reserved_memory(w: &mut FdtWriter) -> vm_fdt::FdtWriterResult<()> {
        let rm = w.begin_node("reserved-memory")?;
        w.property_u32("#address-cells", 2)?;
        w.property_u32("#size-cells", 2)?;
        w.property_null("ranges")?;
        let fixed = w.begin_node("fw@47000000")?;
        w.property_array_u64("reg", &[0x4700_0000, 0x10_0000])?;
        w.property_null("no-map")?;
        w.end_node(fixed)?;
        let dynamic = w.begin_node("pool")?;
        w.property_u64("size", 0x40_0000)?;
        w.end_node(dynamic)?;
        w.end_node(rm)
    }
    let spec = Spec {
        extra: Some(reserved_memory),
        reserve: vec![(0x4400_0000, 0x1000)],
        ..Spec::default()
    };
    let dtb = spec.build();
    let info = BoardInfo::parse(&dtb).unwrap();
    assert_eq!(
        info.reserved.as_slice(),
        &[
            Region {
                base: 0x4700_0000,
                size: 0x10_0000
            },
            Region {
                base: 0x4400_0000,
                size: 0x1000
            }
        ]
    );
}
