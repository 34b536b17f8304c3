//! The syscall fuzzer's shared pieces: the build-time configuration, the seeded
//! generator, the table of documented errors per call (`kernel/abi/SYSCALLS.md`), the
//! result check, and the protocol between the fuzzer (`fuzz`) and its helpers
//! (`fuzz_peer`, `fuzz_victim`); the stateful fuzzer ([`state`]: the attacker task
//! `fuzz_state`, its scenarios and the worker's side of them) and the resource
//! snapshots that prove everything comes back ([`snapshot`]).
//!
//! The programs: `fuzz` (the launcher, `init=fuzz`) records the baseline and starts
//! `fuzz_worker`, which makes the run's calls: single random and adversarial calls
//! checked against the documented errors and its model (with `fuzz_peer` tasks sharing
//! its buffers and `fuzz_victim` tasks dying on purpose), and, for half of the calls,
//! stateful scenarios run by `fuzz_state` attackers that build state over thousands of
//! calls (nested channel ends, cycles, full quotas, derived rights, reused handle
//! slots), check invariants after every step and die holding what they built. A
//! violation names the seed; `cargo xtask fuzz --calls N --seed S` replays the run.
//! `fuzz_repro` holds the minimal reproducers of the kernel bugs the fuzzer found.
//!
//! There is no argv in this ABI, so the seed and the call count are baked in when the
//! crate is built: `FUZZ_SEED` and `FUZZ_CALLS` (decimal or `0x` hex) are read with
//! `option_env!`; `cargo xtask fuzz --seed S --calls N` sets them and rebuilds. Without
//! them the defaults [`DEFAULT_SEED`] and [`DEFAULT_CALLS`] apply. `FUZZ_KEEP_GOING=1`
//! makes the fuzzer report every distinct violation instead of stopping at the first.
//! For debugging, `FUZZ_STATEFUL=0` leaves the scenarios out and `FUZZ_SCENARIO=n` runs
//! only scenario `n` (`state::NAMES`), both taken from the environment of the build.

#![no_std]
#![forbid(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

pub use urt;

pub mod snapshot;
pub mod state;

use core::fmt;
use urt::{Error, Handle, Sys};

/// Seed when `FUZZ_SEED` is not set at build time.
pub const DEFAULT_SEED: u64 = 1;
/// Calls when `FUZZ_CALLS` is not set at build time.
pub const DEFAULT_CALLS: u64 = 20_000;

/// The seed this build runs with.
pub const SEED: u64 = parse_u64(option_env!("FUZZ_SEED"), DEFAULT_SEED);
/// The number of fuzzed calls this build makes.
pub const CALLS: u64 = parse_u64(option_env!("FUZZ_CALLS"), DEFAULT_CALLS);
/// Report every distinct violation and go on (exit 1 at the end) instead of stopping.
pub const KEEP_GOING: bool = parse_u64(option_env!("FUZZ_KEEP_GOING"), 0) != 0;

/// Parse a decimal or `0x` hexadecimal number at compile time; `default` if absent.
/// A malformed value fails the build.
pub const fn parse_u64(s: Option<&str>, default: u64) -> u64 {
    let Some(s) = s else { return default };
    let b = s.as_bytes();
    let (mut i, radix) = if b.len() > 2 && b[0] == b'0' && (b[1] == b'x' || b[1] == b'X') {
        (2, 16)
    } else {
        (0, 10)
    };
    assert!(i < b.len(), "empty number in FUZZ_* variable");
    let mut v: u64 = 0;
    while i < b.len() {
        let d = match b[i] {
            c @ b'0'..=b'9' => (c - b'0') as u64,
            c @ b'a'..=b'f' if radix == 16 => (c - b'a' + 10) as u64,
            c @ b'A'..=b'F' if radix == 16 => (c - b'A' + 10) as u64,
            b'_' => {
                i += 1;
                continue;
            }
            _ => panic!("bad digit in FUZZ_* variable"),
        };
        v = match v.checked_mul(radix) {
            Some(x) => match x.checked_add(d) {
                Some(y) => y,
                None => panic!("FUZZ_* value overflows u64"),
            },
            None => panic!("FUZZ_* value overflows u64"),
        };
        i += 1;
    }
    v
}

/// splitmix64: a small, well-mixed deterministic generator.
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

/// One splitmix64 step on `x` (a bijective mix).
pub const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    /// The generator for item `index` of stream `stream` of `seed`: every call of the
    /// fuzzer draws from its own generator, so one call drawing more or fewer numbers
    /// does not shift the ones after it.
    pub const fn derive(seed: u64, stream: u64, index: u64) -> Rng {
        Rng(mix(seed
            ^ mix(stream.wrapping_add(0x5851_f42d_4c95_7f2d))
            ^ mix(index)))
    }

    /// Next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    /// In `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// In `0..n` as usize.
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// True with probability `num/den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    /// One element of a non-empty slice.
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.index(xs.len())]
    }

    /// A length: small, boundary, huge or wrapping.
    pub fn length(&mut self) -> u64 {
        match self.below(10) {
            0 => 0,
            1 => 1 + self.below(16),
            2 => self.below(300),
            3 => self.pick(&[4, 5, 8, 63, 64, 65, 255, 256, 257, 4095, 4096, 4097]),
            4 => self.next_u64(),
            5 => u64::MAX - self.below(16),
            6 => 1 << self.below(64),
            7 => (1u64 << self.below(64)).wrapping_sub(1),
            _ => self.below(70_000),
        }
    }
}

/// A set of possible `x0` values: bit 0 is success, bit `n` error code `n`.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Mask(pub u32);

impl Mask {
    /// Nothing.
    pub const NONE: Mask = Mask(0);
    /// Success only.
    pub const OK: Mask = Mask(1);

    /// Just this error.
    pub const fn err(e: Error) -> Mask {
        Mask(1 << e as u32)
    }

    /// Union.
    pub const fn or(self, e: Error) -> Mask {
        Mask(self.0 | 1 << e as u32)
    }

    /// Union of masks.
    pub const fn with(self, m: Mask) -> Mask {
        Mask(self.0 | m.0)
    }

    /// Does the raw `x0` fall in the set?
    pub const fn has(self, x0: u64) -> bool {
        x0 < 32 && self.0 & (1 << x0) != 0
    }
}

impl fmt::Debug for Mask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        f.write_str("{")?;
        for code in 0..32u64 {
            if self.has(code) {
                if !first {
                    f.write_str(", ")?;
                }
                first = false;
                f.write_str(code_name(code))?;
            }
        }
        f.write_str("}")
    }
}

/// Name of a raw `x0`.
pub fn code_name(x0: u64) -> &'static str {
    match x0 {
        0 => "Ok",
        e => match Error::try_from(e) {
            Ok(e) => err_name(e),
            Err(_) => "UNDEFINED-CODE",
        },
    }
}

/// The identifier of an error (as SYSCALLS.md spells it).
pub fn err_name(e: Error) -> &'static str {
    use Error::*;
    match e {
        UnknownSyscall => "UnknownSyscall",
        BadHandle => "BadHandle",
        WrongType => "WrongType",
        AccessDenied => "AccessDenied",
        BadAddress => "BadAddress",
        InvalidArgument => "InvalidArgument",
        NoMemory => "NoMemory",
        NotFound => "NotFound",
        TooLarge => "TooLarge",
        QueueFull => "QueueFull",
        PeerClosed => "PeerClosed",
        TableFull => "TableFull",
        BufferTooSmall => "BufferTooSmall",
        BadProgram => "BadProgram",
        BadFlags => "BadFlags",
        OutOfRange => "OutOfRange",
        NotStarted => "NotStarted",
        AlreadyStarted => "AlreadyStarted",
        NotSupported => "NotSupported",
        TimedOut => "TimedOut",
        DeviceError => "DeviceError",
        Busy => "Busy",
    }
}

/// Name of a syscall number.
pub fn sys_name(num: u64) -> &'static str {
    const NAMES: [&str; 35] = [
        "exit",
        "yield",
        "log",
        "spawn",
        "wait",
        "sleep",
        "cycles",
        "handle_close",
        "handle_dup",
        "handle_info",
        "channel_create",
        "channel_send",
        "channel_recv",
        "stats",
        "buffer_create",
        "buffer_map",
        "buffer_unmap",
        "buffer_sync",
        "buffer_info",
        "trace",
        "gpu_display_info",
        "gpu_import",
        "gpu_present",
        "fence_wait",
        "gpu_map_offset",
        "gpu_mmap",
        "buffer_sync_rect",
        "counters",
        "bench_dc_loop",
        "bench_clean_all",
        "blk_info",
        "blk_read",
        "quota",
        "thread_create",
        "thread_exit",
    ];
    NAMES.get(num as usize).copied().unwrap_or("UNKNOWN")
}

/// The highest syscall number SYSCALLS.md defines.
pub const LAST_SYSCALL: u64 = Sys::ALL.len() as u64 - 1;

/// The `x0` values SYSCALLS.md allows for call `num` (success plus its error column);
/// only `UnknownSyscall` for numbers it does not define.
pub fn documented(num: u64) -> Mask {
    use Error::*;
    let Ok(sys) = Sys::try_from(num) else {
        return Mask::err(UnknownSyscall);
    };
    let errs: &[Error] = match sys {
        Sys::Exit | Sys::Yield | Sys::Cycles => &[],
        Sys::Log => &[TooLarge, BadAddress],
        Sys::Spawn => &[
            InvalidArgument,
            TooLarge,
            BadAddress,
            BadHandle,
            AccessDenied,
            TableFull,
            NotFound,
            BadProgram,
            NoMemory,
        ],
        Sys::Wait => &[BadHandle, WrongType, AccessDenied, InvalidArgument],
        Sys::Sleep => &[InvalidArgument],
        Sys::HandleClose | Sys::HandleInfo => &[BadHandle],
        Sys::HandleDup => &[BadHandle, InvalidArgument, AccessDenied, TableFull],
        Sys::ChannelCreate => &[NoMemory, TableFull],
        Sys::ChannelSend => &[
            BadHandle,
            WrongType,
            AccessDenied,
            TooLarge,
            BadAddress,
            InvalidArgument,
            Busy,
            PeerClosed,
            QueueFull,
            TableFull,
            NoMemory,
        ],
        Sys::ChannelRecv => &[
            BadHandle,
            WrongType,
            AccessDenied,
            BadAddress,
            BufferTooSmall,
            TableFull,
            PeerClosed,
        ],
        Sys::Stats => &[InvalidArgument],
        Sys::BufferCreate => &[InvalidArgument, NotSupported, TooLarge, TableFull, NoMemory],
        Sys::BufferMap => &[
            BadHandle,
            WrongType,
            InvalidArgument,
            AccessDenied,
            TableFull,
            NoMemory,
        ],
        Sys::BufferUnmap => &[InvalidArgument],
        Sys::BufferSync | Sys::BufferSyncRect => &[
            BadHandle,
            WrongType,
            BadFlags,
            NotSupported,
            OutOfRange,
            AccessDenied,
            AlreadyStarted,
            NotStarted,
            TableFull,
        ],
        Sys::BufferInfo | Sys::GpuMapOffset => &[BadHandle, WrongType],
        Sys::Trace => &[InvalidArgument, BadAddress, NotSupported],
        Sys::GpuDisplayInfo | Sys::BenchCleanAll | Sys::BlkInfo => &[NotSupported],
        Sys::GpuImport => &[
            NotSupported,
            BadHandle,
            WrongType,
            AccessDenied,
            InvalidArgument,
            OutOfRange,
            TableFull,
            NoMemory,
            DeviceError,
        ],
        Sys::GpuPresent => &[
            BadHandle,
            WrongType,
            AccessDenied,
            OutOfRange,
            Busy,
            DeviceError,
        ],
        Sys::FenceWait => &[
            NotSupported,
            InvalidArgument,
            OutOfRange,
            TimedOut,
            DeviceError,
        ],
        Sys::GpuMmap => &[
            InvalidArgument,
            NotFound,
            OutOfRange,
            AccessDenied,
            TableFull,
            NoMemory,
        ],
        Sys::Counters => &[BadAddress],
        Sys::BenchDcLoop => &[
            NotSupported,
            BadHandle,
            WrongType,
            InvalidArgument,
            OutOfRange,
        ],
        Sys::BlkRead => &[
            NotSupported,
            BadHandle,
            WrongType,
            AccessDenied,
            InvalidArgument,
            OutOfRange,
            Busy,
            DeviceError,
        ],
        Sys::Quota => &[InvalidArgument],
        Sys::ThreadCreate => &[InvalidArgument, BadAddress, TableFull, NoMemory],
        Sys::ThreadExit => &[],
    };
    errs.iter().fold(Mask::OK, |m, &e| m.or(e))
}

/// Issue a raw syscall.
///
/// # Safety
///
/// As [`urt::sys::raw_syscall`]: any memory the call may write must be memory the
/// program does not rely on, and handles it may move or close must be ones the caller
/// has accounted for.
pub unsafe fn raw(num: u64, args: [u64; 6]) -> [u64; 3] {
    // SAFETY: forwarded from the caller.
    unsafe { urt::sys::raw_syscall(num, args) }
}

/// A result that broke the contract.
#[derive(Clone, Copy, Debug)]
pub struct Violation {
    /// Which call of the run (0-based).
    pub call: u64,
    /// Syscall number.
    pub num: u64,
    /// Arguments.
    pub args: [u64; 6],
    /// What came back.
    pub got: [u64; 3],
    /// What the document and the model allowed.
    pub want: Mask,
    /// What was wrong.
    pub why: &'static str,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "call #{}: {} ({}) args [{:#x}, {:#x}, {:#x}, {:#x}, {:#x}, {:#x}] -> x0 = {} ({}), \
             x1 = {:#x}, x2 = {:#x}; allowed {:?}: {}",
            self.call,
            sys_name(self.num),
            self.num,
            self.args[0],
            self.args[1],
            self.args[2],
            self.args[3],
            self.args[4],
            self.args[5],
            self.got[0],
            code_name(self.got[0]),
            self.got[1],
            self.got[2],
            self.want,
            self.why
        )
    }
}

/// Check `got` against the documented set for `num` and the model's prediction
/// `want` (a subset of what is documented, or [`Mask::NONE`] for "anything
/// documented").
pub fn check(
    call: u64,
    num: u64,
    args: [u64; 6],
    got: [u64; 3],
    want: Mask,
) -> Result<(), Violation> {
    let doc = documented(num);
    let v = |want, why| Violation {
        call,
        num,
        args,
        got,
        want,
        why,
    };
    if !doc.has(got[0]) {
        return Err(v(doc, "result not in the call's documented error set"));
    }
    if want != Mask::NONE && !want.has(got[0]) {
        return Err(v(want, "result differs from what the model predicts"));
    }
    Ok(())
}

/// The protocol between `fuzz` and `fuzz_peer`: the peer is spawned with a channel end
/// first, then up to three buffer or resource handles. The first message on the
/// channel is `[seed, calls, kind_0, object_0, kind_1, object_1, kind_2, object_2]`
/// (kinds from [`urt::ObjectKind`], 0 for none; objects are the fuzzer's names for the
/// buffer behind each handle, so two handles of one buffer are known to be one). The peer
/// answers with one [`peer::REPORT_WORDS`]-word report and exits 0 (no violation) or 1.
pub mod peer {
    /// Report words: `[violations, call, num, a0..a5, x0, x1, x2, calls_done]`.
    pub const REPORT_WORDS: usize = 13;
    /// The peer's exit code when it found a violation.
    pub const VIOLATION_EXIT: u64 = 1;
}

/// The protocol between `fuzz` and `fuzz_victim`: spawned with a channel end and up to
/// three more handles; the first message is `[mode, seed]`. Every mode but
/// [`victim::GARBAGE_EXIT`] ends with the task killed with the EC the mode names.
pub mod victim {
    /// Map the buffer (handle 1) writable, write it, unmap it, touch it again.
    pub const TOUCH_AFTER_UNMAP: u64 = 1;
    /// Map the buffer read-only and write it.
    pub const WRITE_READONLY_DIRECT: u64 = 2;
    /// Map the resource (handle 2) read-only through the legacy path (fault policy),
    /// read it (faults in), then write it.
    pub const WRITE_READONLY_LEGACY: u64 = 3;
    /// START WRITE on the buffer, then `udf`: its open START must die with it.
    pub const UDF_HOLDING_START: u64 = 4;
    /// Load through a misaligned stack pointer (SCTLR_EL1.SA0).
    pub const MISALIGNED_SP: u64 = 5;
    /// Jump to an unmapped address.
    pub const EXEC_UNMAPPED: u64 = 6;
    /// Read the kernel image.
    pub const READ_KERNEL: u64 = 7;
    /// Map the resource read-only through the legacy path (uncached) and write it.
    pub const WRITE_READONLY_LEGACY_UNCACHED: u64 = 8;
    /// Garbage syscalls with the handles it was given, then `exit(GARBAGE_EXIT_CODE)`.
    pub const GARBAGE_EXIT: u64 = 9;
    /// Number of modes (1..=MODES).
    pub const MODES: u64 = 9;
    /// Exit code of [`GARBAGE_EXIT`].
    pub const GARBAGE_EXIT_CODE: u64 = 7;
    /// Exit code when a fault that should have happened did not.
    pub const SURVIVED: u64 = 98;
    /// Exit code of [`MISALIGNED_SP`] when the load did not fault: SCTLR_EL1.SA0 is set,
    /// but QEMU's TCG does not implement the SP alignment check, so either outcome is
    /// accepted.
    pub const SP_UNCHECKED: u64 = 77;
    /// Exit code when a setup call failed.
    pub const SETUP_FAILED: u64 = 97;
    /// Data abort from EL0.
    pub const EC_DABT_LOW: u64 = 0x24;
    /// Instruction abort from EL0.
    pub const EC_IABT_LOW: u64 = 0x20;
    /// Unknown instruction.
    pub const EC_UNKNOWN: u64 = 0x00;
    /// SP alignment fault.
    pub const EC_SP_ALIGN: u64 = 0x26;

    /// The EC a mode dies with (`None`: it exits with [`GARBAGE_EXIT_CODE`]).
    pub const fn expected_ec(mode: u64) -> Option<u64> {
        match mode {
            TOUCH_AFTER_UNMAP
            | WRITE_READONLY_DIRECT
            | WRITE_READONLY_LEGACY
            | WRITE_READONLY_LEGACY_UNCACHED
            | READ_KERNEL => Some(EC_DABT_LOW),
            UDF_HOLDING_START => Some(EC_UNKNOWN),
            MISALIGNED_SP => Some(EC_SP_ALIGN),
            EXEC_UNMAPPED => Some(EC_IABT_LOW),
            _ => None,
        }
    }

    /// Does the mode need a buffer handle (1) / a resource handle (2)?
    pub const fn needs(mode: u64) -> (bool, bool) {
        match mode {
            TOUCH_AFTER_UNMAP | WRITE_READONLY_DIRECT | UDF_HOLDING_START => (true, false),
            WRITE_READONLY_LEGACY | WRITE_READONLY_LEGACY_UNCACHED => (false, true),
            _ => (false, false),
        }
    }
}

/// Send `words` (little-endian) as one message.
pub fn send_words(h: Handle, words: &[u64]) -> urt::Result<()> {
    let mut buf = [0u8; urt::limits::MAX_MSG_BYTES];
    let n = words.len().min(buf.len() / 8);
    for (i, w) in words[..n].iter().enumerate() {
        buf[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
    }
    urt::channel_send(h, &buf[..n * 8], &[])
}

/// Receive one message of words into `out`; returns how many arrived.
pub fn recv_words(h: Handle, out: &mut [u64]) -> urt::Result<usize> {
    let mut buf = [0u8; urt::limits::MAX_MSG_BYTES];
    let (n, _) = urt::channel_recv(h, &mut buf, &mut [])?;
    let words = (n / 8).min(out.len());
    for (i, w) in out[..words].iter_mut().enumerate() {
        let mut b = [0u8; 8];
        b.copy_from_slice(&buf[i * 8..i * 8 + 8]);
        *w = u64::from_le_bytes(b);
    }
    Ok(words)
}

/// Volatile read of the word at `p`.
///
/// # Safety
///
/// `p` must be 8-byte aligned and mapped readable (or the caller accepts the fault).
pub unsafe fn peek(p: u64) -> u64 {
    // SAFETY: the caller's contract.
    unsafe { (p as *const u64).read_volatile() }
}

/// Volatile write of the word at `p`.
///
/// # Safety
///
/// `p` must be 8-byte aligned, mapped writable and memory no Rust reference covers (or
/// the caller accepts the fault).
pub unsafe fn poke(p: u64, v: u64) {
    // SAFETY: the caller's contract.
    unsafe { (p as *mut u64).write_volatile(v) }
}
