//! Regression tests for bugs found by fuzzing and differential testing
//! (`fuzz/`, `tests/differential.rs`): one test per bug, each with its
//! minimized module as WAT and the value the specification (and wasmi)
//! gives. A test of an open bug is `#[ignore = "bug: ..."]` until it is
//! fixed; run them with `cargo test --test regressions -- --include-ignored`.

use wasmkern::{Engine, Instance, Module, Store, Val};

/// Instantiates `wat` (no imports) in a fresh store.
fn instantiate(wat: &str) -> (Store<()>, Instance) {
    let engine = Engine::default();
    let module = Module::new(&engine, wat::parse_str(wat).unwrap()).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    (store, instance)
}

/// Calls export `name` with `args`; its results, or the error's message.
fn call(store: &mut Store<()>, instance: Instance, name: &str, args: &[Val]) -> Vec<Val> {
    let func = instance.get_func(&mut *store, name).unwrap();
    let ty = func.ty(&mut *store);
    let mut results: Vec<Val> = ty.results().iter().map(|&t| Val::default_for(t)).collect();
    func.call(&mut *store, args, &mut results)
        .unwrap_or_else(|e| panic!("`{name}` failed: {e}"));
    results
}

/// Found by the differential test: seeds 1911, 4308, 4629, 4729, 4809 and
/// 6119 of `tests/differential.rs` (results, traps and globals differ from
/// wasmi's). An operator that needs an operand in a fixed register (a
/// shift's count in rcx, a division's dividend in rax) reads the wrong
/// value when other values are live below its operands:
///
/// - `shl_live`: `x << y` is computed as `x << (x & 63)` (3, 4 gives 24,
///   not 48); `shr_after_rem`: the count comes from a comparison after an
///   `i64.rem_s`, and the value is shifted by its own low bits
///   (`0x47a927dc >> 28 = 4` instead of `>> 1`);
/// - `rem_s`, `rem_u`, `div_u`: the dividend is the live `i32` local
///   (zero-extended) instead of 17: `4294967291 % 5 = 1`,
///   `4294967291 / 5 = 858993458`. In larger modules this also raises a
///   spurious "integer overflow" trap (seed 6119).
///
/// Cause: `FuncCompiler::pop_into_gpr` (`src/compile/func.rs`) pops the
/// operand, which frees its register, then calls `evict_gpr(r, avoid)` to
/// move the fixed register's occupant elsewhere; `evict_gpr` can pick the
/// operand's just-freed register, overwriting the operand, and `load_gpr`
/// then copies the evicted value into `r`. Keeping the popped operand's
/// register in the `avoid` list of the eviction fixes this test and all six
/// seeds (checked locally, not committed).
#[test]
fn fixed_register_operand_clobbered_by_eviction() {
    let (mut store, instance) = instantiate(
        r#"(module
          (func (export "shl_live") (param i64 i64) (result i32 i64)
            local.get 0
            i32.wrap_i64
            local.get 0
            local.get 1
            i64.shl)
          (func (export "shr_after_rem") (param i64) (result i32)
            i64.const -18759818946205732  ;; 0xffbd5a0b_47a927dc
            i32.wrap_i64
            i64.const 0
            local.get 0
            i64.const 1
            i64.rem_s                      ;; 0
            i64.ge_s                       ;; 1
            i32.shr_u)
          (func (export "rem_s") (param i32 i64 i64) (result i32 i32 i64)
            i32.const 0
            local.get 0
            local.get 1
            local.get 2
            i64.rem_s)
          (func (export "rem_u") (param i32 i64 i64) (result i32 i32 i64)
            i32.const 0
            local.get 0
            local.get 1
            local.get 2
            i64.rem_u)
          (func (export "div_u") (param i32 i64 i64) (result i32 i32 i64)
            i32.const 0
            local.get 0
            local.get 1
            local.get 2
            i64.div_u))"#,
    );
    let mut got = vec![
        call(
            &mut store,
            instance,
            "shl_live",
            &[Val::I64(3), Val::I64(4)],
        ),
        call(&mut store, instance, "shr_after_rem", &[Val::I64(7)]),
    ];
    let args = [Val::I32(-5), Val::I64(17), Val::I64(5)];
    for name in ["rem_s", "rem_u", "div_u"] {
        got.push(call(&mut store, instance, name, &args));
    }
    assert_eq!(
        got,
        [
            vec![Val::I32(3), Val::I64(48)],
            vec![Val::I32(0x47a9_27dc >> 1)],
            vec![Val::I32(0), Val::I32(-5), Val::I64(2)],
            vec![Val::I32(0), Val::I32(-5), Val::I64(2)],
            vec![Val::I32(0), Val::I32(-5), Val::I64(3)],
        ]
    );
}

/// Found by the differential test (seeds 676, 3563, 6436, 9866) while
/// `local.get` of a register-pinned local became lazy (the operand reads
/// the local's register until the local changes): `local.set` moved the
/// operands still reading the old value into a free register, and that
/// could be the register of the very value being stored, so the local got
/// its own old value. `x - 5x` gave 0 instead of `-4x`.
#[test]
fn old_value_of_a_pinned_local_survives_local_set() {
    let (mut store, instance) = instantiate(
        r#"(module
          (func (export "int") (param i32) (result i32)
            (local.get 0)
            (local.set 0 (i32.mul (local.get 0) (i32.const 5)))
            (i32.sub (local.get 0)))
          (func (export "float") (param f64) (result f64)
            (local.get 0)
            (local.set 0 (f64.mul (local.get 0) (f64.const 5)))
            (f64.sub (local.get 0)))
          (func (export "tee") (param i64) (result i64)
            (local.get 0)
            (local.tee 0 (i64.add (local.get 0) (i64.const 1)))
            (i64.mul (local.get 0))
            (i64.sub)))"#,
    );
    assert_eq!(
        call(&mut store, instance, "int", &[Val::I32(7)]),
        [Val::I32(-28)]
    );
    assert_eq!(
        call(&mut store, instance, "float", &[Val::F64(2.0f64.to_bits())]),
        [Val::F64((-8.0f64).to_bits())]
    );
    // 3 - (4 * 4) = -13
    assert_eq!(
        call(&mut store, instance, "tee", &[Val::I64(3)]),
        [Val::I64(-13)]
    );
}
