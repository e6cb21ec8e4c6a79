//! Arguments between functions: every value type, zero to eight of them,
//! through `call`, `call_indirect`, `return_call`, `return_call_indirect`,
//! from the host into wasm and from wasm into the host, and traps in the
//! callee with their backtraces; then leaf functions that keep their
//! first parameters in the registers they arrive in (`x64::frame`,
//! `LEAF_ARRIVAL_PINS`) through shifts, divisions, exits and tail calls
//! that swap them. Both memory modes, both CPU feature sets. Expected
//! values are computed here in Rust.

mod common;
#[path = "common/rng.rs"]
mod rng;

use rng::Rng;
use wasmkern::{ExternRef, Func, FuncType, Instance, Linker, Module, Store, Val, ValType};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Ty {
    I32,
    I64,
    F32,
    F64,
    V128,
    Func,
    Extern,
}

const TYPES: [Ty; 7] = [
    Ty::I32,
    Ty::I64,
    Ty::F32,
    Ty::F64,
    Ty::V128,
    Ty::Func,
    Ty::Extern,
];

impl Ty {
    fn wat(self) -> &'static str {
        match self {
            Ty::I32 => "i32",
            Ty::I64 => "i64",
            Ty::F32 => "f32",
            Ty::F64 => "f64",
            Ty::V128 => "v128",
            Ty::Func => "funcref",
            Ty::Extern => "externref",
        }
    }

    fn val_type(self) -> ValType {
        match self {
            Ty::I32 => ValType::I32,
            Ty::I64 => ValType::I64,
            Ty::F32 => ValType::F32,
            Ty::F64 => ValType::F64,
            Ty::V128 => ValType::V128,
            Ty::Func => ValType::FuncRef,
            Ty::Extern => ValType::ExternRef,
        }
    }

    /// Wasm that pushes parameter `i`'s contribution to the hash, an
    /// `i64` (see [`contribution`]).
    fn contribution_wat(self, i: usize) -> String {
        let p = format!("(local.get {i})");
        match self {
            Ty::I32 => format!("(i64.extend_i32_u {p})"),
            Ty::I64 => p,
            Ty::F32 => format!("(i64.extend_i32_u (i32.reinterpret_f32 {p}))"),
            Ty::F64 => format!("(i64.reinterpret_f64 {p})"),
            Ty::V128 => format!(
                "(i64.xor (i64x2.extract_lane 0 {p}) (i64.mul (i64x2.extract_lane 1 {p}) (i64.const 7)))"
            ),
            Ty::Func | Ty::Extern => format!("(i64.extend_i32_u (i32.eqz (ref.is_null {p})))"),
        }
    }
}

/// A value's contribution to the hash: its bits (a `v128`'s halves
/// mixed), or for a reference whether it is not null.
fn contribution(v: &Val) -> u64 {
    match v {
        Val::I32(x) => u64::from(*x as u32),
        Val::I64(x) => *x as u64,
        Val::F32(bits) => u64::from(*bits),
        Val::F64(bits) => *bits,
        Val::V128(x) => (*x as u64) ^ ((*x >> 64) as u64).wrapping_mul(7),
        Val::FuncRef(f) => u64::from(f.is_some()),
        Val::ExternRef(e) => u64::from(e.is_some()),
        v => panic!("no {v:?} arguments here"),
    }
}

const PRIME: u64 = 0x0000_0100_0000_01b3;

/// The hash `$hash` computes, in Rust: position-sensitive over the
/// arguments' contributions.
fn hash(args: &[Val]) -> u64 {
    let mut h = args.len() as u64;
    for v in args {
        h = ((h ^ contribution(v)).wrapping_mul(PRIME)).rotate_left(13);
    }
    h
}

/// The module for parameter types `sig`: `$hash` and exports that reach
/// it by each kind of call, with the host's `hash` import if `host`.
fn module_wat(sig: &[Ty], host: bool) -> String {
    let params: String = sig.iter().map(|t| format!(" {}", t.wat())).collect();
    let args: String = (0..sig.len())
        .map(|i| format!(" (local.get {i})"))
        .collect();
    let mut body = format!("(local.set $h (i64.const {}))", sig.len());
    for (i, t) in sig.iter().enumerate() {
        body += &format!(
            "\n (local.set $h (i64.rotl (i64.mul (i64.xor (local.get $h) {}) (i64.const {PRIME})) (i64.const 13)))",
            t.contribution_wat(i)
        );
    }
    let mut wat = format!(
        r#"(module
  (type $sig (func (param{params}) (result i64)))
  {import}
  (table $t 2 funcref)
  (elem (table $t) (i32.const 0) func $hash $trap)
  (func $hash (export "hash") (type $sig) (local $h i64)
    {body}
    (local.get $h))
  (func $trap (type $sig) (unreachable))
  (func $relay (type $sig) (return_call $hash{args}))
  (func $call (export "call") (type $sig) (call $hash{args}))
  (func $call_indirect (export "call_indirect") (type $sig)
    (call_indirect $t (type $sig){args} (i32.const 0)))
  (func $return_call (export "return_call") (type $sig) (return_call $hash{args}))
  (func $return_call_indirect (export "return_call_indirect") (type $sig)
    (return_call_indirect $t (type $sig){args} (i32.const 0)))
  (func $call_relay (export "call_relay") (type $sig) (call $relay{args}))
  ;; Reads each parameter twice, across a call: the heavier ones are
  ;; pinned in callee-saved registers (or saved around the call).
  (func $call_twice (export "call_twice") (type $sig)
    (i64.xor (call $hash{args}) (i64.rotl (call $hash{args}) (i64.const 1))))
  (func $trap_call (export "trap_call") (type $sig) (call $trap{args}))
  (func $trap_tail (export "trap_tail") (type $sig)
    (return_call_indirect $t (type $sig){args} (i32.const 1)))
"#,
        import = if host {
            r#"(import "host" "hash" (func $host (type $sig)))"#
        } else {
            ""
        }
    );
    if host {
        wat += &format!(
            r#"  (func $call_host (export "call_host") (type $sig) (call $host{args}))
  (func $return_call_host (export "return_call_host") (type $sig) (return_call $host{args}))
"#
        );
    }
    wat += ")";
    wat
}

fn random_arg(rng: &mut Rng, t: Ty, store: &mut Store<()>, funcref: Func) -> Val {
    match t {
        Ty::I32 => Val::I32(rng.next() as i32),
        Ty::I64 => Val::I64(rng.next() as i64),
        Ty::F32 => Val::F32(rng.next() as u32),
        Ty::F64 => Val::F64(rng.next()),
        Ty::V128 => Val::V128(u128::from(rng.next()) << 64 | u128::from(rng.next())),
        Ty::Func => Val::FuncRef((!rng.chance(3)).then_some(funcref)),
        Ty::Extern => Val::ExternRef(if rng.chance(3) {
            None
        } else {
            Some(ExternRef::new(&mut *store, rng.next()).expect("externref"))
        }),
    }
}

fn call_i64(store: &mut Store<()>, instance: &Instance, name: &str, args: &[Val]) -> u64 {
    let f = instance
        .get_func(&*store, name)
        .unwrap_or_else(|| panic!("export {name}"));
    let mut out = [Val::I64(0)];
    f.call(&mut *store, args, &mut out)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    match out[0] {
        Val::I64(x) => x as u64,
        ref v => panic!("{name} returned {v:?}"),
    }
}

#[test]
fn arguments_of_every_type_and_count_reach_every_callee() {
    let mut rng = Rng::new(0x7a11_a465);
    for (engine_name, engine) in common::engines_by_mode_and_cpu() {
        for count in 0..=8 {
            for case in 0..6 {
                let sig: Vec<Ty> = (0..count).map(|_| TYPES[rng.below(TYPES.len())]).collect();
                for host in [false, true] {
                    let what = format!("{engine_name} sig={sig:?} host={host} case={case}");
                    let wat = module_wat(&sig, host);
                    let module = common::module(&engine, &wat);
                    let mut store = Store::new(&engine, ());
                    let val_types: Vec<ValType> = sig.iter().map(|t| t.val_type()).collect();
                    let ty = FuncType::new(&val_types, &[ValType::I64]);
                    let host_hash = Func::new(&mut store, ty, |_caller, params, results| {
                        results[0] = Val::I64(hash(params) as i64);
                        Ok(())
                    });
                    let instance = if host {
                        let mut linker = Linker::new(&engine);
                        linker
                            .define(&store, "host", "hash", host_hash)
                            .expect("define");
                        linker.instantiate(&mut store, &module).expect(&what)
                    } else {
                        Instance::new(&mut store, &module, &[]).expect(&what)
                    };
                    let funcref = instance.get_func(&store, "hash").expect("hash");
                    for round in 0..3 {
                        let args: Vec<Val> = sig
                            .iter()
                            .map(|&t| random_arg(&mut rng, t, &mut store, funcref))
                            .collect();
                        let expected = hash(&args);
                        let mut names = vec![
                            "hash",
                            "call",
                            "call_indirect",
                            "return_call",
                            "return_call_indirect",
                            "call_relay",
                        ];
                        if host {
                            names.extend(["call_host", "return_call_host"]);
                        }
                        assert_eq!(
                            call_i64(&mut store, &instance, "call_twice", &args),
                            expected ^ expected.rotate_left(1),
                            "{what} round={round} call_twice {args:?}"
                        );
                        for name in names {
                            assert_eq!(
                                call_i64(&mut store, &instance, name, &args),
                                expected,
                                "{what} round={round} {name} {args:?}"
                            );
                        }
                        for (name, frames) in [
                            ("trap_call", &[Some("trap"), Some("trap_call")][..]),
                            // The tail call replaced its caller's frame.
                            ("trap_tail", &[Some("trap")][..]),
                        ] {
                            let f = instance.get_func(&store, name).expect(name);
                            let err = f
                                .call(&mut store, &args, &mut [Val::I64(0)])
                                .expect_err(name);
                            assert_eq!(
                                err.trap().map(|t| t.to_string()),
                                Some("unreachable".to_string()),
                                "{what} {name}"
                            );
                            let names: Vec<Option<&str>> = err
                                .backtrace()
                                .iter()
                                .map(|f| f.func_name.as_deref())
                                .collect();
                            assert_eq!(names, frames, "{what} {name}");
                        }
                    }
                }
            }
        }
    }
}

/// Leaf handlers whose first two parameters stay in the registers they
/// arrive in: the shift count register and the division register are
/// among them, a `memory.grow` exits to the host between reads of them,
/// and tail calls pass them on swapped, unchanged or recomputed.
const HANDLERS: &str = r#"(module
  (type $h (func (param i64 i64 i32) (result i64)))
  (memory 1)
  (table 2 funcref)
  (elem (i32.const 0) $even $odd)
  ;; x << y, y >> x, rotl, a remainder and a quotient, all on the
  ;; parameters in their arrival registers; then the next step with x
  ;; and y swapped.
  (func $even (type $h)
    (if (result i64) (i32.eqz (local.get 2))
      (then (i64.xor (local.get 0) (i64.mul (local.get 1) (i64.const 3))))
      (else
        (return_call_indirect (type $h)
          (i64.add (local.get 1) (i64.shl (local.get 0) (local.get 1)))
          (i64.xor (local.get 0)
            (i64.add (i64.shr_u (local.get 1) (local.get 0))
              (i64.add (i64.rotl (local.get 1) (local.get 0))
                (i64.add (i64.rem_u (local.get 0) (i64.or (local.get 1) (i64.const 1)))
                  (i64.div_u (local.get 1) (i64.or (local.get 0) (i64.const 1)))))))
          (i32.sub (local.get 2) (i32.const 1))
          (i32.and (i32.sub (local.get 2) (i32.const 1)) (i32.const 1))))))
  ;; Exits to the host (memory.grow by 0 pages) between reads, and swaps
  ;; its first two arguments.
  (func $odd (type $h)
    (if (result i64) (i32.eqz (local.get 2))
      (then (i64.sub (local.get 0) (local.get 1)))
      (else
        (i64.add (local.get 0)
          (i64.extend_i32_u (memory.grow (i32.const 0))))
        (local.get 1)
        (return_call_indirect (type $h)
          (i64.rem_s
            (i64.sub (local.get 0) (i64.const 1))
            (i64.or (local.get 1) (i64.const 3)))
          (i64.shr_s (local.get 0) (local.get 1))
          (i32.sub (local.get 2) (i32.const 1))
          (i32.and (i32.sub (local.get 2) (i32.const 1)) (i32.const 1)))
        (drop)
        (drop))))
  (func $swap (type $h)
    (if (result i64) (i32.eqz (local.get 2))
      (then (i64.sub (local.get 0) (i64.mul (local.get 1) (i64.const 5))))
      (else (return_call $swap (local.get 1) (local.get 0)
        (i32.sub (local.get 2) (i32.const 1))))))
  (func (export "run") (param i64 i64 i32) (result i64)
    (return_call_indirect (type $h) (local.get 0) (local.get 1) (local.get 2)
      (i32.and (local.get 2) (i32.const 1))))
  (func (export "swap") (param i64 i64 i32) (result i64)
    (call $swap (local.get 0) (local.get 1) (local.get 2))))"#;

/// `HANDLERS`' `run` in Rust.
fn run_handlers(mut x: u64, mut y: u64, mut n: u32) -> u64 {
    loop {
        if n.is_multiple_of(2) {
            if n == 0 {
                return x ^ y.wrapping_mul(3);
            }
            let a = y.wrapping_add(x << (y & 63));
            let b = x
                ^ (y >> (x & 63))
                    .wrapping_add(y.rotate_left((x & 63) as u32))
                    .wrapping_add(x % (y | 1))
                    .wrapping_add(y / (x | 1));
            (x, y) = (a, b);
        } else {
            let a = (x as i64).wrapping_sub(1).wrapping_rem(y as i64 | 3) as u64;
            let b = ((x as i64) >> (y & 63)) as u64;
            (x, y) = (a, b);
        }
        n -= 1;
    }
}

#[test]
fn leaf_parameters_in_their_arrival_registers() {
    let mut rng = Rng::new(0x5eed_1eaf);
    for (engine_name, engine) in common::engines_by_mode_and_cpu() {
        let module = Module::new(&engine, wat::parse_str(HANDLERS).unwrap()).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let run = instance
            .get_typed_func::<(i64, i64, i32), i64>(&store, "run")
            .unwrap();
        let swap = instance
            .get_typed_func::<(i64, i64, i32), i64>(&store, "swap")
            .unwrap();
        for _ in 0..200 {
            let (x, y) = (rng.next(), rng.next());
            let n = rng.below(40) as u32;
            assert_eq!(
                run.call(&mut store, (x as i64, y as i64, n as i32))
                    .unwrap() as u64,
                run_handlers(x, y, n),
                "{engine_name} run({x:#x}, {y:#x}, {n})"
            );
            let (sx, sy) = if n.is_multiple_of(2) { (x, y) } else { (y, x) };
            assert_eq!(
                swap.call(&mut store, (x as i64, y as i64, n as i32))
                    .unwrap() as u64,
                sx.wrapping_sub(sy.wrapping_mul(5)),
                "{engine_name} swap({x:#x}, {y:#x}, {n})"
            );
        }
    }
}
