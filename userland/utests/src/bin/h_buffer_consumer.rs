//! Helper for `test_buffer_share`: the consumer side of a shared buffer.
//!
//! Start handles: a read-only buffer handle (`MAP_READ | SHARE`) and a channel end. It
//! receives the pattern seed (one `u64`) on the channel, checks what a holder without
//! `MAP_WRITE` may not do (map writable, START WRITE/RW, raise its rights), maps the
//! buffer read-only, checks the whole pattern under START READ / END READ, unmaps, and
//! replies `[status, size, id, first bad offset]` (status 0 = every check passed, first
//! bad offset `u64::MAX` = none). Exit 0 if every check passed, else 1.

#![no_std]
#![no_main]

use urt::sync::{END, READ, RW, START, WRITE};
use urt::{prot, Error, ObjectKind, Rights, StartArgs};
use utests::{check, check_eq, expect_err, ok, Failed};

fn consume(args: &StartArgs) -> Result<[u64; 4], Failed> {
    check_eq!(args.count, 2, "start handles");
    let (buf, ch) = (args.handles[0], args.handles[1]);
    let seed = ok!(utests::recv_u64(ch), "receiving the seed");

    check_eq!(
        ok!(urt::handle_info(buf)),
        (ObjectKind::Buffer, Rights::MAP_READ.with(Rights::SHARE)),
        "rights of the shared handle"
    );
    let info = ok!(urt::buffer_info(buf));
    expect_err!(
        urt::buffer_map(buf, prot::WRITE),
        Error::AccessDenied,
        "map writable (prot 2) without MAP_WRITE"
    );
    expect_err!(
        urt::buffer_map(buf, prot::READ | prot::WRITE),
        Error::AccessDenied,
        "map writable (prot 3) without MAP_WRITE"
    );
    expect_err!(
        urt::buffer_sync(buf, START | WRITE, 0, 0),
        Error::AccessDenied,
        "START WRITE without MAP_WRITE"
    );
    expect_err!(
        urt::buffer_sync(buf, START | RW, 0, 0),
        Error::AccessDenied,
        "START RW without MAP_WRITE"
    );
    expect_err!(
        urt::handle_dup(buf, Rights::MAP_READ.with(Rights::MAP_WRITE)),
        Error::AccessDenied,
        "raising the rights"
    );

    let map = ok!(urt::buffer_map(buf, prot::READ), "map read-only");
    ok!(urt::buffer_sync(buf, START | READ, 0, 0));
    // SAFETY: `map` is our live read-only mapping of the whole buffer (`info.size`
    // bytes); we only read it.
    let bad = unsafe { utests::find_mismatch(map, info.size as usize, seed) };
    ok!(urt::buffer_sync(buf, END | READ, 0, 0));
    // SAFETY: nothing references the mapping any more.
    ok!(unsafe { urt::buffer_unmap(map) });
    check!(bad.is_none(), "pattern differs at offset {:?}", bad);
    Ok([0, info.size, info.id, bad.map_or(u64::MAX, |b| b as u64)])
}

fn main(args: StartArgs) -> i32 {
    let (report, code) = match consume(&args) {
        Ok(r) => (r, 0),
        Err(Failed) => ([1, 0, 0, 0], 1),
    };
    if let Some(ch) = args.get(1) {
        if utests::send_u64s(ch, &report).is_err() {
            return 2;
        }
    }
    code
}

urt::entry!(main);
