//! Helper: sleeps 10 ms `n` times (n from its channel) and reports the worst lateness:
//! how many ticks after its deadline it ran again. `sleep(10 ms)` is due two ticks after
//! the tick it was called in (one period, plus the part of the current tick already
//! gone); a kernel that keeps IRQs masked for long, or loses ticks, makes it late.

#![no_std]
#![no_main]

use urt::Stat;

fn main(args: urt::StartArgs) -> i32 {
    let Some(ch) = args.get(0) else { return 90 };
    let Ok(n) = utests::recv_u64(ch) else {
        return 91;
    };
    let mut worst = 0;
    for _ in 0..n {
        let Ok(t0) = urt::stats(Stat::Ticks) else {
            return 92;
        };
        if urt::sleep_ns(10_000_000).is_err() {
            return 93;
        }
        let Ok(t1) = urt::stats(Stat::Ticks) else {
            return 94;
        };
        worst = worst.max(t1.saturating_sub(t0 + 2));
    }
    if utests::send_u64(ch, worst).is_err() {
        return 95;
    }
    0
}

urt::entry!(main);
