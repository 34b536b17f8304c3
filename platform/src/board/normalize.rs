//! Rewriting a DTB into the canonical form the parser accepts: header, memory
//! reservations, structure block without `FDT_NOP` tokens, strings, nothing else.
//!
//! Firmware and QEMU edit trees in place (`-dtb` files, for one, come back with NOPs
//! where properties were removed), and the `fdt` crate mishandles NOPs. Rather than
//! patch the crate, the kernel copies the blob once at boot into a buffer of its own.

use super::validate::{check_with, HEADER_SIZE};
use super::BoardError;

const FDT_BEGIN_NODE: u32 = 1;
const FDT_PROP: u32 = 3;
const FDT_NOP: u32 = 4;
const FDT_END: u32 = 9;

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

/// Copy `dtb` into `out` without `FDT_NOP` tokens and without free space; returns the
/// new blob's length. The input is fully validated first (NOPs allowed), so a malformed
/// blob gives the same errors as [`super::BoardInfo::parse`]. Fails with
/// [`BoardError::Truncated`] if `out` is too small.
pub fn normalize(dtb: &[u8], out: &mut [u8]) -> Result<usize, BoardError> {
    normalize_dropping(dtb, out, usize::MAX).map(|(n, _)| n)
}

/// Like [`normalize`], but properties whose value is longer than `max_prop` bytes are
/// left out of the copy; returns the copy's length and how many were left out. For a
/// tree whose content outgrows the caller's buffer only because of a few large
/// properties (blobs, padding) that the kernel never reads: the largest property it
/// reads, `interrupt-map`, is a few hundred bytes.
pub fn normalize_dropping(
    dtb: &[u8],
    out: &mut [u8],
    max_prop: usize,
) -> Result<(usize, usize), BoardError> {
    let total = super::fdt_total_size(dtb)?;
    let blob = dtb.get(..total).ok_or(BoardError::Truncated {
        needed: total,
        got: dtb.len(),
    })?;
    check_with(blob, true)?;
    let field = |i: usize| be32(blob, 4 * i) as usize;
    let (off_struct, off_strings, off_rsv) = (field(2), field(3), field(4));
    let (size_strings, size_struct) = (field(8), field(9));

    // Reservation entries up to and including the (0, 0) terminator.
    let mut rsv_len = 0;
    while blob[off_rsv + rsv_len..off_rsv + rsv_len + 16]
        .iter()
        .any(|&b| b != 0)
    {
        rsv_len += 16;
    }
    rsv_len += 16;

    let structs = &blob[off_struct..off_struct + size_struct];
    let (kept, dropped) = structure_len_without_nops(structs, max_prop);
    let new_rsv = HEADER_SIZE.next_multiple_of(8);
    let new_struct = new_rsv + rsv_len;
    let new_strings = new_struct + kept;
    let new_total = new_strings + size_strings;
    if out.len() < new_total {
        return Err(BoardError::Truncated {
            needed: new_total,
            got: out.len(),
        });
    }
    out[..new_total].fill(0);
    out[..HEADER_SIZE].copy_from_slice(&blob[..HEADER_SIZE]);
    out[new_rsv..new_struct].copy_from_slice(&blob[off_rsv..off_rsv + rsv_len]);
    copy_without_nops(structs, &mut out[new_struct..new_strings], max_prop);
    out[new_strings..new_total].copy_from_slice(&blob[off_strings..off_strings + size_strings]);
    put32(out, 4, new_total as u32);
    put32(out, 8, new_struct as u32);
    put32(out, 12, new_strings as u32);
    put32(out, 16, new_rsv as u32);
    put32(out, 32, size_strings as u32);
    put32(out, 36, kept as u32);
    Ok((new_total, dropped))
}

/// Whether the token at `pos` is left out: a NOP, or a property longer than `max_prop`.
fn skipped(s: &[u8], pos: usize, max_prop: usize) -> bool {
    match be32(s, pos) {
        FDT_NOP => true,
        FDT_PROP => be32(s, pos + 4) as usize > max_prop,
        _ => false,
    }
}

/// Length in bytes of one token and its payload at `pos` (the blob is validated).
fn token_len(s: &[u8], pos: usize) -> usize {
    match be32(s, pos) {
        FDT_BEGIN_NODE => {
            let name = s[pos + 4..].iter().position(|&b| b == 0).unwrap_or(0) + 1;
            4 + name.next_multiple_of(4)
        }
        FDT_PROP => 12 + (be32(s, pos + 4) as usize).next_multiple_of(4),
        _ => 4, // END_NODE, NOP, END
    }
}

/// Bytes of the structure block kept, and properties left out for their size.
fn structure_len_without_nops(s: &[u8], max_prop: usize) -> (usize, usize) {
    let (mut pos, mut kept, mut dropped) = (0, 0, 0);
    while pos < s.len() {
        let len = token_len(s, pos);
        let token = be32(s, pos);
        if !skipped(s, pos, max_prop) {
            kept += len;
        } else if token == FDT_PROP {
            dropped += 1;
        }
        pos += len;
        if token == FDT_END {
            break;
        }
    }
    (kept, dropped)
}

fn copy_without_nops(s: &[u8], out: &mut [u8], max_prop: usize) {
    let (mut pos, mut at) = (0, 0);
    while pos < s.len() {
        let len = token_len(s, pos);
        let token = be32(s, pos);
        if !skipped(s, pos, max_prop) {
            out[at..at + len].copy_from_slice(&s[pos..pos + len]);
            at += len;
        }
        pos += len;
        if token == FDT_END {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::board::BoardInfo;

    const QEMU_DTB: &[u8] = include_bytes!("../../tests/data/virt-gicv3.dtb");

    /// Insert a NOP token after every property and before FDT_END, fixing up the
    /// header: the kind of blob in-place editing leaves.
    fn with_nops(dtb: &[u8]) -> Vec<u8> {
        let field = |i: usize| be32(dtb, 4 * i) as usize;
        let (off_struct, size_struct, off_strings) = (field(2), field(9), field(3));
        let s = &dtb[off_struct..off_struct + size_struct];
        let mut new_s = Vec::new();
        let mut pos = 0;
        let mut inserted = 0;
        while pos < s.len() {
            let len = token_len(s, pos);
            let token = be32(s, pos);
            if token == FDT_END {
                new_s.extend_from_slice(&FDT_NOP.to_be_bytes());
                inserted += 1;
            }
            new_s.extend_from_slice(&s[pos..pos + len]);
            if token == FDT_PROP {
                new_s.extend_from_slice(&FDT_NOP.to_be_bytes());
                inserted += 1;
            }
            pos += len;
        }
        assert!(inserted > 10);
        let mut out = dtb[..off_struct].to_vec();
        out.extend_from_slice(&new_s);
        let new_strings = out.len();
        out.extend_from_slice(&dtb[off_strings..off_strings + field(8)]);
        let total = out.len();
        put32(&mut out, 4, total as u32);
        put32(&mut out, 12, new_strings as u32);
        put32(&mut out, 36, new_s.len() as u32);
        out
    }

    #[test]
    fn nops_are_rejected_by_parse_and_removed_by_normalize() {
        let nopped = with_nops(QEMU_DTB);
        let err = BoardInfo::parse(&nopped).unwrap_err();
        assert!(format!("{err}").contains("FDT_NOP"), "{err}");

        let mut buf = vec![0u8; nopped.len()];
        let n = normalize(&nopped, &mut buf).unwrap();
        let clean = BoardInfo::parse(&buf[..n]).unwrap();
        let orig = BoardInfo::parse(QEMU_DTB).unwrap();
        assert_eq!(clean.uart, orig.uart);
        assert_eq!(clean.gic, orig.gic);
        assert_eq!(clean.memory, orig.memory);
        assert_eq!(clean.virtio_mmio.len(), orig.virtio_mmio.len());
        assert_eq!(clean.bootargs, orig.bootargs);
        assert!(n < nopped.len());
    }

    #[test]
    fn normalize_of_a_clean_dtb_keeps_its_content() {
        let mut buf = vec![0u8; QEMU_DTB.len()];
        let n = normalize(QEMU_DTB, &mut buf).unwrap();
        let a = BoardInfo::parse(&buf[..n]).unwrap();
        let b = BoardInfo::parse(QEMU_DTB).unwrap();
        assert_eq!(a.timer, b.timer);
        assert_eq!(a.initrd, b.initrd);
        assert_eq!(a.psci, b.psci);
    }

    #[test]
    fn large_properties_can_be_left_out() {
        // QEMU's tree plus a 300 KiB property and NOPs: too big for a 256 KiB copy, fits
        // once properties over 64 KiB are left out, and nothing the kernel reads is lost.
        let field = |b: &[u8], i: usize| be32(b, 4 * i) as usize;
        let (off_struct, size_struct, off_strings) =
            (field(QEMU_DTB, 2), field(QEMU_DTB, 9), field(QEMU_DTB, 3));
        // A property on the root node (after its BEGIN_NODE and empty name), named by
        // the strings block's first name.
        let mut s = QEMU_DTB[off_struct..off_struct + 8].to_vec();
        s.extend_from_slice(&FDT_PROP.to_be_bytes());
        s.extend_from_slice(&(300u32 * 1024).to_be_bytes());
        s.extend_from_slice(&0u32.to_be_bytes());
        s.extend(std::iter::repeat_n(0x5a, 300 * 1024));
        s.extend_from_slice(&QEMU_DTB[off_struct + 8..off_struct + size_struct]);
        let mut big = QEMU_DTB[..off_struct].to_vec();
        big.extend_from_slice(&s);
        let strings = big.len();
        big.extend_from_slice(&QEMU_DTB[off_strings..off_strings + field(QEMU_DTB, 8)]);
        let total = big.len();
        put32(&mut big, 4, total as u32);
        put32(&mut big, 12, strings as u32);
        put32(&mut big, 36, s.len() as u32);
        let big = with_nops(&big);

        let mut buf = vec![0u8; 256 * 1024];
        assert!(matches!(
            normalize(&big, &mut buf),
            Err(BoardError::Truncated { .. })
        ));
        let (n, dropped) = normalize_dropping(&big, &mut buf, 64 * 1024).unwrap();
        assert_eq!(dropped, 1);
        let a = BoardInfo::parse(&buf[..n]).unwrap();
        let b = BoardInfo::parse(QEMU_DTB).unwrap();
        assert_eq!(
            (a.uart, a.gic, a.timer, a.memory),
            (b.uart, b.gic, b.timer, b.memory)
        );
        assert_eq!(a.pci, b.pci);
        assert_eq!(a.virtio_mmio, b.virtio_mmio);
    }

    #[test]
    fn too_small_output_is_an_error_not_a_panic() {
        let mut buf = vec![0u8; 100];
        assert!(matches!(
            normalize(QEMU_DTB, &mut buf),
            Err(BoardError::Truncated { .. })
        ));
    }

    #[test]
    fn malformed_input_is_rejected() {
        let mut bad = QEMU_DTB.to_vec();
        bad[0] = 0;
        let mut buf = vec![0u8; QEMU_DTB.len()];
        assert!(matches!(
            normalize(&bad, &mut buf),
            Err(BoardError::BadMagic)
        ));
        for cut in [0, 39, 100, QEMU_DTB.len() / 2] {
            assert!(normalize(&QEMU_DTB[..cut], &mut buf).is_err());
        }
    }
}
