//! An end-to-end check of the driver against the real device, for in-kernel tests.

use super::{GpuDevice, GpuError};
use crate::drivers::virtio::dma::DmaRegion;
use alloc::vec::Vec;
use mm::addr::{PhysAddr, PAGE_SIZE};

/// virtio-gpu format B8G8R8X8 (`abi::format::B8G8R8X8`): a little-endian u32 0x__RRGGBB.
const FORMAT_B8G8R8X8: u32 = 2;
/// Test resource size: 64 x 64 pixels = 4 pages.
const SIZE: u32 = 64;

/// Pixel of the test pattern: red rising left to right, green top to bottom, blue 0x80.
fn pattern(x: u32, y: u32) -> u32 {
    ((x * 4) & 0xff) << 16 | ((y * 4) & 0xff) << 8 | 0x80
}

/// Create a 64x64 resource, back it with `dma_alloc` pages holding [`pattern`], present
/// it whole and then a sub-rectangle, poll for both fences, check the error paths
/// (unknown resource, bad rectangle, a format the device refuses) and release it.
///
/// Leaves scanout 0 disabled and the device idle (`completed == issued`). Polls, so it
/// works with interrupts masked.
pub fn selftest(dev: &mut GpuDevice) -> Result<(), GpuError> {
    let len = (SIZE * SIZE * 4) as usize;
    let mem = DmaRegion::for_bytes(len)?;
    for y in 0..SIZE {
        for x in 0..SIZE {
            mem.write(((y * SIZE + x) * 4) as usize, pattern(x, y))?;
        }
    }
    let pages: Vec<PhysAddr> = (0..len / PAGE_SIZE as usize)
        .map(|i| PhysAddr::new(mem.pa(i * PAGE_SIZE as usize)))
        .collect();

    let id = dev.create_resource(SIZE, SIZE, FORMAT_B8G8R8X8)?;
    let outcome = exercise(dev, id, &pages, len as u64);
    let released = dev.release(id);
    // Only now (release drained the device and detached the backing) may the pages go.
    drop(mem);
    outcome?;
    released?;
    if dev.present(id, 0, 0, 1, 1, SIZE * 4, SIZE, SIZE) != Err(GpuError::NotFound) {
        return Err(GpuError::InvalidArgument);
    }
    if dev.completed_fence() != dev.issued_fence() {
        return Err(GpuError::Timeout);
    }
    Ok(())
}

fn exercise(dev: &mut GpuDevice, id: u32, pages: &[PhysAddr], len: u64) -> Result<(), GpuError> {
    dev.attach_backing(id, pages, len)?;
    let first = dev.present(id, 0, 0, SIZE, SIZE, SIZE * 4, SIZE, SIZE)?;
    let second = dev.present(id, 8, 8, 16, 16, SIZE * 4, SIZE, SIZE)?;
    if second != first + 1 {
        return Err(GpuError::InvalidArgument);
    }
    wait_for(dev, second)?;
    if dev.fence_failed(first) || dev.fence_failed(second) {
        return Err(GpuError::Device(0));
    }
    // Refused by the driver, not the device.
    let outside = dev.present(id, 60, 0, 8, 1, SIZE * 4, SIZE, SIZE);
    if outside != Err(GpuError::InvalidArgument) {
        return Err(GpuError::InvalidArgument);
    }
    // Refused by the device: an error response, not a panic.
    match dev.create_resource(4, 4, 0xdead) {
        Err(GpuError::Device(t)) if t >= super::protocol::resp::ERR_UNSPEC => Ok(()),
        Ok(other) => {
            let _ = dev.release(other);
            Err(GpuError::InvalidArgument)
        }
        Err(e) => Err(e),
    }
}

/// Poll until `fence` completes (at most about two seconds).
fn wait_for(dev: &mut GpuDevice, fence: u64) -> Result<(), GpuError> {
    let deadline =
        platform::timer::now().saturating_add(platform::timer::frequency().saturating_mul(2));
    while dev.completed_fence() < fence {
        if platform::timer::now() > deadline {
            return Err(GpuError::Timeout);
        }
        dev.poll();
        core::hint::spin_loop();
    }
    Ok(())
}
