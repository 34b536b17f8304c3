//! What a fresh machine lacks, installed on first use: the bare-metal Rust targets of
//! `rust-toolchain.toml` (rustup adds them only when it installs the toolchain itself,
//! not when the toolchain is already there), QEMU (Debian's 10.x from bookworm-backports:
//! its TCG plugin API reads guest registers, which the coherency sanitizer needs) and
//! the other host tools a command uses. Each install says so in one line; where xtask
//! cannot install (no rustup, not root, no apt-get) it prints the exact command instead.

use crate::Result;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The workspace root, found at run time by cargo's own lookup from the current
/// directory (never from a path baked in at compile time, so a copy of the tree acts on
/// itself).
pub fn root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let out = Command::new(cargo())
            .args(["locate-project", "--workspace", "--message-format", "plain"])
            .output();
        match out {
            Ok(o) if o.status.success() => {
                let manifest = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
                manifest.parent().map(Path::to_path_buf).unwrap_or(manifest)
            }
            _ => {
                eprintln!(
                    "xtask: error: not inside the workspace (cargo locate-project failed); \
                     run cargo xtask from the project's directory"
                );
                std::process::exit(1)
            }
        }
    })
}

/// The cargo that runs us (rustup's proxy sets `CARGO`), or `cargo` from the PATH.
pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// The `targets = [...]` of `rust-toolchain.toml`.
fn pinned_targets(root: &Path) -> Result<Vec<String>> {
    let path = root.join("rust-toolchain.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let doc: toml::Table = text
        .parse()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(doc
        .get("toolchain")
        .and_then(|t| t.get("targets"))
        .and_then(|t| t.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default())
}

/// Make sure the active toolchain has every target `rust-toolchain.toml` pins; install
/// the missing ones with rustup (once per xtask run).
pub fn targets() -> Result<()> {
    static DONE: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        let root = root();
        let wanted = pinned_targets(root)?;
        let sysroot = Command::new("rustc")
            .current_dir(root)
            .args(["--print", "sysroot"])
            .output()
            .map_err(|e| format!("running rustc: {e}"))?;
        let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
        let missing: Vec<&str> = wanted
            .iter()
            .map(String::as_str)
            .filter(|t| !sysroot.join("lib/rustlib").join(t).join("lib").is_dir())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let command = format!("rustup target add {}", missing.join(" "));
        if !which("rustup") {
            return Err(format!(
                "the Rust targets {} are missing and rustup is not installed; \
                 install them for this toolchain, e.g. with:\n    {command}",
                missing.join(", ")
            ));
        }
        eprintln!("xtask: installing the missing Rust targets: {command}");
        let ok = Command::new("rustup")
            .current_dir(root)
            .args(["target", "add"])
            .args(&missing)
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            Ok(())
        } else {
            Err(format!(
                "`{command}` failed; run it by hand in {}",
                root.display()
            ))
        }
    })
    .clone()
}

/// The QEMU major version this project needs: 10 (Debian bookworm-backports). Its TCG
/// plugin API can read guest registers (DC operands), which 7.2's cannot.
pub const QEMU_MAJOR: u32 = 10;

/// The QEMU binary.
pub const QEMU: &str = "qemu-system-aarch64";

/// `qemu-system-aarch64 --version`'s major number, if QEMU runs.
fn qemu_major() -> Option<u32> {
    let out = Command::new(QEMU).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let v = text.split("version ").nth(1)?;
    v.split('.').next()?.trim().parse().ok()
}

/// Make sure QEMU >= [`QEMU_MAJOR`] is installed (once per xtask run); on Debian
/// bookworm as root, add the bookworm-backports suite and install it from there.
pub fn qemu() -> Result<()> {
    static DONE: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        match qemu_major() {
            Some(v) if v >= QEMU_MAJOR => return Ok(()),
            Some(v) => eprintln!("xtask: {QEMU} is version {v}; this project needs {QEMU_MAJOR}.x"),
            None => {}
        }
        let script = qemu_install_script();
        if is_root() && which("apt-get") {
            eprintln!("xtask: installing QEMU {QEMU_MAJOR} (Debian qemu-system-arm from bookworm-backports)");
            let ok = Command::new("sh")
                .args(["-c", &script])
                .status()
                .is_ok_and(|s| s.success());
            if ok && qemu_major().is_some_and(|v| v >= QEMU_MAJOR) {
                return Ok(());
            }
        }
        Err(format!(
            "QEMU {QEMU_MAJOR}.x ({QEMU}) is needed. On Debian bookworm install it with:\n    \
             echo 'deb http://deb.debian.org/debian bookworm-backports main' | \
             sudo tee /etc/apt/sources.list.d/bookworm-backports.list\n    \
             sudo apt-get update && sudo apt-get install -t bookworm-backports qemu-system-arm"
        ))
    })
    .clone()
}

/// Shell commands that install QEMU 10 on Debian: on bookworm
/// from the bookworm-backports suite (added to apt's sources if missing), on later
/// releases from the release itself.
fn qemu_install_script() -> String {
    "set -e; . /etc/os-release; T=; \
     if [ \"$VERSION_CODENAME\" = bookworm ]; then T='-t bookworm-backports'; \
     grep -qrs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/ || \
     echo 'deb http://deb.debian.org/debian bookworm-backports main' \
     > /etc/apt/sources.list.d/bookworm-backports.list; fi; \
     apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $T qemu-system-arm"
        .to_string()
}

/// Make sure a host tool exists; as root with apt-get, install its Debian package.
pub fn tool(tool: &str, package: &str) -> Result<()> {
    if which(tool) {
        return Ok(());
    }
    if is_root() && which("apt-get") {
        eprintln!("xtask: {tool} not found; installing Debian package {package}");
        let ok = Command::new("sh")
            .args(["-c", &format!("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {package}")])
            .status()
            .is_ok_and(|s| s.success());
        if ok && which(tool) {
            return Ok(());
        }
    }
    Err(format!(
        "{tool} is not installed. Install it with:\n    sudo apt-get install {package}"
    ))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

fn which(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}
