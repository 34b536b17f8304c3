//! Suite `readback`: the block device writes 1 MiB into a udmabuf, then the CPU reads it
//! (the project's readback suite, `userland/bench/src/readback_suite.rs`: the same 2048
//! sectors from sector 0 of the capture disk into the first 1 MiB of a 1920x1080x4
//! buffer, the same `read` loop of 16-byte `ldp` loads, one warm-up then [`REPS`]).
//!
//! The device write is an `O_DIRECT` `read(2)` of `/dev/vda` (virtio-blk) into the
//! memfd's mapping of the buffer's pages, so virtio-blk's DMA lands in the very pages the
//! dma-buf exports. Linux's `read` returns only when the device has finished (it
//! includes the wait and the completion interrupt, whose arrival depends on the host),
//! unlike the project's `blk_read`, which returns a fence: `device_cycles_min` /
//! `device_cycles_max` are the range over the measured readbacks, host-dependent and
//! outside `cycles`. Then, in a quiet window: `linux-ioctl` does START READ (invalidates
//! the whole buffer: no ranged sync), the read through the dma-buf mapping, END READ
//! (which cleans the whole buffer); `linux-mmap-nosync` only reads. `cycles` =
//! `sync_cycles` + `read_cycles`, whose `windows` the record prints (not the device
//! write's: it is outside `cycles`). Every read is checked against the disk's bytes read
//! the ordinary way at the start.

use crate::dmabuf::sync::{END, READ, START};
use crate::dmabuf::DmaBuf;
use crate::frame_suite::FRAME_BYTES;
use crate::pmu::{check, now, timed_syscall};
use crate::quiet::{until_quiet, Totals, Window};
use crate::record::{cycles, Record, READ_PHASE, SYNC_PHASE};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;

/// Bytes the device writes and the CPU reads.
pub const READ_BYTES: usize = 1 << 20;
/// Readbacks measured after the warm-up (the project's).
pub const REPS: u64 = 3;
/// The disk.
pub const DISK: &str = "/dev/vda";

/// XOR of the 64-bit words of `[p, p + len)` with the project's `read` loop.
///
/// # Safety
///
/// `[p, p + len)` must be readable, `p` 16-byte aligned, `len` a non-zero multiple of 64.
#[inline(never)]
unsafe fn read(p: *const u8, len: usize) -> u64 {
    let blocks = len / 64;
    let (mut a, mut b) = (0u64, 0u64);
    // SAFETY: the loads stay inside the range (the caller's contract), 16-byte aligned.
    unsafe {
        core::arch::asm!(
            "1:",
            "ldp {t0}, {t1}, [{p}]",
            "ldp {t2}, {t3}, [{p}, #16]",
            "eor {a}, {a}, {t0}",
            "eor {b}, {b}, {t1}",
            "ldp {t0}, {t1}, [{p}, #32]",
            "eor {a}, {a}, {t2}",
            "eor {b}, {b}, {t3}",
            "ldp {t2}, {t3}, [{p}, #48]",
            "eor {a}, {a}, {t0}",
            "eor {b}, {b}, {t1}",
            "eor {a}, {a}, {t2}",
            "eor {b}, {b}, {t3}",
            "add {p}, {p}, #64",
            "subs {n}, {n}, #1",
            "b.ne 1b",
            p = inout(reg) p => _,
            n = inout(reg) blocks => _,
            a = inout(reg) a,
            b = inout(reg) b,
            t0 = out(reg) _,
            t1 = out(reg) _,
            t2 = out(reg) _,
            t3 = out(reg) _,
            options(nostack, readonly)
        );
    }
    a ^ b
}

/// The XOR of the disk's first [`READ_BYTES`], read through the page cache.
fn disk_checksum() -> Result<u64, String> {
    let mut bytes = vec![0u8; READ_BYTES];
    std::fs::File::open(DISK)
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| format!("{DISK}: {e}"))?;
    Ok(bytes
        .chunks_exact(8)
        .map(|w| u64::from_le_bytes(w.try_into().expect("8 bytes")))
        .fold(0, |a, w| a ^ w))
}

/// The device write: `O_DIRECT` read of the disk's first MiB into `buf`'s pages; its
/// cycles.
fn device_write(disk: &std::fs::File, buf: &DmaBuf) -> Result<u64, String> {
    use std::os::fd::AsRawFd;
    // SAFETY: plain lseek on the disk's fd.
    if unsafe { libc::lseek(disk.as_raw_fd(), 0, libc::SEEK_SET) } != 0 {
        return Err("lseek on the disk failed".into());
    }
    // SAFETY: read(2) writes READ_BYTES into the memfd mapping, which is that large
    // (at least) and writable; nothing else refers to those bytes during the call.
    let (r, cycles) = unsafe {
        timed_syscall(
            libc::SYS_read,
            [
                disk.as_raw_fd() as u64,
                buf.memfd_map as u64,
                READ_BYTES as u64,
            ],
        )
    };
    match check("O_DIRECT read of the disk", r)? {
        n if n as usize == READ_BYTES => Ok(cycles),
        n => Err(format!("O_DIRECT read of the disk: {n} bytes")),
    }
}

/// The CPU side's timed windows (raw counter values): the START and END READ ioctls
/// (if it syncs) and the read.
#[derive(Clone, Copy)]
struct Consume {
    start: Option<(u64, u64)>,
    read: (u64, u64),
    end: Option<(u64, u64)>,
}

impl Consume {
    /// `(sync, read)` cycles.
    fn cycles(&self) -> (u64, u64) {
        let sync = [self.start, self.end]
            .into_iter()
            .flatten()
            .map(cycles)
            .sum();
        (sync, self.read.1 - self.read.0)
    }

    /// Its windows, `(phase, start, end)`, in the order they were timed.
    fn windows(&self) -> impl Iterator<Item = (u8, u64, u64)> {
        let sync = |w: Option<(u64, u64)>| w.map(|(s, e)| (SYNC_PHASE, s, e));
        sync(self.start)
            .into_iter()
            .chain([(READ_PHASE, self.read.0, self.read.1)])
            .chain(sync(self.end))
    }
}

/// The CPU side; fails if it read anything but the disk's bytes.
fn consume(buf: &DmaBuf, syncs: bool, want: u64) -> Result<Consume, String> {
    let start = if syncs {
        Some(buf.sync_span(START | READ)?)
    } else {
        None
    };
    let t0 = now();
    // SAFETY: the dma-buf mapping is readable, page-aligned and FRAME_BYTES long.
    let sum = unsafe { read(buf.map, READ_BYTES) };
    let t1 = now();
    let end = if syncs {
        Some(buf.sync_span(END | READ)?)
    } else {
        None
    };
    if sum != want {
        return Err(format!(
            "read checksum {sum:#018x}, the disk's is {want:#018x}"
        ));
    }
    Ok(Consume {
        start,
        read: (t0, t1),
        end,
    })
}

/// Run the suite (needs the capture disk as `/dev/vda`).
pub fn run(udmabuf: i32) -> Result<(), String> {
    let want = disk_checksum()?;
    let disk = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(DISK)
        .map_err(|e| format!("{DISK} (O_DIRECT): {e}"))?;
    for (variant, syncs) in [("linux-ioctl", true), ("linux-mmap-nosync", false)] {
        let buf = DmaBuf::new(udmabuf, FRAME_BYTES as usize)?;
        let (mut totals, mut sync, mut read) = (Totals::default(), 0, 0);
        let (mut dmin, mut dmax) = (u64::MAX, 0);
        let mut windows = Vec::with_capacity(3 * REPS as usize);
        for n in 0..=REPS {
            // Clear the bytes, so a read that missed the device's write would fail.
            // SAFETY: inside the memfd's writable mapping.
            unsafe { std::ptr::write_bytes(buf.memfd_map, 0, READ_BYTES) };
            let device = device_write(&disk, &buf)?;
            let (c, span, thrown) = until_quiet(variant, || {
                let win = Window::open()?;
                let c = consume(&buf, syncs, want)?;
                Ok((c, win.close()?))
            })?;
            if n == 0 {
                continue; // the warm-up readback
            }
            let (s, r) = c.cycles();
            windows.extend(c.windows());
            dmin = dmin.min(device);
            dmax = dmax.max(device);
            totals.reps += 1;
            totals.cycles += s + r;
            totals.faults += span.faults;
            totals.syscalls += if syncs { 2 } else { 0 };
            totals.thrown += u64::from(thrown);
            sync += s;
            read += r;
        }
        Record {
            suite: "readback",
            case: "1MiB",
            variant,
            size: READ_BYTES as u64,
            totals,
            extra: vec![
                ("sync_cycles", sync / REPS),
                ("read_cycles", read / REPS),
                ("device_cycles_min", dmin),
                ("device_cycles_max", dmax),
            ],
            windows,
        }
        .print();
    }
    Ok(())
}
