//! Tables whose contents the compiler knows.
//!
//! A table that the module defines, does not export, and that no
//! instruction of the module writes (`table.set`, `table.fill`,
//! `table.grow`, `table.copy`, `table.init`: [`FuncInfo::writes_tables`]
//! for any table) holds, for the life of an instance, exactly what its
//! initializer and the instantiation's active element segments put there:
//! nothing else reaches it (the host gets a table only from an export,
//! another module only by importing an export), and its size stays its
//! declared minimum. When every one of those segments has a constant
//! offset and constant items, the compiler knows each element's function,
//! and a `call_indirect` through the table skips the checks whose outcome
//! is settled (see [`FixedTable`]). A segment that does not fit makes the
//! instantiation fail, so no code of such an instance ever runs.
//!
//! The facts are conservative: any write to any table, a segment offset
//! from a global, an item that is not `ref.func` or `ref.null`, or an
//! initializer that is neither, leaves the table unknown (`None`), and
//! its calls check everything.
//!
//! [`FuncInfo::writes_tables`]: crate::validate::FuncInfo::writes_tables

use crate::decode::{
    ConstExpr, ElementItems, ElementKind, ExternKind, Module, Operator, read_operator,
};
use crate::validate::ModuleInfo;
use alloc::vec;
use alloc::vec::Vec;

/// What the compiler knows of a table no one writes after instantiation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FixedTable {
    /// Its size, for good: the declared minimum.
    pub size: u64,
    /// Whether every element holds a function: then no element is null.
    pub non_null: bool,
    /// The canonical type index ([`ModuleInfo::type_reps`]) of every
    /// function the table holds, if they all have one type: a call through
    /// it with that type matches whatever the index.
    pub single_type: Option<u32>,
}

/// A constant reference or offset of a segment or initializer.
enum Constant {
    Int(u64),
    Func(u32),
    Null,
}

/// Evaluates `expr` if it is one `i32.const`, `i64.const`, `ref.func` or
/// `ref.null`.
fn constant(expr: &ConstExpr<'_>) -> Option<Constant> {
    let mut r = expr.reader();
    let value = match read_operator(&mut r).ok()? {
        Operator::I32Const { value } => Constant::Int(u64::from(value as u32)),
        Operator::I64Const { value } => Constant::Int(value as u64),
        Operator::RefFunc { function_index } => Constant::Func(function_index),
        Operator::RefNull { .. } => Constant::Null,
        _ => return None,
    };
    matches!(read_operator(&mut r).ok()?, Operator::End).then_some(value)
}

/// The facts of each table of `module` (imports first; `None` for a table
/// whose contents the compiler cannot know), from what validation found
/// (`info`).
pub(crate) fn fixed_tables(module: &Module<'_>, info: &ModuleInfo) -> Vec<Option<FixedTable>> {
    let (reps, func_types) = (&info.type_reps, &info.spaces.funcs);
    let imported = module.num_imported_tables as usize;
    let mut tables = vec![None; imported + module.tables.len()];
    if info.funcs.iter().any(|f| f.writes_tables) {
        return tables;
    }
    let type_of = |f: u32| {
        func_types
            .get(f as usize)
            .and_then(|&t| reps.get(t as usize))
            .copied()
    };
    for (i, ty) in module.tables.iter().enumerate() {
        let index = imported + i;
        let exported = module
            .exports
            .iter()
            .any(|e| e.kind == ExternKind::Table && e.index as usize == index);
        if exported {
            continue;
        }
        tables[index] = known_contents(module, index as u32, ty.limits.min, &type_of);
    }
    tables
}

/// The facts of defined table `table` of size `size`, from its
/// initializer and active segments, if they are all constant.
fn known_contents(
    module: &Module<'_>,
    table: u32,
    size: u64,
    type_of: &dyn Fn(u32) -> Option<u32>,
) -> Option<FixedTable> {
    let defined = table as usize - module.num_imported_tables as usize;
    // The type every function seen so far has: `None` before the first,
    // `Some(None)` once two differ.
    let mut single: Option<Option<u32>> = None;
    let mut see = |f: u32| -> Option<()> {
        let t = type_of(f)?;
        single = match single {
            None => Some(Some(t)),
            Some(Some(s)) if s == t => Some(Some(s)),
            _ => Some(None),
        };
        Some(())
    };
    // Whether the initializer fills the table with a function.
    let filled = match module.table_inits.get(defined).copied().flatten() {
        None => false,
        Some(init) => match constant(&init)? {
            Constant::Func(f) => {
                see(f)?;
                true
            }
            Constant::Null => false,
            Constant::Int(_) => return None,
        },
    };
    // The ranges the segments fill with functions, and whether one puts a
    // null there.
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    let mut nulls = false;
    for segment in &module.elements {
        let ElementKind::Active { table: t, offset } = &segment.kind else {
            continue;
        };
        if *t != table {
            continue;
        }
        let Constant::Int(start) = constant(offset)? else {
            return None;
        };
        match &segment.items {
            ElementItems::Functions(funcs) => {
                for &f in funcs.iter() {
                    see(f)?;
                }
            }
            ElementItems::Exprs(exprs) => {
                for expr in exprs.iter() {
                    match constant(expr)? {
                        Constant::Func(f) => see(f)?,
                        Constant::Null => nulls = true,
                        Constant::Int(_) => return None,
                    }
                }
            }
        }
        ranges.push((start, start.saturating_add(segment.items.len() as u64)));
    }
    let non_null = !nulls && (filled || covers(&mut ranges, size));
    Some(FixedTable {
        size,
        non_null,
        single_type: single.flatten(),
    })
}

/// Whether `ranges` (half-open) together cover `0..size`.
fn covers(ranges: &mut [(u64, u64)], size: u64) -> bool {
    ranges.sort_unstable();
    let mut covered = 0;
    for &(start, end) in ranges.iter() {
        if start > covered {
            break;
        }
        covered = covered.max(end);
    }
    covered >= size
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::{Features, validate_module_with};
    use alloc::format;
    use alloc::string::String;

    fn facts(wat: &str) -> Vec<Option<FixedTable>> {
        let bytes = wat::parse_str(wat).unwrap();
        let module = Module::decode(&bytes).unwrap();
        let info = validate_module_with(&module, &Features::ALL).unwrap();
        fixed_tables(&module, &info)
    }

    const FUNCS: &str = r#"
        (type $v (func))
        (type $i (func (param i32)))
        (type $v2 (func))
        (func $a (type $v)) (func $b (type $v)) (func $c (type $i))
        (func $d (type $v2))"#;

    fn module(body: &str) -> String {
        format!("(module {FUNCS} {body})")
    }

    #[test]
    fn a_table_filled_with_one_type_needs_no_null_or_type_check() {
        let t = facts(&module(
            "(table 3 funcref) (elem (i32.const 0) $a $b) (elem (i32.const 2) $d)",
        ));
        // `$d`'s type is another index of the same type.
        assert_eq!(
            t,
            [Some(FixedTable {
                size: 3,
                non_null: true,
                single_type: Some(0)
            })]
        );
    }

    #[test]
    fn gaps_nulls_and_mixed_types_are_seen() {
        // Element 0 is null (the C convention).
        let t = facts(&module("(table 3 3 funcref) (elem (i32.const 1) $a $b)"));
        assert_eq!(
            t[0],
            Some(FixedTable {
                size: 3,
                non_null: false,
                single_type: Some(0)
            })
        );
        // Overlapping segments that together cover the table; two types.
        let t = facts(&module(
            "(table 4 funcref) (elem (i32.const 2) $a $b) (elem (i32.const 0) $c $a $b)",
        ));
        assert_eq!(
            t[0],
            Some(FixedTable {
                size: 4,
                non_null: true,
                single_type: None
            })
        );
        // A later segment writes a null over a function.
        let t = facts(&module(
            "(table 2 funcref) (elem (i32.const 0) $a $b) \
             (elem (i32.const 1) funcref (ref.null func))",
        ));
        assert_eq!(t[0].map(|t| t.non_null), Some(false));
        // An initializer fills what no segment does.
        let t = facts(&module(
            "(table 5 (ref null $v) (ref.func $a)) (elem (i32.const 1) (ref null $v) (ref.func $b))",
        ));
        assert_eq!(
            t[0],
            Some(FixedTable {
                size: 5,
                non_null: true,
                single_type: Some(0)
            })
        );
    }

    #[test]
    fn tables_that_may_change_or_are_not_constant_are_unknown() {
        // Exported.
        assert_eq!(
            facts(&module(
                "(table (export \"t\") 1 funcref) (elem (i32.const 0) $a)"
            )),
            [None]
        );
        // Imported, beside a defined one.
        assert_eq!(
            facts(
                "(module (import \"m\" \"t\" (table 1 funcref)) (func $a) \
                 (table 1 funcref) (elem (table 1) (i32.const 0) func $a))"
            ),
            [
                None,
                Some(FixedTable {
                    size: 1,
                    non_null: true,
                    single_type: Some(0)
                })
            ]
        );
        // Written by any function, whichever table it writes.
        for write in [
            "(table.set 1 (i32.const 0) (ref.null func))",
            "(drop (table.grow 1 (ref.null func) (i32.const 1)))",
            "(table.fill 1 (i32.const 0) (ref.null func) (i32.const 1))",
            "(table.copy 1 0 (i32.const 0) (i32.const 0) (i32.const 1))",
            "(table.init 1 $p (i32.const 0) (i32.const 0) (i32.const 1))",
        ] {
            let wat = module(&format!(
                "(table 1 funcref) (table 1 funcref) (elem (table 0) (i32.const 0) func $a) \
                 (elem $p func $b) (func {write})"
            ));
            assert_eq!(facts(&wat), [None, None], "{write}");
        }
        // An offset from a global.
        assert_eq!(
            facts(&module(
                "(global $g i32 (i32.const 0)) (table 1 funcref) (elem (global.get $g) $a)"
            )),
            [None]
        );
    }
}
