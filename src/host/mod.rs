//! The Linux adapter (feature `std`).
//!
//! What the core leaves to the host, done with the operating system's calls:
//! executable memory with `mmap`/`mprotect` ([`MmapCodeMemory`]), guard-region
//! memories, threads for compiling (`pool`: each engine keeps its own
//! between compilations), and WASI over the real filesystem and stdio ([`wasi_fs`]:
//! [`HostDir`], [`HostFile`], [`HostStdio`]).
//!
//! Nothing in the core depends on this module: it implements the core's
//! traits, and the crate root hands those implementations to the core (the
//! core's `platform` services, [`MmapCodeMemory`] as the default code
//! memory). A kernel or unikernel embedder supplies its own
//! (for code memory, [`crate::code_memory::RegionCodeMemory`] over a region
//! it maps).

pub mod code_memory;
pub(crate) mod guard;
pub(crate) mod pool;
pub(crate) mod prefault;
pub mod wasi_fs;

pub use code_memory::MmapCodeMemory;
pub use wasi_fs::{HostDir, HostFile, HostStdio};

use crate::code_memory::CodeMemory;
use crate::platform::{GuardRegions, Platform};
use alloc::sync::Arc;
use core::mem::MaybeUninit;

/// The core's operating-system services on Linux.
pub(crate) struct Linux;

impl Platform for Linux {
    fn prefault(&self, buf: &mut [MaybeUninit<u8>]) {
        prefault::prefault(buf);
    }

    fn default_code_memory(&self) -> Option<Arc<dyn CodeMemory>> {
        Some(Arc::new(MmapCodeMemory::new()))
    }

    fn guard_regions(&self) -> Option<&'static dyn GuardRegions> {
        Some(&guard::LinuxGuardRegions)
    }

    fn parallelism(&self) -> usize {
        std::thread::available_parallelism().map_or(1, |t| t.get())
    }

    fn run_parallel(&self, jobs: &mut [&mut (dyn FnMut() + Send)]) {
        pool::run_scoped(jobs, self.parallelism());
    }
}
