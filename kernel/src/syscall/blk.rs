//! Block-device syscalls: the disk's size, and reading sectors straight into a buffer
//! object's pages (a capture: the device writes the buffer), with the misuse detector.

use super::buffer::{clean_then, preempt, zap_legacy, Finish};
use super::{object, Outcome, SysResult};
use crate::arch::cache;
use crate::blk;
use crate::buffer::job::{Job, Plan};
use crate::buffer::{trace, Buffer};
use crate::drivers::virtio_blk::BlkError;
use crate::task::object::Object;
use crate::task::Kernel;
use abi::{limits, Error, Rights};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use mm::addr::{PhysAddr, PAGE_SIZE};

fn device_error(e: BlkError) -> Error {
    log::warn!("blk: {e}");
    match e {
        BlkError::NoMemory => Error::NoMemory,
        BlkError::OutOfRange => Error::OutOfRange,
        _ => Error::DeviceError,
    }
}

/// `blk_info() -> (sectors, sector_size)`.
pub(super) fn info() -> SysResult {
    let sectors = blk::with(|d| d.capacity()).ok_or(Error::NotSupported)?;
    Ok(Outcome::Done(sectors, limits::SECTOR))
}

/// The misuse detector's question for a device write: how many tasks have a START open
/// on `buf` (a holder could write its cache lines back over the device's data, or read
/// half of it), if the hand-over is not ready.
fn cpu_holders(buf: &Buffer) -> Option<u32> {
    let holders = buf.cpu_holders();
    let ready = coherency::plan_device_write_handover(holders > 0) == coherency::Handover::Ready;
    (!ready).then_some(holders)
}

/// `blk_read`'s arguments, checked in the documented order, and the misuse check: the
/// buffer and the byte range the device writes.
fn read_args(k: &mut Kernel, id: u32, a: [u64; 6]) -> Result<(Arc<Buffer>, u64, u64), Error> {
    let (h, offset, sector, count) = (a[0], a[1], a[2], a[3]);
    let capacity = blk::with(|d| d.capacity()).ok_or(Error::NotSupported)?;
    let (obj, rights) = object(k, id, h)?;
    let Object::Buffer(buf) = obj else {
        return Err(Error::WrongType);
    };
    if !rights.contains(Rights::DEVICE_WRITE) {
        return Err(Error::AccessDenied);
    }
    if count == 0 || count > limits::MAX_BLK_SECTORS || !offset.is_multiple_of(limits::SECTOR) {
        return Err(Error::InvalidArgument);
    }
    let len = count * limits::SECTOR;
    let past_buffer = offset.checked_add(len).is_none_or(|end| end > buf.size);
    let past_disk = sector.checked_add(count).is_none_or(|end| end > capacity);
    if past_buffer || past_disk {
        return Err(Error::OutOfRange);
    }
    // A task with a START open could write its cache lines back over the device's data,
    // or read half of it.
    if let Some(holders) = cpu_holders(&buf) {
        if crate::buffer::misuse_strict() {
            return Err(Error::Busy);
        }
        log::warn!(
            "misuse: device write into buffer {} while {holders} task(s) have a START open on it",
            buf.id
        );
    }
    Ok((buf, offset, len))
}

/// `blk_read(buffer, offset, sector, count) -> fence`: the checks, then the legacy
/// mappings' zap, then the clean of the lines the device will write that the CPU may hold
/// dirty (rule (a): evicted later, they would land on the device's bytes), in bounded
/// steps, then the device is told ([`read_notify`]).
pub(super) fn read(k: &mut Kernel, id: u32, a: [u64; 6]) -> SysResult {
    let (buf, offset, len) = read_args(k, id, a)?;
    buf.device_party.store(true, Ordering::Relaxed);
    // The legacy path has no sync calls: zap its PTEs; its written pages become dirty.
    let legacy = buf.legacy_mappings.load(Ordering::Relaxed) > 0;
    if legacy && (zap_legacy(k, &buf).is_none() || preempt()) {
        return Ok(Outcome::Restart);
    }
    read_clean(k, id, a, &buf, offset, len)
}

/// The clean before a device write, then the write; `Finish::BlkRead` brings a parked
/// clean back to [`read_resumed`].
fn read_clean(
    k: &mut Kernel,
    id: u32,
    a: [u64; 6],
    buf: &Arc<Buffer>,
    offset: u64,
    len: u64,
) -> SysResult {
    if !buf.maintained() {
        return read_notify(k, id, a, buf, offset, len, &Plan::None, 0);
    }
    let (work, generation) = {
        let b = buf.boundary();
        (
            b.device_write(cache::geometry(), offset, len),
            b.generation(),
        )
    };
    if !work.is_none() {
        let job = Job::new(buf.clone(), work, false);
        if let Some(parked) = clean_then(k, id, job, Finish::BlkRead { generation }, a)? {
            return parked;
        }
    }
    read_notify(k, id, a, buf, offset, len, &work, generation)
}

/// A read whose clean was parked between steps is done with it: check the call again
/// and notify.
pub(super) fn read_resumed(
    k: &mut Kernel,
    id: u32,
    a: [u64; 6],
    work: &Plan,
    generation: u64,
) -> SysResult {
    let (buf, offset, len) = read_args(k, id, a)?;
    read_notify(k, id, a, &buf, offset, len, work, generation)
}

/// The clean `work` is done: zap the legacy mappings again (a task may have written
/// through one meanwhile: then one more clean), the boundary forgets the cleaned lines
/// and marks the written ones stale (at submission: a START decides what to invalidate
/// before it waits for the fence), the device is told.
#[allow(clippy::too_many_arguments)] // the call's arguments, checked, and the clean's
fn read_notify(
    k: &mut Kernel,
    id: u32,
    a: [u64; 6],
    buf: &Arc<Buffer>,
    offset: u64,
    len: u64,
    work: &Plan,
    generation: u64,
) -> SysResult {
    match zap_legacy(k, buf) {
        None => return Ok(Outcome::Restart),
        Some(true) => return read_clean(k, id, a, buf, offset, len),
        Some(false) => {}
    }
    let (sector, count) = (a[2], a[3]);
    let pages = pages(buf, offset, len)?;
    // From the last misuse check to the fence, no START may slip in on another CPU's
    // fast path (it would read or write lines the device writes): the gate is closed.
    let _closed = buf.gate.close();
    if cpu_holders(buf).is_some() && crate::buffer::misuse_strict() {
        return Err(Error::Busy);
    }
    if buf.maintained() {
        let geom = cache::geometry();
        let mut b = buf.boundary_to_stale();
        // Another holder ENDed writes to lines the device writes while this clean ran:
        // clean again, from the start of the call (as `gpu_present`).
        if b.generation() != generation && !b.device_write(geom, offset, len).is_none() {
            return Ok(Outcome::Restart);
        }
        b.device_write_done(geom, work, generation, offset, len);
    }
    trace::record_event(abi::trace::OP_DEVICE_WRITE, buf.id, offset, len, 0);
    blk::retire();
    let seq = blk::with(|d| d.read(sector, count, &pages))
        .ok_or(Error::NotSupported)?
        .map_err(device_error)?;
    let fence = abi::fence::make(abi::fence::BLK, seq);
    buf.publish_fence(&buf.device_write_fence, fence);
    // Test kernels: the gate held every fast-path START off from the misuse check to
    // here, so no CPU holder can have appeared (`test_blk_race` presses on this).
    if cfg!(feature = "ktest") && crate::buffer::misuse_strict() && buf.cpu_holders() > 0 {
        panic!(
            "buffer {}: a CPU holder started while blk_read submitted (gate broken)",
            buf.id
        );
    }
    // The device writes these pages until the fence completes: they must not be freed.
    blk::hold(seq, buf.clone());
    Ok(Outcome::Done(fence, 0))
}

/// The physical pieces of `[offset, offset + len)` of `buf`, one per page touched, in
/// order (the driver merges adjacent ones).
fn pages(buf: &Buffer, offset: u64, len: u64) -> Result<Vec<(PhysAddr, u32)>, Error> {
    let mut out = Vec::new();
    out.try_reserve_exact((len / PAGE_SIZE + 2) as usize)
        .map_err(|_| Error::NoMemory)?;
    let (mut at, end) = (offset, offset + len);
    while at < end {
        let frame = buf
            .frames()
            .get((at / PAGE_SIZE) as usize)
            .ok_or(Error::OutOfRange)?;
        let in_page = at % PAGE_SIZE;
        let take = (PAGE_SIZE - in_page).min(end - at);
        out.push((PhysAddr::new(frame.as_u64() + in_page), take as u32));
        at += take;
    }
    Ok(out)
}
