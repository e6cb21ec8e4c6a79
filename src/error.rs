//! The crate's error type.
//!
//! Every failure the public API can report is an [`Error`]: a kind (which
//! stage failed), a message in the specification's own words (so the spec
//! testsuite can match it), and where known the byte offset in the module
//! and the index of the function being checked.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::String;
use core::fmt;

/// Which stage of the pipeline rejected the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The bytes are not a well-formed binary module ("malformed").
    Malformed,
    /// The module is well-formed but does not type-check ("invalid").
    Invalid,
    /// An implementation limit of wasmkern was exceeded.
    Limit,
    /// Wasm code trapped; [`Error::trap`] says which trap.
    Trap,
    /// Imports did not match what the module needs ("unknown import",
    /// "incompatible import type").
    Link,
    /// Instantiation failed for another reason than a trap or linking.
    Instantiation,
    /// The embedder misused the runtime API (wrong argument count or type, a
    /// handle of another store, ...), or a resource ran out.
    Runtime,
    /// A host function returned this error ([`Error::msg`], [`Error::new`]).
    Host,
    /// The store's fuel ran out while wasm ran (engines with
    /// `Config::consume_fuel`). [`Func::call`](crate::Func::call) reports it
    /// as this error; [`Func::call_resumable`](crate::Func::call_resumable)
    /// pauses instead, and the call can be resumed after adding fuel.
    OutOfFuel,
    /// The guest was stopped by an
    /// [`InterruptHandle`](crate::InterruptHandle) (engines with
    /// `Config::interruptible`); resumable like [`ErrorKind::OutOfFuel`].
    Interrupted,
    /// The guest asked to end the program with an exit status (WASI
    /// `proc_exit`); [`Error::exit_status`] gives it. Not a failure of the
    /// runtime: a status of 0 is a successful run.
    Exit,
    /// wasmkern found one of its own invariants broken (the compiler
    /// produced inconsistent code, a compiler thread panicked, ...): a bug
    /// of wasmkern, not of the module or the embedder. It has no location
    /// in the module.
    Internal,
    /// A WebAssembly exception left the call uncaught;
    /// [`Error::thrown`] carries its tag and payload.
    Exception,
    /// A serialized module was refused (`Module::deserialize`): not a
    /// serialized module, truncated, corrupted, or compiled by another
    /// version of wasmkern, for another engine configuration or for a
    /// processor with features this one lacks.
    Incompatible,
}

/// An error with the specification's wording and its location.
///
/// It is one pointer wide (the details are boxed), so that `Result`s on the
/// decoder's and validator's hot paths stay small.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error(Box<ErrorInner>);

#[derive(Clone, Debug, PartialEq, Eq)]
struct ErrorInner {
    /// For traps: the wasm frames, innermost first.
    frames: alloc::vec::Vec<FrameInfo>,
    kind: ErrorKind,
    message: Cow<'static, str>,
    offset: Option<usize>,
    func: Option<u32>,
    trap: Option<TrapCode>,
    exit: Option<i32>,
    /// For [`ErrorKind::Exception`]: the exception.
    thrown: Option<Box<crate::runtime::ThrownException>>,
}

impl Error {
    /// A malformed-module error at byte `offset`.
    pub fn malformed(offset: usize, message: impl Into<Cow<'static, str>>) -> Self {
        Self(Box::new(ErrorInner {
            frames: alloc::vec::Vec::new(),
            kind: ErrorKind::Malformed,
            message: message.into(),
            offset: Some(offset),
            func: None,
            trap: None,
            exit: None,
            thrown: None,
        }))
    }

    /// An invalid-module error at byte `offset`.
    pub fn invalid(offset: usize, message: impl Into<Cow<'static, str>>) -> Self {
        Self(Box::new(ErrorInner {
            frames: alloc::vec::Vec::new(),
            kind: ErrorKind::Invalid,
            message: message.into(),
            offset: Some(offset),
            func: None,
            trap: None,
            exit: None,
            thrown: None,
        }))
    }

    /// An implementation-limit error at byte `offset`.
    pub fn limit(offset: usize, message: impl Into<Cow<'static, str>>) -> Self {
        Self(Box::new(ErrorInner {
            frames: alloc::vec::Vec::new(),
            kind: ErrorKind::Limit,
            message: message.into(),
            offset: Some(offset),
            func: None,
            trap: None,
            exit: None,
            thrown: None,
        }))
    }

    /// A broken invariant of wasmkern itself ([`ErrorKind::Internal`]).
    #[cfg_attr(not(feature = "compiler"), allow(dead_code))]
    pub(crate) fn internal(message: impl Into<Cow<'static, str>>) -> Self {
        Self::from_kind(ErrorKind::Internal, message)
    }

    /// An error of `kind` without a location.
    pub fn from_kind(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Self(Box::new(ErrorInner {
            frames: alloc::vec::Vec::new(),
            kind,
            message: message.into(),
            offset: None,
            func: None,
            trap: None,
            exit: None,
            thrown: None,
        }))
    }

    /// A trap raised by wasm code (or by instantiation, for out-of-bounds
    /// segments). Its message is exactly the specification's.
    pub fn from_trap(trap: TrapCode) -> Self {
        let mut e = Self::from_kind(ErrorKind::Trap, trap.message());
        e.0.trap = Some(trap);
        e
    }

    /// A linking error ("unknown import", "incompatible import type").
    pub fn link(message: impl Into<Cow<'static, str>>) -> Self {
        Self::from_kind(ErrorKind::Link, message)
    }

    /// An instantiation error that is neither a trap nor a linking error.
    pub fn instantiation(message: impl Into<Cow<'static, str>>) -> Self {
        Self::from_kind(ErrorKind::Instantiation, message)
    }

    /// A misuse of the runtime API or an exhausted resource.
    pub fn runtime(message: impl Into<Cow<'static, str>>) -> Self {
        Self::from_kind(ErrorKind::Runtime, message)
    }

    /// An error with a message, for host functions to return.
    pub fn msg(message: impl fmt::Display) -> Self {
        use fmt::Write;
        let mut text = String::new();
        let _ = write!(text, "{message}");
        Self::from_kind(ErrorKind::Host, text)
    }

    /// An error wrapping another error, for host functions to return.
    pub fn new(error: impl core::error::Error) -> Self {
        Self::msg(error)
    }

    /// The store's fuel ran out ([`ErrorKind::OutOfFuel`]).
    pub fn out_of_fuel() -> Self {
        Self::from_kind(ErrorKind::OutOfFuel, "all fuel consumed by WebAssembly")
    }

    /// The guest was interrupted ([`ErrorKind::Interrupted`]).
    pub fn interrupted() -> Self {
        Self::from_kind(ErrorKind::Interrupted, "interrupted")
    }

    /// The program exited with `status` ([`ErrorKind::Exit`]), as WASI's
    /// `proc_exit` does. Returned by a host function, it unwinds every
    /// active wasm call like any host error.
    pub fn exit(status: i32) -> Self {
        let mut e = Self::from_kind(ErrorKind::Exit, "exited with status");
        e = e.with_index(status);
        e.0.exit = Some(status);
        e
    }

    /// An uncaught WebAssembly exception ([`ErrorKind::Exception`]).
    pub(crate) fn thrown_exception(thrown: crate::runtime::ThrownException) -> Self {
        let mut e = Self::from_kind(ErrorKind::Exception, "uncaught WebAssembly exception");
        e.0.thrown = Some(Box::new(thrown));
        e
    }

    /// The exception, when a WebAssembly exception left the call uncaught
    /// (or a host function throws one: [`Store::throw`](crate::Store::throw)):
    /// its tag and payload.
    pub fn thrown(&self) -> Option<&crate::runtime::ThrownException> {
        self.0.thrown.as_deref()
    }

    /// The exit status, when the program exited ([`Error::exit`]).
    pub fn exit_status(&self) -> Option<i32> {
        self.0.exit
    }

    /// The trap, when wasm code trapped.
    pub fn trap(&self) -> Option<TrapCode> {
        self.0.trap
    }

    /// For a trap: the wasm call stack when it happened, innermost frame
    /// first (empty when unknown).
    pub fn backtrace(&self) -> &[FrameInfo] {
        &self.0.frames
    }

    /// Attaches a backtrace.
    pub(crate) fn with_backtrace(mut self, frames: alloc::vec::Vec<FrameInfo>) -> Self {
        self.0.frames = frames;
        self
    }

    /// Prepends context to the message ("context: message"), keeping the
    /// kind and the trap.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        use fmt::Write;
        let mut message = String::new();
        let _ = write!(message, "{context}: {}", self.0.message);
        self.0.message = Cow::Owned(message);
        self
    }

    /// Records the index of the function whose body failed.
    pub fn in_func(mut self, func: u32) -> Self {
        self.0.func = Some(func);
        self
    }

    /// Which stage rejected the input.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The message, in the specification's wording where it has one.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The byte offset in the module where the failure was found.
    pub fn offset(&self) -> Option<usize> {
        self.0.offset
    }

    /// The index of the function (in the function index space) that failed.
    pub fn func(&self) -> Option<u32> {
        self.0.func
    }

    /// Appends the index an "unknown ..." message refers to, as the spec's
    /// messages do ("unknown function 7").
    pub fn with_index(mut self, index: impl fmt::Display) -> Self {
        let mut message = String::from(self.0.message);
        use fmt::Write;
        let _ = write!(message, " {index}");
        self.0.message = Cow::Owned(message);
        self
    }

    /// Appends detail (such as "expected i32, found i64") to the message.
    pub fn with_detail(mut self, detail: impl fmt::Display) -> Self {
        let mut message = String::from(self.0.message);
        use fmt::Write;
        let _ = write!(message, ": {detail}");
        self.0.message = Cow::Owned(message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.message)?;
        match (self.0.func, self.0.offset) {
            (Some(func), Some(offset)) => write!(f, " (in function {func} at offset {offset:#x})"),
            (None, Some(offset)) => write!(f, " (at offset {offset:#x})"),
            (Some(func), None) => write!(f, " (in function {func})"),
            (None, None) => Ok(()),
        }
    }
}

impl core::error::Error for Error {}

/// One frame of a wasm backtrace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameInfo {
    /// The function's index in its module's function index space.
    pub func_index: u32,
    /// Its name from the `name` section, if the module has one.
    pub func_name: Option<alloc::string::String>,
    /// Byte offset in the module of the instruction executing in this frame
    /// (the trapping one, or the call).
    pub module_offset: u32,
}

impl fmt::Display for FrameInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.func_name {
            Some(name) => write!(f, "{name} (func {})", self.func_index)?,
            None => write!(f, "func {}", self.func_index)?,
        }
        write!(f, " at offset {:#x}", self.module_offset)
    }
}

/// Shorthand used inside the crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Which trap wasm code raised (exported as `Trap`).
///
/// The discriminant is the value generated code stores in
/// `ExecContext::trap_code` (see the `abi` module).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrapCode {
    /// `unreachable` was executed.
    Unreachable = 0,
    /// A memory access out of bounds.
    MemoryOutOfBounds = 1,
    /// Integer division or remainder by zero.
    IntegerDivideByZero = 2,
    /// Signed division overflow (`INT_MIN / -1`).
    IntegerOverflow = 3,
    /// A float to integer truncation of NaN or of a value out of range.
    InvalidConversionToInteger = 4,
    /// `call_indirect` with an index outside the table.
    UndefinedElement = 5,
    /// `call_indirect` of a null entry.
    UninitializedElement = 6,
    /// `call_indirect` of a function of another type.
    IndirectCallTypeMismatch = 7,
    /// The wasm stack limit was reached.
    StackOverflow = 8,
    /// A table access out of bounds (`table.get`, `table.copy`, ...).
    TableOutOfBounds = 9,
    /// A null reference where a function was needed.
    NullReference = 10,
    /// `call_ref` or `return_call_ref` of a null reference.
    NullFunctionReference = 11,
}

impl core::fmt::Display for TrapCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.message())
    }
}

impl TrapCode {
    /// Decodes the value generated code stored.
    pub(crate) fn from_u32(v: u32) -> Option<TrapCode> {
        use TrapCode::*;
        Some(match v {
            0 => Unreachable,
            1 => MemoryOutOfBounds,
            2 => IntegerDivideByZero,
            3 => IntegerOverflow,
            4 => InvalidConversionToInteger,
            5 => UndefinedElement,
            6 => UninitializedElement,
            7 => IndirectCallTypeMismatch,
            8 => StackOverflow,
            9 => TableOutOfBounds,
            10 => NullReference,
            11 => NullFunctionReference,
            _ => return None,
        })
    }

    /// The specification's message for this trap.
    pub fn message(self) -> &'static str {
        match self {
            TrapCode::Unreachable => "unreachable",
            TrapCode::MemoryOutOfBounds => "out of bounds memory access",
            TrapCode::IntegerDivideByZero => "integer divide by zero",
            TrapCode::IntegerOverflow => "integer overflow",
            TrapCode::InvalidConversionToInteger => "invalid conversion to integer",
            TrapCode::UndefinedElement => "undefined element",
            TrapCode::UninitializedElement => "uninitialized element",
            TrapCode::IndirectCallTypeMismatch => "indirect call type mismatch",
            TrapCode::StackOverflow => "call stack exhausted",
            TrapCode::TableOutOfBounds => "out of bounds table access",
            TrapCode::NullReference => "null reference",
            TrapCode::NullFunctionReference => "null function reference",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn internal_errors_have_their_kind_and_no_location() {
        let e = Error::internal("a function was not compiled");
        assert_eq!(e.kind(), ErrorKind::Internal);
        assert_eq!(e.offset(), None);
        assert_eq!(e.to_string(), "a function was not compiled");
        // A limit, by contrast, names where in the module it was hit.
        let e = Error::limit(12, "too many locals");
        assert_eq!(e.to_string(), "too many locals (at offset 0xc)");
    }

    #[test]
    fn trap_codes_round_trip() {
        for v in 0..12 {
            assert_eq!(TrapCode::from_u32(v).map(|c| c as u32), Some(v));
        }
        assert_eq!(TrapCode::from_u32(12), None);
    }
}
