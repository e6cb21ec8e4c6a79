//! The control state of one function: the control frames (blocks,
//! loops, `if`s), whether the code being compiled is reachable, the save
//! slots in use, and the `br_table` jump tables and shared return sequence
//! emitted after the body. The backend's control flow
//! (`x64::control`) changes it as it emits branches and merges.

use super::super::isa::Label;
use crate::decode::BlockType;
use alloc::vec::Vec;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FrameKind {
    Block,
    Loop,
    If,
    Else,
    Function,
}

/// A control frame.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Frame {
    pub kind: FrameKind,
    pub block_type: BlockType,
    /// Stack height below the frame's parameters.
    pub height: usize,
    /// Branch target: the end (blocks, ifs) or the header (loops).
    pub label: Label,
    /// For `if`: where the `else` branch starts.
    pub else_label: Option<Label>,
    /// Whether any branch targets `label` (or, for `if`, the else path).
    pub label_used: bool,
    /// Whether the code before the frame was reachable.
    pub reachable: bool,
    /// For `if` with parameters: first save slot holding their copies.
    pub save_base: u32,
}

/// The control state of one function.
#[derive(Default)]
pub(crate) struct Controls {
    /// The open control frames, the function's own first.
    pub(crate) frames: Vec<Frame>,
    /// Set after an unconditional transfer: the following code is dead.
    pub(crate) unreachable: bool,
    /// Nesting depth of blocks opened in dead code.
    pub(crate) dead_depth: u32,
    /// Save slots in use by open `if`s, and the most in use at once.
    pub(crate) save_used: u32,
    pub(crate) save_max: u32,
    /// `br_table` jump tables (label, targets), emitted after the code.
    pub(crate) jump_tables: Vec<(Label, Vec<Label>)>,
    /// The return sequence shared by the returns of a function with more
    /// than `MOVE_LOOP_MIN` results, emitted after its body.
    pub(crate) shared_return: Option<Label>,
    /// Indirect calls whose checks passed on every path to the code being
    /// compiled (see `x64::calls`, "Checked calls").
    pub(crate) checked_calls: Vec<CheckedCall>,
    /// The function's small loops by their order in its code
    /// ([`FuncInfo::small_loops`](crate::validate::FuncInfo::small_loops)).
    pub(crate) small_loops: u64,
    /// How many `loop` instructions, dead code included, came so far.
    pub(crate) loops_seen: u32,
}

/// A `call_indirect` through a table whose contents never change, with a
/// parameter no instruction writes as its index, that passed its checks:
/// another such call of the same type needs none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CheckedCall {
    /// The parameter.
    pub param: u32,
    pub table: u32,
    /// The canonical type index called.
    pub ty: u32,
    /// How many frames were open at the check.
    pub depth: usize,
}

impl CheckedCall {
    /// Whether `other` is a call of the same type through the same table
    /// and parameter, wherever it was made.
    pub(crate) fn same_call(&self, other: &CheckedCall) -> bool {
        (self.param, self.table, self.ty) == (other.param, other.table, other.ty)
    }
}

impl Controls {
    /// No frames, reachable, reusing `self`'s buffers, for a function
    /// whose small loops are `small_loops`.
    pub(crate) fn reset(&mut self, small_loops: u64) {
        self.small_loops = small_loops;
        self.loops_seen = 0;
        self.frames.clear();
        self.unreachable = false;
        self.dead_depth = 0;
        self.save_used = 0;
        self.save_max = 0;
        self.jump_tables.clear();
        self.shared_return = None;
        self.checked_calls.clear();
    }

    /// Counts a `loop` instruction; whether it is one of the small loops.
    pub(crate) fn next_loop_is_small(&mut self) -> bool {
        let index = self.loops_seen;
        self.loops_seen = index.saturating_add(1);
        index < 64 && self.small_loops >> index & 1 != 0
    }

    /// The frame `depth` levels out from the innermost, and its index.
    pub(crate) fn frame_at(&self, depth: u32) -> (usize, Frame) {
        let index = self.frames.len() - 1 - depth as usize;
        (index, self.frames[index])
    }
}
