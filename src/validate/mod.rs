//! The type checker of WebAssembly 2.0 (SIMD included) and of the 3.0
//! features and proposals in [`Features`].
//!
//! [`validate_module`] checks a decoded [`Module`](crate::decode::Module) against the validation
//! rules of the specification and returns, per defined function, the facts
//! the compiler needs ([`FuncInfo`]) so it never re-derives them. Function
//! bodies are checked by `func::FuncValidator` with the specification's
//! algorithm (an operand stack and a control stack); module-level rules live
//! in `module`.
//!
//! Errors use the specification's wording ("type mismatch", "unknown
//! local", ...) and carry the offset of the failing instruction and the
//! index of the function.

mod const_expr;
mod features;
mod func;
mod module;

pub use features::{Feature, FeatureSet, Features};
pub use func::{FuncInfo, LocalUse};
pub use module::{ModuleInfo, validate_module, validate_module_with};
