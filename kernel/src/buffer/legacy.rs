//! The legacy forwarded-mmap path: the exporter side. A task mapped a buffer through
//! the GPU driver (which translated its fake offset into a page offset and forwarded the
//! request here). There is no sync call on this path, so coherency is faked by policy
//! (see `coherency::legacy` for the decisions and their proof on the host model):
//! faults fill pages on demand, device submissions zap the PTEs and record the pages
//! written since the last one as dirty lines of the buffer (`Buffer::boundary`), which
//! the submission's clean of what the device touches then takes.

use super::{trace, Buffer};
use crate::task::space::AddressSpace;
use crate::task::Kernel;
use abi::Error;
use alloc::sync::Arc;
use coherency::legacy::{FaultAction, LegacyPages, LegacyPolicy, PageState};
use core::sync::atomic::Ordering;
use mm::addr::PAGE_SIZE;
use mm::cache::CacheOp;
use mm::pgtable::{Access, MemAttr};

/// One legacy mapping in a task.
pub struct LegacyMap {
    /// The exporter's buffer.
    pub buffer: Arc<Buffer>,
    /// First buffer page mapped.
    pub pgoff: u64,
    /// May EL0 write (prot)?
    pub writable: bool,
    /// Number of pages mapped.
    pub npages: usize,
    /// Page states (the policy's bookkeeping).
    pub pages: LegacyPages,
}

impl LegacyMap {
    /// Bytes covered.
    pub fn len(&self) -> u64 {
        self.npages as u64 * PAGE_SIZE
    }

    fn buffer_offset(&self, page: usize) -> u64 {
        (self.pgoff + page as u64) * PAGE_SIZE
    }
}

impl Drop for LegacyMap {
    fn drop(&mut self) {
        // A fast-path sync decides from `uncached_maps` and the boundary: not halfway
        // through this.
        let buffer = self.buffer.clone();
        let _closed = buffer.gate.close();
        self.buffer.legacy_mappings.fetch_sub(1, Ordering::SeqCst);
        if self.pages.policy() == LegacyPolicy::Uncached {
            self.buffer.uncached_maps.fetch_sub(1, Ordering::SeqCst);
            // What the task stored through it went around the cache: any cached copy of
            // those lines is stale for the CPU from now on (while it existed, every
            // START invalidated its whole range anyway).
            if self.writable && self.buffer.policy == super::Policy::Cached {
                let geom = crate::arch::cache::geometry();
                let (off, len) = (self.buffer_offset(0), self.len());
                self.buffer.boundary_to_stale().mark_stale(geom, off, len);
            }
        }
    }
}

/// The exporter's map operation: create the legacy mapping of `pages` buffer pages from
/// `pgoff` at user address `va` of `space`.
pub fn map(
    space: &mut AddressSpace,
    buffer: Arc<Buffer>,
    va: u64,
    pgoff: u64,
    pages: usize,
    writable: bool,
    policy: LegacyPolicy,
) -> Result<LegacyMap, Error> {
    buffer.legacy_mappings.fetch_add(1, Ordering::SeqCst);
    let map = LegacyMap {
        buffer,
        pgoff,
        writable,
        npages: pages,
        pages: LegacyPages::new(pages, policy),
    };
    if policy == LegacyPolicy::Uncached {
        // A fast-path END decides from `uncached_maps` whether to record or clean: not
        // halfway through this.
        let buffer = map.buffer.clone();
        let _closed = buffer.gate.close();
        map.buffer.add_uncached_map();
        // No cached line of any alias may shadow the non-cacheable mapping; the dirty
        // lines it can see reach memory (the mapping reads memory whenever its task
        // likes: from now on ENDs clean at once).
        let (off, len) = (map.buffer_offset(0), map.len());
        map.buffer.maintain(CacheOp::CleanInvalidate, off, len);
        let geom = crate::arch::cache::geometry();
        map.buffer.boundary().cleaned(geom, off, len);
        let frames = &map.buffer.frames()[pgoff as usize..pgoff as usize + pages];
        let access = if writable {
            Access::UserReadWrite
        } else {
            Access::UserRead
        };
        space.map_shared(va, frames, access, MemAttr::NormalNonCacheable)?;
    }
    Ok(map)
}

/// What a fault in a legacy mapping came to.
pub enum FaultOutcome {
    /// The page is mapped now; retry the access.
    Resolved,
    /// Wait for this device fence first (the access is retried after).
    Wait(u64),
    /// Not a legal access: kill the task.
    Illegal,
}

/// True if some legacy mapping other than (`task`, `va`) has buffer page `page` of
/// buffer `buffer` dirty (a pure invalidate of that page would throw its writes away).
fn dirty_elsewhere(k: &mut Kernel, buffer: u64, page: u64, task: u32, va: u64) -> bool {
    let mut dirty = false;
    k.for_each_task_with_id(|tid, t| {
        for (&mva, m) in t.legacy.iter().filter(|(_, m)| m.buffer.id == buffer) {
            if (tid, mva) != (task, va) && page >= m.pgoff && page < m.pgoff + m.npages as u64 {
                dirty |= m.pages.is_dirty((page - m.pgoff) as usize);
            }
        }
    });
    dirty
}

/// The operation a direct-path START should issue for a planned `op`, given the legacy
/// mappings of the buffer: their dirty lines have no END to clean them, so an invalidate
/// must not discard them (it becomes clean+invalidate while any of them is dirty).
pub fn direct_start_op(k: &mut Kernel, buffer: u64, op: CacheOp) -> CacheOp {
    let mut op = op;
    k.for_each_task_with_id(|_, t| {
        for m in t.legacy.values().filter(|m| m.buffer.id == buffer) {
            op = m.pages.direct_start_op(op);
        }
    });
    op
}

/// A data abort at `far` in task `id`: resolve it if it is in a legacy mapping.
/// Returns `None` if `far` is not in one (an ordinary fault).
pub fn on_fault(k: &mut Kernel, id: u32, far: u64, write: bool) -> Option<FaultOutcome> {
    let (va, buffer, buffer_page) = {
        let t = k.task(id)?;
        let (&va, map) = t.legacy.range(..=far).next_back()?;
        if far >= va + map.len() {
            return None;
        }
        (va, map.buffer.id, map.pgoff + (far - va) / PAGE_SIZE)
    };
    let legacy_dirty = dirty_elsewhere(k, buffer, buffer_page, id, va);
    let t = k.task_mut(id)?;
    let (&va, map) = t.legacy.range_mut(..=far).next_back()?;
    if far >= va + map.len() {
        return None;
    }
    if write && !map.writable {
        return Some(FaultOutcome::Illegal);
    }
    let page = ((far - va) / PAGE_SIZE) as usize;
    let buf = map.buffer.clone();
    // The decision below reads the holder counts and the boundary, and its maintenance
    // may invalidate: no fast-path sync may run on the buffer meanwhile.
    let _closed = buf.gate.close();
    let pending = crate::fences::first_pending(&[
        buf.device_read_fence.load(Ordering::SeqCst),
        buf.device_write_fence.load(Ordering::SeqCst),
    ]);
    let (busy, fence) = (pending.is_some(), pending.unwrap_or(0));
    // Dirty lines the page may hold: a direct-path holder's inside an open WRITE bracket,
    // another legacy mapping's, and those the boundary records (ENDed writes and the
    // creation's zeros, which no clean has reached yet).
    let geom = crate::arch::cache::geometry();
    let offset = map.buffer_offset(page);
    let boundary_dirty = buf.maintained() && buf.boundary().may_be_dirty(geom, offset, PAGE_SIZE);
    let others_dirty = legacy_dirty || boundary_dirty || buf.cpu_writers() > 0;
    let page_va = va + page as u64 * PAGE_SIZE;
    Some(match map.pages.on_fault(page, write, busy, others_dirty) {
        FaultAction::WaitDevice => FaultOutcome::Wait(fence),
        FaultAction::Map {
            maintenance,
            writable,
        } => {
            // A coherent device never leaves stale lines behind.
            if let Some(op) = maintenance.filter(|_| !super::devices_coherent()) {
                buf.maintain(op, offset, PAGE_SIZE);
                // Cleaned and invalidated, or invalidated because nothing was dirty: no
                // line of the page is dirty now.
                buf.boundary().cleaned(geom, offset, PAGE_SIZE);
            }
            let access = if writable {
                Access::UserReadWrite
            } else {
                Access::UserRead
            };
            let frame = [buf.frames()[offset as usize / PAGE_SIZE as usize]];
            if t.space
                .map_shared(page_va, &frame, access, MemAttr::Normal)
                .is_err()
            {
                return Some(FaultOutcome::Illegal);
            }
            trace::record_event(abi::trace::OP_FAULT, buf.id, offset, PAGE_SIZE, page_va);
            crate::counters::add(&crate::counters::FAULTS, 1);
            FaultOutcome::Resolved
        }
        FaultAction::Upgrade => {
            if t.space
                .protect_page(page_va, Access::UserReadWrite, MemAttr::Normal)
                .is_err()
            {
                return Some(FaultOutcome::Illegal);
            }
            crate::counters::add(&crate::counters::FAULTS, 1);
            FaultOutcome::Resolved
        }
        FaultAction::Retry => FaultOutcome::Resolved,
        FaultAction::Illegal => FaultOutcome::Illegal,
    })
}

/// The work one step of a zap does: a page counts 1 and each run of consecutive pages 3
/// more (unmapping one page of a run costs about 130 instructions; starting a run, with
/// its walk of the page table and its entry in the dirty set, about 400), so a step
/// stays near the IRQ-masked time of one step of maintenance.
pub const ZAP_BUDGET: usize = 100;

/// What one step of a zap ([`zap_step`]) did.
#[derive(Clone, Copy, Debug, Default)]
pub struct Zap {
    /// Some written page was recorded as dirty in the buffer's boundary.
    pub recorded: bool,
    /// Every legacy mapping of the buffer is zapped; otherwise the caller gives way to a
    /// pending interrupt or takes the next step.
    pub done: bool,
}

/// Before a device is told to access `buf`: zap every legacy PTE of it in every task,
/// and record the pages written since the last submission as dirty in the buffer's
/// boundary, whose clean of what the device touches (in bounded steps) follows. One
/// step: about [`ZAP_BUDGET`] of work; the pages of a mapping are taken lowest first and
/// leave its list of touched pages as they go, so the next step carries on. Costs the
/// pages mapped since the last submission (and the tasks), not the mappings' sizes, and
/// allocates nothing.
///
/// Recording instead of cleaning keeps the hand-over's masked stretches bounded, and
/// cleans only what a device reads: a written page the device does not read stays
/// dirty in the boundary, where a refault sees it (clean+invalidate) and a later
/// submission that touches it cleans it.
pub fn zap_step(k: &mut Kernel, buf: &Buffer) -> Zap {
    let mut z = Zap {
        recorded: false,
        done: true,
    };
    if super::devices_coherent() || buf.legacy_mappings.load(Ordering::Relaxed) == 0 {
        return z; // nothing to hide from a coherent device; no legacy mapping
    }
    let geom = crate::arch::cache::geometry();
    let mut budget = ZAP_BUDGET;
    k.for_each_task_mut(|t| {
        // Uncached mappings are never zapped.
        let fault_maps = t
            .legacy
            .iter_mut()
            .filter(|(_, m)| m.pages.policy() == LegacyPolicy::Fault);
        for (&va, map) in fault_maps.filter(|(_, m)| m.buffer.id == buf.id) {
            if map.pages.untouched() {
                continue;
            }
            if budget == 0 {
                z.done = false;
                return;
            }
            let base = map.buffer_offset(0);
            let space = &mut t.space;
            // Zap: unmap the pages, in runs of consecutive pages, then one TLBI for the
            // address space.
            let mut run: Option<(usize, usize)> = None;
            let mut taken = 0;
            let mut unmap = |(first, n): (usize, usize)| {
                let at = va + first as u64 * PAGE_SIZE;
                // The pages fault in again soon: keep their tables.
                let _ = space.unmap_keep_tables(at, n as u64 * PAGE_SIZE);
            };
            // The highest pages first, descending: a run grows downwards.
            for (p, _) in map.pages.submit_first(budget) {
                let cost = if run.is_some_and(|(f, _)| p + 1 == f) {
                    1
                } else {
                    4
                };
                if cost > budget {
                    break;
                }
                budget -= cost;
                run = extend(run, p, &mut unmap);
                taken += 1;
            }
            if let Some(last) = run {
                unmap(last);
            }
            crate::arch::mmu::invalidate_tlb_asid(space.asid());
            trace::record_event(abi::trace::OP_ZAP, buf.id, base, map.len(), va);
            crate::counters::add(&crate::counters::ZAPS, 1);
            // Then the pages that were writable (the task can no longer dirty them) join
            // the boundary's dirty lines.
            let mut run = None;
            let mut dirty = |(first, n): (usize, usize)| {
                let (off, len) = (base + first as u64 * PAGE_SIZE, n as u64 * PAGE_SIZE);
                if buf.maintained() {
                    buf.boundary().mark_dirty(geom, off, len);
                    z.recorded = true;
                } else {
                    // An uncached buffer keeps no boundary state: clean at once.
                    buf.maintain(CacheOp::Clean, off, len);
                }
            };
            let written = map.pages.submit_first(taken);
            for (p, _) in written.filter(|&(_, s)| s == PageState::Writable) {
                run = extend(run, p, &mut dirty);
            }
            if let Some(r) = run {
                dirty(r);
            }
            map.pages.end_submit_first(taken);
            if !map.pages.untouched() {
                z.done = false;
            }
        }
    });
    z
}

/// `run` (first page, count) extended by page `p` if `p` comes right after it or right
/// before it; otherwise `flush` it and start a new run at `p`.
fn extend(
    run: Option<(usize, usize)>,
    p: usize,
    mut flush: impl FnMut((usize, usize)),
) -> Option<(usize, usize)> {
    match run {
        Some((first, n)) if first + n == p => Some((first, n + 1)),
        Some((first, n)) if p + 1 == first => Some((p, n + 1)),
        Some(r) => {
            flush(r);
            Some((p, 1))
        }
        None => Some((p, 1)),
    }
}
