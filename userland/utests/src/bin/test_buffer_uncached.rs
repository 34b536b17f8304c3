//! An uncached buffer: `buffer_info` reports the policy, syncs of every flavour (whole
//! buffer, ranges, partial lines, a read-only holder) succeed and issue no maintenance
//! in either coherency mode, and data written through one mapping is read back through
//! a second mapping of the same buffer (and through a read-only mapping).

#![no_std]
#![no_main]

use urt::sync::{END, READ, RW, START, WRITE};
use urt::{policy, prot, Rights, StartArgs};
use utests::{check, check_eq, clear_trace, ok, TestResult, TraceCheck};

const SIZE: u64 = 3 * 4096;

fn test(_args: StartArgs) -> TestResult {
    let line = urt::dcache_line_size();
    let h = ok!(urt::buffer_create(SIZE, policy::UNCACHED));
    let info = ok!(urt::buffer_info(h));
    check_eq!(info.size, SIZE, "size");
    check_eq!(info.policy, policy::UNCACHED, "policy");
    let ro = ok!(urt::handle_dup(h, Rights::MAP_READ.with(Rights::SHARE)));
    let mut t = TraceCheck::new(info.id);

    let a = ok!(
        urt::buffer_map(h, prot::READ | prot::WRITE),
        "first mapping"
    );
    let b = ok!(urt::buffer_map(h, prot::WRITE), "second mapping");
    let r = ok!(urt::buffer_map(ro, prot::READ), "read-only mapping");
    check!(
        a != b && b != r && a != r,
        "mappings {:p} {:p} {:p}",
        a,
        b,
        r
    );
    for m in [a, b, r] {
        let at = m as u64;
        check!(
            (urt::abi::USER_MAP_BASE..urt::abi::USER_MAP_END - SIZE).contains(&at)
                && at.is_multiple_of(4096),
            "mapping at {:#x}",
            at
        );
    }

    // Zeroed before first use.
    // SAFETY: `a` is a live mapping of SIZE bytes; nothing references it.
    let nz = unsafe { utests::find_nonzero(a, SIZE as usize) };
    check_eq!(nz, None, "new buffer is zero");

    for (off, len) in [(0, 0), (100, 1000), (5, 1), (line, line), (SIZE - 1, 1)] {
        for dir in [READ, WRITE, RW] {
            for flags in [START | dir, END | dir] {
                clear_trace()?;
                ok!(
                    urt::buffer_sync(h, flags, off, len),
                    "sync {:#x} offset {} len {}",
                    flags,
                    off,
                    len
                );
                t.expect(
                    &urt::alloc::format!("uncached sync {:#x} offset {} len {}", flags, off, len),
                    &[],
                )?;
            }
        }
        for flags in [START | READ, END | READ] {
            clear_trace()?;
            ok!(urt::buffer_sync(ro, flags, off, len), "read-only sync");
            t.expect(
                &urt::alloc::format!("uncached read-only sync {:#x} offset {}", flags, off),
                &[],
            )?;
        }
    }

    // Write through `a`, read through `b` and `r`; then the other way round.
    ok!(urt::buffer_sync(h, START | WRITE, 0, 0));
    // SAFETY: `a` is a live read-write mapping of SIZE bytes; nothing references it.
    unsafe { utests::write_pattern(a, SIZE as usize, 0x11) };
    ok!(urt::buffer_sync(h, END | WRITE, 0, 0));
    ok!(urt::buffer_sync(h, START | READ, 0, 0));
    // SAFETY: live mappings of the same SIZE bytes, read only.
    let (mb, mr) = unsafe {
        (
            utests::find_mismatch(b, SIZE as usize, 0x11),
            utests::find_mismatch(r, SIZE as usize, 0x11),
        )
    };
    ok!(urt::buffer_sync(h, END | READ, 0, 0));
    check_eq!(
        mb,
        None,
        "written through the first mapping, read through the second"
    );
    check_eq!(mr, None, "read through the read-only mapping");

    ok!(urt::buffer_sync(h, START | RW, 0, 0));
    // SAFETY: `b` is a live read-write mapping of SIZE bytes.
    unsafe { utests::write_pattern(b, SIZE as usize, 0x22) };
    // SAFETY: `a` maps the same bytes.
    let ma = unsafe { utests::find_mismatch(a, SIZE as usize, 0x22) };
    ok!(urt::buffer_sync(h, END | RW, 0, 0));
    check_eq!(
        ma,
        None,
        "written through the second mapping, read through the first"
    );

    // SAFETY: nothing references the mappings any more.
    unsafe {
        ok!(urt::buffer_unmap(a));
        ok!(urt::buffer_unmap(b));
        ok!(urt::buffer_unmap(r));
    }
    ok!(urt::handle_close(ro));
    ok!(urt::handle_close(h));
    clear_trace()?;
    Ok(())
}

utests::test_main!(test);
