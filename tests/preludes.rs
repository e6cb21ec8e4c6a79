//! Functions that start with an early-return test, compiled as a prelude
//! before the prologue: the test reads the parameters in the registers
//! they arrived in, and its `return` leaves with no frame to undo.
//!
//! Each function here has a prelude and goes on, past it, to code that
//! needs the full frame (calls, pinned locals, memory). The tests reach
//! both sides of the test, through every kind of entry: from the host,
//! direct calls, `call_indirect`, a tail call, and a tail call that grew
//! its argument area (whose return goes through the engine's stub, which
//! finds its record through the untouched `rbp`). A prelude that lost a
//! parameter's register (to a temporary, or to the prologue's moves), left
//! the wrong result in its register, or touched the stack gives a wrong
//! value or a crash. Deep recursion through a prelude still meets the
//! stack limit, and traps and exceptions past the prelude see the whole
//! call stack. Every expected value comes from the same arithmetic in
//! Rust. And `$fib`'s code is checked to start with its early return.

use iced_x86::{Instruction, Mnemonic};
use wasmkern::compile::CompileOptions;
use wasmkern::{Config, Engine, Instance, Store, Trap};

mod common;
use common::{both_modes, function_code, typed};

fn instantiate(guard: bool, wat: &str) -> (Store<()>, Instance) {
    common::instantiate(
        &Engine::new(Config::new().guard_regions(guard)).unwrap(),
        wat,
    )
}

/// Naive Fibonacci as clang writes it at -O2: the test `n < 2` first,
/// then a loop over the recursive calls with an accumulator; called
/// directly, through a table and from a wasm caller.
const FIB: &str = r#"(module
  (type $t (func (param i32) (result i32)))
  (table 1 funcref)
  (elem (i32.const 0) $fib)
  (func $fib (export "fib") (type $t)
    (local i32 i32 i32)
    block
      local.get 0
      i32.const 2
      i32.ge_s
      br_if 0
      local.get 0
      i32.const 0
      i32.add
      return
    end
    i32.const 0
    local.set 1
    loop
      local.get 0
      i32.const -1
      i32.add
      call $fib
      local.get 1
      i32.add
      local.set 1
      local.get 0
      i32.const 3
      i32.gt_u
      local.set 2
      local.get 0
      i32.const -2
      i32.add
      local.tee 3
      local.set 0
      local.get 2
      br_if 0
    end
    local.get 3
    local.get 1
    i32.add)
  (func (export "fib_indirect") (param i32) (result i32)
    (call_indirect (type $t) (local.get 0) (i32.const 0)))
  (func (export "fib_sum") (param i32) (result i64)
    (local $s i64)
    block
      loop
        local.get 0
        i32.eqz
        br_if 1
        (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
        ;; The i32 result's upper half must be zero.
        (local.set $s (i64.add (local.get $s) (i64.extend_i32_u (call $fib (local.get 0)))))
        br 0
      end
    end
    local.get $s))"#;

fn fib(n: i32) -> i32 {
    if n < 2 { n } else { fib(n - 1) + fib(n - 2) }
}

#[test]
fn recursion_returns_early_from_every_entry() {
    both_modes(|guard| {
        let (mut store, instance) = instantiate(guard, FIB);
        let direct = typed::<_, i32, i32>(&mut store, &instance, "fib");
        let indirect = typed::<_, i32, i32>(&mut store, &instance, "fib_indirect");
        for n in [-5, -1, 0, 1, 2, 3, 10, 20] {
            assert_eq!(direct.call(&mut store, n).unwrap(), fib(n), "fib({n})");
            assert_eq!(
                indirect.call(&mut store, n).unwrap(),
                fib(n),
                "indirect fib({n})"
            );
        }
        let sum = typed::<_, i32, i64>(&mut store, &instance, "fib_sum");
        let expected: i64 = (0..25).map(|n| i64::from(fib(n))).sum();
        assert_eq!(sum.call(&mut store, 25).unwrap(), expected);
    });
}

/// Two `i64` parameters, both read by the prelude and by the code after
/// it: the prelude's temporaries must not take either parameter's register,
/// and the prologue must still find both.
const TWO_PARAMS: &str = r#"(module
  (memory 1)
  (func $f (export "f") (param i64 i64) (result i64)
    block
      ;; Two temporaries in registers at once: a * b > 100 | b == 0.
      local.get 0
      local.get 1
      i64.mul
      i64.const 100
      i64.gt_u
      local.get 1
      i64.eqz
      i32.or
      br_if 0
      local.get 0
      local.get 1
      i64.xor
      i64.const 3
      i64.lt_u
      br_if 0
      local.get 1
      local.get 0
      i64.sub
      return
    end
    ;; Past the prelude: a store and a load through the memory base the
    ;; prologue loads, and a call.
    (i64.store (i32.const 8) (local.get 1))
    (i64.add
      (i64.load (i32.const 8))
      (call $g (local.get 0) (local.get 1))))
  (func $g (param i64 i64) (result i64)
    (i64.sub (local.get 0) (i64.mul (local.get 1) (i64.const 3)))))"#;

fn two_params(a: i64, b: i64) -> i64 {
    if (a as u64).wrapping_mul(b as u64) > 100 || b == 0 || ((a ^ b) as u64) < 3 {
        b.wrapping_add(a.wrapping_sub(b.wrapping_mul(3)))
    } else {
        b.wrapping_sub(a)
    }
}

#[test]
fn both_register_parameters_survive_the_prelude() {
    both_modes(|guard| {
        let (mut store, instance) = instantiate(guard, TWO_PARAMS);
        let f = typed::<_, (i64, i64), i64>(&mut store, &instance, "f");
        for (a, b) in [
            (0, 0),
            (1, 2),
            (2, 9),
            (3, 30),
            (4, 9),
            (5, 20),
            (6, 7),
            (7, 6),
            (10, 11),
            (-1, -2),
            (1 << 40, 3),
            (3, 1 << 40),
        ] {
            assert_eq!(
                f.call(&mut store, (a, b)).unwrap(),
                two_params(a, b),
                "f({a}, {b})"
            );
        }
    });
}

/// A function without results whose prelude returns when its counter
/// reached zero; otherwise it counts in a global and recurses.
const NO_RESULTS: &str = r#"(module
  (global $calls (mut i32) (i32.const 0))
  (func $count (export "count") (param i32)
    block
      local.get 0
      i32.const 0
      i32.ne
      br_if 0
      return
    end
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (call $count (i32.sub (local.get 0) (i32.const 1))))
  (func (export "calls") (result i32) (global.get $calls)))"#;

#[test]
fn a_prelude_without_results() {
    let (mut store, instance) = instantiate(false, NO_RESULTS);
    let count = typed::<_, i32, ()>(&mut store, &instance, "count");
    let calls = typed::<_, (), i32>(&mut store, &instance, "calls");
    count.call(&mut store, 0).unwrap();
    assert_eq!(calls.call(&mut store, ()).unwrap(), 0);
    count.call(&mut store, 1000).unwrap();
    assert_eq!(calls.call(&mut store, ()).unwrap(), 1000);
}

/// `$sum` adds its arguments down to zero, starting with a prelude (and
/// calling, so that it has one); it is reached by tail calls, one of them (`$wide`, twelve arguments) through
/// an argument area the engine grew, whose return goes through the
/// tail-call return stub.
const TAIL: &str = r#"(module
  (func $sum (param $n i64) (param $acc i64) (result i64)
    block
      local.get $n
      i64.eqz
      i32.eqz
      br_if 0
      local.get $acc
      return
    end
    (return_call $sum
      (i64.sub (local.get $n) (i64.const 1))
      (i64.add (local.get $acc) (call $id (local.get $n)))))
  (func $id (param i64) (result i64) (local.get 0))
  (func $wide (param i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64) (result i64)
    block
      local.get 0
      i64.eqz
      i32.eqz
      br_if 0
      local.get 1
      return
    end
    (return_call $wide
      (i64.sub (local.get 0) (i64.const 1))
      (i64.add (local.get 1) (call $id (i64.add (local.get 2) (local.get 11))))
      (local.get 2) (local.get 3) (local.get 4) (local.get 5) (local.get 6)
      (local.get 7) (local.get 8) (local.get 9) (local.get 10) (local.get 11)))
  (func $to_sum (export "to_sum") (param i64) (result i64)
    (return_call $sum (local.get 0) (i64.const 0)))
  (func $to_wide (export "to_wide") (param i64) (result i64)
    (return_call $wide (local.get 0) (i64.const 0) (i64.const 5)
      (i64.const 0) (i64.const 0) (i64.const 0) (i64.const 0) (i64.const 0)
      (i64.const 0) (i64.const 0) (i64.const 0) (i64.const 1000)))
  (func (export "nested") (param i64) (result i64)
    (i64.add
      (i64.mul (call $to_wide (local.get 0)) (i64.const 3))
      (call $to_sum (local.get 0)))))"#;

#[test]
fn preludes_reached_by_tail_calls() {
    both_modes(|guard| {
        let (mut store, instance) = instantiate(guard, TAIL);
        let to_sum = typed::<_, i64, i64>(&mut store, &instance, "to_sum");
        let to_wide = typed::<_, i64, i64>(&mut store, &instance, "to_wide");
        let nested = typed::<_, i64, i64>(&mut store, &instance, "nested");
        for n in [0i64, 1, 2, 100, 10_000] {
            let sum = n * (n + 1) / 2;
            let wide = 1005 * n;
            assert_eq!(to_sum.call(&mut store, n).unwrap(), sum, "to_sum({n})");
            assert_eq!(to_wide.call(&mut store, n).unwrap(), wide, "to_wide({n})");
            assert_eq!(
                nested.call(&mut store, n).unwrap(),
                3 * wide + sum,
                "nested({n})"
            );
        }
    });
}

/// Unbounded recursion through a prelude (a negative argument never meets
/// the test) and a trap and an exception past a prelude.
const DEEP: &str = r#"(module
  (tag $e (param i32))
  (func $down (export "down") (param i32) (result i32)
    block
      local.get 0
      i32.const 0
      i32.ne
      br_if 0
      i32.const 7
      return
    end
    (i32.add (call $down (i32.sub (local.get 0) (i32.const 1))) (i32.const 1)))
  (func $trap_below (export "trap_below") (param i32) (result i32)
    block
      local.get 0
      i32.const 0
      i32.ne
      br_if 0
      i32.const 0
      return
    end
    (i32.add (call $divide (local.get 0)) (i32.const 1)))
  (func $divide (param i32) (result i32)
    (i32.div_s (i32.const 100) (i32.sub (local.get 0) (i32.const 5))))
  (func $throw_below (export "throw_below") (param i32) (result i32)
    block
      local.get 0
      i32.const 0
      i32.ne
      br_if 0
      i32.const -1
      return
    end
    block $caught (result i32)
      (try_table (catch $e $caught)
        (call $thrower (local.get 0)))
      i32.const 0
      return
    end
    (i32.add (local.get 0)))
  (func $thrower (param i32) (throw $e (i32.mul (local.get 0) (i32.const 10)))))"#;

#[test]
fn deep_recursion_traps_and_exceptions_past_a_prelude() {
    both_modes(|guard| {
        let (mut store, instance) = instantiate(guard, DEEP);
        let down = typed::<_, i32, i32>(&mut store, &instance, "down");
        assert_eq!(down.call(&mut store, 0).unwrap(), 7);
        assert_eq!(down.call(&mut store, 1000).unwrap(), 1007);
        let err = down.call(&mut store, -1).unwrap_err();
        assert_eq!(err.trap(), Some(Trap::StackOverflow), "{err}");
        // The store is usable after the overflow.
        assert_eq!(down.call(&mut store, 3).unwrap(), 10);

        let trap_below = typed::<_, i32, i32>(&mut store, &instance, "trap_below");
        assert_eq!(trap_below.call(&mut store, 0).unwrap(), 0);
        assert_eq!(trap_below.call(&mut store, 10).unwrap(), 21);
        let err = trap_below.call(&mut store, 5).unwrap_err();
        assert_eq!(err.trap(), Some(Trap::IntegerDivideByZero), "{err}");
        let frames: Vec<u32> = err.backtrace().iter().map(|f| f.func_index).collect();
        assert_eq!(frames, [2, 1], "{err}");

        let throw_below = typed::<_, i32, i32>(&mut store, &instance, "throw_below");
        assert_eq!(throw_below.call(&mut store, 0).unwrap(), -1);
        assert_eq!(throw_below.call(&mut store, 4).unwrap(), 44);
    });
}

/// C's `if (!p) return;`: functions without results whose body is one
/// block, left by a `br_if` at the top, so that the branch lands on the
/// function's `end`. `$visit` walks a linked list (value, next) built by
/// `build`, recursively, adding the values to `$sum`; `$visit_second`
/// tests its second parameter, `$visit_wide` an `i64`, and `$visit_even`
/// returns from an inner block too (for an odd pointer). `$not_closing`
/// has code after its block, and `$two_blocks` a second block, so their
/// branches are no returns.
const BLOCK_RETURNS: &str = r#"(module
  (memory 1)
  (global $sum (mut i64) (i64.const 0))
  (global $after (mut i32) (i32.const 0))
  (func (export "build") (param $n i32)
    (local $i i32) (local $at i32)
    (loop $fill
      (local.set $at (i32.add (i32.const 8) (i32.shl (local.get $i) (i32.const 3))))
      (i32.store (local.get $at) (i32.add (i32.mul (local.get $i) (i32.const 3)) (i32.const 1)))
      (i32.store offset=4 (local.get $at)
        (select (i32.add (local.get $at) (i32.const 8)) (i32.const 0)
          (i32.lt_u (i32.add (local.get $i) (i32.const 1)) (local.get $n))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $fill (i32.lt_u (local.get $i) (local.get $n)))))
  (func $visit (export "visit") (param $p i32)
    block
      local.get $p
      i32.eqz
      br_if 0
      (global.set $sum (i64.add (global.get $sum) (i64.load32_u (local.get $p))))
      (call $visit (i32.load offset=4 (local.get $p)))
    end)
  (func $visit_second (export "visit_second") (param $scale i32) (param $p i32)
    block
      local.get $p
      i32.eqz
      br_if 0
      (global.set $sum (i64.add (global.get $sum)
        (i64.extend_i32_u (i32.mul (local.get $scale) (i32.load (local.get $p))))))
      (call $visit_second (local.get $scale) (i32.load offset=4 (local.get $p)))
    end)
  (func $visit_wide (export "visit_wide") (param $p i64)
    block
      local.get $p
      i64.eqz
      br_if 0
      (global.set $sum (i64.add (global.get $sum) (i64.load32_u (i32.wrap_i64 (local.get $p)))))
      (call $visit_wide (i64.load32_u offset=4 (i32.wrap_i64 (local.get $p))))
    end)
  (func $visit_even (export "visit_even") (param $p i32)
    block
      local.get $p
      i32.eqz
      br_if 0
      block
        local.get $p
        i32.const 1
        i32.and
        br_if 1
      end
      (global.set $sum (i64.add (global.get $sum) (i64.load32_u (local.get $p))))
      (call $visit_even (i32.load offset=4 (local.get $p)))
    end)
  (func $not_closing (export "not_closing") (param $p i32)
    block
      local.get $p
      i32.eqz
      br_if 0
      (call $visit (local.get $p))
    end
    (global.set $after (i32.add (global.get $after) (i32.const 1))))
  (func $two_blocks (export "two_blocks") (param $p i32)
    block
      local.get $p
      i32.eqz
      br_if 0
      (call $visit (local.get $p))
    end
    block
      (global.set $after (i32.add (global.get $after) (i32.const 1)))
    end)
  (func (export "sum") (result i64) (global.get $sum))
  (func (export "after") (result i32) (global.get $after)))"#;

/// A call of one of `BLOCK_RETURNS`'s functions on a list (0 for none).
type Visit<'a> = dyn FnMut(&mut Store<()>, i32) + 'a;

#[test]
fn a_branch_to_the_block_that_closes_the_function_returns() {
    both_modes(|guard| {
        let (mut store, instance) = instantiate(guard, BLOCK_RETURNS);
        let build = typed::<_, i32, ()>(&mut store, &instance, "build");
        let visit = typed::<_, i32, ()>(&mut store, &instance, "visit");
        let visit_second = typed::<_, (i32, i32), ()>(&mut store, &instance, "visit_second");
        let visit_wide = typed::<_, i64, ()>(&mut store, &instance, "visit_wide");
        let visit_even = typed::<_, i32, ()>(&mut store, &instance, "visit_even");
        let not_closing = typed::<_, i32, ()>(&mut store, &instance, "not_closing");
        let two_blocks = typed::<_, i32, ()>(&mut store, &instance, "two_blocks");
        let sum = typed::<_, (), i64>(&mut store, &instance, "sum");
        let after = typed::<_, (), i32>(&mut store, &instance, "after");
        let mut expected = 0i64;
        let mut afters = 0;
        for n in [1u32, 2, 17, 1000] {
            build.call(&mut store, n as i32).unwrap();
            let values: i64 = (0..n as i64).map(|i| 3 * i + 1).sum();
            // Each function on the empty list (and for `$visit_even` an odd
            // pointer), then the whole one: what it adds to `$sum`.
            let runs: [(&str, i64, &mut Visit<'_>); 6] = [
                ("visit", values, &mut |st, p| visit.call(st, p).unwrap()),
                ("visit_second", 5 * values, &mut |st, p| {
                    visit_second.call(st, (5, p)).unwrap()
                }),
                ("visit_wide", values, &mut |st, p| {
                    visit_wide.call(st, i64::from(p)).unwrap()
                }),
                ("visit_even", values, &mut |st, p| {
                    if p == 0 {
                        visit_even.call(&mut *st, 9).unwrap();
                    }
                    visit_even.call(st, p).unwrap()
                }),
                // Past their first block, these still count, both ways.
                ("not_closing", values, &mut |st, p| {
                    not_closing.call(st, p).unwrap()
                }),
                ("two_blocks", values, &mut |st, p| {
                    two_blocks.call(st, p).unwrap()
                }),
            ];
            for (name, adds, run) in runs {
                run(&mut store, 0);
                run(&mut store, 8);
                expected += adds;
                assert_eq!(
                    sum.call(&mut store, ()).unwrap(),
                    expected,
                    "{name}, {n} nodes"
                );
            }
            afters += 4;
            assert_eq!(after.call(&mut store, ()).unwrap(), afters, "{n} nodes");
        }
        // A bad pointer past the prelude traps.
        let err = visit.call(&mut store, 65_534).unwrap_err();
        assert_eq!(err.trap(), Some(Trap::MemoryOutOfBounds), "{err}");
    });
}

#[test]
fn the_return_to_the_closing_block_comes_before_the_prologue() {
    both_modes(|guard| {
        // `$visit`, `$visit_second`, `$visit_wide`: `test; jne; ret`, then
        // the prologue's `push rbp`.
        for index in [1, 2, 3] {
            let code: Vec<Mnemonic> = code_of(BLOCK_RETURNS, index, guard)
                .iter()
                .map(|i| i.mnemonic())
                .collect();
            assert_eq!(
                code[..4],
                [Mnemonic::Test, Mnemonic::Jne, Mnemonic::Ret, Mnemonic::Push],
                "function {index}: {code:?}"
            );
        }
        // `$not_closing` and `$two_blocks` start with their prologue.
        for index in [5, 6] {
            let code = code_of(BLOCK_RETURNS, index, guard);
            assert_eq!(code[0].mnemonic(), Mnemonic::Push, "function {index}");
        }
    });
}

/// The instructions of function `index` of `wat`, compiled with explicit
/// bounds checks or guard regions.
fn code_of(wat: &str, index: usize, guard_region: bool) -> Vec<Instruction> {
    let options = CompileOptions {
        guard_region,
        ..Default::default()
    };
    function_code(wat, index, &options)
}

#[test]
fn the_early_return_comes_before_the_prologue() {
    both_modes(|guard| {
        // `$fib`: `cmp ecx, 2; jge; lea eax, [rcx]; ret`, then the prologue.
        let fib: Vec<Mnemonic> = code_of(FIB, 0, guard)
            .iter()
            .map(|i| i.mnemonic())
            .collect();
        assert_eq!(
            fib[..4],
            [Mnemonic::Cmp, Mnemonic::Jge, Mnemonic::Lea, Mnemonic::Ret],
            "{fib:?}"
        );
        assert_eq!(fib[4], Mnemonic::Push, "{fib:?}");
        // A function that starts otherwise starts with its prologue.
        let fib_sum = code_of(FIB, 2, guard);
        assert_eq!(fib_sum[0].mnemonic(), Mnemonic::Push);
    });
}
