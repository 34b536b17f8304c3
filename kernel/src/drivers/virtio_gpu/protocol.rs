//! virtio-gpu 2D control commands and responses (virtio 1.2, section 5.7.6).
//!
//! Every struct is `repr(C)` with explicit padding fields, little-endian like the
//! device (checked below), and exactly the size the spec gives.

use crate::drivers::virtio::dma::Pod;
use mm::addr::{PhysAddr, PAGE_SIZE};

const _: () = assert!(
    cfg!(target_endian = "little"),
    "virtio structures are little-endian"
);

/// Command types.
pub mod cmd {
    /// VIRTIO_GPU_CMD_GET_DISPLAY_INFO.
    pub const GET_DISPLAY_INFO: u32 = 0x0100;
    /// VIRTIO_GPU_CMD_RESOURCE_CREATE_2D.
    pub const RESOURCE_CREATE_2D: u32 = 0x0101;
    /// VIRTIO_GPU_CMD_RESOURCE_UNREF.
    pub const RESOURCE_UNREF: u32 = 0x0102;
    /// VIRTIO_GPU_CMD_SET_SCANOUT.
    pub const SET_SCANOUT: u32 = 0x0103;
    /// VIRTIO_GPU_CMD_RESOURCE_FLUSH.
    pub const RESOURCE_FLUSH: u32 = 0x0104;
    /// VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D.
    pub const TRANSFER_TO_HOST_2D: u32 = 0x0105;
    /// VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING.
    pub const RESOURCE_ATTACH_BACKING: u32 = 0x0106;
    /// VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING.
    pub const RESOURCE_DETACH_BACKING: u32 = 0x0107;
}

/// Response types.
pub mod resp {
    /// VIRTIO_GPU_RESP_OK_NODATA.
    pub const OK_NODATA: u32 = 0x1100;
    /// VIRTIO_GPU_RESP_OK_DISPLAY_INFO.
    pub const OK_DISPLAY_INFO: u32 = 0x1101;
    #[cfg_attr(not(feature = "ktest"), allow(dead_code))] // used by the GPU selftest (ktest)
    /// First error response (VIRTIO_GPU_RESP_ERR_UNSPEC).
    pub const ERR_UNSPEC: u32 = 0x1200;

    /// Human-readable name of a response type.
    pub fn name(t: u32) -> &'static str {
        match t {
            0 => "no response written",
            0x1100 => "OK_NODATA",
            0x1101 => "OK_DISPLAY_INFO",
            0x1102 => "OK_CAPSET_INFO",
            0x1103 => "OK_CAPSET",
            0x1104 => "OK_EDID",
            0x1200 => "ERR_UNSPEC",
            0x1201 => "ERR_OUT_OF_MEMORY",
            0x1202 => "ERR_INVALID_SCANOUT_ID",
            0x1203 => "ERR_INVALID_RESOURCE_ID",
            0x1204 => "ERR_INVALID_CONTEXT_ID",
            0x1205 => "ERR_INVALID_PARAMETER",
            _ => "unknown response",
        }
    }
}

/// Most mem entries one RESOURCE_ATTACH_BACKING may carry (QEMU's limit).
pub const MAX_MEM_ENTRIES: usize = 16384;

/// Most scanouts a display info response describes.
pub const MAX_SCANOUTS: usize = 16;

/// struct virtio_gpu_ctrl_hdr.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct CtrlHdr {
    /// Command or response type.
    pub type_: u32,
    /// VIRTIO_GPU_FLAG_* (this driver sets none: the used ring is its fence).
    pub flags: u32,
    /// Fence id (unused without VIRTIO_GPU_FLAG_FENCE).
    pub fence_id: u64,
    /// 3D context (0 for 2D).
    pub ctx_id: u32,
    /// Ring index (unused).
    pub ring_idx: u8,
    /// Padding.
    pub padding: [u8; 3],
}

impl CtrlHdr {
    /// A header for command `type_`.
    pub const fn new(type_: u32) -> Self {
        Self {
            type_,
            flags: 0,
            fence_id: 0,
            ctx_id: 0,
            ring_idx: 0,
            padding: [0; 3],
        }
    }
}

/// struct virtio_gpu_rect.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rect {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

/// RESOURCE_CREATE_2D.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ResourceCreate2d {
    /// Header.
    pub hdr: CtrlHdr,
    /// New resource id (non-zero).
    pub resource_id: u32,
    /// VIRTIO_GPU_FORMAT_*.
    pub format: u32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// RESOURCE_UNREF and RESOURCE_DETACH_BACKING (same layout).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ResourceOnly {
    /// Header.
    pub hdr: CtrlHdr,
    /// Resource id.
    pub resource_id: u32,
    /// Padding.
    pub padding: u32,
}

/// SET_SCANOUT.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SetScanout {
    /// Header.
    pub hdr: CtrlHdr,
    /// Part of the resource shown.
    pub r: Rect,
    /// Scanout index.
    pub scanout_id: u32,
    /// Resource id (0 disables the scanout).
    pub resource_id: u32,
}

/// RESOURCE_FLUSH.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ResourceFlush {
    /// Header.
    pub hdr: CtrlHdr,
    /// Rectangle to flush (resource coordinates).
    pub r: Rect,
    /// Resource id.
    pub resource_id: u32,
    /// Padding.
    pub padding: u32,
}

/// TRANSFER_TO_HOST_2D.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct TransferToHost2d {
    /// Header.
    pub hdr: CtrlHdr,
    /// Rectangle to copy (resource coordinates).
    pub r: Rect,
    /// Byte offset in the backing of the rectangle's first pixel.
    pub offset: u64,
    /// Resource id.
    pub resource_id: u32,
    /// Padding.
    pub padding: u32,
}

/// RESOURCE_ATTACH_BACKING (followed by `nr_entries` [`MemEntry`]s).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct AttachBacking {
    /// Header.
    pub hdr: CtrlHdr,
    /// Resource id.
    pub resource_id: u32,
    /// Number of entries that follow.
    pub nr_entries: u32,
}

/// struct virtio_gpu_mem_entry.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemEntry {
    /// Physical address.
    pub addr: u64,
    /// Length in bytes.
    pub length: u32,
    /// Padding.
    pub padding: u32,
}

/// struct virtio_gpu_display_one.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct DisplayOne {
    /// Preferred position and size.
    pub r: Rect,
    /// Non-zero if the display is enabled.
    pub enabled: u32,
    /// Flags.
    pub flags: u32,
}

/// struct virtio_gpu_resp_display_info.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RespDisplayInfo {
    /// Header (OK_DISPLAY_INFO).
    pub hdr: CtrlHdr,
    /// One entry per possible scanout.
    pub pmodes: [DisplayOne; MAX_SCANOUTS],
}

macro_rules! pod {
    ($($t:ty = $size:expr),* $(,)?) => {$(
        const _: () = assert!(core::mem::size_of::<$t>() == $size);
        // SAFETY: repr(C), integer fields only, explicit padding fields: the size assert
        // beside this impl shows there are no implicit padding bytes.
        unsafe impl Pod for $t {}
    )*};
}

pod! {
    CtrlHdr = 24,
    Rect = 16,
    ResourceCreate2d = 40,
    ResourceOnly = 32,
    SetScanout = 48,
    ResourceFlush = 48,
    TransferToHost2d = 56,
    AttachBacking = 32,
    MemEntry = 16,
    DisplayOne = 24,
    RespDisplayInfo = 408,
}

/// Largest single mem entry: a u32 length, kept page-aligned.
const MAX_ENTRY_LEN: u64 = (u32::MAX as u64) & !(PAGE_SIZE - 1);

/// Turn the first `len` bytes of a list of pages into mem entries, merging physically
/// adjacent pages; calls `emit` for each entry in order and returns how many there
/// were. `None` if a page is not page-aligned or `len` is 0 or more than the pages hold.
pub fn coalesce(pages: &[PhysAddr], len: u64, mut emit: impl FnMut(MemEntry)) -> Option<usize> {
    let capacity = (pages.len() as u64).checked_mul(PAGE_SIZE)?;
    if len == 0 || len > capacity || pages.iter().any(|p| !p.is_aligned(PAGE_SIZE)) {
        return None;
    }
    let mut remaining = len;
    let mut count = 0;
    let mut run: Option<(u64, u64)> = None; // (start, length)
    for page in pages {
        if remaining == 0 {
            break;
        }
        let take = remaining.min(PAGE_SIZE);
        remaining -= take;
        let pa = page.as_u64();
        run = match run {
            Some((start, n)) if start.checked_add(n) == Some(pa) && n + take <= MAX_ENTRY_LEN => {
                Some((start, n + take))
            }
            Some((start, n)) => {
                emit(entry(start, n));
                count += 1;
                Some((pa, take))
            }
            None => Some((pa, take)),
        };
    }
    if let Some((start, n)) = run {
        emit(entry(start, n));
        count += 1;
    }
    Some(count)
}

fn entry(addr: u64, length: u64) -> MemEntry {
    MemEntry {
        addr,
        // Runs are capped at MAX_ENTRY_LEN, which fits in a u32.
        length: u32::try_from(length).unwrap_or(u32::MAX),
        padding: 0,
    }
}
