//! The entry point. The kernel starts a task at `_start` (first in `.text`, at
//! `abi::USER_IMAGE_BASE`) with `x0` = number of handles passed to `spawn` and `x1..x4`
//! = their values, `sp` at the top of the stack and every other register zero.

use abi::{limits::MAX_SPAWN_HANDLES, Handle};

/// What a program is started with: the handles its spawner passed (moved) to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StartArgs {
    /// Handle values from `x1..x4`; entries at and after `count` are `Handle(0)`.
    pub handles: [Handle; MAX_SPAWN_HANDLES],
    /// How many handles were passed (`x0`, clamped to 4).
    pub count: usize,
}

impl StartArgs {
    /// The handles passed, in order.
    pub fn handles(&self) -> &[Handle] {
        &self.handles[..self.count]
    }

    /// The `i`th handle passed, if any.
    pub fn get(&self, i: usize) -> Option<Handle> {
        self.handles().get(i).copied()
    }
}

core::arch::global_asm!(
    ".section .text.start, \"ax\", %progbits",
    ".global _start",
    ".type _start, %function",
    "_start:",
    // Terminate the frame chain for debuggers and backtraces.
    "    mov x29, xzr",
    "    mov x30, xzr",
    "    bl {start}",
    "    udf #0",
    ".size _start, . - _start",
    start = sym urt_start,
);

unsafe extern "Rust" {
    /// Defined by [`crate::entry!`] in the program.
    fn __urt_main(args: StartArgs) -> i32;
}

extern "C" fn urt_start(n: u64, h1: u64, h2: u64, h3: u64, h4: u64) -> ! {
    let count = (n as usize).min(MAX_SPAWN_HANDLES);
    let mut handles = [Handle(0); MAX_SPAWN_HANDLES];
    for (i, v) in [h1, h2, h3, h4].into_iter().enumerate().take(count) {
        handles[i] = Handle(v as u32);
    }
    // SAFETY: `entry!` defines `__urt_main` with exactly this signature; a program
    // without it fails to link.
    let code = unsafe { __urt_main(StartArgs { handles, count }) };
    // Sign-extend, so `return -1` reads as u64::MAX in the parent's `wait`.
    crate::exit(code as i64 as u64)
}

/// Declare the program's `main`: `urt::entry!(main);` with `fn main(args: urt::StartArgs)
/// -> i32`. The return value is the exit code (sign-extended to 64 bits).
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[doc(hidden)]
        #[unsafe(no_mangle)]
        pub fn __urt_main(args: $crate::StartArgs) -> i32 {
            let main: fn($crate::StartArgs) -> i32 = $main;
            main(args)
        }
    };
}
