//! Boot: from QEMU's PVH entry (32-bit protected mode, paging off) to
//! `kmain` in 64-bit long mode.
//!
//! Why PVH and not a multiboot header: QEMU's `-kernel` refuses a multiboot
//! ELF64 ("give a 32bit one"), so multiboot would need the ELF rewritten as
//! `elf32-i386` by `objcopy` after every build. QEMU loads an ELF64 that
//! carries a `XEN_ELFNOTE_PHYS32_ENTRY` note directly (the PVH boot
//! protocol, as for a Linux `vmlinux`), so the file cargo links is the
//! file QEMU boots. The machine state at the PVH entry is the one multiboot
//! gives: flat 32-bit segments, paging and interrupts off, `ebx` pointing to
//! a `hvm_start_info` (magic `0x336ec578`) instead of multiboot's info.
//!
//! The 32-bit code then:
//! 1. zeroes `.bss` (the loader is not relied on for it);
//! 2. builds page tables that identity-map the first 1 GiB with 2 MiB pages
//!    (present + writable, never NX: `EFER.NXE` stays off, so every page,
//!    the static code region included, is executable);
//! 3. enables PAE, SSE (`CR4.OSFXSR`, `CR4.OSXMMEXCPT`; `CR0.EM` = 0,
//!    `CR0.MP` = 1: the generated wasm code uses SSE), long mode
//!    (`EFER.LME`) and paging;
//! 4. loads a GDT with a 64-bit code segment and far-returns into it.
//!
//! The 64-bit code loads the data segments, switches to the boot stack and
//! calls `kmain(start_info)`.

use core::arch::global_asm;

/// `XEN_ELFNOTE_PHYS32_ENTRY`, from Xen's `elfnote.h`.
const XEN_ELFNOTE_PHYS32_ENTRY: u32 = 18;
/// Size of the stack `kmain` runs on.
const BOOT_STACK_SIZE: usize = 1 << 20;

/// The magic of `hvm_start_info`, what `ebx` points to at the PVH entry.
pub const HVM_START_MAGIC: u32 = 0x336e_c578;

global_asm!(
    r#"
    .section .note.Xen, "a", @note
    .p2align 2
    .long 4                     // namesz: "Xen\0"
    .long 4                     // descsz: a 32-bit entry address
    .long {note_type}
    .asciz "Xen"
    .p2align 2
    .long pvh_start32
    .p2align 2

    .section .text.boot, "ax"
    .code32
    .global pvh_start32
pvh_start32:
    cli
    cld
    mov esi, ebx                // keep the start_info pointer

    // 1. Zero .bss.
    mov edi, offset __bss_start
    mov ecx, offset __bss_end
    sub ecx, edi
    shr ecx, 2
    xor eax, eax
    rep stosd

    // 2. Identity-map 1 GiB: PML4[0] -> PDPT, PDPT[0] -> PD, PD[i] = i * 2 MiB.
    mov eax, offset boot_pdpt
    or eax, 0x3                 // present, writable
    mov dword ptr [boot_pml4], eax
    mov eax, offset boot_pd
    or eax, 0x3
    mov dword ptr [boot_pdpt], eax
    xor ecx, ecx
2:
    mov eax, ecx
    shl eax, 21
    or eax, 0x83                // present, writable, 2 MiB page (PS)
    mov dword ptr [boot_pd + ecx * 8], eax
    mov dword ptr [boot_pd + ecx * 8 + 4], 0
    inc ecx
    cmp ecx, 512
    jne 2b
    mov eax, offset boot_pml4
    mov cr3, eax

    // 3. PAE, OSFXSR, OSXMMEXCPT.
    mov eax, cr4
    or eax, (1 << 5) | (1 << 9) | (1 << 10)
    mov cr4, eax
    // EFER.LME (NXE stays 0).
    mov ecx, 0xC0000080
    rdmsr
    or eax, 1 << 8
    wrmsr
    // Paging on (CR0.PG, PE), x87/SSE on: EM = 0, MP = 1, NE = 1.
    mov eax, cr0
    and eax, ~(1 << 2)
    or eax, (1 << 31) | (1 << 5) | (1 << 1) | 1
    mov cr0, eax

    // 4. The 64-bit GDT, then a far return into the 64-bit code segment.
    lgdt [boot_gdt_ptr]
    mov esp, offset boot_stack_top
    mov eax, 0x08
    push eax
    mov eax, offset long_mode_start
    push eax
    retf

    .code64
long_mode_start:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor eax, eax
    mov fs, ax
    mov gs, ax
    lea rsp, [rip + boot_stack_top]
    mov edi, esi                // kmain(start_info)
    call kmain
3:
    cli
    hlt
    jmp 3b

    .section .rodata.boot_gdt, "a"
    .p2align 3
boot_gdt:
    .quad 0                     // null
    .quad 0x00AF9A000000FFFF    // 0x08: 64-bit code, present, ring 0
    .quad 0x00CF92000000FFFF    // 0x10: data, present, writable
boot_gdt_end:
boot_gdt_ptr:
    .word boot_gdt_end - boot_gdt - 1
    .quad boot_gdt

    .section .bss.boot, "aw", @nobits
    .p2align 12
boot_pml4:
    .skip 4096
boot_pdpt:
    .skip 4096
boot_pd:
    .skip 4096
    .p2align 4
boot_stack_bottom:
    .skip {stack_size}
boot_stack_top:
    "#,
    note_type = const XEN_ELFNOTE_PHYS32_ENTRY,
    stack_size = const BOOT_STACK_SIZE,
);
