//! The WebAssembly binary format.
//!
//! [`Module::decode`] reads a whole module into its sections, borrowing the
//! input bytes: function bodies and constant expressions stay undecoded byte
//! ranges until the validator (and later the compiler) streams their
//! instructions with [`read_operator`]. Decoding owns well-formedness only
//! (the "malformed" errors of the spec); typing is the validator's.

pub mod limits;
mod module;
mod operators;
mod reader;
mod types;

pub use module::{
    ConstExpr, CustomSection, DataKind, DataSegment, ElementItems, ElementKind, ElementSegment,
    Encodings, Export, ExternKind, FunctionBody, Global, Import, ImportKind, Module, Names,
    retained_sections,
};
pub use operators::{
    Ieee32, Ieee64, Operator, Shuffle, V128, VisitOperator, read_operator, read_operator_inline,
    visit_operator,
};
pub use reader::Reader;
pub use types::{
    BlockType, BrTable, Catch, CatchKind, DEFAULT_PAGE_SIZE_LOG2, FuncType, GlobalType, HeapType,
    Limits, MemArg, MemArgEncoding, MemIdx, MemoryType, RefType, SelectTypes, TableType, TryTable,
    ValType, WideOffset,
};
