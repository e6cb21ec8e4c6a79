//! Threaded dispatch for interpreter loops.
//!
//! An interpreter compiled to wasm runs a loop whose header reads the next
//! opcode and dispatches on it with `br_table`; every handler ends by
//! branching back to the header:
//!
//! ```text
//! loop
//!   (local.set $pc (i32.add (local.get $pc) (i32.const 1)))   ;; simple ops
//!   block block ... block                                     ;; one per handler
//!     (i32.load (local.get $pc)) br_table 0 1 2 ...
//!   end  handler 0 ... br $loop
//!   end  handler 1 ... br $loop
//! ```
//!
//! Compiled as written, every handler jumps back to one shared indirect
//! jump. Its target depends on which handler ran before, which the CPU's
//! predictor learns only from global branch history, and how well it does
//! that depends on where the code happens to lie, so the time of an
//! interpreter loop varies with its code's address. So a `br`
//! back to such a loop compiles the header again in its place, ending in
//! its own copy of the indirect jump (through the same jump table), as
//! interpreters written in C do with computed `goto`: each handler's jump
//! is predicted from the handler it ends.
//!
//! The header qualifies when, from the `loop` to the `br_table`, it has
//! only blocks without parameters and operators that touch nothing but the
//! value stack, locals, globals and memory loads (see [`replayable`]), and
//! every `br_table` target is reached without moving values. The loop must
//! take no parameters, so a branch to it carries nothing. Not done with
//! fuel or interruption checks, whose checkpoint sits at the loop header.
//!
//! Each branch back compiles the header again, so the header is bounded:
//! at most [`MAX_HEADER_OPS`] operators besides its blocks, in at most
//! [`MAX_HEADER_RUNS`] runs between them (a replay compiles the runs and
//! never reads the blocks, of which an interpreter has one per handler).
//! Without the bound, a header of `h` operators and `b` branches back would
//! cost `h * b`, quadratic in the function's size.

use super::func::FuncCompiler;
use super::isa::Label;
use crate::decode::{BlockType, FunctionBody, Operator, Reader, read_operator};
use crate::error::Result;
use hashbrown::HashMap;

/// Most operators (blocks aside) a dispatch header may have.
pub(crate) const MAX_HEADER_OPS: u32 = 64;
/// Most runs of operators between blocks a dispatch header may have.
pub(crate) const MAX_HEADER_RUNS: usize = 4;

/// A header's operators other than blocks: runs of consecutive operators,
/// as module offsets `[start, end)`.
#[derive(Clone, Copy, Debug, Default)]
struct Runs {
    runs: [(u32, u32); MAX_HEADER_RUNS],
    len: usize,
    ops: u32,
}

impl Runs {
    /// Adds the operator at `[at, next)`; false when the header grows
    /// beyond the bounds.
    fn add(&mut self, at: u32, next: u32) -> bool {
        self.ops += 1;
        if self.ops > MAX_HEADER_OPS {
            return false;
        }
        match self.len.checked_sub(1).map(|i| &mut self.runs[i]) {
            Some(last) if last.1 == at => last.1 = next,
            _ if self.len == MAX_HEADER_RUNS => return false,
            _ => {
                self.runs[self.len] = (at, next);
                self.len += 1;
            }
        }
        true
    }

    fn iter(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.runs[..self.len].iter().copied()
    }
}

/// What one function's compilation knows about dispatch loops.
#[derive(Default)]
pub(crate) struct DispatchState {
    /// The loop header being watched for a dispatch.
    watch: Option<Watch>,
    /// Loops with a dispatch header, which branches back compile again.
    loops: HashMap<Label, Dispatch>,
    /// The jump of the last `br_table` compiled.
    pub(crate) last_table_jump: Option<TableJump>,
}

/// A loop header being watched, from its `loop` on, for a dispatch.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Watch {
    /// The loop's header label.
    loop_label: Label,
    /// The loop's stack height.
    height: usize,
    /// The header's operators so far.
    runs: Runs,
}

/// A loop header that ends in a `br_table` dispatch, recorded so that
/// branches back to the loop compile it again.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dispatch {
    height: usize,
    /// The header's operators, blocks and `br_table` excluded.
    runs: Runs,
    /// Module offset of the `br_table`.
    end: u32,
    /// The `br_table`'s jump.
    jump: TableJump,
}

/// A `br_table`'s jump table, as [`FuncCompiler::emit_table_jump`] uses it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TableJump {
    pub table: Label,
    pub default: Label,
    pub len: u32,
    /// Whether every target (default included) is jumped to directly,
    /// with no values to move.
    pub direct: bool,
}

/// Operators a dispatch header may contain besides blocks: compiling them
/// again elsewhere gives the same result, since they only use the value
/// stack, locals, globals and memory loads.
fn replayable(op: &Operator<'_>) -> bool {
    use Operator::*;
    matches!(
        op,
        Nop | LocalGet { .. }
            | LocalSet { .. }
            | LocalTee { .. }
            | GlobalGet { .. }
            | I32Const { .. }
            | I64Const { .. }
            | I32Load { .. }
            | I32Load8S { .. }
            | I32Load8U { .. }
            | I32Load16S { .. }
            | I32Load16U { .. }
            | I64Load { .. }
            | I32Eqz
            | I32Add
            | I32Sub
            | I32Mul
            | I32And
            | I32Or
            | I32Xor
            | I32Shl
            | I32ShrS
            | I32ShrU
            | I64Add
            | I64Sub
            | I64And
            | I64Shl
            | I64ShrU
            | I32WrapI64
            | I64ExtendI32U
            | I64ExtendI32S
    )
}

impl FuncCompiler<'_, '_, '_> {
    /// Follows a loop header: called after each operator `op` (at module
    /// offset `at`, the next one at `next`) was compiled. A reachable
    /// `loop` starts watching; blocks and replayable operators continue;
    /// a `br_table` whose targets are all direct records a dispatch, and
    /// anything else stops. Inlined is only the test most operators stop
    /// at (nothing watched, not a `loop`).
    #[inline(always)]
    pub(crate) fn watch_dispatch(&mut self, op: &Operator<'_>, at: u32, next: u32) {
        if self.dispatch.watch.is_some() {
            self.follow_watch(op, at, next);
        } else if let Operator::Loop { blockty } = *op {
            self.start_watch(blockty);
        }
    }

    /// [`Self::watch_dispatch`] of a `loop` while nothing is watched.
    #[inline(never)]
    fn start_watch(&mut self, blockty: BlockType) {
        if !self.ctrl.unreachable
            && !self.env.options.fuel
            && !self.env.options.interruptible
            && self.env.module.block_params(blockty).is_empty()
        {
            let frame = *self.ctrl.frames.last().expect("the loop's frame");
            self.dispatch.watch = Some(Watch {
                loop_label: frame.label,
                height: frame.height,
                runs: Runs::default(),
            });
            self.dispatch.last_table_jump = None;
        }
    }

    /// [`Self::watch_dispatch`] while a loop header is watched. The watch
    /// is updated where it lies: blocks and replayable operators, nearly
    /// every call, leave it or add to its runs without moving it.
    #[inline(never)]
    fn follow_watch(&mut self, op: &Operator<'_>, at: u32, next: u32) {
        let Some(watch) = &mut self.dispatch.watch else {
            return;
        };
        let keep = match *op {
            Operator::Block { blockty } => self.env.module.block_params(blockty).is_empty(),
            Operator::BrTable { .. } => {
                if let Some(jump) = self.dispatch.last_table_jump.take()
                    && jump.direct
                {
                    let (label, d) = (
                        watch.loop_label,
                        Dispatch {
                            height: watch.height,
                            runs: watch.runs,
                            end: at,
                            jump,
                        },
                    );
                    self.dispatch.loops.insert(label, d);
                }
                false
            }
            _ if replayable(op) => watch.runs.add(at, next),
            // Anything else ends the header without a dispatch.
            _ => false,
        };
        if !keep {
            self.dispatch.watch = None;
        }
    }

    /// The dispatch of the loop a `br` of `depth` targets, if it has one.
    pub(crate) fn dispatch_for(&self, depth: u32) -> Option<Dispatch> {
        let frame = self.ctrl.frames.len().checked_sub(1 + depth as usize)?;
        let label = self.ctrl.frames[frame].label;
        self.dispatch.loops.get(&label).copied()
    }

    /// Compiles a `br` back to the loop of `d` as the loop's header and
    /// dispatch, instead of a jump to them.
    pub(crate) fn replay_dispatch(&mut self, d: Dispatch, body: &FunctionBody<'_>) -> Result<()> {
        self.spill_all();
        // The loop carries no values: everything above its height is dead.
        while self.ops.len() > d.height {
            self.pop();
        }
        let base = body.code_offset as u32;
        for (start, end) in d.runs.iter() {
            let code = &body.code[(start - base) as usize..(end - base) as usize];
            let mut r = Reader::new(code, start as usize);
            while !r.is_empty() {
                let at = r.offset();
                self.a.set_op_offset(at as u32);
                let op = read_operator(&mut r)?;
                self.operator(&op)?;
                self.a.close_fault_site(at as u32);
            }
        }
        self.a.set_op_offset(d.end);
        let index = self.pop_gpr();
        self.spill_all();
        self.emit_table_jump(index, d.jump.len, d.jump.default, d.jump.table);
        self.set_unreachable();
        Ok(())
    }
}
