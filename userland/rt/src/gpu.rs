//! The GPU calls (SYSCALLS.md 20..23): display size, importing a buffer as a virtio-gpu
//! resource, presenting a rectangle of it, and waiting for the returned fence.

use crate::calls::call;
use crate::Result;
use abi::{Handle, Sys};

/// A fence from [`gpu_present`]: signals when the device has done that work. Fences
/// signal in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fence(pub u64);

/// `gpu_display_info()`: `(width, height)` of scanout 0. `NotSupported` without a GPU.
pub fn gpu_display_info() -> Result<(u32, u32)> {
    call(Sys::GpuDisplayInfo, [0; 6]).map(|(w, h)| (w as u32, h as u32))
}

/// `gpu_import(buffer, width, height, format)`: make `buffer` (which needs `DEVICE`) the
/// backing of a new `width` x `height` GPU resource in `format` (from
/// [`abi::format`]; 4 bytes per pixel, rows `width * 4` bytes apart). Returns the
/// resource handle (`SHARE | DEVICE`).
pub fn gpu_import(buffer: Handle, width: u32, height: u32, format: u64) -> Result<Handle> {
    call(
        Sys::GpuImport,
        [buffer.0 as u64, width as u64, height as u64, format, 0, 0],
    )
    .map(|(h, _)| Handle(h as u32))
}

/// `gpu_present(resource, x, y, width, height)`: send that rectangle of the resource's
/// buffer (as it is in memory: END WRITE first) to the device and show it on scanout 0.
/// Returns at once with the [`Fence`] of that work.
pub fn gpu_present(resource: Handle, x: u32, y: u32, width: u32, height: u32) -> Result<Fence> {
    call(
        Sys::GpuPresent,
        [
            resource.0 as u64,
            x as u64,
            y as u64,
            width as u64,
            height as u64,
            0,
        ],
    )
    .map(|(f, _)| Fence(f))
}

/// `fence_wait(fence, timeout_ns)`: block until `fence` signals (`timeout_ns` 0 = just
/// poll; at most [`abi::limits::MAX_TIMEOUT_NS`]). `TimedOut` if it did not in time,
/// `DeviceError` if the work failed.
pub fn fence_wait(fence: Fence, timeout_ns: u64) -> Result<()> {
    call(Sys::FenceWait, [fence.0, timeout_ns, 0, 0, 0, 0]).map(drop)
}

/// `gpu_map_offset(resource)`: the resource's fake mmap offset for [`gpu_mmap`] (the
/// legacy path, like DRM's MAP_DUMB).
pub fn gpu_map_offset(resource: Handle) -> Result<u64> {
    call(Sys::GpuMapOffset, [resource.0 as u64, 0, 0, 0, 0, 0]).map(|(o, _)| o)
}

/// `gpu_mmap(offset, len, prot, policy)`: map `len` bytes of a resource's buffer from its
/// fake `offset` through the GPU driver (forwarded to the buffer's exporter). `policy`
/// is from [`abi::legacy`]. There is no sync call on this path: the kernel keeps the
/// mapping coherent by itself. Unmap with [`crate::buffer_unmap`].
pub fn gpu_mmap(offset: u64, len: u64, prot: u64, policy: u64) -> Result<*mut u8> {
    call(Sys::GpuMmap, [offset, len, prot, policy, 0, 0]).map(|(a, _)| a as *mut u8)
}
