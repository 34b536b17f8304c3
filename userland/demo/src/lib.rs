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

use core::fmt::{Debug, Display};
use urt::{format, limits, policy, prot, Error, ExitHow, Fence, Handle, StartArgs};

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
pub fn fail(task: &str, what: impl Display, e: impl Display) -> Failed {
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

/// A program's exit code for what its `run` returned: 0, or 1 if it failed (the failure
/// is already reported).
pub fn exit_code(r: Result<(), Failed>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(Failed) => 1,
    }
}

/// The channel a task was started with (its first start handle).
pub fn start_channel(task: &str, args: &StartArgs) -> Result<Handle, Failed> {
    args.get(0)
        .ok_or_else(|| fail(task, "start handles", "no channel"))
}

/// A launcher's work (`demo`, `pipeline`): create a channel, spawn `first` with one end
/// and then `second` with the other, and wait for both, in that order. Succeeds only if
/// both exited 0; each that did not is reported as `<task>: <name> ended ...`.
pub fn launch(task: &str, first: &str, second: &str) -> Result<(), Failed> {
    let (a, b) = urt::channel_create().or_fail(task, "channel_create")?;
    let spawn = |name: &str, end: Handle| {
        urt::spawn(name, &[end]).map_err(|e| fail(task, format_args!("spawn {name}"), e))
    };
    let first_task = spawn(first, a)?;
    let second_task = spawn(second, b)?;
    let mut ok = true;
    for (name, t) in [(first, first_task), (second, second_task)] {
        let (code, how) = urt::wait(t).or_fail(task, "wait")?;
        if how != ExitHow::Exited || code != 0 {
            urt::println!("{task}: {name} ended {how:?} with code {code:#x}");
            ok = false;
        }
    }
    if ok {
        Ok(())
    } else {
        Err(Failed)
    }
}

/// The producer's side of a double-buffering protocol ([`Msg`], [`pipeline::PipeMsg`]):
/// the consumer hands buffers back with release messages, and `busy[i]` says whether it
/// still holds buffer `i`.
pub trait Protocol: Sized + Debug {
    /// Receive the next message on `ch` (blocking), with up to `handles.len()` handles.
    fn recv(ch: Handle, handles: &mut [Handle]) -> Result<(Self, usize), Error>;

    /// The buffer index a release message frees; `None` for any other message.
    fn released(&self) -> Option<u32>;

    /// Wait for the consumer's next release; mark that buffer free.
    fn await_release<const N: usize>(
        task: &str,
        ch: Handle,
        busy: &mut [bool; N],
    ) -> Result<(), Failed> {
        let (m, n) = Self::recv(ch, &mut []).or_fail(task, "waiting for a release")?;
        match m.released() {
            Some(index) if n == 0 && (index as usize) < N => {
                busy[index as usize] = false;
                Ok(())
            }
            _ => Err(fail(task, "expected a release", format_args!("{m:?}"))),
        }
    }

    /// Wait for releases until the consumer no longer holds buffer `index`.
    fn await_free<const N: usize>(
        task: &str,
        ch: Handle,
        busy: &mut [bool; N],
        index: usize,
    ) -> Result<(), Failed> {
        while busy[index] {
            Self::await_release(task, ch, busy)?;
        }
        Ok(())
    }

    /// Wait for releases until the consumer holds no buffer.
    fn await_all<const N: usize>(
        task: &str,
        ch: Handle,
        busy: &mut [bool; N],
    ) -> Result<(), Failed> {
        while busy.iter().any(|&b| b) {
            Self::await_release(task, ch, busy)?;
        }
        Ok(())
    }
}

impl Protocol for Msg {
    fn recv(ch: Handle, handles: &mut [Handle]) -> Result<(Msg, usize), Error> {
        recv(ch, handles)
    }

    fn released(&self) -> Option<u32> {
        match *self {
            Msg::Release { index, .. } => Some(index),
            _ => None,
        }
    }
}

/// The display side of the demo's consumers (`compositor`, `filter`): a cached buffer of
/// the display's size, mapped read-write and imported as a GPU resource, and the last
/// frame presented from it.
pub struct Screen {
    /// Display width in pixels.
    pub width: u32,
    /// Display height in pixels.
    pub height: u32,
    /// The screen buffer's mapping.
    pub pixels: Mapped,
    /// The GPU resource imported from it.
    pub resource: Handle,
    /// The last frame presented and its fence.
    last: Option<(u32, Fence)>,
}

impl Screen {
    /// Ask the GPU for the display size, create the screen buffer, map it and import it.
    pub fn new(task: &str) -> Result<Screen, Failed> {
        let (width, height) = urt::gpu_display_info().or_fail(task, "gpu_display_info")?;
        let size = u64::from(width) * u64::from(height) * 4;
        if width == 0 || height == 0 || size > limits::MAX_BUFFER {
            return Err(fail(task, "display", format_args!("{width}x{height}")));
        }
        let h = urt::buffer_create(size, policy::CACHED).or_fail(task, "buffer_create")?;
        let pixels = Mapped::new(h, prot::READ | prot::WRITE).or_fail(task, "buffer_map")?;
        let resource =
            urt::gpu_import(h, width, height, format::B8G8R8X8).or_fail(task, "gpu_import")?;
        Ok(Screen {
            width,
            height,
            pixels,
            resource,
            last: None,
        })
    }

    /// Present the whole screen as frame `frame`, keeping the fence, then pause for
    /// [`FRAME_INTERVAL_NS`].
    pub fn present(&mut self, task: &str, frame: u32) -> Result<(), Failed> {
        let fence = urt::gpu_present(self.resource, 0, 0, self.width, self.height)
            .or_fail(task, "gpu_present")?;
        self.last = Some((frame, fence));
        urt::sleep_ns(FRAME_INTERVAL_NS).or_fail(task, "sleep")
    }

    /// After the last frame: wait for the last present's fence, print `demo: final frame
    /// N presented` and hold the image [`HOLD_NS`]. Fails if no frame was presented.
    pub fn finish(self, task: &str) -> Result<(), Failed> {
        let Some((frame, fence)) = self.last else {
            return Err(fail(task, "done", "no frame was presented"));
        };
        urt::fence_wait(fence, FENCE_TIMEOUT_NS).or_fail(task, "fence_wait")?;
        urt::println!("demo: final frame {frame} presented");
        urt::sleep_ns(HOLD_NS).or_fail(task, "sleep")
    }
}
