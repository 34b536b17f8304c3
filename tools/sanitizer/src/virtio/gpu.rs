//! virtio-gpu 2D commands (virtio 1.2, 5.7.6) as the device carries them out on guest
//! memory: resources and their backing pages (RESOURCE_ATTACH_BACKING), the backing
//! bytes TRANSFER_TO_HOST_2D reads (as QEMU's `virtio_gpu_transfer_to_host_2d` does: row
//! `h` of the rectangle from backing offset `offset + stride * h`, `width * 4` bytes, with
//! `stride` the resource's width times 4), and RESOURCE_FLUSH (what reaches the screen).

use super::{le32, le64, readable_bytes, Desc, DeviceModel, Dma, FrameOp, Submission};
use crate::phys::PhysMem;
use std::collections::HashMap;

/// Command types.
mod cmd {
    pub const GET_DISPLAY_INFO: u32 = 0x0100;
    pub const RESOURCE_CREATE_2D: u32 = 0x0101;
    pub const RESOURCE_UNREF: u32 = 0x0102;
    pub const SET_SCANOUT: u32 = 0x0103;
    pub const RESOURCE_FLUSH: u32 = 0x0104;
    pub const TRANSFER_TO_HOST_2D: u32 = 0x0105;
    pub const RESOURCE_ATTACH_BACKING: u32 = 0x0106;
    pub const RESOURCE_DETACH_BACKING: u32 = 0x0107;
}

/// The control header's size; command fields follow it.
const HDR: usize = 24;
/// Bytes per pixel of every 2D format.
const BPP: u64 = 4;
/// The largest command read (an ATTACH_BACKING with QEMU's maximum of entries).
const MAX_CMD: usize = HDR + 8 + 16 * 16384;

/// A host resource as the device knows it.
#[derive(Clone, Debug, Default)]
pub struct Resource {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// virtio-gpu format.
    pub format: u32,
    /// Backing memory: (physical address, bytes), in order.
    pub backing: Vec<(u64, u64)>,
}

impl Resource {
    /// The physical pieces of backing bytes `[offset, offset + len)`.
    fn pieces(&self, mut offset: u64, mut len: u64, out: &mut Vec<(u64, u64)>) -> bool {
        for &(addr, seg) in &self.backing {
            if len == 0 {
                break;
            }
            if offset >= seg {
                offset -= seg;
                continue;
            }
            let take = (seg - offset).min(len);
            match out.last_mut() {
                Some(last) if last.0 + last.1 == addr + offset => last.1 += take,
                _ => out.push((addr + offset, take)),
            }
            len -= take;
            offset = 0;
        }
        len == 0
    }
}

/// The GPU's state: resources and which one each scanout shows.
#[derive(Default)]
pub struct Gpu {
    resources: HashMap<u32, Resource>,
    scanouts: HashMap<u32, u32>,
}

impl Gpu {
    /// A device with no resources.
    pub fn new() -> Gpu {
        Gpu::default()
    }

    /// A resource, if it exists.
    pub fn resource(&self, id: u32) -> Option<&Resource> {
        self.resources.get(&id)
    }

    /// The resource owning physical address `pa`, with the byte offset in it.
    pub fn owner_of(&self, pa: u64) -> Option<(u32, u64)> {
        self.resources.iter().find_map(|(&id, r)| {
            let mut off = 0;
            for &(addr, len) in &r.backing {
                if pa >= addr && pa < addr + len {
                    return Some((id, off + pa - addr));
                }
                off += len;
            }
            None
        })
    }

    fn transfer(&self, c: &[u8]) -> Option<Submission> {
        let (x, y, w, h) = (
            le32(c, HDR)?,
            le32(c, HDR + 4)?,
            le32(c, HDR + 8)?,
            le32(c, HDR + 12)?,
        );
        let offset = le64(c, HDR + 16)?;
        let id = le32(c, HDR + 24)?;
        let mut what = format!(
            "TRANSFER_TO_HOST_2D resource {id} rect ({x},{y}) {w}x{h} backing offset {offset}"
        );
        let Some(res) = self.resources.get(&id) else {
            what.push_str(" (no such resource: refused)");
            return Some(Submission {
                what,
                ..Submission::default()
            });
        };
        let inside = u64::from(x) + u64::from(w) <= u64::from(res.width)
            && u64::from(y) + u64::from(h) <= u64::from(res.height);
        if !inside || res.backing.is_empty() {
            what.push_str(" (outside the resource or no backing: refused)");
            return Some(Submission {
                what,
                ..Submission::default()
            });
        }
        let stride = u64::from(res.width) * BPP;
        let mut reads = Vec::new();
        let mut frame_pieces = Vec::new();
        for row in 0..u64::from(h) {
            let src = offset + stride * row;
            let len = u64::from(w) * BPP;
            let dst = (u64::from(y) + row) * stride + u64::from(x) * BPP;
            let mut p = Vec::new();
            res.pieces(src, len, &mut p);
            let mut d = dst;
            for &(pa, n) in &p {
                frame_pieces.push((pa, n, d));
                d += n;
                match reads.last_mut() {
                    Some(Dma {
                        pa: last, len: l, ..
                    }) if *last + *l == pa => *l += n,
                    _ => reads.push(Dma {
                        write: false,
                        pa,
                        len: n,
                    }),
                }
            }
        }
        Some(Submission {
            what,
            dma: reads,
            frame: Some(FrameOp::Transfer {
                resource: id,
                width: res.width,
                height: res.height,
                format: res.format,
                pieces: frame_pieces,
            }),
        })
    }

    fn command(&mut self, c: &[u8]) -> Option<Submission> {
        let ty = le32(c, 0)?;
        let text = |s: String| {
            Some(Submission {
                what: s,
                ..Submission::default()
            })
        };
        match ty {
            cmd::GET_DISPLAY_INFO => text("GET_DISPLAY_INFO".into()),
            cmd::RESOURCE_CREATE_2D => {
                let (id, format, width, height) = (
                    le32(c, HDR)?,
                    le32(c, HDR + 4)?,
                    le32(c, HDR + 8)?,
                    le32(c, HDR + 12)?,
                );
                self.resources.insert(
                    id,
                    Resource {
                        width,
                        height,
                        format,
                        backing: Vec::new(),
                    },
                );
                text(format!(
                    "RESOURCE_CREATE_2D resource {id} {width}x{height} format {format}"
                ))
            }
            cmd::RESOURCE_UNREF => {
                let id = le32(c, HDR)?;
                self.resources.remove(&id);
                text(format!("RESOURCE_UNREF resource {id}"))
            }
            cmd::SET_SCANOUT => {
                let (scanout, id) = (le32(c, HDR + 16)?, le32(c, HDR + 20)?);
                self.scanouts.insert(scanout, id);
                text(format!("SET_SCANOUT scanout {scanout} resource {id}"))
            }
            cmd::RESOURCE_FLUSH => {
                let id = le32(c, HDR + 16)?;
                let (x, y, w, h) = (
                    le32(c, HDR)?,
                    le32(c, HDR + 4)?,
                    le32(c, HDR + 8)?,
                    le32(c, HDR + 12)?,
                );
                Some(Submission {
                    what: format!("RESOURCE_FLUSH resource {id} rect ({x},{y}) {w}x{h}"),
                    dma: Vec::new(),
                    frame: Some(FrameOp::Flush { resource: id }),
                })
            }
            cmd::TRANSFER_TO_HOST_2D => self.transfer(c),
            cmd::RESOURCE_ATTACH_BACKING => {
                let (id, n) = (le32(c, HDR)?, le32(c, HDR + 4)?);
                let mut backing = Vec::new();
                for i in 0..n as usize {
                    let at = HDR + 8 + 16 * i;
                    backing.push((le64(c, at)?, u64::from(le32(c, at + 8)?)));
                }
                let bytes: u64 = backing.iter().map(|b| b.1).sum();
                if let Some(r) = self.resources.get_mut(&id) {
                    r.backing = backing;
                }
                text(format!(
                    "RESOURCE_ATTACH_BACKING resource {id}, {n} entries, {bytes} bytes"
                ))
            }
            cmd::RESOURCE_DETACH_BACKING => {
                let id = le32(c, HDR)?;
                if let Some(r) = self.resources.get_mut(&id) {
                    r.backing.clear();
                }
                text(format!("RESOURCE_DETACH_BACKING resource {id}"))
            }
            other => text(format!("command {other:#x}")),
        }
    }
}

impl DeviceModel for Gpu {
    fn name(&self) -> &'static str {
        "virtio-gpu"
    }

    fn submit(&mut self, queue: u16, chain: &[Desc], mem: &dyn PhysMem) -> Submission {
        if queue != 0 {
            return Submission {
                what: format!("queue {queue} request"),
                ..Submission::default()
            };
        }
        let c = readable_bytes(chain, mem, MAX_CMD);
        self.command(&c).unwrap_or_else(|| Submission {
            what: format!("truncated command ({} bytes)", c.len()),
            ..Submission::default()
        })
    }

    fn reset(&mut self) {
        self.resources.clear();
        self.scanouts.clear();
    }

    fn as_gpu(&self) -> Option<&Gpu> {
        Some(self)
    }
}

#[cfg(test)]
mod tests;
