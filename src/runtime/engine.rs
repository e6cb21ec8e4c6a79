//! [`Config`] and [`Engine`]: the code memory, the engine-wide stubs, the
//! CPU features the compiler may use, and the registry that gives every
//! function type an engine-wide id (what `call_indirect` compares).
//!
//! # Defaults
//! | setting | default |
//! | --- | --- |
//! | [`Config::max_wasm_stack`] | [`DEFAULT_MAX_WASM_STACK`] (1 MiB; at least [`MIN_MAX_WASM_STACK`]) |
//! | [`Config::max_module_code_size`] | [`DEFAULT_MAX_MODULE_CODE_SIZE`] (256 MiB of machine code) |
//! | [`Config::consume_fuel`] | off |
//! | [`Config::interruptible`] | off |
//! | [`Config::parallel_compilation`] | on (with `std`: functions are spread over the cores) |
//! | `Config::guard_regions` (`std` only) | off: every load and store is checked explicitly |
//! | [`Config::wasm_extended_const`], [`Config::wasm_tail_call`] | on |
//! | [`Config::wasm_memory64`], [`Config::wasm_multi_memory`] | on |
//! | [`Config::wasm_relaxed_simd`] | on |
//! | [`Config::wasm_function_references`], [`Config::wasm_exceptions`] | on |
//! | [`Config::wasm_custom_page_sizes`], [`Config::wasm_wide_arithmetic`] | off (proposals) |

use crate::abi::{ExecContext, VmContext};
use crate::asm::x64::CpuFeatures;
use crate::code_memory::{CodeMemory, PublishedCode};
use crate::decode::{FuncType, ValType};
use crate::error::{Error, Result};
use crate::platform::GuardRegions;
#[cfg(feature = "compiler")]
use crate::platform::Platform;
use crate::validate::subtype::{map_index, refers};
use crate::validate::{Feature, Features};
use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use hashbrown::HashMap;

/// Default size of a store's wasm stack.
pub const DEFAULT_MAX_WASM_STACK: usize = 1 << 20;
/// Default limit on the machine code of one module.
pub const DEFAULT_MAX_MODULE_CODE_SIZE: usize = 256 << 20;
/// Smallest wasm stack [`Engine::new`] accepts (the limit keeps a 32 KiB
/// margin for the trampolines and nested entries).
pub const MIN_MAX_WASM_STACK: usize = 64 << 10;

/// Settings for an [`Engine`].
///
/// # WebAssembly features
/// The `wasm_*` switches (Wasmtime's names) choose which features beyond
/// WebAssembly 2.0 the validator accepts; a module using a disabled one is
/// rejected with a message naming the feature and its switch. The
/// standardized WebAssembly 3.0 features wasmkern runs are on by default
/// (tail calls, 64-bit memories and tables, multiple memories, extended
/// constants, relaxed SIMD, typed function references, exception
/// handling); the proposals (custom page sizes, wide arithmetic) are off.
/// The decoder, the validator, the compiler and the runtime know all of
/// them; a feature the compiler did not lower would
/// fail in [`Module::new`](super::Module::new) with "`<feature>` is not
/// supported by the compiler yet" (an
/// [`ErrorKind::Limit`](crate::ErrorKind::Limit) error).
#[derive(Clone)]
pub struct Config {
    code_memory: Option<Arc<dyn CodeMemory>>,
    max_wasm_stack: usize,
    max_module_code_size: usize,
    consume_fuel: bool,
    interruptible: bool,
    parallel_compilation: bool,
    guard_regions: bool,
    cpu_features: CpuFeatures,
    features: Features,
    #[cfg(all(feature = "std", feature = "compiler"))]
    cache_dir: Option<std::path::PathBuf>,
    #[cfg(feature = "std")]
    profiler: super::profiling::ProfilingStrategy,
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut f = f.debug_struct("Config");
        f.field("code_memory", &self.code_memory.is_some())
            .field("max_wasm_stack", &self.max_wasm_stack)
            .field("max_module_code_size", &self.max_module_code_size)
            .field("consume_fuel", &self.consume_fuel)
            .field("interruptible", &self.interruptible)
            .field("parallel_compilation", &self.parallel_compilation)
            .field("guard_regions", &self.guard_regions)
            .field("cpu_features", &self.cpu_features)
            .field("features", &self.features);
        #[cfg(all(feature = "std", feature = "compiler"))]
        f.field("cache_dir", &self.cache_dir);
        #[cfg(feature = "std")]
        f.field("profiler", &self.profiler);
        f.finish()
    }
}

impl Config {
    /// The defaults: the std code memory (when `std` is on), a 1 MiB
    /// wasm stack, at most 256 MiB of code per module, no fuel metering and
    /// no interruption checks.
    pub fn new() -> Self {
        Self {
            code_memory: None,
            max_wasm_stack: DEFAULT_MAX_WASM_STACK,
            max_module_code_size: DEFAULT_MAX_MODULE_CODE_SIZE,
            consume_fuel: false,
            interruptible: false,
            parallel_compilation: true,
            guard_regions: false,
            cpu_features: CpuFeatures::all(),
            features: Features::DEFAULT,
            #[cfg(all(feature = "std", feature = "compiler"))]
            cache_dir: None,
            #[cfg(feature = "std")]
            profiler: super::profiling::ProfilingStrategy::None,
        }
    }

    /// How the engine tells profilers about the code it generates
    /// (default [`ProfilingStrategy::None`](super::ProfilingStrategy::None)).
    /// With [`ProfilingStrategy::PerfMap`](super::ProfilingStrategy::PerfMap)
    /// each module's functions are appended to `/tmp/perf-PID.map` when its
    /// code is published, and `perf report` names them (`wasm[K]::NAME`,
    /// from the `name` section, or `wasm[K]::function[N]`):
    ///
    /// ```
    /// use wasmkern::{Config, Engine, Module, ProfilingStrategy};
    ///
    /// let engine = Engine::new(Config::new().profiler(ProfilingStrategy::PerfMap))?;
    /// let wasm = wat::parse_str("(module (func $hot (export \"hot\")))").unwrap();
    /// Module::new(&engine, wasm)?;
    /// let map = std::fs::read_to_string(format!("/tmp/perf-{}.map", std::process::id()));
    /// assert!(map.is_ok_and(|map| map.contains("::hot\n")));
    /// # Ok::<(), wasmkern::Error>(())
    /// ```
    #[cfg(feature = "std")]
    pub fn profiler(&mut self, strategy: super::profiling::ProfilingStrategy) -> &mut Self {
        self.profiler = strategy;
        self
    }

    /// Keeps every module the engine compiles in `dir` (created if
    /// missing), serialized, and loads it from there instead of compiling
    /// it again (default: no cache). A module's file is named after the
    /// SHA-256 of its wasm bytes and of the settings that change its code
    /// (those of the serialized header: wasmkern version, code options,
    /// WebAssembly and CPU features), so engines of other settings keep
    /// files of their own.
    ///
    /// Files are written to a temporary name and renamed into place, so
    /// processes sharing the directory never see a partial file; a file
    /// that does not load (damaged, of another version) is compiled again
    /// and replaced. The cache is best-effort: failing to write it does not
    /// fail [`Module::new`](super::Module::new). Files are loaded with
    /// [`Module::deserialize_checked`](super::Module::deserialize_checked),
    /// so the directory must be writable only by those whose code you
    /// would run.
    #[cfg(all(feature = "std", feature = "compiler"))]
    pub fn cache_dir(&mut self, dir: impl Into<std::path::PathBuf>) -> &mut Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Where compiled code goes. Required without the `std` feature.
    pub fn code_memory(&mut self, memory: Arc<dyn CodeMemory>) -> &mut Self {
        self.code_memory = Some(memory);
        self
    }

    /// Size in bytes of each store's wasm stack (default 1 MiB, at least
    /// 64 KiB).
    pub fn max_wasm_stack(&mut self, bytes: usize) -> &mut Self {
        self.max_wasm_stack = bytes;
        self
    }

    /// The largest machine code one module may compile to (default
    /// [`DEFAULT_MAX_MODULE_CODE_SIZE`]); [`Module::new`](super::Module::new)
    /// fails with an [`ErrorKind::Limit`](crate::ErrorKind::Limit) error
    /// beyond it.
    pub fn max_module_code_size(&mut self, bytes: usize) -> &mut Self {
        self.max_module_code_size = bytes;
        self
    }

    /// Meter fuel (default off): modules are compiled to charge one unit per
    /// operator and to stop at the next function entry or loop header
    /// once the store's fuel ([`Store::set_fuel`](super::Store::set_fuel))
    /// went negative. A store starts with no fuel.
    ///
    /// Bulk work costs in proportion to its size, on top of its operator's
    /// unit (rounded down):
    ///
    /// | operator | extra fuel |
    /// | --- | --- |
    /// | `memory.fill`, `memory.copy`, `memory.init` | 1 per 64 bytes |
    /// | `table.fill`, `table.copy`, `table.init` | 1 per 8 elements |
    /// | `memory.grow` | 1,024 per page |
    /// | `table.grow` | 1 per 8 elements |
    ///
    /// So a 1 MiB `memory.fill` costs 16,384 units more than an empty one.
    /// The extra fuel is taken after the bounds checks (an out-of-bounds
    /// operation traps and costs only its unit) and before anything is
    /// written or grown: when it exceeds the fuel left, the operation does
    /// nothing and the call stops with
    /// [`ErrorKind::OutOfFuel`](crate::ErrorKind::OutOfFuel), or pauses
    /// ([`Func::call_resumable`](super::Func::call_resumable)) and runs the
    /// whole operation once resumed with enough fuel. A growth beyond the
    /// memory's or table's maximum returns -1 without extra cost, and one
    /// the resource limiter refuses gets its fuel back.
    pub fn consume_fuel(&mut self, enable: bool) -> &mut Self {
        self.consume_fuel = enable;
        self
    }

    /// Check for interruption (default off): modules are compiled to stop at
    /// the next function entry or loop header after an
    /// [`InterruptHandle`](super::InterruptHandle) fired.
    ///
    /// Long bulk operations are interruptible too: `memory.fill`,
    /// `memory.copy`, `memory.init`, `table.fill`, `table.copy` and
    /// `table.init` run in chunks of 16 MiB (of memory, or of table
    /// elements), and an interrupt stops
    /// them between two chunks (a few milliseconds), with the part done
    /// written and the rest done when the call resumes. `memory.grow` and
    /// `table.grow` are not split: the maximum sizes and the store's
    /// limits bound them.
    pub fn interruptible(&mut self, enable: bool) -> &mut Self {
        self.interruptible = enable;
        self
    }

    /// Compile a module's functions on all cores (default on). Off, they
    /// compile one after another on the calling thread. Without `std` there
    /// are no threads and this setting has no effect.
    ///
    /// The engine starts its compiling threads (named `wasmkern-worker`,
    /// one per core but one: the calling thread is the other) at its first
    /// parallel compilation and keeps them, parked between compilations,
    /// until it and its modules are dropped. A compilation running while
    /// another holds them runs on threads of its own.
    pub fn parallel_compilation(&mut self, enable: bool) -> &mut Self {
        self.parallel_compilation = enable;
        self
    }

    /// Guard regions instead of explicit bounds checks (default off; Linux
    /// on x86-64 with `std` only).
    ///
    /// Every linear memory of the engine's stores then reserves 8 GiB of
    /// address space of which only its current size is accessible, and
    /// generated loads and stores carry no bounds check: an access beyond
    /// the size faults, and a `SIGSEGV` handler the engine installs turns a
    /// fault at a load or store of generated code into the "out of bounds
    /// memory access" trap (any other fault goes to the handler that was
    /// installed before). Faster code, at the cost of address space (each
    /// memory reserves 8 GiB; a process has 128 TiB) and of a process-wide
    /// signal handler. Bulk memory operators still check explicitly, and
    /// so do all accesses to a memory other than memory 0 (multi-memory),
    /// to a 64-bit memory (memory64: a guard region covers a 32-bit index
    /// plus a 32-bit offset, not a 64-bit address space) and to a memory
    /// of 1-byte pages (custom-page-sizes).
    #[cfg(feature = "std")]
    pub fn guard_regions(&mut self, enable: bool) -> &mut Self {
        self.guard_regions = enable;
        self
    }

    /// The optional CPU features the compiler may use (default: all it
    /// knows). The engine uses those of `features` that the processor also
    /// reports (CPUID), so this can only take features away, never enable
    /// one the processor lacks ([`Engine::cpu_features`] tells which).
    ///
    /// Without a feature the compiler emits its fallback: `bsr`/`bsf`
    /// sequences for `clz`/`ctz` without LZCNT/BMI1, a bit-twiddling
    /// population count without POPCNT, shifts by a count moved to `cl`
    /// without BMI2, an SSE2 sequence for `i64x2.gt_s` and its relatives
    /// without SSE4.2. Float rounding and
    /// SIMD need SSE4.1 (and SIMD SSSE3): without them modules using those
    /// operators fail to compile with a clear error.
    /// [`CpuFeatures::sse41_baseline`] keeps exactly what every operator
    /// needs, so every fallback runs on any machine; code for
    /// [`CpuFeatures::baseline`] runs on any x86-64.
    pub fn cpu_features(&mut self, features: CpuFeatures) -> &mut Self {
        self.cpu_features = features;
        self
    }

    /// Accept tail calls: `return_call` and `return_call_indirect`
    /// (WebAssembly 3.0; default on). A tail call replaces its caller's
    /// frame, so a loop of them runs in constant stack (the convention:
    /// `abi`, "Tail calls").
    pub fn wasm_tail_call(&mut self, enable: bool) -> &mut Self {
        self.wasm_feature(Feature::TailCall, enable)
    }

    /// Accept 64-bit memories: `i64` addresses, sizes and offsets
    /// (WebAssembly 3.0; default on). Their accesses are always
    /// bounds-checked explicitly, also with [`Config::guard_regions`], and
    /// the checks cannot wrap around (an address above 4 GiB or an offset
    /// near 2^64 traps). The runtime limits every memory to 4 GiB.
    /// Tables may be 64-bit too (table64): `i64` indices, sizes and
    /// element segment offsets, checked in full (an index of 2^32 or more
    /// traps).
    pub fn wasm_memory64(&mut self, enable: bool) -> &mut Self {
        self.wasm_feature(Feature::Memory64, enable)
    }

    /// Accept several memories per module, and memory indices in memory
    /// instructions (WebAssembly 3.0; default on). Memory 0 keeps its fast
    /// path (base in a register, guard regions when configured); the others
    /// are reached through the instance's context and always checked
    /// explicitly.
    pub fn wasm_multi_memory(&mut self, enable: bool) -> &mut Self {
        self.wasm_feature(Feature::MultiMemory, enable)
    }

    /// Accept `i32/i64.add`, `sub` and `mul` in constant expressions
    /// (WebAssembly 3.0; default on).
    pub fn wasm_extended_const(&mut self, enable: bool) -> &mut Self {
        self.wasm_feature(Feature::ExtendedConst, enable)
    }

    /// Accept the relaxed SIMD operators (WebAssembly 3.0; default on).
    /// Each is compiled to one fixed x86-64 sequence, so its result for a
    /// given input is the same on every run; the choices are one of the
    /// results the proposal allows for each.
    pub fn wasm_relaxed_simd(&mut self, enable: bool) -> &mut Self {
        self.wasm_feature(Feature::RelaxedSimd, enable)
    }

    /// Accept memories with a custom page size of 1 byte (the
    /// custom-page-sizes proposal; default off). `memory.size` and
    /// `memory.grow` count in the memory's own pages. Loads and stores to
    /// such a memory always compile with explicit bounds checks, also with
    /// `Config::guard_regions`: guard pages protect whole host pages, and
    /// a length in bytes need not be a multiple of one, so a module whose
    /// memory 0 has 1-byte pages is compiled as in the explicit-check mode
    /// (its memory still lives in a guard region).
    pub fn wasm_custom_page_sizes(&mut self, enable: bool) -> &mut Self {
        self.wasm_feature(Feature::CustomPageSizes, enable)
    }

    /// Accept `i64.add128`, `i64.sub128`, `i64.mul_wide_s` and
    /// `i64.mul_wide_u` (the wide-arithmetic proposal; default off).
    pub fn wasm_wide_arithmetic(&mut self, enable: bool) -> &mut Self {
        self.wasm_feature(Feature::WideArithmetic, enable)
    }

    /// Accept typed function references (WebAssembly 3.0; default on):
    /// `(ref null? $t)` types, `call_ref`, `ref.as_non_null`,
    /// `br_on_null`, `br_on_non_null`, non-nullable locals and tables
    /// with initializers. `return_call_ref` also needs
    /// [`Config::wasm_tail_call`].
    pub fn wasm_function_references(&mut self, enable: bool) -> &mut Self {
        self.wasm_feature(Feature::FunctionReferences, enable)
    }

    /// Accept exception handling (WebAssembly 3.0; default on): tags,
    /// `throw`, `throw_ref`, `try_table` and `exnref`. The legacy encoding
    /// (`try`/`catch`/`delegate`/`rethrow`) is not supported: the decoder
    /// rejects it as malformed.
    pub fn wasm_exceptions(&mut self, enable: bool) -> &mut Self {
        self.wasm_feature(Feature::Exceptions, enable)
    }

    /// Enables or disables `feature`: the switch of the `wasm_*` methods by
    /// the feature's value, for embedders that take features by name
    /// ([`Feature::from_name`]).
    pub fn wasm_feature(&mut self, feature: Feature, enable: bool) -> &mut Self {
        self.features.set(feature, enable);
        self
    }

    /// The features beyond WebAssembly 2.0 the engine accepts.
    pub fn wasm_features(&self) -> Features {
        self.features
    }
}

impl Engine {
    /// The optional CPU features this engine's compiler uses: those
    /// [`Config::cpu_features`] allowed that the processor has.
    pub fn cpu_features(&self) -> CpuFeatures {
        self.inner.cpu
    }
}

/// The enter trampoline: context, callee's context, callee's code, slots,
/// number of slots, area size in bytes (see `compile::engine_stubs`).
pub(crate) type EnterFn =
    unsafe extern "sysv64" fn(*mut ExecContext, *mut VmContext, *const u8, *mut u64, usize, usize);
pub(crate) type ResumeFn = unsafe extern "sysv64" fn(*mut ExecContext);

/// Interns function types as engine-wide ids, counting the references to
/// each: a type whose last holder lets go is removed and its id reused.
///
/// Every id stored anywhere a `call_indirect` can compare it is counted:
/// a module registers its types when it is created and releases them when
/// its last handle drops ([`TypeIds`]); instances keep their module, and so
/// its ids, alive as long as their store; a store registers the type of
/// each host function it holds and releases them when it is dropped. So an
/// id is never free while a function reference or a type check with it
/// exists, and a reused id cannot make a check accept a wrong signature.
#[derive(Default)]
struct TypeRegistry {
    ids: HashMap<FuncType, u32>,
    /// By id: the number of holders and the type (none for a free id).
    entries: Vec<(usize, Option<FuncType>)>,
    /// Ids no type uses, for reuse.
    free: Vec<u32>,
}

/// Function types registered with an engine ([`Engine::register_types`]),
/// released when dropped; derefs to their ids, in order.
pub(crate) struct TypeIds {
    engine: Engine,
    ids: Box<[u32]>,
}

impl core::ops::Deref for TypeIds {
    type Target = [u32];
    fn deref(&self) -> &[u32] {
        &self.ids
    }
}

impl Drop for TypeIds {
    fn drop(&mut self) {
        self.engine.release_types(&self.ids);
    }
}

/// `t` with its type index, if any, replaced by that type's engine id in
/// `ids` (a module's [`TypeIds`]): the form in which the runtime compares
/// types of different modules. An index without an id (none after
/// validation) becomes one no type has.
pub(crate) fn canonical(t: ValType, ids: &[u32]) -> ValType {
    map_index(t, |i| ids.get(i as usize).copied().unwrap_or(u32::MAX))
}

pub(crate) struct EngineInner {
    pub(crate) code_memory: Arc<dyn CodeMemory>,
    _stubs: PublishedCode,
    pub(crate) enter: EnterFn,
    pub(crate) resume: ResumeFn,
    pub(crate) host_call: *const u8,
    /// The tail-call return stub (`ExecContext::tail_return`).
    pub(crate) tail_return: *const u8,
    pub(crate) cpu: CpuFeatures,
    pub(crate) max_wasm_stack: usize,
    pub(crate) features: Features,
    pub(crate) max_module_code_size: usize,
    pub(crate) options: crate::abi::CompileOptions,
    /// The operating-system services the engine's compilations use
    /// (`crate::compile_platform`): with `std`, with the threads the
    /// engine compiles on, started at its first parallel compilation and
    /// stopped when it is dropped.
    #[cfg(feature = "compiler")]
    platform: Box<dyn Platform + Send>,
    /// With `Config::guard_regions`: the services its memories use.
    pub(crate) guard_regions: Option<&'static dyn GuardRegions>,
    types: spin::Mutex<TypeRegistry>,
    /// The code buffers of the last compilation's jobs, emptied, for the
    /// next one's (job `k` takes buffer `k`): their pages are mapped
    /// already, where a fresh buffer faults each in again. Buffers of at
    /// most [`SPARE_CODE_MAX`] bytes are kept.
    #[cfg(feature = "compiler")]
    pub(crate) spare_code: spin::Mutex<Vec<Vec<u8>>>,
    /// The backtrace-site table of an unloaded module, emptied, for the
    /// next compilation's (`compile::Jobs::sites`): its pages are mapped
    /// already, where a fresh table faults each in again. The largest
    /// given back of at most [`SPARE_SITES_MAX`] bytes is kept.
    #[cfg(feature = "compiler")]
    pub(crate) spare_sites: spin::Mutex<Vec<(u32, u32)>>,
    /// The compiling jobs' other buffers, kept between compilations
    /// (see `compile`'s module docs for the bounds).
    #[cfg(feature = "compiler")]
    pub(crate) scratch: crate::compile::ScratchPool,
    /// [`Config::cache_dir`].
    #[cfg(all(feature = "std", feature = "compiler"))]
    pub(crate) cache_dir: Option<std::path::PathBuf>,
    /// [`Config::profiler`].
    #[cfg(feature = "std")]
    pub(crate) profiler: super::profiling::ProfilingStrategy,
}

impl EngineInner {
    /// The operating-system services of the engine's compilations.
    #[cfg(feature = "compiler")]
    pub(crate) fn compile_platform(&self) -> &dyn Platform {
        &*self.platform
    }
}

/// The largest code buffer an engine keeps for its next compilation.
#[cfg(feature = "compiler")]
pub(crate) const SPARE_CODE_MAX: usize = 16 << 20;

/// The largest backtrace-site table, in bytes, an engine keeps for its
/// next compilation.
#[cfg(feature = "compiler")]
pub(crate) const SPARE_SITES_MAX: usize = 4 << 20;

#[cfg(feature = "compiler")]
impl EngineInner {
    /// Keeps `sites` (a module's backtrace-site table) for the next
    /// compilation if it is larger than the one kept and at most
    /// [`SPARE_SITES_MAX`] bytes; it is emptied when taken.
    pub(crate) fn give_sites(&self, sites: Vec<(u32, u32)>) {
        if sites.capacity() * core::mem::size_of::<(u32, u32)>() > SPARE_SITES_MAX {
            return;
        }
        let mut spare = self.spare_sites.lock();
        if sites.capacity() > spare.capacity() {
            *spare = sites;
        }
    }
}

// SAFETY: `host_call` and `tail_return` point into `_stubs`, immutable published code owned
// by the engine; the registry is behind a mutex; the rest is Send + Sync.
unsafe impl Send for EngineInner {}
// SAFETY: as above; nothing is mutated without the mutex.
unsafe impl Sync for EngineInner {}

/// The compilation environment shared by modules and stores. Cheap to
/// clone.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<EngineInner>,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("cpu", &self.inner.cpu)
            .finish()
    }
}

#[cfg(feature = "std")]
impl Default for Engine {
    /// An engine with the default [`Config`].
    ///
    /// Engine creation only fails when the operating system refuses
    /// executable memory; this default then yields an engine whose modules
    /// cannot be created (use [`Engine::new`] to see the error).
    fn default() -> Self {
        match Engine::new(&Config::new()) {
            Ok(engine) => engine,
            Err(e) => {
                // Without executable memory nothing can run: report loudly.
                std::panic!("wasmkern: cannot create the default engine: {e}")
            }
        }
    }
}

impl Engine {
    /// Creates an engine: publishes the stubs in the code memory.
    pub fn new(config: &Config) -> Result<Engine> {
        if config.max_wasm_stack < MIN_MAX_WASM_STACK {
            return Err(Error::runtime(
                "max_wasm_stack is below the minimum of 64 KiB",
            ));
        }
        let platform = crate::default_platform();
        let code_memory = match &config.code_memory {
            Some(m) => m.clone(),
            None => platform.default_code_memory().ok_or_else(|| {
                Error::runtime(
                    "no code memory: without the `std` feature, give one with Config::code_memory",
                )
            })?,
        };
        let guard_regions = if config.guard_regions {
            let services = platform
                .guard_regions()
                .ok_or_else(|| Error::runtime("guard regions are not available here"))?;
            services.install_fault_handler()?;
            Some(services)
        } else {
            None
        };
        #[cfg(feature = "compiler")]
        let stubs = crate::compile::engine_stubs()?;
        #[cfg(feature = "compiler")]
        let code: &[u8] = &stubs.code;
        #[cfg(not(feature = "compiler"))]
        let stubs = &super::engine_stubs::ENGINE_STUBS;
        #[cfg(not(feature = "compiler"))]
        let code: &[u8] = stubs.code;
        let mut block = code_memory.allocate(code.len()).map_err(|e| {
            Error::runtime("cannot allocate code memory for the engine stubs").with_detail(e)
        })?;
        if let Err(e) = block.write(0, code) {
            code_memory.free(block);
            return Err(Error::runtime("cannot write the engine stubs").with_detail(e));
        }
        let published = PublishedCode::publish(code_memory.clone(), block)
            .map_err(|e| Error::runtime("cannot publish the engine stubs").with_detail(e))?;
        let base = published.exec_ptr().as_ptr() as *const u8;
        // SAFETY: the offsets come from `engine_stubs` (or its copy in
        // `engine_stubs.rs`, identical as its test checks), inside the published
        // block, and point at functions with exactly these signatures (see
        // `compile::x64::stubs`); the block lives as long as the engine.
        let (enter, resume) = unsafe {
            (
                core::mem::transmute::<*const u8, EnterFn>(base.add(stubs.enter)),
                core::mem::transmute::<*const u8, ResumeFn>(base.add(stubs.resume)),
            )
        };
        // SAFETY: `host_call` is an offset inside the same block.
        let host_call = unsafe { base.add(stubs.host_call) };
        // SAFETY: `tail_return` is an offset inside the same block.
        let tail_return = unsafe { base.add(stubs.tail_return) };
        Ok(Engine {
            inner: Arc::new(EngineInner {
                code_memory,
                _stubs: published,
                enter,
                resume,
                host_call,
                tail_return,
                cpu: CpuFeatures::detect().intersection(config.cpu_features),
                max_wasm_stack: config.max_wasm_stack,
                features: config.features,
                max_module_code_size: config.max_module_code_size,
                options: crate::abi::CompileOptions {
                    fuel: config.consume_fuel,
                    interruptible: config.interruptible,
                    guard_region: config.guard_regions,
                    sequential: !config.parallel_compilation,
                },
                #[cfg(feature = "compiler")]
                platform: crate::compile_platform(),
                guard_regions,
                types: spin::Mutex::new(TypeRegistry::default()),
                #[cfg(feature = "compiler")]
                spare_code: spin::Mutex::new(Vec::new()),
                #[cfg(feature = "compiler")]
                spare_sites: spin::Mutex::new(Vec::new()),
                #[cfg(feature = "compiler")]
                scratch: crate::compile::ScratchPool::default(),
                #[cfg(all(feature = "std", feature = "compiler"))]
                cache_dir: config.cache_dir.clone(),
                #[cfg(feature = "std")]
                profiler: config.profiler,
            }),
        })
    }

    /// Registers one more holder of `ty` and returns its engine-wide id;
    /// the holder must [`release`](Self::release_types) it.
    ///
    /// Ids are indices of a vector; 2^32 distinct types cannot fit in
    /// memory, so the conversion cannot saturate in practice.
    pub(crate) fn register_type(&self, ty: &FuncType) -> u32 {
        let mut reg = self.inner.types.lock();
        if let Some(&id) = reg.ids.get(ty) {
            reg.entries[id as usize].0 += 1;
            return id;
        }
        let id = match reg.free.pop() {
            Some(id) => {
                reg.entries[id as usize] = (1, Some(ty.clone()));
                id
            }
            None => {
                reg.entries.push((1, Some(ty.clone())));
                u32::try_from(reg.entries.len() - 1).unwrap_or(u32::MAX)
            }
        };
        reg.ids.insert(ty.clone(), id);
        id
    }

    /// Registers each of `types` ([`Self::register_type`]), released
    /// together when the result drops.
    ///
    /// A type that names other types (typed function references) is
    /// registered in its canonical form, each index replaced by that
    /// type's id: validation allows only indices of earlier types, so the
    /// ids are known in order, and structurally equivalent types of any
    /// modules get one id.
    pub(crate) fn register_types(&self, types: &[FuncType]) -> TypeIds {
        let mut ids: Vec<u32> = Vec::with_capacity(types.len());
        for t in types {
            let id = if t.any_type(refers) {
                self.register_type(&t.map_types(|v| canonical(v, &ids)))
            } else {
                self.register_type(t)
            };
            ids.push(id);
        }
        TypeIds {
            engine: self.clone(),
            ids: ids.into_boxed_slice(),
        }
    }

    /// Releases one registration of each of `ids`: a type left with no
    /// holder is removed and its id becomes free.
    pub(crate) fn release_types(&self, ids: &[u32]) {
        let mut reg = self.inner.types.lock();
        let TypeRegistry {
            ids: map,
            entries,
            free,
        } = &mut *reg;
        for &id in ids {
            let Some(entry) = entries.get_mut(id as usize).filter(|e| e.0 > 0) else {
                continue;
            };
            entry.0 -= 1;
            if entry.0 == 0
                && let Some(ty) = entry.1.take()
            {
                map.remove(&ty);
                free.push(id);
            }
        }
        if map.is_empty() {
            // Nothing registered: the vectors' memory goes too.
            *entries = Vec::new();
            *free = Vec::new();
        }
    }

    /// The number of distinct function types registered with the engine:
    /// those of its live modules and of its stores' host functions. Not
    /// part of the stable API (feature `unstable-internals`); tests use it
    /// to check that dropping modules releases their types.
    #[cfg(feature = "unstable-internals")]
    pub fn registered_types(&self) -> usize {
        self.inner.types.lock().ids.len()
    }

    /// True when both handles name the same engine.
    pub fn same(a: &Engine, b: &Engine) -> bool {
        Arc::ptr_eq(&a.inner, &b.inner)
    }
}
