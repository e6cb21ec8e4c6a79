//! Constant expressions: global initializers and segment offsets.
//!
//! In WebAssembly 2.0 a constant expression is one `*.const`, `ref.null`,
//! `ref.func` or `global.get` of an imported immutable global, then `end`.

use crate::decode::{ConstExpr, Module, Operator, ValType, read_operator};
use crate::error::{Error, Result};

/// Checks that `expr` is constant and produces one value of type `expected`.
/// `declare` is called with every function index that `ref.func` names.
pub(crate) fn check_const_expr(
    module: &Module<'_>,
    global_types: &[crate::decode::GlobalType],
    expr: &ConstExpr<'_>,
    expected: ValType,
    mut declare: impl FnMut(u32),
) -> Result<()> {
    let mut r = expr.reader();
    let mut stack: [Option<ValType>; 2] = [None, None];
    let mut height = 0usize;
    loop {
        let offset = r.offset();
        let op = read_operator(&mut r)?;
        let ty = match op {
            Operator::I32Const { .. } => ValType::I32,
            Operator::I64Const { .. } => ValType::I64,
            Operator::F32Const { .. } => ValType::F32,
            Operator::F64Const { .. } => ValType::F64,
            Operator::V128Const { .. } => ValType::V128,
            Operator::RefNull { hty } => hty.into(),
            Operator::RefFunc { function_index } => {
                if function_index >= module.num_funcs() {
                    return Err(
                        Error::invalid(offset, "unknown function").with_index(function_index)
                    );
                }
                declare(function_index);
                ValType::FuncRef
            }
            Operator::GlobalGet { global_index } => {
                // Only imported globals are visible to constant expressions.
                if global_index >= module.num_imported_globals {
                    return Err(Error::invalid(offset, "unknown global").with_index(global_index));
                }
                let global = global_types[global_index as usize];
                if global.mutable {
                    return Err(Error::invalid(offset, "constant expression required"));
                }
                global.content
            }
            Operator::End => break,
            _ => return Err(Error::invalid(offset, "constant expression required")),
        };
        if height == stack.len() {
            return Err(Error::invalid(offset, "type mismatch")
                .with_detail("too many values in constant expression"));
        }
        stack[height] = Some(ty);
        height += 1;
    }
    match (height, stack[0]) {
        (1, Some(found)) if found == expected => Ok(()),
        (1, Some(found)) => Err(Error::invalid(expr.offset, "type mismatch")
            .with_detail(format_args!("expected {expected}, found {found}"))),
        _ => Err(
            Error::invalid(expr.offset, "type mismatch").with_detail(format_args!(
                "constant expression must produce exactly one {expected}"
            )),
        ),
    }
}
