//! The single-pass compiler from validated WebAssembly to x86-64.
//!
//! [`compile_module`] turns every defined function of a validated module
//! into machine code that obeys the contract in [`crate::abi`], and links
//! them with the module's stubs into one position-independent block.
//!
//! - [`stack`]: the abstract value stack and register set;
//! - `func`: one function: the driver and the state it compiles with
//!   (operand stack, frame layout, control frames);
//! - `dispatch`: interpreter loops' `br_table` dispatch, compiled again
//!   at each branch back;
//! - `x64`: the x86-64 backend, which the rest names only as `isa`:
//!   the exhaustive per-operator dispatch and everything emitted (operand
//!   moves, frame code, control flow, calls, the operator families), the
//!   macro assembler (peephole, trap exits, code sites), the register
//!   choices, and the trampolines, exit stubs and trap stubs.
//!
//! Functions compile independently to code plus relocations (calls to other
//! functions, jumps to the module's trap and exit stubs), so they can be
//! compiled in parallel. The functions are divided into consecutive
//! ranges by size (not count: real programs have a few very large
//! functions, often next to each other), a few per thread and smaller
//! towards the end so that the threads, taking them as they come free,
//! finish together (`platform::job_ranges`); each job writes its
//! functions one after another into one buffer (the first job's starts
//! with the stubs). Linking places the buffers one after another and
//! patches the relocations in place; `Module::new` copies each buffer into
//! the code memory once. The functions thus lie in index order however
//! many threads compiled them, and each function's code is the same.
//!
//! A job's buffers outlive it in a [`ScratchPool`] (an engine keeps one):
//! the operand stack, control frames, frame layout and out-of-line lists
//! of its `func::Scratch`, and its relocation vector and (but for the
//! first job's) list of backtrace sites once `link` used them; these
//! vectors go to the next compilation's jobs largest first, as the jobs
//! start largest first. A job takes a pooled set at its start and the
//! set comes back emptied, not freed, at its end, so compiling module
//! after module maps no fresh pages for them; fresh pages cost a page
//! fault each, and page faults of concurrent threads queue on the
//! process's memory map lock.
//! The pool keeps at most [`POOL_MAX_SETS`] sets (more jobs than that
//! never run at once on the machines wasmkern targets) and drops a
//! relocation vector or site list larger than [`POOL_MAX_RELOC_BYTES`],
//! so one huge module does not pin its buffers for the engine's life (at
//! most 64 MiB of each in all); the other buffers grow only with the
//! largest single function, which the validator's limits bound. The code
//! buffers are kept apart (the first job's becomes the module's code; see
//! `compile_module_into`), and so is the first job's list of backtrace
//! sites, which becomes the module's table: the runtime gives an unloaded
//! module's table back to its engine for the next compilation
//! ([`Jobs::sites`]).

mod dispatch;
mod features;
mod func;
pub mod stack;
mod tables;
mod x64;

/// The backend the compiler emits code for. Outside `x64`, the compiler
/// names the machine only through this path: its registers, labels and
/// conditions, its macro assembler, and its choices of registers. A second
/// backend is a sibling of `x64` exporting the same names, chosen here.
use x64 as isa;

use crate::abi::TrapCode;
use crate::asm::x64::Reloc;
use crate::code_memory::CODE_ALIGN;
use crate::decode::{
    DEFAULT_PAGE_SIZE_LOG2, ExternKind, FuncType, GlobalType, MemoryType, Module, TableType,
    ValType,
};
use crate::error::{Error, ErrorKind, Result};
use crate::platform::{Bare, Platform, job_ranges, run_jobs};
use crate::validate::ModuleInfo;
use alloc::vec::Vec;
use core::ops::Range;
pub(crate) use isa::stubs::engine_stubs;
use isa::stubs::{NUM_TRAPS, SYM_EXIT, SYM_TRAP_BASE, StubOffsets};
use isa::{Code, CpuFeatures};
use tables::FixedTable;

// The runtime keeps these for the code it loads without compiling.
pub use crate::abi::{CompileOptions, FaultSite, HandlerSite, UnwindInfo};

/// What every function of a module needs to know about the module.
pub(crate) struct Env<'m, 'a> {
    pub module: &'m Module<'a>,
    /// Type index of every function, imports first (the validator's
    /// [`IndexSpaces`](crate::validate::IndexSpaces), as all the index
    /// spaces here).
    pub func_types: &'m [u32],
    pub global_types: &'m [GlobalType],
    pub table_types: &'m [TableType],
    pub num_imported_funcs: u32,
    pub cpu: CpuFeatures,
    pub options: CompileOptions,
    pub platform: &'m dyn Platform,
    /// Memory 0's declared minimum size in bytes (0 without a memory): a
    /// lower bound of its size at run time, since memories only grow.
    pub min_memory_bytes: u64,
    /// Log2 of memory 0's page size (16 without a memory): the unit
    /// `memory.size` and `memory.grow` count in.
    pub memory_page_log2: u32,
    /// The type of every memory, imports first.
    pub memories: &'m [MemoryType],
    /// Type index of every tag, imports first.
    pub tags: &'m [u32],
    /// Whether a function of the module makes a tail call: then its
    /// functions may return with another instance's `r15`, and every call
    /// in it provides [`TAIL_CALL_AREA`](crate::abi::TAIL_CALL_AREA) (see
    /// `abi`, "Tail calls").
    pub tail_calls: bool,
    /// Whether every function reference an instance's code can reach is
    /// one of that instance's own functions: the module imports nothing,
    /// and exports no table, no global, no tag and no function with a
    /// reference parameter. A reference then enters an instance only
    /// through `ref.func` and segments, which the runtime builds from the
    /// instance's own `VmFuncRef`s (their `vmctx` is its context), and
    /// never from outside: no import brings a host function or another
    /// instance's (another instance of the same module included), the
    /// host reaches no table or global of it (its `Table`/`Global`
    /// handles come only from exports), an export's arguments hold no
    /// reference (its results may: they only leave), and no exception
    /// from outside reaches its frames (nothing it can call throws a tag
    /// it did not create). Its calls through references (`call_indirect`,
    /// `call_ref`) thus reach compiled wasm of this instance only, which
    /// reads its first arguments from their registers (their area slots
    /// stay unwritten, as for a direct call) and runs and returns with the
    /// caller's `r15` (no switch to the callee's context or back).
    pub own_funcrefs_only: bool,
    /// Per defined function, whether it finds memory 0's base current in
    /// its register (`x64::frame::MEMORY_BASE`) when it is entered, so
    /// that its prologue need not load it ([`base_current_at_entry`]).
    /// Empty when no function does.
    pub base_current_at_entry: Vec<bool>,
    /// Whether a function of the module has `memory.grow`: otherwise a
    /// memory changes length only by the host's `Memory::grow`, which
    /// runs while no call of the module's code is under way unless one
    /// pauses or calls the host (see `x64::calls`, `restore_after_call`).
    pub grows_memory: bool,
    /// What is known of each table's contents (imports first; see
    /// [`tables`]).
    pub fixed_tables: Vec<Option<FixedTable>>,
    /// The canonical representative of each type index (the validator's
    /// [`ModuleInfo::type_reps`]), for comparing with
    /// [`FixedTable::single_type`].
    pub type_reps: &'m [u32],
    /// Per function (imports first), whether a reference may reach it,
    /// hence an indirect call run it ([`ModuleInfo::declared_funcs`]).
    pub declared_funcs: &'m [bool],
}

/// Most buffer sets a [`ScratchPool`] keeps.
pub(crate) const POOL_MAX_SETS: usize = 16;
/// Largest relocation vector or site list, in bytes, a [`ScratchPool`]
/// keeps (with [`POOL_MAX_SETS`], at most 64 MiB of each in all).
pub(crate) const POOL_MAX_RELOC_BYTES: usize = 4 << 20;

/// The buffers of compiling jobs between compilations (see the module
/// docs): taken by a job at its start, given back emptied at its end.
#[derive(Default)]
pub(crate) struct ScratchPool {
    scratches: spin::Mutex<Vec<func::Scratch>>,
    relocs: spin::Mutex<Vec<Vec<Reloc>>>,
    /// The backtrace-site lists of jobs after the first (the first job's
    /// becomes the module's table).
    sites: spin::Mutex<Vec<Vec<(u32, u32)>>>,
}

/// Takes the vector with the most room from `pool`, or a new one. The
/// jobs of a compilation start in order and shrink towards the end
/// (`platform::job_ranges`), so handing out the largest first gives each
/// job about the vector a job of its size left last time, which then
/// need not grow into fresh pages.
fn take_largest<T>(pool: &spin::Mutex<Vec<Vec<T>>>) -> Vec<T> {
    let mut pool = pool.lock();
    let largest = pool
        .iter()
        .enumerate()
        .max_by_key(|(_, v)| v.capacity())
        .map(|(i, _)| i);
    largest.map_or_else(Vec::new, |i| pool.swap_remove(i))
}

/// Keeps `v` (emptied) in `pool`, unless it has no room, the pool is
/// full or `v` holds more than [`POOL_MAX_RELOC_BYTES`].
fn give<T>(pool: &spin::Mutex<Vec<Vec<T>>>, mut v: Vec<T>) {
    let bytes = v.capacity() * core::mem::size_of::<T>();
    if bytes == 0 || bytes > POOL_MAX_RELOC_BYTES {
        return;
    }
    v.clear();
    let mut pool = pool.lock();
    if pool.len() < POOL_MAX_SETS {
        pool.push(v);
    }
}

impl ScratchPool {
    /// A pooled scratch and relocation vector, or new ones.
    fn take(&self) -> (func::Scratch, Vec<Reloc>) {
        let scratch = self.scratches.lock().pop().unwrap_or_default();
        (scratch, take_largest(&self.relocs))
    }

    /// Keeps `scratch` for a later job, unless the pool is full.
    fn give_scratch(&self, scratch: func::Scratch) {
        let mut pool = self.scratches.lock();
        if pool.len() < POOL_MAX_SETS {
            pool.push(scratch);
        }
    }

    /// Keeps `relocs` (emptied) for a later job (see [`give`]).
    fn give_relocs(&self, relocs: Vec<Reloc>) {
        give(&self.relocs, relocs);
    }

    /// A pooled backtrace-site list for a job after the first, or a new
    /// one.
    fn take_sites(&self) -> Vec<(u32, u32)> {
        take_largest(&self.sites)
    }

    /// Keeps the site list of a job after the first (emptied), as
    /// [`Self::give_relocs`] does relocation vectors.
    fn give_sites(&self, sites: Vec<(u32, u32)>) {
        give(&self.sites, sites);
    }
}

/// The functions one thread compiled, their code one after another in one
/// buffer (the first thread's after the module's stubs).
struct Chunk {
    code: Code,
    /// Backtrace, fault and type-id sites, at offsets in `code`,
    /// ascending.
    sites: Vec<(u32, u32)>,
    fault_sites: Vec<FaultSite>,
    type_id_sites: Vec<(u32, u32)>,
    /// (defined function index, offset of its code in `code`).
    funcs: Vec<(usize, u32)>,
    /// Catch clauses, at offsets in `code`.
    handlers: Vec<HandlerSite>,
    /// The [`UnwindInfo`] of each function of `funcs`, in that order.
    unwind: Vec<UnwindInfo>,
}

/// A module's machine code.
#[derive(Clone, Debug, Default)]
pub struct CompiledModule {
    /// All functions and the module's stubs, position-independent.
    pub code: Vec<u8>,
    /// Offset in `code` of each defined function's entry point.
    pub func_offsets: Vec<u32>,
    /// `(offset in code, defined function index)` of every function, in
    /// the order the functions lie in `code` (index order, as the compiler
    /// lays them out; a serialized module's table is checked only to be
    /// ascending). A code address belongs to the last function starting at
    /// or before it.
    pub func_layout: Vec<(u32, u32)>,
    /// For backtraces: (offset in `code` of a return address, offset in the
    /// module of the wasm instruction), ascending. Return addresses of calls
    /// and of trap exits (each trap site calls its module trap stub, so the
    /// stub finds the site on the stack).
    pub sites: Vec<(u32, u32)>,
    /// Guard-region mode only: where a memory access may fault, ascending
    /// and disjoint (see [`CompileOptions::guard_region`]).
    pub fault_sites: Vec<FaultSite>,
    /// Offset in `code` of the stub that traps with "out of bounds memory
    /// access"; a fault at a fault site continues there as if the faulting
    /// instruction had called it.
    pub out_of_bounds_stub: u32,
    /// (offset in `code` of a 32-bit immediate, type index), ascending:
    /// where the code compares with the engine-wide id of a function type
    /// (`call_indirect`). The compiler leaves a placeholder there; loading
    /// the code into an engine writes that engine's id of the type, so the
    /// same code (a serialized module) runs in any engine.
    pub type_id_sites: Vec<(u32, u32)>,
    /// Every `try_table` catch clause (see [`HandlerSite`]), inner ones
    /// before the outer ones of the same function.
    pub handlers: Vec<HandlerSite>,
    /// Each defined function's [`UnwindInfo`], by index.
    pub unwind: Vec<UnwindInfo>,
    /// The code buffers of the jobs after the first, emptied once their
    /// code was copied into [`Self::code`]: for the next compilation's
    /// jobs (see [`compile_module_into`]).
    pub spare_buffers: Vec<Vec<u8>>,
}

/// Compiles every defined function of `module`.
///
/// The code depends on no engine: `call_indirect` compares against the
/// engine-wide type ids the runtime puts in `VmContext::type_ids`.
pub fn compile_module(
    module: &Module<'_>,
    info: &ModuleInfo,
    cpu: &CpuFeatures,
) -> Result<CompiledModule> {
    compile_module_with(module, info, cpu, &CompileOptions::default())
}

/// [`compile_module`] with fuel metering or interruption checks.
pub fn compile_module_with(
    module: &Module<'_>,
    info: &ModuleInfo,
    cpu: &CpuFeatures,
    options: &CompileOptions,
) -> Result<CompiledModule> {
    let pool = ScratchPool::default();
    let jobs = Jobs {
        platform: &Bare,
        buffers: Vec::new(),
        sites: Vec::new(),
        pool: &pool,
        beside: &|| {},
    };
    compile_module_into(module, info, cpu, options, jobs).map(Linked::into_compiled)
}

/// Where the jobs of [`compile_module_into`] run and what they reuse.
pub(crate) struct Jobs<'p> {
    /// The threads (and the prefaulting of code buffers).
    pub platform: &'p dyn Platform,
    /// Code buffers whose memory a previous compilation left mapped: job
    /// `k` takes the `k`-th, emptied first (a fresh buffer of a few
    /// megabytes costs a page fault per 4 KiB on first touch).
    pub buffers: Vec<Vec<u8>>,
    /// Room for the backtrace sites of the first job, which become the
    /// module's table (emptied first; used if it is larger than the room
    /// the job makes): an unloaded module's table has its pages mapped,
    /// where a fresh one faults each in again.
    pub sites: Vec<(u32, u32)>,
    /// The jobs' other buffers, taken at their start and given back.
    pub pool: &'p ScratchPool,
    /// Runs once: when the functions are compiled in parallel, as one more
    /// job after theirs (the caller's work that does not need the code,
    /// done while the threads finish the last functions), else after them.
    pub beside: &'p (dyn Fn() + Sync),
}

/// [`compile_module_with`] on `jobs`. The code stays in the jobs' buffers
/// ([`Linked`]).
pub(crate) fn compile_module_into(
    module: &Module<'_>,
    info: &ModuleInfo,
    cpu: &CpuFeatures,
    options: &CompileOptions,
    jobs: Jobs<'_>,
) -> Result<Linked> {
    let Jobs {
        platform,
        buffers,
        sites,
        pool,
        beside,
    } = jobs;
    features::check_lowered(module, info)?;
    let spaces = &info.spaces;
    let memory0 = spaces.memories.first();
    let memory_page_log2 = memory0.map_or(DEFAULT_PAGE_SIZE_LOG2, |m| m.page_size_log2());
    // Guard pages protect whole host pages, so a memory whose length need
    // not be a multiple of them (1-byte pages) keeps explicit checks.
    let options = CompileOptions {
        guard_region: options.guard_region && memory_page_log2 == DEFAULT_PAGE_SIZE_LOG2,
        ..*options
    };
    let own_funcrefs_only = module.imports.is_empty()
        && module.exports.iter().all(|e| match e.kind {
            ExternKind::Func => {
                func_type(module, info, e.index).is_some_and(|t| !has_reference(t.params()))
            }
            ExternKind::Memory => true,
            _ => false,
        });
    let env = Env {
        module,
        func_types: &spaces.funcs,
        global_types: &spaces.globals,
        table_types: &spaces.tables,
        num_imported_funcs: module.num_imported_funcs,
        cpu: *cpu,
        options,
        platform,
        min_memory_bytes: spaces
            .memories
            .first()
            .map_or(0, |m| m.limits.min.saturating_mul(m.page_size())),
        memory_page_log2,
        memories: &spaces.memories,
        tags: &spaces.tags,
        tail_calls: info
            .funcs
            .iter()
            .any(|f| f.features.contains(crate::validate::Feature::TailCall)),
        own_funcrefs_only,
        base_current_at_entry: base_current_at_entry(module, info, &options, own_funcrefs_only),
        grows_memory: info.funcs.iter().any(|f| f.grows_memory),
        fixed_tables: tables::fixed_tables(module, info),
        type_reps: &info.type_reps,
        declared_funcs: &info.declared_funcs,
    };

    let (chunks, stubs) = compile_functions(&env, info, buffers, sites, pool, beside)?;
    link(chunks, &stubs, module.code.len(), pool)
}

fn has_reference(types: &[ValType]) -> bool {
    types.iter().any(|t| t.is_ref())
}

/// The type of function `index` (imports first).
fn func_type<'m>(module: &'m Module<'_>, info: &ModuleInfo, index: u32) -> Option<&'m FuncType> {
    let &t = info.spaces.funcs.get(index as usize)?;
    module.types.get(t as usize)
}

/// Per defined function, whether memory 0's base is current in its
/// register whenever the function is entered, so that its prologue need
/// not load it (empty when none is).
///
/// The enter trampoline loads the base of the callee's instance, and in a
/// module whose code reaches only its own instance's functions
/// (`Env::own_funcrefs_only`) and never pauses (no fuel, no interruption)
/// every function keeps the register current while it runs (see
/// `x64::calls`, `restore_after_call`): one that uses memory loads the
/// base after each exit and call that could have moved it, and one that
/// does not never writes the register. A function of such a module that
/// only the module's own code can enter thus finds it current. That is
/// every function the host and other instances cannot reach: one that is
/// not exported, in a module from which no reference to a function leaves
/// (no export's results and no tag's fields hold a reference: a function
/// reference in a result or an uncaught exception would reach the host,
/// which could hand it to another instance to call with its own memory
/// base in the register). An exported function may be called by another
/// instance that imported it, so it loads the base itself.
fn base_current_at_entry(
    module: &Module<'_>,
    info: &ModuleInfo,
    options: &CompileOptions,
    own_funcrefs_only: bool,
) -> Vec<bool> {
    let no_reference_leaves = module.exports.iter().all(|e| {
        e.kind != ExternKind::Func
            || func_type(module, info, e.index).is_some_and(|t| !has_reference(t.results()))
    }) && info.spaces.tags.iter().all(|&t| {
        module
            .types
            .get(t as usize)
            .is_some_and(|t| !has_reference(t.params()))
    });
    if !own_funcrefs_only || options.fuel || options.interruptible || !no_reference_leaves {
        return Vec::new();
    }
    // No imports: a function's index is its index among the defined ones.
    let mut base_current = alloc::vec![true; module.code.len()];
    for e in &module.exports {
        if e.kind == ExternKind::Func
            && let Some(exported) = base_current.get_mut(e.index as usize)
        {
            *exported = false;
        }
    }
    base_current
}

/// Compiles defined function `i` after the code in `scratch`; returns
/// where its code starts there.
fn compile_one(
    env: &Env<'_, '_>,
    info: &ModuleInfo,
    i: usize,
    scratch: &mut func::Scratch,
) -> Result<u32> {
    let func_index = env.num_imported_funcs + i as u32;
    let body = &env.module.code[i];
    let compile = |scratch: &mut func::Scratch, plan_frameless| {
        func::FuncCompiler::new(
            env,
            func_index,
            body,
            &info.funcs[i],
            info.local_uses(i),
            scratch,
            plan_frameless,
        )
        .compile(body, func_index, scratch)
    };
    // A leaf planned without a frame that needs one after all is compiled
    // again, in place (see `x64::frame`, "Frameless leaves").
    let mark = scratch.mark();
    if let Some(entry) = compile(scratch, true)? {
        return Ok(entry);
    }
    scratch.rewind(mark);
    compile(scratch, false)?
        .ok_or_else(|| Error::internal("a function without the frameless plan was refused"))
}

/// Compiles defined functions `range` one after another into one chunk
/// written into `buffer` (emptied first), its backtrace sites into
/// `sites` (emptied first, if it has room enough), after the module's
/// stubs if `with_stubs`, with buffers from `pool` (given back if it
/// succeeds); returns the chunk and the stubs' offsets.
fn compile_chunk(
    env: &Env<'_, '_>,
    info: &ModuleInfo,
    range: Range<usize>,
    buffer: Vec<u8>,
    sites: Vec<(u32, u32)>,
    with_stubs: bool,
    pool: &ScratchPool,
) -> Result<(Chunk, StubOffsets)> {
    let (mut scratch, relocs) = pool.take();
    let kept = buffer.capacity();
    scratch.start(buffer, relocs, sites);
    let wasm_bytes: usize = env.module.code[range.clone()]
        .iter()
        .map(|body| body.code.len())
        .sum();
    scratch.reserve(wasm_bytes);
    // The code buffer's pages are mapped in at once, not one fault each.
    // A buffer of an earlier compilation that is still large enough kept
    // them: it was mapped in whole then, and asking again walks every page
    // in the kernel for nothing (about 2% of the compiling threads' time).
    let spare = scratch.assembler().spare_capacity();
    if spare.len() != kept {
        env.platform.prefault(spare);
    }
    let stubs = if with_stubs {
        isa::stubs::emit_module_stubs(scratch.assembler())?
    } else {
        StubOffsets::default()
    };
    let mut funcs = Vec::with_capacity(range.len());
    for i in range {
        funcs.push((i, compile_one(env, info, i, &mut scratch)?));
    }
    let chunk = scratch.finish(funcs)?;
    pool.give_scratch(scratch);
    Ok((chunk, stubs))
}

/// Compiles the functions in jobs that the platform's threads (one per
/// core on `std`) take as they come free, each job a range of consecutive
/// functions, by size ([`job_ranges`]); the first job's chunk starts with
/// the stubs. Job `k` writes into `buffers[k]` if there is one, job 0
/// its sites into `sites`. With several jobs, `beside` is one more, the
/// last; else it runs after the one.
fn compile_functions(
    env: &Env<'_, '_>,
    info: &ModuleInfo,
    mut buffers: Vec<Vec<u8>>,
    sites: Vec<(u32, u32)>,
    pool: &ScratchPool,
    beside: &(dyn Fn() + Sync),
) -> Result<(Vec<Chunk>, StubOffsets)> {
    let n = env.module.code.len();
    let ranges = job_ranges(env.platform, !env.options.sequential, n, |i| {
        env.module.code[i].code.len()
    });
    buffers.resize_with(ranges.len(), Vec::new);
    let buffers: Vec<spin::Mutex<Vec<u8>>> = buffers.into_iter().map(spin::Mutex::new).collect();
    let sites = spin::Mutex::new(sites);
    let parallel = ranges.len() > 1;
    let jobs = ranges.len() + usize::from(parallel);
    let results = run_jobs(env.platform, jobs, |k| match ranges.get(k) {
        Some(range) => {
            let buffer = core::mem::take(&mut *buffers[k].lock());
            let sites = if k == 0 {
                core::mem::take(&mut *sites.lock())
            } else {
                pool.take_sites()
            };
            compile_chunk(env, info, range.clone(), buffer, sites, k == 0, pool).map(Some)
        }
        None => {
            beside();
            Ok(None)
        }
    })?;
    if !parallel {
        beside();
    }
    let mut stubs = StubOffsets::default();
    let mut chunks = Vec::with_capacity(ranges.len());
    for (k, (chunk, chunk_stubs)) in results.into_iter().flatten().enumerate() {
        if k == 0 {
            stubs = chunk_stubs;
        }
        chunks.push(chunk);
    }
    Ok((chunks, stubs))
}

/// A module's code as its jobs left it, relocations resolved: each job's
/// chunk at its offset in the module's code, with `int3` in the gaps
/// between them (`int3` pads to [`CODE_ALIGN`] bytes, as
/// `Assembler::pad_to` pads to 16 between functions).
/// [`Linked::into_compiled`] puts the chunks together in one buffer;
/// `Module::new` copies them straight into the code memory instead, each
/// chunk once.
pub(crate) struct Linked {
    /// `(offset in the code, bytes)` of each chunk, ascending, the first
    /// (which starts with the stubs) at 0.
    pub pieces: Vec<(usize, Vec<u8>)>,
    /// The tables of the code; its `code` and `spare_buffers` are empty.
    pub tables: CompiledModule,
}

impl Linked {
    /// The code's length in bytes.
    pub(crate) fn code_len(&self) -> usize {
        self.pieces
            .last()
            .map_or(0, |(base, bytes)| base + bytes.len())
    }

    /// The module with its code in one buffer (the first chunk's, the
    /// others copied after it); the other chunks' buffers, emptied, become
    /// [`CompiledModule::spare_buffers`].
    pub(crate) fn into_compiled(self) -> CompiledModule {
        let code_len = self.code_len();
        let mut compiled = self.tables;
        let mut pieces = self.pieces.into_iter();
        let Some((_, mut code)) = pieces.next() else {
            return compiled;
        };
        code.reserve(code_len - code.len());
        for (base, mut bytes) in pieces {
            code.resize(base, 0xcc);
            code.extend_from_slice(&bytes);
            bytes.clear();
            compiled.spare_buffers.push(bytes);
        }
        compiled.code = code;
        compiled
    }
}

/// One table of the module's code from the chunks' tables (`table` of
/// each), every entry of chunk `k` moved by `bases[k]` (`shift`), in chunk
/// order. The first chunk's vector, whose entries lie at base 0 and stay
/// as they are, becomes the result, with the room it had: one of these
/// tables can hold a few hundred kilobytes, and a copy would write them
/// again to fresh pages.
fn concat<T: Copy>(
    chunks: &mut [Chunk],
    bases: &[usize],
    table: fn(&mut Chunk) -> &mut Vec<T>,
    shift: fn(T, u32) -> T,
) -> Vec<T> {
    let total = chunks.iter_mut().map(|c| table(c).len()).sum();
    let mut out = Vec::new();
    for (k, (chunk, &base)) in chunks.iter_mut().zip(bases).enumerate() {
        // Below 2 GiB, checked by the caller.
        let base = base as u32;
        let entries = table(chunk);
        if k == 0 && base == 0 {
            out = core::mem::take(entries);
            // Room for the other chunks' entries at once: growing by
            // doubling would copy them again.
            out.reserve_exact(total - out.len());
        } else {
            if k == 0 {
                out.reserve_exact(total);
            }
            out.extend(entries.iter().map(|&e| shift(e, base)));
        }
    }
    out
}

/// Places the chunks one after another (chunk `k` at the first multiple
/// of [`CODE_ALIGN`] after chunk `k - 1`'s end) without copying them, and
/// resolves their relocations in place, giving the relocation vectors back
/// to `pool`.
fn link(
    mut chunks: Vec<Chunk>,
    stubs: &StubOffsets,
    num_funcs: usize,
    pool: &ScratchPool,
) -> Result<Linked> {
    if chunks.is_empty() {
        return Err(Error::internal("the compiler produced no code"));
    }
    let mut bases = Vec::with_capacity(chunks.len());
    let mut end = 0usize;
    for chunk in &chunks {
        // The code memory places the module's code at a multiple of
        // `CODE_ALIGN`; so does this each chunk in it, which keeps the
        // loop headers that a job aligned (to 32 or 64 bytes within its
        // chunk) aligned in memory.
        let base = end.next_multiple_of(CODE_ALIGN);
        bases.push(base);
        end = base + chunk.code.bytes.len();
    }
    if i32::try_from(end).is_err() {
        return Err(Error::from_kind(
            ErrorKind::Limit,
            "module code larger than 2 GiB",
        ));
    }
    let mut sites = concat(
        &mut chunks,
        &bases,
        |c| &mut c.sites,
        |(native, wasm), base| (base + native, wasm),
    );
    let mut fault_sites = concat(
        &mut chunks,
        &bases,
        |c| &mut c.fault_sites,
        |s, base| FaultSite {
            start: base + s.start,
            end: base + s.end,
            wasm_offset: s.wasm_offset,
        },
    );
    let mut type_id_sites = concat(
        &mut chunks,
        &bases,
        |c| &mut c.type_id_sites,
        |(at, t), base| (base + at, t),
    );
    let mut handlers = concat(
        &mut chunks,
        &bases,
        |c| &mut c.handlers,
        |h, base| HandlerSite {
            start: base + h.start,
            end: base + h.end,
            pad: base + h.pad,
            ..h
        },
    );
    // The first chunk's buffers had room for entries its functions did
    // not have: give it back.
    sites.shrink_to_fit();
    fault_sites.shrink_to_fit();
    type_id_sites.shrink_to_fit();
    handlers.shrink_to_fit();
    let mut unwind = alloc::vec![0; num_funcs];
    let mut func_offsets = alloc::vec![u32::MAX; num_funcs];
    let mut func_layout = Vec::with_capacity(num_funcs);
    for (chunk, &base) in chunks.iter().zip(&bases) {
        // Below 2 GiB, checked above.
        let base = base as u32;
        for (&(i, start), &info) in chunk.funcs.iter().zip(&chunk.unwind) {
            func_offsets[i] = base + start;
            func_layout.push((base + start, i as u32));
            unwind[i] = info;
        }
    }
    if func_offsets.contains(&u32::MAX) {
        return Err(Error::internal("a function was not compiled"));
    }
    // The runtime binary-searches these by code offset.
    debug_assert!(sites.is_sorted_by_key(|s| s.0));
    debug_assert!(fault_sites.is_sorted_by_key(|s| s.start));
    debug_assert!(type_id_sites.is_sorted_by_key(|s| s.0));
    debug_assert!(func_layout.is_sorted_by_key(|f| f.0));
    let mut pieces = Vec::with_capacity(chunks.len());
    for (chunk, base) in chunks.into_iter().zip(bases) {
        let mut bytes = chunk.code.bytes;
        for &reloc in &chunk.code.relocs {
            let target = match reloc.symbol {
                SYM_EXIT => stubs.exit,
                s if (SYM_TRAP_BASE..SYM_TRAP_BASE + NUM_TRAPS).contains(&s) => {
                    stubs.traps[(s - SYM_TRAP_BASE) as usize]
                }
                s => *func_offsets
                    .get(s as usize)
                    .ok_or_else(|| Error::internal("relocation to an unknown function"))?
                    as usize,
            };
            let at = reloc.offset as usize;
            // Both below 2 GiB, checked above.
            let rel = (target as i64 - (base + at) as i64 - 4) as i32;
            bytes
                .get_mut(at..at + 4)
                .ok_or_else(|| Error::internal("a relocation outside its code"))?
                .copy_from_slice(&rel.to_le_bytes());
        }
        pool.give_relocs(chunk.code.relocs);
        pool.give_sites(chunk.sites);
        pieces.push((base, bytes));
    }
    Ok(Linked {
        pieces,
        tables: CompiledModule {
            code: Vec::new(),
            func_offsets,
            func_layout,
            sites,
            fault_sites,
            out_of_bounds_stub: stubs.traps[TrapCode::MemoryOutOfBounds as usize] as u32,
            type_id_sites,
            handlers,
            unwind,
            spare_buffers: Vec::new(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A platform that claims three threads and runs the jobs on the
    /// calling thread, last first, leaving out job `skip` (as a job that
    /// panicked on its own thread would be left out).
    struct ThreeJobs {
        skip: Option<usize>,
    }

    impl Platform for ThreeJobs {
        fn parallelism(&self) -> usize {
            3
        }

        fn run_parallel(&self, jobs: &mut [&mut (dyn FnMut() + Send)]) {
            for (k, job) in jobs.iter_mut().enumerate().rev() {
                if Some(k) != self.skip {
                    job();
                }
            }
        }
    }

    /// A module of 60 functions, function `i` returning `i` plus the
    /// result of function `i + 1` (so every chunk calls into the others).
    fn sixty_functions() -> Vec<u8> {
        chained_functions(60)
    }

    /// [`sixty_functions`] with `n` functions.
    fn chained_functions(n: usize) -> Vec<u8> {
        let mut wat = alloc::string::String::from("(module");
        for i in 0..n {
            let body = if i + 1 < n {
                alloc::format!("(i32.add (i32.const {i}) (call {}))", i + 1)
            } else {
                alloc::format!("(i32.const {i})")
            };
            wat.push_str(&alloc::format!("(func (result i32) {body})"));
        }
        wat.push(')');
        wat::parse_str(&wat).expect("valid text")
    }

    fn compile_on(platform: &dyn Platform) -> Result<CompiledModule> {
        compile_with(&sixty_functions(), platform, &ScratchPool::default())
    }

    /// `bytes` compiled on `platform` with the buffers of `pool`.
    fn compile_with(
        bytes: &[u8],
        platform: &dyn Platform,
        pool: &ScratchPool,
    ) -> Result<CompiledModule> {
        let module = crate::decode::Module::decode(bytes)?;
        let info = crate::validate::validate_module(&module)?;
        compile_module_into(
            &module,
            &info,
            &CpuFeatures::sse41_baseline(),
            &CompileOptions::default(),
            Jobs {
                platform,
                buffers: Vec::new(),
                sites: Vec::new(),
                pool,
                beside: &|| {},
            },
        )
        .map(Linked::into_compiled)
    }

    /// The sites of compiling [`sixty_functions`] in one job with `sites`
    /// as the room given for them, and where they lie.
    fn sites_given(sites: Vec<(u32, u32)>) -> (Vec<(u32, u32)>, *const (u32, u32)) {
        let bytes = sixty_functions();
        let module = crate::decode::Module::decode(&bytes).expect("decodes");
        let info = crate::validate::validate_module(&module).expect("valid");
        let env_module = &module;
        let spaces = &info.spaces;
        let env = Env {
            module: env_module,
            func_types: &spaces.funcs,
            global_types: &spaces.globals,
            table_types: &spaces.tables,
            num_imported_funcs: 0,
            cpu: CpuFeatures::sse41_baseline(),
            options: CompileOptions::default(),
            platform: &Bare,
            min_memory_bytes: 0,
            memory_page_log2: DEFAULT_PAGE_SIZE_LOG2,
            memories: &spaces.memories,
            tags: &spaces.tags,
            tail_calls: false,
            own_funcrefs_only: true,
            base_current_at_entry: Vec::new(),
            grows_memory: false,
            fixed_tables: tables::fixed_tables(&module, &info),
            type_reps: &info.type_reps,
            declared_funcs: &info.declared_funcs,
        };
        let (chunk, _) = compile_chunk(
            &env,
            &info,
            0..60,
            Vec::new(),
            sites,
            true,
            &ScratchPool::default(),
        )
        .expect("compiles");
        let at = chunk.sites.as_ptr();
        (chunk.sites, at)
    }

    #[test]
    fn a_given_site_table_is_emptied_and_used() {
        let (fresh, _) = sites_given(Vec::new());
        assert!(fresh.len() >= 59, "a call site a function: {}", fresh.len());
        // Larger than the room the job makes, with entries left in it:
        // used as it is, emptied first.
        let mut given = alloc::vec![(7, 7); 3];
        given.reserve(100_000);
        let at = given.as_ptr();
        let (sites, used) = sites_given(given);
        assert_eq!(sites, fresh);
        assert_eq!(used, at, "the given table holds the sites");
        // Smaller than the sites: it grows past its room.
        let (sites, _) = sites_given(alloc::vec![(7, 7); 2]);
        assert_eq!(sites, fresh);
    }

    #[test]
    fn the_platform_runs_the_compiling_jobs() {
        let one = compile_on(&Bare).expect("compiles");
        let three = compile_on(&ThreeJobs { skip: None }).expect("compiles");
        // Each job takes consecutive functions, and the jobs' chunks lie
        // one after another: index order either way.
        for compiled in [&one, &three] {
            assert_eq!(
                compiled
                    .func_layout
                    .iter()
                    .map(|&(_, f)| f)
                    .collect::<Vec<_>>(),
                (0..60).collect::<Vec<_>>()
            );
        }
        // The same code, in chunks: as long, give or take the padding
        // between the chunks.
        assert!(one.code.len().abs_diff(three.code.len()) <= 3 * 64);
        // Every call was linked to its callee: each function's code is
        // that of the single-thread compilation, its calls' targets moved
        // by where the callee now lies (the same, up to the chunks'
        // padding).
        let same_layout = one
            .func_offsets
            .iter()
            .zip(&three.func_offsets)
            .all(|(a, b)| a.abs_diff(*b) <= 3 * 64);
        assert!(same_layout);
    }

    #[test]
    fn chunks_linked_in_place_call_their_callees() {
        // Three threads: 60 functions in three jobs, 200 in nine.
        for (n, jobs) in [(60, 3), (200, 9)] {
            linked_in_place_calls_callees(n, jobs);
        }
    }

    fn linked_in_place_calls_callees(n: usize, jobs: usize) {
        use iced_x86::{Decoder, DecoderOptions, Mnemonic};
        let bytes = chained_functions(n);
        let module = crate::decode::Module::decode(&bytes).expect("decodes");
        let info = crate::validate::validate_module(&module).expect("validates");
        let linked = compile_module_into(
            &module,
            &info,
            &CpuFeatures::sse41_baseline(),
            &CompileOptions::default(),
            Jobs {
                platform: &ThreeJobs { skip: None },
                buffers: Vec::new(),
                sites: Vec::new(),
                pool: &ScratchPool::default(),
                beside: &|| {},
            },
        )
        .expect("compiles");
        let pieces = linked.pieces.clone();
        assert_eq!(pieces.len(), jobs);
        let compiled = linked.into_compiled();
        // Each chunk at its place, at a multiple of 64 after the one
        // before it, `int3` in between.
        let mut end = 0usize;
        for (base, piece) in &pieces {
            assert_eq!(*base, end.next_multiple_of(64));
            assert!(compiled.code[end..*base].iter().all(|&b| b == 0xcc));
            assert_eq!(&compiled.code[*base..*base + piece.len()], &piece[..]);
            end = base + piece.len();
        }
        assert_eq!(compiled.code.len(), end);
        assert_eq!(compiled.spare_buffers.len(), jobs - 1);
        // Function `i`'s call of function `i + 1`, resolved in its chunk
        // before the chunks were joined, reaches it in whichever chunk.
        let starts: Vec<usize> = compiled.func_offsets.iter().map(|&o| o as usize).collect();
        for i in 0..n - 1 {
            let end = compiled
                .func_layout
                .iter()
                .find(|&&(o, _)| o as usize > starts[i])
                .map_or(compiled.code.len(), |&(o, _)| o as usize);
            let code = &compiled.code[starts[i]..end];
            let mut decoder = Decoder::with_ip(64, code, starts[i] as u64, DecoderOptions::NONE);
            let targets: Vec<u64> = decoder
                .iter()
                .filter(|inst| inst.mnemonic() == Mnemonic::Call)
                .map(|inst| inst.near_branch_target())
                .collect();
            // The others reach the module's stubs, before function 0.
            let callee = starts[i + 1] as u64;
            assert!(targets.contains(&callee), "function {i}: {targets:?}");
            let stubs = starts[0] as u64;
            assert!(
                targets.iter().all(|&t| t == callee || t < stubs),
                "function {i}: {targets:?}"
            );
        }
    }

    #[test]
    fn a_second_compilation_reuses_the_first_ones_vectors() {
        /// Three threads' jobs, run in order on the calling thread, as the
        /// engine's threads claim them.
        struct InOrder;
        impl Platform for InOrder {
            fn parallelism(&self) -> usize {
                3
            }
            fn run_parallel(&self, jobs: &mut [&mut (dyn FnMut() + Send)]) {
                for job in jobs.iter_mut() {
                    job();
                }
            }
        }
        // 200 functions: nine jobs, largest first.
        let bytes = chained_functions(200);
        let pool = ScratchPool::default();
        let compile = || compile_with(&bytes, &InOrder, &pool).expect("compiles");
        fn addresses<T>(pool: &spin::Mutex<Vec<Vec<T>>>) -> Vec<usize> {
            let mut at: Vec<usize> = pool.lock().iter().map(|v| v.as_ptr() as usize).collect();
            at.sort_unstable();
            at
        }
        let first = compile();
        let (relocs, sites) = (addresses(&pool.relocs), addresses(&pool.sites));
        // Every job's relocations, and the site lists of all but the
        // first job (whose list became the module's table).
        assert_eq!((relocs.len(), sites.len()), (9, 8));
        // Each job of the next compilation got a vector large enough for
        // it, which came back unmoved: none grew.
        let second = compile();
        assert_eq!(addresses(&pool.relocs), relocs);
        assert_eq!(addresses(&pool.sites), sites);
        assert_eq!(second.code, first.code);
        assert_eq!(second.sites, first.sites);
    }

    #[test]
    fn jobs_get_smaller_towards_the_end() {
        use crate::platform::job_ranges;
        struct Cores(usize);
        impl Platform for Cores {
            fn parallelism(&self) -> usize {
                self.0
            }
        }
        // Two threads, 96 bodies of one byte: 70% of the bytes in the
        // first two ranges, 20% in the next two, 10% in the last two.
        assert_eq!(
            job_ranges(&Cores(2), true, 96, |_| 1),
            [0..34, 34..68, 68..77, 77..87, 87..92, 92..96]
        );
        // By size: the heavy body at the start weighs as much as the 90
        // after it.
        let ranges = job_ranges(&Cores(2), true, 96, |i| if i == 0 { 90 } else { 1 });
        assert_eq!(ranges[0], 0..1);
        assert_eq!(ranges.last().map(|r| r.end), Some(96));
        assert!(ranges.windows(2).all(|w| w[0].end == w[1].start));
        // Too few bodies for three ranges a thread of 16 or more: one range
        // a thread, of equal size.
        assert_eq!(job_ranges(&Cores(2), true, 90, |_| 1), [0..45, 45..90]);
        // One thread, or not in parallel: one range.
        assert_eq!(
            job_ranges(&Cores(1), true, 96, |_| 1),
            [core::ops::Range { start: 0, end: 96 }]
        );
        assert_eq!(
            job_ranges(&Cores(2), false, 96, |_| 1),
            [core::ops::Range { start: 0, end: 96 }]
        );
    }

    #[test]
    fn only_new_code_buffers_are_prefaulted() {
        use core::sync::atomic::{AtomicUsize, Ordering};
        struct Counting(AtomicUsize);
        impl Platform for Counting {
            fn prefault(&self, _: &mut [core::mem::MaybeUninit<u8>]) {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
        let bytes = sixty_functions();
        let module = crate::decode::Module::decode(&bytes).expect("decodes");
        let info = crate::validate::validate_module(&module).expect("validates");
        let platform = Counting(AtomicUsize::new(0));
        let compile = |buffers: Vec<Vec<u8>>| {
            let before = platform.0.load(Ordering::Relaxed);
            let linked = compile_module_into(
                &module,
                &info,
                &CpuFeatures::sse41_baseline(),
                &CompileOptions::default(),
                Jobs {
                    platform: &platform,
                    buffers,
                    sites: Vec::new(),
                    pool: &ScratchPool::default(),
                    beside: &|| {},
                },
            )
            .expect("compiles");
            (linked, platform.0.load(Ordering::Relaxed) - before)
        };
        // A fresh buffer is mapped in; the same buffer again, large enough,
        // already is; a buffer too small grows into fresh memory.
        let (first, fresh) = compile(Vec::new());
        let buffer = first.into_compiled().code;
        let code = buffer.clone();
        let (again, kept) = compile(alloc::vec![buffer]);
        let (grown, small) = compile(alloc::vec![Vec::with_capacity(64)]);
        assert_eq!((fresh, kept, small), (1, 0, 1));
        // The same code whichever buffer it went into.
        assert_eq!(again.into_compiled().code, code);
        assert_eq!(grown.into_compiled().code, code);
    }

    #[test]
    fn beside_runs_once_with_the_jobs_or_after_them() {
        use core::sync::atomic::{AtomicUsize, Ordering};
        let bytes = sixty_functions();
        let module = crate::decode::Module::decode(&bytes).expect("decodes");
        let info = crate::validate::validate_module(&module).expect("validates");
        let three = ThreeJobs { skip: None };
        for platform in [&Bare as &dyn Platform, &three] {
            let runs = AtomicUsize::new(0);
            let linked = compile_module_into(
                &module,
                &info,
                &CpuFeatures::sse41_baseline(),
                &CompileOptions::default(),
                Jobs {
                    platform,
                    buffers: Vec::new(),
                    sites: Vec::new(),
                    pool: &ScratchPool::default(),
                    beside: &|| {
                        runs.fetch_add(1, Ordering::Relaxed);
                    },
                },
            )
            .expect("compiles");
            assert_eq!(runs.into_inner(), 1);
            // One chunk a range, none for the job beside them.
            let chunks = if platform.parallelism() > 1 { 3 } else { 1 };
            assert_eq!(linked.pieces.len(), chunks);
        }
    }

    #[test]
    fn ranges_divide_by_weight_not_count() {
        use crate::platform::balanced_ranges;
        // One heavy item among light ones: it gets a range to itself.
        let weights = [1, 1, 1, 100, 1, 1, 1, 1];
        let ranges = balanced_ranges(weights.len(), 2, |i| weights[i]);
        assert_eq!(ranges, [0..4, 4..8]);
        // Equal weights: equal counts.
        assert_eq!(balanced_ranges(9, 3, |_| 7), [0..3, 3..6, 6..9]);
        // More parts than items: one item each, none empty.
        assert_eq!(balanced_ranges(2, 4, |_| 1), [0..1, 1..2]);
        // No items: one empty range (the stubs' chunk).
        let none = balanced_ranges(0, 2, |_| 1);
        assert_eq!((none.len(), none[0].is_empty()), (1, true));
        // The heavy item first: the rest is light, and still split.
        let weights = [100, 1, 1, 1];
        assert_eq!(balanced_ranges(4, 2, |i| weights[i]), [0..1, 1..4]);
    }

    #[test]
    fn parallel_validation_reports_the_first_error_in_order() {
        // Functions 10, 120 and 190 are invalid (an i32 where an i64 is
        // expected); with three threads (nine jobs, run last to first)
        // they lie in different ranges, and the error must name function
        // 10, as validating in order does.
        let mut wat = alloc::string::String::from("(module");
        for i in 0..200 {
            let body = if i == 10 || i == 120 || i == 190 {
                "(i64.add (i32.const 1) (i64.const 2)) drop"
            } else {
                "(i32.add (i32.const 1) (i32.const 2)) drop"
            };
            wat.push_str(&alloc::format!("(func {body})"));
        }
        wat.push(')');
        let bytes = wat::parse_str(&wat).expect("valid text");
        let module = crate::decode::Module::decode(&bytes).expect("decodes");
        let features = crate::validate::Features::default();
        let serial = crate::validate::validate_module_with(&module, &features)
            .expect_err("function 10 is invalid");
        let parallel = crate::validate::validate_module_on(
            &module,
            &features,
            &ThreeJobs { skip: None },
            true,
        )
        .expect_err("function 10 is invalid");
        assert_eq!(alloc::format!("{parallel}"), alloc::format!("{serial}"));
        assert_eq!(serial.func(), Some(10));
        // A valid module whose functions use their locals: the same facts
        // as validating in order, the local uses of each function where its
        // info says.
        let mut wat = alloc::string::String::from("(module");
        for i in 0..200 {
            wat.push_str("(func (param i32) (result i32)");
            for _ in 0..i % 5 {
                wat.push_str(" (local i32)");
            }
            for l in 0..=i % 5 {
                wat.push_str(&alloc::format!(" (local.set {l} (local.get 0))"));
            }
            wat.push_str(&alloc::format!(" (local.get {}))", i % 5));
        }
        wat.push(')');
        let bytes = wat::parse_str(&wat).expect("valid text");
        let module = crate::decode::Module::decode(&bytes).expect("decodes");
        let one = crate::validate::validate_module_with(&module, &features).expect("valid");
        let three = crate::validate::validate_module_on(
            &module,
            &features,
            &ThreeJobs { skip: None },
            true,
        )
        .expect("valid");
        assert_eq!(one.funcs.len(), three.funcs.len());
        for i in 0..one.funcs.len() {
            assert_eq!(one.local_uses(i).len(), i % 5 + 1);
            assert_eq!(one.local_uses(i), three.local_uses(i));
            assert_eq!(one.funcs[i].num_operators, three.funcs[i].num_operators);
        }
    }

    #[test]
    fn a_job_that_never_finishes_is_an_error() {
        let err = compile_on(&ThreeJobs { skip: Some(2) })
            .expect_err("a missing chunk must fail the compilation");
        assert!(
            alloc::format!("{err}").contains("a compiling thread panicked"),
            "{err}"
        );
    }

    /// A chunk of no code with backtrace sites `sites`.
    fn chunk_with_sites(sites: Vec<(u32, u32)>) -> Chunk {
        Chunk {
            code: Code {
                bytes: Vec::new(),
                relocs: Vec::new(),
            },
            sites,
            fault_sites: Vec::new(),
            type_id_sites: Vec::new(),
            funcs: Vec::new(),
            handlers: Vec::new(),
            unwind: Vec::new(),
        }
    }

    #[test]
    fn linking_keeps_the_first_chunks_sites_in_place() {
        let mut first = Vec::with_capacity(1000);
        first.extend([(4, 1), (9, 2)]);
        let at = first.as_ptr();
        let mut chunks = alloc::vec![
            chunk_with_sites(first),
            chunk_with_sites(alloc::vec![(0, 3), (5, 4)]),
        ];
        let sites = concat(
            &mut chunks,
            &[0, 32],
            |c| &mut c.sites,
            |(n, w), base| (base + n, w),
        );
        assert_eq!(sites, [(4, 1), (9, 2), (32, 3), (37, 4)]);
        // The first chunk's entries were not copied: its buffer had room
        // for all of them.
        assert_eq!(sites.as_ptr(), at);
    }

    #[test]
    fn linking_moves_every_chunk_not_at_zero() {
        let mut chunks = alloc::vec![
            chunk_with_sites(alloc::vec![(1, 1)]),
            chunk_with_sites(alloc::vec![(2, 2)]),
        ];
        let sites = concat(
            &mut chunks,
            &[16, 48],
            |c| &mut c.sites,
            |(n, w), base| (base + n, w),
        );
        assert_eq!(sites, [(17, 1), (50, 2)]);
    }
}
