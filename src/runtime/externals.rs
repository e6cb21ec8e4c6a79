//! [`Extern`]: anything an instance can import or export.

use super::func::Func;
use super::global::Global;
use super::memory::Memory;
use super::module::ExternType;
use super::store::{AsContext, StoreInner};
use super::table::Table;

/// A function, global, table or memory of a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Extern {
    /// A function.
    Func(Func),
    /// A global.
    Global(Global),
    /// A table.
    Table(Table),
    /// A linear memory.
    Memory(Memory),
    /// A tag (exception handling).
    Tag(super::tag::Tag),
}

impl Extern {
    /// The function, if this is one.
    pub fn into_func(self) -> Option<Func> {
        match self {
            Extern::Func(f) => Some(f),
            _ => None,
        }
    }
    /// The global, if this is one.
    pub fn into_global(self) -> Option<Global> {
        match self {
            Extern::Global(g) => Some(g),
            _ => None,
        }
    }
    /// The table, if this is one.
    pub fn into_table(self) -> Option<Table> {
        match self {
            Extern::Table(t) => Some(t),
            _ => None,
        }
    }
    /// The tag, if this is one.
    pub fn into_tag(self) -> Option<super::tag::Tag> {
        match self {
            Extern::Tag(t) => Some(t),
            _ => None,
        }
    }
    /// The memory, if this is one.
    pub fn into_memory(self) -> Option<Memory> {
        match self {
            Extern::Memory(m) => Some(m),
            _ => None,
        }
    }

    /// The item's type (`None` when it belongs to another store).
    pub fn ty(&self, store: impl AsContext) -> Option<ExternType> {
        self.ty_in(&store.as_context().inner)
    }

    pub(crate) fn ty_in(&self, inner: &StoreInner) -> Option<ExternType> {
        Some(match *self {
            Extern::Func(f) => ExternType::Func((*inner.func_data(f).ok()?.ty).clone()),
            Extern::Global(g) => ExternType::Global(inner.global_data(g.store, g.index).ok()?.ty),
            Extern::Table(t) => ExternType::Table(t.current_type(inner).ok()?),
            Extern::Memory(m) => ExternType::Memory(m.current_type(inner).ok()?),
            Extern::Tag(t) => ExternType::Tag(super::tag::TagType::new(
                (*inner.tag_data(t).ok()?.ty).clone(),
            )),
        })
    }

    pub(crate) fn store_id(&self) -> u64 {
        match *self {
            Extern::Func(f) => f.store,
            Extern::Global(g) => g.store,
            Extern::Table(t) => t.store,
            Extern::Memory(m) => m.store,
            Extern::Tag(t) => t.store,
        }
    }
}

impl From<Func> for Extern {
    fn from(f: Func) -> Extern {
        Extern::Func(f)
    }
}
impl From<Global> for Extern {
    fn from(g: Global) -> Extern {
        Extern::Global(g)
    }
}
impl From<Table> for Extern {
    fn from(t: Table) -> Extern {
        Extern::Table(t)
    }
}
impl From<super::tag::Tag> for Extern {
    fn from(t: super::tag::Tag) -> Extern {
        Extern::Tag(t)
    }
}
impl From<Memory> for Extern {
    fn from(m: Memory) -> Extern {
        Extern::Memory(m)
    }
}
