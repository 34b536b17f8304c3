//! A writer that hands a buffer to the GPU through the EL0 option of END, for the
//! coherency sanitizer (`cargo xtask sanitize --run init=uci_san_* --append uci`, and
//! `cargo xtask test`'s `qemu/sanitize-uci-*`): run as `init`, on the normal kernel with
//! `dma=noncoherent uci`.
//!
//! A 64x64 buffer created with `USER_CLEAN` is imported and presented once (the kernel
//! cleans the creation's zeros); then, [`ROUNDS`] times: START WRITE, a pattern written
//! over the whole buffer, the EL0 part of [`Mode`], END WRITE with `USER_CLEANED`, a
//! present, its fence waited for. The sanitizer watches the device read every line:
//!
//! - [`Mode::Honest`]: `DC CVAC` over the buffer at EL0 and `DSB SY`: no violation.
//! - [`Mode::NoDsb`]: the `DC CVAC`s without the task's `DSB`: the kernel's `DSB` at the
//!   END (same CPU) completes them: no violation.
//! - [`Mode::Liar`]: no clean at all, and the END says there was one: the device reads
//!   lines still dirty in the cache, a *lost write* of the task's own pattern (the only
//!   harm a lie can do: the task could have written those stale bytes itself).

use urt::sync::{START, WRITE};
use urt::uclean::{clean_dcache_range, end_write_cleaned};
use urt::{format, policy, prot};

/// The buffer's side in pixels (4 bytes each).
const SIDE: u32 = 64;
const SIZE: u64 = SIDE as u64 * SIDE as u64 * 4;
/// Hand-overs after the first present.
pub const ROUNDS: u64 = 3;

/// What the task does between its writes and its END.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Clean every line it wrote at EL0, then `DSB SY`.
    Honest,
    /// Clean every line, no `DSB` of its own.
    NoDsb,
    /// Nothing.
    Liar,
}

/// `DC CVAC` over `[p, p + len)`, no barrier.
fn clean_no_dsb(p: *const u8, len: u64) {
    let line = urt::dcache_line_size();
    let mut va = p as u64 & !(line - 1);
    while va < p as u64 + len {
        // SAFETY: a clean of our own mapped, readable line changes no value.
        unsafe { core::arch::asm!("dc cvac, {}", in(reg) va, options(nostack)) };
        va += line;
    }
}

/// Run the writer; the program's exit code (0: every call succeeded).
pub fn run(mode: Mode, name: &str) -> i32 {
    match body(mode) {
        Ok(()) => 0,
        Err(e) => {
            urt::println!("{name}: {e:?}");
            1
        }
    }
}

fn body(mode: Mode) -> urt::Result<()> {
    let h = urt::buffer_create(SIZE, policy::CACHED | policy::USER_CLEAN)?;
    let map = urt::buffer_map(h, prot::READ | prot::WRITE)?;
    let res = urt::gpu_import(h, SIDE, SIDE, format::B8G8R8X8)?;
    urt::fence_wait(urt::gpu_present(res, 0, 0, SIDE, SIDE)?, 1_000_000_000)?;
    for round in 0..ROUNDS {
        urt::buffer_sync(h, START | WRITE, 0, 0)?;
        // SAFETY: our live read-write mapping of SIZE bytes; nothing references it.
        unsafe { crate::write_pattern(map, SIZE as usize, 0x5eed + round) };
        match mode {
            Mode::Honest => clean_dcache_range(map, SIZE as usize),
            Mode::NoDsb => clean_no_dsb(map, SIZE),
            Mode::Liar => {}
        }
        end_write_cleaned(h, 0, 0)?;
        urt::fence_wait(urt::gpu_present(res, 0, 0, SIDE, SIDE)?, 1_000_000_000)?;
    }
    urt::println!("uci writer ({mode:?}): {ROUNDS} hand-overs presented");
    Ok(())
}
