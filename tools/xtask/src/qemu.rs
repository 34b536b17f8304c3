//! Starting QEMU: the virt machine the kernel targets, with a virtio-gpu device (and an
//! optional virtio-blk disk), on the modern virtio-mmio transport or on PCI, and
//! semihosting for exit codes; `-kernel` boots or a `-bios` shim with raw loads; runs
//! with a timeout.

use crate::Result;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use crate::setup::QEMU;

/// One QEMU invocation.
#[derive(Clone)]
pub struct Machine {
    /// Kernel Image.
    pub kernel: PathBuf,
    /// Enter at EL2 (`virtualization=on`).
    pub el2: bool,
    /// GIC version (2 or 3).
    pub gic: u8,
    /// Kernel command line.
    pub append: String,
    /// A DTB to use instead of QEMU's own.
    pub dtb: Option<PathBuf>,
    /// The initrd (tar of user programs).
    pub initrd: Option<PathBuf>,
    /// Start paused with a gdbstub on :1234.
    pub gdb_paused: bool,
    /// Memory size.
    pub memory: &'static str,
    /// CPUs (`-smp`).
    pub smp: u32,
    /// QEMU display backend (`none`, `gtk`, `sdl`).
    pub display: &'static str,
    /// Serve QMP on this unix socket.
    pub qmp: Option<PathBuf>,
    /// The GPU `-device` argument (default `virtio-gpu-device`: 1280x800).
    pub gpu: String,
    /// Deterministic instruction counting (`-icount shift=0,sleep=off`): one virtual
    /// nanosecond per instruction, so PMCCNTR_EL0 counts retired instructions.
    pub icount: bool,
    /// A raw disk image attached as a virtio-blk device (`-drive ...,if=none,id=disk0
    /// -device virtio-blk-device,drive=disk0`).
    pub disk: Option<PathBuf>,
    /// More `-M virt` options (`,secure=on`, ...).
    pub machine_opts: String,
    /// Boot firmware instead of `-kernel`: this file as `-bios` (at flash address 0, where
    /// the CPU starts), with `loads` placed in memory raw (`-device loader`); no
    /// `-kernel`, `-append` or `-initrd` then.
    pub bios: Option<PathBuf>,
    /// Files loaded raw at physical addresses (with `bios`).
    pub loads: Vec<(PathBuf, u64)>,
    /// Arguments added at the end (another `-device`, ...).
    pub extra: Vec<String>,
    /// Put the GPU and the disk on PCI (`virtio-gpu-pci`, `virtio-blk-pci` behind the
    /// board's PCIe host) instead of virtio-mmio.
    pub pci: bool,
    /// `-device` arguments placed before the GPU's (buses the GPU or disk plug into:
    /// `pcie-root-port,id=rp0,...`).
    pub before: Vec<String>,
    /// Options appended to the disk's `-device` (`,bus=rp1`).
    pub disk_opts: String,
}

impl Machine {
    /// The default machine for `kernel`.
    pub fn new(kernel: &Path) -> Self {
        Self {
            kernel: kernel.to_path_buf(),
            el2: false,
            gic: 3,
            append: String::new(),
            dtb: None,
            initrd: None,
            gdb_paused: false,
            memory: "1G",
            smp: 1,
            display: "none",
            qmp: None,
            gpu: "virtio-gpu-device".into(),
            icount: false,
            disk: None,
            machine_opts: String::new(),
            bios: None,
            loads: Vec::new(),
            extra: Vec::new(),
            pci: false,
            before: Vec::new(),
            disk_opts: String::new(),
        }
    }

    /// The full argument list.
    pub fn args(&self) -> Vec<String> {
        let mut m = format!("virt,gic-version={}", self.gic);
        if self.el2 {
            m.push_str(",virtualization=on");
        }
        m.push_str(&self.machine_opts);
        let gpu = if self.pci {
            self.gpu.replacen("virtio-gpu-device", "virtio-gpu-pci", 1)
        } else {
            self.gpu.clone()
        };
        let smp = self.smp.to_string();
        let mut a: Vec<String> = [
            "-M",
            &m,
            "-cpu",
            "cortex-a72",
            "-m",
            self.memory,
            "-smp",
            &smp,
            "-display",
            self.display,
            "-serial",
            "stdio",
            "-monitor",
            "none",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend(self.before.iter().cloned());
        a.extend(
            [
                "-device",
                &gpu,
                "-global",
                "virtio-mmio.force-legacy=false",
                "-semihosting-config",
                "enable=on,target=native",
                "-no-reboot",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        if self.icount {
            a.extend(["-icount".into(), "shift=0,sleep=off".into()]);
        }
        if let Some(bios) = &self.bios {
            a.extend(["-bios".into(), bios.display().to_string()]);
            for (file, addr) in &self.loads {
                a.extend([
                    "-device".into(),
                    format!("loader,file={},addr={addr:#x},force-raw=on", file.display()),
                ]);
            }
        } else {
            a.extend(["-kernel".into(), self.kernel.display().to_string()]);
            a.extend(["-append".into(), self.append.clone()]);
            if let Some(rd) = &self.initrd {
                a.extend(["-initrd".into(), rd.display().to_string()]);
            }
        }
        if let Some(disk) = &self.disk {
            a.extend([
                "-drive".into(),
                // Read-only: the capture disk is an input, and two QEMUs may share it.
                format!(
                    "file={},if=none,format=raw,id=disk0,readonly=on",
                    disk.display()
                ),
                "-device".into(),
                if self.pci {
                    format!("virtio-blk-pci,drive=disk0{}", self.disk_opts)
                } else {
                    format!("virtio-blk-device,drive=disk0{}", self.disk_opts)
                },
            ]);
        }
        if let Some(dtb) = &self.dtb {
            a.extend(["-dtb".into(), dtb.display().to_string()]);
        }
        if let Some(qmp) = &self.qmp {
            a.extend([
                "-qmp".into(),
                format!("unix:{},server=on,wait=off", qmp.display()),
            ]);
        }
        if self.gdb_paused {
            a.extend(["-s".into(), "-S".into()]);
        }
        a.extend(self.extra.iter().cloned());
        a
    }

    /// A `Command` for this machine (QEMU installed if missing).
    pub fn command(&self) -> Result<Command> {
        crate::setup::qemu()?;
        let mut c = Command::new(QEMU);
        c.args(self.args());
        Ok(c)
    }

    /// Start in the background (for gdb).
    pub fn spawn_background(&self) -> Result<Child> {
        self.command()?
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("{QEMU}: {e}"))
    }

    /// Run headless with output captured, killing QEMU after `timeout`.
    pub fn run_captured(&self, timeout: Duration) -> Result<Outcome> {
        let mut child = self
            .command()?
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("{QEMU}: {e}"))?;
        let mut stdout = child.stdout.take().expect("piped");
        let mut stderr = child.stderr.take().expect("piped");
        let out_thread = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = stdout.read_to_end(&mut v);
            v
        });
        let err_thread = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = stderr.read_to_end(&mut v);
            v
        });
        let start = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
                break Some(s.code().unwrap_or(-1));
            }
            if start.elapsed() > timeout {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut output =
            String::from_utf8_lossy(&out_thread.join().unwrap_or_default()).into_owned();
        output.push_str(&String::from_utf8_lossy(
            &err_thread.join().unwrap_or_default(),
        ));
        Ok(Outcome {
            status,
            output,
            elapsed: start.elapsed(),
        })
    }
}

/// What a captured run produced.
pub struct Outcome {
    /// Exit status, `None` if killed by the timeout.
    pub status: Option<i32>,
    /// Serial output and QEMU's own messages.
    pub output: String,
    /// Wall time (for the runner's report only).
    pub elapsed: Duration,
}

/// The display backend for `--window`: `gtk` or `sdl`, whichever this QEMU has (and only
/// if there is a graphical session); otherwise `none`, with a message saying why.
pub fn window_display() -> &'static str {
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        eprintln!("xtask: --window: no DISPLAY or WAYLAND_DISPLAY; running headless");
        return "none";
    }
    let listed = Command::new(QEMU)
        .args(["-display", "help"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let has = |d: &str| listed.lines().any(|l| l.trim() == d);
    for d in ["gtk", "sdl"] {
        if has(d) {
            return d;
        }
    }
    eprintln!(
        "xtask: --window: this QEMU has neither the gtk nor the sdl display \
         (Debian: apt-get install qemu-system-gui); running headless"
    );
    "none"
}
