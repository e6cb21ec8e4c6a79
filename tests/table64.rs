//! table64, the table half of memory64: a table indexed with `i64`
//! (`Config::wasm_memory64`). An index of 2^32 or more, or near 2^64,
//! traps instead of wrapping to a valid element (`call_indirect`,
//! `table.get/set`, the bulk operators, element segments); `table.size`
//! and `table.grow` give `i64`s (-1 on a refused growth, also for a delta
//! above `u32::MAX`); `table.copy` between a 32-bit and a 64-bit table
//! takes a length of the smaller index type; imports match only tables of
//! the same index type; the validator types every table operand by the
//! table's index type; and the host API counts in `u64`s.
//!
//! Every test of generated code runs with explicit bounds checks and with
//! `Config::guard_regions` (tables are checked explicitly in both).
//! Expected values come from the module text (which function each element
//! holds, the declared sizes) and the spec's rules, never from a run of
//! wasmkern.

use wasmkern::{
    Config, Engine, Instance, Limits, Linker, Module, RefType, Store, Table, TableType, Trap,
    TypedFunc, Val,
};

mod common;
use common::{both_modes, typed};

fn engine(guard_regions: bool) -> Engine {
    let mut config = Config::new();
    config.wasm_memory64(true).guard_regions(guard_regions);
    Engine::new(&config).expect("engine")
}

fn assert_trap<T: std::fmt::Debug>(result: wasmkern::Result<T>, trap: Trap, what: &str) {
    let err = result.expect_err(what);
    assert_eq!(err.trap(), Some(trap), "{what}: {err}");
}

/// `$t64` (4 elements, at most 10) holds, from its i64 element segment,
/// null, `$f100`, `$f101`, null; `$t32` (4, at most 10) holds `$f102`,
/// null, null, null. Each `$fN` returns N.
const MODULE: &str = r#"(module
  (type $r (func (result i32)))
  (table $t64 (export "t64") i64 4 10 funcref)
  (table $t32 (export "t32") 4 10 funcref)
  (func $f100 (type $r) (i32.const 100))
  (func $f101 (type $r) (i32.const 101))
  (func $f102 (type $r) (i32.const 102))
  (elem (table $t64) (i64.const 1) func $f100 $f101)
  (elem (table $t32) (i32.const 0) func $f102)
  (elem $seg func $f100 $f101 $f102)
  (func (export "call64") (param i64) (result i32)
    (call_indirect $t64 (type $r) (local.get 0)))
  (func (export "call32") (param i32) (result i32)
    (call_indirect $t32 (type $r) (local.get 0)))
  (func (export "call64_4g_plus_1") (result i32)
    (call_indirect $t64 (type $r) (i64.const 4294967297)))
  (func (export "call64_minus_1") (result i32)
    (call_indirect $t64 (type $r) (i64.const -1)))
  (func (export "get_is_null64") (param i64) (result i32)
    (ref.is_null (table.get $t64 (local.get 0))))
  (func (export "set64") (param i64) (table.set $t64 (local.get 0) (ref.func $f102)))
  (func (export "size64") (result i64) (table.size $t64))
  (func (export "size32") (result i32) (table.size $t32))
  (func (export "grow64") (param i64) (result i64)
    (table.grow $t64 (ref.func $f101) (local.get 0)))
  (func (export "grow32") (param i32) (result i32)
    (table.grow $t32 (ref.null func) (local.get 0)))
  (func (export "fill64") (param i64 i64)
    (table.fill $t64 (local.get 0) (ref.func $f102) (local.get 1)))
  (func (export "copy_64_from_32") (param i64 i32 i32)
    (table.copy $t64 $t32 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "copy_32_from_64") (param i32 i64 i32)
    (table.copy $t32 $t64 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "copy_64_from_64") (param i64 i64 i64)
    (table.copy $t64 $t64 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "init64") (param i64 i32 i32)
    (table.init $t64 $seg (local.get 0) (local.get 1) (local.get 2))))"#;

struct Guest {
    store: Store<()>,
    instance: Instance,
}

impl Guest {
    fn new(guard_regions: bool) -> Guest {
        let engine = engine(guard_regions);
        let bytes = wat::parse_str(MODULE).expect("test module parses");
        let module = Module::new(&engine, bytes).expect("table64 module compiles");
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).expect("instance");
        Guest { store, instance }
    }

    fn f<P: wasmkern::WasmParams, R: wasmkern::WasmResults>(
        &mut self,
        name: &str,
    ) -> TypedFunc<P, R> {
        typed(&mut self.store, &self.instance, name)
    }

    fn table(&self, name: &str) -> Table {
        self.instance.get_table(&self.store, name).expect(name)
    }
}

#[test]
fn call_indirect_with_a_64_bit_index() {
    both_modes(|guard| {
        let mut g = Guest::new(guard);
        let call64 = g.f::<i64, i32>("call64");
        assert_eq!(call64.call(&mut g.store, 1).unwrap(), 100);
        assert_eq!(call64.call(&mut g.store, 2).unwrap(), 101);
        assert_trap(
            call64.call(&mut g.store, 0),
            Trap::UninitializedElement,
            "null element 0",
        );
        assert_trap(
            call64.call(&mut g.store, 4),
            Trap::UndefinedElement,
            "one past the end",
        );
        // 2^32 + k truncated to 32 bits is k, a valid element: it must
        // trap, never call element k.
        for k in [1i64, 2] {
            assert_trap(
                call64.call(&mut g.store, (1 << 32) + k),
                Trap::UndefinedElement,
                &format!("2^32 + {k}"),
            );
        }
        for index in [-1i64, -2, i64::MIN, i64::MIN + 1, i64::MAX, 1 << 40] {
            assert_trap(
                call64.call(&mut g.store, index),
                Trap::UndefinedElement,
                &format!("index {index:#x}"),
            );
        }
        // The same with constant indices.
        for name in ["call64_4g_plus_1", "call64_minus_1"] {
            let f = g.f::<(), i32>(name);
            assert_trap(f.call(&mut g.store, ()), Trap::UndefinedElement, name);
        }
        // The 32-bit table beside it is unchanged.
        let call32 = g.f::<i32, i32>("call32");
        assert_eq!(call32.call(&mut g.store, 0).unwrap(), 102);
        assert_trap(
            call32.call(&mut g.store, -1),
            Trap::UndefinedElement,
            "i32 -1",
        );
    });
}

#[test]
fn table_get_and_set_with_a_64_bit_index() {
    both_modes(|guard| {
        let mut g = Guest::new(guard);
        let is_null = g.f::<i64, i32>("get_is_null64");
        let set = g.f::<i64, ()>("set64");
        let call64 = g.f::<i64, i32>("call64");
        assert_eq!(is_null.call(&mut g.store, 0).unwrap(), 1);
        assert_eq!(is_null.call(&mut g.store, 1).unwrap(), 0);
        for index in [4i64, 1 << 32, (1 << 32) + 1, -1, i64::MIN] {
            assert_trap(
                is_null.call(&mut g.store, index),
                Trap::TableOutOfBounds,
                &format!("table.get {index:#x}"),
            );
            assert_trap(
                set.call(&mut g.store, index),
                Trap::TableOutOfBounds,
                &format!("table.set {index:#x}"),
            );
        }
        // The refused stores wrote nothing: element 0 is still null, 1
        // still $f100.
        assert_eq!(is_null.call(&mut g.store, 0).unwrap(), 1);
        assert_eq!(call64.call(&mut g.store, 1).unwrap(), 100);
        set.call(&mut g.store, 3).unwrap();
        assert_eq!(call64.call(&mut g.store, 3).unwrap(), 102);
    });
}

#[test]
fn size_and_grow_are_i64() {
    both_modes(|guard| {
        let mut g = Guest::new(guard);
        let size64 = g.f::<(), i64>("size64");
        let grow64 = g.f::<i64, i64>("grow64");
        let call64 = g.f::<i64, i32>("call64");
        assert_eq!(size64.call(&mut g.store, ()).unwrap(), 4);
        assert_eq!(grow64.call(&mut g.store, 2).unwrap(), 4);
        assert_eq!(size64.call(&mut g.store, ()).unwrap(), 6);
        // The new elements hold grow's initial value, $f101.
        assert_eq!(call64.call(&mut g.store, 5).unwrap(), 101);
        // Refused: beyond the maximum of 10, and deltas whose low 32 bits
        // alone would fit (2^32 + 1 is 1 truncated). -1 as an i64.
        for delta in [5i64, 1 << 32, (1 << 32) + 1, -1, i64::MIN] {
            assert_eq!(
                grow64.call(&mut g.store, delta).unwrap(),
                -1,
                "grow by {delta:#x}"
            );
        }
        assert_eq!(size64.call(&mut g.store, ()).unwrap(), 6);
        assert_eq!(grow64.call(&mut g.store, 0).unwrap(), 6);
        assert_eq!(grow64.call(&mut g.store, 4).unwrap(), 6);
        assert_eq!(size64.call(&mut g.store, ()).unwrap(), 10);
        assert_eq!(grow64.call(&mut g.store, 1).unwrap(), -1);
        // The 32-bit table's grow still gives an i32 -1.
        let grow32 = g.f::<i32, i32>("grow32");
        let size32 = g.f::<(), i32>("size32");
        assert_eq!(grow32.call(&mut g.store, 7).unwrap(), -1);
        assert_eq!(grow32.call(&mut g.store, 6).unwrap(), 4);
        assert_eq!(size32.call(&mut g.store, ()).unwrap(), 10);
        // The host sees the same sizes, as u64s.
        assert_eq!(g.table("t64").size(&g.store), 10);
        assert_eq!(g.table("t32").size(&g.store), 10);
    });
}

#[test]
fn fill_with_64_bit_operands() {
    both_modes(|guard| {
        let mut g = Guest::new(guard);
        let fill = g.f::<(i64, i64), ()>("fill64");
        let call64 = g.f::<i64, i32>("call64");
        // Out of bounds, including a sum that wraps in 64 bits and ranges
        // whose 32-bit truncations would fit.
        for (dst, len) in [
            (3, 2),
            (5, 0),
            (1 << 32, 1),
            ((1 << 32) + 1, 0),
            (0, (1 << 32) + 1),
            (-1, 2),
            (2, -1),
            (i64::MIN, i64::MIN),
        ] {
            assert_trap(
                fill.call(&mut g.store, (dst, len)),
                Trap::TableOutOfBounds,
                &format!("fill {dst:#x} {len:#x}"),
            );
        }
        // Nothing was written: element 0 is still null.
        assert_trap(
            call64.call(&mut g.store, 0),
            Trap::UninitializedElement,
            "element 0 after refused fills",
        );
        fill.call(&mut g.store, (4, 0)).unwrap();
        fill.call(&mut g.store, (0, 2)).unwrap();
        assert_eq!(call64.call(&mut g.store, 0).unwrap(), 102);
        assert_eq!(call64.call(&mut g.store, 1).unwrap(), 102);
        assert_eq!(call64.call(&mut g.store, 2).unwrap(), 101);
    });
}

#[test]
fn copy_between_a_32_and_a_64_bit_table() {
    both_modes(|guard| {
        let mut g = Guest::new(guard);
        let to64 = g.f::<(i64, i32, i32), ()>("copy_64_from_32");
        let to32 = g.f::<(i32, i64, i32), ()>("copy_32_from_64");
        let within64 = g.f::<(i64, i64, i64), ()>("copy_64_from_64");
        let call64 = g.f::<i64, i32>("call64");
        let call32 = g.f::<i32, i32>("call32");
        // $t32[0] ($f102) to $t64[3].
        to64.call(&mut g.store, (3, 0, 1)).unwrap();
        assert_eq!(call64.call(&mut g.store, 3).unwrap(), 102);
        // $t64[1..3] ($f100, $f101) to $t32[1..3].
        to32.call(&mut g.store, (1, 1, 2)).unwrap();
        assert_eq!(call32.call(&mut g.store, 1).unwrap(), 100);
        assert_eq!(call32.call(&mut g.store, 2).unwrap(), 101);
        // A 64-bit operand beyond the table traps, whatever its low half.
        for (dst, src, len) in [(1i64 << 32, 0, 1), ((1 << 32) + 3, 0, 0), (-1, 0, 1)] {
            assert_trap(
                to64.call(&mut g.store, (dst, src, len)),
                Trap::TableOutOfBounds,
                &format!("to $t64 at {dst:#x}"),
            );
        }
        for (dst, src, len) in [(0, (1i64 << 32) + 1, 1), (0, -1, 1), (3, 3, 2)] {
            assert_trap(
                to32.call(&mut g.store, (dst, src, len)),
                Trap::TableOutOfBounds,
                &format!("from $t64 at {src:#x}"),
            );
        }
        // Within $t64 the length is an i64 too.
        for (dst, src, len) in [(0i64, 1, (1 << 32) + 1), (0, 1, -1), (1, 0, i64::MAX)] {
            assert_trap(
                within64.call(&mut g.store, (dst, src, len)),
                Trap::TableOutOfBounds,
                &format!("within $t64, length {len:#x}"),
            );
        }
        // Overlapping: [null, f100, f101, f102] -> [f100, f101, f102, f102].
        within64.call(&mut g.store, (0, 1, 3)).unwrap();
        for (i, want) in [(0, 100), (1, 101), (2, 102), (3, 102)] {
            assert_eq!(call64.call(&mut g.store, i).unwrap(), want, "element {i}");
        }
    });
}

#[test]
fn init_with_a_64_bit_destination() {
    both_modes(|guard| {
        let mut g = Guest::new(guard);
        let init = g.f::<(i64, i32, i32), ()>("init64");
        let call64 = g.f::<i64, i32>("call64");
        for dst in [1i64 << 32, (1 << 32) + 2, -1, 5] {
            assert_trap(
                init.call(&mut g.store, (dst, 0, 1)),
                Trap::TableOutOfBounds,
                &format!("init at {dst:#x}"),
            );
        }
        // $seg[2] is $f102.
        init.call(&mut g.store, (0, 2, 1)).unwrap();
        assert_eq!(call64.call(&mut g.store, 0).unwrap(), 102);
        init.call(&mut g.store, (2, 0, 2)).unwrap();
        assert_eq!(call64.call(&mut g.store, 2).unwrap(), 100);
        assert_eq!(call64.call(&mut g.store, 3).unwrap(), 101);
    });
}

#[test]
fn element_segment_offsets_are_i64() {
    let engine = engine(false);
    let module = |offset: &str| {
        let wat = format!(
            r#"(module
              (table $t (export "t") i64 4 funcref)
              (func $f (result i32) (i32.const 7))
              (elem (table $t) ({offset}) func $f)
              (func (export "call") (param i64) (result i32)
                (call_indirect $t (result i32) (local.get 0))))"#
        );
        Module::new(&engine, wat::parse_str(&wat).unwrap())
    };
    let m = module("i64.const 3").expect("i64 offset");
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &m, &[]).unwrap();
    let call = instance
        .get_typed_func::<i64, i32>(&mut store, "call")
        .unwrap();
    assert_eq!(call.call(&mut store, 3).unwrap(), 7);
    // 2^32 + 3: its low half would be a valid offset.
    for offset in ["i64.const 4294967299", "i64.const -1", "i64.const 4"] {
        let m = module(offset).expect(offset);
        let err = Instance::new(&mut store, &m, &[]).expect_err(offset);
        assert_eq!(err.trap(), Some(Trap::TableOutOfBounds), "{offset}: {err}");
    }
    // An i32 offset for a table64 table is a type error.
    let err = module("i32.const 0").expect_err("i32 offset");
    assert!(err.to_string().contains("type mismatch"), "{err}");
}

/// Modules that the validator must refuse: a table64 table's operands are
/// i64s (and a mixed copy's length the smaller type).
#[test]
fn validator_types_operands_by_the_index_type() {
    let engine = engine(false);
    let tables = r#"(type $r (func (result i32)))
        (table $t64 i64 1 funcref) (table $t32 1 funcref)"#;
    for body in [
        "(call_indirect $t64 (type $r) (i32.const 0)) (drop)",
        "(call_indirect $t32 (type $r) (i64.const 0)) (drop)",
        "(drop (table.get $t64 (i32.const 0)))",
        "(table.set $t64 (i32.const 0) (ref.null func))",
        "(drop (i32.eqz (table.size $t64)))",
        "(drop (table.grow $t64 (ref.null func) (i32.const 1)))",
        "(drop (i32.eqz (table.grow $t64 (ref.null func) (i64.const 1))))",
        "(table.fill $t64 (i32.const 0) (ref.null func) (i64.const 0))",
        "(table.fill $t64 (i64.const 0) (ref.null func) (i32.const 0))",
        "(table.copy $t64 $t32 (i64.const 0) (i32.const 0) (i64.const 0))",
        "(table.copy $t32 $t64 (i32.const 0) (i64.const 0) (i64.const 0))",
        "(table.copy $t64 $t32 (i32.const 0) (i32.const 0) (i32.const 0))",
        "(table.copy $t64 $t64 (i64.const 0) (i64.const 0) (i32.const 0))",
        "(table.init $t64 $e (i32.const 0) (i32.const 0) (i32.const 0))",
        "(table.init $t64 $e (i64.const 0) (i64.const 0) (i32.const 0))",
    ] {
        let wat = format!("(module {tables} (elem $e funcref) (func {body}))");
        let err = Module::new(&engine, wat::parse_str(&wat).unwrap())
            .err()
            .unwrap_or_else(|| panic!("accepted: {body}"));
        assert!(err.to_string().contains("type mismatch"), "{body}: {err}");
    }
    // The well-typed forms validate.
    for body in [
        "(call_indirect $t64 (type $r) (i64.const 0)) (drop)",
        "(drop (i64.eqz (table.size $t64)))",
        "(drop (i64.eqz (table.grow $t64 (ref.null func) (i64.const 1))))",
        "(table.copy $t64 $t32 (i64.const 0) (i32.const 0) (i32.const 0))",
        "(table.copy $t32 $t64 (i32.const 0) (i64.const 0) (i32.const 0))",
        "(table.copy $t64 $t64 (i64.const 0) (i64.const 0) (i64.const 0))",
        "(table.init $t64 $e (i64.const 0) (i32.const 0) (i32.const 0))",
    ] {
        let wat = format!("(module {tables} (elem $e funcref) (func {body}))");
        Module::new(&engine, wat::parse_str(&wat).unwrap())
            .unwrap_or_else(|e| panic!("{body}: {e}"));
    }
}

#[test]
fn table64_needs_memory64() {
    let engine = Engine::new(Config::new().wasm_memory64(false)).unwrap();
    let bytes = wat::parse_str("(module (table i64 1 funcref))").unwrap();
    let err = Module::new(&engine, &bytes).expect_err("table64 without memory64");
    let text = format!("{err:#}");
    assert!(
        text.contains("memory64 support is not enabled") && text.contains("wasm_memory64"),
        "{text}"
    );
    // The limits of a table64 table go beyond 2^32 - 1 (validation
    // accepts them; instantiation refuses what it cannot allocate), those
    // of a 32-bit table do not.
    let engine = engine_default();
    let big = wat::parse_str("(module (table i64 4294967296 funcref))").unwrap();
    let m = Module::new(&engine, &big).expect("table64 limits beyond u32 validate");
    let mut store = Store::new(&engine, ());
    let err = Instance::new(&mut store, &m, &[]).expect_err("too large to create");
    assert!(err.to_string().contains("table too large"), "{err}");
    // The same limit in a 32-bit table, hand-encoded (u64 LEB128 of 2^32
    // where a u32 is expected).
    let bytes = [
        0, b'a', b's', b'm', 1, 0, 0, 0, // header
        4, 8, 1, 0x70, 0x00, 0x80, 0x80, 0x80, 0x80, 0x10, // table 2^32
    ];
    assert!(Module::new(&engine, bytes).is_err());
}

fn engine_default() -> Engine {
    engine(false)
}

#[test]
fn limits_flags_decode() {
    let engine = engine_default();
    // Table section: one funcref table with flags `flag` and minimum 1
    // (and maximum 2 when bit 0 is set).
    let table = |flag: u8| {
        let mut t = vec![0x70, flag, 1];
        if flag & 1 != 0 {
            t.push(2);
        }
        let mut bytes = vec![0, b'a', b's', b'm', 1, 0, 0, 0, 4, t.len() as u8 + 1, 1];
        bytes.extend(t);
        bytes
    };
    for flag in [0x00, 0x01, 0x04, 0x05] {
        let m = Module::new(&engine, table(flag)).unwrap_or_else(|e| panic!("{flag:#x}: {e}"));
        let mut store = Store::new(&engine, ());
        Instance::new(&mut store, &m, &[]).unwrap_or_else(|e| panic!("{flag:#x}: {e}"));
    }
    // Shared (bit 1, threads) and unknown bits are malformed.
    for flag in [0x02, 0x03, 0x06, 0x07, 0x08, 0x81] {
        let err = Module::new(&engine, table(flag)).expect_err("malformed flags");
        assert!(
            format!("{err:#}").contains("malformed limits flags"),
            "{flag:#x}: {err:#}"
        );
    }
}

#[test]
fn imports_match_only_the_same_index_type() {
    let engine = engine_default();
    let mut store = Store::new(&engine, ());
    let t32 = Table::new(
        &mut store,
        TableType::new(RefType::FuncRef, 2, None),
        Val::FuncRef(None),
    )
    .unwrap();
    let t64 = Table::new(
        &mut store,
        TableType {
            table64: true,
            ..TableType::new(RefType::FuncRef, 2, None)
        },
        Val::FuncRef(None),
    )
    .unwrap();
    assert!(t64.ty(&store).table64 && !t32.ty(&store).table64);
    let importer = |index_type: &str| {
        let wat = format!(
            r#"(module (import "h" "t" (table {index_type} 1 funcref))
                (func (export "size") (result {index_type}) (table.size 0)))"#
        );
        Module::new(&engine, wat::parse_str(&wat).unwrap()).unwrap()
    };
    let (m64, m32) = (importer("i64"), importer("i32"));
    for (m, t, what) in [
        (&m64, t32, "i64 import of an i32 table"),
        (&m32, t64, "i32 import of an i64 table"),
    ] {
        let mut linker = Linker::new(&engine);
        linker.define(&store, "h", "t", t).unwrap();
        let err = linker.instantiate(&mut store, m).expect_err(what);
        assert!(
            format!("{err:#}").contains("incompatible import type"),
            "{what}: {err:#}"
        );
    }
    // Matching kinds link, and the importer sees the host's table.
    let i64_size = {
        let mut linker = Linker::new(&engine);
        linker.define(&store, "h", "t", t64).unwrap();
        let i = linker.instantiate(&mut store, &m64).unwrap();
        let f = i.get_typed_func::<(), i64>(&mut store, "size").unwrap();
        f.call(&mut store, ()).unwrap()
    };
    assert_eq!(i64_size, 2);
    let mut linker = Linker::new(&engine);
    linker.define(&store, "h", "t", t32).unwrap();
    linker.instantiate(&mut store, &m32).unwrap();
}

#[test]
fn host_api_counts_in_u64() {
    let engine = engine_default();
    let mut store = Store::new(&engine, ());
    let t = Table::new(
        &mut store,
        TableType {
            elem: RefType::FuncRef,
            limits: Limits {
                min: 3,
                max: Some(5),
            },
            table64: true,
        },
        Val::FuncRef(None),
    )
    .unwrap();
    assert_eq!(t.size(&store), 3);
    assert!(t.get(&store, 2).is_some());
    // 2^32 + 1: its low half is a valid index.
    assert!(t.get(&store, (1 << 32) + 1).is_none());
    assert!(t.get(&store, u64::MAX).is_none());
    assert!(
        t.set(&mut store, (1 << 32) + 1, Val::FuncRef(None))
            .is_err()
    );
    assert!(
        t.grow(&mut store, (1 << 32) + 1, Val::FuncRef(None))
            .is_err()
    );
    assert!(t.grow(&mut store, u64::MAX, Val::FuncRef(None)).is_err());
    assert_eq!(t.size(&store), 3);
    assert_eq!(t.grow(&mut store, 2, Val::FuncRef(None)).unwrap(), 3);
    assert_eq!(t.size(&store), 5);
    assert!(t.grow(&mut store, 1, Val::FuncRef(None)).is_err());
}

/// With fuel metering the table helpers run behind the status checks of
/// bounded bulk work: the same results, and a refused growth by a delta
/// whose low half alone would fit is -1, not a growth.
#[test]
fn helpers_with_fuel_metering() {
    let mut config = Config::new();
    config.wasm_memory64(true).consume_fuel(true);
    let engine = Engine::new(&config).unwrap();
    let module = Module::new(&engine, wat::parse_str(MODULE).unwrap()).unwrap();
    let mut store = Store::new(&engine, ());
    store.set_fuel(1_000_000).unwrap();
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let grow = instance
        .get_typed_func::<i64, i64>(&mut store, "grow64")
        .unwrap();
    let fill = instance
        .get_typed_func::<(i64, i64), ()>(&mut store, "fill64")
        .unwrap();
    let call64 = instance
        .get_typed_func::<i64, i32>(&mut store, "call64")
        .unwrap();
    assert_eq!(grow.call(&mut store, (1 << 32) + 2).unwrap(), -1);
    assert_eq!(grow.call(&mut store, 2).unwrap(), 4);
    assert_trap(
        fill.call(&mut store, ((1 << 32) + 1, 1)),
        Trap::TableOutOfBounds,
        "fill at 2^32 + 1",
    );
    fill.call(&mut store, (4, 2)).unwrap();
    assert_eq!(call64.call(&mut store, 5).unwrap(), 102);
    assert_eq!(instance.get_table(&store, "t64").unwrap().size(&store), 6);
}

/// A precompiled table64 module keeps its index types: its code still
/// checks indices in full and its table type still says table64.
#[test]
fn serialized_module_keeps_table64() {
    let engine = engine_default();
    let module = Module::new(&engine, wat::parse_str(MODULE).unwrap()).unwrap();
    let bytes = module.serialize().unwrap();
    let module = Module::deserialize_checked(&engine, &bytes).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let call64 = instance
        .get_typed_func::<i64, i32>(&mut store, "call64")
        .unwrap();
    assert_eq!(call64.call(&mut store, 2).unwrap(), 101);
    assert_trap(
        call64.call(&mut store, (1 << 32) + 2),
        Trap::UndefinedElement,
        "2^32 + 2 after deserialization",
    );
    assert!(
        instance
            .get_table(&store, "t64")
            .unwrap()
            .ty(&store)
            .table64
    );
}

/// `return_call_indirect` takes a table64 table's index as an `i64` and
/// checks it in full like `call_indirect`.
#[test]
fn return_call_indirect_with_a_64_bit_index() {
    both_modes(|guard| {
        let mut config = Config::new();
        config
            .wasm_memory64(true)
            .wasm_tail_call(true)
            .guard_regions(guard);
        let engine = Engine::new(&config).unwrap();
        let wat = r#"(module
          (type $r (func (result i32)))
          (table $t i64 2 funcref)
          (func $f7 (type $r) (i32.const 7))
          (elem (table $t) (i64.const 1) func $f7)
          (func (export "tail") (param i64) (result i32)
            (return_call_indirect $t (type $r) (local.get 0))))"#;
        let module = Module::new(&engine, wat::parse_str(wat).unwrap()).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let tail = instance
            .get_typed_func::<i64, i32>(&mut store, "tail")
            .unwrap();
        assert_eq!(tail.call(&mut store, 1).unwrap(), 7);
        for index in [2i64, (1 << 32) + 1, -1] {
            assert_trap(
                tail.call(&mut store, index),
                Trap::UndefinedElement,
                &format!("return_call_indirect {index:#x}"),
            );
        }
    });
}
