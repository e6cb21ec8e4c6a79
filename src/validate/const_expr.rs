//! Constant expressions: global initializers and segment offsets.
//!
//! In WebAssembly 2.0 a constant expression is one `*.const`, `ref.null`,
//! `ref.func` or `global.get` of an imported immutable global, then `end`;
//! 3.0 lets `global.get` read the immutable globals defined before too
//! ([`visible_globals`]).
//! With extended-const ([`Features::extended_const`]) it may also combine
//! integers with `i32/i64.add`, `sub` and `mul`: it is then checked like a
//! function body of those instructions, with an operand stack.

use super::features::{Feature, Features};
use super::module::{check_val_type, same};
use super::subtype::val_subtype;
use crate::decode::{ConstExpr, HeapType, Module, Operator, RefType, ValType, read_operator};
use crate::error::{Error, Result};
use alloc::vec::Vec;

/// What a constant expression may name: functions, imported globals, and
/// the types its references compare by.
pub(crate) struct Scope<'s> {
    /// Canonical representative of each type index.
    pub reps: &'s [u32],
    /// Type index of every function.
    pub funcs: &'s [u32],
    /// The globals it may read ([`visible_globals`]).
    pub globals: &'s [crate::decode::GlobalType],
}

/// The globals a constant expression may read, of `globals` (the
/// imported ones, `imported` of them, then the defined ones it may see):
/// in 2.0 only the imported ones; in 3.0 also the defined globals before
/// it (for a global's initializer; all of them for a segment's
/// expressions), which wasmkern accepts with typed function references
/// (3.0 brought this with GC, of which wasmkern has only those).
pub(crate) fn visible_globals<'g>(
    features: &Features,
    globals: &'g [crate::decode::GlobalType],
    imported: usize,
) -> &'g [crate::decode::GlobalType] {
    if features.function_references {
        globals
    } else {
        &globals[..imported.min(globals.len())]
    }
}

/// Checks that `expr` is constant and produces one value of type `expected`.
/// `declare` is called with every function index that `ref.func` names.
pub(crate) fn check_const_expr(
    module: &Module<'_>,
    features: &Features,
    scope: &Scope<'_>,
    expr: &ConstExpr<'_>,
    expected: ValType,
    mut declare: impl FnMut(u32),
) -> Result<()> {
    let mut r = expr.reader();
    let mut stack: Vec<ValType> = Vec::new();
    loop {
        let offset = r.offset();
        let op = read_operator(&mut r)?;
        let ty = match op {
            Operator::I32Const { .. } => ValType::I32,
            Operator::I64Const { .. } => ValType::I64,
            Operator::F32Const { .. } => ValType::F32,
            Operator::F64Const { .. } => ValType::F64,
            Operator::V128Const { .. } => ValType::V128,
            Operator::RefNull { hty } => {
                let t = ValType::Ref(RefType::new(true, hty));
                check_val_type(t, module.types.len() as u32, features, offset)?;
                t
            }
            Operator::RefFunc { function_index } => {
                if function_index >= module.num_funcs() {
                    return Err(
                        Error::invalid(offset, "unknown function").with_index(function_index)
                    );
                }
                declare(function_index);
                match scope.funcs.get(function_index as usize) {
                    Some(&t) => ValType::Ref(RefType::new(false, HeapType::Concrete(t))),
                    None => ValType::FuncRef,
                }
            }
            Operator::GlobalGet { global_index } => {
                let Some(&global) = scope.globals.get(global_index as usize) else {
                    return Err(Error::invalid(offset, "unknown global").with_index(global_index));
                };
                if global.mutable {
                    return Err(Error::invalid(offset, "constant expression required"));
                }
                global.content
            }
            Operator::I32Add | Operator::I32Sub | Operator::I32Mul => {
                binary(features, &mut stack, offset, ValType::I32)?
            }
            Operator::I64Add | Operator::I64Sub | Operator::I64Mul => {
                binary(features, &mut stack, offset, ValType::I64)?
            }
            Operator::End => break,
            _ => return Err(Error::invalid(offset, "constant expression required")),
        };
        stack.push(ty);
    }
    match stack[..] {
        [found] if val_subtype(found, expected, |a, b| same(scope.reps, a, b)) => Ok(()),
        [found] => Err(Error::invalid(expr.offset, "type mismatch")
            .with_detail(format_args!("expected {expected}, found {found}"))),
        _ => Err(
            Error::invalid(expr.offset, "type mismatch").with_detail(format_args!(
                "constant expression must produce exactly one {expected}"
            )),
        ),
    }
}

/// Pops the two operands of an extended-const instruction on `ty`.
fn binary(
    features: &Features,
    stack: &mut Vec<ValType>,
    offset: usize,
    ty: ValType,
) -> Result<ValType> {
    if !features.extended_const {
        return Err(
            Error::invalid(offset, "constant expression required").with_detail(format_args!(
                "arithmetic in constant expressions needs {}",
                Feature::ExtendedConst.switch()
            )),
        );
    }
    for _ in 0..2 {
        match stack.pop() {
            Some(found) if found == ty => {}
            Some(found) => {
                return Err(Error::invalid(offset, "type mismatch")
                    .with_detail(format_args!("expected {ty}, found {found}")));
            }
            None => {
                return Err(Error::invalid(offset, "type mismatch")
                    .with_detail(format_args!("expected {ty}, found nothing")));
            }
        }
    }
    Ok(ty)
}
