//! `linuxbench`: the `/init` of the initramfs that `cargo xtask bench --linux` boots
//! with Debian's arm64 Linux kernel on the project's QEMU machine. It runs the project's
//! bench workloads through Linux's real interfaces (udmabuf dma-bufs, their mmap,
//! `DMA_BUF_IOCTL_SYNC`, an `O_DIRECT` read from virtio-blk) and prints one
//! `BENCH {json}` line per measurement ([`record`]), then `BENCH-DONE`, and powers off.
//!
//! Figures are PMCCNTR_EL0 deltas read at EL0 ([`pmu`]); under QEMU
//! `-icount shift=0,sleep=off` they count retired instructions, user and kernel
//! together, like the project's. Every timed window is free of interrupts and task
//! switches ([`quiet`]), so the figures repeat exactly from boot to boot.
//!
//! Set-up, as PID 1: mount `/proc` and `/dev` (devtmpfs), load the kernel modules listed
//! in `/modules` (virtio-mmio and virtio-blk with their dependencies, in load order; the
//! Debian kernel has udmabuf built in), wait for `/dev/vda` and `/dev/udmabuf`, enable
//! user access to the PMU. On any failure it prints `linuxbench: error: ...` and powers
//! off without `BENCH-DONE`.

mod dmabuf;
mod frame_suite;
mod pmu;
mod quiet;
mod readback_suite;
mod record;
mod sync_suite;

use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::time::Duration;

/// Mount `fstype` from `source` on `target` (made if missing).
pub fn mount(source: &str, target: &str, fstype: &str) -> Result<(), String> {
    let _ = std::fs::create_dir_all(target);
    let c = |s: &str| CString::new(s).expect("no NUL");
    let (s, t, f) = (c(source), c(target), c(fstype));
    // SAFETY: NUL-terminated strings that outlive the call; no data argument.
    let r = unsafe { libc::mount(s.as_ptr(), t.as_ptr(), f.as_ptr(), 0, std::ptr::null()) };
    if r != 0 {
        return Err(format!(
            "mount {fstype} on {target}: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Load each module named in `/modules` (paths, one a line, dependencies first).
fn load_modules() -> Result<(), String> {
    let list = std::fs::read_to_string("/modules").map_err(|e| format!("/modules: {e}"))?;
    for path in list.lines().filter(|l| !l.trim().is_empty()) {
        let f = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
        // SAFETY: finit_module reads the module from the open fd; empty parameters.
        let r = unsafe { libc::syscall(libc::SYS_finit_module, f.as_raw_fd(), c"".as_ptr(), 0) };
        let err = std::io::Error::last_os_error();
        if r != 0 && err.raw_os_error() != Some(libc::EEXIST) {
            return Err(format!("loading {path}: {err}"));
        }
    }
    Ok(())
}

/// Wait up to 10 s (of guest time) for `path` to exist.
fn wait_for(path: &str) -> Result<(), String> {
    for _ in 0..1000 {
        if std::path::Path::new(path).exists() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(format!("{path} did not appear"))
}

fn run() -> Result<(), String> {
    mount("proc", "/proc", "proc")?;
    mount("devtmpfs", "/dev", "devtmpfs")?;
    load_modules()?;
    wait_for("/dev/vda")?;
    wait_for("/dev/udmabuf")?;
    let counter = pmu::CycleCounter::open()?;
    quiet::Detector::open()?;
    let t0 = pmu::now();
    let t1 = pmu::now();
    println!(
        "linuxbench: {}; PMCCNTR_EL0 readable at EL0 (perf event fd {}, back-to-back reads \
         {} apart)",
        std::fs::read_to_string("/proc/version")
            .unwrap_or_default()
            .trim(),
        counter.fd(),
        t1.wrapping_sub(t0)
    );
    let udmabuf = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/udmabuf")
        .map_err(|e| format!("/dev/udmabuf: {e}"))?;
    let fd = udmabuf.as_raw_fd();
    sync_suite::run(fd)?;
    readback_suite::run(fd)?;
    frame_suite::run(fd)?;
    println!("BENCH-DONE");
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        println!("linuxbench: error: {e}");
    }
    // SAFETY: sync and power off; PID 1 must not exit (the kernel would panic).
    unsafe {
        libc::sync();
        libc::reboot(libc::LINUX_REBOOT_CMD_POWER_OFF);
    }
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}
