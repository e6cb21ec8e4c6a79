//! The contract between generated code and the runtime.
//!
//! Generated code never calls Rust. It reads the `#[repr(C)]` structs below
//! at offsets taken from `core::mem::offset_of!`, and it leaves to the host
//! with an [`ExitCode`]. This module fixes those structs and the internal
//! calling convention; the compiler (`compile`) emits code that obeys it and
//! the runtime (`runtime`) builds the structs and the trampolines.
//!
//! # Registers
//! - `r15` holds the current instance's [`VmContext`] in all wasm code. It
//!   is preserved by every wasm function of a module without tail calls (a
//!   cross-instance call loads the callee's context into `r15` and the
//!   caller restores its own afterwards); a tail call may return with
//!   another instance's (see "Tail calls"). A function with calls that
//!   return to it saves its `r15` at `[rbp - 8]` for that; one whose only
//!   calls are tail calls does not (nothing comes back to its frame, and
//!   an unwinder finds its `r15` in the exit's, as a leaf's). Nor does
//!   one of a module whose code can reach no function reference but its
//!   own instance's (no call switches `r15` there) unless it catches
//!   exceptions: the unwinder gives a handler its frame's saved `r15`.
//! - `rbp` is the frame pointer and is preserved by every function.
//! - `rbx`, `r12`, `r13`, `rsi` and `rdi`, the registers of pinned integer
//!   locals, are callee-saved: a function that uses one saves it in its
//!   prologue, below the saved `r15` at `[rbp - 8]` (in that order, only
//!   those it uses), and restores it before it returns or tail-calls. A
//!   caller's pinned locals thus stay in their registers across calls.
//! - `r14` holds memory 0's base in functions that access it and nothing
//!   in any other function. It is caller-saved: every function reloads it
//!   after each call and exit, so no function saves it. The exception: in
//!   a module that can reach no function reference but its own instance's
//!   and never pauses (no fuel, no interruption), no host code runs during
//!   a call, and the callees keep `r14` current (those that use memory
//!   reload it after their own `memory.grow`s and calls, the others never
//!   write it), so calls of the module's own functions skip the reload.
//!   The enter trampoline loads it (from the callee's context) before it
//!   calls wasm code, so in such a module the register is current
//!   whenever its code runs, and a function that neither the host nor
//!   another instance can enter (not exported, in a module from which no
//!   function reference leaves) does not load it in its prologue either
//!   (the compiler's `base_current_at_entry`).
//! - Every other general-purpose and XMM register is caller-saved. A
//!   function keeps locals pinned in caller-saved registers (XMM
//!   registers; `r8` and `r9` in some functions) in their frame slots
//!   across calls and exits: it stores them before and reloads them after.
//!
//! So when a call or exit comes back, everything a frame had live in
//! registers is recoverable from memory: its callee-saved pins from the
//! callees' prologue saves (or, if they never touched them, the registers
//! themselves), every other live local and operand from its own frame
//! slots, and `r15`, the memory base and its bound from the saved `r15`.
//! An unwinder that skips frames restores the callee-saved registers each
//! skipped frame saved, as its epilogue would have, and the catching code
//! reloads the rest as the code after a call does.
//!
//! # Calls between wasm functions
//! Arguments and results travel through one area in the caller's frame, at
//! the caller's `rsp` when it executes `call`. Value `i` lives at byte offset
//! [`slot_offsets`]`(types)[i]`: 8 bytes per value, 16 for `v128`, in order.
//! The area is as large as the larger of the parameter and result layouts.
//! An `i32` passed in a register (an argument, a result) has its upper
//! 32 bits zero, whoever loads it, the host's trampolines too: generated
//! code relies on it (a 64-bit bounds check of an `i32` address,
//! `i64.extend_i32_u` as no instruction). In a slot only its low 4 bytes
//! count.
//! The callee finds its arguments at `[rsp + 8 + offset]` on entry (above the
//! return address) and writes its results to the same area before `ret`;
//! the caller reads them back from `[rsp + offset]`. The caller keeps `rsp`
//! 16-byte aligned at the `call`. The first argument and result also
//! travel in registers, so neither side waits for a store to reach memory
//! and be read back:
//! - The first [`REGISTER_ARGS`] arguments, as far as none of them and no
//!   earlier one is a `v128` ([`args_in_registers`]), are also passed in
//!   registers: the first in `rcx` for integers and references or `xmm0`
//!   for `f32`/`f64`, the second in `rdx` or `xmm1`. Every caller loads
//!   them there; a caller that knows its callee is compiled wasm (a direct
//!   call of a function of its own module) leaves their area slots
//!   unwritten, and such a callee stores them there itself if it needs the
//!   slots. Callers that may reach a host function (imports,
//!   `call_indirect`, unless the module can see no function reference
//!   but its own) write them.
//! - The first result's first 8 bytes are returned in `rax` (the value, the
//!   float's bits, or a `v128`'s low half), and an `f32`/`f64` also in
//!   `xmm0`. Compiled wasm leaves its first slot unwritten unless the
//!   result is a `v128`; the enter trampoline stores `rax` there for the
//!   host, and the host-call stub loads both registers from the slot a
//!   host function wrote.
//!
//! Calls that go through a [`VmFuncRef`] (imports, `call_indirect`) load
//! `rax` with the `VmFuncRef` address and `r15` with its `vmctx`, then
//! `call [rax + code]`, and afterwards restore the caller's `r15`; both
//! `r15` writes are skipped when it already holds that value. A module
//! whose code can reach no function reference but its own instance's
//! (no imports, no exported table, global or tag, no export with a
//! reference parameter) knows the `vmctx` is its own and neither loads
//! nor restores `r15`.
//!
//! # Tail calls
//! `return_call` and `return_call_indirect` replace the caller's frame: the
//! caller stores the arguments into its own incoming area (`[rbp + 16 ..]`,
//! the first ones also into their registers as for a call), restores the pin
//! registers it saved and `rbp` as its epilogue does, and jumps to the callee
//! with its own return address still on top of the stack. The callee thus
//! returns straight to the caller's caller, into the area that caller
//! allocated, and a loop of tail calls runs in constant stack.
//!
//! That area must hold the callee's arguments. A caller knows only a lower
//! bound of its incoming area's size: the larger of its own type's area and
//! [`TAIL_CALL_AREA`], which every call that may reach a tail-calling
//! function allocates (and which holds inductively for a function entered by
//! an in-place tail call). The bound is a trade: every frame that calls
//! through a [`VmFuncRef`] grows to hold it, which costs recursion depth in
//! modules that never tail-call.
//!
//! A tail call whose arguments need more than the bound (more than 8 plain
//! arguments beyond the caller's own) grows the area, in constant stack:
//! - If the caller's return address is the engine's tail-call return stub
//!   ([`ExecContext::tail_return`]), the area was grown before, and the
//!   record below it says by how much: when the arguments fit, they go
//!   there and the call jumps as above.
//! - Otherwise the caller turns its frame into a record: it restores its pin
//!   registers, keeps its saved `rbp` and return address at `[rbp]` and
//!   `[rbp + 8]`, and writes the new area's capacity at `[rbp - 8]` and the
//!   size of its results' area at `[rbp - 16]`. The new area, of that
//!   capacity (the callee's area, at least [`TAIL_CALL_AREA`], rounded to
//!   16), ends at `rbp - 16`, and below it the caller pushes the stub's
//!   address as the callee's return address and jumps with `rbp` still
//!   pointing at the record. The callee's prologue links its frame to it.
//! - The stub runs when the callee returns: it copies the results' area to
//!   where the caller's caller expects it (`[rbp + 16 ..]`), then pops the
//!   record as an epilogue would and returns to the caller's caller, with
//!   `rax`/`xmm0` untouched.
//!
//! A chain of tail calls thus adds at most one record per growth of the
//! area, and the area only grows, so a loop of tail calls of any arity
//! runs in constant stack. Walking frames, a return address equal to the
//! stub marks a record: the walk goes on to `[rbp]` and `[rbp + 8]`
//! without reporting a frame, and the record holds no saved registers.
//!
//! A tail call may leave the instance (an import, `return_call_indirect`):
//! the jump loads the callee's `vmctx` into `r15`, and the function returns
//! to its caller with that `r15`. Calls through a [`VmFuncRef`] restore the
//! caller's `r15` afterwards anyway; in a module with tail calls, direct
//! calls do too (when it changed). A host function reached by a tail call is
//! jumped to like a wasm one: the host-call stub finds its arguments above
//! the return address, in the area, as after a call.
//!
//! # Exits
//! To leave to the host, code stores an [`ExitCode`] (and its payload) in the
//! [`ExecContext`] (reached through `VmContext::exec`) and calls the exit
//! stub. The stub pushes the [`EXIT_SAVED_GPRS`] registers that hold pinned
//! locals (callee-saved in generated code), `rbp` and `r15`, saves `rsp` in
//! `ExecContext::wasm_rsp`, switches to `ExecContext::host_rsp`, restores the
//! host's callee-saved registers and returns to the host from the trampoline
//! that entered wasm. The host resumes with the resume trampoline, which
//! switches back to `wasm_rsp`, pops what the stub pushed, and returns to
//! the instruction after the `call` to the exit stub. Only those registers
//! and the stack survive an exit: code spills every other live value
//! before it exits. So the words at `wasm_rsp` are `r15`, `rbp`, the saved
//! registers, then the return address into the code that exited
//! ([`EXIT_RETURN_WORD`]).
//!
//! Host functions are called like any [`VmFuncRef`]: the runtime points their
//! `code` at the host-call stub, which records the function's
//! [`VmFuncRef::host_index`] in the `ExecContext` and exits with
//! [`ExitCode::HostCall`]; the host finds the argument area at a fixed
//! distance above `wasm_rsp` ([`HOST_CALL_AREA`]), reads the arguments
//! from it, runs the function, writes the results into the
//! same area and resumes. The stub leaves as the exit stub does, with the
//! same words at `wasm_rsp` (`r15`, `rbp`, the saved registers, the resume
//! address, the return into the wasm caller), except that it pushes the
//! resume address itself and reaches the host with a jump instead of `call`
//! and `ret`; the resume trampoline and the stub's return into wasm jump
//! too, so that no return on the way defeats the CPU's return prediction
//! (see `compile::x64::stubs`). The index is the store's own numbering, and every
//! `VmFuncRef` a store's code can reach belongs to that store (instantiation
//! and table writes check it); the host still bounds-checks the index, so a
//! wrong one is an error, never a wild call.

//!
//! # Exceptions
//! `throw` and `throw_ref` leave through the exit stub with
//! [`ExitCode::Throw`] or [`ExitCode::ThrowRef`], and so does a host
//! function that throws (through its host-call exit). The runtime then
//! walks the frames of the activation as a backtrace does (`rbp` chain,
//! return addresses) and looks each return address up in the module's
//! [`HandlerSite`]s: the first site, in the order the compiler emitted
//! them (inner `try_table`s first), whose range holds it and whose tag
//! matches is the handler. Code never resumes at the throw: the runtime
//! rewrites the words at `ExecContext::wasm_rsp` so that the resume
//! trampoline "returns" to the handler's landing pad with the handling
//! frame's `rbp`, its `r15`, and the pin registers as they were when it
//! made the call that threw: for each frame it skipped it restores the
//! pin registers that frame saved in its prologue ([`UnwindInfo`] says
//! which; they lie below `[rbp - 8]`, in [`PIN_GPR_ENCODINGS`] order),
//! which is what the frame's epilogue would have done. The handler's
//! values (the payload, then the exception reference for the `_ref`
//! forms) are written into the handling frame's home slots, from
//! [`HandlerSite::home`] down by 16 bytes per value. The landing pad sets
//! `rsp` from `rbp` (the frame size is fixed after the prologue), reloads
//! what the function keeps in caller-saved registers (XMM-pinned locals
//! from their slots, the memory base), moves a single result into its
//! merge register, and jumps to the catch label. Code with no
//! `try_table` is unchanged: the tables are data beside it.

use crate::decode::ValType;
pub use crate::error::TrapCode;

/// The encodings of the registers that may hold pinned locals, in the
/// order a prologue saves those it uses (below the saved `r15` at
/// `[rbp - 8]`: the first at `[rbp - 16]`, the next at `[rbp - 24]`, ...)
/// and the exit stub pushes them (the first pushed first).
pub const PIN_GPR_ENCODINGS: [u8; EXIT_SAVED_GPRS] = [3, 12, 13, 6, 7, 14];

/// Where a function that calls saves its `r15` (relative to `rbp`).
pub const SAVED_VMCTX_OFFSET: i32 = -8;

/// What the unwinder must know of a function's frame: bits 0..16 are the
/// registers (by encoding) its prologue saves, bit 16 says whether it
/// saved `r15` at [`SAVED_VMCTX_OFFSET`] (it calls), bit 17 whether it
/// has no frame at all ([`UNWIND_FRAMELESS`]).
pub type UnwindInfo = u32;

/// [`UnwindInfo`]'s bit for a frame that saved `r15`.
pub const UNWIND_SAVES_VMCTX: u32 = 1 << 16;

/// [`UnwindInfo`]'s bit for a function that runs without a frame: a leaf
/// that never addresses the stack, entered past its `push rbp; mov rbp,
/// rsp`. While it runs, `rbp` is its caller's and its return address is
/// at `rsp`, or above the registers of [`PIN_GPR_ENCODINGS`] it saves,
/// which it pushes instead; a trap in it finds that address right above
/// the trap site's return address and those registers (`Store`'s
/// backtrace).
pub const UNWIND_FRAMELESS: u32 = 1 << 17;

/// A `try_table` catch clause as the runtime sees it: a code range, the
/// landing pad, what it catches and where its values go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandlerSite {
    /// The range of code (return addresses `start < ra <= end`, offsets
    /// in the module's code) the clause covers.
    pub start: u32,
    /// One past the range.
    pub end: u32,
    /// Code offset of the landing pad.
    pub pad: u32,
    /// The module's tag index, or [`CATCH_ALL`].
    pub tag: u32,
    /// How many values the pad expects: the payload's, plus one for the
    /// exception reference with [`Self::with_ref`].
    pub values: u32,
    /// Whether the last value is the exception reference.
    pub with_ref: bool,
    /// The `rbp`-relative offset of the first value's home slot; value `k`
    /// goes 16 bytes lower per `k`.
    pub home: i32,
}

/// [`HandlerSite::tag`] of `catch_all` and `catch_all_ref`.
pub const CATCH_ALL: u32 = u32::MAX;

/// How many registers the exit stub saves besides `rbp` and `r15`: the
/// registers of pinned integer locals, callee-saved in generated code.
pub const EXIT_SAVED_GPRS: usize = 6;

/// Index of the return address into the code that exited among the 8-byte
/// words at `ExecContext::wasm_rsp`, after `r15`, `rbp` and the saved
/// registers.
pub const EXIT_RETURN_WORD: usize = 2 + EXIT_SAVED_GPRS;

/// Bytes from `ExecContext::wasm_rsp` to the argument/result area of a
/// host call ([`ExitCode::HostCall`]): the host-call stub's exit frame
/// (the words up to [`EXIT_RETURN_WORD`], its resume address) and the
/// return address into the wasm caller lie below the area.
pub const HOST_CALL_AREA: usize = 8 * (EXIT_RETURN_WORD + 2);

/// Why generated code left to the host.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitCode {
    /// The entered function returned normally; results are in the area.
    Returned = 0,
    /// A trap; `ExecContext::trap_code` says which ([`TrapCode`]).
    Trap = 1,
    /// Call the host function whose [`VmFuncRef::host_index`] is in
    /// `ExecContext::payload` (zero-extended); its argument/result area is
    /// [`HOST_CALL_AREA`] bytes above `ExecContext::wasm_rsp`
    /// (`ExecContext::call_args` is not written).
    HostCall = 2,
    /// `memory.grow` of memory `ExecContext::payload >> 32` by the number of
    /// pages in the low 32 bits; the host writes the result (old size in
    /// pages, or -1 as u32) back to `payload`, or [`GROW_OUT_OF_FUEL`]
    /// when the growth's fuel ([`MEMORY_FUEL_PER_PAGE`]) is not there.
    /// A 64-bit memory's `memory.grow` by more than `u32::MAX` pages never
    /// exits: no memory of this runtime grows that far, so the code
    /// answers -1 itself. For a 64-bit memory the whole `payload` is the
    /// result: the old size, or [`GROW_REFUSED_64`] (any old size as `u32`
    /// could be mistaken for -1, since a memory of 1-byte pages may have
    /// `u32::MAX` of them).
    MemoryGrow = 3,
    /// A runtime helper too large to inline (`table.grow`, bulk memory, ...).
    /// `payload` is the [`Helper`]; its immediates and operands are in the
    /// area at `call_args`, and the host writes its result there and a
    /// [`HelperStatus`] to `payload`.
    Helper = 4,
    /// Fuel ran out (`ExecContext::fuel` went negative) at a function entry
    /// or loop header. Resumable: the host may add fuel and resume.
    OutOfFuel = 5,
    /// The flag `ExecContext::interrupt` points to was non-zero at a
    /// function entry or loop header. Resumable.
    Interrupted = 6,
    /// `throw`: the module's tag index is in `payload`, the payload values
    /// in an area at `call_args` laid out as a call's arguments of the
    /// tag's parameter types ([`slot_offsets`]). Never resumed where it
    /// left: see "Exceptions".
    Throw = 7,
    /// `throw_ref`: the exception reference is in `payload` (0 is null,
    /// which traps). Never resumed where it left: see "Exceptions".
    ThrowRef = 8,
}

impl ExitCode {
    /// Decodes the value generated code stored.
    pub fn from_u32(v: u32) -> Option<ExitCode> {
        Some(match v {
            0 => ExitCode::Returned,
            1 => ExitCode::Trap,
            2 => ExitCode::HostCall,
            3 => ExitCode::MemoryGrow,
            4 => ExitCode::Helper,
            5 => ExitCode::OutOfFuel,
            6 => ExitCode::Interrupted,
            7 => ExitCode::Throw,
            8 => ExitCode::ThrowRef,
            _ => return None,
        })
    }
}

/// Operations generated code delegates to the host through
/// [`ExitCode::Helper`].
///
/// `ExecContext::payload` holds the helper's number and `call_args` the
/// address of its area: eight-byte slots, the first two holding immediates
/// `[imm0, imm1]` and the rest the operands in stack order. Integer operands
/// are in the low 32 bits of their slot; references are full slots. A helper
/// with a result writes it (as `u32`) to slot 0. A helper that fails (bounds)
/// returns the trap from the host loop instead of resuming.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Helper {
    /// `table.grow`: `[table, 0, init ref, delta]`, result: old size or
    /// -1, as a full slot (`u64::MAX` for -1, whose low 32 bits are -1 as
    /// an `i32`).
    ///
    /// In the table helpers an operand typed by a table64 table's index
    /// type (its index or delta, and a length between two table64 tables)
    /// is a full slot; the host reads the slot by the table's type.
    TableGrow = 0,
    /// `table.fill`: `[table, 0, dst, ref, len]`.
    TableFill = 1,
    /// `table.copy`: `[dst table, src table, dst, src, len]`.
    TableCopy = 2,
    /// `table.init`: `[table, elem segment, dst, src, len]`.
    TableInit = 3,
    /// `elem.drop`: `[elem segment, 0]`.
    ElemDrop = 4,
    /// `memory.init`: `[memory, data segment, dst, src, len]`.
    ///
    /// In the memory helpers an operand typed by a 64-bit memory's index
    /// type (its address, and a length between two 64-bit memories) is a
    /// full slot; the host reads the slot by the memory's type.
    MemoryInit = 5,
    /// `data.drop`: `[data segment, 0]`.
    DataDrop = 6,
    /// `memory.copy`: `[dst memory, src memory, dst, src, len]`. Only for
    /// other memories than a 32-bit memory 0: the compiler copies within
    /// that one inline.
    MemoryCopy = 7,
    /// `memory.fill`: `[memory, 0, dst, value, len]`. Only for other
    /// memories than a 32-bit memory 0: the compiler fills that one inline.
    MemoryFill = 8,
}

/// What the host leaves in `ExecContext::payload` after serving a
/// [`ExitCode::Helper`]. Code compiled with fuel or interruption checks
/// tests it: on anything but `Done` it leaves with the matching exit
/// ([`ExitCode::OutOfFuel`] or [`ExitCode::Interrupted`]), and when
/// resumed runs the helper again on the area as the host left it.
#[repr(u64)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HelperStatus {
    /// The operation finished (or failed with a trap, which never resumes).
    Done = 0,
    /// The operation's fuel ([`bulk_fuel`]) exceeded the fuel left; nothing
    /// was done or charged.
    OutOfFuel = 1,
    /// The operation was interrupted between two chunks: the area's
    /// operands describe the part still to do, whose fuel was given back.
    Interrupted = 2,
}

/// `memory.grow`'s `payload` after the host served it when the growth's
/// fuel exceeded the fuel left (nothing was grown or charged): no result
/// (an old size or -1 as `u32`) has the upper 32 bits set.
pub const GROW_OUT_OF_FUEL: u64 = u64::MAX;

/// What generated code holds, until it is loaded into an engine, where it
/// compares with the engine-wide id of a function type (a type-id site,
/// see `CompiledModule::type_id_sites`): loading writes the engine's id
/// over it. It is never an id (ids count up from 0 and stay below it), so
/// code run without its ids written traps on every such comparison rather
/// than accepting a wrong type; it is also what serialized code holds, so
/// serialized bytes do not depend on the engine that wrote them. Wide, so
/// the comparison is encoded with a 32-bit immediate.
pub const TYPE_ID_PLACEHOLDER: u32 = i32::MAX as u32;

/// A 64-bit memory's `memory.grow` result in `payload` when the growth was
/// refused (the code turns it into -1): no page count comes near it, and
/// it is not [`GROW_OUT_OF_FUEL`].
pub const GROW_REFUSED_64: u64 = u64::MAX - 1;

/// Bulk memory operations (`memory.fill`, `memory.copy`, `memory.init`)
/// cost one unit of fuel per this many bytes (rounded down), on top of
/// the operator's own unit.
pub const BYTES_PER_FUEL: u64 = 64;
/// Table operations (`table.fill`, `table.copy`, `table.init`,
/// `table.grow`) cost one unit of fuel per this many elements (rounded
/// down; an element is 8 bytes, so this is [`BYTES_PER_FUEL`] again).
pub const ELEMENTS_PER_FUEL: u64 = 8;
/// `memory.grow` costs this much fuel per page added (64 KiB at
/// [`BYTES_PER_FUEL`]), on top of the operator's own unit.
pub const MEMORY_FUEL_PER_PAGE: u64 = 65536 / BYTES_PER_FUEL;

const _: () = assert!(BYTES_PER_FUEL.is_power_of_two() && ELEMENTS_PER_FUEL.is_power_of_two());

/// With interruption checks, bulk operations go in chunks of at most this
/// many bytes (of memory, or of 8-byte table elements), and an interrupt lands between two
/// chunks: generated code does longer `memory.fill`/`memory.copy`s in the
/// host, which checks the flag after each chunk. 16 MiB take a few
/// milliseconds even where every page faults in on first touch.
pub const BULK_CHUNK: u64 = 16 << 20;

/// The fuel of a bulk operation over `units` bytes or elements, at one
/// unit per `per_fuel` (beyond the operator's own unit, which its fuel
/// segment charges).
pub const fn bulk_fuel(units: u64, per_fuel: u64) -> u64 {
    units / per_fuel
}

impl Helper {
    /// Decodes the value generated code stored.
    pub fn from_u32(v: u32) -> Option<Helper> {
        use Helper::*;
        Some(match v {
            0 => TableGrow,
            1 => TableFill,
            2 => TableCopy,
            3 => TableInit,
            4 => ElemDrop,
            5 => MemoryInit,
            6 => DataDrop,
            7 => MemoryCopy,
            8 => MemoryFill,
            _ => return None,
        })
    }
}

/// The per-store execution state shared by all instances of a store.
#[repr(C)]
#[derive(Debug)]
pub struct ExecContext {
    /// Host `rsp` saved by the enter/resume trampoline.
    pub host_rsp: usize,
    /// Wasm `rsp` saved by the exit stub (points at the saved `r15`).
    pub wasm_rsp: usize,
    /// Where the enter trampoline starts the wasm stack (the top of the
    /// store's wasm stack, or below a suspended computation when nested).
    pub entry_rsp: usize,
    /// The lowest address `rsp` may reach in a function body (after its
    /// prologue); below it the prologue traps with `StackOverflow`.
    /// Prologues read each instance's copy, [`VmContext::stack_limit`].
    pub stack_limit: usize,
    /// An [`ExitCode`].
    pub exit_code: u32,
    /// A [`TrapCode`] when `exit_code` is `Trap`.
    pub trap_code: u32,
    /// Exit-specific payload (see [`ExitCode`]).
    pub payload: u64,
    /// Address of the argument/result area of a helper or a `throw`
    /// (a host call's area is found from `wasm_rsp`: [`HOST_CALL_AREA`]).
    pub call_args: usize,
    /// Remaining fuel, when the module was compiled with fuel metering.
    pub fuel: i64,
    /// Points to a 32-bit flag that is non-zero when the embedder asked the
    /// guest to stop (read by modules compiled with interruption checks).
    ///
    /// The flag is an `AtomicU32` the store shares with its interrupt
    /// handles, which set it from other threads while generated code reads
    /// it (an aligned 32-bit load, that is a relaxed atomic load on x86-64).
    /// The runtime keeps it pointing at valid memory whenever wasm runs.
    pub interrupt: *const core::sync::atomic::AtomicU32,
    /// The engine's tail-call return stub: the return address a tail call
    /// that grows the argument area leaves below its record (see "Tail
    /// calls"). Generated code compares return addresses with it, and the
    /// frame walk steps over the records it marks.
    pub tail_return: usize,
}

/// A function reference: what `funcref` values, table entries and imports
/// point to. A null `funcref` is the null pointer.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct VmFuncRef {
    /// Entry point of the function (for host functions: the host-call stub).
    pub code: *const u8,
    /// The context `r15` must hold while the function runs.
    pub vmctx: *mut VmContext,
    /// Engine-wide canonical id of the function's type.
    pub type_id: u32,
    /// For host functions, the store's index of the function.
    pub host_index: u32,
}

/// A table as generated code sees it.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct VmTable {
    /// Elements: `*const VmFuncRef` for funcref tables (null = null ref),
    /// host handles for externref tables (0 = null).
    pub elements: *mut usize,
    /// Number of elements.
    pub len: u64,
}

/// A memory as generated code sees the memories other than memory 0 (whose
/// base and length it reads from the context's own fields): one record per
/// memory of the store, which the runtime rewrites whenever the memory
/// grows (its bytes may move). Contexts reach it through
/// [`VmContext::memories`].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct VmMemory {
    /// The memory's first byte.
    pub base: *mut u8,
    /// Its length in bytes.
    pub len: u64,
}

/// Per-instance context: everything generated code of an instance reaches
/// through `r15`.
///
/// Memory 0's fields change together, through [`Self::set_memory`].
/// The other memories are reached through [`Self::memories`], one more
/// load away; fields added after the first ones go at the end, so the
/// offsets generated code of single-memory modules uses stay as they are.
/// Table 0's view is a copy that the runtime refreshes whenever table 0
/// grows, as it does memory 0's fields.
#[repr(C)]
#[derive(Debug)]
pub struct VmContext {
    /// The store's execution state.
    pub exec: *mut ExecContext,
    /// The lowest address `rsp` may reach in a function body, as
    /// [`ExecContext::stack_limit`]: the store's wasm stack is allocated
    /// once, with the limit at a fixed height, so each instance's context
    /// holds it from its instantiation on, and a prologue checks its
    /// frame with one load. `usize::MAX` (every frame overflows) in a
    /// context of no instance.
    pub stack_limit: usize,
    /// Base of memory 0 (null when the instance has no memory).
    pub memory_base: *mut u8,
    /// Length of memory 0 in bytes. The runtime updates every context that
    /// uses a memory when that memory grows ([`Self::set_memory`]).
    pub memory_len: u64,
    /// The last address at which an access of `2^k` bytes fits, for `k` in
    /// 0..5: `memory_len - 2^k`, as a signed number (negative when the
    /// memory is shorter). An access of `2^k` bytes at a 32-bit address
    /// `a` with no offset is in bounds when `a <= memory_last[k]` (signed
    /// compare), one instruction less than adding the size first.
    pub memory_last: [i64; 5],
    /// `VmFuncRef` of every function of the instance, imports first.
    pub funcs: *const VmFuncRef,
    /// A pointer to the 16-byte cell of every global, imports first.
    pub globals: *const *mut u128,
    /// A pointer to every table, imports first.
    pub tables: *const *mut VmTable,
    /// A copy of table 0's `VmTable` (empty without tables): generated
    /// code reaches table 0, which nearly every `call_indirect` uses,
    /// without loading its pointer first. The runtime updates every context
    /// whose table 0 a table is when it grows.
    pub table0: VmTable,
    /// Engine-wide type id of each of the module's type indices.
    pub type_ids: *const u32,
    /// The store's handle for this instance (opaque to generated code), so
    /// the host can tell which instance exited (the exit stub leaves the
    /// exiting code's `r15` at `[ExecContext::wasm_rsp]`).
    pub instance: usize,
    /// A pointer to the [`VmMemory`] of every memory, imports first
    /// (memory 0's too, though its code uses the fields above).
    pub memories: *const *mut VmMemory,
}

/// [`VmContext::instance`] of a context that belongs to no instance (the
/// store's host context).
pub const NO_INSTANCE: usize = usize::MAX;

impl VmContext {
    /// A context with no instance, memory, functions, globals or tables,
    /// for the [`ExecContext`] at `exec`.
    pub fn empty(exec: *mut ExecContext) -> VmContext {
        let mut vmctx = VmContext {
            exec,
            stack_limit: usize::MAX,
            memory_base: core::ptr::null_mut(),
            memory_len: 0,
            memory_last: [0; 5],
            funcs: core::ptr::null(),
            globals: core::ptr::null(),
            tables: core::ptr::null(),
            table0: VmTable {
                elements: core::ptr::null_mut(),
                len: 0,
            },
            type_ids: core::ptr::null(),
            instance: NO_INSTANCE,
            memories: core::ptr::null(),
        };
        vmctx.set_memory(core::ptr::null_mut(), 0);
        vmctx
    }

    /// Points the context at memory 0, `len` bytes at `base`.
    pub fn set_memory(&mut self, base: *mut u8, len: u64) {
        self.memory_base = base;
        self.memory_len = len;
        for (k, last) in self.memory_last.iter_mut().enumerate() {
            // Lengths are at most 2^32 (or 2^33 reserved), far below i64.
            *last = len as i64 - (1i64 << k);
        }
    }
}

/// A function that calls nothing and whose frame is at most this big may
/// skip the stack-limit check in its prologue: its caller's check left at
/// least the runtime's stack margin below, far more than this (the runtime
/// asserts it), and a leaf adds no further frames. So may one whose only
/// calls are tail calls that fit in place (see "Tail calls"): its callee
/// runs where its frame was, with that same margin below. A tail call that
/// grows the area keeps the check, whose frame size covers the new area.
pub const LEAF_FRAME_MAX: u32 = 4096;

/// Frames at most this big are checked against the stack limit in one
/// subtraction that cannot wrap below address 0: the runtime puts the limit
/// at least this far plus its stack margin above address 0, and code never
/// runs with `rsp` more than the margin below the limit, so `rsp` is at
/// least this much at every function's entry. A bigger frame's prologue
/// also checks that `rsp - frame` did not wrap (out of line).
pub const SHORT_CHECK_FRAME_MAX: u32 = 16 << 10;

/// Address space a guard-region memory reserves: any effective address
/// generated code can form (a 32-bit index plus a 32-bit offset plus an
/// access of up to 16 bytes) lies below it. Generated code for such a
/// memory checks no bounds; the bytes past the memory's length up to here
/// are inaccessible, and a fault in them is the out-of-bounds trap.
pub const GUARD_REGION_BYTES: u64 = (1 << 33) + (1 << 16);

/// The least size in bytes of the argument/result area a call to a wasm
/// function may reach provides: every call that may reach a function of
/// a module with tail calls (any call through a [`VmFuncRef`], direct
/// calls in such a module) and the enter trampoline allocate at least
/// this much. A tail call runs its callee in the caller's incoming area
/// (see "Tail calls" in the module doc), so a function may pass up to
/// `max(its own area, TAIL_CALL_AREA)` bytes of arguments in place.
pub const TAIL_CALL_AREA: u32 = 64;

/// Changes whenever the calling convention changes in a way no size or
/// offset of the contexts shows (what the enter trampoline loads, what a
/// prologue may take as loaded): precompiled code records it through the
/// runtime's ABI fingerprint, so code compiled under another convention
/// is refused.
pub const CONVENTION_REVISION: u32 = 1;

/// How many leading arguments a call may pass in registers (see the
/// module doc).
pub const REGISTER_ARGS: usize = 2;

/// How many of the leading parameters `params` travel in registers: up to
/// [`REGISTER_ARGS`], stopping at the first `v128`. Their slots are then
/// at offsets 0 and 8.
pub fn args_in_registers(params: &[ValType]) -> usize {
    params
        .iter()
        .take(REGISTER_ARGS)
        .take_while(|&&t| t != ValType::V128)
        .count()
}

/// Size in bytes of a value's slot in a call's argument/result area.
pub const fn slot_size(t: ValType) -> u32 {
    match t {
        ValType::V128 => 16,
        _ => 8,
    }
}

/// Size of the argument/result area for values of `types`: their slots,
/// rounded up to a multiple of 16.
pub fn area_size(types: &[ValType]) -> u32 {
    types
        .iter()
        .map(|&t| slot_size(t))
        .sum::<u32>()
        .next_multiple_of(16)
}

/// Byte offset of each value in an argument/result area, and the area's
/// total size (a multiple of 16, as [`area_size`]).
pub fn slot_offsets(types: &[ValType], offsets: &mut alloc::vec::Vec<u32>) -> u32 {
    offsets.clear();
    let mut at = 0;
    for &t in types {
        offsets.push(at);
        at += slot_size(t);
    }
    at.next_multiple_of(16)
}

/// What the generated code must check besides WebAssembly's own rules.
///
/// Fuel cost model: every operator costs one unit. Each straight-line
/// segment of code (from a function entry, loop header, label, `br_if`
/// fall-through or call return to the next such point) subtracts its
/// operator count from `ExecContext::fuel` when it starts. The balance is
/// checked at function entries and loop headers, where the code leaves with
/// [`ExitCode::OutOfFuel`] when it is negative; so a guest stops within one
/// loop iteration or one function body of running out, and can be resumed.
/// Interruption is checked at the same points.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CompileOptions {
    /// Meter fuel.
    pub fuel: bool,
    /// Check `ExecContext::interrupt`.
    pub interruptible: bool,
    /// Emit no bounds checks for loads and stores: memory 0 lies in a
    /// guard region of at least [`GUARD_REGION_BYTES`] of address space,
    /// whose inaccessible part faults, and the runtime turns a fault at one
    /// of the module's fault sites into the out-of-bounds trap.
    /// Bulk operators keep their explicit checks, and so do accesses to
    /// other memories and to a 64-bit memory 0 (the compiler's
    /// `x64/memories.rs`). Ignored for a module whose memory 0 has 1-byte
    /// pages (see the compiler's `features`).
    pub guard_region: bool,
    /// Compile the functions one after another on the calling thread, not
    /// spread over the platform's threads.
    pub sequential: bool,
}

/// A range of a function's code whose memory accesses may fault in
/// guard-region mode: `[start, end)` code offsets and the module offset of
/// the wasm instruction they belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultSite {
    /// First code byte of the range.
    pub start: u32,
    /// One past its last byte.
    pub end: u32,
    /// Module offset of the load or store.
    pub wasm_offset: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn layouts_are_stable() {
        // Generated code reads these with offset_of!, but pointers must stay
        // 8-byte fields and the structs must have no surprising padding.
        assert_eq!(size_of::<VmFuncRef>(), 24);
        assert_eq!(offset_of!(VmFuncRef, type_id), 16);
        assert_eq!(size_of::<VmTable>(), 16);
        assert_eq!(offset_of!(VmContext, exec), 0);
        assert_eq!(size_of::<VmMemory>(), 16);
        assert_eq!(offset_of!(VmMemory, len), 8);
        // The fields every function or access reads (the stack limit,
        // memory 0's, table 0's) are within a one-byte displacement of
        // `r15`.
        assert_eq!(offset_of!(VmContext, stack_limit), 8);
        assert_eq!(offset_of!(VmContext, memory_base), 16);
        assert!(offset_of!(VmContext, memory_last) + 5 * 8 <= 128);
        assert!(offset_of!(VmContext, table0) + size_of::<VmTable>() <= 128);
        assert_eq!(offset_of!(VmContext, instance), 120);
        assert_eq!(offset_of!(VmContext, memories), 128);
        assert_eq!(size_of::<ExecContext>() % 8, 0);
    }

    #[test]
    fn memory_bounds_follow_the_length() {
        let mut exec = core::mem::MaybeUninit::<ExecContext>::uninit();
        let mut vmctx = VmContext::empty(exec.as_mut_ptr());
        // No memory: no access of any size fits, not even at address 0.
        assert_eq!(vmctx.memory_last, [-1, -2, -4, -8, -16]);
        vmctx.set_memory(core::ptr::null_mut(), 65_536);
        assert_eq!(vmctx.memory_len, 65_536);
        // An 8-byte access fits at 65528 and no further.
        assert_eq!(vmctx.memory_last[3], 65_528);
        assert_eq!(vmctx.memory_last, [65_535, 65_534, 65_532, 65_528, 65_520]);
        vmctx.set_memory(core::ptr::null_mut(), 1 << 32);
        assert_eq!(vmctx.memory_last[0], (1 << 32) - 1);
    }

    #[test]
    fn slots() {
        let mut offsets = alloc::vec::Vec::new();
        let size = slot_offsets(&[ValType::I32, ValType::V128, ValType::F64], &mut offsets);
        assert_eq!(offsets, [0, 8, 24]);
        assert_eq!(size, 32);
        assert_eq!(slot_offsets(&[], &mut offsets), 0);
        assert_eq!(area_size(&[ValType::I32, ValType::V128, ValType::F64]), 32);
        assert_eq!(area_size(&[ValType::I64]), 16);
    }

    #[test]
    fn codes_round_trip() {
        for v in 0..9 {
            assert_eq!(ExitCode::from_u32(v).map(|c| c as u32), Some(v));
        }
        for v in 0..12 {
            assert_eq!(TrapCode::from_u32(v).map(|c| c as u32), Some(v));
        }
        assert_eq!(TrapCode::StackOverflow.message(), "call stack exhausted");
    }
}
