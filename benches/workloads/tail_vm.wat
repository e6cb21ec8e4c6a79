;; A threaded-code VM: every handler ends by tail-calling the next
;; instruction's handler through the table (`return_call_indirect`), so
;; the interpreter loop is a chain of jumps. `call_vm.wat` is the same VM
;; with a dispatch loop and `call_indirect`.
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
  (type $h (func (param $pc i32) (param $a i64) (param $b i64) (param $c i64) (result i64)))
  (memory 1)
  (data (i32.const 0) "\06\00\00\00\03\00\00\00\01\00\00\00\00\00\00\00\03\00\00\00\07\00\00\00\02\00\00\00\b1\79\37\9e\04\00\00\00\00\00\00\00\05\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00")
  (table 7 funcref)
  (elem (i32.const 0) $halt $add $mulb $xshr $dec_c $jnz_c $inc_b)

  (func $halt (type $h) (param $pc i32) (param $a i64) (param $b i64) (param $c i64) (result i64)
    (local.get $a))
  (func $add (type $h) (param $pc i32) (param $a i64) (param $b i64) (param $c i64) (result i64)
    (return_call_indirect (type $h) (i32.add (local.get $pc) (i32.const 1)) (i64.add (local.get $a) (local.get $b)) (local.get $b) (local.get $c)
      (i32.load (i32.shl (i32.add (local.get $pc) (i32.const 1)) (i32.const 3)))))
  (func $mulb (type $h) (param $pc i32) (param $a i64) (param $b i64) (param $c i64) (result i64)
    (return_call_indirect (type $h) (i32.add (local.get $pc) (i32.const 1)) (local.get $a) (i64.mul (local.get $b) (i64.extend_i32_u (i32.load offset=4 (i32.shl (local.get $pc) (i32.const 3))))) (local.get $c)
      (i32.load (i32.shl (i32.add (local.get $pc) (i32.const 1)) (i32.const 3)))))
  (func $xshr (type $h) (param $pc i32) (param $a i64) (param $b i64) (param $c i64) (result i64)
    (return_call_indirect (type $h) (i32.add (local.get $pc) (i32.const 1)) (i64.xor (local.get $a) (i64.shr_u (local.get $a) (i64.extend_i32_u (i32.load offset=4 (i32.shl (local.get $pc) (i32.const 3)))))) (local.get $b) (local.get $c)
      (i32.load (i32.shl (i32.add (local.get $pc) (i32.const 1)) (i32.const 3)))))
  (func $dec_c (type $h) (param $pc i32) (param $a i64) (param $b i64) (param $c i64) (result i64)
    (return_call_indirect (type $h) (i32.add (local.get $pc) (i32.const 1)) (local.get $a) (local.get $b) (i64.sub (local.get $c) (i64.const 1))
      (i32.load (i32.shl (i32.add (local.get $pc) (i32.const 1)) (i32.const 3)))))
  (func $jnz_c (type $h) (param $pc i32) (param $a i64) (param $b i64) (param $c i64) (result i64)
    (return_call_indirect (type $h) (select (i32.wrap_i64 (i64.extend_i32_u (i32.load offset=4 (i32.shl (local.get $pc) (i32.const 3))))) (i32.add (local.get $pc) (i32.const 1)) (i64.ne (local.get $c) (i64.const 0))) (local.get $a) (local.get $b) (local.get $c)
      (i32.load (i32.shl (select (i32.wrap_i64 (i64.extend_i32_u (i32.load offset=4 (i32.shl (local.get $pc) (i32.const 3))))) (i32.add (local.get $pc) (i32.const 1)) (i64.ne (local.get $c) (i64.const 0))) (i32.const 3)))))
  (func $inc_b (type $h) (param $pc i32) (param $a i64) (param $b i64) (param $c i64) (result i64)
    (return_call_indirect (type $h) (i32.add (local.get $pc) (i32.const 1)) (local.get $a) (i64.add (local.get $b) (i64.extend_i32_u (i32.load offset=4 (i32.shl (local.get $pc) (i32.const 3))))) (local.get $c)
      (i32.load (i32.shl (i32.add (local.get $pc) (i32.const 1)) (i32.const 3)))))
  (func $run_n (export "run_n") (param $n i64) (result i64)
    (return_call_indirect (type $h) (i32.const 0) (i64.const 0) (i64.const 1) (local.get $n)
      (i32.load (i32.const 0))))
  ;; The benchmark: ten million rounds, 60,000,001 instructions.
  (func (export "run") (result i64) (call $run_n (i64.const 10000000))))
