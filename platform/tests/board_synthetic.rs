//! `BoardInfo::parse` on device trees built with `vm-fdt`: each missing or broken
//! piece must give its own specific error.

use platform::board::{BoardError, BoardInfo, GicInfo, Irq, PsciMethod, Region, Trigger};
use vm_fdt::{FdtReserveEntry, FdtWriter};

const GIC_PHANDLE: u32 = 0x8002;
const GIC_ROLE: &str = "interrupt controller (arm,gic-v3 / arm,cortex-a15-gic)";

type Hook = fn(&mut FdtWriter) -> vm_fdt::FdtWriterResult<()>;

/// A minimal QEMU-virt-like tree; every field can be broken by a test.
#[derive(Clone)]
struct Spec {
    memory: Option<Vec<u32>>,
    gic: Option<&'static str>,
    gic_interrupt_cells: u32,
    uart: bool,
    psci: Option<Option<&'static str>>,
    timer: Option<Vec<u32>>,
    virtio: Vec<(u64, u32)>,
    chosen: Option<Hook>,
    extra: Option<Hook>,
    reserve: Vec<(u64, u64)>,
}

impl Default for Spec {
    fn default() -> Self {
        Self {
            memory: Some(vec![0, 0x4000_0000, 0, 0x800_0000]),
            gic: Some("arm,gic-v3"),
            gic_interrupt_cells: 3,
            uart: true,
            psci: Some(Some("hvc")),
            timer: Some(vec![1, 13, 4, 1, 14, 4, 1, 11, 4, 1, 10, 4]),
            virtio: vec![(0x0a00_0200, 17), (0x0a00_0000, 16)],
            chosen: None,
            extra: None,
            reserve: vec![],
        }
    }
}

fn uart_node(w: &mut FdtWriter, addr: u32, spi: u32) -> vm_fdt::FdtWriterResult<()> {
    let n = w.begin_node(&format!("pl011@{addr:x}"))?;
    w.property_string_list(
        "compatible",
        vec!["arm,pl011".into(), "arm,primecell".into()],
    )?;
    w.property_array_u32("reg", &[0, addr, 0, 0x1000])?;
    w.property_array_u32("interrupts", &[0, spi, 4])?;
    w.end_node(n)
}

impl Spec {
    fn build(&self) -> Vec<u8> {
        self.try_build().expect("vm-fdt rejected the test tree")
    }

    fn try_build(&self) -> vm_fdt::FdtWriterResult<Vec<u8>> {
        let reserve: Vec<_> = self
            .reserve
            .iter()
            .map(|&(a, s)| FdtReserveEntry::new(a, s).unwrap())
            .collect();
        let mut w = FdtWriter::new_with_mem_reserv(&reserve)?;
        let root = w.begin_node("")?;
        w.property_string("compatible", "test,virt")?;
        w.property_u32("#address-cells", 2)?;
        w.property_u32("#size-cells", 2)?;
        w.property_u32("interrupt-parent", GIC_PHANDLE)?;
        if let Some(cells) = &self.memory {
            let n = w.begin_node("memory@40000000")?;
            w.property_string("device_type", "memory")?;
            w.property_array_u32("reg", cells)?;
            w.end_node(n)?;
        }
        if let Some(compat) = self.gic {
            let n = w.begin_node("intc@8000000")?;
            w.property_string("compatible", compat)?;
            w.property_null("interrupt-controller")?;
            w.property_u32("#interrupt-cells", self.gic_interrupt_cells)?;
            w.property_array_u32(
                "reg",
                &[0, 0x0800_0000, 0, 0x1_0000, 0, 0x080a_0000, 0, 0xf6_0000],
            )?;
            w.property_phandle(GIC_PHANDLE)?;
            w.end_node(n)?;
        }
        if self.uart {
            uart_node(&mut w, 0x0900_0000, 1)?;
        }
        if let Some(method) = self.psci {
            let n = w.begin_node("psci")?;
            w.property_string("compatible", "arm,psci-1.0")?;
            if let Some(m) = method {
                w.property_string("method", m)?;
            }
            w.end_node(n)?;
        }
        if let Some(irqs) = &self.timer {
            let n = w.begin_node("timer")?;
            w.property_string("compatible", "arm,armv8-timer")?;
            w.property_array_u32("interrupts", irqs)?;
            w.end_node(n)?;
        }
        for &(base, spi) in &self.virtio {
            let n = w.begin_node(&format!("virtio_mmio@{base:x}"))?;
            w.property_string("compatible", "virtio,mmio")?;
            w.property_array_u64("reg", &[base, 0x200])?;
            w.property_array_u32("interrupts", &[0, spi, 1])?;
            w.end_node(n)?;
        }
        if let Some(hook) = self.extra {
            hook(&mut w)?;
        }
        if let Some(hook) = self.chosen {
            let n = w.begin_node("chosen")?;
            hook(&mut w)?;
            w.end_node(n)?;
        }
        w.end_node(root)?;
        w.finish()
    }

    fn parse_err(&self) -> BoardError {
        let dtb = self.build();
        BoardInfo::parse(&dtb).expect_err("parse unexpectedly succeeded")
    }
}

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
fn missing_psci() {
    let spec = Spec {
        psci: None,
        ..Spec::default()
    };
    assert_eq!(spec.parse_err(), BoardError::MissingNode("/psci"));
}

#[test]
fn psci_method_missing_or_unknown() {
    let spec = Spec {
        psci: Some(None),
        ..Spec::default()
    };
    assert_eq!(
        spec.parse_err(),
        BoardError::MissingProperty {
            node: "/psci",
            property: "method"
        }
    );
    let spec = Spec {
        psci: Some(Some("svc")),
        ..Spec::default()
    };
    assert_eq!(
        spec.parse_err(),
        BoardError::Invalid {
            node: "/psci",
            what: "method is neither \"hvc\" nor \"smc\""
        }
    );
    let dtb = Spec {
        psci: Some(Some("smc")),
        ..Spec::default()
    }
    .build();
    assert_eq!(BoardInfo::parse(&dtb).unwrap().psci, PsciMethod::Smc);
}

#[test]
fn missing_timer_and_short_timer_interrupts() {
    let spec = Spec {
        timer: None,
        ..Spec::default()
    };
    assert_eq!(spec.parse_err(), BoardError::MissingNode("arm,armv8-timer"));
    let spec = Spec {
        timer: Some(vec![1, 13, 4, 1, 14, 4]),
        ..Spec::default()
    };
    assert_eq!(
        spec.parse_err(),
        BoardError::Invalid {
            node: "arm,armv8-timer",
            what: "interrupts has too few entries"
        }
    );
    let spec = Spec {
        timer: Some(vec![1, 13, 4, 1, 14, 4, 1, 11]),
        ..Spec::default()
    };
    assert_eq!(
        spec.parse_err(),
        BoardError::Invalid {
            node: "arm,armv8-timer",
            what: "interrupts is not a whole number of 3-cell specifiers"
        }
    );
}

#[test]
fn missing_memory_and_zero_sized_memory() {
    let spec = Spec {
        memory: None,
        ..Spec::default()
    };
    assert_eq!(spec.parse_err(), BoardError::MissingNode("memory"));
    let spec = Spec {
        memory: Some(vec![0, 0x4000_0000, 0, 0]),
        ..Spec::default()
    };
    assert_eq!(
        spec.parse_err(),
        BoardError::Invalid {
            node: "memory",
            what: "reg entry has zero size"
        }
    );
    let spec = Spec {
        memory: Some(vec![0, 0x4000_0000, 0]),
        ..Spec::default()
    };
    assert_eq!(
        spec.parse_err(),
        BoardError::Invalid {
            node: "memory",
            what: "reg is not a whole number of (address, size) entries"
        }
    );
    let spec = Spec {
        memory: Some(vec![0xffff_ffff, 0xffff_f000, 0, 0x2000]),
        ..Spec::default()
    };
    assert_eq!(
        spec.parse_err(),
        BoardError::Invalid {
            node: "memory",
            what: "reg entry wraps past the end of the address space"
        }
    );
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
fn missing_gic() {
    let spec = Spec {
        gic: None,
        ..Spec::default()
    };
    assert_eq!(spec.parse_err(), BoardError::MissingNode(GIC_ROLE));
    assert!(spec.parse_err().to_string().contains("arm,gic-v3"));
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
fn interrupt_parent_with_wrong_cell_count() {
    let spec = Spec {
        gic_interrupt_cells: 2,
        ..Spec::default()
    };
    assert_eq!(
        spec.parse_err(),
        BoardError::Invalid {
            node: "arm,armv8-timer",
            what: "interrupt parent's #interrupt-cells is not 3"
        }
    );
}

#[test]
fn bad_interrupt_specifiers() {
    let spec = Spec {
        timer: Some(vec![1, 13, 4, 1, 16, 4, 1, 11, 4]),
        ..Spec::default()
    };
    assert_eq!(
        spec.parse_err(),
        BoardError::Invalid {
            node: "arm,armv8-timer",
            what: "PPI number in interrupts is out of range (>= 16)"
        }
    );
    let spec = Spec {
        virtio: vec![(0x0a00_0000, 988)],
        ..Spec::default()
    };
    assert_eq!(
        spec.parse_err(),
        BoardError::Invalid {
            node: "virtio,mmio",
            what: "SPI number in interrupts is out of range (>= 988)"
        }
    );
    let spec = Spec {
        timer: Some(vec![2, 13, 4, 1, 14, 4, 1, 11, 4]),
        ..Spec::default()
    };
    assert_eq!(
        spec.parse_err(),
        BoardError::Invalid {
            node: "arm,armv8-timer",
            what: "interrupt type is neither SPI (0) nor PPI (1)"
        }
    );
}

#[test]
fn missing_uart() {
    let spec = Spec {
        uart: false,
        ..Spec::default()
    };
    assert_eq!(spec.parse_err(), BoardError::MissingNode("arm,pl011 UART"));
    assert_eq!(
        spec.parse_err().to_string(),
        "device tree has no arm,pl011 UART node"
    );
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

#[test]
fn virtio_without_interrupts_and_bus_translation() {
    fn virtio_no_irq(w: &mut FdtWriter) -> vm_fdt::FdtWriterResult<()> {
        let n = w.begin_node("virtio_mmio@a001000")?;
        w.property_string("compatible", "virtio,mmio")?;
        w.property_array_u64("reg", &[0x0a00_1000, 0x200])?;
        w.end_node(n)
    }
    let spec = Spec {
        extra: Some(virtio_no_irq),
        ..Spec::default()
    };
    assert_eq!(
        spec.parse_err(),
        BoardError::MissingProperty {
            node: "virtio,mmio",
            property: "interrupts"
        }
    );
    fn translated_bus(w: &mut FdtWriter) -> vm_fdt::FdtWriterResult<()> {
        let bus = w.begin_node("soc")?;
        w.property_u32("#address-cells", 1)?;
        w.property_u32("#size-cells", 1)?;
        w.property_array_u32("ranges", &[0, 0, 0x1000_0000, 0x100_0000])?;
        let n = w.begin_node("virtio_mmio@1000")?;
        w.property_string("compatible", "virtio,mmio")?;
        w.property_array_u32("reg", &[0x1000, 0x200])?;
        w.property_array_u32("interrupts", &[0, 20, 1])?;
        w.end_node(n)?;
        w.end_node(bus)
    }
    let spec = Spec {
        extra: Some(translated_bus),
        ..Spec::default()
    };
    assert_eq!(
        spec.parse_err(),
        BoardError::Invalid {
            node: "virtio,mmio",
            what: "reg is behind a bus with address translation (non-empty ranges)"
        }
    );
}

#[test]
fn too_many_virtio_slots() {
    let spec = Spec {
        virtio: (0..33)
            .map(|i| (0x0a00_0000 + 0x200 * i, i as u32))
            .collect(),
        ..Spec::default()
    };
    assert_eq!(
        spec.parse_err(),
        BoardError::Invalid {
            node: "virtio,mmio",
            what: "more than 32 virtio,mmio nodes"
        }
    );
    let spec = Spec {
        virtio: (0..32)
            .map(|i| (0x0a00_0000 + 0x200 * i, i as u32))
            .collect(),
        ..Spec::default()
    };
    assert_eq!(
        BoardInfo::parse(&spec.build()).unwrap().virtio_mmio.len(),
        32
    );
}

#[test]
fn error_messages_name_the_problem() {
    let cases = [
        (BoardError::BadMagic, "bad magic"),
        (
            BoardError::Truncated {
                needed: 100,
                got: 40,
            },
            "need 100 bytes, got 40",
        ),
        (
            BoardError::Malformed("FDT_NOP tokens are not supported"),
            "FDT_NOP",
        ),
        (BoardError::MissingNode("/psci"), "no /psci node"),
        (
            BoardError::MissingProperty {
                node: "/psci",
                property: "method",
            },
            "/psci lacks the \"method\"",
        ),
        (
            BoardError::Invalid {
                node: "memory",
                what: "reg entry has zero size",
            },
            "memory: reg entry has zero size",
        ),
    ];
    for (err, needle) in cases {
        let text = err.to_string();
        assert!(text.contains(needle), "{text:?} should contain {needle:?}");
    }
}
