use crate::{resolve_range, SyncError::OutOfRange};

#[test]
fn zero_len_is_whole_buffer() {
    assert_eq!(resolve_range(0, 0, 4096), Ok((0, 4096)));
    assert_eq!(resolve_range(0, 0, 0), Ok((0, 0)));
}

#[test]
fn zero_len_with_offset_is_rejected() {
    assert_eq!(resolve_range(1, 0, 4096), Err(OutOfRange));
    assert_eq!(resolve_range(4096, 0, 4096), Err(OutOfRange));
    assert_eq!(resolve_range(u64::MAX, 0, u64::MAX), Err(OutOfRange));
}

#[test]
fn in_bounds() {
    assert_eq!(resolve_range(0, 4096, 4096), Ok((0, 4096)));
    assert_eq!(resolve_range(1, 4095, 4096), Ok((1, 4095)));
    assert_eq!(resolve_range(4095, 1, 4096), Ok((4095, 1)));
    assert_eq!(resolve_range(17, 33, 4096), Ok((17, 33)));
}

#[test]
fn out_of_bounds() {
    assert_eq!(resolve_range(0, 4097, 4096), Err(OutOfRange));
    assert_eq!(resolve_range(4095, 2, 4096), Err(OutOfRange));
    assert_eq!(resolve_range(4096, 1, 4096), Err(OutOfRange));
    assert_eq!(resolve_range(0, 1, 0), Err(OutOfRange));
}

#[test]
fn overflow() {
    assert_eq!(resolve_range(u64::MAX, 1, u64::MAX), Err(OutOfRange));
    assert_eq!(resolve_range(1, u64::MAX, u64::MAX), Err(OutOfRange));
    assert_eq!(resolve_range(u64::MAX, u64::MAX, u64::MAX), Err(OutOfRange));
    // Right at the top, without overflow.
    assert_eq!(
        resolve_range(u64::MAX - 1, 1, u64::MAX),
        Ok((u64::MAX - 1, 1))
    );
}
