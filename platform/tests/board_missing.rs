//! Device trees lacking a required node, or with unusable values, give the specific
//! [`BoardError`] naming the problem.

mod common;

use common::{Spec, GIC_ROLE};
use platform::board::{BoardError, BoardInfo, PsciMethod};
use vm_fdt::FdtWriter;

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
fn missing_gic() {
    let spec = Spec {
        gic: None,
        ..Spec::default()
    };
    assert_eq!(spec.parse_err(), BoardError::MissingNode(GIC_ROLE));
    assert!(spec.parse_err().to_string().contains("arm,gic-v3"));
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
