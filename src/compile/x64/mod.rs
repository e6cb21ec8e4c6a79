//! What the compiler knows about x86-64 beyond single instructions.
//!
//! - [`masm`]: the macro assembler: instruction idioms, the peephole and
//!   the code sites the runtime reads.

pub(crate) mod masm;
