//! Device state: request slots on the control queue, fences, resources and scanout 0.
//!
//! Every request occupies one *slot*: a descriptor pair in the queue and 1 KiB of DMA
//! memory (command at +0, response at +512). Presents are asynchronous: their requests
//! carry the present's fence number, and a fence is complete when no request with that
//! number or a lower one is still in flight (so fences complete in order whatever order
//! the device completes requests in). Synchronous requests (create, attach, release,
//! display info) carry no fence: the caller polls the used ring until its slot is done.
//! Completions are collected by [`GpuDevice::handle_irq`] and by every polling loop.

use super::protocol::{self, cmd, resp, CtrlHdr, MemEntry, Rect};
use super::GpuError;
use crate::drivers::virtio::dma::DmaRegion;
use crate::drivers::virtio::queue::SplitQueue;
use crate::drivers::virtio::transport::{self, Transport};
use crate::drivers::virtio::{FailureLog, VirtioError};
use alloc::collections::BTreeMap;
use arrayvec::ArrayVec;
use core::mem::{size_of, ManuallyDrop};
use mm::addr::PhysAddr;
use platform::board::{Irq, VirtioMmioSlot};

mod requests;

/// virtio device ID of a GPU.
const DEVICE_ID_GPU: u32 = 16;
/// The control queue's index (the cursor queue, 1, is not used).
const CONTROLQ: u32 = 0;
/// Most control-queue entries used (the device may offer more).
const MAX_QUEUE: u16 = 64;
/// Most requests in flight (two descriptors each).
const MAX_SLOTS: usize = MAX_QUEUE as usize / 2;
/// struct virtio_gpu_config: `events_read`, `events_clear`, `num_scanouts`,
/// `num_capsets` (byte offsets in the configuration space).
const CONFIG_EVENTS_READ: u64 = 0x0;
const CONFIG_EVENTS_CLEAR: u64 = 0x4;
const CONFIG_NUM_SCANOUTS: u64 = 0x8;
const CONFIG_LEN: u64 = 0x10;
/// DMA bytes per slot, and where the response starts in it.
const SLOT_STRIDE: usize = 1024;
const RESP_OFFSET: usize = 512;
/// Room for a command / a response inside a slot.
const CMD_ROOM: usize = RESP_OFFSET;
const RESP_ROOM: usize = SLOT_STRIDE - RESP_OFFSET;
/// How long a polling loop waits for the device.
const POLL_TIMEOUT_MS: u64 = 2000;

const _: () = assert!(size_of::<protocol::RespDisplayInfo>() <= RESP_ROOM);
const _: () = assert!(size_of::<protocol::TransferToHost2d>() <= CMD_ROOM);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Free,
    InFlight,
    /// A synchronous request completed; its owner has not looked yet.
    Done {
        resp: u32,
    },
}

/// One request slot.
struct Slot {
    state: State,
    /// The present this request belongs to (0: a synchronous request).
    fence: u64,
    /// For SET_SCANOUT: the resource it shows (undone if the device refuses it).
    shows: Option<u32>,
    /// A command too big for the slot lives here until the device is done with it.
    external: Option<DmaRegion>,
    /// The synchronous caller gave up waiting: free the slot when it completes.
    abandoned: bool,
}

impl Slot {
    const fn free() -> Self {
        Self {
            state: State::Free,
            fence: 0,
            shows: None,
            external: None,
            abandoned: false,
        }
    }
}

/// Where a request's command is: the first `len` bytes of its slot, or its own DMA
/// memory (kept until the device completes the request).
enum CommandAt {
    Slot(usize),
    External(DmaRegion, usize),
}

/// What the driver knows about a host resource.
#[derive(Clone, Copy, Debug)]
struct Resource {
    width: u32,
    height: u32,
    backed: bool,
}

/// A running virtio-gpu on a modern virtio transport.
///
/// All methods need `&mut self`; the kernel keeps the device in a lock that is only ever
/// taken with IRQs masked, so the completion interrupt ([`Self::handle_irq`]) cannot
/// find it held by the code it interrupted.
pub struct GpuDevice {
    transport: Transport,
    /// Freed in `Drop` only once the device is reset.
    queue: ManuallyDrop<SplitQueue>,
    /// Slot memory: slot `n` at `n * SLOT_STRIDE`. Freed like `queue`.
    mem: ManuallyDrop<DmaRegion>,
    slots: ArrayVec<Slot, MAX_SLOTS>,
    irq: Irq,
    display: (u32, u32),
    resources: BTreeMap<u32, Resource>,
    next_id: u32,
    /// Resource scanout 0 shows (as far as submitted requests go); 0 = none.
    scanout: u32,
    issued: u64,
    completed: u64,
    /// Failed fenced requests and their response type.
    failures: FailureLog,
    /// Used-ring entries that named no request in flight (device bugs).
    stray: u64,
}

// SAFETY: the device is owned by this value alone; its registers and DMA memory are not
// tied to a CPU context, and the kernel serialises all access through one lock.
unsafe impl Send for GpuDevice {}

impl GpuDevice {
    /// Find the first virtio-gpu (device ID 16) among `slots`, then on PCI (see
    /// `transport::find`), reset and initialise it
    /// (control queue only), and read scanout 0's size with GET_DISPLAY_INFO.
    ///
    /// `Ok(None)`: there is no GPU. `Err`: there is one but it could not be started (a
    /// legacy transport, a refused feature set, no DMA memory, a failed display query);
    /// the device is then left reset or marked FAILED.
    pub fn probe(slots: &[VirtioMmioSlot]) -> Result<Option<GpuDevice>, GpuError> {
        match transport::find(slots, DEVICE_ID_GPU, CONFIG_LEN)? {
            Some((transport, irq)) => Self::start(transport, irq).map(Some),
            None => Ok(None),
        }
    }

    fn start(mut t: Transport, irq: Irq) -> Result<Self, GpuError> {
        // Nothing beyond VIRTIO_F_VERSION_1 (VIRGL, EDID, ...) is needed for 2D scanout.
        if let Err(e) = t.begin_init(0) {
            t.fail();
            return Err(e.into());
        }
        if t.config_u32(CONFIG_NUM_SCANOUTS).unwrap_or(0) == 0 {
            t.fail();
            return Err(GpuError::Transport("no usable control queue or no scanout"));
        }
        let queue = match crate::drivers::virtio::start_queue(&mut t, CONTROLQ, MAX_QUEUE) {
            Ok(q) => q,
            Err(e) => {
                t.fail();
                return Err(match e {
                    VirtioError::Transport(_) => {
                        GpuError::Transport("no usable control queue or no scanout")
                    }
                    other => other.into(),
                });
            }
        };
        let size = queue.size();
        let mem = match DmaRegion::for_bytes(usize::from(size / 2) * SLOT_STRIDE) {
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
        let mut slots = ArrayVec::new();
        for _ in 0..size / 2 {
            slots.push(Slot::free());
        }
        // From here a failure drops `dev`, which resets the device before freeing memory.
        let mut dev = GpuDevice {
            transport: t,
            queue: ManuallyDrop::new(queue),
            mem: ManuallyDrop::new(mem),
            slots,
            irq,
            display: (0, 0),
            resources: BTreeMap::new(),
            next_id: 1,
            scanout: 0,
            issued: 0,
            completed: 0,
            failures: FailureLog::new(),
            stray: 0,
        };
        dev.transport.finish_init();
        dev.display = dev.query_display()?;
        Ok(dev)
    }

    fn query_display(&mut self) -> Result<(u32, u32), GpuError> {
        let n = self.acquire_slot()?;
        let hdr = CtrlHdr::new(cmd::GET_DISPLAY_INFO);
        let got = self.run_sync(n, hdr, RESP_ROOM)?;
        if got != resp::OK_DISPLAY_INFO {
            return Err(GpuError::Device(got));
        }
        let info: protocol::RespDisplayInfo = self
            .mem
            .read(usize::from(n) * SLOT_STRIDE + RESP_OFFSET)
            .ok_or(GpuError::Device(0))?;
        let first = info.pmodes[0];
        Ok((first.r.width, first.r.height))
    }

    /// The device's interrupt (register it with `crate::irq::register`).
    pub fn irq(&self) -> Irq {
        self.irq
    }

    /// Scanout 0's size in pixels, as GET_DISPLAY_INFO reported it at probe time.
    pub fn display_size(&self) -> (u32, u32) {
        self.display
    }

    /// Create a `width` x `height` host resource in virtio-gpu `format` (see
    /// `abi::format`) and return its id (allocated here, never 0). Synchronous.
    pub fn create_resource(
        &mut self,
        width: u32,
        height: u32,
        format: u32,
    ) -> Result<u32, GpuError> {
        if width == 0 || height == 0 {
            return Err(GpuError::InvalidArgument);
        }
        let id = self.unused_id();
        let command = protocol::ResourceCreate2d {
            hdr: CtrlHdr::new(cmd::RESOURCE_CREATE_2D),
            resource_id: id,
            format,
            width,
            height,
        };
        self.command(command)?;
        self.resources.insert(
            id,
            Resource {
                width,
                height,
                backed: false,
            },
        );
        self.next_id = id.wrapping_add(1);
        Ok(id)
    }

    /// Attach the first `len` bytes of `pages` (page-aligned physical pages, in order) as
    /// resource `id`'s backing: one mem entry per run of physically adjacent pages.
    /// Synchronous. The pages must stay allocated until [`Self::release`].
    pub fn attach_backing(
        &mut self,
        id: u32,
        pages: &[PhysAddr],
        len: u64,
    ) -> Result<(), GpuError> {
        if !self.resources.contains_key(&id) {
            return Err(GpuError::NotFound);
        }
        let count = protocol::coalesce(pages, len, |_| ()).ok_or(GpuError::InvalidArgument)?;
        if count > protocol::MAX_MEM_ENTRIES {
            return Err(GpuError::InvalidArgument);
        }
        let head = protocol::AttachBacking {
            hdr: CtrlHdr::new(cmd::RESOURCE_ATTACH_BACKING),
            resource_id: id,
            nr_entries: count as u32,
        };
        let bytes = size_of::<protocol::AttachBacking>() + count * size_of::<MemEntry>();
        // Small lists go in the slot; long ones in their own DMA memory.
        let external = if bytes > CMD_ROOM {
            Some(DmaRegion::for_bytes(bytes)?)
        } else {
            None
        };
        let n = self.acquire_slot()?;
        let (target, base) = match &external {
            Some(region) => (region, 0),
            None => (&*self.mem, usize::from(n) * SLOT_STRIDE),
        };
        target.write(base, head)?;
        let mut at = base + size_of::<protocol::AttachBacking>();
        let mut result = Ok(());
        protocol::coalesce(pages, len, |e| {
            if result.is_ok() {
                result = target.write(at, e);
                at += size_of::<MemEntry>();
            }
        });
        result?;
        let at = match external {
            Some(region) => CommandAt::External(region, bytes),
            None => CommandAt::Slot(bytes),
        };
        let got = self.run(n, at, size_of::<CtrlHdr>())?;
        expect_ok(got)?;
        if let Some(r) = self.resources.get_mut(&id) {
            r.backed = true;
        }
        Ok(())
    }

    /// Show a rectangle of resource `id`: queue TRANSFER_TO_HOST_2D (the rectangle,
    /// backing offset `y * stride + x * 4`), SET_SCANOUT(0, `id`, whole resource) if
    /// scanout 0 does not already show `id`, and RESOURCE_FLUSH (the rectangle); notify
    /// the device once and return the fence that signals when all of them completed.
    ///
    /// Does not wait for the device (only for free queue slots, if all are in flight).
    /// `res_w` x `res_h` must be the resource's size and the rectangle non-empty and
    /// inside it.
    #[allow(clippy::too_many_arguments)] // the kernel's requested signature
    pub fn present(
        &mut self,
        id: u32,
        x: u32,
        y: u32,
        w: u32,
        h: u32,
        stride: u32,
        res_w: u32,
        res_h: u32,
    ) -> Result<u64, GpuError> {
        let res = *self.resources.get(&id).ok_or(GpuError::NotFound)?;
        let inside = |start: u32, len: u32, max: u32| {
            len > 0 && start.checked_add(len).is_some_and(|end| end <= max)
        };
        if (res.width, res.height) != (res_w, res_h)
            || !inside(x, w, res_w)
            || !inside(y, h, res_h)
            || u64::from(stride) < u64::from(res_w) * 4
        {
            return Err(GpuError::InvalidArgument);
        }
        let rect = Rect {
            x,
            y,
            width: w,
            height: h,
        };
        let set_scanout = self.scanout != id;
        self.wait_for_slots(2 + usize::from(set_scanout))?;
        let fence = self.issued + 1;
        self.failures.issue(fence);

        let transfer = protocol::TransferToHost2d {
            hdr: CtrlHdr::new(cmd::TRANSFER_TO_HOST_2D),
            r: rect,
            offset: u64::from(y) * u64::from(stride) + u64::from(x) * 4,
            resource_id: id,
            padding: 0,
        };
        let scanout = protocol::SetScanout {
            hdr: CtrlHdr::new(cmd::SET_SCANOUT),
            r: Rect {
                x: 0,
                y: 0,
                width: res_w,
                height: res_h,
            },
            scanout_id: 0,
            resource_id: id,
        };
        let flush = protocol::ResourceFlush {
            hdr: CtrlHdr::new(cmd::RESOURCE_FLUSH),
            r: rect,
            resource_id: id,
            padding: 0,
        };
        let mut staged = self.stage_async(transfer, fence, None);
        if set_scanout && staged.is_ok() {
            staged = self.stage_async(scanout, fence, Some(id));
            if staged.is_ok() {
                self.scanout = id;
            }
        }
        if staged.is_ok() {
            staged = self.stage_async(flush, fence, None);
        }
        // Whatever was staged goes to the device, so the ring and the slots agree.
        if self
            .slots
            .iter()
            .any(|s| s.state == State::InFlight && s.fence == fence)
        {
            self.issued = fence;
            self.kick()?;
        }
        staged.map(|()| fence)
    }

    /// Destroy resource `id`: wait until the device finished all queued work (so nothing
    /// reads the backing any more), disable scanout 0 if it shows `id`, then
    /// DETACH_BACKING and RESOURCE_UNREF. Synchronous. Every step is attempted; the first
    /// error is returned. After `Ok` the backing pages may be freed.
    pub fn release(&mut self, id: u32) -> Result<(), GpuError> {
        let res = *self.resources.get(&id).ok_or(GpuError::NotFound)?;
        self.drain()?;
        let mut first_error = None;
        let mut note = |r: Result<(), GpuError>| {
            if let Err(e) = r {
                first_error.get_or_insert(e);
            }
        };
        if self.scanout == id {
            let off = protocol::SetScanout {
                hdr: CtrlHdr::new(cmd::SET_SCANOUT),
                r: Rect::default(),
                scanout_id: 0,
                resource_id: 0,
            };
            note(self.command(off));
            self.scanout = 0;
        }
        if res.backed {
            note(self.command(protocol::ResourceOnly {
                hdr: CtrlHdr::new(cmd::RESOURCE_DETACH_BACKING),
                resource_id: id,
                padding: 0,
            }));
        }
        note(self.command(protocol::ResourceOnly {
            hdr: CtrlHdr::new(cmd::RESOURCE_UNREF),
            resource_id: id,
            padding: 0,
        }));
        self.resources.remove(&id);
        if self.resources.is_empty() {
            // A B-tree keeps its (empty) root node: let it go, so the kernel heap in use
            // is what it was before the first resource.
            self.resources = BTreeMap::new();
        }
        first_error.map_or(Ok(()), Err)
    }

    /// The completion interrupt: acknowledge it, collect completed requests, record
    /// failed fences and advance [`Self::completed_fence`].
    pub fn handle_irq(&mut self) {
        self.collect();
    }

    #[cfg_attr(not(feature = "ktest"), allow(dead_code))] // used by the GPU selftest (ktest)
    /// Collect completions without waiting for the interrupt (for polling callers).
    pub fn poll(&mut self) {
        self.collect();
    }

    /// Highest fence whose work has completed (fences complete in order).
    pub fn completed_fence(&self) -> u64 {
        self.completed
    }

    /// Highest fence handed out by [`Self::present`].
    pub fn issued_fence(&self) -> u64 {
        self.issued
    }

    /// True if the device answered an error to any request of `fence` (remembered for the
    /// last 32 failed fences).
    pub fn fence_failed(&self, fence: u64) -> bool {
        self.failures.failed(fence)
    }
}

impl Drop for GpuDevice {
    fn drop(&mut self) {
        if self.transport.reset().is_ok() {
            for slot in &mut self.slots {
                slot.external = None;
            }
            // SAFETY: the device was reset (Status read back 0), so it no longer accesses
            // the queue or the slot memory, and nothing else points into them; neither is
            // used again.
            unsafe {
                ManuallyDrop::drop(&mut self.queue);
                ManuallyDrop::drop(&mut self.mem);
            }
        } else {
            // The device may still DMA into this memory: leak it rather than reuse it.
            for slot in &mut self.slots {
                core::mem::forget(slot.external.take());
            }
        }
    }
}

fn is_ok(t: u32) -> bool {
    t == resp::OK_NODATA || t == resp::OK_DISPLAY_INFO
}

fn expect_ok(t: u32) -> Result<(), GpuError> {
    if t == resp::OK_NODATA {
        Ok(())
    } else {
        Err(GpuError::Device(t))
    }
}
