//! QEMU tests of the boot foundation: exception level, exceptions, MMU attributes, the
//! timer, the cycle counter, cache maintenance, frames and heap.

use super::TestFn;
use crate::arch::exception::{ec, probe_execute, probe_read, probe_write, Syndrome};
use crate::boot::Machine;
use crate::ensure;
use crate::memory::layout::{KIMAGE_BASE, LINEAR_BASE};
use crate::memory::{frames, kspace};
use crate::{arch, irq};
use alloc::string::String;
use alloc::vec::Vec;
use mm::cache::CacheOp;
use mm::pgtable::{Access, MemAttr};

/// Every boot-foundation test, in order.
pub const TESTS: &[(&str, TestFn)] = &[
    ("entry_el_as_expected", entry_el_as_expected),
    ("runs_at_el1", runs_at_el1),
    (
        "data_abort_caught_and_reported",
        data_abort_caught_and_reported,
    ),
    ("rodata_write_faults", rodata_write_faults),
    ("text_write_faults", text_write_faults),
    ("data_not_executable", data_not_executable),
    ("stack_guard_page_unmapped", stack_guard_page_unmapped),
    ("mmu_attributes_by_section", mmu_attributes_by_section),
    (
        "linear_map_has_no_image_alias",
        linear_map_has_no_image_alias,
    ),
    ("timer_ticks", timer_ticks),
    ("cycle_counter_counts", cycle_counter_counts),
    ("cache_maintenance_ranges", cache_maintenance_ranges),
    (
        "rect_loop_visits_exactly_each_row",
        super::rect_loop::rect_loop_visits_exactly_each_row,
    ),
    (
        "frames_alloc_free_restores_count",
        frames_alloc_free_restores_count,
    ),
    ("heap_allocates", heap_allocates),
    ("gpu_selftest", gpu_selftest),
];

/// Deliberately take an unhandled data abort: the runner expects the fatal report and
/// exit code 3.
pub fn deliberate_fatal_abort() -> ! {
    let bad = KIMAGE_BASE - 0x10_0000;
    crate::kprintln!("ktest: reading unmapped address {bad:#x} without a fixup");
    // SAFETY: deliberately unsound: this read faults and the fatal handler stops the
    // kernel, which is the behaviour under test.
    let v = unsafe { core::ptr::read_volatile(bad as *const u64) };
    panic!("read of unmapped address returned {v:#x} instead of faulting");
}

/// Deliberately overflow the boot stack: the runner expects the overflow to be reported
/// (not a silent hang in recursive faults) and exit code 3.
pub fn deliberate_stack_overflow() -> ! {
    fn recurse(depth: u64) -> u64 {
        let pad = core::hint::black_box([depth; 64]);
        if depth == u64::MAX {
            return pad[0];
        }
        recurse(depth + 1) + core::hint::black_box(pad[63])
    }
    crate::kprintln!("ktest: recursing until the boot stack overflows");
    let v = recurse(0);
    panic!("recursion returned {v} without overflowing");
}

fn entry_el_as_expected(m: &Machine) -> Result<(), String> {
    if let Some(want) = m.args.get("expect-el") {
        ensure!(
            want.parse::<u64>().ok() == Some(m.entry_el),
            "entered at EL{}, expected EL{want}",
            m.entry_el
        );
    }
    ensure!(
        m.entry_el == 1 || m.entry_el == 2,
        "impossible entry EL{}",
        m.entry_el
    );
    Ok(())
}

fn runs_at_el1(_: &Machine) -> Result<(), String> {
    use aarch64_cpu::registers::{CurrentEL, Readable};
    let el = CurrentEL.read(CurrentEL::EL);
    ensure!(el == 1, "running at EL{el}");
    Ok(())
}

fn expect_fault(
    r: Result<u8, Syndrome>,
    class: u64,
    fsc_base: u64,
    far: u64,
) -> Result<(), String> {
    let syn = match r {
        Ok(v) => {
            return Err(alloc::format!(
                "access at {far:#x} did not fault (read {v:#x})"
            ))
        }
        Err(s) => s,
    };
    ensure!(
        syn.class() == class,
        "EC {:#x}, expected {class:#x}: {syn}",
        syn.class()
    );
    ensure!(
        syn.fault_status() & !3 == fsc_base,
        "fault status {:#x}, expected {fsc_base:#x}+level: {syn}",
        syn.fault_status()
    );
    ensure!(syn.far == far, "FAR {:#x}, expected {far:#x}", syn.far);
    Ok(())
}

const FSC_TRANSLATION: u64 = 0x04;
const FSC_PERMISSION: u64 = 0x0c;

fn data_abort_caught_and_reported(_: &Machine) -> Result<(), String> {
    let bad = KIMAGE_BASE - 0x20_0000 + 0x123;
    let r = probe_read(bad);
    if let Err(syn) = &r {
        crate::kprintln!("  caught: {syn}");
    }
    expect_fault(r, ec::DABT_CURRENT, FSC_TRANSLATION, bad)?;
    ensure!(!r.unwrap_err().is_write(), "read reported as a write");
    Ok(())
}

static RODATA_BYTE: u8 = 0x5a;

fn rodata_write_faults(_: &Machine) -> Result<(), String> {
    let addr = core::ptr::addr_of!(RODATA_BYTE) as u64;
    ensure!(probe_read(addr) == Ok(0x5a), "rodata not readable");
    // SAFETY: the write is expected to fault; if it wrongly succeeds it writes the same
    // value that is already there.
    let r = unsafe { probe_write(addr, 0x5a) };
    expect_fault(r, ec::DABT_CURRENT, FSC_PERMISSION, addr)?;
    ensure!(r.unwrap_err().is_write(), "write not reported as a write");
    Ok(())
}

fn text_write_faults(_: &Machine) -> Result<(), String> {
    let addr = text_write_faults as *const () as u64;
    let old = probe_read(addr).map_err(|s| alloc::format!("text not readable: {s}"))?;
    // SAFETY: expected to fault; on wrong success it rewrites the byte already there.
    let r = unsafe { probe_write(addr, old) };
    expect_fault(r, ec::DABT_CURRENT, FSC_PERMISSION, addr)
}

/// A `ret` instruction in writable data.
static mut RET_IN_DATA: u32 = 0xd65f_03c0;

fn data_not_executable(_: &Machine) -> Result<(), String> {
    let addr = core::ptr::addr_of!(RET_IN_DATA) as u64;
    // SAFETY: if .data were executable this would run a lone `ret`, which returns.
    let r = unsafe { probe_execute(addr) };
    expect_fault(r, ec::IABT_CURRENT, FSC_PERMISSION, addr)
}

fn stack_guard_page_unmapped(m: &Machine) -> Result<(), String> {
    let guard = m.image.stack_guard;
    expect_fault(
        probe_read(guard + 8),
        ec::DABT_CURRENT,
        FSC_TRANSLATION,
        guard + 8,
    )?;
    ensure!(
        probe_read(m.image.stack_bottom).is_ok(),
        "stack bottom not readable"
    );
    Ok(())
}

fn mmu_attributes_by_section(m: &Machine) -> Result<(), String> {
    let cases = [
        (
            "text",
            m.image.text,
            Access::KernelReadExec,
            MemAttr::Normal,
        ),
        (
            "rodata",
            core::ptr::addr_of!(RODATA_BYTE) as u64,
            Access::KernelRead,
            MemAttr::Normal,
        ),
        (
            "data",
            core::ptr::addr_of!(RET_IN_DATA) as u64,
            Access::KernelReadWrite,
            MemAttr::Normal,
        ),
        (
            "uart",
            LINEAR_BASE + m.info.uart.reg.base,
            Access::KernelReadWrite,
            MemAttr::Device,
        ),
    ];
    for (what, va, access, mem) in cases {
        let (_, attrs) =
            kspace::translate(va).ok_or_else(|| alloc::format!("{what} not mapped"))?;
        ensure!(
            attrs.access == access,
            "{what}: access {:?}, expected {access:?}",
            attrs.access
        );
        ensure!(
            attrs.mem == mem,
            "{what}: memory type {:?}, expected {mem:?}",
            attrs.mem
        );
        ensure!(attrs.global, "{what}: kernel mapping not global");
    }
    let (pa, _) = kspace::translate(m.image.text).ok_or("text not mapped")?;
    ensure!(
        pa.as_u64() == m.image.load_pa,
        "text maps to {pa:#x}, loaded at {:#x}",
        m.image.load_pa
    );
    Ok(())
}

fn linear_map_has_no_image_alias(m: &Machine) -> Result<(), String> {
    ensure!(
        kspace::translate(LINEAR_BASE + m.image.load_pa).is_none(),
        "image aliased in the linear map"
    );
    let ram = m.info.memory[0].base;
    let probe_pa = if ram == m.image.load_pa {
        m.image.load_pa + m.image.phys_size() + 0x20_0000
    } else {
        ram
    };
    ensure!(
        kspace::translate(LINEAR_BASE + probe_pa).is_some(),
        "RAM at {probe_pa:#x} not in the linear map"
    );
    Ok(())
}

fn timer_ticks(_: &Machine) -> Result<(), String> {
    ensure!(!arch::cpu::irqs_masked(), "IRQs masked");
    let start = irq::ticks();
    let deadline = platform::timer::now() + platform::timer::frequency(); // 1 s of timer
    while irq::ticks() < start + 3 {
        ensure!(
            platform::timer::now() < deadline,
            "only {} ticks in 1 s",
            irq::ticks() - start
        );
        arch::cpu::wait_for_interrupt();
    }
    Ok(())
}

fn cycle_counter_counts(_: &Machine) -> Result<(), String> {
    let a = arch::pmu::cycles();
    let mut x = 0u64;
    for i in 0..1000 {
        x = core::hint::black_box(x.wrapping_add(i));
    }
    let b = arch::pmu::cycles();
    ensure!(
        b > a + 1000,
        "cycle counter moved {} over a 1000-iteration loop",
        b.wrapping_sub(a)
    );
    Ok(())
}

fn cache_maintenance_ranges(_: &Machine) -> Result<(), String> {
    let line = arch::cache::geometry().line();
    ensure!(
        line.is_power_of_two() && (16..=2048).contains(&line),
        "bad line size {line}"
    );
    let mut buf: Vec<u8> = (0..8 * line as usize).map(|i| i as u8).collect();
    let base = buf.as_mut_ptr() as u64;
    let start = (base + line - 1) & !(line - 1);
    let cases = [
        (CacheOp::Clean, start, 2 * line, 2),
        (CacheOp::Clean, start + 1, 2 * line, 3),
        (CacheOp::CleanInvalidate, start + line / 2, 1, 1),
        (CacheOp::Invalidate, start + 3, 3 * line, 4),
        (CacheOp::Invalidate, start, 0, 0),
    ];
    for (op, va, len, lines) in cases {
        let (mut n, mut next) = (0, va & !(line - 1));
        let mut gaps = false;
        // SAFETY: the range lies inside `buf` (plus whole lines around it, in the heap),
        // which is mapped RW; invalidates keep edge lines' data (clean+invalidate).
        unsafe {
            arch::cache::maintain_range(op, va, len, |done| match done.covered() {
                // What the loop executed: lines counted by the loop, contiguous runs.
                Some((_, start, count)) if start == next => {
                    n += count;
                    next = start + count * line;
                }
                _ => gaps = true,
            })
        }
        .map_err(|e| alloc::format!("{e}"))?;
        ensure!(
            n == lines && !gaps,
            "{op:?} {va:#x}+{len}: {n} lines executed (gaps: {gaps}), expected {lines}"
        );
    }
    ensure!(
        buf.iter().enumerate().all(|(i, b)| *b == i as u8),
        "maintenance changed the data"
    );
    // SAFETY: a wrapping range is rejected before any instruction is issued.
    let wrap = unsafe { arch::cache::maintain_range(CacheOp::Clean, u64::MAX - 10, 100, |_| {}) };
    ensure!(wrap.is_err(), "wrapping range accepted");
    Ok(())
}

fn frames_alloc_free_restores_count(_: &Machine) -> Result<(), String> {
    let (free0, total) = frames::counts();
    ensure!(free0 > 0 && free0 <= total, "frame counts {free0}/{total}");
    let a = frames::alloc_zeroed(1).ok_or("alloc 1 frame")?;
    let b = frames::alloc(8).ok_or("alloc 8 frames")?;
    ensure!(
        b.as_u64() % (8 * 4096) == 0,
        "8-frame block at {b:#x} not 32 KiB aligned"
    );
    ensure!(
        frames::counts().0 == free0 - 9,
        "free count {} after allocating 9",
        frames::counts().0
    );
    frames::free(a, 1);
    frames::free(b, 8);
    ensure!(
        frames::counts().0 == free0,
        "free count {} after freeing, was {free0}",
        frames::counts().0
    );
    Ok(())
}

fn heap_allocates(_: &Machine) -> Result<(), String> {
    let used0 = crate::memory::heap::used();
    let v: Vec<u64> = (0..100_000).collect();
    ensure!(
        v.iter().sum::<u64>() == 4_999_950_000,
        "heap vector corrupted"
    );
    ensure!(
        crate::memory::heap::used() >= used0 + 800_000,
        "heap use not accounted"
    );
    drop(v);
    ensure!(crate::memory::heap::used() == used0, "heap leaked");
    Ok(())
}

fn gpu_selftest(_: &Machine) -> Result<(), String> {
    // The GPU lock is shared with its completion interrupt: hold it with IRQs masked.
    arch::cpu::disable_irqs();
    let r = crate::gpu::with(crate::drivers::virtio_gpu::selftest);
    arch::cpu::enable_irqs();
    match r {
        Some(Ok(())) => Ok(()),
        Some(Err(e)) => Err(alloc::format!("gpu selftest: {e}")),
        None => Err("no virtio-gpu found".into()),
    }
}
