//! [`Instance`]: instantiation (WebAssembly 2.0 semantics) and exports.
//!
//! Instantiation checks the imports (count, kinds, types: functions by
//! exact type, tables and memories by index type (a table64 table or
//! 64-bit memory matches only its kind) and limits subtyping against their
//! current size, globals by type and mutability), creates the module's
//! memories, tables and globals, builds the `VmContext`, then applies the
//! active element and data segments in order — an out-of-bounds segment
//! fails instantiation with the trap, and the writes of earlier segments
//! stay, as the specification requires — and runs the start function.
//!
//! An imported host function is entered through a copy of its `VmFuncRef`
//! whose `vmctx` is the importing instance's context: the host-call stub
//! only reads `exec` from it, and the runtime learns from it which instance
//! called (for [`Caller::get_export`](super::Caller::get_export)).

use super::engine::Engine;
use super::engine::canonical;
use super::externals::Extern;
use super::func::{Func, TypedFunc, WasmParams, WasmResults};
use super::global::Global;
use super::memory::Memory;
use super::module::{ExternType, Module};
use super::store::{
    AsContext, AsContextMut, FuncData, FuncKind, InstanceData, StoreInner, new_vmctx,
};
use super::table::Table;
use crate::abi::{TrapCode, VmContext, VmFuncRef, VmMemory, VmTable};
use crate::decode::{
    self, ConstExpr, DataKind, ElementItems, ElementKind, ExternKind, GlobalType, Limits, Operator,
    TableType, ValType, read_operator,
};
use crate::error::{Error, Result};
use crate::validate::subtype::val_subtype;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

/// An instance of a module in a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Instance {
    pub(crate) store: u64,
    pub(crate) index: u32,
}

impl Instance {
    /// Instantiates `module` with `imports` (one per import, in order) and
    /// runs its start function.
    pub fn new(
        mut store: impl AsContextMut,
        module: &Module,
        imports: &[Extern],
    ) -> Result<Instance> {
        let store = store.as_context_mut().0;
        let (inner, limiter) = store.inner_and_limiter();
        let mark = inner.mark();
        let (index, start) = inner.instantiate(module, imports, limiter)?;
        let instance = Instance {
            store: store.inner.id,
            index,
        };
        if let Some(start) = start
            && let Err(e) = start.call(&mut *store, &[], &mut [])
        {
            // Without imports the start function cannot have handed
            // anything of the instance out (no host function, no shared
            // table or global): it is undone. Otherwise it stays, and
            // counts against the instance limit like any other.
            if module.inner.imports.is_empty() {
                let (inner, limiter) = store.inner_and_limiter();
                inner.roll_back(mark, limiter);
            }
            return Err(e);
        }
        Ok(instance)
    }

    /// The export called `name`.
    pub fn get_export(&self, store: impl AsContext, name: &str) -> Option<Extern> {
        let inner = &store.as_context().inner;
        let data = inner.instance_data(self.store, self.index).ok()?;
        data.export(name)
    }

    /// All exports, in order.
    pub fn exports(&self, store: impl AsContext) -> Vec<(String, Extern)> {
        let inner = &store.as_context().inner;
        inner
            .instance_data(self.store, self.index)
            .map(|d| d.exports.clone())
            .unwrap_or_default()
    }

    /// The exported function `name`.
    pub fn get_func(&self, store: impl AsContext, name: &str) -> Option<Func> {
        self.get_export(store, name)?.into_func()
    }

    /// The exported function `name`, typed.
    pub fn get_typed_func<Params: WasmParams, Results: WasmResults>(
        &self,
        store: impl AsContext,
        name: &str,
    ) -> Result<TypedFunc<Params, Results>> {
        let store = store.as_context();
        let func = self.get_func(store, name).ok_or_else(|| {
            Error::runtime("unknown export").with_detail(format_args!("no function `{name}`"))
        })?;
        func.typed(store)
    }

    /// The exported memory `name`.
    pub fn get_memory(&self, store: impl AsContext, name: &str) -> Option<Memory> {
        self.get_export(store, name)?.into_memory()
    }

    /// The exported global `name`.
    pub fn get_global(&self, store: impl AsContext, name: &str) -> Option<Global> {
        self.get_export(store, name)?.into_global()
    }

    /// The exported table `name`.
    pub fn get_table(&self, store: impl AsContext, name: &str) -> Option<Table> {
        self.get_export(store, name)?.into_table()
    }
}

/// A shorter-lived copy of an optional limiter (for one call in a loop).
fn reborrow<'a>(
    limiter: &'a mut Option<&mut dyn super::limits::ResourceLimiter>,
) -> Option<&'a mut dyn super::limits::ResourceLimiter> {
    match limiter {
        Some(l) => Some(&mut **l),
        None => None,
    }
}

/// `actual` (an import's current limits) matches `declared` (what the
/// module asks for).
fn limits_match(actual: Limits, declared: Limits) -> bool {
    actual.min >= declared.min
        && match declared.max {
            None => true,
            Some(dmax) => actual.max.is_some_and(|amax| amax <= dmax),
        }
}

/// Evaluates a constant expression to its raw value.
///
/// Validation checked its types, so it is run on a stack of raw values:
/// extended-const's `i32/i64.add/sub/mul` wrap, on the low 32 bits for
/// `i32` (whose raw value is its bits, zero-extended).
pub(crate) fn eval_const(
    expr: &ConstExpr<'_>,
    funcrefs: &[VmFuncRef],
    global: &dyn Fn(u32) -> Option<u128>,
) -> Result<u128> {
    let mut r = expr.reader();
    let mut stack: Vec<u128> = Vec::new();
    let operands = |stack: &mut Vec<u128>| match (stack.pop(), stack.pop()) {
        (Some(b), Some(a)) => Ok((a, b)),
        _ => Err(Error::instantiation("constant expression: missing operand")),
    };
    // The extended-const operators: wrapping arithmetic on the top two.
    let i32_op = |stack: &mut Vec<u128>, f: fn(u32, u32) -> u32| {
        operands(stack).map(|(a, b)| f(a as u32, b as u32) as u128)
    };
    let i64_op = |stack: &mut Vec<u128>, f: fn(u64, u64) -> u64| {
        operands(stack).map(|(a, b)| f(a as u64, b as u64) as u128)
    };
    loop {
        let v = match read_operator(&mut r)? {
            Operator::I32Add => i32_op(&mut stack, u32::wrapping_add)?,
            Operator::I32Sub => i32_op(&mut stack, u32::wrapping_sub)?,
            Operator::I32Mul => i32_op(&mut stack, u32::wrapping_mul)?,
            Operator::I64Add => i64_op(&mut stack, u64::wrapping_add)?,
            Operator::I64Sub => i64_op(&mut stack, u64::wrapping_sub)?,
            Operator::I64Mul => i64_op(&mut stack, u64::wrapping_mul)?,
            Operator::I32Const { value } => value as u32 as u128,
            Operator::I64Const { value } => value as u64 as u128,
            Operator::F32Const { value } => value.0 as u128,
            Operator::F64Const { value } => value.0 as u128,
            Operator::V128Const { value } => u128::from_le_bytes(value.0),
            Operator::RefNull { .. } => 0,
            Operator::RefFunc { function_index } => funcrefs
                .get(function_index as usize)
                .map(|f| f as *const VmFuncRef as usize as u128)
                .ok_or_else(|| {
                    Error::instantiation("unknown function").with_index(function_index)
                })?,
            Operator::GlobalGet { global_index } => global(global_index)
                .ok_or_else(|| Error::instantiation("unknown global").with_index(global_index))?,
            Operator::End => break,
            _ => return Err(Error::instantiation("constant expression required")),
        };
        stack.push(v);
    }
    match stack[..] {
        [v] => Ok(v),
        _ => Err(Error::instantiation(
            "constant expression must produce one value",
        )),
    }
}

/// How much a store held before an instantiation began.
#[derive(Clone, Copy)]
pub(crate) struct Mark {
    funcs: usize,
    memories: usize,
    tables: usize,
    globals: usize,
    tags: usize,
    instances: usize,
}

impl StoreInner {
    /// Everything of instantiation but the start function; returns the new
    /// instance's index and its start function.
    ///
    /// A failed instantiation leaves nothing in the store (so it counts
    /// against no limit) unless an active element segment wrote the new
    /// instance's references into an imported table before a later segment
    /// failed: the table may be reached from other instances, so the
    /// instance stays, and counts against the instance limit as its
    /// memories and tables count against theirs; failing instantiations
    /// cannot fill a store beyond its limits. The same holds for a start
    /// function that fails in a module with imports ([`Instance::new`]).
    pub(crate) fn instantiate(
        &mut self,
        module: &Module,
        imports: &[Extern],
        mut limiter: Option<&mut dyn super::limits::ResourceLimiter>,
    ) -> Result<(u32, Option<Func>)> {
        let mark = self.mark();
        let mut escaped = false;
        match self.instantiate_at(module, imports, reborrow(&mut limiter), mark, &mut escaped) {
            Ok(r) => Ok(r),
            Err(e) => {
                if !escaped {
                    self.roll_back(mark, limiter);
                }
                Err(e)
            }
        }
    }

    /// What the store holds now, for [`Self::roll_back`].
    pub(crate) fn mark(&self) -> Mark {
        Mark {
            funcs: self.funcs.len(),
            memories: self.memories.len(),
            tables: self.tables.len(),
            globals: self.globals.len(),
            tags: self.tags.len(),
            instances: self.instances.len(),
        }
    }

    /// Removes everything created since `mark` (nothing of it is reachable
    /// from outside), and gives the memories' bytes back to `limiter`.
    pub(crate) fn roll_back(
        &mut self,
        mark: Mark,
        mut limiter: Option<&mut dyn super::limits::ResourceLimiter>,
    ) {
        for inst in self.instances.drain(mark.instances..) {
            self.vmctx_map
                .remove(&(&*inst.vmctx as *const VmContext as usize));
            for r in inst.funcrefs.iter() {
                self.funcref_map.remove(&(r as *const VmFuncRef as usize));
            }
            // It was the last user added to its memory 0 and table 0.
            let index = mark.instances as u32;
            if let Some(m) = inst
                .memories
                .first()
                .and_then(|&m| self.memories.get_mut(m as usize))
                && m.users.last() == Some(&index)
            {
                m.users.pop();
            }
            if let Some(t) = inst
                .tables
                .first()
                .and_then(|&t| self.tables.get_mut(t as usize))
                && t.users.last() == Some(&index)
            {
                t.users.pop();
            }
        }
        for f in self.funcs.drain(mark.funcs..) {
            self.funcref_map.remove(&(f.funcref as usize));
        }
        for m in self.memories.drain(mark.memories..) {
            if let Some(l) = limiter.as_deref_mut() {
                l.memory_released(m.bytes.len());
            }
        }
        self.tables.truncate(mark.tables);
        self.globals.truncate(mark.globals);
        self.tags.truncate(mark.tags);
    }

    /// [`Self::instantiate`] up to the failure, if any; sets `escaped`
    /// when the new instance's references reach an imported table.
    fn instantiate_at(
        &mut self,
        module: &Module,
        imports: &[Extern],
        mut limiter: Option<&mut dyn super::limits::ResourceLimiter>,
        mark: Mark,
        escaped: &mut bool,
    ) -> Result<(u32, Option<Func>)> {
        let module = module.clone();
        let m = &*module.inner;
        if !Engine::same(&m.engine, &self.engine) {
            return Err(Error::instantiation(
                "the module and the store belong to different engines",
            ));
        }
        if imports.len() != m.imports.len() {
            return Err(
                Error::link("wrong number of imports").with_detail(format_args!(
                    "the module needs {}, {} given",
                    m.imports.len(),
                    imports.len()
                )),
            );
        }
        let mut funcs: Vec<u32> = Vec::with_capacity(m.func_types.len());
        let mut memories = Vec::new();
        let mut tables = Vec::new();
        let mut globals = Vec::new();
        let mut tags = Vec::new();
        for (imp, ext) in m.imports.iter().zip(imports) {
            let found = ext.ty_in(self);
            let canon = |t: ValType| canonical(t, &m.type_ids);
            let ok = match (&imp.ty, ext, &found) {
                // Function types compare by their engine ids, which are
                // equal exactly for equivalent types (every type is final:
                // a subtype of no other function type).
                (ExternType::Func(_), Extern::Func(f), Some(ExternType::Func(_))) => {
                    let want = m
                        .func_types
                        .get(funcs.len())
                        .and_then(|&t| m.type_ids.get(t as usize))
                        .copied();
                    let have = self.func_data(*f).ok().map(|d| {
                        // SAFETY: `d.funcref` is a registered `VmFuncRef`
                        // of this store, alive as long as the store.
                        unsafe { (*d.funcref).type_id }
                    });
                    want.is_some() && want == have && {
                        funcs.push(f.index);
                        true
                    }
                }
                // Table element types must be equal (tables are mutable),
                // in the canonical form the store keeps.
                (ExternType::Table(want), Extern::Table(t), Some(ExternType::Table(have))) => {
                    canon(want.elem.into()) == ValType::Ref(have.elem)
                        && want.table64 == have.table64
                        && limits_match(have.limits, want.limits)
                        && {
                            tables.push(t.index);
                            true
                        }
                }
                (ExternType::Memory(want), Extern::Memory(mem), Some(ExternType::Memory(have))) => {
                    want.memory64 == have.memory64
                        && want.page_size_log2() == have.page_size_log2()
                        && limits_match(have.limits, want.limits)
                        && {
                            memories.push(mem.index);
                            true
                        }
                }
                // An immutable global may have a subtype of the declared
                // type; a mutable one must have the type.
                (ExternType::Global(want), Extern::Global(g), Some(ExternType::Global(have))) => {
                    let content = canon(want.content);
                    want.mutable == have.mutable
                        && if want.mutable {
                            content == have.content
                        } else {
                            val_subtype(have.content, content, |a, b| a == b)
                        }
                        && {
                            globals.push(g.index);
                            true
                        }
                }
                // Tag types compare by their engine ids, as function types.
                (ExternType::Tag(_), Extern::Tag(t), Some(ExternType::Tag(_))) => {
                    let want = m
                        .tags
                        .get(tags.len())
                        .and_then(|&t| m.type_ids.get(t as usize))
                        .copied();
                    let have = self.tag_data(*t).ok().map(|d| d.type_id);
                    want.is_some() && want == have && {
                        tags.push(t.index);
                        true
                    }
                }
                _ => false,
            };
            if !ok {
                let found = match &found {
                    Some(t) => alloc::format!("{} {t:?}", t.kind_name()),
                    None => String::from("an item of another store"),
                };
                return Err(
                    Error::link("incompatible import type").with_detail(format_args!(
                        "`{}::{}` should be {} {:?}, found {found}",
                        imp.module,
                        imp.name,
                        imp.ty.kind_name(),
                        imp.ty
                    )),
                );
            }
        }

        if let Some(limiter) = limiter.as_deref_mut()
            && self.instances.len() >= limiter.instances()
        {
            return Err(Error::instantiation(
                "resource limit exceeded: too many instances in the store",
            )
            .with_detail(format_args!("the limit is {}", limiter.instances())));
        }
        let decoded = decode::Module::decode_retained(&m.bytes)?;
        let index = u32::try_from(self.instances.len())
            .ok()
            .filter(|&i| (i as usize) < crate::abi::NO_INSTANCE)
            .ok_or_else(|| Error::instantiation("too many instances in the store"))?;
        let mut vmctx = new_vmctx(&mut *self.exec);
        // The instance's code checks its frames against the store's stack
        // limit, which is fixed once the stack exists.
        vmctx.stack_limit = self.stack_limit()?;
        let vmctx_ptr: *mut VmContext = &mut *vmctx;

        // Function references: imports first (host functions re-pointed at
        // this instance's context), then the defined functions.
        let mut funcrefs = Vec::with_capacity(m.func_types.len());
        for &f in &funcs {
            let data = &self.funcs[f as usize];
            // SAFETY: `data.funcref` is a registered `VmFuncRef` of this
            // store, alive as long as the store.
            let mut r = unsafe { *data.funcref };
            if matches!(data.kind, FuncKind::Host { .. }) {
                r.vmctx = vmctx_ptr;
            }
            funcrefs.push(r);
        }
        let code_base = m.code.as_ref().map(|c| c.exec_ptr().as_ptr() as *const u8);
        for (i, &t) in decoded.functions.iter().enumerate() {
            let (Some(base), Some(&offset)) = (code_base, m.func_offsets.get(i)) else {
                return Err(
                    Error::instantiation("the module has no code for function").with_index(i)
                );
            };
            if offset as usize >= m.code.as_ref().map_or(0, |c| c.len()) {
                return Err(
                    Error::instantiation("function entry outside the module's code").with_index(i),
                );
            }
            funcrefs.push(VmFuncRef {
                // SAFETY: the offset was checked against the code's length.
                code: unsafe { base.add(offset as usize) },
                vmctx: vmctx_ptr,
                type_id: m.type_ids.get(t as usize).copied().unwrap_or(u32::MAX),
                host_index: u32::MAX,
            });
        }
        let funcrefs = funcrefs.into_boxed_slice();

        for &ty in &decoded.memories {
            memories.push(self.push_memory(ty, reborrow(&mut limiter))?.index);
        }
        // Tables keep their types in the canonical form (engine type ids),
        // and start filled with their initializer's value, else null.
        for (&ty, init) in decoded.tables.iter().zip(&decoded.table_inits) {
            let raw = match init {
                Some(init) => {
                    let lookup = |i: u32| {
                        globals
                            .get(i as usize)
                            .and_then(|&g| self.globals.get(g as usize))
                            .map(|g| g.get())
                    };
                    eval_const(init, &funcrefs, &lookup)? as usize
                }
                None => 0,
            };
            let elem = canonical(ty.elem.into(), &m.type_ids)
                .ref_type()
                .unwrap_or(ty.elem);
            let ty = TableType { elem, ..ty };
            tables.push(self.push_table(ty, raw, reborrow(&mut limiter))?.index);
        }
        for g in &decoded.globals {
            let raw = {
                let lookup = |i: u32| {
                    globals
                        .get(i as usize)
                        .and_then(|&g| self.globals.get(g as usize))
                        .map(|g| g.get())
                };
                eval_const(&g.init, &funcrefs, &lookup)?
            };
            let ty = GlobalType {
                content: canonical(g.ty.content, &m.type_ids),
                ..g.ty
            };
            globals.push(self.push_global(ty, raw).index);
        }
        for &t in &m.tags[tags.len()..] {
            let ty = alloc::sync::Arc::new(
                m.types
                    .get(t as usize)
                    .cloned()
                    .ok_or_else(|| Error::instantiation("unknown type").with_index(t))?,
            );
            let type_id = m.type_ids.get(t as usize).copied().unwrap_or(u32::MAX);
            tags.push(self.push_tag(ty, type_id).index);
        }
        // The functions are registered last: nothing above can fail after
        // a key pointing into `funcrefs` is in `funcref_map` (a failure
        // after this point leaves `funcrefs` in the pushed instance, where
        // `roll_back` finds the keys).
        let num_imported = funcs.len();
        for (i, r) in funcrefs.iter().enumerate().skip(num_imported) {
            let f = self.push_func(FuncData {
                ty: alloc::sync::Arc::new(m.func_type(i as u32)),
                funcref: r,
                kind: FuncKind::Wasm,
            })?;
            funcs.push(f.index);
        }
        for (i, &f) in funcs.iter().take(num_imported).enumerate() {
            self.funcref_map
                .insert(&funcrefs[i] as *const VmFuncRef as usize, f);
        }

        let global_ptrs: Vec<*mut u128> = globals
            .iter()
            .map(|&g| self.globals[g as usize].cell.get())
            .collect();
        let table_ptrs: Vec<*mut VmTable> = tables
            .iter()
            .map(|&t| &mut *self.tables[t as usize].vm as *mut VmTable)
            .collect();
        let memory_ptrs: Vec<*mut VmMemory> = memories
            .iter()
            .map(|&m| &mut *self.memories[m as usize].vm as *mut VmMemory)
            .collect();
        let (global_ptrs, table_ptrs, memory_ptrs) = (
            global_ptrs.into_boxed_slice(),
            table_ptrs.into_boxed_slice(),
            memory_ptrs.into_boxed_slice(),
        );
        vmctx.funcs = funcrefs.as_ptr();
        vmctx.globals = global_ptrs.as_ptr();
        vmctx.tables = table_ptrs.as_ptr();
        vmctx.memories = memory_ptrs.as_ptr();
        vmctx.type_ids = m.type_ids.as_ptr();
        vmctx.instance = index as usize;
        if let Some(&m0) = memories.first() {
            self.memories[m0 as usize].users.push(index);
        }
        if let Some(&t0) = tables.first() {
            self.tables[t0 as usize].users.push(index);
        }

        let id = self.id;
        let exports = m
            .exports
            .iter()
            .filter_map(|e| {
                let i = e.index as usize;
                let ext = match e.kind {
                    ExternKind::Func => Extern::Func(Func {
                        store: id,
                        index: *funcs.get(i)?,
                    }),
                    ExternKind::Table => Extern::Table(Table {
                        store: id,
                        index: *tables.get(i)?,
                    }),
                    ExternKind::Memory => Extern::Memory(Memory {
                        store: id,
                        index: *memories.get(i)?,
                    }),
                    ExternKind::Global => Extern::Global(Global {
                        store: id,
                        index: *globals.get(i)?,
                    }),
                    ExternKind::Tag => Extern::Tag(super::tag::Tag {
                        store: id,
                        index: *tags.get(i)?,
                    }),
                };
                Some((e.name.clone(), ext))
            })
            .collect();
        let start = decoded
            .start
            .and_then(|(f, _)| funcs.get(f as usize))
            .map(|&index| Func { store: id, index });

        self.vmctx_map.insert(vmctx_ptr as usize, index);
        self.instances.push(InstanceData {
            _module: module.clone(),
            vmctx,
            funcrefs,
            _global_ptrs: global_ptrs,
            _table_ptrs: table_ptrs,
            _memory_ptrs: memory_ptrs,
            memories,
            tables,
            globals,
            tags,
            exports,
            dropped_elems: vec![false; decoded.elements.len()],
            dropped_data: vec![false; decoded.data.len()],
        });
        if let Some(&m0) = self.instances[index as usize].memories.first() {
            self.refresh_memory(m0);
        }
        if let Some(&t0) = self.instances[index as usize].tables.first() {
            self.refresh_table(t0);
        }
        self.apply_segments(index, &decoded, mark.tables, escaped)?;
        Ok((index, start))
    }

    /// Applies active element and data segments in order, and drops active
    /// and declared segments. Sets `escaped` when a segment writes into a
    /// table created before the instance (below `own_tables`).
    fn apply_segments(
        &mut self,
        index: u32,
        decoded: &decode::Module<'_>,
        own_tables: usize,
        escaped: &mut bool,
    ) -> Result<()> {
        for (i, seg) in decoded.elements.iter().enumerate() {
            match &seg.kind {
                ElementKind::Active { table, offset } => {
                    let (start, items) = {
                        let inst = &self.instances[index as usize];
                        let lookup = |g: u32| {
                            inst.globals
                                .get(g as usize)
                                .and_then(|&g| self.globals.get(g as usize))
                                .map(|g| g.get())
                        };
                        let start = eval_const(offset, &inst.funcrefs, &lookup)?;
                        let items: Vec<usize> = match &seg.items {
                            ElementItems::Functions(f) => f
                                .iter()
                                .map(|&f| {
                                    inst.funcrefs
                                        .get(f as usize)
                                        .map(|r| r as *const VmFuncRef as usize)
                                        .ok_or_else(|| {
                                            Error::instantiation("unknown function").with_index(f)
                                        })
                                })
                                .collect::<Result<_>>()?,
                            ElementItems::Exprs(e) => e
                                .iter()
                                .map(|e| eval_const(e, &inst.funcrefs, &lookup).map(|v| v as usize))
                                .collect::<Result<_>>()?,
                        };
                        (start, items)
                    };
                    let t = self.instances[index as usize]
                        .tables
                        .get(*table as usize)
                        .copied()
                        .ok_or_else(|| Error::instantiation("unknown table").with_index(*table))?;
                    let table = &mut self.tables[t as usize];
                    // An i64 offset for a table64 table, else an i32.
                    let start = if table.ty.table64 {
                        start as u64
                    } else {
                        u64::from(start as u32)
                    };
                    let dst = usize::try_from(start)
                        .ok()
                        .and_then(|start| Some(start..start.checked_add(items.len())?))
                        .and_then(|range| table.elements.get_mut(range))
                        .ok_or_else(|| Error::from_trap(TrapCode::TableOutOfBounds))?;
                    dst.copy_from_slice(&items);
                    if (t as usize) < own_tables && !items.is_empty() {
                        *escaped = true;
                    }
                    self.instances[index as usize].dropped_elems[i] = true;
                }
                ElementKind::Declared => self.instances[index as usize].dropped_elems[i] = true,
                ElementKind::Passive => {}
            }
        }
        for (i, seg) in decoded.data.iter().enumerate() {
            if let DataKind::Active { memory, offset } = &seg.kind {
                let inst = &self.instances[index as usize];
                let lookup = |g: u32| {
                    inst.globals
                        .get(g as usize)
                        .and_then(|&g| self.globals.get(g as usize))
                        .map(|g| g.get())
                };
                let raw = eval_const(offset, &inst.funcrefs, &lookup)?;
                let mem = inst
                    .memories
                    .get(*memory as usize)
                    .copied()
                    .ok_or_else(|| Error::instantiation("unknown memory").with_index(*memory))?;
                let data = &mut self.memories[mem as usize];
                // An i64 offset for a 64-bit memory, else an i32.
                let start = if data.ty.memory64 {
                    raw as u64
                } else {
                    u64::from(raw as u32)
                };
                let dst = usize::try_from(start)
                    .ok()
                    .and_then(|start| Some(start..start.checked_add(seg.data.len())?))
                    .and_then(|range| data.bytes.get_mut(range))
                    .ok_or_else(|| Error::from_trap(TrapCode::MemoryOutOfBounds))?;
                dst.copy_from_slice(seg.data);
                self.instances[index as usize].dropped_data[i] = true;
            }
        }
        Ok(())
    }
}
