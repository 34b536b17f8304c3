//! `legacy_race`: the legacy demo's scene, drawn by a second thread that never stops
//! writing through the forwarded (FAULT-policy) mapping while the first thread presents
//! it. On a multi-CPU board the writer runs on another CPU at the moment the exporter
//! zaps the mapping's PTEs and cleans the pages for each present: each of its stores
//! either lands before the zap is complete (and is cleaned for the device) or faults,
//! waits for the present's fence, and goes on. The writer composes frame N once in a
//! private buffer, then copies it over the mapping again and again until the presenter
//! moves on (every store writes a pixel's final value, so a race can only show frame N):
//! boot with `init=legacy_race`; the final frame must be pixel-identical to the demo's.
//! It prints how many zaps and faults the presents caused.

#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use demo::{fail, Failed, OrFail, FENCE_TIMEOUT_NS, HOLD_NS};
use urt::{format, legacy, limits, policy, prot, Counters, StartArgs};

const TASK: &str = "legacy_race";

/// The frame the writer draws (0: stop).
static TARGET: AtomicU32 = AtomicU32::new(0);
/// Complete passes the writer has made over `TARGET`'s frame.
static PASSES: AtomicU64 = AtomicU64::new(0);
/// The writer's view of the screen and the client (set before it starts).
static SCREEN: AtomicU64 = AtomicU64::new(0);
static CLIENT: AtomicU64 = AtomicU64::new(0);
/// A CPU-only buffer (mapped directly) the writer composes each frame in.
static CANVAS: AtomicU64 = AtomicU64::new(0);
static DISPLAY: AtomicU64 = AtomicU64::new(0);

/// The writer thread's stack (its only user; only its address is taken here).
#[repr(align(16))]
struct Stack(#[allow(dead_code)] [u8; 64 * 1024]);
static mut WRITER_STACK: Stack = Stack([0; 64 * 1024]);

/// Map a cached buffer of `width` x `height` pixels through the GPU driver (FAULT).
fn forwarded(width: u32, height: u32) -> Result<(urt::Handle, u64), Failed> {
    let size = u64::from(width) * u64::from(height) * 4;
    if size == 0 || size > limits::MAX_BUFFER {
        return Err(fail(TASK, "size", format_args!("{width}x{height}")));
    }
    let buf = urt::buffer_create(size, policy::CACHED).or_fail(TASK, "buffer_create")?;
    let res = urt::gpu_import(buf, width, height, format::B8G8R8X8).or_fail(TASK, "gpu_import")?;
    let offset = urt::gpu_map_offset(res).or_fail(TASK, "gpu_map_offset")?;
    let at = urt::gpu_mmap(offset, size, prot::READ | prot::WRITE, legacy::FAULT)
        .or_fail(TASK, "gpu_mmap")?;
    Ok((res, at as u64))
}

extern "C" fn writer(_: u64) -> ! {
    let display = DISPLAY.load(Ordering::Acquire);
    let (width, height) = ((display >> 32) as u32, display as u32);
    let screen_len = (u64::from(width) * u64::from(height)) as usize;
    let client_len = (scene::CLIENT_WIDTH * scene::CLIENT_HEIGHT) as usize;
    // SAFETY: the first thread mapped the three buffers readable and writable for this
    // task before starting this thread and never touches them afterwards: this thread is
    // their only user.
    let (screen, client, canvas) = unsafe {
        (
            core::slice::from_raw_parts_mut(SCREEN.load(Ordering::Acquire) as *mut u32, screen_len),
            core::slice::from_raw_parts_mut(CLIENT.load(Ordering::Acquire) as *mut u32, client_len),
            core::slice::from_raw_parts_mut(CANVAS.load(Ordering::Acquire) as *mut u32, screen_len),
        )
    };
    let mut composed = 0;
    loop {
        let frame = TARGET.load(Ordering::Acquire);
        if frame == 0 {
            urt::thread_exit(0);
        }
        if composed != frame {
            scene::render_client(frame, client, scene::CLIENT_WIDTH, scene::CLIENT_HEIGHT);
            scene::composite(
                frame,
                client,
                scene::CLIENT_WIDTH,
                scene::CLIENT_HEIGHT,
                canvas,
                width,
                height,
            );
            composed = frame;
        }
        screen.copy_from_slice(canvas);
        // A pass counts for `frame` only if the target did not move meanwhile.
        if TARGET.load(Ordering::Acquire) == frame {
            PASSES.fetch_add(1, Ordering::AcqRel);
        }
    }
}

fn run() -> Result<(), Failed> {
    let (width, height) = urt::gpu_display_info().or_fail(TASK, "gpu_display_info")?;
    let (screen_res, screen) = forwarded(width, height)?;
    let (_client_res, client) = forwarded(scene::CLIENT_WIDTH, scene::CLIENT_HEIGHT)?;
    let canvas_buf = urt::buffer_create(u64::from(width) * u64::from(height) * 4, policy::CACHED)
        .or_fail(TASK, "buffer_create canvas")?;
    let canvas =
        urt::buffer_map(canvas_buf, prot::READ | prot::WRITE).or_fail(TASK, "buffer_map")?;
    SCREEN.store(screen, Ordering::Release);
    CLIENT.store(client, Ordering::Release);
    CANVAS.store(canvas as u64, Ordering::Release);
    DISPLAY.store(
        u64::from(width) << 32 | u64::from(height),
        Ordering::Release,
    );
    TARGET.store(1, Ordering::Release);
    let top = core::ptr::addr_of_mut!(WRITER_STACK) as u64 + 64 * 1024;
    // SAFETY: `writer` ends with thread_exit and has the stack to itself.
    let thread = unsafe { urt::thread_create(writer, top, 0) }.or_fail(TASK, "thread_create")?;
    let before = counters()?;
    let mut last = None;
    for frame in 1..=scene::FRAMES {
        TARGET.store(frame, Ordering::Release);
        PASSES.store(0, Ordering::Release);
        // Present only once the writer has drawn the whole frame at least once; it
        // goes on redrawing the same pixels during the present.
        while PASSES.load(Ordering::Acquire) == 0 {
            urt::yield_now();
        }
        let fence =
            urt::gpu_present(screen_res, 0, 0, width, height).or_fail(TASK, "gpu_present")?;
        urt::fence_wait(fence, FENCE_TIMEOUT_NS).or_fail(TASK, "fence_wait")?;
        last = Some(fence);
    }
    TARGET.store(0, Ordering::Release);
    urt::wait(thread).or_fail(TASK, "wait writer")?;
    let after = counters()?;
    urt::println!(
        "{TASK}: {} presents while a writer thread wrote the mapping: {} zaps, {} faults, \
         {} CPUs",
        scene::FRAMES,
        after.zaps - before.zaps,
        after.faults - before.faults,
        urt::stats(urt::Stat::Cpus).or_fail(TASK, "stats")?
    );
    if last.is_none() {
        return Err(fail(TASK, "done", "no frame was presented"));
    }
    urt::println!("demo: final frame {} presented", scene::FRAMES);
    urt::sleep_ns(HOLD_NS).or_fail(TASK, "sleep")?;
    Ok(())
}

fn counters() -> Result<Counters, Failed> {
    urt::counters().or_fail(TASK, "counters")
}

fn main(_args: StartArgs) -> i32 {
    demo::exit_code(run())
}

urt::entry!(main);
