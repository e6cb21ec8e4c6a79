//! The types of the binary format: value types, function types, limits,
//! table, memory and global types, block types, and the immediates that
//! instructions carry (`memarg`, `br_table` targets, lanes, ...).
//!
//! Reference types (typed function references, WebAssembly 3.0) are one
//! [`RefType`] packed in a `u32`: bit 31 says whether null is a value, the
//! other bits hold the heap type, a type index (saturated at
//! [`RefType::MAX_INDEX`]) or the code of `func`, `extern`, `nofunc`,
//! `noextern`, `exn` or `noexn` (exception handling's `exnref`). [`ValType::Ref`] wraps it, so a value type stays a small
//! `Copy` value compared with `==`, and `ValType::FuncRef`/`ExternRef`
//! remain, as associated constants, the nullable `func` and `extern` of
//! WebAssembly 2.0. A type index means the module's type; the runtime
//! keeps types of tables and globals in a canonical form whose indices are
//! engine type ids (`runtime::engine::canonical`). The decoder reads every
//! form whatever the features; the validator rejects typed references
//! when `Config::wasm_function_references` is off.

use super::module::Encodings;
use super::reader::Reader;
use crate::error::{Error, Result};
use alloc::boxed::Box;
use core::fmt;

/// A value type.
///
/// Numbers and vectors are unit variants; every reference type is
/// [`ValType::Ref`] with a packed [`RefType`], so a value type is 8 bytes,
/// `Copy`, and compared with `==`. `ValType::FuncRef` and
/// `ValType::ExternRef` are associated constants for `(ref null func)`
/// and `(ref null extern)` (usable in patterns), so code written for
/// WebAssembly 2.0's two reference types reads as before.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ValType {
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
    /// 32-bit IEEE float.
    F32,
    /// 64-bit IEEE float.
    F64,
    /// 128-bit vector.
    V128,
    /// A reference (typed function references: heap type and nullability).
    Ref(RefType),
}

#[allow(non_upper_case_globals)]
impl ValType {
    /// `funcref`: nullable reference to any function.
    pub const FuncRef: ValType = ValType::Ref(RefType::FuncRef);
    /// `externref`: nullable reference to a host value.
    pub const ExternRef: ValType = ValType::Ref(RefType::ExternRef);
    /// `exnref`: nullable reference to an exception.
    pub const ExnRef: ValType = ValType::Ref(RefType::ExnRef);

    /// Decodes a value type from a one-byte encoding (the numeric types
    /// and the short forms of reference types).
    pub fn from_byte(byte: u8) -> Option<ValType> {
        Some(match byte {
            0x7f => ValType::I32,
            0x7e => ValType::I64,
            0x7d => ValType::F32,
            0x7c => ValType::F64,
            0x7b => ValType::V128,
            _ => return RefType::from_short_byte(byte).map(ValType::Ref),
        })
    }

    /// Reads a value type: one byte, or `0x64 ht` (`(ref ht)`) and
    /// `0x63 ht` (`(ref null ht)`).
    pub fn read(r: &mut Reader<'_>) -> Result<ValType> {
        let offset = r.offset();
        let byte = r.read_u8()?;
        match byte {
            0x63 | 0x64 => Ok(ValType::Ref(RefType::new(byte == 0x63, HeapType::read(r)?))),
            _ => ValType::from_byte(byte)
                .ok_or_else(|| Error::malformed(offset, "malformed value type")),
        }
    }

    /// True for reference types.
    pub fn is_ref(self) -> bool {
        matches!(self, ValType::Ref(_))
    }

    /// The reference type, if this is one.
    pub fn ref_type(self) -> Option<RefType> {
        match self {
            ValType::Ref(r) => Some(r),
            _ => None,
        }
    }

    /// Whether a local of this type starts with a default value (zero or
    /// null); non-nullable references do not.
    pub fn is_defaultable(self) -> bool {
        match self {
            ValType::Ref(r) => r.is_nullable(),
            _ => true,
        }
    }

    /// True for the reference types of WebAssembly 2.0 and the numeric and
    /// vector types: those that need no typed function references.
    pub fn is_wasm2(self) -> bool {
        match self {
            ValType::Ref(r) => r == RefType::FuncRef || r == RefType::ExternRef,
            _ => true,
        }
    }
}

impl fmt::Display for ValType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValType::I32 => f.write_str("i32"),
            ValType::I64 => f.write_str("i64"),
            ValType::F32 => f.write_str("f32"),
            ValType::F64 => f.write_str("f64"),
            ValType::V128 => f.write_str("v128"),
            ValType::Ref(r) => write!(f, "{r}"),
        }
    }
}

/// The heap type of a reference: what it points to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HeapType {
    /// Any function (`func`).
    Func,
    /// Any host value (`extern`).
    Extern,
    /// No function: the bottom of the function references (`nofunc`),
    /// only null.
    NoFunc,
    /// No host value: the bottom of the external references
    /// (`noextern`), only null.
    NoExtern,
    /// Any exception (`exn`, exception handling).
    Exn,
    /// No exception: the bottom of the exception references (`noexn`),
    /// only null.
    NoExn,
    /// The functions of the module's type at this index (inside a module;
    /// the runtime's canonical types use the engine's type id).
    Concrete(u32),
}

impl HeapType {
    /// Reads a heap type: an abstract type's byte or a non-negative `s33`
    /// type index.
    pub fn read(r: &mut Reader<'_>) -> Result<HeapType> {
        let offset = r.offset();
        let byte = r.peek_u8()?;
        let abstract_type = match byte {
            0x70 => Some(HeapType::Func),
            0x6f => Some(HeapType::Extern),
            0x73 => Some(HeapType::NoFunc),
            0x72 => Some(HeapType::NoExtern),
            0x69 => Some(HeapType::Exn),
            0x74 => Some(HeapType::NoExn),
            _ => None,
        };
        if let Some(t) = abstract_type {
            r.read_u8()?;
            return Ok(t);
        }
        let index = r.read_var_s33()?;
        if index < 0 {
            return Err(Error::malformed(offset, "malformed reference type"));
        }
        // Indices beyond the type limit name no type: they saturate at
        // the limit, which the validator reports as unknown.
        Ok(HeapType::Concrete(
            index.min(i64::from(RefType::MAX_INDEX)) as u32
        ))
    }

    /// Whether this is a function heap type (`func`, `nofunc` or a
    /// concrete type, all function types here).
    pub fn is_func(self) -> bool {
        !matches!(
            self,
            HeapType::Extern | HeapType::NoExtern | HeapType::Exn | HeapType::NoExn
        )
    }

    /// Whether this is an exception heap type (`exn` or `noexn`).
    pub fn is_exn(self) -> bool {
        matches!(self, HeapType::Exn | HeapType::NoExn)
    }
}

impl fmt::Display for HeapType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeapType::Func => f.write_str("func"),
            HeapType::Extern => f.write_str("extern"),
            HeapType::NoFunc => f.write_str("nofunc"),
            HeapType::NoExtern => f.write_str("noextern"),
            HeapType::Exn => f.write_str("exn"),
            HeapType::NoExn => f.write_str("noexn"),
            HeapType::Concrete(i) => write!(f, "{i}"),
        }
    }
}

/// A reference type: a [`HeapType`] and whether null is a value of it.
///
/// Packed in a `u32`: bit 31 is the nullability, bits 0..31 the heap
/// type, a type index below [`RefType::MAX_INDEX`] or one of the codes
/// above it for the abstract heap types. `RefType::FuncRef` and
/// `RefType::ExternRef` are the nullable `func` and `extern`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RefType(u32);

const NULLABLE: u32 = 1 << 31;
const HEAP_FUNC: u32 = NULLABLE - 1;
const HEAP_EXTERN: u32 = NULLABLE - 2;
const HEAP_NOFUNC: u32 = NULLABLE - 3;
const HEAP_NOEXTERN: u32 = NULLABLE - 4;
const HEAP_EXN: u32 = NULLABLE - 5;
const HEAP_NOEXN: u32 = NULLABLE - 6;

#[allow(non_upper_case_globals)]
impl RefType {
    /// `funcref`: `(ref null func)`.
    pub const FuncRef: RefType = RefType(NULLABLE | HEAP_FUNC);
    /// `externref`: `(ref null extern)`.
    pub const ExternRef: RefType = RefType(NULLABLE | HEAP_EXTERN);
    /// `exnref`: `(ref null exn)`.
    pub const ExnRef: RefType = RefType(NULLABLE | HEAP_EXN);
    /// Type indices saturate here (no module has this many types).
    pub const MAX_INDEX: u32 = 1 << 30;

    /// The reference type of `heap`, nullable or not.
    pub const fn new(nullable: bool, heap: HeapType) -> RefType {
        let bits = match heap {
            HeapType::Func => HEAP_FUNC,
            HeapType::Extern => HEAP_EXTERN,
            HeapType::NoFunc => HEAP_NOFUNC,
            HeapType::NoExtern => HEAP_NOEXTERN,
            HeapType::Exn => HEAP_EXN,
            HeapType::NoExn => HEAP_NOEXN,
            HeapType::Concrete(i) => {
                if i < RefType::MAX_INDEX {
                    i
                } else {
                    RefType::MAX_INDEX
                }
            }
        };
        RefType(bits | if nullable { NULLABLE } else { 0 })
    }

    /// Whether null is a value of this type.
    pub const fn is_nullable(self) -> bool {
        self.0 & NULLABLE != 0
    }

    /// The heap type.
    pub const fn heap(self) -> HeapType {
        match self.0 & !NULLABLE {
            HEAP_FUNC => HeapType::Func,
            HEAP_EXTERN => HeapType::Extern,
            HEAP_NOFUNC => HeapType::NoFunc,
            HEAP_NOEXTERN => HeapType::NoExtern,
            HEAP_EXN => HeapType::Exn,
            HEAP_NOEXN => HeapType::NoExn,
            i => HeapType::Concrete(i),
        }
    }

    /// The same heap type, nullable or not.
    pub const fn with_nullable(self, nullable: bool) -> RefType {
        RefType(if nullable {
            self.0 | NULLABLE
        } else {
            self.0 & !NULLABLE
        })
    }

    /// Whether its values are function references (else external or
    /// exception ones).
    pub fn is_func(self) -> bool {
        self.heap().is_func()
    }

    /// Whether its values are exception references.
    pub fn is_exn(self) -> bool {
        self.heap().is_exn()
    }

    /// The short one-byte forms: `funcref`, `externref`, `exnref`, and
    /// the bottom types' `nullfuncref`, `nullexternref`, `nullexnref`.
    fn from_short_byte(byte: u8) -> Option<RefType> {
        Some(match byte {
            0x70 => RefType::FuncRef,
            0x6f => RefType::ExternRef,
            0x73 => RefType::new(true, HeapType::NoFunc),
            0x72 => RefType::new(true, HeapType::NoExtern),
            0x69 => RefType::ExnRef,
            0x74 => RefType::new(true, HeapType::NoExn),
            _ => return None,
        })
    }

    /// Reads a reference type (the element type of tables and segments):
    /// a short form, `0x64 ht` or `0x63 ht`.
    pub fn read(r: &mut Reader<'_>) -> Result<RefType> {
        let offset = r.offset();
        let byte = r.read_u8()?;
        match byte {
            0x63 | 0x64 => Ok(RefType::new(byte == 0x63, HeapType::read(r)?)),
            _ => RefType::from_short_byte(byte)
                .ok_or_else(|| Error::malformed(offset, "malformed reference type")),
        }
    }
}

impl fmt::Debug for RefType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for RefType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.is_nullable(), self.heap()) {
            (true, HeapType::Func) => f.write_str("funcref"),
            (true, HeapType::Extern) => f.write_str("externref"),
            (true, HeapType::Exn) => f.write_str("exnref"),
            (true, heap) => write!(f, "(ref null {heap})"),
            (false, heap) => write!(f, "(ref {heap})"),
        }
    }
}

impl From<RefType> for ValType {
    fn from(r: RefType) -> ValType {
        ValType::Ref(r)
    }
}

/// A function type: parameters and results, and, for a type declared in
/// a recursion group of several types (`rec`), that group and its place
/// in it.
///
/// Two types declared in groups are equivalent only when their groups
/// are (member by member) and they are at the same place (iso-recursive
/// equivalence); a type of a group of one is a plain type. Only groups of
/// function types without subtyping declarations are decoded (GC's
/// struct, array and `sub` types are not), and a type refers to the
/// members of its own group by their indices, as to any other type.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FuncType {
    /// Parameters followed by results, in one allocation.
    types: Box<[ValType]>,
    params: usize,
    group: Option<RecGroup>,
}

/// The recursion group a type was declared in (see [`FuncType`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct RecGroup {
    /// The group's types, without their group.
    members: alloc::sync::Arc<[FuncType]>,
    /// The type's place in the group.
    index: u32,
}

impl FuncType {
    /// A function type with the given parameters and results.
    pub fn new(params: &[ValType], results: &[ValType]) -> FuncType {
        let mut types = alloc::vec::Vec::with_capacity(params.len() + results.len());
        types.extend_from_slice(params);
        types.extend_from_slice(results);
        FuncType {
            types: types.into_boxed_slice(),
            params: params.len(),
            group: None,
        }
    }

    /// The types of a recursion group of several types, in order.
    pub fn rec_group(members: &[FuncType]) -> alloc::vec::Vec<FuncType> {
        let plain: alloc::vec::Vec<FuncType> = members
            .iter()
            .map(|t| FuncType::new(t.params(), t.results()))
            .collect();
        let shared: alloc::sync::Arc<[FuncType]> = plain.into();
        (0..members.len())
            .map(|k| FuncType {
                group: Some(RecGroup {
                    members: shared.clone(),
                    index: k as u32,
                }),
                ..shared[k].clone()
            })
            .collect()
    }

    /// Whether a value type of it, or of its recursion group, satisfies
    /// `f`.
    pub fn any_type(&self, f: impl Fn(ValType) -> bool) -> bool {
        self.types.iter().any(|&t| f(t))
            || self
                .group
                .as_ref()
                .is_some_and(|g| g.members.iter().any(|m| m.types.iter().any(|&t| f(t))))
    }

    /// The same type with `f` applied to each of its value types and to
    /// those of its recursion group.
    pub fn map_types(&self, f: impl Fn(ValType) -> ValType) -> FuncType {
        let plain = |t: &FuncType| FuncType {
            types: t.types.iter().map(|&v| f(v)).collect(),
            params: t.params,
            group: None,
        };
        FuncType {
            group: self.group.as_ref().map(|g| RecGroup {
                members: g.members.iter().map(plain).collect(),
                index: g.index,
            }),
            ..plain(self)
        }
    }

    /// The parameter types.
    pub fn params(&self) -> &[ValType] {
        &self.types[..self.params]
    }

    /// The result types.
    pub fn results(&self) -> &[ValType] {
        &self.types[self.params..]
    }
}

impl fmt::Display for FuncType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, t) in self.params().iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{t}")?;
        }
        f.write_str("] -> [")?;
        for (i, t) in self.results().iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{t}")?;
        }
        f.write_str("]")
    }
}

/// Size limits of a table or memory (in elements or pages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Initial size.
    pub min: u64,
    /// Maximum size, if any.
    pub max: Option<u64>,
}

impl Limits {
    /// Limits of `min` and `max`.
    pub fn new(min: u64, max: Option<u64>) -> Limits {
        Limits { min, max }
    }

    /// Reads the minimum and, if `has_max`, the maximum, as `u64`s when
    /// `wide`.
    fn read_sizes(r: &mut Reader<'_>, has_max: bool, wide: bool) -> Result<Limits> {
        let read = |r: &mut Reader<'_>| {
            if wide {
                r.read_var_u64()
            } else {
                r.read_var_u32().map(u64::from)
            }
        };
        let min = read(r)?;
        let max = if has_max { Some(read(r)?) } else { None };
        Ok(Limits { min, max })
    }
}

/// A table's type.
///
/// A table64 table (the memory64 proposal's tables, WebAssembly 3.0) is
/// indexed with `i64`: its instructions take and return `i64` indices and
/// sizes, and its limits are `u64`s. Other tables keep `i32` indices and
/// `u32` limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableType {
    /// Element type.
    pub elem: RefType,
    /// Size limits in elements.
    pub limits: Limits,
    /// Indexed with `i64` rather than `i32` (table64).
    pub table64: bool,
}

impl TableType {
    /// A table of 32-bit indices with these element type and limits.
    pub fn new(elem: RefType, min: u64, max: Option<u64>) -> TableType {
        TableType {
            elem,
            limits: Limits { min, max },
            table64: false,
        }
    }

    /// The type of indices and sizes of this table.
    pub fn index_type(&self) -> ValType {
        if self.table64 {
            ValType::I64
        } else {
            ValType::I32
        }
    }

    /// Reads a table type: the element type, a flag byte (bit 0: a maximum
    /// follows; bit 2: 64-bit indices; any other bit, such as the threads
    /// proposal's shared bit 1, is malformed), then the limits, `u64`s
    /// for a 64-bit table or with wide table limits.
    pub fn read(r: &mut Reader<'_>, encodings: Encodings) -> Result<TableType> {
        let elem = RefType::read(r)?;
        let offset = r.offset();
        let flag = r.read_u8()?;
        if flag & !0b101 != 0 {
            return Err(
                Error::malformed(offset, "integer too large").with_detail("malformed limits flags")
            );
        }
        let table64 = flag & 0b100 != 0;
        let wide = table64 || encodings.wide_table_limits;
        let limits = Limits::read_sizes(r, flag & 1 != 0, wide)?;
        Ok(TableType {
            elem,
            limits,
            table64,
        })
    }
}

/// The page size of memories without a custom page size (64 KiB), log2.
pub const DEFAULT_PAGE_SIZE_LOG2: u32 = 16;

/// A linear memory's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryType {
    /// Size limits in pages.
    pub limits: Limits,
    /// Addressed with `i64` (memory64) rather than `i32`.
    pub memory64: bool,
    /// log2 of the page size when the type gives one (custom-page-sizes:
    /// valid are 0 and 16); `None` is the default 64 KiB.
    pub page_size_log2: Option<u32>,
}

impl MemoryType {
    /// A 32-bit memory of 64 KiB pages with these limits.
    pub fn new(min: u64, max: Option<u64>) -> MemoryType {
        MemoryType {
            limits: Limits { min, max },
            memory64: false,
            page_size_log2: None,
        }
    }

    /// log2 of the page size in bytes.
    pub fn page_size_log2(&self) -> u32 {
        self.page_size_log2.unwrap_or(DEFAULT_PAGE_SIZE_LOG2)
    }

    /// The page size in bytes (65,536 unless custom).
    pub fn page_size(&self) -> u64 {
        1u64 << self.page_size_log2().min(63)
    }

    /// The type of addresses and sizes in this memory.
    pub fn index_type(&self) -> ValType {
        if self.memory64 {
            ValType::I64
        } else {
            ValType::I32
        }
    }

    /// Reads a memory type: a flag byte (bit 0: a maximum follows; bit 2:
    /// 64-bit; bit 3, with custom page sizes: a page size follows the
    /// limits), the limits (`u64`s for a 64-bit memory or with wide
    /// limits), then the page size's log2. Bit 1 (shared, the threads
    /// proposal) and the others are malformed, and so is a page size
    /// beyond 2^64.
    pub fn read(r: &mut Reader<'_>, encodings: Encodings) -> Result<MemoryType> {
        let offset = r.offset();
        let flag = r.read_u8()?;
        let known = if encodings.custom_page_sizes {
            0b1101
        } else {
            0b0101
        };
        if flag & !known != 0 {
            let err = Error::malformed(offset, "integer too large");
            // Only bit 3 unknown: a page size, of a disabled feature.
            if flag & !0b1101 == 0 {
                return Err(err.with_detail(
                    "malformed limits flags (a page size needs Config::wasm_custom_page_sizes)",
                ));
            }
            return Err(err.with_detail("malformed limits flags"));
        }
        let memory64 = flag & 0b100 != 0;
        let wide = memory64 || encodings.wide_memory_limits;
        let limits = Limits::read_sizes(r, flag & 1 != 0, wide)?;
        let page_size_log2 = if flag & 0b1000 != 0 {
            let offset = r.offset();
            let log2 = r.read_var_u32()?;
            if log2 > 64 {
                return Err(Error::malformed(offset, "invalid custom page size")
                    .with_detail(format_args!("2^{log2} bytes")));
            }
            Some(log2)
        } else {
            None
        };
        Ok(MemoryType {
            limits,
            memory64,
            page_size_log2,
        })
    }
}

/// A global's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GlobalType {
    /// The value type.
    pub content: ValType,
    /// Whether `global.set` may change it.
    pub mutable: bool,
}

impl GlobalType {
    /// Reads a global type.
    pub fn read(r: &mut Reader<'_>) -> Result<GlobalType> {
        let content = ValType::read(r)?;
        let offset = r.offset();
        let mutable = match r.read_u8()? {
            0 => false,
            1 => true,
            _ => return Err(Error::malformed(offset, "malformed mutability")),
        };
        Ok(GlobalType { content, mutable })
    }
}

/// The type of a `block`, `loop` or `if`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockType {
    /// `[] -> []`
    Empty,
    /// `[] -> [t]`
    Value(ValType),
    /// A type index: `[params] -> [results]`.
    Func(u32),
}

impl BlockType {
    /// Reads a block type (0x40, a value type, or a non-negative s33).
    /// Inlined is only the commonest, 0x40 (no parameters, no results).
    #[inline(always)]
    pub fn read(r: &mut Reader<'_>) -> Result<BlockType> {
        if r.peek_u8().ok() == Some(0x40) {
            r.read_u8()?;
            return Ok(BlockType::Empty);
        }
        r.on_copy(BlockType::read_general)
    }

    /// [`Self::read`] of every encoding.
    #[inline(never)]
    fn read_general(r: &mut Reader<'_>) -> Result<BlockType> {
        let byte = r.peek_u8()?;
        if byte == 0x40 {
            r.read_u8()?;
            return Ok(BlockType::Empty);
        }
        if byte == 0x63 || byte == 0x64 {
            return Ok(BlockType::Value(ValType::read(r)?));
        }
        if let Some(t) = ValType::from_byte(byte) {
            r.read_u8()?;
            return Ok(BlockType::Value(t));
        }
        let offset = r.offset();
        let index = r.read_var_s33()?;
        if index < 0 {
            return Err(Error::malformed(offset, "malformed value type"));
        }
        u32::try_from(index)
            .map(BlockType::Func)
            .map_err(|_| Error::malformed(offset, "integer too large"))
    }
}

/// The immediate of loads and stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemArg {
    /// log2 of the promised alignment (below 64; the validator refuses
    /// 32 and more without multi-memory, as 2.0 does).
    pub align: u8,
    /// Constant offset added to the address.
    pub offset: u64,
    /// Memory index (multi-memory; 0 when the flags carry none).
    pub memory: u32,
    /// How the encoding departs from WebAssembly 2.0's, for the validator
    /// to reject when the feature that allows it is off.
    pub encoding: MemArgEncoding,
}

/// What a `memarg`'s encoding uses beyond WebAssembly 2.0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemArgEncoding {
    /// The flags' bit 6 is set and a memory index follows (multi-memory).
    pub has_memory: bool,
    /// The offset does not read as a LEB128 `u32` (memory64), and why:
    /// the 2.0 decoder's error, kept for when memory64 is off.
    pub wide_offset: Option<WideOffset>,
}

/// Why a `memarg` offset is not a LEB128 `u32`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WideOffset {
    /// More than 5 bytes.
    TooLong,
    /// 5 bytes, with bits beyond the 32nd.
    TooLarge,
}

impl WideOffset {
    /// The 2.0 decoder's message.
    pub fn message(self) -> &'static str {
        match self {
            WideOffset::TooLong => "integer representation too long",
            WideOffset::TooLarge => "integer too large",
        }
    }
}

impl MemArg {
    /// Reads a `memarg`: flags (the alignment, and bit 6 when a memory
    /// index follows), the memory index, then the offset as a LEB128 `u64`.
    ///
    /// The commonest encoding (see `Reader::read_short_memarg`) is read
    /// inline, the others out of line.
    #[inline(always)]
    pub fn read(r: &mut Reader<'_>) -> Result<MemArg> {
        match r.read_short_memarg() {
            Some((align, offset)) => Ok(MemArg {
                align,
                offset,
                memory: 0,
                encoding: MemArgEncoding::default(),
            }),
            None => r.on_copy(MemArg::read_general),
        }
    }

    /// [`Self::read`] of every encoding.
    ///
    /// Its common case, flags of one byte without a memory index, then an
    /// offset of three to five bytes that fits 32 bits (large addresses,
    /// and the five-byte offsets linkers leave for relocation), is read
    /// here; the others in a function of their own, so that this one
    /// needs few registers (none to save).
    #[inline(never)]
    fn read_general(r: &mut Reader<'_>) -> Result<MemArg> {
        if let Ok(flags @ 0..0x40) = r.peek_u8() {
            let mut rest = r.clone();
            rest.read_u8()?;
            if let Some(offset) = rest.read_var_u32_unrolled() {
                *r = rest;
                return Ok(MemArg {
                    align: flags,
                    offset: u64::from(offset),
                    memory: 0,
                    encoding: MemArgEncoding::default(),
                });
            }
        }
        MemArg::read_other(r)
    }

    /// [`Self::read_general`] of the encodings beyond its common case.
    #[inline(never)]
    fn read_other(r: &mut Reader<'_>) -> Result<MemArg> {
        let flags_offset = r.offset();
        let flags = r.read_var_u32()?;
        let has_memory = flags & 0x40 != 0;
        let align = flags & !0x40;
        // The flags below 2^7 are an alignment below 2^64 and the memory
        // bit (3.0); the validator also refuses alignments of 2^32 and
        // more where the flags have no memory bit (2.0).
        if align >= 64 {
            return Err(Error::malformed(flags_offset, "malformed memop flags"));
        }
        let memory = if has_memory { r.read_var_u32()? } else { 0 };
        let start = r.remaining();
        let offset = r.read_var_u64()?;
        // What a u32 read would have said: at the 5th byte, a continuation
        // bit makes the LEB128 too long, bits beyond the 32nd too large.
        let wide_offset = match start - r.remaining() {
            0..=4 => None,
            5 if offset <= u64::from(u32::MAX) => None,
            5 => Some(WideOffset::TooLarge),
            _ => Some(WideOffset::TooLong),
        };
        Ok(MemArg {
            // Below 64, checked above.
            align: align as u8,
            offset,
            memory,
            encoding: MemArgEncoding {
                has_memory,
                wide_offset,
            },
        })
    }
}

/// The targets of a `br_table`, kept as undecoded bytes so that decoding an
/// instruction never allocates.
#[derive(Clone, Copy, Debug)]
pub struct BrTable<'a> {
    bytes: &'a [u8],
    base: usize,
    count: u32,
    default: u32,
}

impl<'a> BrTable<'a> {
    /// Reads a label vector and the default label.
    pub fn read(r: &mut Reader<'a>) -> Result<BrTable<'a>> {
        let count = r.read_len()?;
        let base = r.offset();
        let start = r.rest();
        for _ in 0..count {
            r.read_var_u32()?;
        }
        let len = start.len() - r.remaining();
        let default = r.read_var_u32()?;
        Ok(BrTable {
            bytes: &start[..len],
            base,
            count,
            default,
        })
    }

    /// Number of targets, not counting the default.
    pub fn len(&self) -> u32 {
        self.count
    }

    /// True when only the default target exists.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The default target.
    pub fn default(&self) -> u32 {
        self.default
    }

    /// The targets (label depths), in order, without the default.
    pub fn targets(&self) -> impl Iterator<Item = u32> + 'a {
        let mut r = Reader::new(self.bytes, self.base);
        // Already decoded once in `read`, so every read succeeds.
        (0..self.count).map(move |_| r.read_var_u32().unwrap_or(0))
    }
}

/// What a `try_table` catch clause catches and hands to its label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CatchKind {
    /// `catch x l`: exceptions of tag `x`; the label gets the payload.
    Catch,
    /// `catch_ref x l`: exceptions of tag `x`; the payload and the exnref.
    CatchRef,
    /// `catch_all l`: every exception; the label gets nothing.
    CatchAll,
    /// `catch_all_ref l`: every exception; the label gets the exnref.
    CatchAllRef,
}

/// One catch clause of a `try_table`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Catch {
    /// Which form.
    pub kind: CatchKind,
    /// The tag index (0 for the `catch_all` forms).
    pub tag: u32,
    /// The label depth, relative to the `try_table`'s enclosing block.
    pub label: u32,
}

impl Catch {
    /// Whether the clause names a tag (`catch`, `catch_ref`).
    pub fn has_tag(&self) -> bool {
        matches!(self.kind, CatchKind::Catch | CatchKind::CatchRef)
    }

    /// Whether the label also gets the exnref.
    pub fn with_ref(&self) -> bool {
        matches!(self.kind, CatchKind::CatchRef | CatchKind::CatchAllRef)
    }

    fn read(r: &mut Reader<'_>) -> Result<Catch> {
        let offset = r.offset();
        let kind = match r.read_u8()? {
            0 => CatchKind::Catch,
            1 => CatchKind::CatchRef,
            2 => CatchKind::CatchAll,
            3 => CatchKind::CatchAllRef,
            _ => return Err(Error::malformed(offset, "malformed catch clause")),
        };
        let tag = match kind {
            CatchKind::Catch | CatchKind::CatchRef => r.read_var_u32()?,
            _ => 0,
        };
        let label = r.read_var_u32()?;
        Ok(Catch { kind, tag, label })
    }
}

/// The immediates of a `try_table`: its block type and catch clauses, the
/// clauses kept as undecoded bytes so that decoding an instruction never
/// allocates (as [`BrTable`]).
#[derive(Clone, Copy, Debug)]
pub struct TryTable<'a> {
    bytes: &'a [u8],
    /// The block type.
    pub blockty: BlockType,
    base: u32,
    count: u32,
}

impl<'a> TryTable<'a> {
    /// Reads a block type and a vector of catch clauses.
    pub fn read(r: &mut Reader<'a>) -> Result<TryTable<'a>> {
        let blockty = BlockType::read(r)?;
        let offset = r.offset();
        let count = r.read_len()?;
        if count > super::limits::MAX_CATCHES {
            return Err(Error::limit(offset, "too many catch clauses"));
        }
        let base = r.offset();
        let start = r.rest();
        for _ in 0..count {
            Catch::read(r)?;
        }
        let len = start.len() - r.remaining();
        Ok(TryTable {
            bytes: &start[..len],
            blockty,
            base: u32::try_from(base).unwrap_or(u32::MAX),
            count,
        })
    }

    /// Number of catch clauses.
    pub fn len(&self) -> u32 {
        self.count
    }

    /// True when there is no catch clause.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The catch clauses, in order.
    pub fn catches(&self) -> impl Iterator<Item = Catch> + 'a {
        let mut r = Reader::new(self.bytes, self.base as usize);
        // Already decoded once in `read`, so every read succeeds.
        (0..self.count).map(move |_| {
            Catch::read(&mut r).unwrap_or(Catch {
                kind: CatchKind::CatchAll,
                tag: 0,
                label: 0,
            })
        })
    }
}

/// The types of a typed `select` (exactly one is valid in 2.0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SelectTypes {
    /// How many types were given.
    pub count: u32,
    /// The first type, if any.
    pub first: Option<ValType>,
}

impl SelectTypes {
    /// Reads a vector of value types.
    pub fn read(r: &mut Reader<'_>) -> Result<SelectTypes> {
        let count = r.read_len()?;
        let mut first = None;
        for i in 0..count {
            let t = ValType::read(r)?;
            if i == 0 {
                first = Some(t);
            }
        }
        Ok(SelectTypes { count, first })
    }
}

/// The memory index of `memory.size`, `memory.grow`, ...: a LEB128 `u32`
/// (multi-memory), a zero byte in WebAssembly 2.0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemIdx {
    /// The index.
    pub index: u32,
    /// Whether it was encoded as the single byte `0x00`, the only
    /// encoding WebAssembly 2.0 accepts.
    pub zero_byte: bool,
}

impl MemIdx {
    /// Reads a memory index.
    pub fn read(r: &mut Reader<'_>) -> Result<MemIdx> {
        let start = r.remaining();
        let index = r.read_var_u32()?;
        Ok(MemIdx {
            index,
            zero_byte: index == 0 && start - r.remaining() == 1,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn read_val(bytes: &[u8]) -> Result<ValType> {
        ValType::read(&mut Reader::new(bytes, 0))
    }

    /// Every short encoding reads as the general one does, whether the
    /// `memarg` ends the input (too short for the fast path's window) or
    /// is followed by more bytes; a memory index or a longer offset takes
    /// the general path.
    #[test]
    fn memarg_encodings() {
        // (offset bytes, value), LEB128 worked out by hand.
        let offsets: [(&[u8], u64); 7] = [
            (&[0x00], 0),
            (&[0x7f], 127),
            (&[0x80, 0x01], 128),
            (&[0x80, 0x00], 0),
            (&[0xff, 0x7f], 0x3fff),
            (&[0x80, 0x80, 0x01], 0x4000),
            (&[0xff, 0xff, 0xff, 0xff, 0x0f], 0xffff_ffff),
        ];
        for flags in [0u8, 2, 3, 0x3f] {
            for (bytes, value) in offsets {
                for trailer in [&[][..], &[0x0b, 0x0b]] {
                    let mut input = alloc::vec![flags];
                    input.extend_from_slice(bytes);
                    input.extend_from_slice(trailer);
                    let mut r = Reader::new(&input, 0);
                    let m = MemArg::read(&mut r).expect("a valid memarg");
                    assert_eq!(
                        (m.align, m.offset, m.memory, m.encoding),
                        (flags, value, 0, MemArgEncoding::default()),
                        "{input:x?}"
                    );
                    assert_eq!(r.remaining(), trailer.len(), "{input:x?}");
                }
            }
        }
        // Bit 6: memory index 2 follows the flags, then the offset.
        let mut r = Reader::new(&[0x42, 0x02, 0x80, 0x01, 0x0b], 0);
        let m = MemArg::read(&mut r).expect("a valid memarg");
        assert_eq!((m.align, m.memory, m.offset), (2, 2, 128));
        assert!(m.encoding.has_memory);
        // Flags of 64 and more without the memory bit are malformed.
        let err = MemArg::read(&mut Reader::new(&[0x80, 0x01, 0x00, 0x0b], 0)).unwrap_err();
        assert_eq!(err.message(), "malformed memop flags");
    }

    #[test]
    fn reference_types_decode_to_their_heap_type_and_nullability() {
        let r = |nullable, heap| ValType::Ref(RefType::new(nullable, heap));
        assert_eq!(read_val(&[0x70]).unwrap(), ValType::FuncRef);
        assert_eq!(read_val(&[0x6f]).unwrap(), ValType::ExternRef);
        assert_eq!(read_val(&[0x63, 0x70]).unwrap(), ValType::FuncRef);
        assert_eq!(read_val(&[0x64, 0x70]).unwrap(), r(false, HeapType::Func));
        assert_eq!(read_val(&[0x64, 0x6f]).unwrap(), r(false, HeapType::Extern));
        assert_eq!(read_val(&[0x73]).unwrap(), r(true, HeapType::NoFunc));
        assert_eq!(
            read_val(&[0x63, 0x72]).unwrap(),
            r(true, HeapType::NoExtern)
        );
        // Type index 200, as an s33 (two bytes: 0xc8 0x01).
        assert_eq!(
            read_val(&[0x64, 0xc8, 0x01]).unwrap(),
            r(false, HeapType::Concrete(200))
        );
        // A negative s33 that is no abstract type is malformed.
        assert_eq!(
            read_val(&[0x63, 0x40]).unwrap_err().message(),
            "malformed reference type"
        );
        // A huge index saturates; the validator reports it unknown.
        let huge = read_val(&[0x64, 0xff, 0xff, 0xff, 0xff, 0x0f]).unwrap();
        assert_eq!(huge, r(false, HeapType::Concrete(RefType::MAX_INDEX)));
    }

    #[test]
    fn the_packed_form_keeps_both_parts_apart() {
        for heap in [
            HeapType::Func,
            HeapType::Extern,
            HeapType::NoFunc,
            HeapType::NoExtern,
            HeapType::Concrete(0),
            HeapType::Concrete(RefType::MAX_INDEX - 1),
        ] {
            for nullable in [false, true] {
                let t = RefType::new(nullable, heap);
                assert_eq!((t.is_nullable(), t.heap()), (nullable, heap));
                assert_eq!(t.with_nullable(!nullable).heap(), heap);
            }
        }
        assert_eq!(RefType::FuncRef.to_string(), "funcref");
        assert_eq!(
            RefType::new(false, HeapType::Concrete(3)).to_string(),
            "(ref 3)"
        );
        assert_eq!(core::mem::size_of::<ValType>(), 8);
    }
}
