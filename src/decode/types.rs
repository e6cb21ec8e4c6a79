//! The types of the binary format: value types, function types, limits,
//! table, memory and global types, block types, and the immediates that
//! instructions carry (`memarg`, `br_table` targets, lanes, ...).

use super::module::Encodings;
use super::reader::Reader;
use crate::error::{Error, Result};
use alloc::boxed::Box;
use core::fmt;

/// A value type.
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
    /// Nullable reference to a function.
    FuncRef,
    /// Nullable reference to a host value.
    ExternRef,
}

impl ValType {
    /// Decodes a value type from its one-byte encoding.
    pub fn from_byte(byte: u8) -> Option<ValType> {
        Some(match byte {
            0x7f => ValType::I32,
            0x7e => ValType::I64,
            0x7d => ValType::F32,
            0x7c => ValType::F64,
            0x7b => ValType::V128,
            0x70 => ValType::FuncRef,
            0x6f => ValType::ExternRef,
            _ => return None,
        })
    }

    /// Reads a value type.
    pub fn read(r: &mut Reader<'_>) -> Result<ValType> {
        let offset = r.offset();
        let byte = r.read_u8()?;
        ValType::from_byte(byte).ok_or_else(|| Error::malformed(offset, "malformed value type"))
    }

    /// This type as a one-element slice (the results of a block of this
    /// type).
    pub fn as_slice(self) -> &'static [ValType] {
        match self {
            ValType::I32 => &[ValType::I32],
            ValType::I64 => &[ValType::I64],
            ValType::F32 => &[ValType::F32],
            ValType::F64 => &[ValType::F64],
            ValType::V128 => &[ValType::V128],
            ValType::FuncRef => &[ValType::FuncRef],
            ValType::ExternRef => &[ValType::ExternRef],
        }
    }

    /// True for `funcref` and `externref`.
    pub fn is_ref(self) -> bool {
        matches!(self, ValType::FuncRef | ValType::ExternRef)
    }
}

impl fmt::Display for ValType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValType::I32 => "i32",
            ValType::I64 => "i64",
            ValType::F32 => "f32",
            ValType::F64 => "f64",
            ValType::V128 => "v128",
            ValType::FuncRef => "funcref",
            ValType::ExternRef => "externref",
        })
    }
}

/// A reference type: the element type of tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RefType {
    /// `funcref`
    FuncRef,
    /// `externref`
    ExternRef,
}

impl RefType {
    /// Reads a reference type (also the heap type of `ref.null`).
    pub fn read(r: &mut Reader<'_>) -> Result<RefType> {
        let offset = r.offset();
        match r.read_u8()? {
            0x70 => Ok(RefType::FuncRef),
            0x6f => Ok(RefType::ExternRef),
            _ => Err(Error::malformed(offset, "malformed reference type")),
        }
    }
}

impl From<RefType> for ValType {
    fn from(r: RefType) -> ValType {
        match r {
            RefType::FuncRef => ValType::FuncRef,
            RefType::ExternRef => ValType::ExternRef,
        }
    }
}

/// A function type: parameters and results.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FuncType {
    /// Parameters followed by results, in one allocation.
    types: Box<[ValType]>,
    params: usize,
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
    /// follows; bit 2: 64-bit indices, whose limits are `u64`s; any other
    /// bit, such as the threads proposal's shared bit 1, is malformed),
    /// then the limits.
    pub fn read(r: &mut Reader<'_>) -> Result<TableType> {
        let elem = RefType::read(r)?;
        let offset = r.offset();
        let flag = r.read_u8()?;
        if flag & !0b101 != 0 {
            return Err(
                Error::malformed(offset, "integer too large").with_detail("malformed limits flags")
            );
        }
        let table64 = flag & 0b100 != 0;
        let limits = Limits::read_sizes(r, flag & 1 != 0, table64)?;
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
    pub fn read(r: &mut Reader<'_>) -> Result<BlockType> {
        let byte = r.peek_u8()?;
        if byte == 0x40 {
            r.read_u8()?;
            return Ok(BlockType::Empty);
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
    /// log2 of the promised alignment (below 32).
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
    pub fn read(r: &mut Reader<'_>) -> Result<MemArg> {
        let flags_offset = r.offset();
        let flags = r.read_var_u32()?;
        let has_memory = flags & 0x40 != 0;
        let align = flags & !0x40;
        // 2^32 is the largest meaningful alignment.
        if align >= 32 {
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
            // Below 32, checked above.
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
