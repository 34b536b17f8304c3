//! Deliberate breakage of the legacy path, applied around the real [`LegacyPages`] so
//! the production code stays untouched; the legacy model ([`super::legacy`]) must catch
//! each one.

use mm::cache::CacheOp;

use crate::legacy::{FaultAction, LegacyPages, SubmitPlan};

/// One deleted or broken step of the legacy path, applied around the real
/// [`LegacyPages`] so the production code stays untouched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LegacyMutation {
    /// The real state machine.
    None,
    /// The submission cleans no page.
    NoCleanAtSubmit,
    /// A (re)fault maps the page without invalidating it.
    NoInvalidateAtRefault,
    /// A (re)fault always uses a pure invalidate, even when others may be dirty.
    RefaultAlwaysPureInvalidate,
    /// Dirty tracking broken: a read fault installs a writable PTE while the state says
    /// read-only, so later writes never fault and their pages are not cleaned.
    ReadFaultMapsWritable,
    /// The submission does not zap the PTEs.
    NoZapAtSubmit,
    /// Faults ignore pending device work (never `WaitDevice`).
    FaultIgnoresDevice,
    /// B's START READ/RW ignores [`LegacyPages::direct_start_op`].
    DirectStartIgnoresLegacy,
    /// The uncached mmap skips its clean+invalidate.
    UncachedMmapNoCleanInvalidate,
    /// A submission that *writes* the buffer cleans no page (reads still do): "the
    /// device overwrites it anyway". The legacy task's dirty lines stay in the cache and
    /// are evicted over the device's data, or their bytes outside what the device
    /// wrote are discarded by the next refault's invalidate.
    NoCleanBeforeDeviceWrite,
    /// B's START WRITE after a device write is planned as START WRITE, not RW.
    StartWriteAfterDeviceWriteNotRw,
    /// A refault ignores the boundary's `dirty` set (lines ENDed by the direct path, or
    /// the kernel's zeroing, that no clean has reached yet): a pure invalidate of the
    /// page discards them.
    RefaultIgnoresBoundaryDirty,
    /// A submission does not clean the boundary's dirty lines it touches (B's ENDed
    /// bytes, the kernel's zeroing).
    NoBoundaryCleanAtSubmit,
}

impl LegacyMutation {
    /// The mutations the brief requires to be caught.
    pub const REQUIRED: [LegacyMutation; 4] = [
        LegacyMutation::NoCleanAtSubmit,
        LegacyMutation::NoInvalidateAtRefault,
        LegacyMutation::RefaultAlwaysPureInvalidate,
        LegacyMutation::ReadFaultMapsWritable,
    ];

    /// Every mutation that breaks something.
    pub const BROKEN: [LegacyMutation; 12] = [
        LegacyMutation::NoCleanAtSubmit,
        LegacyMutation::NoInvalidateAtRefault,
        LegacyMutation::RefaultAlwaysPureInvalidate,
        LegacyMutation::ReadFaultMapsWritable,
        LegacyMutation::NoZapAtSubmit,
        LegacyMutation::FaultIgnoresDevice,
        LegacyMutation::DirectStartIgnoresLegacy,
        LegacyMutation::UncachedMmapNoCleanInvalidate,
        LegacyMutation::NoCleanBeforeDeviceWrite,
        LegacyMutation::StartWriteAfterDeviceWriteNotRw,
        LegacyMutation::RefaultIgnoresBoundaryDirty,
        LegacyMutation::NoBoundaryCleanAtSubmit,
    ];

    /// [`LegacyPages::on_fault`] as this mutation sees it: the action the runner then
    /// carries out on the model.
    pub(super) fn on_fault(
        self,
        lp: &mut LegacyPages,
        page: usize,
        write: bool,
        busy: bool,
        others: bool,
    ) -> FaultAction {
        let busy = busy && self != LegacyMutation::FaultIgnoresDevice;
        match (self, lp.on_fault(page, write, busy, others)) {
            (LegacyMutation::NoInvalidateAtRefault, FaultAction::Map { writable, .. }) => {
                FaultAction::Map {
                    maintenance: None,
                    writable,
                }
            }
            (
                LegacyMutation::RefaultAlwaysPureInvalidate,
                FaultAction::Map {
                    maintenance: Some(_),
                    writable,
                },
            ) => FaultAction::Map {
                maintenance: Some(CacheOp::Invalidate),
                writable,
            },
            (LegacyMutation::ReadFaultMapsWritable, FaultAction::Map { maintenance, .. }) => {
                FaultAction::Map {
                    maintenance,
                    writable: true,
                }
            }
            (_, action) => action,
        }
    }

    /// [`LegacyPages::on_device_submit`] as this mutation sees it.
    pub(super) fn on_device_submit(self, lp: &mut LegacyPages, device_writes: bool) -> SubmitPlan {
        let mut plan = lp.on_device_submit();
        match self {
            LegacyMutation::NoCleanAtSubmit => plan.clean_pages.clear(),
            LegacyMutation::NoCleanBeforeDeviceWrite if device_writes => plan.clean_pages.clear(),
            LegacyMutation::NoZapAtSubmit => plan.zap = false,
            _ => {}
        }
        plan
    }
}
