//! Kernel objects that handles name: tasks (as seen by holders of their handle) and
//! channel ends.

use abi::{Error, ExitHow, Rights};
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use spin::Mutex;

/// What a handle refers to. Cloning clones the reference, not the object.
#[derive(Clone)]
pub enum Object {
    /// A task.
    Task(Arc<TaskObj>),
    /// One end of a channel.
    Channel(Arc<ChannelEnd>),
    /// A buffer object.
    Buffer(Arc<crate::buffer::Buffer>),
    /// A GPU resource backed by a buffer.
    Resource(Arc<crate::gpu::Resource>),
}

impl Object {
    /// The ABI kind.
    pub fn kind(&self) -> abi::ObjectKind {
        match self {
            Object::Task(_) => abi::ObjectKind::Task,
            Object::Channel(_) => abi::ObjectKind::Channel,
            Object::Buffer(_) => abi::ObjectKind::Buffer,
            Object::Resource(_) => abi::ObjectKind::Resource,
        }
    }
}

/// The part of a task that outlives it for the holders of its handle.
pub struct TaskObj {
    /// Task id.
    pub id: u32,
    /// How it ended, once it has.
    pub status: Mutex<Option<(u64, ExitHow)>>,
}

/// A message in flight: bytes and moved handles.
pub struct Message {
    /// Body.
    pub bytes: Vec<u8>,
    /// Handles carried (removed from the sender's table).
    pub handles: Vec<(Object, Rights)>,
}

struct ChannelState {
    /// `queues[s]`: messages waiting for side `s` to receive.
    queues: [VecDeque<Message>; 2],
    /// Whether side `s` still has an end object.
    open: [bool; 2],
}

/// A bidirectional channel.
pub struct Channel {
    state: Mutex<ChannelState>,
}

/// One end of a channel; dropping the last reference closes that side.
pub struct ChannelEnd {
    chan: Arc<Channel>,
    side: usize,
}

impl Channel {
    /// A new channel and its two ends.
    pub fn create() -> (ChannelEnd, ChannelEnd) {
        let chan = Arc::new(Channel {
            state: Mutex::new(ChannelState {
                queues: [VecDeque::new(), VecDeque::new()],
                open: [true, true],
            }),
        });
        (
            ChannelEnd {
                chan: chan.clone(),
                side: 0,
            },
            ChannelEnd { chan, side: 1 },
        )
    }
}

impl ChannelEnd {
    /// Identity of the channel (for waking receivers blocked on it).
    pub fn key(&self) -> usize {
        Arc::as_ptr(&self.chan) as usize
    }

    /// True if `other` is the same end of the same channel.
    pub fn same_end(&self, other: &ChannelEnd) -> bool {
        self.key() == other.key() && self.side == other.side
    }

    /// Check that a send could succeed now (peer open, queue not full).
    pub fn can_send(&self) -> Result<(), Error> {
        let st = self.chan.state.lock();
        let peer = 1 - self.side;
        if !st.open[peer] {
            Err(Error::PeerClosed)
        } else if st.queues[peer].len() >= abi::limits::CHANNEL_DEPTH {
            Err(Error::QueueFull)
        } else {
            Ok(())
        }
    }

    /// Queue a message for the peer. On error the message is handed back unchanged.
    pub fn send(&self, msg: Message) -> Result<(), (Error, Message)> {
        if let Err(e) = self.can_send() {
            return Err((e, msg));
        }
        self.chan.state.lock().queues[1 - self.side].push_back(msg);
        Ok(())
    }

    /// Sizes (bytes, handles) of the next message; `None` if nothing is queued and the
    /// peer is open (the receiver should block); `PeerClosed` if nothing is queued and
    /// nothing ever will be.
    pub fn peek(&self) -> Result<Option<(usize, usize)>, Error> {
        let st = self.chan.state.lock();
        match st.queues[self.side].front() {
            Some(m) => Ok(Some((m.bytes.len(), m.handles.len()))),
            None if st.open[1 - self.side] => Ok(None),
            None => Err(Error::PeerClosed),
        }
    }

    /// Take the next message (the one [`peek`](Self::peek) described), if any.
    pub fn take(&self) -> Option<Message> {
        self.chan.state.lock().queues[self.side].pop_front()
    }
}

impl Drop for ChannelEnd {
    fn drop(&mut self) {
        // Messages nobody can receive any more are dropped outside the lock: they may
        // hold the other end of this very channel, whose drop takes the same lock.
        let orphans = {
            let mut st = self.chan.state.lock();
            st.open[self.side] = false;
            core::mem::take(&mut st.queues[self.side])
        };
        drop(orphans);
    }
}
