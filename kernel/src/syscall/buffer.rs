//! Buffer syscalls: create, map (the direct path), unmap, sync (begin/end CPU access with
//! cache maintenance), info, and the maintenance trace.

use super::{handle, task, Outcome, SysResult};
use crate::buffer::job::{Job, Rows};
use crate::buffer::{self, trace, Buffer, Policy};
use crate::task::object::Object;
use crate::task::space::UserAccess;
use crate::task::{account, Kernel};
use abi::{limits, prot, Error, Rights};
use alloc::sync::Arc;
use coherency::{
    plan_sync, resolve_range, CpuAccess, Dir, FenceWait, Phase, SyncError, SyncFlags, SyncRequest,
};
use core::sync::atomic::Ordering;
use mm::cache::CacheOp;
use mm::pgtable::Access;

fn buffer_of(k: &mut Kernel, id: u32, h: u64) -> Result<(Arc<Buffer>, Rights), Error> {
    let (obj, rights) = task(k, id)?.handles.get(handle(h)?)?;
    match obj {
        Object::Buffer(b) => Ok((b.clone(), rights)),
        _ => Err(Error::WrongType),
    }
}

pub(super) fn create(k: &mut Kernel, id: u32, size: u64, policy: u64) -> SysResult {
    let policy = match policy {
        abi::policy::CACHED => Policy::Cached,
        abi::policy::UNCACHED => Policy::Uncached,
        _ => return Err(Error::InvalidArgument),
    };
    if size == 0 {
        return Err(Error::InvalidArgument);
    }
    if size > abi::limits::MAX_BUFFER {
        return Err(Error::TooLarge);
    }
    let t = task(k, id)?;
    if t.handles.free_slots() == 0 {
        return Err(Error::TableFull);
    }
    let account = t.account.clone();
    let buf = Buffer::create(size, policy, &account)?;
    let rights = Rights::MAP_READ
        .with(Rights::MAP_WRITE)
        .with(Rights::SHARE)
        .with(Rights::DEVICE)
        .with(Rights::DEVICE_WRITE);
    let h = task(k, id)?
        .handles
        .insert(Object::Buffer(Arc::new(buf)), rights)?;
    Ok(Outcome::Done(u64::from(h.0), 0))
}

pub(super) fn map(k: &mut Kernel, id: u32, h: u64, prot_bits: u64) -> SysResult {
    let (buf, rights) = buffer_of(k, id, h)?;
    let writable = match prot_bits {
        prot::READ => false,
        prot::WRITE | 3 => true,
        _ => return Err(Error::InvalidArgument),
    };
    if !rights.contains(Rights::MAP_READ) || (writable && !rights.contains(Rights::MAP_WRITE)) {
        return Err(Error::AccessDenied);
    }
    let t = task(k, id)?;
    if t.mapping_count() >= limits::MAX_MAPPINGS {
        return Err(Error::TableFull);
    }
    let heap = account::mapping_heap(buf.size / mm::addr::PAGE_SIZE, false);
    t.map_heap.grow(heap)?;
    let Some(va) = t.map_window.alloc(buf.size) else {
        t.map_heap.shrink(heap);
        return Err(Error::NoMemory);
    };
    let access = if writable {
        Access::UserReadWrite
    } else {
        Access::UserRead
    };
    if let Err(e) = t.space.map_shared(va, buf.frames(), access, buf.mem_attr()) {
        t.map_window.free(va, buf.size);
        t.map_heap.shrink(heap);
        return Err(e);
    }
    t.mappings.insert(va, buf);
    Ok(Outcome::Done(va, 0))
}

pub(super) fn unmap(k: &mut Kernel, id: u32, va: u64) -> SysResult {
    let t = task(k, id)?;
    if let Some(m) = t.legacy.remove(&va) {
        // Only the pages currently mapped have PTEs (all of them, for an uncached one).
        let uncached = m.pages.policy() == coherency::legacy::LegacyPolicy::Uncached;
        for p in 0..m.npages {
            if uncached || m.pages.state(p) != Some(coherency::legacy::PageState::Unmapped) {
                let _ = t
                    .space
                    .unmap_quiet(va + p as u64 * mm::addr::PAGE_SIZE, mm::addr::PAGE_SIZE);
            }
        }
        crate::arch::mmu::invalidate_tlb_asid(t.space.asid());
        t.map_window.free(va, m.len());
        t.map_heap
            .shrink(account::mapping_heap(m.npages as u64, true));
        return Ok(Outcome::Done(0, 0));
    }
    let buf = t.mappings.remove(&va).ok_or(Error::InvalidArgument)?;
    if let Err(e) = t.space.unmap(va, buf.size) {
        // Cannot happen for a recorded mapping; keep the record consistent if it does.
        t.mappings.insert(va, buf);
        return Err(e);
    }
    t.map_window.free(va, buf.size);
    t.map_heap
        .shrink(account::mapping_heap(buf.size / mm::addr::PAGE_SIZE, false));
    Ok(Outcome::Done(0, 0))
}

fn sync_error(e: SyncError) -> Error {
    match e {
        SyncError::BadFlags => Error::BadFlags,
        SyncError::OutOfRange => Error::OutOfRange,
        SyncError::AccessDenied => Error::AccessDenied,
        SyncError::NotStarted => Error::NotStarted,
        SyncError::AlreadyStarted => Error::AlreadyStarted,
    }
}

/// A checked sync request: the buffer, the handle's rights, the flags and the rows.
type SyncArgs<'a> = (&'a Arc<Buffer>, Rights, Phase, Dir, Rows);

/// A task's handle table.
type Handles = kobj::HandleTable<Object>;

/// `buffer_sync(h, flags, offset, len)`'s arguments, checked in the documented order.
#[inline(always)]
fn sync_args(handles: &Handles, a: [u64; 6]) -> Result<SyncArgs<'_>, Error> {
    let (h, flags, offset, len) = (a[0], a[1], a[2], a[3]);
    let (buf, rights) = buffer_ref(handles, h)?;
    let (phase, dir) = SyncFlags::parse(flags).map_err(sync_error)?;
    let (offset, len) = resolve_range(offset, len, buf.size).map_err(sync_error)?;
    let rows = Rows {
        offset,
        row_len: len,
        rows: 1,
        stride: len,
    };
    Ok((buf, rights, phase, dir, rows))
}

/// `buffer_sync_rect(h, flags, offset, row_len, rows, stride)`'s arguments, checked in
/// the documented order.
#[inline(always)]
fn rect_args(handles: &Handles, a: [u64; 6]) -> Result<SyncArgs<'_>, Error> {
    let (h, flags, offset, row_len, rows, stride) = (a[0], a[1], a[2], a[3], a[4], a[5]);
    let (buf, rights) = buffer_ref(handles, h)?;
    let (phase, dir) = SyncFlags::parse(flags).map_err(sync_error)?;
    let last_row = rows
        .checked_sub(1)
        .and_then(|r| r.checked_mul(stride))
        .and_then(|r| r.checked_add(offset));
    let end = last_row.and_then(|r| r.checked_add(row_len));
    let overlapping = rows > 1 && row_len > stride;
    if row_len == 0 || overlapping || end.is_none_or(|e| e > buf.size) {
        return Err(Error::OutOfRange);
    }
    let rows = Rows {
        offset,
        row_len,
        rows,
        stride,
    };
    Ok((buf, rights, phase, dir, rows))
}

pub(super) fn sync(k: &mut Kernel, id: u32, a: [u64; 6]) -> SysResult {
    let t = task(k, id)?;
    let (buf, rights, phase, dir, rows) = sync_args(&t.handles, a)?;
    let buf = buf.clone();
    let op = sync_state(&t.cpu_access, &buf, rights, phase, dir, rows)?;
    finish_sync(k, id, buf, op, rows)
}

pub(super) fn sync_rect(k: &mut Kernel, id: u32, a: [u64; 6]) -> SysResult {
    let t = task(k, id)?;
    let (buf, rights, phase, dir, rows) = rect_args(&t.handles, a)?;
    let buf = buf.clone();
    let op = sync_state(&t.cpu_access, &buf, rights, phase, dir, rows)?;
    finish_sync(k, id, buf, op, rows)
}

/// `buffer_sync` on the fast path (`super::fast`): `None`, having changed nothing, if the
/// call needs the full path.
#[inline(always)]
pub(super) fn fast_sync(t: &mut crate::task::Task, a: [u64; 6]) -> Option<()> {
    let args = sync_args(&t.handles, a).ok()?;
    fast_finish(&mut t.cpu_access, args)
}

/// `buffer_sync_rect` on the fast path, as [`fast_sync`].
#[inline(always)]
pub(super) fn fast_sync_rect(t: &mut crate::task::Task, a: [u64; 6]) -> Option<()> {
    let args = rect_args(&t.handles, a).ok()?;
    fast_finish(&mut t.cpu_access, args)
}

/// A checked sync that needs no wait, no legacy-aware change of its operation, and at
/// most one step of maintenance, done here; `None` (nothing changed) for any other.
#[inline(always)]
fn fast_finish(held: &mut CpuAccessSlots, (buf, rights, phase, dir, r): SyncArgs) -> Option<()> {
    let SyncStep::Maintain(op, commit) = sync_state(held, buf, rights, phase, dir, r).ok()? else {
        return None;
    };
    if let Some(op) = op {
        let line = crate::arch::cache::geometry().line();
        let lines = r.rows * (r.row_len / line + 2);
        if lines > crate::buffer::job::STEP_LINES || buf.legacy_mappings.load(Ordering::Relaxed) > 0
        {
            return None;
        }
        // A START takes hold before the first line; an END lets go after the last.
        if commit.access.current().is_some() {
            commit.apply(held, buf);
            run_once(buf, op, r);
        } else {
            run_once(buf, op, r);
            commit.apply(held, buf);
        }
    } else {
        commit.apply(held, buf);
    }
    Some(())
}

/// `op` over the rows in one pass (one DSB).
#[inline(always)]
fn run_once(buf: &Arc<Buffer>, op: CacheOp, r: Rows) {
    if r.rows == 1 {
        buf.maintain(op, r.offset, r.row_len);
    } else {
        buf.maintain_rows(op, r.offset, r.row_len, r.rows, r.stride);
    }
}

/// The buffer behind handle `h`.
#[inline(always)]
fn buffer_ref(handles: &Handles, h: u64) -> Result<(&Arc<Buffer>, Rights), Error> {
    match handles.get(handle(h)?)? {
        (Object::Buffer(b), rights) => Ok((b, rights)),
        _ => Err(Error::WrongType),
    }
}

/// Rights, planning, fences and the holder's state for a sync whose flags and range were
/// checked. Returns the maintenance to issue (`Err(Blocked)` is not an error: the
/// caller returns it as the outcome).
#[inline(always)]
fn sync_state(
    held: &CpuAccessSlots,
    buf: &Arc<Buffer>,
    rights: Rights,
    phase: Phase,
    dir: Dir,
    r: Rows,
) -> Result<SyncStep, Error> {
    if !rights.contains(Rights::MAP_READ) {
        return Err(Error::AccessDenied);
    }
    // A device wrote the buffer since its last whole-buffer invalidate: stale lines may
    // be cached in the range, and one merging with the CPU's writes would be cleaned
    // back over the device's bytes at END. So START WRITE is planned as START RW (it
    // invalidates the range too); the holder's state still records WRITE.
    let device_wrote = buf.device_wrote.load(Ordering::SeqCst);
    let planned_dir = coherency::effective_dir(phase, dir, device_wrote);
    let req = SyncRequest {
        phase,
        dir: planned_dir,
        offset: r.offset,
        len: r.row_len,
        size: buf.size,
        policy: buf.policy,
        device_coherent: buffer::devices_coherent(),
        may_write: rights.contains(Rights::MAP_WRITE),
    };
    let plan = plan_sync(&req).map_err(sync_error)?;

    // Device work on the buffer must be complete first (like Linux: CPU reads wait for
    // device writers, CPU writes for everyone). The call is re-issued when it is.
    // Fences of different devices are not ordered: each is checked on its own.
    let writers = buf.device_write_fence.load(Ordering::SeqCst);
    let pending = match plan.wait_fences {
        FenceWait::None => None,
        FenceWait::Writers => crate::fences::first_pending(&[writers]),
        FenceWait::All => {
            crate::fences::first_pending(&[buf.device_read_fence.load(Ordering::SeqCst), writers])
        }
    };
    if let Some(fence) = pending {
        return Ok(SyncStep::Wait(fence));
    }

    // The holder's state: at most one START open per task and buffer.
    let slot = held.iter().position(|(b, _)| b.id == buf.id);
    let mut access = slot.map_or(CpuAccess::default(), |i| held[i].1);
    match phase {
        Phase::Start => access.start(dir),
        Phase::End => access.end(dir),
    }
    .map_err(sync_error)?;
    if slot.is_none() && access.current().is_some() && held.is_full() {
        return Err(Error::TableFull);
    }
    // A START READ/RW of the whole buffer invalidates every line a device write could
    // have left stale (the device work is complete: its fence was waited for above).
    let clear_device_wrote = r.rows == 1 && !coherency::device_wrote_after_sync(device_wrote, &req);
    let commit = Commit {
        slot,
        access,
        clear_device_wrote,
    };
    Ok(SyncStep::Maintain(plan.op.map(|(op, _, _)| op), commit))
}

/// A task's open CPU accesses (`Task::cpu_access`).
type CpuAccessSlots = arrayvec::ArrayVec<(Arc<Buffer>, CpuAccess), 16>;

/// The holder's new state after a sync, applied once its checks passed: at the start of
/// a START (so devices are held off before any line is touched), after the last
/// maintenance step of an END (so they are held off until every line is clean).
pub struct Commit {
    /// The buffer's entry in the task's open accesses, if it has one.
    slot: Option<usize>,
    access: CpuAccess,
    clear_device_wrote: bool,
}

impl Commit {
    /// Apply to `held` (the task's open accesses, unchanged since the sync was planned)
    /// for `buf`.
    #[inline(always)]
    fn apply(self, held: &mut CpuAccessSlots, buf: &Arc<Buffer>) {
        let slot = self.slot;
        let before = slot.is_some_and(|i| held[i].1.holds_write());
        let held_before = slot.is_some();
        let access = self.access;
        match (slot, access.current().is_some()) {
            (Some(i), true) => held[i].1 = access,
            (Some(i), false) => {
                held.swap_remove(i);
            }
            // Room was checked when the sync was planned, and nothing ran since.
            (None, true) => {
                let _ = held.try_push((buf.clone(), access));
            }
            (None, false) => {}
        }
        match (before, access.holds_write()) {
            (false, true) => buf.cpu_writers.fetch_add(1, Ordering::SeqCst),
            (true, false) => buf.cpu_writers.fetch_sub(1, Ordering::SeqCst),
            _ => 0,
        };
        match (held_before, access.current().is_some()) {
            (false, true) => buf.cpu_holders.fetch_add(1, Ordering::SeqCst),
            (true, false) => buf.cpu_holders.fetch_sub(1, Ordering::SeqCst),
            _ => 0,
        };
        if self.clear_device_wrote {
            buf.device_wrote.store(false, Ordering::SeqCst);
        }
    }
}

/// What a sync does after its checks.
enum SyncStep {
    /// Wait for this device fence, then re-issue the call.
    Wait(u64),
    /// Issue this maintenance over the rows (or nothing), and change the holder's state.
    Maintain(Option<CacheOp>, Commit),
}

/// A sync parked between two steps of its maintenance (see `buffer::job`).
pub struct Parked {
    job: Job,
    /// Applied when the job finishes (an END's change of the holder's state).
    commit: Option<Commit>,
}

fn finish_sync(k: &mut Kernel, id: u32, buf: Arc<Buffer>, step: SyncStep, r: Rows) -> SysResult {
    let (op, commit) = match step {
        SyncStep::Wait(fence) => return Ok(Outcome::Blocked(crate::task::Block::Fence(fence))),
        SyncStep::Maintain(op, commit) => (op, commit),
    };
    let phase_end = commit.access.current().is_none();
    let Some(op) = op else {
        commit.apply(&mut task(k, id)?.cpu_access, &buf);
        return Ok(Outcome::Done(0, 0));
    };
    // Legacy mappings of the buffer may hold dirty lines that no END will clean.
    let op = if buf.legacy_mappings.load(Ordering::Relaxed) > 0 {
        crate::buffer::legacy::direct_start_op(k, buf.id, op)
    } else {
        op
    };
    // A START takes hold before the first line; an END lets go after the last.
    let commit = if phase_end {
        Some(commit)
    } else {
        commit.apply(&mut task(k, id)?.cpu_access, &buf);
        None
    };
    run_parked(
        k,
        id,
        Parked {
            job: Job::new(buf, op, r),
            commit,
        },
    )
}

/// Run a sync's maintenance step by step until it is done (then apply its commit) or an
/// interrupt is pending (then park it on the task and have the `svc` re-issued).
pub fn run_parked(k: &mut Kernel, id: u32, mut p: Parked) -> SysResult {
    loop {
        if p.job.step() {
            if let Some(c) = p.commit.take() {
                c.apply(&mut task(k, id)?.cpu_access, p.job.buffer());
            }
            return Ok(Outcome::Done(0, 0));
        }
        if crate::arch::cpu::irq_pending() {
            task(k, id)?.parked = Some(p);
            return Ok(Outcome::Restart);
        }
    }
}

pub(super) fn info(k: &mut Kernel, id: u32, h: u64) -> SysResult {
    let (buf, _) = buffer_of(k, id, h)?;
    let policy = match buf.policy {
        Policy::Cached => abi::policy::CACHED,
        Policy::Uncached => abi::policy::UNCACHED,
    };
    Ok(Outcome::Done(buf.size, policy | (buf.id << 32)))
}

pub(super) fn trace_call(k: &mut Kernel, id: u32, cmd: u64, ptr: u64, cap: u64) -> SysResult {
    if cmd != abi::trace::CLEAR && cmd != abi::trace::READ {
        return Err(Error::InvalidArgument);
    }
    if !trace::ENABLED {
        return Err(Error::NotSupported);
    }
    if cmd == abi::trace::CLEAR {
        trace::clear();
        return Ok(Outcome::Done(0, 0));
    }
    const ENTRY: u64 = core::mem::size_of::<abi::trace::Entry>() as u64;
    let bytes = cap.checked_mul(ENTRY).ok_or(Error::BadAddress)?;
    if cap > 0 && !ptr.is_multiple_of(8) {
        return Err(Error::BadAddress);
    }
    let t = task(k, id)?;
    t.space.check_range(ptr, bytes, UserAccess::Write)?;
    let (out, total) = trace::with_entries(|entries| {
        let n = entries.len().min(cap as usize);
        let mut raw = alloc::vec::Vec::with_capacity(n * ENTRY as usize);
        for e in &entries[..n] {
            for v in [e.op, e.buffer, e.offset, e.len, e.va] {
                raw.extend_from_slice(&v.to_le_bytes());
            }
        }
        (n, raw)
    });
    t.space.write(ptr, &out.1)?;
    Ok(Outcome::Done(out.0 as u64, total as u64))
}

/// `bench_dc_loop(h, op, offset, len)`: the bare loop, for the benchmark's limit.
pub(super) fn bench_dc_loop(k: &mut Kernel, id: u32, a: [u64; 6]) -> SysResult {
    if !cfg!(feature = "bench") {
        return Err(Error::NotSupported);
    }
    let (buf, _) = buffer_of(k, id, a[0])?;
    let op = match a[1] {
        abi::trace::OP_CLEAN => mm::cache::CacheOp::Clean,
        abi::trace::OP_INVALIDATE => mm::cache::CacheOp::Invalidate,
        abi::trace::OP_CLEAN_INVALIDATE => mm::cache::CacheOp::CleanInvalidate,
        _ => return Err(Error::InvalidArgument),
    };
    let (offset, len) = resolve_range(a[2], a[3], buf.size).map_err(sync_error)?;
    #[cfg(feature = "bench")]
    return Ok(Outcome::Done(buf.bare_loop_cycles(op, offset, len), 0));
    #[cfg(not(feature = "bench"))]
    {
        let _ = (op, offset, len);
        Err(Error::NotSupported)
    }
}

/// `bench_clean_all()`: the naive set/way clean of the whole cache.
pub(super) fn bench_clean_all() -> SysResult {
    #[cfg(feature = "bench")]
    return Ok(Outcome::Done(crate::arch::cache::clean_all_by_set_way(), 0));
    #[cfg(not(feature = "bench"))]
    Err(Error::NotSupported)
}

/// End task `t`'s open START on buffer `id`, if any, as the matching END would: the
/// lines it may have dirtied are cleaned (for WRITE/RW) so nothing is left for an
/// eviction to write over device data later. For a task closing its last handle to the
/// buffer (no END is possible any more) and for a task that exits or is killed.
pub fn end_access(t: &mut crate::task::Task, id: u64) {
    let Some(i) = t.cpu_access.iter().position(|(b, _)| b.id == id) else {
        return;
    };
    let (buf, access) = t.cpu_access.swap_remove(i);
    release_access(&buf, access);
}

/// The END half of an open access, without a caller to report to.
pub fn release_access(buf: &Buffer, access: CpuAccess) {
    let Some(dir) = access.current() else { return };
    if access.holds_write() {
        buf.cpu_writers.fetch_sub(1, Ordering::SeqCst);
    }
    buf.cpu_holders.fetch_sub(1, Ordering::SeqCst);
    let req = SyncRequest {
        phase: Phase::End,
        dir,
        offset: 0,
        len: buf.size,
        size: buf.size,
        policy: buf.policy,
        device_coherent: buffer::devices_coherent(),
        may_write: true,
    };
    if let Ok(coherency::SyncPlan {
        op: Some((op, off, len)),
        ..
    }) = plan_sync(&req)
    {
        buf.maintain(op, off, len);
    }
}
