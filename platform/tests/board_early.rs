//! The early console's UART (`early_uart`): chosen by `status`, from trees the full
//! parser rejects too. Data: QEMU 10.0 `-M virt,secure=on,dumpdtb=... -kernel Image
//! -append console=pl011`, whose first
//! PL011 (0x9040000) is secure-only (`status = "disabled"`, `secure-status = "okay"`)
//! and whose `/chosen/stdout-path` names the non-secure one (0x9000000).

use platform::board::{early_uart, BoardInfo};

const SECURE: &[u8] = include_bytes!("data/virt-gicv3-secure.dtb");

/// Replace the first occurrence of `from` with `to` (same length).
fn patch(dtb: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut v = dtb.to_vec();
    let at = v
        .windows(from.len())
        .position(|w| w == from)
        .expect("pattern");
    v[at..at + to.len()].copy_from_slice(to);
    v
}

#[test]
fn secure_board_uses_the_non_secure_uart() {
    assert_eq!(early_uart(SECURE), Some(0x0900_0000));
    assert_eq!(BoardInfo::parse(SECURE).unwrap().uart.reg.base, 0x0900_0000);
}

#[test]
fn without_stdout_path_the_first_enabled_pl011() {
    // Point stdout-path at a node that does not exist: the secure-only UART, first in
    // the tree, must still be skipped.
    // (The path appears in /aliases and in /chosen: patch both.)
    let dtb = patch(SECURE, b"/pl011@9000000\0", b"/nothing@90000\0");
    let dtb = patch(&dtb, b"/pl011@9000000\0", b"/nothing@90000\0");
    assert_eq!(early_uart(&dtb), Some(0x0900_0000));
}

#[test]
fn a_tree_the_parser_rejects_still_names_its_uart() {
    let broken = patch(SECURE, b"arm,gic-v3\0", b"arm,gic-v9\0");
    assert!(BoardInfo::parse(&broken).is_err());
    assert_eq!(early_uart(&broken), Some(0x0900_0000));
}

#[test]
fn no_usable_uart_or_invalid_blob() {
    let dtb = patch(SECURE, b"arm,pl011\0", b"arm,xxxxx\0");
    let none = patch(&dtb, b"arm,pl011\0", b"arm,xxxxx\0");
    assert_eq!(early_uart(&none), None);
    assert_eq!(early_uart(&SECURE[..SECURE.len() / 2]), None);
    let mut bad = SECURE.to_vec();
    bad[0] = 0;
    assert_eq!(early_uart(&bad), None);
}
