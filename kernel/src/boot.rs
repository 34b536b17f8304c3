//! Machine bring-up from the FDT: console, final page tables, memory allocators,
//! interrupts and timer; the boot report; clear boot errors for a bad DTB.

mod dtb;
mod error;

use crate::memory::layout::{ImageLayout, LINEAR_BASE};
use crate::memory::{frames, heap, kspace};
use crate::power;
use crate::{arch, irq, kprintln};
use arrayvec::ArrayVec;
use error::boot_error;
pub use error::BootError;
use mm::addr::PAGE_SIZE;
use mm::ranges::{subtract, PhysRange};
use platform::board::{BoardInfo, BootArgs, GicInfo, Region};
use platform::gic::Gic;

/// Everything the kernel learnt at boot.
pub struct Machine {
    /// The board as described by the FDT.
    pub info: BoardInfo<'static>,
    /// Kernel command line (`/chosen/bootargs`).
    pub args: BootArgs<'static>,
    /// The kernel image's placement.
    #[cfg_attr(not(feature = "ktest"), allow(dead_code))] // used by the QEMU tests (ktest)
    pub image: ImageLayout,
    /// Exception level the loader entered the kernel at (1 or 2).
    #[cfg_attr(not(feature = "ktest"), allow(dead_code))] // used by the QEMU tests (ktest)
    pub entry_el: u64,
    /// Physical address of the DTB.
    pub dtb_pa: u64,
}

/// Bring the machine up; on any error print it and stop.
pub fn bring_up(dtb_pa: u64, load_pa: u64, entry_el: u64) -> Machine {
    arch::pmu::enable_cycle_counter();
    arch::cpu::restrict_el0_timer_access();
    let image = ImageLayout::current(load_pa);
    // Until the DTB names a UART, the console (and so every boot error) is semihosting.
    crate::console::init_logger(log::LevelFilter::Info);
    let raw_dtb = dtb::raw_slice(dtb_pa).unwrap_or_else(|e| {
        log::info!("kernel booting: entered at EL{entry_el}, image at PA {load_pa:#x}");
        boot_error(e)
    });
    // A blob that validates (a canonical copy, or the original) is safe for the `fdt`
    // crate: read the command line and start the console it names, so every later
    // error can be reported there.
    let canonical = dtb::canonical(raw_dtb);
    let args = BootArgs::new(canonical.as_ref().map_or("", |d| dtb::bootargs(d)));
    power::configure(None, args.get("exit") == Some("semihosting"));
    let early_uart = canonical
        .as_ref()
        .ok()
        .and_then(|d| dtb::early_console(&image, d));
    kprintln!();
    log::info!(
        "kernel booting: entered at EL{entry_el}, image at PA {load_pa:#x}, DTB at PA {dtb_pa:#x}"
    );
    let dropped = dtb::DROPPED.load(core::sync::atomic::Ordering::SeqCst);
    if dropped > 0 {
        log::warn!(
            "dtb: {} bytes with FDT_NOPs, more than the kernel's 256 KiB copy: {dropped} \
             properties over 64 KiB (none the kernel reads) left out of it",
            raw_dtb.len()
        );
    }

    let info = canonical
        .and_then(BoardInfo::parse)
        .unwrap_or_else(|e| boot_error(BootError::Board(e)));
    power::configure(Some(info.psci), args.get("exit") == Some("semihosting"));
    let in_ram = |r: Region| {
        info.memory
            .iter()
            .any(|m| m.base <= r.base && r.end() <= m.end())
    };
    let dtb_region = Region {
        base: dtb_pa,
        size: raw_dtb.len() as u64,
    };
    if !in_ram(dtb_region) {
        boot_error(BootError::DtbOutsideRam {
            pa: dtb_pa,
            size: dtb_region.size,
        });
    }
    if let Some(rd) = info.initrd.filter(|&rd| !in_ram(rd)) {
        boot_error(BootError::InitrdOutsideRam(rd));
    }

    // Final kernel tables.
    let memory: ArrayVec<PhysRange, 8> = info.memory.iter().filter_map(|r| range(*r)).collect();
    let mut devices: ArrayVec<PhysRange, 40> = ArrayVec::new();
    devices.extend(range(info.uart.reg));
    // The early console's UART (the same one, unless the tree is odd) stays in use.
    if let Some(base) = early_uart {
        devices.extend(range(Region {
            base,
            size: PAGE_SIZE,
        }));
    }
    match info.gic {
        GicInfo::V2 { dist, cpu } => devices.extend([dist, cpu].into_iter().filter_map(range)),
        GicInfo::V3 { dist, redist } => {
            devices.extend([dist, redist].into_iter().filter_map(range))
        }
    }
    for slot in &info.virtio_mmio {
        if !devices.is_full() {
            devices.extend(range(slot.reg));
        }
    }
    kspace::build_and_switch(&kspace::KernelMap {
        image,
        memory: &memory,
        devices: &devices,
    })
    .unwrap_or_else(|e| boot_error(BootError::Map(e)));

    // Allocators: RAM minus everything in use or reserved.
    let mut reserved: ArrayVec<PhysRange, 24> = ArrayVec::new();
    reserved.push(PhysRange {
        start: image.load_pa,
        end: image.load_pa + image.phys_size(),
    });
    reserved.push(PhysRange {
        start: dtb_pa,
        end: dtb_pa + raw_dtb.len() as u64,
    });
    reserved.extend(info.initrd.and_then(range));
    for r in &info.reserved {
        if !reserved.is_full() {
            reserved.extend(range(*r));
        }
    }
    let heap_size = heap::size_for(memory.iter().map(|r| r.len()).sum());
    let mut heap_at = None;
    subtract(&memory, &reserved, |r| {
        if heap_at.is_none() && r.len() >= heap_size {
            heap_at = Some(r.start);
        }
    });
    let heap_pa = heap_at.unwrap_or_else(|| boot_error(BootError::NoMemory));
    // SAFETY: the range is free RAM (not image, DTB, initrd or reserved), mapped RW by the
    // linear map, and given to nothing else: it is reserved from the frame allocator below.
    unsafe { heap::init(LINEAR_BASE + heap_pa, heap_size) };
    reserved.push(PhysRange {
        start: heap_pa,
        end: heap_pa + heap_size,
    });
    let mut free: ArrayVec<PhysRange, 48> = ArrayVec::new();
    subtract(&memory, &reserved, |r| {
        let _ = free.try_push(r);
    });
    frames::init(free.into_iter());

    // Buffers: devices count as coherent only if the FDT says so for every virtio-mmio
    // device and every PCIe host, and the command line does not ask otherwise
    // (`dma=noncoherent`).
    let all_coherent = !(info.virtio_mmio.is_empty() && info.pci.is_empty())
        && info.virtio_mmio.iter().all(|s| s.dma_coherent)
        && info.pci.iter().all(|h| h.dma_coherent);
    crate::buffer::init(
        all_coherent && args.get("dma") != Some("noncoherent"),
        args.get("misuse") != Some("report"),
    );
    // Test kernels: `race-window=N` widens the fast path's window against closers.
    if let Some(spins) = args.get("race-window").and_then(|n| n.parse().ok()) {
        crate::buffer::set_race_window(spins);
    }
    // `uci`: EL0 may clean the data cache by address (SCTLR_EL1.UCI; the buffers created
    // with `policy::USER_CLEAN` may then be ENDed with `sync::USER_CLEANED`).
    if args.has_flag("uci") {
        arch::cpu::allow_el0_cache_clean();
        log::info!("uci: EL0 may clean the data cache by address (DC CVAC, DC CIVAC)");
    }

    // Interrupts and the tick.
    // SAFETY: every GIC region was mapped Device-nGnRE in the linear map above.
    let gic = unsafe { Gic::new(&info.gic, |r: Region| (LINEAR_BASE + r.base) as usize) };
    irq::init(gic, info.gic, info.timer.virt_irq);
    irq::set_device_polling(args.get("devirq") == Some("poll"));
    // PCI: enumerate (BARs assigned and mapped) before the drivers look for devices.
    crate::drivers::pci::init(&info.pci, &info.gic, args.get("pci") == Some("intx"));
    crate::gpu::init(&info.virtio_mmio);
    crate::blk::init(&info.virtio_mmio);

    Machine {
        info,
        args,
        image,
        entry_el,
        dtb_pa,
    }
}

fn range(r: Region) -> Option<PhysRange> {
    PhysRange::from_base_size(r.base, r.size)
}

/// Log what the kernel found.
pub fn report(m: &Machine) {
    let info = &m.info;
    let total: u64 = info.memory.iter().map(|r| r.size).sum();
    log::info!("board: {} ({} MiB RAM)", info.model, total >> 20);
    for r in &info.memory {
        log::info!(
            "  memory  {:#012x}..{:#012x} ({} MiB)",
            r.base,
            r.base + r.size,
            r.size >> 20
        );
    }
    let (free, frames_total) = frames::counts();
    log::info!(
        "  frames  {free} free of {frames_total} ({} MiB), heap {} MiB",
        (free as u64 * PAGE_SIZE) >> 20,
        heap::size() >> 20
    );
    let uart_irq = info.uart.irq.map_or(0, |i| i.intid);
    log::info!(
        "  uart    PL011 at {:#x}, IRQ {uart_irq}",
        info.uart.reg.base
    );
    match info.gic {
        GicInfo::V2 { dist, cpu } => {
            log::info!(
                "  gic     GICv{} dist {:#x} cpu {:#x}",
                irq::gic_version(),
                dist.base,
                cpu.base
            )
        }
        GicInfo::V3 { dist, redist } => log::info!(
            "  gic     GICv{} dist {:#x} redist {:#x}",
            irq::gic_version(),
            dist.base,
            redist.base
        ),
    }
    log::info!(
        "  timer   virtual timer IRQ {} at {} Hz, tick {} Hz",
        info.timer.virt_irq.intid,
        platform::timer::frequency(),
        irq::TICK_HZ
    );
    log::info!("  psci    method {:?}", info.psci);
    let mut cpus = alloc::string::String::new();
    for (i, mpidr) in crate::smp::online_mpidrs().enumerate() {
        use core::fmt::Write;
        let _ = write!(cpus, "{}{mpidr:#x}", if i == 0 { "" } else { ", " });
    }
    log::info!(
        "  cpus    {} online (MPIDR {cpus}), {} in /cpus",
        crate::smp::online(),
        info.cpus.len().max(1)
    );
    if let Some(rd) = info.initrd {
        log::info!(
            "  initrd  {:#x}..{:#x} ({} bytes)",
            rd.base,
            rd.base + rd.size,
            rd.size
        );
    }
    let coherence = if crate::buffer::devices_coherent() {
        "DMA-coherent (no maintenance)"
    } else {
        "non-coherent"
    };
    log::info!(
        "  cache   D-cache line {} bytes (CTR_EL0); devices treated as {coherence}",
        arch::cache::geometry().line()
    );
    log::info!(
        "  dtb     at {:#x}, bootargs \"{}\"",
        m.dtb_pa,
        m.args.as_str()
    );
    log::info!("  irq     {} spurious so far", irq::spurious());
    let mut empty = 0;
    for slot in &info.virtio_mmio {
        // SAFETY: every virtio-mmio slot was mapped Device-nGnRE in the linear map.
        let id = unsafe { platform::virtio_mmio::probe((LINEAR_BASE + slot.reg.base) as usize) };
        match id {
            Some(id) => log::info!(
                "  virtio  {:#x} IRQ {}: {} (device ID {}), version {}{}",
                slot.reg.base,
                slot.irq.intid,
                platform::virtio_mmio::device_name(id.device_id),
                id.device_id,
                id.version,
                if slot.dma_coherent {
                    ", dma-coherent"
                } else {
                    ""
                }
            ),
            None => empty += 1,
        }
    }
    log::info!("  virtio  {} slots, {empty} empty", info.virtio_mmio.len());
    crate::drivers::pci::report();
    match crate::gpu::describe() {
        Some((w, h, irq)) => {
            log::info!("  gpu     virtio-gpu scanout 0 {w}x{h}, completion IRQ {irq}")
        }
        None => log::info!(
            "  gpu     none: no usable virtio-gpu on virtio-mmio or PCI (ramfb and other \
             displays are not driven; the GPU calls answer NotSupported)"
        ),
    }
    match crate::blk::describe() {
        Some((sectors, irq)) => log::info!(
            "  blk     virtio-blk {sectors} sectors ({} KiB), completion IRQ {irq}",
            sectors / 2
        ),
        None => log::info!("  blk     none: no usable virtio-blk on virtio-mmio or PCI"),
    }
}

/// How long the first tick may take once interrupts are unmasked (two hundred periods:
/// generous, so a loaded host never makes a working timer look broken).
const FIRST_TICK_MS: u64 = 2000;

/// Let the periodic tick run `n` times, logging each, then return. The first tick is
/// awaited (even for `n = 0`) by polling the counter, not with WFI, so a tick that never
/// comes (an interrupt controller that is not the one the DTB names, an interrupt left
/// secure by the firmware) is a named boot error instead of a hang.
pub fn show_ticks(m: &Machine, n: u64) {
    let start = irq::ticks();
    let mut seen = start;
    let freq = platform::timer::frequency();
    let deadline = platform::timer::now().saturating_add(freq.saturating_mul(FIRST_TICK_MS) / 1000);
    while seen == start {
        if platform::timer::now() > deadline {
            boot_error(BootError::NoTick {
                intid: m.info.timer.virt_irq.intid,
                gic: irq::gic_version(),
                ms: FIRST_TICK_MS,
            });
        }
        core::hint::spin_loop();
        seen = irq::ticks();
    }
    let mut shown = 0;
    loop {
        while shown < n && shown < seen - start {
            shown += 1;
            log::info!("tick {shown}");
        }
        if shown >= n {
            return;
        }
        arch::cpu::wait_for_interrupt();
        seen = irq::ticks();
    }
}

/// A boot error if the command line names a program (`what`: `init=` or `utest=`) but
/// there is no initrd to load it from. Without either, a kernel without initrd just has
/// nothing to run.
pub fn require_initrd(m: &Machine, what: &'static str) {
    let asked = m.args.get(what.trim_end_matches('=')).is_some();
    if asked && m.info.initrd.is_none() {
        boot_error(BootError::NoInitrd(what));
    }
}
