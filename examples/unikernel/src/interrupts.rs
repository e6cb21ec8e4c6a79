//! A minimal IDT: every CPU exception (vectors 0–31) prints what faulted
//! and where, and exits QEMU with [`ExitCode::Exception`], instead of the
//! silent triple fault an absent IDT would cause. Interrupts stay off, so
//! nothing else ever arrives.

use core::arch::{asm, global_asm};

use crate::exit::{ExitCode, exit};
use crate::sprintln;

// Vectors 0–31: one stub each pushes its vector number and jumps to the
// common entry, which passes the vector and the CPU's frame to
// `exception`. The table `exception_stubs` lists the stubs' addresses.
global_asm!(
    r#"
    .section .text.exceptions, "ax"
    .code64
    .irp vector, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
exception_stub_\vector:
    push \vector
    jmp exception_common
    .endr

exception_common:
    mov rdi, [rsp]              // the vector
    lea rsi, [rsp + 8]          // the CPU's frame: [error code,] rip, cs, rflags, rsp, ss
    and rsp, -16
    call {handler}
    ud2

    .section .rodata.exception_stubs, "a"
    .p2align 3
    .global exception_stubs
exception_stubs:
    .irp vector, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad exception_stub_\vector
    .endr
    "#,
    handler = sym exception,
);

unsafe extern "C" {
    static exception_stubs: [u64; 32];
}

/// One 16-byte long-mode interrupt gate.
#[derive(Clone, Copy)]
#[repr(C)]
struct Gate {
    offset_low: u16,
    selector: u16,
    ist: u8,
    type_attr: u8,
    offset_mid: u16,
    offset_high: u32,
    reserved: u32,
}

impl Gate {
    const MISSING: Gate = Gate {
        offset_low: 0,
        selector: 0,
        ist: 0,
        type_attr: 0,
        offset_mid: 0,
        offset_high: 0,
        reserved: 0,
    };

    fn interrupt_gate(handler: u64) -> Gate {
        Gate {
            offset_low: handler as u16,
            selector: 0x08, // the boot GDT's 64-bit code segment
            ist: 0,
            type_attr: 0x8E, // present, ring 0, 64-bit interrupt gate
            offset_mid: (handler >> 16) as u16,
            offset_high: (handler >> 32) as u32,
            reserved: 0,
        }
    }
}

static IDT: spin::Mutex<[Gate; 32]> = spin::Mutex::new([Gate::MISSING; 32]);

#[repr(C, packed)]
struct IdtPointer {
    limit: u16,
    base: u64,
}

/// Installs the exception handlers.
pub fn init() {
    let mut idt = IDT.lock();
    // SAFETY: `exception_stubs` is the table defined above, 32 addresses.
    let stubs = unsafe { &*core::ptr::addr_of!(exception_stubs) };
    for (gate, &stub) in idt.iter_mut().zip(stubs) {
        *gate = Gate::interrupt_gate(stub);
    }
    let pointer = IdtPointer {
        limit: (core::mem::size_of::<[Gate; 32]>() - 1) as u16,
        base: idt.as_ptr() as u64,
    };
    // SAFETY: the table lives in a static for the rest of the run and its
    // gates point to the stubs above.
    unsafe { asm!("lidt [{}]", in(reg) &pointer, options(readonly, nostack, preserves_flags)) };
}

/// Vectors for which the CPU pushes an error code.
fn has_error_code(vector: u64) -> bool {
    matches!(vector, 8 | 10..=14 | 17 | 21 | 29 | 30)
}

fn name(vector: u64) -> &'static str {
    match vector {
        0 => "divide error (#DE)",
        1 => "debug (#DB)",
        2 => "NMI",
        3 => "breakpoint (#BP)",
        4 => "overflow (#OF)",
        5 => "bound range (#BR)",
        6 => "invalid opcode (#UD)",
        7 => "device not available (#NM)",
        8 => "double fault (#DF)",
        10 => "invalid TSS (#TS)",
        11 => "segment not present (#NP)",
        12 => "stack fault (#SS)",
        13 => "general protection (#GP)",
        14 => "page fault (#PF)",
        16 => "x87 error (#MF)",
        17 => "alignment check (#AC)",
        18 => "machine check (#MC)",
        19 => "SIMD exception (#XM)",
        _ => "reserved exception",
    }
}

extern "C" fn exception(vector: u64, frame: *const u64) -> ! {
    // SAFETY: `frame` points to what the CPU pushed: an optional error code,
    // then rip, cs, rflags, rsp and ss.
    let (error, frame) = unsafe {
        if has_error_code(vector) {
            (Some(*frame), frame.add(1))
        } else {
            (None, frame)
        }
    };
    // SAFETY: as above, five words follow.
    let (rip, rsp) = unsafe { (*frame, *frame.add(3)) };
    let cr2: u64;
    // SAFETY: reading CR2 has no side effect.
    unsafe { asm!("mov {}, cr2", out(reg) cr2, options(nomem, nostack, preserves_flags)) };
    sprintln!(
        "EXCEPTION: {} (vector {vector}) at rip={rip:#x} rsp={rsp:#x} error={error:?} cr2={cr2:#x}",
        name(vector)
    );
    exit(ExitCode::Exception)
}
