//! The panic handler: report and exit with code 101.

use core::panic::PanicInfo;

/// Exit code of a task that panicked.
pub const PANIC_EXIT_CODE: u64 = 101;

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    match info.location() {
        Some(l) => crate::println!(
            "panic: {}:{}:{}: {}",
            l.file(),
            l.line(),
            l.column(),
            info.message()
        ),
        None => crate::println!("panic: <unknown location>: {}", info.message()),
    }
    crate::exit(PANIC_EXIT_CODE)
}
