//! [`Memory`]: a linear memory.
//!
//! A memory is a `Vec<u8>` of exactly its size ([`LinearBytes`]), or with
//! guard regions an 8 GiB reservation of which its size is accessible.
//! Either way its initial pages are not written when it is created: the
//! `Vec` comes zeroed from the allocator (`alloc_zeroed`, lazy where the
//! allocator maps fresh pages, see [`zeroed_vec`]), the reservation from the
//! kernel.
//! Growing may move a `Vec`; the runtime then updates the memory's
//! [`VmMemory`] record (which contexts reach through
//! `VmContext::memories`, for the memories other than 0) and
//! `memory_base`/`memory_len` of every instance whose memory 0 it is
//! (generated code reloads them after every exit). Memories
//! are limited to 4 GiB ([`MAX_MEMORY_BYTES`], whatever their type: a
//! memory64 memory too, since its bytes are one buffer or one reservation),
//! to their declared maximum, and by the store's [`ResourceLimiter`] (see
//! [`super::limits`]).
//!
//! Sizes are counted in the memory type's pages: 64 KiB, or 1 byte for a
//! memory with a custom page size (custom-page-sizes); the size API
//! ([`Memory::size`], [`Memory::grow`]) counts pages as `u64`, as
//! Wasmtime's does, for 32-bit and 64-bit (memory64) memories alike;
//! inside, pages are `u32`s, which cover 4 GiB of 1-byte pages but one.
//!
//! Each memory also has a boxed [`VmMemory`] record of its base and
//! length, which generated code reads for the memories other than 0
//! (through `VmContext::memories`); [`StoreInner::refresh_memory`]
//! rewrites it with the contexts of the instances whose memory 0 it is.

use super::limits::ResourceLimiter;
use super::store::{AsContext, AsContextMut, MemoryData, StoreContextMut, StoreInner};
use crate::abi::VmMemory;
use crate::decode::{Limits, MemoryType};
use crate::error::{Error, Result};
use crate::platform::{GuardRegions, GuardedRegion};
use alloc::boxed::Box;
use alloc::vec::Vec;

/// Bytes in a wasm page (without a custom page size).
pub const PAGE_SIZE: usize = 65536;

/// The largest memory this runtime creates or grows to, in bytes.
pub const MAX_MEMORY_BYTES: u64 = 1 << 32;

/// The most pages of type `ty` the runtime supports.
fn runtime_max_pages(ty: &MemoryType) -> u32 {
    u32::try_from(MAX_MEMORY_BYTES >> ty.page_size_log2().min(32)).unwrap_or(u32::MAX)
}

/// A linear memory of a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Memory {
    pub(crate) store: u64,
    pub(crate) index: u32,
}

/// A linear memory's bytes: a heap buffer of exactly its size (moves when
/// it grows), or with `std` and guard regions a reservation that grows in
/// place (see `Config::guard_regions`).
pub(crate) enum LinearBytes {
    Heap(Vec<u8>),
    Guarded(GuardedRegion),
}

impl LinearBytes {
    /// `len` zero bytes, in a guard region of `guarded` if given.
    fn zeroed(len: usize, guarded: Option<&'static dyn GuardRegions>) -> Result<LinearBytes> {
        match guarded {
            Some(os) => GuardedRegion::new(os, len).map(LinearBytes::Guarded),
            None => Ok(LinearBytes::Heap(zeroed_vec(len)?)),
        }
    }

    /// Grows to `new_len` zero-extended bytes.
    fn grow(&mut self, new_len: usize) -> Result<()> {
        match self {
            LinearBytes::Heap(bytes) => {
                bytes
                    .try_reserve_exact(new_len - bytes.len())
                    .map_err(|_| Error::runtime("out of memory growing a linear memory"))?;
                bytes.resize(new_len, 0);
                Ok(())
            }
            LinearBytes::Guarded(region) => region.grow(new_len),
        }
    }
}

/// `len` zero bytes from the allocator's `alloc_zeroed`, not written here:
/// an allocator that hands out fresh pages for a large block knows they are
/// zero and commits them only when touched (the `std` allocator's `calloc`
/// maps anonymous memory, which the kernel commits page by page on first
/// use), so creating a large memory costs neither time nor physical memory
/// up front. A `no_std` allocator's `alloc_zeroed` may or may not be lazy:
/// the default implementation writes the zeros.
fn zeroed_vec(len: usize) -> Result<Vec<u8>> {
    if len == 0 {
        return Ok(Vec::new());
    }
    let oom = || Error::runtime("out of memory allocating a linear memory");
    let layout = core::alloc::Layout::array::<u8>(len).map_err(|_| oom())?;
    // SAFETY: `layout` has a non-zero size.
    let ptr = unsafe { alloc::alloc::alloc_zeroed(layout) };
    if ptr.is_null() {
        return Err(oom());
    }
    // SAFETY: `ptr` was allocated by the global allocator with the layout
    // of `len` bytes (alignment 1, capacity `len`), all initialized (zero).
    Ok(unsafe { Vec::from_raw_parts(ptr, len, len) })
}

impl core::ops::Deref for LinearBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            LinearBytes::Heap(bytes) => bytes,
            LinearBytes::Guarded(region) => region,
        }
    }
}

impl core::ops::DerefMut for LinearBytes {
    fn deref_mut(&mut self) -> &mut [u8] {
        match self {
            LinearBytes::Heap(bytes) => bytes,
            LinearBytes::Guarded(region) => region,
        }
    }
}

impl Memory {
    /// A new memory of type `ty`, zero-filled to its minimum size (subject
    /// to the store's [`ResourceLimiter`]).
    pub fn new(mut store: impl AsContextMut, ty: MemoryType) -> Result<Memory> {
        let (inner, limiter) = store.as_context_mut().0.inner_and_limiter();
        inner.push_memory(ty, limiter)
    }

    /// The memory's type, with its current size as minimum.
    pub fn ty(&self, store: impl AsContext) -> MemoryType {
        self.current_type(&store.as_context().inner)
            .unwrap_or(MemoryType::new(0, Some(0)))
    }

    pub(crate) fn current_type(&self, inner: &StoreInner) -> Result<MemoryType> {
        let m = inner.memory_data(self.store, self.index)?;
        Ok(MemoryType {
            limits: Limits {
                min: u64::from(m.pages()),
                max: m.ty.limits.max,
            },
            ..m.ty
        })
    }

    /// The size in pages (0 for another store's memory), as Wasmtime's
    /// `Memory::size`: a `u64` for 32-bit and 64-bit memories alike.
    pub fn size(&self, store: impl AsContext) -> u64 {
        store
            .as_context()
            .inner
            .memory_data(self.store, self.index)
            .map_or(0, |m| u64::from(m.pages()))
    }

    /// The size in bytes (0 for another store's memory).
    pub fn data_size(&self, store: impl AsContext) -> usize {
        self.data(&store).len()
    }

    /// Grows the memory by `delta` pages and returns the old size in pages,
    /// as Wasmtime's `Memory::grow` (`u64`s for 32-bit and 64-bit memories
    /// alike). Fails beyond the declared maximum, beyond 4 GiB, or when the
    /// store's [`ResourceLimiter`] refuses.
    pub fn grow(&self, mut store: impl AsContextMut, delta: u64) -> Result<u64> {
        let (inner, limiter) = store.as_context_mut().0.inner_and_limiter();
        // No memory reaches `u32::MAX` pages plus one (4 GiB at most).
        let Ok(delta) = u32::try_from(delta) else {
            return Err(Error::runtime("memory.grow beyond the maximum size")
                .with_detail(format_args!("{delta} pages")));
        };
        inner
            .grow_memory(self.store, self.index, delta, limiter)?
            .map(u64::from)
    }

    /// Copies `buf.len()` bytes at `offset` into `buf`.
    pub fn read(&self, store: impl AsContext, offset: usize, buf: &mut [u8]) -> Result<()> {
        let data = self.data(&store);
        let src = offset
            .checked_add(buf.len())
            .and_then(|end| data.get(offset..end))
            .ok_or_else(|| Error::runtime("out of bounds memory access"))?;
        buf.copy_from_slice(src);
        Ok(())
    }

    /// Copies `bytes` into the memory at `offset`.
    ///
    /// ```
    /// use wasmkern::{Engine, Instance, Module, Store};
    ///
    /// let engine = Engine::default();
    /// let wasm = wat::parse_str(r#"(module (memory (export "mem") 1)
    ///     (func (export "first") (result i32) (i32.load8_u (i32.const 0))))"#).unwrap();
    /// let module = Module::new(&engine, wasm)?;
    /// let mut store = Store::new(&engine, ());
    /// let instance = Instance::new(&mut store, &module, &[])?;
    /// let memory = instance.get_memory(&mut store, "mem").unwrap();
    /// memory.write(&mut store, 0, b"hi")?;
    /// let first = instance.get_typed_func::<(), i32>(&mut store, "first")?;
    /// assert_eq!(first.call(&mut store, ())?, i32::from(b'h'));
    /// let mut back = [0; 2];
    /// memory.read(&store, 0, &mut back)?;
    /// assert_eq!(&back, b"hi");
    /// // Out of bounds is an error, not a panic.
    /// assert!(memory.write(&mut store, 65_535, b"hi").is_err());
    /// # Ok::<(), wasmkern::Error>(())
    /// ```
    pub fn write(&self, mut store: impl AsContextMut, offset: usize, bytes: &[u8]) -> Result<()> {
        let data = self.data_mut(&mut store);
        let dst = offset
            .checked_add(bytes.len())
            .and_then(|end| data.get_mut(offset..end))
            .ok_or_else(|| Error::runtime("out of bounds memory access"))?;
        dst.copy_from_slice(bytes);
        Ok(())
    }

    /// The contents (empty for another store's memory).
    pub fn data<'a, S: AsContext>(&self, store: &'a S) -> &'a [u8] {
        match store.as_context().inner.memory_data(self.store, self.index) {
            Ok(m) => &m.bytes,
            Err(_) => &[],
        }
    }

    /// The contents, mutably (empty for another store's memory).
    pub fn data_mut<'a, S: AsContextMut>(&self, store: &'a mut S) -> &'a mut [u8] {
        match store
            .as_context_mut()
            .0
            .inner
            .memory_data_mut(self.store, self.index)
        {
            Ok(m) => &mut m.bytes,
            Err(_) => &mut [],
        }
    }
}

impl Memory {
    /// The contents and the store's data at once, so that a host function
    /// can use both (for example a WASI context in the data and the guest's
    /// buffers in the memory). Empty contents for another store's memory.
    pub fn data_and_store_mut<'a, T: 'static>(
        &self,
        store: impl Into<StoreContextMut<'a, T>>,
    ) -> (&'a mut [u8], &'a mut T) {
        let store = store.into().0;
        let bytes: &'a mut [u8] = match store.inner.memory_data_mut(self.store, self.index) {
            Ok(m) => &mut m.bytes,
            Err(_) => &mut [],
        };
        (bytes, &mut store.data)
    }
}

impl MemoryData {
    pub(crate) fn pages(&self) -> u32 {
        let pages = self.bytes.len() as u64 >> self.ty.page_size_log2().min(32);
        u32::try_from(pages).unwrap_or(u32::MAX)
    }

    /// Bytes in `pages` pages of this memory.
    fn bytes_of(&self, pages: u32) -> usize {
        page_bytes(&self.ty, u64::from(pages))
    }

    /// Bytes that `delta` pages of this memory add.
    pub(crate) fn growth_bytes(&self, delta: u32) -> u64 {
        u64::from(delta) << self.ty.page_size_log2().min(32)
    }

    /// True when growing by `delta` pages stays within the memory's
    /// maximum (the limiter may still refuse).
    pub(crate) fn can_grow(&self, delta: u32) -> bool {
        self.pages()
            .checked_add(delta)
            .is_some_and(|n| n <= self.max_pages())
    }

    fn max_pages(&self) -> u32 {
        let cap = runtime_max_pages(&self.ty);
        self.ty
            .limits
            .max
            .map_or(cap, |m| u32::try_from(m).unwrap_or(u32::MAX).min(cap))
    }
}

/// Bytes in `pages` pages of memory type `ty` (saturating: callers have
/// checked `pages` against [`runtime_max_pages`]).
fn page_bytes(ty: &MemoryType, pages: u64) -> usize {
    usize::try_from(pages << ty.page_size_log2().min(32)).unwrap_or(usize::MAX)
}

impl StoreInner {
    pub(crate) fn push_memory(
        &mut self,
        ty: MemoryType,
        limiter: Option<&mut dyn ResourceLimiter>,
    ) -> Result<Memory> {
        let cap = u64::from(runtime_max_pages(&ty));
        let declared_too_large = !ty.memory64 && ty.limits.max.is_some_and(|m| m > cap);
        if ty.limits.min > cap || declared_too_large {
            return Err(Error::runtime("memory size must be at most 4GiB")
                .with_detail(format_args!("{cap} pages of {} bytes", ty.page_size())));
        }
        if ty.limits.max.is_some_and(|max| ty.limits.min > max) {
            return Err(Error::runtime(
                "size minimum must not be greater than maximum",
            ));
        }
        if let Some(log2) = ty.page_size_log2
            && log2 != 0
            && log2 != 16
        {
            return Err(Error::runtime("invalid custom page size")
                .with_detail(format_args!("2^{log2} bytes: only 1 and 65536 are valid")));
        }
        if let Some(limiter) = limiter {
            if self.memories.len() >= limiter.memories() {
                return Err(Error::instantiation(
                    "resource limit exceeded: too many memories in the store",
                )
                .with_detail(format_args!("the limit is {}", limiter.memories())));
            }
            let bytes = page_bytes(&ty, ty.limits.min);
            let maximum = ty.limits.max.map(|m| page_bytes(&ty, m));
            if !limiter.memory_growing(0, bytes, maximum)? {
                return Err(Error::instantiation(
                    "resource limit exceeded: memory minimum size refused by the store's limiter",
                )
                .with_detail(format_args!("{} pages", ty.limits.min)));
            }
        }
        let guarded = self.engine.inner.guard_regions;
        let mut bytes = LinearBytes::zeroed(page_bytes(&ty, ty.limits.min), guarded)?;
        let index = u32::try_from(self.memories.len())
            .map_err(|_| Error::runtime("too many memories in the store"))?;
        let vm = Box::new(VmMemory {
            base: bytes.as_mut_ptr(),
            len: bytes.len() as u64,
        });
        self.memories.push(MemoryData {
            ty,
            bytes,
            vm,
            users: Vec::new(),
        });
        Ok(Memory {
            store: self.id,
            index,
        })
    }

    /// Grows memory `index` and refreshes the contexts that use it.
    ///
    /// The inner result is the old size, or why the growth was refused
    /// (beyond the maximum, refused by the limiter, out of memory): the
    /// guest then sees -1. The outer error is the limiter's own error, which
    /// ends the running call.
    pub(crate) fn grow_memory(
        &mut self,
        store: u64,
        index: u32,
        delta: u32,
        limiter: Option<&mut dyn ResourceLimiter>,
    ) -> Result<Result<u32>> {
        let m = self.memory_data_mut(store, index)?;
        let old = m.pages();
        let Some(new) = old.checked_add(delta).filter(|&n| n <= m.max_pages()) else {
            return Ok(Err(Error::runtime("memory.grow beyond the maximum size")
                .with_detail(format_args!("{old} + {delta} pages"))));
        };
        if delta > 0
            && let Some(limiter) = limiter
        {
            let maximum = m.ty.limits.max.map(|p| page_bytes(&m.ty, p));
            let current = m.bytes_of(old);
            if !limiter.memory_growing(current, m.bytes_of(new), maximum)? {
                return Ok(Err(Error::runtime(
                    "memory.grow refused by the store's resource limiter",
                )
                .with_detail(format_args!("{old} + {delta} pages"))));
            }
        }
        if let Err(e) = m.bytes.grow(m.bytes_of(new)) {
            return Ok(Err(e));
        }
        self.refresh_memory(index);
        Ok(Ok(old))
    }

    /// Writes memory `index`'s base and length into its record and its
    /// users' contexts.
    pub(crate) fn refresh_memory(&mut self, index: u32) {
        let Some(m) = self.memories.get_mut(index as usize) else {
            return;
        };
        let base = m.bytes.as_mut_ptr();
        let len = m.bytes.len() as u64;
        *m.vm = VmMemory { base, len };
        for &user in &m.users {
            if let Some(instance) = self.instances.get_mut(user as usize) {
                instance.vmctx.set_memory(base, len);
            }
        }
    }
}
