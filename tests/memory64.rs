//! The compiler's side of memory64: 64-bit addresses are checked in full
//! (an address above 4 GiB never wraps to a valid one, an offset near
//! 2^64 never wraps around), `memory.size`/`memory.grow` and the bulk
//! operators take and give `i64`s (a delta above `u32::MAX` pages is
//! refused, never truncated), and the size API counts 64-bit memories'
//! pages as `u64`s.
//!
//! Every test runs with explicit bounds checks and with
//! `Config::guard_regions`: 64-bit memories keep explicit checks in both.
//! Expected values come from the bytes the host wrote and from the spec's
//! rules, never from a run of wasmkern.

use wasmkern::{Config, Engine, Instance, Memory, Module, Store, TypedFunc};

mod common;
use common::{assert_oob, both_modes, typed};

fn engine(guard_regions: bool) -> Engine {
    let mut config = Config::new();
    config
        .wasm_memory64(true)
        .wasm_multi_memory(true)
        .wasm_custom_page_sizes(true)
        .guard_regions(guard_regions);
    Engine::new(&config).expect("engine")
}

fn byte(i: usize) -> u8 {
    (i as u8).wrapping_mul(13).wrapping_add(5)
}

fn le32(at: usize) -> i32 {
    i32::from_le_bytes([byte(at), byte(at + 1), byte(at + 2), byte(at + 3)])
}

const MODULE: &str = r#"(module
  (memory $m (export "m") i64 1 3)
  (func (export "load32") (param i64) (result i32) (i32.load (local.get 0)))
  (func (export "load8") (param i64) (result i32) (i32.load8_u (local.get 0)))
  (func (export "loadv") (param i64) (result i32)
    (i32x4.extract_lane 3 (v128.load (local.get 0))))
  (func (export "store32") (param i64 i32) (i32.store (local.get 0) (local.get 1)))
  (func (export "load_off4") (param i64) (result i32) (i32.load offset=4 (local.get 0)))
  (func (export "load_off_4g") (param i64) (result i32)
    (i32.load offset=4294967296 (local.get 0)))
  (func (export "load_off_max") (param i64) (result i32)
    (i32.load offset=18446744073709551615 (local.get 0)))
  (func (export "load_off_2_63") (param i64) (result i32)
    (i32.load offset=9223372036854775808 (local.get 0)))
  (func (export "const_4g") (result i32) (i32.load (i64.const 4294967296)))
  (func (export "const_4g_off") (result i32) (i32.load offset=4294967296 (i64.const 8)))
  (func (export "const_minus_1") (result i32) (i32.load8_u (i64.const -1)))
  (func (export "const_wrap") (result i32) (i32.load offset=8 (i64.const -4)))
  (func (export "const_edge") (result i32) (i32.load offset=65528 (i64.const 4)))
  (func (export "size") (result i64) (memory.size))
  (func (export "grow") (param i64) (result i64) (memory.grow (local.get 0)))
  (func (export "fill") (param i64 i32 i64) (memory.fill (local.get 0) (local.get 1) (local.get 2)))
  (func (export "copy") (param i64 i64 i64) (memory.copy (local.get 0) (local.get 1) (local.get 2))))"#;

struct Guest {
    store: Store<()>,
    instance: Instance,
    m: Memory,
}

impl Guest {
    fn new(guard_regions: bool) -> Guest {
        let engine = engine(guard_regions);
        let bytes = wat::parse_str(MODULE).expect("test module parses");
        let module = Module::new(&engine, bytes).expect("memory64 module compiles");
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).expect("instance");
        let m = instance.get_memory(&store, "m").unwrap();
        for (i, b) in m.data_mut(&mut store).iter_mut().enumerate() {
            *b = byte(i);
        }
        Guest { store, instance, m }
    }

    fn f<P: wasmkern::WasmParams, R: wasmkern::WasmResults>(
        &mut self,
        name: &str,
    ) -> TypedFunc<P, R> {
        typed(&mut self.store, &self.instance, name)
    }
}

#[test]
fn addresses_above_4_gib_trap_instead_of_wrapping() {
    both_modes(|guard| {
        let mut g = Guest::new(guard);
        let load32 = g.f::<i64, i32>("load32");
        let load8 = g.f::<i64, i32>("load8");
        let loadv = g.f::<i64, i32>("loadv");
        // The exact edge of the 1-page memory.
        assert_eq!(load32.call(&mut g.store, 65532).unwrap(), le32(65532));
        assert_oob(
            load32.call(&mut g.store, 65533),
            "load32 straddling the end",
        );
        assert_eq!(loadv.call(&mut g.store, 65520).unwrap(), le32(65532));
        assert_oob(
            loadv.call(&mut g.store, 65521),
            "v128.load straddling the end",
        );
        // 2^32 + small: truncated to 32 bits it would be a valid address.
        for addr in [
            1u64 << 32,
            (1 << 32) + 4,
            (1 << 32) + 65532,
            1 << 33,
            1 << 63,
        ] {
            assert_oob(
                load32.call(&mut g.store, addr as i64),
                &format!("load32 at {addr:#x}"),
            );
            assert_oob(
                load8.call(&mut g.store, addr as i64),
                &format!("load8 at {addr:#x}"),
            );
        }
        // Addresses whose sum with the size wraps past 2^64.
        for addr in [u64::MAX, u64::MAX - 2, u64::MAX - 3, u64::MAX - 65535] {
            assert_oob(
                load32.call(&mut g.store, addr as i64),
                &format!("load32 at {addr:#x}"),
            );
        }
        assert_oob(load8.call(&mut g.store, -1), "load8 at 2^64 - 1");
        // Stores too, and they write nothing.
        let store32 = g.f::<(i64, i32), ()>("store32");
        let before = g.m.data(&g.store).to_vec();
        for addr in [1u64 << 32, (1 << 32) + 8, u64::MAX - 1] {
            assert_oob(
                store32.call(&mut g.store, (addr as i64, 0x7777_7777)),
                &format!("store32 at {addr:#x}"),
            );
        }
        assert_eq!(g.m.data(&g.store), &before[..]);
        store32.call(&mut g.store, (65532, 0x0102_0304)).unwrap();
        assert_eq!(g.m.data(&g.store)[65532..], 0x0102_0304u32.to_le_bytes());
    });
}

#[test]
fn offsets_up_to_2_64_minus_1_never_wrap() {
    both_modes(|guard| {
        let mut g = Guest::new(guard);
        let load_off4 = g.f::<i64, i32>("load_off4");
        assert_eq!(load_off4.call(&mut g.store, 65528).unwrap(), le32(65532));
        assert_oob(load_off4.call(&mut g.store, 65529), "offset 4 past the end");
        // address + 4 wraps to a small value: must trap.
        assert_oob(load_off4.call(&mut g.store, -4), "2^64 - 4 + 4");
        assert_oob(load_off4.call(&mut g.store, -8), "2^64 - 8 + 4 + 4");
        let load_off_4g = g.f::<i64, i32>("load_off_4g");
        assert_oob(load_off_4g.call(&mut g.store, 0), "offset 2^32");
        // 2^64 - 2^32 + 2^32 wraps to 0.
        assert_oob(
            load_off_4g.call(&mut g.store, -(1i64 << 32)),
            "address + offset = 2^64",
        );
        let load_off_max = g.f::<i64, i32>("load_off_max");
        for addr in [0, 1, 4, 65532, -1] {
            assert_oob(
                load_off_max.call(&mut g.store, addr),
                &format!("offset 2^64 - 1 at {addr}"),
            );
        }
        let load_off_2_63 = g.f::<i64, i32>("load_off_2_63");
        // 2^63 + 2^63 = 2^64 wraps to 0, + 4 ends at 4.
        assert_oob(load_off_2_63.call(&mut g.store, i64::MIN), "2^63 + 2^63");
        assert_oob(load_off_2_63.call(&mut g.store, 0), "offset 2^63");
        // Constant addresses (folded with the offset at compile time).
        for name in ["const_4g", "const_4g_off", "const_minus_1", "const_wrap"] {
            let f = g.f::<(), i32>(name);
            assert_oob(f.call(&mut g.store, ()), name);
        }
        let const_edge = g.f::<(), i32>("const_edge");
        assert_eq!(const_edge.call(&mut g.store, ()).unwrap(), le32(65532));
    });
}

#[test]
fn size_and_grow_are_i64_and_large_deltas_are_refused() {
    both_modes(|guard| {
        let mut g = Guest::new(guard);
        let size = g.f::<(), i64>("size");
        let grow = g.f::<i64, i64>("grow");
        let load32 = g.f::<i64, i32>("load32");
        assert_eq!(size.call(&mut g.store, ()).unwrap(), 1);
        // Deltas that a truncation to 32 bits would turn into 0 or 1.
        for delta in [1i64 << 32, (1 << 32) + 1, -1, i64::MIN + 1, 1 << 48] {
            assert_eq!(
                grow.call(&mut g.store, delta).unwrap(),
                -1,
                "grow by {delta:#x}"
            );
            assert_eq!(
                size.call(&mut g.store, ()).unwrap(),
                1,
                "after grow by {delta:#x}"
            );
        }
        assert_eq!(grow.call(&mut g.store, 0).unwrap(), 1);
        assert_eq!(grow.call(&mut g.store, 1).unwrap(), 1);
        assert_eq!(size.call(&mut g.store, ()).unwrap(), 2);
        assert_eq!(load32.call(&mut g.store, 131068).unwrap(), 0);
        assert_oob(load32.call(&mut g.store, 131069), "past the grown end");
        // Beyond the maximum of 3.
        assert_eq!(grow.call(&mut g.store, 2).unwrap(), -1);
        assert_eq!(grow.call(&mut g.store, 1).unwrap(), 2);
        // The API counts the same pages as u64s.
        assert_eq!(g.m.size(&g.store), 3);
        assert!(g.m.grow(&mut g.store, 1).is_err(), "beyond the maximum");
        assert!(g.m.grow(&mut g.store, 1 << 32).is_err(), "beyond 4 GiB");
        assert_eq!(g.m.grow(&mut g.store, 0).unwrap(), 3);
        assert_eq!(g.m.ty(&g.store).limits.min, 3);
    });
}

#[test]
fn bulk_operands_are_64_bit() {
    both_modes(|guard| {
        let mut g = Guest::new(guard);
        let fill = g.f::<(i64, i32, i64), ()>("fill");
        let copy = g.f::<(i64, i64, i64), ()>("copy");
        let mut want = g.m.data(&g.store).to_vec();
        fill.call(&mut g.store, (65530, 0xee, 6)).unwrap();
        want[65530..].fill(0xee);
        assert!(g.m.data(&g.store) == &want[..], "fill to the end");
        copy.call(&mut g.store, (3, 1, 100)).unwrap();
        want.copy_within(1..101, 3);
        assert!(g.m.data(&g.store) == &want[..], "overlapping copy");
        // Operands that a truncation to 32 bits would make valid, and
        // sums that wrap past 2^64: traps that write nothing.
        for (what, r) in [
            ("fill at 2^32", fill.call(&mut g.store, (1 << 32, 1, 1))),
            (
                "fill of 2^32 + 1 bytes",
                fill.call(&mut g.store, (0, 1, (1 << 32) + 1)),
            ),
            ("fill wrapping", fill.call(&mut g.store, (-1, 1, 2))),
            (
                "fill of 2^64 - 1 bytes",
                fill.call(&mut g.store, (1, 1, -1)),
            ),
        ] {
            assert_oob(r, what);
        }
        for (what, args) in [
            ("copy to 2^32", (1i64 << 32, 0, 4)),
            ("copy from 2^32", (0, 1 << 32, 4)),
            ("copy of 2^32 + 4 bytes", (0, 0, (1 << 32) + 4)),
            ("copy wrapping", (8, -4, 8)),
        ] {
            assert_oob(copy.call(&mut g.store, args), what);
        }
        assert!(
            g.m.data(&g.store) == &want[..],
            "the failed operations wrote nothing"
        );
        // An empty operation at the very end is in bounds; past it, not.
        fill.call(&mut g.store, (65536, 0, 0)).unwrap();
        assert_oob(
            fill.call(&mut g.store, (65537, 0, 0)),
            "empty fill past the end",
        );
    });
}

#[test]
fn a_64_bit_memory_next_to_a_32_bit_one() {
    both_modes(|guard| {
        let engine = engine(guard);
        // Memory 0 is 32-bit (its fast path), memory 1 64-bit, memory 2 a
        // 64-bit memory of 1-byte pages; copies between them take the
        // 32-bit length the spec gives a mixed pair.
        let bytes = wat::parse_str(
            r#"(module
              (memory $m32 (export "m32") 1)
              (memory $m64 (export "m64") i64 2)
              (memory $bytes (export "bytes") i64 10 (pagesize 1))
              (data $d "0123456789")
              (func (export "load64") (param i64) (result i32) (i32.load8_u $m64 (local.get 0)))
              (func (export "load32") (param i32) (result i32) (i32.load8_u $m32 (local.get 0)))
              (func (export "to32") (param i32 i64 i32) (memory.copy $m32 $m64 (local.get 0) (local.get 1) (local.get 2)))
              (func (export "to64") (param i64 i32 i32) (memory.copy $m64 $m32 (local.get 0) (local.get 1) (local.get 2)))
              (func (export "init64") (param i64 i32 i32) (memory.init $m64 $d (local.get 0) (local.get 1) (local.get 2)))
              (func (export "bytes_size") (result i64) (memory.size $bytes))
              (func (export "bytes_grow") (param i64) (result i64) (memory.grow $bytes (local.get 0)))
              (func (export "bytes_load") (param i64) (result i32) (i32.load16_u $bytes (local.get 0))))"#,
        )
        .unwrap();
        let module = Module::new(&engine, bytes).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let m32 = instance.get_memory(&store, "m32").unwrap();
        let m64 = instance.get_memory(&store, "m64").unwrap();
        assert!(!m32.ty(&store).memory64 && m64.ty(&store).memory64);
        let load64 = instance
            .get_typed_func::<i64, i32>(&mut store, "load64")
            .unwrap();
        let load32 = instance
            .get_typed_func::<i32, i32>(&mut store, "load32")
            .unwrap();
        let to32 = instance
            .get_typed_func::<(i32, i64, i32), ()>(&mut store, "to32")
            .unwrap();
        let to64 = instance
            .get_typed_func::<(i64, i32, i32), ()>(&mut store, "to64")
            .unwrap();
        let init64 = instance
            .get_typed_func::<(i64, i32, i32), ()>(&mut store, "init64")
            .unwrap();
        // Each memory's own edge.
        m64.data_mut(&mut store)[131071] = 0x64;
        m32.data_mut(&mut store)[65535] = 0x32;
        assert_eq!(load64.call(&mut store, 131071).unwrap(), 0x64);
        assert_oob(load64.call(&mut store, 131072), "memory 1 past its end");
        assert_oob(
            load64.call(&mut store, (1 << 32) + 5),
            "memory 1 above 4 GiB",
        );
        assert_eq!(load32.call(&mut store, 65535).unwrap(), 0x32);
        assert_oob(load32.call(&mut store, 65536), "memory 0 past its end");
        // Copies both ways: the 64-bit side's address may exceed 2^32.
        init64.call(&mut store, (131062, 0, 10)).unwrap();
        assert_eq!(&m64.data(&store)[131062..], b"0123456789");
        to32.call(&mut store, (65530, 131066, 6)).unwrap();
        assert_eq!(&m32.data(&store)[65530..], b"456789");
        to64.call(&mut store, (0, 65530, 6)).unwrap();
        assert_eq!(&m64.data(&store)[..6], b"456789");
        assert_oob(to32.call(&mut store, (0, 1 << 32, 1)), "source at 2^32");
        assert_oob(
            to64.call(&mut store, (1 << 32, 0, 1)),
            "destination at 2^32",
        );
        assert_oob(init64.call(&mut store, (1 << 32, 0, 1)), "init at 2^32");
        // A length of 2^32 - 1 (the largest i32 length) is too long here.
        assert_oob(to64.call(&mut store, (0, 0, -1)), "copy of 2^32 - 1 bytes");
        assert_eq!(&m64.data(&store)[..6], b"456789");
        // 1-byte pages on a 64-bit memory.
        let size = instance
            .get_typed_func::<(), i64>(&mut store, "bytes_size")
            .unwrap();
        let grow = instance
            .get_typed_func::<i64, i64>(&mut store, "bytes_grow")
            .unwrap();
        let load = instance
            .get_typed_func::<i64, i32>(&mut store, "bytes_load")
            .unwrap();
        assert_eq!(size.call(&mut store, ()).unwrap(), 10);
        assert_oob(load.call(&mut store, 9), "2 bytes at the last byte");
        assert_eq!(grow.call(&mut store, 1).unwrap(), 10);
        assert_eq!(load.call(&mut store, 9).unwrap(), 0);
        assert_oob(load.call(&mut store, 10), "2 bytes past the grown end");
        assert_eq!(grow.call(&mut store, 1 << 32).unwrap(), -1);
        assert_eq!(size.call(&mut store, ()).unwrap(), 11);
    });
}

#[test]
fn growing_a_64_bit_memory_1_with_little_fuel_pauses_and_resumes() {
    use wasmkern::{CallOutcome, PauseReason, Val};
    let mut config = Config::new();
    config
        .wasm_memory64(true)
        .wasm_multi_memory(true)
        .consume_fuel(true);
    let engine = Engine::new(&config).unwrap();
    let bytes = wat::parse_str(
        r#"(module
          (memory (export "m0") 1)
          (memory $m (export "m1") i64 1 2000)
          (func (export "grow") (param i64) (result i64) (memory.grow $m (local.get 0))))"#,
    )
    .unwrap();
    let module = Module::new(&engine, bytes).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let (m0, m1) = (
        instance.get_memory(&store, "m0").unwrap(),
        instance.get_memory(&store, "m1").unwrap(),
    );
    let grow = instance.get_func(&store, "grow").unwrap();
    // 1,000 pages need 1,000 * 1,024 units (`abi::MEMORY_FUEL_PER_PAGE`).
    store.set_fuel(1000).unwrap();
    let mut result = [Val::I64(0)];
    let outcome = grow
        .call_resumable(&mut store, &[Val::I64(1000)], &mut result)
        .unwrap();
    let CallOutcome::Paused(call) = outcome else {
        panic!("grew without its fuel")
    };
    assert_eq!(call.reason(), PauseReason::OutOfFuel);
    assert_eq!((m0.size(&store), m1.size(&store)), (1, 1));
    store.set_fuel(1000 * 1024).unwrap();
    assert!(call.resume(&mut store, &mut result).unwrap().is_finished());
    assert_eq!(result, [Val::I64(1)]);
    // The resumed growth was memory 1's, not memory 0's.
    assert_eq!((m0.size(&store), m1.size(&store)), (1, 1001));
    assert_eq!(store.get_fuel().unwrap(), 0);
}
