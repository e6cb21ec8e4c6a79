//! Which features beyond WebAssembly 2.0 the compiler lowers, and the
//! clear error for a module that needs one it does not.
//!
//! The validator records per function what it needs
//! ([`FuncInfo::features`](crate::validate::FuncInfo::features)); this
//! check runs before any code is generated, so an operator the compiler
//! cannot lower never reaches it. Every feature the validator knows is
//! lowered today: accesses to 64-bit memories and to memories other than
//! 0 (`x64/memories.rs`), wide arithmetic (`x64/wide.rs`), relaxed SIMD
//! (`x64/relaxed_simd.rs`) and tail calls (`x64/tail.rs`, convention in
//! `abi`).
//!
//! Custom page sizes are lowered: `memory.size` shifts memory 0's length
//! in bytes by its page size's log2 (0 or 16), and `memory.grow` hands its
//! delta in the memory's own pages to the runtime, which counts in them.
//! A memory 0 with 1-byte pages is always compiled with explicit bounds
//! checks, also under `Config::guard_regions`: guard pages protect whole
//! host pages, and such a memory's length need not be a multiple of one
//! (`compile_module_into` turns guard-region mode off for the module).

use crate::decode::Module;
use crate::error::{Error, ErrorKind, Result};
use crate::validate::{Feature, FeatureSet, ModuleInfo};
use alloc::format;

/// The features the compiler lowers.
pub(crate) const LOWERED: FeatureSet = FeatureSet::EMPTY
    .with(Feature::WideArithmetic)
    .with(Feature::CustomPageSizes)
    .with(Feature::RelaxedSimd)
    .with(Feature::MultiMemory)
    .with(Feature::Memory64)
    .with(Feature::TailCall)
    .with(Feature::FunctionReferences)
    .with(Feature::Exceptions);

/// Fails, naming the first function and feature, when a function needs a
/// feature the compiler does not lower.
pub(crate) fn check_lowered(module: &Module<'_>, info: &ModuleInfo) -> Result<()> {
    for (i, f) in info.funcs.iter().enumerate() {
        if let Some(feature) = f.features.iter().find(|&f| !LOWERED.contains(f)) {
            return Err(Error::from_kind(
                ErrorKind::Limit,
                format!("{feature} is not supported by the compiler yet"),
            )
            .with_detail(what_needs(feature))
            .in_func(module.num_imported_funcs + i as u32));
        }
    }
    Ok(())
}

/// What in a function needs `feature` from the compiler.
fn what_needs(feature: Feature) -> &'static str {
    match feature {
        Feature::TailCall => "return_call, return_call_indirect or return_call_ref",
        Feature::Memory64 => "an access to a 64-bit memory",
        Feature::MultiMemory => "an access to a memory other than memory 0",
        Feature::ExtendedConst => "extended constant expressions",
        Feature::RelaxedSimd => "a relaxed SIMD operator",
        Feature::CustomPageSizes => "memory.size or memory.grow of a memory of 1-byte pages",
        Feature::WideArithmetic => "i64.add128, i64.sub128 or i64.mul_wide_s/u",
        Feature::FunctionReferences => "a typed function reference operator",
        Feature::Exceptions => "throw, throw_ref or try_table",
    }
}
