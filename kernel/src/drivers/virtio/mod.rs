//! What every virtio driver here shares: the transports (modern virtio-mmio and modern
//! virtio-pci behind one `Transport`), the split virtqueue, and owned non-cacheable DMA
//! memory. The device drivers (`virtio_gpu`, `virtio_blk`) build their requests on top
//! and never see which bus their device is on.
//!
//! ## Files
//! - `transport`: finding a device (virtio-mmio slots, then PCI functions) and the one
//!   interface the drivers use: the status handshake, queue registration, notification,
//!   interrupt acknowledgement, the device configuration space; `transport::mmio` (the
//!   register block, tock-registers) and `transport::pci` (the common configuration,
//!   notify, ISR and device capabilities in the function's BARs).
//! - `queue`: the split virtqueue (descriptor chains, available and used rings).
//! - `dma`: owned `crate::buffer::dma_alloc` memory and the [`dma::Pod`] trait for what
//!   is written into it.
//!
//! ## Memory and coherency
//! Rings, request headers and device answers live in `dma_alloc` memory (Normal
//! non-cacheable), so they need no cache maintenance in any coherency mode. Cacheable
//! memory a device reads or writes (a buffer object's pages) is reached by physical
//! address; keeping it coherent is the buffer manager's job (`buffer_sync`), never a
//! driver's. Why this is not the `virtio-drivers` crate is explained in `virtio_gpu`.

pub mod dma;
pub mod queue;
pub mod transport;

use core::fmt;

/// Why a transport, queue or DMA operation failed. Drivers convert it into their own
/// error type. Nothing a device does makes this code panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VirtioError {
    /// No memory for DMA buffers.
    NoMemory,
    /// A request the transport or queue refuses (index out of range, a write outside
    /// the DMA region, a chain too long).
    InvalidArgument,
    /// The transport could not be brought up or the device failed (the reason).
    Transport(&'static str),
}

impl fmt::Display for VirtioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoMemory => f.write_str("out of DMA memory"),
            Self::InvalidArgument => f.write_str("invalid argument"),
            Self::Transport(why) => write!(f, "virtio transport: {why}"),
        }
    }
}

/// A polling deadline on the generic timer (drivers poll the used ring for synchronous
/// requests and free queue space, never for ever).
pub struct Deadline(u64);

impl Deadline {
    /// `ms` milliseconds from now.
    pub fn after_ms(ms: u64) -> Self {
        let ticks = platform::timer::frequency().saturating_mul(ms) / 1000;
        Self(platform::timer::now().saturating_add(ticks))
    }

    /// True once the deadline is reached.
    pub fn passed(&self) -> bool {
        platform::timer::now() >= self.0
    }
}

/// Register queue `index` of the device behind `t` with as many entries as the device
/// allows, at most `cap` (a power of two), and return it. The transport must be between
/// [`transport::Transport::begin_init`] and `finish_init`.
pub fn start_queue(
    t: &mut transport::Transport,
    index: u32,
    cap: u16,
) -> Result<queue::SplitQueue, VirtioError> {
    let max = t.queue_max(index).unwrap_or(0);
    if max < 2 {
        return Err(VirtioError::Transport("no usable queue"));
    }
    // Largest power of two <= min(max, cap).
    let size = 1u16 << (15 - (max.min(u32::from(cap)) as u16).leading_zeros());
    let queue = queue::SplitQueue::new(size)?;
    let (desc, driver, device) = queue.addresses();
    t.setup_queue(index, u32::from(size), desc, driver, device);
    Ok(queue)
}

/// How many of a device's most recent sequence numbers [`FailureLog`] answers for; a
/// fence older than that is *expired* (`fence_wait` answers `OutOfRange`).
pub const FAILURE_WINDOW: u64 = 1 << 16;

/// Which of a device's last [`FAILURE_WINDOW`] sequence numbers failed, one bit each:
/// how a driver answers "did fence N fail?" after the request slot is reused, for every
/// fence that can still be asked about (not only the last few failures).
pub struct FailureLog {
    bits: [u64; (FAILURE_WINDOW / 64) as usize],
}

impl FailureLog {
    /// An empty log.
    pub fn new() -> Self {
        Self {
            bits: [0; (FAILURE_WINDOW / 64) as usize],
        }
    }

    fn at(seq: u64) -> (usize, u64) {
        let i = seq % FAILURE_WINDOW;
        ((i / 64) as usize, 1 << (i % 64))
    }

    /// Sequence number `seq` is handed out: forget the one [`FAILURE_WINDOW`] before it,
    /// whose bit it takes over.
    pub fn issue(&mut self, seq: u64) {
        let (w, b) = Self::at(seq);
        self.bits[w] &= !b;
    }

    /// Remember that work `seq` (never 0) failed.
    pub fn record(&mut self, seq: u64) {
        if seq != 0 {
            let (w, b) = Self::at(seq);
            self.bits[w] |= b;
        }
    }

    /// True if work `seq` failed. `seq` must be one of the last [`FAILURE_WINDOW`]
    /// sequence numbers issued (see [`expired`]).
    pub fn failed(&self, seq: u64) -> bool {
        let (w, b) = Self::at(seq);
        seq != 0 && self.bits[w] & b != 0
    }
}

/// True if `seq` is older than the last [`FAILURE_WINDOW`] of the `issued` sequence
/// numbers, so its outcome is no longer known.
pub fn expired(seq: u64, issued: u64) -> bool {
    issued.saturating_sub(seq) >= FAILURE_WINDOW
}

impl Default for FailureLog {
    fn default() -> Self {
        Self::new()
    }
}
