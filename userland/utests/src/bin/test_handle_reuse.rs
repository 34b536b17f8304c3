//! A handle value is never repeated: one slot, reused 200,000 times (three times past
//! its 65,535 generations), never hands out a value it gave before, and no stale value
//! ever names the object that now lives in the slot.

#![no_std]
#![no_main]

use urt::alloc::vec::Vec;
use urt::{policy, Error, ObjectKind, Rights, StartArgs};
use utests::{check, check_eq, ok, TestResult};

const REUSES: u32 = 200_000;

fn test(_args: StartArgs) -> TestResult {
    let (a, b) = ok!(urt::channel_create());
    let target = ok!(urt::buffer_create(4096, policy::CACHED));
    // One bit per possible 32-bit handle value would be 512 MiB; the values of one slot
    // differ only in their generation, so a bitmap over (slot, generation) of the slots
    // this test uses is enough.
    let mut seen: Vec<u64> = urt::alloc::vec![0; 16 * 65536 / 64];
    let mut first = None;
    let mut slots = Vec::new();
    for n in 0..REUSES {
        let h = ok!(urt::handle_dup(a, Rights::SEND), "dup #{}", n);
        let (slot, gen) = (h.0 & 0xffff, h.0 >> 16);
        if !slots.contains(&slot) {
            slots.push(slot);
            check!(slots.len() <= 16, "more than 16 slot indices used");
        }
        let bit = slots.iter().position(|&s| s == slot).unwrap_or(0) * 65536 + gen as usize;
        let (w, m) = (bit / 64, 1u64 << (bit % 64));
        check!(
            seen[w] & m == 0,
            "handle value {:#x} repeated at #{}",
            h.0,
            n
        );
        seen[w] |= m;
        let first = *first.get_or_insert(h);
        if h != first {
            // The first value, in the same slot or not, never reaches this object.
            check_eq!(
                urt::handle_info(first).err(),
                Some(Error::BadHandle),
                "stale value {:#x} at #{}",
                first.0,
                n
            );
        }
        ok!(urt::handle_close(h));
        // A stale value never closes, or names, what lives in its slot now.
        let fresh = ok!(urt::handle_dup(target, Rights::MAP_READ));
        check!(fresh != h, "the closed value came back at #{}", n);
        check_eq!(
            urt::handle_close(h).err(),
            Some(Error::BadHandle),
            "closing the stale value {:#x}",
            h.0
        );
        check_eq!(
            ok!(urt::handle_info(fresh)),
            (ObjectKind::Buffer, Rights::MAP_READ),
            "the new object is untouched"
        );
        ok!(urt::handle_close(fresh));
    }
    urt::println!(
        "test_handle_reuse: {} reuses over {} slot indices",
        REUSES,
        slots.len()
    );
    for h in [a, b, target] {
        ok!(urt::handle_close(h));
    }
    Ok(())
}

utests::test_main!(test);
