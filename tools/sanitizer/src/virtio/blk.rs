//! virtio-blk requests (virtio 1.2, 5.2.6): a 16-byte header the device reads (type,
//! sector), data buffers it writes (IN: a read from the disk) or reads (OUT), and a
//! status byte it writes. The data buffers are descriptors, so the bus already counts
//! them as the device's accesses; this model only names the request.

use super::{le32, le64, readable_bytes, Desc, DeviceModel, Submission};
use crate::phys::PhysMem;

const T_IN: u32 = 0;
const T_OUT: u32 = 1;
const T_FLUSH: u32 = 4;
const T_GET_ID: u32 = 8;

/// The block device (stateless).
#[derive(Default)]
pub struct Blk;

impl DeviceModel for Blk {
    fn name(&self) -> &'static str {
        "virtio-blk"
    }

    fn submit(&mut self, _queue: u16, chain: &[Desc], mem: &dyn PhysMem) -> Submission {
        let hdr = readable_bytes(chain, mem, 16);
        let (Some(ty), Some(sector)) = (le32(&hdr, 0), le64(&hdr, 8)) else {
            return Submission {
                what: "request with a short header".into(),
                ..Submission::default()
            };
        };
        // Data: every descriptor but the header's and the status byte's.
        let data: u64 = chain
            .iter()
            .skip(1)
            .take(chain.len().saturating_sub(2))
            .map(|d| u64::from(d.len))
            .sum();
        let what = match ty {
            T_IN => format!("IN (disk read) sector {sector}, {data} bytes"),
            T_OUT => format!("OUT (disk write) sector {sector}, {data} bytes"),
            T_FLUSH => "FLUSH".into(),
            T_GET_ID => "GET_ID".into(),
            other => format!("request type {other}"),
        };
        Submission {
            what,
            ..Submission::default()
        }
    }
}
