//! The console UART for an early console: found before (and whether or not) the full
//! parse succeeds, so the kernel can say what is wrong with a tree it cannot use.
//!
//! Only `status` decides whether a UART is usable: the kernel runs in the non-secure
//! world, and `secure-status` describes the secure world's view (QEMU `secure=on` adds
//! a secure-only PL011 with `status = "disabled"`, `secure-status = "okay"`; touching
//! it from the non-secure world faults).

use fdt::Fdt;

use super::chosen;
use super::devices::PL011;
use super::tree::{cell, NodeRef};
use super::validate;

/// The physical base address of the UART to use as the early console: the node
/// `/chosen/stdout-path` names if it is an enabled PL011, else the first enabled PL011
/// in the tree. Only the first address of its `reg` is read (with the parent's
/// `#address-cells`, 1 or 2), so a tree whose sizes are wrong elsewhere still gives a
/// console. `None` if `dtb` fails structural validation or has no usable PL011.
pub fn early_uart(dtb: &[u8]) -> Option<u64> {
    let size = validate::fdt_total_size(dtb).ok()?;
    let blob = dtb.get(..size)?;
    validate::check(blob).ok()?;
    let fdt = Fdt::new(blob).ok()?;
    let root = NodeRef::root(&fdt).ok()?;
    let from_stdout = root
        .find_child("chosen")
        .and_then(|c| chosen::stdout(root, &c))
        .filter(|n| n.is_compatible(PL011))
        .and_then(|n| base_address(&n));
    if from_stdout.is_some() {
        return from_stdout;
    }
    let mut first = None;
    let _ = root.walk(&mut |n: &NodeRef<'_, '_>| {
        if first.is_none() && n.is_compatible(PL011) {
            first = base_address(n);
        }
        Ok::<(), ()>(())
    });
    first
}

/// The first address of `reg`, if the node is reached without address translation.
fn base_address(n: &NodeRef<'_, '_>) -> Option<u64> {
    let raw = n.prop("reg")?;
    if !n.identity {
        return None;
    }
    match n.address_cells {
        1 => cell(raw).map(u64::from),
        2 => Some((u64::from(cell(raw)?) << 32) | u64::from(cell(raw.get(4..)?)?)),
        _ => None,
    }
}
