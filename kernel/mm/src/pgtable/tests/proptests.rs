//! Property tests: random page ranges and random map/unmap/protect sequences checked
//! against a simple per-page model.

use super::*;
use proptest::prelude::*;

/// Window of VA pages the model tests operate in: 4 MiB = 1024 pages starting at 1 GiB,
/// so that 2 MiB blocks occur.
const WIN_BASE: u64 = BLOCK_1G;
const WIN_PAGES: u64 = 1024;

fn attrs_strategy() -> impl Strategy<Value = PageAttrs> {
    (0..6usize, 0..3usize, any::<bool>(), 0..16u8).prop_map(|(a, m, g, sw)| PageAttrs {
        access: Access::ALL[a],
        mem: MemAttr::ALL[m],
        global: g,
        sw,
    })
}

#[derive(Clone, Debug)]
enum Op {
    Map {
        page: u64,
        pages: u64,
        pa_page: u64,
        attrs: PageAttrs,
        blocks: bool,
    },
    Unmap {
        page: u64,
        pages: u64,
    },
    Protect {
        page: u64,
        pages: u64,
        attrs: PageAttrs,
    },
}

fn op_strategy() -> impl Strategy<Value = Op> {
    // Biased towards 2 MiB-aligned starts and 512-page sizes so blocks really occur.
    let page = prop_oneof![
        0..WIN_PAGES,
        prop::sample::select(vec![0, 1, 256, 511, 512])
    ];
    let pages = prop_oneof![1..600u64, prop::sample::select(vec![1, 512, 513, 1024])];
    let range = (page, pages).prop_map(|(p, n)| (p, n.clamp(1, WIN_PAGES - p)));
    prop_oneof![
        (range.clone(), 0..2048u64, attrs_strategy(), any::<bool>()).prop_map(
            |((page, pages), pa_page, attrs, blocks)| {
                // Bias the PA so 2 MiB alignment happens often.
                let pa_page = if blocks {
                    (pa_page & !511) + (page % 512)
                } else {
                    pa_page
                };
                Op::Map {
                    page,
                    pages,
                    pa_page,
                    attrs,
                    blocks,
                }
            }
        ),
        range
            .clone()
            .prop_map(|(page, pages)| Op::Unmap { page, pages }),
        (range, attrs_strategy()).prop_map(|((page, pages), attrs)| Op::Protect {
            page,
            pages,
            attrs
        }),
    ]
}

fn page_va(page: u64) -> VirtAddr {
    va(WIN_BASE + page * PAGE_SIZE)
}

/// Maps random non-overlapping page ranges (lower or upper half), then translates every
/// page.
fn check_random_ranges(ranges: Vec<(u64, u64, u64)>, high: bool) -> Result<(), TestCaseError> {
    let mut mem = TestMem::new();
    let mut pt = PageTable::new(&mut mem).unwrap();
    let top = if high { 0xffff_0000_0000_0000 } else { 0 };
    // Lay ranges out with random gaps, spreading them over different L1/L2 slots.
    let mut cursor = 0x7f_ff00_0000u64;
    let mut placed = Vec::new();
    for (pages, gap, pa_page) in ranges {
        cursor += gap * PAGE_SIZE * 97;
        let v = top | cursor;
        let p = pa_page * PAGE_SIZE;
        prop_assert_eq!(
            pt.map(&mut mem, va(v), pa(p), pages * PAGE_SIZE, URO, true),
            Ok(())
        );
        placed.push((v, p, pages));
        cursor += pages * PAGE_SIZE;
    }
    for &(v, p, pages) in &placed {
        for i in 0..pages {
            let t = pt.translate(&mem, va(v + i * PAGE_SIZE + 8)).unwrap();
            prop_assert_eq!(t.pa, pa(p + i * PAGE_SIZE + 8));
            prop_assert_eq!(t.attrs, URO);
        }
        // The byte before each range is mapped only if another range ends there.
        let prev = v - 1;
        let prev_mapped = placed
            .iter()
            .any(|&(w, _, n)| (w..w + n * PAGE_SIZE).contains(&prev));
        prop_assert_eq!(pt.translate(&mem, va(prev)).is_some(), prev_mapped);
    }
    let total: u64 = placed.iter().map(|r| r.2).sum();
    prop_assert_eq!(mappings(&pt, &mem).len() as u64, total);
    check_structure(&pt, &mem);
    pt.destroy(&mut mem);
    prop_assert_eq!(mem.allocs, mem.frees);
    Ok(())
}

/// Per-page model: page index -> (physical address, attributes).
type Model = BTreeMap<u64, (u64, PageAttrs)>;

/// Applies `op` to the table and, where the table must succeed, to the model; checks the
/// exact error otherwise.
fn apply(
    pt: &mut PageTable,
    mem: &mut TestMem,
    model: &mut Model,
    op: &Op,
) -> Result<Result<(), MapError>, TestCaseError> {
    let (page, pages) = match *op {
        Op::Map { page, pages, .. } | Op::Unmap { page, pages } => (page, pages),
        Op::Protect { page, pages, .. } => (page, pages),
    };
    let range = page..page + pages;
    let first_mapped = range.clone().find(|p| model.contains_key(p));
    let first_unmapped = range.clone().find(|p| !model.contains_key(p));
    let r = match *op {
        Op::Map {
            pa_page,
            attrs,
            blocks,
            ..
        } => {
            let r = pt.map(
                mem,
                page_va(page),
                pa(pa_page * PAGE_SIZE),
                pages * PAGE_SIZE,
                attrs,
                blocks,
            );
            match first_mapped {
                Some(p) => prop_assert_eq!(r, Err(MapError::AlreadyMapped { va: page_va(p) })),
                None => {
                    prop_assert_eq!(r, Ok(()));
                    for p in range {
                        model.insert(p, ((pa_page + p - page) * PAGE_SIZE, attrs));
                    }
                }
            }
            r
        }
        Op::Unmap { .. } => {
            let r = pt.unmap(mem, page_va(page), pages * PAGE_SIZE);
            match first_unmapped {
                Some(p) => prop_assert_eq!(r, Err(MapError::NotMapped { va: page_va(p) })),
                None => {
                    prop_assert_eq!(r, Ok(()));
                    for p in range {
                        model.remove(&p);
                    }
                }
            }
            r
        }
        Op::Protect { attrs, .. } => {
            let r = pt.protect(mem, page_va(page), pages * PAGE_SIZE, attrs);
            match first_unmapped {
                Some(p) => prop_assert_eq!(r, Err(MapError::NotMapped { va: page_va(p) })),
                None => {
                    prop_assert_eq!(r, Ok(()));
                    for p in range {
                        model.get_mut(&p).unwrap().1 = attrs;
                    }
                }
            }
            r
        }
    };
    Ok(r)
}

/// Random map/unmap/protect sequences agree with the per-page model, failed operations
/// leave every table bit-for-bit unchanged, and the table structure stays minimal.
fn check_model(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut mem = TestMem::new();
    let mut pt = PageTable::new(&mut mem).unwrap();
    let mut model = Model::new();
    for op in &ops {
        let before = snapshot(&mem);
        if apply(&mut pt, &mut mem, &mut model, op)?.is_err() {
            prop_assert_eq!(snapshot(&mem), before);
        }
        for p in 0..WIN_PAGES {
            let got = pt
                .translate(&mem, page_va(p))
                .map(|t| (t.pa.as_u64(), t.attrs));
            prop_assert_eq!(got, model.get(&p).copied(), "page {}", p);
        }
        check_structure(&pt, &mem);
    }
    pt.destroy(&mut mem);
    prop_assert_eq!(mem.allocs, mem.frees);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn random_ranges_translate(
        ranges in proptest::collection::vec((1u64..40, 0u64..40, 0u64..1 << 20), 1..20),
        high in any::<bool>(),
    ) {
        check_random_ranges(ranges, high)?;
    }

    #[test]
    fn model_check(ops in proptest::collection::vec(op_strategy(), 1..25)) {
        check_model(ops)?;
    }
}
