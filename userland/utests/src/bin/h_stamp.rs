//! Helper for `test_sleep_and_preemption`: waits for a message on its channel, sleeps
//! (so it can only run again when the timer tick wakes it and the scheduler takes the
//! CPU from whoever is running), then sends back the time (`counter()`: the virtual
//! counter, the same on every CPU) and exits.

#![no_std]
#![no_main]

fn main(args: urt::StartArgs) -> i32 {
    let Some(ch) = args.get(0) else {
        return 2;
    };
    if utests::recv_u64(ch).is_err() {
        return 3;
    }
    if urt::sleep_ns(1).is_err() {
        return 4;
    }
    let stamp = urt::counter();
    if utests::send_u64(ch, stamp).is_err() {
        return 5;
    }
    0
}

urt::entry!(main);
