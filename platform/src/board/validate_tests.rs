//! Hand-assembled blobs exercising each structural check.

use super::{check, fdt_total_size, BoardError};

const BEGIN: u32 = 1;
const END_NODE: u32 = 2;
const PROP: u32 = 3;
const NOP: u32 = 4;
const END: u32 = 9;
/// Node name "a" padded to one word.
const NAME_A: u32 = 0x6100_0000;
/// Strings block: "#address-cells\0x\0".
const STRINGS: &[u8] = b"#address-cells\0x\0";
const STR_ADDRESS_CELLS: u32 = 0;
const STR_X: u32 = 15;

/// Header (version 17), empty reservation block, `structure` words, strings.
fn blob_with(structure: &[u32], strings: &[u8], version: u32) -> Vec<u8> {
    let off_rsv = 40u32;
    let off_struct = off_rsv + 16;
    let size_struct = 4 * structure.len() as u32;
    let off_strings = off_struct + size_struct;
    let total = off_strings + strings.len() as u32;
    let header = [
        0xd00d_feed,
        total,
        off_struct,
        off_strings,
        off_rsv,
        version,
        16,
        0,
        strings.len() as u32,
        size_struct,
    ];
    let mut out: Vec<u8> = header.iter().flat_map(|w| w.to_be_bytes()).collect();
    out.extend_from_slice(&[0; 16]);
    out.extend(structure.iter().flat_map(|w| w.to_be_bytes()));
    out.extend_from_slice(strings);
    out
}

fn blob(structure: &[u32]) -> Vec<u8> {
    blob_with(structure, STRINGS, 17)
}

fn malformed(structure: &[u32]) -> &'static str {
    match check(&blob(structure)) {
        Err(BoardError::Malformed(what)) => what,
        other => panic!("expected Malformed, got {other:?}"),
    }
}

#[test]
fn well_formed_blob_passes() {
    let words = [
        BEGIN,
        0,
        PROP,
        4,
        STR_ADDRESS_CELLS,
        2,
        BEGIN,
        NAME_A,
        PROP,
        0,
        STR_X,
        END_NODE,
        END_NODE,
        END,
    ];
    assert_eq!(check(&blob(&words)), Ok(()));
    assert_eq!(fdt_total_size(&blob(&words)), Ok(blob(&words).len()));
}

#[test]
fn structural_errors() {
    assert_eq!(
        malformed(&[BEGIN, 0, NOP, END_NODE, END]),
        "FDT_NOP tokens are not supported (normalize the DTB first)"
    );
    assert_eq!(
        malformed(&[BEGIN, 0, BEGIN, NAME_A, END_NODE, PROP, 0, STR_X, END_NODE, END]),
        "property after a child node or outside any node"
    );
    assert_eq!(
        malformed(&[BEGIN, 0, END_NODE, END_NODE]),
        "root node is not followed by FDT_END"
    );
    assert_eq!(
        malformed(&[BEGIN, 0, BEGIN, NAME_A, END_NODE]),
        "structure block ends before FDT_END"
    );
    assert_eq!(
        malformed(&[BEGIN, 0, END, END_NODE]),
        "FDT_END inside an open node"
    );
    assert_eq!(
        malformed(&[BEGIN, NAME_A, END_NODE, END]),
        "root node has a non-empty name"
    );
    assert_eq!(
        malformed(&[BEGIN, 0, BEGIN, 0, END_NODE, END_NODE, END]),
        "non-root node has an empty name"
    );
    assert_eq!(
        malformed(&[BEGIN, 0, 7, END_NODE, END]),
        "unknown structure token"
    );
    assert_eq!(malformed(&[END_NODE, END]), "unbalanced FDT_END_NODE");
    assert_eq!(
        malformed(&[PROP, 0, STR_X, END]),
        "property after a child node or outside any node"
    );
    assert_eq!(
        malformed(&[BEGIN, 0, PROP, 64, STR_X, END_NODE, END]),
        "property value runs past the structure block"
    );
    assert_eq!(
        malformed(&[BEGIN, 0, PROP, 0, 4096, END_NODE, END]),
        "property name offset is outside the strings block"
    );
    assert_eq!(
        malformed(&[BEGIN, 0, PROP, 2, STR_ADDRESS_CELLS, 0, END_NODE, END]),
        "#address-cells or #size-cells is not one cell"
    );
    assert_eq!(
        malformed(&[BEGIN, 0x6161_6161, 0x6161_6161]),
        "node name is unterminated or not UTF-8"
    );
    assert_eq!(
        malformed(&[BEGIN, 0xff00_0000, END_NODE, END]),
        "node name is unterminated or not UTF-8"
    );
}

#[test]
fn nesting_limit() {
    let mut words = vec![BEGIN, 0];
    for _ in 0..super::MAX_DEPTH {
        words.extend([BEGIN, NAME_A]);
    }
    words.extend(std::iter::repeat_n(END_NODE, super::MAX_DEPTH + 1));
    words.push(END);
    assert_eq!(malformed(&words), "nodes nested too deeply");
}

#[test]
fn header_errors() {
    let good = [BEGIN, 0, END_NODE, END];
    assert_eq!(
        check(&blob_with(&good, STRINGS, 16)),
        Err(BoardError::Malformed("FDT version is older than 17"))
    );
    let mut b = blob(&good);
    b[12..16].copy_from_slice(&0x1000u32.to_be_bytes()); // off_dt_strings
    assert_eq!(
        check(&b),
        Err(BoardError::Malformed("strings block lies outside the blob"))
    );
    let mut b = blob(&good);
    b[36..40].copy_from_slice(&0xffff_fff0u32.to_be_bytes()); // size_dt_struct
    assert_eq!(
        check(&b),
        Err(BoardError::Malformed(
            "structure block lies outside the blob"
        ))
    );
    let mut b = blob(&good);
    let near_end = b.len() as u32 - 8; // a reservation entry would run off the end
    b[16..20].copy_from_slice(&near_end.to_be_bytes());
    assert_eq!(
        check(&b),
        Err(BoardError::Malformed(
            "memory reservation block is not terminated"
        ))
    );
    let b = blob(&good);
    let len = b.len();
    assert_eq!(
        check(&b[..len - 1]),
        Err(BoardError::Truncated {
            needed: len,
            got: len - 1
        })
    );
    let mut b = blob(&good);
    b[4..8].copy_from_slice(&39u32.to_be_bytes());
    assert_eq!(
        fdt_total_size(&b),
        Err(BoardError::Malformed(
            "header totalsize is smaller than the header"
        ))
    );
}
