//! Reading a split virtqueue (virtio 1.2, 2.7) from guest memory as the device does:
//! new entries of the available ring, their descriptor chains (direct or indirect), and
//! new entries of the used ring.

use super::{Desc, QueueLayout};
use crate::phys::PhysMem;

const F_NEXT: u16 = 1;
const F_WRITE: u16 = 2;
const F_INDIRECT: u16 = 4;

/// The available ring's index (`avail.idx`).
pub fn avail_idx(q: &QueueLayout, mem: &dyn PhysMem) -> Option<u16> {
    mem.read_u16(q.driver + 2)
}

/// Entry `i` (free-running) of the available ring: a chain head.
pub fn avail_entry(q: &QueueLayout, i: u16, mem: &dyn PhysMem) -> Option<u16> {
    let slot = u64::from(i % q.size.max(1));
    mem.read_u16(q.driver + 4 + 2 * slot)
}

/// The used ring's index (`used.idx`).
pub fn used_idx(q: &QueueLayout, mem: &dyn PhysMem) -> Option<u16> {
    mem.read_u16(q.device + 2)
}

/// Entry `i` of the used ring: (chain head, bytes written).
pub fn used_entry(q: &QueueLayout, i: u16, mem: &dyn PhysMem) -> Option<(u32, u32)> {
    let at = q.device + 4 + 8 * u64::from(i % q.size.max(1));
    Some((mem.read_u32(at)?, mem.read_u32(at + 4)?))
}

/// The physical ranges of the rings (descriptor table, driver ring, device ring).
pub fn ring_ranges(q: &QueueLayout) -> [(u64, u64); 3] {
    let n = u64::from(q.size);
    [
        (q.desc, 16 * n),
        (q.driver, 6 + 2 * n),
        (q.device, 6 + 8 * n),
    ]
}

fn read_desc(table: u64, i: u16, mem: &dyn PhysMem) -> Option<(u64, u32, u16, u16)> {
    let at = table + 16 * u64::from(i);
    let mut b = [0u8; 16];
    if !mem.read(at, &mut b) {
        return None;
    }
    let addr = u64::from_le_bytes(b[0..8].try_into().ok()?);
    let len = u32::from_le_bytes(b[8..12].try_into().ok()?);
    let flags = u16::from_le_bytes(b[12..14].try_into().ok()?);
    let next = u16::from_le_bytes(b[14..16].try_into().ok()?);
    Some((addr, len, flags, next))
}

/// A chain's buffers, and the descriptor-table ranges read to follow it.
pub type Chain = (Vec<Desc>, Vec<(u64, u64)>);

/// The chain starting at descriptor `head`, and the descriptor-table bytes the device
/// read to follow it. A chain longer than the queue (a loop) or a descriptor outside
/// the table ends it with an error, as it would make the device fail the request.
pub fn read_chain(q: &QueueLayout, head: u16, mem: &dyn PhysMem) -> Result<Chain, String> {
    let mut out = Vec::new();
    let mut table_reads = Vec::new();
    let (mut table, mut size, mut i) = (q.desc, q.size, head);
    let mut indirect = false;
    let mut steps = 0u32;
    loop {
        if i >= size {
            return Err(format!("descriptor {i} outside a table of {size}"));
        }
        steps += 1;
        if steps > u32::from(q.size) + u32::from(size) + 1 {
            return Err("descriptor chain loops".into());
        }
        let (addr, len, flags, next) =
            read_desc(table, i, mem).ok_or("descriptor table outside RAM")?;
        table_reads.push((table + 16 * u64::from(i), 16));
        if flags & F_INDIRECT != 0 && !indirect {
            table = addr;
            size = (len / 16).min(u32::from(u16::MAX)) as u16;
            i = 0;
            indirect = true;
            continue;
        }
        out.push(Desc {
            addr,
            len,
            write: flags & F_WRITE != 0,
        });
        if flags & F_NEXT == 0 {
            return Ok((out, table_reads));
        }
        i = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phys::VecMem;

    fn desc(m: &VecMem, table: u64, i: u64, addr: u64, len: u32, flags: u16, next: u16) {
        let mut b = [0u8; 16];
        b[0..8].copy_from_slice(&addr.to_le_bytes());
        b[8..12].copy_from_slice(&len.to_le_bytes());
        b[12..14].copy_from_slice(&flags.to_le_bytes());
        b[14..16].copy_from_slice(&next.to_le_bytes());
        m.write(table + 16 * i, &b);
    }

    #[test]
    fn chains_rings_and_bad_chains() {
        let m = VecMem::new(0, 0x10000);
        let q = QueueLayout {
            size: 8,
            desc: 0x1000,
            driver: 0x1080,
            device: 0x10a0,
        };
        desc(&m, 0x1000, 2, 0x5000, 24, F_NEXT, 3);
        desc(&m, 0x1000, 3, 0x5200, 24, F_WRITE, 0);
        m.write(0x1080 + 2, &1u16.to_le_bytes());
        m.write(0x1080 + 4, &2u16.to_le_bytes());
        assert_eq!(avail_idx(&q, &m), Some(1));
        assert_eq!(avail_entry(&q, 0, &m), Some(2));
        assert_eq!(avail_entry(&q, 8, &m), Some(2), "free-running index wraps");
        let (chain, reads) = read_chain(&q, 2, &m).unwrap();
        assert_eq!(
            chain,
            vec![
                Desc {
                    addr: 0x5000,
                    len: 24,
                    write: false
                },
                Desc {
                    addr: 0x5200,
                    len: 24,
                    write: true
                }
            ]
        );
        assert_eq!(reads, vec![(0x1020, 16), (0x1030, 16)]);
        // Indirect: one descriptor pointing at a table of two.
        desc(&m, 0x1000, 4, 0x2000, 32, F_INDIRECT, 0);
        desc(&m, 0x2000, 0, 0x6000, 16, F_NEXT, 1);
        desc(&m, 0x2000, 1, 0x7000, 512, F_WRITE, 0);
        let (chain, _) = read_chain(&q, 4, &m).unwrap();
        assert_eq!(chain.len(), 2);
        assert!(chain[1].write && chain[1].addr == 0x7000);
        // A loop and a descriptor outside the table fail.
        desc(&m, 0x1000, 5, 0x5000, 1, F_NEXT, 5);
        assert!(read_chain(&q, 5, &m).is_err());
        desc(&m, 0x1000, 6, 0x5000, 1, F_NEXT, 9);
        assert!(read_chain(&q, 6, &m).is_err());
        // Used ring.
        m.write(0x10a0 + 2, &1u16.to_le_bytes());
        m.write(0x10a0 + 4, &2u32.to_le_bytes());
        m.write(0x10a0 + 8, &24u32.to_le_bytes());
        assert_eq!(used_idx(&q, &m), Some(1));
        assert_eq!(used_entry(&q, 0, &m), Some((2, 24)));
        assert_eq!(ring_ranges(&q)[2], (0x10a0, 6 + 64));
    }
}
