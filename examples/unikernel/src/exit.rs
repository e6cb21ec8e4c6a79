//! Leaving QEMU through the `isa-debug-exit` device
//! (`-device isa-debug-exit,iobase=0xf4,iosize=0x04`).
//!
//! Writing `v` to port `0xf4` ends QEMU with exit status `(v << 1) | 1`,
//! so a guest can never produce status 0 this way. The codes:
//!
//! | [`ExitCode`] | `v`  | QEMU's exit status |
//! | ------------ | ---- | ------------------ |
//! | `Success`    | 0x10 | 33: every check passed |
//! | `Failed`     | 0x11 | 35: a result was wrong or a wasm call failed |
//! | `Panic`      | 0x12 | 37: the kernel panicked |
//! | `Exception`  | 0x13 | 39: a CPU exception (fault) reached the kernel |
//!
//! Status 0 with `-no-reboot` means the guest reset itself (a triple
//! fault); 1 is QEMU's own failure.

use crate::port::outl;

const DEBUG_EXIT_PORT: u16 = 0xf4;

/// Why the kernel stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ExitCode {
    /// Every check passed (QEMU exits with 33).
    Success = 0x10,
    /// A check failed (35).
    Failed = 0x11,
    /// The kernel panicked (37).
    Panic = 0x12,
    /// A CPU exception (39).
    Exception = 0x13,
}

/// Ends the virtual machine with `code`. Halts forever if the device is
/// missing (QEMU started without `isa-debug-exit`).
pub fn exit(code: ExitCode) -> ! {
    // SAFETY: port 0xf4 is the isa-debug-exit device, which stops QEMU; if
    // nothing is there, the write is ignored.
    unsafe { outl(DEBUG_EXIT_PORT, code as u32) };
    loop {
        // SAFETY: halting with interrupts off only stops this CPU.
        unsafe { core::arch::asm!("cli", "hlt", options(nomem, nostack)) };
    }
}
