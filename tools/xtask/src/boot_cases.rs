//! Boot tests of everything that used to stop the kernel silently or hang it: each boot
//! either ends with a `BOOT ERROR:` line naming what is wrong and exit status 4, or
//! (for what is now supported) boots normally. About a second each.
//!
//! Broken trees are QEMU's own DTB for the board, dumped and edited on the host
//! ([`crate::fdt_edit`]) and passed with `-dtb`. What `-kernel` cannot produce (x0 = 0,
//! a DTB QEMU would refuse to load, entry at EL3, a misaligned Image) goes through a
//! five-instruction `-bios` shim ([`shim`]) that sets x0 and jumps to an Image placed
//! raw with `-device loader`, at whatever EL the board starts the CPU in.

use crate::build;
use crate::fdt_edit::{cells, Tree};
use crate::qemu::{Machine, QEMU};
use crate::test::{check, Tally, EXIT_BOOT_ERROR};
use crate::Result;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(30);
/// Where the shim boots put the Image (2 MiB aligned, as the boot protocol wants) and
/// the DTB.
const IMAGE_PA: u64 = 0x4020_0000;
const DTB_PA: u64 = 0x4800_0000;

/// A `-bios` image that starts the kernel at `entry` with x0 = `dtb` (the arm64 boot
/// protocol's only requirement that matters here), followed by `tail` at offset 0x1000.
pub fn shim(dtb: u64, entry: u64, tail: &[u8]) -> Vec<u8> {
    let code: [u32; 4] = [
        0x5800_0080, // ldr x0, 0x10  (the literal at +0x10)
        0x5800_00a1, // ldr x1, 0x18  (at +0x04: the literal at +0x18)
        0xd61f_0020, // br  x1
        0xd503_201f, // nop
    ];
    let mut b: Vec<u8> = code.iter().flat_map(|w| w.to_le_bytes()).collect();
    b.extend_from_slice(&dtb.to_le_bytes());
    b.extend_from_slice(&entry.to_le_bytes());
    if !tail.is_empty() {
        b.resize(0x1000, 0);
        b.extend_from_slice(tail);
    }
    b
}

/// QEMU's own DTB for `m` (with its `-append` and `-initrd` folded in), parsed.
pub fn dump_dtb(m: &Machine, name: &str) -> Result<Tree> {
    let path = build::out_dir().join(format!("{name}.dtb"));
    let mut args = m.args();
    let i = args.iter().position(|a| a == "-M").ok_or("no -M")? + 1;
    args[i] = format!("{},dumpdtb={}", args[i], path.display());
    let out = Command::new(QEMU)
        .args(&args)
        .output()
        .map_err(|e| format!("{QEMU}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "dumping the DTB failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Tree::parse(&std::fs::read(&path).map_err(|e| e.to_string())?)
}

fn write(name: &str, bytes: &[u8]) -> Result<PathBuf> {
    let path = build::out_dir().join(name);
    std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// A machine booting `image` through the shim with x0 = `dtb_pa`, the Image at
/// `image_pa` and `dtb` (if any) at `DTB_PA`.
fn shim_boot(
    base: &Machine,
    name: &str,
    dtb_pa: u64,
    image_pa: u64,
    dtb: Option<&[u8]>,
    tail: &[u8],
) -> Result<Machine> {
    let mut m = base.clone();
    m.bios = Some(write(
        &format!("{name}-shim.bin"),
        &shim(dtb_pa, image_pa, tail),
    )?);
    m.loads = vec![(base.kernel.clone(), image_pa)];
    if let Some(d) = dtb {
        m.loads.push((write(&format!("{name}.dtb"), d)?, DTB_PA));
    }
    Ok(m)
}

/// Run every boot case and record it.
pub fn run(tally: &mut Tally, base: &Machine) -> Result<()> {
    let mut normal = base.clone();
    normal.append = "exit=semihosting ticks=1".into();
    let good = dump_dtb(&normal, "boot-good")?;
    let good_bytes = good.to_bytes();
    let record = |tally: &mut Tally, name: &str, m: &Machine, code: i32, needles: &[&str]| {
        let result = m
            .run_captured(TIMEOUT)
            .map(|o| check(&o, Some(code), needles));
        tally.record(&format!("qemu/boot/{name}"), result.unwrap_or_else(Err));
    };
    let boot_error = |what: &'static str| -> Vec<&'static str> {
        vec!["BOOT ERROR: ", what, "exit code 4 (BootError)"]
    };

    // Before any device tree: only semihosting can tell.
    let m = shim_boot(base, "x0-zero", 0, IMAGE_PA, None, &[])?;
    record(
        tally,
        "x0-zero",
        &m,
        EXIT_BOOT_ERROR,
        &boot_error("no DTB: x0 was zero"),
    );

    let mut bad = good_bytes.clone();
    bad[0] ^= 0xff;
    let m = shim_boot(base, "bad-magic", DTB_PA, IMAGE_PA, Some(&bad), &[])?;
    record(
        tally,
        "dtb-bad-magic",
        &m,
        EXIT_BOOT_ERROR,
        &boot_error("bad magic"),
    );

    // The header's size stays; the second half of the blob is missing (zero memory).
    let cut = &good_bytes[..good_bytes.len() / 2];
    let m = shim_boot(base, "truncated", DTB_PA, IMAGE_PA, Some(cut), &[])?;
    record(
        tally,
        "dtb-truncated",
        &m,
        EXIT_BOOT_ERROR,
        &boot_error("malformed device tree"),
    );

    let m = shim_boot(base, "unbacked", 0x1_0000_0000, IMAGE_PA, None, &[])?;
    record(
        tally,
        "dtb-where-no-memory-is",
        &m,
        EXIT_BOOT_ERROR,
        &boot_error("x0 = 0x100000000 is not readable memory"),
    );

    // A valid tree in flash (the shim's own file, at 0x1000): parsed, then refused.
    let m = shim_boot(base, "in-flash", 0x1000, IMAGE_PA, None, &good_bytes)?;
    record(
        tally,
        "dtb-outside-ram",
        &m,
        EXIT_BOOT_ERROR,
        &boot_error("DTB at 0x1000.."),
    );

    // A DTB across the 2 GiB line (1 GiB blocks) boots.
    let mut big = base.clone();
    big.memory = "2G";
    big.append = normal.append.clone();
    let tree2g = dump_dtb(&big, "boot-2g")?;
    let at = 0x8000_0000 - 0x800;
    let m = shim_boot(&big, "cross-1g", at, IMAGE_PA, None, &[])?;
    let mut m = m;
    m.loads
        .push((write("cross-1g.dtb", &tree2g.to_bytes())?, at));
    record(
        tally,
        "dtb-across-1gib-boundary-boots",
        &m,
        0,
        &["DTB at PA 0x7ffff800", "tick 1", "powering off"],
    );

    // Entry at EL3 (secure=on starts the CPU there) and a misaligned Image: boot.S.
    let mut el3 = base.clone();
    el3.machine_opts = ",secure=on".into();
    let m = shim_boot(&el3, "el3", DTB_PA, IMAGE_PA, Some(&good_bytes), &[])?;
    record(
        tally,
        "entry-at-el3",
        &m,
        EXIT_BOOT_ERROR,
        &boot_error("entered at EL3"),
    );
    let m = shim_boot(
        base,
        "misaligned",
        DTB_PA,
        IMAGE_PA + 0x1000,
        Some(&good_bytes),
        &[],
    )?;
    record(
        tally,
        "image-not-2mib-aligned",
        &m,
        EXIT_BOOT_ERROR,
        &boot_error("not 2 MiB aligned"),
    );

    // Trees QEMU loads with -dtb.
    let dtb_case = |tally: &mut Tally,
                    name: &str,
                    m: &Machine,
                    tree: &Tree,
                    code: i32,
                    needles: &[&str]|
     -> Result<()> {
        let mut m = m.clone();
        m.dtb = Some(write(&format!("boot-{name}.dtb"), &tree.to_bytes())?);
        record(tally, name, &m, code, needles);
        Ok(())
    };
    let gic = good
        .find_compatible("arm,gic-v3")
        .ok_or("QEMU's DTB has no arm,gic-v3 node")?;

    // secure=on: the first PL011 in the tree is the secure-only one (status "disabled").
    let mut sec = normal.clone();
    sec.machine_opts = ",secure=on".into();
    let mut t = dump_dtb(&sec, "boot-secure")?;
    t.set(&gic, "compatible", b"arm,gic-v9\0")?;
    dtb_case(
        tally,
        "secure-board-dtb-error-printed",
        &sec,
        &t,
        EXIT_BOOT_ERROR,
        &boot_error("interrupt controller"),
    )?;

    let mut t = good.clone();
    t.set("/", "#size-cells", &cells(&[1]))?;
    dtb_case(
        tally,
        "root-size-cells-1",
        &normal,
        &t,
        EXIT_BOOT_ERROR,
        &boot_error("reg is not a whole number of (address, size) entries"),
    )?;

    // A GICv3 called a GICv2: the tick never comes.
    let mut t = good.clone();
    t.set(&gic, "compatible", b"arm,gic-400\0")?;
    dtb_case(
        tally,
        "timer-never-ticks",
        &normal,
        &t,
        EXIT_BOOT_ERROR,
        &boot_error("timer: no tick from the virtual timer (INTID 27)"),
    )?;

    // (No -initrd: QEMU would write its own initrd's addresses over these.)
    let mut with_rd = normal.clone();
    with_rd.append = "exit=semihosting init=init".into();
    let mut t = dump_dtb(&with_rd, "boot-initrd")?;
    t.set("/chosen", "linux,initrd-start", &cells(&[0x1, 0]))?;
    t.set("/chosen", "linux,initrd-end", &cells(&[0x1, 0x1000]))?;
    dtb_case(
        tally,
        "initrd-outside-ram",
        &with_rd,
        &t,
        EXIT_BOOT_ERROR,
        &boot_error("initrd: /chosen says 0x100000000..0x100001000, which lies outside RAM"),
    )?;

    let mut m = normal.clone();
    m.append = "exit=semihosting init=demo".into();
    record(
        tally,
        "init-without-initrd",
        &m,
        EXIT_BOOT_ERROR,
        &boot_error("no initrd: init= needs one"),
    );

    // 1.5 MiB of content, more than the kernel's 256 KiB copy: without NOPs (placed raw
    // by the shim) it is used in place; with the NOPs QEMU's -dtb leaves, its big
    // property is left out of the copy. Both boot.
    let mut t = good.clone();
    t.set("/", "test,padding", &vec![0x5a; 1536 * 1024])?;
    let m = shim_boot(base, "big", DTB_PA, IMAGE_PA, Some(&t.to_bytes()), &[])?;
    record(
        tally,
        "dtb-of-1536k-in-place-boots",
        &m,
        0,
        &["tick 1", "powering off"],
    );
    dtb_case(
        tally,
        "dtb-of-1536k-with-nops-boots",
        &normal,
        &t,
        0,
        &[
            "properties over 64 KiB (none the kernel reads) left out",
            "tick 1",
            "powering off",
        ],
    )?;
    // Low RAM: with the initrd, the image stays small enough for the 16 MiB heap on
    // 38 MiB.
    let mut m = normal.clone();
    m.memory = "38M";
    m.initrd = Some(build::initrd()?);
    m.append = "exit=semihosting init=init".into();
    record(
        tally,
        "boots-on-38mib",
        &m,
        0,
        &["'init' exited", "powering off"],
    );

    // Two GPUs: the driver takes the first one QEMU created, the one QEMU shows.
    let mut m = normal.clone();
    m.gpu = "virtio-gpu-device,xres=1024,yres=768".into();
    m.extra = vec!["-device".into(), "virtio-gpu-device".into()];
    record(
        tally,
        "two-gpus-first-is-driven",
        &m,
        0,
        &["gpu     virtio-gpu scanout 0 1024x768"],
    );
    Ok(())
}
