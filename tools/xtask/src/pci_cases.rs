//! The QEMU tests again with the devices where most QEMU users put them: on the PCIe
//! host (`virtio-gpu-pci`, `virtio-blk-pci`), driven through the virtio-pci transport.
//! On GICv3 interrupts are MSI-X through the ITS; INTx is tested on GICv2 (no ITS) and
//! on GICv3 with `pci=intx`. QEMU's default virtio-net-pci NIC stays attached, so the
//! boot report must name a PCI device nothing drives.

use crate::build;
use crate::demo;
use crate::qemu::Machine;
use crate::test::{check, demo_pixel_exact, ktest_suite, user_suite, Screen, Tally};
use crate::Result;
use std::time::Duration;

/// The user tests that use the GPU or the block device.
const DEVICE_UTESTS: &[&str] = &[
    "test_gpu_present",
    "test_gpu_misuse",
    "test_blk_read",
    "test_capture_trace",
    "test_legacy_coexist",
    "test_legacy_errors",
    "test_legacy_trace",
    "test_fault_isolation",
];

/// Run the PCI variants.
pub fn run(tally: &mut Tally, base: &Machine) -> Result<()> {
    let initrd = build::initrd()?;
    let disk = build::capture_disk()?;
    let mut pci = base.clone();
    pci.pci = true;

    // The in-kernel suites (the GPU selftest among them) on both GIC versions.
    for gic in [2u8, 3] {
        let mut m = pci.clone();
        m.gic = gic;
        m.append = "exit=semihosting ktest=all expect-el=1".into();
        ktest_suite(tally, &format!("qemu/pci-el1-gicv{gic}"), &m)?;
    }

    // The report lists every function with its IDs and what drives it.
    let mut m = pci.clone();
    m.disk = Some(disk.clone());
    m.append = "exit=semihosting ticks=1".into();
    let o = m.run_captured(Duration::from_secs(60))?;
    tally.record(
        "qemu/pci/boot-report-names-every-function",
        check(
            &o,
            Some(0),
            &[
                "pci     ECAM 0x4010000000 buses 0..=255",
                "MSI GICv3 ITS",
                "00:00.0 1b36:0008 HostBridge",
                "1af4:1000 virtio network",
                "not supported (no driver)",
                "1af4:1050 virtio GPU",
                "driven by virtio-gpu (MSI-X through the ITS, LPI 8192)",
                "virtio block",
                "driven by virtio-blk (MSI-X through the ITS, LPI 8193)",
                "gpu     virtio-gpu scanout 0 1280x800",
                "blk     virtio-blk ",
                "virtio  32 slots, 32 empty",
            ],
        ),
    );

    let mut m = pci.clone();
    m.initrd = Some(initrd.clone());
    m.disk = Some(disk.clone());
    m.append = format!(
        "exit=semihosting dma=noncoherent utest={}",
        DEVICE_UTESTS.join(",")
    );
    user_suite(tally, "qemu/pci-user", &m)?;
    // INTx on the GICv3 too (the kernel argument refuses MSI-X).
    m.append.push_str(" pci=intx");
    user_suite(tally, "qemu/pci-intx-user", &m)?;

    let cases = [
        ("demo", demo::APPEND, Screen::Demo, false, 3),
        ("pipeline", demo::PIPELINE_APPEND, Screen::Pipeline, true, 3),
        (
            "legacy-demo",
            "exit=semihosting init=legacy dma=noncoherent",
            Screen::Demo,
            false,
            3,
        ),
        // GICv2: no ITS, INTx through the GICv2's SPIs.
        (
            "gicv2-intx-pipeline",
            demo::PIPELINE_APPEND,
            Screen::Pipeline,
            true,
            2,
        ),
    ];
    for (name, append, screen, with_disk, gic) in cases {
        let mut m = pci.clone();
        m.gic = gic;
        m.initrd = Some(initrd.clone());
        if with_disk {
            m.disk = Some(disk.clone());
        }
        m.append = append.into();
        m.qmp = Some(build::out_dir().join("qmp-test.sock"));
        let result = demo_pixel_exact(&m, screen)?;
        tally.record(&format!("qemu/pci/{name}-screendump-pixel-exact"), result);
    }

    // Behind PCIe root ports (bridges): bus numbers, bridge windows, the INTx swizzle.
    let mut bridged = pci.clone();
    bridged.before = [
        "pcie-root-port,id=rp0,chassis=1",
        "pcie-root-port,id=rp1,chassis=2",
    ]
    .iter()
    .flat_map(|d| ["-device".to_string(), d.to_string()])
    .collect();
    bridged.gpu = "virtio-gpu-device,bus=rp0".into();
    bridged.disk = Some(disk);
    bridged.disk_opts = ",bus=rp1".into();
    let mut m = bridged.clone();
    m.append = "exit=semihosting ticks=1".into();
    let o = m.run_captured(Duration::from_secs(60))?;
    tally.record(
        "qemu/pci/behind-root-ports-report",
        check(
            &o,
            Some(0),
            &[
                "00:02.0 1b36:000c PciPciBridge",
                "bridge to buses 1..=1",
                "01:00.0 1af4:1050 virtio GPU",
                "driven by virtio-gpu",
                "bridge to buses 2..=2",
                "02:00.0 1af4:1042 virtio block",
                "driven by virtio-blk",
            ],
        ),
    );
    let mut m = bridged;
    m.initrd = Some(initrd);
    m.append = demo::PIPELINE_APPEND.into();
    m.qmp = Some(build::out_dir().join("qmp-test.sock"));
    let result = demo_pixel_exact(&m, Screen::Pipeline)?;
    tally.record("qemu/pci/behind-root-ports-pipeline-pixel-exact", result);
    Ok(())
}
