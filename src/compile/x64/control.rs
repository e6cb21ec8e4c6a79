//! Control flow of one function on x86-64: the merge state at labels,
//! branches, returns, `br_table` jump tables, and blocks, loops and `if`s,
//! changing the control state ([`Controls`]) as they go.

use super::calls::{RESULT_GPR, RESULT_XMM};
use super::regs::{SCRATCH, SCRATCH_XMM};
use crate::abi::slot_offsets;
use crate::asm::x64::{AluOp, Cond, Gpr, Label, Mem, Scale, Size, SseOp, Xmm};
use crate::compile::dispatch::TableJump;
use crate::compile::func::*;
use crate::compile::stack::{Loc, Val};
use crate::decode::{BlockType, Operator, ValType};
use crate::error::Result;
use alloc::vec::Vec;
use hashbrown::HashMap;

/// Where the single integer or reference result of a block or `if` meets
/// at its end, from every branch to it and its fall-through (see
/// [`FuncCompiler::merge_reg`]). Never a pin register.
pub(crate) const MERGE_GPR: Gpr = Gpr::Rax;
/// [`MERGE_GPR`] for an `f32`/`f64` result. Never a pin register.
pub(crate) const MERGE_XMM: Xmm = Xmm::Xmm0;

/// Above this many values, a branch or return moves its values with a loop
/// (see [`FuncCompiler::copy_homes`]) rather than one move per value.
pub(crate) const MOVE_LOOP_MIN: usize = 16;

impl<'e, 'm, 'a> FuncCompiler<'e, 'm, 'a> {
    /// Emits the `br_table` jump tables: 32-bit offsets of the targets from
    /// the table's start.
    pub(crate) fn emit_jump_tables(&mut self) {
        for (table, entries) in core::mem::take(&mut self.ctrl.jump_tables) {
            self.a.align(4);
            self.a.bind(table);
            let base = self.a.offset();
            for label in entries {
                self.a.emit_label_diff32(label, base);
            }
        }
    }

    pub(crate) fn block_params(&self, bt: BlockType) -> &'e [ValType] {
        self.env.module.block_params(bt)
    }

    pub(crate) fn block_results(&self, bt: BlockType) -> &'e [ValType] {
        self.env.module.block_results(bt)
    }

    pub(crate) fn label_arity(&self, frame: &Frame) -> &'e [ValType] {
        if frame.kind == FrameKind::Loop {
            self.block_params(frame.block_type)
        } else {
            self.block_results(frame.block_type)
        }
    }

    /// Moves the top `arity` operands (all in home slots) to the home slots
    /// of positions `height..height + arity`.
    pub(crate) fn move_to(&mut self, frame: &Frame, types: &[ValType]) {
        if let Some(merge) = self.merge_reg(frame, types) {
            self.load_merge(merge);
            return;
        }
        let height = frame.height;
        let arity = types.len();
        let from = self.ops.len() - arity;
        if from == height {
            return;
        }
        if arity > MOVE_LOOP_MIN {
            self.copy_homes(from, height, arity);
            return;
        }
        for (k, &ty) in types.iter().enumerate() {
            let src = self.home(from + k);
            let dst = self.home(height + k);
            self.copy_mem(dst, src, ty);
        }
    }

    /// Copies the `n` home slots from stack position `from` on to the `n`
    /// from position `to` on (`to < from`), with a loop of constant size:
    /// a branch carrying many values costs no more code than one carrying
    /// a few, so `br_if`s repeated over a stack of a thousand values stay
    /// linear in the module's size. Slot `k` of both runs is copied in
    /// increasing `k`, which reads each source slot before it is
    /// overwritten (`to + k` can only be a source `from + j` with `j < k`).
    pub(crate) fn copy_homes(&mut self, from: usize, to: usize, n: usize) {
        debug_assert!(to < from && n > 0);
        // SCRATCH runs from 0 down by 16 per slot; the two displacements
        // are the first slots of each run.
        let src = self.frame.home_base() - 16 * from as i32;
        let dst = self.frame.home_base() - 16 * to as i32;
        let end = -16 * n as i32;
        let top = self.a.new_label();
        self.a.alu_rr(AluOp::Xor, Size::S32, SCRATCH, SCRATCH);
        self.a.bind(top);
        self.a.sse_rm(
            SseOp::MOVDQU,
            SCRATCH_XMM,
            Mem::indexed(Gpr::Rbp, SCRATCH, Scale::X1, src),
        );
        self.a.sse_mr(
            SseOp::MOVDQU_STORE,
            Mem::indexed(Gpr::Rbp, SCRATCH, Scale::X1, dst),
            SCRATCH_XMM,
        );
        self.a.alu_ri(AluOp::Sub, Size::S64, SCRATCH, 16);
        self.a.alu_ri(AluOp::Cmp, Size::S64, SCRATCH, end);
        self.a.jcc(Cond::Ne, top);
    }

    /// The register the single result of `frame` meets in at its end, for
    /// a block or `if` without parameters and with one integer, reference
    /// or `f32`/`f64` result; `None` for every other frame, whose carried
    /// values meet in their home slots. `carried` is the frame's label
    /// arity (for these frames, its results), which the callers have at
    /// hand: it is checked first, so the common branch that carries
    /// nothing needs no block-type lookup. Whatever else is on the stack
    /// at such a merge is below the frame, spilled when it began, so the
    /// register is free there.
    pub(crate) fn merge_reg(&self, frame: &Frame, carried: &[ValType]) -> Option<Loc> {
        let merge = match carried {
            [ValType::F32 | ValType::F64] => Loc::Xmm(MERGE_XMM),
            [ValType::I32 | ValType::I64 | ValType::Ref(_)] => Loc::Gpr(MERGE_GPR),
            _ => return None,
        };
        (matches!(
            frame.kind,
            FrameKind::Block | FrameKind::If | FrameKind::Else
        ) && self.block_params(frame.block_type).is_empty())
        .then_some(merge)
    }

    /// Copies the top operand into `merge` (a [`Self::merge_reg`]), leaving
    /// the stack and the register bookkeeping as they are: the code that
    /// follows either jumps to the merge or ends the frame.
    pub(crate) fn load_merge(&mut self, merge: Loc) {
        let pos = self.ops.len() - 1;
        let v = self.ops.at(pos);
        match merge {
            Loc::Gpr(r) => self.load_gpr(r, v, pos),
            Loc::Xmm(x) => self.load_xmm(x, v, pos),
            _ => unreachable!("merges are in registers"),
        }
    }

    /// Emits a branch to the frame at `depth` (all operands already home).
    pub(crate) fn branch_to(&mut self, depth: u32) {
        let (index, frame) = self.ctrl.frame_at(depth);
        if frame.kind == FrameKind::Function {
            self.emit_return();
            return;
        }
        let types = self.label_arity(&frame);
        self.move_to(&frame, types);
        self.ctrl.frames[index].label_used = true;
        self.a.jmp(frame.label);
    }

    pub(crate) fn emit_return(&mut self) {
        let results = self.func_type.results();
        let base = self.ops.len() - results.len();
        if results.len() > MOVE_LOOP_MIN {
            // Many results: moved as a block to the bottom home slots,
            // from where one shared return sequence hands them over.
            self.spill_all();
            if base != 0 {
                self.copy_homes(base, 0, results.len());
            }
            let shared = *self
                .ctrl
                .shared_return
                .get_or_insert_with(|| self.a.new_label());
            self.a.jmp(shared);
            return;
        }
        self.emit_return_sequence(base, false);
    }

    /// Hands the results over to the caller and returns: the results are
    /// the operands from stack position `base` up, or with `in_homes` (the
    /// shared return of [`Self::emit_return`], emitted after the body),
    /// the home slots from `base` up, whatever the stack holds.
    pub(crate) fn emit_return_sequence(&mut self, base: usize, in_homes: bool) {
        let results = self.func_type.results();
        let end = 16 + slot_offsets(results, &mut self.offsets) as i32;
        // The results are stored from the last down to the second, then
        // the first is loaded: a lazy read of a parameter's slot that a
        // store before it overwrites is loaded into a register first.
        if !in_homes {
            for k in 0..results.len().saturating_sub(1) {
                let written_from = 16 + self.offsets[k + 1] as i32;
                self.load_param_read_in(base + k, written_from, end);
            }
        }
        let result = |this: &Self, k: usize| {
            if in_homes {
                Val {
                    ty: results[k],
                    loc: Loc::Home,
                }
            } else {
                this.ops.at(base + k)
            }
        };
        for k in (1..results.len()).rev() {
            let at = 16 + self.offsets[k] as i32;
            // A parameter returned in its own slot is there already.
            if !in_homes && self.reads_slot(base + k, at) {
                continue;
            }
            let dst = self.frame.slot_at(at);
            let v = result(self, k);
            self.store_at(dst, v, base + k);
        }
        // The first result goes back in registers instead (see `abi`),
        // loaded last so that no other result is in its way.
        if !results.is_empty() {
            let v = result(self, 0);
            match v.ty {
                ValType::V128 => {
                    let dst = self.frame.slot_at(16 + self.offsets[0] as i32);
                    self.store_at(dst, v, base);
                    self.a.mov_rm(Size::S64, RESULT_GPR, dst);
                }
                ValType::F32 | ValType::F64 => {
                    self.load_xmm(RESULT_XMM, v, base);
                    self.a.movq_rx(RESULT_GPR, RESULT_XMM);
                }
                _ => self.load_gpr(RESULT_GPR, v, base),
            }
        }
        self.leave_frame();
        self.a.ret();
    }

    /// Drops everything above `height` and marks the rest of the frame dead.
    pub(crate) fn set_unreachable(&mut self) {
        let height = self.ctrl.frames.last().map_or(0, |f| f.height);
        while self.ops.len() > height {
            self.pop();
        }
        self.ctrl.unreachable = true;
    }

    pub(crate) fn push_frame(&mut self, kind: FrameKind, block_type: BlockType) {
        let nparams = self.block_params(block_type).len();
        self.spill_all();
        let label = self.a.new_label();
        let height = self.ops.len() - nparams;
        self.ctrl.frames.push(Frame {
            kind,
            block_type,
            height,
            label,
            else_label: None,
            label_used: false,
            reachable: true,
            save_base: 0,
        });
        if kind == FrameKind::Loop {
            self.checked_ends = [0; 16];
            // Loop headers start a 32-byte block (the instruction fetch
            // window): a small loop then spans as few as its size allows
            // (NOP padding, run once per entry). 32 rather than 16 or 64:
            // see `benches/results.md`. A loop whose code likely exceeds 32
            // bytes but not 64 starts a 64-byte block instead, which holds
            // all of it, where from the middle of one it would cross into
            // the next (the CPU's decoded-instruction cache keeps
            // instructions by 64-byte block).
            let align = if self.ctrl.next_loop_is_small() {
                64
            } else {
                32
            };
            self.a.align(align);
            self.a.bind(label);
            self.fuel_segment();
            self.checkpoint();
        }
    }

    /// Handles control operators in dead code: only nesting matters.
    pub(crate) fn dead_operator(&mut self, op: &Operator<'_>) -> Result<bool> {
        match op {
            Operator::Loop { .. } => {
                self.ctrl.next_loop_is_small();
                self.ctrl.dead_depth += 1;
                Ok(true)
            }
            Operator::Block { .. } | Operator::If { .. } | Operator::TryTable { .. } => {
                self.ctrl.dead_depth += 1;
                Ok(true)
            }
            Operator::Else if self.ctrl.dead_depth == 0 => Ok(false),
            Operator::End if self.ctrl.dead_depth == 0 => Ok(false),
            Operator::End => {
                self.ctrl.dead_depth -= 1;
                Ok(true)
            }
            _ => Ok(true),
        }
    }

    pub(crate) fn end_frame(&mut self) {
        self.checked_ends = [0; 16];
        let frame = *self.ctrl.frames.last().expect("end closes a frame");
        self.leave_checked_calls(frame.kind == FrameKind::Loop);
        let results = self.block_results(frame.block_type);
        let fallthrough = !self.ctrl.unreachable;
        if frame.kind == FrameKind::Function {
            // Results go straight from wherever they are to the caller.
            if fallthrough {
                self.emit_return();
            }
            if frame.label_used {
                self.a.bind(frame.label);
            }
            self.ctrl.frames.pop();
            return;
        }
        let merge = self.merge_reg(&frame, results);
        if fallthrough {
            // Results to where branches to the end leave them: their home
            // slots, or the merge register. (Below the frame everything is
            // home since it began.)
            if merge.is_none() {
                self.spill_all();
            }
            self.move_to(&frame, results);
        }
        if let Some(else_label) = frame.else_label {
            // An `if` without `else`: the false path carries the params
            // (equal to the results) straight to the end.
            let params = self.block_params(frame.block_type);
            if params.is_empty() {
                self.a.bind(else_label);
            } else {
                if fallthrough {
                    self.ctrl.frames.last_mut().expect("frame").label_used = true;
                    self.a.jmp(frame.label);
                }
                self.a.bind(else_label);
                self.restore_if_params(&frame, params);
            }
        }
        if frame.kind != FrameKind::Loop {
            self.a.bind(frame.label);
            self.fuel_segment();
        }
        if frame.kind == FrameKind::If || frame.kind == FrameKind::Else {
            self.ctrl.save_used = frame.save_base;
        }
        self.ctrl.frames.pop();
        // Reset the stack to the frame's results, in the merge register or
        // their homes.
        while self.ops.len() > frame.height {
            self.pop();
        }
        match (merge, results) {
            (Some(merge), &[t]) => self.push(t, merge),
            _ => {
                for &t in results {
                    self.push(t, Loc::Home);
                }
            }
        }
        // A branch to a loop goes to its header, not its end.
        let branched_to_end = frame.label_used && frame.kind != FrameKind::Loop;
        let else_path = frame.kind == FrameKind::If && frame.reachable;
        self.ctrl.unreachable = !(fallthrough || branched_to_end || else_path);
    }

    pub(crate) fn restore_if_params(&mut self, frame: &Frame, params: &[ValType]) {
        for (k, &t) in params.iter().enumerate() {
            let src = self
                .frame
                .slot_at(self.frame.save_slot(frame.save_base + k as u32));
            let dst = self.home(frame.height + k);
            self.copy_mem(dst, src, t);
        }
    }

    /// Pops the condition of `if`/`br_if` and spills every operand (the
    /// merge state); returns the flags condition that means "true". A
    /// comparison still in the flags is used as is (spilling only moves,
    /// which keep the flags); any other value is tested after the spill.
    pub(crate) fn pop_branch_condition(&mut self) -> Cond {
        if let Some(Val {
            loc: Loc::Flags(cond),
            ..
        }) = self.ops.pop_if(|l| matches!(l, Loc::Flags(_)))
        {
            self.spill_all();
            return cond;
        }
        // Spilling only stores, so the popped register stays intact, and
        // so do the flags of a sum just computed into it.
        let r = self.pop_gpr_read();
        let tested = self.a.flags_test(r, Size::S32);
        self.spill_all();
        if !tested {
            self.a.test_rr(Size::S32, r, r);
        }
        Cond::Ne
    }

    pub(crate) fn op_if(&mut self, blockty: BlockType) {
        let cond = self.pop_branch_condition();
        let params = self.block_params(blockty);
        let save_base = self.ctrl.save_used;
        if !params.is_empty() {
            let height = self.ops.len() - params.len();
            for (k, &t) in params.iter().enumerate() {
                let src = self.home(height + k);
                let dst = self
                    .frame
                    .slot_at(self.frame.save_slot(save_base + k as u32));
                self.copy_mem(dst, src, t);
            }
            self.ctrl.save_used += params.len() as u32;
            self.ctrl.save_max = self.ctrl.save_max.max(self.ctrl.save_used);
        }
        let else_label = self.a.new_label();
        self.a.jcc(cond.invert(), else_label);
        self.push_frame(FrameKind::If, blockty);
        let frame = self.ctrl.frames.last_mut().expect("just pushed");
        frame.else_label = Some(else_label);
        frame.save_base = save_base;
    }

    pub(crate) fn op_else(&mut self) {
        self.checked_ends = [0; 16];
        self.leave_checked_calls(false);
        let frame = *self.ctrl.frames.last().expect("else inside if");
        let results = self.block_results(frame.block_type);
        if !self.ctrl.unreachable {
            if self.merge_reg(&frame, results).is_none() {
                self.spill_all();
            }
            self.move_to(&frame, results);
            self.ctrl.frames.last_mut().expect("frame").label_used = true;
            self.a.jmp(frame.label);
        }
        let else_label = frame.else_label.expect("if frames have an else label");
        self.a.bind(else_label);
        self.fuel_segment();
        while self.ops.len() > frame.height {
            self.pop();
        }
        let params = self.block_params(frame.block_type);
        if !params.is_empty() {
            self.restore_if_params(&frame, params);
        }
        for &t in params {
            self.push(t, Loc::Home);
        }
        let f = self.ctrl.frames.last_mut().expect("frame");
        f.kind = FrameKind::Else;
        f.else_label = None;
        self.ctrl.unreachable = !frame.reachable;
    }

    #[inline(always)]
    pub(crate) fn op_br_if(&mut self, depth: u32) {
        let cond = self.pop_branch_condition();
        self.branch_if(cond, self.prelude_branch_depth(depth));
    }

    /// Branches to the frame at `depth` when `cond` holds in the flags
    /// (every operand spilled, the carried ones on top).
    pub(crate) fn branch_if(&mut self, cond: Cond, depth: u32) {
        // A branch that carries nothing (or finds its values in place) is
        // one conditional jump.
        let (index, frame) = self.ctrl.frame_at(depth);
        let carried = self.label_arity(&frame);
        if frame.kind != FrameKind::Function
            && self.ops.len() - carried.len() == frame.height
            && self.merge_reg(&frame, carried).is_none()
        {
            self.ctrl.frames[index].label_used = true;
            self.a.jcc(cond, frame.label);
        } else {
            let skip = self.a.new_label();
            self.a.jcc(cond.invert(), skip);
            self.branch_to(depth);
            self.a.bind(skip);
        }
        self.fuel_segment();
    }

    pub(crate) fn op_br_table(&mut self, targets: &crate::decode::BrTable<'_>) {
        let index = self.pop_gpr();
        self.spill_all();
        let n = targets.len();
        // A target that needs no values moved is jumped to directly; the
        // others go through a stub that moves them first.
        let default_label = match self.direct_target(targets.default()) {
            Some(label) => label,
            None => self.a.new_label(),
        };
        let default_direct = self.direct_target(targets.default()).is_some();
        let table = self.a.new_label();
        self.emit_table_jump(index, n, default_label, table);
        let mut direct = default_direct;
        let mut entries = Vec::with_capacity(n as usize);
        // The stubs by target depth, in first-use order; `stub_of` finds
        // one by depth (a table may have millions of targets at thousands
        // of depths).
        let mut stubs: Vec<(u32, Label)> = Vec::new();
        let mut stub_of: HashMap<u32, Label> = HashMap::new();
        for depth in targets.targets() {
            let label = match self.direct_target(depth) {
                Some(l) => l,
                None => {
                    direct = false;
                    *stub_of.entry(depth).or_insert_with(|| {
                        let l = self.a.new_label();
                        stubs.push((depth, l));
                        l
                    })
                }
            };
            entries.push(label);
        }
        // The table itself goes after the function's code: data next to
        // hot code shares its cache lines, which costs the CPU dearly.
        self.ctrl.jump_tables.push((table, entries));
        self.dispatch.last_table_jump = Some(TableJump {
            table,
            default: default_label,
            len: n,
            direct,
        });
        for (depth, label) in stubs {
            self.a.bind(label);
            self.branch_to(depth);
        }
        if !default_direct {
            self.a.bind(default_label);
            self.branch_to(targets.default());
        }
    }

    /// Jumps to entry `index` (a register) of the jump table of `len`
    /// entries at `table` (32-bit offsets from the table's start), or to
    /// `default` when `index` is not below `len`.
    pub(crate) fn emit_table_jump(&mut self, index: Gpr, len: u32, default: Label, table: Label) {
        self.a.alu_ri(AluOp::Cmp, Size::S32, index, len as i32);
        self.a.jcc(Cond::Ae, default);
        self.a.lea(Size::S64, SCRATCH, Mem::rip(table));
        self.a
            .movsxd_rm(index, Mem::indexed(SCRATCH, index, Scale::X4, 0));
        self.a.alu_rr(AluOp::Add, Size::S64, index, SCRATCH);
        self.a.jmp_r(index);
    }

    /// The label a branch to `depth` can jump to without moving values
    /// (everything is home and the carried values already sit at the
    /// target's height), marking it used; `None` otherwise.
    pub(crate) fn direct_target(&mut self, depth: u32) -> Option<Label> {
        let (index, frame) = self.ctrl.frame_at(depth);
        let carried = self.label_arity(&frame);
        if frame.kind == FrameKind::Function
            || self.ops.len() - carried.len() != frame.height
            || self.merge_reg(&frame, carried).is_some()
        {
            return None;
        }
        self.ctrl.frames[index].label_used = true;
        Some(frame.label)
    }
}
