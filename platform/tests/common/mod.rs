//! Shared test helper: a `vm-fdt` builder for minimal QEMU-virt-like device trees
//! whose every part can be left out or broken.

#![allow(dead_code)]

use platform::board::{BoardError, BoardInfo};
use vm_fdt::{FdtReserveEntry, FdtWriter};

pub const GIC_PHANDLE: u32 = 0x8002;
pub const GIC_ROLE: &str = "interrupt controller (arm,gic-v3 / arm,cortex-a15-gic)";

pub type Hook = fn(&mut FdtWriter) -> vm_fdt::FdtWriterResult<()>;

/// A minimal QEMU-virt-like tree; every field can be broken by a test.
#[derive(Clone)]
pub struct Spec {
    pub memory: Option<Vec<u32>>,
    pub gic: Option<&'static str>,
    pub gic_interrupt_cells: u32,
    pub uart: bool,
    pub psci: Option<Option<&'static str>>,
    pub timer: Option<Vec<u32>>,
    pub virtio: Vec<(u64, u32)>,
    pub chosen: Option<Hook>,
    pub extra: Option<Hook>,
    pub reserve: Vec<(u64, u64)>,
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

pub fn uart_node(w: &mut FdtWriter, addr: u32, spi: u32) -> vm_fdt::FdtWriterResult<()> {
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
    pub fn build(&self) -> Vec<u8> {
        self.try_build().expect("vm-fdt rejected the test tree")
    }

    pub fn try_build(&self) -> vm_fdt::FdtWriterResult<Vec<u8>> {
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

    pub fn parse_err(&self) -> BoardError {
        let dtb = self.build();
        BoardInfo::parse(&dtb).expect_err("parse unexpectedly succeeded")
    }
}
