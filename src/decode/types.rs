//! The types of the binary format: value types, function types, limits,
//! table, memory and global types, block types, and the immediates that
//! instructions carry (`memarg`, `br_table` targets, lanes, ...).

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
    pub min: u32,
    /// Maximum size, if any.
    pub max: Option<u32>,
}

impl Limits {
    /// Reads limits: a flag byte (0: min only, 1: min and max), then LEB128s.
    pub fn read(r: &mut Reader<'_>) -> Result<Limits> {
        let offset = r.offset();
        let flag = r.read_u8()?;
        match flag {
            0x00 => Ok(Limits {
                min: r.read_var_u32()?,
                max: None,
            }),
            0x01 => {
                let min = r.read_var_u32()?;
                let max = r.read_var_u32()?;
                Ok(Limits {
                    min,
                    max: Some(max),
                })
            }
            _ => Err(Error::malformed(offset, "integer too large")),
        }
    }
}

/// A table's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableType {
    /// Element type.
    pub elem: RefType,
    /// Size limits in elements.
    pub limits: Limits,
}

impl TableType {
    /// Reads a table type.
    pub fn read(r: &mut Reader<'_>) -> Result<TableType> {
        let elem = RefType::read(r)?;
        let limits = Limits::read(r)?;
        Ok(TableType { elem, limits })
    }
}

/// A linear memory's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryType {
    /// Size limits in 64 KiB pages.
    pub limits: Limits,
}

impl MemoryType {
    /// Reads a memory type.
    pub fn read(r: &mut Reader<'_>) -> Result<MemoryType> {
        Ok(MemoryType {
            limits: Limits::read(r)?,
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
    /// log2 of the promised alignment.
    pub align: u32,
    /// Constant offset added to the address.
    pub offset: u64,
    /// Memory index (always 0 in WebAssembly 2.0).
    pub memory: u32,
}

impl MemArg {
    /// Reads a `memarg`.
    pub fn read(r: &mut Reader<'_>) -> Result<MemArg> {
        let flags_offset = r.offset();
        let align = r.read_var_u32()?;
        // 2^32 is the largest meaningful alignment; larger exponents (and the
        // multi-memory flag bit 6) are not part of WebAssembly 2.0.
        if align >= 32 {
            return Err(Error::malformed(flags_offset, "malformed memop flags"));
        }
        let offset = u64::from(r.read_var_u32()?);
        Ok(MemArg {
            align,
            offset,
            memory: 0,
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

/// The index byte of `memory.size`, `memory.grow`, ... which must be zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemIdx(pub u32);

impl MemIdx {
    /// Reads the reserved zero byte.
    pub fn read(r: &mut Reader<'_>) -> Result<MemIdx> {
        let offset = r.offset();
        match r.read_u8()? {
            0 => Ok(MemIdx(0)),
            _ => Err(Error::malformed(offset, "zero byte expected")),
        }
    }
}
