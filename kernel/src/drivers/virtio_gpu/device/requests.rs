//! Requests on the control queue: staging commands into slots, publishing and
//! notifying, polling for synchronous completions, and collecting completions (fences,
//! failures) from the used ring.

use super::{
    expect_ok, is_ok, CommandAt, GpuDevice, Slot, State, CMD_ROOM, CONFIG_EVENTS_CLEAR,
    CONFIG_EVENTS_READ, CONTROLQ, POLL_TIMEOUT_MS, RESP_OFFSET, RESP_ROOM, SLOT_STRIDE,
};
use crate::drivers::virtio::dma::Pod;
use crate::drivers::virtio::queue::Part;
use crate::drivers::virtio::transport::INT_CONFIG_CHANGE;
use crate::drivers::virtio::Deadline;
use crate::drivers::virtio_gpu::protocol::CtrlHdr;
use crate::drivers::virtio_gpu::GpuError;
use core::mem::size_of;

impl GpuDevice {
    /// Wait until `count` slots are free, collecting completions.
    pub(super) fn wait_for_slots(&mut self, count: usize) -> Result<(), GpuError> {
        let deadline = Deadline::after_ms(POLL_TIMEOUT_MS);
        loop {
            self.collect();
            let free = self.slots.iter().filter(|s| s.state == State::Free).count();
            if free >= count {
                return Ok(());
            }
            if self.transport.needs_reset() {
                return Err(GpuError::Transport("device needs reset"));
            }
            if deadline.passed() {
                return Err(GpuError::QueueFull);
            }
            core::hint::spin_loop();
        }
    }

    /// A free slot (waiting for one if necessary). It stays free until submitted.
    pub(super) fn acquire_slot(&mut self) -> Result<u16, GpuError> {
        self.wait_for_slots(1)?;
        self.free_slot().ok_or(GpuError::QueueFull)
    }

    pub(super) fn free_slot(&self) -> Option<u16> {
        let n = self.slots.iter().position(|s| s.state == State::Free)?;
        u16::try_from(n).ok()
    }

    /// Describe slot `n`'s request to the ring (not yet published): the command `at`,
    /// and a response of up to `resp_len` bytes in the slot, whose type is cleared first.
    pub(super) fn stage(
        &mut self,
        n: u16,
        at: CommandAt,
        resp_len: usize,
        fence: u64,
    ) -> Result<(), GpuError> {
        let base = usize::from(n) * SLOT_STRIDE;
        // The response type stays 0 ("no response") unless the device writes one.
        self.mem.write(base + RESP_OFFSET, CtrlHdr::default())?;
        let (command, external) = match at {
            CommandAt::Slot(len) if len <= CMD_ROOM => ((self.mem.pa(base), len as u32), None),
            CommandAt::External(region, len) if len <= region.len() => {
                let len = u32::try_from(len).map_err(|_| GpuError::InvalidArgument)?;
                ((region.pa(0), len), Some(region))
            }
            _ => return Err(GpuError::InvalidArgument),
        };
        let resp = (
            self.mem.pa(base + RESP_OFFSET),
            resp_len.min(RESP_ROOM) as u32,
        );
        let chain = [
            Part {
                addr: command.0,
                len: command.1,
                device_writes: false,
            },
            Part {
                addr: resp.0,
                len: resp.1,
                device_writes: true,
            },
        ];
        self.queue.set_chain(n * 2, &chain)?;
        self.queue.push(n * 2)?;
        self.slots[usize::from(n)] = Slot {
            state: State::InFlight,
            fence,
            shows: None,
            external,
            abandoned: false,
        };
        Ok(())
    }

    /// Stage command `c` (in slot memory) as part of present `fence`.
    pub(super) fn stage_async<T: Pod>(
        &mut self,
        c: T,
        fence: u64,
        shows: Option<u32>,
    ) -> Result<(), GpuError> {
        let n = self.free_slot().ok_or(GpuError::QueueFull)?;
        self.mem.write(usize::from(n) * SLOT_STRIDE, c)?;
        self.stage(
            n,
            CommandAt::Slot(size_of::<T>()),
            size_of::<CtrlHdr>(),
            fence,
        )?;
        self.slots[usize::from(n)].shows = shows;
        Ok(())
    }

    /// Publish staged requests and notify the device.
    pub(super) fn kick(&mut self) -> Result<(), GpuError> {
        self.queue.publish()?;
        self.transport.notify(CONTROLQ);
        Ok(())
    }

    /// Run command `c` from free slot `n` synchronously; returns the response type. The
    /// response stays in the slot memory until the next request uses the slot.
    pub(super) fn run_sync<T: Pod>(
        &mut self,
        n: u16,
        c: T,
        resp_len: usize,
    ) -> Result<u32, GpuError> {
        self.mem.write(usize::from(n) * SLOT_STRIDE, c)?;
        self.run(n, CommandAt::Slot(size_of::<T>()), resp_len)
    }

    /// Submit free slot `n` with the command `at`, notify, and poll until it completes;
    /// returns the response type. On timeout the slot is abandoned: it is freed, with
    /// any external command memory, when the device eventually completes it.
    pub(super) fn run(&mut self, n: u16, at: CommandAt, resp_len: usize) -> Result<u32, GpuError> {
        self.stage(n, at, resp_len, 0)?;
        self.kick()?;
        let deadline = Deadline::after_ms(POLL_TIMEOUT_MS);
        loop {
            self.collect();
            if let State::Done { resp } = self.slots[usize::from(n)].state {
                self.slots[usize::from(n)] = Slot::free();
                return Ok(resp);
            }
            if deadline.passed() || self.transport.needs_reset() {
                self.slots[usize::from(n)].abandoned = true;
                return Err(GpuError::Timeout);
            }
            core::hint::spin_loop();
        }
    }

    /// A synchronous command that expects OK_NODATA.
    pub(super) fn command<T: Pod>(&mut self, c: T) -> Result<(), GpuError> {
        let n = self.acquire_slot()?;
        expect_ok(self.run_sync(n, c, size_of::<CtrlHdr>())?)
    }

    /// Wait until every issued fence has completed.
    pub(super) fn drain(&mut self) -> Result<(), GpuError> {
        let deadline = Deadline::after_ms(POLL_TIMEOUT_MS);
        loop {
            self.collect();
            if self.completed == self.issued {
                return Ok(());
            }
            if deadline.passed() || self.transport.needs_reset() {
                return Err(GpuError::Timeout);
            }
            core::hint::spin_loop();
        }
    }

    /// Acknowledge the interrupt (a configuration change also clears the GPU's pending
    /// display events), then take every completed request off the used ring.
    /// (Acknowledging first means a completion after this point raises a new interrupt.)
    pub(super) fn collect(&mut self) {
        if self.transport.ack_interrupt() & INT_CONFIG_CHANGE != 0 {
            if let Some(events) = self.transport.config_u32(CONFIG_EVENTS_READ) {
                self.transport.set_config_u32(CONFIG_EVENTS_CLEAR, events);
            }
        }
        while let Some(used) = self.queue.pop_used() {
            let Some(n) = self.in_flight(used.id) else {
                self.stray += 1;
                continue;
            };
            let resp_type = if (used.len as usize) < size_of::<CtrlHdr>() {
                0
            } else {
                self.mem
                    .read::<u32>(n * SLOT_STRIDE + RESP_OFFSET)
                    .unwrap_or(0)
            };
            let slot = &mut self.slots[n];
            if slot.fence != 0 {
                if !is_ok(resp_type) {
                    self.failures.record(slot.fence);
                    if slot.shows.is_some_and(|id| id == self.scanout) {
                        self.scanout = 0;
                    }
                }
                *slot = Slot::free();
            } else if slot.abandoned {
                *slot = Slot::free();
            } else {
                slot.state = State::Done { resp: resp_type };
                slot.external = None;
            }
        }
        let oldest = self
            .slots
            .iter()
            .filter(|s| s.state == State::InFlight && s.fence != 0)
            .map(|s| s.fence)
            .min();
        self.completed = oldest.map_or(self.issued, |f| f - 1);
    }

    /// The slot a used-ring id names, if it is a request head we have in flight.
    pub(super) fn in_flight(&self, id: u32) -> Option<usize> {
        let n = usize::try_from(id).ok()?;
        (n % 2 == 0 && self.slots.get(n / 2)?.state == State::InFlight).then_some(n / 2)
    }

    /// A resource id not in use (never 0).
    pub(super) fn unused_id(&self) -> u32 {
        let mut id = self.next_id.max(1);
        while self.resources.contains_key(&id) {
            id = id.wrapping_add(1).max(1);
        }
        id
    }
}
