//! `unmap`, `protect`, block splitting and `destroy`.

use super::*;

const GIB: u64 = BLOCK_1G;
const MIB2: u64 = BLOCK_2M;

fn setup_1g() -> (TestMem, PageTable) {
    let mut mem = TestMem::new();
    let mut pt = PageTable::new(&mut mem).unwrap();
    pt.map(&mut mem, va(GIB), pa(4 * GIB), GIB, KRW, true)
        .unwrap();
    assert_eq!(pt.translate(&mem, va(GIB)).unwrap().size, GIB);
    (mem, pt)
}

#[test]
fn unmap_whole_mapping_frees_tables() {
    let mut mem = TestMem::new();
    let mut pt = PageTable::new(&mut mem).unwrap();
    pt.map(&mut mem, va(0x1000), pa(0x5000), 3 * PAGE_SIZE, URO, true)
        .unwrap();
    assert_eq!(mem.live(), 4);
    pt.unmap(&mut mem, va(0x1000), 3 * PAGE_SIZE).unwrap();
    assert!(mappings(&pt, &mem).is_empty());
    // Only the root is left.
    assert_eq!(mem.live(), 1);
    assert_eq!(mem.frees, 3);
    check_structure(&pt, &mem);
}

#[test]
fn unmap_keep_tables_then_prune_range() {
    let mut mem = TestMem::new();
    let mut pt = PageTable::new(&mut mem).unwrap();
    pt.map(&mut mem, va(0x1000), pa(0x5000), 3 * PAGE_SIZE, URO, true)
        .unwrap();
    pt.unmap_keep_tables(&mut mem, va(0x2000), PAGE_SIZE)
        .unwrap();
    assert_eq!(pt.translate(&mem, va(0x2000)), None);
    assert!(pt.translate(&mem, va(0x1000)).is_some());
    pt.unmap_keep_tables(&mut mem, va(0x1000), PAGE_SIZE)
        .unwrap();
    pt.unmap_keep_tables(&mut mem, va(0x3000), PAGE_SIZE)
        .unwrap();
    assert!(mappings(&pt, &mem).is_empty());
    assert_eq!(mem.live(), 4, "the empty tables are kept");
    assert_eq!(mem.frees, 0);
    // Mapping again reuses them.
    pt.map(&mut mem, va(0x2000), pa(0x9000), PAGE_SIZE, URO, true)
        .unwrap();
    assert_eq!(mem.live(), 4);
    pt.unmap_keep_tables(&mut mem, va(0x2000), PAGE_SIZE)
        .unwrap();
    assert!(pt
        .unmap_keep_tables(&mut mem, va(0x2000), PAGE_SIZE)
        .is_err());
    pt.prune_range(&mut mem, va(0), 0x10_0000).unwrap();
    assert_eq!(mem.live(), 1, "only the root is left");
    assert_eq!(mem.frees, 3);
    check_structure(&pt, &mem);
}

#[test]
fn unmap_partial_1g_block_splits() {
    let (mut mem, mut pt) = setup_1g();
    // Unmap one page in the middle of the 1 GiB block.
    let hole = GIB + 5 * MIB2 + 7 * PAGE_SIZE;
    pt.unmap(&mut mem, va(hole), PAGE_SIZE).unwrap();
    assert_eq!(pt.translate(&mem, va(hole)), None);
    assert_eq!(pt.translate(&mem, va(hole + 0xfff)), None);
    // Split 1G -> 2M blocks, then the 2M block holding the hole -> pages.
    assert_eq!(mem.bbm, [(va(GIB), GIB), (va(GIB + 5 * MIB2), MIB2)]);
    let m = mappings(&pt, &mem);
    assert_eq!(m.len(), 511 + 511);
    assert_eq!(m.values().filter(|m| m.size == MIB2).count(), 511);
    // Every remaining byte translates to the same place as before, with the same attrs.
    for off in (0..GIB).step_by(PAGE_SIZE as usize * 61) {
        let v = GIB + off;
        let got = pt.translate(&mem, va(v + 0x10));
        if v & !0xfff == hole {
            assert_eq!(got, None);
        } else {
            let t = got.unwrap();
            assert_eq!(t.pa, pa(4 * GIB + off + 0x10));
            assert_eq!(t.attrs, KRW);
        }
    }
    assert_eq!(
        pt.translate(&mem, va(hole - PAGE_SIZE)).unwrap().size,
        PAGE_SIZE
    );
    assert_eq!(
        pt.translate(&mem, va(hole + PAGE_SIZE)).unwrap().pa,
        pa(4 * GIB + 5 * MIB2 + 8 * PAGE_SIZE)
    );
    assert_eq!(pt.translate(&mem, va(GIB)).unwrap().size, MIB2);
    check_structure(&pt, &mem);
}

#[test]
fn unmap_range_spanning_block_edges() {
    let (mut mem, mut pt) = setup_1g();
    // From the middle of one 2 MiB region to the middle of another.
    let start = GIB + MIB2 / 2;
    let size = 3 * MIB2;
    pt.unmap(&mut mem, va(start), size).unwrap();
    let m = mappings(&pt, &mem);
    let mapped: u64 = m.values().map(|m| m.size).sum();
    assert_eq!(mapped, GIB - size);
    assert!(pt.translate(&mem, va(start - 1)).is_some());
    assert!(pt.translate(&mem, va(start)).is_none());
    assert!(pt.translate(&mem, va(start + size - 1)).is_none());
    assert_eq!(
        pt.translate(&mem, va(start + size)).unwrap().pa,
        pa(4 * GIB + MIB2 / 2 + size)
    );
    // Two 2 MiB blocks in the middle were removed whole, not split.
    assert_eq!(mem.bbm.len(), 3);
    check_structure(&pt, &mem);
}

#[test]
fn unmap_unmapped_changes_nothing() {
    let mut mem = TestMem::new();
    let mut pt = PageTable::new(&mut mem).unwrap();
    pt.map(&mut mem, va(0x20_0000), pa(0x20_0000), MIB2, KRW, true)
        .unwrap();
    pt.map(
        &mut mem,
        va(0x40_0000),
        pa(0x1000),
        2 * PAGE_SIZE,
        KRW,
        true,
    )
    .unwrap();
    let before = snapshot(&mem);
    // Hole after the two pages: the block would have to be split, but must not be.
    assert_eq!(
        pt.unmap(&mut mem, va(0x30_0000), MIB2),
        Err(MapError::NotMapped { va: va(0x40_2000) })
    );
    assert_eq!(
        pt.unmap(&mut mem, va(0x1000), PAGE_SIZE),
        Err(MapError::NotMapped { va: va(0x1000) })
    );
    assert_eq!(
        pt.protect(&mut mem, va(0x1f_f000), 2 * PAGE_SIZE, URO),
        Err(MapError::NotMapped { va: va(0x1f_f000) })
    );
    assert_eq!(snapshot(&mem), before);
    assert!(mem.bbm.is_empty());
    check_structure(&pt, &mem);
}

#[test]
fn protect_changes_attrs_and_splits() {
    let (mut mem, mut pt) = setup_1g();
    let ro = PageAttrs::kernel(Access::KernelRead, MemAttr::Normal).with_sw(3);
    // Whole 2 MiB-aligned piece plus one page: one 2M block rewritten, one split.
    let start = GIB + 4 * MIB2;
    pt.protect(&mut mem, va(start), MIB2 + PAGE_SIZE, ro)
        .unwrap();
    let t = pt.translate(&mem, va(start + 0x10)).unwrap();
    assert_eq!(
        (t.pa, t.attrs, t.size),
        (pa(4 * GIB + 4 * MIB2 + 0x10), ro, MIB2)
    );
    let t = pt.translate(&mem, va(start + MIB2)).unwrap();
    assert_eq!((t.attrs, t.size), (ro, PAGE_SIZE));
    let t = pt.translate(&mem, va(start + MIB2 + PAGE_SIZE)).unwrap();
    assert_eq!(
        (t.pa, t.attrs),
        (pa(4 * GIB + 4 * MIB2 + MIB2 + PAGE_SIZE), KRW)
    );
    assert_eq!(pt.translate(&mem, va(start - 1)).unwrap().attrs, KRW);
    // Protecting the whole block range rewrites every leaf.
    pt.protect(&mut mem, va(GIB), GIB, URO).unwrap();
    assert!(mappings(&pt, &mem).values().all(|m| m.attrs == URO));
    let total: u64 = mappings(&pt, &mem).values().map(|m| m.size).sum();
    assert_eq!(total, GIB);
    check_structure(&pt, &mem);
}

#[test]
fn out_of_tables_during_split() {
    let (mut mem, mut pt) = setup_1g();
    mem.limit = mem.allocs + 1;
    // Needs two splits (1G -> 2M -> 4K): the second fails.
    assert_eq!(
        pt.unmap(&mut mem, va(GIB + PAGE_SIZE), PAGE_SIZE),
        Err(MapError::OutOfTables)
    );
    // Translations unchanged.
    let t = pt.translate(&mem, va(GIB + PAGE_SIZE)).unwrap();
    assert_eq!(t.pa, pa(4 * GIB + PAGE_SIZE));
    let total: u64 = mappings(&pt, &mem).values().map(|m| m.size).sum();
    assert_eq!(total, GIB);
    check_structure(&pt, &mem);
}

#[test]
fn destroy_frees_every_table() {
    let mut mem = TestMem::new();
    let mut pt = PageTable::new(&mut mem).unwrap();
    pt.map(&mut mem, va(0x1000), pa(0x1000), 600 * PAGE_SIZE, URO, true)
        .unwrap();
    pt.map(&mut mem, va(0x7f_0000_0000), pa(0), GIB, KRW, true)
        .unwrap();
    pt.map(&mut mem, va(0x80_4000_0000), pa(0), 3 * MIB2, KRW, true)
        .unwrap();
    pt.unmap(&mut mem, va(0x80_4000_1000), PAGE_SIZE).unwrap();
    assert!(mem.allocs > 5);
    pt.destroy(&mut mem);
    assert_eq!(mem.allocs, mem.frees);
    assert_eq!(mem.live(), 0);
}
