//! What a run's resources are at one moment, to prove that everything a run (or one
//! attacker task) took comes back: free frames, kernel heap bytes in use, live tasks,
//! and the caller's account use of every quota resource (SYSCALLS.md, "Quotas"); and a
//! count of the caller's free handle slots.
//!
//! The kernel heap is compared with a small slack ([`HEAP_SLACK`]), because the kernel
//! keeps some of its own maps as B-trees in the heap, and a B-tree holding the same
//! entries can have a different number of nodes depending on its history:
//! - the frame allocator's free lists (buddy_system_allocator's `FrameAllocator`: one
//!   `BTreeSet` of free blocks per order): after a run that allocated and freed frames
//!   every frame is back, but a list used for the first time keeps its (empty) root
//!   node, and blocks freed in another order can leave the lists with other nodes. This
//!   is the only difference at the end of a whole run: with the kernel instrumented to
//!   subtract the frame allocator's own heap use, the launcher's end-of-run heap equals
//!   its baseline exactly (300,000 calls, seed 2; 256 to 384 bytes apart
//!   without the subtraction);
//! - while the worker still holds objects (its check after each scenario), also the
//!   kernel maps that hold them: the GPU driver's resource table, the fake-offset and
//!   buffer-window allocators. The same instrumented run found one 256-byte node fewer
//!   after a scenario whose children had imported and released GPU resources.
//!
//! Everything else (free frames, live tasks, every quota, the handle slots) is exact.

use core::fmt;
use urt::{Error, Handle, Quota, Rights, Stat};

/// Bytes the kernel heap may differ from its baseline once everything is back (see the
/// module docs): a few B-tree nodes (the frame allocator's lists: 32 orders, a
/// 128-byte leaf each at most once emptied).
pub const HEAP_SLACK: u64 = 4096;

/// Number of quota resources.
pub const QUOTAS: usize = 7;

/// The quota resources' names, in `Quota` order.
pub const QUOTA_NAMES: [&str; QUOTAS] = [
    "frames",
    "heap bytes",
    "tasks",
    "channels",
    "messages",
    "GPU resources",
    "GPU bytes",
];

/// Free frames, kernel heap bytes, live tasks and the caller's quota use.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Snapshot {
    /// `stats(FreeFrames)`.
    pub free_frames: u64,
    /// `stats(HeapUsed)`.
    pub heap_used: u64,
    /// `stats(Tasks)`.
    pub tasks: u64,
    /// `quota(r).used` for every resource, in `Quota` order.
    pub quota: [u64; QUOTAS],
}

impl Snapshot {
    /// Take one now. A call that fails reads as `u64::MAX` (so it never matches).
    pub fn take() -> Snapshot {
        let stat = |s| urt::stats(s).unwrap_or(u64::MAX);
        let mut quota = [u64::MAX; QUOTAS];
        for (q, r) in quota.iter_mut().zip(Quota::ALL) {
            *q = urt::quota(*r).map_or(u64::MAX, |(used, _)| used);
        }
        Snapshot {
            free_frames: stat(Stat::FreeFrames),
            heap_used: stat(Stat::HeapUsed),
            tasks: stat(Stat::Tasks),
            quota,
        }
    }

    /// True if `self` (later) is back at `base`: everything equal, the kernel heap
    /// within [`HEAP_SLACK`].
    pub fn back_at(&self, base: &Snapshot) -> bool {
        self.free_frames == base.free_frames
            && self.tasks == base.tasks
            && self.quota == base.quota
            && self.heap_used.abs_diff(base.heap_used) <= HEAP_SLACK
    }

    /// What differs from `base`, for a violation message.
    pub fn diff<'a>(&'a self, base: &'a Snapshot) -> Diff<'a> {
        Diff { now: self, base }
    }
}

/// The differences between two snapshots (`Display`).
pub struct Diff<'a> {
    now: &'a Snapshot,
    base: &'a Snapshot,
}

impl fmt::Display for Diff<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (n, b) = (self.now, self.base);
        let mut any = false;
        let mut item = |f: &mut fmt::Formatter<'_>, name: &str, now: u64, base: u64| {
            let sep = if any { ", " } else { "" };
            any = true;
            write!(
                f,
                "{sep}{name} {now} (baseline {base}, {:+})",
                now as i128 - base as i128
            )
        };
        if n.free_frames != b.free_frames {
            item(f, "free frames", n.free_frames, b.free_frames)?;
        }
        if n.heap_used.abs_diff(b.heap_used) > HEAP_SLACK {
            item(f, "kernel heap bytes", n.heap_used, b.heap_used)?;
        }
        if n.tasks != b.tasks {
            item(f, "live tasks", n.tasks, b.tasks)?;
        }
        for (i, name) in QUOTA_NAMES.iter().enumerate() {
            if n.quota[i] != b.quota[i] {
                item(f, name, n.quota[i], b.quota[i])?;
            }
        }
        if !any {
            f.write_str("nothing")?;
        }
        Ok(())
    }
}

/// Sleep 10 ms at a time, up to `tries` times, until a snapshot is back at `base`
/// (tasks still ending, deferred frees); returns the last one taken.
pub fn settle(base: &Snapshot, tries: u32) -> Snapshot {
    let mut now = Snapshot::take();
    for _ in 0..tries {
        if now.back_at(base) {
            break;
        }
        let _ = urt::sleep_ns(10_000_000);
        now = Snapshot::take();
    }
    now
}

/// The caller's free handle slots, counted by duplicating `h` (which must have `SHARE`)
/// until the table is full; the duplicates are closed again. `Err` if a duplicate
/// fails otherwise than `TableFull` or a close fails.
pub fn free_slots(h: Handle) -> Result<usize, Error> {
    let mut dups = [Handle(0); 256];
    let mut n = 0;
    let mut result = Ok(());
    while n < dups.len() {
        match urt::handle_dup(h, Rights::NONE) {
            Ok(d) => {
                dups[n] = d;
                n += 1;
            }
            Err(Error::TableFull) => break,
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    for &d in &dups[..n] {
        urt::handle_close(d)?;
    }
    result.map(|()| n)
}
