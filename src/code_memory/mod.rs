//! Executable memory: where generated machine code lives.
//!
//! This module owns the [`CodeMemory`] trait, the blocks it hands out
//! ([`CodeBlock`]), the RAII handle for published code ([`PublishedCode`])
//! and the `no_std` implementation over a region the embedder provides
//! ([`RegionCodeMemory`]). It never calls the operating system: the Linux
//! implementation (`MmapCodeMemory`, mmap/mprotect) lives in `crate::host`
//! behind the `std` feature, and a kernel or unikernel can supply its own.
//!
//! # The life of a block
//!
//! 1. [`CodeMemory::allocate`] hands out a [`CodeBlock`] that is *writable*:
//!    [`CodeBlock::as_mut_slice`] and [`CodeBlock::write`] work, and its
//!    address ([`CodeBlock::as_ptr`]) is already final, so the compiler can
//!    resolve relocations against it.
//! 2. [`CodeMemory::publish`] makes the block *executable* (and read-only
//!    where the implementation can enforce it). From then on the writers
//!    refuse and [`CodeBlock::exec_ptr`] returns the entry address.
//! 3. [`CodeMemory::free`] returns the block to the implementation. A
//!    [`PublishedCode`] does this on drop, holding the memory through an
//!    `Arc<dyn CodeMemory>`, so a module's code is freed with the module.
//!
//! # Decisions
//!
//! - Blocks start at an address aligned to [`CODE_ALIGN`] (64 bytes, a cache
//!   line), so the compiler may align hot loop heads relative to the block.
//! - Each implementation carries a [`CodeMemoryId`] and stamps it into its
//!   blocks; `publish` and `free` refuse blocks of another implementation
//!   (`publish` with [`CodeMemoryError::ForeignBlock`], `free` by leaking
//!   them), so the safe API cannot free memory it does not own.
//! - Nothing here panics on a bad request: a zero length, a length too
//!   large to round up, and an exhausted region are errors.
//! - A [`CodeBlock`] does not free itself when dropped (it does not know its
//!   memory); dropping one without [`CodeMemory::free`] leaks it, which is
//!   safe. Use [`PublishedCode`] for code that must be freed.

mod region;

pub use region::RegionCodeMemory;

use alloc::sync::Arc;
use core::fmt;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};

/// The alignment of the start of every [`CodeBlock`], in bytes.
pub const CODE_ALIGN: usize = 64;

/// Where generated code is written and from where it runs.
///
/// The engine holds one as `Arc<dyn CodeMemory>`; an embedder may supply
/// its own. The contract:
///
/// - [`allocate`](Self::allocate) returns memory that is writable, at least
///   `len` bytes, aligned to [`CODE_ALIGN`], exclusively the block's;
/// - [`publish`](Self::publish) makes it executable (and, where the
///   implementation can, no longer writable) and marks the block published
///   with [`CodeBlock::mark_published`];
/// - [`free`](Self::free) returns it; no code in it may run afterwards.
///
/// No method panics on a bad request.
pub trait CodeMemory: Send + Sync {
    /// Allocates a writable block of `len` bytes.
    ///
    /// Fails with [`CodeMemoryError::ZeroLength`] for `len == 0`, and with
    /// [`CodeMemoryError::Exhausted`], [`CodeMemoryError::TooLarge`] or
    /// [`CodeMemoryError::Os`] when the memory cannot be had.
    fn allocate(&self, len: usize) -> Result<CodeBlock, CodeMemoryError>;

    /// Makes `block` executable and marks it published.
    ///
    /// Publishing an already published block does nothing. Fails with
    /// [`CodeMemoryError::ForeignBlock`] for a block another memory
    /// allocated; the block is then left as it was.
    fn publish(&self, block: &mut CodeBlock) -> Result<(), CodeMemoryError>;

    /// Returns `block` to this memory.
    ///
    /// The caller must make sure no code in the block runs any more (calling
    /// through [`CodeBlock::exec_ptr`] is `unsafe` for this reason). A block
    /// another memory allocated is leaked, never freed.
    fn free(&self, block: CodeBlock);
}

/// Identifies one [`CodeMemory`] instance, so it can recognise its blocks.
///
/// Every call to [`CodeMemoryId::fresh`] returns a new identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CodeMemoryId(usize);

impl CodeMemoryId {
    /// Returns an identifier no earlier call returned.
    pub fn fresh() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(1);
        // Relaxed is enough: only uniqueness matters, and `fetch_add` is
        // atomic whatever the ordering. 2^64 instances will not be created.
        Self(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// A block of code memory: writable until published, executable after.
///
/// Its address never changes, so code may be written to refer to it
/// (relocations are resolved before publishing).
#[must_use = "a dropped CodeBlock is leaked; give it back with CodeMemory::free"]
pub struct CodeBlock {
    ptr: NonNull<u8>,
    len: usize,
    owner: CodeMemoryId,
    published: bool,
}

// SAFETY: a `CodeBlock` owns its bytes exclusively, like a `Box<[u8]>`
// (the contract of `from_raw_parts`); it has no thread affinity, and shared
// references only give read access to those bytes.
unsafe impl Send for CodeBlock {}
// SAFETY: as above; `&CodeBlock` only reads.
unsafe impl Sync for CodeBlock {}

impl CodeBlock {
    /// Wraps memory an implementation of [`CodeMemory`] allocated.
    ///
    /// The block starts unpublished (writable).
    ///
    /// # Safety
    ///
    /// `ptr` must be valid for reads and writes of `len` bytes, aligned to
    /// [`CODE_ALIGN`], and used by nothing else until the block is given to
    /// `owner`'s [`CodeMemory::free`]. While the block is unpublished the
    /// memory must be writable; after [`CodeMemory::publish`] it must stay
    /// readable.
    pub unsafe fn from_raw_parts(ptr: NonNull<u8>, len: usize, owner: CodeMemoryId) -> Self {
        Self {
            ptr,
            len,
            owner,
            published: false,
        }
    }

    /// The length in bytes (as requested from [`CodeMemory::allocate`]).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the block has no bytes (never true for blocks of this crate).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The address of the first byte, writable or not.
    ///
    /// It is final from allocation on: use it to resolve relocations.
    pub fn as_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }

    /// The memory that allocated this block.
    pub fn owner(&self) -> CodeMemoryId {
        self.owner
    }

    /// Whether [`CodeMemory::publish`] has made the block executable.
    pub fn is_published(&self) -> bool {
        self.published
    }

    /// Reads the bytes (before or after publishing).
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `from_raw_parts` guarantees `len` readable bytes owned by
        // this block; writes need `&mut self`, so none happens meanwhile.
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The bytes to write code into, or `None` once published.
    pub fn as_mut_slice(&mut self) -> Option<&mut [u8]> {
        if self.published {
            return None;
        }
        // SAFETY: unpublished, so by `from_raw_parts` the `len` bytes are
        // writable and owned by this block alone; `&mut self` makes the
        // borrow unique.
        Some(unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) })
    }

    /// Copies `bytes` into the block at `offset`.
    ///
    /// Fails with [`CodeMemoryError::Published`] once published and with
    /// [`CodeMemoryError::OutOfBounds`] when the bytes do not fit.
    pub fn write(&mut self, offset: usize, bytes: &[u8]) -> Result<(), CodeMemoryError> {
        let block_len = self.len;
        let dest = self.as_mut_slice().ok_or(CodeMemoryError::Published)?;
        let out_of_bounds = CodeMemoryError::OutOfBounds {
            offset,
            len: bytes.len(),
            block_len,
        };
        let end = offset
            .checked_add(bytes.len())
            .ok_or(out_of_bounds.clone())?;
        dest.get_mut(offset..end)
            .ok_or(out_of_bounds)?
            .copy_from_slice(bytes);
        Ok(())
    }

    /// The entry address of the code, or `None` until published.
    ///
    /// Turning it into a function pointer and calling it is `unsafe`: the
    /// caller vouches for the code, its calling convention, and that the
    /// block is not freed while the code runs.
    pub fn exec_ptr(&self) -> Option<NonNull<u8>> {
        self.published.then_some(self.ptr)
    }

    /// Marks the block published: writers refuse, [`exec_ptr`](Self::exec_ptr)
    /// answers.
    ///
    /// For implementations of [`CodeMemory::publish`], after the memory has
    /// been made executable.
    pub fn mark_published(&mut self) {
        self.published = true;
    }
}

impl fmt::Debug for CodeBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodeBlock")
            .field("ptr", &self.ptr)
            .field("len", &self.len)
            .field("owner", &self.owner)
            .field("published", &self.published)
            .finish()
    }
}

/// Published code that is freed when the handle is dropped.
///
/// Holds its [`CodeMemory`] through an `Arc`, so the memory outlives every
/// piece of code it holds. A module keeps one of these per code block.
pub struct PublishedCode {
    // Always `Some` until `drop` takes it out.
    block: Option<CodeBlock>,
    memory: Arc<dyn CodeMemory>,
}

impl PublishedCode {
    /// Publishes `block` (if it is not yet) through `memory` and takes
    /// ownership of it.
    ///
    /// On failure the block is freed (or, if `memory` did not allocate it,
    /// leaked) and the error returned.
    pub fn publish(
        memory: Arc<dyn CodeMemory>,
        mut block: CodeBlock,
    ) -> Result<Self, CodeMemoryError> {
        if let Err(err) = memory.publish(&mut block) {
            memory.free(block);
            return Err(err);
        }
        Ok(Self {
            block: Some(block),
            memory,
        })
    }

    fn block(&self) -> &CodeBlock {
        // `block` is only taken out in `drop`.
        self.block
            .as_ref()
            .unwrap_or_else(|| unreachable!("PublishedCode without block"))
    }

    /// The entry address of the code (the block's first byte).
    pub fn exec_ptr(&self) -> NonNull<u8> {
        // Published by construction, so the pointer is there; `as_ptr` is the
        // same address.
        self.block().ptr
    }

    /// The length of the code in bytes.
    pub fn len(&self) -> usize {
        self.block().len()
    }

    /// Whether the code has no bytes (never true for blocks of this crate).
    pub fn is_empty(&self) -> bool {
        self.block().is_empty()
    }

    /// Reads the code bytes.
    pub fn as_slice(&self) -> &[u8] {
        self.block().as_slice()
    }

    /// The memory the code lives in.
    pub fn memory(&self) -> &Arc<dyn CodeMemory> {
        &self.memory
    }
}

impl Drop for PublishedCode {
    fn drop(&mut self) {
        if let Some(block) = self.block.take() {
            self.memory.free(block);
        }
    }
}

impl fmt::Debug for PublishedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublishedCode")
            .field("block", &self.block)
            .finish_non_exhaustive()
    }
}

/// Why code memory could not be had or used.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodeMemoryError {
    /// A block of zero bytes was requested.
    ZeroLength,
    /// The region has no free range large enough.
    Exhausted {
        /// The bytes requested.
        requested: usize,
        /// The size of the whole region in bytes.
        region: usize,
    },
    /// The request cannot be rounded up to the alignment or page size.
    TooLarge {
        /// The bytes requested.
        requested: usize,
    },
    /// The operating system refused (std adapter).
    Os {
        /// The call that failed, e.g. `"mmap"`.
        operation: &'static str,
        /// The `errno` it set.
        errno: i32,
    },
    /// The block was allocated by another code memory.
    ForeignBlock,
    /// The block is published and no longer writable.
    Published,
    /// A write does not fit in the block.
    OutOfBounds {
        /// Where the write starts.
        offset: usize,
        /// How many bytes it writes.
        len: usize,
        /// The length of the block.
        block_len: usize,
    },
}

impl fmt::Display for CodeMemoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ZeroLength => f.write_str("cannot allocate a code block of zero bytes"),
            Self::Exhausted { requested, region } => {
                write!(
                    f,
                    "code memory exhausted: requested {requested} bytes, region of {region} bytes"
                )
            }
            Self::TooLarge { requested } => {
                write!(f, "code block too large: requested {requested} bytes")
            }
            Self::Os { operation, errno } => write!(f, "{operation} failed: errno {errno}"),
            Self::ForeignBlock => f.write_str("code block was allocated by another code memory"),
            Self::Published => f.write_str("code block is published and no longer writable"),
            Self::OutOfBounds {
                offset,
                len,
                block_len,
            } => write!(
                f,
                "write of {len} bytes at offset {offset} does not fit in a code block of {block_len} bytes"
            ),
        }
    }
}

impl core::error::Error for CodeMemoryError {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    /// A block over a plain buffer: enough to test the writers.
    fn block_over(buf: &mut [u8]) -> CodeBlock {
        let ptr = NonNull::new(buf.as_mut_ptr()).unwrap();
        // SAFETY: the buffer outlives the block in every test below and is
        // not touched while the block lives; the writers only need it
        // writable (alignment does not matter to them).
        unsafe { CodeBlock::from_raw_parts(ptr, buf.len(), CodeMemoryId::fresh()) }
    }

    #[test]
    fn ids_are_fresh() {
        assert_ne!(CodeMemoryId::fresh(), CodeMemoryId::fresh());
    }

    #[test]
    fn write_within_and_out_of_bounds() {
        let mut buf = vec![0u8; 8];
        let mut block = block_over(&mut buf);
        block.write(2, &[1, 2, 3]).unwrap();
        block.write(8, &[]).unwrap();
        assert_eq!(
            block.write(6, &[1, 2, 3]),
            Err(CodeMemoryError::OutOfBounds {
                offset: 6,
                len: 3,
                block_len: 8
            })
        );
        assert_eq!(
            block.write(usize::MAX, &[1]),
            Err(CodeMemoryError::OutOfBounds {
                offset: usize::MAX,
                len: 1,
                block_len: 8
            })
        );
        assert_eq!(block.as_slice(), &[0, 0, 1, 2, 3, 0, 0, 0]);
        assert!(block.exec_ptr().is_none());
    }

    #[test]
    fn published_blocks_refuse_writes() {
        let mut buf = vec![0u8; 4];
        let mut block = block_over(&mut buf);
        block.mark_published();
        assert!(block.as_mut_slice().is_none());
        assert_eq!(block.write(0, &[1]), Err(CodeMemoryError::Published));
        assert_eq!(
            block.exec_ptr().map(|p| p.as_ptr() as *const u8),
            Some(block.as_ptr())
        );
    }

    #[test]
    fn errors_read_well() {
        let err = CodeMemoryError::Exhausted {
            requested: 100,
            region: 64,
        };
        assert_eq!(
            err.to_string(),
            "code memory exhausted: requested 100 bytes, region of 64 bytes"
        );
        let err = CodeMemoryError::Os {
            operation: "mmap",
            errno: 12,
        };
        assert_eq!(err.to_string(), "mmap failed: errno 12");
    }
}
