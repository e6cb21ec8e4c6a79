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
//!
//! A mapping of [`HUGE_PAGE`] bytes or more starts on a huge-page
//! boundary and asks for transparent huge pages (`MADV_HUGEPAGE`) before
//! its pages are mapped in: the kernel then backs each whole 2 MiB of it
//! with one page, which it maps in, write-protects at [`CodeMemory::publish`]
//! and unmaps at a fraction of the cost of 512 small pages (and the code
//! runs with fewer TLB misses). Where huge pages are unavailable the advice
//! fails or is ignored and the mapping is as before.
//!
//! The last freed mapping of up to [`REUSE_MAX`] bytes is kept, made
//! read-write again (never executable), and serves the next allocation it
//! is large enough for, cut to length. Its pages are already backed, so a
//! program that unloads and loads modules skips the kernel zeroing and
//! mapping every page again.

use core::ptr::NonNull;
use core::sync::atomic::{Ordering, compiler_fence};
use std::sync::Mutex;

use crate::code_memory::{CodeBlock, CodeMemory, CodeMemoryError, CodeMemoryId};

/// The page size when `sysconf` cannot tell (it always can on Linux).
const FALLBACK_PAGE_SIZE: usize = 4096;

/// The largest freed mapping kept for reuse, in bytes.
pub const REUSE_MAX: usize = 16 << 20;

/// The size of a transparent huge page (x86-64): mappings this large or
/// larger are aligned to it.
pub const HUGE_PAGE: usize = 2 << 20;

/// Where a mapping of `len` bytes aligned to [`HUGE_PAGE`] lies in a
/// mapping of `over` bytes at `addr` (page-aligned) that is at least
/// `len + HUGE_PAGE - page` bytes long: `(start, head, tail)`, the aligned
/// start and the bytes before and after it to unmap. `None` if `over` is
/// too short.
fn huge_aligned(addr: usize, over: usize, len: usize) -> Option<(usize, usize, usize)> {
    let start = addr.checked_next_multiple_of(HUGE_PAGE)?;
    let head = start - addr;
    let tail = over.checked_sub(head)?.checked_sub(len)?;
    Some((start, head, tail))
}

/// Code memory from the operating system, one mapping per block.
#[derive(Debug)]
pub struct MmapCodeMemory {
    page_size: usize,
    id: CodeMemoryId,
    /// A freed mapping, read-write, whole pages: (address, length).
    spare: Mutex<Option<(usize, usize)>>,
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
            spare: Mutex::new(None),
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

    /// The spare mapping cut to `map_len` bytes, if it has that many.
    fn take_spare(&self, map_len: usize) -> Option<NonNull<u8>> {
        let (addr, len) = self.spare.lock().ok()?.take()?;
        if len < map_len {
            unmap(addr, len);
            return None;
        }
        if len > map_len {
            unmap(addr + map_len, len - map_len);
        }
        NonNull::new(addr as *mut u8)
    }
}

impl MmapCodeMemory {
    /// A fresh read-write mapping of `map_len` bytes (whole pages), its
    /// pages mapped in: on huge pages where it has whole ones (see the
    /// module docs), else in one `MAP_POPULATE`, which costs less than a
    /// fault per page when the code is written.
    fn map_fresh(&self, map_len: usize) -> Result<NonNull<u8>, CodeMemoryError> {
        if let Some(ptr) = self.map_huge(map_len) {
            return Ok(ptr);
        }
        // SAFETY: a fresh anonymous private mapping at an address the kernel
        // chooses touches no existing memory; the arguments are plain values.
        let addr = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
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
        NonNull::new(addr.cast::<u8>()).ok_or(CodeMemoryError::Os {
            operation: "mmap",
            errno: 0,
        })
    }

    /// [`Self::map_fresh`] for a mapping of [`HUGE_PAGE`] bytes or more:
    /// maps `map_len` bytes plus room to align, unmaps what lies outside
    /// the aligned `map_len` bytes, and advises huge pages before mapping
    /// the pages in (`MADV_POPULATE_WRITE`; on kernels without it they
    /// fault in as the code is written). `None` for a smaller mapping or
    /// when the larger one cannot be made (the caller maps as usual).
    fn map_huge(&self, map_len: usize) -> Option<NonNull<u8>> {
        if map_len < HUGE_PAGE {
            return None;
        }
        let over = map_len.checked_add(HUGE_PAGE - self.page_size)?;
        // SAFETY: as in `map_fresh`, without populating.
        let addr = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                over,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if addr == libc::MAP_FAILED {
            return None;
        }
        let addr = addr as usize;
        let Some((start, head, tail)) = huge_aligned(addr, over, map_len) else {
            unmap(addr, over);
            return None;
        };
        // `start` and `start + map_len` are page multiples (`HUGE_PAGE`
        // and `map_len` are), so head and tail are whole pages.
        if head > 0 {
            unmap(addr, head);
        }
        if tail > 0 {
            unmap(start + map_len, tail);
        }
        // SAFETY: `[start, start + map_len)` is a mapping of ours that
        // nothing refers to yet; the advice changes how the kernel backs
        // it, and populating maps its pages in as a write would, without
        // writing. A failure of either leaves the mapping as it was.
        unsafe {
            let _ = libc::madvise(start as *mut libc::c_void, map_len, libc::MADV_HUGEPAGE);
            let _ = libc::madvise(
                start as *mut libc::c_void,
                map_len,
                libc::MADV_POPULATE_WRITE,
            );
        }
        NonNull::new(start as *mut u8)
    }
}

impl Drop for MmapCodeMemory {
    fn drop(&mut self) {
        if let Ok(Some((addr, len))) = self.spare.get_mut().map(|s| s.take()) {
            unmap(addr, len);
        }
    }
}

/// Unmaps pages of a mapping this memory made and no block uses.
fn unmap(addr: usize, len: usize) {
    // SAFETY: callers pass whole pages of a mapping of ours that no block
    // and no spare refers to any more.
    let rc = unsafe { libc::munmap(addr as *mut libc::c_void, len) };
    // munmap of pages we mapped cannot fail; if it did, they would leak,
    // which is safe, so there is nothing to report.
    let _ = rc;
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
        if let Some(ptr) = self.take_spare(map_len) {
            // The last page's tail past `len` held older code; it will be
            // executable with the block, so fill it with `int3`.
            // SAFETY: the spare is `map_len` read-write bytes that are ours.
            unsafe { ptr.as_ptr().add(len).write_bytes(0xcc, map_len - len) };
            // SAFETY: as for a fresh mapping below; the spare is read-write,
            // whole pages, and no other block or spare refers to it.
            return Ok(unsafe { CodeBlock::from_raw_parts(ptr, len, self.id) });
        }
        let ptr = self.map_fresh(map_len)?;
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
        // The id says `allocate` mapped exactly these pages for this block,
        // and `free` takes the block by value, so nothing can use the
        // memory afterwards through it.
        let addr = block.as_ptr() as usize;
        let len = self.block_mapping_len(&block);
        if len <= REUSE_MAX
            && let Ok(mut spare) = self.spare.lock()
            && spare.is_none()
        {
            // SAFETY: as above, these pages are ours alone; making them
            // read-write (not executable) affects no other memory.
            let rc = unsafe {
                libc::mprotect(
                    addr as *mut libc::c_void,
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                )
            };
            if rc == 0 {
                *spare = Some((addr, len));
                return;
            }
        }
        unmap(addr, len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_alignment_cuts_whole_pages_around_an_aligned_start() {
        let page = 4096;
        let len = 3 * HUGE_PAGE + 5 * page;
        let over = len + HUGE_PAGE - page;
        // Already aligned: nothing before, all the room after.
        assert_eq!(
            huge_aligned(4 * HUGE_PAGE, over, len),
            Some((4 * HUGE_PAGE, 0, HUGE_PAGE - page))
        );
        // One page past a boundary: the most before, nothing after.
        assert_eq!(
            huge_aligned(4 * HUGE_PAGE + page, over, len),
            Some((5 * HUGE_PAGE, HUGE_PAGE - page, 0))
        );
        // Somewhere between.
        let (start, head, tail) = huge_aligned(4 * HUGE_PAGE + 7 * page, over, len).unwrap();
        assert_eq!(start % HUGE_PAGE, 0);
        assert_eq!(head + len + tail, over);
        // Too little room to align: refused, not cut short.
        assert_eq!(huge_aligned(4 * HUGE_PAGE + page, over - page, len), None);
        assert_eq!(huge_aligned(usize::MAX - page + 1, over, len), None);
    }

    /// Writes a recognizable pattern over the whole (unpublished) block.
    fn fill(block: &mut CodeBlock) {
        let bytes = block.as_mut_slice().expect("unpublished");
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (i % 251) as u8;
        }
    }

    fn holds_pattern(block: &CodeBlock) -> bool {
        let bytes = block.as_slice();
        bytes.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8)
    }

    #[test]
    fn large_blocks_start_on_a_huge_page_and_work_as_small_ones() {
        let memory = MmapCodeMemory::new();
        for len in [HUGE_PAGE, HUGE_PAGE + 1, 3 * HUGE_PAGE - 12345] {
            let mut block = memory.allocate(len).unwrap();
            assert_eq!(block.as_ptr() as usize % HUGE_PAGE, 0, "{len} bytes");
            assert_eq!(block.len(), len);
            fill(&mut block);
            memory.publish(&mut block).unwrap();
            assert!(holds_pattern(&block));
            // Its neighbours were unmapped, not the block: it is freed (and
            // kept as the spare, then unmapped with the memory) whole.
            memory.free(block);
            let mut again = memory.allocate(len).unwrap();
            fill(&mut again);
            memory.publish(&mut again).unwrap();
            assert!(holds_pattern(&again));
            memory.free(again);
            // The spare is dropped so that the next size maps afresh.
            *memory.spare.lock().unwrap() = None;
        }
        // Below a huge page, the mapping is wherever the kernel puts it.
        let mut small = memory.allocate(HUGE_PAGE - memory.page_size()).unwrap();
        fill(&mut small);
        memory.publish(&mut small).unwrap();
        assert!(holds_pattern(&small));
        memory.free(small);
    }
}
