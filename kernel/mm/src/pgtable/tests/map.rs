//! `map` / `translate`: block selection and error paths.

use super::*;

const GIB: u64 = BLOCK_1G;
const MIB2: u64 = BLOCK_2M;

fn sizes(pt: &PageTable, mem: &TestMem) -> Vec<(u64, u64, u64)> {
    mappings(pt, mem)
        .values()
        .map(|m| (m.va.as_u64(), m.pa.as_u64(), m.size))
        .collect()
}

#[test]
fn uses_1g_and_2m_blocks_when_aligned() {
    let mut mem = TestMem::new();
    let mut pt = PageTable::new(&mut mem).unwrap();
    // 1 GiB + 2 MiB + 4 KiB, all aligned.
    let size = GIB + MIB2 + PAGE_SIZE;
    pt.map(&mut mem, va(GIB), pa(2 * GIB), size, KRW, true)
        .unwrap();
    assert_eq!(
        sizes(&pt, &mem),
        [
            (GIB, 2 * GIB, GIB),
            (2 * GIB, 3 * GIB, MIB2),
            (2 * GIB + MIB2, 3 * GIB + MIB2, PAGE_SIZE)
        ]
    );
    // Root + L1 + L2 + L3.
    assert_eq!(mem.allocs, 4);
    let t = pt.translate(&mem, va(GIB + 0x1234_5678)).unwrap();
    assert_eq!(t.pa, pa(2 * GIB + 0x1234_5678));
    assert_eq!(t.size, GIB);
    assert_eq!(
        pt.translate(&mem, va(2 * GIB + 0x1f_ffff)).unwrap().size,
        MIB2
    );
    assert_eq!(
        pt.translate(&mem, va(2 * GIB + MIB2 + 0xfff)).unwrap().pa,
        pa(3 * GIB + MIB2 + 0xfff)
    );
    assert_eq!(pt.translate(&mem, va(2 * GIB + MIB2 + PAGE_SIZE)), None);
    assert_eq!(pt.translate(&mem, va(GIB - 1)), None);
    check_structure(&pt, &mem);
}

#[test]
fn pages_when_misaligned_or_blocks_disallowed() {
    let mut mem = TestMem::new();
    let mut pt = PageTable::new(&mut mem).unwrap();
    // PA only 4 KiB-aligned: no 2 MiB block possible.
    pt.map(&mut mem, va(0x20_0000), pa(0x4000_1000), MIB2, KRW, true)
        .unwrap();
    let m = mappings(&pt, &mem);
    assert_eq!(m.len(), 512);
    assert!(m.values().all(|m| m.size == PAGE_SIZE));
    // Aligned but blocks disallowed.
    pt.map(&mut mem, va(GIB), pa(GIB), MIB2, KRW, false)
        .unwrap();
    assert_eq!(mappings(&pt, &mem).len(), 1024);
    assert_eq!(
        pt.translate(&mem, va(GIB + 0x1000)).unwrap().size,
        PAGE_SIZE
    );
    // VA misaligned for 2 MiB while PA aligned: pages up to the boundary, then a block.
    let mut mem = TestMem::new();
    let mut pt = PageTable::new(&mut mem).unwrap();
    pt.map(
        &mut mem,
        va(0x1f_f000),
        pa(0x3f_f000),
        MIB2 + PAGE_SIZE,
        KRW,
        true,
    )
    .unwrap();
    assert_eq!(
        sizes(&pt, &mem),
        [
            (0x1f_f000, 0x3f_f000, PAGE_SIZE),
            (0x20_0000, 0x40_0000, MIB2)
        ]
    );
    check_structure(&pt, &mem);
}

#[test]
fn argument_errors() {
    let mut mem = TestMem::new();
    let mut pt = PageTable::new(&mut mem).unwrap();
    let before = snapshot(&mem);
    let e = |r| -> MapError { Result::unwrap_err(r) };
    assert_eq!(
        e(pt.map(&mut mem, va(0x1001), pa(0), PAGE_SIZE, KRW, true)),
        MapError::Unaligned
    );
    assert_eq!(
        e(pt.map(&mut mem, va(0x1000), pa(0x10), PAGE_SIZE, KRW, true)),
        MapError::Unaligned
    );
    assert_eq!(
        e(pt.map(&mut mem, va(0x1000), pa(0), 0x800, KRW, true)),
        MapError::Unaligned
    );
    assert_eq!(
        e(pt.map(
            &mut mem,
            va(0x0001_0000_0000_0000),
            pa(0),
            PAGE_SIZE,
            KRW,
            true
        )),
        MapError::NonCanonical
    );
    assert_eq!(
        e(pt.map(
            &mut mem,
            va(0xfffe_0000_0000_0000),
            pa(0),
            PAGE_SIZE,
            KRW,
            true
        )),
        MapError::NonCanonical
    );
    // Runs off the end of the lower half.
    assert_eq!(
        e(pt.map(
            &mut mem,
            va(0xffff_ffff_f000),
            pa(0),
            2 * PAGE_SIZE,
            KRW,
            true
        )),
        MapError::Overflow
    );
    assert_eq!(
        e(pt.map(&mut mem, va(0), pa(0), !0xfff, KRW, true)),
        MapError::Overflow
    );
    // Output address beyond 48 bits.
    assert_eq!(
        e(pt.map(&mut mem, va(0), pa(1 << 48), PAGE_SIZE, KRW, true)),
        MapError::Overflow
    );
    assert_eq!(e(pt.unmap(&mut mem, va(0x1000), 0x10)), MapError::Unaligned);
    assert_eq!(
        e(pt.protect(&mut mem, va(1 << 60), PAGE_SIZE, KRW)),
        MapError::NonCanonical
    );
    // Zero size is a no-op.
    pt.map(&mut mem, va(0x1000), pa(0), 0, KRW, true).unwrap();
    pt.unmap(&mut mem, va(0x1000), 0).unwrap();
    assert_eq!(snapshot(&mem), before);
    assert_eq!(pt.half(), None);
}

#[test]
fn overlap_is_rejected_without_changes() {
    let mut mem = TestMem::new();
    let mut pt = PageTable::new(&mut mem).unwrap();
    pt.map(
        &mut mem,
        va(0x40_3000),
        pa(0x9000_0000),
        PAGE_SIZE,
        KRW,
        true,
    )
    .unwrap();
    pt.map(&mut mem, va(0x8000_0000), pa(0x8000_0000), MIB2, KRW, true)
        .unwrap();
    let before = snapshot(&mem);
    let allocs = mem.allocs;
    // Overlaps in the middle: reports the first mapped page.
    assert_eq!(
        pt.map(&mut mem, va(0x40_0000), pa(0), 0x10_0000, URO, true),
        Err(MapError::AlreadyMapped { va: va(0x40_3000) })
    );
    // Overlaps a block.
    assert_eq!(
        pt.map(&mut mem, va(0x7fff_f000), pa(0), 2 * PAGE_SIZE, URO, true),
        Err(MapError::AlreadyMapped {
            va: va(0x8000_0000)
        })
    );
    // Exactly the same range.
    assert_eq!(
        pt.map(&mut mem, va(0x8000_0000), pa(0x8000_0000), MIB2, KRW, true),
        Err(MapError::AlreadyMapped {
            va: va(0x8000_0000)
        })
    );
    assert_eq!(snapshot(&mem), before);
    assert_eq!(mem.allocs, allocs);
    // Adjacent ranges are fine.
    pt.map(&mut mem, va(0x40_2000), pa(0), PAGE_SIZE, URO, true)
        .unwrap();
    pt.map(&mut mem, va(0x40_4000), pa(0), PAGE_SIZE, URO, true)
        .unwrap();
    check_structure(&pt, &mem);
}

#[test]
fn out_of_tables_leaves_nothing_behind() {
    // Maps a range that needs several level-3 tables; for every possible failure point
    // the table must end up exactly as before the call.
    for limit in 1..12 {
        let mut mem = TestMem::with_limit(limit);
        let mut pt = PageTable::new(&mut mem).unwrap();
        let existing = if limit >= 5 {
            pt.map(&mut mem, va(0x10_0000_0000), pa(0), PAGE_SIZE, KRW, true)
                .unwrap();
            true
        } else {
            false
        };
        let before = snapshot(&mem);
        let frees_before = mem.frees;
        let live_before = mem.live();
        // Unaligned PA forces pages; spans three 2 MiB regions -> 3 L3 tables (+ L1, L2).
        let r = pt.map(
            &mut mem,
            va(0x1f_f000),
            pa(0x1000),
            2 * MIB2 + 2 * PAGE_SIZE,
            KRW,
            true,
        );
        if r.is_ok() {
            assert_eq!(mappings(&pt, &mem).len(), 1024 + 2 + usize::from(existing));
            check_structure(&pt, &mem);
            continue;
        }
        assert_eq!(r, Err(MapError::OutOfTables), "limit {limit}");
        assert_eq!(mem.live(), live_before, "limit {limit}");
        // Every table allocated by the failed call was freed again.
        assert_eq!(mem.frees - frees_before, mem.allocs - before.len());
        // Every table that survived is bit-for-bit unchanged.
        let after = snapshot(&mem);
        for (i, t) in before.iter().enumerate() {
            assert_eq!(&after[i], t, "limit {limit} table {i}");
        }
        assert!(after[before.len()..].iter().all(Option::is_none));
        assert_eq!(mappings(&pt, &mem).len(), usize::from(existing));
        check_structure(&pt, &mem);
    }
}

#[test]
fn new_fails_without_memory() {
    let mut mem = TestMem::with_limit(0);
    assert_eq!(PageTable::new(&mut mem), Err(MapError::OutOfTables));
}

#[test]
fn high_half_addresses() {
    let mut mem = TestMem::new();
    let mut pt = PageTable::new(&mut mem).unwrap();
    let base = 0xffff_0000_4000_0000;
    pt.map(&mut mem, va(base), pa(0x4000_0000), GIB, KRW, true)
        .unwrap();
    pt.map(
        &mut mem,
        va(u64::MAX - 0xfff),
        pa(0x1000),
        PAGE_SIZE,
        KRW,
        true,
    )
    .unwrap();
    assert_eq!(pt.half(), Some(Half::Upper));
    let t = pt.translate(&mem, va(base + 0x1234)).unwrap();
    assert_eq!((t.pa, t.size), (pa(0x4000_1234), GIB));
    assert_eq!(pt.translate(&mem, va(u64::MAX)).unwrap().pa, pa(0x1fff));
    // Same indices in the lower half are not this table's business.
    assert_eq!(pt.translate(&mem, va(0x4000_1234)), None);
    assert_eq!(
        pt.map(&mut mem, va(0x1000), pa(0), PAGE_SIZE, KRW, true),
        Err(MapError::WrongHalf { va: va(0x1000) })
    );
    let m: Vec<_> = mappings(&pt, &mem).into_keys().collect();
    assert_eq!(m, [base, u64::MAX - 0xfff]);
    // The last page of the address space can be unmapped again.
    pt.unmap(&mut mem, va(u64::MAX - 0xfff), PAGE_SIZE).unwrap();
    assert_eq!(pt.translate(&mem, va(u64::MAX)), None);
    check_structure(&pt, &mem);
}

#[test]
fn explicit_half_and_from_root() {
    let mut mem = TestMem::new();
    let mut pt = PageTable::new_in(&mut mem, Half::Lower).unwrap();
    assert_eq!(
        pt.map(
            &mut mem,
            va(0xffff_8000_0000_0000),
            pa(0),
            PAGE_SIZE,
            KRW,
            true
        ),
        Err(MapError::WrongHalf {
            va: va(0xffff_8000_0000_0000)
        })
    );
    pt.map(&mut mem, va(0x7000), pa(0x9000), PAGE_SIZE, URO, true)
        .unwrap();
    let adopted = PageTable::from_root(pt.root());
    assert_eq!(adopted.root(), pt.root());
    assert_eq!(adopted.translate(&mem, va(0x7010)).unwrap().pa, pa(0x9010));
    let adopted_hi = PageTable::from_root_in(pt.root(), Half::Upper);
    assert_eq!(adopted_hi.translate(&mem, va(0x7010)), None);
    assert_eq!(
        adopted_hi
            .translate(&mem, va(0xffff_0000_0000_7010))
            .unwrap()
            .pa,
        pa(0x9010)
    );
}
