//! A bounded set of cache lines: at most `N` disjoint intervals of line indices.
//!
//! The exporter keeps two of these per buffer ([`crate::Boundary`]). They must fit in the
//! buffer object (no allocation on the sync path) whatever a task does, so the number of
//! intervals is fixed. When an insertion (or a removal that splits an interval) would
//! need one more, the two intervals with the smallest gap between them are merged: the
//! set then holds every line it held before and the gap's lines besides. A *superset* is
//! always safe for both of the exporter's sets (cleaning a clean line and invalidating a
//! line nobody wrote are harmless, given the rule that a line that may be dirty is never
//! plainly invalidated); it only costs maintenance that was not needed.

use core::fmt;

/// A half-open interval `[start, end)` of line indices (line `i` covers bytes
/// `[i * line, (i + 1) * line)` of the buffer).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Lines {
    /// First line.
    pub start: u64,
    /// One past the last line.
    pub end: u64,
}

impl Lines {
    /// `[start, end)`.
    pub const fn new(start: u64, end: u64) -> Lines {
        Lines { start, end }
    }

    /// Whether it holds no line.
    pub const fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// Number of lines.
    pub const fn count(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// The lines both hold (possibly empty).
    pub fn meet(&self, o: Lines) -> Lines {
        Lines::new(self.start.max(o.start), self.end.min(o.end))
    }
}

/// At most `N` (at least 1) disjoint, non-adjacent, non-empty intervals of lines, in
/// ascending order. `Copy`, so a plan can keep a snapshot.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct LineSet<const N: usize> {
    len: usize,
    iv: [Lines; N],
}

impl<const N: usize> Default for LineSet<N> {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl<const N: usize> fmt::Debug for LineSet<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|l| l.start..l.end))
            .finish()
    }
}

impl<const N: usize> LineSet<N> {
    /// The empty set.
    pub const EMPTY: Self = {
        assert!(N >= 1, "a line set needs room for one interval");
        LineSet {
            len: 0,
            iv: [Lines { start: 0, end: 0 }; N],
        }
    };

    /// Whether it holds no line.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Its intervals, ascending.
    pub fn iter(&self) -> impl Iterator<Item = Lines> + '_ {
        self.iv[..self.len].iter().copied()
    }

    /// Number of lines held.
    pub fn count(&self) -> u64 {
        self.iter().map(|l| l.count()).sum()
    }

    /// Forget every line.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Whether it holds line `i`.
    pub fn contains_line(&self, i: u64) -> bool {
        self.iter().any(|l| l.start <= i && i < l.end)
    }

    /// Whether it holds any line of `l`.
    #[inline(always)]
    pub fn intersects(&self, l: Lines) -> bool {
        !l.is_empty() && self.any(|x| x.start < l.end && l.start < x.end)
    }

    /// Whether it holds every line of `l` (true for an empty `l`).
    #[inline(always)]
    pub fn covers(&self, l: Lines) -> bool {
        l.is_empty() || self.any(|x| x.start <= l.start && l.end <= x.end)
    }

    /// Whether one of its intervals satisfies `f`: a plain loop (no call, no
    /// bounds-check panic), since the syscall fast path asks `intersects` and `covers`
    /// inline.
    #[inline(always)]
    fn any(&self, f: impl Fn(Lines) -> bool) -> bool {
        let mut i = 0;
        while i < self.len.min(N) {
            if f(self.iv[i]) {
                return true;
            }
            i += 1;
        }
        false
    }

    /// The first of its intervals that ends after line `from`, cut to start at `from` or
    /// later: where the set continues from `from` on.
    pub fn next_from(&self, from: u64) -> Option<Lines> {
        self.iter()
            .find(|x| x.end > from)
            .map(|x| Lines::new(x.start.max(from), x.end))
    }

    /// Add every line of `l`. If that needs more than `N` intervals, the two closest
    /// intervals are merged (the set grows by the lines between them).
    pub fn insert(&mut self, l: Lines) {
        self.insert_with(l, false);
    }

    /// [`LineSet::insert`]; `lossy` (tests only: the model's mutation) drops `l` instead
    /// of merging when the set is full, which leaves a *subset*.
    #[inline]
    pub(crate) fn insert_with(&mut self, l: Lines, lossy: bool) {
        // Already held (the common case of lines written again before their clean):
        // the set would come out the same.
        if !self.covers(l) {
            self.insert_new(l, lossy);
        }
    }

    /// [`LineSet::insert_with`] of lines not all held yet.
    fn insert_new(&mut self, l: Lines, lossy: bool) {
        // i: first interval that touches or follows l; j: first that lies beyond it.
        let i = self.iv[..self.len].partition_point(|x| x.end < l.start);
        let j = self.iv[..self.len].partition_point(|x| x.start <= l.end);
        if i < j {
            let merged = Lines::new(self.iv[i].start.min(l.start), self.iv[j - 1].end.max(l.end));
            self.iv[i] = merged;
            self.delete(i + 1, j);
            return;
        }
        if self.len == N {
            if lossy {
                return;
            }
            // One more interval than there is room for: merge the closest pair of the
            // N + 1, l included.
            let left = (i > 0).then(|| l.start - self.iv[i - 1].end);
            let right = (i < self.len).then(|| self.iv[i].start - l.end);
            let (k, inner) = self.closest_gap();
            let best_l = [left, right].into_iter().flatten().min();
            match best_l {
                Some(g) if inner.is_none_or(|x| g <= x) => {
                    if left == Some(g) {
                        self.iv[i - 1].end = l.end;
                    } else {
                        self.iv[i].start = l.start;
                    }
                    return;
                }
                _ => {
                    // Merge k and k + 1, then l goes in as a new interval.
                    self.iv[k].end = self.iv[k + 1].end;
                    self.delete(k + 1, k + 2);
                    let i = if i > k + 1 { i - 1 } else { i };
                    self.insert_at(i, l);
                    return;
                }
            }
        }
        self.insert_at(i, l);
    }

    /// Remove every line of `l`. If splitting an interval would need more than `N`
    /// intervals, the closest pair is merged first (or, when the split itself leaves the
    /// smallest gap, nothing is removed from that interval): the result is a superset of
    /// the exact difference, never less.
    pub fn remove(&mut self, l: Lines) {
        if l.is_empty() {
            return;
        }
        let mut k = 0;
        while k < self.len {
            let x = self.iv[k];
            if x.end <= l.start {
                k += 1;
                continue;
            }
            if x.start >= l.end {
                break;
            }
            match (x.start < l.start, x.end > l.end) {
                (false, false) => self.delete(k, k + 1),
                (true, false) => {
                    self.iv[k].end = l.start;
                    k += 1;
                }
                (false, true) => {
                    self.iv[k].start = l.end;
                    k += 1;
                }
                (true, true) => {
                    // l lies strictly inside x: split it.
                    if self.len == N {
                        let gap = l.end - l.start;
                        match self.closest_gap() {
                            (m, Some(g)) if g < gap => {
                                self.iv[m].end = self.iv[m + 1].end;
                                self.delete(m + 1, m + 2);
                                // Start over: indices moved.
                                return self.remove(l);
                            }
                            _ => return, // keeping x whole is the cheapest superset
                        }
                    }
                    self.iv[k].end = l.start;
                    self.insert_at(k + 1, Lines::new(l.end, x.end));
                    return;
                }
            }
        }
    }

    /// The index `k` of the smallest gap between intervals `k` and `k + 1`, and the gap
    /// (`None` with fewer than two intervals).
    fn closest_gap(&self) -> (usize, Option<u64>) {
        let mut best = (0, None);
        for k in 0..self.len.saturating_sub(1) {
            let g = self.iv[k + 1].start - self.iv[k].end;
            if best.1.is_none_or(|b| g < b) {
                best = (k, Some(g));
            }
        }
        best
    }

    /// Remove intervals `[a, b)`.
    fn delete(&mut self, a: usize, b: usize) {
        if a >= b {
            return;
        }
        self.iv.copy_within(b..self.len, a);
        self.len -= b - a;
    }

    /// Insert `l` at index `i` (there is room).
    fn insert_at(&mut self, i: usize, l: Lines) {
        debug_assert!(self.len < N);
        self.iv.copy_within(i..self.len, i + 1);
        self.iv[i] = l;
        self.len += 1;
    }
}
