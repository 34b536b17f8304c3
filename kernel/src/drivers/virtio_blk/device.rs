//! Device state: request slots on queue 0, sequence numbers, failures.

use super::BlkError;
use crate::drivers::virtio::dma::{DmaRegion, Pod};
use crate::drivers::virtio::queue::{Part, SplitQueue};
use crate::drivers::virtio::transport::{self, Transport};
use crate::drivers::virtio::{self as virtio, Deadline, FailureLog};
use alloc::vec::Vec;
use core::mem::ManuallyDrop;
use mm::addr::PhysAddr;
use platform::board::{Irq, VirtioMmioSlot};

/// virtio device ID of a block device.
const DEVICE_ID_BLK: u32 = 2;
/// The request queue's index.
const REQUESTQ: u32 = 0;
/// Most request-queue entries used.
const MAX_QUEUE: u16 = 256;
/// Descriptors per request slot (header + data segments + status).
const SLOT_DESCS: u16 = 64;
/// Bytes of a sector (virtio-blk addresses 512-byte sectors whatever the medium).
const SECTOR: u64 = 512;

/// Feature bits (virtio 1.2, section 5.2.3).
const F_SIZE_MAX: u64 = 1 << 1;
const F_SEG_MAX: u64 = 1 << 2;

/// struct virtio_blk_config: `capacity` (u64, sectors), `size_max` (u32, bytes per
/// segment), `seg_max` (u32, segments per request): byte offsets.
const CONFIG_CAPACITY: u64 = 0x0;
const CONFIG_SIZE_MAX: u64 = 0x8;
const CONFIG_SEG_MAX: u64 = 0xc;
const CONFIG_LEN: u64 = 0x10;

/// VIRTIO_BLK_T_IN: the device writes sectors into the request's buffers.
const T_IN: u32 = 0;
/// VIRTIO_BLK_S_OK.
const S_OK: u8 = 0;
/// What the status byte holds until the device writes one (not a status it defines).
const S_NONE: u8 = 0xff;

/// DMA bytes per slot: the header at +0, the status byte at +16.
const SLOT_BYTES: usize = 32;
const STATUS_OFFSET: usize = 16;

/// How long a submission waits for a free slot.
const POLL_TIMEOUT_MS: u64 = 2000;

/// struct virtio_blk_req's header (the data and the status byte follow in their own
/// descriptors).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
struct ReqHeader {
    type_: u32,
    reserved: u32,
    sector: u64,
}

// SAFETY: repr(C) integers, 16 bytes, no padding.
unsafe impl Pod for ReqHeader {}

const _: () = assert!(core::mem::size_of::<ReqHeader>() == 16);
const _: () = assert!(STATUS_OFFSET >= core::mem::size_of::<ReqHeader>());
const _: () = assert!(STATUS_OFFSET < SLOT_BYTES);

/// A running virtio-blk on a modern virtio transport.
///
/// All methods need `&mut self`; the kernel keeps the device in a lock that is only ever
/// taken with IRQs masked, so the completion interrupt ([`Self::handle_irq`]) cannot
/// find it held by the code it interrupted.
pub struct BlkDevice {
    transport: Transport,
    /// Freed in `Drop` only once the device is reset.
    queue: ManuallyDrop<SplitQueue>,
    /// Slot memory: slot `n`'s header and status at `n * SLOT_BYTES`. Freed like `queue`.
    mem: ManuallyDrop<DmaRegion>,
    /// The sequence number each slot's request belongs to (0: free).
    slots: Vec<u64>,
    /// Descriptors per slot (slot `n`'s chain starts at `n * slot_descs`).
    slot_descs: u16,
    /// Data segments one request may carry.
    max_segs: usize,
    /// Largest data segment in bytes (whole sectors).
    seg_cap: u32,
    irq: Irq,
    capacity: u64,
    issued: u64,
    completed: u64,
    /// A read whose requests are still being submitted: it cannot complete yet.
    submitting: u64,
    /// Failed reads and their status byte.
    failures: FailureLog,
    /// Used-ring entries that named no request in flight (device bugs).
    stray: u64,
}

// SAFETY: the device is owned by this value alone; its registers and DMA memory are not
// tied to a CPU context, and the kernel serialises all access through one lock.
unsafe impl Send for BlkDevice {}

impl BlkDevice {
    /// Find the first virtio-blk (device ID 2) among `slots`, then on PCI (see
    /// `transport::find`), reset and initialise it
    /// (request queue only) and read its capacity.
    ///
    /// `Ok(None)`: there is no block device. `Err`: there is one but it could not be
    /// started (a legacy transport, a refused feature set, no DMA memory); the device is
    /// then left reset or marked FAILED.
    pub fn probe(slots: &[VirtioMmioSlot]) -> Result<Option<BlkDevice>, BlkError> {
        match transport::find(slots, DEVICE_ID_BLK, CONFIG_LEN)? {
            Some((transport, irq)) => Self::start(transport, irq).map(Some),
            None => Ok(None),
        }
    }

    fn start(mut t: Transport, irq: Irq) -> Result<Self, BlkError> {
        let features = match t.begin_init(F_SIZE_MAX | F_SEG_MAX) {
            Ok(f) => f,
            Err(e) => {
                t.fail();
                return Err(e.into());
            }
        };
        let config = |t: &Transport, off| t.config_u32(off).unwrap_or(0);
        let seg_max = if features & F_SEG_MAX != 0 {
            config(&t, CONFIG_SEG_MAX) as usize
        } else {
            usize::MAX
        };
        let size_max = if features & F_SIZE_MAX != 0 {
            config(&t, CONFIG_SIZE_MAX)
        } else {
            u32::MAX
        };
        let capacity = t.config_u64(CONFIG_CAPACITY);
        let queue = match virtio::start_queue(&mut t, REQUESTQ, MAX_QUEUE) {
            Ok(q) if q.size() >= 4 => q,
            Ok(q) => {
                if t.reset().is_err() {
                    core::mem::forget(q);
                }
                t.fail();
                return Err(BlkError::Transport("request queue too small"));
            }
            Err(e) => {
                t.fail();
                return Err(e.into());
            }
        };
        let slot_descs = SLOT_DESCS.min(queue.size());
        let count = usize::from(queue.size() / slot_descs);
        let mem = match DmaRegion::for_bytes(count * SLOT_BYTES) {
            Ok(m) => m,
            Err(e) => {
                // The device knows the queue's addresses: reset it before the queue is
                // freed (if it will not reset, leak the queue instead).
                if t.reset().is_err() {
                    core::mem::forget(queue);
                }
                t.fail();
                return Err(e.into());
            }
        };
        let slots = alloc::vec![0; count];
        // From here a failure drops `dev`, which resets the device before freeing memory.
        let mut dev = BlkDevice {
            transport: t,
            queue: ManuallyDrop::new(queue),
            mem: ManuallyDrop::new(mem),
            slots,
            slot_descs,
            max_segs: usize::from(slot_descs - 2).min(seg_max.max(1)),
            // Whole sectors; a device limit below one sector cannot be honoured anyway.
            seg_cap: (size_max / SECTOR as u32 * SECTOR as u32).max(SECTOR as u32),
            irq,
            capacity: 0,
            issued: 0,
            completed: 0,
            submitting: 0,
            failures: FailureLog::new(),
            stray: 0,
        };
        dev.capacity = capacity.ok_or(BlkError::Transport("capacity never settles"))?;
        dev.transport.finish_init();
        Ok(dev)
    }

    /// The device's interrupt (register it with `crate::irq::register`).
    pub fn irq(&self) -> Irq {
        self.irq
    }

    /// Size of the disk in 512-byte sectors.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Read `count` sectors from `sector` into `pages`: (physical address, length)
    /// segments in order, each a whole number of sectors, adding up to exactly `count`
    /// sectors. Notifies the device and returns at once with the read's sequence number
    /// (1, 2, ...; they complete in order). Waits only for free request slots, if all
    /// are in flight.
    ///
    /// The pages must stay allocated until the sequence number completes. `Err` means
    /// nothing was submitted; once any part of a read reached the device the sequence
    /// number is returned, and a later part that could not be submitted fails it.
    pub fn read(
        &mut self,
        sector: u64,
        count: u64,
        pages: &[(PhysAddr, u32)],
    ) -> Result<u64, BlkError> {
        let whole = |len: u32| len > 0 && u64::from(len).is_multiple_of(SECTOR);
        let total = pages.iter().map(|&(_, len)| u64::from(len)).sum::<u64>();
        if count == 0
            || !pages.iter().all(|&(_, len)| whole(len))
            || Some(total) != count.checked_mul(SECTOR)
        {
            return Err(BlkError::InvalidArgument);
        }
        if sector
            .checked_add(count)
            .is_none_or(|end| end > self.capacity)
        {
            return Err(BlkError::OutOfRange);
        }
        let segments = self.segments(pages)?;
        let seq = self.issued + 1;
        self.failures.issue(seq);
        self.submitting = seq;
        let mut at = sector;
        let mut outcome = Err(BlkError::QueueFull);
        for chunk in segments.chunks(self.max_segs) {
            if let Err(e) = self.submit(seq, at, chunk) {
                if outcome.is_ok() {
                    self.record_failure(seq, S_NONE);
                } else {
                    outcome = Err(e);
                }
                break;
            }
            self.issued = seq;
            outcome = Ok(seq);
            at += chunk.iter().map(|p| u64::from(p.len)).sum::<u64>() / SECTOR;
        }
        self.submitting = 0;
        self.update_completed();
        outcome
    }

    /// `pages` as device-writable segments: physically adjacent runs merged, none longer
    /// than the device's segment limit.
    fn segments(&self, pages: &[(PhysAddr, u32)]) -> Result<Vec<Part>, BlkError> {
        let mut out: Vec<Part> = Vec::new();
        for &(pa, len) in pages {
            let (mut addr, mut left) = (pa.as_u64(), len);
            while left > 0 {
                let merged = out.last_mut().filter(|p| {
                    p.addr.checked_add(u64::from(p.len)) == Some(addr) && p.len < self.seg_cap
                });
                let room = match &merged {
                    Some(p) => self.seg_cap - p.len,
                    None => self.seg_cap,
                };
                let take = left.min(room);
                match merged {
                    Some(p) => p.len += take,
                    None => {
                        out.try_reserve(1).map_err(|_| BlkError::NoMemory)?;
                        out.push(Part {
                            addr,
                            len: take,
                            device_writes: true,
                        });
                    }
                }
                addr += u64::from(take);
                left -= take;
            }
        }
        Ok(out)
    }

    /// Submit one request of read `seq`: `data` into the sectors from `sector`.
    fn submit(&mut self, seq: u64, sector: u64, data: &[Part]) -> Result<(), BlkError> {
        let n = self.wait_for_slot()?;
        let base = n * SLOT_BYTES;
        let header = ReqHeader {
            type_: T_IN,
            reserved: 0,
            sector,
        };
        self.mem.write(base, header)?;
        self.mem.write(base + STATUS_OFFSET, S_NONE)?;
        let mut chain = Vec::new();
        chain
            .try_reserve_exact(data.len() + 2)
            .map_err(|_| BlkError::NoMemory)?;
        chain.push(Part {
            addr: self.mem.pa(base),
            len: core::mem::size_of::<ReqHeader>() as u32,
            device_writes: false,
        });
        chain.extend_from_slice(data);
        chain.push(Part {
            addr: self.mem.pa(base + STATUS_OFFSET),
            len: 1,
            device_writes: true,
        });
        let head = u16::try_from(n).map_err(|_| BlkError::InvalidArgument)? * self.slot_descs;
        self.queue.set_chain(head, &chain)?;
        self.queue.push(head)?;
        self.slots[n] = seq;
        self.queue.publish()?;
        self.transport.notify(REQUESTQ);
        Ok(())
    }

    /// A free slot, collecting completions (and waiting) until there is one.
    fn wait_for_slot(&mut self) -> Result<usize, BlkError> {
        let deadline = Deadline::after_ms(POLL_TIMEOUT_MS);
        loop {
            self.collect();
            if let Some(n) = self.slots.iter().position(|&s| s == 0) {
                return Ok(n);
            }
            if self.transport.needs_reset() {
                return Err(BlkError::Transport("device needs reset"));
            }
            if deadline.passed() {
                return Err(BlkError::QueueFull);
            }
            core::hint::spin_loop();
        }
    }

    /// Acknowledge the interrupt, then take every completed request off the used ring.
    /// (Acknowledging first means a completion after this point raises a new interrupt.)
    fn collect(&mut self) {
        self.transport.ack_interrupt();
        while let Some(used) = self.queue.pop_used() {
            let Some(n) = self.in_flight(used.id) else {
                self.stray += 1;
                continue;
            };
            let status = self
                .mem
                .read::<u8>(n * SLOT_BYTES + STATUS_OFFSET)
                .unwrap_or(S_NONE);
            let seq = core::mem::take(&mut self.slots[n]);
            if status != S_OK {
                self.record_failure(seq, status);
            }
        }
        self.update_completed();
    }

    /// Completed = everything below the oldest read with a request in flight (or still
    /// being submitted).
    fn update_completed(&mut self) {
        let in_flight = self.slots.iter().copied().filter(|&s| s != 0);
        let oldest = in_flight.chain((self.submitting != 0).then_some(self.submitting));
        self.completed = oldest.min().map_or(self.issued, |s| s - 1);
    }

    fn record_failure(&mut self, seq: u64, status: u8) {
        log::debug!("blk: read {seq} failed with status {status}");
        self.failures.record(seq);
    }

    /// The slot a used-ring id names, if it is a request head we have in flight.
    fn in_flight(&self, id: u32) -> Option<usize> {
        let descs = u32::from(self.slot_descs);
        let n = usize::try_from(id / descs).ok()?;
        (id.is_multiple_of(descs) && *self.slots.get(n)? != 0).then_some(n)
    }

    /// The completion interrupt: acknowledge it, collect completed requests, record
    /// failures and advance [`Self::completed_seq`].
    pub fn handle_irq(&mut self) {
        self.collect();
    }

    /// Highest sequence number whose read has completed (they complete in order).
    pub fn completed_seq(&self) -> u64 {
        self.completed
    }

    /// Highest sequence number handed out by [`Self::read`].
    pub fn issued_seq(&self) -> u64 {
        self.issued
    }

    /// True if the device failed any request of read `seq` (status not OK, or none
    /// written), remembered for the last 32 failed reads.
    pub fn seq_failed(&self, seq: u64) -> bool {
        self.failures.failed(seq)
    }
}

impl Drop for BlkDevice {
    fn drop(&mut self) {
        if self.transport.reset().is_ok() {
            // SAFETY: the device was reset (Status read back 0), so it no longer accesses
            // the queue or the slot memory, and nothing else points into them; neither is
            // used again.
            unsafe {
                ManuallyDrop::drop(&mut self.queue);
                ManuallyDrop::drop(&mut self.mem);
            }
        }
        // Otherwise the device may still DMA into this memory: leak it.
    }
}
