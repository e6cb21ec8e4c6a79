//! [`Module`]: a decoded, validated and compiled module, ready to be
//! instantiated any number of times in stores of its engine.
//!
//! The module keeps its bytes without the function bodies and custom
//! sections ([`decode::retained_sections`]; the caller's bytes are not
//! copied whole, which for a large module cost a megabyte of copying and
//! page faults per compilation); instantiation decodes them again for the
//! segments and initializers (decoding is cheap next to compiling), while
//! types, imports and exports are kept as owned copies. `memory.init`
//! and `table.init` run far more often than instantiation, so where each
//! segment lies in the bytes is kept too.

use super::engine::Engine;
use crate::abi::FaultSite;
use crate::asm::x64::CpuFeatures;
use crate::code_memory::{CodeBlock, CodeMemoryError, PublishedCode};
#[cfg(feature = "compiler")]
use crate::compile::{Jobs, compile_module_into};
use crate::decode::{
    self, ElementItems, ExternKind, FuncType, GlobalType, ImportKind, MemoryType, TableType,
};
use crate::error::{Error, ErrorKind, Result};
use crate::validate::Features;
#[cfg(feature = "compiler")]
use crate::validate::{validate_module_on, validate_module_with};
use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::ops::Range;
use hashbrown::HashMap;

/// The type of an import or export.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExternType {
    /// A function.
    Func(FuncType),
    /// A global.
    Global(GlobalType),
    /// A table.
    Table(TableType),
    /// A linear memory.
    Memory(MemoryType),
    /// A tag (exception handling).
    Tag(super::tag::TagType),
}

impl ExternType {
    /// The function type, if this is a function.
    pub fn func(&self) -> Option<&FuncType> {
        match self {
            ExternType::Func(t) => Some(t),
            _ => None,
        }
    }

    /// The global type, if this is a global.
    pub fn global(&self) -> Option<&GlobalType> {
        match self {
            ExternType::Global(t) => Some(t),
            _ => None,
        }
    }

    /// The table type, if this is a table.
    pub fn table(&self) -> Option<&TableType> {
        match self {
            ExternType::Table(t) => Some(t),
            _ => None,
        }
    }

    /// The memory type, if this is a memory.
    pub fn memory(&self) -> Option<&MemoryType> {
        match self {
            ExternType::Memory(t) => Some(t),
            _ => None,
        }
    }

    pub(crate) fn kind_name(&self) -> &'static str {
        match self {
            ExternType::Func(_) => "function",
            ExternType::Global(_) => "global",
            ExternType::Table(_) => "table",
            ExternType::Memory(_) => "memory",
            ExternType::Tag(_) => "tag",
        }
    }
}

/// One import of a module.
#[derive(Clone, Debug)]
pub struct ImportType<'m> {
    module: &'m str,
    name: &'m str,
    ty: ExternType,
}

impl<'m> ImportType<'m> {
    /// The module name.
    pub fn module(&self) -> &'m str {
        self.module
    }
    /// The item name.
    pub fn name(&self) -> &'m str {
        self.name
    }
    /// The expected type.
    pub fn ty(&self) -> ExternType {
        self.ty.clone()
    }
}

/// One export of a module.
#[derive(Clone, Debug)]
pub struct ExportType<'m> {
    name: &'m str,
    ty: ExternType,
}

impl<'m> ExportType<'m> {
    /// The exported name.
    pub fn name(&self) -> &'m str {
        self.name
    }
    /// The exported item's type.
    pub fn ty(&self) -> ExternType {
        self.ty.clone()
    }
}

pub(crate) struct ModuleImport {
    pub module: String,
    pub name: String,
    pub ty: ExternType,
}

pub(crate) struct ModuleExport {
    pub name: String,
    pub kind: ExternKind,
    pub index: u32,
}

/// An element segment's items, for `table.init`.
pub(crate) enum ElemItems {
    /// Function indices.
    Functions(Box<[u32]>),
    /// Where each constant expression (its `end` included) lies in the
    /// module's bytes.
    Exprs(Box<[Range<usize>]>),
}

pub(crate) struct ModuleInner {
    pub engine: Engine,
    /// What instantiation decodes again: the module's sections but code
    /// and custom ones ([`decode::retained_sections`]).
    pub bytes: Arc<[u8]>,
    pub code: Option<PublishedCode>,
    pub func_offsets: Vec<u32>,
    /// `CompiledModule::func_layout`: which function a code address is in.
    pub func_layout: Vec<(u32, u32)>,
    /// Backtrace sites: (code offset of a return address, module offset).
    pub sites: Vec<(u32, u32)>,
    /// Guard-region mode: code ranges whose loads and stores may fault.
    pub fault_sites: Vec<FaultSite>,
    /// Where the code holds a type's engine-wide id (see [`Parts`]), kept
    /// for serializing.
    pub type_id_sites: Vec<(u32, u32)>,
    /// The `try_table` catch clauses (`abi`, "Exceptions").
    pub handlers: Vec<crate::abi::HandlerSite>,
    /// Each defined function's `abi::UnwindInfo`.
    pub unwind: Vec<crate::abi::UnwindInfo>,
    /// Type index of every tag, imports first.
    pub tags: Vec<u32>,
    /// Code offset of the out-of-bounds trap stub.
    pub out_of_bounds_stub: u32,
    /// Function names from the `name` section, sorted by index.
    pub func_names: Vec<(u32, String)>,
    /// Number of imported functions.
    pub num_imported_funcs: u32,
    pub types: Vec<FuncType>,
    /// Engine-wide id of each type index, registered while the module
    /// lives.
    pub type_ids: super::engine::TypeIds,
    /// Type index of every function, imports first.
    pub func_types: Vec<u32>,
    pub tables: Vec<TableType>,
    pub memories: Vec<MemoryType>,
    pub globals: Vec<GlobalType>,
    pub imports: Vec<ModuleImport>,
    pub exports: Vec<ModuleExport>,
    /// Position of each export in `exports` by name (names are unique), so
    /// that looking all of a module's exports up is linear.
    pub export_index: HashMap<String, u32>,
    /// Where each data segment's bytes lie in `bytes`.
    pub data_segments: Box<[Range<usize>]>,
    /// Each element segment's items.
    pub elem_segments: Box<[ElemItems]>,
    /// The CPU features the code uses.
    pub cpu: CpuFeatures,
    /// The features beyond WebAssembly 2.0 the module was validated with.
    pub features: Features,
}

/// A module's machine code and the tables that describe it: what the
/// compiler produced, or what a serialized module holds
/// ([`super::serialize`]). [`Module::from_parts`] checks them against
/// each other and against the module's retained sections.
pub(crate) struct Parts<'c> {
    /// The code: `(offset, bytes)` of its pieces, ascending and disjoint,
    /// the first at 0; the gaps between them are filled with `int3`.
    pub code: &'c [(usize, &'c [u8])],
    pub func_offsets: Vec<u32>,
    pub func_layout: Vec<(u32, u32)>,
    pub sites: Vec<(u32, u32)>,
    pub fault_sites: Vec<FaultSite>,
    pub out_of_bounds_stub: u32,
    /// Where the code compares with a type's engine-wide id: (immediate
    /// offset, type index), ascending; written when the code is loaded.
    pub type_id_sites: Vec<(u32, u32)>,
    /// Catch clauses and each function's unwind information.
    pub handlers: Vec<crate::abi::HandlerSite>,
    pub unwind: Vec<crate::abi::UnwindInfo>,
    pub func_names: Vec<(u32, String)>,
    pub cpu: CpuFeatures,
    pub features: Features,
}

/// Writes the pieces of the code (see [`Parts::code`]) into `block`, the
/// gaps between them `int3`. Several pieces are the chunks of the threads
/// that compiled them: with parallel compilation, they are copied on the
/// engine's compiling threads too, a piece each (a copy of megabytes is
/// a large part of what the threads do not share otherwise).
fn write_code(
    engine: &Engine,
    block: &mut CodeBlock,
    pieces: &[(usize, &[u8])],
) -> core::result::Result<(), CodeMemoryError> {
    let block_len = block.len();
    let dest = block.as_mut_slice().ok_or(CodeMemoryError::Published)?;
    // Each piece with the gap before it: disjoint parts of `dest`.
    let mut spans = Vec::with_capacity(pieces.len());
    let (mut rest, mut at) = (dest, 0usize);
    for &(base, bytes) in pieces {
        let out_of_bounds = CodeMemoryError::OutOfBounds {
            offset: base,
            len: bytes.len(),
            block_len,
        };
        let end = base.checked_add(bytes.len()).ok_or(out_of_bounds.clone())?;
        if base < at || end - at > rest.len() {
            return Err(out_of_bounds);
        }
        let (span, tail) = core::mem::take(&mut rest).split_at_mut(end - at);
        spans.push((span, base - at, bytes));
        (rest, at) = (tail, end);
    }
    let fill = |(span, gap, bytes): (&mut [u8], usize, &[u8])| {
        let (padding, code) = span.split_at_mut(gap);
        padding.fill(0xcc);
        code.copy_from_slice(bytes);
    };
    #[cfg(feature = "compiler")]
    if spans.len() > 1 && !engine.inner.options.sequential {
        let spans: Vec<_> = spans
            .into_iter()
            .map(|s| spin::Mutex::new(Some(s)))
            .collect();
        // The jobs cannot fail.
        let _ = crate::platform::run_jobs(engine.inner.compile_platform(), spans.len(), |k| {
            if let Some(span) = spans[k].lock().take() {
                fill(span);
            }
            Ok(())
        });
        // A span whose job did not run (its thread panicked before taking
        // it) is this thread's.
        spans
            .into_iter()
            .filter_map(|s| s.into_inner())
            .for_each(fill);
        return Ok(());
    }
    #[cfg(not(feature = "compiler"))]
    let _ = engine;
    spans.into_iter().for_each(fill);
    Ok(())
}

/// A compiled WebAssembly module. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Module {
    pub(crate) inner: Arc<ModuleInner>,
}

impl fmt::Debug for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Module")
            .field("imports", &self.inner.imports.len())
            .field("exports", &self.inner.exports.len())
            .finish()
    }
}

/// An unloaded module's backtrace-site table serves its engine's next
/// compilation (see `EngineInner::give_sites`).
#[cfg(feature = "compiler")]
impl Drop for ModuleInner {
    fn drop(&mut self) {
        self.engine
            .inner
            .give_sites(core::mem::take(&mut self.sites));
    }
}

impl ModuleInner {
    /// The frame executing at code address `pc` (a return address) if it
    /// lies in this module's code: (function index, module offset, name).
    pub(crate) fn frame_at(&self, pc: usize) -> Option<crate::error::FrameInfo> {
        let offset = self.code_offset(pc)?;
        let site = self
            .sites
            .binary_search_by_key(&offset, |&(native, _)| native)
            .ok()?;
        self.frame_info(offset, self.sites[site].1)
    }

    /// If the byte at `pc` is code of a function that runs without a frame
    /// ([`crate::abi::UNWIND_FRAMELESS`]), how many registers it pushed
    /// above its return address. `pc` is an instruction's address (a
    /// faulting access's, which may be the function's first), or a return
    /// address minus 1 (a call's return address may be the function's end).
    pub(crate) fn frameless_at(&self, pc: usize) -> Option<usize> {
        let offset = self.code_offset(pc)?;
        let at = self
            .func_layout
            .partition_point(|&(start, _)| start <= offset)
            .checked_sub(1)?;
        let func = self.func_layout[at].1 as usize;
        let info = *self.unwind.get(func)?;
        let pushed = crate::abi::PIN_GPR_ENCODINGS
            .iter()
            .filter(|&&enc| info & (1 << enc) != 0)
            .count();
        (info & crate::abi::UNWIND_FRAMELESS != 0).then_some(pushed)
    }

    /// The offset of `pc` in this module's code, if it lies there (a
    /// return address may be the very end of the code).
    fn code_offset(&self, pc: usize) -> Option<u32> {
        let code = self.code.as_ref()?;
        let base = code.exec_ptr().as_ptr() as usize;
        let offset = u32::try_from(pc.checked_sub(base)?).ok()?;
        (offset as usize <= code.len()).then_some(offset)
    }

    /// The fault site containing code address `pc`, if any: `pc`'s offset
    /// in the code and the site's module offset.
    fn fault_site(&self, pc: usize) -> Option<(u32, u32)> {
        let offset = self.code_offset(pc)?;
        let i = self
            .fault_sites
            .partition_point(|s| s.start <= offset)
            .checked_sub(1)?;
        let site = self.fault_sites[i];
        (offset < site.end).then_some((offset, site.wasm_offset))
    }

    /// Where a fault of the load or store at `pc` continues (the
    /// out-of-bounds trap stub), if `pc` is one of this module's.
    pub(crate) fn fault_landing(&self, pc: usize) -> Option<usize> {
        let (offset, _) = self.fault_site(pc)?;
        Some(pc - offset as usize + self.out_of_bounds_stub as usize)
    }

    /// The frame of the faulting load or store at `pc` (the innermost frame
    /// of a guard-region trap).
    pub(crate) fn fault_frame_at(&self, pc: usize) -> Option<crate::error::FrameInfo> {
        let (offset, module_offset) = self.fault_site(pc)?;
        self.frame_info(offset, module_offset)
    }

    fn frame_info(&self, offset: u32, module_offset: u32) -> Option<crate::error::FrameInfo> {
        // The function whose code contains the address.
        let at = self
            .func_layout
            .partition_point(|&(start, _)| start <= offset)
            .checked_sub(1)?;
        let func_index = self.num_imported_funcs + self.func_layout[at].1;
        let func_name = self
            .func_names
            .binary_search_by_key(&func_index, |(i, _)| *i)
            .ok()
            .map(|i| self.func_names[i].1.clone());
        Some(crate::error::FrameInfo {
            func_index,
            func_name,
            module_offset,
        })
    }
}

impl Module {
    /// Decodes and validates a binary module with the features `engine`
    /// accepts ([`Config`](super::Config)'s `wasm_*` switches), without
    /// compiling it.
    ///
    /// ```
    /// use wasmkern::{Config, Engine, Module};
    ///
    /// // `i32.add` in a global's initializer (extended-const).
    /// let wasm = wat::parse_str(
    ///     "(module (global i32 (i32.add (i32.const 1) (i32.const 2))))",
    /// )
    /// .unwrap();
    /// assert!(Module::validate(&Engine::default(), &wasm).is_ok());
    /// let wasm2 = Engine::new(Config::new().wasm_extended_const(false))?;
    /// assert!(Module::validate(&wasm2, &wasm).is_err());
    /// # Ok::<(), wasmkern::Error>(())
    /// ```
    #[cfg(feature = "compiler")]
    pub fn validate(engine: &Engine, bytes: &[u8]) -> Result<()> {
        let features = &engine.inner.features;
        let module = decode::Module::decode_with(bytes, features.encodings())?;
        validate_module_with(&module, features)?;
        Ok(())
    }

    /// Decodes, validates and compiles a binary module.
    ///
    /// ```
    /// use wasmkern::{Engine, Module};
    ///
    /// let engine = Engine::default();
    /// let module = Module::new(&engine, b"\0asm\x01\0\0\0")?;
    /// assert_eq!(module.exports().count(), 0);
    /// // Errors carry the specification's wording and the offset.
    /// let err = Module::new(&engine, b"\0asm\x01\0\0\0\x0b\x01").unwrap_err();
    /// assert_eq!(err.message(), "length out of bounds");
    /// assert_eq!(err.offset(), Some(9));
    /// # Ok::<(), wasmkern::Error>(())
    /// ```
    #[cfg(feature = "compiler")]
    pub fn new(engine: &Engine, bytes: impl AsRef<[u8]>) -> Result<Module> {
        let bytes = bytes.as_ref();
        #[cfg(feature = "std")]
        if let Some(dir) = &engine.inner.cache_dir {
            let path = super::cache::path(dir, engine, bytes);
            if let Some(module) = super::cache::load(engine, &path) {
                return Ok(module);
            }
            let module = Module::compile(engine, bytes)?;
            // Best-effort: the module is there whether or not it is kept.
            let _ = super::cache::store(&module, &path);
            return Ok(module);
        }
        Module::compile(engine, bytes)
    }

    /// [`Module::new`] without the cache.
    #[cfg(feature = "compiler")]
    fn compile(engine: &Engine, bytes: &[u8]) -> Result<Module> {
        let features = &engine.inner.features;
        let module = decode::Module::decode_with(bytes, features.encodings())?;
        // The function bodies are validated on the threads that compile
        // them next.
        let info = validate_module_on(
            &module,
            features,
            engine.inner.compile_platform(),
            !engine.inner.options.sequential,
        )?;
        let spares = core::mem::take(&mut *engine.inner.spare_code.lock());
        let sites = core::mem::take(&mut *engine.inner.spare_sites.lock());
        // The module's function names and the sections instantiation
        // decodes again (the function bodies are no longer needed after
        // compiling): made while the compiling threads finish.
        let beside = spin::Mutex::new(None);
        let linked = compile_module_into(
            &module,
            &info,
            &engine.inner.cpu,
            &engine.inner.options,
            Jobs {
                platform: engine.inner.compile_platform(),
                buffers: spares,
                sites,
                pool: &engine.inner.scratch,
                beside: &|| {
                    let func_names: Vec<(u32, String)> = module
                        .names
                        .functions
                        .iter()
                        .map(|&(i, n)| (i, n.to_string()))
                        .collect();
                    let retained = decode::retained_sections(bytes).map(Arc::<[u8]>::from);
                    *beside.lock() = Some((func_names, retained));
                },
            },
        )?;
        drop(module);
        let (func_names, retained) = beside
            .into_inner()
            .ok_or_else(|| Error::internal("the module's sections were not kept"))?;
        let retained = retained?;
        let pieces: Vec<(usize, &[u8])> = linked
            .pieces
            .iter()
            .map(|(base, bytes)| (*base, &bytes[..]))
            .collect();
        let compiled = linked.tables;
        let module = Module::from_parts(
            engine,
            retained,
            Parts {
                code: &pieces,
                func_offsets: compiled.func_offsets,
                func_layout: compiled.func_layout,
                sites: compiled.sites,
                fault_sites: compiled.fault_sites,
                out_of_bounds_stub: compiled.out_of_bounds_stub,
                type_id_sites: compiled.type_id_sites,
                handlers: compiled.handlers,
                unwind: compiled.unwind,
                func_names,
                cpu: engine.inner.cpu,
                features: engine.inner.features,
            },
            ErrorKind::Internal,
        );
        drop(pieces);
        // Job 0's buffer (the module's code) first, then the others'.
        let spares = linked
            .pieces
            .into_iter()
            .map(|(_, mut bytes)| {
                bytes.clear();
                bytes
            })
            .filter(|b| b.capacity() <= super::engine::SPARE_CODE_MAX)
            .collect();
        *engine.inner.spare_code.lock() = spares;
        module
    }
    /// Builds a module from its retained sections
    /// ([`decode::retained_sections`]) and its code: checks the code's
    /// tables against the code and the sections, registers the types and
    /// publishes the code. A failed check is an error of `kind`: a bug of
    /// the compiler for a compiled module, a bad file for a serialized one.
    pub(crate) fn from_parts(
        engine: &Engine,
        retained: Arc<[u8]>,
        parts: Parts<'_>,
        kind: ErrorKind,
    ) -> Result<Module> {
        let bad = |what: &str| {
            Error::from_kind(kind, "inconsistent module code tables").with_detail(what)
        };
        let module = decode::Module::decode_retained(&retained)?;
        let code_len = parts
            .code
            .last()
            .map_or(0, |(base, bytes)| base + bytes.len());
        let pieces_ok = parts
            .code
            .iter()
            .try_fold(0usize, |end, &(base, bytes)| {
                (base >= end)
                    .then(|| base.checked_add(bytes.len()))
                    .flatten()
            })
            .is_some()
            && parts.code.first().is_none_or(|&(base, _)| base == 0);
        if !pieces_ok {
            return Err(bad("the pieces of the code"));
        }
        let n = module.functions.len();
        let in_code = |offset: u32| (offset as usize) < code_len;
        if parts.func_offsets.len() != n {
            return Err(bad(&alloc::format!(
                "{} function entries for {n} functions",
                parts.func_offsets.len()
            )));
        }
        if !parts.func_offsets.iter().all(|&o| in_code(o)) {
            return Err(bad("a function entry lies outside the code"));
        }
        let layout_ok = parts.func_layout.len() == n
            && parts.func_layout.windows(2).all(|w| w[0].0 < w[1].0)
            && parts
                .func_layout
                .iter()
                .all(|&(o, f)| in_code(o) && (f as usize) < n);
        if !layout_ok {
            return Err(bad("the function layout"));
        }
        // Ascending, so in the code when the last one is.
        let sites_ok = parts.sites.windows(2).all(|w| w[0].0 <= w[1].0)
            && parts
                .sites
                .last()
                .is_none_or(|&(o, _)| o as usize <= code_len);
        if !sites_ok {
            return Err(bad("the backtrace sites"));
        }
        let faults_ok = parts.fault_sites.windows(2).all(|w| w[0].end <= w[1].start)
            && parts
                .fault_sites
                .iter()
                .all(|s| s.start < s.end && s.end as usize <= code_len);
        if !faults_ok {
            return Err(bad("the fault sites"));
        }
        let type_sites_ok = parts.type_id_sites.windows(2).all(|w| w[0].0 < w[1].0)
            && parts.type_id_sites.iter().all(|&(at, t)| {
                (at as usize)
                    .checked_add(4)
                    .is_some_and(|end| end <= code_len)
                    && (t as usize) < module.types.len()
            });
        if !type_sites_ok {
            return Err(bad("the type-id sites"));
        }
        let handlers_ok = parts.unwind.len() == n
            && parts.handlers.iter().all(|h| {
                h.start <= h.end
                    && in_code(h.pad)
                    && h.end as usize <= code_len
                    && h.values < (1 << 20)
            });
        if !handlers_ok {
            return Err(bad("the exception handler sites"));
        }
        if code_len > 0 && !in_code(parts.out_of_bounds_stub) {
            return Err(bad("the out-of-bounds stub lies outside the code"));
        }
        if code_len > engine.inner.max_module_code_size {
            return Err(
                Error::from_kind(ErrorKind::Limit, "module code too large").with_detail(
                    format_args!(
                        "{code_len} bytes of machine code, the limit (Config::max_module_code_size) is {}",
                        engine.inner.max_module_code_size
                    ),
                ),
            );
        }

        // The index spaces, imports first; every type index in range.
        let num_types = module.types.len();
        let type_of = |index: u32| -> Result<FuncType> {
            module
                .types
                .get(index as usize)
                .cloned()
                .ok_or_else(|| bad("unknown type").with_index(index))
        };
        let mut imports = Vec::with_capacity(module.imports.len());
        let mut func_types = Vec::with_capacity(module.imports.len() + n);
        let (mut tables, mut memories, mut globals) = (Vec::new(), Vec::new(), Vec::new());
        let mut tags = Vec::new();
        for import in &module.imports {
            let ty = match import.kind {
                ImportKind::Func(t) => {
                    func_types.push(t);
                    ExternType::Func(type_of(t)?)
                }
                ImportKind::Table(t) => {
                    tables.push(t);
                    ExternType::Table(t)
                }
                ImportKind::Memory(m) => {
                    memories.push(m);
                    ExternType::Memory(m)
                }
                ImportKind::Global(g) => {
                    globals.push(g);
                    ExternType::Global(g)
                }
                ImportKind::Tag(t) => {
                    tags.push(t);
                    ExternType::Tag(super::tag::TagType::new(type_of(t)?))
                }
            };
            imports.push(ModuleImport {
                module: import.module.to_string(),
                name: import.name.to_string(),
                ty,
            });
        }
        if let Some(&t) = module.functions.iter().find(|&&t| t as usize >= num_types) {
            return Err(bad("unknown type").with_index(t));
        }
        func_types.extend_from_slice(&module.functions);
        tables.extend_from_slice(&module.tables);
        memories.extend_from_slice(&module.memories);
        globals.extend(module.globals.iter().map(|g| g.ty));
        if let Some(&t) = module.tags.iter().find(|&&t| t as usize >= num_types) {
            return Err(bad("unknown type").with_index(t));
        }
        tags.extend_from_slice(&module.tags);
        for e in &module.exports {
            let len = match e.kind {
                ExternKind::Func => func_types.len(),
                ExternKind::Table => tables.len(),
                ExternKind::Memory => memories.len(),
                ExternKind::Global => globals.len(),
                ExternKind::Tag => tags.len(),
            };
            if e.index as usize >= len {
                return Err(bad("an export's index").with_index(e.index));
            }
        }
        if let Some((start, _)) = module.start
            && start as usize >= func_types.len()
        {
            return Err(bad("unknown start function").with_index(start));
        }
        let exports = module
            .exports
            .iter()
            .map(|e| ModuleExport {
                name: e.name.to_string(),
                kind: e.kind,
                index: e.index,
            })
            .collect();
        let export_index = module
            .exports
            .iter()
            .enumerate()
            .map(|(i, e)| (e.name.to_string(), i as u32))
            .collect();
        let data_segments = module
            .data
            .iter()
            .map(|d| d.data_offset..d.data_offset + d.data.len())
            .collect();
        let elem_segments = module
            .elements
            .iter()
            .map(|e| match &e.items {
                ElementItems::Functions(f) => ElemItems::Functions(f.clone()),
                ElementItems::Exprs(exprs) => ElemItems::Exprs(
                    exprs
                        .iter()
                        .map(|c| c.offset..c.offset + c.bytes.len())
                        .collect(),
                ),
            })
            .collect();
        let num_imported_funcs = module.num_imported_funcs;
        let types = module.types.clone();
        drop(module);
        let mut func_names = parts.func_names;
        // Looked up by binary search.
        func_names.sort_by_key(|&(i, _)| i);
        func_names.dedup_by_key(|&mut (i, _)| i);

        let type_ids = engine.register_types(&types);
        let code = if code_len == 0 {
            None
        } else {
            let memory = engine.inner.code_memory.clone();
            let mut block = memory
                .allocate(code_len)
                .map_err(|e| Error::runtime("cannot allocate code memory").with_detail(e))?;
            // The code with this engine's type ids in its type-id sites.
            let written = write_code(engine, &mut block, parts.code).and_then(|()| {
                parts.type_id_sites.iter().try_for_each(|&(at, t)| {
                    block.write(at as usize, &type_ids[t as usize].to_le_bytes())
                })
            });
            if let Err(e) = written {
                memory.free(block);
                return Err(Error::runtime("cannot write code memory").with_detail(e));
            }
            let published = PublishedCode::publish(memory, block)
                .map_err(|e| Error::runtime("cannot publish code").with_detail(e))?;
            #[cfg(feature = "std")]
            if engine.inner.profiler == super::ProfilingStrategy::PerfMap {
                super::profiling::append_perf_map(
                    published.exec_ptr().as_ptr() as usize,
                    code_len,
                    &parts.func_layout,
                    &func_names,
                    num_imported_funcs,
                );
            }
            Some(published)
        };
        Ok(Module {
            inner: Arc::new(ModuleInner {
                engine: engine.clone(),
                bytes: retained,
                code,
                func_offsets: parts.func_offsets,
                func_layout: parts.func_layout,
                sites: parts.sites,
                fault_sites: parts.fault_sites,
                type_id_sites: parts.type_id_sites,
                handlers: parts.handlers,
                unwind: parts.unwind,
                tags,
                out_of_bounds_stub: parts.out_of_bounds_stub,
                func_names,
                num_imported_funcs,
                types,
                type_ids,
                func_types,
                tables,
                memories,
                globals,
                imports,
                exports,
                export_index,
                data_segments,
                elem_segments,
                cpu: parts.cpu,
                features: parts.features,
            }),
        })
    }

    /// The module as bytes that [`Module::deserialize`] loads again without
    /// compiling, into an engine of the same configuration on a processor
    /// with the CPU features the code uses (the format:
    /// `runtime::serialize`).
    ///
    /// ```
    /// use wasmkern::{Engine, Module};
    ///
    /// let engine = Engine::default();
    /// let wasm = wat::parse_str(r#"(module (func (export "f") (result i32) i32.const 7))"#).unwrap();
    /// let bytes = Module::new(&engine, wasm)?.serialize()?;
    /// let module = Module::deserialize_checked(&engine, &bytes)?;
    /// assert!(module.get_export("f").is_some());
    /// // Anything else is refused.
    /// let err = Module::deserialize_checked(&engine, &bytes[..bytes.len() - 1]).unwrap_err();
    /// assert_eq!(err.kind(), wasmkern::ErrorKind::Incompatible);
    /// # Ok::<(), wasmkern::Error>(())
    /// ```
    pub fn serialize(&self) -> Result<Vec<u8>> {
        super::serialize::serialize(self)
    }

    /// Loads a module that [`Module::serialize`] wrote, without compiling
    /// it. The header must match `engine`: the same wasmkern version and
    /// code options (fuel, interruption, guard regions), WebAssembly
    /// features the engine enables, CPU features the processor has and the
    /// engine allows; every table is checked against the code. Errors are
    /// of kind [`ErrorKind::Incompatible`].
    ///
    /// # Safety
    ///
    /// `bytes` must have been written by [`Module::serialize`] and not
    /// altered since: the machine code in it runs as it is, and wrong code
    /// can do anything. Unlike [`Module::deserialize_checked`] the checksum
    /// is not verified.
    pub unsafe fn deserialize(engine: &Engine, bytes: impl AsRef<[u8]>) -> Result<Module> {
        super::serialize::deserialize(engine, bytes.as_ref(), false)
    }

    /// [`Module::deserialize`] that first verifies the file's SHA-256, so
    /// a corrupted or truncated file is refused, never run. The checksum
    /// guards against accidents (a damaged disk, a partial copy), not
    /// against whoever can write the file: they can write any code and
    /// its checksum. Load files only from where a compiler you trust put
    /// them.
    pub fn deserialize_checked(engine: &Engine, bytes: impl AsRef<[u8]>) -> Result<Module> {
        super::serialize::deserialize(engine, bytes.as_ref(), true)
    }

    /// The engine the module was compiled for.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The imports, in order.
    pub fn imports(&self) -> impl ExactSizeIterator<Item = ImportType<'_>> + '_ {
        self.inner.imports.iter().map(|i| ImportType {
            module: &i.module,
            name: &i.name,
            ty: i.ty.clone(),
        })
    }

    /// The exports, in order.
    pub fn exports(&self) -> impl ExactSizeIterator<Item = ExportType<'_>> + '_ {
        self.inner.exports.iter().map(|e| ExportType {
            name: &e.name,
            ty: self.inner.extern_type(e.kind, e.index),
        })
    }

    /// The type of export `name`.
    pub fn get_export(&self, name: &str) -> Option<ExternType> {
        let e = self.inner.export(name)?;
        Some(self.inner.extern_type(e.kind, e.index))
    }
}

impl ModuleInner {
    /// The export called `name`, and its position among the exports.
    pub(crate) fn export(&self, name: &str) -> Option<&ModuleExport> {
        let &i = self.export_index.get(name)?;
        self.exports.get(i as usize).filter(|e| e.name == name)
    }

    /// The type of function `index` (imports first).
    pub(crate) fn func_type(&self, index: u32) -> FuncType {
        self.func_types
            .get(index as usize)
            .and_then(|&t| self.types.get(t as usize))
            .cloned()
            .unwrap_or_else(|| FuncType::new(&[], &[]))
    }

    fn extern_type(&self, kind: ExternKind, index: u32) -> ExternType {
        let i = index as usize;
        // Validation guarantees the indices; a default keeps this total.
        match kind {
            ExternKind::Func => ExternType::Func(self.func_type(index)),
            ExternKind::Table => {
                ExternType::Table(self.tables.get(i).copied().unwrap_or(TableType {
                    elem: decode::RefType::FuncRef,
                    limits: decode::Limits { min: 0, max: None },
                    table64: false,
                }))
            }
            ExternKind::Memory => ExternType::Memory(
                self.memories
                    .get(i)
                    .copied()
                    .unwrap_or(MemoryType::new(0, None)),
            ),
            ExternKind::Global => {
                ExternType::Global(self.globals.get(i).copied().unwrap_or(GlobalType {
                    content: decode::ValType::I32,
                    mutable: false,
                }))
            }
            ExternKind::Tag => ExternType::Tag(super::tag::TagType::new(
                self.tags
                    .get(i)
                    .and_then(|&t| self.types.get(t as usize))
                    .cloned()
                    .unwrap_or_else(|| FuncType::new(&[], &[])),
            )),
        }
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::code_memory::{CodeMemory, RegionCodeMemory};
    use crate::{Config, Engine};

    #[test]
    fn the_pieces_of_the_code_are_written_in_place() {
        let pieces: [(usize, &[u8]); 3] = [(0, &[1, 2, 3]), (16, &[4, 5]), (32, &[6])];
        let mut expected = alloc::vec![1, 2, 3];
        expected.extend([0xcc; 13]);
        expected.extend([4, 5]);
        expected.extend([0xcc; 14]);
        expected.push(6);
        for parallel in [false, true] {
            let engine = Engine::new(Config::new().parallel_compilation(parallel)).expect("engine");
            let buf: &'static mut [u8] = alloc::vec![0u8; 4096].leak();
            // SAFETY: the buffer is leaked, so it lives for ever, and
            // nothing else refers to it; the test never runs the code, so
            // it need not be executable.
            let memory = unsafe { RegionCodeMemory::new(buf.as_mut_ptr(), buf.len()) };
            let mut block = memory.allocate(33).expect("allocates");
            // What an earlier module left in reused memory.
            block.write(0, &[7; 33]).expect("writes");
            write_code(&engine, &mut block, &pieces).expect("writes the pieces");
            assert_eq!(block.as_slice(), &expected[..], "parallel: {parallel}");
            // Pieces that overlap or do not fit are refused.
            for bad in [&[(0, &[1u8; 20][..]), (16, &[2])][..], &[(0, &[1; 34][..])]] {
                assert!(matches!(
                    write_code(&engine, &mut block, bad),
                    Err(CodeMemoryError::OutOfBounds { .. })
                ));
            }
            memory.free(block);
        }
    }

    /// A module of `n` functions, each calling the next and trapping on a
    /// division: backtrace sites in every function.
    fn calling_module(n: usize) -> Vec<u8> {
        let mut wat = String::from("(module");
        for i in 0..n {
            let call = if i + 1 < n {
                alloc::format!("(call {} (local.get 0))", i + 1)
            } else {
                String::from("(local.get 0)")
            };
            wat.push_str(&alloc::format!(
                "(func (param i32) (result i32) (i32.div_u (i32.const {i}) {call}))"
            ));
        }
        wat.push(')');
        wat::parse_str(&wat).expect("valid text")
    }

    #[test]
    fn an_unloaded_modules_site_table_serves_the_next_compilation() {
        for parallel in [false, true] {
            let engine = Engine::new(Config::new().parallel_compilation(parallel)).expect("engine");
            let spare = || engine.inner.spare_sites.lock().capacity();
            let wasm = calling_module(40);
            let first = Module::new(&engine, &wasm).expect("compiles");
            let sites = first.inner.sites.clone();
            assert!(sites.len() >= 80, "two sites a function: {}", sites.len());
            assert_eq!(spare(), 0, "nothing unloaded yet");
            drop(first);
            let kept = spare();
            assert!(kept >= sites.len(), "the table is kept: {kept}");
            // The next compilation takes it, empties it and fills it
            // with the same sites.
            let second = Module::new(&engine, &wasm).expect("compiles");
            assert_eq!(spare(), 0, "the table was taken");
            assert_eq!(second.inner.sites, sites, "parallel: {parallel}");
            drop(second);
            let kept = spare();
            assert!(kept >= sites.len());
            // Each compilation takes the table: a small module's gives
            // back a smaller one (its room cut to its sites). A module
            // without functions compiles with it too.
            drop(Module::new(&engine, calling_module(2)).expect("compiles"));
            let small = spare();
            assert!(small < kept, "{small} < {kept}");
            drop(
                Module::new(&engine, wat::parse_str("(module)").expect("valid")).expect("compiles"),
            );
            engine.inner.give_sites(alloc::vec![(1, 1); small]);
            // An empty or smaller table does not replace the one kept.
            engine.inner.give_sites(Vec::new());
            engine.inner.give_sites(Vec::with_capacity(small - 1));
            assert_eq!(spare(), small);
            // A larger one does, up to the limit.
            engine.inner.give_sites(Vec::with_capacity(kept));
            assert_eq!(spare(), kept);
            let too_large = super::super::engine::SPARE_SITES_MAX / 8 + 1;
            engine.inner.give_sites(Vec::with_capacity(too_large));
            assert_eq!(spare(), kept);
            // Entries left in a given table do not reach the next module.
            engine.inner.give_sites(alloc::vec![(1, 1); kept + 1]);
            let third = Module::new(&engine, &wasm).expect("compiles");
            assert_eq!(third.inner.sites, sites);
        }
    }
}
