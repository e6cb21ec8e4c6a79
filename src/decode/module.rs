//! Sections of a module and the [`Module`] they decode into.
//!
//! Decisions:
//! - Function bodies are kept as byte ranges with their local declarations
//!   decoded; their instructions are decoded by whoever walks them.
//! - Constant expressions are kept as byte ranges ending after their `end`.
//! - Custom sections are kept; the `name` section is parsed leniently (a
//!   broken name section is ignored, as the spec asks of custom sections).

use super::limits;
use super::operators::{Operator, read_operator};
use super::reader::Reader;
use super::types::{
    BlockType, FuncType, GlobalType, HeapType, MemoryType, RefType, TableType, ValType,
};
use crate::error::{Error, ErrorKind, Result};
use alloc::boxed::Box;
use alloc::vec::Vec;

/// What an import or export refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExternKind {
    /// A function.
    Func,
    /// A table.
    Table,
    /// A linear memory.
    Memory,
    /// A global.
    Global,
    /// A tag (exception handling).
    Tag,
}

/// The type of an imported item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportKind {
    /// A function with this type index.
    Func(u32),
    /// A table.
    Table(TableType),
    /// A memory.
    Memory(MemoryType),
    /// A global.
    Global(GlobalType),
    /// A tag with this type index (exception handling).
    Tag(u32),
}

/// One import.
#[derive(Clone, Debug)]
pub struct Import<'a> {
    /// The module name.
    pub module: &'a str,
    /// The item name.
    pub name: &'a str,
    /// What is imported.
    pub kind: ImportKind,
}

/// One export.
#[derive(Clone, Debug)]
pub struct Export<'a> {
    /// The exported name.
    pub name: &'a str,
    /// What kind of item.
    pub kind: ExternKind,
    /// Its index in the index space of its kind.
    pub index: u32,
    /// Offset of the export in the module.
    pub offset: usize,
}

/// A constant expression: undecoded instructions up to and including `end`.
#[derive(Clone, Copy, Debug)]
pub struct ConstExpr<'a> {
    /// The bytes, `end` included.
    pub bytes: &'a [u8],
    /// Offset of the first byte in the module.
    pub offset: usize,
}

impl<'a> ConstExpr<'a> {
    /// Reads instructions up to the first `end`.
    fn read(r: &mut Reader<'a>) -> Result<ConstExpr<'a>> {
        let offset = r.offset();
        let start = r.rest();
        loop {
            if matches!(read_operator(r)?, Operator::End) {
                break;
            }
        }
        let len = start.len() - r.remaining();
        Ok(ConstExpr {
            bytes: &start[..len],
            offset,
        })
    }

    /// A reader over the expression's instructions.
    pub fn reader(&self) -> Reader<'a> {
        Reader::new(self.bytes, self.offset)
    }
}

/// A global defined by the module.
#[derive(Clone, Debug)]
pub struct Global<'a> {
    /// Its type.
    pub ty: GlobalType,
    /// Its initializer.
    pub init: ConstExpr<'a>,
}

/// How an element segment is used.
#[derive(Clone, Debug)]
pub enum ElementKind<'a> {
    /// Copied into a table at instantiation.
    Active {
        /// The table.
        table: u32,
        /// Where in the table.
        offset: ConstExpr<'a>,
    },
    /// Available to `table.init`.
    Passive,
    /// Only declares functions for `ref.func`.
    Declared,
}

/// The items of an element segment.
#[derive(Clone, Debug)]
pub enum ElementItems<'a> {
    /// Function indices.
    Functions(Box<[u32]>),
    /// Constant expressions producing references.
    Exprs(Box<[ConstExpr<'a>]>),
}

impl ElementItems<'_> {
    /// Number of items.
    pub fn len(&self) -> usize {
        match self {
            ElementItems::Functions(f) => f.len(),
            ElementItems::Exprs(e) => e.len(),
        }
    }

    /// True when the segment has no items.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An element segment.
#[derive(Clone, Debug)]
pub struct ElementSegment<'a> {
    /// Active, passive or declared.
    pub kind: ElementKind<'a>,
    /// The reference type of the items.
    pub ty: RefType,
    /// The items.
    pub items: ElementItems<'a>,
    /// Offset of the segment in the module.
    pub offset: usize,
}

/// How a data segment is used.
#[derive(Clone, Debug)]
pub enum DataKind<'a> {
    /// Copied into a memory at instantiation.
    Active {
        /// The memory.
        memory: u32,
        /// Where in the memory.
        offset: ConstExpr<'a>,
    },
    /// Available to `memory.init`.
    Passive,
}

/// A data segment.
#[derive(Clone, Debug)]
pub struct DataSegment<'a> {
    /// Active or passive.
    pub kind: DataKind<'a>,
    /// The bytes.
    pub data: &'a [u8],
    /// Offset of `data`'s first byte in the module, so a runtime that keeps
    /// the module's bytes can find the segment again without decoding.
    pub data_offset: usize,
}

/// A function body: local declarations and undecoded instructions.
#[derive(Clone, Debug)]
pub struct FunctionBody<'a> {
    /// Where its runs of locals lie in [`Module::local_runs`] (see
    /// [`Module::locals`]).
    pub locals: core::ops::Range<u32>,
    /// Total number of declared locals (parameters not included).
    pub num_locals: u32,
    /// The instructions, ending with `end`.
    pub code: &'a [u8],
    /// Offset of `code[0]` in the module.
    pub code_offset: usize,
}

impl<'a> FunctionBody<'a> {
    /// A reader over the instructions.
    pub fn reader(&self) -> Reader<'a> {
        Reader::new(self.code, self.code_offset)
    }
}

/// A custom section.
#[derive(Clone, Debug)]
pub struct CustomSection<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its contents.
    pub data: &'a [u8],
}

/// Names from the `name` custom section, for backtraces.
#[derive(Clone, Debug, Default)]
pub struct Names<'a> {
    /// The module's name.
    pub module: Option<&'a str>,
    /// (function index, name), sorted by index.
    pub functions: Vec<(u32, &'a str)>,
    /// (function index, local index, name), sorted by indices.
    pub locals: Vec<(u32, u32, &'a str)>,
}

impl<'a> Names<'a> {
    /// The name of function `index`, if the name section gives one.
    pub fn function(&self, index: u32) -> Option<&'a str> {
        self.functions
            .binary_search_by_key(&index, |&(i, _)| i)
            .ok()
            .map(|i| self.functions[i].1)
    }

    fn parse(data: &'a [u8], base: usize) -> Result<Names<'a>> {
        let mut names = Names::default();
        let mut r = Reader::new(data, base);
        while !r.is_empty() {
            let id = r.read_u8()?;
            let len = r.read_var_u32()? as usize;
            let mut sub = r.sub_reader(len)?;
            match id {
                0 => names.module = Some(sub.read_name()?),
                1 => {
                    for _ in 0..sub.read_len()? {
                        let index = sub.read_var_u32()?;
                        names.functions.push((index, sub.read_name()?));
                    }
                }
                2 => {
                    for _ in 0..sub.read_len()? {
                        let func = sub.read_var_u32()?;
                        for _ in 0..sub.read_len()? {
                            let local = sub.read_var_u32()?;
                            names.locals.push((func, local, sub.read_name()?));
                        }
                    }
                }
                _ => {}
            }
        }
        names.functions.sort_by_key(|&(i, _)| i);
        names.locals.sort_by_key(|&(f, l, _)| (f, l));
        Ok(names)
    }
}

/// A decoded module. It borrows the bytes it was decoded from.
#[derive(Clone, Debug, Default)]
pub struct Module<'a> {
    /// The type section.
    pub types: Vec<FuncType>,
    /// The import section.
    pub imports: Vec<Import<'a>>,
    /// Type index of each defined function (the function section).
    pub functions: Vec<u32>,
    /// Defined tables.
    pub tables: Vec<TableType>,
    /// The initializer of each defined table (typed function references'
    /// `0x40 0x00 tabletype expr` form), `None` for null.
    pub table_inits: Vec<Option<ConstExpr<'a>>>,
    /// Defined memories.
    pub memories: Vec<MemoryType>,
    /// Defined globals.
    pub globals: Vec<Global<'a>>,
    /// The type index of each defined tag (exception handling).
    pub tags: Vec<u32>,
    /// The export section.
    pub exports: Vec<Export<'a>>,
    /// The start function, and the offset of the start section.
    pub start: Option<(u32, usize)>,
    /// The element section.
    pub elements: Vec<ElementSegment<'a>>,
    /// The data count section.
    pub data_count: Option<u32>,
    /// The code section, one body per defined function.
    pub code: Vec<FunctionBody<'a>>,
    /// The runs of locals (count, type) every body declares, one body's
    /// after another: one buffer for the module, not one allocation per
    /// body.
    pub local_runs: Vec<(u32, ValType)>,
    /// The data section.
    pub data: Vec<DataSegment<'a>>,
    /// Custom sections, in order.
    pub customs: Vec<CustomSection<'a>>,
    /// The `name` section's contents, when present and well-formed.
    pub names: Names<'a>,
    /// Number of imported functions (they come first in the index space).
    pub num_imported_funcs: u32,
    /// Number of imported tables.
    pub num_imported_tables: u32,
    /// Number of imported memories.
    pub num_imported_memories: u32,
    /// Number of imported globals.
    pub num_imported_globals: u32,
    /// Number of imported tags.
    pub num_imported_tags: u32,
    /// The encodings beyond WebAssembly 2.0 that the decoder reads.
    encodings: Encodings,
    /// `[(ref $i)]` and `[(ref null $i)]` for each type index `i` (at
    /// `2 i` and `2 i + 1`): the results of blocks of those types, as
    /// slices that live as long as the module.
    ref_results: Vec<[ValType; 1]>,
}

/// The few encodings beyond WebAssembly 2.0 that decoding a module must
/// know about, because 2.0 gives the same bytes another meaning (an error).
/// Everything else the 3.0 features encode is decoded whatever the
/// features, and rejected by the validator when a feature is off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Encodings {
    /// The limits of every memory are LEB128 `u64`s, as memory64 encodes
    /// them (so a too large limit of a 32-bit memory is invalid rather
    /// than malformed); 2.0 reads `u32`s.
    pub wide_memory_limits: bool,
    /// The limits of every table are LEB128 `u64`s, as table64 encodes
    /// them (3.0: so a too large limit of a 32-bit table is invalid,
    /// "table size", rather than malformed); 2.0 reads `u32`s.
    pub wide_table_limits: bool,
    /// Bit 3 of a memory's flags announces a page size
    /// (custom-page-sizes); 2.0 makes it a malformed flag.
    pub custom_page_sizes: bool,
    /// Section 13 is the tag section and external kind 4 a tag
    /// (exception handling); 2.0 makes them a malformed section id and
    /// import or export kind.
    pub exceptions: bool,
    /// A type entry `0x4e` is a recursion group (`rec`) of function
    /// types (typed references' type section, as GC encodes it); 2.0
    /// makes it a malformed function type.
    pub rec_groups: bool,
}

/// `[t]` as a static slice, for every value type but the references to
/// concrete types.
fn single(t: ValType) -> Option<&'static [ValType]> {
    const fn r(nullable: bool, heap: HeapType) -> ValType {
        ValType::Ref(RefType::new(nullable, heap))
    }
    const ABSTRACT: [[ValType; 1]; 12] = [
        [r(false, HeapType::Func)],
        [r(true, HeapType::Func)],
        [r(false, HeapType::Extern)],
        [r(true, HeapType::Extern)],
        [r(false, HeapType::NoFunc)],
        [r(true, HeapType::NoFunc)],
        [r(false, HeapType::NoExtern)],
        [r(true, HeapType::NoExtern)],
        [r(false, HeapType::Exn)],
        [r(true, HeapType::Exn)],
        [r(false, HeapType::NoExn)],
        [r(true, HeapType::NoExn)],
    ];
    let heap = |k: usize, r: RefType| &ABSTRACT[2 * k + usize::from(r.is_nullable())][..];
    Some(match t {
        ValType::I32 => &[ValType::I32],
        ValType::I64 => &[ValType::I64],
        ValType::F32 => &[ValType::F32],
        ValType::F64 => &[ValType::F64],
        ValType::V128 => &[ValType::V128],
        ValType::Ref(r) => match r.heap() {
            HeapType::Func => heap(0, r),
            HeapType::Extern => heap(1, r),
            HeapType::NoFunc => heap(2, r),
            HeapType::NoExtern => heap(3, r),
            HeapType::Exn => heap(4, r),
            HeapType::NoExn => heap(5, r),
            HeapType::Concrete(_) => return None,
        },
    })
}

/// The type of element segments of function indices: `(ref func)`.
pub const FUNC_INDICES: RefType = RefType::new(false, HeapType::Func);

/// Section ids in the order the binary format requires them (custom sections,
/// id 0, may appear anywhere).
/// The tag section (13, exception handling) lies between the memory and
/// the global sections.
const SECTION_ORDER: [u8; 13] = [1, 2, 3, 4, 5, 13, 6, 7, 8, 9, 12, 10, 11];

fn section_rank(id: u8) -> Option<usize> {
    SECTION_ORDER.iter().position(|&s| s == id)
}

/// Reads a function type (`0x60`, parameters, results).
fn read_func_type(s: &mut Reader<'_>) -> Result<FuncType> {
    let offset = s.offset();
    match s.read_u8()? {
        0x60 => {}
        0x4e | 0x4f | 0x50 | 0x5e | 0x5f => {
            return Err(Error::malformed(offset, "malformed functype")
                .with_detail("GC types (sub, struct, array, nested rec) are not supported"));
        }
        _ => return Err(Error::malformed(offset, "malformed functype")),
    }
    let mut params = Vec::new();
    for _ in 0..read_count(s, limits::MAX_PARAMS, "too many parameters")? {
        params.push(ValType::read(s)?);
    }
    let mut results = Vec::new();
    for _ in 0..read_count(s, limits::MAX_RESULTS, "too many results")? {
        results.push(ValType::read(s)?);
    }
    Ok(FuncType::new(&params, &results))
}

/// Reads a tag type: the attribute byte (0, an exception) and the type
/// index of its parameters.
fn read_tag_type(r: &mut Reader<'_>) -> Result<u32> {
    let offset = r.offset();
    if r.read_u8()? != 0 {
        return Err(Error::malformed(offset, "malformed tag attribute"));
    }
    r.read_var_u32()
}

/// Reads a vector length and checks it against an implementation limit.
fn read_count(r: &mut Reader<'_>, max: u32, what: &'static str) -> Result<u32> {
    let offset = r.offset();
    let count = r.read_len()?;
    if count > max {
        return Err(Error::limit(offset, what));
    }
    Ok(count)
}

/// The sections of a decoded module that instantiating it reads again:
/// `bytes` without the code section and custom sections (the compiled code
/// and the names extracted at compile time replace them), so that a
/// compiled module keeps a fraction of its bytes. `bytes` must be a module
/// [`Module::decode`] accepted; [`Module::decode_retained`] decodes the
/// result.
pub fn retained_sections(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut r = Reader::new(bytes, 0);
    let header = r.read_bytes(8)?;
    let mut kept = Vec::new();
    kept.extend_from_slice(header);
    while !r.is_empty() {
        let start = r.offset();
        let id = r.read_u8()?;
        let len = r.read_var_u32()? as usize;
        r.read_bytes(len)?;
        if id != 0 && id != 10 {
            kept.extend_from_slice(bytes.get(start..r.offset()).unwrap_or_default());
        }
    }
    Ok(kept)
}

impl<'a> Module<'a> {
    /// The runs of locals (count, type) `body` declares; a run of none is
    /// left out. `body` must be one of this module's.
    pub fn locals(&self, body: &FunctionBody<'_>) -> &[(u32, ValType)] {
        self.local_runs
            .get(body.locals.start as usize..body.locals.end as usize)
            .unwrap_or_default()
    }

    /// Decodes a binary module (with WebAssembly 2.0's reading of the
    /// [`Encodings`] that differ).
    pub fn decode(bytes: &'a [u8]) -> Result<Module<'a>> {
        Self::decode_sections(bytes, true, Encodings::default())
    }

    /// Decodes a binary module with the given reading of the encodings
    /// where 2.0 and later features differ.
    pub fn decode_with(bytes: &'a [u8], encodings: Encodings) -> Result<Module<'a>> {
        Self::decode_sections(bytes, true, encodings)
    }

    /// Decodes what [`retained_sections`] kept of a module that
    /// [`Self::decode`] accepted: everything but the function bodies, whose
    /// absence is then expected.
    pub fn decode_retained(bytes: &'a [u8]) -> Result<Module<'a>> {
        // Validated already: a u64 read of a u32 limit gives the same
        // value, and a page size is there only if it was accepted.
        let encodings = Encodings {
            wide_memory_limits: true,
            wide_table_limits: true,
            custom_page_sizes: true,
            exceptions: true,
            rec_groups: true,
        };
        Self::decode_sections(bytes, false, encodings)
    }

    /// Decodes a binary module; `with_code` says whether the code section
    /// must match the function section.
    fn decode_sections(
        bytes: &'a [u8],
        with_code: bool,
        encodings: Encodings,
    ) -> Result<Module<'a>> {
        if bytes.len() > limits::MAX_MODULE_SIZE {
            return Err(
                Error::from_kind(ErrorKind::Limit, "module too large").with_detail(format_args!(
                    "{} bytes, the limit is {}",
                    bytes.len(),
                    limits::MAX_MODULE_SIZE
                )),
            );
        }
        let mut r = Reader::new(bytes, 0);
        // A module that ends inside the magic or the version is truncated
        // ("unexpected end"); four wrong bytes are a wrong header.
        if r.read_bytes(4)? != b"\0asm" {
            return Err(Error::malformed(0, "magic header not detected"));
        }
        if r.read_bytes(4)? != [1, 0, 0, 0] {
            return Err(Error::malformed(4, "unknown binary version"));
        }
        let mut module = Module {
            encodings,
            ..Module::default()
        };
        let mut last_rank: Option<usize> = None;
        while !r.is_empty() {
            let id_offset = r.offset();
            let id = r.read_u8()?;
            let len_offset = r.offset();
            let len = r.read_var_u32()? as usize;
            if len > r.remaining() {
                return Err(Error::malformed(len_offset, "length out of bounds"));
            }
            let mut s = r.sub_reader(len)?;
            if id != 0 {
                let Some(rank) = section_rank(id) else {
                    return Err(Error::malformed(id_offset, "malformed section id"));
                };
                if id == 13 && !encodings.exceptions {
                    return Err(Error::malformed(id_offset, "malformed section id")
                        .with_detail("the tag section needs Config::wasm_exceptions"));
                }
                if id == 8 && module.start.is_some() {
                    return Err(Error::malformed(id_offset, "multiple start sections"));
                }
                if last_rank.is_some_and(|last| rank <= last) {
                    return Err(Error::malformed(
                        id_offset,
                        "unexpected content after last section",
                    ));
                }
                last_rank = Some(rank);
            }
            match id {
                0 => module.read_custom(&mut s)?,
                1 => module.read_types(&mut s)?,
                2 => module.read_imports(&mut s)?,
                3 => module.read_functions(&mut s)?,
                4 => module.read_tables(&mut s)?,
                5 => module.read_memories(&mut s)?,
                6 => module.read_globals(&mut s)?,
                7 => module.read_exports(&mut s)?,
                8 => module.start = Some((s.read_var_u32()?, id_offset)),
                9 => module.read_elements(&mut s)?,
                10 => module.read_code(&mut s, id_offset)?,
                11 => module.read_data(&mut s)?,
                12 => module.data_count = Some(s.read_var_u32()?),
                13 => module.read_tags(&mut s)?,
                _ => unreachable!("section ids were checked above"),
            }
            if !s.is_empty() {
                return Err(Error::malformed(s.offset(), "section size mismatch"));
            }
        }
        if with_code && module.functions.len() != module.code.len() {
            return Err(Error::malformed(
                bytes.len(),
                "function and code section have inconsistent lengths",
            ));
        }
        if let Some(count) = module.data_count
            && count as usize != module.data.len()
        {
            return Err(Error::malformed(
                bytes.len(),
                "data count and data section have inconsistent lengths",
            ));
        }
        Ok(module)
    }

    fn read_custom(&mut self, s: &mut Reader<'a>) -> Result<()> {
        let name = s.read_name()?;
        let base = s.offset();
        let data = s.read_bytes(s.remaining())?;
        if name == "name"
            && let Ok(names) = Names::parse(data, base)
        {
            self.names = names;
        }
        self.customs.push(CustomSection { name, data });
        Ok(())
    }

    fn read_types(&mut self, s: &mut Reader<'a>) -> Result<()> {
        let count = read_count(s, limits::MAX_TYPES, "too many types")?;
        self.types.reserve(count as usize);
        let mut group = Vec::new();
        for _ in 0..count {
            if self.encodings.rec_groups && s.peek_u8()? == 0x4e {
                s.read_u8()?;
                let offset = s.offset();
                let n = s.read_len()?;
                if self.types.len() as u64 + u64::from(n) > u64::from(limits::MAX_TYPES) {
                    return Err(Error::limit(offset, "too many types"));
                }
                group.clear();
                for _ in 0..n {
                    group.push(read_func_type(s)?);
                }
                match group.len() {
                    // A group of one is a plain type.
                    0 | 1 => self.types.append(&mut group),
                    _ => self.types.extend(FuncType::rec_group(&group)),
                }
            } else {
                self.types.push(read_func_type(s)?);
            }
        }
        let n = self.types.len() as u32;
        self.ref_results = (0..2 * n)
            .map(|k| {
                [ValType::Ref(RefType::new(
                    k & 1 != 0,
                    HeapType::Concrete(k / 2),
                ))]
            })
            .collect();
        Ok(())
    }

    fn read_imports(&mut self, s: &mut Reader<'a>) -> Result<()> {
        let count = read_count(s, limits::MAX_IMPORTS, "too many imports")?;
        self.imports.reserve(count as usize);
        for _ in 0..count {
            let module = s.read_name()?;
            let name = s.read_name()?;
            let offset = s.offset();
            let kind = match s.read_u8()? {
                0x00 => {
                    self.num_imported_funcs += 1;
                    ImportKind::Func(s.read_var_u32()?)
                }
                0x01 => {
                    self.num_imported_tables += 1;
                    ImportKind::Table(TableType::read(s, self.encodings)?)
                }
                0x02 => {
                    self.num_imported_memories += 1;
                    ImportKind::Memory(MemoryType::read(s, self.encodings)?)
                }
                0x03 => {
                    self.num_imported_globals += 1;
                    ImportKind::Global(GlobalType::read(s)?)
                }
                0x04 if self.encodings.exceptions => {
                    self.num_imported_tags += 1;
                    ImportKind::Tag(read_tag_type(s)?)
                }
                _ => return Err(Error::malformed(offset, "malformed import kind")),
            };
            self.imports.push(Import { module, name, kind });
        }
        Ok(())
    }

    fn read_functions(&mut self, s: &mut Reader<'a>) -> Result<()> {
        let offset = s.offset();
        let count = s.read_len()?;
        if u64::from(count) + u64::from(self.num_imported_funcs) > u64::from(limits::MAX_FUNCTIONS)
        {
            return Err(Error::limit(offset, "too many functions"));
        }
        self.functions.reserve(count as usize);
        for _ in 0..count {
            self.functions.push(s.read_var_u32()?);
        }
        Ok(())
    }

    fn read_tables(&mut self, s: &mut Reader<'a>) -> Result<()> {
        let count = read_count(s, limits::MAX_TABLES, "too many tables")?;
        for _ in 0..count {
            // `0x40 0x00` announces a table with an initializer.
            let init = s.peek_u8()? == 0x40;
            if init {
                s.read_u8()?;
                let offset = s.offset();
                if s.read_u8()? != 0x00 {
                    return Err(Error::malformed(offset, "malformed table"));
                }
            }
            self.tables.push(TableType::read(s, self.encodings)?);
            self.table_inits.push(if init {
                Some(ConstExpr::read(s)?)
            } else {
                None
            });
        }
        Ok(())
    }

    fn read_memories(&mut self, s: &mut Reader<'a>) -> Result<()> {
        let count = read_count(s, limits::MAX_MEMORIES, "too many memories")?;
        for _ in 0..count {
            self.memories.push(MemoryType::read(s, self.encodings)?);
        }
        Ok(())
    }

    fn read_tags(&mut self, s: &mut Reader<'a>) -> Result<()> {
        let count = read_count(s, limits::MAX_TAGS, "too many tags")?;
        self.tags.reserve(count as usize);
        for _ in 0..count {
            self.tags.push(read_tag_type(s)?);
        }
        Ok(())
    }

    fn read_globals(&mut self, s: &mut Reader<'a>) -> Result<()> {
        let count = read_count(s, limits::MAX_GLOBALS, "too many globals")?;
        self.globals.reserve(count as usize);
        for _ in 0..count {
            let ty = GlobalType::read(s)?;
            let init = ConstExpr::read(s)?;
            self.globals.push(Global { ty, init });
        }
        Ok(())
    }

    fn read_exports(&mut self, s: &mut Reader<'a>) -> Result<()> {
        let count = read_count(s, limits::MAX_EXPORTS, "too many exports")?;
        self.exports.reserve(count as usize);
        for _ in 0..count {
            let offset = s.offset();
            let name = s.read_name()?;
            let kind_offset = s.offset();
            let kind = match s.read_u8()? {
                0x00 => ExternKind::Func,
                0x01 => ExternKind::Table,
                0x02 => ExternKind::Memory,
                0x03 => ExternKind::Global,
                0x04 if self.encodings.exceptions => ExternKind::Tag,
                _ => return Err(Error::malformed(kind_offset, "malformed export kind")),
            };
            let index = s.read_var_u32()?;
            self.exports.push(Export {
                name,
                kind,
                index,
                offset,
            });
        }
        Ok(())
    }

    fn read_elements(&mut self, s: &mut Reader<'a>) -> Result<()> {
        let count = read_count(s, limits::MAX_ELEMENT_SEGMENTS, "too many element segments")?;
        for _ in 0..count {
            let offset = s.offset();
            let flags = s.read_var_u32()?;
            if flags > 7 {
                return Err(Error::malformed(offset, "malformed elements segment kind"));
            }
            // Bit 0: passive or declared (else active); bit 1: explicit table
            // index (active) or declared (bit 0 set); bit 2: expressions.
            let kind = if flags & 1 == 0 {
                let table = if flags & 2 != 0 { s.read_var_u32()? } else { 0 };
                ElementKind::Active {
                    table,
                    offset: ConstExpr::read(s)?,
                }
            } else if flags & 2 == 0 {
                ElementKind::Passive
            } else {
                ElementKind::Declared
            };
            let uses_exprs = flags & 4 != 0;
            // Function indices are non-null function references
            // (`(ref func)`, as WebAssembly 3.0 types them, a subtype of
            // funcref); expressions are funcrefs unless the segment spells
            // out a type (flags 5 to 7).
            let ty = if flags & 3 == 0 {
                if uses_exprs {
                    RefType::FuncRef
                } else {
                    FUNC_INDICES
                }
            } else if uses_exprs {
                RefType::read(s)?
            } else {
                let kind_offset = s.offset();
                if s.read_u8()? != 0x00 {
                    return Err(Error::malformed(kind_offset, "malformed element kind"));
                }
                FUNC_INDICES
            };
            let n = s.read_len()?;
            let items = if uses_exprs {
                let mut exprs = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    exprs.push(ConstExpr::read(s)?);
                }
                ElementItems::Exprs(exprs.into_boxed_slice())
            } else {
                let mut funcs = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    funcs.push(s.read_var_u32()?);
                }
                ElementItems::Functions(funcs.into_boxed_slice())
            };
            self.elements.push(ElementSegment {
                kind,
                ty,
                items,
                offset,
            });
        }
        Ok(())
    }

    fn read_code(&mut self, s: &mut Reader<'a>, section_offset: usize) -> Result<()> {
        let count = s.read_len()?;
        if count as usize != self.functions.len() {
            return Err(Error::malformed(
                section_offset,
                "function and code section have inconsistent lengths",
            ));
        }
        self.code.reserve(count as usize);
        for _ in 0..count {
            let size_offset = s.offset();
            let size = s.read_var_u32()?;
            if size > limits::MAX_FUNCTION_BODY_SIZE {
                return Err(Error::limit(size_offset, "function body too large"));
            }
            let mut body = s.sub_reader(size as usize)?;
            let runs = body.read_len()?;
            let first_run = self.local_runs.len() as u32;
            let mut total: u64 = 0;
            for _ in 0..runs {
                let offset = body.offset();
                let n = body.read_var_u32()?;
                total += u64::from(n);
                if total > u64::from(limits::MAX_LOCALS) {
                    return Err(Error::malformed(offset, "too many locals"));
                }
                let ty = ValType::read(&mut body)?;
                if n > 0 {
                    self.local_runs.push((n, ty));
                }
            }
            let code_offset = body.offset();
            let code = body.rest();
            if code.is_empty() {
                return Err(Error::malformed(
                    code_offset,
                    "unexpected end of section or function",
                ));
            }
            self.code.push(FunctionBody {
                locals: first_run..self.local_runs.len() as u32,
                num_locals: total as u32,
                code,
                code_offset,
            });
        }
        Ok(())
    }

    fn read_data(&mut self, s: &mut Reader<'a>) -> Result<()> {
        let count = read_count(s, limits::MAX_DATA_SEGMENTS, "too many data segments")?;
        self.data.reserve(count as usize);
        for _ in 0..count {
            let offset = s.offset();
            let kind = match s.read_var_u32()? {
                0 => DataKind::Active {
                    memory: 0,
                    offset: ConstExpr::read(s)?,
                },
                1 => DataKind::Passive,
                2 => {
                    let memory = s.read_var_u32()?;
                    DataKind::Active {
                        memory,
                        offset: ConstExpr::read(s)?,
                    }
                }
                _ => return Err(Error::malformed(offset, "malformed data segment kind")),
            };
            let len = s.read_len()?;
            let data_offset = s.offset();
            let data = s.read_bytes(len as usize)?;
            self.data.push(DataSegment {
                kind,
                data,
                data_offset,
            });
        }
        Ok(())
    }

    /// The parameters of a block of type `bt` (whose type index, if any,
    /// the validator has checked).
    pub fn block_params(&self, bt: BlockType) -> &[ValType] {
        match bt {
            BlockType::Func(i) => self.types[i as usize].params(),
            _ => &[],
        }
    }

    /// The results of a block of type `bt`. Inlined is only the commonest
    /// block type, which has none.
    #[inline(always)]
    pub fn block_results(&self, bt: BlockType) -> &[ValType] {
        match bt {
            BlockType::Empty => &[],
            _ => self.block_results_general(bt),
        }
    }

    /// [`Self::block_results`] of every block type.
    #[inline(never)]
    fn block_results_general(&self, bt: BlockType) -> &[ValType] {
        match bt {
            BlockType::Empty => &[],
            BlockType::Value(t) => single(t).unwrap_or_else(|| {
                // A reference to a concrete type (an unknown index, which
                // the validator rejects, gives no results).
                match t.ref_type().map(|r| (r.is_nullable(), r.heap())) {
                    Some((nullable, HeapType::Concrete(i))) => self
                        .ref_results
                        .get(2 * i as usize + usize::from(nullable))
                        .map_or(&[], |r| &r[..]),
                    _ => &[],
                }
            }),
            BlockType::Func(i) => self.types[i as usize].results(),
        }
    }

    /// Total number of functions (imported and defined).
    pub fn num_funcs(&self) -> u32 {
        self.num_imported_funcs + self.functions.len() as u32
    }

    /// Total number of tables.
    pub fn num_tables(&self) -> u32 {
        self.num_imported_tables + self.tables.len() as u32
    }

    /// Total number of memories.
    pub fn num_memories(&self) -> u32 {
        self.num_imported_memories + self.memories.len() as u32
    }

    /// Total number of globals.
    pub fn num_globals(&self) -> u32 {
        self.num_imported_globals + self.globals.len() as u32
    }

    /// Total number of tags.
    pub fn num_tags(&self) -> u32 {
        self.num_imported_tags + self.tags.len() as u32
    }

    /// The type index of every tag, imported ones first.
    pub fn tag_types(&self) -> Vec<u32> {
        let imported = self.imports.iter().filter_map(|i| match i.kind {
            ImportKind::Tag(t) => Some(t),
            _ => None,
        });
        imported.chain(self.tags.iter().copied()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_over_the_size_limit_is_a_limit_without_a_location() {
        // Zeroed and never read: the size is checked first.
        let bytes = alloc::vec![0u8; limits::MAX_MODULE_SIZE + 1];
        let err = Module::decode(&bytes).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Limit);
        assert_eq!(err.offset(), None);
        assert!(err.message().starts_with("module too large"), "{err}");
    }

    #[test]
    fn each_body_finds_its_own_runs_of_locals() {
        // The middle body declares none; the last declares an empty run,
        // which is left out.
        let wasm = wat::parse_str(
            r#"(module
                (func (local i32 i32) (local i64))
                (func)
                (func (local f64) (local v128 v128 v128)))"#,
        )
        .unwrap();
        let mut with_empty_run = wasm.clone();
        let m = Module::decode(&wasm).unwrap();
        assert_eq!(
            m.locals(&m.code[0]),
            &[(2, ValType::I32), (1, ValType::I64)]
        );
        assert_eq!(m.locals(&m.code[1]), &[]);
        assert_eq!(
            m.locals(&m.code[2]),
            &[(1, ValType::F64), (3, ValType::V128)]
        );
        assert_eq!(m.code[2].num_locals, 4);
        assert_eq!(m.local_runs.len(), 4);
        // The second body, `02 00 0b` (no runs), becomes `04 01 00 7f 0b`
        // (one run of no `i32`s), its size and the section's growing by 2.
        let at = with_empty_run
            .windows(3)
            .position(|w| w == [0x02, 0x00, 0x0b])
            .unwrap();
        with_empty_run.splice(at..at + 3, [0x04, 0x01, 0x00, 0x7f, 0x0b]);
        let section = with_empty_run.iter().rposition(|&b| b == 0x0a).unwrap();
        with_empty_run[section + 1] += 2;
        let m = Module::decode(&with_empty_run).unwrap();
        assert_eq!(m.locals(&m.code[1]), &[]);
        assert_eq!(m.code[1].num_locals, 0);
        assert_eq!(
            m.locals(&m.code[2]),
            &[(1, ValType::F64), (3, ValType::V128)]
        );
    }

    #[test]
    fn retained_sections_drop_exactly_the_code_and_custom_sections() {
        let wasm = wat::parse_str(
            r#"(module
                (@custom "before" "abc")
                (table 2 funcref)
                (memory 1)
                (global i32 (i32.const 7))
                (func $f (result i32) i32.const 1)
                (func $g (param i32) (local i64))
                (elem (i32.const 0) func $f $g)
                (elem funcref (ref.func $g))
                (data (i32.const 8) "active")
                (data "passive")
                (@custom "after" "xyz"))"#,
        )
        .unwrap();
        let full = Module::decode(&wasm).unwrap();
        let kept = retained_sections(&wasm).unwrap();
        let retained = Module::decode_retained(&kept).unwrap();

        assert!(retained.code.is_empty() && retained.customs.is_empty());
        assert_eq!(retained.functions, full.functions);
        assert_eq!(retained.globals[0].init.bytes, full.globals[0].init.bytes);
        assert_eq!(retained.elements.len(), 2);
        let data = |m: &Module<'_>| m.data.iter().map(|d| d.data.to_vec()).collect::<Vec<_>>();
        assert_eq!(data(&retained), data(&full));
        // The offsets are the retained bytes' own.
        for d in &retained.data {
            assert_eq!(&kept[d.data_offset..d.data_offset + d.data.len()], d.data);
        }
        // Nothing but the three sections is missing: each costs its id, a
        // one-byte size and its payload here.
        let code_bytes = 1
            + 1
            + 1
            + full.code.iter().map(|c| 2 + c.code.len()).sum::<usize>()
            + full.locals(&full.code[1]).len() * 2;
        let custom_bytes: usize = full
            .customs
            .iter()
            .map(|c| 3 + c.name.len() + c.data.len())
            .sum();
        assert_eq!(kept.len(), wasm.len() - code_bytes - custom_bytes);
        // Without its bodies, the module is no longer a module.
        assert_eq!(
            Module::decode(&kept).unwrap_err().message(),
            "function and code section have inconsistent lengths"
        );
    }
}
