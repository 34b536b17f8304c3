//! GPU syscalls: display info, importing a buffer as a GPU resource, presenting a
//! rectangle (with the misuse detector), and waiting on fences (of any device).

use super::buffer::{clean_then, preempt, zap_legacy, Finish};
use super::{object, task, Outcome, SysResult};
use crate::arch::cache;
use crate::buffer::job::{Job, Plan};
use crate::buffer::trace;
use crate::fences;
use crate::gpu::{self, Resource};
use crate::task::account::{self, R};
use crate::task::object::Object;
use crate::task::{Block, Kernel};
use abi::{limits, Error, Rights};
use alloc::sync::Arc;
use coherency::Region;
use core::sync::atomic::Ordering;

/// Nanoseconds per tick.
const TICK_NS: u64 = 1_000_000_000 / crate::irq::TICK_HZ;

fn device_error(e: crate::drivers::virtio_gpu::GpuError) -> Error {
    log::warn!("gpu: {e}");
    match e {
        crate::drivers::virtio_gpu::GpuError::NoMemory => Error::NoMemory,
        _ => Error::DeviceError,
    }
}

pub(super) fn display_info() -> SysResult {
    let (w, h) = gpu::with(|d| d.display_size()).ok_or(Error::NotSupported)?;
    Ok(Outcome::Done(u64::from(w), u64::from(h)))
}

pub(super) fn import(k: &mut Kernel, id: u32, a: [u64; 6]) -> SysResult {
    let (h, width, height, format) = (a[0], a[1], a[2], a[3]);
    if gpu::with(|_| ()).is_none() {
        return Err(Error::NotSupported);
    }
    let (obj, rights) = object(k, id, h)?;
    let Object::Buffer(buf) = obj else {
        return Err(Error::WrongType);
    };
    if !rights.contains(Rights::DEVICE) {
        return Err(Error::AccessDenied);
    }
    let dims_ok =
        (1..=limits::MAX_GPU_DIM).contains(&width) && (1..=limits::MAX_GPU_DIM).contains(&height);
    if !dims_ok || !abi::format::ALL.contains(&format) {
        return Err(Error::InvalidArgument);
    }
    if width * height * 4 > buf.size {
        return Err(Error::OutOfRange);
    }
    let t = task(k, id)?;
    if t.objects().handles.free_slots() == 0 {
        return Err(Error::TableFull);
    }
    let charges = [
        t.account.charge(R::GpuResources, 1)?,
        t.account.charge(R::GpuBytes, width * height * 4)?,
        t.account.charge(R::HeapBytes, account::RESOURCE_HEAP)?,
    ];
    let (w, hh) = (width as u32, height as u32);
    let res_id = gpu::with(|d| d.create_resource(w, hh, format as u32))
        .ok_or(Error::NotSupported)?
        .map_err(device_error)?;
    let Some(map_offset) = gpu::alloc_map_offset(buf.size) else {
        let _ = gpu::with(|d| d.release(res_id));
        return Err(Error::NoMemory);
    };
    // From here the Resource owns the device id and the offset range: dropping it on
    // error releases both.
    let resource = Resource {
        id: res_id,
        buffer: buf.clone(),
        width: w,
        height: hh,
        map_offset,
        _charges: charges,
    };
    gpu::with(|d| d.attach_backing(res_id, buf.frames(), buf.size))
        .ok_or(Error::NotSupported)?
        .map_err(device_error)?;
    // The device reads nothing until a present, which cleans what it reads: the import
    // itself needs no maintenance.
    buf.device_party.store(true, Ordering::Relaxed);
    // A resource never carries more than the buffer handle it came from: the device
    // may read it (DEVICE), and the legacy mapping of it is as readable, writable and
    // shareable as the buffer handle was.
    let rights = rights
        .intersect(Rights::SHARE.with(Rights::MAP_READ).with(Rights::MAP_WRITE))
        .with(Rights::DEVICE);
    let h = task(k, id)?
        .objects()
        .handles
        .insert(Object::Resource(Arc::new(resource)), rights)?;
    Ok(Outcome::Done(u64::from(h.0), 0))
}

/// The misuse detector's question for a device read: how many tasks hold `buf` for CPU
/// write (START WRITE or RW open), if any.
fn cpu_writers(buf: &crate::buffer::Buffer) -> Option<u32> {
    let writers = buf.cpu_writers();
    (writers > 0).then_some(writers)
}

/// `gpu_present`'s arguments, checked in the documented order, and the misuse check:
/// the resource and the region of its buffer that TRANSFER_TO_HOST_2D reads (rows of
/// `w * 4` bytes, one resource row apart).
fn present_args(k: &mut Kernel, id: u32, a: [u64; 6]) -> Result<(Arc<Resource>, Region), Error> {
    let (h, x, y, w, hh) = (a[0], a[1], a[2], a[3], a[4]);
    let (obj, rights) = object(k, id, h)?;
    let Object::Resource(res) = obj else {
        return Err(Error::WrongType);
    };
    if !rights.contains(Rights::DEVICE) {
        return Err(Error::AccessDenied);
    }
    let inside = |start: u64, len: u64, max: u32| {
        len > 0 && start.checked_add(len).is_some_and(|e| e <= u64::from(max))
    };
    if !inside(x, w, res.width) || !inside(y, hh, res.height) {
        return Err(Error::OutOfRange);
    }
    let buf = &res.buffer;
    if let Some(writers) = cpu_writers(buf) {
        if crate::buffer::misuse_strict() {
            return Err(Error::Busy);
        }
        log::warn!(
            "misuse: presenting buffer {} while {writers} task(s) hold it for CPU write",
            buf.id
        );
    }
    let stride = u64::from(res.width) * 4;
    let region = Region {
        offset: y * stride + x * 4,
        row_len: w * 4,
        rows: hh,
        stride,
    };
    Ok((res, region))
}

/// `gpu_present`: the checks, then the legacy mappings' zap, then the clean of the
/// lines the device will read that the CPU may hold dirty (the boundary's `dirty` set:
/// ENDed writes, the legacy mappings' written pages and the creation's zeros not
/// cleaned since), in bounded steps, then the device is told ([`present_notify`]).
pub(super) fn present(k: &mut Kernel, id: u32, a: [u64; 6]) -> SysResult {
    let (res, region) = present_args(k, id, a)?;
    // The legacy path has no sync calls: zap its PTEs; its written pages become dirty.
    let legacy = res.buffer.legacy_mappings.load(Ordering::Relaxed) > 0;
    if legacy && (zap_legacy(k, &res.buffer).is_none() || preempt()) {
        return Ok(Outcome::Restart);
    }
    present_clean(k, id, a, &res, region)
}

/// The clean before a present, then the present; `Finish::Present` brings a parked
/// clean back to [`present_resumed`].
fn present_clean(
    k: &mut Kernel,
    id: u32,
    a: [u64; 6],
    res: &Arc<Resource>,
    region: Region,
) -> SysResult {
    let buf = &res.buffer;
    if !buf.maintained() {
        return present_notify(k, id, a, res, region, &Plan::None, 0);
    }
    let (work, generation) = {
        let b = buf.boundary();
        (b.device_read(cache::geometry(), region), b.generation())
    };
    if !work.is_none() {
        let job = Job::new(buf.clone(), work, false);
        if let Some(parked) = clean_then(k, id, job, Finish::Present { generation }, a)? {
            return parked;
        }
    }
    present_notify(k, id, a, res, region, &work, generation)
}

/// A present whose clean was parked between steps is done with it: check the call
/// again (time has passed: someone may hold the buffer for write now) and notify.
pub(super) fn present_resumed(
    k: &mut Kernel,
    id: u32,
    a: [u64; 6],
    work: &Plan,
    generation: u64,
) -> SysResult {
    let (res, region) = present_args(k, id, a)?;
    present_notify(k, id, a, &res, region, work, generation)
}

/// The clean `work` is done (`DSB` included): zap the legacy mappings again (a task may
/// have written through one while the clean ran in steps: then one more clean), the
/// boundary forgets the lines it cleaned, and the device is told.
fn present_notify(
    k: &mut Kernel,
    id: u32,
    a: [u64; 6],
    res: &Arc<Resource>,
    region: Region,
    work: &Plan,
    generation: u64,
) -> SysResult {
    let buf = &res.buffer;
    // The clean is complete (its DSB done): its lines leave `dirty` now, unless an END
    // recorded lines since it was planned (then the check below cleans again). Done
    // before the zap, so a legacy writer's pages the zap records next cost a clean of
    // those pages only, not of everything again.
    if buf.maintained() {
        buf.boundary().device_read_done(work, generation);
    }
    match zap_legacy(k, buf) {
        None => return Ok(Outcome::Restart),
        Some(true) => return present_clean(k, id, a, res, region),
        Some(false) => {}
    }
    // From the last misuse check to the fence, no START may slip in on another CPU's
    // fast path (it would write lines the device reads): the gate is closed.
    let _closed = buf.gate.close();
    if cpu_writers(buf).is_some() && crate::buffer::misuse_strict() {
        return Err(Error::Busy);
    }
    if buf.maintained() {
        let b = buf.boundary();
        // Another holder ENDed writes to lines the device reads while this clean ran
        // (on another CPU, or between its steps): clean again, from the start of the
        // call (re-issued, so no kernel stack builds up however often it happens).
        if b.generation() != generation && !b.device_read(cache::geometry(), region).is_none() {
            return Ok(Outcome::Restart);
        }
    }
    let (offset, span) = region.hull();
    trace::record_device_read(buf.id, offset, span - offset);
    let (x, y) = (
        (region.offset % region.stride) / 4,
        region.offset / region.stride,
    );
    let (w, hh, stride) = (region.row_len / 4, region.rows, region.stride);
    let (x, y, w, hh) = (x as u32, y as u32, w as u32, hh as u32);
    let fence = gpu::with(|d| d.present(res.id, x, y, w, hh, stride as u32, res.width, res.height))
        .ok_or(Error::NotSupported)?
        .map_err(device_error)?;
    buf.publish_fence(&buf.device_read_fence, fence);
    // Test kernels: the gate held every fast-path START off from the misuse check to
    // here, so no CPU writer can have appeared (`test_sync_race` presses on this).
    if cfg!(feature = "ktest") && crate::buffer::misuse_strict() && buf.cpu_writers() > 0 {
        panic!(
            "buffer {}: a CPU writer started while gpu_present submitted (gate broken)",
            buf.id
        );
    }
    Ok(Outcome::Done(fence, 0))
}

/// `fence_wait` for a fence of any device (`abi::fence`).
pub(super) fn fence_wait(fence: u64, timeout_ns: u64) -> SysResult {
    // A GPU fence without a GPU: the facility is missing (as before block fences).
    if abi::fence::device(fence) == abi::fence::GPU && gpu::with(|_| ()).is_none() {
        return Err(Error::NotSupported);
    }
    if !fences::issued(fence) || timeout_ns > limits::MAX_TIMEOUT_NS {
        return Err(Error::InvalidArgument);
    }
    // Its outcome is known for the last FAILURE_WINDOW fences only.
    if fences::expired(fence) {
        return Err(Error::OutOfRange);
    }
    if fences::completed(fence) {
        if fences::failed(fence) {
            return Err(Error::DeviceError);
        }
        return Ok(Outcome::Done(0, 0));
    }
    if timeout_ns == 0 {
        return Err(Error::TimedOut);
    }
    let deadline = crate::irq::ticks() + timeout_ns.div_ceil(TICK_NS) + 1;
    Ok(Outcome::Blocked(Block::FenceWait { fence, deadline }))
}

pub(super) fn map_offset(k: &mut Kernel, id: u32, h: u64) -> SysResult {
    let (obj, _) = object(k, id, h)?;
    let Object::Resource(res) = obj else {
        return Err(Error::WrongType);
    };
    Ok(Outcome::Done(res.map_offset, 0))
}

/// The importer's mmap: find the caller's resource that owns `offset`, translate the
/// fake offset into a page offset within the buffer, and forward to the exporter.
pub(super) fn mmap(k: &mut Kernel, id: u32, a: [u64; 6]) -> SysResult {
    let (offset, len, prot_bits, policy) = (a[0], a[1], a[2], a[3]);
    let page = mm::addr::PAGE_SIZE;
    let writable = match prot_bits {
        abi::prot::READ => false,
        abi::prot::WRITE | 3 => true,
        _ => return Err(Error::InvalidArgument),
    };
    let policy = match policy {
        abi::legacy::FAULT => coherency::legacy::LegacyPolicy::Fault,
        abi::legacy::UNCACHED => coherency::legacy::LegacyPolicy::Uncached,
        _ => return Err(Error::InvalidArgument),
    };
    if len == 0 || !offset.is_multiple_of(page) {
        return Err(Error::InvalidArgument);
    }
    let t = task(k, id)?;
    let owner = t
        .objects()
        .handles
        .iter()
        .find_map(|(obj, rights)| match obj {
            Object::Resource(r)
                if offset >= r.map_offset && offset < r.map_offset + r.buffer.size =>
            {
                Some((r.clone(), rights))
            }
            _ => None,
        });
    let (res, rights) = owner.ok_or(Error::NotFound)?;
    let start = offset - res.map_offset;
    let len = len
        .checked_next_multiple_of(page)
        .ok_or(Error::OutOfRange)?;
    if start
        .checked_add(len)
        .is_none_or(|end| end > res.buffer.size)
    {
        return Err(Error::OutOfRange);
    }
    if !rights.contains(Rights::MAP_READ) || (writable && !rights.contains(Rights::MAP_WRITE)) {
        return Err(Error::AccessDenied);
    }
    if t.mapping_count() >= limits::MAX_MAPPINGS {
        return Err(Error::TableFull);
    }
    let heap = crate::task::account::mapping_heap(len / page, true);
    t.map_heap.grow(heap)?;
    let Some(va) = t.map_window.alloc(len) else {
        t.map_heap.shrink(heap);
        return Err(Error::NoMemory);
    };
    let pgoff = start / page;
    let buffer = res.buffer.clone();
    match crate::buffer::legacy::map(
        &mut t.space,
        buffer,
        va,
        pgoff,
        (len / page) as usize,
        writable,
        policy,
    ) {
        Ok(m) => {
            t.legacy.insert(va, m);
            Ok(Outcome::Done(va, 0))
        }
        Err(e) => {
            t.map_window.free(va, len);
            t.map_heap.shrink(heap);
            Err(e)
        }
    }
}
