//! Nothing: the crate is its test, `tests/against_wasmtime.rs`.
