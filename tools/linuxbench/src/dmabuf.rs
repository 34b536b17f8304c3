//! dma-bufs made by udmabuf from memfd pages, their mappings and `DMA_BUF_IOCTL_SYNC`.
//!
//! udmabuf (`drivers/dma-buf/udmabuf.c`) exports shmem pages of a sealed memfd as a
//! dma-buf; its `begin_cpu_access` / `end_cpu_access` (what `DMA_BUF_IOCTL_SYNC`
//! START / END call) do `dma_sync_sgtable_for_cpu` / `_for_device` on its misc device,
//! which has no `dma-coherent` property, so on arm64 START with READ or RW invalidates
//! every line of the buffer (`dcache_inval_poc`), START WRITE does nothing, and every END
//! cleans every line (`dcache_clean_poc`, `arch/arm64/mm/dma-mapping.c`). Linux's sync
//! has no byte range: it always covers the whole buffer. The first START maps the
//! scatter-gather table instead of syncing, so [`DmaBuf::new`] does one START/END pair
//! before anything is measured.

use crate::pmu::{check, timed_syscall_span};
use std::io;

/// `DMA_BUF_IOCTL_SYNC`: `_IOW('b', 0, struct dma_buf_sync)` (one u64).
const DMA_BUF_IOCTL_SYNC: u64 = 0x4008_6200;
/// `UDMABUF_CREATE`: `_IOW('u', 0x42, struct udmabuf_create)` (24 bytes).
const UDMABUF_CREATE: u64 = 0x4018_7542;

/// `DMA_BUF_SYNC_*` flags.
pub mod sync {
    /// CPU reads.
    pub const READ: u64 = 1;
    /// CPU writes.
    pub const WRITE: u64 = 2;
    /// Both.
    pub const RW: u64 = 3;
    /// Begin CPU access.
    pub const START: u64 = 0;
    /// End CPU access.
    pub const END: u64 = 4;
}

#[repr(C)]
struct UdmabufCreate {
    memfd: u32,
    flags: u32,
    offset: u64,
    size: u64,
}

/// A dma-buf of `size` bytes over a memfd, with both mapped read-write.
pub struct DmaBuf {
    /// The memfd holding the pages.
    pub memfd: i32,
    /// The dma-buf.
    pub fd: i32,
    /// Bytes.
    pub size: usize,
    /// The dma-buf's own mapping (`dma_buf_mmap`, cached): what the CPU draws into and
    /// reads from.
    pub map: *mut u8,
    /// The memfd's mapping of the same pages: where an O_DIRECT read puts device data.
    pub memfd_map: *mut u8,
}

fn os(what: &str) -> String {
    format!("{what}: {}", io::Error::last_os_error())
}

fn map(fd: i32, size: usize) -> Result<*mut u8, String> {
    // SAFETY: a fresh shared mapping of `fd`; the result is checked.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(os("mmap"));
    }
    Ok(p.cast())
}

impl DmaBuf {
    /// A udmabuf of `size` bytes (a multiple of 4 KiB) from `/dev/udmabuf`, mapped, its
    /// every page touched through the dma-buf mapping, and its scatter-gather table set
    /// up by a first START/END RW pair.
    pub fn new(udmabuf: i32, size: usize) -> Result<DmaBuf, String> {
        // SAFETY: the name is a NUL-terminated string; flags are valid.
        let memfd = unsafe { libc::memfd_create(c"bench".as_ptr(), libc::MFD_ALLOW_SEALING) };
        if memfd < 0 {
            return Err(os("memfd_create"));
        }
        // SAFETY: plain fd calls on the memfd just made.
        if unsafe { libc::ftruncate(memfd, size as i64) } != 0 {
            return Err(os("ftruncate"));
        }
        // SAFETY: as above; udmabuf requires F_SEAL_SHRINK.
        if unsafe { libc::fcntl(memfd, libc::F_ADD_SEALS, libc::F_SEAL_SHRINK) } != 0 {
            return Err(os("F_ADD_SEALS"));
        }
        let create = UdmabufCreate {
            memfd: memfd as u32,
            flags: 1, // UDMABUF_FLAGS_CLOEXEC
            offset: 0,
            size: size as u64,
        };
        // SAFETY: UDMABUF_CREATE reads the struct, which lives across the call.
        let fd = unsafe { libc::ioctl(udmabuf, UDMABUF_CREATE as _, &create) };
        if fd < 0 {
            return Err(os("UDMABUF_CREATE"));
        }
        let b = DmaBuf {
            memfd,
            fd,
            size,
            map: map(fd, size)?,
            memfd_map: map(memfd, size)?,
        };
        for page in (0..size).step_by(4096) {
            // SAFETY: inside the dma-buf's read-write mapping of `size` bytes.
            unsafe { b.map.add(page).write_volatile(0) };
        }
        b.sync(sync::START | sync::RW)?;
        b.sync(sync::END | sync::RW)?;
        Ok(b)
    }

    /// `DMA_BUF_IOCTL_SYNC` with `flags`, timed at its `svc`: returns its cycles.
    pub fn sync(&self, flags: u64) -> Result<u64, String> {
        let (start, end) = self.sync_span(flags)?;
        Ok(end.wrapping_sub(start))
    }

    /// [`DmaBuf::sync`] returning the raw counter values around its `svc`.
    pub fn sync_span(&self, flags: u64) -> Result<(u64, u64), String> {
        let arg = flags;
        // SAFETY: the ioctl reads one u64 at `&arg`, which lives across the call.
        let (r, start, end) = unsafe {
            timed_syscall_span(
                libc::SYS_ioctl,
                [
                    self.fd as u64,
                    DMA_BUF_IOCTL_SYNC,
                    &arg as *const u64 as u64,
                ],
            )
        };
        check("DMA_BUF_IOCTL_SYNC", r)?;
        Ok((start, end))
    }
}

impl Drop for DmaBuf {
    fn drop(&mut self) {
        // SAFETY: the two mappings and two fds this object made; nothing refers to them
        // after it is dropped.
        unsafe {
            libc::munmap(self.map.cast(), self.size);
            libc::munmap(self.memfd_map.cast(), self.size);
            libc::close(self.fd);
            libc::close(self.memfd);
        }
    }
}
