//! Machine-code assemblers. Only x86-64 exists; it knows nothing about
//! WebAssembly.
pub mod x64;
