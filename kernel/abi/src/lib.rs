//! The syscall ABI, shared by the kernel and user programs. The table of every call,
//! its arguments, results and errors is in `SYSCALLS.md` beside this crate; this file is
//! the same contract in code.
//!
//! Convention: `svc #0` with the call number in `x8` and arguments in `x0..x5`. On
//! return `x0` is 0 on success or an [`Error`] code, and results are in `x1` and `x2`.
//! Every other register is preserved. A bad number or bad argument is an error for the
//! caller, never a kernel panic.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use core::fmt;

macro_rules! numbered {
    ($(#[$m:meta])* pub enum $name:ident else $err:path; { $($(#[$vm:meta])* $v:ident = $n:expr,)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u64)]
        pub enum $name { $($(#[$vm])* $v = $n,)* }

        impl $name {
            /// Every value, in numeric order.
            pub const ALL: &'static [$name] = &[$($name::$v,)*];
        }

        impl TryFrom<u64> for $name {
            type Error = Error;
            fn try_from(n: u64) -> Result<Self, Error> {
                match n {
                    $($n => Ok($name::$v),)*
                    _ => Err($err),
                }
            }
        }
    };
}

numbered! {
    /// Syscall numbers (in `x8`).
    pub enum Sys else Error::UnknownSyscall; {
        /// `exit(code)`: end the calling task. Never returns.
        Exit = 0,
        /// `yield()`: give up the rest of the time slice.
        Yield = 1,
        /// `log(ptr, len)`: write UTF-8 bytes to the console.
        Log = 2,
        /// `spawn(name_ptr, name_len, handles_ptr, handles_len) -> task handle`.
        Spawn = 3,
        /// `wait(task) -> (code, how)`: block until the task ends.
        Wait = 4,
        /// `sleep(ns)`: block for at least `ns` nanoseconds.
        Sleep = 5,
        /// `cycles() -> PMCCNTR_EL0`.
        Cycles = 6,
        /// `handle_close(h)`.
        HandleClose = 7,
        /// `handle_dup(h, rights) -> h2` with `rights` a subset of h's.
        HandleDup = 8,
        /// `handle_info(h) -> (kind, rights)`.
        HandleInfo = 9,
        /// `channel_create() -> (h0, h1)`.
        ChannelCreate = 10,
        /// `channel_send(h, bytes_ptr, bytes_len, handles_ptr, handles_len)`.
        ChannelSend = 11,
        /// `channel_recv(h, buf_ptr, buf_len, handles_ptr, handles_len) -> (bytes, handles)`.
        ChannelRecv = 12,
        /// `stats(what) -> value`; see [`Stat`].
        Stats = 13,
        /// `buffer_create(size, policy) -> buffer handle`; see [`policy`].
        BufferCreate = 14,
        /// `buffer_map(h, prot) -> address`: the direct mapping; see [`prot`].
        BufferMap = 15,
        /// `buffer_unmap(address)`: remove a mapping made by `buffer_map`.
        BufferUnmap = 16,
        /// `buffer_sync(h, flags, offset, len)`: begin/end CPU access; see [`sync`].
        BufferSync = 17,
        /// `buffer_info(h) -> (size, policy | id << 32)`.
        BufferInfo = 18,
        /// `trace(cmd, ptr, cap) -> entries`: the maintenance trace (test kernels only).
        Trace = 19,
        /// `gpu_display_info() -> (width, height)` of scanout 0.
        GpuDisplayInfo = 20,
        /// `gpu_import(buffer, width, height, format) -> resource handle`.
        GpuImport = 21,
        /// `gpu_present(resource, x, y, width, height) -> fence`.
        GpuPresent = 22,
        /// `fence_wait(fence, timeout_ns)`.
        FenceWait = 23,
        /// `gpu_map_offset(resource) -> offset`: the resource's fake mmap offset (the
        /// legacy path, like DRM's MAP_DUMB).
        GpuMapOffset = 24,
        /// `gpu_mmap(offset, len, prot, policy) -> address`: map through the GPU driver,
        /// forwarded to the buffer's exporter (the legacy path); see [`legacy`].
        GpuMmap = 25,
        /// `buffer_sync_rect(h, flags, offset, row_len, rows, stride)`: `buffer_sync` of a
        /// 2D rectangle: `rows` ranges of `row_len` bytes, `stride` bytes apart.
        BufferSyncRect = 26,
        /// `counters(ptr)`: copy the kernel's [`Counters`] (64 bytes, 8-aligned) to `ptr`.
        Counters = 27,
        /// `bench_dc_loop(h, op, offset, len) -> cycles`: the bare DC loop over a buffer
        /// range in the kernel, no syscall work around it (benchmark kernels only).
        BenchDcLoop = 28,
        /// `bench_clean_all() -> cycles`: clean+invalidate the whole data cache by set/way
        /// (benchmark kernels only).
        BenchCleanAll = 29,
        /// `blk_info() -> (sectors, sector_size)` of the virtio-blk capture device.
        BlkInfo = 30,
        /// `blk_read(buffer, offset, sector, count) -> fence`: the device writes `count`
        /// sectors from `sector` into the buffer at byte `offset` (a capture).
        BlkRead = 31,
        /// `quota(resource) -> (used, limit)`: the calling task's account (it and its
        /// descendants) for one [`Quota`] resource.
        Quota = 32,
        /// `thread_create(entry, stack_top, arg) -> thread`: a new thread of the calling
        /// task, starting at `entry` with `x0 = arg` on the stack below `stack_top`.
        ThreadCreate = 33,
        /// `thread_exit(code)`: end the calling thread (the task ends with its last
        /// thread). Never returns.
        ThreadExit = 34,
    }
}

numbered! {
    /// Error codes (in `x0`; 0 means success).
    pub enum Error else Error::InvalidArgument; {
        /// The syscall number is not defined.
        UnknownSyscall = 1,
        /// The handle value is not a live handle of the caller (closed, stale, forged).
        BadHandle = 2,
        /// The handle names an object of the wrong kind for this call.
        WrongType = 3,
        /// The handle lacks a right the call needs, or rights would be raised.
        AccessDenied = 4,
        /// A user pointer is null, misaligned, outside user space, wraps around, or not
        /// mapped with the access the call needs.
        BadAddress = 5,
        /// An argument is out of its documented range.
        InvalidArgument = 6,
        /// The kernel ran out of memory for the request.
        NoMemory = 7,
        /// No program of that name is in the initrd.
        NotFound = 8,
        /// A length exceeds its documented limit.
        TooLarge = 9,
        /// The channel's queue is full.
        QueueFull = 10,
        /// The other end of the channel is closed (and nothing is left to receive).
        PeerClosed = 11,
        /// The caller's handle table is full.
        TableFull = 12,
        /// The receive buffers are too small for the next message (it stays queued;
        /// `x1`/`x2` give the sizes needed).
        BufferTooSmall = 13,
        /// The program is not a valid AArch64 user ELF.
        BadProgram = 14,
        /// `buffer_sync` flags: not exactly one of START/END, neither READ nor WRITE, or
        /// undefined bits.
        BadFlags = 15,
        /// A byte range is outside the buffer (or its end overflows).
        OutOfRange = 16,
        /// `buffer_sync` END without a matching START (none open, or another direction).
        NotStarted = 17,
        /// `buffer_sync` START while this task already has a START open on the buffer.
        AlreadyStarted = 18,
        /// The kernel was built without this facility (e.g. the trace, or no GPU).
        NotSupported = 19,
        /// `fence_wait` gave up before the fence signalled.
        TimedOut = 20,
        /// The device rejected or failed the request.
        DeviceError = 21,
        /// A device submission references a buffer some task holds for CPU write (START
        /// without END): the misuse detector refused it.
        Busy = 22,
    }
}

impl Error {
    /// Short description.
    pub const fn as_str(self) -> &'static str {
        match self {
            Error::UnknownSyscall => "unknown syscall",
            Error::BadHandle => "bad handle",
            Error::WrongType => "wrong handle type",
            Error::AccessDenied => "access denied",
            Error::BadAddress => "bad address",
            Error::InvalidArgument => "invalid argument",
            Error::NoMemory => "out of memory",
            Error::NotFound => "not found",
            Error::TooLarge => "too large",
            Error::QueueFull => "queue full",
            Error::PeerClosed => "peer closed",
            Error::TableFull => "handle table full",
            Error::BufferTooSmall => "buffer too small",
            Error::BadProgram => "bad program",
            Error::BadFlags => "bad flags",
            Error::OutOfRange => "out of range",
            Error::NotStarted => "not started",
            Error::AlreadyStarted => "already started",
            Error::NotSupported => "not supported",
            Error::TimedOut => "timed out",
            Error::DeviceError => "device error",
            Error::Busy => "busy: buffer held for CPU write",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

numbered! {
    /// What `stats` reports.
    pub enum Stat else Error::InvalidArgument; {
        /// Free physical frames.
        FreeFrames = 0,
        /// All physical frames the allocator manages.
        TotalFrames = 1,
        /// Live tasks (not yet reaped).
        Tasks = 2,
        /// Timer ticks since boot.
        Ticks = 3,
        /// 1 if devices are treated as DMA-coherent (no maintenance), else 0.
        DevicesCoherent = 4,
        /// 1 if the misuse detector refuses (`Busy`), 0 if it only reports
        /// (`misuse=report`).
        MisuseStrict = 5,
        /// Bytes allocated from the kernel heap.
        HeapUsed = 6,
        /// Size of the kernel heap in bytes.
        HeapSize = 7,
        /// Cache lines maintained since boot on buffers no device has imported or been
        /// told to write (coherence-boundary maintenance keeps it at 0).
        CpuOnlyLines = 8,
        /// Kernels built with the `latency` probe (the benchmark's second kernel): the
        /// longest stretch, in cycles, that the kernel ran with IRQs masked and no point
        /// where a pending interrupt would be taken, since the last read (which starts a
        /// new count); 0 on other kernels.
        MaskedMax = 9,
        /// CPUs online.
        Cpus = 10,
    }
}

numbered! {
    /// What `quota` reports: the resources each task's account counts (SYSCALLS.md,
    /// "Quotas").
    pub enum Quota else Error::InvalidArgument; {
        /// Physical 4 KiB frames (buffers, page tables, program images and stacks).
        Frames = 0,
        /// Kernel heap bytes, at each object's documented charge.
        HeapBytes = 1,
        /// Live tasks (the caller and its descendants).
        Tasks = 2,
        /// Live channels.
        Channels = 3,
        /// Messages sent and not yet received or dropped.
        Messages = 4,
        /// Live GPU resources.
        GpuResources = 5,
        /// Device (host) memory of those resources, in bytes.
        GpuBytes = 6,
    }
}

numbered! {
    /// Kinds of kernel object a handle can name (`handle_info` result).
    pub enum ObjectKind else Error::InvalidArgument; {
        /// A task (from `spawn`).
        Task = 1,
        /// One end of a channel.
        Channel = 2,
        /// A shared buffer object.
        Buffer = 3,
        /// A GPU resource backed by a buffer (from `gpu_import`).
        Resource = 4,
        /// A thread of a task (from `thread_create`).
        Thread = 5,
    }
}

numbered! {
    /// How a task ended (`wait`'s second result).
    pub enum ExitHow else Error::InvalidArgument; {
        /// It called `exit(code)`.
        Exited = 0,
        /// The kernel killed it for a fault; the code is the exception class (ESR.EC).
        Killed = 1,
    }
}

/// A handle value as user code sees it: `generation << 16 | (slot + 1)`. Zero is never
/// a valid handle; a value whose generation does not match the slot's is stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(transparent)]
pub struct Handle(pub u32);

impl Handle {
    /// Compose from a slot index and generation.
    pub const fn new(slot: u16, generation: u16) -> Self {
        Handle(((generation as u32) << 16) | (slot as u32 + 1))
    }

    /// Slot index, or `None` for the null value.
    pub const fn slot(self) -> Option<u16> {
        match self.0 & 0xffff {
            0 => None,
            s => Some((s - 1) as u16),
        }
    }

    /// Generation counter.
    pub const fn generation(self) -> u16 {
        (self.0 >> 16) as u16
    }
}

/// Rights a handle carries. A duplicate or transferred handle can only have fewer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(transparent)]
pub struct Rights(pub u32);

impl Rights {
    /// No rights.
    pub const NONE: Rights = Rights(0);
    /// May be duplicated, passed to `spawn` or sent over a channel.
    pub const SHARE: Rights = Rights(1 << 0);
    /// May be waited on (tasks).
    pub const WAIT: Rights = Rights(1 << 1);
    /// May send (channels).
    pub const SEND: Rights = Rights(1 << 2);
    /// May receive (channels).
    pub const RECV: Rights = Rights(1 << 3);
    /// May map for reading and START READ (buffers).
    pub const MAP_READ: Rights = Rights(1 << 4);
    /// May map for writing, START WRITE/RW, and cause pure invalidates (buffers).
    pub const MAP_WRITE: Rights = Rights(1 << 5);
    /// May let a device read the buffer: import it as a GPU resource and present it
    /// (buffers, resources).
    pub const DEVICE: Rights = Rights(1 << 6);
    /// May let a device write the buffer: `blk_read` into it (buffers).
    pub const DEVICE_WRITE: Rights = Rights(1 << 7);
    /// Every right defined.
    pub const ALL: Rights = Rights(0xff);

    /// True if every right in `other` is in `self`.
    pub const fn contains(self, other: Rights) -> bool {
        self.0 & other.0 == other.0
    }

    /// True if `self` has only defined bits.
    pub const fn is_valid(self) -> bool {
        self.0 & !Self::ALL.0 == 0
    }

    /// Union.
    pub const fn with(self, other: Rights) -> Rights {
        Rights(self.0 | other.0)
    }

    /// Intersection.
    pub const fn intersect(self, other: Rights) -> Rights {
        Rights(self.0 & other.0)
    }
}

/// `buffer_create` policies.
pub mod policy {
    /// Normal write-back cacheable memory; CPU access needs `buffer_sync`.
    pub const CACHED: u64 = 0;
    /// Normal non-cacheable memory; never needs maintenance.
    pub const UNCACHED: u64 = 1;
    /// Or'd into [`CACHED`]: the buffer's holders may clean their own writes at EL0
    /// (`DC CVAC`, then `DSB`) and say so with [`crate::sync::USER_CLEANED`] on END.
    /// Needs the kernel command line `uci` (else `NotSupported`); with [`UNCACHED`] it is
    /// `InvalidArgument`. `buffer_info` reports it in the policy word.
    pub const USER_CLEAN: u64 = 1 << 8;
}

/// `gpu_import` pixel formats (virtio-gpu's numbering; all 4 bytes per pixel).
pub mod format {
    /// B, G, R, A bytes in memory (a little-endian u32 is 0xAARRGGBB).
    pub const B8G8R8A8: u64 = 1;
    /// B, G, R, X bytes in memory (a little-endian u32 is 0x__RRGGBB).
    pub const B8G8R8X8: u64 = 2;
    /// A, R, G, B bytes in memory.
    pub const A8R8G8B8: u64 = 3;
    /// X, R, G, B bytes in memory.
    pub const X8R8G8B8: u64 = 4;
    /// R, G, B, A bytes in memory.
    pub const R8G8B8A8: u64 = 67;
    /// X, B, G, R bytes in memory.
    pub const X8B8G8R8: u64 = 68;
    /// A, B, G, R bytes in memory.
    pub const A8B8G8R8: u64 = 121;
    /// R, G, B, X bytes in memory.
    pub const R8G8B8X8: u64 = 134;
    /// Every accepted format.
    pub const ALL: [u64; 8] = [1, 2, 3, 4, 67, 68, 121, 134];
}

/// `gpu_mmap` policies: how the exporter keeps a mapping without sync calls coherent.
pub mod legacy {
    /// Cacheable, filled on demand; PTEs are zapped at each device submission and the
    /// pages written since the last one cleaned; the next touch faults, waits for the
    /// device, invalidates the page and maps it again.
    pub const FAULT: u64 = 0;
    /// Normal non-cacheable; never faults, never maintained.
    pub const UNCACHED: u64 = 1;
}

/// `buffer_map` protections.
pub mod prot {
    /// Map readable (needs `MAP_READ`).
    pub const READ: u64 = 1;
    /// Map writable (needs `MAP_WRITE`; implies readable).
    pub const WRITE: u64 = 2;
}

/// `buffer_sync` flags: exactly one of START/END with READ, WRITE or both.
pub mod sync {
    /// Begin CPU access.
    pub const START: u64 = 1;
    /// End CPU access.
    pub const END: u64 = 2;
    /// The CPU reads.
    pub const READ: u64 = 4;
    /// The CPU writes.
    pub const WRITE: u64 = 8;
    /// The CPU reads and writes.
    pub const RW: u64 = READ | WRITE;
    /// With END WRITE/RW on a buffer created with [`crate::policy::USER_CLEAN`]: the
    /// task has cleaned the range's lines itself (`DC CVAC` at EL0, then `DSB SY`), so
    /// the kernel records none of them as dirty (it still issues a `DSB`). `BadFlags`
    /// with START or END READ, or on a buffer without `USER_CLEAN`; `NotSupported` when
    /// the kernel was booted without `uci`.
    pub const USER_CLEANED: u64 = 16;
}

/// `trace` commands and entries.
pub mod trace {
    /// Discard everything recorded so far.
    pub const CLEAR: u64 = 0;
    /// Copy out (and keep) the entries recorded so far.
    pub const READ: u64 = 1;
    /// Entry op: DC CVAC (clean to PoC).
    pub const OP_CLEAN: u64 = 1;
    /// Entry op: DC IVAC (invalidate).
    pub const OP_INVALIDATE: u64 = 2;
    /// Entry op: DC CIVAC (clean and invalidate).
    pub const OP_CLEAN_INVALIDATE: u64 = 3;
    /// Entry op: a device was notified to read the range (virtio-gpu
    /// TRANSFER_TO_HOST_2D); `va` is 0.
    pub const OP_DEVICE_READ: u64 = 4;
    /// Entry op: a device was told to write the range (a virtio-blk read into the
    /// buffer); `va` is 0.
    pub const OP_DEVICE_WRITE: u64 = 7;
    /// Entry op: a legacy mapping's PTEs were removed (zapped) before a device
    /// submission; `offset`/`len` cover the mapping, `va` is its user address.
    pub const OP_ZAP: u64 = 5;
    /// Entry op: a legacy-mapping fault mapped the page at `offset` (4096 bytes) again;
    /// `va` is the user address of the page.
    pub const OP_FAULT: u64 = 6;
    /// Entry op: the calling task blocked until a device fence completed (a START, or a
    /// legacy refault, met device work in flight); `offset` is the fence, `buffer`,
    /// `len` and `va` are 0.
    pub const OP_FENCE_WAIT: u64 = 8;

    /// One range operation the kernel issued: `op` over `len` bytes (whole lines) at
    /// kernel virtual address `va`, which is `offset` bytes into buffer `buffer` (the id
    /// `buffer_info` reports).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    #[repr(C)]
    pub struct Entry {
        /// `OP_*`.
        pub op: u64,
        /// Buffer id.
        pub buffer: u64,
        /// Offset of the first line in the buffer.
        pub offset: u64,
        /// Bytes (a multiple of the line size).
        pub len: u64,
        /// Kernel virtual address of the first line.
        pub va: u64,
    }
}

/// Kernel event counters since boot (`counters`), for benchmarks: what the kernel did,
/// next to how long it took.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Counters {
    /// Cache lines cleaned (DC CVAC).
    pub lines_cleaned: u64,
    /// Cache lines invalidated (DC IVAC).
    pub lines_invalidated: u64,
    /// Cache lines cleaned and invalidated (DC CIVAC).
    pub lines_clean_invalidated: u64,
    /// Syscalls taken (every `svc`, including `counters` itself).
    pub syscalls: u64,
    /// Legacy-mapping faults resolved by the exporter.
    pub faults: u64,
    /// Legacy PTE shootdowns (one per mapping zapped before a device submission).
    pub zaps: u64,
    /// TLB invalidation instructions issued (TLBI).
    pub tlbis: u64,
    /// Data-cache set/way operations (DC CISW).
    pub setway_ops: u64,
}

impl Counters {
    /// The fields in declaration order (the layout `counters` copies out).
    pub const fn to_words(&self) -> [u64; 8] {
        [
            self.lines_cleaned,
            self.lines_invalidated,
            self.lines_clean_invalidated,
            self.syscalls,
            self.faults,
            self.zaps,
            self.tlbis,
            self.setway_ops,
        ]
    }
}

/// Fences name device work: the top byte says which device, the rest is that device's
/// sequence number (fences of one device signal in order).
pub mod fence {
    /// The GPU's fences (device 0): plain sequence numbers 1, 2, ...
    pub const GPU: u64 = 0;
    /// The block device's fences (device 1).
    pub const BLK: u64 = 1;
    /// Bits of the sequence number.
    pub const SEQ_BITS: u32 = 56;
    /// Compose a fence.
    pub const fn make(device: u64, seq: u64) -> u64 {
        (device << SEQ_BITS) | (seq & ((1 << SEQ_BITS) - 1))
    }
    /// The device of a fence.
    pub const fn device(f: u64) -> u64 {
        f >> SEQ_BITS
    }
    /// The sequence number of a fence.
    pub const fn seq(f: u64) -> u64 {
        f & ((1 << SEQ_BITS) - 1)
    }
}

/// Documented limits.
pub mod limits {
    /// Largest message body in bytes.
    pub const MAX_MSG_BYTES: usize = 256;
    /// Most handles in one message.
    pub const MAX_MSG_HANDLES: usize = 8;
    /// Messages a channel end can queue before `QueueFull`.
    pub const CHANNEL_DEPTH: usize = 16;
    /// Handle slots per task.
    pub const MAX_HANDLES: usize = 256;
    /// Longest program name for `spawn`.
    pub const MAX_NAME: usize = 64;
    /// Most handles passed to `spawn` (the child gets them in `x1..x4`).
    pub const MAX_SPAWN_HANDLES: usize = 4;
    /// Longest `log` write in bytes.
    pub const MAX_LOG: usize = 4096;
    /// Largest buffer object (bytes).
    pub const MAX_BUFFER: u64 = 64 * 1024 * 1024;
    /// Direct mappings of buffers a task may have at once.
    pub const MAX_MAPPINGS: usize = 64;
    /// Largest GPU resource side in pixels.
    pub const MAX_GPU_DIM: u64 = 16384;
    /// Longest `fence_wait` timeout (ns).
    pub const MAX_TIMEOUT_NS: u64 = 1_000_000_000_000;
    /// Bytes per block-device sector.
    pub const SECTOR: u64 = 512;
    /// Threads one task may have at once (its first thread included).
    pub const MAX_THREADS: usize = 16;
    /// Most sectors one `blk_read` may transfer (1 MiB).
    pub const MAX_BLK_SECTORS: u64 = 2048;
}

/// The first user address that is never mapped (user space is `[0, USER_END)`).
pub const USER_END: u64 = 1 << 48;
/// Where user programs are linked (`userland/user.ld`).
pub const USER_IMAGE_BASE: u64 = 0x40_0000;
/// Top of the user stack (exclusive).
pub const USER_STACK_TOP: u64 = 0x1_0000_0000;
/// Size of the user stack; the page below it is an unmapped guard.
pub const USER_STACK_SIZE: u64 = 64 * 1024;
/// Where `buffer_map` places direct mappings: `[USER_MAP_BASE, USER_MAP_END)`.
pub const USER_MAP_BASE: u64 = 0x10_0000_0000;
/// End of the buffer mapping area.
pub const USER_MAP_END: u64 = 0x80_0000_0000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_number_round_trips_and_unknown_is_an_error() {
        for &s in Sys::ALL {
            assert_eq!(Sys::try_from(s as u64), Ok(s));
        }
        assert_eq!(
            Sys::try_from(Sys::ALL.len() as u64),
            Err(Error::UnknownSyscall)
        );
        assert_eq!(Sys::try_from(u64::MAX), Err(Error::UnknownSyscall));
        for &e in Error::ALL {
            assert_eq!(Error::try_from(e as u64), Ok(e));
            assert!(!e.as_str().is_empty());
        }
        assert!(Error::try_from(0).is_err(), "0 is success, not an error");
    }

    #[test]
    fn numbers_are_dense_from_zero() {
        for (i, &s) in Sys::ALL.iter().enumerate() {
            assert_eq!(s as u64, i as u64);
        }
        for (i, &e) in Error::ALL.iter().enumerate() {
            assert_eq!(e as u64, i as u64 + 1);
        }
    }

    #[test]
    fn handle_encoding() {
        let h = Handle::new(5, 7);
        assert_eq!(h.slot(), Some(5));
        assert_eq!(h.generation(), 7);
        assert_eq!(Handle(0).slot(), None);
        assert_eq!(Handle::new(0, 1).0, 0x1_0001);
    }

    #[test]
    fn rights_subset() {
        let rw = Rights::SEND.with(Rights::RECV);
        assert!(rw.contains(Rights::SEND));
        assert!(!Rights::SEND.contains(rw));
        assert!(Rights::ALL.is_valid());
        assert!(!Rights(1 << 20).is_valid());
        assert_eq!(rw.intersect(Rights::RECV), Rights::RECV);
    }
}
