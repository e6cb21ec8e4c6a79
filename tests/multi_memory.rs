//! The compiler's side of multi-memory: accesses to memories other than
//! memory 0 (explicit bounds checks through the context's per-memory
//! records, in both memory modes), their growth seen by running code and
//! by other instances, bulk operations between memories, and memory 0's
//! own bounds next to them.
//!
//! Every test runs with explicit bounds checks and with
//! `Config::guard_regions`, where memory 0 relies on its guard region and
//! the others keep their checks. Expected values come from the bytes the
//! host wrote (or from Rust's own `copy_within`), never from a run of
//! wasmkern.

use wasmkern::{Caller, Config, Engine, Instance, Linker, Memory, Store, TypedFunc};

mod common;
use common::{assert_oob, both_modes, module, typed};

fn engine(guard_regions: bool) -> Engine {
    let mut config = Config::new();
    config.wasm_multi_memory(true).guard_regions(guard_regions);
    Engine::new(&config).expect("engine")
}

/// The byte the tests write at `i` of memory `m`, different per memory.
fn pattern(m: u8, i: usize) -> u8 {
    (i as u8)
        .wrapping_mul(31)
        .wrapping_add(m.wrapping_mul(101))
        .wrapping_add(7)
}

fn fill_pattern(store: &mut Store<()>, mem: Memory, m: u8) {
    for (i, b) in mem.data_mut(store).iter_mut().enumerate() {
        *b = pattern(m, i);
    }
}

fn le(m: u8, at: usize, n: usize) -> u64 {
    let mut v = [0u8; 8];
    for (k, b) in v.iter_mut().enumerate().take(n) {
        *b = pattern(m, at + k);
    }
    u64::from_le_bytes(v)
}

const ACCESSES: &str = r#"(module
  (memory $m0 (export "m0") 1 4)
  (memory $m1 (export "m1") 2 5)
  (func (export "load8") (param i32) (result i32) (i32.load8_u $m1 (local.get 0)))
  (func (export "load16") (param i32) (result i32) (i32.load16_u $m1 (local.get 0)))
  (func (export "load32") (param i32) (result i32) (i32.load $m1 (local.get 0)))
  (func (export "load64") (param i32) (result i64) (i64.load $m1 (local.get 0)))
  (func (export "loadf64") (param i32) (result f64) (f64.load $m1 (local.get 0)))
  (func (export "loadv") (param i32) (result i64)
    (i64x2.extract_lane 1 (v128.load $m1 (local.get 0))))
  (func (export "load_lane") (param i32) (result i32)
    (i32x4.extract_lane 2 (v128.load32_lane $m1 2 (local.get 0) (v128.const i64x2 0 0))))
  (func (export "load_splat") (param i32) (result i32)
    (i16x8.extract_lane_u 5 (v128.load16_splat $m1 (local.get 0))))
  (func (export "load_off") (param i32) (result i32) (i32.load $m1 offset=65536 (local.get 0)))
  (func (export "load_max_off") (param i32) (result i32)
    (i32.load $m1 offset=4294967295 (local.get 0)))
  (func (export "store8") (param i32 i32) (i32.store8 $m1 (local.get 0) (local.get 1)))
  (func (export "store64") (param i32 i64) (i64.store $m1 (local.get 0) (local.get 1)))
  (func (export "storev") (param i32 i64)
    (v128.store $m1 (local.get 0) (i64x2.splat (local.get 1))))
  (func (export "store_lane") (param i32 i64)
    (v128.store64_lane $m1 1 (local.get 0) (i64x2.splat (local.get 1))))
  (func (export "const_edge") (result i32) (i32.load $m1 (i32.const 131068)))
  (func (export "const_past") (result i32) (i32.load $m1 (i32.const 131069)))
  (func (export "const_low") (result i32) (i32.load $m1 (i32.const 16)))
  (func (export "load0") (param i32) (result i32) (i32.load $m0 (local.get 0)))
  (func (export "store0") (param i32 i32) (i32.store $m0 (local.get 0) (local.get 1)))
  (func (export "mixed") (param i32 i32) (result i32)
    ;; memory 0 and memory 1 in one function, each with its own bound
    (i32.add (i32.load8_u $m0 (local.get 0)) (i32.load8_u $m1 (local.get 1))))
  (func (export "size0") (result i32) (memory.size $m0))
  (func (export "size1") (result i32) (memory.size $m1))
  (func (export "grow1") (param i32) (result i32) (memory.grow $m1 (local.get 0))))"#;

struct Accesses {
    store: Store<()>,
    instance: Instance,
    m0: Memory,
    m1: Memory,
}

impl Accesses {
    fn new(guard_regions: bool) -> Accesses {
        let engine = engine(guard_regions);
        let module = module(&engine, ACCESSES);
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).expect("instance");
        let m0 = instance.get_memory(&store, "m0").unwrap();
        let m1 = instance.get_memory(&store, "m1").unwrap();
        fill_pattern(&mut store, m0, 0);
        fill_pattern(&mut store, m1, 1);
        Accesses {
            store,
            instance,
            m0,
            m1,
        }
    }

    fn f<P: wasmkern::WasmParams, R: wasmkern::WasmResults>(
        &mut self,
        name: &str,
    ) -> TypedFunc<P, R> {
        typed(&mut self.store, &self.instance, name)
    }
}

#[test]
fn loads_of_every_width_trap_exactly_at_memory_1s_end() {
    both_modes(|guard| {
        let mut g = Accesses::new(guard);
        let len = 2 * 65536usize;
        for (name, size) in [
            ("load8", 1),
            ("load16", 2),
            ("load32", 4),
            ("load64", 8),
            ("loadf64", 8),
            ("loadv", 16),
            ("load_lane", 4),
            ("load_splat", 2),
        ] {
            let last = (len - size) as i32;
            let (ok, past) = match name {
                "load64" => {
                    let f = g.f::<i32, i64>(name);
                    (
                        f.call(&mut g.store, last).map(|v| v as u64),
                        f.call(&mut g.store, last + 1).map(|v| v as u64),
                    )
                }
                "loadf64" => {
                    let f = g.f::<i32, f64>(name);
                    (
                        f.call(&mut g.store, last).map(f64::to_bits),
                        f.call(&mut g.store, last + 1).map(f64::to_bits),
                    )
                }
                "loadv" => {
                    let f = g.f::<i32, i64>(name);
                    (
                        f.call(&mut g.store, last).map(|v| v as u64),
                        f.call(&mut g.store, last + 1).map(|v| v as u64),
                    )
                }
                _ => {
                    let f = g.f::<i32, i32>(name);
                    (
                        f.call(&mut g.store, last).map(|v| v as u32 as u64),
                        f.call(&mut g.store, last + 1).map(|v| v as u32 as u64),
                    )
                }
            };
            let at = last as usize;
            let expected = match name {
                // The upper half of the vector.
                "loadv" => le(1, at + 8, 8),
                // A splat of the 16 bits at the address.
                "load_splat" => le(1, at, 2),
                _ => le(1, at, size),
            };
            assert_eq!(
                ok.unwrap(),
                expected,
                "{name} at the last fitting address ({guard})"
            );
            assert_oob(past, &format!("{name} one byte further ({guard})"));
        }
        // Memory 1 is larger than memory 0: its accesses are checked
        // against its own length, and memory 0's against memory 0's.
        let load32 = g.f::<i32, i32>("load32");
        let load0 = g.f::<i32, i32>("load0");
        assert_eq!(
            load32.call(&mut g.store, 65536).unwrap() as u32 as u64,
            le(1, 65536, 4)
        );
        assert_eq!(
            load0.call(&mut g.store, 65532).unwrap() as u32 as u64,
            le(0, 65532, 4)
        );
        assert_oob(load0.call(&mut g.store, 65533), "memory 0 past its end");
        assert_oob(
            load0.call(&mut g.store, 65536),
            "memory 0 at memory 1's page",
        );
        let mixed = g.f::<(i32, i32), i32>("mixed");
        assert_eq!(
            mixed.call(&mut g.store, (65535, 131071)).unwrap(),
            i32::from(pattern(0, 65535)) + i32::from(pattern(1, 131071))
        );
        assert_oob(mixed.call(&mut g.store, (65536, 0)), "mixed: memory 0 past");
        assert_oob(
            mixed.call(&mut g.store, (0, 131072)),
            "mixed: memory 1 past",
        );
        // Addresses far beyond, and the largest offset.
        assert_oob(load32.call(&mut g.store, -1), "address 2^32 - 1");
        let load_off = g.f::<i32, i32>("load_off");
        assert_eq!(
            load_off.call(&mut g.store, 65532).unwrap() as u32 as u64,
            le(1, 131068, 4)
        );
        assert_oob(load_off.call(&mut g.store, 65533), "offset 65536 past");
        let load_max_off = g.f::<i32, i32>("load_max_off");
        assert_oob(load_max_off.call(&mut g.store, 0), "offset 2^32 - 1");
        assert_oob(load_max_off.call(&mut g.store, -1), "both at 2^32 - 1");
        // Constant addresses: within the declared minimum, at the edge,
        // past it.
        let const_low = g.f::<(), i32>("const_low");
        assert_eq!(
            const_low.call(&mut g.store, ()).unwrap() as u32 as u64,
            le(1, 16, 4)
        );
        let const_edge = g.f::<(), i32>("const_edge");
        assert_eq!(
            const_edge.call(&mut g.store, ()).unwrap() as u32 as u64,
            le(1, 131068, 4)
        );
        let const_past = g.f::<(), i32>("const_past");
        assert_oob(const_past.call(&mut g.store, ()), "constant address past");
    });
}

#[test]
fn stores_reach_memory_1_only_and_trap_at_its_end() {
    both_modes(|guard| {
        let mut g = Accesses::new(guard);
        let before0 = g.m0.data(&g.store).to_vec();
        let store8 = g.f::<(i32, i32), ()>("store8");
        let store64 = g.f::<(i32, i64), ()>("store64");
        let storev = g.f::<(i32, i64), ()>("storev");
        let store_lane = g.f::<(i32, i64), ()>("store_lane");
        store8.call(&mut g.store, (131071, 0x1ab)).unwrap();
        store64
            .call(&mut g.store, (131064, 0x0102_0304_0506_0708))
            .unwrap();
        storev
            .call(&mut g.store, (100, 0x1122_3344_5566_7788))
            .unwrap();
        store_lane
            .call(&mut g.store, (131064, -0x0f0e_0d0c_0b0a_0909))
            .unwrap();
        let m1 = g.m1.data(&g.store);
        assert_eq!(
            m1[131064..131072],
            (-0x0f0e_0d0c_0b0a_0909i64).to_le_bytes()
        );
        assert_eq!(m1[100..108], 0x1122_3344_5566_7788u64.to_le_bytes());
        assert_eq!(m1[108..116], 0x1122_3344_5566_7788u64.to_le_bytes());
        assert_eq!(m1[99], pattern(1, 99));
        assert_eq!(m1[116], pattern(1, 116));
        // Past the end: traps and writes nothing.
        let snapshot = m1.to_vec();
        assert_oob(store8.call(&mut g.store, (131072, 1)), "store8 past");
        assert_oob(
            store64.call(&mut g.store, (131065, 1)),
            "store64 straddling",
        );
        assert_oob(
            storev.call(&mut g.store, (131057, 1)),
            "v128.store straddling",
        );
        assert_oob(
            store_lane.call(&mut g.store, (131065, 1)),
            "lane store straddling",
        );
        assert_eq!(g.m1.data(&g.store), &snapshot[..]);
        // Memory 0 was never written.
        assert_eq!(g.m0.data(&g.store), &before0[..]);
        // And memory 0's stores stay in memory 0.
        let store0 = g.f::<(i32, i32), ()>("store0");
        store0.call(&mut g.store, (65532, 0x0a0b_0c0d)).unwrap();
        assert_eq!(g.m0.data(&g.store)[65532..], 0x0a0b_0c0du32.to_le_bytes());
        assert_oob(store0.call(&mut g.store, (65533, 0)), "memory 0 store past");
        assert_eq!(g.m1.data(&g.store), &snapshot[..]);
    });
}

#[test]
fn growing_memory_1_moves_its_bound_and_keeps_memory_0s() {
    both_modes(|guard| {
        let mut g = Accesses::new(guard);
        let (size0, size1) = (g.f::<(), i32>("size0"), g.f::<(), i32>("size1"));
        let grow1 = g.f::<i32, i32>("grow1");
        let load32 = g.f::<i32, i32>("load32");
        let load0 = g.f::<i32, i32>("load0");
        assert_eq!(size1.call(&mut g.store, ()).unwrap(), 2);
        assert_oob(load32.call(&mut g.store, 131072), "before growing");
        assert_eq!(grow1.call(&mut g.store, 2).unwrap(), 2);
        assert_eq!(size1.call(&mut g.store, ()).unwrap(), 4);
        assert_eq!(size0.call(&mut g.store, ()).unwrap(), 1);
        assert_eq!((g.m0.size(&g.store), g.m1.size(&g.store)), (1, 4));
        // The new pages are zero and accessible up to the new end.
        assert_eq!(load32.call(&mut g.store, 131072).unwrap(), 0);
        assert_eq!(load32.call(&mut g.store, 4 * 65536 - 4).unwrap(), 0);
        assert_oob(load32.call(&mut g.store, 4 * 65536 - 3), "past the new end");
        // The old contents moved with the memory.
        assert_eq!(
            load32.call(&mut g.store, 8).unwrap() as u32 as u64,
            le(1, 8, 4)
        );
        // Beyond the maximum of 5: -1, nothing changes.
        assert_eq!(grow1.call(&mut g.store, 2).unwrap(), -1);
        assert_eq!(size1.call(&mut g.store, ()).unwrap(), 4);
        // Memory 0 kept its size and bound.
        assert_oob(
            load0.call(&mut g.store, 65533),
            "memory 0 after memory 1 grew",
        );
    });
}

#[test]
fn growth_reaches_a_running_function_and_other_instances() {
    both_modes(|guard| {
        let engine = engine(guard);
        let mut store = Store::new(&engine, ());
        let mut linker = Linker::new(&engine);
        // A exports its memory 1; its `grow` grows it from wasm.
        let a = module(
            &engine,
            r#"(module
              (memory (export "a0") 1)
              (memory $shared (export "shared") 1 10)
              (func (export "grow") (param i32) (result i32)
                (memory.grow $shared (local.get 0))))"#,
        );
        let a = linker.instantiate(&mut store, &a).unwrap();
        linker.instance(&mut store, "a", a).unwrap();
        // A host function that grows the shared memory through the API.
        linker
            .func_wrap(
                "host",
                "grow",
                |mut caller: Caller<'_, ()>, delta: i32| -> i32 {
                    let shared = match caller.get_export("shared") {
                        Some(wasmkern::Extern::Memory(m)) => m,
                        _ => return -2,
                    };
                    shared
                        .grow(&mut caller, u64::from(delta as u32))
                        .map_or(-1, |old| old as i32)
                },
            )
            .unwrap();
        // B has it as memory 1 (imports first: memory 0 is A's a0).
        let b = module(
            &engine,
            r#"(module
              (import "a" "grow" (func $grow (param i32) (result i32)))
              (import "a" "a0" (memory $b0 1))
              (import "a" "shared" (memory $s 1))
              (export "shared" (memory $s))
              (import "host" "grow" (func $host_grow (param i32) (result i32)))
              (func (export "grow_in_a_then_store") (param i32 i32) (result i32)
                ;; the address is past the end until A grows the memory
                (drop (call $grow (i32.const 1)))
                (i32.store $s (local.get 0) (local.get 1))
                (i32.add (i32.load $s (local.get 0)) (memory.size $s)))
              (func (export "grow_by_host_then_store") (param i32 i32) (result i32)
                (drop (call $host_grow (i32.const 1)))
                (i32.store $s (local.get 0) (local.get 1))
                (i32.add (i32.load $s (local.get 0)) (memory.size $s)))
              (func (export "load") (param i32) (result i32) (i32.load $s (local.get 0))))"#,
        );
        let b = linker.instantiate(&mut store, &b).unwrap();
        // C has it as memory 0 (its fast path).
        let c = module(
            &engine,
            r#"(module
              (import "a" "shared" (memory 1))
              (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
              (func (export "size") (result i32) (memory.size)))"#,
        );
        let c = linker.instantiate(&mut store, &c).unwrap();
        let b_grow_in_a = b
            .get_typed_func::<(i32, i32), i32>(&mut store, "grow_in_a_then_store")
            .unwrap();
        let b_grow_by_host = b
            .get_typed_func::<(i32, i32), i32>(&mut store, "grow_by_host_then_store")
            .unwrap();
        let b_load = b.get_typed_func::<i32, i32>(&mut store, "load").unwrap();
        let c_load = c.get_typed_func::<i32, i32>(&mut store, "load").unwrap();
        let c_size = c.get_typed_func::<(), i32>(&mut store, "size").unwrap();
        assert_oob(b_load.call(&mut store, 65536), "B before growth");
        assert_oob(c_load.call(&mut store, 65536), "C before growth");
        // B's function, already running, sees the growth A did.
        assert_eq!(
            b_grow_in_a.call(&mut store, (131068, 1000)).unwrap(),
            1000 + 2
        );
        assert_eq!(c_size.call(&mut store, ()).unwrap(), 2);
        assert_eq!(c_load.call(&mut store, 131068).unwrap(), 1000);
        assert_oob(c_load.call(&mut store, 131069), "C past the new end");
        // And the growth a host function did through the API.
        assert_eq!(
            b_grow_by_host.call(&mut store, (196604, 2000)).unwrap(),
            2000 + 3
        );
        assert_eq!(c_load.call(&mut store, 196604).unwrap(), 2000);
        assert_oob(b_load.call(&mut store, 196605), "B past the new end");
        let shared = b.get_memory(&store, "shared").unwrap();
        assert_eq!(shared.size(&store), 3);
        assert_eq!(shared.data(&store)[196604..], 2000u32.to_le_bytes());
    });
}

const BULK: &str = r#"(module
  (memory $m0 (export "m0") 1)
  (memory $m1 (export "m1") 1)
  (data $d "multi-memory passive segment")
  (func (export "copy01") (param i32 i32 i32) (memory.copy $m0 $m1 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "copy10") (param i32 i32 i32) (memory.copy $m1 $m0 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "copy11") (param i32 i32 i32) (memory.copy $m1 $m1 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "copy00") (param i32 i32 i32) (memory.copy $m0 $m0 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "fill1") (param i32 i32 i32) (memory.fill $m1 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "init1") (param i32 i32 i32) (memory.init $m1 $d (local.get 0) (local.get 1) (local.get 2)))
  (func (export "drop") (data.drop $d)))"#;

#[test]
fn bulk_operations_between_memories() {
    both_modes(|guard| {
        let engine = engine(guard);
        let module = module(&engine, BULK);
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let m0 = instance.get_memory(&store, "m0").unwrap();
        let m1 = instance.get_memory(&store, "m1").unwrap();
        fill_pattern(&mut store, m0, 0);
        fill_pattern(&mut store, m1, 1);
        let mut want0 = m0.data(&store).to_vec();
        let mut want1 = m1.data(&store).to_vec();
        let f = |store: &mut Store<()>, name: &str| {
            instance
                .get_typed_func::<(i32, i32, i32), ()>(store, name)
                .unwrap()
        };
        let check = |store: &Store<()>, want0: &[u8], want1: &[u8], what: &str| {
            assert!(m0.data(store) == want0, "memory 0 after {what} ({guard})");
            assert!(m1.data(store) == want1, "memory 1 after {what} ({guard})");
        };
        // Memory 1 into memory 0 and back, up to the very end.
        f(&mut store, "copy01")
            .call(&mut store, (100, 200, 50))
            .unwrap();
        want0[100..150].copy_from_slice(&want1[200..250]);
        check(&store, &want0, &want1, "copy01");
        f(&mut store, "copy10")
            .call(&mut store, (65436, 0, 100))
            .unwrap();
        want1[65436..].copy_from_slice(&want0[..100]);
        check(&store, &want0, &want1, "copy10 to the end");
        // Overlapping copies within memory 1, both directions.
        f(&mut store, "copy11")
            .call(&mut store, (10, 5, 300))
            .unwrap();
        want1.copy_within(5..305, 10);
        check(&store, &want0, &want1, "copy11 upwards");
        f(&mut store, "copy11")
            .call(&mut store, (1000, 1700, 2000))
            .unwrap();
        want1.copy_within(1700..3700, 1000);
        check(&store, &want0, &want1, "copy11 downwards");
        // Within memory 0 (its inline path) next to them.
        f(&mut store, "copy00")
            .call(&mut store, (7, 3, 64))
            .unwrap();
        want0.copy_within(3..67, 7);
        check(&store, &want0, &want1, "copy00");
        // Out of bounds in either memory: a trap and no write at all.
        for (name, args) in [
            ("copy01", (65500, 0, 37)),
            ("copy01", (0, 65500, 37)),
            ("copy10", (65535, 0, 2)),
            ("copy10", (0, -1, 1)),
            ("copy11", (0, 65536, 1)),
            ("fill1", (65000, 7, 537)),
            ("init1", (65535, 0, 2)),
            ("init1", (0, 20, 10)),
        ] {
            assert_oob(f(&mut store, name).call(&mut store, args), name);
            check(&store, &want0, &want1, name);
        }
        // Zero bytes at the very end are in bounds, one byte past is not.
        f(&mut store, "copy01")
            .call(&mut store, (65536, 65536, 0))
            .unwrap();
        assert_oob(
            f(&mut store, "copy01").call(&mut store, (65537, 0, 0)),
            "empty copy past the end",
        );
        // Fill and init write memory 1 only.
        f(&mut store, "fill1")
            .call(&mut store, (10, 0x15a, 20))
            .unwrap();
        want1[10..30].fill(0x5a);
        check(&store, &want0, &want1, "fill1");
        f(&mut store, "init1")
            .call(&mut store, (65530, 6, 6))
            .unwrap();
        want1[65530..].copy_from_slice(b"memory");
        check(&store, &want0, &want1, "init1");
        instance
            .get_typed_func::<(), ()>(&mut store, "drop")
            .unwrap()
            .call(&mut store, ())
            .unwrap();
        assert_oob(
            f(&mut store, "init1").call(&mut store, (0, 0, 1)),
            "init of a dropped segment",
        );
        check(&store, &want0, &want1, "the dropped init");
    });
}

#[test]
fn memory_0_keeps_its_bounds_next_to_other_memories() {
    both_modes(|guard| {
        let engine = engine(guard);
        // Memory 0 is the small one here; memory 2 is the large one.
        let module = module(
            &engine,
            r#"(module
              (memory $m0 (export "m0") 1)
              (memory $m1 3)
              (memory $m2 (export "m2") 4)
              (func (export "sum") (param i32) (result i32)
                (i32.add (i32.load8_u (local.get 0)) (i32.load8_u $m2 (local.get 0))))
              (func (export "load0") (param i32) (result i64) (i64.load (local.get 0)))
              (func (export "fill0") (param i32 i32) (memory.fill (local.get 0) (i32.const 9) (local.get 1))))"#,
        );
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let m0 = instance.get_memory(&store, "m0").unwrap();
        let m2 = instance.get_memory(&store, "m2").unwrap();
        fill_pattern(&mut store, m0, 0);
        fill_pattern(&mut store, m2, 2);
        let sum = instance
            .get_typed_func::<i32, i32>(&mut store, "sum")
            .unwrap();
        let load0 = instance
            .get_typed_func::<i32, i64>(&mut store, "load0")
            .unwrap();
        let fill0 = instance
            .get_typed_func::<(i32, i32), ()>(&mut store, "fill0")
            .unwrap();
        assert_eq!(
            sum.call(&mut store, 65535).unwrap(),
            i32::from(pattern(0, 65535)) + i32::from(pattern(2, 65535))
        );
        // Memory 2 has the byte, memory 0 does not: the sum traps.
        assert_oob(sum.call(&mut store, 65536), "memory 0's byte past its end");
        assert_eq!(
            load0.call(&mut store, 65528).unwrap() as u64,
            le(0, 65528, 8)
        );
        assert_oob(load0.call(&mut store, 65529), "memory 0's i64 straddling");
        fill0.call(&mut store, (65530, 6)).unwrap();
        assert_eq!(m0.data(&store)[65530..], [9; 6]);
        assert_oob(fill0.call(&mut store, (65531, 6)), "memory 0's fill past");
        assert_eq!(m2.data(&store)[65530], pattern(2, 65530));
    });
}
