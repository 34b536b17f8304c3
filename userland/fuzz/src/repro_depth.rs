//! Reproducer (part of `fuzz_repro`): accounts are at most 16 deep (SYSCALLS.md,
//! "Quotas"), so in a chain of tasks each spawning the next, the task at depth 16 (the
//! root account is 1, a task the kernel starts 2) gets `TableFull`, and gets it for a
//! program that does not exist too (`TableFull` comes before `NotFound`). The stateful
//! fuzzer's `depth` scenario found the kernel stopping at depth 8, and looking for the
//! program first. The links are `fuzz_repro` itself, started with a channel end.

use fuzz::urt::{self, Error, StartArgs};
use fuzz::{code_name, recv_words, send_words};

/// Deepest account (SYSCALLS.md).
const MAX_DEPTH: u64 = 16;

/// One link: orders `[depth]` on handle 0; spawn the next link, or report
/// `[depth, error, error for a missing program]` where spawning failed; pass the
/// chain's report up; then wait for the parent's end to close.
pub fn link(args: &StartArgs) -> i32 {
    let Some(up) = args.get(0) else { return 97 };
    let mut w = [0u64; 1];
    if recv_words(up, &mut w).is_err() {
        return 97;
    }
    let depth = w[0];
    let mut report = [depth, 0, 0];
    match urt::channel_create() {
        Err(e) => report[1] = e as u64,
        Ok((d0, d1)) => {
            let _ = send_words(d0, &[depth + 1]);
            match urt::spawn("fuzz_repro", &[d1]) {
                Ok(_) => {
                    let _ = recv_words(d0, &mut report);
                }
                Err(e) => {
                    report[1] = e as u64;
                    report[2] =
                        urt::spawn("fuzz_nonexistent", &[]).map_or_else(|e| e as u64, |_| 0);
                }
            }
        }
    }
    let _ = send_words(up, &report);
    let mut b = [0u8; 8];
    while urt::channel_recv(up, &mut b, &mut []).is_ok() {}
    0
}

/// The case: this task (depth 2) starts the chain at depth 3.
pub fn case(bugs: &mut i32) {
    let Ok((c0, c1)) = urt::channel_create() else {
        return;
    };
    let _ = send_words(c0, &[3]);
    let mut w = [0u64; 3];
    if let Ok(t) = urt::spawn("fuzz_repro", &[c1]) {
        let _ = recv_words(c0, &mut w);
        let _ = urt::handle_close(c0);
        let _ = urt::wait(t);
        let _ = urt::handle_close(t);
    }
    let table_full = Error::TableFull as u64;
    if (w[0], w[1], w[2]) == (MAX_DEPTH, table_full, table_full) {
        urt::println!("repro account-depth: ok (TableFull at depth 16, for any program)");
    } else {
        *bugs += 1;
        urt::println!(
            "repro account-depth: BUG: the chain ended at depth {} with {} ({} for a missing \
             program); SYSCALLS.md says TableFull at depth {MAX_DEPTH}, before NotFound",
            w[0],
            code_name(w[1]),
            code_name(w[2])
        );
    }
}
