//! `filter`: the display side of the capture pipeline. Reads each captured frame once
//! the device has written it, filters it on the CPU into its output buffer, releases the
//! capture buffer, and composes and presents the screen (see `demo::pipeline` for the
//! protocol).

#![no_std]
#![no_main]

use demo::pipeline::{self, PipeMsg, CAPTURE_BUFFERS};
use demo::{fail, Failed, Mapped, OrFail, Screen, FENCE_TIMEOUT_NS};
use scene::capture::{CAPTURE_H, CAPTURE_W, FRAME_BYTES};
use urt::{policy, prot, Fence, Handle, StartArgs};

const TASK: &str = "filter";

/// The capture buffers, as the Hello message handed them over.
fn hello(ch: Handle) -> Result<[Mapped; CAPTURE_BUFFERS], Failed> {
    let mut hs = [Handle(0); CAPTURE_BUFFERS];
    let (msg, n) = pipeline::recv(ch, &mut hs).or_fail(TASK, "waiting for the capture task")?;
    let PipeMsg::Hello { width, height, .. } = msg else {
        return Err(fail(TASK, "expected hello", format_args!("{msg:?}")));
    };
    if n != CAPTURE_BUFFERS || (width, height) != (CAPTURE_W, CAPTURE_H) {
        return Err(fail(
            TASK,
            "hello",
            format_args!("{n} buffers of {width}x{height}"),
        ));
    }
    let map = |h| Mapped::new(h, prot::READ).or_fail(TASK, "mapping a capture buffer");
    let bufs = [map(hs[0])?, map(hs[1])?];
    if bufs.iter().any(|b| (b.len as u64) * 4 < FRAME_BYTES) {
        return Err(fail(TASK, "hello", "capture buffers smaller than a frame"));
    }
    Ok(bufs)
}

fn run(args: &StartArgs) -> Result<(), Failed> {
    let ch = demo::start_channel(TASK, args)?;
    let mut screen = Screen::new(TASK)?;
    let (width, height) = (screen.width, screen.height);
    let out = urt::buffer_create(FRAME_BYTES, policy::CACHED).or_fail(TASK, "buffer_create")?;
    let mut filtered = Mapped::new(out, prot::READ | prot::WRITE).or_fail(TASK, "buffer_map")?;
    let captures = hello(ch)?;
    urt::println!(
        "{TASK}: display {width}x{height}, capture {CAPTURE_W}x{CAPTURE_H} from virtio-blk, \
         double-buffered"
    );

    loop {
        let (msg, _) = pipeline::recv(ch, &mut []).or_fail(TASK, "waiting for a frame")?;
        let (frame, index, fence) = match msg {
            PipeMsg::Frame {
                frame,
                index,
                fence,
            } if (index as usize) < CAPTURE_BUFFERS => (frame, index, Fence(fence)),
            PipeMsg::Done { .. } => break,
            m => return Err(fail(TASK, "unexpected message", format_args!("{m:?}"))),
        };
        urt::fence_wait(fence, FENCE_TIMEOUT_NS).or_fail(TASK, "fence_wait (capture)")?;
        // START READ of exactly the captured bytes: invalidates them, so the CPU reads
        // what the device wrote. The filter writes its output buffer under START/END
        // WRITE inside it.
        captures[index as usize]
            .read_range(FRAME_BYTES, |px| {
                filtered.write(|o| scene::capture::filter(frame, px, o, CAPTURE_W, CAPTURE_H))
            })
            .or_fail(TASK, "buffer_sync (capture)")?
            .or_fail(TASK, "buffer_sync (output)")?;
        let release = PipeMsg::Release { index, frame };
        pipeline::send(ch, release, &[]).or_fail(TASK, "sending a release")?;
        // START WRITE of the screen waits until the device has read the last present.
        filtered
            .read_range(FRAME_BYTES, |f| {
                screen
                    .pixels
                    .write(|o| scene::capture::pipeline_screen(frame, f, o, width, height))
            })
            .or_fail(TASK, "buffer_sync (output)")?
            .or_fail(TASK, "buffer_sync (screen)")?;
        screen.present(TASK, frame)?;
    }
    screen.finish(TASK)
}

fn main(args: StartArgs) -> i32 {
    demo::exit_code(run(&args))
}

urt::entry!(main);
