//! virtio-gpu through the buffer manager: importing a buffer as a resource, presenting
//! rectangles with fences, the trace showing exactly the dirty lines of every presented
//! rectangle's rows cleaned before the device is told to read it (and nothing for lines
//! cleaned by an earlier present), START WRITE waiting for the device, the misuse
//! detector (present while CPU write access is held -> Busy), a released resource,
//! and every documented error of calls 20-23.

#![no_std]
#![no_main]

use urt::sync::{END, START, WRITE};
use urt::trace::{Entry, OP_CLEAN, OP_DEVICE_READ};
use urt::{format, policy, prot, Error, Rights, StartArgs, Sys};
use utests::{check, check_eq, clear_trace, expect_raw, ok, read_trace, TestResult};

const W: u64 = 64;
const H: u64 = 64;
const STRIDE: u64 = W * 4;
const SIZE: u64 = W * H * 4;

fn call(num: Sys, a: [u64; 6]) -> [u64; 3] {
    // SAFETY: the GPU calls only read their integer arguments; no pointers are passed.
    unsafe { urt::sys::raw_syscall(num as u64, a) }
}

fn present(res: u64, x: u64, y: u64, w: u64, h: u64) -> [u64; 3] {
    call(Sys::GpuPresent, [res, x, y, w, h, 0])
}

fn fence_wait(fence: u64, ns: u64) -> [u64; 3] {
    call(Sys::FenceWait, [fence, ns, 0, 0, 0, 0])
}

/// The trace holds exactly: one DC CVAC entry per row of the `w` x `h` rectangle at
/// (`x`, `y`) over that row's lines (in row order), then the device-read entry of its
/// bytes (non-coherent); or the device-read entry alone (coherent, or `rows_dirty`
/// false: nothing left to clean).
fn check_rows_cleaned(
    entries: &[Entry],
    id: u64,
    r: (u64, u64, u64, u64),
    dirty: bool,
) -> TestResult {
    let (x, y, w, h) = r;
    let line = urt::dcache_line_size();
    let mut want = urt::alloc::vec::Vec::new();
    if dirty {
        for row in y..y + h {
            let (a, b) = (row * STRIDE + x * 4, row * STRIDE + (x + w) * 4);
            let (a, b) = (a / line * line, b.next_multiple_of(line));
            want.push((OP_CLEAN, id, a, b - a));
        }
    }
    want.push((
        OP_DEVICE_READ,
        id,
        y * STRIDE + x * 4,
        (h - 1) * STRIDE + w * 4,
    ));
    let got: urt::alloc::vec::Vec<_> = entries
        .iter()
        .map(|e| (e.op, e.buffer, e.offset, e.len))
        .collect();
    check!(
        got == want,
        "present of {:?}: trace {:x?}, expected {:x?}",
        r,
        got,
        want
    );
    Ok(())
}

fn test(_args: StartArgs) -> TestResult {
    let r = call(Sys::GpuDisplayInfo, [0; 6]);
    check_eq!(r[0], 0, "display info");
    check!(r[1] > 0 && r[2] > 0, "display {}x{}", r[1], r[2]);
    utests::expect_boot(utests::Boot::NONCOHERENT)?;
    let coherent = false;

    let buf = ok!(urt::buffer_create(SIZE, policy::CACHED));
    let id = ok!(urt::buffer_info(buf)).id;
    let map = ok!(urt::buffer_map(buf, prot::READ | prot::WRITE)) as *mut u32;
    let r = call(Sys::GpuImport, [buf.0 as u64, W, H, format::B8G8R8X8, 0, 0]);
    check_eq!(r[0], 0, "import");
    let res = r[1];

    // Whole-buffer write, then a present of a 16x16 rectangle at (8, 8).
    ok!(clear_trace());
    ok!(urt::buffer_sync(buf, START | WRITE, 0, 0));
    for i in 0..(W * H) as usize {
        // SAFETY: the mapping is SIZE bytes long and writable.
        unsafe { map.add(i).write_volatile(0x0010_2030 + i as u32) };
    }
    ok!(urt::buffer_sync(buf, END | WRITE, 0, 0));
    let r = present(res, 8, 8, 16, 16);
    check_eq!(r[0], 0, "present");
    let fence = r[1];
    check!(fence > 0, "fence {}", fence);
    let mut entries = [Entry::default(); 32];
    let n = read_trace(&mut entries)?;
    check_rows_cleaned(&entries[..n], id, (8, 8, 16, 16), !coherent)?;
    expect_raw!(fence_wait(fence, 1_000_000_000), 0, "fence_wait");
    expect_raw!(fence_wait(fence, 0), 0, "fence_wait(done, 0)");
    // A full-width present: one range; the whole frame is dirty (the writes above, and
    // the creation's zeros before them), then nothing is.
    for dirty in [!coherent, false] {
        ok!(clear_trace());
        let r = present(res, 0, 0, W, H);
        check_eq!(r[0], 0, "full present");
        let n = read_trace(&mut entries)?;
        let mut want = urt::alloc::vec::Vec::new();
        if dirty {
            want.push((OP_CLEAN, id, 0, SIZE));
        }
        want.push((OP_DEVICE_READ, id, 0, SIZE));
        let got: urt::alloc::vec::Vec<_> = entries[..n]
            .iter()
            .map(|e| (e.op, e.buffer, e.offset, e.len))
            .collect();
        check!(
            got == want,
            "full present: trace {:x?}, expected {:x?}",
            got,
            want
        );
        expect_raw!(fence_wait(r[1], 1_000_000_000), 0, "fence_wait");
    }

    // A dirty rectangle with a ranged sync (its hull): END cleans nothing; the present
    // cleans only the rectangle's rows, then the device reads.
    ok!(clear_trace());
    let (x, y, w, h) = (4, 20, 8, 4);
    let (off, len) = (y * STRIDE + x * 4, (h - 1) * STRIDE + w * 4);
    ok!(urt::buffer_sync(buf, START | WRITE, off, len));
    ok!(urt::buffer_sync(buf, END | WRITE, off, len));
    check_eq!(
        read_trace(&mut entries)?,
        0,
        "START/END WRITE of a range nobody else sees"
    );
    let r = present(res, x, y, w, h);
    check_eq!(r[0], 0, "ranged present");
    let n = read_trace(&mut entries)?;
    check_rows_cleaned(&entries[..n], id, (x, y, w, h), !coherent)?;
    // START WRITE waits for the device to finish reading: it blocks on the present's
    // fence (every run: a test kernel blocks a START once on every fence it meets).
    ok!(clear_trace());
    ok!(urt::buffer_sync(buf, START | WRITE, 0, 0));
    utests::expect_waited("START WRITE after a present", &[r[1]])?;
    expect_raw!(
        fence_wait(r[1], 0),
        0,
        "fence done once START WRITE returned"
    );

    // Misuse: presenting while CPU write access is held.
    expect_raw!(
        present(res, 0, 0, 8, 8),
        Error::Busy,
        "present during START WRITE"
    );
    ok!(urt::buffer_sync(buf, END | WRITE, 0, 0));
    let r = present(res, 0, 0, W, H);
    check_eq!(r[0], 0, "present after END WRITE");
    expect_raw!(fence_wait(r[1], 1_000_000_000), 0, "full present fence");

    // Errors.
    let no_dev = ok!(urt::handle_dup(
        buf,
        Rights::MAP_READ.with(Rights::MAP_WRITE).with(Rights::SHARE)
    ));
    let (c0, _c1) = ok!(urt::channel_create());
    let imp = |h: u64, w: u64, hh: u64, f: u64| call(Sys::GpuImport, [h, w, hh, f, 0, 0]);
    expect_raw!(
        imp(no_dev.0 as u64, W, H, format::B8G8R8X8),
        Error::AccessDenied,
        "import without DEVICE"
    );
    expect_raw!(
        imp(c0.0 as u64, W, H, format::B8G8R8X8),
        Error::WrongType,
        "import a channel"
    );
    expect_raw!(
        imp(0x7777, W, H, format::B8G8R8X8),
        Error::BadHandle,
        "import a forged handle"
    );
    expect_raw!(
        imp(buf.0 as u64, 0, H, format::B8G8R8X8),
        Error::InvalidArgument,
        "width 0"
    );
    expect_raw!(
        imp(buf.0 as u64, W, 16385, format::B8G8R8X8),
        Error::InvalidArgument,
        "height too large"
    );
    expect_raw!(
        imp(buf.0 as u64, W, H, 5),
        Error::InvalidArgument,
        "unknown format"
    );
    expect_raw!(
        imp(buf.0 as u64, W, H + 1, format::B8G8R8X8),
        Error::OutOfRange,
        "larger than the buffer"
    );
    expect_raw!(
        present(res, 60, 0, 8, 8),
        Error::OutOfRange,
        "rectangle past the right edge"
    );
    expect_raw!(
        present(res, 0, 0, 0, 8),
        Error::OutOfRange,
        "empty rectangle"
    );
    expect_raw!(
        present(res, u64::MAX, 0, 2, 2),
        Error::OutOfRange,
        "overflowing rectangle"
    );
    expect_raw!(
        present(buf.0 as u64, 0, 0, 8, 8),
        Error::WrongType,
        "present a buffer handle"
    );
    let issued = r[1];
    expect_raw!(fence_wait(0, 0), Error::InvalidArgument, "fence 0");
    expect_raw!(
        fence_wait(issued + 1000, 0),
        Error::InvalidArgument,
        "fence never issued"
    );
    expect_raw!(
        fence_wait(issued, 1_000_000_000_001),
        Error::InvalidArgument,
        "timeout too long"
    );

    // A released resource cannot be presented; the buffer lives on.
    ok!(urt::handle_close(urt::Handle(res as u32)));
    expect_raw!(
        present(res, 0, 0, 8, 8),
        Error::BadHandle,
        "present a released resource"
    );
    ok!(urt::buffer_sync(buf, START | WRITE, 0, 0));
    // SAFETY: still mapped and writable.
    unsafe { map.write_volatile(7) };
    ok!(urt::buffer_sync(buf, END | WRITE, 0, 0));
    // SAFETY: the mapping came from buffer_map and nothing uses it any more.
    ok!(unsafe { urt::buffer_unmap(map as *mut u8) });
    ok!(urt::handle_close(buf));
    Ok(())
}

utests::test_main!(test);
