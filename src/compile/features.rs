//! Which features beyond WebAssembly 2.0 the compiler lowers, and the
//! clear error for a module that needs one it does not.
//!
//! The validator records per function what it needs
//! ([`FuncInfo::features`](crate::validate::FuncInfo::features)); this
//! check runs before any code is generated, so an operator the compiler
//! cannot lower never reaches it. Of them, the compiler lowers wide
//! arithmetic and relaxed SIMD; tail calls, accesses to 64-bit
//! memories or to memories other than 0, and page counts of memories with
//! custom pages all stop here. Memory 0 with 1-byte pages is compiled with
//! explicit bounds checks (its length in bytes is what they compare), but
//! not with guard regions, whose protection is page-granular.

use crate::decode::{DEFAULT_PAGE_SIZE_LOG2, ImportKind, Module};
use crate::error::{Error, ErrorKind, Result};
use crate::validate::{Feature, FeatureSet, ModuleInfo};
use alloc::format;

/// The features the compiler lowers.
pub(crate) const LOWERED: FeatureSet = FeatureSet::EMPTY
    .with(Feature::WideArithmetic)
    .with(Feature::RelaxedSimd);

/// Fails, naming the first function and feature, when a function needs a
/// feature the compiler does not lower.
pub(crate) fn check_lowered(
    module: &Module<'_>,
    info: &ModuleInfo,
    guard_region: bool,
) -> Result<()> {
    let custom_pages = module
        .imports
        .iter()
        .filter_map(|i| match i.kind {
            ImportKind::Memory(m) => Some(m),
            _ => None,
        })
        .chain(module.memories.iter().copied())
        .any(|m| m.page_size_log2() != DEFAULT_PAGE_SIZE_LOG2);
    for (i, f) in info.funcs.iter().enumerate() {
        let mut needs = f.features;
        if guard_region && custom_pages && f.uses_memory {
            needs.insert(Feature::CustomPageSizes);
        }
        if let Some(feature) = needs.iter().find(|&f| !LOWERED.contains(f)) {
            return Err(Error::from_kind(
                ErrorKind::Limit,
                format!("{feature} is not supported by the compiler yet"),
            )
            .with_detail(what_needs(feature, guard_region))
            .in_func(module.num_imported_funcs + i as u32));
        }
    }
    Ok(())
}

/// What in a function needs `feature` from the compiler.
fn what_needs(feature: Feature, guard_region: bool) -> &'static str {
    match feature {
        Feature::TailCall => "return_call or return_call_indirect",
        Feature::Memory64 => "an access to a 64-bit memory",
        Feature::MultiMemory => "an access to a memory other than memory 0",
        Feature::ExtendedConst => "extended constant expressions",
        Feature::RelaxedSimd => "a relaxed SIMD operator",
        Feature::CustomPageSizes if guard_region => {
            "a memory access with guard regions to a memory of 1-byte pages"
        }
        Feature::CustomPageSizes => "memory.size or memory.grow of a memory of 1-byte pages",
        Feature::WideArithmetic => "i64.add128, i64.sub128 or i64.mul_wide_s/u",
    }
}
