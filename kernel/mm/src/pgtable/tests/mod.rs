//! Host tests for the page-table code, with a fake `TableMemory`.

mod encoding;
mod map;
mod proptests;
mod unmap;

use super::*;
use std::collections::BTreeMap;

/// Fake physical base of the test tables (deliberately not 0).
const TABLE_BASE: u64 = 0x8_0000_0000;

/// `TableMemory` over boxed arrays; panics on use-after-free and double free.
pub(super) struct TestMem {
    tables: Vec<Option<Box<[u64; 512]>>>,
    pub allocs: usize,
    pub frees: usize,
    /// Allocation fails once `allocs` reaches this.
    pub limit: usize,
    /// Every `break_before_make` call.
    pub bbm: Vec<(VirtAddr, u64)>,
}

impl TestMem {
    pub fn new() -> Self {
        Self::with_limit(usize::MAX)
    }

    pub fn with_limit(limit: usize) -> Self {
        Self {
            tables: Vec::new(),
            allocs: 0,
            frees: 0,
            limit,
            bbm: Vec::new(),
        }
    }

    pub fn live(&self) -> usize {
        self.tables.iter().filter(|t| t.is_some()).count()
    }

    fn slot(pa: PhysAddr) -> usize {
        assert!(
            pa.as_u64() >= TABLE_BASE && pa.is_aligned(PAGE_SIZE),
            "bad table {pa}"
        );
        ((pa.as_u64() - TABLE_BASE) / PAGE_SIZE) as usize
    }
}

impl TableMemory for TestMem {
    fn alloc_table(&mut self) -> Option<PhysAddr> {
        if self.allocs >= self.limit {
            return None;
        }
        self.allocs += 1;
        self.tables.push(Some(Box::new([0; 512])));
        Some(PhysAddr::new(
            TABLE_BASE + (self.tables.len() as u64 - 1) * PAGE_SIZE,
        ))
    }

    fn table(&self, pa: PhysAddr) -> &[u64; 512] {
        self.tables[Self::slot(pa)]
            .as_deref()
            .expect("use of freed table")
    }

    fn table_mut(&mut self, pa: PhysAddr) -> &mut [u64; 512] {
        self.tables[Self::slot(pa)]
            .as_deref_mut()
            .expect("use of freed table")
    }

    fn free_table(&mut self, pa: PhysAddr) {
        self.frees += 1;
        assert!(
            self.tables[Self::slot(pa)].take().is_some(),
            "double free of {pa}"
        );
    }

    fn break_before_make(&mut self, va: VirtAddr, size: u64) {
        self.bbm.push((va, size));
    }
}

/// Normal kernel read/write attributes.
pub(super) const KRW: PageAttrs = PageAttrs::kernel(Access::KernelReadWrite, MemAttr::Normal);
/// User read-only attributes.
pub(super) const URO: PageAttrs = PageAttrs::user(Access::UserRead, MemAttr::Normal);

pub(super) fn va(v: u64) -> VirtAddr {
    VirtAddr::new(v)
}

pub(super) fn pa(p: u64) -> PhysAddr {
    PhysAddr::new(p)
}

/// All leaves, keyed by VA.
pub(super) fn mappings(pt: &PageTable, mem: &TestMem) -> BTreeMap<u64, Mapping> {
    let mut out = BTreeMap::new();
    pt.for_each_mapping(mem, |m| {
        assert!(out.insert(m.va.as_u64(), m).is_none());
    });
    out
}

/// Snapshot of every live table's contents, to prove "nothing changed".
pub(super) fn snapshot(mem: &TestMem) -> Vec<Option<[u64; 512]>> {
    mem.tables.iter().map(|t| t.as_deref().copied()).collect()
}

/// Checks the structural invariant: every table reachable from the root is live, no
/// non-root table is empty, and the live tables are exactly the reachable ones.
pub(super) fn check_structure(pt: &PageTable, mem: &TestMem) {
    fn visit(mem: &TestMem, t: PhysAddr, level: usize, count: &mut usize) {
        *count += 1;
        let entries = mem.table(t);
        if level > 0 {
            assert!(
                entries.iter().any(|&e| e != 0),
                "empty table {t} at level {level}"
            );
        }
        for &e in entries {
            if let descriptor::EntryKind::Table(next) = descriptor::classify(e, level) {
                visit(mem, next, level + 1, count);
            }
        }
    }
    let mut count = 0;
    visit(mem, pt.root(), 0, &mut count);
    assert_eq!(count, mem.live(), "unreachable live tables");
    assert_eq!(mem.allocs - mem.frees, mem.live());
}
