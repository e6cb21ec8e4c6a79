//! The single-pass compiler from validated WebAssembly to x86-64.
pub mod stubs;
