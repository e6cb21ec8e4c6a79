;; The exceptions benchmark of the harness (`--only exceptions`): the cost
;; of a throw caught `depth` frames above it, and of the same calls when
;; nothing throws, with and without `try_table`s around them.
;;
;; Every export takes (depth, iters), runs its pattern `iters` times and
;; returns a checksum that depends only on depth and iters:
;;
;; - `throw`: call $down_throw, which recurses `depth` frames and throws
;;   $e(7) there; a `try_table` in the loop catches it. Returns 7 * iters.
;; - `call`: call $down, the same recursion returning 1 + depth, with no
;;   `try_table` anywhere. Returns (depth + 1) * iters.
;; - `call_try`: `call` inside a `try_table` at the top. Same checksum.
;; - `call_try_every`: call $down_try, whose every frame wraps its call in
;;   a `try_table` with a cleanup handler (`catch_all_ref`, then
;;   `throw_ref`: what compilers emit for destructors). Same checksum.
;; - `throw_cleanup`: `throw` through frames of $down_try_throw, each with
;;   that cleanup handler, so every frame catches and rethrows. 7 * iters.
(module
  (tag $e (param i32))

  (func $down (param $n i32) (result i32)
    (if (i32.eqz (local.get $n)) (then (return (i32.const 1))))
    (i32.add (call $down (i32.sub (local.get $n) (i32.const 1))) (i32.const 1)))

  (func $down_throw (param $n i32) (result i32)
    (if (i32.eqz (local.get $n)) (then (throw $e (i32.const 7))))
    (i32.add (call $down_throw (i32.sub (local.get $n) (i32.const 1))) (i32.const 1)))

  (func $down_try (param $n i32) (result i32)
    (if (i32.eqz (local.get $n)) (then (return (i32.const 1))))
    (block $cleanup (result exnref)
      (try_table (result i32) (catch_all_ref $cleanup)
        (call $down_try (i32.sub (local.get $n) (i32.const 1))))
      (return (i32.add (i32.const 1))))
    (throw_ref))

  (func $down_try_throw (param $n i32) (result i32)
    (if (i32.eqz (local.get $n)) (then (throw $e (i32.const 7))))
    (block $cleanup (result exnref)
      (try_table (result i32) (catch_all_ref $cleanup)
        (call $down_try_throw (i32.sub (local.get $n) (i32.const 1))))
      (return (i32.add (i32.const 1))))
    (throw_ref))

  (func (export "throw") (param $depth i32) (param $iters i32) (result i32)
    (local $sum i32)
    (loop $next
      (local.set $sum
        (i32.add (local.get $sum)
          (block $caught (result i32)
            (try_table (result i32) (catch $e $caught)
              (call $down_throw (local.get $depth))))))
      (br_if $next (local.tee $iters (i32.sub (local.get $iters) (i32.const 1)))))
    (local.get $sum))

  (func (export "throw_cleanup") (param $depth i32) (param $iters i32) (result i32)
    (local $sum i32)
    (loop $next
      (local.set $sum
        (i32.add (local.get $sum)
          (block $caught (result i32)
            (try_table (result i32) (catch $e $caught)
              (call $down_try_throw (local.get $depth))))))
      (br_if $next (local.tee $iters (i32.sub (local.get $iters) (i32.const 1)))))
    (local.get $sum))

  (func (export "call") (param $depth i32) (param $iters i32) (result i32)
    (local $sum i32)
    (loop $next
      (local.set $sum (i32.add (local.get $sum) (call $down (local.get $depth))))
      (br_if $next (local.tee $iters (i32.sub (local.get $iters) (i32.const 1)))))
    (local.get $sum))

  (func (export "call_try") (param $depth i32) (param $iters i32) (result i32)
    (local $sum i32)
    (loop $next
      (local.set $sum
        (i32.add (local.get $sum)
          (block $caught (result i32)
            (try_table (result i32) (catch $e $caught)
              (call $down (local.get $depth))))))
      (br_if $next (local.tee $iters (i32.sub (local.get $iters) (i32.const 1)))))
    (local.get $sum))

  (func (export "call_try_every") (param $depth i32) (param $iters i32) (result i32)
    (local $sum i32)
    (loop $next
      (local.set $sum (i32.add (local.get $sum) (call $down_try (local.get $depth))))
      (br_if $next (local.tee $iters (i32.sub (local.get $iters) (i32.const 1)))))
    (local.get $sum)))
