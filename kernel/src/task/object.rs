//! Kernel objects that handles name: tasks (as seen by holders of their handle) and
//! channel ends.

use abi::{Error, ExitHow, Rights};
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};
use kobj::quota::Charge;
use spin::Mutex;

/// What a handle refers to. Cloning clones the reference, not the object.
///
/// `repr(u64)`: a tag word (the variant's number, in this order), then the `Arc`; the
/// hand-written fast START (`syscall::fast_start`) reads a buffer's in place.
#[derive(Clone)]
#[repr(u64)]
pub enum Object {
    /// A task.
    Task(Arc<TaskObj>),
    /// One end of a channel.
    Channel(Arc<ChannelEnd>),
    /// A buffer object (tag 2).
    Buffer(Arc<crate::buffer::Buffer>) = 2,
    /// A GPU resource backed by a buffer.
    Resource(Arc<crate::gpu::Resource>),
    /// A thread of a task.
    Thread(Arc<ThreadObj>),
}

impl Object {
    /// The ABI kind.
    pub fn kind(&self) -> abi::ObjectKind {
        match self {
            Object::Task(_) => abi::ObjectKind::Task,
            Object::Channel(_) => abi::ObjectKind::Channel,
            Object::Buffer(_) => abi::ObjectKind::Buffer,
            Object::Resource(_) => abi::ObjectKind::Resource,
            Object::Thread(_) => abi::ObjectKind::Thread,
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

/// The part of a thread that outlives it for the holders of its handle.
pub struct ThreadObj {
    /// Thread id (unique among tasks and threads; a task's first thread has its id).
    pub tid: u32,
    /// Its exit code once it has ended (`thread_exit`, or its task's end: then the
    /// task's code).
    pub status: Mutex<Option<(u64, ExitHow)>>,
}

/// A message in flight: bytes and moved handles.
pub struct Message {
    /// Body.
    pub bytes: Vec<u8>,
    /// Handles carried (removed from the sender's table).
    pub handles: Vec<(Object, Rights)>,
    /// One of the sender's queued messages, and its kernel heap; refunded when the
    /// message is received or dropped.
    pub _charges: [Charge; 2],
}

struct ChannelState {
    /// `queues[s]`: messages waiting for side `s` to receive.
    queues: [VecDeque<Message>; 2],
    /// Whether side `s` still has an end object.
    open: [bool; 2],
    /// On the graveyard list (see [`bury`]).
    buried: bool,
}

/// A bidirectional channel.
pub struct Channel {
    state: Mutex<ChannelState>,
    /// The next channel on the graveyard list.
    next_dead: Mutex<Option<Arc<Channel>>>,
    /// One of the creator's channels, and its kernel heap.
    _charges: [Charge; 2],
}

/// One end of a channel; dropping the last reference closes that side.
pub struct ChannelEnd {
    chan: Arc<Channel>,
    side: usize,
}

impl Channel {
    /// A new channel and its two ends, holding `charges` for its life.
    pub fn create(charges: [Charge; 2]) -> (ChannelEnd, ChannelEnd) {
        let chan = Arc::new(Channel {
            state: Mutex::new(ChannelState {
                queues: [VecDeque::new(), VecDeque::new()],
                open: [true, true],
                buried: false,
            }),
            next_dead: Mutex::new(None),
            _charges: charges,
        });
        (
            ChannelEnd {
                chan: chan.clone(),
                side: 0,
            },
            ChannelEnd { chan, side: 1 },
        )
    }

    /// Take one message queued for a closed side (nobody can receive it any more).
    fn take_orphan(&self) -> Option<Message> {
        let mut st = self.state.lock();
        (0..2)
            .find(|&s| !st.open[s] && !st.queues[s].is_empty())
            .and_then(|s| st.queues[s].pop_front())
    }
}

impl ChannelEnd {
    /// Identity of the channel (for waking receivers blocked on it).
    pub fn key(&self) -> usize {
        Arc::as_ptr(&self.chan) as usize
    }

    /// True if `other` is an end (either end) of the same channel.
    pub fn same_channel(&self, other: &ChannelEnd) -> bool {
        self.key() == other.key()
    }

    /// True if a channel end is queued for this end to receive (in any message).
    pub fn has_queued_ends(&self) -> bool {
        self.chan.state.lock().queues[self.side].iter().any(|m| {
            m.handles
                .iter()
                .any(|(o, _)| matches!(o, Object::Channel(_)))
        })
    }

    /// Check that a send could succeed now (peer open, queue not full) and make room
    /// for the message, so that a [`send`](Self::send) right after cannot fail.
    pub fn can_send(&self) -> Result<(), Error> {
        let mut st = self.chan.state.lock();
        let peer = 1 - self.side;
        if !st.open[peer] {
            Err(Error::PeerClosed)
        } else if st.queues[peer].len() >= abi::limits::CHANNEL_DEPTH {
            Err(Error::QueueFull)
        } else {
            st.queues[peer].try_reserve(1).map_err(|_| Error::NoMemory)
        }
    }

    /// Queue a message for the peer. On error the message is handed back unchanged.
    pub fn send(&self, msg: Message) -> Result<(), (Error, Message)> {
        if let Err(e) = self.can_send() {
            return Err((e, msg));
        }
        let mut st = self.chan.state.lock();
        let queue = &mut st.queues[1 - self.side];
        if queue.try_reserve(1).is_err() {
            drop(st);
            return Err((Error::NoMemory, msg));
        }
        queue.push_back(msg);
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
        let orphans = {
            let mut st = self.chan.state.lock();
            st.open[self.side] = false;
            !st.queues[self.side].is_empty()
        };
        // Messages nobody can receive any more go to the graveyard rather than being
        // dropped here: they may hold channel ends whose own queues hold more ends, as
        // deep as tasks care to nest them, and dropping them here would recurse.
        if orphans {
            bury(self.chan.clone());
        }
    }
}

/// The graveyard: channels with messages queued for a closed side, linked through
/// [`Channel::next_dead`] (no allocation), and whether a [`bury`] is emptying it.
static GRAVEYARD: Mutex<Option<Arc<Channel>>> = Mutex::new(None);
static DRAINING: AtomicBool = AtomicBool::new(false);

/// Put `chan` on the graveyard and, unless an outer call is already doing it, drop
/// every orphaned message of every channel on it, one message at a time. A message's
/// handles may close more channel ends, which only put their channels on the list: the
/// teardown of any nesting depth runs in this one loop, on a constant amount of stack.
///
/// The kernel is single-CPU and runs with IRQs masked here, so one flag suffices.
fn bury(chan: Arc<Channel>) {
    {
        let mut st = chan.state.lock();
        if st.buried {
            return; // already listed; the drainer looks at both sides
        }
        st.buried = true;
    }
    {
        let mut head = GRAVEYARD.lock();
        *chan.next_dead.lock() = head.take();
        *head = Some(chan);
    }
    if DRAINING.swap(true, Ordering::Acquire) {
        return;
    }
    loop {
        let next = {
            let mut head = GRAVEYARD.lock();
            let c = head.take();
            if let Some(c) = &c {
                *head = c.next_dead.lock().take();
                c.state.lock().buried = false;
            }
            c
        };
        let Some(chan) = next else { break };
        while let Some(msg) = chan.take_orphan() {
            drop(msg);
        }
    }
    DRAINING.store(false, Ordering::Release);
}

/// Whether sending the end `sent` over the channel of `through` keeps every queued
/// channel end reachable. The rule (SYSCALLS.md, "Channels"): an end may not be sent
/// over its own channel (`InvalidArgument`), nor while another channel end is queued for
/// it (`Busy`). Proof: draw an edge from each end to every end queued for it. A send
/// adds edges from the receiving end of `through`'s channel to the ends it carries; each
/// carried end has no outgoing edge (no end is queued for it) and is not the receiving
/// end, so no path leads from it back to the receiving end, and no send closes a cycle.
/// Receiving only removes edges. So queued ends form a forest whose roots are held by
/// tasks, and dropping the roots frees everything.
pub fn check_send_end(through: &ChannelEnd, sent: &ChannelEnd) -> Result<(), Error> {
    if sent.same_channel(through) {
        return Err(Error::InvalidArgument);
    }
    if sent.has_queued_ends() {
        return Err(Error::Busy);
    }
    Ok(())
}
