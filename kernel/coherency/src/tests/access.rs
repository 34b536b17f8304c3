use crate::{CpuAccess, Dir, SyncError};

#[test]
fn default_is_idle() {
    let a = CpuAccess::default();
    assert_eq!(a.current(), None);
    assert!(!a.holds_write());
}

#[test]
fn start_end_each_direction() {
    for dir in Dir::ALL {
        let mut a = CpuAccess::default();
        assert_eq!(a.start(dir), Ok(()));
        assert_eq!(a.current(), Some(dir));
        assert_eq!(a.holds_write(), dir.writes());
        assert_eq!(a.end(dir), Ok(()));
        assert_eq!(a, CpuAccess::default());
    }
}

#[test]
fn start_twice_is_already_started() {
    for first in Dir::ALL {
        for second in Dir::ALL {
            let mut a = CpuAccess::default();
            a.start(first).unwrap();
            assert_eq!(a.start(second), Err(SyncError::AlreadyStarted));
            assert_eq!(a.current(), Some(first), "state unchanged");
        }
    }
}

#[test]
fn end_when_idle_is_not_started() {
    for dir in Dir::ALL {
        let mut a = CpuAccess::default();
        assert_eq!(a.end(dir), Err(SyncError::NotStarted));
        assert_eq!(a.current(), None);
    }
}

#[test]
fn end_other_direction_is_not_started() {
    for started in Dir::ALL {
        for ended in Dir::ALL.into_iter().filter(|&d| d != started) {
            let mut a = CpuAccess::default();
            a.start(started).unwrap();
            assert_eq!(a.end(ended), Err(SyncError::NotStarted));
            assert_eq!(a.current(), Some(started), "state unchanged");
            assert_eq!(a.end(started), Ok(()));
        }
    }
}

#[test]
fn restart_after_end() {
    let mut a = CpuAccess::default();
    a.start(Dir::Write).unwrap();
    a.end(Dir::Write).unwrap();
    a.start(Dir::Read).unwrap();
    assert_eq!(a.current(), Some(Dir::Read));
    assert!(!a.holds_write());
    assert_eq!(a.end(Dir::Read), Ok(()));
    assert_eq!(a.end(Dir::Read), Err(SyncError::NotStarted));
}
