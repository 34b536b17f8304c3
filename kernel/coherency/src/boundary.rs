//! Coherence-boundary maintenance: maintain a cached buffer only where data crosses to
//! or from a party that does not snoop the CPU caches.
//!
//! CPU caches are coherent with each other, so two CPU tasks sharing a buffer never
//! need cache maintenance between them, whatever their mappings' virtual addresses
//! (Arm data caches behave as physically tagged). Maintenance is needed only where a
//! *non-coherent* party reads or writes the buffer's memory: a device (by DMA), or a
//! non-cacheable mapping. The exporter knows every such party of a buffer: it sees every
//! device submission (a device reads or writes a buffer only as part of a job the kernel
//! hands it, `gpu_present`, `blk_read`) and every legacy `UNCACHED` mapping. So it keeps,
//! per buffer, two sets of cache lines ([`Boundary`]):
//!
//! * **`dirty`**: lines the CPU may hold dirty that no clean has pushed to memory since:
//!   the lines of every END WRITE/RW (and of the kernel's zeroing at creation), until a
//!   submission cleans them;
//! * **`stale`**: lines a non-coherent writer may have changed in memory since their
//!   last invalidate: the lines of every device-write submission (and of a legacy
//!   uncached mapping when it goes), until a START invalidates them.
//!
//! and moves the maintenance to where the boundary is crossed:
//!
//! | event | maintenance | set update |
//! |---|---|---|
//! | END WRITE / END RW | none | range → `dirty` |
//! | START READ / RW (START WRITE if `stale` meets the range: rule (c)) | invalidate `stale ∩ range`: `DC IVAC`, but `DC CIVAC` on lines also in `dirty`, on partial edge lines of the range, and for a holder without the map-write right; nothing if `stale` misses the range | invalidated lines leave `stale` |
//! | device submission that reads (present) | clean `dirty ∩ what it reads`, `DSB`, then notify | cleaned lines leave `dirty` |
//! | device submission that writes (`blk_read`) | clean `dirty ∩ written lines` (rule (a)), `DSB`, then notify | cleaned lines leave `dirty`; written lines → `stale` |
//! | legacy `UNCACHED` mapping of the buffer exists | END WRITE/RW cleans its range at once; every START invalidates its whole range (dirty lines CIVAC) | its range → `stale` when it goes |
//!
//! A buffer only ever shared between CPU tasks therefore costs no maintenance at all:
//! its ENDs record, its STARTs find nothing stale.
//!
//! # Why each rule holds
//!
//! * **Deferring the clean.** A dirty line is a problem only for a party that reads
//!   memory behind the cache. A device reads only inside a submission the kernel makes,
//!   so cleaning `dirty ∩ what it reads` just before notifying it gives the device every
//!   byte the CPU ENDed. An import (`gpu_import`) only tells the device where the pages
//!   are; it reads nothing until a present, so an import alone needs no maintenance.
//!   A legacy `UNCACHED` mapping, by contrast, reads memory whenever its task likes,
//!   with no call the kernel sees: while one exists the buffer has an *unmediated*
//!   non-coherent reader, and END cleans at once, as Linux does. Its creation cleans
//!   and invalidates its range (the existing rule: no line of a cacheable alias may
//!   shadow it), which also cleans every dirty line it can see.
//! * **Rule (a), clean before a device write.** A dirty line left in the cache while the
//!   device writes the memory under it is evicted some time later, on top of the
//!   device's bytes; and the CPU bytes of that line outside the written range would
//!   never reach memory. So the lines the device writes are cleaned first.
//! * **Skipping the invalidate.** A CPU line can be stale only if memory under it
//!   changed behind the cache: a device wrote it, or an uncached mapping did. Every
//!   such write is in `stale` (the kernel marks a device write's lines at submission,
//!   before the device is told, so a START that waits for the job's fence finds them).
//!   A line not in `stale` was filled from memory no non-coherent party has changed
//!   since, so it is current, and a START READ need not touch it.
//! * **Rule (c), START WRITE over stale lines.** Invalidated as for START RW: a stale
//!   line that took the CPU's partial writes would be cleaned back over the device's
//!   bytes later.
//! * **Never a bare invalidate of a line in `dirty`.** A plain `DC IVAC` of a line that
//!   holds another holder's ENDed (not yet cleaned) bytes would silently discard them.
//!   With exact sets `dirty` and `stale` are disjoint (a device write's lines are
//!   cleaned out of `dirty` first), but the sets may be supersets (below) and an
//!   uncached mapping makes every line count as stale, so such a line is cleaned and
//!   invalidated. The other existing rules stay: partial edge lines of the range are
//!   cleaned and invalidated (bytes outside the range share them), a holder without the
//!   map-write right never plainly invalidates.
//! * **Supersets are safe.** Both sets have a fixed number of intervals; when a new one
//!   does not fit, the two closest merge ([`LineSet`]), so a set may hold lines that
//!   need nothing. Cleaning a clean line does nothing; invalidating a line that is in
//!   neither set's true contents drops a current, clean copy (the rule above keeps
//!   possibly dirty ones). So the sets may only err on the large side: a line missing
//!   from `dirty` is a device reading stale memory, a line missing from `stale` a CPU
//!   reading a stale line.
//! * **Concurrent change.** Long maintenance runs in bounded steps while other tasks
//!   run, so [`Pieces`] are computed from the sets as they are at each step, not from a
//!   copy. A submission's clean then also takes lines ENDed while it ran (ahead of its
//!   cursor); it removes its range from `dirty` only if `dirty` got nothing new in the
//!   meantime ([`Boundary::generation`]), since a line ENDed behind its cursor was not
//!   cleaned; otherwise the lines stay (a superset). A START removes its range's lines
//!   from `stale` after its last step: no device write can be submitted while a START
//!   is open (the misuse detector), so `stale` has not grown under it.
//!
//! # What is not tracked
//!
//! Rectangles are recorded by their hull (the bytes from the first row's start to the
//! last row's end): a few intervals cannot describe a thousand rows, and the hull is a
//! superset. A submission that reads a rectangle cleans the rectangle's own rows that
//! meet `dirty` (not the lines between them); a START over a rectangle that meets
//! `stale` invalidates the whole rectangle, as the classic path does, and leaves `stale`
//! as it was (a superset).

use mm::cache::{CacheGeometry, CacheOp};

use crate::lineset::{LineSet, Lines};

/// A byte region of a buffer: `rows` rows of `row_len` bytes, `stride` bytes apart, from
/// `offset` (`rows == 1`: a plain range).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Region {
    /// First byte of the first row.
    pub offset: u64,
    /// Bytes per row.
    pub row_len: u64,
    /// Number of rows (at least 1).
    pub rows: u64,
    /// Bytes from one row to the next.
    pub stride: u64,
}

impl Region {
    /// The plain range `[offset, offset + len)`.
    pub const fn range(offset: u64, len: u64) -> Region {
        Region {
            offset,
            row_len: len,
            rows: 1,
            stride: len,
        }
    }

    /// Whether its bytes are one contiguous range (one row, or rows that touch).
    pub const fn is_contiguous(&self) -> bool {
        self.rows == 1 || self.row_len == self.stride
    }

    /// `[start, end)` of its bytes, from the first row's first byte to the last row's
    /// end. The caller checked that it does not overflow.
    pub const fn hull(&self) -> (u64, u64) {
        let end = self.offset + (self.rows - 1) * self.stride + self.row_len;
        (self.offset, end)
    }
}

/// The lines a byte range `[start, end)` touches.
#[inline]
fn lines_of(geom: CacheGeometry, start: u64, end: u64) -> Lines {
    let shift = geom.line().trailing_zeros();
    if end <= start {
        return Lines::new(0, 0);
    }
    Lines::new(start >> shift, ((end - 1) >> shift) + 1)
}

/// The per-buffer boundary state: the `dirty` and `stale` line sets, at most `N`
/// intervals each (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Boundary<const N: usize> {
    dirty: LineSet<N>,
    stale: LineSet<N>,
    generation: u64,
    /// Tests only (the model's mutation): an overflowing insertion drops its lines.
    #[cfg(test)]
    pub(crate) lossy: bool,
}

impl<const N: usize> Default for Boundary<N> {
    fn default() -> Self {
        Self::NEW
    }
}

/// What one sync or submission must maintain, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Work {
    /// Nothing.
    None,
    /// `op` over every row of the region, each row planned as a range
    /// ([`mm::cache::plan`]: partial edge lines of an invalidate clean+invalidate).
    Region(CacheOp, Region),
    /// The pieces of a plain range ([`Pieces::next`]).
    Pieces(Pieces),
}

impl Work {
    /// Whether there is nothing to do.
    pub const fn is_none(&self) -> bool {
        matches!(self, Work::None)
    }
}

/// Which of the boundary's sets selects the lines of [`Pieces`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Select {
    /// `stale` (every line when `all`), lines also in `dirty` cleaned and invalidated:
    /// a START.
    Stale { all: bool, civac_dirty: bool },
    /// `dirty`: a submission's clean.
    Dirty,
}

/// Maintenance over the selected lines of a byte range, computed piece by piece from
/// the buffer's [`Boundary`] as it is when the piece is asked for, so that it can be
/// done in bounded steps from a few words of plan.
///
/// Read from the live sets, a START's pieces are those its planning saw (no device
/// write can be submitted while a START is open, so `stale` does not grow under it),
/// and a submission's clean also takes lines ENDed while it ran, once its cursor has
/// not passed them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pieces {
    base: CacheOp,
    start: u64,
    end: u64,
    select: Select,
    shift: u32,
}

impl Pieces {
    /// The byte range `[start, end)` the pieces lie in.
    pub const fn range(&self) -> (u64, u64) {
        (self.start, self.end)
    }

    /// The lines the range touches.
    fn lines(&self) -> Lines {
        Lines::new(self.start >> self.shift, ((self.end - 1) >> self.shift) + 1)
    }

    /// The first piece at or after byte `from`, given the buffer's boundary `bd`:
    /// `(op, offset, len)`, a byte range of the buffer to hand to [`mm::cache::plan`]
    /// with `op` (which turns partial edge lines of an invalidate into
    /// clean+invalidate; pieces are cut only at line boundaries inside the range, so only
    /// the range's own edges can be partial). Pieces come in address order;
    /// `next(bd, offset + len)` continues after one. `None` when no selected line is
    /// left.
    pub fn next<const N: usize>(&self, bd: &Boundary<N>, from: u64) -> Option<(CacheOp, u64, u64)> {
        let lo = from.max(self.start);
        if lo >= self.end {
            return None;
        }
        let s = self.shift;
        let (sel, civac) = match self.select {
            Select::Stale {
                all: true,
                civac_dirty,
            } => (
                Lines::new(lo >> s, self.lines().end),
                civac_dirty.then_some(&bd.dirty),
            ),
            Select::Stale {
                all: false,
                civac_dirty,
            } => (
                bd.stale.next_from(lo >> s)?,
                civac_dirty.then_some(&bd.dirty),
            ),
            Select::Dirty => (bd.dirty.next_from(lo >> s)?, None),
        };
        let a = lo.max(sel.start << s);
        let b = self.end.min(sel.end << s);
        if a >= b {
            return None;
        }
        let piece = match civac.and_then(|c| c.next_from(a >> s)) {
            Some(c) if c.start << s <= a => (CacheOp::CleanInvalidate, a, b.min(c.end << s)),
            Some(c) if c.start << s < b => (self.base, a, c.start << s),
            _ => (self.base, a, b),
        };
        Some((piece.0, piece.1, piece.2 - piece.1))
    }

    /// Every piece, in order, given the buffer's boundary `bd` (which the caller does not
    /// change meanwhile).
    pub fn iter<'a, const N: usize>(
        &'a self,
        bd: &'a Boundary<N>,
    ) -> impl Iterator<Item = (CacheOp, u64, u64)> + 'a {
        let mut at = self.start;
        core::iter::from_fn(move || {
            let p = self.next(bd, at)?;
            at = p.1 + p.2;
            Some(p)
        })
    }
}

impl<const N: usize> Boundary<N> {
    /// A buffer whose memory is current: nothing dirty, nothing stale.
    pub const NEW: Self = Boundary {
        dirty: LineSet::EMPTY,
        stale: LineSet::EMPTY,
        generation: 0,
        #[cfg(test)]
        lossy: false,
    };

    /// The lines that may be dirty.
    pub const fn dirty(&self) -> &LineSet<N> {
        &self.dirty
    }

    /// The lines that may be stale.
    pub const fn stale(&self) -> &LineSet<N> {
        &self.stale
    }

    /// Changes whenever lines are added to `dirty`: a submission that cleaned a
    /// snapshot of `dirty` removes them only if it is unchanged.
    pub const fn generation(&self) -> u64 {
        self.generation
    }

    /// The CPU wrote `[offset, offset + len)` and nothing cleaned it (the kernel's
    /// zeroing of a new buffer; an END the task can no longer call).
    pub fn mark_dirty(&mut self, geom: CacheGeometry, offset: u64, len: u64) {
        self.add_dirty(lines_of(geom, offset, offset.saturating_add(len)));
    }

    #[cfg(test)]
    fn lossy(&self) -> bool {
        self.lossy
    }

    #[cfg(not(test))]
    const fn lossy(&self) -> bool {
        false
    }

    #[inline(always)]
    fn add_dirty(&mut self, l: Lines) {
        if !l.is_empty() {
            self.dirty.insert_with(l, self.lossy());
            self.generation = self.generation.wrapping_add(1);
        }
    }

    fn add_stale(&mut self, l: Lines) {
        self.stale.insert_with(l, self.lossy());
    }

    /// `[offset, offset + len)` was cleaned (or cleaned and invalidated) line by line just
    /// now, outside any sync (the clean+invalidate of a new legacy uncached mapping):
    /// its lines leave `dirty`.
    pub fn cleaned(&mut self, geom: CacheGeometry, offset: u64, len: u64) {
        self.dirty
            .remove(lines_of(geom, offset, offset.saturating_add(len)));
    }

    /// A non-coherent writer may have changed `[offset, offset + len)` behind the cache
    /// (a legacy uncached mapping that is going away).
    pub fn mark_stale(&mut self, geom: CacheGeometry, offset: u64, len: u64) {
        self.add_stale(lines_of(geom, offset, offset.saturating_add(len)));
    }

    /// Whether a START over `region` must invalidate anything: some line of it may be
    /// stale, or an uncached mapping (`unmediated`) may have written anywhere. A START
    /// WRITE is planned as START RW when this is true ([`crate::effective_dir`]).
    #[inline(always)]
    pub fn may_be_stale(&self, geom: CacheGeometry, region: Region, unmediated: bool) -> bool {
        let (s, e) = region.hull();
        unmediated || self.stale.intersects(lines_of(geom, s, e))
    }

    /// Whether any line of `[offset, offset + len)` may be dirty (a legacy refault of
    /// that page must then clean+invalidate, not invalidate).
    pub fn may_be_dirty(&self, geom: CacheGeometry, offset: u64, len: u64) -> bool {
        self.dirty
            .intersects(lines_of(geom, offset, offset.saturating_add(len)))
    }

    /// The maintenance of a `sync` whose checks passed and whose fences were waited for,
    /// given the classic plan's operation over `region` (from [`crate::plan_sync`]:
    /// `None` for END READ, START WRITE without stale lines, an uncached buffer or a
    /// coherent device, and for everything on a coherent device).
    ///
    /// * END with a clean planned: records the region's lines in `dirty` and returns
    ///   [`Work::None`]; with an `unmediated` reader (a legacy uncached mapping) returns
    ///   the clean to do now instead, as Linux would.
    /// * START with an invalidate (or clean+invalidate) planned: the lines of the region
    ///   that may be stale (all of them if `unmediated`), lines that may be dirty
    ///   clean+invalidated. A plain range gives [`Work::Pieces`]; a rectangle that meets
    ///   `stale` gives the whole rectangle, clean+invalidate if `dirty` meets its hull.
    ///   Call [`Boundary::start_done`] with it after the last line.
    #[inline(always)]
    pub fn sync(
        &mut self,
        geom: CacheGeometry,
        op: Option<CacheOp>,
        region: Region,
        unmediated: bool,
    ) -> Work {
        let Some(op) = op else { return Work::None };
        let (s, e) = region.hull();
        let hull = lines_of(geom, s, e);
        match op {
            CacheOp::Clean if unmediated => Work::Region(op, region),
            CacheOp::Clean => {
                self.add_dirty(hull);
                Work::None
            }
            _ if region.is_contiguous() => {
                if !unmediated && !self.stale.intersects(hull) {
                    return Work::None;
                }
                Work::Pieces(Pieces {
                    base: op,
                    start: s,
                    end: e,
                    select: Select::Stale {
                        all: unmediated,
                        civac_dirty: true,
                    },
                    shift: geom.line().trailing_zeros(),
                })
            }
            _ if unmediated || self.stale.intersects(hull) => {
                let op = if self.dirty.intersects(hull) {
                    CacheOp::CleanInvalidate
                } else {
                    op
                };
                Work::Region(op, region)
            }
            _ => Work::None,
        }
    }

    /// A START's maintenance `work` ([`Boundary::sync`]) is done: the lines it
    /// invalidated are current, so they leave `stale`.
    pub fn start_done(&mut self, work: &Work) {
        if let Work::Pieces(p) = work {
            self.stale.remove(p.lines());
        }
    }

    /// What a device submission that **reads** `region` must clean first: the lines of
    /// `dirty` it reads. A plain range (or touching rows) gives the pieces of `dirty`
    /// in it; a rectangle gives its rows from the first to the last that meets `dirty`
    /// (lines of those rows that are not dirty are cleaned too: harmless). Take the
    /// [`Boundary::generation`] with it, and call [`Boundary::device_read_done`] after
    /// the clean's `DSB`, before notifying the device.
    pub fn device_read(&self, geom: CacheGeometry, region: Region) -> Work {
        let (s, e) = region.hull();
        if !self.dirty.intersects(lines_of(geom, s, e)) {
            return Work::None;
        }
        if region.is_contiguous() {
            return self.clean_pieces(geom, s, e);
        }
        let row_meets = |r: u64| {
            let o = region.offset + r * region.stride;
            self.dirty.intersects(lines_of(geom, o, o + region.row_len))
        };
        let Some(first) = (0..region.rows).find(|&r| row_meets(r)) else {
            return Work::None;
        };
        let last = (first..region.rows).rev().find(|&r| row_meets(r));
        let rows = last.map_or(1, |l| l - first + 1);
        Work::Region(
            CacheOp::Clean,
            Region {
                offset: region.offset + first * region.stride,
                rows,
                ..region
            },
        )
    }

    fn clean_pieces(&self, geom: CacheGeometry, s: u64, e: u64) -> Work {
        Work::Pieces(Pieces {
            base: CacheOp::Clean,
            start: s,
            end: e,
            select: Select::Dirty,
            shift: geom.line().trailing_zeros(),
        })
    }

    /// The clean of [`Boundary::device_read`] is done: if `dirty` is as it was when it
    /// was planned (`generation`), the cleaned lines leave it. (A rectangle's rows are
    /// not removed: a few intervals cannot describe them.)
    pub fn device_read_done(&mut self, work: &Work, generation: u64) {
        if let (Work::Pieces(p), true) = (work, generation == self.generation) {
            self.dirty.remove(p.lines());
        }
    }

    /// What a device submission that **writes** `[offset, offset + len)` must clean
    /// first (rule (a)): the lines of `dirty` it touches. Take the
    /// [`Boundary::generation`] with it, and call [`Boundary::device_write_done`] after
    /// the clean's `DSB`, before notifying the device.
    pub fn device_write(&self, geom: CacheGeometry, offset: u64, len: u64) -> Work {
        let l = lines_of(geom, offset, offset + len);
        if !self.dirty.intersects(l) {
            return Work::None;
        }
        let shift = geom.line().trailing_zeros();
        self.clean_pieces(geom, l.start << shift, l.end << shift)
    }

    /// The clean of [`Boundary::device_write`] is done and the device is about to be
    /// told: the cleaned lines leave `dirty` (if it is unchanged since `generation`), and
    /// every line the device writes joins `stale`.
    pub fn device_write_done(
        &mut self,
        geom: CacheGeometry,
        work: &Work,
        generation: u64,
        offset: u64,
        len: u64,
    ) {
        self.device_read_done(work, generation);
        self.add_stale(lines_of(geom, offset, offset + len));
    }
}

/// Test-only entry point for the model's mutation of the CIVAC rule.
#[cfg(test)]
impl Work {
    /// The pieces without their clean+invalidate of lines that may be dirty (the
    /// mutation that plainly invalidates them).
    pub(crate) fn without_civac(self) -> Work {
        match self {
            Work::Pieces(mut p) => {
                if let Select::Stale { civac_dirty, .. } = &mut p.select {
                    *civac_dirty = false;
                }
                Work::Pieces(p)
            }
            w => w,
        }
    }
}
