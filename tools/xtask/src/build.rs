//! Building the kernel for the bare-metal target and turning the ELF into an arm64 Image.

use crate::Result;
use object::{Object, ObjectSegment};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The kernel's target triple (no FP/SIMD in kernel or user code).
pub const TARGET: &str = "aarch64-unknown-none-softfloat";

/// Which kernel to build.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// The normal kernel.
    Normal,
    /// The kernel with its QEMU test cases (`ktest` feature).
    Test,
    /// The kernel for `cargo xtask bench` (`bench` feature: the bare-loop syscalls).
    Bench,
    /// The same with the IRQ-masked stretch probe (`latency` feature): `cargo xtask
    /// bench` takes only the stretches from it.
    BenchLatency,
}

impl Flavor {
    /// The kernel crate's cargo feature for this flavour, if any.
    fn feature(self) -> Option<&'static str> {
        match self {
            Flavor::Normal => None,
            Flavor::Test => Some("ktest"),
            Flavor::Bench => Some("bench"),
            Flavor::BenchLatency => Some("latency"),
        }
    }

    /// The file name (without extension) of this flavour's ELF and Image.
    fn name(self) -> &'static str {
        match self {
            Flavor::Normal => "kernel",
            Flavor::Test => "kernel-test",
            Flavor::Bench => "kernel-bench",
            Flavor::BenchLatency => "kernel-bench-latency",
        }
    }
}

/// A built kernel.
pub struct Built {
    /// The ELF with symbols (for gdb).
    pub elf: PathBuf,
    /// The flat arm64 Image QEMU boots.
    pub image: PathBuf,
}

/// The workspace root (found at run time: [`crate::setup::root`]).
pub fn root() -> PathBuf {
    crate::setup::root().to_path_buf()
}

/// A `cargo` command in the workspace that builds for [`TARGET`], whose targets are
/// installed first if this machine lacks them.
pub fn target_cargo() -> Result<Command> {
    crate::setup::targets()?;
    let mut cmd = Command::new(crate::setup::cargo());
    cmd.current_dir(root());
    Ok(cmd)
}

/// Directory for xtask's outputs (images, logs, screenshots).
pub fn out_dir() -> PathBuf {
    root().join("target").join("xtask")
}

/// Build the kernel and its Image.
pub fn kernel(flavor: Flavor) -> Result<Built> {
    let mut cmd = target_cargo()?;
    cmd.args(["build", "--release", "-p", "kernel", "--target", TARGET]);
    if let Some(feature) = flavor.feature() {
        cmd.args(["--features", feature]);
    }
    let status = cmd.status().map_err(|e| format!("running cargo: {e}"))?;
    if !status.success() {
        return Err("kernel build failed".into());
    }
    // All flavors build into one target dir (only the kernel crate differs); keep a copy
    // of each ELF beside its Image so gdb gets the symbols of what actually ran.
    let built = root().join("target").join(TARGET).join("release/kernel");
    let name = flavor.name();
    std::fs::create_dir_all(out_dir()).map_err(|e| e.to_string())?;
    let elf = out_dir().join(format!("{name}.elf"));
    std::fs::copy(&built, &elf).map_err(|e| format!("{}: {e}", built.display()))?;
    let image = out_dir().join(format!("{name}.img"));
    elf_to_image(&elf, &image)?;
    Ok(Built { elf, image })
}

/// Flatten the ELF's loadable segments into a raw image starting at the lowest one
/// (the arm64 Image header is the first thing in .text).
fn elf_to_image(elf: &Path, image: &Path) -> Result<()> {
    let data = std::fs::read(elf).map_err(|e| format!("{}: {e}", elf.display()))?;
    let file = object::File::parse(&*data).map_err(|e| format!("{}: {e}", elf.display()))?;
    let segs: Vec<_> = file.segments().filter(|s| s.file_range().1 > 0).collect();
    let base = segs
        .iter()
        .map(|s| s.address())
        .min()
        .ok_or("kernel ELF has no loadable segment")?;
    let mut out = Vec::new();
    for s in &segs {
        let off = (s.address() - base) as usize;
        let bytes = s.data().map_err(|e| e.to_string())?;
        if out.len() < off + bytes.len() {
            out.resize(off + bytes.len(), 0);
        }
        out[off..off + bytes.len()].copy_from_slice(bytes);
    }
    if out.get(56..60) != Some(b"ARM\x64") {
        return Err("kernel image lacks the arm64 Image magic at offset 56".into());
    }
    std::fs::write(image, out).map_err(|e| format!("{}: {e}", image.display()))
}

/// User program crates (each bin becomes an initrd entry named after it).
const USER_CRATES: &[&str] = &["init", "utests", "demo", "bench"];

/// The user crates to build: those of `USER_CRATES` that have a manifest and are
/// workspace members (so a crate still being written does not break the other commands).
pub fn user_crates() -> Vec<&'static str> {
    let workspace = std::fs::read_to_string(root().join("Cargo.toml")).unwrap_or_default();
    USER_CRATES
        .iter()
        .copied()
        .filter(|c| {
            root().join("userland").join(c).join("Cargo.toml").exists()
                && workspace.contains(&format!("\"userland/{c}\""))
        })
        .collect()
}

/// Build the user programs and pack them into a tar initrd; returns its path.
pub fn initrd() -> Result<PathBuf> {
    let mut cmd = target_cargo()?;
    cmd.args(["build", "--profile", "user", "--target", TARGET]);
    let crates = user_crates();
    for c in &crates {
        cmd.args(["-p", c]);
    }
    let status = cmd.status().map_err(|e| format!("running cargo: {e}"))?;
    if !status.success() {
        return Err("user program build failed".into());
    }
    let mut names = Vec::new();
    for c in &crates {
        let dir = root().join("userland").join(c).join("src");
        if dir.join("main.rs").exists() {
            names.push(c.to_string());
        }
        if let Ok(entries) = std::fs::read_dir(dir.join("bin")) {
            for e in entries.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "rs") {
                    names.push(
                        p.file_stem()
                            .unwrap_or_default()
                            .to_string_lossy()
                            .into_owned(),
                    );
                }
            }
        }
    }
    names.sort();
    let bin_dir = root().join("target").join(TARGET).join("user");
    let mut builder = tar::Builder::new(Vec::new());
    for name in &names {
        let data =
            std::fs::read(bin_dir.join(name)).map_err(|e| format!("user program {name}: {e}"))?;
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(0o755);
        header.set_cksum();
        builder
            .append_data(&mut header, name, &data[..])
            .map_err(|e| e.to_string())?;
    }
    let tar = builder.into_inner().map_err(|e| e.to_string())?;
    std::fs::create_dir_all(out_dir()).map_err(|e| e.to_string())?;
    let path = out_dir().join("initrd.tar");
    std::fs::write(&path, tar).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// The bytes of the capture disk: every sector [`scene::capture::disk_sector`] describes
/// (the camera's frames, then the test-pattern sectors).
pub fn capture_disk_bytes() -> Vec<u8> {
    use scene::capture::{disk_sector, DISK_BYTES, DISK_SECTORS};
    let mut out = Vec::with_capacity(DISK_BYTES as usize);
    let mut sector = [0u8; 512];
    for s in 0..DISK_SECTORS {
        disk_sector(s, &mut sector);
        out.extend_from_slice(&sector);
    }
    out
}

/// Write `target/xtask/capture.img`, the raw disk the capture pipeline, the readback
/// benchmark and the block-device user tests boot with (layout: `scene::capture`);
/// returns its path. An image that already holds exactly these bytes is left alone;
/// otherwise the new one replaces it in one rename, so a QEMU that has the old one open
/// keeps reading the old file.
pub fn capture_disk() -> Result<PathBuf> {
    let bytes = capture_disk_bytes();
    std::fs::create_dir_all(out_dir()).map_err(|e| e.to_string())?;
    let path = out_dir().join("capture.img");
    if std::fs::read(&path).is_ok_and(|old| old == bytes) {
        return Ok(path);
    }
    let tmp = out_dir().join(format!("capture.img.{}", std::process::id()));
    std::fs::write(&tmp, &bytes).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use scene::capture::{
        capture_frame, frame_sector, test_word, FRAME_BYTES, FRAME_PIXELS, TEST_SECTOR_BASE,
    };

    #[test]
    fn capture_disk_layout() {
        let disk = capture_disk_bytes();
        assert_eq!(disk.len() as u64, scene::capture::DISK_BYTES);
        // Frame 5 where the layout says, pixel for pixel.
        let mut f = vec![0u32; FRAME_PIXELS];
        capture_frame(5, &mut f);
        let at = (frame_sector(5) * 512) as usize;
        let want: Vec<u8> = f.iter().flat_map(|p| p.to_le_bytes()).collect();
        assert_eq!(&disk[at..at + FRAME_BYTES as usize], &want[..]);
        // The test sectors follow: word i of sector s by the documented formula.
        let s = TEST_SECTOR_BASE + 17;
        let w = |i: usize| {
            let o = (s * 512) as usize + 4 * i;
            u32::from_le_bytes(disk[o..o + 4].try_into().unwrap())
        };
        assert_eq!(w(0), test_word(s, 0));
        assert_eq!(
            w(99),
            (s as u32).wrapping_mul(0x0101_0101) ^ 0xa5a5_a5a5 ^ 99
        );
        assert_ne!(&disk[..512], &disk[512..1024]);
    }
}
