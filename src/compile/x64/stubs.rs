//! The fixed pieces of machine code around compiled functions: the enter
//! and resume trampolines the host calls, the exit stub generated code calls
//! to leave, and the host-call stub that host functions point to (the
//! engine's stubs, [`engine_stubs`]); and each module's own exit stub and
//! one trap stub per trap code, which the module's functions reach through
//! relocations (`SYM_EXIT`, `sym_trap`). Their behaviour is the
//! contract described in [`crate::abi`].

use super::frame::{MEMORY_BASE, PIN_GPRS};
use crate::abi::{ExecContext, ExitCode, TrapCode, VmContext, VmFuncRef};
use crate::asm::x64::{AluOp, Assembler, Cond, Gpr, Mem, Scale, Size, SseOp, Xmm};
use crate::error::{Error, Result};
use alloc::vec::Vec;
use core::mem::offset_of;

/// The host's callee-saved registers (System V), in push order.
const HOST_SAVED: [Gpr; 6] = [Gpr::Rbp, Gpr::Rbx, Gpr::R12, Gpr::R13, Gpr::R14, Gpr::R15];

fn exec_field(offset: usize) -> i32 {
    offset as i32
}

/// `Mem` for a field of the `ExecContext` whose address is in `base`.
pub(crate) fn exec_mem(base: Gpr, offset: usize) -> Mem {
    Mem::base(base, exec_field(offset))
}

/// `Mem` for a field of the `VmContext` in `r15`.
pub(crate) fn vmctx_mem(offset: usize) -> Mem {
    Mem::base(Gpr::R15, offset as i32)
}

/// Emits the exit stub at the current position (see [`crate::abi`]).
/// Generated code reaches it with `call`; the return address is the resume
/// point.
pub fn emit_exit_stub(a: &mut Assembler) {
    push_exit_frame(a);
    a.mov_rm(Size::S64, Gpr::Rax, vmctx_mem(offset_of!(VmContext, exec)));
    a.mov_mr(
        Size::S64,
        exec_mem(Gpr::Rax, offset_of!(ExecContext, wasm_rsp)),
        Gpr::Rsp,
    );
    a.mov_rm(
        Size::S64,
        Gpr::Rsp,
        exec_mem(Gpr::Rax, offset_of!(ExecContext, host_rsp)),
    );
    pop_host_saved(a);
    a.ret();
}

/// Pushes what an exit keeps of the wasm code's registers, last `r15` (so
/// that `wasm_rsp` points at it): the pin registers, which are callee-saved
/// in generated code, then `rbp` and `r15`.
fn push_exit_frame(a: &mut Assembler) {
    const _: () = assert!(PIN_GPRS.len() == crate::abi::EXIT_SAVED_GPRS);
    for r in PIN_GPRS {
        a.push_r(r);
    }
    a.push_r(Gpr::Rbp);
    a.push_r(Gpr::R15);
}

fn push_host_saved(a: &mut Assembler) {
    for r in HOST_SAVED {
        a.push_r(r);
    }
}

fn pop_host_saved(a: &mut Assembler) {
    for r in HOST_SAVED.iter().rev() {
        a.pop_r(*r);
    }
}

/// Copies `count` 8-byte slots from `[src + i*8]` to `[dst + i*8]`, using
/// `rax` as the counter and `r9` as scratch.
fn copy_slots(a: &mut Assembler, dst: Gpr, src: Gpr, count: Gpr) {
    let top = a.new_label();
    let done = a.new_label();
    a.alu_rr(AluOp::Xor, Size::S32, Gpr::Rax, Gpr::Rax);
    a.bind(top);
    a.alu_rr(AluOp::Cmp, Size::S64, Gpr::Rax, count);
    a.jcc(Cond::Ae, done);
    a.mov_rm(
        Size::S64,
        Gpr::R9,
        Mem::indexed(src, Gpr::Rax, Scale::X8, 0),
    );
    a.mov_mr(
        Size::S64,
        Mem::indexed(dst, Gpr::Rax, Scale::X8, 0),
        Gpr::R9,
    );
    a.alu_ri(AluOp::Add, Size::S64, Gpr::Rax, 1);
    a.jmp(top);
    a.bind(done);
}

/// Emits the enter trampoline:
/// `extern "sysv64" fn(exec: *mut ExecContext, vmctx: *mut VmContext,
/// code: *const u8, slots: *mut u64, nslots: usize, area: usize)`.
///
/// It saves the host's callee-saved registers and `rsp`, starts the wasm
/// stack at `ExecContext::entry_rsp` (16-byte aligned), copies `nslots`
/// argument slots to the argument area (the first two also into `rcx` and
/// `xmm0`, `rdx` and `xmm1`) of `area` bytes (the caller's computation:
/// `nslots * 8` rounded up to 16, and at least
/// [`TAIL_CALL_AREA`](crate::abi::TAIL_CALL_AREA)), calls `code` with
/// `r15 = vmctx` and its memory 0's base in `r14`, stores `rax`
/// (the first result's first 8 bytes) in the first slot, copies the same
/// number of slots back (the results), sets the exit code to `Returned`
/// and returns to the host.
///
/// A call without slots (`nslots` 0) takes a path of its own: nothing to
/// copy, no argument registers, no result to store, so nothing of the
/// slots is kept on the wasm stack either.
fn emit_enter(a: &mut Assembler) {
    let (exec, vmctx, code, slots, nslots) = (Gpr::Rdi, Gpr::Rsi, Gpr::Rdx, Gpr::Rcx, Gpr::R8);
    push_host_saved(a);
    a.mov_mr(
        Size::S64,
        exec_mem(exec, offset_of!(ExecContext, host_rsp)),
        Gpr::Rsp,
    );
    a.mov_rm(
        Size::S64,
        Gpr::Rbp,
        exec_mem(exec, offset_of!(ExecContext, entry_rsp)),
    );
    let with_slots = a.new_label();
    a.test_rr(Size::S64, nslots, nslots);
    a.jcc(Cond::Ne, with_slots);
    // No slots: the area (the size in `r9`) ends 16 bytes below the entry
    // point, as below.
    a.lea(Size::S64, Gpr::Rsp, Mem::base(Gpr::Rbp, -16));
    a.alu_rr(AluOp::Sub, Size::S64, Gpr::Rsp, Gpr::R9);
    a.mov_rr(Size::S64, Gpr::R15, vmctx);
    load_memory_base(a);
    a.call_r(code);
    emit_enter_return(a);
    a.bind(with_slots);
    a.mov_mr(Size::S64, Mem::base(Gpr::Rbp, -8), slots);
    a.mov_mr(Size::S64, Mem::base(Gpr::Rbp, -16), nslots);
    // The area's size came in `r9` (`copy_slots` uses it as scratch).
    a.lea(Size::S64, Gpr::Rsp, Mem::base(Gpr::Rbp, -16));
    a.alu_rr(AluOp::Sub, Size::S64, Gpr::Rsp, Gpr::R9);
    copy_slots(a, Gpr::Rsp, slots, nslots);
    // The first two arguments also go in `rcx`/`xmm0` and `rdx`/`xmm1`
    // (the callee reads those of its types, and only as many as
    // `abi::args_in_registers` says; `slots` is saved above). The area is
    // at least 16 bytes.
    // `code` came in `rdx`, which the second argument needs.
    let target = Gpr::R11;
    a.mov_rr(Size::S64, target, code);
    a.mov_rm(Size::S64, Gpr::Rcx, Mem::base(Gpr::Rsp, 0));
    a.sse_rm(SseOp::MOVSD, Xmm::Xmm0, Mem::base(Gpr::Rsp, 0));
    a.mov_rm(Size::S64, Gpr::Rdx, Mem::base(Gpr::Rsp, 8));
    a.sse_rm(SseOp::MOVSD, Xmm::Xmm1, Mem::base(Gpr::Rsp, 8));
    a.mov_rr(Size::S64, Gpr::R15, vmctx);
    load_memory_base(a);
    a.call_r(target);
    a.mov_rm(Size::S64, slots, Mem::base(Gpr::Rbp, -8));
    a.mov_rm(Size::S64, nslots, Mem::base(Gpr::Rbp, -16));
    // The callee returns its first result's first 8 bytes in `rax` only;
    // they go to the first slot. (With no slots this writes the word just
    // read back into `nslots`, no longer needed; with no results, a slot
    // nobody reads.)
    a.mov_mr(Size::S64, Mem::base(Gpr::Rsp, 0), Gpr::Rax);
    copy_slots(a, slots, Gpr::Rsp, nslots);
    emit_enter_return(a);
}

/// Loads memory 0's base of the context in `r15` into its register, as
/// every callee may expect (`abi`, "Registers"). An instance without
/// memory has a base no code reads.
fn load_memory_base(a: &mut Assembler) {
    a.mov_rm(
        Size::S64,
        MEMORY_BASE,
        vmctx_mem(offset_of!(VmContext, memory_base)),
    );
}

/// The end of the enter trampoline, once the callee returned: sets the
/// exit code to `Returned` and returns to the host.
fn emit_enter_return(a: &mut Assembler) {
    a.mov_rm(Size::S64, Gpr::Rax, vmctx_mem(offset_of!(VmContext, exec)));
    a.mov_mi(
        Size::S32,
        exec_mem(Gpr::Rax, offset_of!(ExecContext, exit_code)),
        ExitCode::Returned as i32,
    );
    a.mov_rm(
        Size::S64,
        Gpr::Rsp,
        exec_mem(Gpr::Rax, offset_of!(ExecContext, host_rsp)),
    );
    pop_host_saved(a);
    a.ret();
}

/// Emits the resume trampoline: `extern "sysv64" fn(exec: *mut ExecContext)`.
/// It continues the wasm code suspended by the exit stub.
///
/// It jumps to the resume address (`pop r11; jmp r11`) rather than
/// returning to it: the CPU would predict a `ret` from the return-stack
/// entry of the host's call to this trampoline, which is never right,
/// while the indirect jump is predicted from its recent targets (for host
/// calls always the host-call stub's resume point). `r11` is free: code
/// keeps no value but the saved ones in registers across an exit.
fn emit_resume(a: &mut Assembler) {
    let exec = Gpr::Rdi;
    push_host_saved(a);
    a.mov_mr(
        Size::S64,
        exec_mem(exec, offset_of!(ExecContext, host_rsp)),
        Gpr::Rsp,
    );
    a.mov_rm(
        Size::S64,
        Gpr::Rsp,
        exec_mem(exec, offset_of!(ExecContext, wasm_rsp)),
    );
    a.pop_r(Gpr::R15);
    a.pop_r(Gpr::Rbp);
    for r in PIN_GPRS.iter().rev() {
        a.pop_r(*r);
    }
    a.pop_r(Gpr::R11);
    a.jmp_r(Gpr::R11);
}

/// Emits the host-call stub. On entry `rax` holds the host function's
/// `VmFuncRef` and `r15` a context whose `exec` is the store's; the argument
/// area is above the return address. The payload is the function's
/// `host_index` (zero-extended), so the host finds it with one bounds-checked
/// index instead of looking the `VmFuncRef` address up; the area it finds
/// at a fixed distance above `wasm_rsp`
/// ([`HOST_CALL_AREA`](crate::abi::HOST_CALL_AREA)), so the stub does not
/// record its address.
///
/// It leaves like the exit stub, leaving the same words at `wasm_rsp`
/// (`r15`, `rbp`, the saved registers, the resume address, the return into
/// the wasm caller), but without `call` and `ret`: it pushes its resume
/// address itself, returns to the host with an indirect `jmp`, and when
/// resumed returns into its wasm caller with one too. The CPU predicts a
/// `ret` from the `call`s it saw, and no `ret` on this path would match
/// one (the host enters the resume trampoline with a `call` and is left
/// with a jump; wasm called this stub, which left to the host): each would
/// be mispredicted. The indirect jumps are predicted from their recent
/// targets, which in a loop of host calls are the same every time (the
/// host's resume call site, this stub's resume point, the wasm call site).
/// The return-stack entries the unmatched `call`s leave are outdated
/// entries the CPU overwrites.
fn emit_host_call(a: &mut Assembler) {
    let exec = Gpr::Rcx;
    a.mov_rm(Size::S64, exec, vmctx_mem(offset_of!(VmContext, exec)));
    a.mov_rm(
        Size::S32,
        Gpr::Rdx,
        Mem::base(Gpr::Rax, offset_of!(VmFuncRef, host_index) as i32),
    );
    a.mov_mr(
        Size::S64,
        exec_mem(exec, offset_of!(ExecContext, payload)),
        Gpr::Rdx,
    );
    a.mov_mi(
        Size::S32,
        exec_mem(exec, offset_of!(ExecContext, exit_code)),
        ExitCode::HostCall as i32,
    );
    // What `call exit` would do, without a return-stack entry.
    let resume = a.new_label();
    a.lea(Size::S64, Gpr::Rdx, Mem::rip(resume));
    a.push_r(Gpr::Rdx);
    // The exit stub's body, ending in a jump instead of `ret`.
    push_exit_frame(a);
    a.mov_mr(
        Size::S64,
        exec_mem(exec, offset_of!(ExecContext, wasm_rsp)),
        Gpr::Rsp,
    );
    a.mov_rm(
        Size::S64,
        Gpr::Rsp,
        exec_mem(exec, offset_of!(ExecContext, host_rsp)),
    );
    pop_host_saved(a);
    a.pop_r(Gpr::Rcx);
    a.jmp_r(Gpr::Rcx);
    // The resume trampoline returns here, with the results in the area;
    // the first one also goes back in `rax` and `xmm0`, as generated code
    // returns it (the caller reads the one of its type).
    a.bind(resume);
    a.mov_rm(Size::S64, Gpr::Rax, Mem::base(Gpr::Rsp, 8));
    a.sse_rm(SseOp::MOVSD, Xmm::Xmm0, Mem::base(Gpr::Rsp, 8));
    a.pop_r(Gpr::Rcx);
    a.jmp_r(Gpr::Rcx);
}

/// Emits the tail-call return stub: a callee entered by a tail call that
/// grew the argument area returns here (see `abi`, "Tail calls"), with
/// `rsp` at the grown area and `rbp` at the record. It moves the results'
/// area (`[rbp - 16]` bytes) up to `[rbp + 16]`, where the caller's caller
/// reads it, from the last word down (the destination lies above the
/// source), then pops the record and returns. It writes only `r10` and
/// `r11`: the first result stays in `rax`/`xmm0`.
fn emit_tail_return(a: &mut Assembler) {
    let (count, word) = (Gpr::R11, Gpr::R10);
    let top = a.new_label();
    let done = a.new_label();
    a.mov_rm(Size::S64, count, Mem::base(Gpr::Rbp, -16));
    a.bind(top);
    a.test_rr(Size::S64, count, count);
    a.jcc(Cond::E, done);
    a.alu_ri(AluOp::Sub, Size::S64, count, 8);
    a.mov_rm(Size::S64, word, Mem::indexed(Gpr::Rsp, count, Scale::X1, 0));
    a.mov_mr(
        Size::S64,
        Mem::indexed(Gpr::Rbp, count, Scale::X1, 16),
        word,
    );
    a.jmp(top);
    a.bind(done);
    a.mov_rr(Size::S64, Gpr::Rsp, Gpr::Rbp);
    a.pop_r(Gpr::Rbp);
    a.ret();
}

/// Relocation symbol of the module's exit stub.
pub(crate) const SYM_EXIT: u32 = 0xffff_ff00;
/// Relocation symbols of the module's trap stubs start here.
pub(crate) const SYM_TRAP_BASE: u32 = 0xffff_fe00;

/// The relocation symbol of the trap stub for trap code `code`.
pub(crate) const fn sym_trap(code: u32) -> u32 {
    SYM_TRAP_BASE + code
}

/// Number of trap codes (stubs emitted per module).
pub(crate) const NUM_TRAPS: u32 = 12;

/// Where the module's stubs start in its code.
#[derive(Default)]
pub(crate) struct StubOffsets {
    pub exit: usize,
    pub traps: [usize; NUM_TRAPS as usize],
}

/// Emits the module's exit stub and a trap stub per trap code. A trap stub
/// stores its trap code and calls the exit stub, so the call a trap site
/// made to it stays on the stack for the backtrace.
pub(crate) fn emit_module_stubs(a: &mut Assembler) -> Result<StubOffsets> {
    let exit_label = a.new_label();
    let exit = a.offset();
    a.bind(exit_label);
    emit_exit_stub(a);
    let mut traps = [0usize; NUM_TRAPS as usize];
    for (code, slot) in traps.iter_mut().enumerate() {
        a.align(16);
        *slot = a.offset();
        a.mov_rm(Size::S64, Gpr::R11, vmctx_mem(offset_of!(VmContext, exec)));
        a.mov_mi(
            Size::S32,
            Mem::base(Gpr::R11, offset_of!(ExecContext, trap_code) as i32),
            code as i32,
        );
        a.mov_mi(
            Size::S32,
            Mem::base(Gpr::R11, offset_of!(ExecContext, exit_code) as i32),
            ExitCode::Trap as i32,
        );
        a.call(exit_label);
        a.ud2();
    }
    debug_assert_eq!(
        TrapCode::from_u32(NUM_TRAPS - 1).map(|t| t as u32),
        Some(NUM_TRAPS - 1)
    );
    a.seal()
        .map_err(|e| Error::internal("assembling module stubs failed").with_detail(e))?;
    Ok(StubOffsets { exit, traps })
}

/// The engine-wide stubs: machine code and the offset of each entry point.
#[derive(Clone, Debug)]
pub struct EngineStubs {
    /// The machine code (position-independent).
    pub code: Vec<u8>,
    /// Offset of the enter trampoline.
    pub enter: usize,
    /// Offset of the resume trampoline.
    pub resume: usize,
    /// Offset of the host-call stub.
    pub host_call: usize,
    /// Offset of the tail-call return stub.
    pub tail_return: usize,
}

/// Assembles the engine-wide stubs.
pub fn engine_stubs() -> Result<EngineStubs> {
    let mut a = Assembler::new();
    let exit = a.new_label();
    let enter = a.offset();
    emit_enter(&mut a);
    a.align(16);
    let resume = a.offset();
    emit_resume(&mut a);
    a.align(16);
    a.bind(exit);
    emit_exit_stub(&mut a);
    a.align(16);
    let host_call = a.offset();
    emit_host_call(&mut a);
    a.align(16);
    let tail_return = a.offset();
    emit_tail_return(&mut a);
    let code = a
        .finish()
        .map_err(|e| Error::internal("assembling engine stubs failed").with_detail(e))?;
    Ok(EngineStubs {
        code: code.bytes,
        enter,
        resume,
        host_call,
        tail_return,
    })
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::abi::{ExecContext, VmContext, VmFuncRef};
    use crate::code_memory::{CodeMemory, PublishedCode};
    use alloc::sync::Arc;
    use alloc::vec;

    type Enter = unsafe extern "sysv64" fn(
        *mut ExecContext,
        *mut VmContext,
        *const u8,
        *mut u64,
        usize,
        usize,
    );
    type Resume = unsafe extern "sysv64" fn(*mut ExecContext);

    fn publish(bytes: &[u8]) -> PublishedCode {
        let memory: Arc<dyn CodeMemory> = crate::default_platform()
            .default_code_memory()
            .expect("the test platform has code memory");
        let mut block = memory.allocate(bytes.len()).unwrap();
        block.write(0, bytes).unwrap();
        PublishedCode::publish(memory, block).unwrap()
    }

    fn zeroed_exec() -> ExecContext {
        ExecContext {
            host_rsp: 0,
            wasm_rsp: 0,
            entry_rsp: 0,
            stack_limit: 0,
            exit_code: u32::MAX,
            trap_code: 0,
            payload: 0,
            call_args: 0,
            fuel: 0,
            interrupt: core::ptr::null(),
            tail_return: 0,
        }
    }

    /// Enters the host-call stub through a `VmFuncRef` as wasm code would,
    /// and checks what it leaves for the host: the exit code, the function's
    /// index, the area, and the words at `wasm_rsp`; then resumes with a
    /// result written into the area.
    #[test]
    fn host_call_stub_exits_and_resumes() {
        let stubs = engine_stubs().unwrap();
        let stub_code = publish(&stubs.code);
        let base = stub_code.exec_ptr().as_ptr();
        // SAFETY: the offsets come from `engine_stubs` and point at
        // functions with these signatures.
        let enter: Enter = unsafe { core::mem::transmute(base.add(stubs.enter)) };
        let resume: Resume = unsafe { core::mem::transmute(base.add(stubs.resume)) };

        let mut stack = vec![0u64; 4096];
        let mut exec = zeroed_exec();
        exec.entry_rsp = (stack.as_mut_ptr() as usize + stack.len() * 8) & !15;
        let mut vmctx = VmContext::empty(&mut exec);
        let funcref = VmFuncRef {
            // SAFETY: an offset inside the published stubs.
            code: unsafe { base.add(stubs.host_call) },
            vmctx: &mut vmctx,
            type_id: 0,
            host_index: 5,
        };
        // "Wasm" calling the host function: `rax` = its `VmFuncRef`, then a
        // tail call, so the enter trampoline's area is the argument area.
        let mut a = Assembler::new();
        a.movabs_ri(Gpr::Rax, &funcref as *const VmFuncRef as u64);
        a.jmp_m(Mem::base(Gpr::Rax, offset_of!(VmFuncRef, code) as i32));
        let shim = publish(&a.finish().unwrap().bytes);

        let mut slots = [11u64, 22];
        // SAFETY: every pointer is valid for the duration of the call, the
        // wasm stack is 32 KiB of owned memory, and the code obeys the ABI.
        unsafe {
            enter(
                &mut exec,
                &mut vmctx,
                shim.exec_ptr().as_ptr(),
                slots.as_mut_ptr(),
                2,
                crate::abi::TAIL_CALL_AREA as usize,
            )
        };
        assert_eq!(exec.exit_code, ExitCode::HostCall as u32);
        assert_eq!(exec.payload, 5);
        let call_args = exec.wasm_rsp + crate::abi::HOST_CALL_AREA;
        // SAFETY: `wasm_rsp` points into `stack`, at the words the stub
        // pushed below the area.
        let (area, top) = unsafe {
            (
                core::slice::from_raw_parts_mut(call_args as *mut u64, 2),
                core::slice::from_raw_parts(
                    exec.wasm_rsp as *const u64,
                    crate::abi::EXIT_RETURN_WORD + 2,
                ),
            )
        };
        // The area is where `HOST_CALL_AREA` says: the arguments the enter
        // trampoline copied there.
        assert_eq!(area, [11, 22]);
        let stub_range = base as u64..base as u64 + stubs.code.len() as u64;
        // r15, rbp (the enter trampoline's: the entry point), the saved pin
        // registers, the resume address in the stub, the return into the
        // trampoline; then the area.
        let ret = crate::abi::EXIT_RETURN_WORD;
        assert_eq!(top[0], &mut vmctx as *mut VmContext as u64);
        assert_eq!(top[1], exec.entry_rsp as u64);
        assert!(stub_range.contains(&top[ret]));
        assert!(stub_range.contains(&top[ret + 1]));
        area[0] = 33;
        // SAFETY: the suspended code is resumed exactly once.
        unsafe { resume(&mut exec) };
        assert_eq!(exec.exit_code, ExitCode::Returned as u32);
        assert_eq!(slots, [33, 22]);
    }

    /// Enters a function that adds its two argument slots, exits once to the
    /// host in the middle (as a host call would), is resumed, and returns;
    /// the pin registers it set before the exit keep their values.
    #[test]
    fn enter_exit_resume_return() {
        let stubs = engine_stubs().unwrap();
        let stub_code = publish(&stubs.code);
        let base = stub_code.exec_ptr().as_ptr();
        // SAFETY: the offsets come from `engine_stubs` and point at
        // functions with these signatures.
        let enter: Enter = unsafe { core::mem::transmute(base.add(stubs.enter)) };
        let resume: Resume = unsafe { core::mem::transmute(base.add(stubs.resume)) };

        // The "wasm" function: exit with code 2 and payload 7, then on
        // resume add the two arguments into the first slot.
        let mut a = Assembler::new();
        let exit = a.new_label();
        a.mov_rm(Size::S64, Gpr::Rcx, vmctx_mem(offset_of!(VmContext, exec)));
        a.mov_mi(
            Size::S64,
            exec_mem(Gpr::Rcx, offset_of!(ExecContext, payload)),
            7,
        );
        a.mov_mi(
            Size::S32,
            exec_mem(Gpr::Rcx, offset_of!(ExecContext, exit_code)),
            2,
        );
        for (k, r) in PIN_GPRS.into_iter().enumerate() {
            a.mov_ri(Size::S64, r, 100 * (k as i64 + 1));
        }
        a.call(exit);
        a.mov_rm(Size::S64, Gpr::Rax, Mem::base(Gpr::Rsp, 8));
        a.alu_rm(AluOp::Add, Size::S64, Gpr::Rax, Mem::base(Gpr::Rsp, 16));
        for r in PIN_GPRS {
            a.alu_rr(AluOp::Add, Size::S64, Gpr::Rax, r);
        }
        a.mov_mr(Size::S64, Mem::base(Gpr::Rsp, 8), Gpr::Rax);
        a.ret();
        a.bind(exit);
        emit_exit_stub(&mut a);
        let func = publish(&a.finish().unwrap().bytes);

        let mut stack = vec![0u64; 4096];
        let mut exec = zeroed_exec();
        exec.entry_rsp = (stack.as_mut_ptr() as usize + stack.len() * 8) & !15;
        let mut vmctx = VmContext::empty(&mut exec);
        let mut slots = [40u64, 2];
        // SAFETY: every pointer is valid for the duration of the call, the
        // wasm stack is 32 KiB of owned memory, and the code obeys the ABI.
        unsafe {
            enter(
                &mut exec,
                &mut vmctx,
                func.exec_ptr().as_ptr(),
                slots.as_mut_ptr(),
                2,
                crate::abi::TAIL_CALL_AREA as usize,
            )
        };
        assert_eq!(exec.exit_code, 2);
        assert_eq!(exec.payload, 7);
        // The exit stub left the exiting code's r15 at the saved rsp.
        // SAFETY: wasm_rsp points into `stack`, at the pushed r15.
        assert_eq!(
            unsafe { *(exec.wasm_rsp as *const usize) },
            &mut vmctx as *mut VmContext as usize
        );
        // SAFETY: as above; the suspended code is resumed exactly once.
        unsafe { resume(&mut exec) };
        assert_eq!(exec.exit_code, 0);
        assert_eq!(slots[0], 42 + 100 + 200 + 300 + 400 + 500 + 600);
    }
}
