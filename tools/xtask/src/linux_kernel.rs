//! What `cargo xtask bench --linux` boots: Debian's arm64 Linux kernel package, fetched
//! with apt-get, and an initramfs with the `linuxbench` harness and the kernel modules
//! it needs.
//!
//! The package comes through a private apt configuration under `target/linux/apt/`
//! (its own sources list, lists, cache and an empty dpkg status, `APT::Architecture
//! "arm64"`), so the host's package state, architectures and sources are left alone:
//! `apt-get update` and `apt-get download` with `APT_CONFIG` pointing there, as root or
//! not. The suite is bookworm-backports (Linux 6.12); the package is what
//! `linux-image-arm64` depends on there. Downloads and the unpacked tree are cached in
//! `target/linux/`: with a `.deb` there nothing is fetched again (delete the directory
//! to take a newer kernel).

use crate::{build, Result};
use object::{Object, ObjectSection};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Debian's suite with Linux 6.12 for bookworm.
const SUITE: &str = "bookworm-backports";
/// The metapackage naming the current arm64 kernel image package of [`SUITE`].
const META: &str = "linux-image-arm64";
/// The modules the harness loads (with their dependencies): the virtio-mmio transport
/// and the block device. Debian builds udmabuf in (`CONFIG_UDMABUF=y`, checked), and
/// virtio-gpu's driver is not loaded (see the report: its fbcon traffic would put
/// host-timed interrupts everywhere).
const MODULES: &[&str] = &["virtio_mmio", "virtio_blk"];
/// The Rust target of the harness (static, musl), linked with the toolchain's rust-lld.
pub const HARNESS_TARGET: &str = "aarch64-unknown-linux-musl";

/// `target/linux/`.
pub fn dir() -> PathBuf {
    build::root().join("target").join("linux")
}

/// The unpacked kernel package.
pub struct Kernel {
    /// The `.deb` file name (package and version).
    pub package: String,
    /// The uncompressed arm64 Image (`/boot/vmlinuz-*`).
    pub image: PathBuf,
    /// `/lib/modules/<release>/`.
    pub modules: PathBuf,
}

fn run(cmd: &mut Command, what: &str) -> Result<String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{what}: {e} (this needs Debian's apt-get and dpkg-deb)"))?;
    if !out.status.success() {
        return Err(format!(
            "{what} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Write the private apt configuration; returns its `APT_CONFIG` file.
fn apt_config() -> Result<PathBuf> {
    let apt = dir().join("apt");
    for d in [
        "etc/apt.conf.d",
        "etc/preferences.d",
        "etc/sources.list.d",
        "state/lists/partial",
        "cache/archives/partial",
    ] {
        std::fs::create_dir_all(apt.join(d)).map_err(|e| format!("{}: {e}", apt.display()))?;
    }
    let write = |name: &str, text: String| {
        let p = apt.join(name);
        std::fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))
    };
    write("state/status", String::new())?;
    write(
        "etc/sources.list",
        format!(
            "deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] \
             http://deb.debian.org/debian {SUITE} main\n"
        ),
    )?;
    let a = apt.display();
    write(
        "apt.conf",
        format!(
            "Dir::Etc \"{a}/etc\";\nDir::Etc::sourcelist \"sources.list\";\n\
             Dir::Etc::sourceparts \"sources.list.d\";\nDir::State \"{a}/state\";\n\
             Dir::State::status \"{a}/state/status\";\nDir::Cache \"{a}/cache\";\n\
             APT::Architecture \"arm64\";\nAPT::Architectures {{ \"arm64\"; }};\n\
             APT::Sandbox::User \"root\";\n"
        ),
    )?;
    Ok(apt.join("apt.conf"))
}

/// The cached kernel `.deb`, or download it.
fn deb() -> Result<PathBuf> {
    let debs = dir().join("deb");
    std::fs::create_dir_all(&debs).map_err(|e| format!("{}: {e}", debs.display()))?;
    let cached = |debs: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(debs)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                let n = p.file_name().unwrap_or_default().to_string_lossy();
                n.starts_with("linux-image-") && n.ends_with("_arm64.deb")
            })
            .collect();
        v.sort();
        v
    };
    if let Some(d) = cached(&debs).pop() {
        return Ok(d);
    }
    let conf = apt_config()?;
    let apt = |args: &[&str], what: &str| {
        run(
            Command::new(args[0])
                .args(&args[1..])
                .env("APT_CONFIG", &conf)
                .current_dir(&debs),
            what,
        )
    };
    println!("xtask: fetching Debian's arm64 kernel list ({SUITE}) into target/linux/apt");
    apt(
        &["apt-get", "update", "-qq"],
        "apt-get update (private arm64 lists)",
    )?;
    let show = apt(&["apt-cache", "depends", META], "apt-cache depends")?;
    let package = show
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .find(|p| p.starts_with("linux-image-") && p.ends_with("-arm64"))
        .ok_or_else(|| format!("{META} in {SUITE} depends on no linux-image package:\n{show}"))?
        .to_string();
    println!("xtask: downloading {package} (about 90 MB, once)");
    apt(
        &["apt-get", "download", "-qq", &package],
        "apt-get download",
    )?;
    cached(&debs).pop().ok_or_else(|| {
        format!(
            "apt-get download {package} left no .deb in {}",
            debs.display()
        )
    })
}

/// The kernel package, downloaded and unpacked once.
pub fn kernel() -> Result<Kernel> {
    let deb = deb()?;
    let package = deb
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let root = dir().join("root").join(package.trim_end_matches(".deb"));
    let stamp = root.join(".unpacked");
    if !stamp.exists() {
        let _ = std::fs::remove_dir_all(&root);
        println!("xtask: unpacking {package}");
        std::fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
        run(
            Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root),
            "dpkg-deb -x",
        )?;
        std::fs::write(&stamp, "").map_err(|e| e.to_string())?;
    }
    let one = |sub: &str, prefix: &str| -> Result<PathBuf> {
        std::fs::read_dir(root.join(sub))
            .map_err(|e| format!("{package}: {sub}: {e}"))?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
            })
            .ok_or_else(|| format!("{package} has no {sub}/{prefix}*"))
    };
    let config = std::fs::read_to_string(one("boot", "config-")?).map_err(|e| e.to_string())?;
    if !config.lines().any(|l| l == "CONFIG_UDMABUF=y") {
        return Err(format!(
            "{package}: the kernel is not built with CONFIG_UDMABUF=y"
        ));
    }
    let (image, modules) = (one("boot", "vmlinuz-")?, one("lib/modules", "")?);
    Ok(Kernel {
        package,
        image,
        modules,
    })
}

/// Every `.ko.xz` under `dir`, by module name (`-` read as `_`).
fn module_files(dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            module_files(&p, out);
        } else if let Some(n) = p
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".ko.xz"))
        {
            out.push((n.replace('-', "_"), p));
        }
    }
}

/// A module's uncompressed bytes and the modules it depends on (`depends=` of its
/// `.modinfo` section).
fn module(path: &Path) -> Result<(Vec<u8>, Vec<String>)> {
    let xz = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut ko = Vec::new();
    lzma_rs::xz_decompress(&mut &xz[..], &mut ko)
        .map_err(|e| format!("{}: xz: {e:?}", path.display()))?;
    let elf = object::File::parse(&*ko).map_err(|e| format!("{}: {e}", path.display()))?;
    let info = elf
        .section_by_name(".modinfo")
        .and_then(|s| s.data().ok())
        .ok_or_else(|| format!("{}: no .modinfo", path.display()))?;
    let deps = info
        .split(|&b| b == 0)
        .filter_map(|f| f.strip_prefix(b"depends="))
        .flat_map(|d| {
            String::from_utf8_lossy(d)
                .split(',')
                .map(|s| s.replace('-', "_"))
                .collect::<Vec<_>>()
        })
        .filter(|d| !d.is_empty())
        .collect();
    Ok((ko, deps))
}

/// [`MODULES`] and their dependencies, dependencies first: `(name, uncompressed .ko)`.
fn modules_in_order(k: &Kernel) -> Result<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    module_files(&k.modules.join("kernel"), &mut files);
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    fn visit(
        name: &str,
        files: &[(String, PathBuf)],
        out: &mut Vec<(String, Vec<u8>)>,
        depth: usize,
    ) -> Result<()> {
        if out.iter().any(|(n, _)| n == name) {
            return Ok(());
        }
        if depth > 32 {
            return Err(format!("module dependencies loop at {name}"));
        }
        let path = &files
            .iter()
            .find(|(n, _)| n == name)
            .ok_or_else(|| format!("module {name} is not in the kernel package"))?
            .1;
        let (ko, deps) = module(path)?;
        for d in &deps {
            visit(d, files, out, depth + 1)?;
        }
        out.push((name.to_string(), ko));
        Ok(())
    }
    for m in MODULES {
        visit(m, &files, &mut out, 0)?;
    }
    Ok(out)
}

/// Build the harness (static aarch64 musl binary; installs the Rust target if missing).
fn harness() -> Result<PathBuf> {
    crate::linux::rust_target(HARNESS_TARGET)?;
    let linker = format!(
        "CARGO_TARGET_{}_LINKER",
        HARNESS_TARGET.to_uppercase().replace('-', "_")
    );
    let status = Command::new(crate::setup::cargo())
        .current_dir(build::root())
        .env(linker, "rust-lld")
        .args([
            "build",
            "-p",
            "linuxbench",
            "--profile",
            "user",
            "--target",
            HARNESS_TARGET,
        ])
        .status()
        .map_err(|e| format!("running cargo: {e}"))?;
    if !status.success() {
        return Err("building tools/linuxbench failed".into());
    }
    Ok(build::root()
        .join("target")
        .join(HARNESS_TARGET)
        .join("user")
        .join("linuxbench"))
}

/// The initramfs (`newc` cpio, uncompressed, every timestamp 0): `/init` (the
/// harness), `/dev/console`, `/modules` (the load order) and the modules.
pub fn initramfs(k: &Kernel) -> Result<PathBuf> {
    let init = std::fs::read(harness()?).map_err(|e| format!("linuxbench binary: {e}"))?;
    let modules = modules_in_order(k)?;
    let list: String = modules
        .iter()
        .map(|(n, _)| format!("/lib/modules/{n}.ko\n"))
        .collect();
    let mut files: Vec<(String, u32, Vec<u8>)> = vec![
        ("dev".into(), 0o040755, Vec::new()),
        ("proc".into(), 0o040755, Vec::new()),
        ("lib".into(), 0o040755, Vec::new()),
        ("lib/modules".into(), 0o040755, Vec::new()),
        ("init".into(), 0o100755, init),
        ("modules".into(), 0o100644, list.into_bytes()),
    ];
    for (n, ko) in modules {
        files.push((format!("lib/modules/{n}.ko"), 0o100644, ko));
    }
    let out = cpio(&files)?;
    let path = dir().join("initramfs.cpio");
    std::fs::write(&path, out).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// A `newc` cpio of `files` (`(path, mode, bytes)`, inode numbers in order, every
/// timestamp 0) and `/dev/console` (the kernel opens it for init's stdin, stdout and
/// stderr before anything is mounted).
fn cpio(files: &[(String, u32, Vec<u8>)]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let w = |out: &mut Vec<u8>, b: cpio::newc::Builder, data: &[u8]| -> Result<()> {
        let mut w = b.write(out, data.len() as u32);
        std::io::Write::write_all(&mut w, data).map_err(|e| e.to_string())?;
        w.finish().map_err(|e| e.to_string())?;
        Ok(())
    };
    for (i, (name, mode, data)) in files.iter().enumerate() {
        let b = cpio::newc::Builder::new(name)
            .ino(i as u32 + 1)
            .mode(*mode)
            .nlink(1);
        w(&mut out, b, data)?;
    }
    let console = cpio::newc::Builder::new("dev/console")
        .ino(files.len() as u32 + 1)
        .mode(0o020600)
        .nlink(1)
        .rdev_major(5)
        .rdev_minor(1);
    w(&mut out, console, &[])?;
    cpio::newc::trailer(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_initramfs_reads_back() {
        let files = vec![
            ("dev".to_string(), 0o040755, Vec::new()),
            ("init".to_string(), 0o100755, b"\x7fELF...".to_vec()),
        ];
        let bytes = cpio(&files).unwrap();
        let mut rest = &bytes[..];
        let mut seen = Vec::new();
        loop {
            let mut r = cpio::newc::Reader::new(rest).unwrap();
            if r.entry().is_trailer() {
                break;
            }
            let e = r.entry().clone();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut r, &mut data).unwrap();
            seen.push((e.name().to_string(), e.mode(), e.rdev_major(), data));
            rest = r.finish().unwrap();
        }
        assert_eq!(seen.len(), 3);
        assert_eq!(
            seen[1],
            ("init".into(), 0o100755, 0, b"\x7fELF...".to_vec())
        );
        assert_eq!(seen[2].0, "dev/console");
        assert_eq!((seen[2].1, seen[2].2), (0o020600, 5));
        assert_eq!(bytes, cpio(&files).unwrap(), "not reproducible");
    }
}
