;; Host <-> wasm call overhead.
;;   empty:        called from the host N times (host -> wasm).
;;   call_host n:  calls the imported empty host function n times (wasm -> host).
;;   call_wasm n:  calls an empty wasm function n times (wasm -> wasm, for scale).
(module
  (import "env" "nop" (func $nop))
  (func $empty (export "empty"))
  (func (export "call_host") (param $n i32)
    (block $done
      (loop $again
        (br_if $done (i32.eqz (local.get $n)))
        (call $nop)
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $again))))
  (func (export "call_wasm") (param $n i32)
    (block $done
      (loop $again
        (br_if $done (i32.eqz (local.get $n)))
        (call $empty)
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $again)))))
