//! The `/chosen` node: command line, initrd and console selection.

use super::tree::{cell, NodeRef};
use super::{BoardError, Region};

const NODE: &str = "/chosen";

/// What `/chosen` tells us (all optional).
pub(crate) struct Chosen<'b, 'a> {
    pub bootargs: &'a str,
    pub initrd: Option<Region>,
    /// The node `stdout-path` points at, if it resolves.
    pub stdout: Option<NodeRef<'b, 'a>>,
}

pub(crate) fn parse<'b, 'a: 'b>(root: NodeRef<'b, 'a>) -> Result<Chosen<'b, 'a>, BoardError> {
    let Some(chosen) = root.find_child("chosen") else {
        return Ok(Chosen {
            bootargs: "",
            initrd: None,
            stdout: None,
        });
    };
    let bootargs = match chosen.prop("bootargs") {
        None => "",
        Some(raw) => core::str::from_utf8(raw)
            .map(|s| s.trim_end_matches('\0'))
            .map_err(|_| BoardError::Invalid {
                node: NODE,
                what: "bootargs is not UTF-8",
            })?,
    };
    Ok(Chosen {
        bootargs,
        initrd: initrd(&chosen)?,
        stdout: stdout(root, &chosen),
    })
}

/// Follows `stdout-path` (`/path[:options]` or `alias[:options]`).
pub(crate) fn stdout<'b, 'a: 'b>(
    root: NodeRef<'b, 'a>,
    chosen: &NodeRef<'b, 'a>,
) -> Option<NodeRef<'b, 'a>> {
    let spec = chosen
        .prop_str("stdout-path")
        .or_else(|| chosen.prop_str("linux,stdout-path"))?;
    let path = spec.split(':').next()?;
    if path.starts_with('/') {
        root.resolve_path(path)
    } else {
        let target = root.find_child("aliases")?.prop_str(path)?;
        root.resolve_path(target)
    }
}

fn address(raw: &[u8]) -> Result<u64, BoardError> {
    match raw.len() {
        4 => Ok(u64::from(cell(raw).unwrap_or(0))),
        8 => {
            Ok((u64::from(cell(raw).unwrap_or(0)) << 32) | u64::from(cell(&raw[4..]).unwrap_or(0)))
        }
        _ => Err(BoardError::Invalid {
            node: NODE,
            what: "linux,initrd-start/-end is neither 1 nor 2 cells",
        }),
    }
}

fn initrd(chosen: &NodeRef<'_, '_>) -> Result<Option<Region>, BoardError> {
    let missing = |property| BoardError::MissingProperty {
        node: NODE,
        property,
    };
    let (start, end) = match (
        chosen.prop("linux,initrd-start"),
        chosen.prop("linux,initrd-end"),
    ) {
        (None, None) => return Ok(None),
        (Some(_), None) => return Err(missing("linux,initrd-end")),
        (None, Some(_)) => return Err(missing("linux,initrd-start")),
        (Some(s), Some(e)) => (address(s)?, address(e)?),
    };
    match end.checked_sub(start) {
        None => Err(BoardError::Invalid {
            node: NODE,
            what: "linux,initrd-end is below linux,initrd-start",
        }),
        Some(0) => Ok(None),
        Some(size) => Ok(Some(Region { base: start, size })),
    }
}
