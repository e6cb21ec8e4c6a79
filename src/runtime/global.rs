//! [`Global`]: a global variable, stored in a 16-byte cell whose address
//! generated code keeps.

use super::store::{AsContext, AsContextMut, GlobalData, check_val};
use super::values::Val;
use crate::decode::GlobalType;
use crate::error::{Error, Result};
use alloc::boxed::Box;
use core::cell::UnsafeCell;

/// A global of a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Global {
    pub(crate) store: u64,
    pub(crate) index: u32,
}

impl Global {
    /// A new global of type `ty` holding `val`.
    pub fn new(mut store: impl AsContextMut, ty: GlobalType, val: Val) -> Result<Global> {
        let inner = &mut store.as_context_mut().0.inner;
        let raw = check_val(inner, &val, ty.content)?;
        Ok(inner.push_global(ty, raw))
    }

    /// The global's type (an immutable `i32` for another store's global).
    pub fn ty(&self, store: impl AsContext) -> GlobalType {
        match store.as_context().inner.global_data(self.store, self.index) {
            Ok(g) => g.ty,
            Err(_) => GlobalType {
                content: crate::decode::ValType::I32,
                mutable: false,
            },
        }
    }

    /// The current value (a zero `i32` for another store's global).
    pub fn get(&self, store: impl AsContext) -> Val {
        let inner = &store.as_context().inner;
        match inner.global_data(self.store, self.index) {
            Ok(g) => inner.raw_to_val(g.ty.content, g.get()),
            Err(_) => Val::I32(0),
        }
    }

    /// Sets the value of a mutable global.
    pub fn set(&self, mut store: impl AsContextMut, val: Val) -> Result<()> {
        let inner = &mut store.as_context_mut().0.inner;
        let g = inner.global_data(self.store, self.index)?;
        if !g.ty.mutable {
            return Err(Error::runtime("cannot set an immutable global"));
        }
        let raw = check_val(inner, &val, g.ty.content)?;
        g.set(raw);
        Ok(())
    }
}

impl GlobalData {
    pub(crate) fn get(&self) -> u128 {
        // SAFETY: the cell is only written by generated code of this store
        // (which is not running while the host holds `&Store`) and by
        // `set` below; no reference into the cell is ever handed out.
        unsafe { *self.cell.get() }
    }

    pub(crate) fn set(&self, raw: u128) {
        // SAFETY: as in `get`; the store is not running wasm code.
        unsafe { *self.cell.get() = raw }
    }
}

impl super::store::StoreInner {
    pub(crate) fn push_global(&mut self, ty: GlobalType, raw: u128) -> Global {
        let index = self.globals.len() as u32;
        self.globals.push(GlobalData {
            ty,
            cell: Box::new(UnsafeCell::new(raw)),
        });
        Global {
            store: self.id,
            index,
        }
    }
}
