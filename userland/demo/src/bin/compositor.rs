//! `compositor`: owns the display. Composites each frame the client hands over into its
//! scanout buffer, releases the client buffer, and presents the screen through the GPU
//! (see the crate docs for the protocol).

#![no_std]
#![no_main]

use demo::{fail, Failed, Mapped, Msg, OrFail, Screen, CLIENT_BUFFERS};
use urt::{prot, Handle, StartArgs};

const TASK: &str = "compositor";

/// The client's buffers, as the Hello message described them.
struct Client {
    bufs: [Mapped; CLIENT_BUFFERS],
    width: u32,
    height: u32,
}

fn hello(ch: Handle) -> Result<Client, Failed> {
    let mut hs = [Handle(0); CLIENT_BUFFERS];
    let (msg, n) = demo::recv(ch, &mut hs).or_fail(TASK, "waiting for the client")?;
    let Msg::Hello { width, height, .. } = msg else {
        return Err(fail(TASK, "expected hello", format_args!("{msg:?}")));
    };
    if n != CLIENT_BUFFERS {
        return Err(fail(TASK, "hello", format_args!("{n} buffer handles")));
    }
    let map = |h| Mapped::new(h, prot::READ).or_fail(TASK, "mapping a client buffer");
    let bufs = [map(hs[0])?, map(hs[1])?];
    let pixels = u64::from(width) * u64::from(height);
    if bufs.iter().any(|b| (b.len as u64) < pixels) {
        return Err(fail(TASK, "hello", "client buffers smaller than the image"));
    }
    Ok(Client {
        bufs,
        width,
        height,
    })
}

fn run(args: &StartArgs) -> Result<(), Failed> {
    let ch = demo::start_channel(TASK, args)?;
    let mut screen = Screen::new(TASK)?;
    let (width, height) = (screen.width, screen.height);
    let client = hello(ch)?;
    urt::println!(
        "{TASK}: display {width}x{height}, client {}x{} double-buffered",
        client.width,
        client.height
    );

    loop {
        let (msg, _) = demo::recv(ch, &mut []).or_fail(TASK, "waiting for a frame")?;
        let (frame, index) = match msg {
            Msg::Frame { frame, index } if (index as usize) < CLIENT_BUFFERS => (frame, index),
            Msg::Done { .. } => break,
            m => return Err(fail(TASK, "unexpected message", format_args!("{m:?}"))),
        };
        let src = &client.bufs[index as usize];
        // START READ of the client's buffer, then START WRITE of ours, which waits until
        // the device has read the previous present out of it.
        src.read(|px| {
            screen.pixels.write(|out| {
                scene::composite(frame, px, client.width, client.height, out, width, height)
            })
        })
        .or_fail(TASK, "buffer_sync (client)")?
        .or_fail(TASK, "buffer_sync (screen)")?;
        demo::send(ch, Msg::Release { index, frame }, &[]).or_fail(TASK, "sending a release")?;
        screen.present(TASK, frame)?;
    }
    screen.finish(TASK)
}

fn main(args: StartArgs) -> i32 {
    demo::exit_code(run(&args))
}

urt::entry!(main);
