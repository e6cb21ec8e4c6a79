//! Frames of every size, up to and past the whole wasm stack: a function's
//! prologue checks its frame against the stack limit before it moves `rsp`,
//! so however big the frame, nothing is written outside the store's wasm
//! stack and the call ends with "call stack exhausted".
//!
//! The store allocates its wasm stack from the global allocator. This test
//! binary's allocator surrounds every allocation of exactly [`STACK`] bytes
//! (the size the tests give `Config::max_wasm_stack`, which nothing else
//! allocates) with a [`RED_ZONE`] of canary bytes on each side, and the
//! tests check after every call that the canaries are intact. A frame
//! allocated before its check would move `rsp` below the stack, where the
//! trap path's own return addresses and saved registers land in the zone.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use wasmkern::{Config, Engine, Instance, Module, Store, Trap};

/// The wasm stack size these tests configure (a multiple of 16 that no
/// other allocation of the test binary has).
const STACK: usize = 200_000;
/// Canary bytes on each side of a wasm stack.
const RED_ZONE: usize = 1 << 20;
const CANARY: u8 = 0xa5;

/// Start addresses of the live wasm stacks' lower red zones (0: free slot).
static ZONES: [AtomicUsize; 64] = [const { AtomicUsize::new(0) }; 64];

struct RedZoneAllocator;

// SAFETY: every allocation is forwarded to `System` with a layout at least
// as large and aligned as requested; a wasm stack's block is `RED_ZONE`
// bytes larger on each side and the pointer handed out lies `RED_ZONE`
// bytes into it, which `dealloc` undoes with the same layout.
unsafe impl GlobalAlloc for RedZoneAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() != STACK {
            // SAFETY: forwarded with the caller's valid layout.
            return unsafe { System.alloc(layout) };
        }
        let Ok(outer) = Layout::from_size_align(STACK + 2 * RED_ZONE, layout.align()) else {
            return std::ptr::null_mut();
        };
        // SAFETY: `outer` has a non-zero size.
        let block = unsafe { System.alloc(outer) };
        if block.is_null() {
            return block;
        }
        // SAFETY: `block` is valid for `outer.size()` bytes.
        unsafe {
            std::ptr::write_bytes(block, CANARY, RED_ZONE);
            std::ptr::write_bytes(block.add(RED_ZONE + STACK), CANARY, RED_ZONE);
        }
        // A stack beyond the 64 slots is simply not watched.
        let _ = ZONES.iter().any(|z| {
            z.compare_exchange(0, block as usize, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        });
        // SAFETY: within the block allocated above.
        unsafe { block.add(RED_ZONE) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if layout.size() != STACK {
            // SAFETY: allocated by `System` with this layout.
            return unsafe { System.dealloc(ptr, layout) };
        }
        // SAFETY: `alloc` handed out `RED_ZONE` bytes into the block.
        let block = unsafe { ptr.sub(RED_ZONE) };
        for z in &ZONES {
            let _ = z.compare_exchange(block as usize, 0, Ordering::SeqCst, Ordering::SeqCst);
        }
        let outer = Layout::from_size_align(STACK + 2 * RED_ZONE, layout.align())
            .expect("the layout alloc accepted");
        // SAFETY: allocated by `System` with `outer` in `alloc`.
        unsafe { System.dealloc(block, outer) }
    }
}

#[global_allocator]
static ALLOCATOR: RedZoneAllocator = RedZoneAllocator;

/// Panics unless every byte of every live wasm stack's red zones still
/// holds the canary.
fn assert_red_zones_intact(what: &str) {
    for z in &ZONES {
        let block = z.load(Ordering::SeqCst);
        if block == 0 {
            continue;
        }
        for (side, start) in [("below", block), ("above", block + RED_ZONE + STACK)] {
            // SAFETY: the zone is part of a live block this allocator made:
            // this binary runs one test, on one thread, so no store is
            // dropped while its zones are read.
            let zone = unsafe { std::slice::from_raw_parts(start as *const u8, RED_ZONE) };
            if let Some(i) = zone.iter().position(|&b| b != CANARY) {
                let distance = if side == "below" { RED_ZONE - i } else { i };
                panic!("{what}: wrote {distance} bytes {side} the wasm stack");
            }
        }
    }
}

fn engine() -> Engine {
    let mut config = Config::new();
    config.max_wasm_stack(STACK);
    Engine::new(&config).unwrap()
}

/// A recursive function whose frame holds `locals` declared locals of
/// type `ty` (never pinned when `v128`) and that counts its depth in the
/// global `depth`; `rec(n)` recurses `n` times.
fn recursive_module(ty: &str, locals: usize) -> Vec<u8> {
    let decls = format!("(local {})", vec![ty; locals].join(" "));
    let wat = format!(
        r#"(module
            (global $depth (export "depth") (mut i32) (i32.const 0))
            (func $rec (export "rec") (param i32) (result i32)
                {decls}
                (global.set $depth (i32.add (global.get $depth) (i32.const 1)))
                (if (result i32) (i32.eqz (local.get 0))
                    (then (i32.const 0))
                    (else (call $rec (i32.sub (local.get 0) (i32.const 1)))))))"#
    );
    wat::parse_str(&wat).unwrap()
}

/// What running `rec(n)` on a fresh store gave: the trap, if any, and the
/// depth reached.
fn run(engine: &Engine, wasm: &[u8], n: i32) -> (Option<Trap>, i32) {
    let module = Module::new(engine, wasm).unwrap();
    let mut store = Store::new(engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let rec = instance
        .get_typed_func::<i32, i32>(&mut store, "rec")
        .unwrap();
    let result = rec.call(&mut store, n);
    assert_red_zones_intact(&format!("rec({n})"));
    let depth = instance.get_global(&mut store, "depth").unwrap();
    let depth = depth.get(&mut store).i32().unwrap();
    let trap = result
        .err()
        .map(|e| e.trap().expect("only a trap can end rec"));
    // The store stays usable after an exhausted stack.
    if trap.is_some() {
        let again = rec.call(&mut store, 0);
        assert_red_zones_intact(&format!("rec(0) after rec({n})"));
        let _ = again;
    }
    (trap, depth)
}

/// Frame bytes of `rec` with `locals` locals of `bytes` each, as the frame
/// layout gives it, give or take the saved registers and operand slots.
fn approx_frame(locals: usize, bytes: usize) -> usize {
    locals * bytes
}

/// One test, so that no other thread frees a stack whose red zones
/// [`assert_red_zones_intact`] reads.
#[test]
fn frames_stay_inside_the_stack() {
    declared_locals_of_every_size();
    integer_locals_and_operands();
}

fn declared_locals_of_every_size() {
    let engine = engine();
    // Every count of v128 locals up to 64, then sizes around the 32 KiB
    // margin, around the whole stack, and far past it.
    let mut counts: Vec<usize> = (0..=64).collect();
    for around in [256, 1024, 2048, 4096, STACK / 16] {
        counts.extend(around.saturating_sub(8)..=around + 8);
    }
    counts.extend([3_000, 5_000, 8_000, 20_000, 49_000]);
    for locals in counts {
        let wasm = recursive_module("v128", locals);
        let frame = approx_frame(locals, 16);
        // Deep recursion always exhausts the stack, at a depth that the
        // stack's size accounts for.
        let (trap, depth) = run(&engine, &wasm, 1_000_000);
        assert_eq!(trap, Some(Trap::StackOverflow), "{locals} locals");
        assert!(
            depth as usize * frame <= STACK,
            "{locals} locals: depth {depth} cannot fit"
        );
        // One frame: it runs when it fits in the stack below the margin,
        // and traps otherwise.
        let (trap, _) = run(&engine, &wasm, 0);
        if frame + 1024 < STACK - (32 << 10) {
            assert_eq!(trap, None, "{locals} locals: one frame fits");
            assert!(
                (depth as usize + 2) * (frame + 128) >= STACK - (32 << 10),
                "{locals} locals: only {depth} frames before the stack ran out"
            );
        } else if frame > STACK {
            assert_eq!(trap, Some(Trap::StackOverflow), "{locals} locals");
        }
    }
}

fn integer_locals_and_operands() {
    let engine = engine();
    for locals in [100, 2_000, 4_100, 12_000, 30_000, 49_000] {
        let wasm = recursive_module("i64", locals);
        let (trap, _) = run(&engine, &wasm, 1_000_000);
        assert_eq!(trap, Some(Trap::StackOverflow), "{locals} i64 locals");
    }
    // A frame made of live operands: `n` constants on the operand stack.
    for n in [3_000usize, 20_000, 100_000] {
        let pushes = "(i32.const 1)".repeat(n);
        let drops = "(drop)".repeat(n);
        let wat = format!(
            r#"(module
                (global $depth (export "depth") (mut i32) (i32.const 0))
                (func $rec (export "rec") (param i32) (result i32)
                    (global.set $depth (i32.add (global.get $depth) (i32.const 1)))
                    {pushes}
                    (if (result i32) (i32.eqz (local.get 0))
                        (then (i32.const 0))
                        (else (call $rec (i32.sub (local.get 0) (i32.const 1)))))
                    {drops}))"#
        );
        let wasm = wat::parse_str(&wat).unwrap();
        let (trap, _) = run(&engine, &wasm, 1_000_000);
        assert_eq!(trap, Some(Trap::StackOverflow), "{n} live operands");
    }
}
