//! The WebAssembly features beyond 2.0 a module may use, and the record of
//! which of them each function needs from the compiler.
//!
//! The decoder reads every encoding it knows whatever the features; the
//! validator rejects a module that uses a feature not enabled here, with a
//! message naming the feature and the [`Config`](crate::Config) switch that
//! enables it. Where WebAssembly 2.0 gives such an encoding its own error
//! (a memory index that is not a zero byte, a second memory) the 2.0 error
//! is kept and the switch named in its detail, so a 2.0 engine's
//! diagnostics do not change.

use crate::error::Error;
use core::fmt;

/// One feature beyond WebAssembly 2.0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Feature {
    /// `return_call`, `return_call_indirect` (WebAssembly 3.0).
    TailCall,
    /// 64-bit memories (WebAssembly 3.0).
    Memory64,
    /// Several memories per module (WebAssembly 3.0).
    MultiMemory,
    /// `i32/i64.add/sub/mul` in constant expressions (WebAssembly 3.0).
    ExtendedConst,
    /// The relaxed SIMD operators (WebAssembly 3.0).
    RelaxedSimd,
    /// Memories with 1-byte pages (proposal).
    CustomPageSizes,
    /// `i64.add128`, `i64.sub128`, `i64.mul_wide_s/u` (proposal).
    WideArithmetic,
    /// Typed function references: `(ref null? ht)`, `call_ref`,
    /// `br_on_null`, non-nullable locals and tables (WebAssembly 3.0).
    FunctionReferences,
    /// Exception handling: tags, `throw`, `throw_ref`, `try_table`,
    /// `exnref` (WebAssembly 3.0).
    Exceptions,
}

impl Feature {
    /// Every feature, in the order of [`Features`]' fields.
    pub const ALL: [Feature; 9] = [
        Feature::TailCall,
        Feature::Memory64,
        Feature::MultiMemory,
        Feature::ExtendedConst,
        Feature::RelaxedSimd,
        Feature::CustomPageSizes,
        Feature::WideArithmetic,
        Feature::FunctionReferences,
        Feature::Exceptions,
    ];

    /// The proposal's name (`tail-call`, `memory64`, ...), as the
    /// testsuite's folders and Wasmtime's `-W` flags spell it.
    pub fn name(self) -> &'static str {
        match self {
            Feature::TailCall => "tail-call",
            Feature::Memory64 => "memory64",
            Feature::MultiMemory => "multi-memory",
            Feature::ExtendedConst => "extended-const",
            Feature::RelaxedSimd => "relaxed-simd",
            Feature::CustomPageSizes => "custom-page-sizes",
            Feature::WideArithmetic => "wide-arithmetic",
            Feature::FunctionReferences => "function-references",
            Feature::Exceptions => "exceptions",
        }
    }

    /// The feature whose [`name`](Self::name) is `name`.
    pub fn from_name(name: &str) -> Option<Feature> {
        Feature::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The [`Config`](crate::Config) switch that enables it.
    pub fn switch(self) -> &'static str {
        match self {
            Feature::TailCall => "Config::wasm_tail_call",
            Feature::Memory64 => "Config::wasm_memory64",
            Feature::MultiMemory => "Config::wasm_multi_memory",
            Feature::ExtendedConst => "Config::wasm_extended_const",
            Feature::RelaxedSimd => "Config::wasm_relaxed_simd",
            Feature::CustomPageSizes => "Config::wasm_custom_page_sizes",
            Feature::WideArithmetic => "Config::wasm_wide_arithmetic",
            Feature::FunctionReferences => "Config::wasm_function_references",
            Feature::Exceptions => "Config::wasm_exceptions",
        }
    }

    const fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// The validator's error for a module that uses this feature while it
    /// is disabled.
    pub(crate) fn disabled(self, offset: usize) -> Error {
        Error::invalid(offset, self.disabled_message())
            .with_detail(format_args!("enable it with {}", self.switch()))
    }

    fn disabled_message(self) -> &'static str {
        match self {
            Feature::TailCall => "tail-call support is not enabled",
            Feature::Memory64 => "memory64 support is not enabled",
            Feature::MultiMemory => "multi-memory support is not enabled",
            Feature::ExtendedConst => "extended-const support is not enabled",
            Feature::RelaxedSimd => "relaxed-simd support is not enabled",
            Feature::CustomPageSizes => "custom-page-sizes support is not enabled",
            Feature::WideArithmetic => "wide-arithmetic support is not enabled",
            Feature::FunctionReferences => "function-references support is not enabled",
            Feature::Exceptions => "exceptions support is not enabled",
        }
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which features beyond WebAssembly 2.0 the validator accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Features {
    /// [`Feature::TailCall`].
    pub tail_call: bool,
    /// [`Feature::Memory64`].
    pub memory64: bool,
    /// [`Feature::MultiMemory`].
    pub multi_memory: bool,
    /// [`Feature::ExtendedConst`].
    pub extended_const: bool,
    /// [`Feature::RelaxedSimd`].
    pub relaxed_simd: bool,
    /// [`Feature::CustomPageSizes`].
    pub custom_page_sizes: bool,
    /// [`Feature::WideArithmetic`].
    pub wide_arithmetic: bool,
    /// [`Feature::FunctionReferences`].
    pub function_references: bool,
    /// [`Feature::Exceptions`].
    pub exceptions: bool,
}

impl Features {
    /// Exactly WebAssembly 2.0 (SIMD included).
    pub const WASM2: Features = Features {
        tail_call: false,
        memory64: false,
        multi_memory: false,
        extended_const: false,
        relaxed_simd: false,
        custom_page_sizes: false,
        wide_arithmetic: false,
        function_references: false,
        exceptions: false,
    };

    /// The defaults of [`Config`](crate::Config): the standardized 3.0
    /// features wasmkern runs end to end (exception handling included); the proposals (custom page
    /// sizes, wide arithmetic) stay off.
    pub const DEFAULT: Features = Features {
        tail_call: true,
        memory64: true,
        multi_memory: true,
        extended_const: true,
        relaxed_simd: true,
        function_references: true,
        exceptions: true,
        ..Features::WASM2
    };

    /// Every feature wasmkern knows.
    pub const ALL: Features = Features {
        tail_call: true,
        memory64: true,
        multi_memory: true,
        extended_const: true,
        relaxed_simd: true,
        custom_page_sizes: true,
        wide_arithmetic: true,
        function_references: true,
        exceptions: true,
    };

    /// Whether `feature` is enabled.
    pub fn enabled(&self, feature: Feature) -> bool {
        *self.field(feature)
    }

    /// Enables or disables `feature`.
    pub fn set(&mut self, feature: Feature, enable: bool) {
        *self.field_mut(feature) = enable;
    }

    fn field(&self, feature: Feature) -> &bool {
        match feature {
            Feature::TailCall => &self.tail_call,
            Feature::Memory64 => &self.memory64,
            Feature::MultiMemory => &self.multi_memory,
            Feature::ExtendedConst => &self.extended_const,
            Feature::RelaxedSimd => &self.relaxed_simd,
            Feature::CustomPageSizes => &self.custom_page_sizes,
            Feature::WideArithmetic => &self.wide_arithmetic,
            Feature::FunctionReferences => &self.function_references,
            Feature::Exceptions => &self.exceptions,
        }
    }

    fn field_mut(&mut self, feature: Feature) -> &mut bool {
        match feature {
            Feature::TailCall => &mut self.tail_call,
            Feature::Memory64 => &mut self.memory64,
            Feature::MultiMemory => &mut self.multi_memory,
            Feature::ExtendedConst => &mut self.extended_const,
            Feature::RelaxedSimd => &mut self.relaxed_simd,
            Feature::CustomPageSizes => &mut self.custom_page_sizes,
            Feature::WideArithmetic => &mut self.wide_arithmetic,
            Feature::FunctionReferences => &mut self.function_references,
            Feature::Exceptions => &mut self.exceptions,
        }
    }

    /// How the decoder reads the encodings whose meaning these features
    /// change.
    pub fn encodings(&self) -> crate::decode::Encodings {
        crate::decode::Encodings {
            wide_memory_limits: self.memory64,
            custom_page_sizes: self.custom_page_sizes,
            exceptions: self.exceptions,
        }
    }

    /// `Ok` when `feature` is enabled, else the validator's error.
    pub(crate) fn require(&self, feature: Feature, offset: usize) -> Result<(), Error> {
        if self.enabled(feature) {
            Ok(())
        } else {
            Err(feature.disabled(offset))
        }
    }
}

impl Default for Features {
    fn default() -> Self {
        Features::DEFAULT
    }
}

/// A set of [`Feature`]s: what a function needs the compiler to lower.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FeatureSet(u16);

impl FeatureSet {
    /// No feature.
    pub const EMPTY: FeatureSet = FeatureSet(0);

    /// The set with `feature` added (for constant sets).
    pub const fn with(self, feature: Feature) -> FeatureSet {
        FeatureSet(self.0 | feature.bit())
    }

    /// Adds `feature`.
    pub fn insert(&mut self, feature: Feature) {
        self.0 |= feature.bit();
    }

    /// Whether `feature` is in the set.
    pub fn contains(self, feature: Feature) -> bool {
        self.0 & feature.bit() != 0
    }

    /// The union of two sets.
    pub fn union(self, other: FeatureSet) -> FeatureSet {
        FeatureSet(self.0 | other.0)
    }

    /// The features in the set, in the order of [`Feature::ALL`].
    pub fn iter(self) -> impl Iterator<Item = Feature> {
        Feature::ALL.into_iter().filter(move |&f| self.contains(f))
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sets_hold_each_feature() {
        let mut set = FeatureSet::EMPTY;
        for f in Feature::ALL {
            assert_eq!(Feature::from_name(f.name()), Some(f));
            assert!(!set.contains(f));
            set.insert(f);
            assert!(set.contains(f));
        }
        assert_eq!(set.iter().count(), 9);
        assert_eq!(Feature::from_name("gc"), None);
        let mut features = Features::WASM2;
        features.set(Feature::WideArithmetic, true);
        assert!(features.enabled(Feature::WideArithmetic));
        assert!(!features.enabled(Feature::TailCall));
    }
}
