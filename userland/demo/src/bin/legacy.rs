//! `legacy`: the same scene as the demo, drawn the old way. It maps its buffers through
//! the GPU driver (`gpu_map_offset` + `gpu_mmap`, forwarded to the buffer manager), with
//! no `buffer_sync` anywhere: the exporter keeps the mapping coherent by faulting pages
//! in and zapping and cleaning them at each present. Boot it with `init=legacy`; the
//! final frame must be pixel-identical to the demo's.

#![no_std]
#![no_main]

use demo::{fail, Failed, OrFail, FENCE_TIMEOUT_NS, HOLD_NS};
use urt::{format, legacy, limits, policy, prot, Handle, StartArgs};

const TASK: &str = "legacy";

/// Create a cached buffer of `width` x `height` pixels, import it as a GPU resource and
/// map it through the driver with the `FAULT` policy.
fn forwarded(width: u32, height: u32) -> Result<(Handle, &'static mut [u32]), Failed> {
    let size = u64::from(width) * u64::from(height) * 4;
    if size == 0 || size > limits::MAX_BUFFER {
        return Err(fail(TASK, "size", format_args!("{width}x{height}")));
    }
    let buf = urt::buffer_create(size, policy::CACHED).or_fail(TASK, "buffer_create")?;
    let res = urt::gpu_import(buf, width, height, format::B8G8R8X8).or_fail(TASK, "gpu_import")?;
    let offset = urt::gpu_map_offset(res).or_fail(TASK, "gpu_map_offset")?;
    let at = urt::gpu_mmap(offset, size, prot::READ | prot::WRITE, legacy::FAULT)
        .or_fail(TASK, "gpu_mmap")?;
    // SAFETY: the kernel mapped `size` bytes readable and writable at `at` for this task
    // only, 4-byte aligned (page aligned), and nothing else in this program aliases it;
    // it stays mapped until the task exits.
    let pixels = unsafe { core::slice::from_raw_parts_mut(at as *mut u32, (size / 4) as usize) };
    Ok((res, pixels))
}

fn run() -> Result<(), Failed> {
    let (width, height) = urt::gpu_display_info().or_fail(TASK, "gpu_display_info")?;
    let (screen_res, screen) = forwarded(width, height)?;
    let (_client_res, client) = forwarded(scene::CLIENT_WIDTH, scene::CLIENT_HEIGHT)?;
    urt::println!("{TASK}: display {width}x{height}, drawing through forwarded (legacy) mappings");
    let mut last = None;
    for frame in 1..=scene::FRAMES {
        scene::render_client(frame, client, scene::CLIENT_WIDTH, scene::CLIENT_HEIGHT);
        scene::composite(
            frame,
            client,
            scene::CLIENT_WIDTH,
            scene::CLIENT_HEIGHT,
            screen,
            width,
            height,
        );
        last =
            Some(urt::gpu_present(screen_res, 0, 0, width, height).or_fail(TASK, "gpu_present")?);
    }
    if let Some(f) = last {
        urt::fence_wait(f, FENCE_TIMEOUT_NS).or_fail(TASK, "fence_wait")?;
    }
    urt::println!("demo: final frame {} presented", scene::FRAMES);
    urt::sleep_ns(HOLD_NS).or_fail(TASK, "sleep")?;
    Ok(())
}

fn main(_args: StartArgs) -> i32 {
    demo::exit_code(run())
}

urt::entry!(main);
