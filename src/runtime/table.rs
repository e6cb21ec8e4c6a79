//! [`Table`]: a table of references.
//!
//! Elements are raw references (`*const VmFuncRef` or externref handles,
//! 0 = null) in a `Vec<usize>`; the table's boxed [`VmTable`] points at them
//! and is updated when the table grows. Tables are limited to
//! [`MAX_TABLE_ELEMENTS`] elements, to their declared maximum, and by the
//! store's [`ResourceLimiter`] (see [`super::limits`]).
//!
//! A table64 table (indexed with `i64`, the memory64 proposal's tables)
//! is stored as any other: its indices and sizes are `u64`s only at the
//! edges (generated code, the helpers, element segment offsets), and every
//! index is checked against the length as a `u64`, so an index of 2^32 or
//! more is out of bounds, never a wrapped smaller one. The size API
//! ([`Table::size`], [`Table::grow`], [`Table::get`], [`Table::set`])
//! counts in `u64`s for both kinds, as Wasmtime's does; inside, sizes stay
//! below [`MAX_TABLE_ELEMENTS`] and growth by more than that is refused.

use super::limits::ResourceLimiter;
use super::store::{AsContext, AsContextMut, StoreInner, TableData, check_val};
use super::values::Val;
use crate::abi::VmTable;
use crate::decode::{Limits, RefType, TableType, ValType};
use crate::error::{Error, Result};
use alloc::boxed::Box;
use alloc::vec::Vec;

/// The most elements a table may have (an implementation limit).
pub const MAX_TABLE_ELEMENTS: u32 = 10_000_000;

/// A table of a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Table {
    pub(crate) store: u64,
    pub(crate) index: u32,
}

impl Table {
    /// A new table of type `ty` with every element set to `init`.
    pub fn new(mut store: impl AsContextMut, ty: TableType, init: Val) -> Result<Table> {
        let (inner, limiter) = store.as_context_mut().0.inner_and_limiter();
        let raw = check_val(inner, &init, ty.elem.into())? as usize;
        inner.push_table(ty, raw, limiter)
    }

    /// The table's type, with its current size as minimum.
    pub fn ty(&self, store: impl AsContext) -> TableType {
        self.current_type(&store.as_context().inner)
            .unwrap_or(TableType::new(RefType::FuncRef, 0, Some(0)))
    }

    pub(crate) fn current_type(&self, inner: &StoreInner) -> Result<TableType> {
        let t = inner.table_data(self.store, self.index)?;
        Ok(TableType {
            elem: t.ty.elem,
            limits: Limits {
                min: t.elements.len() as u64,
                max: t.ty.limits.max,
            },
            table64: t.ty.table64,
        })
    }

    /// The number of elements (0 for another store's table), as
    /// Wasmtime's `Table::size`: a `u64` for 32-bit and table64 tables
    /// alike.
    pub fn size(&self, store: impl AsContext) -> u64 {
        store
            .as_context()
            .inner
            .table_data(self.store, self.index)
            .map_or(0, |t| t.elements.len() as u64)
    }

    /// Element `index`, or `None` when out of bounds.
    pub fn get(&self, store: impl AsContext, index: u64) -> Option<Val> {
        let inner = &store.as_context().inner;
        let t = inner.table_data(self.store, self.index).ok()?;
        let raw = *t.elements.get(usize::try_from(index).ok()?)?;
        Some(inner.raw_to_val(t.ty.elem.into(), raw as u128))
    }

    /// Sets element `index`.
    pub fn set(&self, mut store: impl AsContextMut, index: u64, val: Val) -> Result<()> {
        let inner = &mut store.as_context_mut().0.inner;
        let elem: ValType = inner.table_data(self.store, self.index)?.ty.elem.into();
        let raw = check_val(inner, &val, elem)? as usize;
        let t = inner.table_data_mut(self.store, self.index)?;
        let slot = usize::try_from(index)
            .ok()
            .and_then(|i| t.elements.get_mut(i))
            .ok_or_else(|| Error::runtime("out of bounds table access"))?;
        *slot = raw;
        Ok(())
    }

    /// Grows the table by `delta` elements set to `init`; returns the old
    /// size, as Wasmtime's `Table::grow` (`u64`s for 32-bit and table64
    /// tables alike). Fails beyond the declared maximum, beyond
    /// [`MAX_TABLE_ELEMENTS`], or when the store's [`ResourceLimiter`]
    /// refuses.
    pub fn grow(&self, mut store: impl AsContextMut, delta: u64, init: Val) -> Result<u64> {
        let (inner, limiter) = store.as_context_mut().0.inner_and_limiter();
        let elem: ValType = inner.table_data(self.store, self.index)?.ty.elem.into();
        let raw = check_val(inner, &init, elem)? as usize;
        inner
            .grow_table(self.index, delta, raw, limiter)?
            .map(u64::from)
    }
}

impl TableData {
    /// The declared maximum (validation bounds it to `u32`).
    fn declared_max(&self) -> Option<u32> {
        declared_max(&self.ty)
    }

    /// The most elements this table may grow to.
    fn max_elements(&self) -> u32 {
        self.declared_max()
            .unwrap_or(MAX_TABLE_ELEMENTS)
            .min(MAX_TABLE_ELEMENTS)
    }

    /// True when growing by `delta` elements stays within the table's
    /// maximum (the limiter may still refuse).
    pub(crate) fn can_grow(&self, delta: u64) -> bool {
        let max = self
            .ty
            .limits
            .max
            .unwrap_or(u64::from(MAX_TABLE_ELEMENTS))
            .min(u64::from(MAX_TABLE_ELEMENTS));
        (self.elements.len() as u64).saturating_add(delta) <= max
    }

    /// Grows the table; the inner result is the old size or why the growth
    /// was refused (the guest then sees -1), the outer error the limiter's
    /// own error, which ends the running call. Private: growth goes through
    /// [`StoreInner::grow_table`], which also refreshes the users' copies
    /// of the table's view.
    fn grow(
        &mut self,
        delta: u64,
        init: usize,
        limiter: Option<&mut dyn ResourceLimiter>,
    ) -> Result<Result<u32>> {
        let old = self.elements.len() as u32;
        let max = self.max_elements();
        // A table64 delta may exceed u32: beyond the maximum anyway.
        let Some(new) = u32::try_from(delta)
            .ok()
            .and_then(|d| old.checked_add(d))
            .filter(|&n| n <= max)
        else {
            return Ok(Err(Error::runtime("table.grow beyond the maximum size")
                .with_detail(format_args!("{old} + {delta} elements"))));
        };
        if delta > 0
            && let Some(limiter) = limiter
            && !limiter.table_growing(old, new, self.declared_max())?
        {
            return Ok(Err(Error::runtime(
                "table.grow refused by the store's resource limiter",
            )
            .with_detail(format_args!("{old} + {delta} elements"))));
        }
        if self
            .elements
            .try_reserve_exact((new - old) as usize)
            .is_err()
        {
            return Ok(Err(Error::runtime("out of memory growing a table")));
        }
        self.elements.resize(new as usize, init);
        self.sync();
        Ok(Ok(old))
    }

    /// Points the `VmTable` at the elements.
    pub(crate) fn sync(&mut self) {
        self.vm.elements = self.elements.as_mut_ptr();
        self.vm.len = self.elements.len() as u64;
    }
}

impl StoreInner {
    /// Grows table `index` (see [`TableData::grow`]) and refreshes the
    /// copies of its view in its users' contexts.
    pub(crate) fn grow_table(
        &mut self,
        index: u32,
        delta: u64,
        init: usize,
        limiter: Option<&mut dyn ResourceLimiter>,
    ) -> Result<Result<u32>> {
        let table = self
            .tables
            .get_mut(index as usize)
            .ok_or_else(|| Error::runtime("unknown table").with_index(index))?;
        let grown = table.grow(delta, init, limiter);
        self.refresh_table(index);
        grown
    }

    /// Copies table `index`'s view into its users' contexts
    /// (`VmContext::table0`).
    pub(crate) fn refresh_table(&mut self, index: u32) {
        let Some(t) = self.tables.get(index as usize) else {
            return;
        };
        for &user in &t.users {
            if let Some(instance) = self.instances.get_mut(user as usize) {
                instance.vmctx.table0 = *t.vm;
            }
        }
    }

    pub(crate) fn push_table(
        &mut self,
        ty: TableType,
        init: usize,
        limiter: Option<&mut dyn ResourceLimiter>,
    ) -> Result<Table> {
        if ty.limits.min > u64::from(MAX_TABLE_ELEMENTS) {
            return Err(Error::runtime("table too large").with_detail(format_args!(
                "{} elements, the limit is {MAX_TABLE_ELEMENTS}",
                ty.limits.min
            )));
        }
        if ty.limits.max.is_some_and(|max| ty.limits.min > max) {
            return Err(Error::runtime(
                "size minimum must not be greater than maximum",
            ));
        }
        if let Some(limiter) = limiter {
            if self.tables.len() >= limiter.tables() {
                return Err(Error::instantiation(
                    "resource limit exceeded: too many tables in the store",
                )
                .with_detail(format_args!("the limit is {}", limiter.tables())));
            }
            // Below MAX_TABLE_ELEMENTS, checked above.
            let min = ty.limits.min as u32;
            if !limiter.table_growing(0, min, declared_max(&ty))? {
                return Err(Error::instantiation(
                    "resource limit exceeded: table minimum size refused by the store's limiter",
                )
                .with_detail(format_args!("{} elements", ty.limits.min)));
            }
        }
        let mut elements = Vec::new();
        elements
            .try_reserve_exact(ty.limits.min as usize)
            .map_err(|_| Error::runtime("out of memory allocating a table"))?;
        elements.resize(ty.limits.min as usize, init);
        let index = u32::try_from(self.tables.len())
            .map_err(|_| Error::runtime("too many tables in the store"))?;
        let mut data = TableData {
            ty,
            elements,
            vm: Box::new(VmTable {
                elements: core::ptr::null_mut(),
                len: 0,
            }),
            users: Vec::new(),
        };
        data.sync();
        self.tables.push(data);
        Ok(Table {
            store: self.id,
            index,
        })
    }
}

/// A table type's declared maximum as a `u32` (saturating: validation
/// bounds table limits to `u32`, a host-made type may exceed it).
fn declared_max(ty: &TableType) -> Option<u32> {
    ty.limits.max.map(|m| u32::try_from(m).unwrap_or(u32::MAX))
}
