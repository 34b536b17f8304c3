//! Coherence-boundary maintenance, end to end, through the trace (`dma=noncoherent`):
//! maintenance is skipped exactly where no non-coherent party exists and issued exactly
//! where one appears later.
//!
//! 1. A 4-page cached buffer shared only between CPU tasks: this task writes a pattern
//!    under START/END WRITE and `h_buffer_consumer` (another task, read-only handle)
//!    checks it under START/END READ. Nothing is maintained: no trace entry for the
//!    buffer (its creation included), and `stats(CpuOnlyLines)` does not move.
//! 2. It is imported as a GPU resource (no maintenance: the device reads nothing until
//!    a present) and presented whole: the trace shows one DC CVAC of exactly the whole
//!    buffer (every line is dirty: the creation's zeros and the pattern), then the
//!    device read. The task then ENDs a write of `[1000, 3000)`: nothing; the next
//!    present cleans exactly those lines, then the device reads; a third present cleans
//!    nothing.
//! 3. The task ENDs a write of `[5000, 6000)`, then the block device writes
//!    `[4096, 8192)`: the trace shows the clean of exactly the ENDed lines inside the
//!    written range (rule (a)), then the device write. START READ of the whole buffer
//!    then invalidates exactly the written lines, and a second one nothing.

#![no_std]
#![no_main]

use urt::sync::{END, READ, START, WRITE};
use urt::trace::{OP_CLEAN, OP_DEVICE_READ, OP_DEVICE_WRITE, OP_INVALIDATE};
use urt::{format, policy, prot, ExitHow, Rights, StartArgs, Stat};
use utests::{check_eq, clear_trace, ok, recv_u64s, send_u64, whole_lines, TestResult, TraceCheck};

const SIZE: u64 = 4 * 4096;
const SEED: u64 = 0xb0_0da7;

fn test(_args: StartArgs) -> TestResult {
    utests::expect_boot(utests::Boot::NONCOHERENT)?;
    let cpu_only = ok!(urt::stats(Stat::CpuOnlyLines));
    clear_trace()?;
    let h = ok!(urt::buffer_create(SIZE, policy::CACHED));
    let id = ok!(urt::buffer_info(h)).id;
    let map = ok!(urt::buffer_map(h, prot::READ | prot::WRITE));
    let mut t = TraceCheck::new(id);

    // 1: CPU tasks only.
    ok!(urt::buffer_sync(h, START | WRITE, 0, 0));
    // SAFETY: our live read-write mapping of SIZE bytes; nothing references it.
    unsafe { utests::write_pattern(map, SIZE as usize, SEED) };
    ok!(urt::buffer_sync(h, END | WRITE, 0, 0));
    let ro = ok!(urt::handle_dup(h, Rights::MAP_READ.with(Rights::SHARE)));
    let (mine, theirs) = ok!(urt::channel_create());
    let task = ok!(urt::spawn("h_buffer_consumer", &[ro, theirs]));
    ok!(send_u64(mine, SEED));
    let mut reply = [0u64; 4];
    check_eq!(ok!(recv_u64s(mine, &mut reply)), 4, "consumer reply");
    check_eq!(
        reply,
        [0, SIZE, id, u64::MAX],
        "consumer: status, size, id, bad"
    );
    check_eq!(ok!(urt::wait(task)), (0, ExitHow::Exited), "consumer exit");
    t.expect("a buffer only CPU tasks share", &[])?;
    check_eq!(
        ok!(urt::stats(Stat::CpuOnlyLines)),
        cpu_only,
        "lines maintained on buffers no device touched"
    );

    // 2: a device that reads appears.
    let res = ok!(urt::gpu_import(h, 64, 64, format::B8G8R8X8));
    t.expect("gpu_import", &[])?;
    let present = |t: &mut TraceCheck, what: &str, cleaned: &[(u64, u64)]| -> TestResult {
        clear_trace()?;
        let fence = ok!(urt::gpu_present(res, 0, 0, 64, 64), "{}", what);
        let mut want: urt::alloc::vec::Vec<_> =
            cleaned.iter().map(|&(o, l)| (OP_CLEAN, o, l)).collect();
        want.push((OP_DEVICE_READ, 0, SIZE));
        t.expect(what, &want)?;
        ok!(urt::fence_wait(fence, 1_000_000_000));
        Ok(())
    };
    present(&mut t, "first present", &[(0, SIZE)])?;
    clear_trace()?;
    ok!(urt::buffer_sync(h, START | WRITE, 1000, 2000));
    ok!(urt::buffer_sync(h, END | WRITE, 1000, 2000));
    t.expect("START/END WRITE of [1000, 3000)", &[])?;
    present(
        &mut t,
        "present after a ranged write",
        &[whole_lines(1000, 3000)],
    )?;
    present(&mut t, "present of a clean buffer", &[])?;

    // 3: a device that writes.
    ok!(urt::buffer_sync(h, START | WRITE, 5000, 1000));
    ok!(urt::buffer_sync(h, END | WRITE, 5000, 1000));
    clear_trace()?;
    let fence = ok!(urt::blk_read(h, 4096, scene::capture::TEST_SECTOR_BASE, 8));
    let (o, l) = whole_lines(5000, 6000);
    t.expect(
        "blk_read over ENDed lines",
        &[(OP_CLEAN, o, l), (OP_DEVICE_WRITE, 4096, 4096)],
    )?;
    clear_trace()?;
    ok!(urt::buffer_sync(h, START | READ, 0, 0));
    ok!(
        urt::fence_wait(fence, 0),
        "START READ waited for the device"
    );
    t.expect(
        "START READ after the device write",
        &[(OP_INVALIDATE, 4096, 4096)],
    )?;
    ok!(urt::buffer_sync(h, END | READ, 0, 0));
    clear_trace()?;
    ok!(urt::buffer_sync(h, START | READ, 0, 0));
    ok!(urt::buffer_sync(h, END | READ, 0, 0));
    t.expect("START READ once invalidated", &[])?;

    // SAFETY: nothing references the mapping any more.
    ok!(unsafe { urt::buffer_unmap(map) });
    for x in [res, h, mine] {
        ok!(urt::handle_close(x));
    }
    clear_trace()?;
    Ok(())
}

utests::test_main!(test);
