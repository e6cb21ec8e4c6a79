//! Module-level validation: indices, limits, exports, the start function,
//! segments, constant expressions, and the `ref.func` declaration rule.

use super::const_expr::{Scope, check_const_expr, visible_globals};
use super::features::{Feature, Features};
use super::func::{FuncInfo, FuncValidator, LocalUse};
use super::subtype::{canonical_types, ref_subtype};
use crate::decode::{
    DataKind, ElementItems, ElementKind, ExternKind, GlobalType, HeapType, ImportKind, Limits,
    MemoryType, Module, RefType, TableType, ValType,
};
use crate::error::{Error, ErrorKind, Result};
use crate::platform::{Bare, Platform, job_ranges, run_jobs};
use alloc::vec;
use alloc::vec::Vec;
use hashbrown::HashSet;

/// Largest 32-bit memory in 64 KiB pages (4 GiB).
pub const MAX_MEMORY_PAGES: u32 = 65_536;
/// Largest 64-bit memory in 64 KiB pages (2^48: 2^64 bytes).
pub const MAX_MEMORY64_PAGES: u64 = 1 << 48;

/// What validation learned about a module.
#[derive(Clone, Debug, Default)]
pub struct ModuleInfo {
    /// The module's index spaces, which the compiler and the runtime use
    /// as they are.
    pub spaces: IndexSpaces,
    /// Facts about each defined function, in order.
    pub funcs: Vec<FuncInfo>,
    /// Every function's local uses, one run per function (see
    /// [`Self::local_uses`]).
    pub local_uses: Vec<LocalUse>,
    /// The canonical representative of each type index (the first index
    /// of its class of equivalent types): two indices name equivalent
    /// types when their representatives are equal.
    pub type_reps: Vec<u32>,
    /// Per function (imports first), whether something outside function
    /// bodies names it: an element segment, an export or a global's
    /// initializer. These are the functions `ref.func` may name, and the
    /// only ones a reference, hence an indirect call, can reach.
    pub declared_funcs: Vec<bool>,
}

impl ModuleInfo {
    /// How defined function `i` uses its locals (only locals it uses).
    pub fn local_uses(&self, i: usize) -> &[LocalUse] {
        let f = &self.funcs[i];
        let start = f.local_uses_start as usize;
        &self.local_uses[start..start + f.local_uses_len as usize]
    }
}

/// A module's index spaces: its functions, tables, memories and globals,
/// the imported ones first, then those it defines (in the order of the
/// import and definition sections). Every stage indexes these, so the
/// validator resolves them once, checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexSpaces {
    /// Type index of every function (below the module's type count).
    pub funcs: Vec<u32>,
    /// Every table.
    pub tables: Vec<TableType>,
    /// Every memory.
    pub memories: Vec<MemoryType>,
    /// Every global.
    pub globals: Vec<GlobalType>,
    /// Type index of every tag (a function type with no results).
    pub tags: Vec<u32>,
}

/// What function validation reads of the module: its index spaces and
/// what module-level validation found.
pub(crate) struct Context<'m, 'a> {
    pub module: &'m Module<'a>,
    /// Type index of every function, imported ones first.
    pub func_types: &'m [u32],
    pub tables: &'m [TableType],
    pub memories: &'m [MemoryType],
    pub globals: &'m [GlobalType],
    /// Element type of each element segment.
    pub elements: Vec<RefType>,
    /// Functions that may be named by `ref.func` in function bodies.
    pub declared_funcs: Vec<bool>,
    /// The features beyond WebAssembly 2.0 the module may use.
    pub features: Features,
    /// Type index of every tag, imported ones first.
    pub tags: &'m [u32],
    /// Whether memory 0 exists and is 32-bit: then a `memarg` in the 2.0
    /// encoding that fits its natural alignment and a `u32` offset is
    /// valid, which the validator checks first (most loads and stores).
    pub plain_memory0: bool,
}

/// Checks that a value type is allowed by `features` and that its type
/// index, if any, is below `num_types`.
pub(crate) fn check_val_type(
    t: ValType,
    num_types: u32,
    features: &Features,
    offset: usize,
) -> Result<()> {
    if t.is_wasm2() {
        return Ok(());
    }
    if let Some(r) = t.ref_type()
        && r.is_exn()
    {
        features.require(Feature::Exceptions, offset)?;
        if r == RefType::ExnRef {
            return Ok(());
        }
    }
    features.require(Feature::FunctionReferences, offset)?;
    if let Some(HeapType::Concrete(i)) = t.ref_type().map(|r| r.heap())
        && i >= num_types
    {
        return Err(Error::invalid(offset, "unknown type").with_index(i));
    }
    Ok(())
}

/// [`check_val_type`] of a reference type.
fn check_ref_type(t: RefType, num_types: u32, features: &Features, offset: usize) -> Result<()> {
    check_val_type(t.into(), num_types, features, offset)
}

/// Whether type indices `a` and `b` name equivalent types, by their
/// representatives `reps`.
pub(crate) fn same(reps: &[u32], a: u32, b: u32) -> bool {
    matches!((reps.get(a as usize), reps.get(b as usize)), (Some(x), Some(y)) if x == y)
}

fn check_limits(limits: Limits, max: u64, offset: usize, too_large: &'static str) -> Result<()> {
    if limits.min > max || limits.max.is_some_and(|m| m > max) {
        return Err(Error::invalid(offset, too_large));
    }
    if limits.max.is_some_and(|m| m < limits.min) {
        return Err(Error::invalid(
            offset,
            "size minimum must not be greater than maximum",
        ));
    }
    Ok(())
}

/// Checks a memory type: its features, page size and limits.
fn check_memory_type(ty: MemoryType, features: &Features) -> Result<()> {
    if ty.memory64 {
        features.require(Feature::Memory64, 0)?;
    }
    if let Some(log2) = ty.page_size_log2 {
        features.require(Feature::CustomPageSizes, 0)?;
        if log2 != 0 && log2 != 16 {
            return Err(Error::invalid(0, "invalid custom page size")
                .with_detail(format_args!("2^{log2} bytes: only 1 and 65536 are valid")));
        }
    }
    // The largest memory spans the address space: 2^32 or 2^64 bytes.
    let log2 = ty.page_size_log2();
    let (max, message) = match (ty.memory64, log2) {
        (false, 16) => (
            u64::from(MAX_MEMORY_PAGES),
            "memory size must be at most 65536 pages (4GiB)",
        ),
        // A page count is a u32 too: 1-byte pages stop one short of 4 GiB.
        (false, _) => (
            ((1u64 << 32) >> log2).min(u64::from(u32::MAX)),
            "memory size must be at most 4GiB",
        ),
        (true, 16) => (
            MAX_MEMORY64_PAGES,
            "memory size must be at most 2^48 pages (2^64 bytes)",
        ),
        (true, _) => (u64::MAX, "memory size must be at most 2^64 bytes"),
    };
    check_limits(ty.limits, max, 0, message)
}

/// Checks a table type's limits and, for a table64 table (indexed with
/// `i64`, the memory64 proposal's tables), that memory64 is enabled. The
/// limits lie within the index type's range: `2^32 - 1` elements, or any
/// `u64` for table64 (no table gets near either; the runtime refuses
/// what it cannot allocate at instantiation).
fn check_table_type(ty: TableType, features: &Features) -> Result<()> {
    if ty.table64 {
        features.require(Feature::Memory64, 0)?;
        return check_limits(ty.limits, u64::MAX, 0, "table size must be at most 2^64-1");
    }
    check_limits(
        ty.limits,
        u64::from(u32::MAX),
        0,
        "table size must be at most 2^32-1",
    )
}

/// Validates a decoded module with the default [`Features`].
pub fn validate_module(module: &Module<'_>) -> Result<ModuleInfo> {
    validate_module_with(module, &Features::default())
}

/// Validates a decoded module that may use `features`.
pub fn validate_module_with(module: &Module<'_>, features: &Features) -> Result<ModuleInfo> {
    validate_module_on(module, features, &Bare, false)
}

/// [`validate_module_with`], the function bodies divided among the
/// threads of `platform` when `parallel` (consecutive ranges by size,
/// [`job_ranges`]): the bodies are independent of each other
/// once the module-level checks are done. The result, errors included, is
/// the same as validating them in order: each job stops at its first
/// error, and the error of the first job that failed is the first error
/// in index order.
pub(crate) fn validate_module_on(
    module: &Module<'_>,
    features: &Features,
    platform: &dyn Platform,
    parallel: bool,
) -> Result<ModuleInfo> {
    let num_types = module.types.len() as u32;
    // A type may name only the types before it.
    for (i, ty) in module.types.iter().enumerate() {
        for &t in ty.params().iter().chain(ty.results()) {
            check_val_type(t, i as u32, features, 0)?;
        }
    }
    let reps = canonical_types(&module.types);
    let type_index = |index: u32, offset: usize| -> Result<u32> {
        if index < num_types {
            Ok(index)
        } else {
            Err(Error::invalid(offset, "unknown type").with_index(index))
        }
    };

    // Index spaces: imports first, then definitions.
    let mut spaces = IndexSpaces {
        funcs: Vec::with_capacity(module.num_funcs() as usize),
        tables: Vec::with_capacity(module.num_tables() as usize),
        memories: Vec::with_capacity(module.num_memories() as usize),
        globals: Vec::with_capacity(module.num_globals() as usize),
        tags: Vec::with_capacity(module.num_tags() as usize),
    };
    let tag_type = |index: u32, offset: usize| -> Result<u32> {
        features.require(Feature::Exceptions, offset)?;
        let ty = type_index(index, offset)?;
        if !module.types[ty as usize].results().is_empty() {
            return Err(
                Error::invalid(offset, "non-empty tag result type").with_detail(format_args!(
                    "type {index} is {}",
                    module.types[ty as usize]
                )),
            );
        }
        Ok(ty)
    };
    for import in &module.imports {
        match import.kind {
            ImportKind::Func(ty) => spaces.funcs.push(type_index(ty, 0)?),
            ImportKind::Table(t) => {
                check_ref_type(t.elem, num_types, features, 0)?;
                check_table_type(t, features)?;
                spaces.tables.push(t);
            }
            ImportKind::Memory(m) => {
                check_memory_type(m, features)?;
                spaces.memories.push(m);
            }
            ImportKind::Global(g) => {
                check_val_type(g.content, num_types, features, 0)?;
                spaces.globals.push(g);
            }
            ImportKind::Tag(t) => spaces.tags.push(tag_type(t, 0)?),
        }
    }
    for &t in &module.tags {
        spaces.tags.push(tag_type(t, 0)?);
    }
    for &ty in &module.functions {
        spaces.funcs.push(type_index(ty, 0)?);
    }
    for t in &module.tables {
        check_ref_type(t.elem, num_types, features, 0)?;
        check_table_type(*t, features)?;
        spaces.tables.push(*t);
    }
    for &m in &module.memories {
        check_memory_type(m, features)?;
        spaces.memories.push(m);
    }
    if spaces.memories.len() > 1 && !features.multi_memory {
        return Err(
            Error::invalid(0, "multiple memories").with_detail(format_args!(
                "more than one memory needs {}",
                Feature::MultiMemory.switch()
            )),
        );
    }

    // Functions named outside function bodies are "declared" for `ref.func`.
    let mut declared_funcs = vec![false; spaces.funcs.len()];
    let num_imported_globals = spaces.globals.len();
    for global in &module.globals {
        check_val_type(global.ty.content, num_types, features, global.init.offset)?;
        check_const_expr(
            module,
            features,
            &Scope {
                reps: &reps,
                funcs: &spaces.funcs,
                globals: visible_globals(features, &spaces.globals, num_imported_globals),
            },
            &global.init,
            global.ty.content,
            |f| declared_funcs[f as usize] = true,
        )?;
        spaces.globals.push(global.ty);
    }
    let (func_types, tables, memories, globals) = (
        &spaces.funcs,
        &spaces.tables,
        &spaces.memories,
        &spaces.globals,
    );

    // Exports: known indices, unique names.
    let mut names = HashSet::with_capacity(module.exports.len());
    for export in &module.exports {
        let (count, what) = match export.kind {
            ExternKind::Func => (func_types.len(), "unknown function"),
            ExternKind::Table => (tables.len(), "unknown table"),
            ExternKind::Memory => (memories.len(), "unknown memory"),
            ExternKind::Global => (globals.len(), "unknown global"),
            ExternKind::Tag => (spaces.tags.len(), "unknown tag"),
        };
        if export.index as usize >= count {
            return Err(Error::invalid(export.offset, what).with_index(export.index));
        }
        if export.kind == ExternKind::Func {
            declared_funcs[export.index as usize] = true;
        }
        if !names.insert(export.name) {
            return Err(
                Error::invalid(export.offset, "duplicate export name").with_detail(export.name)
            );
        }
    }

    if let Some((start, offset)) = module.start {
        let Some(&ty) = func_types.get(start as usize) else {
            return Err(Error::invalid(offset, "unknown function").with_index(start));
        };
        let ty = &module.types[ty as usize];
        if !ty.params().is_empty() || !ty.results().is_empty() {
            return Err(
                Error::invalid(offset, "start function").with_detail(format_args!("type is {ty}"))
            );
        }
    }

    // What tables' and segments' constant expressions may refer to: a
    // table's initializer sees the imported globals only (the tables come
    // before the globals).
    let table_scope = Scope {
        reps: &reps,
        funcs: func_types,
        globals: &globals[..num_imported_globals],
    };
    let segment_scope = Scope {
        reps: &reps,
        funcs: func_types,
        globals: visible_globals(features, globals, num_imported_globals),
    };
    // Table initializers: a table of a non-nullable type needs one.
    let defined_tables = &tables[module.num_imported_tables as usize..];
    for (t, init) in defined_tables.iter().zip(&module.table_inits) {
        match init {
            Some(init) => {
                features.require(Feature::FunctionReferences, init.offset)?;
                check_const_expr(module, features, &table_scope, init, t.elem.into(), |f| {
                    declared_funcs[f as usize] = true
                })?;
            }
            None if !t.elem.is_nullable() => {
                return Err(Error::invalid(0, "type mismatch")
                    .with_detail(format_args!("a table of {} needs an initializer", t.elem)));
            }
            None => {}
        }
    }
    let mut elements = Vec::with_capacity(module.elements.len());
    for segment in &module.elements {
        // Only an expression segment spells out its type.
        if matches!(segment.items, ElementItems::Exprs(_)) {
            check_ref_type(segment.ty, num_types, features, segment.offset)?;
        }
        if let ElementKind::Active { table, offset } = &segment.kind {
            let Some(t) = tables.get(*table as usize) else {
                return Err(Error::invalid(segment.offset, "unknown table").with_index(table));
            };
            check_const_expr(
                module,
                features,
                &segment_scope,
                offset,
                t.index_type(),
                |f| declared_funcs[f as usize] = true,
            )?;
            if !ref_subtype(segment.ty, t.elem, |a, b| same(&reps, a, b)) {
                return Err(Error::invalid(segment.offset, "type mismatch")
                    .with_detail("element segment type differs from the table's"));
            }
        }
        match &segment.items {
            ElementItems::Functions(funcs) => {
                for &f in funcs.iter() {
                    if f as usize >= func_types.len() {
                        return Err(
                            Error::invalid(segment.offset, "unknown function").with_index(f)
                        );
                    }
                    declared_funcs[f as usize] = true;
                }
            }
            ElementItems::Exprs(exprs) => {
                for expr in exprs.iter() {
                    check_const_expr(
                        module,
                        features,
                        &segment_scope,
                        expr,
                        segment.ty.into(),
                        |f| declared_funcs[f as usize] = true,
                    )?;
                }
            }
        }
        elements.push(segment.ty);
    }

    for segment in &module.data {
        if let DataKind::Active { memory, offset } = &segment.kind {
            let Some(ty) = memories.get(*memory as usize) else {
                return Err(Error::invalid(offset.offset, "unknown memory").with_index(memory));
            };
            if *memory != 0 && !features.multi_memory {
                return Err(Feature::MultiMemory.disabled(offset.offset));
            }
            check_const_expr(
                module,
                features,
                &segment_scope,
                offset,
                ty.index_type(),
                |_| {},
            )?;
        }
    }

    let cx = Context {
        module,
        func_types,
        tables,
        memories,
        globals,
        elements,
        declared_funcs,
        features: *features,
        tags: &spaces.tags,
        plain_memory0: memories.first().is_some_and(|m| !m.memory64),
    };
    let n = module.code.len();
    let ranges = job_ranges(platform, parallel, n, |i| module.code[i].code.len());
    let parts = run_jobs(platform, ranges.len(), |k| {
        let range = ranges[k].clone();
        let mut validator = FuncValidator::default();
        validator.set_types(&reps);
        let mut funcs = Vec::with_capacity(range.len());
        // Room for the local uses at once (compiled C has one about every
        // 45 bytes of code): growing a buffer this size by doubling copies
        // it.
        let code_bytes: usize = module.code[range.clone()]
            .iter()
            .map(|body| body.code.len())
            .sum();
        let mut local_uses = Vec::with_capacity(code_bytes / 32);
        for i in range {
            let func_index = module.num_imported_funcs + i as u32;
            let info = validator
                .validate(&cx, func_index, &module.code[i], &mut local_uses)
                .map_err(|e| e.in_func(func_index))?;
            funcs.push(info);
        }
        Ok((funcs, local_uses))
    })?;
    // The jobs' results one after another, each function's local uses
    // found at their new place.
    let mut parts = parts.into_iter();
    let (mut funcs, mut local_uses) = parts.next().unwrap_or_default();
    for (more_funcs, more_uses) in parts {
        // Every start in range below the new end, so none overflows.
        let base = local_uses.len() as u32;
        u32::try_from(local_uses.len() + more_uses.len())
            .map_err(|_| Error::from_kind(ErrorKind::Limit, "too many local uses"))?;
        funcs.extend(more_funcs.into_iter().map(|mut f| {
            f.local_uses_start += base;
            f
        }));
        local_uses.extend_from_slice(&more_uses);
    }
    let declared_funcs = cx.declared_funcs;
    Ok(ModuleInfo {
        spaces,
        funcs,
        local_uses,
        type_reps: reps,
        declared_funcs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{RefType, ValType};

    #[test]
    fn index_spaces_put_imports_first() {
        let bytes = wat::parse_str(
            r#"(module
                (type $v (func))
                (type $i (func (param i32)))
                (import "m" "g" (global i64))
                (import "m" "f" (func (type $v)))
                (import "m" "t" (table 1 funcref))
                (import "m" "mem" (memory 2 3))
                (func (export "f") (type $i))
                (table 4 externref)
                (global (mut f32) (f32.const 0))
                (func (type $v)))"#,
        )
        .unwrap();
        let module = Module::decode(&bytes).unwrap();
        let spaces = validate_module(&module).unwrap().spaces;
        assert_eq!(spaces.funcs, [0, 1, 0]);
        assert_eq!(
            spaces.tables.iter().map(|t| t.elem).collect::<Vec<_>>(),
            [RefType::FuncRef, RefType::ExternRef]
        );
        assert_eq!(spaces.memories.len(), 1);
        assert_eq!(spaces.memories[0].limits.min, 2);
        assert_eq!(
            spaces
                .globals
                .iter()
                .map(|g| (g.content, g.mutable))
                .collect::<Vec<_>>(),
            [(ValType::I64, false), (ValType::F32, true)]
        );
    }

    #[test]
    fn stack_maxima_count_values_pushed_below_an_earlier_height() {
        // An integer and two floats reach height 3 first; the two
        // integers pushed after reach only height 3 again, which must
        // still raise the count of integer values from 1 to 3. Floats then
        // raise the height alone.
        let bytes = wat::parse_str(
            r#"(module
                (func
                    i32.const 1
                    f32.const 0 f32.const 0 drop drop
                    i32.const 2 i32.const 3
                    drop drop drop
                    f64.const 0 f64.const 0 f64.const 0 f64.const 0
                    drop drop drop drop))"#,
        )
        .unwrap();
        let module = Module::decode(&bytes).unwrap();
        let info = validate_module(&module).unwrap().funcs[0];
        assert_eq!(info.max_stack_height, 4);
        assert_eq!(info.max_gpr_stack_height, 3);
    }

    #[test]
    fn errors_carry_the_offset_of_the_failing_instruction() {
        // The second function's `i32.add` (0x6a) of an i64 fails; the
        // first function moves the body away from the code section's
        // start.
        let bytes = wat::parse_str(
            r#"(module
                (func (local i32) local.get 0 drop)
                (func i32.const 1 i64.const 2 i32.add drop))"#,
        )
        .unwrap();
        let at = bytes
            .windows(5)
            .position(|w| w == [0x41, 0x01, 0x42, 0x02, 0x6a])
            .unwrap()
            + 4;
        let module = Module::decode(&bytes).unwrap();
        let err = validate_module(&module).unwrap_err();
        assert_eq!(err.message(), "type mismatch: expected i32, found i64");
        assert_eq!(err.offset(), Some(at));
        // An unknown local, found by a rule of its own.
        let bytes = wat::parse_str("(module (func nop nop local.get 3 drop))").unwrap();
        let at = bytes.windows(2).position(|w| w == [0x20, 0x03]).unwrap();
        let err = validate_module(&Module::decode(&bytes).unwrap()).unwrap_err();
        assert!(err.message().starts_with("unknown local"), "{err}");
        assert_eq!(err.offset(), Some(at));
    }

    #[test]
    fn locals_are_noted_as_written_first_and_weighted() {
        // Local 1's first use is a write no jump can skip; local 2's
        // comes after a branch to the end of the block around it; local
        // 1 is then read and written in a loop (weight 8 each); local 4
        // is written after the block closed, but read before; locals 0
        // and 3 are never used.
        let bytes = wat::parse_str(
            r#"(module
                (func (param i32) (local i32 i64 f32 i32)
                    i32.const 1 local.set 1
                    block
                        i32.const 0 br_if 0
                        i64.const 2 local.set 2
                    end
                    loop
                        local.get 1 local.tee 1 drop
                    end
                    local.get 4 local.set 4))"#,
        )
        .unwrap();
        let module = Module::decode(&bytes).unwrap();
        let info = validate_module(&module).unwrap();
        let f = info.funcs[0];
        assert_eq!(f.written_locals, 0b10110);
        assert_eq!(f.defined_before_read, 0b00010);
        assert_eq!(info.local_uses(0), [(1, 17), (2, 1), (4, 2)]);
    }
}
