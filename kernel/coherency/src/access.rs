//! The per-holder CPU access state machine (START/END bracketing).

use crate::{Dir, SyncError};

/// One holder's CPU access state: idle, or inside a START/END bracket of one direction.
///
/// The kernel keeps one per (task, buffer) handle. `Default` is idle. Brackets do not
/// nest: a holder that wants to widen its access ENDs and STARTs again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CpuAccess {
    started: Option<Dir>,
}

impl CpuAccess {
    /// The state after a START of direction `dir` from idle.
    pub const fn started(dir: Dir) -> Self {
        Self { started: Some(dir) }
    }

    /// Enters a bracket of direction `dir`.
    ///
    /// # Errors
    /// [`SyncError::AlreadyStarted`] if a bracket is open (whatever its direction); the
    /// state is unchanged.
    pub fn start(&mut self, dir: Dir) -> Result<(), SyncError> {
        if self.started.is_some() {
            return Err(SyncError::AlreadyStarted);
        }
        self.started = Some(dir);
        Ok(())
    }

    /// Leaves the open bracket, which must have been started with the same `dir`.
    ///
    /// # Errors
    /// [`SyncError::NotStarted`] if idle or if `dir` differs from the started direction;
    /// the state is unchanged.
    pub fn end(&mut self, dir: Dir) -> Result<(), SyncError> {
        if self.started != Some(dir) {
            return Err(SyncError::NotStarted);
        }
        self.started = None;
        Ok(())
    }

    /// The direction of the open bracket, or `None` when idle.
    pub const fn current(&self) -> Option<Dir> {
        self.started
    }

    /// Whether the holder is inside a bracket of any direction: a device submission that
    /// *writes* the buffer is then a misuse (see [`crate::plan_device_write_handover`]).
    pub const fn is_started(&self) -> bool {
        self.started.is_some()
    }

    /// Whether the holder is inside a WRITE or RW bracket: a device submission that
    /// references the buffer is then a misuse (see [`crate::plan_device_handover`]).
    pub const fn holds_write(&self) -> bool {
        matches!(self.started, Some(d) if d.writes())
    }
}
