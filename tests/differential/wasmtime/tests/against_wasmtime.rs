//! wasmkern against Wasmtime (Cranelift) on wasm-smith modules with typed
//! function references and exception handling, the two WebAssembly 3.0
//! features that `tests/differential.rs` cannot test: wasmi 2.0, its
//! oracle, runs neither, and node 20's V8 (11.3), its tie-breaker, reads
//! the pre-standard encodings (`0x63` is a stringref there). Here Wasmtime
//! alone is the oracle: any difference between the two engines fails the
//! test, and a person decides which one is wrong.
//!
//! # Modules
//! wasm-smith (0.263) generates typed function references (`call_ref`,
//! `return_call_ref`, `ref.as_non_null`, `br_on_null`, `br_on_non_null`,
//! `(ref $t)`, `(ref null $t)`) only with GC on, which also brings struct
//! and array types, supertypes, GC's abstract heap types and recursion
//! groups, and writes every type in the sub-type form (`0x50`/`0x4f`),
//! which wasmkern (and a validator without GC) rejects. So the generator
//! runs with GC on but without GC's instructions (`Aggregate`), and with
//! exception handling on (`tag`, `throw`, `throw_ref`, `try_table`,
//! `exnref`); then, before either engine sees it, [`rewrite`] re-encodes
//! the module (`wasm_encoder::reencode`), erasing GC's types:
//! - every function type becomes a plain (final) function type of its own
//!   recursion group; a supertype is dropped. A type that refers to
//!   itself or to a later type of its recursion group cannot be written
//!   so: the module is skipped ("needs GC");
//! - a struct or array type becomes the placeholder `(func)` (the other
//!   types keep their indices), and every reference to it, and to GC's
//!   abstract heap types `any`, `eq`, `i31`, `struct`, `array`, `none`,
//!   becomes an `externref` (keeping its nullability); `noextern` becomes
//!   `extern`, `noexn` `exn`, `nofunc` `func`. Without GC's instructions
//!   and with only null arguments from the host, every value of those
//!   types is null, so the code computes what it did; the typing only
//!   widens (the GC hierarchy maps onto the `extern` one), except where a
//!   `nofunc` flowed into a `(ref null $t)` or the code relied on a
//!   dropped supertype;
//! - the result must then validate with wasmparser configured as
//!   wasmkern's defaults (WebAssembly 2.0, typed function references, tail
//!   calls, exceptions, several and 64-bit memories, extended constants,
//!   relaxed SIMD; no GC). What it rejects (GC's instructions such as
//!   `ref.eq`, `ref.test`, `ref.cast`, `br_on_cast`, `struct.new` in a
//!   constant expression, and the cases above) is skipped as "needs GC",
//!   counted by wasmparser's reason.
//!
//! wasm-smith's `export_everything` exports no tag: [`rewrite`] exports
//! each one (`tag0`, ...), so that an exception's tag has a name.
//! Both engines run the rewritten module, and wasmkern must accept every
//! module that passes this filter: a rejection is a failure. Every module
//! gets wasm-smith's termination counter (Wasmtime must not hang), exports
//! everything, imports nothing, and has its NaNs canonicalized.
//!
//! # Comparison
//! Both engines meter fuel; a call that runs out of fuel or exhausts the
//! stack on either side ends the module's comparison (counted as skipped:
//! the floors bound how often). Instantiation must succeed, trap or throw
//! alike. Each exported function is called twice with the same arguments
//! (boundary and random integers and floats, random vectors, null for a
//! nullable reference; a function with a non-nullable reference parameter
//! is not called from the host: wasmkern's `Val` cannot name a typed
//! function reference there). The outcomes must agree:
//! - results, floats NaN-equal, a function reference by the export names of
//!   its function, an `exnref` by its tag and payload (as an exception);
//! - traps by kind;
//! - an uncaught exception by its tag's identity (the export names of the
//!   tag: every tag is exported) and its payload's values;
//!
//! and after every call every exported global, memory (length and hash)
//! and table. The test fails on any disagreement:
//! [`a_disagreement_is_reported`] checks that it does where wasmkern's
//! outcome or state is perturbed (a test-only path), and
//! [`the_rewriting_erases_gc_types`] checks the rewriting on a
//! hand-written GC module.
//!
//! # Running
//! `CARGO_TARGET_DIR=<the benchmark harness's> cargo test --release -p
//! differential-wasmtime -- --nocapture` (CI runs it without
//! `--nocapture`). The default run checks the floors of [`FLOORS`];
//! `DIFF_SEED_START`/`DIFF_COUNT` choose other seeds (the floors are then
//! not checked), `DIFF_TRACE=1` prints why each skipped module was
//! skipped, and `DIFF_DUMP=<dir>` writes the rewritten module of each
//! seed that disagrees there (`seed-N.wasm`).

#[path = "../../../common/rng.rs"]
mod rng;

use rng::Rng;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use wasm_encoder::reencode::{Error as ReencodeError, Reencode};

/// Modules generated by default.
const MODULES: u64 = 20_000;
/// Floors of the default run, about 90% of what it gives, in the order of
/// [`Stats::counts`]: modules compared, modules using `call_ref` or
/// `return_call_ref`, modules with a typed reference, modules with
/// `throw`, `throw_ref` or `try_table`, calls ending in an uncaught
/// exception, calls compared.
const FLOORS: [u64; 6] = [7_800, 138, 2_480, 4_980, 190, 15_200];
/// wasm-smith's termination budget, and each engine's fuel per step.
const TERMINATION_FUEL: u32 = 2_000;
const FUEL: u64 = 1_000_000;
/// How deep an exception's payload is described (payloads hold `exnref`s).
const EXN_DEPTH: usize = 3;

fn smith_config() -> wasm_smith::Config {
    use wasm_smith::{InstructionKind as K, InstructionKinds};
    wasm_smith::Config {
        gc_enabled: true,
        reference_types_enabled: true,
        multi_value_enabled: true,
        bulk_memory_enabled: true,
        sign_extension_ops_enabled: true,
        saturating_float_to_int_enabled: true,
        simd_enabled: true,
        relaxed_simd_enabled: false,
        tail_call_enabled: true,
        exceptions_enabled: true,
        memory64_enabled: false,
        threads_enabled: false,
        shared_everything_threads_enabled: false,
        custom_descriptors_enabled: false,
        wide_arithmetic_enabled: false,
        extended_const_enabled: false,
        custom_page_sizes_enabled: false,
        // No `Aggregate`: GC's instructions.
        allowed_instructions: InstructionKinds::new(&[
            K::Numeric,
            K::Vector,
            K::Reference,
            K::Parametric,
            K::Variable,
            K::Table,
            K::Memory,
            K::Control,
        ]),
        max_memories: 1,
        max_tables: 4,
        max_types: 8,
        max_tags: 4,
        max_imports: 0,
        export_everything: true,
        canonicalize_nans: true,
        min_types: 1,
        min_funcs: 1,
        min_tags: 1,
        max_funcs: 20,
        memory_max_size_required: true,
        max_memory32_bytes: 4 << 16,
        table_max_size_required: true,
        max_table_elements: 200,
        ..wasm_smith::Config::default()
    }
}

/// wasmkern's defaults (`Features::DEFAULT`) in wasmparser's terms: what
/// the rewritten modules must validate with. No GC.
fn features() -> wasmparser::WasmFeatures {
    use wasmparser::WasmFeatures as F;
    F::WASM2
        | F::FUNCTION_REFERENCES
        | F::TAIL_CALL
        | F::EXCEPTIONS
        | F::MULTI_MEMORY
        | F::MEMORY64
        | F::EXTENDED_CONST
        | F::RELAXED_SIMD
}

/// The re-encoder of [`rewrite`]; its error is why a module needs GC.
#[derive(Default)]
struct WithoutGc {
    /// By type index: whether the type is a struct or array type.
    aggregate: Vec<bool>,
    /// Whether a GC type was erased (counted).
    erased: bool,
    /// The module's tags (it imports none).
    tags: u32,
    /// The export names seen.
    names: Vec<String>,
    /// Whether the tags are exported.
    tags_exported: bool,
}

type Why = &'static str;

impl WithoutGc {
    /// Exports every tag (wasm-smith's `export_everything` exports none).
    fn export_tags(&mut self, exports: &mut wasm_encoder::ExportSection) {
        for i in 0..self.tags {
            let mut name = format!("tag{i}");
            while self.names.contains(&name) {
                name.push('\'');
            }
            exports.export(&name, wasm_encoder::ExportKind::Tag, i);
        }
        self.tags_exported = true;
    }

    /// Whether `ty` is a reference to a concrete function type at or
    /// after `index`: a recursion group's (or its own) type.
    fn refers_to(&self, ty: &wasmparser::ValType, index: usize) -> bool {
        let wasmparser::ValType::Ref(r) = ty else {
            return false;
        };
        let (wasmparser::HeapType::Concrete(i) | wasmparser::HeapType::Exact(i)) = r.heap_type()
        else {
            return false;
        };
        i.as_module_index().is_some_and(|i| {
            let i = i as usize;
            i >= index && !self.aggregate.get(i).copied().unwrap_or(false)
        })
    }
}

impl Reencode for WithoutGc {
    type Error = Why;

    fn parse_tag_section(
        &mut self,
        tags: &mut wasm_encoder::TagSection,
        section: wasmparser::TagSectionReader<'_>,
    ) -> Result<(), ReencodeError<Why>> {
        self.tags = section.count();
        wasm_encoder::reencode::utils::parse_tag_section(self, tags, section)
    }

    fn parse_export(
        &mut self,
        exports: &mut wasm_encoder::ExportSection,
        export: wasmparser::Export<'_>,
    ) -> Result<(), ReencodeError<Why>> {
        self.names.push(export.name.to_string());
        wasm_encoder::reencode::utils::parse_export(self, exports, export)
    }

    fn parse_export_section(
        &mut self,
        exports: &mut wasm_encoder::ExportSection,
        section: wasmparser::ExportSectionReader<'_>,
    ) -> Result<(), ReencodeError<Why>> {
        wasm_encoder::reencode::utils::parse_export_section(self, exports, section)?;
        self.export_tags(exports);
        Ok(())
    }

    fn intersperse_section_hook(
        &mut self,
        module: &mut wasm_encoder::Module,
        _after: Option<wasm_encoder::SectionId>,
        before: Option<wasm_encoder::SectionId>,
    ) -> Result<(), ReencodeError<Why>> {
        use wasm_encoder::SectionId as S;
        // A module without an export section gets one where it belongs.
        if self.tags > 0
            && !self.tags_exported
            && matches!(
                before,
                None | Some(S::Start | S::Element | S::DataCount | S::Code | S::Data)
            )
        {
            let mut exports = wasm_encoder::ExportSection::new();
            self.export_tags(&mut exports);
            module.section(&exports);
        }
        Ok(())
    }

    fn parse_type_section(
        &mut self,
        types: &mut wasm_encoder::TypeSection,
        section: wasmparser::TypeSectionReader<'_>,
    ) -> Result<(), ReencodeError<Why>> {
        use wasmparser::CompositeInnerType as C;
        let groups = section
            .into_iter()
            .collect::<Result<Vec<wasmparser::RecGroup>, _>>()?;
        self.aggregate = groups
            .iter()
            .flat_map(|g| g.types())
            .map(|t| !matches!(t.composite_type.inner, C::Func(_)))
            .collect();
        let mut index = 0;
        for group in groups {
            // Each type of a group becomes a type of its own, which it
            // can when it refers to no type of its group but the earlier
            // ones (nor to itself).
            for sub in group.into_types() {
                if let C::Func(f) = &sub.composite_type.inner
                    && f.params()
                        .iter()
                        .chain(f.results())
                        .any(|t| self.refers_to(t, index))
                {
                    return Err(ReencodeError::UserError(
                        "types that refer to themselves or to later types of their recursion group",
                    ));
                }
                let ty = self.sub_type(sub)?;
                types.ty().subtype(&ty);
                index += 1;
            }
        }
        Ok(())
    }

    fn sub_type(
        &mut self,
        sub: wasmparser::SubType,
    ) -> Result<wasm_encoder::SubType, ReencodeError<Why>> {
        // A supertype is dropped: where the code relies on it, the module
        // no longer validates.
        if !sub.supertype_idxs.is_empty() {
            self.erased = true;
        }
        let composite_type = match sub.composite_type.inner {
            wasmparser::CompositeInnerType::Func(f) => wasm_encoder::CompositeType {
                inner: wasm_encoder::CompositeInnerType::Func(self.func_type(f)?),
                shared: sub.composite_type.shared,
                descriptor: None,
                describes: None,
            },
            // Nothing refers to it any more (see `heap_type`): a
            // placeholder keeps the other types' indices.
            _ => {
                self.erased = true;
                wasm_encoder::CompositeType {
                    inner: wasm_encoder::CompositeInnerType::Func(wasm_encoder::FuncType::new(
                        [],
                        [],
                    )),
                    shared: false,
                    descriptor: None,
                    describes: None,
                }
            }
        };
        // Final and without a supertype: the plain function type.
        Ok(wasm_encoder::SubType {
            is_final: true,
            supertype_idxs: Vec::new(),
            composite_type,
        })
    }

    fn heap_type(
        &mut self,
        ty: wasmparser::HeapType,
    ) -> Result<wasm_encoder::HeapType, ReencodeError<Why>> {
        if let wasmparser::HeapType::Concrete(i) | wasmparser::HeapType::Exact(i) = ty
            && let Some(i) = i.as_module_index()
            && self.aggregate.get(i as usize).copied().unwrap_or(false)
        {
            self.erased = true;
            return Ok(wasm_encoder::HeapType::EXTERN);
        }
        wasm_encoder::reencode::utils::heap_type(self, ty)
    }

    fn abstract_heap_type(
        &mut self,
        ty: wasmparser::AbstractHeapType,
    ) -> Result<wasm_encoder::AbstractHeapType, ReencodeError<Why>> {
        use wasm_encoder::AbstractHeapType as E;
        use wasmparser::AbstractHeapType as A;
        Ok(match ty {
            A::Any | A::Eq | A::I31 | A::Struct | A::Array | A::None | A::NoExtern => {
                self.erased = true;
                E::Extern
            }
            // Valid only where a null function reference flows into
            // `funcref`, not into `(ref null $t)`: wasmparser decides.
            A::NoFunc => {
                self.erased = true;
                E::Func
            }
            A::NoExn => {
                self.erased = true;
                E::Exn
            }
            other => wasm_encoder::reencode::utils::abstract_heap_type(self, other),
        })
    }
}

/// `bytes` without GC's types (see the module docs), and whether any was
/// erased; `Err` says why the module needs GC.
fn rewrite(bytes: &[u8]) -> Result<(Vec<u8>, bool), String> {
    let mut module = wasm_encoder::Module::new();
    let mut reencoder = WithoutGc::default();
    reencoder
        .parse_core_module(&mut module, wasmparser::Parser::new(0), bytes)
        .map_err(|e| match e {
            ReencodeError::UserError(why) => format!("needs GC: {why}"),
            other => format!("not re-encoded: {other}"),
        })?;
    let bytes = module.finish();
    wasmparser::Validator::new_with_features(features())
        .validate_all(&bytes)
        .map_err(|e| format!("needs GC: wasmparser: {}", e.message()))?;
    Ok((bytes, reencoder.erased))
}

/// The module of `seed`, whether GC types were erased from it, and the
/// seed of its arguments; or why none.
fn case(seed: u64) -> Result<(Vec<u8>, bool, u64), String> {
    let mut rng = Rng(seed ^ 0x7e5f_0000_0000_0000);
    let len = 4096 + (rng.next() % (28 * 1024)) as usize;
    let input: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
    let mut u = arbitrary::Unstructured::new(&input);
    let mut module = wasm_smith::Module::new(smith_config(), &mut u)
        .map_err(|_| "wasm-smith gave no module".to_string())?;
    module
        .ensure_termination(TERMINATION_FUEL)
        .map_err(|_| "no termination counter".to_string())?;
    let (bytes, erased) = rewrite(&module.to_bytes())?;
    Ok((bytes, erased, rng.next()))
}

/// What a module uses, for the floors.
#[derive(Default, Debug, Clone, Copy)]
struct Uses {
    /// `call_ref` or `return_call_ref` in its code.
    call_ref: bool,
    /// A typed reference anywhere (a type, a value or an instruction of
    /// typed function references).
    typed: bool,
    /// `throw`, `throw_ref` or `try_table` in its code.
    exceptions: bool,
}

fn uses(bytes: &[u8]) -> Uses {
    use wasmparser::{Operator as O, Parser, Payload};
    let typed = |t: &wasmparser::ValType| match t {
        wasmparser::ValType::Ref(r) => {
            !r.is_nullable() || matches!(r.heap_type(), wasmparser::HeapType::Concrete(_))
        }
        _ => false,
    };
    let mut out = Uses::default();
    for payload in Parser::new(0).parse_all(bytes).flatten() {
        match payload {
            Payload::TypeSection(r) => {
                for group in r.into_iter().flatten() {
                    for sub in group.into_types() {
                        if let wasmparser::CompositeInnerType::Func(f) = &sub.composite_type.inner {
                            out.typed |= f.params().iter().chain(f.results()).any(typed);
                        }
                    }
                }
            }
            Payload::GlobalSection(r) => {
                out.typed |= r.into_iter().flatten().any(|g| typed(&g.ty.content_type));
            }
            Payload::TableSection(r) => {
                out.typed |= r
                    .into_iter()
                    .flatten()
                    .any(|t| typed(&wasmparser::ValType::Ref(t.ty.element_type)));
            }
            Payload::CodeSectionEntry(body) => {
                if let Ok(locals) = body.get_locals_reader() {
                    out.typed |= locals.into_iter().flatten().any(|(_, t)| typed(&t));
                }
                let Ok(mut ops) = body.get_operators_reader() else {
                    continue;
                };
                while !ops.eof() {
                    match ops.read() {
                        Ok(O::CallRef { .. } | O::ReturnCallRef { .. }) => {
                            out.call_ref = true;
                            out.typed = true;
                        }
                        Ok(O::RefAsNonNull | O::BrOnNull { .. } | O::BrOnNonNull { .. }) => {
                            out.typed = true
                        }
                        Ok(O::Throw { .. } | O::ThrowRef | O::TryTable { .. }) => {
                            out.exceptions = true
                        }
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// One step's outcome, as both engines are described.
#[derive(Debug, PartialEq, Clone)]
enum Outcome {
    Values(Vec<String>),
    Trap(String),
    /// An uncaught exception: its tag's export names and its payload.
    Exception(String),
    /// Out of fuel or stack on this engine: not compared.
    GaveUp(&'static str),
}

fn f32_str(bits: u32) -> String {
    if f32::from_bits(bits).is_nan() {
        "f32:nan".into()
    } else {
        format!("f32:{bits:#x}")
    }
}

fn f64_str(bits: u64) -> String {
    if f64::from_bits(bits).is_nan() {
        "f64:nan".into()
    } else {
        format!("f64:{bits:#x}")
    }
}

/// `what:` and the export names of an exported item, `what:?` when none.
fn names_or(what: &str, names: Vec<String>) -> String {
    if names.is_empty() {
        format!("{what}:?")
    } else {
        format!("{what}:{}", names.join(","))
    }
}

/// An exception described by its tag and payload.
fn exn_str(tag: String, fields: &[String]) -> String {
    format!("exn {tag}({})", fields.join(" "))
}

/// The trap word both engines' traps map to.
fn kern_trap(e: &wasmkern::Error) -> Outcome {
    use wasmkern::Trap as T;
    let word = match e.trap() {
        Some(T::StackOverflow) => return Outcome::GaveUp("stack exhausted"),
        Some(T::Unreachable) => "unreachable",
        Some(T::MemoryOutOfBounds) => "memory",
        Some(T::IntegerDivideByZero) => "div0",
        Some(T::IntegerOverflow) => "overflow",
        Some(T::InvalidConversionToInteger) => "conversion",
        Some(T::UndefinedElement | T::TableOutOfBounds) => "table",
        Some(T::UninitializedElement) => "indirect null",
        // `call_ref` of null; Wasmtime's is its `NullReference`.
        Some(T::NullReference | T::NullFunctionReference) => "null reference",
        Some(T::IndirectCallTypeMismatch) => "signature",
        Some(other) => return Outcome::Trap(format!("other {other:?}")),
        None if e.kind() == wasmkern::ErrorKind::OutOfFuel => {
            return Outcome::GaveUp("out of fuel");
        }
        None => return Outcome::Trap(format!("error {e}")),
    };
    Outcome::Trap(word.into())
}

fn wasmtime_trap(e: &wasmtime::Error) -> Outcome {
    use wasmtime::Trap as T;
    let word = match e.downcast_ref::<T>() {
        Some(T::StackOverflow) => return Outcome::GaveUp("stack exhausted"),
        Some(T::OutOfFuel) => return Outcome::GaveUp("out of fuel"),
        Some(T::UnreachableCodeReached) => "unreachable",
        Some(T::MemoryOutOfBounds) => "memory",
        Some(T::IntegerDivisionByZero) => "div0",
        Some(T::IntegerOverflow) => "overflow",
        Some(T::BadConversionToInteger) => "conversion",
        Some(T::TableOutOfBounds) => "table",
        Some(T::IndirectCallToNull) => "indirect null",
        Some(T::NullReference) => "null reference",
        Some(T::BadSignature) => "signature",
        Some(other) => return Outcome::Trap(format!("other {other:?}")),
        None => return Outcome::Trap(format!("error {e:#}")),
    };
    Outcome::Trap(word.into())
}

/// An argument of a parameter type.
#[derive(Debug, Clone, Copy)]
enum Arg {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
    V128(u128),
    NullFunc,
    NullExtern,
    NullExn,
}

/// An argument of type `ty`; `None` for a non-nullable reference.
fn arg(rng: &mut Rng, ty: wasmkern::ValType) -> Option<Arg> {
    use wasmkern::ValType as V;
    const INTS: [i64; 8] = [
        0,
        1,
        -1,
        7,
        i32::MIN as i64,
        i32::MAX as i64,
        i64::MIN,
        i64::MAX,
    ];
    const F64S: [f64; 8] = [
        0.0,
        -0.0,
        1.5,
        -1.0,
        f64::INFINITY,
        f64::MAX,
        2147483648.0,
        1e-300,
    ];
    let bits = rng.next();
    let boundary = bits & 1 == 0;
    let pick = (bits >> 1) as usize % 8;
    Some(match ty {
        V::I32 => Arg::I32(if boundary {
            INTS[pick] as i32
        } else {
            (bits >> 8) as i32
        }),
        V::I64 => Arg::I64(if boundary {
            INTS[pick]
        } else {
            rng.next() as i64
        }),
        V::F32 => Arg::F32(if boundary {
            (F64S[pick] as f32).to_bits()
        } else {
            let b = rng.next() as u32;
            if f32::from_bits(b).is_nan() {
                0x7fc0_0000
            } else {
                b
            }
        }),
        V::F64 => Arg::F64(if boundary {
            F64S[pick].to_bits()
        } else {
            let b = rng.next();
            if f64::from_bits(b).is_nan() {
                0x7ff8_0000_0000_0000
            } else {
                b
            }
        }),
        V::V128 => Arg::V128(u128::from(rng.next()) << 64 | u128::from(rng.next())),
        V::Ref(r) if !r.is_nullable() => return None,
        V::Ref(r) if r.is_func() => Arg::NullFunc,
        V::Ref(r) if r.is_exn() => Arg::NullExn,
        V::Ref(_) => Arg::NullExtern,
        _ => return None,
    })
}

/// wasmkern's side of one module.
struct Kern {
    store: wasmkern::Store<()>,
    /// `None` when instantiation failed.
    instance: Option<wasmkern::Instance>,
    funcs: Vec<(String, wasmkern::Func)>,
    tags: Vec<(String, wasmkern::Tag)>,
}

impl Kern {
    fn value(&self, v: &wasmkern::Val, depth: usize) -> String {
        use wasmkern::Val as V;
        match v {
            V::I32(x) => format!("i32:{x}"),
            V::I64(x) => format!("i64:{x}"),
            V::F32(x) => f32_str(*x),
            V::F64(x) => f64_str(*x),
            V::V128(x) => format!("v128:{x:#x}"),
            V::FuncRef(None) | V::ExternRef(None) | V::ExnRef(None) => "null".into(),
            V::FuncRef(Some(f)) => names_or(
                "func",
                self.funcs
                    .iter()
                    .filter(|(_, g)| g == f)
                    .map(|(n, _)| n.clone())
                    .collect(),
            ),
            V::ExternRef(Some(_)) => "extern".into(),
            V::ExnRef(Some(e)) => {
                let (tag, fields) = match (e.tag(&self.store), e.fields(&self.store)) {
                    (Ok(tag), Ok(fields)) => (tag, fields),
                    (Err(e), _) | (_, Err(e)) => return format!("exn unreadable: {e}"),
                };
                self.exception(tag, &fields, depth)
            }
            other => format!("{other:?}"),
        }
    }

    fn exception(&self, tag: wasmkern::Tag, fields: &[wasmkern::Val], depth: usize) -> String {
        if depth == 0 {
            return "exn".into();
        }
        let tag = names_or(
            "tag",
            self.tags
                .iter()
                .filter(|(_, t)| *t == tag)
                .map(|(n, _)| n.clone())
                .collect(),
        );
        let fields: Vec<String> = fields.iter().map(|v| self.value(v, depth - 1)).collect();
        exn_str(tag, &fields)
    }

    fn outcome(&self, e: &wasmkern::Error) -> Outcome {
        match e.thrown() {
            Some(thrown) if e.kind() == wasmkern::ErrorKind::Exception => {
                Outcome::Exception(self.exception(thrown.tag(), thrown.fields(), EXN_DEPTH))
            }
            _ => kern_trap(e),
        }
    }

    fn state(&self) -> Vec<String> {
        let mut out = Vec::new();
        let Some(instance) = self.instance else {
            return out;
        };
        for (name, ext) in instance.exports(&self.store) {
            match ext {
                wasmkern::Extern::Memory(m) => {
                    let d = m.data(&self.store);
                    out.push(format!(
                        "memory {name}: {} bytes, fnv {:08x}",
                        d.len(),
                        fnv(d)
                    ));
                }
                wasmkern::Extern::Global(g) => {
                    out.push(format!(
                        "global {name}: {}",
                        self.value(&g.get(&self.store), EXN_DEPTH)
                    ));
                }
                wasmkern::Extern::Table(t) => {
                    let mut line = format!("table {name}:");
                    for i in 0..t.size(&self.store) {
                        let v = t.get(&self.store, i).map(|v| self.value(&v, EXN_DEPTH));
                        let _ = write!(line, " {}", v.unwrap_or_default());
                    }
                    out.push(line);
                }
                _ => {}
            }
        }
        out.sort();
        out
    }

    fn call(&mut self, name: &str, args: &[Arg]) -> Outcome {
        let Some(f) = self.instance.and_then(|i| i.get_func(&self.store, name)) else {
            return Outcome::Trap("no such function".into());
        };
        let args: Vec<wasmkern::Val> = args
            .iter()
            .map(|a| match *a {
                Arg::I32(x) => wasmkern::Val::I32(x),
                Arg::I64(x) => wasmkern::Val::I64(x),
                Arg::F32(x) => wasmkern::Val::F32(x),
                Arg::F64(x) => wasmkern::Val::F64(x),
                Arg::V128(x) => wasmkern::Val::V128(x),
                Arg::NullFunc => wasmkern::Val::FuncRef(None),
                Arg::NullExtern => wasmkern::Val::ExternRef(None),
                Arg::NullExn => wasmkern::Val::ExnRef(None),
            })
            .collect();
        let mut results: Vec<wasmkern::Val> = f
            .ty(&self.store)
            .results()
            .iter()
            .map(|&t| wasmkern::Val::default_for(t))
            .collect();
        self.store.set_fuel(FUEL).expect("fuel is on");
        match f.call(&mut self.store, &args, &mut results) {
            Ok(()) => Outcome::Values(results.iter().map(|v| self.value(v, EXN_DEPTH)).collect()),
            Err(e) => self.outcome(&e),
        }
    }
}

/// Wasmtime's side of one module.
struct Time {
    store: wasmtime::Store<()>,
    /// `None` when instantiation failed.
    instance: Option<wasmtime::Instance>,
    /// Exported functions by name, as raw function references (their
    /// identity).
    funcs: Vec<(String, usize)>,
    tags: Vec<(String, wasmtime::Tag)>,
}

impl Time {
    fn value(&mut self, v: &wasmtime::Val, depth: usize) -> String {
        use wasmtime::Val as V;
        match v {
            V::I32(x) => format!("i32:{x}"),
            V::I64(x) => format!("i64:{x}"),
            V::F32(x) => f32_str(*x),
            V::F64(x) => f64_str(*x),
            V::V128(x) => format!("v128:{:#x}", x.as_u128()),
            V::FuncRef(None) | V::ExternRef(None) | V::ExnRef(None) => "null".into(),
            V::FuncRef(Some(f)) => {
                let raw = f.to_raw(&mut self.store) as usize;
                names_or(
                    "func",
                    self.funcs
                        .iter()
                        .filter(|(_, g)| *g == raw)
                        .map(|(n, _)| n.clone())
                        .collect(),
                )
            }
            V::ExternRef(Some(_)) => "extern".into(),
            V::ExnRef(Some(e)) => self.exception(e, depth),
            other => format!("{other:?}"),
        }
    }

    fn exception(&mut self, e: &wasmtime::Rooted<wasmtime::ExnRef>, depth: usize) -> String {
        if depth == 0 {
            return "exn".into();
        }
        let tag = match e.tag(&mut self.store) {
            Ok(t) => t,
            Err(e) => return format!("exn unreadable: {e}"),
        };
        let fields: Vec<wasmtime::Val> = match e.fields(&mut self.store) {
            Ok(f) => f.collect(),
            Err(e) => return format!("exn unreadable: {e}"),
        };
        let tag = names_or(
            "tag",
            self.tags
                .iter()
                .filter(|(_, t)| wasmtime::Tag::eq(t, &tag, &self.store))
                .map(|(n, _)| n.clone())
                .collect(),
        );
        let fields: Vec<String> = fields.iter().map(|v| self.value(v, depth - 1)).collect();
        exn_str(tag, &fields)
    }

    fn outcome(&mut self, e: &wasmtime::Error) -> Outcome {
        if e.downcast_ref::<wasmtime::ThrownException>().is_some() {
            return match self.store.take_pending_exception() {
                Some(exn) => Outcome::Exception(self.exception(&exn, EXN_DEPTH)),
                None => Outcome::Trap("a thrown exception without one pending".into()),
            };
        }
        wasmtime_trap(e)
    }

    fn state(&mut self) -> Vec<String> {
        let Some(instance) = self.instance else {
            return Vec::new();
        };
        let exports: Vec<(String, wasmtime::Extern)> = instance
            .exports(&mut self.store)
            .map(|e| (e.name().to_string(), e.into_extern()))
            .collect();
        let mut out = Vec::new();
        for (name, ext) in exports {
            match ext {
                wasmtime::Extern::Memory(m) => {
                    let d = m.data(&self.store);
                    out.push(format!(
                        "memory {name}: {} bytes, fnv {:08x}",
                        d.len(),
                        fnv(d)
                    ));
                }
                wasmtime::Extern::Global(g) => {
                    let v = g.get(&mut self.store);
                    let v = self.value(&v, EXN_DEPTH);
                    out.push(format!("global {name}: {v}"));
                }
                wasmtime::Extern::Table(t) => {
                    let mut line = format!("table {name}:");
                    for i in 0..t.size(&self.store) {
                        let v = match t.get(&mut self.store, i) {
                            Some(r) => self.value(&wasmtime::Val::from(r), EXN_DEPTH),
                            None => String::new(),
                        };
                        let _ = write!(line, " {v}");
                    }
                    out.push(line);
                }
                _ => {}
            }
        }
        out.sort();
        out
    }

    fn call(&mut self, name: &str, args: &[Arg]) -> Outcome {
        let Some(f) = self
            .instance
            .and_then(|i| i.get_func(&mut self.store, name))
        else {
            return Outcome::Trap("no such function".into());
        };
        let args: Vec<wasmtime::Val> = args
            .iter()
            .map(|a| match *a {
                Arg::I32(x) => wasmtime::Val::I32(x),
                Arg::I64(x) => wasmtime::Val::I64(x),
                Arg::F32(x) => wasmtime::Val::F32(x),
                Arg::F64(x) => wasmtime::Val::F64(x),
                Arg::V128(x) => wasmtime::Val::V128(x.into()),
                Arg::NullFunc => wasmtime::Val::FuncRef(None),
                Arg::NullExtern => wasmtime::Val::ExternRef(None),
                Arg::NullExn => wasmtime::Val::ExnRef(None),
            })
            .collect();
        let n = f.ty(&self.store).results().len();
        let mut results = vec![wasmtime::Val::I32(0); n];
        self.store.set_fuel(FUEL).expect("fuel is on");
        match f.call(&mut self.store, &args, &mut results) {
            Ok(()) => Outcome::Values(results.iter().map(|v| self.value(v, EXN_DEPTH)).collect()),
            Err(e) => self.outcome(&e),
        }
    }
}

fn fnv(data: &[u8]) -> u32 {
    data.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

fn kern_engine() -> &'static wasmkern::Engine {
    static ENGINE: std::sync::OnceLock<wasmkern::Engine> = std::sync::OnceLock::new();
    ENGINE.get_or_init(|| {
        // The defaults: typed function references and exceptions are on.
        let mut config = wasmkern::Config::new();
        config
            .consume_fuel(true)
            .max_wasm_stack(wasmkern::MIN_MAX_WASM_STACK);
        wasmkern::Engine::new(&config).expect("wasmkern engine")
    })
}

fn wasmtime_engine() -> &'static wasmtime::Engine {
    static ENGINE: std::sync::OnceLock<wasmtime::Engine> = std::sync::OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut config = wasmtime::Config::new();
        config
            .strategy(wasmtime::Strategy::Cranelift)
            .consume_fuel(true)
            .wasm_function_references(true)
            .wasm_exceptions(true)
            .wasm_tail_call(true)
            .wasm_simd(true)
            .wasm_gc(false);
        wasmtime::Engine::new(&config).expect("Wasmtime engine")
    })
}

#[derive(Default, Debug)]
struct Stats {
    modules: u64,
    compared: u64,
    call_ref_modules: u64,
    typed_modules: u64,
    exception_modules: u64,
    /// Calls whose outcome on both engines is the same uncaught exception.
    exceptions: u64,
    calls: u64,
    /// Modules compared that had GC types erased.
    erased: u64,
    skipped: BTreeMap<String, u64>,
}

impl Stats {
    fn skip(&mut self, why: impl Into<String>) {
        *self.skipped.entry(why.into()).or_default() += 1;
    }

    /// The counts the floors bound, in [`FLOORS`]' order.
    fn counts(&self) -> [(&'static str, u64); 6] {
        [
            ("modules compared", self.compared),
            (
                "modules using call_ref or return_call_ref",
                self.call_ref_modules,
            ),
            ("modules with a typed reference", self.typed_modules),
            (
                "modules with throw, throw_ref or try_table",
                self.exception_modules,
            ),
            ("calls ending in an uncaught exception", self.exceptions),
            ("calls compared", self.calls),
        ]
    }
}

/// A change to wasmkern's side that a comparison must notice (the
/// self-check, [`a_disagreement_is_reported`]); none in the real run.
#[derive(Default, Clone, Copy)]
struct Perturb {
    /// Applied to the outcome of every call from the host.
    outcome: Option<fn(&mut Outcome)>,
    /// Applied to the state after every call.
    state: Option<fn(&mut Vec<String>)>,
}

/// Compares module `seed`; `Err` describes a disagreement.
fn check(seed: u64, stats: &mut Stats) -> Result<(), String> {
    stats.modules += 1;
    let (bytes, erased, arg_seed) = match case(seed) {
        Ok(c) => c,
        Err(why) => {
            if std::env::var_os("DIFF_TRACE").is_some() {
                eprintln!("seed {seed}: skipped: {why}");
            }
            stats.skip(why);
            return Ok(());
        }
    };
    let compared = stats.compared;
    check_module(&bytes, arg_seed, stats, Perturb::default())?;
    if erased && stats.compared > compared {
        stats.erased += 1;
    }
    Ok(())
}

/// Runs `bytes` on both engines and compares every step.
fn check_module(
    bytes: &[u8],
    arg_seed: u64,
    stats: &mut Stats,
    perturb: Perturb,
) -> Result<(), String> {
    let uses = uses(bytes);
    let kern_module = wasmkern::Module::new(kern_engine(), bytes)
        .map_err(|e| format!("wasmkern rejects a module wasmparser accepts: {e}"))?;
    let time_module = wasmtime::Module::new(wasmtime_engine(), bytes)
        .map_err(|e| format!("Wasmtime rejects a module wasmparser accepts: {e:#}"))?;

    let mut kstore = wasmkern::Store::new(kern_engine(), ());
    kstore.set_fuel(FUEL).expect("fuel is on");
    let kern = wasmkern::Instance::new(&mut kstore, &kern_module, &[]);
    let mut tstore = wasmtime::Store::new(wasmtime_engine(), ());
    tstore.set_fuel(FUEL).expect("fuel is on");
    let time = wasmtime::Instance::new(&mut tstore, &time_module, &[]);
    let (kern, time) = match (kern, time) {
        (Ok(k), Ok(t)) => (k, t),
        (k, t) => {
            // No instance to name the tags of an uncaught exception: both
            // sides describe it without names.
            let k = match k {
                Ok(_) => Outcome::Values(Vec::new()),
                Err(e) => Kern {
                    store: kstore,
                    instance: None,
                    funcs: Vec::new(),
                    tags: Vec::new(),
                }
                .outcome(&e),
            };
            let t = match t {
                Ok(_) => Outcome::Values(Vec::new()),
                Err(e) => Time {
                    store: tstore,
                    instance: None,
                    funcs: Vec::new(),
                    tags: Vec::new(),
                }
                .outcome(&e),
            };
            if let (Outcome::GaveUp(why), _) | (_, Outcome::GaveUp(why)) = (&k, &t) {
                stats.skip(*why);
                return Ok(());
            }
            if k != t {
                return Err(format!("instantiation: wasmkern {k:?}, Wasmtime {t:?}"));
            }
            stats.skip("instantiation failed alike on both");
            return Ok(());
        }
    };
    let kern_exports = kern.exports(&kstore);
    let kern_funcs = kern_exports
        .iter()
        .filter_map(|(n, e)| match e {
            wasmkern::Extern::Func(f) => Some((n.clone(), *f)),
            _ => None,
        })
        .collect();
    let kern_tags = kern_exports
        .iter()
        .filter_map(|(n, e)| match e {
            wasmkern::Extern::Tag(t) => Some((n.clone(), *t)),
            _ => None,
        })
        .collect();
    let time_exports: Vec<(String, wasmtime::Extern)> = time
        .exports(&mut tstore)
        .map(|e| (e.name().to_string(), e.into_extern()))
        .collect();
    let mut time_funcs = Vec::new();
    let mut time_tags = Vec::new();
    for (n, e) in time_exports {
        match e {
            wasmtime::Extern::Func(f) => time_funcs.push((n, f.to_raw(&mut tstore) as usize)),
            wasmtime::Extern::Tag(t) => time_tags.push((n, t)),
            _ => {}
        }
    }
    let mut k = Kern {
        store: kstore,
        instance: Some(kern),
        funcs: kern_funcs,
        tags: kern_tags,
    };
    let mut t = Time {
        store: tstore,
        instance: Some(time),
        funcs: time_funcs,
        tags: time_tags,
    };
    let (ks, ts) = (k.state(), t.state());
    if ks != ts {
        return Err(format!(
            "after instantiation: wasmkern {ks:?}, Wasmtime {ts:?}"
        ));
    }
    stats.compared += 1;
    stats.call_ref_modules += u64::from(uses.call_ref);
    stats.typed_modules += u64::from(uses.typed);
    stats.exception_modules += u64::from(uses.exceptions);

    let mut rng = Rng(arg_seed);
    let names: Vec<(String, wasmkern::Func)> = k.funcs.clone();
    for round in 0..2 {
        for (name, f) in &names {
            let params = f.ty(&k.store).params().to_vec();
            let Some(args) = params
                .iter()
                .map(|&p| arg(&mut rng, p))
                .collect::<Option<Vec<_>>>()
            else {
                stats.skip("calls: a non-nullable reference parameter");
                continue;
            };
            let (mut ko, to) = (k.call(name, &args), t.call(name, &args));
            if let Some(p) = perturb.outcome {
                p(&mut ko);
            }
            if let (Outcome::GaveUp(why), _) | (_, Outcome::GaveUp(why)) = (&ko, &to) {
                stats.skip(*why);
                return Ok(());
            }
            if ko != to {
                return Err(format!(
                    "call {round} of `{name}`{args:?}: wasmkern {ko:?}, Wasmtime {to:?}"
                ));
            }
            let (mut ks, ts) = (k.state(), t.state());
            if let Some(p) = perturb.state {
                p(&mut ks);
            }
            if ks != ts {
                return Err(format!(
                    "after call {round} of `{name}`{args:?} ({ko:?}): wasmkern {ks:?}, Wasmtime {ts:?}"
                ));
            }
            stats.calls += 1;
            stats.exceptions += u64::from(matches!(ko, Outcome::Exception(_)));
        }
    }
    Ok(())
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, got {v:?}"))
    })
}

#[test]
fn wasmkern_agrees_with_wasmtime() {
    let start = env_u64("DIFF_SEED_START");
    let count = env_u64("DIFF_COUNT");
    let custom = start.is_some() || count.is_some();
    let seeds = start.unwrap_or(0)..start.unwrap_or(0) + count.unwrap_or(MODULES);
    let started = std::time::Instant::now();
    let mut stats = Stats::default();
    let mut failures = Vec::new();
    for seed in seeds {
        if let Err(what) =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(seed, &mut stats)))
                .unwrap_or_else(|_| Err("panic".into()))
        {
            failures.push(format!("seed {seed}: {what}"));
            if let (Some(dir), Ok((bytes, _, _))) = (std::env::var_os("DIFF_DUMP"), case(seed)) {
                let path = std::path::Path::new(&dir).join(format!("seed-{seed}.wasm"));
                std::fs::write(&path, bytes).expect("DIFF_DUMP is a writable directory");
            }
        }
    }
    println!(
        "wasmtime differential: {} modules in {:.2?}; {} compared, {} of them with GC types erased",
        stats.modules,
        started.elapsed(),
        stats.compared,
        stats.erased
    );
    for (why, n) in &stats.skipped {
        println!("wasmtime differential: skipped {n}: {why}");
    }
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    if custom {
        println!(
            "wasmtime differential: DIFF_SEED_START/DIFF_COUNT set: the floors are NOT checked"
        );
        for (what, got) in stats.counts() {
            println!("wasmtime differential: {what}: {got}");
        }
        return;
    }
    for ((what, got), floor) in stats.counts().into_iter().zip(FLOORS) {
        println!("wasmtime differential: {what}: {got}, floor {floor}");
        assert!(
            got >= floor,
            "wasmtime differential: {what}: {got}, below the floor {floor}"
        );
    }
}

/// A hand-written module with every kind of outcome the comparison
/// describes: values, a function reference, a trap, an uncaught exception
/// whose payload holds another exception, and an `exnref` kept in a
/// global and a table.
const SELF_CHECK: &str = r#"(module
    (type $ft (func (param i32) (result i32)))
    (tag $e (export "e") (param i32 i64))
    (tag $f (export "f") (param exnref))
    (global $g (export "g") (mut exnref) (ref.null exn))
    (table $t (export "t") 2 exnref)
    (table $funcs (export "funcs") 1 (ref null $ft))
    (func $id (export "id") (type $ft) (local.get 0))
    (func (export "call_ref") (param i32) (result i32)
        (call_ref $ft (i32.add (local.get 0) (i32.const 1)) (ref.func $id)))
    (func (export "get_id") (result (ref null $ft)) (ref.func $id))
    (func (export "trap") (param i32) (result i32)
        (i32.div_u (i32.const 1) (i32.and (local.get 0) (i32.const 0))))
    (func (export "throw") (param i32)
        (throw $e (local.get 0) (i64.const -5)))
    (func (export "keep") (param i32) (result i32)
        (block $h (result exnref)
            (try_table (catch_all_ref $h)
                (throw $e (local.get 0) (i64.const 7)))
            (return (i32.const -1)))
        (global.set $g)
        (table.set $t (i32.const 1) (global.get $g))
        (i32.const 1))
    (func (export "wrap") (param i32)
        (block $h (result i32 i64 exnref)
            (try_table (catch_ref $e $h)
                (throw $e (local.get 0) (i64.const 9)))
            (unreachable))
        (throw $f)))"#;

fn self_check_module() -> Vec<u8> {
    wat::parse_str(SELF_CHECK).expect("the self-check module")
}

/// The module and the comparison agree with themselves: every kind of
/// outcome is described alike on both engines.
#[test]
fn the_self_check_module_agrees() {
    let bytes = self_check_module();
    // It is what the rewriting keeps, as a generated module must be.
    assert_eq!(rewrite(&bytes).map(|(_, erased)| erased), Ok(false));
    let u = uses(&bytes);
    assert!(u.call_ref && u.typed && u.exceptions, "{u:?}");
    let mut stats = Stats::default();
    check_module(&bytes, 1, &mut stats, Perturb::default()).expect("agreement");
    assert_eq!(stats.compared, 1);
    // Seven functions, twice each; `throw` and `wrap` end in exceptions.
    assert_eq!(stats.calls, 14, "{stats:?}");
    assert_eq!(stats.exceptions, 4, "{stats:?}");
}

/// Each perturbation of wasmkern's side must be reported.
#[test]
fn a_disagreement_is_reported() {
    let bytes = self_check_module();
    let cases: [(&str, Perturb, &str); 5] = [
        (
            "a result",
            Perturb {
                outcome: Some(|o| {
                    if let Outcome::Values(v) = o
                        && v.first().is_some_and(|s| s.starts_with("i32:"))
                    {
                        v[0] = "i32:12345".into();
                    }
                }),
                state: None,
            },
            "i32:12345",
        ),
        (
            "a function reference",
            Perturb {
                outcome: Some(|o| {
                    if let Outcome::Values(v) = o
                        && v.first().is_some_and(|s| s.starts_with("func:"))
                    {
                        v[0] = "func:?".into();
                    }
                }),
                state: None,
            },
            "func:?",
        ),
        (
            "an exception's payload",
            Perturb {
                outcome: Some(|o| {
                    if let Outcome::Exception(s) = o {
                        *s = s.replace("i64:-5", "i64:-6");
                    }
                }),
                state: None,
            },
            "i64:-6",
        ),
        (
            "an exception turned into a trap",
            Perturb {
                outcome: Some(|o| {
                    if matches!(o, Outcome::Exception(_)) {
                        *o = Outcome::Trap("unreachable".into());
                    }
                }),
                state: None,
            },
            "Trap(\"unreachable\")",
        ),
        (
            "an exnref in a global",
            Perturb {
                outcome: None,
                state: Some(|s| {
                    for line in s {
                        *line = line.replace("i64:7", "i64:8");
                    }
                }),
            },
            "i64:8",
        ),
    ];
    for (what, perturb, shows) in cases {
        let mut stats = Stats::default();
        let err = check_module(&bytes, 1, &mut stats, perturb)
            .expect_err(&format!("{what}: the perturbation is not reported"));
        assert!(err.contains(shows), "{what}: {err}");
    }
}

/// GC's types are erased where no GC value can exist, and the result is
/// a module wasmkern runs; what cannot be erased is refused.
#[test]
fn the_rewriting_erases_gc_types() {
    let gc = wat::parse_str(
        r#"(module
            (type $s (struct (field i32)))
            (type $a (array i8))
            (type $f (sub (func (param (ref null $s) anyref) (result eqref))))
            (type $g (sub $f (func (param (ref null $s) anyref) (result eqref))))
            (rec (type $h (func)) (type $k (func (param (ref null $h)))))
            (global (export "g") (mut (ref null $a)) (ref.null none))
            (func (export "f") (type $g) (ref.null none))
            (func (export "k") (type $k) (call_ref $h (ref.as_non_null (local.get 0))))
            (func (export "nofunc") (result funcref) (ref.null nofunc)))"#,
    )
    .expect("the GC module");
    let (bytes, erased) = rewrite(&gc).expect("erasable");
    assert!(erased);
    // Every reference to a GC type is now an `externref`.
    let mut types = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
        if let Ok(wasmparser::Payload::TypeSection(r)) = payload {
            for group in r {
                let group = group.expect("a type");
                assert!(!group.is_explicit_rec_group());
                for sub in group.into_types() {
                    assert!(sub.is_final && sub.supertype_idxs.is_empty());
                    match &sub.composite_type.inner {
                        wasmparser::CompositeInnerType::Func(f) => types.push(f.to_string()),
                        other => panic!("not a function type: {other:?}"),
                    }
                }
            }
        }
    }
    let plain = [
        "(func)",
        "(func)",
        "(func (param externref externref) (result externref))",
        "(func (param externref externref) (result externref))",
        "(func)",
    ];
    assert_eq!(&types[..5], plain, "{types:?}");
    wasmkern::Module::new(kern_engine(), &bytes).expect("wasmkern accepts it");
    let mut stats = Stats::default();
    check_module(&bytes, 3, &mut stats, Perturb::default()).expect("agreement");
    assert_eq!(stats.compared, 1);

    // A type that refers to itself, or to a later type of its group,
    // needs a recursion group.
    for refers in [
        "(type $t (func (param (ref null $t))))",
        "(rec (type $a (func (param (ref null $b)))) (type $b (func)))",
    ] {
        let gc = wat::parse_str(format!("(module {refers})")).expect("the module");
        let why = rewrite(&gc).expect_err(refers);
        assert!(why.contains("refer"), "{refers}: {why}");
    }
    // GC's instructions are refused by wasmparser.
    let gc = wat::parse_str(
        r#"(module (func (param eqref eqref) (result i32) (ref.eq (local.get 0) (local.get 1))))"#,
    )
    .expect("the module");
    let why = rewrite(&gc).expect_err("ref.eq");
    assert!(why.starts_with("needs GC: wasmparser"), "{why}");
}
