use crate::{Dir, Phase, SyncError, SyncFlags};

#[test]
fn abi_values() {
    assert_eq!(
        (
            SyncFlags::START,
            SyncFlags::END,
            SyncFlags::READ,
            SyncFlags::WRITE
        ),
        (1, 2, 4, 8)
    );
    assert_eq!(SyncFlags::RW, 12);
    assert_eq!(SyncFlags::VALID, 15);
}

#[test]
fn parse_every_valid_word() {
    let table = [
        (1 | 4, Phase::Start, Dir::Read),
        (1 | 8, Phase::Start, Dir::Write),
        (1 | 12, Phase::Start, Dir::ReadWrite),
        (2 | 4, Phase::End, Dir::Read),
        (2 | 8, Phase::End, Dir::Write),
        (2 | 12, Phase::End, Dir::ReadWrite),
    ];
    for (raw, phase, dir) in table {
        assert_eq!(SyncFlags::parse(raw), Ok((phase, dir)), "{raw:#x}");
        assert_eq!(SyncFlags::encode(phase, dir), raw);
    }
}

#[test]
fn parse_rejects_every_bad_combination_of_the_low_bits() {
    let valid = [5, 9, 13, 6, 10, 14];
    for raw in 0..16u64 {
        if !valid.contains(&raw) {
            assert_eq!(SyncFlags::parse(raw), Err(SyncError::BadFlags), "{raw:#x}");
        }
    }
    // Named cases among them: no phase, both phases, no direction.
    for raw in [4, 8, 12, 1 | 2 | 4, 3 | 12, 1, 2, 0] {
        assert_eq!(SyncFlags::parse(raw), Err(SyncError::BadFlags), "{raw:#x}");
    }
}

#[test]
fn parse_rejects_unknown_bits() {
    for bit in 4..64 {
        let raw = SyncFlags::START | SyncFlags::READ | 1 << bit;
        assert_eq!(SyncFlags::parse(raw), Err(SyncError::BadFlags), "bit {bit}");
    }
    assert_eq!(SyncFlags::parse(u64::MAX), Err(SyncError::BadFlags));
}

#[test]
fn dir_helpers() {
    assert_eq!(Dir::ALL.map(Dir::reads), [true, false, true]);
    assert_eq!(Dir::ALL.map(Dir::writes), [false, true, true]);
}
