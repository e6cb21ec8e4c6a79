//! [`Val`], the dynamically typed wasm value, and [`ExternRef`].
//!
//! In argument slots and global cells a value is stored as its raw bits:
//! `i32`/`f32` in the low 4 bytes, `i64`/`f64` in 8 bytes, `v128` in 16, a
//! `funcref` as the address of its `VmFuncRef` (0 = null) and an
//! `externref` as an opaque store-local handle (its index + 1; 0 = null).

use super::func::Func;
use super::store::StoreInner;
use crate::decode::ValType;
use crate::error::{Error, Result};

/// A host reference. This minimal version names a value kept by the store
/// (see [`ExternRef::new`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExternRef {
    pub(crate) store: u64,
    pub(crate) index: u32,
}

/// A WebAssembly value.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Val {
    /// An `i32`.
    I32(i32),
    /// An `i64`.
    I64(i64),
    /// An `f32`, as its bits (so NaN payloads survive).
    F32(u32),
    /// An `f64`, as its bits.
    F64(u64),
    /// A `v128`.
    V128(u128),
    /// A `funcref` (`None` is null).
    FuncRef(Option<Func>),
    /// An `externref` (`None` is null).
    ExternRef(Option<ExternRef>),
    /// An `exnref` (`None` is null).
    ExnRef(Option<super::exception::ExnRef>),
}

impl Val {
    /// The value's type (for a reference, the nullable `funcref` or
    /// `externref`, whatever the type it was read as).
    pub fn ty(&self) -> ValType {
        match self {
            Val::I32(_) => ValType::I32,
            Val::I64(_) => ValType::I64,
            Val::F32(_) => ValType::F32,
            Val::F64(_) => ValType::F64,
            Val::V128(_) => ValType::V128,
            Val::FuncRef(_) => ValType::FuncRef,
            Val::ExternRef(_) => ValType::ExternRef,
            Val::ExnRef(_) => ValType::ExnRef,
        }
    }

    /// Whether the value is of type `ty`. A reference to a concrete type
    /// (`(ref $t)`) names a module's type index, which a value alone cannot
    /// be checked against: only null is accepted for those, when they
    /// are nullable.
    pub fn matches(&self, ty: ValType) -> bool {
        use crate::decode::HeapType;
        match (self, ty) {
            (v, t) if v.ty() == t => true,
            (Val::FuncRef(None), ValType::Ref(r)) => r.is_nullable() && r.is_func(),
            (Val::ExternRef(None), ValType::Ref(r)) => {
                r.is_nullable() && !r.is_func() && !r.is_exn()
            }
            (Val::ExnRef(None), ValType::Ref(r)) => r.is_nullable() && r.is_exn(),
            (Val::ExnRef(Some(_)), ValType::Ref(r)) => r.heap() == HeapType::Exn,
            (Val::FuncRef(Some(_)), ValType::Ref(r)) => r.heap() == HeapType::Func,
            (Val::ExternRef(Some(_)), ValType::Ref(r)) => r.heap() == HeapType::Extern,
            _ => false,
        }
    }

    /// The zero (or null) value of a type.
    pub fn default_for(ty: ValType) -> Val {
        match ty {
            ValType::I32 => Val::I32(0),
            ValType::I64 => Val::I64(0),
            ValType::F32 => Val::F32(0),
            ValType::F64 => Val::F64(0),
            ValType::V128 => Val::V128(0),
            ValType::Ref(r) if r.is_func() => Val::FuncRef(None),
            ValType::Ref(r) if r.is_exn() => Val::ExnRef(None),
            ValType::Ref(_) => Val::ExternRef(None),
        }
    }

    /// The `i32`, if this is one.
    pub fn i32(&self) -> Option<i32> {
        match *self {
            Val::I32(v) => Some(v),
            _ => None,
        }
    }
    /// The `i64`, if this is one.
    pub fn i64(&self) -> Option<i64> {
        match *self {
            Val::I64(v) => Some(v),
            _ => None,
        }
    }
    /// The `f32`, if this is one.
    pub fn f32(&self) -> Option<f32> {
        match *self {
            Val::F32(v) => Some(f32::from_bits(v)),
            _ => None,
        }
    }
    /// The `f64`, if this is one.
    pub fn f64(&self) -> Option<f64> {
        match *self {
            Val::F64(v) => Some(f64::from_bits(v)),
            _ => None,
        }
    }
    /// The `v128`, if this is one.
    pub fn v128(&self) -> Option<u128> {
        match *self {
            Val::V128(v) => Some(v),
            _ => None,
        }
    }
    /// The `funcref`, if this is one (`Some(None)` for null).
    pub fn funcref(&self) -> Option<Option<Func>> {
        match *self {
            Val::FuncRef(v) => Some(v),
            _ => None,
        }
    }
    /// The `exnref`, if this is one (`Some(None)` for null).
    pub fn exnref(&self) -> Option<Option<super::exception::ExnRef>> {
        match *self {
            Val::ExnRef(v) => Some(v),
            _ => None,
        }
    }
    /// The `externref`, if this is one (`Some(None)` for null).
    pub fn externref(&self) -> Option<Option<ExternRef>> {
        match *self {
            Val::ExternRef(v) => Some(v),
            _ => None,
        }
    }
    /// True for a null reference.
    pub fn is_null(&self) -> bool {
        matches!(
            self,
            Val::FuncRef(None) | Val::ExternRef(None) | Val::ExnRef(None)
        )
    }

    /// The `i32`; panics otherwise (like Wasmtime's `unwrap_i32`; prefer
    /// [`Val::i32`] on untrusted values).
    pub fn unwrap_i32(&self) -> i32 {
        self.i32().expect("expected an i32")
    }
    /// The `i64`; panics otherwise.
    pub fn unwrap_i64(&self) -> i64 {
        self.i64().expect("expected an i64")
    }
    /// The `f32`; panics otherwise.
    pub fn unwrap_f32(&self) -> f32 {
        self.f32().expect("expected an f32")
    }
    /// The `f64`; panics otherwise.
    pub fn unwrap_f64(&self) -> f64 {
        self.f64().expect("expected an f64")
    }
}

impl From<i32> for Val {
    fn from(v: i32) -> Val {
        Val::I32(v)
    }
}
impl From<i64> for Val {
    fn from(v: i64) -> Val {
        Val::I64(v)
    }
}
impl From<f32> for Val {
    fn from(v: f32) -> Val {
        Val::F32(v.to_bits())
    }
}
impl From<f64> for Val {
    fn from(v: f64) -> Val {
        Val::F64(v.to_bits())
    }
}
impl From<Func> for Val {
    fn from(v: Func) -> Val {
        Val::FuncRef(Some(v))
    }
}

impl StoreInner {
    /// The raw bits of `val` for a slot or cell, after checking that its
    /// references belong to this store.
    pub(crate) fn val_to_raw(&self, val: &Val) -> Result<u128> {
        Ok(match *val {
            Val::I32(v) => v as u32 as u128,
            Val::I64(v) => v as u64 as u128,
            Val::F32(v) => v as u128,
            Val::F64(v) => v as u128,
            Val::V128(v) => v,
            Val::FuncRef(None) | Val::ExternRef(None) | Val::ExnRef(None) => 0,
            Val::ExnRef(Some(e)) => u128::from(self.check_exn_raw(e)?),
            Val::FuncRef(Some(f)) => self.func_data(f)?.funcref as usize as u128,
            Val::ExternRef(Some(r)) => {
                if r.store != self.id || r.index as usize >= self.externs.len() {
                    return Err(Error::runtime("externref used with the wrong store"));
                }
                r.index as u128 + 1
            }
        })
    }

    /// The value of type `ty` whose raw bits are `raw`.
    pub(crate) fn raw_to_val(&self, ty: ValType, raw: u128) -> Val {
        match ty {
            ValType::I32 => Val::I32(raw as u32 as i32),
            ValType::I64 => Val::I64(raw as u64 as i64),
            ValType::F32 => Val::F32(raw as u32),
            ValType::F64 => Val::F64(raw as u64),
            ValType::V128 => Val::V128(raw),
            ValType::Ref(r) if r.is_func() => Val::FuncRef(self.func_from_raw(raw as usize)),
            ValType::Ref(r) if r.is_exn() => Val::ExnRef(match raw as u64 {
                0 => None,
                raw => {
                    // The host may keep it: pinned (see `exception`).
                    self.exceptions.pin(raw);
                    Some(super::exception::ExnRef {
                        store: self.id,
                        raw,
                    })
                }
            }),
            ValType::Ref(_) => Val::ExternRef(match raw as usize {
                0 => None,
                n => Some(ExternRef {
                    store: self.id,
                    index: (n - 1) as u32,
                }),
            }),
        }
    }
}
