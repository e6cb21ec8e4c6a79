//! The spec testsuite runner, driven through wasmkern's public API only.
//!
//! [`suite`] says which `.wast` files we run, [`runner`] walks their
//! directives and keeps the score, [`messages`] decides whether an error
//! message says what the testsuite expects. Today the runner checks
//! validation; execution directives are walked but not yet counted.

pub mod messages;
pub mod runner;
pub mod suite;
