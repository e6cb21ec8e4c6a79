//! The testsuite's `spectest` host module, defined in every store's linker.
//!
//! Its contents are fixed by the spec interpreter: print functions (which
//! do nothing here), four immutable globals holding 666 (666.6 for the
//! floats), a funcref table of 10 to 20 elements and a memory of 1 to 2
//! pages.

use super::api::{
    Error, Global, GlobalType, Limits, Linker, Memory, MemoryType, RefType, Store, Table,
    TableType, Val, ValType,
};

const MODULE: &str = "spectest";

/// Defines `spectest` in `linker`, its globals, table and memory in `store`.
pub fn define(linker: &mut Linker<()>, store: &mut Store<()>) -> Result<(), Error> {
    linker.func_wrap(MODULE, "print", || {})?;
    linker.func_wrap(MODULE, "print_i32", |_: i32| {})?;
    linker.func_wrap(MODULE, "print_i64", |_: i64| {})?;
    linker.func_wrap(MODULE, "print_f32", |_: f32| {})?;
    linker.func_wrap(MODULE, "print_f64", |_: f64| {})?;
    linker.func_wrap(MODULE, "print_i32_f32", |_: i32, _: f32| {})?;
    linker.func_wrap(MODULE, "print_f64_f64", |_: f64, _: f64| {})?;

    let globals = [
        ("global_i32", ValType::I32, Val::I32(666)),
        ("global_i64", ValType::I64, Val::I64(666)),
        ("global_f32", ValType::F32, Val::F32(666.6f32.to_bits())),
        ("global_f64", ValType::F64, Val::F64(666.6f64.to_bits())),
    ];
    for (name, content, val) in globals {
        let ty = GlobalType {
            content,
            mutable: false,
        };
        let global = Global::new(&mut *store, ty, val)?;
        linker.define(&*store, MODULE, name, global)?;
    }

    let table_ty = TableType {
        elem: RefType::FuncRef,
        limits: Limits {
            min: 10,
            max: Some(20),
        },
        table64: false,
    };
    let table = Table::new(&mut *store, table_ty, Val::FuncRef(None))?;
    linker.define(&*store, MODULE, "table", table)?;

    let memory_ty = MemoryType::new(1, Some(2));
    let memory = Memory::new(&mut *store, memory_ty)?;
    linker.define(&*store, MODULE, "memory", memory)?;
    Ok(())
}
