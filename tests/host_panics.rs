//! A host function that panics leaves the store as it was before the call:
//! the embedder catches the panic (`catch_unwind`), and the store's later
//! calls run at full depth, whether the panic came from a shallow call, from
//! 2,000 wasm frames deep, or from a host function nested under another
//! host function's call into wasm; with explicit bounds checks and with
//! guard regions.
//!
//! The reference is the store itself before any panic: the deepest
//! recursion a fresh store allows is measured first and must be the same
//! after the panics.

use std::panic::{AssertUnwindSafe, catch_unwind};
use wasmkern::{Caller, Config, Engine, Func, Instance, Linker, Module, Store, Trap, Val};

const WAT: &str = r#"(module
    (import "host" "boom" (func $boom))
    (import "host" "reenter" (func $reenter (param i32) (result i32)))
    (memory (export "memory") 1)
    (global $frames (mut i32) (i32.const 0))
    ;; Recurses `n` frames, calls the host at the bottom, and returns `n`.
    (func $rec (export "rec") (param i32) (result i32)
      (if (result i32) (i32.eqz (local.get 0))
        (then (call $boom) (i32.const 0))
        (else (i32.add (i32.const 1)
                       (call $rec (i32.sub (local.get 0) (i32.const 1)))))))
    ;; Recurses until the stack is exhausted, counting frames.
    (func $inf
      (global.set $frames (i32.add (global.get $frames) (i32.const 1)))
      (call $inf))
    (func (export "max_depth") (result i32)
      (global.set $frames (i32.const 0))
      (call $inf)
      (unreachable))
    (func (export "frames") (result i32) (global.get $frames))
    ;; Keeps values in its frame across a call into the host, which calls
    ;; back into wasm; returns a value built from both.
    (func (export "outer") (param i32) (result i32) (local i32 i64)
      (local.set 1 (i32.mul (local.get 0) (i32.const 3)))
      (local.set 2 (i64.const 0x1122334455667788))
      (i32.add
        (i32.add (local.get 1) (call $reenter (local.get 0)))
        (i32.wrap_i64 (i64.shr_u (local.get 2) (i64.const 32)))))
    (func (export "load") (param i32) (result i32) (i32.load (local.get 0))))"#;

/// What the host functions do.
#[derive(Default)]
struct Host {
    /// `boom` panics when set.
    panic: bool,
    /// `reenter` catches the panic of its nested call when set (and returns
    /// -1 for it).
    catch_inner: bool,
}

struct Setup {
    store: Store<Host>,
    instance: Instance,
}

fn setup(guard_regions: bool) -> Setup {
    let engine = Engine::new(Config::new().guard_regions(guard_regions)).unwrap();
    let module = Module::new(&engine, wat::parse_str(WAT).unwrap()).unwrap();
    let mut linker = Linker::<Host>::new(&engine);
    linker
        .func_wrap("host", "boom", |caller: Caller<'_, Host>| {
            if caller.data().panic {
                panic!("host function panics on purpose");
            }
        })
        .unwrap();
    linker
        .func_wrap(
            "host",
            "reenter",
            |mut caller: Caller<'_, Host>, n: i32| -> i32 {
                let rec = caller.get_export("rec").unwrap().into_func().unwrap();
                let mut out = [Val::I32(0)];
                if caller.data().catch_inner {
                    let r = catch_unwind(AssertUnwindSafe(|| {
                        rec.call(&mut caller, &[Val::I32(n)], &mut out)
                    }));
                    match r {
                        Err(_) => -1,
                        Ok(r) => {
                            r.unwrap();
                            out[0].unwrap_i32()
                        }
                    }
                } else {
                    rec.call(&mut caller, &[Val::I32(n)], &mut out).unwrap();
                    out[0].unwrap_i32()
                }
            },
        )
        .unwrap();
    let mut store = Store::new(&engine, Host::default());
    let instance = linker.instantiate(&mut store, &module).unwrap();
    Setup { store, instance }
}

impl Setup {
    fn func(&self, name: &str) -> Func {
        self.instance.get_func(&self.store, name).unwrap()
    }

    /// The frames the recursion reached before the stack ran out.
    fn max_depth(&mut self) -> i32 {
        let f = self.func("max_depth");
        let err = f
            .call(&mut self.store, &[], &mut [Val::I32(0)])
            .unwrap_err();
        assert_eq!(err.trap(), Some(Trap::StackOverflow), "{err}");
        let frames = self.func("frames");
        let mut out = [Val::I32(0)];
        frames.call(&mut self.store, &[], &mut out).unwrap();
        out[0].unwrap_i32()
    }

    fn rec(&mut self, n: i32) -> i32 {
        let f = self.func("rec");
        let mut out = [Val::I32(0)];
        f.call(&mut self.store, &[Val::I32(n)], &mut out).unwrap();
        out[0].unwrap_i32()
    }

    /// Calls `name(n)` expecting the host's panic to come out of it.
    fn call_expecting_panic(&mut self, name: &str, n: i32) {
        let f = self.func(name);
        let store = &mut self.store;
        let r = catch_unwind(AssertUnwindSafe(|| {
            let mut out = [Val::I32(0)];
            f.call(&mut *store, &[Val::I32(n)], &mut out)
        }));
        if let Ok(r) = r {
            let r = r.map_err(|e| e.to_string());
            panic!("{name}({n}) should have panicked, got {r:?}");
        }
    }

    /// The store works normally: host calls, wasm results, traps.
    fn check_normal(&mut self, depth: i32) {
        self.store.data_mut().panic = false;
        assert_eq!(self.rec(0), 0);
        assert_eq!(self.rec(1000), 1000);
        assert_eq!(self.max_depth(), depth, "the recursion limit changed");
        let load = self.func("load");
        let err = load
            .call(&mut self.store, &[Val::I32(65_535)], &mut [Val::I32(0)])
            .unwrap_err();
        assert_eq!(err.trap(), Some(Trap::MemoryOutOfBounds), "{err}");
        self.store.data_mut().panic = true;
    }
}

/// Silences the panic messages of the deliberate panics (they are many).
fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let msg = info.to_string();
        if !msg.contains("host function panics on purpose") {
            eprintln!("{msg}");
        }
    }));
}

#[test]
fn shallow_panics_leave_the_store_usable() {
    quiet_panics();
    for guard in [false, true] {
        let mut s = setup(guard);
        let depth = s.max_depth();
        assert!(
            depth > 5_000,
            "a 1 MiB stack holds more than {depth} frames"
        );
        s.store.data_mut().panic = true;
        for _ in 0..250 {
            s.call_expecting_panic("rec", 0);
        }
        s.check_normal(depth);
    }
}

#[test]
fn a_deep_panic_leaves_the_full_stack() {
    quiet_panics();
    for guard in [false, true] {
        let mut s = setup(guard);
        let depth = s.max_depth();
        s.store.data_mut().panic = true;
        s.call_expecting_panic("rec", 2_000);
        s.check_normal(depth);
        // Again, half as deep as the stack allows (a `rec` frame is larger
        // than the measuring function's).
        s.call_expecting_panic("rec", depth / 2);
        s.check_normal(depth);
    }
}

#[test]
fn panics_through_nested_host_calls() {
    quiet_panics();
    for guard in [false, true] {
        let mut s = setup(guard);
        let depth = s.max_depth();
        // host -> wasm (outer) -> host (reenter) -> wasm (rec, 500 deep)
        // -> host (boom) panics, through every level.
        s.store.data_mut().panic = true;
        for _ in 0..50 {
            s.call_expecting_panic("outer", 500);
        }
        s.check_normal(depth);
        // The panic caught inside `reenter`: the outer wasm frame resumes
        // with its locals intact, on a stack whose nested level is gone.
        s.store.data_mut().catch_inner = true;
        for _ in 0..250 {
            let f = s.func("outer");
            let mut out = [Val::I32(0)];
            f.call(&mut s.store, &[Val::I32(500)], &mut out).unwrap();
            assert_eq!(out[0].unwrap_i32(), 1500 - 1 + 0x1122_3344);
        }
        s.store.data_mut().catch_inner = false;
        s.check_normal(depth);
        // Without a panic the nested call returns its depth.
        s.store.data_mut().panic = false;
        let f = s.func("outer");
        let mut out = [Val::I32(0)];
        f.call(&mut s.store, &[Val::I32(500)], &mut out).unwrap();
        assert_eq!(out[0].unwrap_i32(), 1500 + 500 + 0x1122_3344);
    }
}
