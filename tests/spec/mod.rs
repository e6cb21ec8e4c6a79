//! The spec testsuite runner, driven through wasmkern's public API only.
//!
//! [`suite`] says which `.wast` files we run. [`runner`] walks their
//! directives for validation only (with wasmkern's `validate` or a
//! reference validator); [`exec`] runs every directive through the runtime
//! API ([`api`]), with the `spectest` host module ([`spectest`]) and the
//! value comparisons of [`values`]. [`messages`] decides whether an error
//! message says what the testsuite expects.

pub mod api;
pub mod exec;
pub mod messages;
pub mod runner;
pub mod spectest;
pub mod suite;
pub mod values;
