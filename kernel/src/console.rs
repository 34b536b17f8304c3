//! The kernel console (the PL011 from the FDT) and the `log` backend.
//!
//! Until a UART is known (a DTB too broken to name one, or none at all) everything
//! written here goes to semihosting instead (`arch::semihosting`: QEMU's stderr under
//! `-semihosting`, nothing otherwise), so no boot error is silent under QEMU.
//!
//! Each log line is stamped with the PMU cycle counter, which under `-icount` is a
//! deterministic instruction count ("icount cycles"), not time.

use core::fmt::{self, Write};
use log::{LevelFilter, Log, Metadata, Record};
use platform::pl011::Pl011;
use spin::Mutex;

struct Uart(Pl011);

// SAFETY: the PL011's registers are reached only through the CONSOLE lock (or, in the
// panic path, after taking it by force when the CPU is about to stop).
unsafe impl Send for Uart {}

static CONSOLE: Mutex<Option<Uart>> = Mutex::new(None);

/// Start the console on a PL011 whose registers are mapped at `base_va`.
///
/// # Safety
/// `base_va` must map a PL011's register block (Device memory) for the kernel's life.
pub unsafe fn init(base_va: usize) {
    // SAFETY: forwarded from the caller.
    let mut uart = unsafe { Pl011::new(base_va) };
    uart.init();
    *CONSOLE.lock() = Some(Uart(uart));
}

/// Writes to semihosting: the console before (or without) a UART.
struct Semihosting;

impl Write for Semihosting {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        crate::arch::semihosting::write_str(s);
        Ok(())
    }
}

/// Write a string to the console (semihosting if there is no UART yet).
pub fn write_str(s: &str) {
    match CONSOLE.lock().as_mut() {
        Some(u) => {
            let _ = u.0.write_str(s);
        }
        None => crate::arch::semihosting::write_str(s),
    }
}

/// Formatted printing to the console (semihosting if there is no UART yet).
pub fn print(args: fmt::Arguments<'_>) {
    match CONSOLE.lock().as_mut() {
        Some(u) => {
            let _ = u.0.write_fmt(args);
        }
        None => {
            let _ = Semihosting.write_fmt(args);
        }
    }
}

/// `print!` to the kernel console.
#[macro_export]
macro_rules! kprint {
    ($($arg:tt)*) => { $crate::console::print(format_args!($($arg)*)) };
}

/// `println!` to the kernel console.
#[macro_export]
macro_rules! kprintln {
    () => { $crate::console::write_str("\n") };
    ($($arg:tt)*) => { $crate::console::print(format_args!("{}\n", format_args!($($arg)*))) };
}

/// A writer for fatal paths: takes the console even if the lock is held (the CPU that
/// held it is this one, interrupted, and will never run again).
pub struct PanicWriter;

impl Write for PanicWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if CONSOLE.is_locked() {
            // SAFETY: single CPU; the holder was interrupted by the fault being reported
            // and will not resume, so no one else is using the UART.
            unsafe { CONSOLE.force_unlock() };
        }
        match CONSOLE.lock().as_mut() {
            Some(u) => u.0.write_str(s)?,
            None => crate::arch::semihosting::write_str(s),
        }
        Ok(())
    }
}

struct KernelLogger;

impl Log for KernelLogger {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            print(format_args!(
                "[{:>12}] {:<5} {}\n",
                crate::arch::pmu::cycles(),
                record.level(),
                record.args()
            ));
        }
    }

    fn flush(&self) {}
}

static LOGGER: KernelLogger = KernelLogger;

/// Install the console as the `log` backend at `level`.
pub fn init_logger(level: LevelFilter) {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}
