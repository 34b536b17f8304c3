//! The syscall layer: decode `x8` and the argument registers, check every argument in
//! the order `kernel/abi/SYSCALLS.md` documents, act, and write the results back.
//!
//! A call that fails changes nothing. User memory is only reached through the task's
//! address space (`task::space`), which checks every page first.

mod blk;
mod buffer;
#[cfg(target_arch = "aarch64")]
pub mod fast_start;

pub use buffer::{release_access, Parked};
mod gpu;

use crate::arch::exception::TrapFrame;
use crate::task::account::{self, R};
use crate::task::object::{Channel, Message, Object};
use crate::task::space::UserAccess;
use crate::task::{Block, Kernel, Objects};
use abi::{limits, Error, ExitHow, Handle, Rights, Stat, Sys};
use alloc::sync::Arc;
use alloc::vec::Vec;

/// What a syscall did.
enum Outcome {
    /// Finished: results for x1, x2.
    Done(u64, u64),
    /// Failed: the error, and values for x1, x2 (sizes for `BufferTooSmall`).
    Failed(Error, u64, u64),
    /// The task must wait; the call is re-issued when it is woken (unless it is a sleep,
    /// whose waker writes the result).
    Blocked(Block),
    /// The call was interrupted between two bounded steps (a pending interrupt): the
    /// `svc` is re-issued, and the task's parked work continues then.
    Restart,
    /// The task is gone (exit).
    Gone,
}

impl From<Error> for Outcome {
    fn from(e: Error) -> Self {
        Outcome::Failed(e, 0, 0)
    }
}

type SysResult = Result<Outcome, Error>;

/// The fast path of the calls that matter most for speed (`buffer_sync`,
/// `buffer_sync_rect`): the same checks as the full path, without its generic plumbing,
/// for the calls that finish at once and need no maintenance now (`buffer::fast_cases`).
/// Returns 0 if it handled the call (every result 0), nonzero, having changed nothing,
/// for anything else (another call, an error, a fence to wait for, lines to invalidate,
/// a long range, a closed gate): the full path then handles it from the start. Each
/// case is a call in tail position, so the case's function returns to the vector.
#[inline(always)]
pub fn fast(sys: u64, a: [u64; 6]) -> u64 {
    let cases = if sys == Sys::BufferSync as u64 {
        &FAST_SYNC
    } else if sys == Sys::BufferSyncRect as u64 {
        &FAST_RECT
    } else {
        return 1;
    };
    // Flag words of more than the four defined bits go to the decoding case too.
    let case = cases[(a[1] as usize).min(cases.len() - 1)];
    case(a[0], a[1], a[2], a[3], a[4], a[5])
}

/// A [`fast`] case: the call's x0..x5 to 0 (done) or nonzero (the full path).
type FastCase = fn(u64, u64, u64, u64, u64, u64) -> u64;

/// [`fast`]'s cases of one call by flag word (one table lookup instead of a search), the
/// decoding case for every word that is not a plain one (the last entry: also that of
/// every larger word).
const fn case_table(plain: [FastCase; 6], other: FastCase) -> [FastCase; 17] {
    use coherency::SyncFlags as F;
    let mut cases = [other; 17];
    let words = [
        F::START | F::READ,
        F::START | F::WRITE,
        F::START | F::RW,
        F::END | F::READ,
        F::END | F::WRITE,
        F::END | F::RW,
    ];
    let mut i = 0;
    while i < words.len() {
        cases[words[i] as usize] = plain[i];
        i += 1;
    }
    cases
}

/// `buffer_sync`'s fast cases (see [`case_table`]).
static FAST_SYNC: [FastCase; 17] = case_table(
    [
        buffer::sync_start_read,
        buffer::sync_start_write,
        buffer::sync_start_rw,
        buffer::sync_end_read,
        buffer::sync_end_write,
        buffer::sync_end_rw,
    ],
    buffer::sync_other,
);

/// `buffer_sync_rect`'s fast cases (see [`case_table`]).
static FAST_RECT: [FastCase; 17] = case_table(
    [
        buffer::rect_start_read,
        buffer::rect_start_write,
        buffer::rect_start_rw,
        buffer::rect_end_read,
        buffer::rect_end_write,
        buffer::rect_end_rw,
    ],
    buffer::rect_other,
);

/// Handle the `svc` in `frame` for the current task.
pub fn dispatch(k: &mut Kernel, frame: &mut TrapFrame) {
    let Some(id) = k.current_id() else { return };
    crate::counters::syscall();
    let a = [
        frame.x[0], frame.x[1], frame.x[2], frame.x[3], frame.x[4], frame.x[5],
    ];
    // A call cut short between two steps is the one being re-issued: carry it on.
    let parked = k.take_parked();
    let outcome = match (parked, Sys::try_from(frame.x[8])) {
        (Some(p), _) => buffer::run_parked(k, id, p, a).unwrap_or_else(Outcome::from),
        (None, Err(e)) => Outcome::from(e),
        (None, Ok(sys)) => call(k, id, sys, a).unwrap_or_else(Outcome::from),
    };
    match outcome {
        Outcome::Done(x1, x2) => {
            frame.x[0] = 0;
            frame.x[1] = x1;
            frame.x[2] = x2;
        }
        Outcome::Failed(e, x1, x2) => {
            frame.x[0] = e as u64;
            frame.x[1] = x1;
            frame.x[2] = x2;
        }
        Outcome::Blocked(b) => {
            if b.restarts() {
                frame.elr -= 4; // re-issue `svc #0` when woken
            } else {
                frame.x[1] = 0; // the waker writes x0
                frame.x[2] = 0;
            }
            k.block_current(b);
        }
        Outcome::Restart => frame.elr -= 4,
        Outcome::Gone => {}
    }
}

fn call(k: &mut Kernel, id: u32, sys: Sys, a: [u64; 6]) -> SysResult {
    match sys {
        Sys::Exit => {
            k.destroy(id, (a[0], ExitHow::Exited));
            Ok(Outcome::Gone)
        }
        Sys::ThreadCreate => thread_create(k, id, a),
        Sys::ThreadExit => {
            k.thread_exit(a[0]);
            Ok(Outcome::Gone)
        }
        Sys::Yield => {
            k.end_slice();
            Ok(Outcome::Done(0, 0))
        }
        Sys::Log => log(k, id, a[0], a[1]),
        Sys::Spawn => spawn(k, id, a),
        Sys::Wait => wait(k, id, a[0]),
        Sys::Sleep => sleep(k, a[0]),
        Sys::Cycles => Ok(Outcome::Done(crate::arch::pmu::cycles(), 0)),
        Sys::HandleClose => {
            let t = task(k, id)?;
            let mut o = t.objects();
            let (obj, _) = o.handles.remove(handle(a[0])?)?;
            handle_gone(&mut o, &obj);
            drop(o);
            drop(obj);
            // A closed channel end may leave a blocked receiver without a peer.
            k.wake_where(|b| matches!(b, Block::Recv(_)));
            Ok(Outcome::Done(0, 0))
        }
        Sys::HandleDup => {
            let mut o = task(k, id)?.objects();
            let h = handle(a[0])?;
            o.handles.get(h)?; // BadHandle comes first
                               // A rights value beyond 32 bits is as undefined as unknown low bits.
            let rights = Rights(u32::try_from(a[1]).map_err(|_| Error::InvalidArgument)?);
            let new = o.handles.duplicate(h, rights)?;
            Ok(Outcome::Done(u64::from(new.0), 0))
        }
        Sys::HandleInfo => {
            let (obj, rights) = object(k, id, a[0])?;
            Ok(Outcome::Done(obj.kind() as u64, u64::from(rights.0)))
        }
        Sys::ChannelCreate => {
            let t = task(k, id)?;
            let mut o = t.objects();
            if o.handles.free_slots() < 2 {
                return Err(Error::TableFull);
            }
            let charges = [
                t.account.charge(R::Channels, 1)?,
                t.account.charge(R::HeapBytes, account::CHANNEL_HEAP)?,
            ];
            let (e0, e1) = Channel::create(charges);
            let rights = Rights::SEND.with(Rights::RECV).with(Rights::SHARE);
            let h0 = o.handles.insert(Object::Channel(Arc::new(e0)), rights)?;
            let h1 = o.handles.insert(Object::Channel(Arc::new(e1)), rights)?;
            Ok(Outcome::Done(u64::from(h0.0), u64::from(h1.0)))
        }
        Sys::BufferCreate => buffer::create(k, id, a[0], a[1]),
        Sys::BufferMap => buffer::map(k, id, a[0], a[1]),
        Sys::BufferUnmap => buffer::unmap(k, id, a[0]),
        Sys::BufferSync => buffer::sync(k, id, a),
        Sys::BufferInfo => buffer::info(k, id, a[0]),
        Sys::Trace => buffer::trace_call(k, id, a[0], a[1], a[2]),
        Sys::GpuDisplayInfo => gpu::display_info(),
        Sys::GpuImport => gpu::import(k, id, a),
        Sys::GpuPresent => gpu::present(k, id, a),
        Sys::FenceWait => gpu::fence_wait(a[0], a[1]),
        Sys::GpuMapOffset => gpu::map_offset(k, id, a[0]),
        Sys::GpuMmap => gpu::mmap(k, id, a),
        Sys::BufferSyncRect => buffer::sync_rect(k, id, a),
        Sys::Counters => {
            let mut raw = [0u8; 64];
            for (chunk, v) in raw
                .chunks_exact_mut(8)
                .zip(crate::counters::snapshot().to_words())
            {
                chunk.copy_from_slice(&v.to_le_bytes());
            }
            if !a[0].is_multiple_of(8) {
                return Err(Error::BadAddress);
            }
            task(k, id)?.space.write(a[0], &raw)?;
            Ok(Outcome::Done(0, 0))
        }
        Sys::BenchDcLoop => buffer::bench_dc_loop(k, id, a),
        // Set/way maintenance acts on this CPU's caches only: with other CPUs online
        // it would clean nothing of theirs (and cannot be made safe against their
        // fills), so it is refused there.
        Sys::BenchCleanAll if crate::smp::online() > 1 => Err(Error::NotSupported),
        Sys::BenchCleanAll => buffer::bench_clean_all(),
        Sys::BlkInfo => blk::info(),
        Sys::BlkRead => blk::read(k, id, a),
        Sys::Quota => {
            let r = abi::Quota::try_from(a[0])?;
            let account = &task(k, id)?.account;
            let r = kobj::quota::Resource::ALL[r as usize];
            Ok(Outcome::Done(account.used(r), account.limits()[r as usize]))
        }
        Sys::ChannelSend => send(k, id, a),
        Sys::ChannelRecv => recv(k, id, a),
        Sys::Stats => {
            let v = match Stat::try_from(a[0])? {
                Stat::FreeFrames => crate::memory::frames::counts().0 as u64,
                Stat::TotalFrames => crate::memory::frames::counts().1 as u64,
                Stat::Tasks => k.task_count() as u64,
                Stat::Ticks => crate::irq::ticks(),
                Stat::DevicesCoherent => u64::from(crate::buffer::devices_coherent()),
                Stat::MisuseStrict => u64::from(crate::buffer::misuse_strict()),
                Stat::HeapUsed => crate::memory::heap::used() as u64,
                Stat::HeapSize => crate::memory::heap::size(),
                Stat::Cpus => crate::smp::online() as u64,
                Stat::CpuOnlyLines => {
                    crate::counters::CPU_ONLY_LINES.load(core::sync::atomic::Ordering::Relaxed)
                }
                Stat::MaskedMax => crate::latency::take_max(),
            };
            Ok(Outcome::Done(v, 0))
        }
    }
}

/// After `obj` left `t`'s handle table (closed, sent or passed to `spawn`): if it was
/// the task's last handle to a buffer, its open START there ends as the matching END
/// would (a WRITE's lines are cleaned), so no START outlives the task's access.
fn handle_gone(o: &mut Objects, obj: &Object) {
    if let Object::Buffer(buf) = obj {
        let still_held = o
            .handles
            .iter()
            .any(|(o, _)| matches!(o, Object::Buffer(b) if b.id == buf.id));
        if !still_held {
            buffer::end_access(o, buf.id);
        }
    }
}

fn task(k: &mut Kernel, id: u32) -> Result<&mut crate::task::Task, Error> {
    k.task_mut(id).ok_or(Error::BadHandle)
}

/// The object behind task `id`'s handle `h` (a new reference) and the handle's rights.
pub(super) fn object(k: &mut Kernel, id: u32, h: u64) -> Result<(Object, Rights), Error> {
    let h = handle(h)?;
    let o = task(k, id)?.objects();
    o.handles.get(h).map(|(obj, rights)| (obj.clone(), rights))
}

/// A handle argument: only the low 32 bits may be set.
fn handle(x: u64) -> Result<Handle, Error> {
    u32::try_from(x).map(Handle).map_err(|_| Error::BadHandle)
}

/// Read an array of `n` handle values (4-byte aligned) from user memory.
fn read_handles(k: &mut Kernel, id: u32, ptr: u64, n: u64) -> Result<Vec<Handle>, Error> {
    if n == 0 {
        return Ok(Vec::new());
    }
    if !ptr.is_multiple_of(4) {
        return Err(Error::BadAddress);
    }
    let bytes = task(k, id)?.space.read(ptr, (n * 4) as usize)?;
    Ok(bytes
        .chunks_exact(4)
        .map(|c| Handle(u32::from_le_bytes([c[0], c[1], c[2], c[3]])))
        .collect())
}

fn log(k: &mut Kernel, id: u32, ptr: u64, len: u64) -> SysResult {
    if len > limits::MAX_LOG as u64 {
        return Err(Error::TooLarge);
    }
    let bytes = task(k, id)?.space.read(ptr, len as usize)?;
    crate::console::print(format_args!(
        "{}",
        alloc::string::String::from_utf8_lossy(&bytes)
    ));
    Ok(Outcome::Done(0, 0))
}

fn spawn(k: &mut Kernel, id: u32, a: [u64; 6]) -> SysResult {
    let (name_ptr, name_len, hptr, hlen) = (a[0], a[1], a[2], a[3]);
    if name_len == 0 {
        return Err(Error::InvalidArgument);
    }
    if name_len > limits::MAX_NAME as u64 || hlen > limits::MAX_SPAWN_HANDLES as u64 {
        return Err(Error::TooLarge);
    }
    let name = task(k, id)?.space.read(name_ptr, name_len as usize)?;
    let handles = read_handles(k, id, hptr, hlen)?;
    let name = core::str::from_utf8(&name).map_err(|_| Error::NotFound);
    let t = task(k, id)?;
    let objects: Vec<(Object, Rights)> = {
        let o = t.objects();
        o.handles.check_transfer(&handles, Rights::SHARE)?;
        if o.handles.free_slots() + handles.len() < 1 {
            return Err(Error::TableFull);
        }
        name?;
        handles
            .iter()
            .map(|&h| o.handles.get(h).map(|(o, r)| (o.clone(), r)))
            .collect::<Result<_, _>>()?
    };
    let name = name?;
    let parent = task(k, id)?.account.clone();
    // The task lock is not held here: the new task's table is filled under its own.
    let child = k.spawn(name, objects, Some(&parent))?;
    let mut o = task(k, id)?.objects();
    let mut gone = Vec::with_capacity(handles.len());
    for &h in &handles {
        let (obj, _) = o.handles.remove(h)?;
        handle_gone(&mut o, &obj);
        gone.push(obj);
    }
    let h = o
        .handles
        .insert(Object::Task(child), Rights::WAIT.with(Rights::SHARE))?;
    drop(o);
    drop(gone);
    Ok(Outcome::Done(u64::from(h.0), 0))
}

fn wait(k: &mut Kernel, id: u32, h: u64) -> SysResult {
    let me = k.current_tid();
    let (obj, rights) = object(k, id, h)?;
    let (waited, status) = match &obj {
        Object::Task(target) => (target.id, *target.status.lock()),
        Object::Thread(target) => (target.tid, *target.status.lock()),
        _ => return Err(Error::WrongType),
    };
    if !rights.contains(Rights::WAIT) {
        return Err(Error::AccessDenied);
    }
    // Waiting for one's own end (the task's, or the calling thread's) would never end.
    let own_task = matches!(obj, Object::Task(_)) && waited == id;
    if own_task || Some(waited) == me {
        return Err(Error::InvalidArgument);
    }
    match status {
        Some((code, how)) => Ok(Outcome::Done(code, how as u64)),
        None => Ok(Outcome::Blocked(Block::Wait(waited))),
    }
}

/// `thread_create(entry, stack_top, arg) -> thread handle (WAIT | SHARE)`.
fn thread_create(k: &mut Kernel, id: u32, a: [u64; 6]) -> SysResult {
    let (entry, stack_top, arg) = (a[0], a[1], a[2]);
    // The AArch64 stack must stay 16-byte aligned; both addresses must be user ones
    // (whether they are mapped shows when the thread runs: a fault kills the task).
    if !stack_top.is_multiple_of(16) || !entry.is_multiple_of(4) {
        return Err(Error::InvalidArgument);
    }
    if entry >= abi::USER_END || stack_top > abi::USER_END {
        return Err(Error::BadAddress);
    }
    if task(k, id)?.objects().handles.free_slots() == 0 {
        return Err(Error::TableFull);
    }
    let obj = k.thread_create(id, entry, stack_top, arg)?;
    let h = task(k, id)?
        .objects()
        .handles
        .insert(Object::Thread(obj), Rights::WAIT.with(Rights::SHARE))?;
    Ok(Outcome::Done(u64::from(h.0), 0))
}

/// Nanoseconds per tick.
const TICK_NS: u64 = 1_000_000_000 / crate::irq::TICK_HZ;

fn sleep(k: &mut Kernel, ns: u64) -> SysResult {
    if ns > 1_000_000_000_000 {
        return Err(Error::InvalidArgument);
    }
    if ns == 0 {
        k.end_slice();
        return Ok(Outcome::Done(0, 0));
    }
    // +1: the current tick is already partly over, and sleep must never return early.
    let ticks = ns.div_ceil(TICK_NS) + 1;
    Ok(Outcome::Blocked(Block::Sleep(crate::irq::ticks() + ticks)))
}

fn channel_of(
    k: &mut Kernel,
    id: u32,
    h: u64,
    need: Rights,
) -> Result<Arc<crate::task::object::ChannelEnd>, Error> {
    let (obj, rights) = object(k, id, h)?;
    let Object::Channel(end) = obj else {
        return Err(Error::WrongType);
    };
    if !rights.contains(need) {
        return Err(Error::AccessDenied);
    }
    Ok(end)
}

fn send(k: &mut Kernel, id: u32, a: [u64; 6]) -> SysResult {
    let (h, bptr, blen, hptr, hlen) = (a[0], a[1], a[2], a[3], a[4]);
    let end = channel_of(k, id, h, Rights::SEND)?;
    if blen > limits::MAX_MSG_BYTES as u64 || hlen > limits::MAX_MSG_HANDLES as u64 {
        return Err(Error::TooLarge);
    }
    let bytes = task(k, id)?.space.read(bptr, blen as usize)?;
    let handles = read_handles(k, id, hptr, hlen)?;
    let t = task(k, id)?;
    let mut o = t.objects();
    o.handles.check_transfer(&handles, Rights::SHARE)?;
    for &x in &handles {
        // No channel end may become unreachable in a queue (the cycle rule).
        if let (Object::Channel(e), _) = o.handles.get(x)? {
            crate::task::object::check_send_end(&end, e)?;
        }
    }
    end.can_send()?;
    let charges = [
        t.account.charge(R::Messages, 1)?,
        t.account.charge(R::HeapBytes, account::MESSAGE_HEAP)?,
    ];
    let mut moved = Vec::new();
    moved
        .try_reserve_exact(handles.len())
        .map_err(|_| Error::NoMemory)?;
    for &x in &handles {
        let (obj, rights) = o.handles.remove(x)?;
        handle_gone(&mut o, &obj);
        moved.push((obj, rights));
    }
    drop(o);
    end.send(Message {
        bytes,
        handles: moved,
        _charges: charges,
    })
    .map_err(|(e, _)| e)?;
    let key = end.key();
    k.wake_where(|b| b == Block::Recv(key));
    Ok(Outcome::Done(0, 0))
}

fn recv(k: &mut Kernel, id: u32, a: [u64; 6]) -> SysResult {
    let (h, bptr, blen, hptr, hlen) = (a[0], a[1], a[2], a[3], a[4]);
    let end = channel_of(k, id, h, Rights::RECV)?;
    let t = task(k, id)?;
    t.space.check_range(bptr, blen, UserAccess::Write)?;
    if hlen > 0 {
        let hbytes = hlen.checked_mul(4).ok_or(Error::BadAddress)?;
        if !hptr.is_multiple_of(4) {
            return Err(Error::BadAddress);
        }
        t.space.check_range(hptr, hbytes, UserAccess::Write)?;
    }
    let Some((nb, nh)) = end.peek()? else {
        return Ok(Outcome::Blocked(Block::Recv(end.key())));
    };
    if nb as u64 > blen || nh as u64 > hlen {
        return Ok(Outcome::Failed(Error::BufferTooSmall, nb as u64, nh as u64));
    }
    let mut o = t.core.objects();
    if o.handles.free_slots() < nh {
        return Err(Error::TableFull);
    }
    // Single CPU, lock held: the message peeked at is still there.
    let msg = end.take().ok_or(Error::PeerClosed)?;
    t.space.write(bptr, &msg.bytes)?;
    let mut values = Vec::with_capacity(nh * 4);
    for (obj, rights) in msg.handles {
        let h = o.handles.insert(obj, rights)?;
        values.extend_from_slice(&h.0.to_le_bytes());
    }
    t.space.write(hptr, &values)?;
    Ok(Outcome::Done(nb as u64, nh as u64))
}
