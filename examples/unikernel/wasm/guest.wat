;; The guest the unikernel runs. Regenerate guest.wasm after editing:
;;   WASMKERN_BLESS=1 cargo test --release --test unikernel guest_wasm
;; (the root test `guest_wasm_matches_wat` checks the two agree).
(module
  ;; Writes `len` bytes of this module's memory, from `ptr`, to the serial port.
  (import "env" "print" (func $print (param $ptr i32) (param $len i32)))

  (memory (export "memory") 1)
  (data (i32.const 16) "hello from wasm, through a host call")

  ;; Recursion: the naive Fibonacci number.
  (func $fib (export "fib") (param $n i32) (result i32)
    (if (result i32) (i32.lt_s (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else
        (i32.add
          (call $fib (i32.sub (local.get $n) (i32.const 1)))
          (call $fib (i32.sub (local.get $n) (i32.const 2)))))))

  ;; A loop over linear memory: writes i*i as i64 for i in 0..n from
  ;; address 1024, then reads the values back and returns their sum.
  (func (export "sum_squares") (param $n i32) (result i64)
    (local $i i32) (local $sum i64)
    (block $done
      (loop $write
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (i64.store offset=1024
          (i32.shl (local.get $i) (i32.const 3))
          (i64.mul (i64.extend_i32_u (local.get $i)) (i64.extend_i32_u (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $write)))
    (local.set $i (i32.const 0))
    (block $done
      (loop $read
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $sum
          (i64.add (local.get $sum)
            (i64.load offset=1024 (i32.shl (local.get $i) (i32.const 3)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $read)))
    (local.get $sum))

  ;; f64: the sum of sqrt(i) for i in 1..=n, in that order.
  (func (export "sum_sqrt") (param $n i32) (result f64)
    (local $i i32) (local $acc f64)
    (local.set $i (i32.const 1))
    (block $done
      (loop $next
        (br_if $done (i32.gt_s (local.get $i) (local.get $n)))
        (local.set $acc
          (f64.add (local.get $acc) (f64.sqrt (f64.convert_i32_s (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $acc))

  ;; f32 through memory: stores x_i = i * 0.5 for i in 0..n from address
  ;; 4096, then returns the dot product of x with itself.
  (func (export "dot_f32") (param $n i32) (result f32)
    (local $i i32) (local $acc f32) (local $x f32)
    (block $done
      (loop $write
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (f32.store offset=4096
          (i32.shl (local.get $i) (i32.const 2))
          (f32.mul (f32.convert_i32_u (local.get $i)) (f32.const 0.5)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $write)))
    (local.set $i (i32.const 0))
    (block $done
      (loop $read
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $x (f32.load offset=4096 (i32.shl (local.get $i) (i32.const 2))))
        (local.set $acc (f32.add (local.get $acc) (f32.mul (local.get $x) (local.get $x))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $read)))
    (local.get $acc))

  ;; The hypotenuse, with f64.sqrt: hypot(3, 4) = 5.
  (func (export "hypot") (param $a f64) (param $b f64) (result f64)
    (f64.sqrt
      (f64.add
        (f64.mul (local.get $a) (local.get $a))
        (f64.mul (local.get $b) (local.get $b)))))

  ;; A host call: prints the greeting in memory and returns its length.
  (func (export "greet") (result i32)
    (call $print (i32.const 16) (i32.const 36))
    (i32.const 36))

  ;; A trap: a load past the end of the one-page memory.
  (func (export "out_of_bounds") (result i32)
    (i32.load (i32.const 65536)))
)
