//! The type checker of WebAssembly 2.0 (SIMD included) and of the 3.0
//! features and proposals in [`Features`].
//!
//! [`validate_module`] checks a decoded [`Module`](crate::decode::Module) against the validation
//! rules of the specification and returns what it resolved on the way, so
//! that no later stage derives it again: the module's index spaces
//! ([`IndexSpaces`]), shared by the compiler and the runtime, and per
//! defined function facts about the program ([`FuncInfo`]: what it uses,
//! stack sizes, an estimate of how often it reaches each local), from
//! which the compiler derives its own heuristics. Function
//! bodies are checked by `func::FuncValidator` with the specification's
//! algorithm (an operand stack and a control stack); module-level rules live
//! in `module`. Once the module-level rules hold, the bodies are
//! independent: `Module::new` validates them on the threads that compile
//! them, in jobs of consecutive bodies, with the error that validating
//! them in order would give.
//!
//! Errors use the specification's wording ("type mismatch", "unknown
//! local", ...) and carry the offset of the failing instruction and the
//! index of the function.

#[cfg(feature = "compiler")]
mod const_expr;
mod features;
#[cfg(feature = "compiler")]
mod func;
#[cfg(feature = "compiler")]
mod module;
pub(crate) mod subtype;

pub use features::{Feature, FeatureSet, Features};
#[cfg(feature = "compiler")]
pub use func::{FuncInfo, LocalUse, SMALL_LOOP_BYTES};
#[cfg(feature = "compiler")]
pub(crate) use module::validate_module_on;
#[cfg(feature = "compiler")]
pub use module::{IndexSpaces, ModuleInfo, validate_module, validate_module_with};
