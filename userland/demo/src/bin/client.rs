//! `client`: renders the scene into two cached buffers in turn and hands each finished
//! frame to the compositor (see the crate docs for the protocol).

#![no_std]
#![no_main]

use demo::{fail, Failed, Mapped, Msg, OrFail, CLIENT_BUFFERS};
use scene::{CLIENT_HEIGHT, CLIENT_WIDTH, FRAMES};
use urt::{policy, prot, Handle, Rights, StartArgs};

const TASK: &str = "client";

/// Wait for the compositor's next release; mark that buffer free.
fn await_release(ch: Handle, busy: &mut [bool; CLIENT_BUFFERS]) -> Result<(), Failed> {
    match demo::recv(ch, &mut []).or_fail(TASK, "waiting for a release")? {
        (Msg::Release { index, .. }, 0) if (index as usize) < CLIENT_BUFFERS => {
            busy[index as usize] = false;
            Ok(())
        }
        (m, _) => Err(fail(TASK, "expected a release", format_args!("{m:?}"))),
    }
}

fn run(args: &StartArgs) -> Result<(), Failed> {
    let ch = args
        .get(0)
        .ok_or_else(|| fail(TASK, "start handles", "no channel"))?;
    let size = u64::from(CLIENT_WIDTH) * u64::from(CLIENT_HEIGHT) * 4;
    let mut bufs = [None; CLIENT_BUFFERS];
    let mut shared = [Handle(0); CLIENT_BUFFERS];
    for (buf, ro) in bufs.iter_mut().zip(shared.iter_mut()) {
        let h = urt::buffer_create(size, policy::CACHED).or_fail(TASK, "buffer_create")?;
        *buf = Some(Mapped::new(h, prot::READ | prot::WRITE).or_fail(TASK, "buffer_map")?);
        *ro =
            urt::handle_dup(h, Rights::MAP_READ.with(Rights::SHARE)).or_fail(TASK, "handle_dup")?;
    }
    let hello = Msg::Hello {
        width: CLIENT_WIDTH,
        height: CLIENT_HEIGHT,
        frames: FRAMES,
    };
    demo::send(ch, hello, &shared).or_fail(TASK, "sending the buffers")?;

    let mut busy = [false; CLIENT_BUFFERS];
    for frame in 1..=FRAMES {
        let index = (frame - 1) as usize % CLIENT_BUFFERS;
        while busy[index] {
            await_release(ch, &mut busy)?;
        }
        let buf = bufs[index].as_mut().expect("mapped above");
        buf.write(|px| scene::render_client(frame, px, CLIENT_WIDTH, CLIENT_HEIGHT))
            .or_fail(TASK, "buffer_sync")?;
        let msg = Msg::Frame {
            frame,
            index: index as u32,
        };
        demo::send(ch, msg, &[]).or_fail(TASK, "sending a frame")?;
        busy[index] = true;
    }
    while busy.iter().any(|&b| b) {
        await_release(ch, &mut busy)?;
    }
    demo::send(ch, Msg::Done { last: FRAMES }, &[]).or_fail(TASK, "sending done")
}

fn main(args: StartArgs) -> i32 {
    match run(&args) {
        Ok(()) => 0,
        Err(Failed) => 1,
    }
}

urt::entry!(main);
