//! [`RegionCodeMemory`]: code memory carved out of one region the embedder
//! provides, for `no_std` hosts.
//!
//! The embedder maps the region (readable, writable and executable, as a
//! kernel or unikernel usually can) and hands it over once. Blocks are
//! sub-allocated with `linked_list_allocator::Heap` (first fit, freed ranges
//! merge with their neighbours) behind a `spin::Mutex`. The allocator keeps
//! its bookkeeping inside the free ranges of the region, so the region must
//! stay writable; publishing therefore cannot revoke write access and is only
//! an ordering point.

use core::alloc::Layout;
use core::ptr::NonNull;
use core::sync::atomic::{Ordering, compiler_fence};

use linked_list_allocator::Heap;
use spin::Mutex;

use super::{CODE_ALIGN, CodeBlock, CodeMemory, CodeMemoryError, CodeMemoryId};

/// Code memory sub-allocated from a region the embedder provides.
pub struct RegionCodeMemory {
    heap: Mutex<Heap>,
    region_len: usize,
    id: CodeMemoryId,
}

impl RegionCodeMemory {
    /// Manages the `len` bytes at `start` as code memory.
    ///
    /// A region too small to hold the allocator's bookkeeping (under
    /// [`CODE_ALIGN`] bytes) is accepted, and every allocation from it fails.
    ///
    /// # Safety
    ///
    /// `start..start + len` must be valid memory, readable, writable and
    /// executable, owned by the returned value alone (nothing else reads or
    /// writes it), from now until both the value and every [`CodeBlock`] it
    /// allocated are gone. The range must not wrap around the address space.
    pub unsafe fn new(start: *mut u8, len: usize) -> Self {
        let mut heap = Heap::empty();
        // `Heap::init` panics below its metadata size (up to three words once
        // it aligns `start`); a region under `CODE_ALIGN` bytes cannot hold a
        // block anyway, so it stays an empty heap that refuses everything.
        if !start.is_null() && len >= CODE_ALIGN {
            // SAFETY: called once, on an empty heap; the caller guarantees
            // the range is valid, writable and ours for as long as any block
            // from it (or the heap) lives.
            unsafe { heap.init(start, len) };
        }
        Self {
            heap: Mutex::new(heap),
            region_len: len,
            id: CodeMemoryId::fresh(),
        }
    }

    /// The size of the region in bytes, as given to [`new`](Self::new).
    pub fn region_len(&self) -> usize {
        self.region_len
    }

    /// The bytes currently allocated, counting the allocator's rounding.
    pub fn used(&self) -> usize {
        self.heap.lock().used()
    }

    /// This memory's identifier, stamped into its blocks.
    pub fn id(&self) -> CodeMemoryId {
        self.id
    }

    fn layout(len: usize) -> Option<Layout> {
        Layout::from_size_align(len, CODE_ALIGN).ok()
    }
}

impl CodeMemory for RegionCodeMemory {
    fn allocate(&self, len: usize) -> Result<CodeBlock, CodeMemoryError> {
        if len == 0 {
            return Err(CodeMemoryError::ZeroLength);
        }
        let exhausted = CodeMemoryError::Exhausted {
            requested: len,
            region: self.region_len,
        };
        // Larger than the region can never fit; refusing it here also keeps
        // the allocator's size arithmetic far from overflow.
        if len > self.region_len {
            return Err(exhausted);
        }
        let layout = Self::layout(len).ok_or(CodeMemoryError::TooLarge { requested: len })?;
        let ptr = self
            .heap
            .lock()
            .allocate_first_fit(layout)
            .map_err(|()| exhausted)?;
        // SAFETY: the heap handed out `len` bytes aligned to `CODE_ALIGN`
        // inside the region, which is readable, writable and executable for
        // as long as blocks from it live (contract of `new`), and it will not
        // hand them out again until `free` returns them.
        Ok(unsafe { CodeBlock::from_raw_parts(ptr, len, self.id) })
    }

    fn publish(&self, block: &mut CodeBlock) -> Result<(), CodeMemoryError> {
        if block.owner() != self.id {
            return Err(CodeMemoryError::ForeignBlock);
        }
        // The region is already executable. x86-64 keeps instruction fetch
        // coherent with earlier stores, so all that is needed is that the
        // compiler does not sink the writes of the code past this point;
        // handing the block to another thread synchronises through whatever
        // hands it over (an `Arc`, a lock).
        compiler_fence(Ordering::SeqCst);
        block.mark_published();
        Ok(())
    }

    fn free(&self, block: CodeBlock) {
        if block.owner() != self.id {
            // Not ours: leaking is the only safe answer.
            return;
        }
        let Some(layout) = Self::layout(block.len()) else {
            // Cannot happen for a block `allocate` made; leak rather than panic.
            return;
        };
        let ptr: NonNull<u8> = block.ptr;
        // SAFETY: the id says `allocate` of this value made the block, with
        // this very layout (same `len`, same alignment), and `free` takes the
        // block by value, so it is returned exactly once.
        unsafe { self.heap.lock().deallocate(ptr, layout) };
    }
}

impl core::fmt::Debug for RegionCodeMemory {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RegionCodeMemory")
            .field("region_len", &self.region_len)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    /// A region over a leaked heap buffer: not executable, which these tests
    /// never need (running code is tested in `tests/code_memory.rs`).
    fn region(len: usize) -> RegionCodeMemory {
        let buf: &'static mut [u8] = vec![0u8; len].leak();
        // SAFETY: the buffer is leaked, so it lives for ever, and nothing
        // else refers to it; executability is not used by these tests.
        unsafe { RegionCodeMemory::new(buf.as_mut_ptr(), buf.len()) }
    }

    #[test]
    fn blocks_are_aligned_and_disjoint() {
        let mem = region(4096);
        let a = mem.allocate(3).unwrap();
        let b = mem.allocate(100).unwrap();
        for block in [&a, &b] {
            assert_eq!(block.as_ptr() as usize % CODE_ALIGN, 0);
        }
        let (a0, b0) = (a.as_ptr() as usize, b.as_ptr() as usize);
        assert!(a0 + a.len() <= b0 || b0 + b.len() <= a0);
        mem.free(a);
        mem.free(b);
        assert_eq!(mem.used(), 0);
    }

    #[test]
    fn bad_requests_are_errors() {
        let mem = region(1024);
        assert_eq!(mem.allocate(0).unwrap_err(), CodeMemoryError::ZeroLength);
        for len in [1025, usize::MAX / 2, usize::MAX] {
            assert_eq!(
                mem.allocate(len).unwrap_err(),
                CodeMemoryError::Exhausted {
                    requested: len,
                    region: 1024
                }
            );
        }
    }

    #[test]
    fn tiny_and_null_regions_refuse_everything() {
        for len in [0, 1, 16, 63] {
            let mem = region(len);
            assert!(matches!(
                mem.allocate(1),
                Err(CodeMemoryError::Exhausted { .. })
            ));
        }
        // SAFETY: a null region of zero bytes is never touched.
        let mem = unsafe { RegionCodeMemory::new(core::ptr::null_mut(), 0) };
        assert!(mem.allocate(1).is_err());
    }

    #[test]
    fn exhaustion_then_reuse_after_free() {
        let mem = region(1024);
        let mut blocks = Vec::new();
        let err = loop {
            match mem.allocate(64) {
                Ok(block) => blocks.push(block),
                Err(err) => break err,
            }
        };
        assert_eq!(
            err,
            CodeMemoryError::Exhausted {
                requested: 64,
                region: 1024
            }
        );
        assert!(!blocks.is_empty());
        let freed = blocks.swap_remove(blocks.len() / 2);
        let addr = freed.as_ptr();
        mem.free(freed);
        let again = mem.allocate(64).unwrap();
        assert_eq!(again.as_ptr(), addr);
        blocks.push(again);
        for block in blocks {
            mem.free(block);
        }
        // Everything merged back: one block of (nearly) the whole region fits.
        let big = mem.allocate(1024 - CODE_ALIGN).unwrap();
        mem.free(big);
    }

    #[test]
    fn foreign_blocks_are_refused() {
        let (one, two) = (region(1024), region(1024));
        let mut block = one.allocate(8).unwrap();
        assert_eq!(two.publish(&mut block), Err(CodeMemoryError::ForeignBlock));
        assert!(!block.is_published());
        let used = one.used();
        two.free(block); // leaked, not returned to `two` nor `one`
        assert_eq!(one.used(), used);
        assert_eq!(two.used(), 0);
    }

    #[test]
    fn publish_is_idempotent() {
        let mem = region(1024);
        let mut block = mem.allocate(8).unwrap();
        block.write(0, &[0xC3]).unwrap();
        mem.publish(&mut block).unwrap();
        mem.publish(&mut block).unwrap();
        assert!(block.exec_ptr().is_some());
        mem.free(block);
    }
}
