//! Local and global variables: reads, writes (into a pinned local's
//! register through the macro assembler's peephole where it can), and
//! global cells.

use super::regs::SCRATCH;
use super::*;
use crate::abi::VmContext;
use crate::asm::x64::{Gpr, Mem, Size, SseOp};
use crate::compile::func::*;
use crate::compile::stack::{Loc, is_float};
use crate::decode::ValType;
use core::mem::offset_of;

/// How the value stack refers to a pinned local's register, `pin`.
pub(crate) fn pinned_read(pin: Loc) -> Loc {
    match pin {
        Loc::Gpr(p) => Loc::PinnedGpr(p),
        Loc::Xmm(p) => Loc::PinnedXmm(p),
        other => other,
    }
}

impl<'e, 'm, 'a> FuncCompiler<'e, 'm, 'a> {
    /// Inlined into the dispatch: a pinned local, the common case, is only
    /// a push, and so is a parameter no instruction writes, read from its
    /// slot when a consumer needs it ([`Loc::Param`]); loading any other
    /// local from its slot is [`Self::load_local`].
    #[inline(always)]
    pub(crate) fn op_local_get(&mut self, index: u32) {
        let local = self.frame.locals[index as usize];
        match local.pin {
            Some(Loc::Gpr(pin)) => self.ops.push_unowned(local.ty, Loc::PinnedGpr(pin)),
            Some(Loc::Xmm(pin)) => self.ops.push_unowned(local.ty, Loc::PinnedXmm(pin)),
            _ if self.frame.is_unwritten_param(index) => {
                self.ops.push_unowned(local.ty, Loc::Param(index))
            }
            _ => self.load_local(local),
        }
    }

    /// Pushes the value of unpinned local `local`, loaded from its slot.
    #[inline(never)]
    fn load_local(&mut self, local: Local) {
        let at = self.frame.slot_at(local.offset);
        if is_float(local.ty) {
            let x = self.alloc_xmm();
            self.a.sse_rm(load_op(local.ty), x, at);
            self.push_xmm(local.ty, x);
        } else {
            let r = self.alloc_gpr();
            let size = if local.ty == ValType::I32 {
                Size::S32
            } else {
                Size::S64
            };
            self.a.mov_rm(size, r, at);
            self.push_gpr(local.ty, r);
        }
    }

    pub(crate) fn op_local_set(&mut self, index: u32, tee: bool) {
        let local = self.frame.locals[index as usize];
        if let Some(pin) = local.pin {
            let pos = self.ops.len() - 1;
            let v = self.pop();
            // Operands still reading the old value move off the register
            // (not into the register of the value being stored).
            match v.loc {
                Loc::Gpr(r) => self.ops.take_gpr(r),
                Loc::Xmm(x) => self.ops.take_xmm(x),
                _ => {}
            }
            self.detach_pinned(pinned_read(pin));
            match v.loc {
                Loc::Gpr(r) => self.ops.free_gpr(r),
                Loc::Xmm(x) => self.ops.free_xmm(x),
                _ => {}
            }
            if let Loc::Gpr(p) = pin {
                self.checked_ends[p.enc() as usize & 15] = 0;
            }
            // A value the last instruction loaded, computed by `lea` or
            // summed is loaded or computed into the local's register
            // instead, saving a `mov` (the assembler refuses when anything
            // came between, such as a copy `detach_pinned` made of the old
            // value, or a label other code jumps to). A `local.tee` then
            // leaves a read of the local on the stack.
            let redefined = match (pin, v.loc) {
                (Loc::Gpr(p), Loc::Gpr(r)) => self.a.redefine_last_gpr(r, p),
                (Loc::Xmm(p), Loc::Xmm(x)) => self.a.redefine_last_xmm(x, p),
                _ => false,
            };
            if redefined {
                if tee {
                    self.push(v.ty, pinned_read(pin));
                }
                return;
            }
            match (pin, v.loc) {
                (Loc::Gpr(p), Loc::Gpr(r) | Loc::PinnedGpr(r)) => {
                    if p != r {
                        self.a.mov_rr(Size::S64, p, r)
                    }
                }
                (Loc::Gpr(p), Loc::Const(bits)) => self.a.mov_ri(Size::S64, p, bits as i64),
                (Loc::Gpr(p), Loc::Home | Loc::Param(_)) => self.load_gpr(p, v, pos),
                (Loc::Xmm(p), Loc::Xmm(x) | Loc::PinnedXmm(x)) => {
                    if p != x {
                        self.a.sse_rr(SseOp::MOVAPS, p, x)
                    }
                }
                (Loc::Xmm(p), Loc::Const(bits)) => self.load_const_xmm(p, local.ty, bits),
                (Loc::Xmm(p), Loc::Home | Loc::Param(_)) => self.load_xmm(p, v, pos),
                _ => unreachable!("a pinned local and its value agree on the register class"),
            }
            if tee {
                self.push(v.ty, v.loc);
                if let (Loc::Gpr(p), Loc::Gpr(r)) = (pin, v.loc) {
                    self.ops.tee_alias[r.enc() as usize & 15] = Some(p);
                }
            }
            return;
        }
        let at = self.frame.slot_at(local.offset);
        let v = self.peek(0);
        match v.loc {
            Loc::Home => {
                if is_float(v.ty) {
                    let x = self.pop_xmm();
                    self.a.sse_mr(store_op(v.ty), at, x);
                    if tee {
                        self.push_xmm(v.ty, x);
                    }
                } else {
                    let r = self.pop_gpr();
                    self.a.mov_mr(Size::S64, at, r);
                    if tee {
                        self.push_gpr(v.ty, r);
                    }
                }
                return;
            }
            Loc::Xmm(x) | Loc::PinnedXmm(x) => self.a.sse_mr(store_op(v.ty), at, x),
            Loc::Gpr(_) | Loc::PinnedGpr(_) | Loc::Const(_) | Loc::Flags(_) | Loc::Param(_) => {
                self.store_val(at, v)
            }
        }
        if !tee {
            self.pop();
        }
    }

    /// Loads the address of global `index`'s cell into `dst`.
    pub(crate) fn global_cell(&mut self, dst: Gpr, index: u32) {
        self.a
            .mov_rm(Size::S64, dst, vmctx(offset_of!(VmContext, globals)));
        self.a
            .mov_rm(Size::S64, dst, Mem::base(dst, 8 * index as i32));
    }

    pub(crate) fn op_global_get(&mut self, index: u32) {
        let ty = self.env.global_types[index as usize].content;
        self.global_cell(SCRATCH, index);
        let at = Mem::base(SCRATCH, 0);
        if is_float(ty) {
            let x = self.alloc_xmm();
            self.a.sse_rm(load_op(ty), x, at);
            self.push_xmm(ty, x);
        } else {
            let r = self.alloc_gpr();
            let size = if ty == ValType::I32 {
                Size::S32
            } else {
                Size::S64
            };
            self.a.mov_rm(size, r, at);
            self.push_gpr(ty, r);
        }
    }

    pub(crate) fn op_global_set(&mut self, index: u32) {
        let ty = self.env.global_types[index as usize].content;
        if is_float(ty) {
            let x = self.pop_xmm();
            self.global_cell(SCRATCH, index);
            self.a.sse_mr(store_op(ty), Mem::base(SCRATCH, 0), x);
        } else {
            let r = self.pop_gpr();
            self.global_cell(SCRATCH, index);
            self.a.mov_mr(Size::S64, Mem::base(SCRATCH, 0), r);
        }
    }
}
