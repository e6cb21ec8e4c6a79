//! The engine's function-type registry releases the types no module and no
//! store uses: compiling and dropping modules with many distinct types
//! leaves the registry (and the process's memory) where it was, and an id
//! freed and given to another type never lets a `call_indirect` or a typed
//! call accept a wrong signature.

use std::sync::Mutex;
use wasmkern::{Engine, Extern, Func, Instance, Module, Store, Trap, Val};

/// The tests that read the registry's size or the resident memory run
/// alone (the count is per engine, the memory per process).
static ALONE: Mutex<()> = Mutex::new(());

fn leb_u(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// A module with `n` distinct function types (number `seed + i` spelled
/// in binary as `i32`/`i64` parameters) and no functions.
fn types_module(n: usize, seed: usize) -> Vec<u8> {
    let mut body = Vec::new();
    leb_u(&mut body, n as u64);
    for i in 0..n {
        let k = seed + i + 1;
        let bits = usize::BITS - k.leading_zeros();
        body.push(0x60);
        leb_u(&mut body, u64::from(bits));
        for b in 0..bits {
            body.push(if k >> b & 1 == 1 { 0x7e } else { 0x7f });
        }
        body.push(0);
    }
    let mut wasm = b"\0asm\x01\0\0\0".to_vec();
    wasm.push(1);
    leb_u(&mut wasm, body.len() as u64);
    wasm.extend_from_slice(&body);
    wasm
}

/// Resident memory of this process in bytes (Linux).
fn rss() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[test]
fn dropped_modules_release_their_types() {
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    const N: usize = 100_000;
    let engine = Engine::default();
    let baseline = engine.registered_types();
    let mut rss_after_first = None;
    for round in 0..10 {
        // Each round's types are new: they start where the last ended.
        let module = Module::new(&engine, types_module(N, round * N)).unwrap();
        assert_eq!(engine.registered_types(), baseline + N, "round {round}");
        // A second module with the same types adds none, and dropping it
        // releases none the first still uses.
        let twin = Module::new(&engine, types_module(N, round * N)).unwrap();
        assert_eq!(engine.registered_types(), baseline + N);
        drop(twin);
        assert_eq!(engine.registered_types(), baseline + N);
        drop(module);
        assert_eq!(engine.registered_types(), baseline, "round {round}");
        if round == 0 {
            rss_after_first = rss();
        }
    }
    // The registry's memory went back too: ten rounds of 100,000 types
    // grew the process by about 140 MiB when nothing was released.
    if let (Some(first), Some(last)) = (rss_after_first, rss()) {
        let grown = last.saturating_sub(first) >> 20;
        assert!(
            grown < 40,
            "resident memory grew by {grown} MiB over nine rounds"
        );
    }
}

#[test]
fn stores_release_their_host_function_types() {
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    let engine = Engine::default();
    let baseline = engine.registered_types();
    let mut store = Store::new(&engine, ());
    let f = Func::wrap(&mut store, |a: i64, b: f32| a + b as i64);
    let _g = Func::wrap(&mut store, |a: i64, b: f32| a - b as i64);
    assert_eq!(engine.registered_types(), baseline + 1);
    let typed = f.typed::<(i64, f32), i64>(&store).unwrap();
    assert_eq!(typed.call(&mut store, (2, 3.0)).unwrap(), 5);
    drop(store);
    assert_eq!(engine.registered_types(), baseline);
}

/// Type X's id is freed when its only module drops, and (the registry
/// reuses freed ids) goes to type Y. A function of type Y must still fail
/// a `call_indirect` expecting X, and pass one expecting Y; its typed
/// handle must refuse X's signature.
#[test]
fn a_reused_type_id_does_not_confuse_signatures() {
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    let engine = Engine::default();
    let x = "(type $x (func (param i64 i64 i64) (result f32)))";
    let only_x = Module::new(
        &engine,
        wat::parse_str(format!(
            "(module {x} (func (type $x) (f32.const 1.5)) (table 1 funcref) (elem (i32.const 0) 0))"
        ))
        .unwrap(),
    )
    .unwrap();
    let before = engine.registered_types();
    drop(only_x);
    assert_eq!(engine.registered_types(), before - 1, "X was released");

    let provider = Module::new(
        &engine,
        wat::parse_str(
            r#"(module
                (type $y (func (param f64) (result i64)))
                (func $fy (export "fy") (type $y) (i64.trunc_f64_s (local.get 0)))
                (table (export "t") 1 funcref)
                (elem (i32.const 0) $fy))"#,
        )
        .unwrap(),
    )
    .unwrap();
    let user = Module::new(
        &engine,
        wat::parse_str(format!(
            r#"(module
                {x}
                (type $y (func (param f64) (result i64)))
                (import "p" "t" (table 1 funcref))
                (func (export "as_x") (result f32)
                  (call_indirect (type $x) (i64.const 1) (i64.const 2) (i64.const 3) (i32.const 0)))
                (func (export "as_y") (result i64)
                  (call_indirect (type $y) (f64.const 41.9) (i32.const 0))))"#
        ))
        .unwrap(),
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let p = Instance::new(&mut store, &provider, &[]).unwrap();
    let t = p.get_table(&store, "t").unwrap();
    let u = Instance::new(&mut store, &user, &[Extern::Table(t)]).unwrap();
    let as_x = u.get_func(&store, "as_x").unwrap();
    let err = as_x
        .call(&mut store, &[], &mut [Val::F32(0.0f32.to_bits())])
        .unwrap_err();
    assert_eq!(err.trap(), Some(Trap::IndirectCallTypeMismatch), "{err}");
    let as_y = u.get_typed_func::<(), i64>(&store, "as_y").unwrap();
    assert_eq!(as_y.call(&mut store, ()).unwrap(), 41);
    let fy = p.get_func(&store, "fy").unwrap();
    assert!(fy.typed::<(i64, i64, i64), f32>(&store).is_err());
    assert_eq!(
        fy.typed::<f64, i64>(&store)
            .unwrap()
            .call(&mut store, 2.5)
            .unwrap(),
        2
    );
}
