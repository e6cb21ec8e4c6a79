//! wasmkern configured exactly as a bare-metal embedder would configure it,
//! shown on an ordinary Linux machine.
//!
//! A kernel has no `mmap` and no system allocator: it hands wasmkern one
//! fixed region for code (already mapped executable by the kernel's own page
//! tables) and runs its heap on an allocator over a static array. This
//! program does the same: `linked_list_allocator` over a static heap is the
//! `#[global_allocator]`, and one region mapped once (read, write, execute —
//! the region allocator cannot change page protections, a kernel maps it the
//! same way) goes to [`RegionCodeMemory`], so the engine never calls the OS
//! after start-up.
//!
//! Run: `cargo run --release --example static_code_memory`.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::Arc;

use linked_list_allocator::LockedHeap;
use wasmkern::code_memory::{CodeMemory, RegionCodeMemory};
use wasmkern::{Config, Engine, Linker, Module, Store};

const HEAP_SIZE: usize = 32 << 20;
const CODE_REGION: usize = 4 << 20;

/// `linked_list_allocator` over [`HEAP`], set up on first use (the Rust
/// runtime allocates before `main`; a kernel would call `init` in its boot
/// code instead).
struct StaticHeap(LockedHeap);

#[global_allocator]
static ALLOCATOR: StaticHeap = StaticHeap(LockedHeap::empty());

#[repr(C, align(4096))]
struct Heap([u8; HEAP_SIZE]);
static mut HEAP: Heap = Heap([0; HEAP_SIZE]);

// SAFETY: delegates to `LockedHeap`, which is a correct allocator once
// initialized; initialization happens under its lock, exactly once, over a
// static array nothing else uses.
unsafe impl GlobalAlloc for StaticHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        {
            let mut heap = self.0.lock();
            if heap.size() == 0 {
                // SAFETY: see the impl's comment.
                unsafe { heap.init((&raw mut HEAP).cast::<u8>(), HEAP_SIZE) };
            }
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.0.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.0.dealloc(ptr, layout) }
    }
}

/// The guest: a recursive function, a loop over linear memory and a call
/// to the host.
const GUEST: &str = r#"(module
  (import "env" "report" (func $report (param i32 i64)))
  (memory 1)
  (func $fib (export "fib") (param i32) (result i32)
    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
      (then (local.get 0))
      (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                     (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
  (func (export "sum_squares") (param $n i32) (result i64)
    (local $i i32) (local $sum i64)
    (loop $fill
      (i32.store (i32.shl (local.get $i) (i32.const 2)) (i32.mul (local.get $i) (local.get $i)))
      (br_if $fill (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (local.set $i (i32.const 0))
    (loop $sum
      (local.set $sum (i64.add (local.get $sum) (i64.load32_u (i32.shl (local.get $i) (i32.const 2)))))
      (br_if $sum (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (call $report (local.get $n) (local.get $sum))
    (local.get $sum)))"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The one region of executable memory, as a kernel would map it.
    // SAFETY: an anonymous private mapping; checked for failure below.
    let region = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            CODE_REGION,
            libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if region == libc::MAP_FAILED {
        return Err("mmap of the code region failed".into());
    }
    // SAFETY: the region is mapped readable, writable and executable, is
    // owned by nothing else, and is never unmapped while the process runs.
    let code_memory = Arc::new(unsafe { RegionCodeMemory::new(region.cast(), CODE_REGION) });

    let mut config = Config::new();
    config
        .code_memory(code_memory.clone() as Arc<dyn CodeMemory>)
        .max_wasm_stack(256 << 10);
    let engine = Engine::new(&config)?;
    let module = Module::new(&engine, wat::parse_str(GUEST)?)?;
    println!(
        "code region: {} bytes of {} KiB used",
        code_memory.used(),
        CODE_REGION >> 10
    );

    let mut store = Store::new(&engine, Vec::<(i32, i64)>::new());
    let mut linker = Linker::new(&engine);
    linker.func_wrap(
        "env",
        "report",
        |mut caller: wasmkern::Caller<'_, Vec<(i32, i64)>>, n: i32, sum: i64| {
            caller.data_mut().push((n, sum))
        },
    )?;
    let instance = linker.instantiate(&mut store, &module)?;
    let fib = instance.get_typed_func::<i32, i32>(&mut store, "fib")?;
    let sum_squares = instance.get_typed_func::<i32, i64>(&mut store, "sum_squares")?;
    let f = fib.call(&mut store, 25)?;
    let s = sum_squares.call(&mut store, 1000)?;
    println!("fib(25) = {f}");
    println!("sum of squares below 1000 = {s}");
    println!("reported by the guest: {:?}", store.data());
    assert_eq!(f, 75025);
    assert_eq!(s, 332_833_500);
    assert_eq!(store.data(), &[(1000, 332_833_500)]);
    Ok(())
}
