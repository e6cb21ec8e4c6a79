//! The runtime API the execution runner uses: wasmkern's public API, and
//! the two adapters ([`extern_ref`], [`extern_ref_id`]) that say how the
//! testsuite's `ref.extern N` maps to host references.

pub use wasmkern::{
    Config, Engine, Error, ExternRef, Global, GlobalType, Instance, Limits, Linker, Memory,
    MemoryType, Module, RefType, Store, Table, TableType, Val, ValType,
};

/// A new externref holding `n` (`ref.extern n` in the testsuite).
pub fn extern_ref(store: &mut Store<()>, n: u32) -> Result<ExternRef, String> {
    ExternRef::new(store, n).map_err(|e| e.to_string())
}

/// The number an externref made by [`extern_ref`] holds.
pub fn extern_ref_id(store: &Store<()>, r: &ExternRef) -> Option<u32> {
    r.data(store)?.downcast_ref::<u32>().copied()
}
