//! Validation of one function body, with the specification's algorithm
//! (appendix "Validation Algorithm"): an operand stack of possibly-unknown
//! types and a control stack of frames.
//!
//! Pure instructions (numeric, most SIMD, loads and stores) are checked from
//! the signature column of the operator table; the rest have a rule here.

use super::module::Context;
use crate::decode::{
    BlockType, FunctionBody, MemArg, Operator, Reader, ValType, limits, read_operator_inline,
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
    /// Largest control stack depth reached (the function's own frame is 1).
    pub max_control_depth: u32,
    /// Whether any instruction reads, writes or sizes linear memory.
    pub uses_memory: bool,
    /// Whether any instruction touches a table (`call_indirect` included).
    pub uses_tables: bool,
    /// Whether the function calls other functions.
    pub has_calls: bool,
    /// Whether it has `memory.copy` or `memory.fill`.
    pub uses_bulk_memory: bool,
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

#[derive(Clone, Copy, Debug)]
struct Frame {
    kind: FrameKind,
    block_type: BlockType,
    /// Operand stack height when the frame was entered (after its params).
    height: usize,
    /// Set after an unconditional branch: the rest of the frame is
    /// unreachable and pops of missing values yield "unknown".
    unreachable: bool,
}

/// Extra checks that some pure instructions carry.
enum Check {
    None,
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

macro_rules! sig {
    (special; $($f:ident)*) => {
        None
    };
    ([$($p:ident)* -> $($r:ident)*]; $($f:ident)*) => {
        Some(Sig { params: &[$(val_type!($p)),*], results: &[$(val_type!($r)),*], check: Check::None })
    };
    ([mem $align:literal : $($p:ident)* -> $($r:ident)*]; $memarg:ident) => {
        Some(Sig { params: &[$(val_type!($p)),*], results: &[$(val_type!($r)),*], check: Check::Mem(*$memarg, $align) })
    };
    ([lane $n:literal : $($p:ident)* -> $($r:ident)*]; $lane:ident) => {
        Some(Sig { params: &[$(val_type!($p)),*], results: &[$(val_type!($r)),*], check: Check::Lane(*$lane, $n) })
    };
    ([memlane $align:literal $n:literal : $($p:ident)* -> $($r:ident)*]; $memarg:ident $lane:ident) => {
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
                $( Operator::$name $({ $($field),* })? => sig!($sig; $($($field)*)?), )*
            }
        }
    };
}

crate::for_each_operator!(define_signature);

/// Reusable state for validating function bodies (buffers are kept between
/// functions to avoid reallocating).
#[derive(Default)]
pub(crate) struct FuncValidator {
    operands: Vec<Option<ValType>>,
    frames: Vec<Frame>,
    locals: Vec<ValType>,
    /// Values popped and pushed back by `br_table`.
    scratch: Vec<Option<ValType>>,
    /// The label types (address and length of a slice that lives as long
    /// as the module) one `br_table` has checked.
    checked_labels: HashSet<(usize, usize)>,
    info: FuncInfo,
    /// Offset of the instruction being checked.
    offset: usize,
    /// Height of the innermost frame: pops above it need no frame lookup.
    floor: usize,
    /// Number of open `loop` frames.
    loop_depth: u32,
    /// What one use of a local weighs at this loop depth.
    use_weight: u32,
    /// Use weight of each local (see [`LocalUse`]).
    weights: Vec<u32>,
    /// The locals with a nonzero weight, in order of first use.
    used: Vec<u32>,
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

impl FuncValidator {
    /// Validates one body of function `func_index`; appends its local
    /// uses to `local_uses`.
    pub(crate) fn validate(
        &mut self,
        cx: &Context<'_, '_>,
        func_index: u32,
        body: &FunctionBody<'_>,
        local_uses: &mut Vec<LocalUse>,
    ) -> Result<FuncInfo> {
        let ty = &cx.module.types[cx.func_types[func_index as usize] as usize];
        self.operands.clear();
        self.frames.clear();
        self.locals.clear();
        self.info = FuncInfo::default();
        let num_locals = ty.params().len() as u64 + u64::from(body.num_locals);
        if num_locals > u64::from(limits::MAX_LOCALS) {
            return Err(Error::malformed(body.code_offset, "too many locals"));
        }
        self.locals.extend_from_slice(ty.params());
        for &(n, t) in body.locals.iter() {
            self.locals.extend(core::iter::repeat_n(t, n as usize));
        }
        self.weights.clear();
        self.weights.resize(self.locals.len(), 0);
        self.used.clear();
        self.loop_depth = 0;
        self.use_weight = 1;
        self.floor = 0;
        self.frames.push(Frame {
            kind: FrameKind::Function,
            block_type: BlockType::Func(cx.func_types[func_index as usize]),
            height: 0,
            unreachable: false,
        });
        self.info.max_control_depth = 1;

        let mut r = body.reader();
        while !self.frames.is_empty() {
            self.offset = r.offset();
            if r.is_empty() {
                return Err(Error::malformed(self.offset, "END opcode expected"));
            }
            let op = read_operator_inline(&mut r)?;
            self.info.num_operators += 1;
            self.operator(cx, &op, &r)?;
        }
        if !r.is_empty() {
            return Err(Error::malformed(
                r.offset(),
                "operators remaining after end of function",
            ));
        }
        self.info.local_uses_start = local_uses.len() as u32;
        self.info.local_uses_len = self.used.len() as u32;
        local_uses.extend(self.used.iter().map(|&i| (i, self.weights[i as usize])));
        Ok(self.info)
    }

    fn err(&self, message: &'static str) -> Error {
        Error::invalid(self.offset, message)
    }

    #[inline]
    fn push(&mut self, t: Option<ValType>) {
        self.operands.push(t);
        if self.operands.len() as u32 > self.info.max_stack_height {
            self.info.max_stack_height = self.operands.len() as u32;
        }
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

    /// Pops a value of type `expected`.
    #[inline]
    fn pop(&mut self, expected: ValType) -> Result<Option<ValType>> {
        if self.operands.len() > self.floor {
            return match self.operands.pop().flatten() {
                Some(found) if found != expected => {
                    Err(mismatch(self.offset, expected, Some(found)))
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
            return Err(mismatch(self.offset, expected, None));
        }
        match self.operands.pop().flatten() {
            Some(found) if found != expected => Err(mismatch(self.offset, expected, Some(found))),
            found => Ok(found),
        }
    }

    fn pop_all(&mut self, types: &[ValType]) -> Result<()> {
        for &t in types.iter().rev() {
            self.pop(t)?;
        }
        Ok(())
    }

    /// Pops `types` and pushes them back (what `br_if` does to the
    /// stack). When all of them lie above the innermost frame's height,
    /// they are checked and retyped in place, which costs a fraction of
    /// the pops and pushes for labels of many values.
    fn retype_top(&mut self, types: &[ValType]) -> Result<()> {
        let len = self.operands.len();
        if len >= self.floor + types.len() {
            let top = &mut self.operands[len - types.len()..];
            if top
                .iter()
                .zip(types)
                .all(|(v, &t)| v.is_none_or(|v| v == t))
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

    fn push_all(&mut self, types: &[ValType]) {
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

    fn block_params<'c>(&self, cx: &'c Context<'_, '_>, bt: BlockType) -> &'c [ValType] {
        cx.module.block_params(bt)
    }

    fn block_results<'c>(&self, cx: &'c Context<'_, '_>, bt: BlockType) -> &'c [ValType] {
        cx.module.block_results(bt)
    }

    fn label_types<'c>(&self, cx: &'c Context<'_, '_>, frame: &Frame) -> &'c [ValType] {
        if frame.kind == FrameKind::Loop {
            self.block_params(cx, frame.block_type)
        } else {
            self.block_results(cx, frame.block_type)
        }
    }

    fn frame_at(&self, depth: u32) -> Result<Frame> {
        let len = self.frames.len();
        if depth as usize >= len {
            return Err(self.err("unknown label").with_index(depth));
        }
        Ok(self.frames[len - 1 - depth as usize])
    }

    fn push_frame(
        &mut self,
        cx: &Context<'_, '_>,
        kind: FrameKind,
        block_type: BlockType,
    ) -> Result<()> {
        if let BlockType::Func(i) = block_type
            && i as usize >= cx.module.types.len()
        {
            return Err(self.err("unknown type").with_index(i));
        }
        if self.frames.len() as u32 >= limits::MAX_NESTING_DEPTH {
            return Err(Error::limit(self.offset, "nesting too deep"));
        }
        let params = self.block_params(cx, block_type);
        self.pop_all(params)?;
        let height = self.operands.len();
        self.frames.push(Frame {
            kind,
            block_type,
            height,
            unreachable: false,
        });
        self.floor = height;
        self.push_all(params);
        self.info.max_control_depth = self.info.max_control_depth.max(self.frames.len() as u32);
        Ok(())
    }

    /// Checks the frame's results on the stack and that nothing else is left.
    fn check_frame_end(&mut self, cx: &Context<'_, '_>) -> Result<Frame> {
        let frame = *self
            .frames
            .last()
            .expect("a frame is open while operators are read");
        let results = self.block_results(cx, frame.block_type);
        self.pop_all(results)?;
        if self.operands.len() != frame.height {
            return Err(self
                .err("type mismatch")
                .with_detail("values remaining on the stack at the end of a block"));
        }
        Ok(frame)
    }

    /// The type of local `index`, counting the use (see [`LocalUse`]).
    #[inline]
    fn local(&mut self, index: u32) -> Result<ValType> {
        let (Some(&t), Some(w)) = (
            self.locals.get(index as usize),
            self.weights.get_mut(index as usize),
        ) else {
            return Err(self.err("unknown local").with_index(index));
        };
        if *w == 0 {
            self.used.push(index);
        }
        *w = w.saturating_add(self.use_weight);
        Ok(t)
    }

    /// Sets the number of open loops, and with it the use weight.
    fn set_loop_depth(&mut self, depth: u32) {
        self.loop_depth = depth;
        self.use_weight = 1 << (3 * depth.min(8));
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

    fn memory(&mut self, cx: &Context<'_, '_>) -> Result<()> {
        self.info.uses_memory = true;
        if cx.memories == 0 {
            return Err(self.err("unknown memory").with_index(0));
        }
        Ok(())
    }

    fn data_segment(&self, cx: &Context<'_, '_>, index: u32) -> Result<()> {
        let Some(count) = cx.module.data_count else {
            return Err(Error::malformed(self.offset, "data count section required"));
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

    fn check_memarg(&mut self, cx: &Context<'_, '_>, memarg: MemArg, natural: u32) -> Result<()> {
        self.memory(cx)?;
        if memarg.align > natural {
            return Err(self.err("alignment must not be larger than natural"));
        }
        if let Some(w) = self.info.memory_weights.get_mut(natural as usize) {
            *w = w.saturating_add(self.use_weight);
        }
        Ok(())
    }

    /// Checks one instruction. Inlined into the loop with the decoder, so
    /// that the compiler merges the decoder's `match` on the opcode with
    /// this one on the `Operator`: one indirect jump per instruction
    /// instead of two (the throughput this gives is in
    /// `benches/results.md`).
    #[inline(always)]
    fn operator(&mut self, cx: &Context<'_, '_>, op: &Operator<'_>, _r: &Reader<'_>) -> Result<()> {
        if let Some(sig) = signature(op) {
            match sig.check {
                Check::None => {}
                Check::Mem(memarg, natural) => self.check_memarg(cx, memarg, natural)?,
                Check::Lane(lane, n) => {
                    if lane >= n {
                        return Err(self.err("invalid lane index"));
                    }
                }
                Check::MemLane(memarg, natural, lane, n) => {
                    self.check_memarg(cx, memarg, natural)?;
                    if lane >= n {
                        return Err(self.err("invalid lane index"));
                    }
                }
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
                    return Ok(());
                }
                (&[a], &[r]) if top(1) && self.operands[n - 1] == Some(a) => {
                    self.operands[n - 1] = Some(r);
                    return Ok(());
                }
                (&[a, b], &[]) if top(2) && self.operands[n - 2..] == [Some(a), Some(b)] => {
                    self.operands.truncate(n - 2);
                    return Ok(());
                }
                _ => {}
            }
            self.pop_all(sig.params)?;
            self.push_all(sig.results);
            return Ok(());
        }
        self.special(cx, op)
    }

    fn special(&mut self, cx: &Context<'_, '_>, op: &Operator<'_>) -> Result<()> {
        use ValType::*;
        match *op {
            Operator::Unreachable => self.set_unreachable(),
            Operator::Nop => {}
            Operator::Block { blockty } => self.push_frame(cx, FrameKind::Block, blockty)?,
            Operator::Loop { blockty } => {
                self.push_frame(cx, FrameKind::Loop, blockty)?;
                self.set_loop_depth(self.loop_depth + 1);
            }
            Operator::If { blockty } => {
                self.pop(I32)?;
                self.push_frame(cx, FrameKind::If, blockty)?;
            }
            Operator::Else => {
                let frame = self.check_frame_end(cx)?;
                if frame.kind != FrameKind::If {
                    return Err(Error::malformed(self.offset, "else without matching if"));
                }
                self.frames.pop();
                self.frames.push(Frame {
                    kind: FrameKind::Else,
                    unreachable: false,
                    ..frame
                });
                let params = self.block_params(cx, frame.block_type);
                self.push_all(params);
            }
            Operator::End => {
                let frame = self.check_frame_end(cx)?;
                if frame.kind == FrameKind::If {
                    // An `if` without `else` behaves as if the else passed
                    // its parameters through: they must equal the results.
                    let params = self.block_params(cx, frame.block_type);
                    let results = self.block_results(cx, frame.block_type);
                    if params != results {
                        return Err(self
                            .err("type mismatch")
                            .with_detail("if without else must not change the stack"));
                    }
                }
                self.frames.pop();
                if frame.kind == FrameKind::Loop {
                    self.set_loop_depth(self.loop_depth - 1);
                }
                self.floor = self.frames.last().map_or(0, |f| f.height);
                let results = self.block_results(cx, frame.block_type);
                self.push_all(results);
            }
            Operator::Br { relative_depth } => {
                let frame = self.frame_at(relative_depth)?;
                let types = self.label_types(cx, &frame);
                self.pop_all(types)?;
                self.set_unreachable();
            }
            Operator::BrIf { relative_depth } => {
                self.pop(I32)?;
                let frame = self.frame_at(relative_depth)?;
                let types = self.label_types(cx, &frame);
                self.retype_top(types)?;
            }
            Operator::BrTable { targets } => {
                self.pop(I32)?;
                let default = self.frame_at(targets.default())?;
                let default_types = self.label_types(cx, &default);
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
                    let frame = self.frame_at(depth)?;
                    let types = self.label_types(cx, &frame);
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
            Operator::Return => {
                let frame = self.frames[0];
                let results = self.block_results(cx, frame.block_type);
                self.pop_all(results)?;
                self.set_unreachable();
            }
            Operator::Call { function_index } => {
                self.info.has_calls = true;
                let ty = self.func_type(cx, function_index)?;
                self.pop_all(ty.params())?;
                self.push_all(ty.results());
            }
            Operator::CallIndirect {
                type_index,
                table_index,
            } => {
                self.info.has_calls = true;
                let elem = self.table(cx, table_index)?;
                if elem != FuncRef {
                    return Err(self
                        .err("type mismatch")
                        .with_detail("call_indirect needs a funcref table"));
                }
                let Some(ty) = cx.module.types.get(type_index as usize) else {
                    return Err(self.err("unknown type").with_index(type_index));
                };
                self.pop(I32)?;
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
            Operator::TypedSelect { ty } => {
                let (1, Some(t)) = (ty.count, ty.first) else {
                    return Err(self.err("invalid result arity"));
                };
                self.pop(I32)?;
                self.pop(t)?;
                self.pop(t)?;
                self.push(Some(t));
            }
            Operator::LocalGet { local_index } => {
                let t = self.local(local_index)?;
                self.push(Some(t));
            }
            Operator::LocalSet { local_index } => {
                let t = self.local(local_index)?;
                self.pop(t)?;
            }
            Operator::LocalTee { local_index } => {
                let t = self.local(local_index)?;
                self.pop(t)?;
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
            Operator::TableGet { table } => {
                let t = self.table(cx, table)?;
                self.pop(I32)?;
                self.push(Some(t));
            }
            Operator::TableSet { table } => {
                let t = self.table(cx, table)?;
                self.pop(t)?;
                self.pop(I32)?;
            }
            Operator::MemorySize { .. } => {
                self.memory(cx)?;
                self.push(Some(I32));
            }
            Operator::MemoryGrow { .. } => {
                self.memory(cx)?;
                self.pop(I32)?;
                self.push(Some(I32));
            }
            Operator::RefNull { hty } => self.push(Some(hty.into())),
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
                self.push(Some(FuncRef));
            }
            Operator::MemoryInit { data_index, .. } => {
                self.memory(cx)?;
                self.data_segment(cx, data_index)?;
                self.pop_all(&[I32, I32, I32])?;
            }
            Operator::DataDrop { data_index } => self.data_segment(cx, data_index)?,
            Operator::MemoryCopy { .. } | Operator::MemoryFill { .. } => {
                self.info.uses_bulk_memory = true;
                self.memory(cx)?;
                self.pop_all(&[I32, I32, I32])?;
            }
            Operator::TableInit { elem_index, table } => {
                let t = self.table(cx, table)?;
                let e = self.elem_segment(cx, elem_index)?;
                if t != e {
                    return Err(self
                        .err("type mismatch")
                        .with_detail("element segment type differs from the table's"));
                }
                self.pop_all(&[I32, I32, I32])?;
            }
            Operator::ElemDrop { elem_index } => {
                self.elem_segment(cx, elem_index)?;
            }
            Operator::TableCopy {
                dst_table,
                src_table,
            } => {
                let d = self.table(cx, dst_table)?;
                let s = self.table(cx, src_table)?;
                if d != s {
                    return Err(self
                        .err("type mismatch")
                        .with_detail("table.copy between tables of different types"));
                }
                self.pop_all(&[I32, I32, I32])?;
            }
            Operator::TableGrow { table } => {
                let t = self.table(cx, table)?;
                self.pop(I32)?;
                self.pop(t)?;
                self.push(Some(I32));
            }
            Operator::TableSize { table } => {
                self.table(cx, table)?;
                self.push(Some(I32));
            }
            Operator::TableFill { table } => {
                let t = self.table(cx, table)?;
                self.pop(I32)?;
                self.pop(t)?;
                self.pop(I32)?;
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
        Ok(())
    }
}
