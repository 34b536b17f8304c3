//! Machine bring-up from the FDT: console, final page tables, memory allocators,
//! interrupts and timer; the boot report; clear boot errors for a bad DTB.

use crate::memory::layout::{ImageLayout, LINEAR_BASE};
use crate::memory::{frames, heap, kspace};
use crate::power::{self, ExitCode};
use crate::{arch, irq, kprintln};
use arrayvec::ArrayVec;
use core::cell::UnsafeCell;
use core::fmt;
use core::sync::atomic::{AtomicBool, Ordering};
use mm::addr::PAGE_SIZE;
use mm::ranges::{subtract, PhysRange};
use platform::board::{
    fdt_total_size, normalize, BoardError, BoardInfo, BootArgs, GicInfo, Region,
};
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

/// Largest DTB accepted. The arm64 boot protocol says 2 MiB, but QEMU pads a `-dtb` file
/// to twice its size plus slack, so allow more free space than that.
const MAX_DTB_SIZE: usize = 16 * 1024 * 1024;

/// A reason the boot cannot go on.
enum BootError {
    Dtb(&'static str),
    Board(BoardError),
    Map(mm::pgtable::MapError),
    NoMemory,
}

impl fmt::Display for BootError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dtb(s) => write!(f, "device tree: {s}"),
            Self::Board(e) => write!(f, "device tree: {e}"),
            Self::Map(e) => write!(f, "building kernel page tables: {e}"),
            Self::NoMemory => f.write_str("not enough free RAM for the kernel heap"),
        }
    }
}

fn boot_error(e: BootError) -> ! {
    let _ = writeln!(crate::console::PanicWriter, "\nBOOT ERROR: {e}");
    power::fail(ExitCode::BootError)
}

use core::fmt::Write;

/// The DTB as a byte slice through the boot linear map, after checking its header.
fn dtb_slice(dtb_pa: u64) -> Result<&'static [u8], BootError> {
    if dtb_pa == 0 || !dtb_pa.is_multiple_of(8) {
        return Err(BootError::Dtb("no DTB: x0 was zero or misaligned at entry"));
    }
    if dtb_pa >> 39 != 0 {
        return Err(BootError::Dtb("DTB above 512 GiB is not supported"));
    }
    let va = LINEAR_BASE + dtb_pa;
    // SAFETY: boot.S mapped the 1 GiB block holding the DTB in the linear map; 40 bytes
    // (the header) fit in it unless the DTB straddles the block end, checked below.
    let header = unsafe { core::slice::from_raw_parts(va as *const u8, 40) };
    let size = fdt_total_size(header).map_err(BootError::Board)?;
    if size > MAX_DTB_SIZE {
        return Err(BootError::Dtb("DTB larger than 16 MiB"));
    }
    if dtb_pa >> 30 != (dtb_pa + size as u64 - 1) >> 30 {
        return Err(BootError::Dtb("DTB straddles a 1 GiB boundary"));
    }
    // SAFETY: the whole blob lies in the mapped 1 GiB block (checked above); the memory is
    // reserved from the allocators below, so it stays valid and unchanged.
    Ok(unsafe { core::slice::from_raw_parts(va as *const u8, size) })
}

/// Room for the normalized copy of the DTB (QEMU's is about 8 KiB).
const DTB_COPY_SIZE: usize = 256 * 1024;

#[repr(C, align(8))]
struct DtbCopy(UnsafeCell<[u8; DTB_COPY_SIZE]>);

// SAFETY: written once by `normalized_dtb` (guarded by DTB_COPIED) before any reader
// exists; read-only afterwards.
unsafe impl Sync for DtbCopy {}

static DTB_COPY: DtbCopy = DtbCopy(UnsafeCell::new([0; DTB_COPY_SIZE]));
static DTB_COPIED: AtomicBool = AtomicBool::new(false);

/// Copy the DTB into the kernel image in canonical form (no FDT_NOP tokens, no free
/// space; see `platform::board::normalize`), so the parser and the kernel never depend
/// on the loader's copy again.
fn normalized_dtb(raw: &[u8]) -> Result<&'static [u8], BoardError> {
    if DTB_COPIED.swap(true, Ordering::SeqCst) {
        return Err(BoardError::Malformed("DTB normalized twice"));
    }
    // SAFETY: the swap above makes this the only writer ever, and no reader exists yet.
    let buf = unsafe { &mut *DTB_COPY.0.get() };
    let n = normalize(raw, buf)?;
    Ok(&buf[..n])
}

/// Bootargs even from a DTB the full parser rejects (to learn `exit=semihosting`).
/// (`fdt::Fdt::chosen` panics when /chosen is missing, hence the manual lookup.)
fn raw_bootargs(dtb: &[u8]) -> &str {
    let fdt = match fdt::Fdt::new(dtb) {
        Ok(f) => f,
        Err(_) => return "",
    };
    let bootargs = fdt
        .find_node("/chosen")
        .and_then(|n| n.property("bootargs"));
    bootargs.and_then(|p| p.as_str()).unwrap_or("")
}

/// The console UART, even from a DTB the full parser rejects (so its error can be shown).
fn find_uart(dtb: &[u8]) -> Option<Region> {
    if let Ok(info) = BoardInfo::parse(dtb) {
        return Some(info.uart.reg);
    }
    let fdt = fdt::Fdt::new(dtb).ok()?;
    let node = fdt.find_compatible(&["arm,pl011"])?;
    let reg = node.reg()?.next()?;
    Some(Region {
        base: reg.starting_address as u64,
        size: reg.size.unwrap_or(0x1000) as u64,
    })
}

/// Bring the machine up; on any error print it and stop.
pub fn bring_up(dtb_pa: u64, load_pa: u64, entry_el: u64) -> Machine {
    arch::pmu::enable_cycle_counter();
    arch::cpu::restrict_el0_timer_access();
    let image = ImageLayout::current(load_pa);
    let raw_dtb = dtb_slice(dtb_pa).unwrap_or_else(|e| boot_error(e));
    let normalized = normalized_dtb(raw_dtb);
    let dtb = *normalized.as_ref().unwrap_or(&raw_dtb);
    let args = BootArgs::new(raw_bootargs(dtb));
    power::configure(None, args.get("exit") == Some("semihosting"));

    // Console first, so every later error can be reported.
    if let Some(uart) = find_uart(dtb) {
        if kspace::map_early_device(&image, uart.base, uart.size).is_ok() {
            // SAFETY: the UART's registers were just mapped Device-nGnRE at this address
            // and stay mapped (the final tables map every device region too).
            unsafe { crate::console::init((LINEAR_BASE + uart.base) as usize) };
        }
    }
    crate::console::init_logger(log::LevelFilter::Info);
    kprintln!();
    log::info!(
        "kernel booting: entered at EL{entry_el}, image at PA {load_pa:#x}, DTB at PA {dtb_pa:#x}"
    );

    let info = normalized
        .and_then(BoardInfo::parse)
        .unwrap_or_else(|e| boot_error(BootError::Board(e)));
    power::configure(Some(info.psci), args.get("exit") == Some("semihosting"));

    // Final kernel tables.
    let memory: ArrayVec<PhysRange, 8> = info.memory.iter().filter_map(|r| range(*r)).collect();
    let mut devices: ArrayVec<PhysRange, 40> = ArrayVec::new();
    devices.extend(range(info.uart.reg));
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
    // device and the command line does not ask otherwise (`dma=noncoherent`).
    let all_coherent =
        !info.virtio_mmio.is_empty() && info.virtio_mmio.iter().all(|s| s.dma_coherent);
    crate::buffer::init(
        all_coherent && args.get("dma") != Some("noncoherent"),
        args.get("misuse") != Some("report"),
    );

    // Interrupts and the tick.
    // SAFETY: every GIC region was mapped Device-nGnRE in the linear map above.
    let gic = unsafe { Gic::new(&info.gic, |r: Region| (LINEAR_BASE + r.base) as usize) };
    irq::init(gic, info.timer.virt_irq);
    irq::set_device_polling(args.get("devirq") == Some("poll"));
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
    match crate::gpu::describe() {
        Some((w, h, irq)) => {
            log::info!("  gpu     virtio-gpu scanout 0 {w}x{h}, completion IRQ {irq}")
        }
        None => log::info!("  gpu     none"),
    }
    match crate::blk::describe() {
        Some((sectors, irq)) => log::info!(
            "  blk     virtio-blk {sectors} sectors ({} KiB), completion IRQ {irq}",
            sectors / 2
        ),
        None => log::info!("  blk     none"),
    }
}

/// Let the periodic tick run `n` times, logging each, then return.
pub fn show_ticks(n: u64) {
    let start = irq::ticks();
    let mut seen = start;
    while seen - start < n {
        arch::cpu::wait_for_interrupt();
        let now = irq::ticks();
        if now != seen {
            seen = now;
            log::info!("tick {}", seen - start);
        }
    }
}
