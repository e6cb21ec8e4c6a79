//! Where loop headers lie: every loop starts a 32-byte block of code, and
//! a small loop (`SMALL_LOOP_BYTES` of wasm from its `loop` to its `end`,
//! whose machine code likely exceeds 32 bytes but fits 64) starts a
//! 64-byte block, so that none of it lies in a second block of the CPU's
//! decoded-instruction cache. The code memory places a module's code at a
//! multiple of 64 bytes, so positions in the module's code are checked.

mod common;
use common::placed_function_code;
use iced_x86::{Mnemonic, OpKind};
use wasmkern::compile::CompileOptions;
use wasmkern::validate::SMALL_LOOP_BYTES;

/// A loop of about 29 bytes of wasm (a sieve's inner loop), counted small.
const SMALL: &str = "
    (loop $l
      (i32.store8 (i32.add (local.get 0) (i32.const 1040)) (i32.const 0))
      (br_if $l (i32.lt_u (local.tee 0 (i32.add (local.get 0) (local.get 1)))
                          (i32.const 4194304))))";

/// A loop of more than 40 bytes of wasm.
const LARGE: &str = "
    (loop $l
      (i32.store (i32.add (local.get 0) (i32.const 1040))
                 (i32.mul (i32.load offset=8 (local.get 0)) (i32.const 1664525)))
      (i32.store (i32.add (local.get 0) (i32.const 2040))
                 (i32.xor (i32.load offset=16 (local.get 0)) (local.get 1)))
      (br_if $l (i32.lt_u (local.tee 0 (i32.add (local.get 0) (local.get 1)))
                          (i32.const 4194304))))";

/// Straight-line code of `n` instructions' worth, which moves what follows.
fn filler(n: usize) -> String {
    "(local.set 2 (i32.add (local.get 2) (i32.const 7)))".repeat(n)
}

/// One function: a large loop in dead code, then small and large loops in
/// turn with varying code between them. If the compiler lost count of the
/// loops (the dead one included), small loops would get the 32-byte
/// alignment of their large neighbours.
fn module() -> String {
    let mut body = format!("(block $dead (br $dead) {LARGE})");
    for k in 0..12 {
        body += &filler(k % 5);
        body += SMALL;
        body += &filler(k % 3 + 1);
        body += LARGE;
    }
    format!("(module (memory 65) (func (param i32 i32) (local i32) {body}))")
}

/// The module offsets of the headers of the loops of function 0 of `wat`,
/// in code order: the targets of its backward conditional jumps within it
/// (each loop's `br_if`; the out-of-line bounds checks jump back with
/// `jmp`, and its out-of-line code jumps to the module's stubs before it).
fn loop_headers(wat: &str) -> Vec<u64> {
    let code = placed_function_code(wat, 0, &CompileOptions::default());
    let start = code[0].ip();
    let mut headers: Vec<u64> = code
        .iter()
        .filter(|i| {
            i.op_count() == 1
                && i.op0_kind() == OpKind::NearBranch64
                && i.mnemonic() != Mnemonic::Jmp
                && (start..i.ip()).contains(&i.near_branch_target())
        })
        .map(|i| i.near_branch_target())
        .collect();
    headers.sort_unstable();
    headers.dedup();
    headers
}

#[test]
fn the_validator_marks_the_small_loops() {
    let wasm = wat::parse_str(module()).expect("parses");
    let module = wasmkern::decode::Module::decode(&wasm).expect("decodes");
    let info = wasmkern::validate::validate_module(&module).expect("validates");
    // Loop 0 is the dead large one; then small (odd) and large (even).
    let small: u64 = (0..12).map(|k| 1u64 << (2 * k + 1)).sum();
    assert_eq!(info.funcs[0].small_loops, small);
    assert!(SMALL_LOOP_BYTES.contains(&29));
}

#[test]
fn small_loops_start_a_64_byte_block() {
    let headers = loop_headers(&module());
    // The 24 live loops, in code order: small, large, small, ...
    assert_eq!(headers.len(), 24, "loop headers at {headers:x?}");
    for (k, &at) in headers.iter().enumerate() {
        let align = if k % 2 == 0 { 64 } else { 32 };
        assert_eq!(at % align, 0, "loop {k} at {at:#x}: headers {headers:x?}");
    }
}
