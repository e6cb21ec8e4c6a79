//! The x86-64 backend: what the compiler knows about the machine beyond
//! single instructions, and the lowering of the operator families.
//!
//! - [`masm`]: the macro assembler: the peephole and the code sites the
//!   runtime reads (trap exits, call sites, fault sites);
//! - `numeric`: integer and float arithmetic, comparisons, conversions;
//! - `memory`: loads, stores, bounds checks, guard-region accesses,
//!   `memory.size` and `memory.grow`;
//! - `memories`: the same for the memories other than a 32-bit memory 0
//!   (multi-memory, memory64), always with explicit bounds checks;
//! - `bulk`: tables and bulk memory;
//! - `simd`: the 128-bit vector operators over SSE4.1;
//! - `relaxed_simd`: the relaxed-SIMD proposal's operators, one fixed
//!   choice each;
//! - `wide`: the wide-arithmetic proposal's 128-bit operators.
//!
//! Each family is a further `impl` block of the compiler; the dispatch to
//! them is the exhaustive match in `func::lower`.

pub(crate) mod bulk;
pub(crate) mod masm;
pub(crate) mod memories;
pub(crate) mod memory;
pub(crate) mod numeric;
pub(crate) mod relaxed_simd;
pub(crate) mod simd;
pub(crate) mod wide;
