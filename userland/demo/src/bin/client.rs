//! `client`: renders the scene into two cached buffers in turn and hands each finished
//! frame to the compositor (see the crate docs for the protocol).

#![no_std]
#![no_main]

use demo::{Failed, Mapped, Msg, OrFail, Protocol, CLIENT_BUFFERS};
use scene::{CLIENT_HEIGHT, CLIENT_WIDTH, FRAMES};
use urt::{policy, prot, Handle, Rights, StartArgs};

const TASK: &str = "client";

fn run(args: &StartArgs) -> Result<(), Failed> {
    let ch = demo::start_channel(TASK, args)?;
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
        Msg::await_free(TASK, ch, &mut busy, index)?;
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
    Msg::await_all(TASK, ch, &mut busy)?;
    demo::send(ch, Msg::Done { last: FRAMES }, &[]).or_fail(TASK, "sending done")
}

fn main(args: StartArgs) -> i32 {
    demo::exit_code(run(&args))
}

urt::entry!(main);
