//! Validation of the `(offset, len)` byte range of a `sync` request.

use crate::SyncError;

/// Resolves a requested byte range of a buffer of `size` bytes to `(offset, len)`.
///
/// * `len == 0` means the whole buffer, as in Linux (whose ioctl has no range at all):
///   the result is `(0, size)`. The offset must then be 0: a zero length with a non-zero
///   offset is rejected with [`SyncError::OutOfRange`] rather than read as "to the end",
///   because it is far more likely a caller bug than an intent, and silently syncing
///   more or less than meant would hide it.
/// * Otherwise `offset + len` must not overflow and must be `<= size`; the range is
///   returned unchanged.
///
/// # Errors
/// [`SyncError::OutOfRange`] as above.
pub const fn resolve_range(offset: u64, len: u64, size: u64) -> Result<(u64, u64), SyncError> {
    if len == 0 {
        return if offset == 0 {
            Ok((0, size))
        } else {
            Err(SyncError::OutOfRange)
        };
    }
    match offset.checked_add(len) {
        Some(end) if end <= size => Ok((offset, len)),
        _ => Err(SyncError::OutOfRange),
    }
}
