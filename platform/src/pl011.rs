//! ARM PrimeCell PL011 UART (ARM DDI 0183).
//!
//! Polled transmit/receive; interrupts can be unmasked for receive. The baud rate
//! divisors are left as firmware/QEMU set them (QEMU ignores them), so no clock
//! frequency is needed. There is no locking here: the kernel wraps the driver in
//! its own lock.

use core::fmt;

use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};
use tock_registers::{register_bitfields, register_structs};

register_bitfields! {u32,
    /// UARTDR — data register (TRM 3.3.1).
    DR [
        /// Received/transmitted character.
        DATA OFFSET(0) NUMBITS(8) [],
        /// Framing error: no valid stop bit.
        FE OFFSET(8) NUMBITS(1) [],
        /// Parity error.
        PE OFFSET(9) NUMBITS(1) [],
        /// Break error: input held low for longer than a frame.
        BE OFFSET(10) NUMBITS(1) [],
        /// Overrun error: data arrived with the receive FIFO full.
        OE OFFSET(11) NUMBITS(1) []
    ],
    /// UARTFR — flag register (TRM 3.3.3).
    FR [
        /// Clear to send.
        CTS OFFSET(0) NUMBITS(1) [],
        /// UART busy transmitting.
        BUSY OFFSET(3) NUMBITS(1) [],
        /// Receive FIFO empty.
        RXFE OFFSET(4) NUMBITS(1) [],
        /// Transmit FIFO full.
        TXFF OFFSET(5) NUMBITS(1) [],
        /// Receive FIFO full.
        RXFF OFFSET(6) NUMBITS(1) [],
        /// Transmit FIFO empty.
        TXFE OFFSET(7) NUMBITS(1) []
    ],
    /// UARTLCR_H — line control register (TRM 3.3.7).
    LCR_H [
        /// Send break.
        BRK OFFSET(0) NUMBITS(1) [],
        /// Parity enable.
        PEN OFFSET(1) NUMBITS(1) [],
        /// Even parity select.
        EPS OFFSET(2) NUMBITS(1) [],
        /// Two stop bits.
        STP2 OFFSET(3) NUMBITS(1) [],
        /// Enable the 16-byte (32 on r1p5) FIFOs.
        FEN OFFSET(4) NUMBITS(1) [],
        /// Word length.
        WLEN OFFSET(5) NUMBITS(2) [
            FiveBit = 0b00,
            SixBit = 0b01,
            SevenBit = 0b10,
            EightBit = 0b11
        ],
        /// Stick parity.
        SPS OFFSET(7) NUMBITS(1) []
    ],
    /// UARTCR — control register (TRM 3.3.8).
    CR [
        /// UART enable.
        UARTEN OFFSET(0) NUMBITS(1) [],
        /// Loopback enable.
        LBE OFFSET(7) NUMBITS(1) [],
        /// Transmit enable.
        TXE OFFSET(8) NUMBITS(1) [],
        /// Receive enable.
        RXE OFFSET(9) NUMBITS(1) [],
        /// Request to send.
        RTS OFFSET(11) NUMBITS(1) []
    ],
    /// UARTIMSC / UARTRIS / UARTMIS / UARTICR — interrupt bits (TRM 3.3.10-13).
    INT [
        /// Receive interrupt.
        RX OFFSET(4) NUMBITS(1) [],
        /// Transmit interrupt.
        TX OFFSET(5) NUMBITS(1) [],
        /// Receive timeout interrupt.
        RT OFFSET(6) NUMBITS(1) [],
        /// Framing error interrupt.
        FE OFFSET(7) NUMBITS(1) [],
        /// Parity error interrupt.
        PE OFFSET(8) NUMBITS(1) [],
        /// Break error interrupt.
        BE OFFSET(9) NUMBITS(1) [],
        /// Overrun error interrupt.
        OE OFFSET(10) NUMBITS(1) [],
        /// All eleven interrupt bits (modem status included).
        ALL OFFSET(0) NUMBITS(11) []
    ]
}

register_structs! {
    /// PL011 register block (TRM table 3-1).
    Registers {
        (0x000 => dr: ReadWrite<u32, DR::Register>),
        (0x004 => rsr_ecr: ReadWrite<u32>),
        (0x008 => _reserved0),
        (0x018 => fr: ReadOnly<u32, FR::Register>),
        (0x01c => _reserved1),
        (0x020 => ilpr: ReadWrite<u32>),
        (0x024 => ibrd: ReadWrite<u32>),
        (0x028 => fbrd: ReadWrite<u32>),
        (0x02c => lcr_h: ReadWrite<u32, LCR_H::Register>),
        (0x030 => cr: ReadWrite<u32, CR::Register>),
        (0x034 => ifls: ReadWrite<u32>),
        (0x038 => imsc: ReadWrite<u32, INT::Register>),
        (0x03c => ris: ReadOnly<u32, INT::Register>),
        (0x040 => mis: ReadOnly<u32, INT::Register>),
        (0x044 => icr: WriteOnly<u32, INT::Register>),
        (0x048 => dmacr: ReadWrite<u32>),
        (0x04c => @END),
    }
}

/// A PL011 UART.
pub struct Pl011 {
    regs: &'static Registers,
}

impl Pl011 {
    /// Creates a driver for the UART mapped at `base_va`.
    ///
    /// # Safety
    ///
    /// `base_va` must be the 4-byte-aligned virtual address of a PL011's register
    /// block, mapped as device memory for the rest of the program, and no other code
    /// may drive the same UART concurrently.
    pub unsafe fn new(base_va: usize) -> Self {
        // SAFETY: the caller guarantees `base_va` maps a live PL011 register block for
        // 'static; all accesses through `Registers` are volatile.
        let regs = unsafe { &*(base_va as *const Registers) };
        Self { regs }
    }

    /// Configures 8N1 with FIFOs, transmit and receive on, all interrupts masked and
    /// cleared. The baud divisors are left untouched.
    pub fn init(&mut self) {
        self.regs.cr.set(0);
        while self.regs.fr.is_set(FR::BUSY) {
            core::hint::spin_loop();
        }
        // Clearing FEN flushes the FIFOs; setting LCR_H also latches the divisors.
        self.regs.lcr_h.set(0);
        self.regs.imsc.set(0);
        self.regs.icr.write(INT::ALL::SET);
        self.regs
            .lcr_h
            .write(LCR_H::WLEN::EightBit + LCR_H::FEN::SET);
        self.regs
            .cr
            .write(CR::UARTEN::SET + CR::TXE::SET + CR::RXE::SET);
    }

    /// Unmasks (or masks) the receive and receive-timeout interrupts.
    pub fn set_rx_interrupt(&mut self, enabled: bool) {
        let bits = if enabled {
            INT::RX::SET + INT::RT::SET
        } else {
            INT::RX::CLEAR + INT::RT::CLEAR
        };
        self.regs.imsc.write(bits);
    }

    /// Acknowledges all pending UART interrupts.
    pub fn clear_interrupts(&mut self) {
        self.regs.icr.write(INT::ALL::SET);
    }

    /// Sends one byte, waiting while the transmit FIFO is full.
    pub fn write_byte(&mut self, byte: u8) {
        while self.regs.fr.is_set(FR::TXFF) {
            core::hint::spin_loop();
        }
        self.regs.dr.set(u32::from(byte));
    }

    /// Sends `bytes`, turning each `\n` into `\r\n`.
    pub fn write_bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if b == b'\n' {
                self.write_byte(b'\r');
            }
            self.write_byte(b);
        }
    }

    /// Returns a received byte, or `None` if the receive FIFO is empty. Bytes that
    /// arrived with a framing, parity or break error are dropped (`None`).
    pub fn read_byte(&mut self) -> Option<u8> {
        if self.regs.fr.is_set(FR::RXFE) {
            return None;
        }
        let dr = self.regs.dr.extract();
        if dr.is_set(DR::FE) || dr.is_set(DR::PE) || dr.is_set(DR::BE) {
            return None;
        }
        Some(dr.read(DR::DATA) as u8)
    }
}

impl fmt::Write for Pl011 {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.write_bytes(s.as_bytes());
        Ok(())
    }
}

impl crate::Console for Pl011 {
    fn write_bytes(&mut self, bytes: &[u8]) {
        Pl011::write_bytes(self, bytes);
    }

    fn read_byte(&mut self) -> Option<u8> {
        Pl011::read_byte(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake_mmio::FakeMmio;
    use core::fmt::Write;

    #[test]
    fn register_offsets_match_the_trm() {
        assert_eq!(core::mem::offset_of!(Registers, fr), 0x18);
        assert_eq!(core::mem::offset_of!(Registers, lcr_h), 0x2c);
        assert_eq!(core::mem::offset_of!(Registers, cr), 0x30);
        assert_eq!(core::mem::offset_of!(Registers, icr), 0x44);
        assert_eq!(core::mem::size_of::<Registers>(), 0x4c);
    }

    #[test]
    fn init_programs_8n1_fifo_and_enables() {
        let mem = FakeMmio::new(0x1000);
        // SAFETY: `mem` is a zeroed, aligned buffer as large as the register block
        // and outlives the driver.
        let mut uart = unsafe { Pl011::new(mem.base()) };
        uart.init();
        assert_eq!(mem.read32(0x2c), 0b111_0000, "LCR_H = WLEN 8 bit | FEN");
        assert_eq!(mem.read32(0x30), 0x301, "CR = RXE | TXE | UARTEN");
        assert_eq!(mem.read32(0x38), 0, "all interrupts masked");
        assert_eq!(mem.read32(0x44), 0x7ff, "all interrupts cleared");
        uart.set_rx_interrupt(true);
        assert_eq!(mem.read32(0x38), 0x50);
    }

    #[test]
    fn write_and_read_go_through_dr() {
        let mem = FakeMmio::new(0x1000);
        // SAFETY: as above.
        let mut uart = unsafe { Pl011::new(mem.base()) };
        uart.write_str("hi\n").unwrap();
        assert_eq!(mem.read32(0), u32::from(b'\n'), "last byte written to DR");
        mem.write32(0, 0x41);
        assert_eq!(uart.read_byte(), Some(b'A'));
        mem.write32(0, 0x141); // framing error
        assert_eq!(uart.read_byte(), None);
        mem.write32(0x18, 1 << 4); // RXFE
        assert_eq!(uart.read_byte(), None);
    }
}
