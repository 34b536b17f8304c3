//! Buffer syscalls: create, map (the direct path), unmap, sync (begin/end CPU access with
//! cache maintenance), info, and the maintenance trace.

use super::{object, task, Outcome, SysResult};
use crate::buffer::job::{self, Job, Plan};
use crate::buffer::{self, trace, Buffer, Policy};
use crate::task::object::Object;
use crate::task::space::UserAccess;
use crate::task::{account, CpuAccessSlots, Kernel, Objects};
use abi::{limits, prot, Error, Rights};
use alloc::sync::Arc;
use coherency::{
    plan_op, plan_sync, resolve_range, CpuAccess, Dir, FenceWait, Phase, Region, SyncError,
    SyncFlags, SyncRequest,
};
use core::sync::atomic::Ordering;
use kobj::gate::Pass;
use mm::cache::CacheOp;
use mm::pgtable::Access;

fn buffer_of(k: &mut Kernel, id: u32, h: u64) -> Result<(Arc<Buffer>, Rights), Error> {
    let (obj, rights) = object(k, id, h)?;
    match obj {
        Object::Buffer(b) => Ok((b, rights)),
        _ => Err(Error::WrongType),
    }
}

pub(super) fn create(k: &mut Kernel, id: u32, size: u64, policy: u64) -> SysResult {
    let user_clean = policy & abi::policy::USER_CLEAN != 0;
    let policy = match policy & !abi::policy::USER_CLEAN {
        abi::policy::CACHED => Policy::Cached,
        abi::policy::UNCACHED => Policy::Uncached,
        _ => return Err(Error::InvalidArgument),
    };
    if size == 0 || (user_clean && policy != Policy::Cached) {
        return Err(Error::InvalidArgument);
    }
    if user_clean && !crate::arch::cpu::el0_cache_clean() {
        return Err(Error::NotSupported);
    }
    if size > abi::limits::MAX_BUFFER {
        return Err(Error::TooLarge);
    }
    let t = task(k, id)?;
    if t.objects().handles.free_slots() == 0 {
        return Err(Error::TableFull);
    }
    let account = t.account.clone();
    let mut buf = Buffer::create(size, policy, &account)?;
    buf.user_clean = user_clean;
    let rights = Rights::MAP_READ
        .with(Rights::MAP_WRITE)
        .with(Rights::SHARE)
        .with(Rights::DEVICE)
        .with(Rights::DEVICE_WRITE);
    let h = task(k, id)?
        .objects()
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
        // Zaps kept the tables of pages they unmapped.
        let _ = t.space.prune(va, m.len());
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

/// A checked sync request: the buffer, the handle's rights, the flags, the rows, and
/// whether the task says it cleaned them itself (`sync::USER_CLEANED`).
type SyncArgs<'a> = (&'a Arc<Buffer>, Rights, Phase, Dir, Region, bool);

/// The flags of a sync on `buf`: phase, direction, and whether the task says it cleaned
/// the range itself (`sync::USER_CLEANED`, decoded by [`user_cleaned_flags`] off the
/// common path: a word carrying it is not a plain one).
#[inline(always)]
fn sync_flags(raw: u64, buf: &Buffer) -> Result<(Phase, Dir, bool), Error> {
    match SyncFlags::parse(raw) {
        Ok((phase, dir)) => Ok((phase, dir, false)),
        Err(_) => user_cleaned_flags(raw, buf),
    }
}

/// A flag word that is not a plain one: `sync::USER_CLEANED` with a valid word (the EL0
/// option: only on END WRITE/RW, on a kernel booted with `uci`, of a buffer created with
/// `policy::USER_CLEAN`), else `BadFlags`.
///
/// Accepted, the END records none of its lines as dirty (`sync_state` plans it as for a
/// coherent device, unless a legacy uncached mapping exists: that reader reads memory
/// at any time, and the END cleans at once as any END does). Lines already dirty stay
/// so: the claim covers this END's writes, never another holder's. And a `DSB SY` here
/// completes the task's `DC CVAC`s issued on this CPU before its `svc`, before anything
/// of the call (its hold on the buffer is released after it); a thread preempted and
/// moved to another CPU between its cleans and this call had them completed on the old
/// one, at the IRQ that preempted it (`complete_el0_maintenance` in the exception
/// entry).
#[cold]
#[inline(never)]
fn user_cleaned_flags(raw: u64, buf: &Buffer) -> Result<(Phase, Dir, bool), Error> {
    if raw & abi::sync::USER_CLEANED == 0 {
        return Err(Error::BadFlags);
    }
    let (phase, dir) = SyncFlags::parse(raw & !abi::sync::USER_CLEANED).map_err(sync_error)?;
    if phase != Phase::End || !dir.writes() {
        return Err(Error::BadFlags);
    }
    if !crate::arch::cpu::el0_cache_clean() {
        return Err(Error::NotSupported);
    }
    if !buf.user_clean {
        return Err(Error::BadFlags);
    }
    crate::arch::cpu::complete_el0_maintenance();
    Ok((phase, dir, true))
}

/// A task's handle table.
type Handles = kobj::HandleTable<Object>;

/// `buffer_sync(h, flags, offset, len)`'s arguments, checked in the documented order.
#[inline(always)]
fn sync_args(handles: &Handles, a: [u64; 6]) -> Result<SyncArgs<'_>, Error> {
    let (h, flags, offset, len) = (a[0], a[1], a[2], a[3]);
    let (buf, rights) = buffer_ref(handles, h)?;
    let (phase, dir, cleaned) = sync_flags(flags, buf)?;
    let (offset, len) = resolve_range(offset, len, buf.size).map_err(sync_error)?;
    Ok((buf, rights, phase, dir, Region::range(offset, len), cleaned))
}

/// `buffer_sync_rect(h, flags, offset, row_len, rows, stride)`'s arguments, checked in
/// the documented order.
#[inline(always)]
fn rect_args(handles: &Handles, a: [u64; 6]) -> Result<SyncArgs<'_>, Error> {
    let (buf, rights) = buffer_ref(handles, a[0])?;
    let (phase, dir, cleaned) = sync_flags(a[1], buf)?;
    let rows = rect_region(buf, a)?;
    Ok((buf, rights, phase, dir, rows, cleaned))
}

/// The rows of `buffer_sync_rect`'s arguments `a` in `buf`.
#[inline(always)]
fn rect_region(buf: &Buffer, a: [u64; 6]) -> Result<Region, Error> {
    let (offset, row_len, rows, stride) = (a[2], a[3], a[4], a[5]);
    let last_row = rows
        .checked_sub(1)
        .and_then(|r| r.checked_mul(stride))
        .and_then(|r| r.checked_add(offset));
    let end = last_row.and_then(|r| r.checked_add(row_len));
    let overlapping = rows > 1 && row_len > stride;
    if row_len == 0 || overlapping || end.is_none_or(|e| e > buf.size) {
        return Err(Error::OutOfRange);
    }
    Ok(Region {
        offset,
        row_len,
        rows,
        stride,
    })
}

pub(super) fn sync(k: &mut Kernel, id: u32, a: [u64; 6]) -> SysResult {
    full_sync(k, id, a, sync_args)
}

pub(super) fn sync_rect(k: &mut Kernel, id: u32, a: [u64; 6]) -> SysResult {
    full_sync(k, id, a, rect_args)
}

/// The full path of a sync whose arguments `args` checks (`sync_args`, `rect_args`).
#[inline(always)]
fn full_sync(
    k: &mut Kernel,
    id: u32,
    a: [u64; 6],
    args: fn(&Handles, [u64; 6]) -> Result<SyncArgs<'_>, Error>,
) -> SysResult {
    let (buf, step, rows) = {
        let o = task(k, id)?.objects();
        let (buf, rights, phase, dir, rows, cleaned) = args(&o.handles, a)?;
        let flags = (phase, dir, cleaned);
        let step = sync_state(&o.cpu_access, buf, rights, flags, rows, false)?;
        (buf.clone(), step, rows)
    };
    finish_sync(k, id, buf, step, rows, a)
}

/// The fast path of `buffer_sync` and `buffer_sync_rect` (`super::fast` dispatches): one
/// function for each plain flag word of each (`sync_start_write`, `rect_end_read`, ...),
/// in which the call, the phase and the direction are constants (no decoding, and only
/// that case's code), and one for any other word of each, decoded as the full path does
/// (`sync::USER_CLEANED`, or a word the full path refuses). Each returns 0 if it
/// handled the call (every result 0), nonzero, having changed nothing, for the full
/// path. (The arguments are the
/// call's registers x0..x5, passed as such: an array would go through memory.)
macro_rules! fast_cases {
    ($($name:ident = $region:ident, $phase:ident, $dir:ident;)*) => {$(
        #[doc = concat!("`", stringify!($name), "` on the fast path: see [`fast_cases`].")]
        #[inline(never)]
        pub(super) fn $name(a0: u64, a1: u64, a2: u64, a3: u64, a4: u64, a5: u64) -> u64 {
            let a = [a0, a1, a2, a3, a4, a5];
            fast_call(a, $region, |_| Some((Phase::$phase, Dir::$dir, false)))
        }
    )*};
}

fast_cases! {
    sync_start_read = sync_region, Start, Read;
    sync_start_write = sync_region, Start, Write;
    sync_start_rw = sync_region, Start, ReadWrite;
    sync_end_read = sync_region, End, Read;
    sync_end_write = sync_region, End, Write;
    sync_end_rw = sync_region, End, ReadWrite;
    rect_start_read = rect_fast_region, Start, Read;
    rect_start_write = rect_fast_region, Start, Write;
    rect_start_rw = rect_fast_region, Start, ReadWrite;
    rect_end_read = rect_fast_region, End, Read;
    rect_end_write = rect_fast_region, End, Write;
    rect_end_rw = rect_fast_region, End, ReadWrite;
}

/// `buffer_sync` with any other flag word on the fast path (see [`fast_cases`]).
#[inline(never)]
pub(super) fn sync_other(a0: u64, a1: u64, a2: u64, a3: u64, a4: u64, a5: u64) -> u64 {
    let a = [a0, a1, a2, a3, a4, a5];
    fast_call(a, sync_region, |buf| sync_flags(a[1], buf).ok())
}

/// `buffer_sync_rect` with any other flag word on the fast path (see [`fast_cases`]).
#[inline(never)]
pub(super) fn rect_other(a0: u64, a1: u64, a2: u64, a3: u64, a4: u64, a5: u64) -> u64 {
    let a = [a0, a1, a2, a3, a4, a5];
    fast_call(a, rect_fast_region, |buf| sync_flags(a[1], buf).ok())
}

/// A fast-path sync, under the task's lock: the buffer, its region in `a` (`region`),
/// the flags (`flags`), then [`fast_finish`]. 0 if done, nonzero (nothing changed) for
/// the full path.
#[inline(always)]
fn fast_call(
    a: [u64; 6],
    region: fn(&Buffer, [u64; 6]) -> Option<Region>,
    flags: impl FnOnce(&Buffer) -> Option<(Phase, Dir, bool)>,
) -> u64 {
    let cpu = crate::smp::this_cpu_from_el0();
    let done = crate::task::with_current_fast(cpu, |o| {
        let (buf, rights) = o.handles.pick_raw(a[0], fast_buffer)?;
        let r = region(buf, a)?;
        let (phase, dir, cleaned) = flags(buf)?;
        fast_finish(&mut o.cpu_access, (buf, rights, phase, dir, r, cleaned))
    });
    if done.is_none() {
        return 1;
    }
    crate::counters::syscall_on(cpu);
    0
}

/// The buffer behind a handle's entry, with the handle's rights, for the fast paths
/// (`HandleTable::pick_raw`): `None` for any other object or an empty slot.
#[inline(always)]
fn fast_buffer(e: Option<&(Object, Rights)>) -> Option<(&Arc<Buffer>, Rights)> {
    match e {
        Some((Object::Buffer(b), r)) => Some((b, *r)),
        _ => None,
    }
}

/// `sync_state`'s rights, as the fast paths check them: reading always, writing for a
/// direction that writes (a stale START WRITE, planned as RW, is not a fast one).
#[inline(always)]
fn fast_rights(rights: Rights, dir: Dir) -> bool {
    rights.contains(Rights::MAP_READ) && (!dir.writes() || rights.contains(Rights::MAP_WRITE))
}

/// Test kernels: whether a START of `access` on `buf`, not yet holding, was checked
/// against the full path's planner ([`fast_agrees`]): only on a quiet buffer, after the
/// race window (`race-window=N`). A disagreement panics, unless a closer has come in
/// the meantime (then the gate's step must fail, and the caller asserts it does: only
/// a checked START may take hold without a pass). Always false on other kernels.
#[inline(always)]
fn quiet_start_checked(
    held: &CpuAccessSlots,
    (buf, rights, flags, r): (&Arc<Buffer>, Rights, (Phase, Dir, bool), Region),
    access: CpuAccess,
) -> bool {
    cfg!(feature = "ktest")
        && buf.quiet()
        && {
            for _ in 0..buffer::race_window() {
                core::hint::spin_loop();
            }
            true
        }
        && match fast_agrees(held, (buf, rights, flags, r), (None, None, access)) {
            Ok(()) => true,
            Err(_) if buf.gate.is_closed() || !buf.quiet() => false,
            Err(e) => panic!("{e}"),
        }
}

/// Test kernels: the Rust side of the hand-written START's check
/// (`fast_start::fast_start_check`), under the task's lock, before its gate step: what it
/// found for the call `a` in `o` must be what the Rust fast path finds (a buffer,
/// at `found`, behind the handle, the rights of `dir`, the range, no open access of it
/// and room for one), or this panics; then [`quiet_start_checked`].
pub(super) fn asm_start_checked(o: &Objects, a: [u64; 6], dir: Dir, found: usize) -> bool {
    let fail = |what: &str| -> ! {
        panic!("the assembly fast START took a call the Rust fast path refuses: {what}")
    };
    let picked = o.handles.pick_raw(a[0], fast_buffer);
    let Some((buf, rights)) = picked else {
        fail("no buffer behind the handle")
    };
    if Arc::as_ptr(buf) as usize != found {
        fail("another buffer")
    }
    let Some(r) = sync_region(buf, a) else {
        fail("the range")
    };
    if !fast_rights(rights, dir) {
        fail("the rights")
    }
    let held = &o.cpu_access;
    if slot_of(held, buf).is_some() || held.is_full() {
        fail("the open accesses")
    }
    let flags = (Phase::Start, dir, false);
    quiet_start_checked(held, (buf, rights, flags, r), CpuAccess::started(dir))
}

/// `buffer_sync`'s range in `buf` (the full path's checks, `resolve_range`).
#[inline(always)]
fn sync_region(buf: &Buffer, a: [u64; 6]) -> Option<Region> {
    let (offset, len) = resolve_range(a[2], a[3], buf.size).ok()?;
    Some(Region::range(offset, len))
}

/// `buffer_sync_rect`'s rows in `buf` ([`rect_region`]).
#[inline(always)]
fn rect_fast_region(buf: &Buffer, a: [u64; 6]) -> Option<Region> {
    rect_region(buf, a).ok()
}

/// A checked sync that needs no wait and no maintenance before it takes hold, done
/// here, under the task's lock and inside the buffer's gate (never the kernel lock);
/// `None` (nothing changed) for any other, which the full path then handles from the
/// start, errors included: so every check here may be conservative.
///
/// The gate ([`Buffer::gate`], `kobj::gate`) keeps the kernel paths that decide from
/// the buffer's holder counts (a device submission's misuse check and fence, a legacy
/// fault, a legacy mapping's start or end) out while this runs, and this out while they
/// run: a closed gate sends the call to the full path, which the kernel lock orders
/// after them. A START on a quiet buffer ([`Buffer::quiet`]: no closer ever marked
/// it) needs no pass: nothing it would look at inside one can have changed, and it
/// takes hold in one step of the gate's word, which fails on a closed or marked gate
/// (`kobj::gate::Gate::try_change_unmarked`).
///
/// This is the full path's planning (`sync_state`, then `plan_work`'s narrowing) for
/// the two cases it leaves nothing for later, specialised, and test kernels check every
/// call against it ([`check_fast`]):
/// * a START whose range has no line that may be stale (otherwise its invalidate must
///   run first, on the full path: two STARTs invalidating the same stale lines at once
///   could discard the first one's writes) and whose fences are met;
/// * an END, whose only planning state change (recording its lines as dirty) comes
///   with no maintenance left, or whose maintenance (a clean for an uncached mapping's
///   reader) is short enough to run here; a longer one falls back before any change.
#[inline(always)]
fn fast_finish(
    held: &mut CpuAccessSlots,
    (buf, rights, phase, dir, r, cleaned): SyncArgs,
) -> Option<()> {
    if !fast_rights(rights, dir) {
        return None;
    }
    let slot = slot_of(held, buf);
    match phase {
        Phase::Start => {
            // A START open on the buffer (`AlreadyStarted`) or no room for one: the full
            // path's errors.
            if slot.is_some() || held.is_full() {
                return None;
            }
            let access = CpuAccess::started(dir);
            let flags = (phase, dir, cleaned);
            let writes = i32::from(dir.writes());
            // (Checked before the gate's step: once held, a closer may come. A closer
            // that could change the full path's decision marks the buffer before it
            // leaves, and the step then fails. One may also come during the check: a
            // check that disagrees then is void, if the gate shows that closer, closed
            // or marked.)
            let checked = quiet_start_checked(held, (buf, rights, flags, r), access);
            // A quiet buffer (no closer ever marked it: the common case of one only CPUs
            // use) has nothing to invalidate and nothing to wait for: the START takes
            // hold in one step of the gate's word, if no closer is inside. Any other goes
            // through a pass, to look.
            let pass = if buf.gate.try_change_unmarked(1, writes) {
                // (Marks are never cleared: quiet now, so quiet when checked, and a
                // check voided by a closer that left no mark is a closer that changed
                // the decision unmarked.)
                assert!(
                    checked || !cfg!(feature = "ktest"),
                    "the sync fast path took hold without a pass of a buffer it could not check"
                );
                None
            } else {
                let pass = start_pass(buf, dir, r)?;
                check_fast(held, (buf, rights, flags, r), (None, None, access));
                Some(pass)
            };
            // SAFETY: `held` is not full: checked above (no entry for the buffer and
            // `is_full` false), under the same hold of the task's lock, and nothing
            // since changed it.
            unsafe { held.push_unchecked((buf.clone(), access)) };
            if let Some(pass) = pass {
                pass.leave_with(1, writes);
            }
        }
        Phase::End => {
            // No START of this direction open (`NotStarted`): the full path's error.
            let i = slot?;
            if held[i].1.current() != Some(dir) {
                return None;
            }
            let pass = buf.gate.try_pass()?;
            let cached = buf.policy == Policy::Cached;
            let unmediated = cached && buf.has_uncached_map();
            // `plan_op`'s END: a clean of what was written, unless no device needs one.
            let clean = cached && dir.writes() && !device_coherent(cleaned, unmediated);
            let op = clean.then_some(CacheOp::Clean);
            let flags = (phase, dir, cleaned);
            check_fast(
                held,
                (buf, rights, flags, r),
                (slot, op, CpuAccess::default()),
            );
            if unmediated {
                // A reader that reads memory at any time: the clean now (it records
                // nothing), here if it is short.
                let work = plan_work(buf, op, r, unmediated);
                if job::lines_bound(&work) > job::STEP_LINES {
                    return None;
                }
                // An END lets go after its last line.
                job::run_once(buf, &work);
            } else if clean {
                // The lines become dirty; the next non-coherent reader cleans them.
                let geom = crate::arch::cache::geometry();
                buf.boundary().sync(geom, op, r, false);
            }
            // Usually the only (so the last) open access: no element moves.
            if i + 1 == held.len() {
                held.pop();
            } else {
                held.swap_remove(i);
            }
            pass.leave_with(-1, -i32::from(dir.writes()));
        }
    }
    Some(())
}

/// A fast-path START on a buffer that is not quiet ([`Buffer::quiet`]): a pass through
/// its gate, if it is open, and inside it the looks at what closers left: `None` (the
/// pass left) if the START has lines of `r` to invalidate first or device work to wait
/// for, which the full path does.
#[inline(always)]
fn start_pass(buf: &Buffer, dir: Dir, r: Region) -> Option<Pass<'_>> {
    let pass = buf.gate.try_pass()?;
    let cached = buf.policy == Policy::Cached;
    // Lines to invalidate first: all of them under an uncached mapping's writes.
    if cached && buf.has_uncached_map() {
        return None;
    }
    // Lines a device may have written.
    if cached && buf.stale_seen() && stale_in(buf, r) {
        return None;
    }
    // Device work to wait for: a START READ waits for the device's writes, a START
    // WRITE/RW for its reads too.
    let writers = buf.device_write_fence.load(Ordering::SeqCst);
    let readers = match dir {
        Dir::Read => 0,
        _ => buf.device_read_fence.load(Ordering::SeqCst),
    };
    if writers | readers != 0 && fences_pending([writers, readers]) {
        return None;
    }
    Some(pass)
}

/// Whether a line of `r` may be stale (the fast path asks only once a line of the buffer
/// ever was).
#[inline(always)]
fn stale_in(buf: &Buffer, r: Region) -> bool {
    buf.boundary()
        .may_be_stale(crate::arch::cache::geometry(), r, false)
}

/// Whether a START must leave one of `fences` (not 0) to the full path: a fence not
/// known to be complete (the full path asks the devices, and waits), or on test kernels
/// one not yet met by the full path (`fences::first_pending` makes the first meeting of
/// a fence a wait there, so it must not be used up here).
#[inline(always)]
fn fences_pending([a, b]: [u64; 2]) -> bool {
    let pending = |f| f != 0 && (!crate::fences::known_completed(f) || crate::fences::unmet(f));
    pending(a) || pending(b)
}

/// Whether a device reading or writing a cached buffer needs no maintenance from the
/// kernel for this sync: every device is coherent, or (an END) the task cleaned the lines
/// itself (`sync::USER_CLEANED`); never with a non-coherent `party` in the way (a legacy
/// uncached mapping, stale lines for a START).
#[inline(always)]
fn device_coherent(user_cleaned: bool, party: bool) -> bool {
    (buffer::devices_coherent() || user_cleaned) && !party
}

/// Test kernels: the fast path's decision for a sync (the slot of its open access, the
/// operation planned, the holder's new state) is the full path's (`sync_state`), and a
/// START's planned maintenance narrows to nothing; a panic otherwise. Kernels without
/// `ktest`: nothing. (Inside a pass, nothing the check reads can change under it.)
#[inline(always)]
fn check_fast(
    held: &CpuAccessSlots,
    call: (&Arc<Buffer>, Rights, (Phase, Dir, bool), Region),
    fast: (Option<usize>, Option<CacheOp>, CpuAccess),
) {
    if let Err(e) = fast_agrees(held, call, fast) {
        panic!("{e}");
    }
}

/// [`check_fast`]'s comparison, with what differs as the error: `Ok` on kernels without
/// `ktest`. Changes nothing (a START's `Boundary::sync` only plans).
#[inline(always)]
fn fast_agrees(
    held: &CpuAccessSlots,
    (buf, rights, flags, r): (&Arc<Buffer>, Rights, (Phase, Dir, bool), Region),
    (slot, op, access): (Option<usize>, Option<CacheOp>, CpuAccess),
) -> Result<(), &'static str> {
    if !cfg!(feature = "ktest") {
        return Ok(());
    }
    let Ok(SyncStep::Maintain(m)) = sync_state(held, buf, rights, flags, r, true) else {
        return Err("the sync fast path took a call the full path waits for or refuses");
    };
    if m.commit.slot != slot || m.commit.access != access {
        return Err("the sync fast path's holder state is not the full path's");
    }
    if flags.0 == Phase::Start {
        let geom = crate::arch::cache::geometry();
        if !buf.boundary().sync(geom, m.op, r, m.unmediated).is_none() {
            return Err("the sync fast path skipped a START's maintenance");
        }
    } else if m.op != op {
        return Err("the sync fast path planned another END than the full path");
    }
    Ok(())
}

/// The maintenance of a sync whose checks passed (the point of no return: an END's
/// lines are recorded as dirty here), from the classic plan's `op`.
#[inline(always)]
fn plan_work(buf: &Buffer, op: Option<CacheOp>, r: Region, unmediated: bool) -> Plan {
    if op.is_none() {
        return Plan::None;
    }
    buf.boundary()
        .sync(crate::arch::cache::geometry(), op, r, unmediated)
}

/// The buffer behind handle `h`.
#[inline(always)]
fn buffer_ref(handles: &Handles, h: u64) -> Result<(&Arc<Buffer>, Rights), Error> {
    match handles.get_raw(h)? {
        (Object::Buffer(b), rights) => Ok((b, rights)),
        _ => Err(Error::WrongType),
    }
}

/// Rights, planning, fences and the holder's state for a sync whose flags and range were
/// checked. Changes nothing but what the fences' look remembers (`fences::first_pending`
/// asks the devices, and on test kernels remembers the fences met), or nothing at all
/// with `look_only` (a fence not known to be complete, or on test kernels not yet met,
/// is a wait: `fences_pending`; the fast path's checks). Returns the classic plan's
/// maintenance, which the boundary then narrows ([`plan_work`]) (`Wait` is not an error:
/// the caller returns it as the outcome).
#[inline(always)]
fn sync_state(
    held: &CpuAccessSlots,
    buf: &Arc<Buffer>,
    rights: Rights,
    (phase, dir, user_cleaned): (Phase, Dir, bool),
    r: Region,
    look_only: bool,
) -> Result<SyncStep, Error> {
    if !rights.contains(Rights::MAP_READ) {
        return Err(Error::AccessDenied);
    }
    // The non-coherent parties in this sync's way. A legacy uncached mapping of a cached
    // buffer reads and writes memory whenever its task likes: an END cleans at once and
    // a START invalidates its whole range. Lines a device (or a gone uncached mapping)
    // wrote since their last invalidate make a START invalidate them; a START WRITE over
    // such lines is planned as START RW (a stale line merging with the CPU's writes
    // would be cleaned back over the device's bytes later). The holder's state still
    // records the direction asked for.
    let cached = buf.policy == Policy::Cached;
    let unmediated = cached && buf.has_uncached_map();
    // (A buffer no line of which was ever marked stale has none: no lock to ask. Test
    // kernels check that claim, the lines first: the mark comes before them, and stays.)
    if cfg!(feature = "ktest") {
        let stale_lines = !buf.boundary().stale().is_empty();
        assert!(
            !stale_lines || buf.stale_seen(),
            "stale lines on a buffer whose stale_seen is false"
        );
    }
    let stale = phase == Phase::Start
        && cached
        && (unmediated
            || buf.stale_seen()
                && buf
                    .boundary()
                    .may_be_stale(crate::arch::cache::geometry(), r, false));
    let planned_dir = coherency::effective_dir(phase, dir, stale);
    let party = match phase {
        Phase::Start => stale,
        Phase::End => unmediated,
    };
    // The classic plan (`coherency::plan_sync`'s table: the range was resolved and is
    // not empty, a rectangle's rows too). An END the task cleaned itself
    // (`user_cleaned_flags`) needs nothing more from the kernel than a coherent device
    // would, unless an uncached mapping reads.
    let may_write = rights.contains(Rights::MAP_WRITE);
    if planned_dir.writes() && !may_write {
        return Err(Error::AccessDenied);
    }
    let device_coherent = device_coherent(user_cleaned, party);
    let (wait_fences, op) = plan_op(phase, planned_dir, may_write, cached && !device_coherent);

    // Device work on the buffer must be complete first (like Linux: CPU reads wait for
    // device writers, CPU writes for everyone). The call is re-issued when it is.
    // Fences of different devices are not ordered: each is checked on its own.
    let writers = buf.device_write_fence.load(Ordering::SeqCst);
    let readers = match wait_fences {
        FenceWait::All => buf.device_read_fence.load(Ordering::SeqCst),
        _ => 0,
    };
    let pending = match wait_fences {
        // A buffer no device has touched (the common case of a CPU-only one): no lookup.
        _ if writers | readers == 0 => None,
        FenceWait::None => None,
        _ if look_only => [readers, writers]
            .into_iter()
            .find(|&f| fences_pending([f, 0])),
        FenceWait::Writers => crate::fences::first_pending(&[writers]),
        FenceWait::All => crate::fences::first_pending(&[readers, writers]),
    };
    if let Some(fence) = pending {
        return Ok(SyncStep::Wait(fence));
    }

    // The holder's state: at most one START open per task and buffer.
    let slot = slot_of(held, buf);
    let before = slot.map_or(CpuAccess::default(), |i| held[i].1);
    let access = transition(before, phase, dir, slot.is_none() && held.is_full())?;
    Ok(SyncStep::Maintain(Maintain {
        op,
        unmediated,
        commit: Commit {
            slot,
            before,
            access,
            phase,
            dir,
        },
    }))
}

/// `buf`'s entry in the task's open accesses, if it has one. (The same buffer is the
/// same allocation: every reference to it is a clone of the one `buffer_create` made.)
#[inline(always)]
fn slot_of(held: &CpuAccessSlots, buf: &Arc<Buffer>) -> Option<usize> {
    held.iter().position(|(b, _)| Arc::ptr_eq(b, buf))
}

/// The holder's state after `phase`/`dir` from `before` (`full`: the task's table of
/// open accesses has no room for a new one).
#[inline(always)]
fn transition(before: CpuAccess, phase: Phase, dir: Dir, full: bool) -> Result<CpuAccess, Error> {
    let mut access = before;
    match phase {
        Phase::Start => access.start(dir),
        Phase::End => access.end(dir),
    }
    .map_err(sync_error)?;
    if full && access.current().is_some() {
        return Err(Error::TableFull);
    }
    Ok(access)
}

/// The holder's new state after a sync, applied once its checks passed: at the start of
/// a START (so devices are held off before any line is touched), after the last
/// maintenance step of an END (so they are held off until every line is clean).
pub struct Commit {
    /// The buffer's entry in the task's open accesses when planned, if it had one.
    slot: Option<usize>,
    /// The holder's state it was planned from, and the new one.
    before: CpuAccess,
    access: CpuAccess,
    phase: Phase,
    dir: Dir,
}

impl Commit {
    /// Apply under a later hold of the task's lock than the planning's (the call ran
    /// maintenance in between, or released the lock): another thread of the task may
    /// have changed the holder's state since, and then the transition is made again on
    /// what is there now (its error, e.g. `NotStarted` for a second END of one START,
    /// is the call's).
    fn apply_later(self, held: &mut CpuAccessSlots, buf: &Arc<Buffer>) -> Result<(), Error> {
        let slot = slot_of(held, buf);
        let now = slot.map_or(CpuAccess::default(), |i| held[i].1);
        let access = if now == self.before && slot.is_some() == self.slot.is_some() {
            self.access
        } else {
            transition(now, self.phase, self.dir, slot.is_none() && held.is_full())?
        };
        if slot.is_none() && access.current().is_some() && held.is_full() {
            return Err(Error::TableFull);
        }
        Self::apply_at(held, slot, now, access, buf);
        Ok(())
    }

    /// Make `access` the holder's state of `buf` (at `slot` in `held`, if it has one;
    /// `was` is what is there now, the default state if nothing), and count it in the
    /// buffer's holders and writers.
    fn apply_at(
        held: &mut CpuAccessSlots,
        slot: Option<usize>,
        was: CpuAccess,
        access: CpuAccess,
        buf: &Arc<Buffer>,
    ) {
        let before = was.holds_write();
        let held_before = slot.is_some();
        match (slot, access.current().is_some()) {
            (Some(i), true) => held[i].1 = access,
            (Some(i), false) => {
                // Usually the only (so the last) open access: no element moves.
                if i + 1 == held.len() {
                    held.pop();
                } else {
                    held.swap_remove(i);
                }
            }
            // Room was checked when the sync was planned, and nothing ran since.
            (None, true) => {
                let _ = held.try_push((buf.clone(), access));
            }
            (None, false) => {}
        }
        let change = |was: bool, is: bool| i32::from(is) - i32::from(was);
        buf.change_holds(
            change(held_before, access.current().is_some()),
            change(before, access.holds_write()),
        );
    }
}

/// A sync whose checks passed.
struct Maintain {
    /// The classic plan's operation over the range (`coherency::plan_sync`).
    op: Option<CacheOp>,
    /// A legacy uncached mapping of the (cached) buffer exists.
    unmediated: bool,
    /// The holder's new state.
    commit: Commit,
}

/// What a sync does after its checks.
enum SyncStep {
    /// Wait for this device fence, then re-issue the call.
    Wait(u64),
    /// Plan the maintenance, do it, and change the holder's state.
    Maintain(Maintain),
}

/// Work parked between two steps of its maintenance (see `buffer::job`).
pub struct Parked {
    job: Job,
    finish: Finish,
}

/// What follows the last step of a parked job.
pub(super) enum Finish {
    /// A sync: apply an END's change of the holder's state (a START's was applied before
    /// the first step), and for a START tell the boundary its lines are current.
    Sync { commit: Option<Commit>, start: bool },
    /// `gpu_present`'s clean of the dirty lines the device reads (`generation`: of the
    /// boundary's `dirty` when planned): re-check the call and notify the device.
    Present { generation: u64 },
    /// `blk_read`'s clean of the dirty lines the device writes: as for a present.
    BlkRead { generation: u64 },
}

impl Parked {
    /// `job`, then `finish`.
    pub(super) fn new(job: Job, finish: Finish) -> Parked {
        Parked { job, finish }
    }
}

fn finish_sync(
    k: &mut Kernel,
    id: u32,
    buf: Arc<Buffer>,
    step: SyncStep,
    r: Region,
    a: [u64; 6],
) -> SysResult {
    let m = match step {
        SyncStep::Wait(fence) => return Ok(Outcome::Blocked(crate::task::Block::Fence(fence))),
        SyncStep::Maintain(m) => m,
    };
    let start = m.commit.access.current().is_some();
    let work = plan_work(&buf, m.op, r, m.unmediated);
    if work.is_none() {
        m.commit
            .apply_later(&mut task(k, id)?.objects().cpu_access, &buf)?;
        return Ok(Outcome::Done(0, 0));
    }
    // Legacy mappings of the buffer may hold dirty lines that no END will clean: a
    // START must not plainly invalidate them.
    let no_bare_invalidate = start
        && buf.legacy_mappings.load(Ordering::Relaxed) > 0
        && crate::buffer::legacy::direct_start_op(k, buf.id, CacheOp::Invalidate)
            != CacheOp::Invalidate;
    // A START takes hold before the first line; an END lets go after the last.
    let commit = if start {
        m.commit
            .apply_later(&mut task(k, id)?.objects().cpu_access, &buf)?;
        None
    } else {
        Some(m.commit)
    };
    let job = Job::new(buf, work, no_bare_invalidate);
    run_parked(k, id, Parked::new(job, Finish::Sync { commit, start }), a)
}

/// A preemption point between two bounded pieces of a call's work: true if an interrupt
/// is pending (the caller returns `Outcome::Restart`; what it did so far stays done).
pub(super) fn preempt() -> bool {
    crate::latency::point();
    crate::arch::cpu::irq_pending()
}

/// Zap the legacy mappings of `buf` before a device submission, in bounded steps
/// (`buffer::legacy::zap_step`): `Some(recorded)` once done (whether written pages were
/// recorded as dirty), `None` if an interrupt is pending between two steps: the caller
/// returns `Outcome::Restart`, and the re-issued call carries the zap on.
pub(super) fn zap_legacy(k: &mut Kernel, buf: &Buffer) -> Option<bool> {
    let mut recorded = false;
    loop {
        let z = crate::buffer::legacy::zap_step(k, buf);
        recorded |= z.recorded;
        if z.done {
            return Some(recorded);
        }
        if preempt() {
            return None;
        }
    }
}

/// A submission's clean `job`: its first step now; if that did not finish it, the rest
/// as parked work ([`run_parked`], which gives way to a pending interrupt between
/// steps and, at the end, checks the call again and tells the device through
/// `finish`). `Ok(None)`: finished in one step, the caller tells the device now.
pub(super) fn clean_then(
    k: &mut Kernel,
    id: u32,
    mut job: Job,
    finish: Finish,
    a: [u64; 6],
) -> Result<Option<SysResult>, Error> {
    if job.step() {
        return Ok(None);
    }
    crate::latency::point();
    let p = Parked::new(job, finish);
    if crate::arch::cpu::irq_pending() {
        k.park_current(p)?;
        return Ok(Some(Ok(Outcome::Restart)));
    }
    Ok(Some(run_parked(k, id, p, a)))
}

/// Run parked work step by step until it is done (then finish it) or an interrupt is
/// pending (then park it on the task and have the `svc`, whose arguments are `a`,
/// re-issued).
pub fn run_parked(k: &mut Kernel, id: u32, mut p: Parked, a: [u64; 6]) -> SysResult {
    loop {
        if p.job.step() {
            return match p.finish {
                Finish::Sync { commit, start } => {
                    if let Some(c) = commit {
                        c.apply_later(&mut task(k, id)?.objects().cpu_access, p.job.buffer())?;
                    }
                    if start {
                        p.job.buffer().boundary().start_done(p.job.work());
                    }
                    Ok(Outcome::Done(0, 0))
                }
                Finish::Present { generation } => {
                    super::gpu::present_resumed(k, id, a, p.job.work(), generation)
                }
                Finish::BlkRead { generation } => {
                    super::blk::read_resumed(k, id, a, p.job.work(), generation)
                }
            };
        }
        crate::latency::point();
        if crate::arch::cpu::irq_pending() {
            k.park_current(p)?;
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
    let user_clean = if buf.user_clean {
        abi::policy::USER_CLEAN
    } else {
        0
    };
    Ok(Outcome::Done(
        buf.size,
        policy | user_clean | (buf.id << 32),
    ))
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
/// lines it may have dirtied are recorded dirty (for WRITE/RW), so the next device
/// access cleans them (or cleaned at once while a legacy uncached mapping exists). For a
/// task closing or moving away its last handle to the buffer (no END is possible any
/// more) and for a task that exits or is killed.
pub fn end_access(o: &mut Objects, id: u64) {
    let Some(i) = o.cpu_access.iter().position(|(b, _)| b.id == id) else {
        return;
    };
    let (buf, access) = o.cpu_access.swap_remove(i);
    release_access(&buf, access);
}

/// The END half of an open access, without a caller to report to: as an END of the
/// whole buffer (a WRITE's lines are recorded as dirty, or cleaned at once for a legacy
/// uncached mapping).
pub fn release_access(buf: &Arc<Buffer>, access: CpuAccess) {
    let Some(dir) = access.current() else { return };
    buf.change_holds(-1, -i32::from(access.holds_write()));
    let unmediated = buf.policy == Policy::Cached && buf.has_uncached_map();
    let req = SyncRequest {
        phase: Phase::End,
        dir,
        offset: 0,
        len: buf.size,
        size: buf.size,
        policy: buf.policy,
        device_coherent: buffer::devices_coherent() && !unmediated,
        may_write: true,
    };
    if let Ok(plan) = plan_sync(&req) {
        let work = plan_work(
            buf,
            plan.op.map(|p| p.0),
            Region::range(0, buf.size),
            unmediated,
        );
        job::run_once(buf, &work);
    }
}
