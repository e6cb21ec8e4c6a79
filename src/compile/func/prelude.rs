//! The prelude: an early-return test compiled before the prologue.
//!
//! Recursive code often starts by testing its arguments and returning at
//! once (`if (n < 2) return n;`). The full prologue (frame, stack-limit
//! check, saves of the pin registers the rest of the function uses, the
//! parameters' moves into their pins) costs that early return several
//! times the test itself. So when a function starts with such a test, its
//! first instructions are compiled as a *prelude*, before the prologue:
//! with no frame, on the parameters in the registers they arrived in, and
//! a `return` there is a plain `ret`. The prologue follows the prelude, at
//! the first instruction the prelude cannot run.
//!
//! The prelude is as narrow as that purpose needs, so that nothing in it
//! can observe the missing frame:
//! - it reads only parameters passed in integer registers
//!   ([`args_in_registers`]), reserved for them until the prologue moves
//!   them into their pins;
//! - it runs only operators that cannot trap, exit, call, touch memory,
//!   locals or globals, or need a fixed register (constants, integer
//!   `add`/`sub`/`mul`/bitwise operators, comparisons and `eqz`), so no
//!   trap or backtrace sees a frameless function, and no code writes a
//!   frame slot;
//! - its control is empty-typed `block`s, `br`/`br_if` to them and
//!   `return`, with nothing else on the operand stack at a branch or a
//!   block's start or end, so no operand needs a home slot;
//! - a `br_if` to the outermost block is a `return` when that block is
//!   the whole body of a function without results (it closes just
//!   before the function's `end`, as C's `if (!p) return;` compiles), so
//!   such a test also makes a prelude;
//! - it keeps at most [`PRELUDE_MAX_STACK`] operands at once, which the
//!   value stack's registers hold without spilling;
//! - it ends where the operand stack is empty, the code is reachable and
//!   no branch it took waits for a label still ahead: everything after
//!   it, whichever way it was reached, runs with the prologue done.
//!
//! A prelude is compiled only for a function that calls (a leaf's
//! prologue is already small: see `x64::frame`), without fuel metering or
//! interruption checks (which check at function entry), whose result is
//! at most one integer, and only if it contains a `return`: without one,
//! moving the prologue later gains nothing.

use super::FuncCompiler;
use crate::abi::{CompileOptions, args_in_registers};
use crate::decode::{FuncType, FunctionBody, Reader, ValType};
use crate::validate::FuncInfo;

/// The most operands a prelude keeps on the stack at once.
pub(crate) const PRELUDE_MAX_STACK: u32 = 2;

/// The most blocks a prelude has open at once.
const PRELUDE_MAX_BLOCKS: usize = 4;

/// A function's prelude, found by [`prelude`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Prelude {
    /// Where the prologue goes: the module offset of the first
    /// instruction after the prelude.
    pub end: usize,
    /// Whether the function's body is one `block` closed just before the
    /// function's `end`, with no results: a `br_if` to that block from
    /// the prelude is a `return` (C's `if (!p) return;`).
    pub block_returns: bool,
}

/// The prelude a function starts with, or `None` if it has none (see the
/// module doc).
pub(crate) fn prelude(
    options: &CompileOptions,
    func_type: &FuncType,
    body: &FunctionBody<'_>,
    info: &FuncInfo,
) -> Option<Prelude> {
    let integer = |t: &ValType| matches!(t, ValType::I32 | ValType::I64);
    let params = func_type.params();
    let in_registers = args_in_registers(params);
    // A prelude's early return sits in a block, with the branch around it
    // at the block's end, so the body starts with that block.
    if body.code.first() != Some(&BLOCK)
        || !info.has_plain_calls
        || options.fuel
        || options.interruptible
        || func_type.results().len() > 1
        || !func_type.results().iter().all(integer)
        || !params[..in_registers].iter().any(integer)
    {
        return None;
    }
    let readable = |index: u32| (index as usize) < in_registers && integer(&params[index as usize]);
    // The validator found where the first block ends; the function's own
    // `end` is the body's last byte.
    let block_returns = func_type.results().is_empty()
        && (info.first_block_end as usize).checked_add(2) == Some(body.code.len());
    let mut r = body.reader();
    let end = scan(
        &mut r,
        func_type.results().len() as u32,
        block_returns,
        readable,
    )?;
    Some(Prelude { end, block_returns })
}

impl FuncCompiler<'_, '_, '_> {
    /// The depth a branch to `depth` goes to: in a prelude whose
    /// outermost block closes the function ([`Prelude::block_returns`]),
    /// a branch to that block is one to the function, a `return` with no
    /// frame to leave; otherwise `depth` itself.
    #[inline]
    pub(crate) fn prelude_branch_depth(&self, depth: u32) -> u32 {
        if self.block_returns_now {
            self.block_return_depth(depth)
        } else {
            depth
        }
    }

    #[cold]
    #[inline(never)]
    fn block_return_depth(&self, depth: u32) -> u32 {
        // The function's frame is the first, its outermost block the second.
        if self.ctrl.frame_at(depth).0 == 1 {
            depth + 1
        } else {
            depth
        }
    }
}

/// The state of the scan after the instructions read so far.
struct Scan {
    /// Per open block: whether a branch to it was taken (so its end must
    /// come before the prelude's).
    branched_to: [bool; PRELUDE_MAX_BLOCKS],
    depth: usize,
    height: u32,
    reachable: bool,
    returns: bool,
}

/// Reads the instructions from `r` while they may belong to a prelude,
/// and returns the last offset where one may end, if any (see the module
/// doc). With `block_returns` ([`Prelude::block_returns`]), a `br_if` to
/// the outermost block counts as a conditional `return`.
fn scan(
    r: &mut Reader<'_>,
    results: u32,
    block_returns: bool,
    readable: impl Fn(u32) -> bool,
) -> Option<usize> {
    let mut s = Scan {
        branched_to: [false; PRELUDE_MAX_BLOCKS],
        depth: 0,
        height: 0,
        reachable: true,
        returns: false,
    };
    let mut end = None;
    loop {
        if s.reachable && s.height == 0 && s.returns && !s.branched_to[..s.depth].contains(&true) {
            end = Some(r.offset());
        }
        if s.step(r, results, block_returns, &readable).is_none() {
            return end;
        }
    }
}

impl Scan {
    /// Takes in the instruction at `r`, or returns `None` if it cannot be
    /// part of a prelude.
    fn step(
        &mut self,
        r: &mut Reader<'_>,
        results: u32,
        block_returns: bool,
        readable: impl Fn(u32) -> bool,
    ) -> Option<()> {
        let opcode = r.read_u8().ok()?;
        // Code after a `br` or `return` is skipped by the compiler until
        // its block ends; the prelude allows nothing in it.
        if !self.reachable && opcode != END {
            return None;
        }
        match opcode {
            BLOCK => {
                let empty = r.read_u8().ok()? == EMPTY_BLOCK_TYPE;
                if !empty || self.height != 0 || self.depth == PRELUDE_MAX_BLOCKS {
                    return None;
                }
                self.branched_to[self.depth] = false;
                self.depth += 1;
            }
            END => {
                if self.depth == 0 || (self.reachable && self.height != 0) {
                    return None;
                }
                self.depth -= 1;
                self.reachable |= self.branched_to[self.depth];
                self.height = 0;
            }
            BR | BR_IF => {
                let label = r.read_var_u32().ok()? as usize;
                if opcode == BR_IF {
                    self.height = self.height.checked_sub(1)?;
                }
                if self.height != 0 || label >= self.depth {
                    return None;
                }
                if opcode == BR_IF && block_returns && label == self.depth - 1 {
                    // Lands on the function's `end`, with nothing to carry.
                    self.returns = true;
                } else {
                    self.branched_to[self.depth - 1 - label] = true;
                    self.reachable = opcode == BR_IF;
                }
            }
            RETURN => {
                if self.height != results {
                    return None;
                }
                self.returns = true;
                self.height = 0;
                self.reachable = false;
            }
            LOCAL_GET if readable(r.read_var_u32().ok()?) => self.height += 1,
            I32_CONST => {
                r.read_var_i32().ok()?;
                self.height += 1;
            }
            I64_CONST => {
                r.read_var_i64().ok()?;
                self.height += 1;
            }
            I32_EQZ | I64_EQZ => {}
            op if is_pure_binary(op) => self.height = self.height.checked_sub(1)?,
            _ => return None,
        }
        (self.height <= PRELUDE_MAX_STACK).then_some(())
    }
}

/// Integer comparisons (`i32.eq` to `i64.ge_u`, but the `eqz`s) and the
/// binary operators that neither trap nor need a fixed register: `add`,
/// `sub`, `mul`, `and`, `or`, `xor` of both widths.
fn is_pure_binary(opcode: u8) -> bool {
    matches!(opcode, 0x46..=0x4f | 0x51..=0x5a | 0x6a..=0x6c | 0x71..=0x73 | 0x7c..=0x7e | 0x83..=0x85)
}

const BLOCK: u8 = 0x02;
const END: u8 = 0x0b;
const BR: u8 = 0x0c;
const BR_IF: u8 = 0x0d;
const RETURN: u8 = 0x0f;
const LOCAL_GET: u8 = 0x20;
const I32_CONST: u8 = 0x41;
const I64_CONST: u8 = 0x42;
const I32_EQZ: u8 = 0x45;
const I64_EQZ: u8 = 0x50;
const EMPTY_BLOCK_TYPE: u8 = 0x40;

#[cfg(test)]
mod tests {
    use super::*;

    /// The prelude's end in `code` (instructions from offset 0) of a
    /// function with `results` results whose parameters below `readable`
    /// are in registers.
    fn end_of(code: &[u8], results: u32, readable: u32) -> Option<usize> {
        scan(&mut Reader::new(code, 0), results, false, |i| i < readable)
    }

    /// `block; local.get 0; i32.const 2; i32.ge_s; br_if 0; local.get 0;
    /// return; end` (15 bytes), as the start of clang's `fib`.
    const EARLY_RETURN: [u8; 12] = [
        BLOCK, 0x40, LOCAL_GET, 0, I32_CONST, 2, 0x4e, BR_IF, 0, LOCAL_GET, 0, RETURN,
    ];

    fn with(parts: &[&[u8]]) -> alloc::vec::Vec<u8> {
        parts.concat()
    }

    #[test]
    fn ends_after_the_early_return_at_the_first_other_instruction() {
        // ... end; local.set 1: the prelude is the first 13 bytes.
        let code = with(&[&EARLY_RETURN, &[END, 0x21, 1, END]]);
        assert_eq!(end_of(&code, 1, 1), Some(13));
        // Instructions the prelude can run follow: it ends at the last
        // point with an empty stack, before `local.get 0; call 0`.
        let code = with(&[
            &EARLY_RETURN,
            &[END, I32_CONST, 0, 0x1a, LOCAL_GET, 0, 0x10, 0],
        ]);
        assert_eq!(end_of(&code, 1, 1), Some(13));
        let code = with(&[
            &EARLY_RETURN,
            &[END, LOCAL_GET, 0, I32_CONST, 1, 0x6a, 0x1a, 0x10, 0],
        ]);
        assert_eq!(end_of(&code, 1, 1), Some(13));
    }

    /// `block; local.get 0; i32.eqz; br_if 0`, as `if (!p) return;` in a
    /// function without results.
    const BLOCK_RETURN: [u8; 7] = [BLOCK, 0x40, LOCAL_GET, 0, I32_EQZ, BR_IF, 0];

    /// The prelude's end in `code` for a function without results whose
    /// outermost block closes it, with parameter 0 in a register.
    fn end_with_block_return(code: &[u8]) -> Option<usize> {
        scan(&mut Reader::new(code, 0), 0, true, |i| i < 1)
    }

    #[test]
    fn a_branch_to_the_closing_block_is_a_return() {
        // ... call 0; end; end: the prelude ends after the `br_if`.
        let code = with(&[&BLOCK_RETURN, &[0x10, 0, END, END]]);
        assert_eq!(end_with_block_return(&code), Some(7));
        assert_eq!(end_of(&code, 0, 1), None, "a branch, not a return");
        // Two tests, the second from an inner block: the prelude ends
        // after that block's `end`.
        let code = with(&[
            &BLOCK_RETURN,
            &[BLOCK, 0x40, LOCAL_GET, 0, BR_IF, 1, END, 0x10, 0, END, END],
        ]);
        assert_eq!(end_with_block_return(&code), Some(14));
        // A branch to the inner block is still one: the prelude ends
        // before it.
        let code = with(&[
            &BLOCK_RETURN,
            &[BLOCK, 0x40, LOCAL_GET, 0, BR_IF, 0, 0x10, 0, END, END, END],
        ]);
        assert_eq!(end_with_block_return(&code), Some(9));
        // `br` to it is not taken as a return: it leaves nothing after it
        // to run with the prologue done.
        let code = [BLOCK, 0x40, BR, 0, END, 0x10, 0, END];
        assert_eq!(end_with_block_return(&code), None);
    }

    #[test]
    fn needs_a_return() {
        // block; local.get 0; br_if 0; end; call 0
        let code = [BLOCK, 0x40, LOCAL_GET, 0, BR_IF, 0, END, 0x10, 0, END];
        assert_eq!(end_of(&code, 0, 1), None);
    }

    #[test]
    fn reads_only_parameters_in_registers() {
        // local.get 1 where only parameter 0 came in a register.
        let code = [
            BLOCK, 0x40, LOCAL_GET, 1, BR_IF, 0, I32_CONST, 0, RETURN, END, 0x10, 0,
        ];
        assert_eq!(end_of(&code, 1, 1), None);
        assert_eq!(end_of(&code, 1, 2), Some(10));
    }

    #[test]
    fn no_branch_may_wait_for_a_label_after_the_end() {
        // The early return, then a block with a branch taken to its end,
        // then a call before that end: the prelude ends before the branch
        // (after the block's start, which takes no code).
        let code = with(&[
            &EARLY_RETURN,
            &[END, BLOCK, 0x40, LOCAL_GET, 0, BR_IF, 0, 0x10, 0, END, END],
        ]);
        assert_eq!(end_of(&code, 1, 1), Some(15));
        // A branch to the function itself is not the prelude's.
        let code = [
            BLOCK, 0x40, LOCAL_GET, 0, BR_IF, 1, I32_CONST, 0, RETURN, END, 0x10, 0,
        ];
        assert_eq!(end_of(&code, 1, 1), None);
    }

    #[test]
    fn code_after_a_return_resumes_only_at_a_block_end() {
        // block; block; local.get 0; br_if 1; i32.const 5; return; end;
        // end: the inner end is unreachable, the outer one is branched to.
        let code = [
            BLOCK, 0x40, BLOCK, 0x40, LOCAL_GET, 0, BR_IF, 1, I32_CONST, 5, RETURN, END, END, 0x10,
            0,
        ];
        assert_eq!(end_of(&code, 1, 1), Some(13));
        // Anything but `end` after the return stops the scan.
        let code = [
            BLOCK, 0x40, LOCAL_GET, 0, BR_IF, 0, I32_CONST, 5, RETURN, 0x1a, END, 0x10, 0,
        ];
        assert_eq!(end_of(&code, 1, 1), None);
    }

    #[test]
    fn keeps_few_operands_and_only_empty_blocks() {
        // Three operands at once.
        let code = [
            BLOCK, 0x40, LOCAL_GET, 0, LOCAL_GET, 0, LOCAL_GET, 0, 0x6a, 0x6a, BR_IF, 0, I32_CONST,
            0, RETURN, END, 0x10, 0,
        ];
        assert_eq!(end_of(&code, 1, 1), None);
        // The same with two.
        let code = [
            BLOCK, 0x40, LOCAL_GET, 0, LOCAL_GET, 0, 0x6a, BR_IF, 0, I32_CONST, 0, RETURN, END,
            0x10, 0,
        ];
        assert_eq!(end_of(&code, 1, 1), Some(13));
        // A block with a result, or an operand on the stack at a block.
        let code = [BLOCK, 0x7f, I32_CONST, 0, RETURN, END, 0x10, 0];
        assert_eq!(end_of(&code, 1, 1), None);
        let code = [
            I32_CONST, 1, BLOCK, 0x40, LOCAL_GET, 0, BR_IF, 0, RETURN, END, 0x1a, 0x10, 0,
        ];
        assert_eq!(end_of(&code, 1, 1), None);
    }

    #[test]
    fn runs_no_operator_that_traps_or_needs_a_register() {
        for opcode in [0x6d, 0x6e, 0x74, 0x76, 0x77, 0x80, 0x86] {
            // block; local.get 0; local.get 0; OP; br_if 0; ...
            let code = [
                BLOCK, 0x40, LOCAL_GET, 0, LOCAL_GET, 0, opcode, BR_IF, 0, I32_CONST, 0, RETURN,
                END, 0x10, 0,
            ];
            assert_eq!(end_of(&code, 1, 1), None, "opcode {opcode:#x}");
        }
    }
}
