//! The legacy forwarded-mmap path: coherency faked by the exporter, page by page.
//!
//! A task maps a GPU resource through the GPU driver (the importer), which forwards the
//! request to the buffer manager (the exporter), as Linux's `dma_buf_mmap()` does. The
//! task never calls `sync`, so the exporter must keep the mapping coherent on its own,
//! by one of two policies chosen at mmap time ([`LegacyPolicy`]):
//!
//! * [`LegacyPolicy::Fault`]: a cacheable mapping filled on demand, with the page
//!   tables as the bracket the task never writes.
//!   - Pages start unmapped. A CPU touch faults; the kernel waits for any device fence
//!     on the buffer, invalidates the page (`DC IVAC` of each line) and maps it
//!     **read-only**, even for a read. The first write then faults again (a permission
//!     fault) and the page is upgraded to writable: that second fault *is* the dirty
//!     tracking. A write fault on an unmapped page maps it writable (and dirty) at once.
//!   - When a device submission references the buffer, the kernel unmaps every legacy
//!     PTE of it (a *zap*: break the PTEs, `TLBI VAE1IS` by VA+ASID, `DSB ISH`), records
//!     exactly the pages that were writable since the last hand-over as dirty lines of
//!     the buffer ([`crate::Boundary::mark_dirty`]), and the submission's clean of the
//!     dirty lines the device touches (`DC CVAC`, in bounded steps, one `DSB SY`) takes
//!     them, before the device is told. The next CPU touch faults as above. (A written
//!     page the device does not touch stays dirty in the boundary: its refault cleans
//!     and invalidates it, and a later submission that touches it cleans it.)
//! * [`LegacyPolicy::Uncached`]: a Normal non-cacheable mapping of the whole range,
//!   installed at mmap time after one clean+invalidate of the range
//!   ([`LegacyPages::mmap_maintenance`]) so that no cached line of another alias (the
//!   kernel's linear map) shadows it or is later evicted over it. It never faults and is
//!   never maintained; every CPU access goes to RAM, slowly.
//!
//! [`LegacyPages`] is the per-mapping state machine: the kernel asks it what to do at a
//! fault ([`LegacyPages::on_fault`] → [`FaultAction`]) and before a device submission
//! ([`LegacyPages::on_device_submit`] → [`SubmitPlan`]), carries the answer out, and the
//! state follows. Page indices are relative to the mapping; the kernel turns page `p`
//! into the byte range `[p * PAGE_SIZE, (p + 1) * PAGE_SIZE)` of the mapping and hands
//! it to [`mm::cache::plan`] (page-aligned, so there are no partial edge lines).
//!
//! # Why each step is needed
//!
//! | step                                   | without it                                                                    |
//! |----------------------------------------|-------------------------------------------------------------------------------|
//! | wait the fence at a fault              | the CPU reads RAM (or fills lines) before the device has written it           |
//! | invalidate at (re)fault                | a line cached (or speculatively filled) before the device wrote hides its data |
//! | clean+invalidate if others may be dirty| the invalidate discards another holder's dirty, not yet cleaned bytes         |
//! | map read faults read-only              | a later write is not seen, so its page is not cleaned at submit               |
//! | zap at submit                          | the CPU keeps using stale lines after the device wrote, and writes untracked   |
//! | record (and clean) the written pages   | the device reads RAM that does not hold the CPU's last writes                 |
//!
//! The invalidate must happen at fault time, *after* the fence: an invalidate at
//! submission would be undone by speculative fills while the device works. Only the
//! pages that were writable are recorded: a page that was never writable since the
//! last hand-over holds no dirty line of this mapping (it was invalidated when it was
//! mapped, and only stores make lines dirty).
//!
//! # Preconditions the kernel keeps
//!
//! * **Rights first.** [`LegacyPages::on_fault`] decides coherency, not permission: a
//!   write through a read-only handle or mapping is refused by the kernel before it is
//!   asked. [`PageState::Writable`] then means "writable as far as coherency goes"; the
//!   PTE carries the lesser of that and the mapping's rights.
//! * **`others_may_be_dirty`** must be true whenever any other CPU holder of the buffer
//!   may have dirty lines in the faulting page: a direct-path holder inside a START
//!   WRITE/RW bracket, **the lines the buffer's boundary holds as dirty**
//!   ([`crate::Boundary::may_be_dirty`]: ENDed direct-path writes and the zeros the
//!   buffer manager wrote at creation, which no clean has reached until a device needs
//!   them), **and another legacy mapping of the same buffer that has the page dirty**
//!   ([`LegacyPages::is_dirty`], keeping in mind that mappings may start at different
//!   buffer pages). Passing `true` when unsure is always safe; it costs a write-back of
//!   lines that are dirty.
//! * **Direct-path START READ/RW next to a legacy mapping.** The direct path's START
//!   READ/RW invalidates the lines fully inside its range. On a buffer that also has a
//!   legacy mapping with dirty pages, those lines may hold the legacy task's writes,
//!   which have no END to clean them: the kernel passes the planned operation through
//!   [`LegacyPages::direct_start_op`] (which turns the invalidate into a
//!   clean+invalidate) for every legacy mapping of the buffer.
//! * **Every submission goes through [`LegacyPages::on_device_submit`]** of every
//!   legacy mapping of the buffer, for reads and writes alike, before the device is
//!   told (as well as through the boundary's clean of the direct path's dirty lines). A device that only reads still needs the zap: otherwise the task keeps its
//!   writable PTEs and its next writes are neither seen nor cleaned. A device that
//!   writes still needs the clean ("the device overwrites it anyway" is wrong): a dirty
//!   line left in the cache is evicted later, on top of the device's bytes, and the
//!   task's bytes next to what the device wrote are discarded by the next refault's
//!   invalidate. See [`crate::plan_device_write_handover`] for the rest of that
//!   hand-over.
//! * **Device fences.** `device_busy` covers every device job on the buffer, readers
//!   included: a page must not become writable while a device still reads it (a dirty
//!   line evicted mid-read tears what the device sees).

use alloc::vec::Vec;

use mm::cache::CacheOp;

use crate::Policy;

/// How a legacy (forwarded) mapping is kept coherent; chosen at mmap time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LegacyPolicy {
    /// Cacheable, filled on demand by faults; PTEs zapped and written pages cleaned at
    /// every device submission. Fast CPU access, one fault per page per hand-over.
    Fault,
    /// Normal non-cacheable, mapped whole at mmap time; never faults, never maintained.
    /// No hand-over cost, slow CPU access.
    Uncached,
}

impl LegacyPolicy {
    /// The memory type of the mapping: [`Policy::Cached`] for [`LegacyPolicy::Fault`],
    /// [`Policy::Uncached`] for [`LegacyPolicy::Uncached`].
    pub const fn mapping(self) -> Policy {
        match self {
            LegacyPolicy::Fault => Policy::Cached,
            LegacyPolicy::Uncached => Policy::Uncached,
        }
    }
}

/// The coherency state of one page of a legacy mapping, which is also what its PTE
/// allows (before the mapping's own rights are applied).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PageState {
    /// No PTE: the next access faults.
    Unmapped,
    /// Mapped read-only: the next write faults (permission fault).
    ReadOnly,
    /// Mapped writable: under [`LegacyPolicy::Fault`], the page may hold dirty lines of
    /// this mapping, and is cleaned at the next submission.
    Writable,
}

/// What the kernel must do about one fault in a legacy mapping
/// ([`LegacyPages::on_fault`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaultAction {
    /// Device work on the buffer is still in flight: block until it completes, then the
    /// access retries (faults again). The state is unchanged.
    WaitDevice,
    /// Map the page (after `maintenance` if `Some`: `Invalidate` or `CleanInvalidate` of
    /// the whole page, then `DSB SY`), read-only or writable. A writable map makes the
    /// page dirty.
    Map {
        /// Cache maintenance of the whole page before the PTE is installed.
        maintenance: Option<CacheOp>,
        /// Install a writable PTE (a write fault) rather than a read-only one.
        writable: bool,
    },
    /// The page is read-only and this is a write: make it writable (no maintenance);
    /// the page is dirty from now on.
    Upgrade,
    /// The page is already mapped with enough rights (another thread raced, or a stale
    /// TLB entry): just return to the task, which retries the access.
    Retry,
    /// Not a legal access: any fault under [`LegacyPolicy::Uncached`] (whose mapping is
    /// complete), or a page index out of range. The kernel kills the task.
    Illegal,
}

/// What the kernel must do before notifying a device of a submission that references
/// the buffer ([`LegacyPages::on_device_submit`]), in this order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SubmitPlan {
    /// Some page is mapped: unmap every PTE of the mapping, then `TLBI` by VA+ASID
    /// (or by ASID) and `DSB ISH`, so the next CPU access faults.
    pub zap: bool,
    /// Pages that were writable since the last submission, ascending: their lines may be
    /// dirty, and must reach memory before the device touches them (the kernel records
    /// them in the buffer's boundary, whose clean of what the device touches follows).
    pub clean_pages: Vec<usize>,
}

/// The per-mapping state of a legacy mapping: one [`PageState`] per page, and the pages
/// mapped since the last submission.
///
/// The kernel keeps one per legacy mapping (VMA). Under [`LegacyPolicy::Fault`] a page
/// is dirty exactly when it is [`PageState::Writable`]: a page becomes writable only
/// through a write fault, and only a submission takes the right away again (and cleans
/// it). Under [`LegacyPolicy::Uncached`] every page is mapped writable for good and
/// nothing is ever dirty (there are no cached lines).
///
/// A submission costs what was touched since the last one, not the size of the
/// mapping: the pages mapped since then are listed as they fault in (`touched`, with
/// room for every page from the start, so a submission never allocates), and only they
/// are zapped, cleaned and reset ([`LegacyPages::submit_pages`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LegacyPages {
    policy: LegacyPolicy,
    pages: Vec<PageState>,
    /// Under [`LegacyPolicy::Fault`]: every page that is not [`PageState::Unmapped`],
    /// once each; in ascending order when `sorted` (a submission in steps takes them
    /// from the end, without moving the rest).
    touched: Vec<u32>,
    /// `touched` is in ascending order (pages usually fault in that order: then no sort
    /// is needed at all).
    sorted: bool,
}

impl LegacyPages {
    /// A new mapping of `pages` pages: all [`PageState::Unmapped`] under
    /// [`LegacyPolicy::Fault`], all [`PageState::Writable`] under
    /// [`LegacyPolicy::Uncached`] (the kernel maps the whole range at mmap time, after
    /// [`LegacyPages::mmap_maintenance`]).
    pub fn new(pages: usize, policy: LegacyPolicy) -> Self {
        let initial = match policy {
            LegacyPolicy::Fault => PageState::Unmapped,
            LegacyPolicy::Uncached => PageState::Writable,
        };
        let touched = match policy {
            LegacyPolicy::Fault => Vec::with_capacity(pages),
            LegacyPolicy::Uncached => Vec::new(),
        };
        Self {
            policy,
            pages: alloc::vec![initial; pages],
            touched,
            sorted: true,
        }
    }

    /// The mapping's policy.
    pub const fn policy(&self) -> LegacyPolicy {
        self.policy
    }

    /// Number of pages of the mapping.
    pub fn len(&self) -> usize {
        self.pages.len()
    }

    /// Whether the mapping has no page.
    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }

    /// Maintenance of the whole mapped range the kernel runs at mmap time, before
    /// installing any PTE: `CleanInvalidate` under [`LegacyPolicy::Uncached`] (no line
    /// cached through another alias may shadow the non-cacheable mapping, or be evicted
    /// over what the task writes through it), `None` under [`LegacyPolicy::Fault`]
    /// (each page is invalidated when it is first mapped).
    pub const fn mmap_maintenance(&self) -> Option<CacheOp> {
        match self.policy {
            LegacyPolicy::Fault => None,
            LegacyPolicy::Uncached => Some(CacheOp::CleanInvalidate),
        }
    }

    /// The state of `page`, or `None` if it is out of range.
    pub fn state(&self, page: usize) -> Option<PageState> {
        self.pages.get(page).copied()
    }

    /// Whether `page` may hold dirty lines of this mapping (out of range: `false`).
    /// The kernel uses it to compute `others_may_be_dirty` for the other legacy
    /// mappings of the same buffer.
    pub fn is_dirty(&self, page: usize) -> bool {
        self.policy == LegacyPolicy::Fault && self.state(page) == Some(PageState::Writable)
    }

    /// Whether any page may hold dirty lines of this mapping (costs the pages touched
    /// since the last submission).
    pub fn has_dirty_pages(&self) -> bool {
        self.policy == LegacyPolicy::Fault
            && self
                .touched
                .iter()
                .any(|&p| self.pages[p as usize] == PageState::Writable)
    }

    /// A fault at `page` of the mapping.
    ///
    /// * `write`: the access was a store (the kernel has already refused stores through
    ///   a mapping without write rights);
    /// * `device_busy`: a device fence on the buffer (reader or writer) is pending;
    /// * `others_may_be_dirty`: another CPU holder may have dirty lines in this page
    ///   (see the module docs).
    ///
    /// Decides the action and updates the state as if it were carried out:
    ///
    /// | state      | read                       | write                      |
    /// |------------|----------------------------|----------------------------|
    /// | `Unmapped` | `Map` read-only after inv. | `Map` writable after inv.  |
    /// | `ReadOnly` | `Retry`                    | `Upgrade`                  |
    /// | `Writable` | `Retry`                    | `Retry`                    |
    ///
    /// where "inv." is `Invalidate`, or `CleanInvalidate` when `others_may_be_dirty`.
    /// Any fault while `device_busy` is `WaitDevice` (the state does not change: no page
    /// is mapped or upgraded while a device works on the buffer). Under
    /// [`LegacyPolicy::Uncached`], or for a page out of range, it is `Illegal`.
    pub fn on_fault(
        &mut self,
        page: usize,
        write: bool,
        device_busy: bool,
        others_may_be_dirty: bool,
    ) -> FaultAction {
        if self.policy == LegacyPolicy::Uncached {
            return FaultAction::Illegal;
        }
        let Some(state) = self.pages.get_mut(page) else {
            return FaultAction::Illegal;
        };
        if device_busy {
            return FaultAction::WaitDevice;
        }
        match (*state, write) {
            (PageState::Unmapped, _) => {
                *state = if write {
                    PageState::Writable
                } else {
                    PageState::ReadOnly
                };
                // Room for every page was reserved at creation: no allocation here.
                if self.touched.last().is_some_and(|&l| l > page as u32) {
                    self.sorted = false;
                }
                self.touched.push(page as u32);
                FaultAction::Map {
                    maintenance: Some(refault_op(others_may_be_dirty)),
                    writable: write,
                }
            }
            (PageState::ReadOnly, true) => {
                *state = PageState::Writable;
                FaultAction::Upgrade
            }
            (PageState::ReadOnly, false) | (PageState::Writable, _) => FaultAction::Retry,
        }
    }

    /// A device submission references the buffer: what to do before notifying the
    /// device (for a device read or write alike).
    ///
    /// Under [`LegacyPolicy::Fault`]: `zap` if any page is mapped, clean every page that
    /// was writable; afterwards every page is [`PageState::Unmapped`] and nothing is
    /// dirty. Under [`LegacyPolicy::Uncached`]: nothing to do (the empty plan), and the
    /// mapping stays in place.
    ///
    /// This collects [`LegacyPages::submit_pages`] and calls [`LegacyPages::end_submit`]
    /// (the kernel walks the pages instead, without allocating).
    pub fn on_device_submit(&mut self) -> SubmitPlan {
        let mut plan = SubmitPlan::default();
        for (p, state) in self.submit_pages() {
            plan.zap = true;
            if state == PageState::Writable {
                plan.clean_pages.push(p);
            }
        }
        self.end_submit();
        plan
    }

    /// A device submission references the buffer: the pages mapped since the last one,
    /// ascending, with their state. The kernel unmaps each (the zap: then `TLBI` and
    /// `DSB ISH`), then walks them again and records every [`PageState::Writable`] one as
    /// dirty (see [`SubmitPlan::clean_pages`]), then calls [`LegacyPages::end_submit`],
    /// before the submission's clean and the device. Costs the pages touched, not the
    /// mapping's size, and allocates nothing; nothing under [`LegacyPolicy::Uncached`].
    pub fn submit_pages(&mut self) -> impl Iterator<Item = (usize, PageState)> + '_ {
        if !self.sorted {
            self.touched.sort_unstable();
            self.sorted = true;
        }
        self.touched
            .iter()
            .map(|&p| (p as usize, self.pages[p as usize]))
    }

    /// [`LegacyPages::submit_pages`] for at most `max` of those pages, the highest,
    /// *descending* (a zap in bounded steps: whoever stops after `n` of them calls
    /// [`LegacyPages::end_submit_first`]`(n)`, which ends exactly those). Unless pages
    /// faulted in out of order, no sort and nothing moved.
    pub fn submit_first(&mut self, max: usize) -> impl Iterator<Item = (usize, PageState)> + '_ {
        if !self.sorted {
            self.touched.sort_unstable();
            self.sorted = true;
        }
        let from = self.touched.len().saturating_sub(max);
        self.touched[from..]
            .iter()
            .rev()
            .map(|&p| (p as usize, self.pages[p as usize]))
    }

    /// The submission's zap and recording are done: every page touched since the last
    /// one is [`PageState::Unmapped`] again, and nothing is touched.
    pub fn end_submit(&mut self) {
        self.end_submit_first(usize::MAX);
    }

    /// The zap and recording of the first `n` pages [`LegacyPages::submit_first`] gave
    /// (the `n` highest touched pages) are done: those pages are
    /// [`PageState::Unmapped`] and no longer touched.
    pub fn end_submit_first(&mut self, n: usize) {
        let keep = self.touched.len().saturating_sub(n);
        for &p in &self.touched[keep..] {
            self.pages[p as usize] = PageState::Unmapped;
        }
        self.touched.truncate(keep);
    }

    /// Whether no page was mapped since the last submission (a zap has nothing to do).
    pub fn untouched(&self) -> bool {
        self.touched.is_empty()
    }

    /// The operation a direct-path START READ/RW on the same buffer must use in place of
    /// the planned `op` (from [`crate::plan_sync`]): while this mapping has dirty pages,
    /// an `Invalidate` becomes `CleanInvalidate`, since the lines it covers may hold
    /// this mapping's writes, which no END will ever clean. Any other `op` is returned
    /// unchanged.
    pub fn direct_start_op(&self, op: CacheOp) -> CacheOp {
        match op {
            CacheOp::Invalidate if self.has_dirty_pages() => CacheOp::CleanInvalidate,
            op => op,
        }
    }

    /// Number of pages mapped now (read-only or writable).
    pub fn mapped_pages(&self) -> usize {
        self.pages
            .iter()
            .filter(|s| **s != PageState::Unmapped)
            .count()
    }

    /// The pages that may hold dirty lines of this mapping, ascending: under
    /// [`LegacyPolicy::Fault`], the writable ones; under [`LegacyPolicy::Uncached`],
    /// none.
    pub fn dirty_pages(&self) -> impl Iterator<Item = usize> + '_ {
        let fault = self.policy == LegacyPolicy::Fault;
        self.pages
            .iter()
            .enumerate()
            .filter(move |(_, s)| fault && **s == PageState::Writable)
            .map(|(i, _)| i)
    }
}

#[cfg(test)]
impl LegacyPages {
    /// The bookkeeping invariant: `touched` lists exactly the mapped pages, once each
    /// (under [`LegacyPolicy::Fault`]).
    pub(crate) fn touched_is_exact(&self) -> bool {
        if self.policy == LegacyPolicy::Uncached {
            return self.touched.is_empty();
        }
        let mut listed = alloc::vec![false; self.pages.len()];
        for &p in &self.touched {
            if core::mem::replace(&mut listed[p as usize], true) {
                return false;
            }
        }
        (0..self.pages.len()).all(|p| listed[p] == (self.pages[p] != PageState::Unmapped))
    }
}

/// The maintenance before (re)mapping a page: invalidate, unless another holder may
/// have dirty lines in it, whose bytes a pure invalidate would silently discard.
const fn refault_op(others_may_be_dirty: bool) -> CacheOp {
    if others_may_be_dirty {
        CacheOp::CleanInvalidate
    } else {
        CacheOp::Invalidate
    }
}
