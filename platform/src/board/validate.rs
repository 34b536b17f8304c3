//! Structural validation of an FDT blob before the `fdt` crate sees it.
//!
//! The `fdt` crate (0.1.5) trusts its input: out-of-range offsets, property lengths
//! or string offsets, unbalanced nodes or non-UTF-8 names make it panic. A kernel
//! cannot catch a panic, so [`check`] walks the whole blob once and rejects anything
//! the crate would trip over. After it returns `Ok`, the crate's accessors cannot fail
//! on this blob.

use super::BoardError;

/// Size of the FDT header (version 17).
pub const HEADER_SIZE: usize = 40;
/// FDT magic number.
pub const FDT_MAGIC: u32 = 0xd00d_feed;
/// Deepest node nesting accepted (the `fdt` crate tracks at most 63 levels; the
/// walkers in this crate recurse, so keep it modest).
pub const MAX_DEPTH: usize = 16;

const FDT_BEGIN_NODE: u32 = 1;
const FDT_END_NODE: u32 = 2;
const FDT_PROP: u32 = 3;
const FDT_NOP: u32 = 4;
const FDT_END: u32 = 9;

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn be64(bytes: &[u8], at: usize) -> Option<u64> {
    Some((u64::from(be32(bytes, at)?) << 32) | u64::from(be32(bytes, at + 4)?))
}

/// Checks the magic and returns `totalsize` from a blob's header.
///
/// Needs only the first 40 bytes, so the kernel can map the header, learn the full
/// size, then map the rest.
pub fn fdt_total_size(header: &[u8]) -> Result<usize, BoardError> {
    if header.len() < HEADER_SIZE {
        return Err(BoardError::Truncated {
            needed: HEADER_SIZE,
            got: header.len(),
        });
    }
    if be32(header, 0) != Some(FDT_MAGIC) {
        return Err(BoardError::BadMagic);
    }
    let total = be32(header, 4).unwrap_or(0) as usize;
    if total < HEADER_SIZE {
        return Err(BoardError::Malformed(
            "header totalsize is smaller than the header",
        ));
    }
    Ok(total)
}

/// A block `[off, off + len)` that must lie inside the blob.
fn block<'a>(
    dtb: &'a [u8],
    off: u32,
    len: u32,
    what: &'static str,
) -> Result<&'a [u8], BoardError> {
    let start = off as usize;
    let end = start
        .checked_add(len as usize)
        .ok_or(BoardError::Malformed(what))?;
    dtb.get(start..end).ok_or(BoardError::Malformed(what))
}

/// Validates `dtb`, which must be exactly `totalsize` bytes long. `FDT_NOP` tokens are
/// rejected (the `fdt` crate mishandles them); [`super::normalize`] removes them.
pub fn check(dtb: &[u8]) -> Result<(), BoardError> {
    check_with(dtb, false)
}

/// Like [`check`], but with `allow_nop` the structure block may contain `FDT_NOP`.
pub(super) fn check_with(dtb: &[u8], allow_nop: bool) -> Result<(), BoardError> {
    let total = fdt_total_size(dtb)?;
    if dtb.len() != total {
        return Err(BoardError::Truncated {
            needed: total,
            got: dtb.len(),
        });
    }
    let field = |i: usize| be32(dtb, 4 * i).unwrap_or(0);
    let (off_struct, off_strings, off_rsv) = (field(2), field(3), field(4));
    let (version, size_strings, size_struct) = (field(5), field(8), field(9));
    if version < 17 {
        return Err(BoardError::Malformed("FDT version is older than 17"));
    }
    if off_struct % 4 != 0 || size_struct % 4 != 0 {
        return Err(BoardError::Malformed(
            "structure block is not 4-byte aligned",
        ));
    }
    let structs = block(
        dtb,
        off_struct,
        size_struct,
        "structure block lies outside the blob",
    )?;
    let strings = block(
        dtb,
        off_strings,
        size_strings,
        "strings block lies outside the blob",
    )?;
    check_reservations(dtb, off_rsv as usize)?;
    check_structure(structs, strings, allow_nop)
}

fn check_reservations(dtb: &[u8], mut at: usize) -> Result<(), BoardError> {
    loop {
        let (addr, size) = be64(dtb, at)
            .zip(be64(dtb, at + 8))
            .ok_or(BoardError::Malformed(
                "memory reservation block is not terminated",
            ))?;
        if addr == 0 && size == 0 {
            return Ok(());
        }
        at += 16;
    }
}

/// Returns the NUL-terminated UTF-8 string at the start of `bytes`.
fn cstr(bytes: &[u8]) -> Option<&str> {
    let nul = bytes.iter().position(|&b| b == 0)?;
    core::str::from_utf8(&bytes[..nul]).ok()
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Walks the token stream enforcing
/// `root := BEGIN_NODE "" PROP* node* END_NODE; END` with `node` alike (non-empty
/// names). `FDT_NOP` is rejected unless `allow_nop`: the `fdt` crate mishandles it in
/// several places (a NOP between two properties ends its node and child iteration).
fn check_structure(s: &[u8], strings: &[u8], allow_nop: bool) -> Result<(), BoardError> {
    let err = BoardError::Malformed;
    let mut pos = 0usize;
    let mut depth = 0usize;
    // Properties are allowed only before a node's first child.
    let mut props_allowed = false;
    loop {
        let token = be32(s, pos).ok_or(err("structure block ends before FDT_END"))?;
        pos += 4;
        match token {
            FDT_BEGIN_NODE => {
                let rest = s.get(pos..).unwrap_or_default();
                let name = cstr(rest).ok_or(err("node name is unterminated or not UTF-8"))?;
                if depth == 0 && !name.is_empty() {
                    return Err(err("root node has a non-empty name"));
                }
                if depth > 0 && name.is_empty() {
                    return Err(err("non-root node has an empty name"));
                }
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(err("nodes nested too deeply"));
                }
                pos += align4(name.len() + 1);
                props_allowed = true;
            }
            FDT_PROP => {
                if !props_allowed {
                    return Err(err("property after a child node or outside any node"));
                }
                let len = be32(s, pos).ok_or(err("property header truncated"))? as usize;
                let name_off = be32(s, pos + 4).ok_or(err("property header truncated"))?;
                pos += 8;
                if pos.checked_add(len).is_none_or(|end| end > s.len()) {
                    return Err(err("property value runs past the structure block"));
                }
                let name = strings
                    .get(name_off as usize..)
                    .and_then(cstr)
                    .ok_or(err("property name offset is outside the strings block"))?;
                if (name == "#address-cells" || name == "#size-cells") && len != 4 {
                    return Err(err("#address-cells or #size-cells is not one cell"));
                }
                pos += align4(len);
            }
            FDT_END_NODE => {
                if depth == 0 {
                    return Err(err("unbalanced FDT_END_NODE"));
                }
                depth -= 1;
                props_allowed = false;
                if depth == 0 {
                    let mut end = pos;
                    while allow_nop && be32(s, end) == Some(FDT_NOP) {
                        end += 4;
                    }
                    return match be32(s, end) {
                        Some(FDT_END) => Ok(()),
                        _ => Err(err("root node is not followed by FDT_END")),
                    };
                }
            }
            FDT_NOP if allow_nop => {}
            FDT_NOP => {
                return Err(err(
                    "FDT_NOP tokens are not supported (normalize the DTB first)",
                ))
            }
            FDT_END => return Err(err("FDT_END inside an open node")),
            _ => return Err(err("unknown structure token")),
        }
    }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
