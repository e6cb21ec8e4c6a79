//! The Linux adapter (feature `std`).
//!
//! What the core leaves to the host, done with the operating system's calls:
//! executable memory with `mmap`/`mprotect` ([`MmapCodeMemory`]), guard-region
//! memories, and WASI over the real filesystem and stdio ([`wasi_fs`]:
//! [`HostDir`], [`HostFile`], [`HostStdio`]).
//!
//! Nothing in the core depends on this module: a kernel or unikernel
//! embedder supplies its own implementations of the core's traits (for code
//! memory, [`crate::code_memory::RegionCodeMemory`] over a region it maps).

pub mod code_memory;
pub(crate) mod guard;
pub(crate) mod prefault;
pub mod wasi_fs;

pub use code_memory::MmapCodeMemory;
pub use wasi_fs::{HostDir, HostFile, HostStdio};
