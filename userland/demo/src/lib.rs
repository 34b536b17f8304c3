//! The demo's three programs and the protocol between them.
//!
//! - `demo` (the launcher, run as `init=demo`): creates a channel, spawns `compositor`
//!   and `client` with one end each, waits for both, exits 0 if both did.
//! - `client`: creates two cached buffers of [`scene::CLIENT_WIDTH`] x
//!   [`scene::CLIENT_HEIGHT`] pixels and sends read-only duplicates (`MAP_READ | SHARE`)
//!   of both to the compositor once ([`Msg::Hello`]). Then for each frame `1..=FRAMES` it
//!   takes buffer `(frame - 1) % 2`, waits until the compositor has released it (if it
//!   still holds it), renders the frame into it between `buffer_sync` START WRITE and
//!   END WRITE, and sends [`Msg::Frame`]. At the end it waits for the last releases and
//!   sends [`Msg::Done`].
//! - `compositor`: asks the GPU for the display size, creates its scanout buffer of that
//!   size and imports it as a GPU resource; maps both client buffers read-only. For each
//!   [`Msg::Frame`] it brackets the client buffer with START READ / END READ and its
//!   scanout buffer with START WRITE / END WRITE (the START WRITE waits for the device to
//!   finish reading the previous present), composites, sends [`Msg::Release`] and
//!   presents the whole screen, keeping the fence; then it sleeps
//!   [`FRAME_INTERVAL_NS`] (pacing). After [`Msg::Done`] it waits for the
//!   last fence, prints `demo: final frame N presented`, sleeps 1.5 s (the host takes its
//!   screendump then) and exits 0.
//!
//! Messages are four little-endian `u32` words `[kind, a, b, c]`.
//!
//! The capture pipeline (`init=pipeline`: `pipeline`, `capture`, `filter`) has its own
//! protocol, in [`pipeline`].

#![no_std]
#![forbid(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

pub mod pipeline;

use core::fmt::Display;
use urt::{Error, Handle};

/// Buffers the client renders into, in turn.
pub const CLIENT_BUFFERS: usize = 2;

/// How long the compositor waits for the last present's fence.
pub const FENCE_TIMEOUT_NS: u64 = 5_000_000_000;

/// The compositor's frame pacing: after each present it sleeps this long (about 40
/// frames a second with the 10 ms tick), so that the animation can be watched in a
/// window (`cargo xtask run --window`).
pub const FRAME_INTERVAL_NS: u64 = 20_000_000;

/// How long the compositor keeps the final image on screen before exiting.
pub const HOLD_NS: u64 = 1_500_000_000;

/// A message between client and compositor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Msg {
    /// Client -> compositor, once, carrying the read-only handles of the client's
    /// [`CLIENT_BUFFERS`] buffers: their size in pixels and the number of frames to come.
    Hello {
        /// Width in pixels (rows are `width * 4` bytes apart).
        width: u32,
        /// Height in pixels.
        height: u32,
        /// Frames the client will send.
        frames: u32,
    },
    /// Client -> compositor: frame `frame` is complete (END WRITE done) in buffer `index`.
    Frame {
        /// Frame number (from 1).
        frame: u32,
        /// Which buffer (index into the Hello handles).
        index: u32,
    },
    /// Compositor -> client: buffer `index` (which held `frame`) is no longer read.
    Release {
        /// Which buffer.
        index: u32,
        /// The frame it held.
        frame: u32,
    },
    /// Client -> compositor: no more frames; `last` was the last one.
    Done {
        /// The last frame sent.
        last: u32,
    },
}

impl Msg {
    const HELLO: u32 = 1;
    const FRAME: u32 = 2;
    const RELEASE: u32 = 3;
    const DONE: u32 = 4;

    /// The wire form.
    pub fn encode(self) -> [u8; 16] {
        let w = match self {
            Msg::Hello {
                width,
                height,
                frames,
            } => [Self::HELLO, width, height, frames],
            Msg::Frame { frame, index } => [Self::FRAME, frame, index, 0],
            Msg::Release { index, frame } => [Self::RELEASE, index, frame, 0],
            Msg::Done { last } => [Self::DONE, last, 0, 0],
        };
        let mut b = [0u8; 16];
        for (chunk, v) in b.chunks_exact_mut(4).zip(w) {
            chunk.copy_from_slice(&v.to_le_bytes());
        }
        b
    }

    /// Parse the wire form; `None` for anything else.
    pub fn decode(b: &[u8]) -> Option<Msg> {
        if b.len() != 16 {
            return None;
        }
        let mut w = [0u32; 4];
        for (v, chunk) in w.iter_mut().zip(b.chunks_exact(4)) {
            *v = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        Some(match w {
            [Self::HELLO, width, height, frames] => Msg::Hello {
                width,
                height,
                frames,
            },
            [Self::FRAME, frame, index, 0] => Msg::Frame { frame, index },
            [Self::RELEASE, index, frame, 0] => Msg::Release { index, frame },
            [Self::DONE, last, 0, 0] => Msg::Done { last },
            _ => return None,
        })
    }
}

/// Something failed (already reported on the console).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failed;

/// Report a failure as `<task>: <what>: <error>` and return [`Failed`].
pub fn fail(task: &str, what: &str, e: impl Display) -> Failed {
    urt::println!("{task}: {what}: {e}");
    Failed
}

/// `.or_fail(task, what)`: turn an error into a reported [`Failed`].
pub trait OrFail<T> {
    /// Report `Err(e)` as `<task>: <what>: <e>`.
    fn or_fail(self, task: &str, what: &str) -> Result<T, Failed>;
}

impl<T, E: Display> OrFail<T> for Result<T, E> {
    fn or_fail(self, task: &str, what: &str) -> Result<T, Failed> {
        self.map_err(|e| fail(task, what, e))
    }
}

/// Send `msg` with `handles` (moved) on `ch`.
pub fn send(ch: Handle, msg: Msg, handles: &[Handle]) -> Result<(), Error> {
    urt::channel_send(ch, &msg.encode(), handles)
}

/// Receive the next message on `ch` (blocking), with up to `handles.len()` handles;
/// returns it and how many handles came with it. A message that is not a [`Msg`] is
/// `InvalidArgument`.
pub fn recv(ch: Handle, handles: &mut [Handle]) -> Result<(Msg, usize), Error> {
    let mut b = [0u8; 16];
    let (n, m) = urt::channel_recv(ch, &mut b, handles)?;
    let msg = Msg::decode(&b[..n]).ok_or(Error::InvalidArgument)?;
    Ok((msg, m))
}

/// A buffer mapped into this task: its handle, the address of the mapping and its
/// length in pixels.
#[derive(Clone, Copy, Debug)]
pub struct Mapped {
    /// The buffer handle.
    pub handle: Handle,
    /// Start of the direct mapping.
    pub ptr: *mut u32,
    /// Pixels (4-byte words) the mapping holds.
    pub len: usize,
}

impl Mapped {
    /// Map `handle` with `prot` ([`urt::prot`]); the whole buffer.
    pub fn new(handle: Handle, prot: u64) -> Result<Mapped, Error> {
        let size = urt::buffer_info(handle)?.size;
        let ptr = urt::buffer_map(handle, prot)?;
        Ok(Mapped {
            handle,
            ptr: ptr.cast(),
            len: (size / 4) as usize,
        })
    }

    /// Run `f` on the pixels between `buffer_sync` START READ and END READ.
    pub fn read<R>(&self, f: impl FnOnce(&[u32]) -> R) -> Result<R, Error> {
        use urt::sync::{END, READ, START};
        urt::buffer_sync(self.handle, START | READ, 0, 0)?;
        // SAFETY: `ptr` is our live mapping of `len` words (page-aligned, so aligned for
        // u32) that is never unmapped. The slice lives only inside the START READ / END
        // READ bracket, during which, by the demo's protocol, no task writes the buffer.
        let r = f(unsafe { core::slice::from_raw_parts(self.ptr, self.len) });
        urt::buffer_sync(self.handle, END | READ, 0, 0)?;
        Ok(r)
    }

    /// Run `f` on the first `bytes` bytes (whole pixels) between `buffer_sync` START READ
    /// and END READ of exactly that range.
    pub fn read_range<R>(&self, bytes: u64, f: impl FnOnce(&[u32]) -> R) -> Result<R, Error> {
        use urt::sync::{END, READ, START};
        let words = (bytes / 4) as usize;
        if words > self.len {
            return Err(Error::OutOfRange);
        }
        urt::buffer_sync(self.handle, START | READ, 0, bytes)?;
        // SAFETY: `ptr` is our live mapping of `len >= words` words (page-aligned, so
        // aligned for u32) that is never unmapped. The slice lives only inside the START
        // READ / END READ bracket of its bytes, during which, by the pipeline's protocol,
        // neither a task nor the device writes the buffer.
        let r = f(unsafe { core::slice::from_raw_parts(self.ptr, words) });
        urt::buffer_sync(self.handle, END | READ, 0, bytes)?;
        Ok(r)
    }

    /// Run `f` on the pixels between `buffer_sync` START WRITE and END WRITE (which
    /// cleans them to memory for the device). The mapping must be writable.
    pub fn write<R>(&mut self, f: impl FnOnce(&mut [u32]) -> R) -> Result<R, Error> {
        use urt::sync::{END, START, WRITE};
        urt::buffer_sync(self.handle, START | WRITE, 0, 0)?;
        // SAFETY: `ptr` is our live, writable mapping of `len` words (page-aligned) that
        // is never unmapped; `&mut self` makes this the only slice of it in this task,
        // and by the demo's protocol no other task touches the buffer between START WRITE
        // and END WRITE.
        let r = f(unsafe { core::slice::from_raw_parts_mut(self.ptr, self.len) });
        urt::buffer_sync(self.handle, END | WRITE, 0, 0)?;
        Ok(r)
    }
}
