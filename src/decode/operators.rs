//! The instruction set, defined once.
//!
//! [`for_each_operator!`] lists every instruction of WebAssembly 2.0, and
//! of the 3.0 features and proposals wasmkern decodes (tail calls,
//! relaxed SIMD, wide arithmetic, typed function references, exception
//! handling), with its encoding, its immediates and
//! its type signature. Which feature an instruction needs is the
//! validator's to know (`validate::func`). The [`Operator`] enum, the
//! decoder ([`read_operator`]), and the validator's and compiler's dispatch
//! are all generated from this one table, so adding an instruction is one
//! line. The legacy exception-handling opcodes (`try`, `catch`,
//! `rethrow`, `delegate`, `catch_all`) are not in the table: reading one
//! is a malformed-module error that says so.
//!
//! Each line reads `prefix opcode Name { immediates } => signature`:
//! - `prefix` is `op` (one-byte opcode), `fc` or `fd` (the `0xFC`/`0xFD`
//!   prefixes followed by a LEB128 sub-opcode);
//! - the address operand of `mem` and `memlane` signatures is written
//!   `i32`; the validator takes it to be `i64` for a 64-bit memory;
//! - the signature is one of
//!   `[a b -> c]` (pops `a b`, pushes `c`; nothing else to check),
//!   `[mem N: a -> c]` (also checks the `memarg` against natural alignment 2^N),
//!   `[lane N: a -> c]` (the `lane` immediate must be below N),
//!   `[memlane A N: a -> c]` (both), or
//!   `special` (control, variables, references, tables: the validator has a
//!   hand-written rule).

use super::reader::Reader;
use super::types::{BlockType, BrTable, HeapType, MemArg, MemIdx, SelectTypes, TryTable};
use crate::error::{Error, Result};

/// Calls `$m!` with the whole instruction table.
#[macro_export]
#[doc(hidden)]
macro_rules! for_each_operator {
    ($m:ident) => {
        $m! {
            // Control.
            op 0x00 Unreachable => special
            op 0x01 Nop => special
            op 0x02 Block { blockty: BlockType } => special
            op 0x03 Loop { blockty: BlockType } => special
            op 0x04 If { blockty: BlockType } => special
            op 0x05 Else => special
            op 0x08 Throw { tag_index: u32 } => special
            op 0x0a ThrowRef => special
            op 0x0b End => special
            op 0x0c Br { relative_depth: u32 } => special
            op 0x0d BrIf { relative_depth: u32 } => special
            op 0x0e BrTable { targets: BrTable<'a> } => special
            op 0x0f Return => special
            op 0x10 Call { function_index: u32 } => special
            op 0x11 CallIndirect { type_index: u32, table_index: u32 } => special
            op 0x12 ReturnCall { function_index: u32 } => special
            op 0x13 ReturnCallIndirect { type_index: u32, table_index: u32 } => special
            op 0x14 CallRef { type_index: u32 } => special
            op 0x15 ReturnCallRef { type_index: u32 } => special
            // Parametric.
            op 0x1a Drop => special
            op 0x1b Select => special
            op 0x1c TypedSelect { ty: SelectTypes } => special
            op 0x1f TryTable { table: TryTable<'a> } => special
            // Variables.
            op 0x20 LocalGet { local_index: u32 } => special
            op 0x21 LocalSet { local_index: u32 } => special
            op 0x22 LocalTee { local_index: u32 } => special
            op 0x23 GlobalGet { global_index: u32 } => special
            op 0x24 GlobalSet { global_index: u32 } => special
            op 0x25 TableGet { table: u32 } => special
            op 0x26 TableSet { table: u32 } => special
            // Memory.
            op 0x28 I32Load { memarg: MemArg } => [mem 2: i32 -> i32]
            op 0x29 I64Load { memarg: MemArg } => [mem 3: i32 -> i64]
            op 0x2a F32Load { memarg: MemArg } => [mem 2: i32 -> f32]
            op 0x2b F64Load { memarg: MemArg } => [mem 3: i32 -> f64]
            op 0x2c I32Load8S { memarg: MemArg } => [mem 0: i32 -> i32]
            op 0x2d I32Load8U { memarg: MemArg } => [mem 0: i32 -> i32]
            op 0x2e I32Load16S { memarg: MemArg } => [mem 1: i32 -> i32]
            op 0x2f I32Load16U { memarg: MemArg } => [mem 1: i32 -> i32]
            op 0x30 I64Load8S { memarg: MemArg } => [mem 0: i32 -> i64]
            op 0x31 I64Load8U { memarg: MemArg } => [mem 0: i32 -> i64]
            op 0x32 I64Load16S { memarg: MemArg } => [mem 1: i32 -> i64]
            op 0x33 I64Load16U { memarg: MemArg } => [mem 1: i32 -> i64]
            op 0x34 I64Load32S { memarg: MemArg } => [mem 2: i32 -> i64]
            op 0x35 I64Load32U { memarg: MemArg } => [mem 2: i32 -> i64]
            op 0x36 I32Store { memarg: MemArg } => [mem 2: i32 i32 ->]
            op 0x37 I64Store { memarg: MemArg } => [mem 3: i32 i64 ->]
            op 0x38 F32Store { memarg: MemArg } => [mem 2: i32 f32 ->]
            op 0x39 F64Store { memarg: MemArg } => [mem 3: i32 f64 ->]
            op 0x3a I32Store8 { memarg: MemArg } => [mem 0: i32 i32 ->]
            op 0x3b I32Store16 { memarg: MemArg } => [mem 1: i32 i32 ->]
            op 0x3c I64Store8 { memarg: MemArg } => [mem 0: i32 i64 ->]
            op 0x3d I64Store16 { memarg: MemArg } => [mem 1: i32 i64 ->]
            op 0x3e I64Store32 { memarg: MemArg } => [mem 2: i32 i64 ->]
            op 0x3f MemorySize { mem: MemIdx } => special
            op 0x40 MemoryGrow { mem: MemIdx } => special
            // Constants.
            op 0x41 I32Const { value: i32 } => [-> i32]
            op 0x42 I64Const { value: i64 } => [-> i64]
            op 0x43 F32Const { value: Ieee32 } => [-> f32]
            op 0x44 F64Const { value: Ieee64 } => [-> f64]
            // i32 comparisons.
            op 0x45 I32Eqz => [i32 -> i32]
            op 0x46 I32Eq => [i32 i32 -> i32]
            op 0x47 I32Ne => [i32 i32 -> i32]
            op 0x48 I32LtS => [i32 i32 -> i32]
            op 0x49 I32LtU => [i32 i32 -> i32]
            op 0x4a I32GtS => [i32 i32 -> i32]
            op 0x4b I32GtU => [i32 i32 -> i32]
            op 0x4c I32LeS => [i32 i32 -> i32]
            op 0x4d I32LeU => [i32 i32 -> i32]
            op 0x4e I32GeS => [i32 i32 -> i32]
            op 0x4f I32GeU => [i32 i32 -> i32]
            // i64 comparisons.
            op 0x50 I64Eqz => [i64 -> i32]
            op 0x51 I64Eq => [i64 i64 -> i32]
            op 0x52 I64Ne => [i64 i64 -> i32]
            op 0x53 I64LtS => [i64 i64 -> i32]
            op 0x54 I64LtU => [i64 i64 -> i32]
            op 0x55 I64GtS => [i64 i64 -> i32]
            op 0x56 I64GtU => [i64 i64 -> i32]
            op 0x57 I64LeS => [i64 i64 -> i32]
            op 0x58 I64LeU => [i64 i64 -> i32]
            op 0x59 I64GeS => [i64 i64 -> i32]
            op 0x5a I64GeU => [i64 i64 -> i32]
            // Float comparisons.
            op 0x5b F32Eq => [f32 f32 -> i32]
            op 0x5c F32Ne => [f32 f32 -> i32]
            op 0x5d F32Lt => [f32 f32 -> i32]
            op 0x5e F32Gt => [f32 f32 -> i32]
            op 0x5f F32Le => [f32 f32 -> i32]
            op 0x60 F32Ge => [f32 f32 -> i32]
            op 0x61 F64Eq => [f64 f64 -> i32]
            op 0x62 F64Ne => [f64 f64 -> i32]
            op 0x63 F64Lt => [f64 f64 -> i32]
            op 0x64 F64Gt => [f64 f64 -> i32]
            op 0x65 F64Le => [f64 f64 -> i32]
            op 0x66 F64Ge => [f64 f64 -> i32]
            // i32 arithmetic.
            op 0x67 I32Clz => [i32 -> i32]
            op 0x68 I32Ctz => [i32 -> i32]
            op 0x69 I32Popcnt => [i32 -> i32]
            op 0x6a I32Add => [i32 i32 -> i32]
            op 0x6b I32Sub => [i32 i32 -> i32]
            op 0x6c I32Mul => [i32 i32 -> i32]
            op 0x6d I32DivS => [i32 i32 -> i32]
            op 0x6e I32DivU => [i32 i32 -> i32]
            op 0x6f I32RemS => [i32 i32 -> i32]
            op 0x70 I32RemU => [i32 i32 -> i32]
            op 0x71 I32And => [i32 i32 -> i32]
            op 0x72 I32Or => [i32 i32 -> i32]
            op 0x73 I32Xor => [i32 i32 -> i32]
            op 0x74 I32Shl => [i32 i32 -> i32]
            op 0x75 I32ShrS => [i32 i32 -> i32]
            op 0x76 I32ShrU => [i32 i32 -> i32]
            op 0x77 I32Rotl => [i32 i32 -> i32]
            op 0x78 I32Rotr => [i32 i32 -> i32]
            // i64 arithmetic.
            op 0x79 I64Clz => [i64 -> i64]
            op 0x7a I64Ctz => [i64 -> i64]
            op 0x7b I64Popcnt => [i64 -> i64]
            op 0x7c I64Add => [i64 i64 -> i64]
            op 0x7d I64Sub => [i64 i64 -> i64]
            op 0x7e I64Mul => [i64 i64 -> i64]
            op 0x7f I64DivS => [i64 i64 -> i64]
            op 0x80 I64DivU => [i64 i64 -> i64]
            op 0x81 I64RemS => [i64 i64 -> i64]
            op 0x82 I64RemU => [i64 i64 -> i64]
            op 0x83 I64And => [i64 i64 -> i64]
            op 0x84 I64Or => [i64 i64 -> i64]
            op 0x85 I64Xor => [i64 i64 -> i64]
            op 0x86 I64Shl => [i64 i64 -> i64]
            op 0x87 I64ShrS => [i64 i64 -> i64]
            op 0x88 I64ShrU => [i64 i64 -> i64]
            op 0x89 I64Rotl => [i64 i64 -> i64]
            op 0x8a I64Rotr => [i64 i64 -> i64]
            // f32 arithmetic.
            op 0x8b F32Abs => [f32 -> f32]
            op 0x8c F32Neg => [f32 -> f32]
            op 0x8d F32Ceil => [f32 -> f32]
            op 0x8e F32Floor => [f32 -> f32]
            op 0x8f F32Trunc => [f32 -> f32]
            op 0x90 F32Nearest => [f32 -> f32]
            op 0x91 F32Sqrt => [f32 -> f32]
            op 0x92 F32Add => [f32 f32 -> f32]
            op 0x93 F32Sub => [f32 f32 -> f32]
            op 0x94 F32Mul => [f32 f32 -> f32]
            op 0x95 F32Div => [f32 f32 -> f32]
            op 0x96 F32Min => [f32 f32 -> f32]
            op 0x97 F32Max => [f32 f32 -> f32]
            op 0x98 F32Copysign => [f32 f32 -> f32]
            // f64 arithmetic.
            op 0x99 F64Abs => [f64 -> f64]
            op 0x9a F64Neg => [f64 -> f64]
            op 0x9b F64Ceil => [f64 -> f64]
            op 0x9c F64Floor => [f64 -> f64]
            op 0x9d F64Trunc => [f64 -> f64]
            op 0x9e F64Nearest => [f64 -> f64]
            op 0x9f F64Sqrt => [f64 -> f64]
            op 0xa0 F64Add => [f64 f64 -> f64]
            op 0xa1 F64Sub => [f64 f64 -> f64]
            op 0xa2 F64Mul => [f64 f64 -> f64]
            op 0xa3 F64Div => [f64 f64 -> f64]
            op 0xa4 F64Min => [f64 f64 -> f64]
            op 0xa5 F64Max => [f64 f64 -> f64]
            op 0xa6 F64Copysign => [f64 f64 -> f64]
            // Conversions.
            op 0xa7 I32WrapI64 => [i64 -> i32]
            op 0xa8 I32TruncF32S => [f32 -> i32]
            op 0xa9 I32TruncF32U => [f32 -> i32]
            op 0xaa I32TruncF64S => [f64 -> i32]
            op 0xab I32TruncF64U => [f64 -> i32]
            op 0xac I64ExtendI32S => [i32 -> i64]
            op 0xad I64ExtendI32U => [i32 -> i64]
            op 0xae I64TruncF32S => [f32 -> i64]
            op 0xaf I64TruncF32U => [f32 -> i64]
            op 0xb0 I64TruncF64S => [f64 -> i64]
            op 0xb1 I64TruncF64U => [f64 -> i64]
            op 0xb2 F32ConvertI32S => [i32 -> f32]
            op 0xb3 F32ConvertI32U => [i32 -> f32]
            op 0xb4 F32ConvertI64S => [i64 -> f32]
            op 0xb5 F32ConvertI64U => [i64 -> f32]
            op 0xb6 F32DemoteF64 => [f64 -> f32]
            op 0xb7 F64ConvertI32S => [i32 -> f64]
            op 0xb8 F64ConvertI32U => [i32 -> f64]
            op 0xb9 F64ConvertI64S => [i64 -> f64]
            op 0xba F64ConvertI64U => [i64 -> f64]
            op 0xbb F64PromoteF32 => [f32 -> f64]
            op 0xbc I32ReinterpretF32 => [f32 -> i32]
            op 0xbd I64ReinterpretF64 => [f64 -> i64]
            op 0xbe F32ReinterpretI32 => [i32 -> f32]
            op 0xbf F64ReinterpretI64 => [i64 -> f64]
            // Sign extension.
            op 0xc0 I32Extend8S => [i32 -> i32]
            op 0xc1 I32Extend16S => [i32 -> i32]
            op 0xc2 I64Extend8S => [i64 -> i64]
            op 0xc3 I64Extend16S => [i64 -> i64]
            op 0xc4 I64Extend32S => [i64 -> i64]
            // References.
            op 0xd0 RefNull { hty: HeapType } => special
            op 0xd1 RefIsNull => special
            op 0xd2 RefFunc { function_index: u32 } => special
            op 0xd4 RefAsNonNull => special
            op 0xd5 BrOnNull { relative_depth: u32 } => special
            op 0xd6 BrOnNonNull { relative_depth: u32 } => special
            // Saturating conversions.
            fc 0 I32TruncSatF32S => [f32 -> i32]
            fc 1 I32TruncSatF32U => [f32 -> i32]
            fc 2 I32TruncSatF64S => [f64 -> i32]
            fc 3 I32TruncSatF64U => [f64 -> i32]
            fc 4 I64TruncSatF32S => [f32 -> i64]
            fc 5 I64TruncSatF32U => [f32 -> i64]
            fc 6 I64TruncSatF64S => [f64 -> i64]
            fc 7 I64TruncSatF64U => [f64 -> i64]
            // Bulk memory and tables.
            fc 8 MemoryInit { data_index: u32, mem: MemIdx } => special
            fc 9 DataDrop { data_index: u32 } => special
            fc 10 MemoryCopy { dst_mem: MemIdx, src_mem: MemIdx } => special
            fc 11 MemoryFill { mem: MemIdx } => special
            fc 12 TableInit { elem_index: u32, table: u32 } => special
            fc 13 ElemDrop { elem_index: u32 } => special
            fc 14 TableCopy { dst_table: u32, src_table: u32 } => special
            fc 15 TableGrow { table: u32 } => special
            fc 16 TableSize { table: u32 } => special
            fc 17 TableFill { table: u32 } => special
            // Wide arithmetic.
            fc 19 I64Add128 => [i64 i64 i64 i64 -> i64 i64]
            fc 20 I64Sub128 => [i64 i64 i64 i64 -> i64 i64]
            fc 21 I64MulWideS => [i64 i64 -> i64 i64]
            fc 22 I64MulWideU => [i64 i64 -> i64 i64]
            // SIMD: memory.
            fd 0 V128Load { memarg: MemArg } => [mem 4: i32 -> v128]
            fd 1 V128Load8x8S { memarg: MemArg } => [mem 3: i32 -> v128]
            fd 2 V128Load8x8U { memarg: MemArg } => [mem 3: i32 -> v128]
            fd 3 V128Load16x4S { memarg: MemArg } => [mem 3: i32 -> v128]
            fd 4 V128Load16x4U { memarg: MemArg } => [mem 3: i32 -> v128]
            fd 5 V128Load32x2S { memarg: MemArg } => [mem 3: i32 -> v128]
            fd 6 V128Load32x2U { memarg: MemArg } => [mem 3: i32 -> v128]
            fd 7 V128Load8Splat { memarg: MemArg } => [mem 0: i32 -> v128]
            fd 8 V128Load16Splat { memarg: MemArg } => [mem 1: i32 -> v128]
            fd 9 V128Load32Splat { memarg: MemArg } => [mem 2: i32 -> v128]
            fd 10 V128Load64Splat { memarg: MemArg } => [mem 3: i32 -> v128]
            fd 11 V128Store { memarg: MemArg } => [mem 4: i32 v128 ->]
            fd 12 V128Const { value: V128 } => [-> v128]
            fd 13 I8x16Shuffle { lanes: Shuffle } => special
            fd 14 I8x16Swizzle => [v128 v128 -> v128]
            fd 15 I8x16Splat => [i32 -> v128]
            fd 16 I16x8Splat => [i32 -> v128]
            fd 17 I32x4Splat => [i32 -> v128]
            fd 18 I64x2Splat => [i64 -> v128]
            fd 19 F32x4Splat => [f32 -> v128]
            fd 20 F64x2Splat => [f64 -> v128]
            fd 21 I8x16ExtractLaneS { lane: u8 } => [lane 16: v128 -> i32]
            fd 22 I8x16ExtractLaneU { lane: u8 } => [lane 16: v128 -> i32]
            fd 23 I8x16ReplaceLane { lane: u8 } => [lane 16: v128 i32 -> v128]
            fd 24 I16x8ExtractLaneS { lane: u8 } => [lane 8: v128 -> i32]
            fd 25 I16x8ExtractLaneU { lane: u8 } => [lane 8: v128 -> i32]
            fd 26 I16x8ReplaceLane { lane: u8 } => [lane 8: v128 i32 -> v128]
            fd 27 I32x4ExtractLane { lane: u8 } => [lane 4: v128 -> i32]
            fd 28 I32x4ReplaceLane { lane: u8 } => [lane 4: v128 i32 -> v128]
            fd 29 I64x2ExtractLane { lane: u8 } => [lane 2: v128 -> i64]
            fd 30 I64x2ReplaceLane { lane: u8 } => [lane 2: v128 i64 -> v128]
            fd 31 F32x4ExtractLane { lane: u8 } => [lane 4: v128 -> f32]
            fd 32 F32x4ReplaceLane { lane: u8 } => [lane 4: v128 f32 -> v128]
            fd 33 F64x2ExtractLane { lane: u8 } => [lane 2: v128 -> f64]
            fd 34 F64x2ReplaceLane { lane: u8 } => [lane 2: v128 f64 -> v128]
            // SIMD: comparisons.
            fd 35 I8x16Eq => [v128 v128 -> v128]
            fd 36 I8x16Ne => [v128 v128 -> v128]
            fd 37 I8x16LtS => [v128 v128 -> v128]
            fd 38 I8x16LtU => [v128 v128 -> v128]
            fd 39 I8x16GtS => [v128 v128 -> v128]
            fd 40 I8x16GtU => [v128 v128 -> v128]
            fd 41 I8x16LeS => [v128 v128 -> v128]
            fd 42 I8x16LeU => [v128 v128 -> v128]
            fd 43 I8x16GeS => [v128 v128 -> v128]
            fd 44 I8x16GeU => [v128 v128 -> v128]
            fd 45 I16x8Eq => [v128 v128 -> v128]
            fd 46 I16x8Ne => [v128 v128 -> v128]
            fd 47 I16x8LtS => [v128 v128 -> v128]
            fd 48 I16x8LtU => [v128 v128 -> v128]
            fd 49 I16x8GtS => [v128 v128 -> v128]
            fd 50 I16x8GtU => [v128 v128 -> v128]
            fd 51 I16x8LeS => [v128 v128 -> v128]
            fd 52 I16x8LeU => [v128 v128 -> v128]
            fd 53 I16x8GeS => [v128 v128 -> v128]
            fd 54 I16x8GeU => [v128 v128 -> v128]
            fd 55 I32x4Eq => [v128 v128 -> v128]
            fd 56 I32x4Ne => [v128 v128 -> v128]
            fd 57 I32x4LtS => [v128 v128 -> v128]
            fd 58 I32x4LtU => [v128 v128 -> v128]
            fd 59 I32x4GtS => [v128 v128 -> v128]
            fd 60 I32x4GtU => [v128 v128 -> v128]
            fd 61 I32x4LeS => [v128 v128 -> v128]
            fd 62 I32x4LeU => [v128 v128 -> v128]
            fd 63 I32x4GeS => [v128 v128 -> v128]
            fd 64 I32x4GeU => [v128 v128 -> v128]
            fd 65 F32x4Eq => [v128 v128 -> v128]
            fd 66 F32x4Ne => [v128 v128 -> v128]
            fd 67 F32x4Lt => [v128 v128 -> v128]
            fd 68 F32x4Gt => [v128 v128 -> v128]
            fd 69 F32x4Le => [v128 v128 -> v128]
            fd 70 F32x4Ge => [v128 v128 -> v128]
            fd 71 F64x2Eq => [v128 v128 -> v128]
            fd 72 F64x2Ne => [v128 v128 -> v128]
            fd 73 F64x2Lt => [v128 v128 -> v128]
            fd 74 F64x2Gt => [v128 v128 -> v128]
            fd 75 F64x2Le => [v128 v128 -> v128]
            fd 76 F64x2Ge => [v128 v128 -> v128]
            // SIMD: bitwise.
            fd 77 V128Not => [v128 -> v128]
            fd 78 V128And => [v128 v128 -> v128]
            fd 79 V128AndNot => [v128 v128 -> v128]
            fd 80 V128Or => [v128 v128 -> v128]
            fd 81 V128Xor => [v128 v128 -> v128]
            fd 82 V128Bitselect => [v128 v128 v128 -> v128]
            fd 83 V128AnyTrue => [v128 -> i32]
            // SIMD: lane loads and stores.
            fd 84 V128Load8Lane { memarg: MemArg, lane: u8 } => [memlane 0 16: i32 v128 -> v128]
            fd 85 V128Load16Lane { memarg: MemArg, lane: u8 } => [memlane 1 8: i32 v128 -> v128]
            fd 86 V128Load32Lane { memarg: MemArg, lane: u8 } => [memlane 2 4: i32 v128 -> v128]
            fd 87 V128Load64Lane { memarg: MemArg, lane: u8 } => [memlane 3 2: i32 v128 -> v128]
            fd 88 V128Store8Lane { memarg: MemArg, lane: u8 } => [memlane 0 16: i32 v128 ->]
            fd 89 V128Store16Lane { memarg: MemArg, lane: u8 } => [memlane 1 8: i32 v128 ->]
            fd 90 V128Store32Lane { memarg: MemArg, lane: u8 } => [memlane 2 4: i32 v128 ->]
            fd 91 V128Store64Lane { memarg: MemArg, lane: u8 } => [memlane 3 2: i32 v128 ->]
            fd 92 V128Load32Zero { memarg: MemArg } => [mem 2: i32 -> v128]
            fd 93 V128Load64Zero { memarg: MemArg } => [mem 3: i32 -> v128]
            // SIMD: float conversions and i8x16.
            fd 94 F32x4DemoteF64x2Zero => [v128 -> v128]
            fd 95 F64x2PromoteLowF32x4 => [v128 -> v128]
            fd 96 I8x16Abs => [v128 -> v128]
            fd 97 I8x16Neg => [v128 -> v128]
            fd 98 I8x16Popcnt => [v128 -> v128]
            fd 99 I8x16AllTrue => [v128 -> i32]
            fd 100 I8x16Bitmask => [v128 -> i32]
            fd 101 I8x16NarrowI16x8S => [v128 v128 -> v128]
            fd 102 I8x16NarrowI16x8U => [v128 v128 -> v128]
            fd 103 F32x4Ceil => [v128 -> v128]
            fd 104 F32x4Floor => [v128 -> v128]
            fd 105 F32x4Trunc => [v128 -> v128]
            fd 106 F32x4Nearest => [v128 -> v128]
            fd 107 I8x16Shl => [v128 i32 -> v128]
            fd 108 I8x16ShrS => [v128 i32 -> v128]
            fd 109 I8x16ShrU => [v128 i32 -> v128]
            fd 110 I8x16Add => [v128 v128 -> v128]
            fd 111 I8x16AddSatS => [v128 v128 -> v128]
            fd 112 I8x16AddSatU => [v128 v128 -> v128]
            fd 113 I8x16Sub => [v128 v128 -> v128]
            fd 114 I8x16SubSatS => [v128 v128 -> v128]
            fd 115 I8x16SubSatU => [v128 v128 -> v128]
            fd 116 F64x2Ceil => [v128 -> v128]
            fd 117 F64x2Floor => [v128 -> v128]
            fd 118 I8x16MinS => [v128 v128 -> v128]
            fd 119 I8x16MinU => [v128 v128 -> v128]
            fd 120 I8x16MaxS => [v128 v128 -> v128]
            fd 121 I8x16MaxU => [v128 v128 -> v128]
            fd 122 F64x2Trunc => [v128 -> v128]
            fd 123 I8x16AvgrU => [v128 v128 -> v128]
            fd 124 I16x8ExtaddPairwiseI8x16S => [v128 -> v128]
            fd 125 I16x8ExtaddPairwiseI8x16U => [v128 -> v128]
            fd 126 I32x4ExtaddPairwiseI16x8S => [v128 -> v128]
            fd 127 I32x4ExtaddPairwiseI16x8U => [v128 -> v128]
            // SIMD: i16x8.
            fd 128 I16x8Abs => [v128 -> v128]
            fd 129 I16x8Neg => [v128 -> v128]
            fd 130 I16x8Q15MulrSatS => [v128 v128 -> v128]
            fd 131 I16x8AllTrue => [v128 -> i32]
            fd 132 I16x8Bitmask => [v128 -> i32]
            fd 133 I16x8NarrowI32x4S => [v128 v128 -> v128]
            fd 134 I16x8NarrowI32x4U => [v128 v128 -> v128]
            fd 135 I16x8ExtendLowI8x16S => [v128 -> v128]
            fd 136 I16x8ExtendHighI8x16S => [v128 -> v128]
            fd 137 I16x8ExtendLowI8x16U => [v128 -> v128]
            fd 138 I16x8ExtendHighI8x16U => [v128 -> v128]
            fd 139 I16x8Shl => [v128 i32 -> v128]
            fd 140 I16x8ShrS => [v128 i32 -> v128]
            fd 141 I16x8ShrU => [v128 i32 -> v128]
            fd 142 I16x8Add => [v128 v128 -> v128]
            fd 143 I16x8AddSatS => [v128 v128 -> v128]
            fd 144 I16x8AddSatU => [v128 v128 -> v128]
            fd 145 I16x8Sub => [v128 v128 -> v128]
            fd 146 I16x8SubSatS => [v128 v128 -> v128]
            fd 147 I16x8SubSatU => [v128 v128 -> v128]
            fd 148 F64x2Nearest => [v128 -> v128]
            fd 149 I16x8Mul => [v128 v128 -> v128]
            fd 150 I16x8MinS => [v128 v128 -> v128]
            fd 151 I16x8MinU => [v128 v128 -> v128]
            fd 152 I16x8MaxS => [v128 v128 -> v128]
            fd 153 I16x8MaxU => [v128 v128 -> v128]
            fd 155 I16x8AvgrU => [v128 v128 -> v128]
            fd 156 I16x8ExtmulLowI8x16S => [v128 v128 -> v128]
            fd 157 I16x8ExtmulHighI8x16S => [v128 v128 -> v128]
            fd 158 I16x8ExtmulLowI8x16U => [v128 v128 -> v128]
            fd 159 I16x8ExtmulHighI8x16U => [v128 v128 -> v128]
            // SIMD: i32x4.
            fd 160 I32x4Abs => [v128 -> v128]
            fd 161 I32x4Neg => [v128 -> v128]
            fd 163 I32x4AllTrue => [v128 -> i32]
            fd 164 I32x4Bitmask => [v128 -> i32]
            fd 167 I32x4ExtendLowI16x8S => [v128 -> v128]
            fd 168 I32x4ExtendHighI16x8S => [v128 -> v128]
            fd 169 I32x4ExtendLowI16x8U => [v128 -> v128]
            fd 170 I32x4ExtendHighI16x8U => [v128 -> v128]
            fd 171 I32x4Shl => [v128 i32 -> v128]
            fd 172 I32x4ShrS => [v128 i32 -> v128]
            fd 173 I32x4ShrU => [v128 i32 -> v128]
            fd 174 I32x4Add => [v128 v128 -> v128]
            fd 177 I32x4Sub => [v128 v128 -> v128]
            fd 181 I32x4Mul => [v128 v128 -> v128]
            fd 182 I32x4MinS => [v128 v128 -> v128]
            fd 183 I32x4MinU => [v128 v128 -> v128]
            fd 184 I32x4MaxS => [v128 v128 -> v128]
            fd 185 I32x4MaxU => [v128 v128 -> v128]
            fd 186 I32x4DotI16x8S => [v128 v128 -> v128]
            fd 188 I32x4ExtmulLowI16x8S => [v128 v128 -> v128]
            fd 189 I32x4ExtmulHighI16x8S => [v128 v128 -> v128]
            fd 190 I32x4ExtmulLowI16x8U => [v128 v128 -> v128]
            fd 191 I32x4ExtmulHighI16x8U => [v128 v128 -> v128]
            // SIMD: i64x2.
            fd 192 I64x2Abs => [v128 -> v128]
            fd 193 I64x2Neg => [v128 -> v128]
            fd 195 I64x2AllTrue => [v128 -> i32]
            fd 196 I64x2Bitmask => [v128 -> i32]
            fd 199 I64x2ExtendLowI32x4S => [v128 -> v128]
            fd 200 I64x2ExtendHighI32x4S => [v128 -> v128]
            fd 201 I64x2ExtendLowI32x4U => [v128 -> v128]
            fd 202 I64x2ExtendHighI32x4U => [v128 -> v128]
            fd 203 I64x2Shl => [v128 i32 -> v128]
            fd 204 I64x2ShrS => [v128 i32 -> v128]
            fd 205 I64x2ShrU => [v128 i32 -> v128]
            fd 206 I64x2Add => [v128 v128 -> v128]
            fd 209 I64x2Sub => [v128 v128 -> v128]
            fd 213 I64x2Mul => [v128 v128 -> v128]
            fd 214 I64x2Eq => [v128 v128 -> v128]
            fd 215 I64x2Ne => [v128 v128 -> v128]
            fd 216 I64x2LtS => [v128 v128 -> v128]
            fd 217 I64x2GtS => [v128 v128 -> v128]
            fd 218 I64x2LeS => [v128 v128 -> v128]
            fd 219 I64x2GeS => [v128 v128 -> v128]
            fd 220 I64x2ExtmulLowI32x4S => [v128 v128 -> v128]
            fd 221 I64x2ExtmulHighI32x4S => [v128 v128 -> v128]
            fd 222 I64x2ExtmulLowI32x4U => [v128 v128 -> v128]
            fd 223 I64x2ExtmulHighI32x4U => [v128 v128 -> v128]
            // SIMD: f32x4 and f64x2.
            fd 224 F32x4Abs => [v128 -> v128]
            fd 225 F32x4Neg => [v128 -> v128]
            fd 227 F32x4Sqrt => [v128 -> v128]
            fd 228 F32x4Add => [v128 v128 -> v128]
            fd 229 F32x4Sub => [v128 v128 -> v128]
            fd 230 F32x4Mul => [v128 v128 -> v128]
            fd 231 F32x4Div => [v128 v128 -> v128]
            fd 232 F32x4Min => [v128 v128 -> v128]
            fd 233 F32x4Max => [v128 v128 -> v128]
            fd 234 F32x4PMin => [v128 v128 -> v128]
            fd 235 F32x4PMax => [v128 v128 -> v128]
            fd 236 F64x2Abs => [v128 -> v128]
            fd 237 F64x2Neg => [v128 -> v128]
            fd 239 F64x2Sqrt => [v128 -> v128]
            fd 240 F64x2Add => [v128 v128 -> v128]
            fd 241 F64x2Sub => [v128 v128 -> v128]
            fd 242 F64x2Mul => [v128 v128 -> v128]
            fd 243 F64x2Div => [v128 v128 -> v128]
            fd 244 F64x2Min => [v128 v128 -> v128]
            fd 245 F64x2Max => [v128 v128 -> v128]
            fd 246 F64x2PMin => [v128 v128 -> v128]
            fd 247 F64x2PMax => [v128 v128 -> v128]
            // SIMD: conversions.
            fd 248 I32x4TruncSatF32x4S => [v128 -> v128]
            fd 249 I32x4TruncSatF32x4U => [v128 -> v128]
            fd 250 F32x4ConvertI32x4S => [v128 -> v128]
            fd 251 F32x4ConvertI32x4U => [v128 -> v128]
            fd 252 I32x4TruncSatF64x2SZero => [v128 -> v128]
            fd 253 I32x4TruncSatF64x2UZero => [v128 -> v128]
            fd 254 F64x2ConvertLowI32x4S => [v128 -> v128]
            fd 255 F64x2ConvertLowI32x4U => [v128 -> v128]
            // Relaxed SIMD.
            fd 256 I8x16RelaxedSwizzle => [v128 v128 -> v128]
            fd 257 I32x4RelaxedTruncF32x4S => [v128 -> v128]
            fd 258 I32x4RelaxedTruncF32x4U => [v128 -> v128]
            fd 259 I32x4RelaxedTruncF64x2SZero => [v128 -> v128]
            fd 260 I32x4RelaxedTruncF64x2UZero => [v128 -> v128]
            fd 261 F32x4RelaxedMadd => [v128 v128 v128 -> v128]
            fd 262 F32x4RelaxedNmadd => [v128 v128 v128 -> v128]
            fd 263 F64x2RelaxedMadd => [v128 v128 v128 -> v128]
            fd 264 F64x2RelaxedNmadd => [v128 v128 v128 -> v128]
            fd 265 I8x16RelaxedLaneselect => [v128 v128 v128 -> v128]
            fd 266 I16x8RelaxedLaneselect => [v128 v128 v128 -> v128]
            fd 267 I32x4RelaxedLaneselect => [v128 v128 v128 -> v128]
            fd 268 I64x2RelaxedLaneselect => [v128 v128 v128 -> v128]
            fd 269 F32x4RelaxedMin => [v128 v128 -> v128]
            fd 270 F32x4RelaxedMax => [v128 v128 -> v128]
            fd 271 F64x2RelaxedMin => [v128 v128 -> v128]
            fd 272 F64x2RelaxedMax => [v128 v128 -> v128]
            fd 273 I16x8RelaxedQ15mulrS => [v128 v128 -> v128]
            fd 274 I16x8RelaxedDotI8x16I7x16S => [v128 v128 -> v128]
            fd 275 I32x4RelaxedDotI8x16I7x16AddS => [v128 v128 v128 -> v128]
        }
    };
}

/// The bits of an `f32` constant (kept as bits so NaN payloads survive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ieee32(pub u32);

/// The bits of an `f64` constant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ieee64(pub u64);

/// A `v128` constant, little-endian.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct V128(pub [u8; 16]);

/// The 16 lane selectors of `i8x16.shuffle`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shuffle(pub [u8; 16]);

/// The immediates of one operator, read inside [`read_operator_inline`]:
/// the common ones (indices, constants, `memarg`s) are inlined into the
/// validator's and the compiler's loops, with their rarer encodings out
/// of line, on a copy of the reader (`Reader::on_copy`).
trait Immediate<'a>: Sized {
    fn read(r: &mut Reader<'a>) -> Result<Self>;
}

impl<'a> Immediate<'a> for u32 {
    #[inline(always)]
    fn read(r: &mut Reader<'a>) -> Result<Self> {
        r.read_var_u32()
    }
}
impl<'a> Immediate<'a> for i32 {
    #[inline(always)]
    fn read(r: &mut Reader<'a>) -> Result<Self> {
        r.read_var_i32()
    }
}
impl<'a> Immediate<'a> for i64 {
    #[inline(always)]
    fn read(r: &mut Reader<'a>) -> Result<Self> {
        r.read_var_i64()
    }
}
impl<'a> Immediate<'a> for u8 {
    #[inline(always)]
    fn read(r: &mut Reader<'a>) -> Result<Self> {
        r.read_u8()
    }
}
impl<'a> Immediate<'a> for Ieee32 {
    #[inline(always)]
    fn read(r: &mut Reader<'a>) -> Result<Self> {
        r.on_copy(|r| r.read_f32_bits().map(Ieee32))
    }
}
impl<'a> Immediate<'a> for Ieee64 {
    #[inline(always)]
    fn read(r: &mut Reader<'a>) -> Result<Self> {
        r.on_copy(|r| r.read_f64_bits().map(Ieee64))
    }
}
impl<'a> Immediate<'a> for V128 {
    #[inline(always)]
    fn read(r: &mut Reader<'a>) -> Result<Self> {
        r.on_copy(|r| r.read_array().map(V128))
    }
}
impl<'a> Immediate<'a> for Shuffle {
    #[inline(always)]
    fn read(r: &mut Reader<'a>) -> Result<Self> {
        r.on_copy(|r| r.read_array().map(Shuffle))
    }
}
impl<'a> Immediate<'a> for BlockType {
    #[inline(always)]
    fn read(r: &mut Reader<'a>) -> Result<Self> {
        BlockType::read(r)
    }
}
impl<'a> Immediate<'a> for BrTable<'a> {
    #[inline(always)]
    fn read(r: &mut Reader<'a>) -> Result<Self> {
        r.on_copy(BrTable::read)
    }
}
impl<'a> Immediate<'a> for TryTable<'a> {
    #[inline(always)]
    fn read(r: &mut Reader<'a>) -> Result<Self> {
        r.on_copy(TryTable::read)
    }
}
impl<'a> Immediate<'a> for MemArg {
    #[inline(always)]
    fn read(r: &mut Reader<'a>) -> Result<Self> {
        MemArg::read(r)
    }
}
impl<'a> Immediate<'a> for MemIdx {
    #[inline(always)]
    fn read(r: &mut Reader<'a>) -> Result<Self> {
        r.on_copy(MemIdx::read)
    }
}
impl<'a> Immediate<'a> for HeapType {
    #[inline(always)]
    fn read(r: &mut Reader<'a>) -> Result<Self> {
        r.on_copy(HeapType::read)
    }
}
impl<'a> Immediate<'a> for SelectTypes {
    #[inline(always)]
    fn read(r: &mut Reader<'a>) -> Result<Self> {
        r.on_copy(SelectTypes::read)
    }
}

/// The error for an opcode no instruction has, at `offset`: the legacy
/// exception instructions get their own message.
#[cold]
fn unknown_opcode(offset: usize, prefix: u8, code: u32) -> Error {
    match (prefix, code) {
        (0, 0x06 | 0x07 | 0x09 | 0x18 | 0x19) => legacy_exceptions(offset),
        _ => Error::malformed(offset, "illegal opcode"),
    }
}

macro_rules! define_operator_enum {
    ($($prefix:ident $code:literal $name:ident $({ $($field:ident : $ty:ty),* })? => $sig:tt)*) => {
        /// One decoded instruction with its immediates.
        #[derive(Clone, Copy, Debug)]
        #[allow(missing_docs)]
        pub enum Operator<'a> {
            $( $name $({ $($field: $ty),* })?, )*
        }

        /// Reads one instruction. Never allocates.
        #[inline]
        pub fn read_operator<'a>(r: &mut Reader<'a>) -> Result<Operator<'a>> {
            read_operator_inline(r)
        }

        /// [`read_operator`] inlined into its caller, for the loops over
        /// every instruction of a module (validation and compilation): the
        /// caller's `match` then reads the immediates from registers, not
        /// from an `Operator` written to memory and read back.
        #[inline(always)]
        pub fn read_operator_inline<'a>(r: &mut Reader<'a>) -> Result<Operator<'a>> {
            visit_operator(r, &mut Read)
        }
    };
}

/// The visitor that [`read_operator_inline`] reads with: it returns the
/// instruction.
struct Read;

impl<'a> VisitOperator<'a> for Read {
    type Output = Operator<'a>;
    #[inline(always)]
    fn visit(&mut self, op: Operator<'a>, _next: usize) -> Operator<'a> {
        op
    }
}

/// The bytes that begin no instruction, as a pattern: the complement of
/// the one-byte opcodes and the two prefixes in [`for_each_operator!`].
/// Listed value by value (a range would be a comparison ahead of the
/// jump table), for [`visit_operator`]'s `match` on the first byte, which
/// has no catch-all arm: the compiler checks that the two lists cover the
/// 256 values (a byte missing here does not compile) and do not overlap
/// (an opcode added to the table but left here is an unreachable
/// pattern, denied).
#[rustfmt::skip]
macro_rules! unassigned_opcodes {
    () => {
        0x06 | 0x07 | 0x09 | 0x16 | 0x17 | 0x18 | 0x19 | 0x1d | 0x1e | 0x27
            | 0xc5 | 0xc6 | 0xc7 | 0xc8 | 0xc9 | 0xca | 0xcb | 0xcc | 0xcd | 0xce | 0xcf
            | 0xd3 | 0xd7 | 0xd8 | 0xd9 | 0xda | 0xdb | 0xdc | 0xdd | 0xde | 0xdf
            | 0xe0 | 0xe1 | 0xe2 | 0xe3 | 0xe4 | 0xe5 | 0xe6 | 0xe7 | 0xe8 | 0xe9 | 0xea
            | 0xeb | 0xec | 0xed | 0xee | 0xef | 0xf0 | 0xf1 | 0xf2 | 0xf3 | 0xf4 | 0xf5
            | 0xf6 | 0xf7 | 0xf8 | 0xf9 | 0xfa | 0xfb | 0xfe | 0xff
    };
}

/// Defines [`visit_operator`] from the instruction table, whose lines
/// come in the order of their prefix: the one-byte opcodes, then `0xFC`'s,
/// then `0xFD`'s (a line out of that order does not match this macro's
/// pattern, and the crate does not compile).
macro_rules! define_visit_operator {
    (
        $(op $code:literal $name:ident $({ $($field:ident : $ty:ty),* })? => $sig:tt)*
        $(fc $fc_code:literal $fc_name:ident $({ $($fc_field:ident : $fc_ty:ty),* })? => $fc_sig:tt)*
        $(fd $fd_code:literal $fd_name:ident $({ $($fd_field:ident : $fd_ty:ty),* })? => $fd_sig:tt)*
    ) => {
        /// Reads one instruction and hands it to `visitor` from the arm
        /// of its own opcode, with the offset after it. Inlined with an
        /// inlined [`VisitOperator::visit`], each arm holds that
        /// instruction's own visit, in which the visitor's `match` on the
        /// operator is decided at compile time: one indirect jump per
        /// instruction, however much the visitor does around its `match`
        /// (with [`read_operator_inline`], code between the two `match`es
        /// makes the operator go to memory and be dispatched on again).
        ///
        /// The first byte selects the arm by itself: the prefixes `0xFC`
        /// and `0xFD` are two arms of the `match` on it, each with a
        /// `match` on the sub-opcode, so the one-byte opcodes pay no test
        /// for a prefix; and each of the 256 values has its arm (see
        /// [`unassigned_opcodes!`]), so none pays a test of range.
        #[inline(always)]
        #[deny(unreachable_patterns)]
        pub fn visit_operator<'a, V: VisitOperator<'a>>(
            r: &mut Reader<'a>,
            visitor: &mut V,
        ) -> Result<V::Output> {
            let offset = r.offset();
            Ok(match r.read_u8()? {
                $( $code => {
                    let op = Operator::$name $({ $($field: <$ty as Immediate>::read(r)?),* })?;
                    visitor.visit(op, r.offset())
                } )*
                0xfc => match r.read_var_u32()? {
                    $( $fc_code => {
                        let op = Operator::$fc_name $({ $($fc_field: <$fc_ty as Immediate>::read(r)?),* })?;
                        visitor.visit(op, r.offset())
                    } )*
                    code => return Err(unknown_opcode(offset, 0xfc, code)),
                },
                0xfd => match r.read_var_u32()? {
                    $( $fd_code => {
                        let op = Operator::$fd_name $({ $($fd_field: <$fd_ty as Immediate>::read(r)?),* })?;
                        visitor.visit(op, r.offset())
                    } )*
                    code => return Err(unknown_opcode(offset, 0xfd, code)),
                },
                byte @ unassigned_opcodes!() => {
                    return Err(unknown_opcode(offset, 0, u32::from(byte)));
                }
            })
        }
    };
}

/// What acts on each instruction [`visit_operator`] reads.
pub trait VisitOperator<'a> {
    /// What a visit returns.
    type Output;
    /// Acts on `op`, whose encoding ends at module offset `next`.
    fn visit(&mut self, op: Operator<'a>, next: usize) -> Self::Output;
}

/// The error for the legacy exception-handling opcodes (`try`, `catch`,
/// `rethrow`, `delegate`, `catch_all`), which wasmkern does not decode:
/// only the standard `try_table`/`throw_ref` form is supported.
#[cold]
fn legacy_exceptions(offset: usize) -> Error {
    Error::malformed(offset, "illegal opcode").with_detail(
        "legacy exception handling (try/catch/delegate/rethrow) is not supported; \
         use try_table and throw_ref",
    )
}

for_each_operator!(define_operator_enum);
for_each_operator!(define_visit_operator);

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::{vec, vec::Vec};

    fn read(bytes: &[u8]) -> Result<Operator<'_>> {
        read_operator(&mut Reader::new(bytes, 0))
    }

    #[test]
    fn decodes_prefixed_and_plain_opcodes() {
        assert!(matches!(read(&[0x6a]).unwrap(), Operator::I32Add));
        assert!(matches!(
            read(&[0x41, 0x7f]).unwrap(),
            Operator::I32Const { value: -1 }
        ));
        assert!(matches!(
            read(&[0xfc, 0x07]).unwrap(),
            Operator::I64TruncSatF64U
        ));
        // Sub-opcodes are LEB128: 0xFD 0x80 0x01 is 128.
        assert!(matches!(
            read(&[0xfd, 0x80, 0x01]).unwrap(),
            Operator::I16x8Abs
        ));
        assert!(matches!(
            read(&[0xfd, 0xff, 0x01]).unwrap(),
            Operator::F64x2ConvertLowI32x4U
        ));
    }

    /// Records what it is handed, as `Debug` text and the offset after.
    struct Record(Vec<(alloc::string::String, usize)>);

    impl<'a> VisitOperator<'a> for Record {
        type Output = usize;
        fn visit(&mut self, op: Operator<'a>, next: usize) -> usize {
            self.0.push((alloc::format!("{op:?}"), next));
            self.0.len()
        }
    }

    #[test]
    fn visiting_hands_over_what_reading_returns() {
        // i32.const -1, i32.load offset=300, i64.trunc_sat_f64_u, a
        // br_table, v128.const, i16x8.abs, end; at module offset 100.
        let mut bytes = vec![0x41, 0x7f, 0x28, 0x02, 0xac, 0x02, 0xfc, 0x07];
        bytes.extend([0x0e, 0x02, 0x00, 0x01, 0x02, 0xfd, 0x0c]);
        bytes.extend(1..=16u8);
        bytes.extend([0xfd, 0x80, 0x01, 0x0b]);
        let (mut read_ops, mut visited) = (Vec::new(), Record(Vec::new()));
        let mut r = Reader::new(&bytes, 100);
        while !r.is_empty() {
            let op = read_operator(&mut r).unwrap();
            read_ops.push((alloc::format!("{op:?}"), r.offset()));
        }
        let mut r = Reader::new(&bytes, 100);
        while !r.is_empty() {
            let n = visit_operator(&mut r, &mut visited).unwrap();
            assert_eq!(n, visited.0.len(), "the visit's output is returned");
            assert_eq!(visited.0.last().unwrap().1, r.offset());
        }
        assert_eq!(read_ops.len(), 7);
        assert_eq!(visited.0, read_ops);
        assert_eq!(read_ops[1].1, 106);
        // Errors are the reader's, and nothing is visited.
        let mut r = Reader::new(&[0xfc, 0x17], 0);
        let err = visit_operator(&mut r, &mut visited).unwrap_err();
        assert_eq!(err.message(), "illegal opcode");
        assert_eq!(visited.0.len(), 7);
    }

    #[test]
    fn every_first_byte_is_an_instruction_a_prefix_or_illegal() {
        // Each byte, followed by enough zeros for any immediate: the
        // unassigned ones and only they are illegal opcodes, and an
        // instruction's `Debug` name is that of its table line.
        let mut names = Vec::new();
        macro_rules! one_byte_names {
            ($($prefix:ident $code:literal $name:ident $({ $($f:ident : $t:ty),* })? => $sig:tt)*) => {
                $( if stringify!($prefix) == "op" {
                    names.push(($code as u32, stringify!($name)));
                } )*
            };
        }
        for_each_operator!(one_byte_names);
        for byte in 0..=255u8 {
            let mut bytes = vec![byte];
            bytes.resize(40, 0);
            let read = read(&bytes);
            match names.iter().find(|&&(code, _)| code == u32::from(byte)) {
                Some((_, name)) => {
                    let op = alloc::format!("{:?}", read.unwrap());
                    assert_eq!(op.split([' ', '{']).next(), Some(*name), "{byte:#x}");
                }
                None if matches!(byte, 0xfc | 0xfd) => {
                    // Sub-opcode 0: i32.trunc_sat_f32_s, v128.load.
                    assert!(read.is_ok(), "{byte:#x}");
                }
                None => {
                    let err = read.unwrap_err();
                    assert!(err.message().starts_with("illegal opcode"), "{byte:#x}");
                }
            }
        }
    }

    #[test]
    fn rejects_unknown_opcodes() {
        for bytes in [
            &[0x27][..],
            &[0xc5],
            &[0xfc, 0x17],
            &[0xfd, 0x9a, 0x01],
            &[0xff],
        ] {
            assert_eq!(read(bytes).unwrap_err().message(), "illegal opcode");
        }
    }

    #[test]
    fn the_legacy_exception_opcodes_are_rejected_saying_so() {
        for byte in [0x06, 0x07, 0x09, 0x18, 0x19] {
            let err = read(&[byte]).unwrap_err();
            assert_eq!(err.kind(), crate::error::ErrorKind::Malformed);
            assert!(err.message().starts_with("illegal opcode"), "{err}");
            assert!(err.message().contains("legacy exception handling"), "{err}");
        }
        assert!(matches!(
            read(&[0x08, 0x03]).unwrap(),
            Operator::Throw { tag_index: 3 }
        ));
        // try_table (result i32) with catch_ref 1 2 and catch_all 0.
        let Operator::TryTable { table } =
            read(&[0x1f, 0x7f, 0x02, 0x01, 0x01, 0x02, 0x02, 0x00]).unwrap()
        else {
            panic!("not try_table")
        };
        let catches: alloc::vec::Vec<_> =
            table.catches().map(|c| (c.kind, c.tag, c.label)).collect();
        use crate::decode::CatchKind;
        assert_eq!(
            catches,
            [(CatchKind::CatchRef, 1, 2), (CatchKind::CatchAll, 0, 0)]
        );
    }

    #[test]
    fn br_table_targets_do_not_allocate() {
        let bytes = [0x0e, 0x03, 0x00, 0x81, 0x01, 0x02, 0x05];
        let Operator::BrTable { targets } = read(&bytes).unwrap() else {
            panic!("not br_table")
        };
        assert_eq!(targets.len(), 3);
        assert_eq!(targets.default(), 5);
        let all: alloc::vec::Vec<u32> = targets.targets().collect();
        assert_eq!(all, [0, 129, 2]);
    }

    #[test]
    fn memory_indices_are_leb128_and_remember_a_zero_byte() {
        let Operator::MemorySize { mem } = read(&[0x3f, 0x00]).unwrap() else {
            panic!("not memory.size")
        };
        assert_eq!((mem.index, mem.zero_byte), (0, true));
        let Operator::MemoryGrow { mem } = read(&[0x40, 0x80, 0x00]).unwrap() else {
            panic!("not memory.grow")
        };
        assert_eq!((mem.index, mem.zero_byte), (0, false));
        let Operator::MemorySize { mem } = read(&[0x3f, 0x81, 0x01]).unwrap() else {
            panic!("not memory.size")
        };
        assert_eq!((mem.index, mem.zero_byte), (129, false));
    }

    use crate::decode::types::WideOffset;

    #[test]
    fn operators_stay_five_words() {
        // Every instruction of a module passes through an `Operator`; the
        // largest immediate (`br_table`'s) sets the size, and a `memarg`
        // with its encoding notes must not grow it.
        assert!(core::mem::size_of::<Operator<'_>>() <= 40);
        assert!(core::mem::size_of::<MemArg>() <= 16);
    }

    #[test]
    fn memarg_offsets_of_every_length() {
        // i32.load align=2 with an offset of one to six bytes, then `end`
        // or more: the short, the unrolled and the general reads.
        let cases: [(&[u8], u64, Option<WideOffset>); 8] = [
            (&[0x05], 5, None),
            (&[0x80, 0x01], 128, None),
            (&[0x80, 0x80, 0x01], 1 << 14, None),
            (&[0xff, 0xff, 0xff, 0x7f], (1 << 28) - 1, None),
            (&[0x80, 0x80, 0x80, 0x80, 0x00], 0, None),
            (&[0xff, 0xff, 0xff, 0xff, 0x0f], u64::from(u32::MAX), None),
            (
                &[0x80, 0x80, 0x80, 0x80, 0x10],
                1 << 32,
                Some(WideOffset::TooLarge),
            ),
            (
                &[0x81, 0x80, 0x80, 0x80, 0x80, 0x00],
                1,
                Some(WideOffset::TooLong),
            ),
        ];
        for (offset, value, wide) in cases {
            for trailing in [0usize, 1, 4] {
                let mut bytes = vec![0x28, 0x02];
                bytes.extend_from_slice(offset);
                let len = bytes.len();
                bytes.resize(len + trailing, 0x0b);
                let mut r = Reader::new(&bytes, 0);
                let Operator::I32Load { memarg } = read_operator(&mut r).unwrap() else {
                    panic!("not i32.load")
                };
                assert_eq!(r.offset(), len, "{offset:x?} + {trailing}");
                assert_eq!((memarg.align, memarg.memory), (2, 0));
                assert_eq!(memarg.offset, value, "{offset:x?} + {trailing}");
                assert_eq!(memarg.encoding.wide_offset, wide, "{offset:x?}");
                assert!(!memarg.encoding.has_memory);
            }
        }
    }

    #[test]
    fn memargs_carry_a_memory_index_and_64_bit_offsets() {
        // Flags 0x42: alignment 2, memory index 3 follows; offset 2^40.
        let Operator::I32Load { memarg } =
            read(&[0x28, 0x42, 0x03, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20]).unwrap()
        else {
            panic!("not i32.load")
        };
        assert_eq!(
            (memarg.align, memarg.memory, memarg.offset),
            (2, 3, 1 << 40)
        );
        assert!(memarg.encoding.has_memory);
        assert_eq!(memarg.encoding.wide_offset, Some(WideOffset::TooLong));
        // Five bytes: too large for a u32 when bits beyond the 32nd are set.
        let Operator::I64Load { memarg } =
            read(&[0x29, 0x03, 0x80, 0x80, 0x80, 0x80, 0x10]).unwrap()
        else {
            panic!("not i64.load")
        };
        assert_eq!(memarg.offset, 1 << 32);
        assert_eq!(memarg.encoding.wide_offset, Some(WideOffset::TooLarge));
        let Operator::I64Load { memarg } =
            read(&[0x29, 0x03, 0xff, 0xff, 0xff, 0xff, 0x0f]).unwrap()
        else {
            panic!("not i64.load")
        };
        assert_eq!(memarg.offset, u64::from(u32::MAX));
        assert_eq!(memarg.encoding.wide_offset, None);
        let Operator::I32Load { memarg } = read(&[0x28, 0x02, 0x05]).unwrap() else {
            panic!("not i32.load")
        };
        assert_eq!((memarg.align, memarg.memory, memarg.offset), (2, 0, 5));
        assert_eq!(memarg.encoding, Default::default());
    }

    #[test]
    fn decodes_the_new_operators() {
        assert!(matches!(
            read(&[0x12, 0x05]).unwrap(),
            Operator::ReturnCall { function_index: 5 }
        ));
        assert!(matches!(
            read(&[0xfc, 0x16]).unwrap(),
            Operator::I64MulWideU
        ));
        assert!(matches!(
            read(&[0xfd, 0x80, 0x02]).unwrap(),
            Operator::I8x16RelaxedSwizzle
        ));
        assert!(matches!(
            read(&[0xfd, 0x93, 0x02]).unwrap(),
            Operator::I32x4RelaxedDotI8x16I7x16AddS
        ));
        assert_eq!(
            read(&[0xfd, 0x94, 0x02]).unwrap_err().message(),
            "illegal opcode"
        );
    }
}
