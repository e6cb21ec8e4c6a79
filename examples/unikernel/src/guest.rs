//! The WebAssembly part: compiles the embedded guest (`wasm/guest.wat`)
//! with wasmkern into a static code region, runs each export and checks
//! its result against a value computed without wasmkern, then runs the C
//! WASI program of [`crate::wasi`] with the same engine.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt::Display;

use wasmkern::code_memory::RegionCodeMemory;
use wasmkern::{Caller, Config, Engine, Extern, Instance, Linker, Module, Store};

use crate::{sprint, sprintln};

/// The guest module, assembled from `wasm/guest.wat`.
#[cfg(feature = "compiler")]
static GUEST_WASM: &[u8] = include_bytes!("../wasm/guest.wasm");
/// The guest compiled on the host by `build.rs`.
#[cfg(not(feature = "compiler"))]
static GUEST_CWASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/guest.cwasm"));

/// Size of the region compiled code is written to.
pub const CODE_SIZE: usize = 4 << 20;

/// The code region, in `.bss`: identity-mapped by the boot page tables,
/// writable and executable (they never set NX).
#[repr(C, align(4096))]
struct CodeRegion([u8; CODE_SIZE]);
static mut CODE: CodeRegion = CodeRegion([0; CODE_SIZE]);

/// What the host keeps per store: the bytes the guest printed.
#[derive(Default)]
struct Host {
    printed: Vec<u8>,
}

/// Counts the checks and remembers whether one failed.
#[derive(Default)]
pub struct Checks {
    passed: u32,
    failed: u32,
}

impl Checks {
    pub fn check<T: PartialEq + Display>(&mut self, what: &str, got: T, want: T) {
        if got == want {
            self.passed += 1;
            sprintln!("{what} = {got} ok");
        } else {
            self.failed += 1;
            sprintln!("{what} = {got} WRONG, expected {want}");
        }
    }

    pub fn fail(&mut self, what: &str, error: impl Display) {
        self.failed += 1;
        sprintln!("{what} failed: {error}");
    }
}

/// Runs the guest and checks its results; `true` if all were right.
pub fn run() -> bool {
    let mut checks = Checks::default();
    if let Err(e) = run_checks(&mut checks) {
        checks.fail("setting up the guest", e);
    }
    sprintln!("checks: {} right, {} wrong", checks.passed, checks.failed);
    checks.failed == 0 && checks.passed > 0
}

fn run_checks(checks: &mut Checks) -> Result<(), wasmkern::Error> {
    // SAFETY: `CODE` is used by nothing else, lives for the whole run, and
    // is mapped writable and executable; this runs once.
    let memory = unsafe { RegionCodeMemory::new((&raw mut CODE).cast::<u8>(), CODE_SIZE) };
    let memory = Arc::new(memory);
    let mut config = Config::new();
    config.code_memory(memory.clone());
    let engine = Engine::new(&config)?;
    // What the compiler may use on this (virtual) CPU.
    sprintln!("{engine:?}");

    #[cfg(feature = "compiler")]
    let module = Module::new(&engine, GUEST_WASM)?;
    #[cfg(feature = "compiler")]
    sprintln!("module compiled");
    #[cfg(not(feature = "compiler"))]
    let module = Module::deserialize_checked(&engine, GUEST_CWASM)?;
    #[cfg(not(feature = "compiler"))]
    sprintln!("module loaded, precompiled on the host");
    sprintln!(
        "code region: {} of {} KiB used",
        memory.used().div_ceil(1024),
        CODE_SIZE >> 10
    );

    let mut store = Store::new(&engine, Host::default());
    let mut linker = Linker::new(&engine);
    linker.func_wrap(
        "env",
        "print",
        |mut caller: Caller<'_, Host>, ptr: i32, len: i32| {
            let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
                return;
            };
            let bytes = memory
                .data(&caller)
                .get(ptr as u32 as usize..)
                .and_then(|tail| tail.get(..len as u32 as usize))
                .map(<[u8]>::to_vec)
                .unwrap_or_default();
            sprint!("guest: ");
            for chunk in bytes.utf8_chunks() {
                sprint!("{}", chunk.valid());
            }
            sprintln!();
            caller.data_mut().printed.extend_from_slice(&bytes);
        },
    )?;
    let instance: Instance = linker.instantiate(&mut store, &module)?;
    sprintln!(
        "heap: {} KiB in use with the instance",
        crate::ALLOCATOR.lock().used().div_ceil(1024)
    );

    let fib = instance.get_typed_func::<(i32,), i32>(&mut store, "fib")?;
    match fib.call(&mut store, (20,)) {
        Ok(n) => checks.check("fib(20)", n, 6765),
        Err(e) => checks.fail("fib(20)", e),
    }

    let sum_squares = instance.get_typed_func::<(i32,), i64>(&mut store, "sum_squares")?;
    match sum_squares.call(&mut store, (100,)) {
        // 0² + 1² + … + 99² = 99 · 100 · 199 / 6.
        Ok(n) => checks.check("sum_squares(100)", n, 99 * 100 * 199 / 6),
        Err(e) => checks.fail("sum_squares(100)", e),
    }

    let sum_sqrt = instance.get_typed_func::<(i32,), f64>(&mut store, "sum_sqrt")?;
    match sum_sqrt.call(&mut store, (100,)) {
        // The same sum in the same order with IEEE doubles (correctly
        // rounded sqrt), computed off-line: 671.4629471031477.
        Ok(x) => checks.check(
            "sum_sqrt(100)",
            Bits(x.to_bits()),
            Bits(0x4084_fbb4_1d9c_5e61),
        ),
        Err(e) => checks.fail("sum_sqrt(100)", e),
    }

    let dot_f32 = instance.get_typed_func::<(i32,), f32>(&mut store, "dot_f32")?;
    match dot_f32.call(&mut store, (16,)) {
        // 0.25 · (0² + … + 15²) = 0.25 · 1240, exact in f32.
        Ok(x) => checks.check("dot_f32(16)", x, 310.0),
        Err(e) => checks.fail("dot_f32(16)", e),
    }

    let hypot = instance.get_typed_func::<(f64, f64), f64>(&mut store, "hypot")?;
    match hypot.call(&mut store, (3.0, 4.0)) {
        Ok(x) => checks.check("hypot(3, 4)", x, 5.0),
        Err(e) => checks.fail("hypot(3, 4)", e),
    }

    let greet = instance.get_typed_func::<(), i32>(&mut store, "greet")?;
    match greet.call(&mut store, ()) {
        Ok(n) => {
            let printed = String::from_utf8_lossy(&store.data().printed).into_owned();
            checks.check("greet()", n, 36);
            checks.check(
                "printed by the host",
                printed.as_str(),
                "hello from wasm, through a host call",
            );
        }
        Err(e) => checks.fail("greet()", e),
    }

    let oob = instance.get_typed_func::<(), i32>(&mut store, "out_of_bounds")?;
    match oob.call(&mut store, ()) {
        Ok(n) => checks.fail(
            "out_of_bounds()",
            format_args!("returned {n}, expected a trap"),
        ),
        Err(e) => {
            checks.passed += 1;
            sprintln!("out_of_bounds() trapped: {e}");
        }
    }

    // The store survives the trap: call into it again.
    match fib.call(&mut store, (10,)) {
        Ok(n) => checks.check("fib(10) after the trap", n, 55),
        Err(e) => checks.fail("fib(10) after the trap", e),
    }

    // A C program, through WASI, on the same engine and code region.
    if let Err(e) = crate::wasi::run(&engine, &memory, checks) {
        checks.fail("running the wasi program", e);
    }
    Ok(())
}

/// An f64's bits, shown as the number they encode.
#[derive(PartialEq)]
struct Bits(u64);

impl Display for Bits {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}", f64::from_bits(self.0))
    }
}
