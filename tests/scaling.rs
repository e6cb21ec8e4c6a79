//! Compile time (and instantiation time) grows linearly, or nearly, with
//! each dimension of a module a hostile author controls: every test builds
//! a module of one kind at size `n` and at `4 n` and checks that the larger
//! one takes less than [`MAX_RATIO`] times as long. A linear algorithm takes
//! about 4 times as long, a quadratic one 16 times.
//!
//! The large sizes are about ten times the largest realistic case (400,000
//! distinct `v128` constants in one function, 10,000-target `br_table`s,
//! 100,000 exports, data segments and types). Debug builds use sizes half
//! as large: the ratio check holds at any size where the quadratic
//! term dominates, and the sizes stay above that point.
//!
//! The modules are encoded directly (no text format), so building them
//! takes little of the measured time.
//!
//! Times are the calling thread's CPU time, with compilation kept on that
//! thread: other processes on a busy machine stretch wall-clock time by
//! whatever share of the cores they take, but not the CPU time a
//! thread itself uses.

use std::sync::Mutex;
use std::time::{Duration, Instant};
use wasmkern::{Config, Engine, Instance, Module, Store};

/// A linear algorithm gives about 4; a quadratic one about 16.
const MAX_RATIO: f64 = 8.0;
/// Times below this are noise-dominated: the small run counts as this long.
const FLOOR: Duration = Duration::from_millis(50);

/// Divides the test sizes in debug builds.
const SCALE: usize = if cfg!(debug_assertions) { 2 } else { 1 };

// ---------------------------------------------------------------------
// A minimal binary encoder.

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

fn leb_s(out: &mut Vec<u8>, mut v: i64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        let done = (v == 0 && b & 0x40 == 0) || (v == -1 && b & 0x40 != 0);
        if done {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn name(out: &mut Vec<u8>, s: &str) {
    leb_u(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// A module under construction: sections are appended in order.
struct Wasm(Vec<u8>);

impl Wasm {
    fn new() -> Wasm {
        Wasm(b"\0asm\x01\0\0\0".to_vec())
    }

    fn section(&mut self, id: u8, body: &[u8]) {
        self.0.push(id);
        leb_u(&mut self.0, body.len() as u64);
        self.0.extend_from_slice(body);
    }

    /// A section of `count` entries, each written by `entry`.
    fn vec_section(&mut self, id: u8, count: usize, mut entry: impl FnMut(usize, &mut Vec<u8>)) {
        let mut body = Vec::new();
        leb_u(&mut body, count as u64);
        for i in 0..count {
            entry(i, &mut body);
        }
        self.section(id, &body);
    }

    /// Type section with `() -> ()` only.
    fn unit_type(&mut self) {
        self.section(1, &[1, 0x60, 0, 0]);
    }

    /// Function section: `n` functions of type 0.
    fn funcs_of_type0(&mut self, n: usize) {
        self.vec_section(3, n, |_, b| b.push(0));
    }

    /// Code section with the given bodies (locals and code, `end` included).
    fn code(&mut self, bodies: &[Vec<u8>]) {
        self.vec_section(10, bodies.len(), |i, b| {
            leb_u(b, bodies[i].len() as u64);
            b.extend_from_slice(&bodies[i]);
        });
    }
}

/// A function body with no locals.
fn body(code: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut b = vec![0];
    code(&mut b);
    b.push(0x0b);
    b
}

/// The 16 bytes of distinct constant `i`.
fn v128_bytes(i: usize) -> [u8; 16] {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&(i as u64).to_le_bytes());
    bytes[8..].copy_from_slice(
        &(!(i as u64))
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .to_le_bytes(),
    );
    bytes
}

fn v128_const(b: &mut Vec<u8>, i: usize) {
    b.extend_from_slice(&[0xfd, 0x0c]);
    b.extend_from_slice(&v128_bytes(i));
}

// ---------------------------------------------------------------------
// Timing.

fn time(f: &mut dyn FnMut()) -> Duration {
    let start = thread_cpu_time();
    f();
    thread_cpu_time().saturating_sub(start)
}

/// The CPU time the calling thread has used.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the call to fill.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// An engine that compiles on the calling thread, whose CPU time
/// [`time`] measures.
fn engine(config: &mut Config) -> Engine {
    Engine::new(config.parallel_compilation(false)).unwrap()
}

/// Checks that `run(4 n)` takes less than [`MAX_RATIO`] times `run(n)`.
/// The small size is timed twice (the faster counts, to discount a first
/// run's page faults); a large run over the bound is retried once, so a
/// burst of load on a shared machine does not fail the test, while a
/// quadratic algorithm fails both times.
fn assert_linear(what: &str, n: usize, run: &dyn Fn(usize)) {
    // The tests time one at a time: run side by side they would time each
    // other.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let small = time(&mut || run(n)).min(time(&mut || run(n)));
    let base = small.max(FLOOR);
    let mut large = time(&mut || run(4 * n));
    let mut ratio = large.as_secs_f64() / base.as_secs_f64();
    if ratio >= MAX_RATIO {
        large = time(&mut || run(4 * n));
        ratio = large.as_secs_f64() / base.as_secs_f64();
    }
    println!("{what}: n = {n}: {small:?}; 4n: {large:?} (ratio {ratio:.1} against {base:?})");
    assert!(
        ratio < MAX_RATIO,
        "{what}: {} takes {large:?}, {ratio:.1} times the {base:?} of {n}: super-linear",
        4 * n
    );
}

fn compile(engine: &Engine, bytes: &[u8]) -> Module {
    match Module::new(engine, bytes) {
        Ok(m) => m,
        Err(e) => panic!("the generated module does not compile: {e}"),
    }
}

// ---------------------------------------------------------------------
// The module kinds.

/// One function with `n` distinct `v128.const`s, each dropped at once.
fn v128_consts_dropped(n: usize) -> Vec<u8> {
    let mut w = Wasm::new();
    w.unit_type();
    w.funcs_of_type0(1);
    w.code(&[body(|b| {
        for i in 0..n {
            v128_const(b, i);
            b.push(0x1a);
        }
    })]);
    w.0
}

/// One function with `n` distinct `v128.const`s all on the operand stack,
/// then all dropped.
fn v128_consts_live(n: usize) -> Vec<u8> {
    let mut w = Wasm::new();
    w.unit_type();
    w.funcs_of_type0(1);
    w.code(&[body(|b| {
        for i in 0..n {
            v128_const(b, i);
        }
        b.extend(std::iter::repeat_n(0x1a, n));
    })]);
    w.0
}

#[test]
fn distinct_v128_constants() {
    let engine = engine(&mut Config::new());
    assert_linear("v128.const, dropped", 100_000 / SCALE, &|n| {
        compile(&engine, &v128_consts_dropped(n));
    });
}

#[test]
fn distinct_v128_constants_kept_live() {
    // Keeping 400,000 vectors live takes a 6.4 MB frame.
    let engine = engine(Config::new().max_wasm_stack(64 << 20));
    assert_linear("v128.const, live", 100_000 / SCALE, &|n| {
        compile(&engine, &v128_consts_live(n));
    });
}

/// `br_table`s inside 1,000 nested blocks, each block with a value of its
/// own below the next one, so that every target but the innermost moves
/// the carried value down (a stub per target depth, no direct jumps):
/// `n` targets in all, in tables of 10,000 spread over every depth.
fn br_tables(n: usize) -> Vec<u8> {
    const DEPTH: usize = 1000;
    const TABLE: usize = 10_000;
    let mut w = Wasm::new();
    // Type 0: () -> (); type 1: (i32) -> i32.
    w.section(1, &[2, 0x60, 0, 0, 0x60, 1, 0x7f, 1, 0x7f]);
    w.vec_section(3, 1, |_, b| b.push(1));
    w.code(&[body(|b| {
        for _ in 0..DEPTH {
            // block (result i32), i32.const 1
            b.extend_from_slice(&[0x02, 0x7f, 0x41, 1]);
        }
        for t in 0..n / TABLE {
            // The carried value, the index.
            b.extend_from_slice(&[0x41, 7, 0x20, 0]);
            b.push(0x0e);
            leb_u(b, TABLE as u64);
            for k in 0..TABLE {
                leb_u(b, ((k + t) % DEPTH) as u64);
            }
            leb_u(b, 0);
        }
        b.extend_from_slice(&[0x1a, 0x20, 0]);
        for d in 0..DEPTH {
            b.push(0x0b);
            if d + 1 < DEPTH {
                b.push(0x6a); // i32.add
            }
        }
    })]);
    w.0
}

#[test]
fn br_table_targets() {
    let engine = engine(&mut Config::new());
    assert_linear("br_table targets", 1_000_000 / SCALE, &|n| {
        compile(&engine, &br_tables(n));
    });
}

/// `n` functions, each calling the next (a relocation each) and exported
/// under its own name; every export is then looked up by name.
fn many_functions(n: usize) -> Vec<u8> {
    let mut w = Wasm::new();
    w.unit_type();
    w.funcs_of_type0(n);
    w.vec_section(7, n, |i, b| {
        name(b, &format!("f{i}"));
        b.push(0);
        leb_u(b, i as u64);
    });
    let bodies: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            body(|b| {
                if i + 1 < n {
                    b.push(0x10);
                    leb_u(b, (i + 1) as u64);
                }
            })
        })
        .collect();
    w.code(&bodies);
    // A name section naming every function.
    let mut names = Vec::new();
    name(&mut names, "name");
    let mut sub = Vec::new();
    leb_u(&mut sub, n as u64);
    for i in 0..n {
        leb_u(&mut sub, i as u64);
        name(&mut sub, &format!("function_{i}"));
    }
    names.push(1);
    leb_u(&mut names, sub.len() as u64);
    names.extend_from_slice(&sub);
    w.section(0, &names);
    w.0
}

#[test]
fn functions_exports_and_names() {
    let engine = engine(&mut Config::new());
    assert_linear("functions, exports and names", 25_000 / SCALE, &|n| {
        let module = compile(&engine, &many_functions(n));
        for i in (0..n).step_by(7) {
            assert!(module.get_export(&format!("f{i}")).is_some());
        }
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        for i in 0..n {
            assert!(instance.get_func(&store, &format!("f{i}")).is_some());
        }
    });
}

/// A function with `n / 10` locals (at most 50,000, the limit) of every
/// kind, that makes `n` calls, each after touching a local.
fn locals_and_calls(n: usize) -> Vec<u8> {
    let locals = (n / 10).min(50_000);
    let mut w = Wasm::new();
    w.unit_type();
    w.funcs_of_type0(2);
    let caller = {
        let mut b = Vec::new();
        // Four groups of locals: i32, i64, f64, f32.
        leb_u(&mut b, 4);
        for ty in [0x7f, 0x7e, 0x7c, 0x7d] {
            leb_u(&mut b, (locals / 4) as u64);
            b.push(ty);
        }
        for i in 0..n {
            let l = (i * 7919) % (locals / 4 * 4);
            b.push(0x20);
            leb_u(&mut b, l as u64);
            b.push(0x21);
            leb_u(&mut b, l as u64);
            b.extend_from_slice(&[0x10, 1]);
        }
        b.push(0x0b);
        b
    };
    w.code(&[caller, body(|_| {})]);
    w.0
}

#[test]
fn locals_and_calls_in_one_function() {
    let engine = engine(&mut Config::new());
    assert_linear("locals and calls", 200_000 / SCALE, &|n| {
        compile(&engine, &locals_and_calls(n));
    });
}

/// `n` operands kept live (i32 constants and reads of a pinned local),
/// with calls and register pressure above them.
fn deep_stack_with_calls(n: usize) -> Vec<u8> {
    let mut w = Wasm::new();
    w.section(1, &[2, 0x60, 0, 0, 0x60, 1, 0x7f, 1, 0x7f]);
    w.vec_section(3, 2, |_, b| b.push(1));
    let f = body(|b| {
        for i in 0..n {
            if i % 2 == 0 {
                b.extend_from_slice(&[0x20, 0]);
            } else {
                b.push(0x41);
                leb_s(b, i as i64);
            }
        }
        // Above them: calls, and local writes that detach pinned reads.
        for _ in 0..n / 4 {
            b.extend_from_slice(&[0x20, 0, 0x10, 1, 0x21, 0]);
        }
        for _ in 0..n - 1 {
            b.push(0x6a); // i32.add
        }
    });
    w.code(&[f, body(|b| b.extend_from_slice(&[0x20, 0]))]);
    w.0
}

#[test]
fn deep_operand_stack() {
    let engine = engine(Config::new().max_wasm_stack(64 << 20));
    assert_linear("deep operand stack", 100_000 / SCALE, &|n| {
        compile(&engine, &deep_stack_with_calls(n));
    });
}

/// `n` distinct function types (each a different mix of `i32`/`i64`
/// parameters), each used by a `call_indirect`.
fn many_types(n: usize) -> Vec<u8> {
    let mut w = Wasm::new();
    w.vec_section(1, n + 1, |i, b| {
        b.push(0x60);
        if i == n {
            // The function's own type: () -> ().
            b.extend_from_slice(&[0, 0]);
            return;
        }
        // Parameters spell `i + 1` in binary: i32 for 0, i64 for 1.
        let bits = usize::BITS - (i + 1).leading_zeros();
        leb_u(b, bits as u64);
        for k in 0..bits {
            b.push(if (i + 1) >> k & 1 == 1 { 0x7e } else { 0x7f });
        }
        b.push(0);
    });
    w.vec_section(3, 1, |_, b| leb_u(b, n as u64));
    // A table for the call_indirects.
    w.section(4, &[1, 0x70, 0, 1]);
    let f = body(|b| {
        for i in (0..n).step_by(16) {
            // Unreachable, so it needs no arguments: validated, not run.
            b.extend_from_slice(&[0x02, 0x40, 0x00, 0x41, 0, 0x11]);
            leb_u(b, i as u64);
            b.extend_from_slice(&[0, 0x0b]);
        }
    });
    w.code(&[f]);
    w.0
}

#[test]
fn types() {
    let engine = engine(&mut Config::new());
    assert_linear("types", 100_000 / SCALE, &|n| {
        compile(&engine, &many_types(n));
    });
}

/// `n` active data segments of 4 bytes and `n / 10` element segments.
fn segments(n: usize) -> Vec<u8> {
    let mut w = Wasm::new();
    w.unit_type();
    w.funcs_of_type0(1);
    w.section(4, &[1, 0x70, 0, 0x80, 0x80, 0x04]); // table 65536
    w.section(5, &[1, 0, 16]); // memory 16 pages
    w.vec_section(9, n / 10, |i, b| {
        b.push(0);
        b.push(0x41);
        leb_s(b, (i % 65536) as i64);
        b.push(0x0b);
        b.extend_from_slice(&[1, 0]);
    });
    w.code(&[body(|_| {})]);
    w.vec_section(11, n, |i, b| {
        b.push(0);
        b.push(0x41);
        leb_s(b, ((i * 4) % (16 * 65536 - 4)) as i64);
        b.push(0x0b);
        b.push(4);
        b.extend_from_slice(&(i as u32).to_le_bytes());
    });
    w.0
}

#[test]
fn data_and_element_segments() {
    let engine = engine(&mut Config::new());
    assert_linear("data and element segments", 25_000 / SCALE, &|n| {
        let module = compile(&engine, &segments(n));
        let mut store = Store::new(&engine, ());
        Instance::new(&mut store, &module, &[]).unwrap();
    });
}

/// A loop whose header (`n / 8` operators before its `br_table`) would
/// qualify as an interpreter's dispatch but for its length, with `n / 256`
/// handlers each branching back to the loop: replaying the header at each
/// branch would cost `n * n / 2048`.
fn long_dispatch_header(n: usize) -> Vec<u8> {
    let handlers = n / 256;
    let mut w = Wasm::new();
    // Type 0: () -> (); type 1: (i32) -> i32.
    w.section(1, &[2, 0x60, 0, 0, 0x60, 1, 0x7f, 1, 0x7f]);
    w.vec_section(3, 1, |_, b| b.push(1));
    w.code(&[body(|b| {
        b.extend_from_slice(&[0x03, 0x40]); // loop
        for _ in 0..n / 16 {
            b.extend_from_slice(&[0x20, 0, 0x21, 0]); // local.get 0, local.set 0
        }
        for _ in 0..handlers {
            b.extend_from_slice(&[0x02, 0x40]); // block
        }
        b.extend_from_slice(&[0x20, 0, 0x0e]);
        leb_u(b, handlers as u64);
        for k in 0..handlers {
            leb_u(b, k as u64);
        }
        leb_u(b, handlers as u64);
        for k in 0..handlers {
            b.push(0x0b); // end of block k: its handler
            b.extend_from_slice(&[0x20, 0, 0x41, 1, 0x6b, 0x21, 0]);
            // br to the loop, from depth handlers - 1 - k
            b.push(0x0c);
            leb_u(b, (handlers - 1 - k) as u64);
        }
        b.push(0x0b); // end loop
        b.extend_from_slice(&[0x20, 0]);
    })]);
    w.0
}

#[test]
fn dispatch_headers() {
    let engine = engine(&mut Config::new());
    assert_linear("dispatch header", 400_000 / SCALE, &|n| {
        compile(&engine, &long_dispatch_header(n));
    });
}

/// A block of 1,000 results and a `br_table` of `n` targets all to it:
/// checking the 1,000 carried values again for each target repeats the
/// same work `n` times.
fn wide_br_table(n: usize) -> Vec<u8> {
    const ARITY: usize = 1000;
    let mut w = Wasm::new();
    // Type 0: () -> (); type 1: (i32) -> (); type 2: () -> (i32 x 1000).
    let mut types = vec![3, 0x60, 0, 0, 0x60, 1, 0x7f, 0];
    types.push(0x60);
    types.push(0);
    leb_u(&mut types, ARITY as u64);
    types.extend(std::iter::repeat_n(0x7f, ARITY));
    w.section(1, &types);
    w.vec_section(3, 1, |_, b| b.push(1));
    w.code(&[body(|b| {
        b.extend_from_slice(&[0x02, 2]); // block (type 2)
        for _ in 0..ARITY {
            b.extend_from_slice(&[0x41, 0]);
        }
        b.extend_from_slice(&[0x20, 0, 0x0e]);
        leb_u(b, n as u64);
        b.extend(std::iter::repeat_n(0, n));
        b.push(0);
        b.push(0x0b);
        b.extend(std::iter::repeat_n(0x1a, ARITY));
    })]);
    w.0
}

#[test]
fn br_table_targets_with_many_values() {
    let engine = engine(&mut Config::new());
    let bytes = wide_br_table(2_000_000 / SCALE);
    let start = Instant::now();
    compile(&engine, &bytes);
    let took = start.elapsed();
    println!(
        "br_table of {} targets carrying 1,000 values: {took:?}",
        2_000_000 / SCALE
    );
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

/// Three nested blocks whose 1,000 results differ in type (`i32`, `i64`,
/// `f32`), and after `unreachable` a `br_table` of `n` targets alternating
/// between the outer two, the innermost being the default: valid, because
/// the stack is polymorphic there. A check that only remembers the default
/// and the last label it checked checks 1,000 values per target.
fn alternating_label_types(n: usize) -> Vec<u8> {
    const ARITY: usize = 1000;
    let mut w = Wasm::new();
    // Type 0: () -> (); types 1 to 3: () -> (t x 1000) for i32, i64, f32.
    let mut types = vec![4, 0x60, 0, 0];
    for t in [0x7f, 0x7e, 0x7d] {
        types.extend_from_slice(&[0x60, 0]);
        leb_u(&mut types, ARITY as u64);
        types.extend(std::iter::repeat_n(t, ARITY));
    }
    w.section(1, &types);
    w.funcs_of_type0(1);
    w.code(&[body(|b| {
        // block block block unreachable br_table
        b.extend_from_slice(&[0x02, 1, 0x02, 2, 0x02, 3, 0x00, 0x0e]);
        leb_u(b, n as u64);
        b.extend((0..n).map(|i| 1 + (i % 2) as u8));
        b.push(0);
        // The blocks end unreachable: nothing falls through or branches.
        b.extend_from_slice(&[0x0b, 0x00, 0x0b, 0x00, 0x0b, 0x00]);
    })]);
    w.0
}

#[test]
fn br_table_alternating_label_types() {
    let engine = engine(&mut Config::new());
    let n = 2_000_000 / SCALE;
    let bytes = alternating_label_types(n);
    let start = Instant::now();
    compile(&engine, &bytes);
    let took = start.elapsed();
    println!("br_table of {n} targets alternating between two 1,000-value labels: {took:?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

/// `depth` nested blocks of 1,000 results, each above one more value than
/// the block around it, and a `br_table` with a target at every depth: each
/// target moves the 1,000 values to a different height. The blocks end
/// unreachable, so only the branches reach their ends.
fn br_table_to_every_depth(depth: usize) -> Vec<u8> {
    const ARITY: usize = 1000;
    let mut w = Wasm::new();
    // Type 0: () -> (); type 1: () -> (i32 x 1000).
    let mut types = vec![2, 0x60, 0, 0, 0x60, 0];
    leb_u(&mut types, ARITY as u64);
    types.extend(std::iter::repeat_n(0x7f, ARITY));
    w.section(1, &types);
    w.funcs_of_type0(1);
    w.code(&[body(|b| {
        for _ in 0..depth {
            b.extend_from_slice(&[0x41, 0, 0x02, 1]); // i32.const 0; block (type 1)
        }
        for _ in 0..ARITY {
            b.extend_from_slice(&[0x41, 1]);
        }
        b.extend_from_slice(&[0x41, 0, 0x0e]);
        leb_u(b, depth as u64);
        for d in 0..depth {
            leb_u(b, d as u64);
        }
        b.push(0);
        for _ in 0..depth {
            b.extend_from_slice(&[0x0b, 0x00]); // end; unreachable
        }
    })]);
    w.0
}

#[test]
fn br_table_moving_many_values_to_every_depth() {
    let engine = engine(Config::new().max_wasm_stack(64 << 20));
    // The validator allows 10,000 nested blocks.
    let depth = 9_000 / SCALE;
    let bytes = br_table_to_every_depth(depth);
    let start = Instant::now();
    compile(&engine, &bytes);
    let took = start.elapsed();
    println!("br_table moving 1,000 values to {depth} depths: {took:?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

/// A function with 1,000 results whose body keeps `n` values below them
/// and returns conditionally `n` times (`br_if` to the function's label):
/// each return hands over the same 1,000 values.
fn conditional_returns(n: usize) -> Vec<u8> {
    const ARITY: usize = 1000;
    let mut w = Wasm::new();
    // Type 0: (i32) -> (i32 x 1000).
    let mut types = vec![1, 0x60, 1, 0x7f];
    leb_u(&mut types, ARITY as u64);
    types.extend(std::iter::repeat_n(0x7f, ARITY));
    w.section(1, &types);
    w.vec_section(3, 1, |_, b| b.push(0));
    w.code(&[body(|b| {
        for _ in 0..ARITY {
            b.extend_from_slice(&[0x41, 2]);
        }
        for _ in 0..n {
            b.extend_from_slice(&[0x20, 0, 0x0d, 0]); // local.get 0; br_if 0
        }
    })]);
    w.0
}

#[test]
fn conditional_returns_of_many_values() {
    let engine = engine(&mut Config::new());
    let n = 100_000 / SCALE;
    let bytes = conditional_returns(n);
    let start = Instant::now();
    compile(&engine, &bytes);
    let took = start.elapsed();
    println!("{n} conditional returns of 1,000 values: {took:?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

/// A register operand deep in the stack, `n` constants above it, and then
/// `n` shifts and remainders by a register count, which need `rcx`, `rax`
/// and `rdx` and so move whatever operand holds them.
fn fixed_register_operations(n: usize) -> Vec<u8> {
    let mut w = Wasm::new();
    w.section(1, &[1, 0x60, 1, 0x7f, 0]);
    w.vec_section(3, 1, |_, b| b.push(0));
    w.code(&[body(|b| {
        for _ in 0..12 {
            b.extend_from_slice(&[0x20, 0, 0x41, 1, 0x6a]); // local.get 0; i32.const 1; i32.add
        }
        for i in 0..n {
            b.push(0x41);
            leb_s(b, i as i64);
        }
        for _ in 0..n {
            // (local.get 0 + 7) << local.get 0, then % (local.get 0 + 3), kept.
            b.extend_from_slice(&[0x20, 0, 0x41, 7, 0x6a, 0x20, 0, 0x74]);
            b.extend_from_slice(&[0x20, 0, 0x41, 3, 0x6a, 0x70]);
        }
        b.extend(std::iter::repeat_n(0x1a, 2 * n + 12));
    })]);
    w.0
}

#[test]
fn fixed_register_operations_over_many_constants() {
    let engine = engine(Config::new().max_wasm_stack(64 << 20));
    assert_linear("fixed registers over constants", 25_000 / SCALE, &|n| {
        compile(&engine, &fixed_register_operations(n));
    });
}
