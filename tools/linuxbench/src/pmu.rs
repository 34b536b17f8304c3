//! The cycle counter from user space under Linux, and syscalls timed at their `svc`.
//!
//! Linux gives EL0 access to the PMU counters only to a task that asks for it (arm64
//! perf, `Documentation/arch/arm64/perf.rst`, "Userspace access"): the sysctl
//! `kernel.perf_user_access` must be 1, and the task opens a perf event with
//! `config1` bit 1 (`rdpmc`) and bit 0 (64-bit counter), then mmaps the event's
//! `perf_event_mmap_page`, whose `index` names the hardware counter (index 32 =
//! counter 31 = PMCCNTR_EL0, which the PMUv3 driver always gives the CPU-cycles event).
//! Linux then sets PMUSERENR_EL0 while this task runs, and `mrs pmccntr_el0` reads the
//! counter directly, as the project's own bench does ([`now`]). The event counts at EL0
//! and EL1 (`exclude_kernel` = 0), so a timed `svc` includes the kernel's work, as in the
//! project's figures; under QEMU `-icount shift=0` the count is retired instructions.

use std::fs;
use std::io;

/// `perf_event_attr` up to `config2` (`PERF_ATTR_SIZE_VER1`, 72 bytes): the fields this
/// harness sets; the kernel takes the rest as zero.
#[repr(C)]
#[derive(Default)]
struct PerfEventAttr {
    kind: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    /// Bit flags: bit 0 `disabled`, bit 2 `pinned`, bit 5 `exclude_kernel`, ...
    flags: u64,
    wakeup_events: u32,
    bp_type: u32,
    config1: u64,
    config2: u64,
}

const PERF_TYPE_HARDWARE: u32 = 0;
const PERF_COUNT_HW_CPU_CYCLES: u64 = 0;
/// `pinned`: always on the PMU while the task runs.
const FLAG_PINNED: u64 = 1 << 2;
/// arm64 PMUv3 `config1`: bit 0 a 64-bit counter, bit 1 user-space access (rdpmc).
const CONFIG1_LONG_RDPMC: u64 = 0b11;
/// `perf_event_mmap_page.index` of the cycle counter (hardware counter 31, plus one).
const CYCLE_COUNTER_INDEX: u32 = 32;
/// `perf_event_mmap_page.capabilities` bit `cap_user_rdpmc`.
const CAP_USER_RDPMC: u64 = 1 << 2;

/// Open a perf event counting for this task on any CPU (pinned, enabled, user and
/// kernel): `kind` and `config` as in `perf_event_attr`. Returns its fd.
pub fn perf_open(what: &str, kind: u32, config: u64, config1: u64) -> Result<i32, String> {
    let attr = PerfEventAttr {
        kind,
        size: std::mem::size_of::<PerfEventAttr>() as u32,
        config,
        flags: FLAG_PINNED,
        config1,
        ..Default::default()
    };
    // SAFETY: perf_event_open reads `size` bytes of `attr`, which is that large and
    // lives across the call; pid 0 / cpu -1: this task on any CPU; no group, no flags.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            &attr as *const PerfEventAttr,
            0,
            -1,
            -1,
            0,
        )
    };
    if fd < 0 {
        return Err(format!(
            "perf_event_open({what}): {}",
            io::Error::last_os_error()
        ));
    }
    Ok(fd as i32)
}

/// The current value of a counting perf event (`read(2)` of its fd).
pub fn perf_read(fd: i32) -> Result<u64, String> {
    let mut v = 0u64;
    // SAFETY: read(2) writes at most 8 bytes into `v`.
    let n = unsafe { libc::read(fd, (&mut v as *mut u64).cast(), 8) };
    if n != 8 {
        return Err(format!(
            "reading a perf event: {}",
            io::Error::last_os_error()
        ));
    }
    Ok(v)
}

/// The open cycles event; it must stay open (and mapped) while [`now`] is used.
pub struct CycleCounter {
    fd: i32,
    page: *mut u8,
}

impl CycleCounter {
    /// Enable user access and open the event; fails with a message if Linux refuses or
    /// does not put the event on PMCCNTR_EL0.
    pub fn open() -> Result<CycleCounter, String> {
        fs::write("/proc/sys/kernel/perf_user_access", "1")
            .map_err(|e| format!("setting kernel.perf_user_access=1: {e}"))?;
        let fd = perf_open(
            "cycles, config1=rdpmc|64-bit",
            PERF_TYPE_HARDWARE,
            PERF_COUNT_HW_CPU_CYCLES,
            CONFIG1_LONG_RDPMC,
        )?;
        // SAFETY: maps one page of the event's metadata read-only; the result is checked.
        let page = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        if page == libc::MAP_FAILED {
            return Err(format!(
                "mmap of the perf event: {}",
                io::Error::last_os_error()
            ));
        }
        let c = CycleCounter {
            fd,
            page: page.cast(),
        };
        let (index, caps) = (c.read_u32(12), c.read_u64(40));
        if caps & CAP_USER_RDPMC == 0 || index != CYCLE_COUNTER_INDEX {
            return Err(format!(
                "the cycles event is not readable at EL0 on PMCCNTR_EL0 (index {index}, \
                 capabilities {caps:#x})"
            ));
        }
        Ok(c)
    }

    fn read_u32(&self, offset: usize) -> u32 {
        // SAFETY: `offset` is inside the mapped page, 4-byte aligned; volatile because
        // the kernel updates it.
        unsafe { std::ptr::read_volatile(self.page.add(offset).cast::<u32>()) }
    }

    fn read_u64(&self, offset: usize) -> u64 {
        // SAFETY: as in `read_u32`, 8-byte aligned.
        unsafe { std::ptr::read_volatile(self.page.add(offset).cast::<u64>()) }
    }

    /// The event's file descriptor.
    pub fn fd(&self) -> i32 {
        self.fd
    }
}

/// The cycle counter now (`mrs pmccntr_el0`). Only valid while a [`CycleCounter`] is
/// open. Not `nomem`: the compiler must not move memory accesses across it.
#[inline(always)]
pub fn now() -> u64 {
    let v: u64;
    // SAFETY: reads a system register Linux makes readable at EL0 for this task (see
    // the module docs) into a general register; no stack use.
    unsafe {
        core::arch::asm!("mrs {}, pmccntr_el0", out(reg) v, options(nostack, preserves_flags))
    };
    v
}

/// Make Linux syscall `nr` with `args` and return its raw result with the cycles of
/// exactly its `svc` (the counter read on the instructions before and after it), as the
/// project's `urt::sys::timed_syscall` does.
///
/// # Safety
///
/// As for [`timed_syscall_span`].
#[inline(always)]
pub unsafe fn timed_syscall(nr: i64, args: [u64; 3]) -> (i64, u64) {
    // SAFETY: the caller's contract.
    let (r, t0, t1) = unsafe { timed_syscall_span(nr, args) };
    (r, t1.wrapping_sub(t0))
}

/// [`timed_syscall`] returning the two raw counter values around the `svc` instead of
/// their difference: the window a record prints (`windows`, [`crate::record`]).
///
/// # Safety
///
/// The syscall must be one that is safe to make with these arguments (any memory it
/// reads or writes through them valid), as for `libc::syscall`.
#[inline(always)]
pub unsafe fn timed_syscall_span(nr: i64, args: [u64; 3]) -> (i64, u64, u64) {
    let r0: i64;
    let t0: u64;
    let t1: u64;
    // SAFETY: Linux's arm64 syscall ABI: number in x8, arguments in x0-x2, result in x0;
    // every other register is preserved, so `t0` (an `out`, not `lateout`, register:
    // none of the inputs) survives the `svc`. The caller vouches for the call itself.
    unsafe {
        core::arch::asm!(
            "mrs {t0}, pmccntr_el0",
            "svc #0",
            "mrs {t1}, pmccntr_el0",
            t0 = out(reg) t0,
            t1 = lateout(reg) t1,
            inlateout("x0") args[0] => r0,
            in("x1") args[1],
            in("x2") args[2],
            in("x8") nr,
            options(nostack),
        );
    }
    (r0, t0, t1)
}

/// A raw syscall result as `Ok(value)` or the errno as an error.
pub fn check(what: &str, r: i64) -> Result<i64, String> {
    if (-4095..0).contains(&r) {
        Err(format!(
            "{what}: {}",
            io::Error::from_raw_os_error(-r as i32)
        ))
    } else {
        Ok(r)
    }
}
