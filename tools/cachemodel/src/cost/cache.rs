//! The tag arrays of one set-associative cache level, with LRU replacement.

use crate::geometry::CacheLevel;

/// A free way's tag.
pub(super) const INVALID: u64 = u64::MAX;

/// One way of a set.
#[derive(Clone, Copy, Debug)]
pub(super) struct Way {
    /// Line address, or [`INVALID`].
    pub(super) tag: u64,
    pub(super) dirty: bool,
    /// LRU stamp.
    pub(super) used: u64,
}

/// One set-associative cache (tags only).
pub(super) struct Cache {
    pub(super) level: CacheLevel,
    pub(super) ways: Vec<Way>,
    pub(super) clock: u64,
}

impl Cache {
    pub(super) fn new(level: CacheLevel) -> Cache {
        let n = level.sets as usize * level.ways as usize;
        Cache {
            level,
            ways: vec![
                Way {
                    tag: INVALID,
                    dirty: false,
                    used: 0
                };
                n
            ],
            clock: 0,
        }
    }

    pub(super) fn set(&self, line: u64) -> std::ops::Range<usize> {
        let w = self.level.ways as usize;
        let s = self.level.set_of(line) as usize;
        s * w..(s + 1) * w
    }

    pub(super) fn find(&self, line: u64) -> Option<usize> {
        self.set(line).find(|&i| self.ways[i].tag == line)
    }

    pub(super) fn touch(&mut self, i: usize) {
        self.clock += 1;
        self.ways[i].used = self.clock;
    }

    /// Allocate `line` (not present); returns its slot and the line it replaced.
    pub(super) fn insert(&mut self, line: u64, dirty: bool) -> (usize, Option<Way>) {
        let range = self.set(line);
        let i = range
            .clone()
            .find(|&i| self.ways[i].tag == INVALID)
            .or_else(|| range.min_by_key(|&i| self.ways[i].used))
            .expect("a set has ways");
        let old = self.ways[i];
        self.ways[i] = Way {
            tag: line,
            dirty,
            used: 0,
        };
        self.touch(i);
        (i, (old.tag != INVALID).then_some(old))
    }

    pub(super) fn remove(&mut self, line: u64) -> Option<Way> {
        let i = self.find(line)?;
        let w = self.ways[i];
        self.ways[i].tag = INVALID;
        self.ways[i].dirty = false;
        Some(w)
    }

    /// The slot of set `set`, way `way`, if the cache has it.
    pub(super) fn slot(&self, set: u32, way: u32) -> Option<usize> {
        (set < self.level.sets && way < self.level.ways)
            .then(|| set as usize * self.level.ways as usize + way as usize)
    }
}
