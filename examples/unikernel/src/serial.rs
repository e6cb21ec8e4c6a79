//! The COM1 serial port (a 16550 UART at I/O port `0x3F8`): the kernel's
//! only output. QEMU's `-serial stdio` shows it on the host's stdout.

use core::fmt;

use crate::port::{inb, outb};

const COM1: u16 = 0x3F8;

/// Line status register: transmit holding register empty.
const LSR_THR_EMPTY: u8 = 1 << 5;

/// A writer to COM1. Cheap to create; [`init`] must have run once.
pub struct Serial;

/// Programs COM1 for 115200 baud, 8 data bits, no parity, one stop bit,
/// with interrupts off and FIFOs on.
pub fn init() {
    // SAFETY: COM1 is a 16550 UART on every PC QEMU emulates; these are
    // its documented registers and writing them has no other effect.
    unsafe {
        outb(COM1 + 1, 0x00); // no interrupts
        outb(COM1 + 3, 0x80); // DLAB on: next two registers are the divisor
        outb(COM1, 0x01); // divisor 1: 115200 baud
        outb(COM1 + 1, 0x00);
        outb(COM1 + 3, 0x03); // 8N1, DLAB off
        outb(COM1 + 2, 0xC7); // FIFOs on, cleared, 14-byte threshold
        outb(COM1 + 4, 0x03); // DTR, RTS
    }
}

fn write_byte(byte: u8) {
    // SAFETY: reading the line status and writing the transmit register of
    // COM1 only sends a byte.
    unsafe {
        while inb(COM1 + 5) & LSR_THR_EMPTY == 0 {
            core::hint::spin_loop();
        }
        outb(COM1, byte);
    }
}

/// Sends `bytes` as they are, except that each `\n` goes out as `\r\n`
/// (a terminal's new line). Bytes need not be UTF-8.
pub fn write_bytes(bytes: &[u8]) {
    for &byte in bytes {
        if byte == b'\n' {
            write_byte(b'\r');
        }
        write_byte(byte);
    }
}

impl fmt::Write for Serial {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write_bytes(s.as_bytes());
        Ok(())
    }
}

/// Prints to the serial port, like `print!`.
#[macro_export]
macro_rules! sprint {
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let _ = write!($crate::serial::Serial, $($arg)*);
    }};
}

/// Prints a line to the serial port, like `println!`.
#[macro_export]
macro_rules! sprintln {
    () => { $crate::sprint!("\n") };
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let _ = writeln!($crate::serial::Serial, $($arg)*);
    }};
}
