//! Shared helpers for the user tests.
//!
//! A test is a program `test_*` whose exit code is 0 for pass; on failure it prints why
//! (`FAIL file:line: ...`) and exits 1. Tests are written as
//! `fn test(args: StartArgs) -> TestResult` and declared with [`test_main!`]; the
//! checking macros print and `return Err(Failed)` from that function.
//!
//! Helpers that tests spawn are programs `h_*`.

#![no_std]
#![forbid(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

pub use urt;

use urt::{Error, ExitHow, Handle};

pub mod cases;

/// A check failed (already reported on the console).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failed;

/// What a test body returns.
pub type TestResult = Result<(), Failed>;

/// Exit code of a failed test.
pub const FAIL_CODE: i32 = 1;

/// Turn a test body's result into the program's exit code.
pub fn finish(name: &str, r: TestResult) -> i32 {
    match r {
        Ok(()) => 0,
        Err(Failed) => {
            urt::println!("{name}: FAILED");
            FAIL_CODE
        }
    }
}

/// `test_main!(body)`: the program's `main` runs `body(args)` and exits 0 if it returned
/// `Ok(())`, 1 otherwise.
#[macro_export]
macro_rules! test_main {
    ($body:path) => {
        fn main(args: $crate::urt::StartArgs) -> i32 {
            $crate::finish(::core::env!("CARGO_BIN_NAME"), $body(args))
        }
        $crate::urt::entry!(main);
    };
}

/// `check!(cond, "fmt", args..)`: if `cond` is false, print `FAIL file:line: message`
/// and return `Err(Failed)` from the enclosing function.
#[macro_export]
macro_rules! check {
    ($cond:expr $(,)?) => {
        $crate::check!($cond, "{}", ::core::stringify!($cond))
    };
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            $crate::urt::println!(
                "FAIL {}:{}: {}",
                ::core::file!(),
                ::core::line!(),
                ::core::format_args!($($arg)+)
            );
            return Err($crate::Failed);
        }
    };
}

/// `check_eq!(a, b)` / `check_eq!(a, b, "context fmt", args..)`: both sides `Debug +
/// PartialEq`.
#[macro_export]
macro_rules! check_eq {
    ($a:expr, $b:expr $(,)?) => {
        $crate::check_eq!($a, $b, "{}", ::core::stringify!($a))
    };
    ($a:expr, $b:expr, $($arg:tt)+) => {
        match (&$a, &$b) {
            (a, b) => {
                $crate::check!(
                    *a == *b,
                    "{}: got {:?}, expected {:?}",
                    ::core::format_args!($($arg)+),
                    a,
                    b
                );
            }
        }
    };
}

/// `ok!(expr)` / `ok!(expr, "context")`: unwrap a `Result`, or print the error and
/// return `Err(Failed)`.
#[macro_export]
macro_rules! ok {
    ($e:expr $(,)?) => {
        $crate::ok!($e, "{}", ::core::stringify!($e))
    };
    ($e:expr, $($arg:tt)+) => {
        match $e {
            Ok(v) => v,
            Err(e) => {
                $crate::urt::println!(
                    "FAIL {}:{}: {}: unexpected error {:?}",
                    ::core::file!(),
                    ::core::line!(),
                    ::core::format_args!($($arg)+),
                    e
                );
                return Err($crate::Failed);
            }
        }
    };
}

/// `expect_err!(expr, Error::X)` / `expect_err!(expr, Error::X, "context")`: the
/// `Result` must be `Err` converting (`Into<urt::Error>`) to exactly that error.
#[macro_export]
macro_rules! expect_err {
    ($e:expr, $err:expr $(,)?) => {
        $crate::expect_err!($e, $err, "{}", ::core::stringify!($e))
    };
    ($e:expr, $err:expr, $($arg:tt)+) => {
        match $e {
            Err(e) => {
                let got: $crate::urt::Error = ::core::convert::Into::into(e);
                $crate::check!(
                    got == $err,
                    "{}: got Err({:?}), expected Err({:?})",
                    ::core::format_args!($($arg)+),
                    got,
                    $err
                );
            }
            Ok(v) => {
                $crate::urt::println!(
                    "FAIL {}:{}: {}: got Ok({:?}), expected Err({:?})",
                    ::core::file!(),
                    ::core::line!(),
                    ::core::format_args!($($arg)+),
                    v,
                    $err
                );
                return Err($crate::Failed);
            }
        }
    };
}

/// An expected raw `x0`: an [`Error`] or `0` (success).
pub trait RawCode: Copy + core::fmt::Debug {
    /// The `x0` value.
    fn code(self) -> u64;
}

impl RawCode for Error {
    fn code(self) -> u64 {
        self as u64
    }
}

impl RawCode for i32 {
    fn code(self) -> u64 {
        self as u64
    }
}

/// `expect_raw!(r, Error::X)` (or `0` for success): a raw `[x0, x1, x2]` result must
/// have `x0` = that code.
#[macro_export]
macro_rules! expect_raw {
    ($r:expr, $err:expr $(,)?) => {
        $crate::expect_raw!($r, $err, "{}", ::core::stringify!($r))
    };
    ($r:expr, $err:expr, $($arg:tt)+) => {
        match $r {
            r => {
                let want = $crate::RawCode::code($err);
                $crate::check!(
                    r[0] == want,
                    "{}: x0 = {} ({}), expected {} ({})",
                    ::core::format_args!($($arg)+),
                    r[0],
                    $crate::code_name(r[0]),
                    want,
                    $crate::code_name(want)
                );
            }
        }
    };
}

/// Name of a raw `x0` value, for messages.
pub fn code_name(x0: u64) -> &'static str {
    match x0 {
        0 => "ok",
        e => match Error::try_from(e) {
            Ok(e) => e.as_str(),
            Err(_) => "UNDEFINED ERROR CODE",
        },
    }
}

/// Issue a raw syscall whose arguments are not expected to make the kernel write our
/// memory or move handles we rely on.
///
/// # Safety
///
/// As [`urt::sys::raw_syscall`]: any pointer the call may write through must be rejected
/// by the kernel or be memory the caller does not rely on, and handles the call could
/// close or move must be ones the caller is prepared to lose.
pub unsafe fn raw(num: urt::Sys, args: [u64; 6]) -> [u64; 3] {
    // SAFETY: forwarded from the caller.
    unsafe { urt::sys::raw_syscall(num as u64, args) }
}

/// Build a chain of `depth` channels: the end returned has the next channel's end queued
/// for it, that one the next, and so on (each sent, while nothing was queued for it,
/// through the peer of the end before it, which is then closed). Every end but the top
/// is reachable only through the queues.
pub fn nest(depth: u64) -> Result<Handle, Error> {
    let (top, mut peer) = urt::channel_create()?;
    for _ in 1..depth {
        let (x, p) = urt::channel_create()?;
        urt::channel_send(peer, b"n", &[x])?;
        urt::handle_close(peer)?;
        peer = p;
    }
    urt::handle_close(peer)?;
    Ok(top)
}

/// What the calling task's account uses of every quota resource (`urt::Quota` order).
pub fn quota_used() -> Result<[u64; 7], Failed> {
    let mut out = [0; 7];
    for (i, &q) in urt::Quota::ALL.iter().enumerate().take(7) {
        out[i] = ok!(urt::quota(q), "quota {:?}", q).0;
    }
    Ok(out)
}

/// Require the account's use to be back at `before` (nothing left charged).
pub fn expect_quota_back(before: &[u64; 7], what: &str) -> TestResult {
    let now = quota_used()?;
    for (i, (&b, &n)) in before.iter().zip(now.iter()).enumerate() {
        check!(
            b == n,
            "{}: quota {:?} used {} now, {} before",
            what,
            urt::Quota::ALL[i],
            n,
            b
        );
    }
    Ok(())
}

/// Spawn `name` with `handles`, wait for it and close the task handle.
pub fn run(name: &str, handles: &[Handle]) -> Result<(u64, ExitHow), Error> {
    let task = urt::spawn(name, handles)?;
    let r = urt::wait(task);
    let _ = urt::handle_close(task);
    r
}

/// Spawn `name` with `handles`, wait for it and require a clean `exit(0)`.
pub fn run_ok(name: &str, handles: &[Handle]) -> TestResult {
    let (code, how) = ok!(run(name, handles), "spawn/wait {}", name);
    check!(
        how == ExitHow::Exited && code == 0,
        "{} ended {:?} with code {:#x}, expected Exited 0",
        name,
        how,
        code
    );
    Ok(())
}

/// `stats(FreeFrames)`, re-read for up to 5 ticks until it equals `expected`: tolerates
/// a kernel that frees a dead task's last frames a little after `wait` returns, while a
/// real leak still shows. Returns the last value read.
pub fn free_frames_settled(expected: u64) -> Result<u64, Error> {
    let mut free = urt::stats(urt::Stat::FreeFrames)?;
    for _ in 0..5 {
        if free == expected {
            break;
        }
        urt::sleep_ns(10_000_000)?;
        free = urt::stats(urt::Stat::FreeFrames)?;
    }
    Ok(free)
}

/// Send a `u64` (little-endian) over a channel.
pub fn send_u64(h: Handle, v: u64) -> Result<(), Error> {
    urt::channel_send(h, &v.to_le_bytes(), &[])
}

/// Send several `u64`s (little-endian) as one message.
pub fn send_u64s(h: Handle, vs: &[u64]) -> Result<(), Error> {
    let mut buf = [0u8; urt::limits::MAX_MSG_BYTES];
    let n = vs.len().min(buf.len() / 8);
    for (i, v) in vs[..n].iter().enumerate() {
        buf[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
    }
    urt::channel_send(h, &buf[..n * 8], &[])
}

/// Receive a message of `u64`s into `out`; returns how many arrived (a trailing partial
/// word is ignored). Handles in the message are rejected (`BufferTooSmall`).
pub fn recv_u64s(h: Handle, out: &mut [u64]) -> Result<usize, urt::RecvError> {
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

/// Receive one `u64`.
pub fn recv_u64(h: Handle) -> Result<u64, urt::RecvError> {
    let mut v = [0u64; 1];
    match recv_u64s(h, &mut v)? {
        1 => Ok(v[0]),
        _ => Err(urt::RecvError::Other(Error::InvalidArgument)),
    }
}

/// xorshift64: a deterministic PRNG for garbage.
#[derive(Clone, Debug)]
pub struct XorShift64(pub u64);

impl XorShift64 {
    /// Next value (never 0 for a non-zero seed).
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform-ish in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `num/den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }
}

/// Fault modes understood by the `h_fault` helper (sent as one `u64` on its channel).
pub mod fault {
    /// Read the kernel image (`0xffff_ff80_0000_0000`). Data abort, EC 0x24.
    pub const READ_KERNEL_IMAGE: u64 = 1;
    /// Write the kernel image. EC 0x24.
    pub const WRITE_KERNEL_IMAGE: u64 = 2;
    /// Jump into the kernel image. Instruction abort, EC 0x20.
    pub const EXEC_KERNEL_IMAGE: u64 = 3;
    /// Read `0xffff_0000_4000_0000` (start of TTBR1 space / a linear map of RAM). EC 0x24.
    pub const READ_KERNEL_LINEAR: u64 = 4;
    /// Write `0xffff_0000_4000_0000`. EC 0x24.
    pub const WRITE_KERNEL_LINEAR: u64 = 5;
    /// Read an unmapped user address (`0x10_0000_0000`). EC 0x24.
    pub const READ_UNMAPPED: u64 = 6;
    /// Write an unmapped user address. EC 0x24.
    pub const WRITE_UNMAPPED: u64 = 7;
    /// Read address 0. EC 0x24.
    pub const READ_NULL: u64 = 8;
    /// Jump to an unmapped user address. EC 0x20.
    pub const EXEC_UNMAPPED: u64 = 9;
    /// `udf #0`. Unknown reason, EC 0x00.
    pub const UDF: u64 = 10;
    /// Write the program's own `.text` (mapped read-execute). Permission fault, EC 0x24.
    pub const WRITE_TEXT: u64 = 11;
    /// Write the program's own `.rodata` (mapped read-only). EC 0x24.
    pub const WRITE_RODATA: u64 = 12;
    /// Jump into the program's own writable `.data` (must be execute-never). EC 0x20.
    pub const EXEC_DATA: u64 = 13;
    /// Jump into the stack (must be execute-never). EC 0x20.
    pub const EXEC_STACK: u64 = 14;
    /// Write the guard page just below the stack. EC 0x24.
    pub const WRITE_STACK_GUARD: u64 = 15;
    /// `ldxr` from a misaligned address (alignment fault whatever SCTLR.A says). EC 0x24.
    pub const MISALIGNED_EXCLUSIVE: u64 = 16;
    /// Branch to a misaligned PC. PC alignment fault, EC 0x22.
    pub const MISALIGNED_PC: u64 = 17;
    /// Load through a misaligned `sp`: SP alignment fault (EC 0x26) when the kernel set
    /// SCTLR_EL1.SA0; otherwise the helper exits with [`super::SP_UNCHECKED`].
    pub const MISALIGNED_SP: u64 = 18;
    /// Read an EL1 system register (`mrs ttbr1_el1`): UNDEFINED at EL0, EC 0x00.
    pub const MRS_EL1_REG: u64 = 19;
    /// `hvc #0` at EL0: UNDEFINED, EC 0x00.
    pub const HVC: u64 = 20;
    /// `brk #0`: software breakpoint, EC 0x3c.
    pub const BRK: u64 = 21;
    /// Write the lowest word of the stack (mapped): must *not* fault; exits 0.
    pub const WRITE_STACK_BOTTOM: u64 = 22;
    /// Read the highest word of user space below 2^48 (unmapped): EC 0x24.
    pub const READ_TOP_OF_USER: u64 = 23;
    /// Read address 2^48 (first address past user space; not in TTBR1 either). EC 0x24.
    pub const READ_NONCANONICAL: u64 = 24;
    /// Write PMCR_EL0 (stop and reset every PMU counter): EL0 may only read the cycle
    /// counter, so the access traps (EC 0x18).
    pub const WRITE_PMCR: u64 = 25;
    /// Stop the cycle counter (write PMCNTENCLR_EL0): traps (EC 0x18).
    pub const STOP_CYCLE_COUNTER: u64 = 26;
    /// Program the virtual timer (write CNTV_CTL_EL0): EL0 has no timer access (EC 0x18).
    pub const WRITE_TIMER: u64 = 27;
    /// `DC CVAC` of the helper's own `.data` at EL0: traps (EC 0x18) unless the kernel
    /// was booted with `uci` (SCTLR_EL1.UCI), where it completes.
    pub const DC_CVAC: u64 = 28;
    /// `DC CIVAC` of its own `.data` at EL0: as [`DC_CVAC`].
    pub const DC_CIVAC: u64 = 29;
    /// `DC IVAC` of its own `.data` at EL0: UNDEFINED at EL0 whatever SCTLR_EL1.UCI
    /// says (EC 0x00): no task may discard dirty lines.
    pub const DC_IVAC: u64 = 30;
}

/// `h_fault`'s exit code for [`fault::MISALIGNED_SP`] when the load did not fault.
pub const SP_UNCHECKED: u64 = 77;
/// `h_fault`'s exit code when it did not get a mode it knows.
pub const FAULT_BAD_MODE: u64 = 99;
/// `h_fault`'s exit code when the fault it attempted did not happen.
pub const FAULT_SURVIVED: u64 = 98;
/// `h_exit`'s exit code.
pub const H_EXIT_CODE: u64 = 42;

/// Run `h_fault` in `mode` (one of [`fault`]); returns how it ended.
pub fn run_fault(mode: u64) -> Result<(u64, ExitHow), Failed> {
    let (mine, theirs) = ok!(urt::channel_create());
    ok!(send_u64(mine, mode), "send mode {}", mode);
    let task = ok!(urt::spawn("h_fault", &[theirs]), "spawn h_fault");
    let r = ok!(urt::wait(task), "wait h_fault mode {}", mode);
    ok!(urt::handle_close(task));
    ok!(urt::handle_close(mine));
    Ok(r)
}

/// Word `i` of the test pattern for `seed`: distinct for every word of any buffer and
/// every seed, and never zero-filled memory by accident.
pub fn pattern_word(seed: u64, i: usize) -> u64 {
    let x = seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (x ^ (x >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9) | 1
}

/// Fill `[p, p + len)` (word-aligned, whole words) with the pattern for `seed`
/// (volatile stores).
///
/// # Safety
///
/// The range must be mapped writable and be memory nothing else relies on (no live
/// reference into it).
pub unsafe fn write_pattern(p: *mut u8, len: usize, seed: u64) {
    let w = p as *mut u64;
    for i in 0..len / 8 {
        // SAFETY: in bounds and writable (caller's contract); `p` is word-aligned.
        unsafe { w.add(i).write_volatile(pattern_word(seed, i)) };
    }
}

/// The offset of the first word of `[p, p + len)` that does not hold the pattern for
/// `seed` (volatile loads), or `None`.
///
/// # Safety
///
/// The range must be mapped readable (word-aligned, whole words).
pub unsafe fn find_mismatch(p: *const u8, len: usize, seed: u64) -> Option<usize> {
    let w = p as *const u64;
    // SAFETY: in bounds and readable (caller's contract); `p` is word-aligned.
    (0..len / 8)
        .find(|&i| unsafe { w.add(i).read_volatile() } != pattern_word(seed, i))
        .map(|i| i * 8)
}

/// The offset of the first non-zero word of `[p, p + len)`, or `None`.
///
/// # Safety
///
/// As [`find_mismatch`].
pub unsafe fn find_nonzero(p: *const u8, len: usize) -> Option<usize> {
    let w = p as *const u64;
    // SAFETY: in bounds and readable (caller's contract); `p` is word-aligned.
    (0..len / 8)
        .find(|&i| unsafe { w.add(i).read_volatile() } != 0)
        .map(|i| i * 8)
}

/// The boot a test expects: how the kernel must treat the devices and the misuse
/// detector. Tests state it (a program per boot) rather than ask the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Boot {
    /// Devices treated as DMA-coherent (no maintenance for them).
    pub coherent: bool,
    /// A device submission on a buffer held for CPU write fails (`Busy`).
    pub misuse_strict: bool,
}

impl Boot {
    /// `dma=noncoherent`: every maintenance operation runs; strict misuse detector.
    pub const NONCOHERENT: Boot = Boot {
        coherent: false,
        misuse_strict: true,
    };
    /// QEMU's `dma-coherent` honoured, `misuse=report`.
    pub const COHERENT: Boot = Boot {
        coherent: true,
        misuse_strict: false,
    };
}

/// Fail unless the kernel runs in the boot `want` describes.
pub fn expect_boot(want: Boot) -> TestResult {
    let coherent = devices_coherent()?;
    let strict = ok!(urt::stats(urt::Stat::MisuseStrict));
    check!(strict <= 1, "stats(MisuseStrict) = {}", strict);
    let got = Boot {
        coherent,
        misuse_strict: strict == 1,
    };
    check_eq!(got, want, "the boot this test expects");
    Ok(())
}

/// `stats(DevicesCoherent)`, which must be exactly 0 or 1.
fn devices_coherent() -> Result<bool, Failed> {
    let v = ok!(urt::stats(urt::Stat::DevicesCoherent));
    check!(v <= 1, "stats(DevicesCoherent) = {}, expected 0 or 1", v);
    Ok(v == 1)
}

/// Entries a trace read can hold in the tests.
pub const TRACE_CAP: usize = 64;

/// Read the maintenance trace into `buf`, requiring that the kernel has it (a test
/// kernel must) and that it all fit (`copied == recorded <= buf.len()`). Returns the
/// number of entries. Fence waits (`OP_FENCE_WAIT`) are left out: in test kernels every
/// START or refault that meets a device fence blocks on it once, and tests that check
/// that read them with [`expect_waited`].
pub fn read_trace(buf: &mut [urt::trace::Entry]) -> Result<usize, Failed> {
    let n = read_trace_all(buf)?;
    let mut kept = 0;
    for i in 0..n {
        if buf[i].op != urt::trace::OP_FENCE_WAIT {
            buf[kept] = buf[i];
            kept += 1;
        }
    }
    buf[kept..].fill(urt::trace::Entry::default());
    Ok(kept)
}

/// [`read_trace`] with fence waits kept.
pub fn read_trace_all(buf: &mut [urt::trace::Entry]) -> Result<usize, Failed> {
    buf.fill(urt::trace::Entry::default());
    let (copied, recorded) = ok!(urt::trace_read(buf), "trace(READ)");
    check!(
        copied <= buf.len() && copied == recorded,
        "trace(READ) with room for {}: copied {}, recorded {}",
        buf.len(),
        copied,
        recorded
    );
    Ok(copied)
}

/// The trace shows the calling task blocked on exactly `fences`, in order, before any
/// other entry (a START waits for the device before its maintenance; a refault before
/// it maps the page).
pub fn expect_waited(what: &str, fences: &[u64]) -> TestResult {
    let mut buf = [urt::trace::Entry::default(); TRACE_CAP];
    let n = read_trace_all(&mut buf)?;
    let waits = buf[..n]
        .iter()
        .take_while(|e| e.op == urt::trace::OP_FENCE_WAIT)
        .count();
    let got: urt::alloc::vec::Vec<u64> = buf[..waits].iter().map(|e| e.offset).collect();
    let later = buf[waits..n]
        .iter()
        .any(|e| e.op == urt::trace::OP_FENCE_WAIT);
    if got.as_slice() != fences || later {
        urt::println!(
            "FAIL {}: expected a wait on fences {:#x?} before anything else; trace:",
            what,
            fences
        );
        for e in &buf[..n] {
            urt::println!("  {} {:#x?}", op_name(e.op), e);
        }
        return Err(Failed);
    }
    Ok(())
}

/// `trace(CLEAR)`, which a test kernel must support.
pub fn clear_trace() -> TestResult {
    ok!(urt::trace_clear(), "trace(CLEAR)");
    Ok(())
}

/// Name of a trace op, for messages.
pub fn op_name(op: u64) -> &'static str {
    match op {
        urt::trace::OP_CLEAN => "CLEAN",
        urt::trace::OP_INVALIDATE => "INVALIDATE",
        urt::trace::OP_CLEAN_INVALIDATE => "CLEAN_INVALIDATE",
        urt::trace::OP_DEVICE_READ => "DEVICE_READ",
        urt::trace::OP_DEVICE_WRITE => "DEVICE_WRITE",
        urt::trace::OP_ZAP => "ZAP",
        urt::trace::OP_FAULT => "FAULT",
        urt::trace::OP_FENCE_WAIT => "FENCE_WAIT",
        _ => "UNDEFINED OP",
    }
}

/// An expected trace entry of one buffer: `(op, offset, len)`.
pub type TraceOp = (u64, u64, u64);

/// The whole lines `[start, end)` that the byte range `(offset, len)` of a buffer of
/// `size` bytes touches (`len == 0`: the whole buffer), for lines of `line` bytes.
pub fn line_span(offset: u64, len: u64, size: u64, line: u64) -> (u64, u64) {
    let (a, b) = if len == 0 {
        (0, size)
    } else {
        (offset, offset + len)
    };
    (a & !(line - 1), b.next_multiple_of(line))
}

/// The whole lines of the bytes `[a, b)` (`a < b`) as `(offset, len)`, for this CPU's
/// line size.
pub fn whole_lines(a: u64, b: u64) -> (u64, u64) {
    let (start, end) = line_span(a, b - a, b, urt::dcache_line_size());
    (start, end - start)
}

/// What a holder with `MAP_WRITE` gets for START READ/RW of `(offset, len)` on a cached
/// buffer with a non-coherent device: DC IVAC over the lines wholly inside the range,
/// DC CIVAC on a partial line at either edge, in address order.
pub fn expect_invalidate(
    offset: u64,
    len: u64,
    size: u64,
    line: u64,
) -> urt::alloc::vec::Vec<TraceOp> {
    use urt::trace::{OP_CLEAN_INVALIDATE, OP_INVALIDATE};
    let (a, b) = if len == 0 {
        (0, size)
    } else {
        (offset, offset + len)
    };
    let (start, end) = line_span(offset, len, size, line);
    let mut v = urt::alloc::vec::Vec::new();
    if end - start == line && (a != start || b != end) {
        v.push((OP_CLEAN_INVALIDATE, start, line));
        return v;
    }
    let mut mid_start = start;
    let mut mid_end = end;
    if a != start {
        v.push((OP_CLEAN_INVALIDATE, start, line));
        mid_start += line;
    }
    if b != end {
        mid_end -= line;
    }
    if mid_end > mid_start {
        v.push((OP_INVALIDATE, mid_start, mid_end - mid_start));
    }
    if b != end {
        v.push((OP_CLEAN_INVALIDATE, mid_end, line));
    }
    v
}

/// What END WRITE/RW of `(offset, len)` gets on a cached buffer with a non-coherent
/// device: one DC CVAC range over exactly the touched lines.
pub fn expect_clean(offset: u64, len: u64, size: u64, line: u64) -> [TraceOp; 1] {
    let (start, end) = line_span(offset, len, size, line);
    [(urt::trace::OP_CLEAN, start, end - start)]
}

/// Reads the trace and compares it with expectations for one buffer; remembers the
/// kernel address of the buffer (`va - offset`) from the first entry and requires every
/// later entry to agree.
pub struct TraceCheck {
    /// The buffer's id (`buffer_info`).
    pub id: u64,
    /// Kernel virtual address of offset 0, once an entry has shown it.
    pub base: Option<u64>,
    /// Whether every entry must agree on `base` (one contiguous kernel mapping).
    consistent_va: bool,
    buf: [urt::trace::Entry; TRACE_CAP],
}

impl TraceCheck {
    /// A checker for buffer `id` whose entries all address one contiguous kernel mapping
    /// of the buffer (`va - offset` the same for all of them).
    pub fn new(id: u64) -> Self {
        TraceCheck {
            id,
            base: None,
            consistent_va: true,
            buf: [urt::trace::Entry::default(); TRACE_CAP],
        }
    }

    /// A checker for buffer `id` whose entries may address each page through a different
    /// kernel alias (the document does not say which kernel address creation uses): each
    /// `va` must still be a line-aligned kernel address.
    pub fn any_va(id: u64) -> Self {
        TraceCheck {
            consistent_va: false,
            ..Self::new(id)
        }
    }

    /// Read the trace (all of it must fit), print it on a mismatch.
    fn read(&mut self, what: &str) -> Result<&[urt::trace::Entry], Failed> {
        let n = read_trace(&mut self.buf)
            .inspect_err(|_| urt::println!("  (reading the trace after {})", what))?;
        Ok(&self.buf[..n])
    }

    fn dump(entries: &[urt::trace::Entry]) {
        for (i, e) in entries.iter().enumerate() {
            urt::println!(
                "  trace[{}]: {} buffer {} offset {:#x} len {:#x} va {:#x}",
                i,
                op_name(e.op),
                e.buffer,
                e.offset,
                e.len,
                e.va
            );
        }
    }

    /// Every entry is for our buffer, at a kernel address consistent with the others.
    fn check_entries(&mut self, what: &str, n: usize) -> TestResult {
        for i in 0..n {
            let e = self.buf[i];
            if e.buffer != self.id {
                Self::dump(&self.buf[..n]);
            }
            check_eq!(e.buffer, self.id, "{}: trace[{}] buffer id", what, i);
            if e.op > urt::trace::OP_CLEAN_INVALIDATE {
                continue; // an event (a device access, a zap, a fault): no kernel address
            }
            check!(
                e.va >= 0xffff_0000_0000_0000 && e.va >= e.offset,
                "{}: trace[{}] va {:#x} is not a kernel address",
                what,
                i,
                e.va
            );
            let base = e.va - e.offset;
            if !self.consistent_va {
                check!(
                    e.va.is_multiple_of(urt::dcache_line_size()),
                    "{}: trace[{}] va {:#x} is not line-aligned",
                    what,
                    i,
                    e.va
                );
                continue;
            }
            check!(
                base.is_multiple_of(4096),
                "{}: trace[{}] va {:#x} - offset {:#x} = {:#x} is not page-aligned",
                what,
                i,
                e.va,
                e.offset,
                base
            );
            match self.base {
                None => self.base = Some(base),
                Some(b) => check_eq!(
                    base,
                    b,
                    "{}: trace[{}] va - offset differs from earlier entries",
                    what,
                    i
                ),
            }
        }
        Ok(())
    }

    /// The trace holds exactly `want`, in order, all for our buffer.
    pub fn expect(&mut self, what: &str, want: &[TraceOp]) -> TestResult {
        let n = self.read(what)?.len();
        let got: urt::alloc::vec::Vec<TraceOp> = self.buf[..n]
            .iter()
            .map(|e| (e.op, e.offset, e.len))
            .collect();
        if got.as_slice() != want {
            urt::println!("FAIL {}: trace differs; got:", what);
            Self::dump(&self.buf[..n]);
            urt::println!("  expected (op, offset, len): {:x?}", want);
            return Err(Failed);
        }
        self.check_entries(what, n)
    }

    /// The trace holds ops from `ops` only, for our buffer, that together cover exactly
    /// `[start, end)` in address order without gaps or overlap (however the kernel
    /// splits it).
    pub fn expect_cover(&mut self, what: &str, ops: &[u64], start: u64, end: u64) -> TestResult {
        let n = self.read(what)?.len();
        let mut at = start;
        let mut good = n > 0 || start == end;
        for e in &self.buf[..n] {
            good &= ops.contains(&e.op) && e.offset == at && e.len > 0;
            at = at.wrapping_add(e.len);
        }
        good &= at == end;
        if !good {
            urt::println!(
                "FAIL {}: trace is not {:?} ops covering exactly [{:#x}, {:#x}); got:",
                what,
                ops.iter()
                    .map(|&o| op_name(o))
                    .collect::<urt::alloc::vec::Vec<_>>(),
                start,
                end
            );
            Self::dump(&self.buf[..n]);
            return Err(Failed);
        }
        self.check_entries(what, n)
    }
}

/// Modes of the `h_isolate` helper (sent as `[mode, arg]` on its channel).
pub mod isolate {
    /// Map the buffer RW, write back a word, unmap, touch again: EC 0x24.
    pub const TOUCH_AFTER_UNMAP: u64 = 1;
    /// Map the buffer read-only and write it: EC 0x24.
    pub const WRITE_READONLY_DIRECT: u64 = 2;
    /// Map the resource read-only (legacy, fault policy), read, write: EC 0x24.
    pub const WRITE_READONLY_LEGACY: u64 = 3;
    /// As [`WRITE_READONLY_LEGACY`] with the uncached policy: EC 0x24.
    pub const WRITE_READONLY_LEGACY_UNCACHED: u64 = 4;
    /// START WRITE on the buffer, then `udf`: EC 0x00 (the START dies with it).
    pub const UDF_HOLDING_START: u64 = 5;
    /// Load through a misaligned sp: EC 0x26 (or exit [`super::SP_UNCHECKED`]).
    pub const MISALIGNED_SP: u64 = 6;
    /// Jump to an unmapped address: EC 0x20.
    pub const EXEC_UNMAPPED: u64 = 7;
    /// Read kernel space: EC 0x24.
    pub const READ_KERNEL: u64 = 8;
    /// Present, then touch a fault-policy legacy mapping at once: waits, exits 0.
    pub const LEGACY_WAIT: u64 = 9;
    /// Keep using the buffer for `arg` rounds; reply `[status, bad offset]`.
    pub const KEEPER: u64 = 10;
    /// Block on the channel until the other end closes; exit 0.
    pub const HOLD: u64 = 11;
    /// The pattern the parent keeps in pages 0..1.
    pub const PARENT_SEED: u64 = 0x0015_0a7e;
    /// The pattern the keeper keeps in pages 2..3.
    pub const KEEPER_SEED: u64 = 0x006e_e9e7;
}
