//! The capture pipeline's protocol (`init=pipeline`): a camera on virtio-blk, a CPU
//! filter, the display on virtio-gpu.
//!
//! - `pipeline` (the launcher): creates a channel, spawns `filter` and `capture` with one
//!   end each, waits for both, exits 0 if both did.
//! - `capture`: checks the disk (`blk_info`), creates [`CAPTURE_BUFFERS`] cached buffers
//!   of [`FRAME_BYTES`](scene::capture::FRAME_BYTES) and sends read-only duplicates
//!   (`MAP_READ | SHARE`) of them to the filter once ([`PipeMsg::Hello`]). For each frame
//!   `n` in `1..=PIPELINE_FRAMES` it takes buffer `(n - 1) % 2`, waits until the filter
//!   has released it, has the device write disk frame `n` into it (`blk_read` of
//!   [`SECTORS_PER_FRAME`](scene::capture::SECTORS_PER_FRAME) sectors at
//!   [`frame_sector(n)`](scene::capture::frame_sector)) and at once sends the buffer's
//!   index with the read's fence ([`PipeMsg::Frame`]), without waiting for the device.
//!   So the device writes frame `n + 1` into the other buffer while the filter works on
//!   frame `n`. It never holds a START on a capture buffer (it never maps them), and it
//!   only reads into a buffer the filter has released, that is after the filter's END
//!   READ: the misuse detector refuses (`Busy`) a device write into a buffer with a
//!   START open. At the end it waits for the last releases and sends [`PipeMsg::Done`].
//! - `filter`: creates its scanout buffer (display-sized, imported as a GPU resource)
//!   and its output buffer (a filtered frame), and maps the capture buffers read-only.
//!   For each [`PipeMsg::Frame`]: `fence_wait` on the fence (a failed read shows here as
//!   `DeviceError`), START READ of exactly the captured bytes `[0, FRAME_BYTES)` of the
//!   capture buffer (which would itself wait for the fence, then invalidates that range:
//!   DC CIVAC, as the handle has no `MAP_WRITE`), `scene::capture::filter` into the
//!   output buffer under START / END WRITE, END READ, [`PipeMsg::Release`] of the capture
//!   buffer; then START READ of the output buffer and START WRITE of the screen (which
//!   waits for the device to finish reading the previous present), `pipeline_screen`,
//!   END WRITE, END READ, `gpu_present`, and a pause of
//!   [`FRAME_INTERVAL_NS`](crate::FRAME_INTERVAL_NS). After [`PipeMsg::Done`] it waits
//!   for the last present's fence, prints `demo: final frame N presented` (the line xtask
//!   takes its screendump at), holds the image 1.5 s and exits 0.
//!
//! Messages are five little-endian words: four `u32` `[kind, a, b, c]` and a `u64`.

use crate::Protocol;
use urt::{Error, Handle};

/// Capture buffers, used in turn.
pub const CAPTURE_BUFFERS: usize = 2;

/// A message between capture and filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PipeMsg {
    /// Capture -> filter, once, with the read-only handles of the [`CAPTURE_BUFFERS`]
    /// capture buffers: the frame size in pixels and the number of frames to come.
    Hello {
        /// Width in pixels (rows are `width * 4` bytes apart).
        width: u32,
        /// Height in pixels.
        height: u32,
        /// Frames that will come.
        frames: u32,
    },
    /// Capture -> filter: the device is writing frame `frame` into buffer `index`; the
    /// data is in memory once `fence` has signalled.
    Frame {
        /// Frame number (from 1).
        frame: u32,
        /// Which buffer (index into the Hello handles).
        index: u32,
        /// The `blk_read`'s fence.
        fence: u64,
    },
    /// Filter -> capture: buffer `index` (which held `frame`) is no longer read (END READ
    /// done), so the device may write it again.
    Release {
        /// Which buffer.
        index: u32,
        /// The frame it held.
        frame: u32,
    },
    /// Capture -> filter: no more frames; `last` was the last one.
    Done {
        /// The last frame sent.
        last: u32,
    },
}

impl PipeMsg {
    const HELLO: u32 = 1;
    const FRAME: u32 = 2;
    const RELEASE: u32 = 3;
    const DONE: u32 = 4;

    /// The wire form.
    pub fn encode(self) -> [u8; 24] {
        let (w, d) = match self {
            PipeMsg::Hello {
                width,
                height,
                frames,
            } => ([Self::HELLO, width, height, frames], 0),
            PipeMsg::Frame {
                frame,
                index,
                fence,
            } => ([Self::FRAME, frame, index, 0], fence),
            PipeMsg::Release { index, frame } => ([Self::RELEASE, index, frame, 0], 0),
            PipeMsg::Done { last } => ([Self::DONE, last, 0, 0], 0),
        };
        let mut b = [0u8; 24];
        for (chunk, v) in b.chunks_exact_mut(4).zip(w) {
            chunk.copy_from_slice(&v.to_le_bytes());
        }
        b[16..].copy_from_slice(&d.to_le_bytes());
        b
    }

    /// Parse the wire form; `None` for anything else.
    pub fn decode(b: &[u8]) -> Option<PipeMsg> {
        if b.len() != 24 {
            return None;
        }
        let mut w = [0u32; 4];
        for (v, chunk) in w.iter_mut().zip(b[..16].chunks_exact(4)) {
            *v = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        let mut d = [0u8; 8];
        d.copy_from_slice(&b[16..]);
        let d = u64::from_le_bytes(d);
        Some(match (w, d) {
            ([Self::HELLO, width, height, frames], 0) => PipeMsg::Hello {
                width,
                height,
                frames,
            },
            ([Self::FRAME, frame, index, 0], fence) => PipeMsg::Frame {
                frame,
                index,
                fence,
            },
            ([Self::RELEASE, index, frame, 0], 0) => PipeMsg::Release { index, frame },
            ([Self::DONE, last, 0, 0], 0) => PipeMsg::Done { last },
            _ => return None,
        })
    }
}

/// Send `msg` with `handles` (moved) on `ch`.
pub fn send(ch: Handle, msg: PipeMsg, handles: &[Handle]) -> Result<(), Error> {
    urt::channel_send(ch, &msg.encode(), handles)
}

/// Receive the next message on `ch` (blocking), with up to `handles.len()` handles;
/// returns it and how many handles came with it. A message that is not a [`PipeMsg`] is
/// `InvalidArgument`.
pub fn recv(ch: Handle, handles: &mut [Handle]) -> Result<(PipeMsg, usize), Error> {
    let mut b = [0u8; 24];
    let (n, m) = urt::channel_recv(ch, &mut b, handles)?;
    let msg = PipeMsg::decode(&b[..n]).ok_or(Error::InvalidArgument)?;
    Ok((msg, m))
}

impl Protocol for PipeMsg {
    fn recv(ch: Handle, handles: &mut [Handle]) -> Result<(PipeMsg, usize), Error> {
        recv(ch, handles)
    }

    fn released(&self) -> Option<u32> {
        match *self {
            PipeMsg::Release { index, .. } => Some(index),
            _ => None,
        }
    }
}
