;; The VM of `tail_vm.wat` with call threading: a dispatch loop calls
;; each instruction's handler through the table (`call_indirect`), and the
;; handler returns the machine's state (pc, a, b, c); `halt` returns pc -1.
;; The program (pairs of i32: opcode, immediate, at pc * 8):
;;   0: INC_B 3          b += 3
;;   1: ADD              a += b
;;   2: XSHR 7           a ^= a >>u 7
;;   3: MULB 0x9E3779B1  b *= 0x9E3779B1 (zero-extended)
;;   4: DEC_C            c -= 1
;;   5: JNZ_C 0          if c != 0 goto 0
;;   6: HALT             result a
;; `run_n(n)` starts with pc = 0, a = 0, b = 1, c = n (n >= 1) and runs
;; 6n + 1 instructions.
(module
  (type $h (func (param $pc i32) (param $a i64) (param $b i64) (param $c i64) (result i32 i64 i64 i64)))
  (memory 1)
  (data (i32.const 0) "\06\00\00\00\03\00\00\00\01\00\00\00\00\00\00\00\03\00\00\00\07\00\00\00\02\00\00\00\b1\79\37\9e\04\00\00\00\00\00\00\00\05\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00")
  (table 7 funcref)
  (elem (i32.const 0) $halt $add $mulb $xshr $dec_c $jnz_c $inc_b)

  (func $halt (type $h) (param $pc i32) (param $a i64) (param $b i64) (param $c i64) (result i32 i64 i64 i64)
    (i32.const -1) (local.get $a) (local.get $b) (local.get $c))
  (func $add (type $h) (param $pc i32) (param $a i64) (param $b i64) (param $c i64) (result i32 i64 i64 i64)
    (i32.add (local.get $pc) (i32.const 1)) (i64.add (local.get $a) (local.get $b)) (local.get $b) (local.get $c))
  (func $mulb (type $h) (param $pc i32) (param $a i64) (param $b i64) (param $c i64) (result i32 i64 i64 i64)
    (i32.add (local.get $pc) (i32.const 1)) (local.get $a) (i64.mul (local.get $b) (i64.extend_i32_u (i32.load offset=4 (i32.shl (local.get $pc) (i32.const 3))))) (local.get $c))
  (func $xshr (type $h) (param $pc i32) (param $a i64) (param $b i64) (param $c i64) (result i32 i64 i64 i64)
    (i32.add (local.get $pc) (i32.const 1)) (i64.xor (local.get $a) (i64.shr_u (local.get $a) (i64.extend_i32_u (i32.load offset=4 (i32.shl (local.get $pc) (i32.const 3)))))) (local.get $b) (local.get $c))
  (func $dec_c (type $h) (param $pc i32) (param $a i64) (param $b i64) (param $c i64) (result i32 i64 i64 i64)
    (i32.add (local.get $pc) (i32.const 1)) (local.get $a) (local.get $b) (i64.sub (local.get $c) (i64.const 1)))
  (func $jnz_c (type $h) (param $pc i32) (param $a i64) (param $b i64) (param $c i64) (result i32 i64 i64 i64)
    (select (i32.wrap_i64 (i64.extend_i32_u (i32.load offset=4 (i32.shl (local.get $pc) (i32.const 3))))) (i32.add (local.get $pc) (i32.const 1)) (i64.ne (local.get $c) (i64.const 0))) (local.get $a) (local.get $b) (local.get $c))
  (func $inc_b (type $h) (param $pc i32) (param $a i64) (param $b i64) (param $c i64) (result i32 i64 i64 i64)
    (i32.add (local.get $pc) (i32.const 1)) (local.get $a) (i64.add (local.get $b) (i64.extend_i32_u (i32.load offset=4 (i32.shl (local.get $pc) (i32.const 3))))) (local.get $c))
  (func $run_n (export "run_n") (param $n i64) (result i64)
    (local $pc i32) (local $a i64) (local $b i64) (local $c i64)
    (local.set $b (i64.const 1))
    (local.set $c (local.get $n))
    (loop $next
      (call_indirect (type $h) (local.get $pc) (local.get $a) (local.get $b) (local.get $c)
        (i32.load (i32.shl (local.get $pc) (i32.const 3))))
      (local.set $c) (local.set $b) (local.set $a) (local.set $pc)
      (br_if $next (i32.ge_s (local.get $pc) (i32.const 0))))
    (local.get $a))
  ;; The benchmark: ten million rounds, 60,000,001 instructions.
  (func (export "run") (result i64) (call $run_n (i64.const 10000000))))
