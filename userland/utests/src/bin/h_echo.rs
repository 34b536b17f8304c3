//! Helper for `test_channel`: a channel server on its first handle.
//!
//! Start: handle `i` must be `Handle::new(i, 1)` (`0x1_0001`, `0x1_0002`, ...), else
//! exit 2. If given a second handle (a channel end), it sends `hello` on it and closes
//! it. Then it serves messages on the first handle; the first byte is the command:
//!
//! - `E...`: echo the message back with the first byte changed to `e`, *including* the
//!   handles it carried (they travel back to the sender).
//! - `P` + one channel-end handle: send `pong` on that handle, close it, reply `p`.
//! - `M`: make a channel, send `inside` on one end, reply `m` carrying the other end,
//!   then close the first end.
//! - `Q`: exit 0.
//!
//! Any error: exit 3 (PeerClosed on the first handle: exit 4).

#![no_std]
#![no_main]

use urt::{Error, Handle, RecvError};

fn serve(ch: Handle) -> Result<i32, Error> {
    let mut buf = [0u8; urt::limits::MAX_MSG_BYTES];
    let mut hs = [Handle(0); urt::limits::MAX_MSG_HANDLES];
    loop {
        let (n, m) = match urt::channel_recv(ch, &mut buf, &mut hs) {
            Ok(r) => r,
            Err(RecvError::Other(Error::PeerClosed)) => return Ok(4),
            Err(e) => return Err(e.into()),
        };
        match buf[..n].first() {
            Some(b'E') => {
                buf[0] = b'e';
                urt::channel_send(ch, &buf[..n], &hs[..m])?;
            }
            Some(b'P') if m == 1 => {
                urt::channel_send(hs[0], b"pong", &[])?;
                urt::handle_close(hs[0])?;
                urt::channel_send(ch, b"p", &[])?;
            }
            Some(b'M') => {
                let (keep, give) = urt::channel_create()?;
                urt::channel_send(keep, b"inside", &[])?;
                urt::channel_send(ch, b"m", &[give])?;
                urt::handle_close(keep)?;
            }
            Some(b'Q') => return Ok(0),
            _ => {
                urt::println!("h_echo: bad request ({} bytes, {} handles)", n, m);
                return Ok(3);
            }
        }
    }
}

fn main(args: urt::StartArgs) -> i32 {
    for (i, &h) in args.handles().iter().enumerate() {
        if h != Handle::new(i as u16, 1) {
            urt::println!(
                "h_echo: handle {} is {:#x}, expected {:#x}",
                i,
                h.0,
                Handle::new(i as u16, 1).0
            );
            return 2;
        }
    }
    let Some(ch) = args.get(0) else {
        return 2;
    };
    if let Some(extra) = args.get(1) {
        if urt::channel_send(extra, b"hello", &[]).is_err() || urt::handle_close(extra).is_err() {
            return 3;
        }
    }
    match serve(ch) {
        Ok(code) => code,
        Err(e) => {
            urt::println!("h_echo: {}", e);
            3
        }
    }
}

urt::entry!(main);
