//! The devices on all transports: their queues, the chains in flight, and the memory
//! each chain makes the device read and write, from submission (notify) to completion
//! (the used ring).

use super::queue::{avail_entry, avail_idx, read_chain, ring_ranges, used_entry, used_idx};
use super::{
    blk::Blk, gpu::Gpu, DevId, DeviceModel, Dma, FrameOp, QueueLayout, Transport, TransportEvent,
};
use crate::phys::PhysMem;
use std::collections::HashMap;

/// virtio device IDs the bus has models for.
const ID_BLK: u32 = 2;
const ID_GPU: u32 = 16;

/// A chain the device was just given.
#[derive(Clone, Debug)]
pub struct Submitted {
    /// Command id (unique over the run).
    pub cmd: u32,
    /// The device (`virtio-gpu at virtio-mmio@0xa003e00`).
    pub device: String,
    /// The command (`TRANSFER_TO_HOST_2D resource 3 ...`).
    pub what: String,
    /// The available-ring slots the device reads when it takes the chain (at once).
    pub ring: Vec<Dma>,
    /// Every range the device reads or writes for it until it completes: the chain's
    /// descriptors, its buffers, and the payload the command names.
    pub dma: Vec<Dma>,
    /// For the frame-image mode.
    pub frame: Option<FrameOp>,
}

/// A chain the device completed.
#[derive(Clone, Debug)]
pub struct Completed {
    /// Command id.
    pub cmd: u32,
    /// The ranges of its submission (now done).
    pub dma: Vec<Dma>,
    /// The used-ring entry the device wrote to complete it.
    pub used: Option<Dma>,
}

struct Queue {
    layout: QueueLayout,
    last_avail: u16,
    last_used: u16,
    /// Chains in flight by head: (command id, ranges).
    inflight: HashMap<u16, (u32, Vec<Dma>)>,
}

struct Device {
    name: String,
    model: Option<Box<dyn DeviceModel>>,
    queues: HashMap<u16, Queue>,
}

/// Transports, devices and queues.
#[derive(Default)]
pub struct Bus {
    transports: Vec<Box<dyn Transport>>,
    devices: HashMap<DevId, Device>,
    used_rings: Vec<(u64, u64)>,
    next_cmd: u32,
    /// Chains the sanitizer could not follow (bad descriptors), with why.
    pub errors: Vec<String>,
    /// Chains submitted.
    pub submitted: u64,
}

impl Bus {
    /// A bus with no transports.
    pub fn new() -> Bus {
        Bus::default()
    }

    /// Add a transport decoder.
    pub fn add_transport(&mut self, t: Box<dyn Transport>) {
        self.transports.push(t);
    }

    /// True if a transport decodes accesses to `pa`.
    pub fn claims(&self, pa: u64) -> bool {
        self.transports.iter().any(|t| t.claims(pa))
    }

    /// True if `pa` is in a used ring (a driver reading it is looking for completions).
    pub fn is_used_ring(&self, pa: u64) -> bool {
        self.used_rings.iter().any(|&(s, e)| pa >= s && pa < e)
    }

    /// The GPU model of the first GPU (for the frame-image mode and reports).
    pub fn gpu(&self) -> Option<&Gpu> {
        self.devices
            .values()
            .find_map(|d| d.model.as_ref()?.as_gpu())
    }

    /// A register access by the driver: returns the chains submitted and completed.
    #[allow(clippy::too_many_arguments)] // one access, and where its results go
    pub fn access(
        &mut self,
        pa: u64,
        size: u32,
        value: u64,
        store: bool,
        mem: &dyn PhysMem,
        submitted: &mut Vec<Submitted>,
        completed: &mut Vec<Completed>,
    ) {
        let mut events = Vec::new();
        for t in &mut self.transports {
            if t.claims(pa) {
                t.access(pa, size, value, store, &mut events);
            }
        }
        for e in events {
            self.event(e, mem, submitted, completed);
        }
    }

    fn event(
        &mut self,
        e: TransportEvent,
        mem: &dyn PhysMem,
        submitted: &mut Vec<Submitted>,
        completed: &mut Vec<Completed>,
    ) {
        match e {
            TransportEvent::Identified {
                dev,
                device_id,
                name,
            } => {
                let model: Option<Box<dyn DeviceModel>> = match device_id {
                    ID_GPU => Some(Box::new(Gpu::new())),
                    ID_BLK => Some(Box::new(Blk)),
                    _ => None,
                };
                let kind = model
                    .as_ref()
                    .map_or(format!("virtio device {device_id}"), |m| m.name().into());
                self.devices.entry(dev).or_insert(Device {
                    name: format!("{kind} at {name}"),
                    model,
                    queues: HashMap::new(),
                });
            }
            TransportEvent::QueueReady { dev, queue, layout } => {
                let Some(d) = self.devices.get_mut(&dev) else {
                    return;
                };
                let [_, _, used] = ring_ranges(&layout);
                self.used_rings.push((used.0, used.0 + used.1));
                d.queues.insert(
                    queue,
                    Queue {
                        layout,
                        last_avail: 0,
                        last_used: 0,
                        inflight: HashMap::new(),
                    },
                );
            }
            TransportEvent::Notify { dev, queue } => self.notify(dev, queue, mem, submitted),
            TransportEvent::Reset { dev } => {
                // The device stops using its queues: whatever was in flight is over.
                let Some(d) = self.devices.get_mut(&dev) else {
                    return;
                };
                for (_, q) in d.queues.drain() {
                    let [_, _, used] = ring_ranges(&q.layout);
                    self.used_rings.retain(|&r| r != (used.0, used.0 + used.1));
                    for (_, (cmd, dma)) in q.inflight {
                        completed.push(Completed {
                            cmd,
                            dma,
                            used: None,
                        });
                    }
                }
                if let Some(m) = d.model.as_mut() {
                    m.reset();
                }
            }
            TransportEvent::Poll => self.poll(mem, completed),
        }
    }

    fn notify(&mut self, dev: DevId, queue: u16, mem: &dyn PhysMem, out: &mut Vec<Submitted>) {
        let Some(d) = self.devices.get_mut(&dev) else {
            return;
        };
        let Some(q) = d.queues.get_mut(&queue) else {
            return;
        };
        let Some(idx) = avail_idx(&q.layout, mem) else {
            return;
        };
        while q.last_avail != idx {
            let i = q.last_avail;
            q.last_avail = q.last_avail.wrapping_add(1);
            // The device reads the available ring's index and entry once, when it takes
            // the chain (the driver may add entries behind it at any time); the chain's
            // descriptors and buffers stay its own until it completes.
            let ring = vec![
                Dma {
                    write: false,
                    pa: q.layout.driver + 2,
                    len: 2,
                },
                Dma {
                    write: false,
                    pa: q.layout.driver + 4 + 2 * u64::from(i % q.layout.size.max(1)),
                    len: 2,
                },
            ];
            let mut dma = Vec::new();
            let Some(head) = avail_entry(&q.layout, i, mem) else {
                continue;
            };
            let (chain, table) = match read_chain(&q.layout, head, mem) {
                Ok(c) => c,
                Err(e) => {
                    self.errors
                        .push(format!("{}: queue {queue} head {head}: {e}", d.name));
                    continue;
                }
            };
            dma.extend(table.iter().map(|&(pa, len)| Dma {
                write: false,
                pa,
                len,
            }));
            dma.extend(chain.iter().map(|c| Dma {
                write: c.write,
                pa: c.addr,
                len: u64::from(c.len),
            }));
            let sub = match d.model.as_mut() {
                Some(m) => m.submit(queue, &chain, mem),
                None => super::Submission {
                    what: format!("queue {queue} request"),
                    ..Default::default()
                },
            };
            dma.extend(sub.dma.iter().copied());
            self.next_cmd += 1;
            self.submitted += 1;
            let cmd = self.next_cmd;
            q.inflight.insert(head, (cmd, dma.clone()));
            out.push(Submitted {
                cmd,
                device: d.name.clone(),
                what: sub.what,
                ring,
                dma,
                frame: sub.frame,
            });
        }
    }

    /// Collect completions from every used ring.
    pub fn poll(&mut self, mem: &dyn PhysMem, out: &mut Vec<Completed>) {
        for d in self.devices.values_mut() {
            for q in d.queues.values_mut() {
                let Some(idx) = used_idx(&q.layout, mem) else {
                    continue;
                };
                while q.last_used != idx {
                    let i = q.last_used;
                    q.last_used = q.last_used.wrapping_add(1);
                    let Some((id, _len)) = used_entry(&q.layout, i, mem) else {
                        continue;
                    };
                    let Some((cmd, dma)) = q.inflight.remove(&(id as u16)) else {
                        continue;
                    };
                    // The device wrote the used entry when it completed.
                    let slot = q.layout.device + 4 + 8 * u64::from(i % q.layout.size.max(1));
                    let used = Some(Dma {
                        write: true,
                        pa: slot,
                        len: 8,
                    });
                    out.push(Completed { cmd, dma, used });
                }
            }
        }
    }
}
