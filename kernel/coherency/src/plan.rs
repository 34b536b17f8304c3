//! The maintenance planner: what a `sync` request must wait for and which cache
//! operation it must perform on which byte range.

use mm::cache::{self, CacheGeometry, CacheOp, RangeError, RangePlan};

use crate::{resolve_range, Dir, Phase, SyncError};

/// How the CPU maps a buffer, chosen per buffer for its whole life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Policy {
    /// Normal write-back cacheable memory: fast CPU access, maintenance at hand-overs.
    Cached,
    /// Normal non-cacheable memory (Normal-NC): no cache lines, so never maintenance.
    Uncached,
}

/// Which outstanding device work a START must wait for before CPU access.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FenceWait {
    /// Nothing to wait for (END).
    None,
    /// Device work that writes the buffer: the CPU is about to read it.
    Writers,
    /// All device work on the buffer: the CPU is about to write it, so devices still
    /// reading must be done too.
    All,
}

/// One decoded `sync` request together with the buffer facts the planner needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SyncRequest {
    /// START or END.
    pub phase: Phase,
    /// READ, WRITE or RW.
    pub dir: Dir,
    /// Requested byte offset in the buffer.
    pub offset: u64,
    /// Requested length in bytes; 0 means the whole buffer (see [`resolve_range`]).
    pub len: u64,
    /// Buffer size in bytes.
    pub size: u64,
    /// The buffer's CPU mapping policy.
    pub policy: Policy,
    /// Whether every device the buffer is attached to snoops the CPU caches.
    pub device_coherent: bool,
    /// Whether the calling holder has the map-write right.
    pub may_write: bool,
}

/// What the kernel must do for one `sync` request, in this order: wait the fences,
/// run the cache maintenance (then one `DSB SY` for the whole range).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SyncPlan {
    /// Fences to wait for before the maintenance.
    pub wait_fences: FenceWait,
    /// Maintenance `(op, offset, len)` over a byte range of the buffer (offset relative
    /// to the buffer start), or `None`. Never `Some` with `len == 0`.
    pub op: Option<(CacheOp, u64, u64)>,
}

impl SyncPlan {
    /// The cache-line runs of [`SyncPlan::op`] for a buffer mapped at `base`, computed by
    /// [`mm::cache::plan`] (which downgrades partial edge lines of an invalidate to
    /// clean+invalidate). An empty plan when there is no maintenance.
    ///
    /// # Errors
    /// [`RangeError::Wraps`] if `base + offset + len` does not fit the address space
    /// (a kernel bug: buffers are mapped well below the top of the VA space).
    pub fn line_runs(&self, geom: CacheGeometry, base: u64) -> Result<RangePlan, RangeError> {
        match self.op {
            None => cache::plan(geom, CacheOp::Clean, base, 0),
            Some((op, offset, len)) => {
                let addr = base.checked_add(offset).ok_or(RangeError::Wraps)?;
                cache::plan(geom, op, addr, len)
            }
        }
    }
}

/// Plans one `sync` request the classic way (Linux's): the fences, and the operation
/// over the whole range that a kernel maintaining at every sync would issue. The
/// kernel then narrows that operation to the lines that need it with
/// [`crate::Boundary::sync`] (an END records instead of cleaning; a START invalidates
/// only stale lines).
///
/// | request           | fences    | operation (cached, non-coherent)                |
/// |-------------------|-----------|-------------------------------------------------|
/// | START READ        | `Writers` | invalidate (read-only holder: clean+invalidate) |
/// | START RW          | `All`     | invalidate                                      |
/// | START WRITE       | `All`     | none (but see [`effective_dir`])                |
/// | END WRITE / RW    | `None`    | clean to PoC                                    |
/// | END READ          | `None`    | none                                            |
///
/// An [`Policy::Uncached`] buffer or a coherent device never needs maintenance; the
/// fences are waited all the same. Ranges are resolved by [`resolve_range`].
///
/// # Errors
/// Checked in this order:
/// * [`SyncError::AccessDenied`]: `dir` writes (WRITE or RW, at START or END) and the
///   holder lacks the map-write right. A holder that may not write cannot have started
///   a write bracket, so an END WRITE from it is refused as well.
/// * [`SyncError::OutOfRange`]: see [`resolve_range`].
#[inline]
pub fn plan_sync(req: &SyncRequest) -> Result<SyncPlan, SyncError> {
    if req.dir.writes() && !req.may_write {
        return Err(SyncError::AccessDenied);
    }
    let (offset, len) = resolve_range(req.offset, req.len, req.size)?;
    let maintain = req.policy == Policy::Cached && !req.device_coherent && len != 0;
    let (wait_fences, op) = plan_op(req.phase, req.dir, req.may_write, maintain);
    Ok(SyncPlan {
        wait_fences,
        op: op.map(|op| (op, offset, len)),
    })
}

/// [`plan_sync`]'s table, for a request whose rights were checked and whose range is
/// resolved and not empty: the fences, and the operation if `maintain` (a cached
/// buffer on a non-coherent device). The syscall fast path asks this directly.
#[inline(always)]
pub const fn plan_op(
    phase: Phase,
    dir: Dir,
    may_write: bool,
    maintain: bool,
) -> (FenceWait, Option<CacheOp>) {
    let (wait_fences, op) = match (phase, dir) {
        (Phase::Start, Dir::Read) => (FenceWait::Writers, Some(start_read_op(may_write))),
        (Phase::Start, Dir::ReadWrite) => (FenceWait::All, Some(CacheOp::Invalidate)),
        (Phase::Start, Dir::Write) => (FenceWait::All, None),
        (Phase::End, Dir::Write | Dir::ReadWrite) => (FenceWait::None, Some(CacheOp::Clean)),
        (Phase::End, Dir::Read) => (FenceWait::None, None),
    };
    (wait_fences, if maintain { op } else { None })
}

/// The operation that makes a START READ current.
///
/// A pure invalidate discards dirty lines, which is a write in disguise: it could throw
/// away bytes another holder wrote into a fully covered line and has not ENDed yet. Only
/// a holder that may write the buffer anyway gets it; a read-only holder cleans first,
/// which costs a write-back of lines that are dirty (normally none) and destroys nothing.
const fn start_read_op(may_write: bool) -> CacheOp {
    if may_write {
        CacheOp::Invalidate
    } else {
        CacheOp::CleanInvalidate
    }
}

/// The direction to *plan* a request with, given whether some line of its range may be
/// stale (a device, or an uncached mapping, may have written it since its last
/// invalidate: [`crate::Boundary::may_be_stale`]): rule (c) of the device-write
/// direction.
///
/// A START WRITE over such lines is planned as START RW, so they are invalidated
/// (edges clean+invalidate) after the fences: a line that went stale while the device
/// wrote (speculatively filled, or read by the CPU before the device's write) would
/// otherwise take the CPU's partial writes, and a later clean would write its stale
/// bytes back over the device's, including bytes outside the synced range.
///
/// Everything else is returned unchanged: START READ/RW invalidate anyway, and END
/// plans the same clean for WRITE and RW. The rights check and the fences of START RW
/// are those of START WRITE (map-write right, [`FenceWait::All`]), so the upgrade
/// never turns an accepted request into a refused one.
///
/// Only [`plan_sync`] sees the result: the holder's [`crate::CpuAccess`] keeps the
/// direction the task asked for (its END names that one).
///
/// ```
/// use coherency::{effective_dir, plan_sync, CpuAccess, Dir, Phase, Policy, SyncRequest};
/// # let (stale, mut access) = (true, CpuAccess::default());
/// let (phase, dir) = (Phase::Start, Dir::Write); // from SyncFlags::parse
/// let req = SyncRequest {
///     phase,
///     dir: effective_dir(phase, dir, stale),
///     offset: 0,
///     len: 64,
///     size: 4096,
///     policy: Policy::Cached,
///     device_coherent: false,
///     may_write: true,
/// };
/// let plan = plan_sync(&req).unwrap();
/// assert!(plan.op.is_some(), "planned as START RW: invalidate");
/// access.start(dir).unwrap(); // the task's own direction
/// ```
pub const fn effective_dir(phase: Phase, dir: Dir, stale: bool) -> Dir {
    match (phase, dir) {
        (Phase::Start, Dir::Write) if stale => Dir::ReadWrite,
        _ => dir,
    }
}
