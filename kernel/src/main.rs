//! # The kernel
//!
//! A no_std AArch64 microkernel for QEMU `virt` that manages buffer objects shared between
//! a virtio-gpu device and user tasks, with explicit cache maintenance at every hand-over.
//!
//! ## Layers
//! - `arch` (here `arch::aarch64`): boot assembly, exception vectors, MMU switch-over,
//!   cache maintenance instructions, PMU cycle counter. The only place that names
//!   AArch64 instructions or system registers.
//! - `memory`: the virtual layout, the kernel's tables (built with the portable
//!   `mm::pgtable` builder), physical frames and the kernel heap.
//! - `console`, `irq`, `power`: console and logger, interrupt dispatch and the periodic
//!   tick, power-off / exit codes.
//! - The `platform` crate supplies everything board-specific: FDT discovery and the PL011,
//!   GIC, timer, PSCI, semihosting drivers. Nothing here knows QEMU's addresses.
//!
//! ## Boot flow
//! 1. `boot.S`: Image header; drop EL2 -> EL1 if needed; zero .bss; early tables
//!    (identity + linear map of the image's and DTB's 1 GiB blocks, image at KIMAGE_BASE);
//!    MMU on; jump to the link address; `kernel_main(dtb_pa, load_pa, entry_el)`.
//!    A loader that breaks the boot protocol (entry at EL3, an Image not 2 MiB aligned)
//!    is told so through semihosting and the run ends with status 4.
//! 2. `kernel_main` (`boot`): cycle counter on; the console is semihosting until a UART
//!    is known; check that x0 points at a readable DTB, copy it into canonical form,
//!    find the UART it names (`stdout-path`, else the first enabled PL011) and map it
//!    into the boot tables so errors can be printed; parse the whole FDT (a bad or
//!    incomplete DTB, or one outside RAM, stops here with a message naming what is
//!    wrong and exit status 4).
//! 3. Final kernel tables: linear map of RAM (RW, XN), the image by section (text RX,
//!    rodata RO, data RW+XN, guard page under the stack), devices Device-nGnRE; switch.
//! 4. Heap and frame allocator over RAM minus image, DTB, initrd and reservations.
//! 5. GIC and the timer tick; PCI enumeration behind the FDT's ECAM hosts
//!    (`drivers::pci`; MSI-X through the GICv3 ITS, else INTx); the GPU and block
//!    drivers on virtio-mmio or virtio-pci; report
//!    the machine; wait (bounded) for the first tick; run (or, in test builds, run
//!    tests); power off through PSCI.

#![no_std]
#![no_main]
#![forbid(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

extern crate alloc;

mod arch;
mod blk;
mod boot;
mod buffer;
mod console;
mod counters;
mod drivers;
mod fences;
mod gpu;
mod irq;
#[cfg(feature = "ktest")]
mod ktest;
mod latency;
mod memory;
mod power;
mod smp;
mod syscall;
mod task;

use core::fmt::Write;

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let mut out = console::PanicWriter;
    let _ = write!(out, "\n*** KERNEL PANIC");
    if let Some(loc) = info.location() {
        let _ = write!(out, " at {}:{}:{}", loc.file(), loc.line(), loc.column());
    }
    let _ = writeln!(out, ": {} ***", info.message());
    power::fail(power::ExitCode::Panic)
}

/// First Rust code, called by `boot.S` on the boot stack with the MMU on.
#[no_mangle]
extern "C" fn kernel_main(dtb_pa: u64, load_pa: u64, entry_el: u64) -> ! {
    smp::init_boot_cpu();
    let machine = boot::bring_up(dtb_pa, load_pa, entry_el);
    // Before any task: the hand-written syscall path's view of the kernel's types.
    syscall::fast_start::check_layout();
    smp::start_secondaries(&machine.info, &machine.args, |va| machine.image.pa_of(va));
    boot::report(&machine);
    arch::cpu::enable_irqs();

    #[cfg(feature = "ktest")]
    if let Some(which) = machine.args.get("ktest") {
        ktest::run(which, &machine);
    }

    let ticks = machine
        .args
        .get("ticks")
        .and_then(|t| t.parse().ok())
        .unwrap_or(5u64);
    boot::show_ticks(&machine, ticks);

    // User space: the test sequence (`utest=`) or the init program (`init=`, default
    // "init"), if the loader gave us an initrd.
    task::initrd::init(machine.info.initrd);
    let harness = match machine.args.get("utest") {
        Some(sel) => {
            boot::require_initrd(&machine, "utest=");
            task::harness::Harness::tests(sel)
        }
        None => {
            let program = machine.args.get("init").unwrap_or("init");
            boot::require_initrd(&machine, "init=");
            if machine.info.initrd.is_none() {
                log::info!("no initrd and no init=: nothing to run");
                power::power_off()
            }
            task::harness::Harness::Init {
                program: program.into(),
                id: None,
            }
        }
    };
    arch::cpu::disable_irqs();
    task::init(harness);
    task::run()
}
