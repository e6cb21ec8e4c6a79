//! [`Tag`]: an exception tag of a store, and its [`TagType`].
//!
//! A tag's identity is its store index: a module's defined tags are new
//! tags of the store at instantiation, and an imported tag is the
//! exporter's (or the host's, [`Tag::new`]) itself, so an exception thrown
//! with a tag in one instance is caught by a `catch` of the same tag in
//! any instance that imported it, and by no other tag, whatever the types.
//! A tag's type is a function type with no results; imports match by the
//! engine-wide id of that type (as functions do).

use super::store::{AsContext, AsContextMut, StoreInner};
use crate::decode::FuncType;
use crate::error::{Error, Result};
use alloc::sync::Arc;

/// The type of a tag: the parameters of its exceptions' payload.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TagType {
    ty: FuncType,
}

impl TagType {
    /// The tag type of function type `ty` (whose results must be empty
    /// for [`Tag::new`]).
    pub fn new(ty: FuncType) -> TagType {
        TagType { ty }
    }

    /// The function type: its parameters are the payload's types.
    pub fn ty(&self) -> &FuncType {
        &self.ty
    }
}

/// A tag of a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tag {
    pub(crate) store: u64,
    pub(crate) index: u32,
}

pub(crate) struct TagData {
    pub ty: Arc<FuncType>,
    /// The engine-wide id of its type (registered while the store lives
    /// or the module that declared it does).
    pub type_id: u32,
}

impl Tag {
    /// A new tag of type `ty`, distinct from every other tag.
    pub fn new(mut store: impl AsContextMut, ty: &TagType) -> Result<Tag> {
        let inner = &mut store.as_context_mut().0.inner;
        if !ty.ty.results().is_empty() {
            return Err(Error::runtime("non-empty tag result type")
                .with_detail(format_args!("type {}", ty.ty)));
        }
        let type_id = inner.engine.register_type(&ty.ty);
        inner.host_types.push(type_id);
        Ok(inner.push_tag(Arc::new(ty.ty.clone()), type_id))
    }

    /// The tag's type (empty for another store's tag).
    pub fn ty(&self, store: impl AsContext) -> TagType {
        match store.as_context().inner.tag_data(*self) {
            Ok(t) => TagType::new((*t.ty).clone()),
            Err(_) => TagType::new(FuncType::new(&[], &[])),
        }
    }

    /// Whether `a` and `b` are the same tag (Wasmtime's spelling of `==`).
    pub fn eq(a: &Tag, b: &Tag, _store: impl AsContext) -> bool {
        a == b
    }
}

impl StoreInner {
    pub(crate) fn push_tag(&mut self, ty: Arc<FuncType>, type_id: u32) -> Tag {
        let index = self.tags.len() as u32;
        self.tags.push(TagData { ty, type_id });
        Tag {
            store: self.id,
            index,
        }
    }

    pub(crate) fn tag_data(&self, tag: Tag) -> Result<&TagData> {
        if tag.store != self.id {
            return Err(Error::runtime("tag used with the wrong store"));
        }
        self.tags
            .get(tag.index as usize)
            .ok_or_else(|| Error::runtime("unknown tag"))
    }
}
