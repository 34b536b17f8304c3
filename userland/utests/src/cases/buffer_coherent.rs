//! The device coherency mode decides whether cached buffers get maintenance at all.
//!
//! - Coherent (the default boot): `buffer_create` of a cached buffer records no
//!   maintenance, and syncs of every flavour succeed and record none.
//! - Non-coherent (`dma=noncoherent`): `buffer_create` of a cached buffer records its
//!   clean to memory (after zeroing): clean (or clean + invalidate) entries for that
//!   buffer's id covering exactly the whole buffer, nothing else; and syncs record
//!   maintenance (START READ the invalidates, END WRITE the clean).

use crate::{check_eq, clear_trace, expect_clean, expect_invalidate, ok, TestResult, TraceCheck};
use urt::sync::{END, READ, RW, START, WRITE};
use urt::trace::{OP_CLEAN, OP_CLEAN_INVALIDATE};
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
        if coherent {
            tc.expect(&what, &[])?;
        } else {
            tc.expect_cover(&what, &[OP_CLEAN, OP_CLEAN_INVALIDATE], 0, size)?;
        }
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
                    let inv = expect_invalidate(off, len, size, line);
                    let clean = expect_clean(off, len, size, line);
                    let want: &[_] = match (coherent, flags & (START | END), dir) {
                        (true, _, _) | (false, START, WRITE) | (false, END, READ) => &[],
                        (false, START, _) => &inv,
                        (false, _, _) => &clean,
                    };
                    t.expect(&what, want)?;
                }
            }
            if coherent {
                clear_trace()?;
                ok!(urt::buffer_sync(ro, START | READ, off, len));
                ok!(urt::buffer_sync(ro, END | READ, off, len));
                t.expect("read-only START/END READ", &[])?;
            }
        }
        ok!(urt::handle_close(ro));
        // SAFETY: nothing references the mapping any more.
        ok!(unsafe { urt::buffer_unmap(map) });
        ok!(urt::handle_close(h));
    }

    clear_trace()?;
    Ok(())
}
