//! `blk_info` / `blk_read` (SYSCALLS.md 30, 31) against the capture disk
//! (`scene::capture`'s layout; `cargo xtask test` attaches it). The test-pattern region
//! `[TEST_SECTOR_BASE, + TEST_SECTORS)` holds `scene::capture::fill_test_sector(s)` in
//! sector `s`: little-endian `u32` word `i` is
//! `(s as u32).wrapping_mul(0x0101_0101) ^ 0xA5A5_A5A5 ^ i`.
//!
//! 1. `blk_info`: the disk's size, 512-byte sectors.
//! 2. A read of 20 sectors into `[1024, 11264)` of a cached 4-page buffer holding a
//!    stale byte pattern the CPU wrote and ENDed (dirty lines, not cleaned: nothing but
//!    the CPU had seen the buffer): the trace shows the clean of exactly those lines
//!    (rule (a): a dirty line evicted later would land on the device's bytes), then one
//!    device write (op 7) of exactly that range; a second read of the range cleans
//!    nothing (nothing is dirty any more). The fence is a block fence (`1 << 56 | n`);
//!    after `fence_wait`, START READ of the range invalidates exactly it (non-coherent;
//!    nothing when coherent); the range holds the disk's sectors and the bytes around
//!    it are untouched; a second START READ invalidates nothing.
//! 3. START READ right after `blk_read`, without `fence_wait`, waits for the device (the
//!    trace shows it blocked on the block fence, on every run).
//! 4. START WRITE over lines a device wrote is planned as START RW: it invalidates
//!    exactly those of its range (rule (c)); once they are invalidated it is a plain
//!    START WRITE again. END WRITE cleans nothing; the next device write cleans what it
//!    ENDed before writing.
//! 5. The largest read (2048 sectors, 1 MiB) at a 512-byte offset, and an uncached
//!    buffer (never maintained).
//! 6. The misuse detector: `Busy` while this task, or another one, has a START open on
//!    the buffer (strict); let through with `misuse=report`.
//! 7. Every documented error, in the documented order; failed calls record nothing.
//!
//! Without a block device every call answers `NotSupported` (checked, then it passes).

#![no_std]
#![no_main]

use scene::capture::{test_word, TEST_SECTORS, TEST_SECTOR_BASE};
use urt::sync::{END, READ, RW, START, WRITE};
use urt::trace::{Entry, OP_DEVICE_WRITE};
use urt::{abi, policy, prot, Error, Handle, Rights, StartArgs, Stat, Sys};
use utests::{
    check, check_eq, clear_trace, expect_clean, expect_err, expect_invalidate, expect_raw, ok,
    read_trace, recv_u64, send_u64, TestResult, TraceOp, TRACE_CAP,
};

const PAGE: u64 = 4096;
const SECTOR: u64 = 512;
const SIZE: u64 = 4 * PAGE;
const FENCE_TIMEOUT_NS: u64 = 5_000_000_000;
/// The stale byte written into buffers before a read.
const STALE: u8 = 0x5a;

/// `blk_read` with raw arguments (for values the typed wrapper cannot carry).
fn raw_read(h: u64, offset: u64, sector: u64, count: u64) -> [u64; 3] {
    // SAFETY: `blk_read` only reads its integer arguments; it writes no user memory and
    // moves no handles.
    unsafe { utests::raw(Sys::BlkRead, [h, offset, sector, count, 0, 0]) }
}

/// Fill `[p, p + len)` with `byte` (volatile).
///
/// # Safety
/// The range must be mapped writable, with no live reference into it.
unsafe fn fill(p: *mut u8, len: u64, byte: u8) {
    for i in 0..len as usize {
        // SAFETY: in bounds and writable (caller's contract).
        unsafe { p.add(i).write_volatile(byte) };
    }
}

/// The first offset in `[p, p + len)` that does not hold `byte` (volatile reads).
///
/// # Safety
/// The range must be mapped readable.
unsafe fn not_byte(p: *const u8, len: u64, byte: u8) -> Option<u64> {
    // SAFETY: in bounds and readable (caller's contract).
    (0..len).find(|&i| unsafe { p.add(i as usize).read_volatile() } != byte)
}

/// The first word of `[p, p + count * 512)` that is not the disk's test pattern for
/// sectors `first..first + count`, as (sector, word, got).
///
/// # Safety
/// The range must be mapped readable and 4-byte aligned.
unsafe fn sector_mismatch(p: *const u8, first: u64, count: u64) -> Option<(u64, u32, u32)> {
    let words = p as *const u32;
    for k in 0..count {
        for i in 0..(SECTOR / 4) as u32 {
            // SAFETY: in bounds and readable, aligned (caller's contract).
            let got = unsafe {
                words
                    .add((k * SECTOR / 4) as usize + i as usize)
                    .read_volatile()
            };
            if got != test_word(first + k, i) {
                return Some((first + k, i, got));
            }
        }
    }
    None
}

/// The trace holds exactly `want` for buffer `id`: (op, offset, len); a device-write
/// entry's `va` is 0.
fn expect_trace(id: u64, what: &str, want: &[TraceOp]) -> TestResult {
    let mut buf = [Entry::default(); TRACE_CAP];
    let n = read_trace(&mut buf)?;
    let got = &buf[..n];
    let same = n == want.len()
        && got
            .iter()
            .zip(want)
            .all(|(e, w)| e.buffer == id && (e.op, e.offset, e.len) == *w)
        && got.iter().all(|e| e.op != OP_DEVICE_WRITE || e.va == 0);
    if !same {
        urt::println!("FAIL {}: trace differs; expected {:x?}; got:", what, want);
        for e in got {
            urt::println!(
                "  op {} buffer {} offset {:#x} len {:#x} va {:#x}",
                e.op,
                e.buffer,
                e.offset,
                e.len,
                e.va
            );
        }
        return Err(utests::Failed);
    }
    Ok(())
}

/// What the environment is.
struct Env {
    coherent: bool,
    strict: bool,
    line: u64,
    sectors: u64,
}

impl Env {
    /// What START READ/RW of `(offset, len)` of a cached `size`-byte buffer issues.
    fn invalidate(&self, offset: u64, len: u64, size: u64) -> urt::alloc::vec::Vec<TraceOp> {
        if self.coherent {
            urt::alloc::vec::Vec::new()
        } else {
            expect_invalidate(offset, len, size, self.line)
        }
    }

    /// What a device submission over `(offset, len)` cleans when the CPU ENDed writes
    /// to every line of it: one DC CVAC range over its lines (nothing when coherent).
    fn clean_before_device(&self, offset: u64, len: u64) -> urt::alloc::vec::Vec<TraceOp> {
        if self.coherent {
            urt::alloc::vec::Vec::new()
        } else {
            expect_clean(offset, len, u64::MAX, self.line).to_vec()
        }
    }
}

/// A cached buffer of `size` bytes, mapped read-write, holding [`STALE`] in memory.
fn stale_buffer(size: u64) -> Result<(Handle, *mut u8, u64), utests::Failed> {
    let h = ok!(urt::buffer_create(size, policy::CACHED));
    let p = ok!(urt::buffer_map(h, prot::READ | prot::WRITE));
    ok!(urt::buffer_sync(h, START | WRITE, 0, 0));
    // SAFETY: a fresh mapping of `size` bytes, nothing else refers to it.
    unsafe { fill(p, size, STALE) };
    ok!(urt::buffer_sync(h, END | WRITE, 0, 0));
    let id = ok!(urt::buffer_info(h)).id;
    Ok((h, p, id))
}

/// Check that `[p + offset, + count sectors)` holds disk sectors from `sector` and the
/// rest of the `size`-byte mapping still holds [`STALE`].
fn check_contents(p: *const u8, size: u64, offset: u64, sector: u64, count: u64) -> TestResult {
    let len = count * SECTOR;
    // SAFETY: all three ranges lie inside the readable mapping of `size` bytes.
    let (data, before, after) = unsafe {
        (
            sector_mismatch(p.add(offset as usize), sector, count),
            not_byte(p, offset, STALE),
            not_byte(p.add((offset + len) as usize), size - offset - len, STALE),
        )
    };
    if let Some((s, i, got)) = data {
        urt::println!(
            "FAIL sector {} word {}: got {:#010x}, expected {:#010x}",
            s,
            i,
            got,
            test_word(s, i)
        );
        return Err(utests::Failed);
    }
    check_eq!(before, None, "bytes before the read range changed");
    check_eq!(after, None, "bytes after the read range changed");
    Ok(())
}

/// 2: one read, traced, waited for, invalidated, verified.
fn basic_read(env: &Env) -> TestResult {
    let (h, p, id) = stale_buffer(SIZE)?;
    let (offset, sector, count) = (1024, TEST_SECTOR_BASE + 7, 20);
    let len = count * SECTOR;
    clear_trace()?;
    let fence = ok!(urt::blk_read(h, offset, sector, count));
    check_eq!(
        abi::fence::device(fence.0),
        abi::fence::BLK,
        "blk_read fence {:#x} names the block device",
        fence.0
    );
    check!(abi::fence::seq(fence.0) != 0, "fence sequence 0");
    let mut want = env.clean_before_device(offset, len);
    want.push((OP_DEVICE_WRITE, offset, len));
    expect_trace(id, "blk_read of dirty lines", &want)?;
    ok!(urt::fence_wait(fence, FENCE_TIMEOUT_NS));
    ok!(urt::fence_wait(fence, 0), "fence_wait(done, 0)");
    clear_trace()?;
    let fence = ok!(urt::blk_read(h, offset, sector, count));
    expect_trace(id, "blk_read again", &[(OP_DEVICE_WRITE, offset, len)])?;
    ok!(urt::fence_wait(fence, FENCE_TIMEOUT_NS));
    clear_trace()?;
    ok!(urt::buffer_sync(h, START | READ, offset, len));
    expect_trace(
        id,
        "START READ of the read range",
        &env.invalidate(offset, len, SIZE),
    )?;
    check_contents(p, SIZE, offset, sector, count)?;
    ok!(urt::buffer_sync(h, END | READ, offset, len));
    clear_trace()?;
    ok!(urt::buffer_sync(h, START | READ, 0, 0));
    expect_trace(id, "START READ once invalidated", &[])?;
    clear_trace()?;
    ok!(urt::buffer_sync(h, END | READ, offset, len));
    expect_trace(id, "END READ", &[])?;

    // Fences of the block device that were never issued.
    let next = abi::fence::make(abi::fence::BLK, abi::fence::seq(fence.0) + 1000);
    expect_err!(
        urt::fence_wait(urt::Fence(next), 0),
        Error::InvalidArgument,
        "fence_wait(block fence never issued)"
    );
    expect_err!(
        urt::fence_wait(urt::Fence(abi::fence::make(abi::fence::BLK, 0)), 0),
        Error::InvalidArgument,
        "fence_wait(block fence 0)"
    );
    // SAFETY: the mapping is not used again.
    ok!(unsafe { urt::buffer_unmap(p) });
    ok!(urt::handle_close(h));
    Ok(())
}

/// 3 and 4: START waits for the device; START WRITE after a device write invalidates.
fn start_after_read(env: &Env) -> TestResult {
    let (h, p, id) = stale_buffer(SIZE)?;
    let sector = TEST_SECTOR_BASE + 100;
    // The whole buffer, no fence_wait: START READ blocks until the data is in memory.
    let fence = ok!(urt::blk_read(h, 0, sector, SIZE / SECTOR));
    clear_trace()?;
    ok!(urt::buffer_sync(h, START | READ, 0, SIZE));
    utests::expect_waited("START READ right after blk_read", &[fence.0])?;
    // SAFETY: inside the readable mapping.
    let bad = unsafe { sector_mismatch(p, sector, SIZE / SECTOR) };
    check_eq!(bad, None, "data after START READ without fence_wait");
    ok!(
        urt::fence_wait(fence, 0),
        "the fence is complete once START READ returned"
    );
    ok!(urt::buffer_sync(h, END | READ, 0, SIZE));

    // A device write of [0, PAGE), then START WRITE of [PAGE / 2, PAGE / 2 + 2 * PAGE):
    // planned as START RW, it invalidates exactly the written lines of its range.
    let fence = ok!(urt::blk_read(h, 0, sector, 8));
    ok!(urt::fence_wait(fence, FENCE_TIMEOUT_NS));
    let (offset, len) = (PAGE / 2, 2 * PAGE);
    clear_trace()?;
    ok!(urt::buffer_sync(h, START | WRITE, offset, len));
    expect_trace(
        id,
        "START WRITE over device-written lines",
        &env.invalidate(offset, PAGE / 2, SIZE),
    )?;
    // The holder's state is WRITE: END READ does not close it, END WRITE does, with no
    // maintenance (nobody but the CPU has seen the lines since).
    expect_err!(
        urt::buffer_sync(h, END | READ, offset, len),
        Error::NotStarted,
        "END READ after START WRITE"
    );
    clear_trace()?;
    ok!(urt::buffer_sync(h, END | WRITE, offset, len));
    expect_trace(id, "END WRITE", &[])?;
    // The written lines left of the range are still stale: a START WRITE over them
    // invalidates them, and only them.
    clear_trace()?;
    ok!(urt::buffer_sync(h, START | WRITE, 0, PAGE));
    expect_trace(
        id,
        "START WRITE over the rest of the written lines",
        &env.invalidate(0, PAGE / 2, SIZE),
    )?;
    ok!(urt::buffer_sync(h, END | WRITE, 0, PAGE));
    // Nothing is stale any more: START WRITE is plain again.
    clear_trace()?;
    ok!(urt::buffer_sync(h, START | WRITE, offset, len));
    expect_trace(id, "START WRITE once invalidated", &[])?;
    ok!(urt::buffer_sync(h, END | WRITE, offset, len));
    // The next device write of [0, PAGE) cleans the lines ENDed there first.
    clear_trace()?;
    let fence = ok!(urt::blk_read(h, 0, sector, 8));
    let mut want = env.clean_before_device(0, PAGE);
    want.push((OP_DEVICE_WRITE, 0, PAGE));
    expect_trace(id, "blk_read over ENDed lines", &want)?;
    // START RW of the whole buffer waits for it and invalidates exactly its lines.
    clear_trace()?;
    ok!(urt::buffer_sync(h, START | RW, 0, SIZE));
    ok!(urt::fence_wait(fence, 0));
    expect_trace(
        id,
        "START RW after the write",
        &env.invalidate(0, PAGE, SIZE),
    )?;
    ok!(urt::buffer_sync(h, END | RW, 0, SIZE));
    // SAFETY: the mapping is not used again.
    ok!(unsafe { urt::buffer_unmap(p) });
    ok!(urt::handle_close(h));
    Ok(())
}

/// 5: the largest read, and an uncached buffer.
fn big_and_uncached(env: &Env) -> TestResult {
    let count = urt::limits::MAX_BLK_SECTORS.min(TEST_SECTORS);
    let size = count * SECTOR + PAGE;
    let (h, p, id) = stale_buffer(size)?;
    let fence = ok!(urt::blk_read(h, SECTOR, TEST_SECTOR_BASE, count));
    ok!(urt::fence_wait(fence, FENCE_TIMEOUT_NS));
    clear_trace()?;
    ok!(urt::buffer_sync(h, START | READ, SECTOR, count * SECTOR));
    expect_trace(
        id,
        "START READ of 1 MiB",
        &env.invalidate(SECTOR, count * SECTOR, size),
    )?;
    check_contents(p, size, SECTOR, TEST_SECTOR_BASE, count)?;
    ok!(urt::buffer_sync(h, END | READ, SECTOR, count * SECTOR));
    // SAFETY: the mapping is not used again.
    ok!(unsafe { urt::buffer_unmap(p) });
    ok!(urt::handle_close(h));

    let h = ok!(urt::buffer_create(SIZE, policy::UNCACHED));
    let p = ok!(urt::buffer_map(h, prot::READ));
    let id = ok!(urt::buffer_info(h)).id;
    let sector = TEST_SECTOR_BASE + TEST_SECTORS - 8;
    let fence = ok!(urt::blk_read(h, PAGE, sector, 8));
    ok!(urt::fence_wait(fence, FENCE_TIMEOUT_NS));
    clear_trace()?;
    ok!(urt::buffer_sync(h, START | READ, PAGE, 8 * SECTOR));
    expect_trace(id, "START READ of an uncached buffer", &[])?;
    // SAFETY: inside the readable mapping.
    let (bad, zeros) = unsafe {
        (
            sector_mismatch(p.add(PAGE as usize), sector, 8),
            not_byte(p, PAGE, 0),
        )
    };
    check_eq!(bad, None, "uncached buffer data");
    check_eq!(zeros, None, "uncached buffer before the read range");
    ok!(urt::buffer_sync(h, END | READ, PAGE, 8 * SECTOR));
    // SAFETY: the mapping is not used again.
    ok!(unsafe { urt::buffer_unmap(p) });
    ok!(urt::handle_close(h));
    Ok(())
}

/// The holder spawned by [`misuse`]: START READ, report, wait, END READ, report.
fn holder(args: StartArgs) -> TestResult {
    let (buf, chan) = (args.handles[0], args.handles[1]);
    ok!(urt::buffer_sync(buf, START | READ, 0, 0));
    ok!(send_u64(chan, 1));
    let _ = ok!(recv_u64(chan));
    ok!(urt::buffer_sync(buf, END | READ, 0, 0));
    ok!(send_u64(chan, 2));
    Ok(())
}

/// A `blk_read` while a START is open: `Busy` (strict) or let through (report mode).
fn expect_busy(env: &Env, h: Handle, what: &str) -> TestResult {
    let r = urt::blk_read(h, 0, TEST_SECTOR_BASE, 1);
    if env.strict {
        expect_err!(r, Error::Busy, "{} (strict)", what);
    } else {
        let fence = ok!(r, "{} (misuse=report)", what);
        ok!(urt::fence_wait(fence, FENCE_TIMEOUT_NS));
    }
    Ok(())
}

/// 6: the misuse detector, for this task's START and another task's.
fn misuse(env: &Env) -> TestResult {
    let h = ok!(urt::buffer_create(SIZE, policy::CACHED));
    for flags in [READ, WRITE, RW] {
        ok!(urt::buffer_sync(h, START | flags, 0, PAGE));
        expect_busy(env, h, "blk_read while this task has a START open")?;
        ok!(urt::buffer_sync(h, END | flags, 0, PAGE));
    }
    let share = ok!(urt::handle_dup(h, Rights::MAP_READ.with(Rights::SHARE)));
    let (mine, theirs) = ok!(urt::channel_create());
    let task = ok!(urt::spawn("test_blk_read", &[share, theirs]));
    check_eq!(ok!(recv_u64(mine)), 1, "holder started");
    expect_busy(env, h, "blk_read while another task has a START open")?;
    ok!(send_u64(mine, 0));
    check_eq!(ok!(recv_u64(mine)), 2, "holder ended");
    let fence = ok!(urt::blk_read(h, 0, TEST_SECTOR_BASE, 1), "after END");
    ok!(urt::fence_wait(fence, FENCE_TIMEOUT_NS));
    let (code, how) = ok!(urt::wait(task));
    check_eq!((code, how), (0, urt::ExitHow::Exited), "holder exit");
    ok!(urt::handle_close(h));
    Ok(())
}

/// 7: every documented error, in order; none records anything.
fn errors(env: &Env) -> TestResult {
    let h = ok!(urt::buffer_create(SIZE, policy::CACHED));
    let no_device = ok!(urt::handle_dup(
        h,
        Rights::MAP_READ.with(Rights::MAP_WRITE).with(Rights::SHARE)
    ));
    let (c0, c1) = ok!(urt::channel_create());
    let closed = ok!(urt::handle_dup(h, Rights::SHARE.with(Rights::DEVICE)));
    ok!(urt::handle_close(closed));
    let (hv, last) = (u64::from(h.0), env.sectors - 1);
    let id = ok!(urt::buffer_info(h)).id;
    ok!(urt::buffer_sync(h, START | READ, 0, 0));
    clear_trace()?;
    let cases: &[([u64; 4], Error, &str)] = &[
        ([0, 0, 0, 1], Error::BadHandle, "handle 0"),
        (
            [1 << 32 | hv, 0, 0, 1],
            Error::BadHandle,
            "handle bits above 31",
        ),
        (
            [u64::from(closed.0), 0, 0, 0],
            Error::BadHandle,
            "closed handle, count 0",
        ),
        (
            [u64::from(c0.0), 0, 0, 0],
            Error::WrongType,
            "channel, count 0",
        ),
        (
            [u64::from(no_device.0), 1, 0, 0],
            Error::AccessDenied,
            "no DEVICE, bad args",
        ),
        ([hv, 0, 0, 0], Error::InvalidArgument, "count 0"),
        ([hv, 0, 0, 2049], Error::InvalidArgument, "count 2049"),
        (
            [hv, 100, 0, 1],
            Error::InvalidArgument,
            "offset not 512-aligned",
        ),
        (
            [hv, 1 << 63, u64::MAX, 0],
            Error::InvalidArgument,
            "count 0 before ranges",
        ),
        (
            [hv, SIZE - SECTOR, 0, 2],
            Error::OutOfRange,
            "past the buffer",
        ),
        ([hv, SIZE, 0, 1], Error::OutOfRange, "at the buffer's end"),
        (
            [hv, u64::MAX - 511, 0, 1],
            Error::OutOfRange,
            "offset overflows",
        ),
        ([hv, 0, last, 2], Error::OutOfRange, "past the disk"),
        (
            [hv, 0, env.sectors, 1],
            Error::OutOfRange,
            "at the disk's end",
        ),
        ([hv, 0, u64::MAX, 1], Error::OutOfRange, "sector overflows"),
    ];
    for &(a, err, what) in cases {
        expect_raw!(raw_read(a[0], a[1], a[2], a[3]), err, "blk_read: {}", what);
    }
    expect_trace(id, "failed blk_reads", &[])?;
    ok!(urt::buffer_sync(h, END | READ, 0, 0));
    // The last sector is readable.
    let fence = ok!(urt::blk_read(h, 0, last, 1), "the disk's last sector");
    ok!(urt::fence_wait(fence, FENCE_TIMEOUT_NS));
    // What a device may do is a right of its own: DEVICE (the device may read, as for
    // a present) does not let it write the buffer; DEVICE_WRITE alone does, without
    // MAP_READ/MAP_WRITE.
    let device_only = ok!(urt::handle_dup(h, Rights::DEVICE));
    expect_err!(
        urt::blk_read(device_only, 0, 0, 1),
        Error::AccessDenied,
        "DEVICE (read) right only"
    );
    let write_only = ok!(urt::handle_dup(h, Rights::DEVICE_WRITE));
    let fence = ok!(
        urt::blk_read(write_only, 0, 0, 1),
        "DEVICE_WRITE right only"
    );
    ok!(urt::fence_wait(fence, FENCE_TIMEOUT_NS));
    for x in [h, no_device, c0, c1, device_only, write_only] {
        ok!(urt::handle_close(x));
    }
    Ok(())
}

fn test(args: StartArgs) -> TestResult {
    if args.count == 2 {
        return holder(args);
    }
    let (sectors, sector_size) = match urt::blk_info() {
        Err(Error::NotSupported) => {
            let h = ok!(urt::buffer_create(SIZE, policy::CACHED));
            expect_err!(
                urt::blk_read(h, 0, 0, 1),
                Error::NotSupported,
                "blk_read without a block device"
            );
            urt::println!("test_blk_read: no virtio-blk device; checked NotSupported only");
            return Ok(());
        }
        r => ok!(r, "blk_info"),
    };
    check_eq!(sector_size, SECTOR, "blk_info sector size");
    check!(
        sectors >= TEST_SECTOR_BASE + TEST_SECTORS,
        "the disk has {} sectors; the capture disk has at least {}",
        sectors,
        TEST_SECTOR_BASE + TEST_SECTORS
    );
    let env = Env {
        coherent: {
            utests::expect_boot(utests::Boot::NONCOHERENT)?;
            false
        },
        strict: ok!(urt::stats(Stat::MisuseStrict)) == 1,
        line: urt::dcache_line_size(),
        sectors,
    };
    basic_read(&env)?;
    start_after_read(&env)?;
    big_and_uncached(&env)?;
    misuse(&env)?;
    errors(&env)
}

utests::test_main!(test);
