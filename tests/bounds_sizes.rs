//! Explicit bounds checks of every access size, offset and address near the
//! end of memory 0, in functions that keep the bound of their most used
//! access size (4 bytes here) in a register: accesses of other sizes are
//! checked against that register too, moved by the difference of sizes,
//! and a smaller access without offset compares its address with it as it
//! is, falling back out of line to its own exact bound. Each access also
//! runs in a function without that register, which compares with the
//! context: its address with the last address for `offset + size` bytes
//! when that is a power of two up to 16, else its end with the length.
//!
//! Every access's outcome is computed here from a shadow copy of the
//! memory: it traps exactly when `address + offset + size` exceeds the
//! length, a load returns the shadow's bytes, and a store that comes before
//! a trapping access in the same call stays visible. Lengths cover each
//! residue modulo the sizes (1-byte pages) and whole 64 KiB pages, and a
//! memory grown between two accesses of one call, in both memory modes.

use core::mem::offset_of;
use iced_x86::{Mnemonic, OpKind, Register};
use wasmkern::abi::VmContext;
use wasmkern::compile::CompileOptions;
use wasmkern::{Config, Engine, Instance, Memory, Module, Store, TypedFunc};

mod common;
use common::function_code;

/// An access the tests compile, at every offset of [`OFFSETS`].
#[derive(Clone, Copy)]
struct Kind {
    name: &'static str,
    /// The access's opcode (its prefix, for `v128.load`), where a trap
    /// of the access must point.
    opcode: u8,
    /// The access's size in bytes.
    size: u64,
    store: bool,
    /// The access as WAT, its address on the stack (and, for a store, the
    /// value `$v` pushed by the template); `{off}` is replaced. A load
    /// leaves an `i64`.
    wat: &'static str,
}

const KINDS: &[Kind] = &[
    Kind {
        name: "load8",
        opcode: 0x31,
        size: 1,
        store: false,
        wat: "i64.load8_u offset={off}",
    },
    Kind {
        name: "load16",
        opcode: 0x33,
        size: 2,
        store: false,
        wat: "i64.load16_u offset={off}",
    },
    Kind {
        name: "load32",
        opcode: 0x28,
        size: 4,
        store: false,
        wat: "i32.load offset={off} i64.extend_i32_u",
    },
    Kind {
        name: "load32u",
        opcode: 0x35,
        size: 4,
        store: false,
        wat: "i64.load32_u offset={off}",
    },
    Kind {
        name: "load64",
        opcode: 0x29,
        size: 8,
        store: false,
        wat: "i64.load offset={off}",
    },
    Kind {
        name: "loadf64",
        opcode: 0x2b,
        size: 8,
        store: false,
        wat: "f64.load offset={off} i64.reinterpret_f64",
    },
    Kind {
        name: "loadf32",
        opcode: 0x2a,
        size: 4,
        store: false,
        wat: "f32.load offset={off} i32.reinterpret_f32 i64.extend_i32_u",
    },
    Kind {
        name: "load128",
        opcode: 0xfd,
        size: 16,
        store: false,
        wat: "v128.load offset={off} local.set $w \
              local.get $w i64x2.extract_lane 0 local.get $w i64x2.extract_lane 1 i64.add",
    },
    Kind {
        name: "store8",
        opcode: 0x3c,
        size: 1,
        store: true,
        wat: "i64.store8 offset={off}",
    },
    Kind {
        name: "store16",
        opcode: 0x3d,
        size: 2,
        store: true,
        wat: "i64.store16 offset={off}",
    },
    Kind {
        name: "store32",
        opcode: 0x3e,
        size: 4,
        store: true,
        wat: "i64.store32 offset={off}",
    },
    Kind {
        name: "store64",
        opcode: 0x37,
        size: 8,
        store: true,
        wat: "i64.store offset={off}",
    },
];

/// Offsets every kind is compiled with: around the sizes, around a page,
/// and beyond `i32::MAX` (checked another way).
const OFFSETS: &[u64] = &[
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    13,
    15,
    16,
    17,
    65_535,
    65_536,
    0x7fff_fff0,
    0x8000_0000,
    0xffff_ffff,
];

/// A loop of 4-byte loads that never runs (`$n` is 0) but makes 4 bytes
/// the function's most used access size, so its bound takes a register.
const PIN_BOUND: &str = r#"
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $s (i32.add (local.get $s) (i32.load (local.get $i))))
      (local.set $s (i32.add (local.get $s) (i32.load offset=4 (local.get $i))))
      (local.set $s (i32.add (local.get $s) (i32.load offset=8 (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 12)))
      (br $l)))"#;

/// The functions that access memory in sequences of one call, each with a
/// simulation in [`run_group`].
const GROUPS: &str = r#"
  ;; Four byte stores at offsets 0..3 of one address.
  (func (export "bytes4") (param $a i32) (param $b i32) (param $v i64) (param $n i32) (result i64)
    (local $i i32) (local $s i32) (local $w v128)
    PIN_BOUND
    (i64.store8 (local.get $a) (local.get $v))
    (i64.store8 offset=1 (local.get $a) (i64.shr_u (local.get $v) (i64.const 8)))
    (i64.store8 offset=2 (local.get $a) (i64.shr_u (local.get $v) (i64.const 16)))
    (i64.store8 offset=3 (local.get $a) (i64.shr_u (local.get $v) (i64.const 24)))
    (i64.extend_i32_u (local.get $s)))
  ;; A 4-byte store, an 8-byte load over it, a byte store past both.
  (func (export "mixed") (param $a i32) (param $b i32) (param $v i64) (param $n i32) (result i64)
    (local $i i32) (local $s i32) (local $w v128) (local $r i64)
    PIN_BOUND
    (i64.store32 (local.get $a) (local.get $v))
    (local.set $r (i64.load offset=2 (local.get $a)))
    (i64.store8 offset=12 (local.get $a) (local.get $r))
    (i64.add (local.get $r) (i64.extend_i32_u (local.get $s))))
  ;; matmul's unrolled inner loop: c[0] += b[0]; c[1] += b[1], the
  ;; addresses through locals and additions.
  (func (export "axpy2") (param $a i32) (param $b i32) (param $v i64) (param $n i32) (result i64)
    (local $i i32) (local $s i32) (local $w v128) (local $c i32)
    PIN_BOUND
    (local.set $c (local.get $a))
    (i64.store (local.get $c) (i64.add (i64.load (local.get $c)) (i64.load (local.get $b))))
    (local.set $c (i32.add (local.get $c) (i32.const 8)))
    (i64.store (local.get $c)
      (i64.add (i64.load (local.get $c)) (i64.load (i32.add (local.get $b) (i32.const 8)))))
    (i64.extend_i32_u (local.get $s)))
  ;; A byte load, `memory.grow` by `$v` pages, a 2-byte load one further.
  (func (export "grow_between") (param $a i32) (param $b i32) (param $v i64) (param $n i32) (result i64)
    (local $i i32) (local $s i32) (local $w v128) (local $r i64)
    PIN_BOUND
    (local.set $r (i64.load8_u (local.get $a)))
    (drop (memory.grow (i32.wrap_i64 (local.get $v))))
    (i64.add (local.get $r) (i64.load16_u offset=1 (local.get $a))))
"#;

/// The test module: two functions per kind and offset, `{kind}_{offset}`
/// with the bound register and `{kind}_{offset}_ctx` without, and the
/// [`GROUPS`]. `memory` declares memory 0.
fn module_wat(memory: &str) -> String {
    let mut wat = format!("(module (memory (export \"m\") {memory})\n");
    for kind in KINDS {
        for &off in OFFSETS {
            let access = kind.wat.replace("{off}", &off.to_string());
            let body = if kind.store {
                format!("(local.get $a) (local.get $v) {access} (i64.extend_i32_u (local.get $s))")
            } else {
                format!("(local.get $a) {access} (i64.add (i64.extend_i32_u (local.get $s)))")
            };
            // With the bound in a register, then without it.
            for (suffix, pin) in [("", PIN_BOUND), ("_ctx", "")] {
                wat.push_str(&format!(
                    "(func (export \"{}_{off}{suffix}\") (param $a i32) (param $b i32) \
                     (param $v i64) (param $n i32) (result i64) (local $i i32) (local $s i32) \
                     (local $w v128)\n{pin}\n{body})\n",
                    kind.name
                ));
            }
        }
    }
    wat.push_str(&GROUPS.replace("PIN_BOUND", PIN_BOUND));
    wat.push(')');
    wat
}

type Access = TypedFunc<(i32, i32, i64, i32), i64>;

/// An instance of the test module and a shadow copy of its memory.
struct Guest {
    store: Store<()>,
    instance: Instance,
    memory: Memory,
    shadow: Vec<u8>,
    /// Bytes per page of memory 0.
    page: u64,
}

impl Guest {
    /// A fresh instance whose memory is grown by the host to `len` bytes
    /// and filled with a pattern.
    fn new(engine: &Engine, module: &Module, page: u64, len: u64) -> Guest {
        let mut store = Store::new(engine, ());
        let instance = Instance::new(&mut store, module, &[]).expect("instance");
        let memory = instance.get_memory(&store, "m").expect("memory");
        let have = memory.data_size(&store) as u64;
        memory
            .grow(&mut store, (len - have) / page)
            .expect("host growth");
        let mut guest = Guest {
            store,
            instance,
            memory,
            shadow: Vec::new(),
            page,
        };
        guest.fill(0);
        guest
    }

    /// Writes a pattern from `from` to the end of the memory, in the
    /// memory and in the shadow.
    fn fill(&mut self, from: usize) {
        let len = self.memory.data_size(&self.store);
        self.shadow.resize(len, 0);
        for i in from..len {
            self.shadow[i] = (i as u8).wrapping_mul(37).wrapping_add(11);
        }
        self.memory
            .write(&mut self.store, from, &self.shadow[from..])
            .expect("pattern");
    }

    fn func(&mut self, name: &str) -> Access {
        self.instance
            .get_typed_func(&mut self.store, name)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// Asserts that the memory equals the shadow.
    fn check_memory(&self, what: &str) {
        let mut bytes = vec![0; self.shadow.len()];
        assert_eq!(
            self.memory.data_size(&self.store),
            self.shadow.len(),
            "{what}: length"
        );
        self.memory.read(&self.store, 0, &mut bytes).unwrap();
        if let Some(i) = (0..bytes.len()).find(|&i| bytes[i] != self.shadow[i]) {
            panic!(
                "{what}: byte {i} is {}, expected {}",
                bytes[i], self.shadow[i]
            );
        }
    }
}

/// What one access does to the shadow: `None` when it traps, else the
/// little-endian value of the bytes it reads (after storing `v`'s low
/// bytes, for a store).
fn access(shadow: &mut [u8], at: u64, off: u64, size: u64, store: Option<u64>) -> Option<u64> {
    let start = at + off;
    if start + size > shadow.len() as u64 {
        return None;
    }
    let bytes = &mut shadow[start as usize..(start + size) as usize];
    if let Some(v) = store {
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (v >> (8 * i)) as u8;
        }
    }
    Some(if size == 16 {
        u64::from_le_bytes(bytes[..8].try_into().unwrap())
            .wrapping_add(u64::from_le_bytes(bytes[8..].try_into().unwrap()))
    } else {
        let mut le = [0u8; 8];
        le[..size as usize].copy_from_slice(bytes);
        u64::from_le_bytes(le)
    })
}

/// Addresses to try against a memory of `len` bytes: the 40 below the
/// end, a few past it, and some far away.
fn addresses(len: u64) -> Vec<u32> {
    let mut out: Vec<u32> = (len.saturating_sub(40)..len + 9)
        .map(|a| a as u32)
        .collect();
    out.extend([
        0,
        1,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_fff0,
        0xffff_fffc,
        0xffff_ffff,
    ]);
    out
}

const V: i64 = 0x1122_3344_5566_7788;

/// Runs every kind at every offset and address against a memory of `len`
/// bytes and compares with the shadow.
fn single_accesses(engine: &Engine, module: &Module, bytes: &[u8], page: u64, len: u64) {
    let mut g = Guest::new(engine, module, page, len);
    for kind in KINDS {
        for (&off, suffix) in OFFSETS.iter().flat_map(|o| [(o, ""), (o, "_ctx")]) {
            let name = format!("{}_{off}{suffix}", kind.name);
            let f = g.func(&name);
            for a in addresses(len) {
                let what = format!("{name} at {a} in {len} bytes");
                let value = kind.store.then_some(V as u64);
                let expected = access(&mut g.shadow, a.into(), off, kind.size, value);
                let got = f.call(&mut g.store, (a as i32, 0, V, 0));
                match expected {
                    None => {
                        let err = got.expect_err(&what);
                        let frames = err.backtrace();
                        assert_eq!(
                            bytes[frames[0].module_offset as usize], kind.opcode,
                            "{what}: the trap's offset {frames:?}"
                        );
                        common::assert_oob(Err::<(), _>(err), &what);
                    }
                    Some(_) if kind.store => assert_eq!(got.expect(&what), 0, "{what}"),
                    Some(v) => assert_eq!(got.expect(&what) as u64, v, "{what}"),
                }
                if kind.store {
                    g.check_memory(&what);
                }
            }
        }
    }
}

/// Runs group `name` at `(a, b)`, simulating it on the shadow first.
fn run_group(g: &mut Guest, name: &str, a: u32, b: u32, v: i64) {
    let (a64, b64, vu) = (u64::from(a), u64::from(b), v as u64);
    let shadow = &mut g.shadow;
    let expected: Option<u64> = match name {
        "bytes4" => (0..4)
            .try_for_each(|i| access(shadow, a64, i, 1, Some(vu >> (8 * i))).map(drop))
            .map(|()| 0),
        "mixed" => (|| {
            access(shadow, a64, 0, 4, Some(vu))?;
            let r = access(shadow, a64, 2, 8, None)?;
            access(shadow, a64, 12, 1, Some(r))?;
            Some(r)
        })(),
        "axpy2" => (|| {
            let c = access(shadow, a64, 0, 8, None)?;
            let x = access(shadow, b64, 0, 8, None)?;
            access(shadow, a64, 0, 8, Some(c.wrapping_add(x)))?;
            let c1 = u64::from(a.wrapping_add(8));
            let c = access(shadow, c1, 0, 8, None)?;
            let x = access(shadow, u64::from(b.wrapping_add(8)), 0, 8, None)?;
            access(shadow, c1, 0, 8, Some(c.wrapping_add(x)))?;
            Some(0)
        })(),
        "grow_between" => {
            let first = access(shadow, a64, 0, 1, None);
            match first {
                None => None,
                Some(r) => {
                    // The growth adds zeroed pages (within the maximum).
                    let len = shadow.len() as u64 + vu * g.page;
                    shadow.resize(len as usize, 0);
                    access(shadow, a64, 1, 2, None).map(|x| r + x)
                }
            }
        }
        _ => unreachable!(),
    };
    let what = format!("{name}({a}, {b}, {v}) in {} bytes", g.shadow.len());
    let f = g.func(name);
    let got = f.call(&mut g.store, (a as i32, b as i32, v, 0));
    match expected {
        None => common::assert_oob(got, &what),
        Some(x) => assert_eq!(got.expect(&what) as u64, x, "{what}"),
    }
    g.check_memory(&what);
}

/// The groups at addresses near the end of a memory of `len` bytes: every
/// access of each group is the first out of bounds for some address.
fn groups(engine: &Engine, module: &Module, page: u64, len: u64) {
    let mut g = Guest::new(engine, module, page, len);
    for a in addresses(len) {
        run_group(&mut g, "bytes4", a, 0, V);
        run_group(&mut g, "mixed", a, 0, V);
        for b in [
            0,
            8,
            len.saturating_sub(17) as u32,
            len.saturating_sub(9) as u32,
            a,
        ] {
            run_group(&mut g, "axpy2", a, b, 0);
            run_group(&mut g, "axpy2", b, a, 0);
        }
    }
    // Growth changes the length; each run starts from a fresh instance.
    for a in addresses(len) {
        for pages in [0, 1, 2, 3] {
            let mut g = Guest::new(engine, module, page, len);
            run_group(&mut g, "grow_between", a, 0, pages);
        }
    }
}

fn engine(guard: bool) -> Engine {
    let mut config = Config::new();
    config.guard_regions(guard).wasm_custom_page_sizes(true);
    Engine::new(&config).expect("engine")
}

/// 1-byte pages: lengths of every residue modulo 16 near the sizes.
#[test]
fn byte_granular_lengths() {
    common::both_modes(|guard| {
        let engine = engine(guard);
        let wat = module_wat("0 100000 (pagesize 1)");
        let bytes = wat::parse_str(&wat).unwrap();
        let module = common::module(&engine, &wat);
        for len in [
            0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 15, 16, 17, 19, 23, 24, 33, 65_541,
        ] {
            single_accesses(&engine, &module, &bytes, 1, len);
            groups(&engine, &module, 1, len);
        }
    });
}

/// 64 KiB pages: one and two pages.
#[test]
fn whole_page_lengths() {
    common::both_modes(|guard| {
        let engine = engine(guard);
        let wat = module_wat("1 8");
        let bytes = wat::parse_str(&wat).unwrap();
        let module = common::module(&engine, &wat);
        for len in [65_536, 131_072] {
            single_accesses(&engine, &module, &bytes, 65_536, len);
            groups(&engine, &module, 65_536, len);
        }
    });
}

/// The functions above do keep the bound in `rbx` and check byte accesses
/// without offset against it, not against the context: the tests exercise
/// the register path.
#[test]
fn byte_accesses_compare_with_the_bound_register() {
    let wat = module_wat("1 8");
    // Defined function 0 is `load8_0` (1 is `load8_0_ctx`).
    let code = function_code(&wat, 0, &CompileOptions::default());
    let with_rbx = code
        .iter()
        .filter(|i| i.mnemonic() == Mnemonic::Cmp && i.op1_kind() == OpKind::Register)
        .filter(|i| i.op1_register() == Register::RBX)
        .count();
    let with_memory = code
        .iter()
        .filter(|i| i.mnemonic() == Mnemonic::Cmp && i.op1_kind() == OpKind::Memory)
        .filter(|i| i.memory_base() == Register::R15)
        .count();
    // The loop's first load (the others have offsets) and the byte load.
    assert!(with_rbx >= 2, "{with_rbx} comparisons with rbx");
    // Only the out-of-line exact check reads a bound from the context.
    assert_eq!(with_memory, 1, "comparisons with the context");
}

/// Without the bound register, an access whose offset plus size is a power
/// of two up to 16 compares its address with the context's last address
/// for that many bytes (`i32.load offset=4`: 8 bytes), adding nothing
/// first; one whose sum is not (`i32.load offset=5`) compares its end with
/// the length.
#[test]
fn offset_accesses_compare_with_their_own_last_address() {
    let wat = module_wat("1 8");
    let index = |kind: &str, off: u64| {
        let k = KINDS.iter().position(|k| k.name == kind).unwrap();
        let o = OFFSETS.iter().position(|&o| o == off).unwrap();
        2 * (k * OFFSETS.len() + o) + 1
    };
    let context_cmps = |code: &[iced_x86::Instruction]| {
        code.iter()
            .filter(|i| i.mnemonic() == Mnemonic::Cmp && i.op1_kind() == OpKind::Memory)
            .filter(|i| i.memory_base() == Register::R15)
            .map(|i| i.memory_displacement64())
            .collect::<Vec<_>>()
    };
    let last = |k: u64| (offset_of!(VmContext, memory_last) as u64) + 8 * k;
    for (kind, off, k) in [
        ("load32", 0, 2),
        ("load32", 4, 3),
        ("load64", 8, 4),
        ("load8", 1, 1),
        ("store8", 7, 3),
    ] {
        let what = format!("{kind} offset={off}");
        let code = function_code(&wat, index(kind, off), &CompileOptions::default());
        assert_eq!(context_cmps(&code), [last(k)], "{what}");
        assert!(
            !code.iter().any(|i| i.mnemonic() == Mnemonic::Lea),
            "{what}"
        );
    }
    let code = function_code(&wat, index("load32", 5), &CompileOptions::default());
    let len = offset_of!(VmContext, memory_len) as u64;
    assert_eq!(context_cmps(&code), [len], "load32 offset=5");
}
