//! Typed wrappers, one per call in SYSCALLS.md. Each is a thin, 1:1 translation: no
//! retries, no splitting (use [`crate::io::write_all`] for long console output).

use crate::sys::{decode, raw_syscall};
use crate::Result;
use abi::{trace, Error, ExitHow, Handle, ObjectKind, Quota, Rights, Stat, Sys};
use core::arch::asm;
use core::fmt;

/// A syscall whose arguments cannot make the kernel write into our memory or move
/// handles behind the caller's back.
pub(crate) fn call(sys: Sys, args: [u64; 6]) -> Result<(u64, u64)> {
    // SAFETY: only used by wrappers whose pointer arguments come from shared slices the
    // kernel only reads, or that have no pointer arguments; handle-moving calls pass
    // handles the caller gave us by value for that purpose.
    decode(unsafe { raw_syscall(sys as u64, args) })
}

fn handle(v: u64) -> Handle {
    Handle(v as u32)
}

/// `exit(code)`: end the calling task; `wait` on it returns `code` with
/// [`ExitHow::Exited`]. Never returns.
pub fn exit(code: u64) -> ! {
    // SAFETY: `exit` does not return; should a broken kernel return anyway, the `udf`
    // kills the task rather than running on.
    unsafe {
        asm!(
            "svc #0",
            "udf #0",
            in("x0") code,
            in("x8") Sys::Exit as u64,
            options(noreturn, nostack),
        )
    }
}

/// `yield()`: give up the rest of the time slice.
pub fn yield_now() {
    let _ = call(Sys::Yield, [0; 6]);
}

/// `log(ptr, len)`: write `bytes` (at most [`abi::limits::MAX_LOG`]) to the console.
pub fn log(bytes: &[u8]) -> Result<()> {
    call(
        Sys::Log,
        [bytes.as_ptr() as u64, bytes.len() as u64, 0, 0, 0, 0],
    )
    .map(drop)
}

/// `spawn(name, handles)`: start the initrd program `name`, *moving* `handles` (at most
/// 4) into it. Returns the task handle (`WAIT | SHARE`).
pub fn spawn(name: &str, handles: &[Handle]) -> Result<Handle> {
    spawn_bytes(name.as_bytes(), handles)
}

/// [`spawn`] with the name as raw bytes.
pub fn spawn_bytes(name: &[u8], handles: &[Handle]) -> Result<Handle> {
    call(
        Sys::Spawn,
        [
            name.as_ptr() as u64,
            name.len() as u64,
            handles.as_ptr() as u64,
            handles.len() as u64,
            0,
            0,
        ],
    )
    .map(|(h, _)| handle(h))
}

/// `wait(task)`: block until the task ends; returns its exit code (or, if killed, the
/// exception class ESR_EL1.EC) and how it ended.
pub fn wait(task: Handle) -> Result<(u64, ExitHow)> {
    let (code, how) = call(Sys::Wait, [task.0 as u64, 0, 0, 0, 0, 0])?;
    Ok((code, ExitHow::try_from(how)?))
}

/// `sleep(ns)`: block for at least `ns` nanoseconds (at most 10^12).
pub fn sleep_ns(ns: u64) -> Result<()> {
    call(Sys::Sleep, [ns, 0, 0, 0, 0, 0]).map(drop)
}

/// `cycles()`: the cycle counter PMCCNTR_EL0 of the CPU the task runs on. Each CPU has
/// its own, started at its own time: values read on different CPUs (a task can move
/// between them) do not compare. For time across CPUs use [`counter`].
pub fn cycles() -> u64 {
    call(Sys::Cycles, [0; 6]).map(|(c, _)| c).unwrap_or(0)
}

/// The virtual counter CNTVCT_EL0: the system's time base, the same on every CPU
/// (read without a syscall; `counter_frequency` ticks per second).
pub fn counter() -> u64 {
    let v: u64;
    // SAFETY: the kernel lets EL0 read the virtual counter (CNTKCTL_EL1.EL0VCTEN); the
    // ISB keeps the read from being taken early.
    unsafe { asm!("isb", "mrs {}, cntvct_el0", out(reg) v, options(nomem, nostack)) };
    v
}

/// `handle_close(h)`.
pub fn handle_close(h: Handle) -> Result<()> {
    call(Sys::HandleClose, [h.0 as u64, 0, 0, 0, 0, 0]).map(drop)
}

/// `handle_dup(h, rights)`: a new handle to the same object with `rights` (a subset of
/// h's; h needs `SHARE`).
pub fn handle_dup(h: Handle, rights: Rights) -> Result<Handle> {
    call(Sys::HandleDup, [h.0 as u64, rights.0 as u64, 0, 0, 0, 0]).map(|(h, _)| handle(h))
}

/// `handle_info(h)`: the kind of object and the rights of the handle.
pub fn handle_info(h: Handle) -> Result<(ObjectKind, Rights)> {
    let (kind, rights) = call(Sys::HandleInfo, [h.0 as u64, 0, 0, 0, 0, 0])?;
    Ok((ObjectKind::try_from(kind)?, Rights(rights as u32)))
}

/// `channel_create()`: the two ends of a new channel, both `SEND | RECV | SHARE`.
pub fn channel_create() -> Result<(Handle, Handle)> {
    call(Sys::ChannelCreate, [0; 6]).map(|(a, b)| (handle(a), handle(b)))
}

/// `channel_send(h, bytes, handles)`: queue a message on the other end. On success the
/// `handles` are moved out of this task's table. Never blocks.
pub fn channel_send(h: Handle, bytes: &[u8], handles: &[Handle]) -> Result<()> {
    call(
        Sys::ChannelSend,
        [
            h.0 as u64,
            bytes.as_ptr() as u64,
            bytes.len() as u64,
            handles.as_ptr() as u64,
            handles.len() as u64,
            0,
        ],
    )
    .map(drop)
}

/// Why [`channel_recv`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvError {
    /// `BufferTooSmall`: the next message needs `bytes` bytes and `handles` handle slots.
    /// The message stays queued.
    TooSmall {
        /// Bytes in the next message.
        bytes: usize,
        /// Handles in the next message.
        handles: usize,
    },
    /// Any other error.
    Other(Error),
}

impl RecvError {
    /// The ABI error code ([`Error::BufferTooSmall`] for [`RecvError::TooSmall`]).
    pub fn error(self) -> Error {
        match self {
            RecvError::TooSmall { .. } => Error::BufferTooSmall,
            RecvError::Other(e) => e,
        }
    }
}

impl From<RecvError> for Error {
    fn from(e: RecvError) -> Error {
        e.error()
    }
}

impl From<Error> for RecvError {
    fn from(e: Error) -> RecvError {
        RecvError::Other(e)
    }
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::TooSmall { bytes, handles } => {
                write!(
                    f,
                    "buffer too small (need {bytes} bytes, {handles} handles)"
                )
            }
            RecvError::Other(e) => e.fmt(f),
        }
    }
}

/// `channel_recv(h, buf, handles)`: take the next message from `h`'s queue, blocking
/// while it is empty and the other end is open. Returns `(bytes, handles)` received;
/// the received handles are in `handles[..n]` and now belong to this task.
///
/// `BufferTooSmall` comes back as [`RecvError::TooSmall`] with the sizes the kernel
/// reported in `x1`/`x2`; every other error is [`RecvError::Other`]. `?` converts a
/// `RecvError` into an [`Error`].
pub fn channel_recv(
    h: Handle,
    buf: &mut [u8],
    handles: &mut [Handle],
) -> Result<(usize, usize), RecvError> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf` and at most
    // `handles.len()` u32 handle values into `handles` (`Handle` is a transparent u32, so
    // any value is valid); both are exclusive borrows for the duration of the call.
    let r = unsafe {
        raw_syscall(
            Sys::ChannelRecv as u64,
            [
                h.0 as u64,
                buf.as_mut_ptr() as u64,
                buf.len() as u64,
                handles.as_mut_ptr() as u64,
                handles.len() as u64,
                0,
            ],
        )
    };
    match decode(r) {
        Ok((n, m)) => Ok((n as usize, m as usize)),
        Err(Error::BufferTooSmall) => Err(RecvError::TooSmall {
            bytes: r[1] as usize,
            handles: r[2] as usize,
        }),
        Err(e) => Err(RecvError::Other(e)),
    }
}

/// `stats(what)`.
pub fn stats(what: Stat) -> Result<u64> {
    call(Sys::Stats, [what as u64, 0, 0, 0, 0, 0]).map(|(v, _)| v)
}

/// `quota(what) -> (used, limit)`: what the calling task and its descendants use of one
/// resource, and their limit (SYSCALLS.md, "Quotas").
pub fn quota(what: Quota) -> Result<(u64, u64)> {
    call(Sys::Quota, [what as u64, 0, 0, 0, 0, 0])
}

/// What [`buffer_info`] reports about a buffer object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufferInfo {
    /// Size in bytes (page-granular).
    pub size: u64,
    /// The policy it was created with ([`abi::policy`]).
    pub policy: u64,
    /// The buffer's id, as `trace` entries name it ([`abi::trace::Entry::buffer`]).
    pub id: u64,
}

/// `buffer_create(size, policy)`: a new buffer object of `size` bytes (rounded up to
/// 4 KiB, at most [`abi::limits::MAX_BUFFER`]), zeroed, with `policy` from
/// [`abi::policy`]. Returns a handle with `MAP_READ | MAP_WRITE | SHARE | DEVICE`.
pub fn buffer_create(size: u64, policy: u64) -> Result<Handle> {
    call(Sys::BufferCreate, [size, policy, 0, 0, 0, 0]).map(|(h, _)| handle(h))
}

/// `buffer_map(h, prot)`: map the whole buffer into this task (`prot` from
/// [`abi::prot`]: 1 read-only, 2 or 3 read-write) and return the address of the mapping,
/// in `[USER_MAP_BASE, USER_MAP_END)`.
///
/// Creating a mapping is safe; *using* it is up to the caller (raw pointer accesses,
/// bracketed by [`buffer_sync`] for cached buffers shared with devices). The mapping
/// stays until [`buffer_unmap`], even after every handle to the buffer is closed.
pub fn buffer_map(h: Handle, prot: u64) -> Result<*mut u8> {
    call(Sys::BufferMap, [h.0 as u64, prot, 0, 0, 0, 0]).map(|(a, _)| a as *mut u8)
}

/// `buffer_unmap(address)`: remove the mapping that starts at `addr` (an address
/// [`buffer_map`] returned). Anything else is `InvalidArgument` and changes nothing.
///
/// # Safety
///
/// After a successful call the memory at `addr` is gone: no reference into the mapping
/// may be live, and nothing may access it again (an access faults and kills the task).
pub unsafe fn buffer_unmap(addr: *mut u8) -> Result<()> {
    call(Sys::BufferUnmap, [addr as u64, 0, 0, 0, 0, 0]).map(drop)
}

/// `buffer_sync(h, flags, offset, len)`: begin (`START`) or end (`END`) CPU access to
/// `[offset, offset + len)` (`len == 0`: the whole buffer, with `offset == 0`), with
/// flags from [`abi::sync`]. The kernel does the cache maintenance the buffer's policy and
/// the device coherency call for.
pub fn buffer_sync(h: Handle, flags: u64, offset: u64, len: u64) -> Result<()> {
    call(Sys::BufferSync, [h.0 as u64, flags, offset, len, 0, 0]).map(drop)
}

/// `buffer_sync_rect(h, flags, offset, row_len, rows, stride)`: one [`buffer_sync`]
/// START or END over exactly the rows of a rectangle, `rows` ranges of `row_len` bytes
/// starting at `offset` and `stride` bytes apart (for pixel `(x, y)` of an image with
/// `stride`-byte rows, `offset = y * stride + x * 4`), with one DSB for the whole
/// rectangle; the lines between the rows are not touched.
pub fn buffer_sync_rect(
    h: Handle,
    flags: u64,
    offset: u64,
    row_len: u64,
    rows: u64,
    stride: u64,
) -> Result<()> {
    call(
        Sys::BufferSyncRect,
        [h.0 as u64, flags, offset, row_len, rows, stride],
    )
    .map(drop)
}

/// `buffer_info(h)`: size, policy and id of the buffer (any rights suffice).
pub fn buffer_info(h: Handle) -> Result<BufferInfo> {
    let (size, x2) = call(Sys::BufferInfo, [h.0 as u64, 0, 0, 0, 0, 0])?;
    Ok(BufferInfo {
        size,
        policy: x2 & 0xffff_ffff,
        id: x2 >> 32,
    })
}

/// `trace(CLEAR)`: discard the recorded maintenance entries. `NotSupported` on a kernel
/// built without the trace.
pub fn trace_clear() -> Result<()> {
    call(Sys::Trace, [trace::CLEAR, 0, 0, 0, 0, 0]).map(drop)
}

/// `trace(READ, out)`: copy the first `out.len()` recorded maintenance entries (in the
/// order they were issued) into `out`, keeping them recorded. Returns `(copied,
/// recorded)`; `recorded > copied` means `out` was too short. `NotSupported` on a kernel
/// built without the trace.
pub fn trace_read(out: &mut [trace::Entry]) -> Result<(usize, usize)> {
    // SAFETY: the kernel writes at most `out.len()` entries (40 bytes each, `Entry` is
    // `repr(C)` of five u64s, so any bytes are a valid value) into `out`, an exclusive,
    // 8-byte aligned borrow for the duration of the call.
    let r = unsafe {
        raw_syscall(
            Sys::Trace as u64,
            [
                trace::READ,
                out.as_mut_ptr() as u64,
                out.len() as u64,
                0,
                0,
                0,
            ],
        )
    };
    decode(r).map(|(copied, recorded)| (copied as usize, recorded as usize))
}
