use super::*;
use crate::phys::VecMem;

fn hdr(ty: u32) -> Vec<u8> {
    let mut v = vec![0u8; HDR];
    v[0..4].copy_from_slice(&ty.to_le_bytes());
    v
}

fn put32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}

fn put64(v: &mut Vec<u8>, x: u64) {
    v.extend_from_slice(&x.to_le_bytes());
}

/// Submit command bytes through a one-descriptor chain in memory at 0x100.
fn submit(g: &mut Gpu, cmd: &[u8]) -> Submission {
    let m = VecMem::new(0, 0x10000);
    m.write(0x100, cmd);
    let chain = [
        Desc {
            addr: 0x100,
            len: cmd.len() as u32,
            write: false,
        },
        Desc {
            addr: 0x8000,
            len: 24,
            write: true,
        },
    ];
    g.submit(0, &chain, &m)
}

/// A 16x4 resource (64 bytes a row) backed by two pages far apart: rows 0..=1 in the
/// first 128 bytes of page A... the backing is 4096 + 4096 bytes.
fn setup() -> Gpu {
    let mut g = Gpu::new();
    let mut c = hdr(cmd::RESOURCE_CREATE_2D);
    for x in [7, 2, 16, 4] {
        put32(&mut c, x);
    }
    submit(&mut g, &c);
    let mut c = hdr(cmd::RESOURCE_ATTACH_BACKING);
    put32(&mut c, 7);
    put32(&mut c, 2);
    put64(&mut c, 0x4000_0000);
    put32(&mut c, 96);
    put32(&mut c, 0);
    put64(&mut c, 0x5000_0000);
    put32(&mut c, 4096);
    put32(&mut c, 0);
    let s = submit(&mut g, &c);
    assert!(s.what.contains("2 entries, 4192 bytes"), "{}", s.what);
    g
}

#[test]
fn transfers_read_the_backing_rows_qemu_reads() {
    let mut g = setup();
    assert_eq!(g.resource(7).unwrap().backing.len(), 2);
    // Rectangle (2,1) 3x2: rows at backing offsets 1*64+8 and 2*64+8, 12 bytes each.
    let mut c = hdr(cmd::TRANSFER_TO_HOST_2D);
    for x in [2, 1, 3, 2] {
        put32(&mut c, x);
    }
    put64(&mut c, 64 + 8);
    put32(&mut c, 7);
    put32(&mut c, 0);
    let s = submit(&mut g, &c);
    // Row 0: offset 72 -> 0x4000_0048 (12 bytes, inside the first 96-byte segment).
    // Row 1: offset 136 -> second segment at 136 - 96 = 40.
    assert_eq!(
        s.dma,
        vec![
            Dma {
                write: false,
                pa: 0x4000_0048,
                len: 12
            },
            Dma {
                write: false,
                pa: 0x5000_0028,
                len: 12
            }
        ]
    );
    match s.frame {
        Some(FrameOp::Transfer {
            resource: 7,
            width: 16,
            height: 4,
            format: 2,
            pieces,
        }) => {
            assert_eq!(pieces, vec![(0x4000_0048, 12, 72), (0x5000_0028, 12, 136)]);
        }
        f => panic!("{f:?}"),
    }
    // A row crossing from one segment into the next is split.
    let mut c = hdr(cmd::TRANSFER_TO_HOST_2D);
    for x in [0, 1, 16, 1] {
        put32(&mut c, x);
    }
    put64(&mut c, 64);
    put32(&mut c, 7);
    put32(&mut c, 0);
    let s = submit(&mut g, &c);
    assert_eq!(
        s.dma,
        vec![
            Dma {
                write: false,
                pa: 0x4000_0040,
                len: 32
            },
            Dma {
                write: false,
                pa: 0x5000_0000,
                len: 32
            }
        ]
    );
    assert_eq!(g.owner_of(0x5000_0010), Some((7, 96 + 16)));
    assert_eq!(g.owner_of(0x6000_0000), None);
}

#[test]
fn refused_transfers_read_nothing_and_flushes_are_frames() {
    let mut g = setup();
    let mut c = hdr(cmd::TRANSFER_TO_HOST_2D);
    for x in [10, 0, 8, 1] {
        put32(&mut c, x); // 10 + 8 > 16
    }
    put64(&mut c, 0);
    put32(&mut c, 7);
    put32(&mut c, 0);
    let s = submit(&mut g, &c);
    assert!(s.dma.is_empty() && s.what.contains("refused"));
    let mut c = hdr(cmd::RESOURCE_FLUSH);
    for x in [0, 0, 16, 4, 7, 0] {
        put32(&mut c, x);
    }
    let s = submit(&mut g, &c);
    assert_eq!(s.frame, Some(FrameOp::Flush { resource: 7 }));
    let mut c = hdr(cmd::RESOURCE_UNREF);
    put32(&mut c, 7);
    put32(&mut c, 0);
    submit(&mut g, &c);
    assert!(g.resource(7).is_none());
    assert!(submit(&mut g, &hdr(0x0100))
        .what
        .contains("GET_DISPLAY_INFO"));
    assert!(submit(&mut g, &[1, 2]).what.contains("truncated"));
}
