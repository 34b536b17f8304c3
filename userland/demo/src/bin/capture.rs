//! `capture`: the camera side of the capture pipeline. Has the virtio-blk device write
//! each frame into one of two buffers in turn and hands buffer and fence to the filter
//! without waiting for the device (see `demo::pipeline` for the protocol).

#![no_std]
#![no_main]

use demo::pipeline::{self, PipeMsg, CAPTURE_BUFFERS};
use demo::{fail, Failed, OrFail, Protocol};
use scene::capture::{
    frame_sector, CAPTURE_H, CAPTURE_W, FRAME_BYTES, PIPELINE_FRAMES, SECTORS_PER_FRAME,
    SECTOR_SIZE,
};
use urt::{policy, Handle, Rights, StartArgs};

const TASK: &str = "capture";

fn run(args: &StartArgs) -> Result<(), Failed> {
    let ch = demo::start_channel(TASK, args)?;
    let (sectors, sector_size) = urt::blk_info().or_fail(TASK, "blk_info")?;
    let need = frame_sector(u64::from(PIPELINE_FRAMES) + 1);
    if sector_size != SECTOR_SIZE || sectors < need {
        return Err(fail(
            TASK,
            "disk",
            format_args!(
                "{sectors} sectors of {sector_size} bytes; need {need} of {SECTOR_SIZE} \
                 (boot with the capture disk: cargo xtask run --pipeline)"
            ),
        ));
    }
    let mut bufs = [Handle(0); CAPTURE_BUFFERS];
    let mut shared = [Handle(0); CAPTURE_BUFFERS];
    for (buf, ro) in bufs.iter_mut().zip(shared.iter_mut()) {
        *buf = urt::buffer_create(FRAME_BYTES, policy::CACHED).or_fail(TASK, "buffer_create")?;
        *ro = urt::handle_dup(*buf, Rights::MAP_READ.with(Rights::SHARE))
            .or_fail(TASK, "handle_dup")?;
    }
    let hello = PipeMsg::Hello {
        width: CAPTURE_W,
        height: CAPTURE_H,
        frames: PIPELINE_FRAMES,
    };
    pipeline::send(ch, hello, &shared).or_fail(TASK, "sending the buffers")?;

    let mut busy = [false; CAPTURE_BUFFERS];
    for frame in 1..=PIPELINE_FRAMES {
        let index = (frame - 1) as usize % CAPTURE_BUFFERS;
        PipeMsg::await_free(TASK, ch, &mut busy, index)?;
        let sector = frame_sector(u64::from(frame));
        let fence =
            urt::blk_read(bufs[index], 0, sector, SECTORS_PER_FRAME).or_fail(TASK, "blk_read")?;
        let msg = PipeMsg::Frame {
            frame,
            index: index as u32,
            fence: fence.0,
        };
        pipeline::send(ch, msg, &[]).or_fail(TASK, "sending a frame")?;
        busy[index] = true;
    }
    PipeMsg::await_all(TASK, ch, &mut busy)?;
    let done = PipeMsg::Done {
        last: PIPELINE_FRAMES,
    };
    pipeline::send(ch, done, &[]).or_fail(TASK, "sending done")
}

fn main(args: StartArgs) -> i32 {
    demo::exit_code(run(&args))
}

urt::entry!(main);
