//! Resource limits of a store: the [`ResourceLimiter`] trait the embedder
//! may implement, and [`StoreLimits`], a ready-made limiter built with
//! [`StoreLimitsBuilder`] and installed with
//! [`Store::limiter`](super::Store::limiter).
//!
//! # What is limited, and the defaults
//! | resource | without a limiter | [`StoreLimits::default`] |
//! | --- | --- | --- |
//! | pages of one linear memory | its declared maximum, at most 65536 (4 GiB) | the same |
//! | pages of all memories of the store | unlimited | unlimited |
//! | elements of one table | its declared maximum, at most [`MAX_TABLE_ELEMENTS`](super::MAX_TABLE_ELEMENTS) | the same |
//! | instances, memories, tables in the store | unlimited | [`DEFAULT_INSTANCE_LIMIT`], [`DEFAULT_MEMORY_LIMIT`], [`DEFAULT_TABLE_LIMIT`] (10 000 each) |
//!
//! # When the limiter is asked
//! - **Growth** (`memory.grow`, `table.grow`, [`Memory::grow`](super::Memory::grow),
//!   [`Table::grow`](super::Table::grow)) by a non-zero delta: after the
//!   declared maximum was checked, [`ResourceLimiter::memory_growing`] or
//!   [`ResourceLimiter::table_growing`] decides. `Ok(false)` makes the guest's
//!   `memory.grow`/`table.grow` return -1 (not a trap) and the host API
//!   return an error; `Err(e)` ends the running call with `e`.
//! - **Creation** of a memory or table (instantiation, [`Memory::new`](super::Memory::new),
//!   [`Table::new`](super::Table::new)) counts as growth from 0 to the
//!   minimum size, and is checked against [`ResourceLimiter::memories`] /
//!   [`ResourceLimiter::tables`]; instantiation is also checked against
//!   [`ResourceLimiter::instances`]. A refusal fails the creation with an
//!   [`ErrorKind::Instantiation`](crate::ErrorKind::Instantiation) error
//!   that names the limit.
//!
//! Memory sizes are given to the limiter in bytes (as Wasmtime does);
//! [`StoreLimitsBuilder`] takes pages.

use super::memory::PAGE_SIZE;
use crate::error::Result;

/// Default [`ResourceLimiter::instances`] of [`StoreLimits`].
pub const DEFAULT_INSTANCE_LIMIT: usize = 10_000;
/// Default [`ResourceLimiter::memories`] of [`StoreLimits`].
pub const DEFAULT_MEMORY_LIMIT: usize = 10_000;
/// Default [`ResourceLimiter::tables`] of [`StoreLimits`].
pub const DEFAULT_TABLE_LIMIT: usize = 10_000;

/// Decides whether a store's memories and tables may grow, and how many
/// instances, memories and tables it may hold.
pub trait ResourceLimiter {
    /// A linear memory wants to grow from `current` to `desired` bytes
    /// (`current` is 0 when it is being created); `maximum` is its declared
    /// maximum in bytes, if any. Return `Ok(true)` to allow it, `Ok(false)`
    /// to refuse (the guest's `memory.grow` returns -1), or an error to end
    /// the running call.
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool>;

    /// A table wants to grow from `current` to `desired` elements (`current`
    /// is 0 when it is being created); like [`memory_growing`](Self::memory_growing).
    fn table_growing(&mut self, current: u32, desired: u32, maximum: Option<u32>) -> Result<bool>;

    /// A memory of `bytes` the limiter allowed is gone: the instantiation
    /// that created it failed and was undone. The default does nothing.
    fn memory_released(&mut self, bytes: usize) {
        let _ = bytes;
    }

    /// The most instances the store may hold. An instantiation that failed
    /// counts only if its instance stays: its references reached an
    /// imported table, or its start function failed after it could have
    /// handed things out through its imports.
    fn instances(&self) -> usize {
        usize::MAX
    }

    /// The most linear memories the store may hold (imported ones are not
    /// created again, so they count once, where they were created).
    fn memories(&self) -> usize {
        usize::MAX
    }

    /// The most tables the store may hold.
    fn tables(&self) -> usize {
        usize::MAX
    }
}

/// A [`ResourceLimiter`] with fixed limits; see [`StoreLimitsBuilder`].
///
/// It keeps the total size of the memories it allowed, so it should serve
/// one store only.
#[derive(Clone, Debug)]
pub struct StoreLimits {
    memory_pages: Option<u32>,
    total_memory_pages: Option<u64>,
    table_elements: Option<u32>,
    instances: usize,
    memories: usize,
    tables: usize,
    /// Bytes of memory allowed so far.
    total_memory: u64,
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            memory_pages: None,
            total_memory_pages: None,
            table_elements: None,
            instances: DEFAULT_INSTANCE_LIMIT,
            memories: DEFAULT_MEMORY_LIMIT,
            tables: DEFAULT_TABLE_LIMIT,
            total_memory: 0,
        }
    }
}

impl StoreLimits {
    /// Bytes of linear memory this limiter has allowed so far (all
    /// memories).
    pub fn total_memory(&self) -> u64 {
        self.total_memory
    }
}

/// Builds [`StoreLimits`]; every limit not set keeps its default (see the
/// module docs).
#[derive(Clone, Debug, Default)]
pub struct StoreLimitsBuilder(StoreLimits);

impl StoreLimitsBuilder {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// At most `pages` pages (64 KiB each) in any one linear memory.
    pub fn memory_pages(mut self, pages: u32) -> Self {
        self.0.memory_pages = Some(pages);
        self
    }

    /// At most `pages` pages in all linear memories of the store together.
    pub fn total_memory_pages(mut self, pages: u64) -> Self {
        self.0.total_memory_pages = Some(pages);
        self
    }

    /// At most `elements` elements in any one table.
    pub fn table_elements(mut self, elements: u32) -> Self {
        self.0.table_elements = Some(elements);
        self
    }

    /// At most `n` instances in the store.
    pub fn instances(mut self, n: usize) -> Self {
        self.0.instances = n;
        self
    }

    /// At most `n` linear memories in the store.
    pub fn memories(mut self, n: usize) -> Self {
        self.0.memories = n;
        self
    }

    /// At most `n` tables in the store.
    pub fn tables(mut self, n: usize) -> Self {
        self.0.tables = n;
        self
    }

    /// The limits.
    pub fn build(self) -> StoreLimits {
        self.0
    }
}

impl ResourceLimiter for StoreLimits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool> {
        let page = PAGE_SIZE as u64;
        let (current, desired) = (current as u64, desired as u64);
        if self
            .memory_pages
            .is_some_and(|max| desired > u64::from(max) * page)
        {
            return Ok(false);
        }
        let total = self.total_memory.saturating_sub(current) + desired;
        if self
            .total_memory_pages
            .is_some_and(|max| total > max.saturating_mul(page))
        {
            return Ok(false);
        }
        self.total_memory = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: u32,
        desired: u32,
        _maximum: Option<u32>,
    ) -> Result<bool> {
        Ok(self.table_elements.is_none_or(|max| desired <= max))
    }

    fn memory_released(&mut self, bytes: usize) {
        self.total_memory = self.total_memory.saturating_sub(bytes as u64);
    }

    fn instances(&self) -> usize {
        self.instances
    }

    fn memories(&self) -> usize {
        self.memories
    }

    fn tables(&self) -> usize {
        self.tables
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_limits_count_the_total() {
        let mut l = StoreLimitsBuilder::new()
            .memory_pages(3)
            .total_memory_pages(4)
            .build();
        let p = PAGE_SIZE;
        assert!(l.memory_growing(0, 2 * p, None).unwrap());
        assert!(!l.memory_growing(0, 4 * p, None).unwrap(), "over 3 pages");
        assert!(l.memory_growing(0, 2 * p, None).unwrap());
        assert!(!l.memory_growing(2 * p, 3 * p, None).unwrap(), "total 5");
        assert_eq!(l.total_memory(), 4 * p as u64);
        assert!(l.table_growing(0, 1_000_000, None).unwrap());
        assert_eq!(l.instances(), DEFAULT_INSTANCE_LIMIT);
    }
}
