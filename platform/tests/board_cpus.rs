//! `/cpus` on QEMU 10 `virt` device trees: every CPU with its MPIDR and PSCI as its
//! enable method (`-smp 4`; and the single CPU of the other test trees).

use platform::board::{BoardInfo, CpuInfo};

const SMP4: &[u8] = include_bytes!("data/virt-gicv3-smp4.dtb");
const UP: &[u8] = include_bytes!("data/virt-gicv3.dtb");

#[test]
fn four_cpus_with_psci() {
    let info = BoardInfo::parse(SMP4).unwrap();
    let want: Vec<CpuInfo> = (0..4)
        .map(|i| CpuInfo {
            mpidr: i,
            psci: true,
        })
        .collect();
    assert_eq!(info.cpus.as_slice(), want.as_slice());
}

/// With one CPU QEMU gives no enable method (the boot CPU needs none).
#[test]
fn one_cpu() {
    let info = BoardInfo::parse(UP).unwrap();
    assert_eq!(
        info.cpus.as_slice(),
        &[CpuInfo {
            mpidr: 0,
            psci: false
        }]
    );
}
