//! The steps, configuration and outcomes of a legacy scenario ([`super::legacy`]).

use super::scenario::Pick;
use crate::legacy::LegacyPolicy;

/// One step of a legacy scenario.
#[derive(Clone, Copy, Debug)]
pub enum LOp {
    /// A loads a range through its legacy mapping.
    ARead(Pick),
    /// A stores a fresh value into a range through its legacy mapping.
    AWrite(Pick),
    /// B STARTs over `N`: WRITE (`false`) or RW (`true`).
    BStart(bool),
    /// B stores a fresh value into a sub-range of `N` (inside a bracket).
    BWrite(Pick),
    /// B ENDs.
    BEnd,
    /// A device submission that reads a range (`None`: the whole buffer).
    DevRead(Option<Pick>),
    /// A device submission that writes a fresh value into a range (`None`: whole).
    DevWrite(Option<Pick>),
    /// The oldest pending device job completes.
    DevDone,
    /// The cache evicts a line.
    Evict(u8),
    /// The core speculatively fills a line.
    Fill(u8),
}

/// A legacy buffer configuration and its steps.
#[derive(Clone, Debug)]
pub struct LegacyScenario {
    /// The legacy mapping's policy.
    pub policy: LegacyPolicy,
    /// Bit `i`: before the mmap, the kernel stored into line `i` through its cacheable
    /// linear map (cleaned afterwards under `Fault` only).
    pub prelude: u8,
    /// `N = [n.0, n.1)`, B's range, with `0 < n.0 < n.1 <= SIZE`.
    pub n: (usize, usize),
    /// The steps.
    pub ops: Vec<LOp>,
}

/// What went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LFailureKind {
    /// A CPU load by A returned stale data.
    CpuRead,
    /// A device read returned stale data.
    DeviceRead,
    /// The crate answered something the runner cannot carry out, or its state and the
    /// runner's page table disagree (a bug, not a data failure).
    Protocol(&'static str),
}

/// The first wrong observation of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LFailure {
    /// Index of the op (`ops.len()` for the final checks).
    pub step: usize,
    /// What went wrong.
    pub kind: LFailureKind,
    /// Buffer offset of the byte.
    pub offset: usize,
    /// Value the reference expects.
    pub expected: u8,
    /// Value observed.
    pub got: u8,
}

/// Counters of a passing run, to show the generator reaches every situation.
#[derive(Clone, Copy, Debug, Default)]
pub struct LStats {
    /// Bytes checked on CPU loads.
    pub cpu_checks: u64,
    /// Bytes checked on device reads.
    pub device_checks: u64,
    /// Faults taken by A.
    pub faults: u64,
    /// Faults answered `WaitDevice`.
    pub waits: u64,
    /// Faults answered `Map` with a clean+invalidate (B held write access).
    pub civac_maps: u64,
    /// Faults answered `Upgrade`.
    pub upgrades: u64,
    /// Submissions that zapped.
    pub zaps: u64,
    /// Pages cleaned at submissions.
    pub cleaned_pages: u64,
    /// Device submissions refused because B held write access.
    pub refused: u64,
    /// B STARTs whose invalidate [`LegacyPages::direct_start_op`] turned into CIVAC.
    pub guarded: u64,
}
