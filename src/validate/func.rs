//! Validation of one function body, with the specification's algorithm
//! (appendix "Validation Algorithm"): an operand stack of possibly-unknown
//! types and a control stack of frames.
//!
//! Pure instructions (numeric, most SIMD, loads and stores) are checked from
//! the signature column of the operator table; the rest have a rule here.
//!
//! With typed function references, a value matches an expected type when
//! it is a subtype (`super::subtype`); the common case, equal types, is
//! compared first. Locals of non-nullable reference types start unset: a
//! `local.get` of one must follow a `local.set`/`local.tee`, and the locals
//! set inside a block are unset again at its `else` and `end` (a stack of
//! the locals set, marked by each frame's height in it). Functions without
//! such locals skip the tracking (`first_non_defaultable`).

use super::features::{Feature, FeatureSet};
use super::module::Context;
use super::module::same;
use super::subtype::val_subtype;
use crate::decode::{
    BlockType, FuncType, FunctionBody, HeapType, MemArg, MemArgEncoding, MemIdx, MemoryType,
    Operator, Reader, RefType, ValType, limits, read_operator_inline,
};
use crate::error::{Error, Result};
use alloc::vec::Vec;
use hashbrown::HashSet;

/// Facts about a function found while validating it: what it uses, how
/// large its stacks grow, and a static estimate of how often it reaches
/// its locals and memory. What to make of them is the compiler's business.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FuncInfo {
    /// Largest operand stack height reached (in values).
    pub max_stack_height: u32,
    /// Largest number of integer and reference values (those a compiler
    /// keeps in general-purpose registers) on the operand stack at once,
    /// counted when one is pushed (an operator that turns floats into an
    /// integer in place may add one the count misses); a stack deeper
    /// than [`GPR_COUNT_MAX_HEIGHT`] counts all its values.
    pub max_gpr_stack_height: u32,
    /// [`Self::max_gpr_stack_height`] counted inside loops only: where a
    /// deep stack, and what it spills, runs many times.
    pub max_loop_gpr_stack_height: u32,
    /// Largest control stack depth reached (the function's own frame is 1).
    pub max_control_depth: u32,
    /// Whether any instruction reads, writes or sizes linear memory.
    pub uses_memory: bool,
    /// Whether any instruction touches a table (`call_indirect` included).
    pub uses_tables: bool,
    /// Whether the function calls other functions (tail calls too).
    pub has_calls: bool,
    /// Whether it has calls that return into it (`call`, `call_indirect`,
    /// `call_ref`): a function with only tail calls has left before its
    /// callee runs.
    pub has_plain_calls: bool,
    /// The estimated executions, weighted as for [`LocalUse`], of those
    /// calls (`call`, `call_indirect`, `call_ref`) together.
    pub call_weight: u32,
    /// Bit `i`: local `i` (for `i < 64`) is written by a `local.set` or
    /// `local.tee`. Locals from 64 on are not tracked: take them as
    /// written.
    pub written_locals: u64,
    /// Bit `i`: local `i` (for `i < 64`) is first reached by a
    /// `local.set` or `local.tee` that no jump can skip: no instruction
    /// before it (a branch, an `if`, a `try_table`'s catch) may jump to
    /// the end of a block that is still open there. Every path to a read
    /// of the local then passes that write (a jump to the end of a closed
    /// block lands before it, a loop's label too), so its initial value
    /// is never read.
    pub defined_before_read: u64,
    /// Whether a `try_table` of it has a catch clause: code that catches
    /// needs to know its instance (the unwinder reads it from the frame).
    pub catches: bool,
    /// Whether it has `memory.copy` or `memory.fill`.
    pub uses_bulk_memory: bool,
    /// Whether it has `memory.grow` (of any memory).
    pub grows_memory: bool,
    /// Whether it may change a table's elements or size: `table.set`,
    /// `table.fill`, `table.grow`, `table.copy` or `table.init` (of any
    /// table).
    pub writes_tables: bool,
    /// Estimated executions, weighted as for [`LocalUse`], of its loads and
    /// stores of `2^k` bytes, for `k` in 0..5.
    pub memory_weights: [u32; 5],
    /// Number of instructions.
    pub num_operators: u32,
    /// Where this function's local uses start in
    /// [`ModuleInfo::local_uses`](super::ModuleInfo::local_uses).
    pub local_uses_start: u32,
    /// How many locals it uses.
    pub local_uses_len: u32,
    /// The features beyond WebAssembly 2.0 the compiler must lower for
    /// this function: tail calls, relaxed SIMD or wide arithmetic
    /// operators, an access to a 64-bit memory or to a memory other than
    /// memory 0, `memory.size`/`memory.grow` of a memory with custom pages.
    pub features: FeatureSet,
    /// Where, in the body's operators, the `end` of the function's first
    /// top-level block, loop, `if` or `try_table` sits (`u32::MAX` if it
    /// has none). A compiler sees from it whether a branch out of a body
    /// that is one `block` lands on the function's own `end`, which makes
    /// it a `return` (`compile::func::prelude`).
    pub first_block_end: u32,
    /// Bit `i`: the function's `i`-th `loop` instruction (counted in
    /// code order, dead code included, for `i < 64`) spans
    /// [`SMALL_LOOP_BYTES`] of code from its `loop` to its `end`: a loop
    /// whose machine code is likely longer than 32 bytes but within 64,
    /// which a compiler aligns to 64 bytes so that it lies in one 64-byte
    /// block of instructions rather than across two.
    pub small_loops: u64,
}

/// The sizes, in bytes of a body's code from a `loop` instruction to its
/// `end`, of the loops [`FuncInfo::small_loops`] marks.
pub const SMALL_LOOP_BYTES: core::ops::RangeInclusive<usize> = 16..=40;

/// The deepest operand stack whose integer values
/// [`FuncInfo::max_gpr_stack_height`] counts one by one, which bounds the
/// time a push may take.
pub const GPR_COUNT_MAX_HEIGHT: usize = 32;

/// Whether a compiler keeps values of type `t` in general-purpose
/// registers: integers and references, not floats and vectors.
///
/// Spelled as the types it takes, not those it leaves out: the count of
/// such values ([`FuncValidator::count_gpr_values`]) then compiles to a
/// shorter loop.
fn in_gpr(t: ValType) -> bool {
    matches!(t, ValType::I32 | ValType::I64 | ValType::Ref(_))
}

/// How often a function reaches one of its locals, estimated statically:
/// `(local index, weight)`, where each `local.get/set/tee` adds 1 outside
/// loops and 8 times more for each loop around it (up to 8 levels), as if
/// every loop ran 8 times. Saturates at `u32::MAX`.
pub type LocalUse = (u32, u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FrameKind {
    Block,
    Loop,
    If,
    Else,
    Function,
}

/// An open block. Its parameter and result types are resolved when it
/// opens (slices of the module's types, or static ones), so that the
/// branches to it and its `end` find them without a lookup.
#[derive(Clone, Copy, Debug)]
struct Frame<'m> {
    kind: FrameKind,
    /// The types it takes (a `loop`'s label's).
    params: &'m [ValType],
    /// The types it leaves (the label's of the others).
    results: &'m [ValType],
    /// Operand stack height when the frame was entered (after its params).
    height: usize,
    /// Set after an unconditional branch: the rest of the frame is
    /// unreachable and pops of missing values yield "unknown".
    unreachable: bool,
    /// Height of the stack of initialized non-defaultable locals when the
    /// frame was entered: at its `else` and `end` the locals set inside
    /// are unset again.
    init_height: usize,
}

impl<'m> Frame<'m> {
    /// The types a branch to its label carries.
    #[inline(always)]
    fn label(&self) -> &'m [ValType] {
        if self.kind == FrameKind::Loop {
            self.params
        } else {
            self.results
        }
    }
}

/// Extra checks that some pure instructions carry.
enum Check {
    None,
    /// The instruction belongs to a feature beyond WebAssembly 2.0.
    Gated(Feature),
    /// `memarg` with the natural alignment (log2).
    Mem(MemArg, u32),
    /// Lane index and lane count.
    Lane(u8, u8),
    /// Both.
    MemLane(MemArg, u32, u8, u8),
}

/// Signature of a pure instruction.
struct Sig {
    params: &'static [ValType],
    results: &'static [ValType],
    check: Check,
}

macro_rules! val_type {
    (i32) => {
        ValType::I32
    };
    (i64) => {
        ValType::I64
    };
    (f32) => {
        ValType::F32
    };
    (f64) => {
        ValType::F64
    };
    (v128) => {
        ValType::V128
    };
}

/// The feature beyond WebAssembly 2.0 a pure instruction belongs to
/// (`return_call*` are special: their rule checks it; memory64 and
/// multi-memory depend on the memory, not the instruction). Resolved when
/// the signature table is generated, so the check costs nothing for the
/// others.
macro_rules! gate {
    (I64Add128) => {
        Check::Gated(Feature::WideArithmetic)
    };
    (I64Sub128) => {
        Check::Gated(Feature::WideArithmetic)
    };
    (I64MulWideS) => {
        Check::Gated(Feature::WideArithmetic)
    };
    (I64MulWideU) => {
        Check::Gated(Feature::WideArithmetic)
    };
    (I8x16RelaxedSwizzle) => {
        Check::Gated(Feature::RelaxedSimd)
    };
    (I32x4RelaxedTruncF32x4S) => {
        Check::Gated(Feature::RelaxedSimd)
    };
    (I32x4RelaxedTruncF32x4U) => {
        Check::Gated(Feature::RelaxedSimd)
    };
    (I32x4RelaxedTruncF64x2SZero) => {
        Check::Gated(Feature::RelaxedSimd)
    };
    (I32x4RelaxedTruncF64x2UZero) => {
        Check::Gated(Feature::RelaxedSimd)
    };
    (F32x4RelaxedMadd) => {
        Check::Gated(Feature::RelaxedSimd)
    };
    (F32x4RelaxedNmadd) => {
        Check::Gated(Feature::RelaxedSimd)
    };
    (F64x2RelaxedMadd) => {
        Check::Gated(Feature::RelaxedSimd)
    };
    (F64x2RelaxedNmadd) => {
        Check::Gated(Feature::RelaxedSimd)
    };
    (I8x16RelaxedLaneselect) => {
        Check::Gated(Feature::RelaxedSimd)
    };
    (I16x8RelaxedLaneselect) => {
        Check::Gated(Feature::RelaxedSimd)
    };
    (I32x4RelaxedLaneselect) => {
        Check::Gated(Feature::RelaxedSimd)
    };
    (I64x2RelaxedLaneselect) => {
        Check::Gated(Feature::RelaxedSimd)
    };
    (F32x4RelaxedMin) => {
        Check::Gated(Feature::RelaxedSimd)
    };
    (F32x4RelaxedMax) => {
        Check::Gated(Feature::RelaxedSimd)
    };
    (F64x2RelaxedMin) => {
        Check::Gated(Feature::RelaxedSimd)
    };
    (F64x2RelaxedMax) => {
        Check::Gated(Feature::RelaxedSimd)
    };
    (I16x8RelaxedQ15mulrS) => {
        Check::Gated(Feature::RelaxedSimd)
    };
    (I16x8RelaxedDotI8x16I7x16S) => {
        Check::Gated(Feature::RelaxedSimd)
    };
    (I32x4RelaxedDotI8x16I7x16AddS) => {
        Check::Gated(Feature::RelaxedSimd)
    };
    ($other:ident) => {
        Check::None
    };
}

macro_rules! sig {
    ($name:ident; special; $($f:ident)*) => {
        None
    };
    ($name:ident; [$($p:ident)* -> $($r:ident)*]; $($f:ident)*) => {
        Some(Sig { params: &[$(val_type!($p)),*], results: &[$(val_type!($r)),*], check: gate!($name) })
    };
    ($name:ident; [mem $align:literal : $($p:ident)* -> $($r:ident)*]; $memarg:ident) => {
        Some(Sig { params: &[$(val_type!($p)),*], results: &[$(val_type!($r)),*], check: Check::Mem(*$memarg, $align) })
    };
    ($name:ident; [lane $n:literal : $($p:ident)* -> $($r:ident)*]; $lane:ident) => {
        Some(Sig { params: &[$(val_type!($p)),*], results: &[$(val_type!($r)),*], check: Check::Lane(*$lane, $n) })
    };
    ($name:ident; [memlane $align:literal $n:literal : $($p:ident)* -> $($r:ident)*]; $memarg:ident $lane:ident) => {
        Some(Sig {
            params: &[$(val_type!($p)),*],
            results: &[$(val_type!($r)),*],
            check: Check::MemLane(*$memarg, $align, *$lane, $n),
        })
    };
}

macro_rules! define_signature {
    ($($prefix:ident $code:literal $name:ident $({ $($field:ident : $ty:ty),* })? => $sig:tt)*) => {
        /// The signature of a pure instruction, or `None` for those with
        /// hand-written rules.
        #[allow(unused_variables)]
        #[inline]
        fn signature(op: &Operator<'_>) -> Option<Sig> {
            match op {
                $( Operator::$name $({ $($field),* })? => sig!($name; $sig; $($($field)*)?), )*
            }
        }
    };
}

crate::for_each_operator!(define_signature);

/// A local of the function being checked: its type and what the
/// validator notes of its uses.
#[derive(Clone, Copy, Debug)]
struct Local {
    ty: ValType,
    /// Use weight (see [`LocalUse`]): 0 until its first use.
    weight: u32,
    /// Whether a `local.set` or `local.tee` writes it.
    written: bool,
}

impl Local {
    fn new(ty: ValType) -> Local {
        Local {
            ty,
            weight: 0,
            written: false,
        }
    }
}

/// Reusable state for validating function bodies (buffers are kept between
/// functions to avoid reallocating).
#[derive(Default)]
pub(crate) struct FuncValidator<'m> {
    operands: Vec<Option<ValType>>,
    frames: Vec<Frame<'m>>,
    locals: Vec<Local>,
    /// Values popped and pushed back by `br_table`.
    scratch: Vec<Option<ValType>>,
    /// The label types (address and length of a slice that lives as long
    /// as the module) one `br_table` has checked.
    checked_labels: HashSet<(usize, usize)>,
    info: FuncInfo,
    /// Position of the instruction being checked in the body's code
    /// (stored for each instruction; its module offset, [`Self::offset`],
    /// is computed only for an error).
    pos: usize,
    /// Module offset of the body's code.
    code_offset: usize,
    /// Height of the innermost frame: pops above it need no frame lookup.
    floor: usize,
    /// The operand stack height above which a push may raise a maximum
    /// height: [`FuncInfo::max_loop_gpr_stack_height`] inside loops,
    /// [`FuncInfo::max_gpr_stack_height`] outside (each the smallest
    /// maximum that can grow there).
    raise_above: u32,
    /// Index in `frames` of the outermost open `block`, `if` or
    /// `try_table` that an instruction may already jump to the end of
    /// (`usize::MAX` when none; see [`FuncInfo::defined_before_read`]).
    /// Frames close innermost first, so when that one closes, no open
    /// frame is such a target any more.
    open_jump_target: usize,
    /// What one use of a local weighs at this loop depth.
    use_weight: u32,
    /// The locals with a nonzero weight, in order of first use.
    used: Vec<u32>,
    /// The canonical representative of each type index of the module
    /// (see [`super::subtype::canonical_types`]).
    reps: Vec<u32>,
    /// Index of the first local whose type has no default value (a
    /// non-nullable reference), `usize::MAX` when none has: only those
    /// need the initialization tracking.
    first_non_defaultable: usize,
    /// Whether each local is set (true for the defaultable ones).
    local_inits: Vec<bool>,
    /// The non-defaultable locals set so far, innermost block last.
    init_stack: Vec<u32>,
    /// The open loops, innermost last (their number is the loop depth):
    /// where each `loop` instruction is ([`Self::pos`]) and how many came
    /// before it in the body.
    open_loops: Vec<(usize, u32)>,
    /// How many `loop` instructions the body had so far.
    loops_seen: u32,
}

/// Whether `found` may stand where `expected` is required. Equal types,
/// the common case, are compared inline; subtyping is out of line, so the
/// validator's inlined dispatch stays small.
#[inline(always)]
fn matches(reps: &[u32], found: ValType, expected: ValType) -> bool {
    found == expected || (found.is_ref() && strict_subtype(reps, found, expected))
}

#[cold]
#[inline(never)]
fn strict_subtype(reps: &[u32], found: ValType, expected: ValType) -> bool {
    val_subtype(found, expected, |a, b| same(reps, a, b))
}

/// A list of value types, printed separated by spaces.
struct TypeList<'t>(&'t [ValType]);

impl core::fmt::Display for TypeList<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for (i, t) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{t}")?;
        }
        Ok(())
    }
}

#[cold]
fn mismatch(offset: usize, expected: ValType, found: Option<ValType>) -> Error {
    match found {
        Some(found) => Error::invalid(offset, "type mismatch")
            .with_detail(format_args!("expected {expected}, found {found}")),
        None => Error::invalid(offset, "type mismatch")
            .with_detail(format_args!("expected {expected}, found nothing")),
    }
}

impl<'m> FuncValidator<'m> {
    /// Takes the module's canonical type representatives, once per module.
    pub(crate) fn set_types(&mut self, reps: &[u32]) {
        self.reps.clear();
        self.reps.extend_from_slice(reps);
    }

    /// Validates one body of function `func_index`; appends its local
    /// uses to `local_uses`.
    pub(crate) fn validate(
        &mut self,
        cx: &Context<'m, '_>,
        func_index: u32,
        body: &FunctionBody<'_>,
        local_uses: &mut Vec<LocalUse>,
    ) -> Result<FuncInfo> {
        let ty = &cx.module.types[cx.func_types[func_index as usize] as usize];
        self.operands.clear();
        self.frames.clear();
        self.locals.clear();
        self.info = FuncInfo {
            first_block_end: u32::MAX,
            ..FuncInfo::default()
        };
        let num_locals = ty.params().len() as u64 + u64::from(body.num_locals);
        if num_locals > u64::from(limits::MAX_LOCALS) {
            return Err(Error::malformed(body.code_offset, "too many locals"));
        }
        self.locals
            .extend(ty.params().iter().map(|&t| Local::new(t)));
        for &(n, t) in cx.module.locals(body) {
            if !t.is_wasm2() {
                super::module::check_val_type(
                    t,
                    cx.module.types.len() as u32,
                    &cx.features,
                    body.code_offset,
                )?;
            }
            self.locals
                .extend(core::iter::repeat_n(Local::new(t), n as usize));
        }
        let num_params = ty.params().len();
        self.first_non_defaultable = self.locals[num_params..]
            .iter()
            .position(|l| !l.ty.is_defaultable())
            .map_or(usize::MAX, |i| num_params + i);
        self.init_stack.clear();
        self.local_inits.clear();
        if self.first_non_defaultable != usize::MAX {
            let locals = &self.locals;
            self.local_inits
                .extend((0..locals.len()).map(|i| i < num_params || locals[i].ty.is_defaultable()));
        }
        self.used.clear();
        self.open_loops.clear();
        self.loops_seen = 0;
        self.raise_above = 0;
        self.open_jump_target = usize::MAX;
        self.use_weight = 1;
        self.floor = 0;
        self.frames.push(Frame {
            kind: FrameKind::Function,
            params: ty.params(),
            results: ty.results(),
            height: 0,
            unreachable: false,
            init_height: 0,
        });
        self.info.max_control_depth = 1;

        let mut r = body.reader();
        self.code_offset = body.code_offset;
        loop {
            self.pos = r.position();
            // Reading past the end fails: only then is it the body's end
            // that came before the function's `end` (no check per
            // instruction).
            let op = match read_operator_inline(&mut r) {
                Ok(op) => op,
                Err(_) if self.pos == body.code.len() => {
                    return Err(Error::malformed(self.offset(), "END opcode expected"));
                }
                Err(e) => return Err(e),
            };
            self.info.num_operators += 1;
            if self.operator(cx, &op, &r)? {
                break;
            }
        }
        if !r.is_empty() {
            return Err(Error::malformed(
                r.offset(),
                "operators remaining after end of function",
            ));
        }
        self.info.local_uses_start = local_uses.len() as u32;
        self.info.local_uses_len = self.used.len() as u32;
        let locals = &self.locals;
        local_uses.extend(self.used.iter().map(|&i| (i, locals[i as usize].weight)));
        self.info.written_locals = locals
            .iter()
            .take(64)
            .enumerate()
            .filter(|(_, l)| l.written)
            .fold(0, |bits, (i, _)| bits | 1 << i);
        Ok(self.info)
    }

    /// Closes the innermost open loop at its `end` (the instruction being
    /// checked): marks it in [`FuncInfo::small_loops`] if it is small.
    fn end_loop(&mut self) {
        if let Some((start, index)) = self.open_loops.pop()
            && index < 64
            && SMALL_LOOP_BYTES.contains(&(self.pos - start))
        {
            self.info.small_loops |= 1 << index;
        }
    }

    /// The module offset of the instruction being checked.
    fn offset(&self) -> usize {
        self.code_offset + self.pos
    }

    fn err(&self, message: &'static str) -> Error {
        Error::invalid(self.offset(), message)
    }

    /// Pushes a value. Inlined everywhere: `local.get`, the commonest
    /// instruction, pushes, and a call costs as much as the push. No
    /// maximum can grow at a height that does not exceed
    /// [`Self::raise_above`], the smallest of those that may grow here
    /// (the GPR counts count some of the values, the other all of them),
    /// so that is the one test inlined.
    #[inline(always)]
    fn push(&mut self, t: Option<ValType>) {
        self.operands.push(t);
        if self.operands.len() as u32 > self.raise_above {
            self.raise_max_heights(t);
        }
    }

    /// Raises the maxima of [`FuncInfo`] for a stack that `t` was just
    /// pushed onto, higher than [`Self::raise_above`].
    #[inline(never)]
    fn raise_max_heights(&mut self, t: Option<ValType>) {
        let height = self.operands.len() as u32;
        if height > self.info.max_stack_height {
            self.info.max_stack_height = height;
        }
        if t.is_some_and(in_gpr) {
            self.count_gpr_values();
        }
    }

    /// Raises [`FuncInfo::max_gpr_stack_height`] to the number of integer
    /// and reference values on the stack.
    #[inline(never)]
    fn count_gpr_values(&mut self) {
        let height = self.operands.len();
        let n = if height > GPR_COUNT_MAX_HEIGHT {
            height
        } else {
            self.operands
                .iter()
                .filter(|t| t.is_some_and(in_gpr))
                .count()
        };
        let n = n as u32;
        self.info.max_gpr_stack_height = self.info.max_gpr_stack_height.max(n);
        if !self.open_loops.is_empty() {
            self.info.max_loop_gpr_stack_height = self.info.max_loop_gpr_stack_height.max(n);
        }
        self.set_raise_above();
    }

    /// Sets [`Self::raise_above`] for the current loop depth.
    fn set_raise_above(&mut self) {
        self.raise_above = if !self.open_loops.is_empty() {
            self.info.max_loop_gpr_stack_height
        } else {
            self.info.max_gpr_stack_height
        };
    }

    /// Pops any value (unknown in unreachable code).
    #[inline]
    fn pop_any(&mut self) -> Result<Option<ValType>> {
        if self.operands.len() > self.floor {
            return Ok(self.operands.pop().flatten());
        }
        let frame = self
            .frames
            .last()
            .expect("a frame is open while operators are read");
        if self.operands.len() == frame.height {
            if frame.unreachable {
                return Ok(None);
            }
            return Err(self
                .err("type mismatch")
                .with_detail("expected a value, found nothing"));
        }
        Ok(self.operands.pop().flatten())
    }

    /// Pops a value of type `expected`. Inlined is only the commonest
    /// case, a value of exactly that type above the frame's floor.
    #[inline(always)]
    fn pop(&mut self, expected: ValType) -> Result<Option<ValType>> {
        let n = self.operands.len();
        if n > self.floor && self.operands[n - 1] == Some(expected) {
            self.operands.truncate(n - 1);
            return Ok(Some(expected));
        }
        self.pop_general(expected)
    }

    /// [`Self::pop`] in every case.
    #[inline(never)]
    fn pop_general(&mut self, expected: ValType) -> Result<Option<ValType>> {
        if self.operands.len() > self.floor {
            return match self.operands.pop().flatten() {
                Some(found) if !matches(&self.reps, found, expected) => {
                    Err(mismatch(self.offset(), expected, Some(found)))
                }
                found => Ok(found),
            };
        }
        let frame = self
            .frames
            .last()
            .expect("a frame is open while operators are read");
        if self.operands.len() == frame.height {
            if frame.unreachable {
                return Ok(None);
            }
            return Err(mismatch(self.offset(), expected, None));
        }
        match self.operands.pop().flatten() {
            Some(found) if !matches(&self.reps, found, expected) => {
                Err(mismatch(self.offset(), expected, Some(found)))
            }
            found => Ok(found),
        }
    }

    /// Pops values of `types`, the last first. Inlined is only the test
    /// for none (the blocks and branches of most programs carry none).
    #[inline(always)]
    fn pop_all(&mut self, types: &[ValType]) -> Result<()> {
        if types.is_empty() {
            return Ok(());
        }
        self.pop_all_general(types)
    }

    /// [`Self::pop_all`] of one value or more.
    ///
    /// Values of exactly the types expected above the frame's height, the
    /// common case, come off in a loop that makes no call (so it has few
    /// registers to save); from the first other value on,
    /// [`Self::pop_all_each`] takes over.
    #[inline(never)]
    fn pop_all_general(&mut self, types: &[ValType]) -> Result<()> {
        for (i, &t) in types.iter().enumerate().rev() {
            let n = self.operands.len();
            if n > self.floor && self.operands[n - 1] == Some(t) {
                self.operands.truncate(n - 1);
            } else {
                return self.pop_all_each(&types[..=i]);
            }
        }
        Ok(())
    }

    /// Pops values of `types`, the last first, one [`Self::pop`] each.
    #[inline(never)]
    fn pop_all_each(&mut self, types: &[ValType]) -> Result<()> {
        for &t in types.iter().rev() {
            self.pop(t)?;
        }
        Ok(())
    }

    /// Pops `types` and pushes them back (what `br_if` does to the
    /// stack). When all of them lie above the innermost frame's height,
    /// they are checked and retyped in place, which costs a fraction of
    /// the pops and pushes for labels of many values.
    /// Inlined is only the commonest case, a label without values.
    #[inline(always)]
    fn retype_top(&mut self, types: &[ValType]) -> Result<()> {
        if types.is_empty() {
            return Ok(());
        }
        self.retype_top_general(types)
    }

    /// [`Self::retype_top`] of a label with values.
    #[inline(never)]
    fn retype_top_general(&mut self, types: &[ValType]) -> Result<()> {
        let len = self.operands.len();
        if len >= self.floor + types.len() {
            let top = &mut self.operands[len - types.len()..];
            if top
                .iter()
                .zip(types)
                .all(|(v, &t)| v.is_none_or(|v| matches(&self.reps, v, t)))
            {
                for (v, &t) in top.iter_mut().zip(types) {
                    *v = Some(t);
                }
                return Ok(());
            }
        }
        // A mismatch, or values from below the frame: the general path
        // finds the error or the polymorphic bottom.
        self.pop_all(types)?;
        self.push_all(types);
        Ok(())
    }

    /// Pushes values of `types`. Inlined are none and one (the result of
    /// a constant, most blocks and calls).
    #[inline(always)]
    fn push_all(&mut self, types: &[ValType]) {
        match *types {
            [] => {}
            [t] => self.push(Some(t)),
            _ => self.push_all_general(types),
        }
    }

    /// [`Self::push_all`] of two values or more.
    #[inline(never)]
    fn push_all_general(&mut self, types: &[ValType]) {
        for &t in types {
            self.push(Some(t));
        }
    }

    fn set_unreachable(&mut self) {
        let frame = self
            .frames
            .last_mut()
            .expect("a frame is open while operators are read");
        self.operands.truncate(frame.height);
        frame.unreachable = true;
    }

    fn block_params(cx: &Context<'m, '_>, bt: BlockType) -> &'m [ValType] {
        cx.module.block_params(bt)
    }

    fn block_results(cx: &Context<'m, '_>, bt: BlockType) -> &'m [ValType] {
        cx.module.block_results(bt)
    }

    /// The types a branch to the label `depth` out carries. An
    /// instruction that may jump there asks for them.
    #[inline(always)]
    fn label(&mut self, depth: u32) -> Result<&'m [ValType]> {
        let len = self.frames.len();
        if depth as usize >= len {
            return Err(self.unknown_label(depth));
        }
        let index = len - 1 - depth as usize;
        let frame = &self.frames[index];
        // A loop's label lies behind every write inside it, and the
        // function's own (index 0) is a return: neither skips a write
        // to a later read.
        if index != 0 && frame.kind != FrameKind::Loop {
            self.open_jump_target = self.open_jump_target.min(index);
        }
        Ok(frame.label())
    }

    #[cold]
    #[inline(never)]
    fn unknown_label(&self, depth: u32) -> Error {
        self.err("unknown label").with_index(depth)
    }

    /// Opens a block. Inlined is only the commonest, a block type
    /// without parameters or results.
    #[inline(always)]
    fn push_frame(
        &mut self,
        cx: &Context<'m, '_>,
        kind: FrameKind,
        block_type: BlockType,
    ) -> Result<()> {
        if !matches!(block_type, BlockType::Empty)
            || self.frames.len() as u32 >= limits::MAX_NESTING_DEPTH
        {
            return self.push_frame_general(cx, kind, block_type);
        }
        let height = self.operands.len();
        self.frames.push(Frame {
            kind,
            params: &[],
            results: &[],
            height,
            unreachable: false,
            init_height: self.init_stack.len(),
        });
        self.floor = height;
        self.info.max_control_depth = self.info.max_control_depth.max(self.frames.len() as u32);
        Ok(())
    }

    /// [`Self::push_frame`] of every block type.
    #[inline(never)]
    fn push_frame_general(
        &mut self,
        cx: &Context<'m, '_>,
        kind: FrameKind,
        block_type: BlockType,
    ) -> Result<()> {
        if let BlockType::Func(i) = block_type
            && i as usize >= cx.module.types.len()
        {
            return Err(self.err("unknown type").with_index(i));
        }
        if self.frames.len() as u32 >= limits::MAX_NESTING_DEPTH {
            return Err(Error::limit(self.offset(), "nesting too deep"));
        }
        if let BlockType::Value(t) = block_type {
            self.check_type(cx, t)?;
        }
        let params = Self::block_params(cx, block_type);
        let results = Self::block_results(cx, block_type);
        self.pop_all(params)?;
        let height = self.operands.len();
        self.frames.push(Frame {
            kind,
            params,
            results,
            height,
            unreachable: false,
            init_height: self.init_stack.len(),
        });
        self.floor = height;
        self.push_all(params);
        self.info.max_control_depth = self.info.max_control_depth.max(self.frames.len() as u32);
        Ok(())
    }

    /// Checks the innermost frame's results on the stack and that nothing
    /// else is left; returns the frame.
    #[inline(always)]
    fn check_frame_end(&mut self) -> Result<Frame<'m>> {
        let frame = *self
            .frames
            .last()
            .expect("a frame is open while operators are read");
        self.pop_all(frame.results)?;
        if self.operands.len() != frame.height {
            return Err(self
                .err("type mismatch")
                .with_detail("values remaining on the stack at the end of a block"));
        }
        Ok(frame)
    }

    /// Checks a value type an instruction names: its feature and type
    /// index.
    fn check_type(&self, cx: &Context<'_, '_>, t: ValType) -> Result<()> {
        if t.is_wasm2() {
            return Ok(());
        }
        super::module::check_val_type(t, cx.module.types.len() as u32, &cx.features, self.offset())
    }

    /// Whether `a` is a subtype of `b` (all of them, pairwise).
    fn all_match(&self, a: &[ValType], b: &[ValType]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(&a, &b)| matches(&self.reps, a, b))
    }

    /// Unsets the non-defaultable locals set since the stack of them was
    /// `height` high (at a frame's `else` or `end`).
    #[inline(always)]
    fn reset_inits(&mut self, height: usize) {
        if self.init_stack.len() > height {
            self.unset_inits(height);
        }
    }

    /// [`Self::reset_inits`] when some local was set.
    #[inline(never)]
    fn unset_inits(&mut self, height: usize) {
        for i in self.init_stack.drain(height..) {
            self.local_inits[i as usize] = false;
        }
    }

    /// `local.get`: the local must be set if it has no default. Inline
    /// only the test that passes almost always (no such local so far).
    #[inline(always)]
    fn check_init(&self, index: u32) -> Result<()> {
        if index as usize >= self.first_non_defaultable {
            return self.check_init_non_defaultable(index);
        }
        Ok(())
    }

    /// [`Self::check_init`] of a local at or after the first one without
    /// a default value.
    #[inline(never)]
    fn check_init_non_defaultable(&self, index: u32) -> Result<()> {
        if !self.local_inits[index as usize] {
            return Err(self.err("uninitialized local").with_index(index));
        }
        Ok(())
    }

    /// `local.set` and `local.tee`: a non-defaultable local becomes set
    /// until the end of the innermost block.
    #[inline(always)]
    fn set_init(&mut self, index: u32) {
        if index as usize >= self.first_non_defaultable {
            self.set_init_non_defaultable(index);
        }
    }

    /// [`Self::set_init`] of a local at or after the first one without a
    /// default value.
    #[inline(never)]
    fn set_init_non_defaultable(&mut self, index: u32) {
        if !self.local_inits[index as usize] {
            self.local_inits[index as usize] = true;
            self.init_stack.push(index);
        }
    }

    /// The type of local `index`, counting the use (see [`LocalUse`]).
    #[inline(always)]
    fn local(&mut self, index: u32) -> Result<ValType> {
        let weight = self.use_weight;
        let Some(local) = self.locals.get_mut(index as usize) else {
            return Err(self.unknown_local(index));
        };
        if local.weight == 0 {
            self.used.push(index);
        }
        local.weight = local.weight.saturating_add(weight);
        Ok(local.ty)
    }

    /// [`Self::local`] for a `local.set` or `local.tee`, which also notes
    /// the write: when it is the local's first use and no jump can skip
    /// it, the local is defined before any read.
    #[inline(always)]
    fn written_local(&mut self, index: u32) -> Result<ValType> {
        let weight = self.use_weight;
        let Some(local) = self.locals.get_mut(index as usize) else {
            return Err(self.unknown_local(index));
        };
        if local.weight == 0 {
            self.used.push(index);
            if self.open_jump_target == usize::MAX && index < 64 {
                self.info.defined_before_read |= 1 << index;
            }
        }
        local.weight = local.weight.saturating_add(weight);
        local.written = true;
        Ok(local.ty)
    }

    #[cold]
    #[inline(never)]
    fn unknown_local(&self, index: u32) -> Error {
        self.err("unknown local").with_index(index)
    }

    /// Notes a call that returns into the function.
    fn plain_call(&mut self) {
        self.info.has_plain_calls = true;
        self.info.call_weight = self.info.call_weight.saturating_add(self.use_weight);
    }

    /// Sets the use weight for the number of open loops, after a loop
    /// opened or closed.
    fn loops_changed(&mut self) {
        let depth = self.open_loops.len().min(8);
        self.use_weight = 1 << (3 * depth);
        self.set_raise_above();
    }

    fn global(&self, cx: &Context<'_, '_>, index: u32) -> Result<crate::decode::GlobalType> {
        cx.globals
            .get(index as usize)
            .copied()
            .ok_or_else(|| self.err("unknown global").with_index(index))
    }

    fn table(&mut self, cx: &Context<'_, '_>, index: u32) -> Result<ValType> {
        self.info.uses_tables = true;
        cx.tables
            .get(index as usize)
            .map(|t| t.elem.into())
            .ok_or_else(|| self.err("unknown table").with_index(index))
    }

    /// The index type of table `index` (`i64` for a table64 table): the
    /// type of its instructions' indices, sizes and lengths. Only after
    /// [`Self::table`] checked the index.
    fn table_index_type(cx: &Context<'_, '_>, index: u32) -> ValType {
        cx.tables
            .get(index as usize)
            .map_or(ValType::I32, |t| t.index_type())
    }

    /// Memory `index`, noting what the compiler needs to access it.
    #[inline]
    fn memory(&mut self, cx: &Context<'_, '_>, index: u32) -> Result<MemoryType> {
        self.info.uses_memory = true;
        let Some(&ty) = cx.memories.get(index as usize) else {
            return Err(self.err("unknown memory").with_index(index));
        };
        if index != 0 {
            self.info.features.insert(Feature::MultiMemory);
        }
        if ty.memory64 {
            self.info.features.insert(Feature::Memory64);
        }
        Ok(ty)
    }

    /// The memory of a `memory.*` instruction's index immediate.
    fn memory_index(&mut self, cx: &Context<'_, '_>, mem: MemIdx) -> Result<MemoryType> {
        if !mem.zero_byte && !cx.features.multi_memory {
            return Err(
                Error::malformed(self.offset(), "zero byte expected").with_detail(format_args!(
                    "a memory index needs {}",
                    Feature::MultiMemory.switch()
                )),
            );
        }
        self.memory(cx, mem.index)
    }

    /// `memory.size` and `memory.grow` count pages: with a custom page
    /// size the compiler must know it.
    fn memory_pages(&mut self, cx: &Context<'_, '_>, mem: MemIdx) -> Result<ValType> {
        let ty = self.memory_index(cx, mem)?;
        if ty.page_size_log2() != crate::decode::DEFAULT_PAGE_SIZE_LOG2 {
            self.info.features.insert(Feature::CustomPageSizes);
        }
        Ok(ty.index_type())
    }

    fn data_segment(&self, cx: &Context<'_, '_>, index: u32) -> Result<()> {
        let Some(count) = cx.module.data_count else {
            return Err(Error::malformed(
                self.offset(),
                "data count section required",
            ));
        };
        if index >= count {
            return Err(self.err("unknown data segment").with_index(index));
        }
        Ok(())
    }

    fn elem_segment(&mut self, cx: &Context<'_, '_>, index: u32) -> Result<ValType> {
        self.info.uses_tables = true;
        cx.elements
            .get(index as usize)
            .map(|&t| t.into())
            .ok_or_else(|| self.err("unknown elem segment").with_index(index))
    }

    /// The type a `call_indirect` or `return_call_indirect` names, after
    /// checking its table.
    fn call_indirect_type<'c>(
        &mut self,
        cx: &'c Context<'_, '_>,
        type_index: u32,
        table_index: u32,
    ) -> Result<&'c crate::decode::FuncType> {
        let elem = self.table(cx, table_index)?;
        if !elem.ref_type().is_some_and(RefType::is_func) {
            return Err(self
                .err("type mismatch")
                .with_detail("call_indirect needs a funcref table"));
        }
        cx.module
            .types
            .get(type_index as usize)
            .ok_or_else(|| self.err("unknown type").with_index(type_index))
    }

    /// Requires exception handling for an instruction of its own.
    fn exceptions(&mut self, cx: &Context<'_, '_>) -> Result<()> {
        cx.features.require(Feature::Exceptions, self.offset())?;
        self.info.features.insert(Feature::Exceptions);
        Ok(())
    }

    /// The function type of tag `index`.
    fn tag_type<'c>(&self, cx: &'c Context<'_, '_>, index: u32) -> Result<&'c FuncType> {
        let ty = cx
            .tags
            .get(index as usize)
            .ok_or_else(|| self.err("unknown tag").with_index(index))?;
        Ok(&cx.module.types[*ty as usize])
    }

    /// Requires typed function references for an instruction of theirs.
    fn typed_refs(&mut self, cx: &Context<'_, '_>) -> Result<()> {
        cx.features
            .require(Feature::FunctionReferences, self.offset())?;
        self.info.features.insert(Feature::FunctionReferences);
        Ok(())
    }

    /// Pops a reference of any type (`None` when unknown).
    fn pop_ref(&mut self) -> Result<Option<RefType>> {
        match self.pop_any()? {
            None => Ok(None),
            Some(ValType::Ref(r)) => Ok(Some(r)),
            Some(t) => Err(self
                .err("type mismatch")
                .with_detail(format_args!("expected a reference, found {t}"))),
        }
    }

    /// The type `call_ref` and `return_call_ref` name, after popping the
    /// reference to call (`(ref null $t)`).
    fn ref_call_type<'c>(
        &mut self,
        cx: &'c Context<'_, '_>,
        type_index: u32,
    ) -> Result<&'c crate::decode::FuncType> {
        let ty = cx
            .module
            .types
            .get(type_index as usize)
            .ok_or_else(|| self.err("unknown type").with_index(type_index))?;
        self.pop(ValType::Ref(RefType::new(
            true,
            HeapType::Concrete(type_index),
        )))?;
        Ok(ty)
    }

    /// Notes a tail call, which needs its feature.
    fn tail_call(&mut self, cx: &Context<'_, '_>) -> Result<()> {
        cx.features.require(Feature::TailCall, self.offset())?;
        self.info.features.insert(Feature::TailCall);
        self.info.has_calls = true;
        Ok(())
    }

    /// A tail call returns the callee's results as the caller's: they must
    /// be the same types.
    fn check_tail_call_results(&self, results: &[ValType]) -> Result<()> {
        let own = self.frames[0].results;
        if !self.all_match(results, own) {
            return Err(self
                .err("type mismatch")
                .with_detail("a tail call's callee must return the caller's result types"));
        }
        Ok(())
    }

    fn func_type<'c>(
        &self,
        cx: &'c Context<'_, '_>,
        index: u32,
    ) -> Result<&'c crate::decode::FuncType> {
        match cx.func_types.get(index as usize) {
            Some(&t) => Ok(&cx.module.types[t as usize]),
            None => Err(self.err("unknown function").with_index(index)),
        }
    }

    /// Checks a `memarg`; returns the type of the address. Inlined: one
    /// call per load and store otherwise. The usual `memarg` (memory 0 of
    /// 32 bits, the 2.0 encoding, an alignment and offset in range) passes
    /// every check of [`Self::check_memarg_general`], so that is the case
    /// tested first, with the same effect on [`FuncInfo`].
    #[inline(always)]
    fn check_memarg(
        &mut self,
        cx: &Context<'_, '_>,
        memarg: MemArg,
        natural: u32,
    ) -> Result<ValType> {
        if cx.plain_memory0
            && memarg.memory == 0
            && memarg.encoding == MemArgEncoding::default()
            && u32::from(memarg.align) <= natural
            && memarg.offset <= u64::from(u32::MAX)
        {
            self.info.uses_memory = true;
            self.count_memory_access(natural);
            return Ok(ValType::I32);
        }
        self.check_memarg_general(cx, memarg, natural)
    }

    /// Adds a load or store of `2^natural` bytes to
    /// [`FuncInfo::memory_weights`].
    #[inline(always)]
    fn count_memory_access(&mut self, natural: u32) {
        if let Some(w) = self.info.memory_weights.get_mut(natural as usize) {
            *w = w.saturating_add(self.use_weight);
        }
    }

    /// [`Self::check_memarg`] in every case.
    #[inline(never)]
    fn check_memarg_general(
        &mut self,
        cx: &Context<'_, '_>,
        memarg: MemArg,
        natural: u32,
    ) -> Result<ValType> {
        // 2.0 reads the flags as an alignment below 2^32; multi-memory
        // (3.0) as one below 2^64 and a memory bit, so that a larger
        // alignment is invalid (below) instead of malformed.
        if memarg.align >= 32 && !cx.features.multi_memory {
            return Err(
                Error::malformed(self.offset(), "malformed memop flags").with_detail(format_args!(
                    "an alignment of 2^32 or more needs {}",
                    Feature::MultiMemory.switch()
                )),
            );
        }
        if memarg.encoding.has_memory && !cx.features.multi_memory {
            return Err(
                Error::malformed(self.offset(), "malformed memop flags").with_detail(format_args!(
                    "a memory index needs {}",
                    Feature::MultiMemory.switch()
                )),
            );
        }
        if let Some(wide) = memarg.encoding.wide_offset
            && !cx.features.memory64
        {
            return Err(
                Error::malformed(self.offset(), wide.message()).with_detail(format_args!(
                    "offsets beyond 32 bits need {}",
                    Feature::Memory64.switch()
                )),
            );
        }
        let ty = self.memory(cx, memarg.memory)?;
        if u32::from(memarg.align) > natural {
            return Err(self.err("alignment must not be larger than natural"));
        }
        if !ty.memory64 && memarg.offset > u64::from(u32::MAX) {
            return Err(self.err("offset out of range"));
        }
        self.count_memory_access(natural);
        Ok(ty.index_type())
    }

    /// Pops the operands of a load or store whose address is an `i64`
    /// (the first parameter), and pushes its results.
    fn pop_push_wide_address(&mut self, sig: &Sig) -> Result<()> {
        for (k, &t) in sig.params.iter().enumerate().rev() {
            self.pop(if k == 0 { ValType::I64 } else { t })?;
        }
        self.push_all(sig.results);
        Ok(())
    }

    /// Checks one instruction. Inlined into the loop with the decoder, so
    /// that the compiler merges the decoder's `match` on the opcode with
    /// this one on the `Operator`: one indirect jump per instruction
    /// instead of two (the throughput this gives is in
    /// `benches/results.md`). Returns whether it closed the function's
    /// own frame: only an `end` can, and only its arm computes it, so the
    /// other instructions go back to the loop without a test.
    #[inline(always)]
    fn operator(
        &mut self,
        cx: &Context<'m, '_>,
        op: &Operator<'_>,
        _r: &Reader<'_>,
    ) -> Result<bool> {
        if let Some(sig) = signature(op) {
            let address = match sig.check {
                Check::None => ValType::I32,
                Check::Gated(feature) => {
                    cx.features.require(feature, self.offset())?;
                    self.info.features.insert(feature);
                    ValType::I32
                }
                Check::Mem(memarg, natural) => self.check_memarg(cx, memarg, natural)?,
                Check::Lane(lane, n) => {
                    if lane >= n {
                        return Err(self.err("invalid lane index"));
                    }
                    ValType::I32
                }
                Check::MemLane(memarg, natural, lane, n) => {
                    let address = self.check_memarg(cx, memarg, natural)?;
                    if lane >= n {
                        return Err(self.err("invalid lane index"));
                    }
                    address
                }
            };
            if address == ValType::I64 {
                self.pop_push_wide_address(&sig)?;
                return Ok(false);
            }
            // Fast path for the commonest shapes (binary and unary
            // operators, loads, stores) when the operands are known and
            // above the frame's floor: compare in place.
            let n = self.operands.len();
            let top = |k: usize| n >= self.floor + k;
            match (sig.params, sig.results) {
                (&[a, b], &[r]) if top(2) && self.operands[n - 2..] == [Some(a), Some(b)] => {
                    self.operands.truncate(n - 1);
                    self.operands[n - 2] = Some(r);
                    return Ok(false);
                }
                (&[a], &[r]) if top(1) && self.operands[n - 1] == Some(a) => {
                    self.operands[n - 1] = Some(r);
                    return Ok(false);
                }
                (&[a, b], &[]) if top(2) && self.operands[n - 2..] == [Some(a), Some(b)] => {
                    self.operands.truncate(n - 2);
                    return Ok(false);
                }
                _ => {}
            }
            self.pop_all(sig.params)?;
            self.push_all(sig.results);
            return Ok(false);
        }
        self.special(cx, op)
    }

    /// The hand-written rules. Inlined into [`Self::operator`] for the
    /// same reason: out of line, its `match` is a second dispatch per
    /// instruction (about half again as many instructions executed to
    /// validate the compile benchmark's program). Returns what
    /// [`Self::operator`] does.
    #[inline(always)]
    fn special(&mut self, cx: &Context<'m, '_>, op: &Operator<'_>) -> Result<bool> {
        use ValType::*;
        match *op {
            Operator::Unreachable => self.set_unreachable(),
            Operator::Nop => {}
            Operator::Block { blockty } => self.push_frame(cx, FrameKind::Block, blockty)?,
            Operator::Loop { blockty } => {
                self.push_frame(cx, FrameKind::Loop, blockty)?;
                self.open_loops.push((self.pos, self.loops_seen));
                self.loops_seen += 1;
                self.loops_changed();
            }
            Operator::If { blockty } => {
                if let BlockType::Value(t) = blockty {
                    self.check_type(cx, t)?;
                }
                self.pop(I32)?;
                // Its condition may skip to the `else` or the end.
                self.open_jump_target = self.open_jump_target.min(self.frames.len());
                self.push_frame(cx, FrameKind::If, blockty)?;
            }
            Operator::Else => {
                let frame = self.check_frame_end()?;
                if frame.kind != FrameKind::If {
                    return Err(Error::malformed(self.offset(), "else without matching if"));
                }
                self.reset_inits(frame.init_height);
                self.frames.pop();
                self.frames.push(Frame {
                    kind: FrameKind::Else,
                    unreachable: false,
                    ..frame
                });
                self.push_all(frame.params);
            }
            Operator::End => {
                let frame = self.check_frame_end()?;
                if frame.kind == FrameKind::If {
                    // An `if` without `else` behaves as if the else passed
                    // its parameters through: they must equal the results.
                    if !self.all_match(frame.params, frame.results) {
                        return Err(self
                            .err("type mismatch")
                            .with_detail("if without else must not change the stack"));
                    }
                }
                self.reset_inits(frame.init_height);
                self.frames.pop();
                if self.frames.len() == 1 && self.info.first_block_end == u32::MAX {
                    self.info.first_block_end = self.pos as u32;
                }
                if self.frames.len() <= self.open_jump_target {
                    self.open_jump_target = usize::MAX;
                }
                if frame.kind == FrameKind::Loop {
                    self.end_loop();
                    self.loops_changed();
                }
                self.floor = self.frames.last().map_or(0, |f| f.height);
                self.push_all(frame.results);
                return Ok(self.frames.is_empty());
            }
            Operator::Br { relative_depth } => {
                let types = self.label(relative_depth)?;
                self.pop_all(types)?;
                self.set_unreachable();
            }
            Operator::BrIf { relative_depth } => {
                self.pop(I32)?;
                let types = self.label(relative_depth)?;
                self.retype_top(types)?;
            }
            Operator::Return => {
                let results = self.frames[0].results;
                self.pop_all(results)?;
                self.set_unreachable();
            }
            Operator::Call { function_index } => {
                self.info.has_calls = true;
                self.plain_call();
                let ty = self.func_type(cx, function_index)?;
                self.pop_all(ty.params())?;
                self.push_all(ty.results());
            }
            Operator::CallIndirect {
                type_index,
                table_index,
            } => {
                self.info.has_calls = true;
                self.plain_call();
                let ty = self.call_indirect_type(cx, type_index, table_index)?;
                self.pop(Self::table_index_type(cx, table_index))?;
                self.pop_all(ty.params())?;
                self.push_all(ty.results());
            }
            Operator::Drop => {
                self.pop_any()?;
            }
            Operator::Select => {
                self.pop(I32)?;
                let a = self.pop_any()?;
                let b = self.pop_any()?;
                let t = match (a, b) {
                    (Some(a), Some(b)) if a != b => {
                        return Err(self
                            .err("type mismatch")
                            .with_detail("select operands differ"));
                    }
                    (Some(t), _) | (_, Some(t)) => Some(t),
                    (None, None) => None,
                };
                if t.is_some_and(ValType::is_ref) {
                    return Err(self
                        .err("type mismatch")
                        .with_detail("select without a type needs numeric operands"));
                }
                self.push(t);
            }
            Operator::LocalGet { local_index } => {
                let t = self.local(local_index)?;
                self.check_init(local_index)?;
                self.push(Some(t));
            }
            Operator::LocalSet { local_index } => {
                let t = self.written_local(local_index)?;
                self.pop(t)?;
                self.set_init(local_index);
            }
            Operator::LocalTee { local_index } => {
                let t = self.written_local(local_index)?;
                self.pop(t)?;
                self.set_init(local_index);
                self.push(Some(t));
            }
            Operator::GlobalGet { global_index } => {
                let g = self.global(cx, global_index)?;
                self.push(Some(g.content));
            }
            Operator::GlobalSet { global_index } => {
                let g = self.global(cx, global_index)?;
                if !g.mutable {
                    return Err(self.err("global is immutable"));
                }
                self.pop(g.content)?;
            }
            Operator::BrTable { targets } => {
                self.pop(I32)?;
                let default_types = self.label(targets.default())?;
                // A check leaves the operand stack as it found it, so its
                // outcome does not depend on what was checked before: each
                // distinct label-type slice is checked once. Label types
                // are slices of the module's types (or static ones for a
                // single value), so the checks cost at most the size of the
                // types the module declares, whatever the table's length
                // or the order of its targets.
                self.checked_labels.clear();
                self.checked_labels
                    .insert((default_types.as_ptr() as usize, default_types.len()));
                for depth in targets.targets() {
                    let types = self.label(depth)?;
                    if types.len() != default_types.len() {
                        return Err(self
                            .err("type mismatch")
                            .with_detail("br_table targets have different arities"));
                    }
                    if !self
                        .checked_labels
                        .insert((types.as_ptr() as usize, types.len()))
                    {
                        continue;
                    }
                    // Check without consuming: pop, then push back what was popped.
                    self.scratch.clear();
                    for &t in types.iter().rev() {
                        let v = self.pop(t)?;
                        self.scratch.push(v);
                    }
                    while let Some(v) = self.scratch.pop() {
                        self.push(v);
                    }
                }
                self.pop_all(default_types)?;
                self.set_unreachable();
            }
            Operator::ReturnCall { function_index } => {
                self.tail_call(cx)?;
                let ty = self.func_type(cx, function_index)?;
                self.check_tail_call_results(ty.results())?;
                self.pop_all(ty.params())?;
                self.set_unreachable();
            }
            Operator::ReturnCallIndirect {
                type_index,
                table_index,
            } => {
                self.tail_call(cx)?;
                let ty = self.call_indirect_type(cx, type_index, table_index)?;
                self.check_tail_call_results(ty.results())?;
                self.pop(Self::table_index_type(cx, table_index))?;
                self.pop_all(ty.params())?;
                self.set_unreachable();
            }
            Operator::TypedSelect { ty } => {
                let (1, Some(t)) = (ty.count, ty.first) else {
                    return Err(self.err("invalid result arity"));
                };
                self.check_type(cx, t)?;
                self.pop(I32)?;
                self.pop(t)?;
                self.pop(t)?;
                self.push(Some(t));
            }
            Operator::TableGet { table } => {
                let t = self.table(cx, table)?;
                self.pop(Self::table_index_type(cx, table))?;
                self.push(Some(t));
            }
            Operator::TableSet { table } => {
                self.info.writes_tables = true;
                let t = self.table(cx, table)?;
                self.pop(t)?;
                self.pop(Self::table_index_type(cx, table))?;
            }
            Operator::MemorySize { mem } => {
                let t = self.memory_pages(cx, mem)?;
                self.push(Some(t));
            }
            Operator::MemoryGrow { mem } => {
                self.info.grows_memory = true;
                let t = self.memory_pages(cx, mem)?;
                self.pop(t)?;
                self.push(Some(t));
            }
            Operator::RefNull { hty } => {
                let t = ValType::Ref(RefType::new(true, hty));
                self.check_type(cx, t)?;
                self.push(Some(t));
            }
            Operator::RefIsNull => {
                let t = self.pop_any()?;
                if t.is_some_and(|t| !t.is_ref()) {
                    return Err(self
                        .err("type mismatch")
                        .with_detail("ref.is_null needs a reference"));
                }
                self.push(Some(I32));
            }
            Operator::RefFunc { function_index } => {
                self.func_type(cx, function_index)?;
                if !cx.declared_funcs[function_index as usize] {
                    return Err(self
                        .err("undeclared function reference")
                        .with_detail(function_index));
                }
                let t = cx.func_types[function_index as usize];
                self.push(Some(Ref(RefType::new(false, HeapType::Concrete(t)))));
            }
            Operator::RefAsNonNull => {
                self.typed_refs(cx)?;
                let t = self.pop_ref()?;
                self.push(t.map(|r| Ref(r.with_nullable(false))));
            }
            Operator::BrOnNull { relative_depth } => {
                self.typed_refs(cx)?;
                let t = self.pop_ref()?;
                let types = self.label(relative_depth)?;
                self.retype_top(types)?;
                self.push(t.map(|r| Ref(r.with_nullable(false))));
            }
            Operator::BrOnNonNull { relative_depth } => {
                self.typed_refs(cx)?;
                let t = self.pop_ref()?;
                let types = self.label(relative_depth)?;
                // The label takes the values below and the reference,
                // non-null.
                let Some((&last, rest)) = types.split_last() else {
                    return Err(self
                        .err("type mismatch")
                        .with_detail("br_on_non_null needs a label with a reference"));
                };
                if !last.is_ref() {
                    return Err(mismatch(self.offset(), last, t.map(Ref)));
                }
                if let Some(r) = t
                    && !matches(&self.reps, Ref(r.with_nullable(false)), last)
                {
                    return Err(mismatch(self.offset(), last, Some(Ref(r))));
                }
                self.retype_top(rest)?;
            }
            Operator::CallRef { type_index } => {
                self.typed_refs(cx)?;
                self.info.has_calls = true;
                self.plain_call();
                let ty = self.ref_call_type(cx, type_index)?;
                self.pop_all(ty.params())?;
                self.push_all(ty.results());
            }
            Operator::ReturnCallRef { type_index } => {
                self.typed_refs(cx)?;
                self.tail_call(cx)?;
                let ty = self.ref_call_type(cx, type_index)?;
                self.check_tail_call_results(ty.results())?;
                self.pop_all(ty.params())?;
                self.set_unreachable();
            }
            Operator::MemoryInit { data_index, mem } => {
                let t = self.memory_index(cx, mem)?.index_type();
                self.data_segment(cx, data_index)?;
                self.pop_all(&[t, I32, I32])?;
            }
            Operator::DataDrop { data_index } => self.data_segment(cx, data_index)?,
            Operator::MemoryCopy { dst_mem, src_mem } => {
                self.info.uses_bulk_memory = true;
                let d = self.memory_index(cx, dst_mem)?.index_type();
                let s = self.memory_index(cx, src_mem)?.index_type();
                // The length is an i64 only when both memories are 64-bit.
                let n = if d == I64 && s == I64 { I64 } else { I32 };
                self.pop_all(&[d, s, n])?;
            }
            Operator::MemoryFill { mem } => {
                self.info.uses_bulk_memory = true;
                let t = self.memory_index(cx, mem)?.index_type();
                self.pop_all(&[t, I32, t])?;
            }
            Operator::TableInit { elem_index, table } => {
                self.info.writes_tables = true;
                let t = self.table(cx, table)?;
                let e = self.elem_segment(cx, elem_index)?;
                if !matches(&self.reps, e, t) {
                    return Err(self
                        .err("type mismatch")
                        .with_detail("element segment type differs from the table's"));
                }
                self.pop_all(&[Self::table_index_type(cx, table), I32, I32])?;
            }
            Operator::ElemDrop { elem_index } => {
                self.elem_segment(cx, elem_index)?;
            }
            Operator::TableCopy {
                dst_table,
                src_table,
            } => {
                self.info.writes_tables = true;
                let d = self.table(cx, dst_table)?;
                let s = self.table(cx, src_table)?;
                if !matches(&self.reps, s, d) {
                    return Err(self
                        .err("type mismatch")
                        .with_detail("table.copy between tables of different types"));
                }
                // The length is an i64 only when both tables are table64.
                let (di, si) = (
                    Self::table_index_type(cx, dst_table),
                    Self::table_index_type(cx, src_table),
                );
                let n = if di == I64 && si == I64 { I64 } else { I32 };
                self.pop_all(&[di, si, n])?;
            }
            Operator::TableGrow { table } => {
                self.info.writes_tables = true;
                let t = self.table(cx, table)?;
                let it = Self::table_index_type(cx, table);
                self.pop(it)?;
                self.pop(t)?;
                self.push(Some(it));
            }
            Operator::TableSize { table } => {
                self.table(cx, table)?;
                self.push(Some(Self::table_index_type(cx, table)));
            }
            Operator::TableFill { table } => {
                self.info.writes_tables = true;
                let t = self.table(cx, table)?;
                let it = Self::table_index_type(cx, table);
                self.pop(it)?;
                self.pop(t)?;
                self.pop(it)?;
            }
            Operator::Throw { tag_index } => {
                self.exceptions(cx)?;
                let ty = self.tag_type(cx, tag_index)?;
                self.pop_all(ty.params())?;
                self.set_unreachable();
            }
            Operator::ThrowRef => {
                self.exceptions(cx)?;
                self.pop(ValType::ExnRef)?;
                self.set_unreachable();
            }
            Operator::TryTable { table } => {
                self.exceptions(cx)?;
                // The labels of the clauses are those around the
                // `try_table`, checked before its own frame is pushed.
                for catch in table.catches() {
                    self.info.catches = true;
                    let payload: &[ValType] = if catch.has_tag() {
                        self.tag_type(cx, catch.tag)?.params()
                    } else {
                        &[]
                    };
                    let label = self.label(catch.label)?;
                    let exn = Ref(RefType::new(false, HeapType::Exn));
                    let n = payload.len();
                    let fits = label.len() == n + usize::from(catch.with_ref())
                        && self.all_match(payload, &label[..n])
                        && (!catch.with_ref() || matches(&self.reps, exn, label[n]));
                    if !fits {
                        return Err(self.err("type mismatch").with_detail(format_args!(
                            "catch clause for label {} of type [{}]",
                            catch.label,
                            TypeList(label)
                        )));
                    }
                }
                self.push_frame(cx, FrameKind::Block, table.blockty)?;
            }
            Operator::I8x16Shuffle { lanes } => {
                if lanes.0.iter().any(|&l| l >= 32) {
                    return Err(self.err("invalid lane index"));
                }
                self.pop_all(&[V128, V128])?;
                self.push(Some(V128));
            }
            _ => unreachable!("every operator without a signature has a rule"),
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::FuncInfo;
    use crate::decode::Module;
    use crate::error::Result;
    use crate::validate::validate_module;
    use alloc::vec::Vec;

    /// The facts the validator finds about the functions of `wat`.
    fn infos(wat: &str) -> Result<Vec<FuncInfo>> {
        let bytes = wat::parse_str(wat).expect("valid text");
        let module = Module::decode(&bytes)?;
        Ok(validate_module(&module)?.funcs)
    }

    /// The count of integer and reference values takes `i64`s, `i32`s
    /// and references, not floats.
    #[test]
    fn the_gpr_count_takes_integers_and_references() {
        let funcs = infos(
            "(module (func (result i64)
                i64.const 1 f64.const 2 i32.const 3 ref.null extern f32.const 4
                drop drop drop drop))",
        )
        .unwrap();
        assert_eq!(funcs[0].max_stack_height, 5);
        assert_eq!(funcs[0].max_gpr_stack_height, 3);
    }

    /// The arguments of a call are checked one by one, whichever of them
    /// differs, and values from below an unreachable frame's height are
    /// of any type.
    #[test]
    fn call_arguments_must_have_the_parameter_types() {
        let callee = "(func $f (param i32 i64 f32))";
        let valid = [
            "i32.const 1 i64.const 2 f32.const 3 call $f",
            "unreachable call $f",
            "unreachable f32.const 3 call $f",
            "unreachable i64.const 2 f32.const 3 call $f",
        ];
        for body in valid {
            let wat = alloc::format!("(module {callee} (func {body}))");
            assert!(infos(&wat).is_ok(), "{body}");
        }
        let invalid = [
            "i32.const 1 i64.const 2 f64.const 3 call $f",
            "i32.const 1 f32.const 2 f32.const 3 call $f",
            "i64.const 1 i64.const 2 f32.const 3 call $f",
            "i64.const 2 f32.const 3 call $f",
            "unreachable f64.const 3 call $f",
            "unreachable i32.const 2 f32.const 3 call $f",
        ];
        for body in invalid {
            let wat = alloc::format!("(module {callee} (func {body}))");
            let err = infos(&wat).expect_err(body);
            assert!(err.message().starts_with("type mismatch"), "{body}: {err}");
        }
    }
}
