//! Exception handling on x86-64: `throw`, `throw_ref`, `try_table`, and
//! the landing pads and handler sites the runtime unwinds to (the
//! convention: `abi`, "Exceptions").
//!
//! A `try_table` emits no code: its start and end offsets become the
//! range of one [`HandlerSite`] per catch clause when its `end` is
//! compiled (inner `try_table`s close first, so their sites come first),
//! and each clause gets a landing pad, emitted after the function's body
//! once the frame size is known. A catch clause branches to a label of a
//! frame around the `try_table`, whose merge state is fixed when the
//! clause is read (everything below a frame is home since it began), so
//! the pad is that branch, taken with the values the runtime wrote into
//! the home slots. `throw` stores the payload in the outgoing area as a
//! call's arguments and leaves with [`ExitCode::Throw`]; `throw_ref`
//! leaves with the reference in `payload`. Neither returns.

use super::regs::SCRATCH;
use super::*;
use crate::abi::{CATCH_ALL, ExecContext, ExitCode, HandlerSite, slot_offsets};
use crate::asm::x64::{Mem, Size};
use crate::compile::func::*;
use crate::decode::{TryTable, ValType};

/// A catch clause whose landing pad is still to be emitted.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PendingCatch {
    /// The landing pad.
    pub pad: Label,
    /// The catch label's frame; `None` for the function's own (a return).
    pub target: Option<Label>,
    /// The stack height where the label's values go.
    pub height: usize,
    /// The label's values, when one value meets in a register.
    pub merge: Option<(ValType, Loc)>,
    /// The module's tag index, or [`CATCH_ALL`].
    pub tag: u32,
    /// How many values the label takes.
    pub values: u32,
    pub with_ref: bool,
    /// The code range, filled in when the `try_table` ends.
    pub range: (u32, u32),
}

/// An open `try_table`: its frame's index, where its code starts, and its
/// first catch clause in [`ExceptionState::catches`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct OpenTry {
    pub frame: usize,
    pub start: u32,
    pub first_catch: usize,
}

/// The exception state of one function.
#[derive(Default)]
pub(crate) struct ExceptionState {
    pub tries: Vec<OpenTry>,
    pub catches: Vec<PendingCatch>,
    /// How many of `catches` have their range (closed `try_table`s), in
    /// order: the handler sites.
    pub closed: Vec<usize>,
}

impl ExceptionState {
    /// Empty, keeping the buffers.
    pub(crate) fn reset(&mut self) {
        self.tries.clear();
        self.catches.clear();
        self.closed.clear();
    }
}

use crate::compile::stack::Loc;
use alloc::vec::Vec;

impl<'e, 'm, 'a> FuncCompiler<'e, 'm, 'a> {
    /// The parameters of tag `tag`.
    fn tag_params(&self, tag: u32) -> &'e [ValType] {
        let ty = self.env.tags.get(tag as usize).copied().unwrap_or(0);
        self.env
            .module
            .types
            .get(ty as usize)
            .map_or(&[], |t| t.params())
    }

    /// `throw`: the payload into the outgoing area, then the exit.
    pub(crate) fn op_throw(&mut self, tag: u32) {
        let params = self.tag_params(tag);
        let area = slot_offsets(params, &mut self.offsets);
        self.reserve_call_area(area);
        let base = self.ops.len() - params.len();
        for k in 0..params.len() {
            let dst = Mem::base(Gpr::Rsp, self.offsets[k] as i32);
            self.store_operand(dst, base + k);
        }
        for _ in 0..params.len() {
            self.pop();
        }
        self.exit_with_area(ExitCode::Throw, tag as i32);
        self.a.call_site();
        self.set_unreachable();
    }

    /// `throw_ref`: the reference into `payload`, then the exit.
    pub(crate) fn op_throw_ref(&mut self) {
        let r = self.pop_gpr();
        self.a
            .mov_rm(Size::S64, SCRATCH, vmctx(offset_of!(VmContext, exec)));
        self.a.mov_mr(
            Size::S64,
            Mem::base(SCRATCH, offset_of!(ExecContext, payload) as i32),
            r,
        );
        self.exit_to_host(ExitCode::ThrowRef);
        self.a.call_site();
        self.set_unreachable();
    }

    /// `try_table`: records its catch clauses against the frames around
    /// it, then opens its block.
    pub(crate) fn op_try_table(&mut self, table: &TryTable<'_>) {
        let first_catch = self.exn.catches.len();
        for catch in table.catches() {
            let (index, frame) = self.ctrl.frame_at(catch.label);
            let types = self.label_arity(&frame);
            self.ctrl.frames[index].label_used = true;
            let target = (frame.kind != FrameKind::Function).then_some(frame.label);
            let merge = self.merge_reg(&frame, types).map(|loc| (types[0], loc));
            let pad = self.a.new_label();
            self.exn.catches.push(PendingCatch {
                pad,
                target,
                height: frame.height,
                merge,
                tag: if catch.has_tag() {
                    catch.tag
                } else {
                    CATCH_ALL
                },
                values: types.len() as u32,
                with_ref: catch.with_ref(),
                range: (0, 0),
            });
        }
        self.push_frame(FrameKind::Block, table.blockty);
        let start = self.a.offset() as u32;
        self.exn.tries.push(OpenTry {
            frame: self.ctrl.frames.len() - 1,
            start,
            first_catch,
        });
    }

    /// Before a frame's `end`: closes the `try_table` it belongs to, if
    /// any.
    #[inline]
    pub(crate) fn close_try(&mut self) {
        let Some(&open) = self.exn.tries.last() else {
            return;
        };
        if open.frame + 1 != self.ctrl.frames.len() {
            return;
        }
        self.exn.tries.pop();
        let end = self.a.offset() as u32;
        for k in open.first_catch..self.exn.catches.len() {
            if self.exn.catches[k].range == (0, 0) {
                self.exn.catches[k].range = (open.start, end);
                self.exn.closed.push(k);
            }
        }
    }

    /// Emits the landing pads (after the body; `frame_size` is the
    /// frame's size) and records the handler sites, in the order the
    /// `try_table`s closed.
    pub(crate) fn emit_landing_pads(&mut self, frame_size: i32) {
        if self.exn.closed.is_empty() {
            return;
        }
        let closed = core::mem::take(&mut self.exn.closed);
        for &k in &closed {
            let c = self.exn.catches[k];
            self.a.bind(c.pad);
            let pad = self.a.offset() as u32;
            // rsp as after the prologue; the runtime restored rbp, r15 and
            // the pin registers.
            self.a
                .lea(Size::S64, Gpr::Rsp, self.frame.slot_at(-frame_size));
            self.restore_pinned();
            let home = self.frame.home(c.height);
            if let Some((ty, merge)) = c.merge {
                let at = self.frame.slot_at(home);
                match merge {
                    Loc::Gpr(r) => self.a.mov_rm(Size::S64, r, at),
                    Loc::Xmm(x) => self.a.sse_rm(load_op(ty), x, at),
                    _ => {}
                }
            }
            match c.target {
                Some(label) => self.a.jmp(label),
                None => self.emit_return_sequence(c.height, true),
            }
            self.a.handler_site(HandlerSite {
                start: c.range.0,
                end: c.range.1,
                pad,
                tag: c.tag,
                values: c.values,
                with_ref: c.with_ref,
                home,
            });
        }
        self.exn.closed = closed;
        self.exn.closed.clear();
    }
}
