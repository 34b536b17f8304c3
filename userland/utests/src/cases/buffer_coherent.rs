//! Maintenance happens only where a non-coherent party is, and the device coherency
//! mode decides whether devices are one.
//!
//! - In both modes, a cached buffer that only CPU tasks use is never maintained:
//!   `buffer_create` records nothing (non-coherent: the zeros' lines are recorded as
//!   dirty, for the first submission that needs them), and syncs of every flavour, by
//!   a writer and by a read-only holder, succeed and record nothing.
//! - Then the block device writes the buffer's first sector. Non-coherent
//!   (`dma=noncoherent`): the trace shows the clean of exactly that sector's lines
//!   (dirty: the CPU ENDed writes there) before the device write, and START READ of
//!   the whole buffer then invalidates exactly those lines. Coherent (the default
//!   boot): the device write alone, and no maintenance.

use crate::{check_eq, clear_trace, expect_clean, expect_invalidate, ok, TestResult, TraceCheck};
use urt::sync::{END, READ, RW, START, WRITE};
use urt::trace::OP_DEVICE_WRITE;
use urt::{policy, prot, Rights};

const SIZES: [u64; 3] = [4096, 3 * 4096, 16 * 4096];

/// The test, in a boot `boot` describes.
pub fn run(boot: crate::Boot) -> TestResult {
    crate::expect_boot(boot)?;
    let coherent = boot.coherent;
    let line = urt::dcache_line_size();
    urt::println!(
        "test_buffer_coherent: devices {}",
        if coherent { "coherent" } else { "non-coherent" }
    );
    for size in SIZES {
        clear_trace()?;
        let h = ok!(urt::buffer_create(size, policy::CACHED), "create {}", size);
        let info = ok!(urt::buffer_info(h));
        check_eq!(info.size, size, "size");
        // Creation may reach each page through its own kernel alias; syncs go through
        // one contiguous mapping.
        let mut tc = TraceCheck::any_va(info.id);
        let what = urt::alloc::format!("buffer_create({}, CACHED)", size);
        tc.expect(&what, &[])?;
        let mut t = TraceCheck::new(info.id);

        let map = ok!(urt::buffer_map(h, prot::READ | prot::WRITE));
        // SAFETY: `map` is a live mapping of `size` bytes; nothing references it.
        let nz = unsafe { crate::find_nonzero(map, size as usize) };
        check_eq!(nz, None, "new buffer of {} bytes is zero", size);
        let ro = ok!(urt::handle_dup(h, Rights::MAP_READ));
        for (off, len) in [(0, 0), (100, 1000), (size - 1, 1)] {
            for dir in [READ, WRITE, RW] {
                for flags in [START | dir, END | dir] {
                    let what = urt::alloc::format!(
                        "{} bytes: sync {:#x} offset {} len {}",
                        size,
                        flags,
                        off,
                        len
                    );
                    clear_trace()?;
                    ok!(urt::buffer_sync(h, flags, off, len), "{}", what);
                    t.expect(&what, &[])?;
                }
            }
            clear_trace()?;
            ok!(urt::buffer_sync(ro, START | READ, off, len));
            ok!(urt::buffer_sync(ro, END | READ, off, len));
            t.expect("read-only START/END READ", &[])?;
        }
        device_write(h, info.id, size, coherent, line, &mut t)?;
        ok!(urt::handle_close(ro));
        // SAFETY: nothing references the mapping any more.
        ok!(unsafe { urt::buffer_unmap(map) });
        ok!(urt::handle_close(h));
    }

    clear_trace()?;
    Ok(())
}

/// The block device writes sector 0 of `h` (a non-coherent party appears): the lines
/// the CPU ENDed there are cleaned first, and START READ invalidates exactly them.
fn device_write(
    h: urt::Handle,
    id: u64,
    size: u64,
    coherent: bool,
    line: u64,
    t: &mut TraceCheck,
) -> TestResult {
    const SECTOR: u64 = 512;
    clear_trace()?;
    let fence = match urt::blk_read(h, 0, scene::capture::TEST_SECTOR_BASE, 1) {
        Err(urt::Error::NotSupported) => return Ok(()), // no block device: nothing to see
        r => ok!(r, "blk_read into buffer {}", id),
    };
    let mut want = urt::alloc::vec::Vec::new();
    if !coherent {
        want.extend(expect_clean(0, SECTOR, size, line));
    }
    want.push((OP_DEVICE_WRITE, 0, SECTOR));
    t.expect("blk_read of sector 0", &want)?;
    clear_trace()?;
    ok!(urt::buffer_sync(h, START | READ, 0, 0));
    ok!(
        urt::fence_wait(fence, 0),
        "the fence is complete once START READ returned"
    );
    let want = if coherent {
        urt::alloc::vec::Vec::new()
    } else {
        expect_invalidate(0, SECTOR, size, line)
    };
    t.expect("START READ after the device write", &want)?;
    ok!(urt::buffer_sync(h, END | READ, 0, 0));
    Ok(())
}
