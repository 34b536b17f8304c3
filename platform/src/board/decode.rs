//! Decoding `reg` and `interrupts` properties into [`Region`]s and [`Irq`]s.

use fdt::Fdt;

use super::tree::{cell, NodeRef};
use super::{BoardError, Irq, Region, Trigger};

/// Number of SPIs a GIC can have (INTIDs 32..1019).
const MAX_SPI: u32 = 988;
/// Number of PPIs (INTIDs 16..31).
const MAX_PPI: u32 = 16;

fn read_cells(bytes: &[u8], cells: usize) -> u64 {
    bytes
        .chunks_exact(4)
        .take(cells)
        .fold(0, |acc, c| (acc << 32) | u64::from(cell(c).unwrap_or(0)))
}

/// All `(address, size)` entries of `node`'s `reg`, checked and converted.
///
/// Fails if `reg` is absent, mis-sized, has a zero-sized or wrapping entry, or if
/// the node sits behind a bus that translates addresses.
pub(crate) fn regs<'a>(
    node: &NodeRef<'_, 'a>,
    role: &'static str,
) -> Result<impl Iterator<Item = Region> + 'a, BoardError> {
    let invalid = |what| BoardError::Invalid { node: role, what };
    let raw = node.prop("reg").ok_or(BoardError::MissingProperty {
        node: role,
        property: "reg",
    })?;
    if !node.identity {
        return Err(invalid(
            "reg is behind a bus with address translation (non-empty ranges)",
        ));
    }
    let (ac, sc) = (node.address_cells as usize, node.size_cells as usize);
    if !(1..=2).contains(&ac) || !(1..=2).contains(&sc) {
        return Err(invalid(
            "parent #address-cells/#size-cells must be 1 or 2 for reg",
        ));
    }
    let stride = 4 * (ac + sc);
    if raw.is_empty() || raw.len() % stride != 0 {
        return Err(invalid(
            "reg is not a whole number of (address, size) entries",
        ));
    }
    for entry in raw.chunks_exact(stride) {
        let (base, size) = (read_cells(entry, ac), read_cells(&entry[4 * ac..], sc));
        if size == 0 {
            return Err(invalid("reg entry has zero size"));
        }
        if base.checked_add(size).is_none() {
            return Err(invalid("reg entry wraps past the end of the address space"));
        }
    }
    Ok(raw.chunks_exact(stride).map(move |e| Region {
        base: read_cells(e, ac),
        size: read_cells(&e[4 * ac..], sc),
    }))
}

/// Entry `index` of `node`'s `reg`.
pub(crate) fn reg(
    node: &NodeRef<'_, '_>,
    role: &'static str,
    index: usize,
) -> Result<Region, BoardError> {
    regs(node, role)?.nth(index).ok_or(BoardError::Invalid {
        node: role,
        what: if index == 0 {
            "reg is empty"
        } else {
            "reg has too few entries"
        },
    })
}

/// Decodes one GIC 3-cell interrupt specifier `<type number flags>`.
pub(crate) fn gic_specifier(spec: [u32; 3], role: &'static str) -> Result<Irq, BoardError> {
    let invalid = |what| BoardError::Invalid { node: role, what };
    let [kind, number, flags] = spec;
    let intid = match kind {
        0 if number < MAX_SPI => 32 + number,
        0 => return Err(invalid("SPI number in interrupts is out of range (>= 988)")),
        1 if number < MAX_PPI => 16 + number,
        1 => return Err(invalid("PPI number in interrupts is out of range (>= 16)")),
        _ => return Err(invalid("interrupt type is neither SPI (0) nor PPI (1)")),
    };
    // Flags bits [3:0]: 1 = rising edge, 2 = falling edge, 4 = high level, 8 = low level.
    let trigger = if flags & 0b0011 != 0 {
        Trigger::Edge
    } else {
        Trigger::Level
    };
    Ok(Irq { intid, trigger })
}

/// The `interrupts` of `node` decoded as GIC specifiers, or `None` if it has none.
///
/// The interrupt parent (own or inherited `interrupt-parent`) must exist and have
/// `#interrupt-cells = <3>`.
pub(crate) fn interrupts<'a>(
    fdt: &Fdt<'a>,
    node: &NodeRef<'_, 'a>,
    role: &'static str,
) -> Result<Option<impl Iterator<Item = Result<Irq, BoardError>> + 'a>, BoardError> {
    let invalid = |what| BoardError::Invalid { node: role, what };
    let Some(raw) = node.prop("interrupts") else {
        return Ok(None);
    };
    let phandle = node
        .irq_parent()
        .ok_or(invalid("has interrupts but no interrupt-parent"))?;
    let parent = fdt
        .find_phandle(phandle)
        .ok_or(invalid("interrupt-parent phandle matches no node"))?;
    match parent.interrupt_cells() {
        Some(3) => {}
        Some(_) => return Err(invalid("interrupt parent's #interrupt-cells is not 3")),
        None => return Err(invalid("interrupt parent has no #interrupt-cells")),
    }
    if raw.is_empty() || raw.len() % 12 != 0 {
        return Err(invalid(
            "interrupts is not a whole number of 3-cell specifiers",
        ));
    }
    Ok(Some(raw.chunks_exact(12).map(move |s| {
        let c = |i: usize| cell(&s[4 * i..]).unwrap_or(0);
        gic_specifier([c(0), c(1), c(2)], role)
    })))
}

/// Interrupt `index` of `node`: `Ok(None)` if the node has no `interrupts`.
pub(crate) fn irq(
    fdt: &Fdt<'_>,
    node: &NodeRef<'_, '_>,
    role: &'static str,
    index: usize,
) -> Result<Option<Irq>, BoardError> {
    let Some(list) = interrupts(fdt, node, role)? else {
        return Ok(None);
    };
    // Decode every specifier so a malformed one is reported even if unused.
    let mut wanted = None;
    for (i, irq) in list.enumerate() {
        let irq = irq?;
        if i == index {
            wanted = Some(irq);
        }
    }
    let too_few = BoardError::Invalid {
        node: role,
        what: "interrupts has too few entries",
    };
    wanted.map(Some).ok_or(too_few)
}

/// Like [`irq`] but the interrupt is required.
pub(crate) fn required_irq(
    fdt: &Fdt<'_>,
    node: &NodeRef<'_, '_>,
    role: &'static str,
    index: usize,
) -> Result<Irq, BoardError> {
    irq(fdt, node, role, index)?.ok_or(BoardError::MissingProperty {
        node: role,
        property: "interrupts",
    })
}
