//! Helper: receives a depth `n` on its channel, builds a chain of `n` channels, each end
//! queued in the one before (see `utests::nest`), keeps only the top end, reports
//! "built" and then exits (or faults, if told to) without closing anything: the kernel
//! must tear the whole chain down without recursing, and give back every charge.

#![no_std]
#![no_main]

fn main(args: urt::StartArgs) -> i32 {
    let Some(ch) = args.get(0) else { return 90 };
    let mut v = [0u64; 2];
    if utests::recv_u64s(ch, &mut v).is_err() {
        return 91;
    }
    let [depth, fault] = v;
    let Ok(_top) = utests::nest(depth) else {
        return 92;
    };
    if utests::send_u64(ch, depth).is_err() {
        return 93;
    }
    if fault != 0 {
        // SAFETY: `udf` is UNDEFINED: the kernel kills the task, holding the chain.
        unsafe { core::arch::asm!("udf #0", options(nomem, nostack)) };
    }
    0
}

urt::entry!(main);
