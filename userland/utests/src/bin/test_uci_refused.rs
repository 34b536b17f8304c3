//! The EL0 option without `uci` on the kernel command line (the main test boot): a
//! buffer cannot opt in (`NotSupported`), END with `USER_CLEANED` is refused
//! (`NotSupported`, after the `BadFlags` of a START or END READ carrying it), a refused
//! call changes nothing (the START stays open and a plain END closes it), and the
//! argument checks come in the documented order. (`DC CVAC` at EL0 trapping on this
//! boot is `test_kernel_access_faults`.)

#![no_std]
#![no_main]

use urt::sync::{END, READ, START, USER_CLEANED, WRITE};
use urt::{policy, Error, StartArgs};
use utests::{check_eq, expect_err, ok, TestResult};

fn test(_args: StartArgs) -> TestResult {
    utests::expect_boot(utests::Boot::NONCOHERENT)?;
    // buffer_create: InvalidArgument (undefined bits, USER_CLEAN with uncached, size 0)
    // before NotSupported.
    expect_err!(
        urt::buffer_create(4096, policy::CACHED | policy::USER_CLEAN),
        Error::NotSupported,
        "USER_CLEAN without uci"
    );
    expect_err!(
        urt::buffer_create(4096, policy::UNCACHED | policy::USER_CLEAN),
        Error::InvalidArgument,
        "USER_CLEAN with UNCACHED"
    );
    expect_err!(
        urt::buffer_create(0, policy::CACHED | policy::USER_CLEAN),
        Error::InvalidArgument,
        "USER_CLEAN, size 0"
    );
    expect_err!(
        urt::buffer_create(4096, policy::USER_CLEAN << 1),
        Error::InvalidArgument,
        "an undefined policy bit"
    );

    let h = ok!(urt::buffer_create(4096, policy::CACHED));
    check_eq!(
        ok!(urt::buffer_info(h)).policy,
        policy::CACHED,
        "a plain buffer's policy word"
    );
    expect_err!(
        urt::buffer_sync(h, START | WRITE | USER_CLEANED, 0, 0),
        Error::BadFlags,
        "START with USER_CLEANED"
    );
    ok!(urt::buffer_sync(h, START | WRITE, 0, 0));
    expect_err!(
        urt::buffer_sync(h, END | READ | USER_CLEANED, 0, 0),
        Error::BadFlags,
        "END READ with USER_CLEANED"
    );
    expect_err!(
        urt::buffer_sync(h, END | WRITE | USER_CLEANED, 0, 0),
        Error::NotSupported,
        "END WRITE with USER_CLEANED without uci"
    );
    expect_err!(
        urt::buffer_sync_rect(h, END | WRITE | USER_CLEANED, 0, 64, 2, 128),
        Error::NotSupported,
        "rectangle END WRITE with USER_CLEANED without uci"
    );
    // Flags come before the range: a bad range with a refused flag is still the flag's.
    expect_err!(
        urt::buffer_sync(h, END | WRITE | USER_CLEANED, 8192, 1),
        Error::NotSupported,
        "USER_CLEANED and a range outside the buffer"
    );
    // Nothing changed: the START is still open.
    expect_err!(
        urt::buffer_sync(h, START | WRITE, 0, 0),
        Error::AlreadyStarted,
        "the START after the refused ENDs"
    );
    ok!(urt::buffer_sync(h, END | WRITE, 0, 0));
    expect_err!(
        urt::buffer_sync(h, END | WRITE, 0, 0),
        Error::NotStarted,
        "a second END"
    );
    ok!(urt::handle_close(h));
    Ok(())
}

utests::test_main!(test);
