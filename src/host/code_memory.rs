//! [`MmapCodeMemory`]: code memory from `mmap`, kept W^X.
//!
//! Every block is its own anonymous private mapping, rounded up to whole
//! pages: mapped read-write by [`CodeMemory::allocate`], switched to
//! read-execute by [`CodeMemory::publish`] (`mprotect`), unmapped by
//! [`CodeMemory::free`]. No page is ever writable and executable at once.
//!
//! One mapping per block costs a page per block at least; the engine
//! allocates one block per module, so that is acceptable and keeps every
//! block's protection independent of its neighbours.

use core::ptr::NonNull;
use core::sync::atomic::{Ordering, compiler_fence};

use crate::code_memory::{CodeBlock, CodeMemory, CodeMemoryError, CodeMemoryId};

/// The page size when `sysconf` cannot tell (it always can on Linux).
const FALLBACK_PAGE_SIZE: usize = 4096;

/// Code memory from the operating system, one mapping per block.
#[derive(Debug)]
pub struct MmapCodeMemory {
    page_size: usize,
    id: CodeMemoryId,
}

impl MmapCodeMemory {
    /// Creates a code memory; mappings are made per allocation.
    pub fn new() -> Self {
        // SAFETY: `sysconf` has no memory-safety preconditions.
        let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        let page_size = usize::try_from(page_size)
            .ok()
            .filter(|size| size.is_power_of_two())
            .unwrap_or(FALLBACK_PAGE_SIZE);
        Self {
            page_size,
            id: CodeMemoryId::fresh(),
        }
    }

    /// The page size blocks are rounded up to.
    pub fn page_size(&self) -> usize {
        self.page_size
    }

    /// This memory's identifier, stamped into its blocks.
    pub fn id(&self) -> CodeMemoryId {
        self.id
    }

    /// `len` rounded up to whole pages, or `None` on overflow.
    fn mapping_len(&self, len: usize) -> Option<usize> {
        len.checked_next_multiple_of(self.page_size)
    }

    /// The length of the mapping of one of our blocks.
    fn block_mapping_len(&self, block: &CodeBlock) -> usize {
        // `allocate` made this mapping with exactly this rounding, so it
        // cannot overflow now.
        self.mapping_len(block.len()).unwrap_or(block.len())
    }
}

impl Default for MmapCodeMemory {
    fn default() -> Self {
        Self::new()
    }
}

/// The `errno` of the last failed call on this thread.
fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

impl CodeMemory for MmapCodeMemory {
    fn allocate(&self, len: usize) -> Result<CodeBlock, CodeMemoryError> {
        if len == 0 {
            return Err(CodeMemoryError::ZeroLength);
        }
        let map_len = self
            .mapping_len(len)
            .ok_or(CodeMemoryError::TooLarge { requested: len })?;
        // SAFETY: a fresh anonymous private mapping at an address the kernel
        // chooses touches no existing memory; the arguments are plain values.
        let addr = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                // Populated: the code is written at once, and one call
                // mapping every page costs less than a fault per page.
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if addr == libc::MAP_FAILED {
            return Err(CodeMemoryError::Os {
                operation: "mmap",
                errno: last_errno(),
            });
        }
        let ptr = NonNull::new(addr.cast::<u8>()).ok_or(CodeMemoryError::Os {
            operation: "mmap",
            errno: 0,
        })?;
        // SAFETY: the mapping is `map_len >= len` bytes, readable and
        // writable, page-aligned (so aligned to `CODE_ALIGN`), and ours alone
        // until `free` unmaps it; after `publish` it stays readable.
        Ok(unsafe { CodeBlock::from_raw_parts(ptr, len, self.id) })
    }

    fn publish(&self, block: &mut CodeBlock) -> Result<(), CodeMemoryError> {
        if block.owner() != self.id {
            return Err(CodeMemoryError::ForeignBlock);
        }
        if block.is_published() {
            return Ok(());
        }
        // Keep the compiler from moving the writes of the code past the
        // protection change (the system call is a barrier for the CPU).
        compiler_fence(Ordering::SeqCst);
        // SAFETY: the id says `allocate` mapped exactly these pages for this
        // block; making them read-execute affects no other memory, and no
        // writable borrow of the block can be alive (`&mut CodeBlock`).
        let rc = unsafe {
            libc::mprotect(
                block.as_ptr().cast_mut().cast(),
                self.block_mapping_len(block),
                libc::PROT_READ | libc::PROT_EXEC,
            )
        };
        if rc != 0 {
            return Err(CodeMemoryError::Os {
                operation: "mprotect",
                errno: last_errno(),
            });
        }
        block.mark_published();
        Ok(())
    }

    fn free(&self, block: CodeBlock) {
        if block.owner() != self.id {
            // Not ours: leaking is the only safe answer.
            return;
        }
        // SAFETY: the id says `allocate` mapped exactly these pages for this
        // block, and `free` takes the block by value, so nothing can use
        // the memory afterwards through it.
        let rc = unsafe {
            libc::munmap(
                block.as_ptr().cast_mut().cast(),
                self.block_mapping_len(&block),
            )
        };
        // munmap of a whole mapping we made cannot fail; if it did, the
        // mapping would leak, which is safe, so there is nothing to report.
        let _ = rc;
    }
}
