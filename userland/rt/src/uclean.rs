//! The EL0 option of `buffer_sync` END: clean your own lines, announce END cheaply.
//!
//! On a kernel booted with `uci` (SCTLR_EL1.UCI), EL0 may issue `DC CVAC`. A task that
//! wrote a buffer created with [`abi::policy::USER_CLEAN`] may clean the lines it wrote
//! itself ([`clean_dcache_range`]: `DC CVAC` per line, then `DSB SY`) and END with
//! [`abi::sync::USER_CLEANED`] ([`end_write_cleaned`]): the kernel then records none of
//! those lines as dirty, so the next device submission has nothing of them to clean.
//! Everything else is the kernel's, as on the plain path: START and its fence waits and
//! invalidation (`DC IVAC` is EL1-only), the misuse detector (the END still releases the
//! hold), a `DSB` at the END and before the device is told.
//!
//! Without `uci` the first `DC CVAC` traps and the task is killed (EC 0x18), which is why
//! [`buffer_create`](crate::buffer_create) with `USER_CLEAN` refuses (`NotSupported`)
//! first: create the buffer, and fall back to the plain path if that fails.

use core::arch::asm;

/// Clean `[addr, addr + len)` to the point of coherency from EL0: `DC CVAC` on every
/// line it touches (line size from CTR_EL0, unrolled by 8 as the kernel's loop is), then
/// `DSB SY`. `len == 0` does nothing.
///
/// Needs a kernel booted with `uci`, and every line readable by this task; otherwise the
/// task is killed (a trap, EC 0x18, or a data abort). A clean never changes what memory
/// a program sees, so it cannot break the program's own memory safety.
pub fn clean_dcache_range(addr: *const u8, len: usize) {
    if len == 0 {
        return;
    }
    let line = crate::dcache_line_size();
    let va = addr as u64 & !(line - 1);
    let end = (addr as u64).saturating_add(len as u64);
    let end = end.next_multiple_of(line);
    let block_end = end - (end - va) % (8 * line);
    // SAFETY: DC CVAC by VA writes dirty lines back to memory and changes no value a
    // load can see; a line this task may not read faults (the task is killed). Only
    // registers named here are written.
    unsafe {
        asm!(
            "cmp {va}, {bend}",
            "b.hs 2f",
            "1:",
            ".rept 8",
            "dc cvac, {va}",
            "add {va}, {va}, {line}",
            ".endr",
            "cmp {va}, {bend}",
            "b.lo 1b",
            "2:",
            "cmp {va}, {end}",
            "b.hs 4f",
            "3:",
            "dc cvac, {va}",
            "add {va}, {va}, {line}",
            "cmp {va}, {end}",
            "b.lo 3b",
            "4:",
            "dsb sy",
            va = inout(reg) va => _,
            bend = in(reg) block_end,
            end = in(reg) end,
            line = in(reg) line,
            options(nostack)
        );
    }
}

/// `buffer_sync(h, END | WRITE | USER_CLEANED, offset, len)`: end a START WRITE whose
/// range this task has cleaned itself ([`clean_dcache_range`] over the bytes it wrote).
/// Errors as `buffer_sync`, plus `NotSupported` (no `uci`) and `BadFlags` (the buffer
/// was created without `USER_CLEAN`).
pub fn end_write_cleaned(h: crate::Handle, offset: u64, len: u64) -> crate::Result<()> {
    use abi::sync::{END, USER_CLEANED, WRITE};
    crate::buffer_sync(h, END | WRITE | USER_CLEANED, offset, len)
}
