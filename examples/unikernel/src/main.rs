//! A bare-metal x86-64 unikernel that runs WebAssembly through wasmkern.
//!
//! QEMU boots it with `-kernel` (the PVH entry, see [`boot`]); it sets up
//! the serial port, an exception table, a heap and a code region, loads
//! the embedded guest module (compiled on the host by `build.rs`; with the
//! `compiler` feature, compiled at boot) and runs its exports, checking
//! every result, then runs a C program built with wasi-libc through
//! wasmkern's WASI (see [`wasi`]). It ends QEMU through `isa-debug-exit`
//! with a status that says whether every check passed (see [`exit`](mod@exit)).
#![no_std]
#![no_main]

extern crate alloc;

mod boot;
mod exit;
mod guest;
mod interrupts;
mod port;
mod serial;
mod wasi;

use core::panic::PanicInfo;

use linked_list_allocator::LockedHeap;

use crate::exit::{ExitCode, exit};

/// Size of the heap behind the global allocator.
const HEAP_SIZE: usize = 16 << 20;

#[global_allocator]
static ALLOCATOR: LockedHeap = LockedHeap::empty();

/// The heap's memory, in `.bss` (zeroed at boot, identity-mapped).
#[repr(C, align(4096))]
struct Heap([u8; HEAP_SIZE]);
static mut HEAP: Heap = Heap([0; HEAP_SIZE]);

/// The kernel's entry, called by the boot code in long mode with the
/// physical address of the PVH `hvm_start_info`.
#[unsafe(no_mangle)]
extern "C" fn kmain(start_info: u32) -> ! {
    serial::init();
    interrupts::init();
    // The firmware's last line ("Booting from ROM..") has no newline.
    sprintln!();
    sprintln!("wasmkern unikernel: booted in long mode");
    // SAFETY: the loader passes the address of a `hvm_start_info` in
    // identity-mapped memory below 1 GiB; its first field is the magic.
    let magic = unsafe { core::ptr::read_volatile(start_info as usize as *const u32) };
    if magic != boot::HVM_START_MAGIC {
        sprintln!("warning: start_info magic {magic:#x}, expected a PVH start");
    }

    // SAFETY: `HEAP` is used by nothing else, and this runs once, before
    // the first allocation.
    unsafe {
        ALLOCATOR
            .lock()
            .init((&raw mut HEAP).cast::<u8>(), HEAP_SIZE);
    }
    sprintln!("heap: {} MiB", HEAP_SIZE >> 20);

    let passed = guest::run();
    sprintln!(
        "heap: {} KiB in use after dropping the guest",
        ALLOCATOR.lock().used().div_ceil(1024)
    );
    let code = if passed {
        sprintln!("ALL CHECKS PASSED");
        ExitCode::Success
    } else {
        sprintln!("SOME CHECKS FAILED");
        ExitCode::Failed
    };
    exit(code)
}

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    sprintln!("PANIC: {info}");
    exit(ExitCode::Panic)
}
