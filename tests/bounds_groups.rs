//! Load groups: loads off one base local, with constant offsets and only
//! unobservable operators between them, share one explicit bounds check
//! at the first load, and a failed check finds the first load that really
//! faults out of line and traps there.
//!
//! Each test function runs a list of items against a shadow memory
//! computed here: loads of every size (`local.get $a; i32.const C;
//! i32.add` or `local.get $a` alone, and the load's own offset) folded
//! into a checksum, and between them operators that must end a group
//! (a store, a call that stores, a write of the base local, a division)
//! or may stay inside one (arithmetic on other locals). An access traps
//! exactly when its 32-bit address plus offset plus size exceeds the
//! length; the trap's backtrace must name that access's offset, and every
//! store before it must be visible. Memories of several lengths, with
//! 1-byte and 64 KiB pages, in both memory modes, with and without the
//! bound of the function's most used access size in a register.

use iced_x86::Mnemonic;
use wasmkern::compile::CompileOptions;
use wasmkern::{Config, Engine, Instance, Memory, Module, Store, TypedFunc};

mod common;
#[path = "common/rng.rs"]
mod rng;
use rng::Rng;

/// A load: its WAT, which leaves an `i64`, and how its bytes become that
/// value.
#[derive(Clone, Copy, Debug)]
struct Kind {
    wat: &'static str,
    size: u64,
    /// Sign-extend from `size` bytes to 64 bits (else to 32 bits when
    /// `sx32`, then zero-extend).
    sx64: bool,
    sx32: bool,
}

const KINDS: &[Kind] = &[
    Kind {
        wat: "i32.load8_u offset={off} i64.extend_i32_u",
        size: 1,
        sx64: false,
        sx32: false,
    },
    Kind {
        wat: "i32.load8_s offset={off} i64.extend_i32_u",
        size: 1,
        sx64: false,
        sx32: true,
    },
    Kind {
        wat: "i64.load8_s offset={off}",
        size: 1,
        sx64: true,
        sx32: false,
    },
    Kind {
        wat: "i64.load16_u offset={off}",
        size: 2,
        sx64: false,
        sx32: false,
    },
    Kind {
        wat: "i32.load16_s offset={off} i64.extend_i32_u",
        size: 2,
        sx64: false,
        sx32: true,
    },
    Kind {
        wat: "i32.load offset={off} i64.extend_i32_u",
        size: 4,
        sx64: false,
        sx32: false,
    },
    Kind {
        wat: "i64.load32_s offset={off}",
        size: 4,
        sx64: true,
        sx32: false,
    },
    Kind {
        wat: "f32.load offset={off} i32.reinterpret_f32 i64.extend_i32_u",
        size: 4,
        sx64: false,
        sx32: false,
    },
    Kind {
        wat: "i64.load offset={off}",
        size: 8,
        sx64: false,
        sx32: false,
    },
    Kind {
        wat: "f64.load offset={off} i64.reinterpret_f64",
        size: 8,
        sx64: false,
        sx32: false,
    },
];

/// One step of a test function.
#[derive(Clone, Copy, Debug)]
enum Item {
    /// `s = s * 31 + load(a + c, offset)`; `c` `None` is `local.get $a`
    /// alone.
    Load {
        kind: Kind,
        c: Option<i32>,
        off: u32,
    },
    /// `i64.store8` of `s` at `$b` (a store between loads).
    Store,
    /// A call of `$poke`, which stores `s` as a byte at `$b`.
    Call,
    /// `a = a + 5`: the base local changes.
    BumpBase,
    /// `s = s / 3` (unsigned; cannot trap, but division ends a group).
    Divide,
    /// `t = t ^ s`, `s = s + 7`: pure operators that stay in a group.
    Pure,
}

impl Item {
    fn wat(&self) -> String {
        match *self {
            Item::Load { kind, c, off } => {
                let addr = match c {
                    None => "local.get $a".to_string(),
                    Some(c) => format!("local.get $a i32.const {c} i32.add"),
                };
                let load = kind.wat.replace("{off}", &off.to_string());
                format!("local.get $s i64.const 31 i64.mul {addr} {load} i64.add local.set $s\n")
            }
            Item::Store => "local.get $b local.get $s i64.store8\n".into(),
            Item::Call => "local.get $b local.get $s call $poke\n".into(),
            Item::BumpBase => "local.get $a i32.const 5 i32.add local.set $a\n".into(),
            Item::Divide => "local.get $s i64.const 3 i64.div_u local.set $s\n".into(),
            Item::Pure => "local.get $t local.get $s i64.xor local.set $t \
                 local.get $s i64.const 7 i64.add local.set $s\n"
                .into(),
        }
    }

    /// Whether the item accesses memory (and so has an offset in
    /// [`access_offsets`]).
    fn accesses(&self) -> bool {
        matches!(self, Item::Load { .. } | Item::Store | Item::Call)
    }
}

/// A loop of 4-byte loads that never runs (`$n` is 0) but makes 4 bytes
/// the function's most used access size, so its bound takes a register.
const PIN_BOUND: &str = r#"
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $u (i32.add (local.get $u) (i32.load (local.get $i))))
      (local.set $u (i32.add (local.get $u) (i32.load offset=4 (local.get $i))))
      (local.set $u (i32.add (local.get $u) (i32.load offset=8 (local.get $i))))
      (local.set $u (i32.add (local.get $u) (i32.load offset=12 (local.get $i))))
      (local.set $u (i32.add (local.get $u) (i32.load offset=16 (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 20)))
      (br $l)))"#;

/// The test functions: fixed shapes (the sieve's counting loop, breakers
/// in every position) and random ones.
fn functions() -> Vec<Vec<Item>> {
    let mut out = Vec::new();
    let load = |kind: Kind, c: Option<i32>, off: u32| Item::Load { kind, c, off };
    // Runs of 1 to 8 loads of one kind at consecutive addresses.
    for &kind in KINDS {
        for n in 1..=8 {
            out.push(
                (0..n)
                    .map(|k| load(kind, Some(16 + k * kind.size as i32), 0))
                    .collect(),
            );
        }
    }
    // Four byte loads with something between the first and the second,
    // third or fourth.
    for breaker in [
        Item::Store,
        Item::Call,
        Item::BumpBase,
        Item::Divide,
        Item::Pure,
    ] {
        for at in 1..4 {
            let mut items: Vec<Item> = (0..4).map(|k| load(KINDS[0], Some(k), 0)).collect();
            items.insert(at, breaker);
            out.push(items);
        }
    }
    // The base local alone with offsets, and negative and large constants.
    out.push(vec![
        load(KINDS[5], None, 0),
        load(KINDS[5], None, 4),
        load(KINDS[8], None, 8),
    ]);
    out.push(vec![
        load(KINDS[0], Some(-4), 0),
        load(KINDS[0], Some(-3), 0),
        load(KINDS[3], Some(-2), 0),
    ]);
    out.push(vec![
        load(KINDS[0], Some(8), 0),
        load(KINDS[0], Some(4), 0),
        load(KINDS[0], Some(0), 0),
    ]);
    out.push(vec![
        load(KINDS[8], Some(i32::MAX - 8), 0),
        load(KINDS[8], Some(i32::MIN), 0),
    ]);
    out.push(vec![
        load(KINDS[5], Some(0), 0xffff_fff0),
        load(KINDS[5], Some(4), 0x7fff_fff0),
    ]);
    // Random groups.
    let mut rng = Rng::new(0x6c6f_6164);
    for _ in 0..60 {
        let n = 1 + rng.below(8);
        let mut items = Vec::new();
        for _ in 0..n {
            if rng.chance(6) {
                items.push(
                    [
                        Item::Store,
                        Item::Call,
                        Item::BumpBase,
                        Item::Divide,
                        Item::Pure,
                    ][rng.below(5)],
                );
            }
            let kind = KINDS[rng.below(KINDS.len())];
            let c = if rng.chance(5) {
                None
            } else {
                Some(rng.below(40) as i32 - 4)
            };
            let off = [0, 0, 1, 3, 8, 17][rng.below(6)];
            items.push(load(kind, c, off));
        }
        out.push(items);
    }
    out
}

/// The module: `g{i}` runs function `i`'s items, `p{i}` the same after
/// [`PIN_BOUND`].
fn module_wat(memory: &str, funcs: &[Vec<Item>]) -> String {
    let mut wat = format!(
        "(module (memory (export \"m\") {memory})\n\
         (func $poke (param i32 i64) (i64.store8 (local.get 0) (local.get 1)))\n"
    );
    for (i, items) in funcs.iter().enumerate() {
        let body: String = items.iter().map(Item::wat).collect();
        for (prefix, pin) in [("g", ""), ("p", PIN_BOUND)] {
            wat.push_str(&format!(
                "(func (export \"{prefix}{i}\") (param $a i32) (param $b i32) (param $n i32) \
                 (result i64) (local $s i64) (local $t i64) (local $i i32) (local $u i32)\n\
                 {pin}\n{body} local.get $s local.get $t i64.add)\n"
            ));
        }
    }
    wat.push(')');
    wat
}

/// The module offsets of each defined function's memory accesses and
/// calls, in program order (the loop of [`PIN_BOUND`] included).
fn access_offsets(bytes: &[u8]) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        if let wasmparser::Payload::CodeSectionEntry(body) = payload.unwrap() {
            let mut offsets = Vec::new();
            let mut ops = body.get_operators_reader().unwrap();
            while !ops.eof() {
                let (op, at) = ops.read_with_offset().unwrap();
                use wasmparser::Operator as O;
                if matches!(
                    op,
                    O::Call { .. }
                        | O::I32Load { .. }
                        | O::I64Load { .. }
                        | O::F32Load { .. }
                        | O::F64Load { .. }
                        | O::I32Load8S { .. }
                        | O::I32Load8U { .. }
                        | O::I32Load16S { .. }
                        | O::I32Load16U { .. }
                        | O::I64Load8S { .. }
                        | O::I64Load8U { .. }
                        | O::I64Load16S { .. }
                        | O::I64Load16U { .. }
                        | O::I64Load32S { .. }
                        | O::I64Load32U { .. }
                        | O::I64Store8 { .. }
                ) {
                    offsets.push(at as usize);
                }
            }
            out.push(offsets);
        }
    }
    out
}

/// What running `items` at `(a, b)` does to `shadow`: the result, or the
/// index (among the items that access memory) of the access that traps.
fn simulate(shadow: &mut [u8], items: &[Item], mut a: u32, b: u32) -> Result<u64, usize> {
    let (mut s, mut t) = (0u64, 0u64);
    let mut index = 0;
    let len = shadow.len() as u64;
    for item in items {
        match *item {
            Item::Load { kind, c, off } => {
                let at = u64::from(a.wrapping_add(c.unwrap_or(0) as u32)) + u64::from(off);
                if at + kind.size > len {
                    return Err(index);
                }
                let mut le = [0u8; 8];
                le[..kind.size as usize]
                    .copy_from_slice(&shadow[at as usize..(at + kind.size) as usize]);
                let raw = u64::from_le_bytes(le);
                let bits = 8 * kind.size as u32;
                let signed = ((raw << (64 - bits)) as i64 >> (64 - bits)) as u64;
                let x = if kind.sx64 {
                    signed
                } else if kind.sx32 {
                    u64::from(signed as u32)
                } else {
                    raw
                };
                s = s.wrapping_mul(31).wrapping_add(x);
            }
            Item::Store | Item::Call => {
                let at = u64::from(b);
                if at >= len {
                    return Err(index);
                }
                shadow[at as usize] = s as u8;
            }
            Item::BumpBase => a = a.wrapping_add(5),
            Item::Divide => s /= 3,
            Item::Pure => {
                t ^= s;
                s = s.wrapping_add(7);
            }
        }
        if item.accesses() {
            index += 1;
        }
    }
    Ok(s.wrapping_add(t))
}

type Group = TypedFunc<(i32, i32, i32), i64>;

/// An instance of the test module and a shadow copy of its memory.
struct Guest {
    store: Store<()>,
    instance: Instance,
    memory: Memory,
    shadow: Vec<u8>,
}

impl Guest {
    /// A fresh instance whose memory the host grows to `len` bytes and
    /// fills with a pattern.
    fn new(engine: &Engine, module: &Module, page: u64, len: u64) -> Guest {
        let mut store = Store::new(engine, ());
        let instance = Instance::new(&mut store, module, &[]).expect("instance");
        let memory = instance.get_memory(&store, "m").expect("memory");
        let have = memory.data_size(&store) as u64;
        memory
            .grow(&mut store, (len - have) / page)
            .expect("host growth");
        let shadow: Vec<u8> = (0..len as usize)
            .map(|i| (i as u8).wrapping_mul(37).wrapping_add(11) ^ (i >> 8) as u8)
            .collect();
        memory.write(&mut store, 0, &shadow).expect("pattern");
        Guest {
            store,
            instance,
            memory,
            shadow,
        }
    }

    fn check_memory(&self, what: &str) {
        let mut bytes = vec![0; self.shadow.len()];
        self.memory.read(&self.store, 0, &mut bytes).unwrap();
        if let Some(i) = (0..bytes.len()).find(|&i| bytes[i] != self.shadow[i]) {
            panic!(
                "{what}: byte {i} is {}, expected {}",
                bytes[i], self.shadow[i]
            );
        }
    }
}

/// Addresses to try against a memory of `len` bytes: each member of a
/// group is the first to fault for some of them.
fn addresses(len: u64) -> Vec<u32> {
    let mut out: Vec<u32> = (len.saturating_sub(80)..len + 9)
        .map(|a| a as u32)
        .collect();
    out.extend([
        0,
        1,
        0x7fff_fff8,
        0x8000_0000,
        0xffff_fff0,
        0xffff_fffc,
        0xffff_ffff,
    ]);
    out
}

/// Runs every function at every address of a memory of `len` bytes.
fn run_all(
    engine: &Engine,
    module: &Module,
    bytes: &[u8],
    funcs: &[Vec<Item>],
    page: u64,
    len: u64,
) {
    let offsets = access_offsets(bytes);
    let mut g = Guest::new(engine, module, page, len);
    for (i, items) in funcs.iter().enumerate() {
        for (prefix, index) in [("g", 1 + 2 * i), ("p", 2 + 2 * i)] {
            let name = format!("{prefix}{i}");
            let f: Group = g
                .instance
                .get_typed_func(&mut g.store, &name)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            // The loop of `PIN_BOUND` comes first.
            let own = &offsets[index];
            let own = &own[own.len() - items.iter().filter(|i| i.accesses()).count()..];
            for a in addresses(len) {
                let b = 3;
                let what = format!("{name} {items:?} at {a} in {len} bytes");
                let expected = simulate(&mut g.shadow, items, a, b);
                let got = f.call(&mut g.store, (a as i32, b as i32, 0));
                match expected {
                    Ok(x) => assert_eq!(got.expect(&what) as u64, x, "{what}"),
                    Err(k) => {
                        let err = got.expect_err(&what);
                        let frames = err.backtrace();
                        assert_eq!(
                            frames[0].module_offset as usize, own[k],
                            "{what}: the trap's offset, access {k} expected {frames:?}"
                        );
                        common::assert_oob(Err::<(), _>(err), &what);
                    }
                }
                g.check_memory(&what);
            }
        }
    }
}

fn engine(guard: bool) -> Engine {
    let mut config = Config::new();
    config.guard_regions(guard).wasm_custom_page_sizes(true);
    Engine::new(&config).expect("engine")
}

/// 1-byte pages: lengths around the sizes and offsets.
#[test]
fn byte_granular_lengths() {
    let funcs = functions();
    common::both_modes(|guard| {
        let engine = engine(guard);
        let wat = module_wat("0 100000 (pagesize 1)", &funcs);
        let bytes = wat::parse_str(&wat).unwrap();
        let module = common::module(&engine, &wat);
        for len in [16, 17, 19, 23, 24, 31, 33, 40, 47, 65_541] {
            run_all(&engine, &module, &bytes, &funcs, 1, len);
        }
    });
}

/// 64 KiB pages: one and two pages.
#[test]
fn whole_page_lengths() {
    let funcs = functions();
    common::both_modes(|guard| {
        let engine = engine(guard);
        let wat = module_wat("1 8", &funcs);
        let bytes = wat::parse_str(&wat).unwrap();
        let module = common::module(&engine, &wat);
        for len in [65_536, 131_072] {
            run_all(&engine, &module, &bytes, &funcs, 65_536, len);
        }
    });
}

/// The sieve's counting loop, four byte loads at `a + 16 .. a + 19`, has
/// one check in line: the later loads follow the first without any.
#[test]
fn a_group_has_one_inline_check() {
    let group: Vec<Item> = (0..4)
        .map(|k| Item::Load {
            kind: KINDS[0],
            c: Some(16 + k),
            off: 0,
        })
        .collect();
    let wat = module_wat("1 8", &[group]);
    // Defined function 1 is `g0`.
    let code = common::function_code(&wat, 1, &CompileOptions::default());
    let last_load = code
        .iter()
        .rposition(|i| i.mnemonic() == Mnemonic::Movzx)
        .expect("byte loads");
    let loads = code
        .iter()
        .filter(|i| i.mnemonic() == Mnemonic::Movzx)
        .count();
    let inline = code[..last_load]
        .iter()
        .filter(|i| i.mnemonic() == Mnemonic::Cmp)
        .count();
    assert_eq!(loads, 4);
    assert_eq!(inline, 1, "comparisons before the last load");
}
