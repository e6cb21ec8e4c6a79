//! `load`: `Module::deserialize_checked` never panics on any input nor on
//! serialized modules edited by it (see `fuzz/targets.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../common.rs"]
mod common;
#[path = "../../tests/differential/oracle.rs"]
mod oracle;
#[path = "../targets.rs"]
mod targets;

fuzz_target!(|data: &[u8]| targets::load(data));
