//! [`Linker`]: names for imports, resolved at instantiation.

use super::engine::Engine;
use super::externals::Extern;
use super::func::{Func, HostFunc, IntoFunc};
use super::instance::Instance;
use super::module::Module;
use super::store::{AsContext, AsContextMut, Caller};
use super::values::Val;
use crate::decode::FuncType;
use crate::error::{Error, Result};
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use hashbrown::HashMap;

enum Definition<T> {
    /// An item of a store.
    Extern(Extern),
    /// A host function not yet created in a store (`func_wrap`,
    /// `func_new`): each store that instantiates through the linker gets
    /// its own `Func`.
    Host(FuncType, HostFunc<T>),
}

impl<T> Clone for Definition<T> {
    fn clone(&self) -> Self {
        match self {
            Definition::Extern(e) => Definition::Extern(*e),
            Definition::Host(t, f) => Definition::Host(t.clone(), f.clone()),
        }
    }
}

/// Defines imports by module and name, and instantiates modules with them.
pub struct Linker<T> {
    engine: Engine,
    map: HashMap<(String, String), Definition<T>>,
    allow_shadowing: bool,
}

impl<T> Clone for Linker<T> {
    fn clone(&self) -> Self {
        Linker {
            engine: self.engine.clone(),
            map: self.map.clone(),
            allow_shadowing: self.allow_shadowing,
        }
    }
}

impl<T> core::fmt::Debug for Linker<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Linker")
            .field("definitions", &self.map.len())
            .finish()
    }
}

impl<T: 'static> Linker<T> {
    /// An empty linker.
    pub fn new(engine: &Engine) -> Linker<T> {
        Linker {
            engine: engine.clone(),
            map: HashMap::new(),
            allow_shadowing: false,
        }
    }

    /// The linker's engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Whether a definition may replace an earlier one of the same name
    /// (default: no, it is an error).
    pub fn allow_shadowing(&mut self, allow: bool) -> &mut Self {
        self.allow_shadowing = allow;
        self
    }

    fn insert(&mut self, module: &str, name: &str, def: Definition<T>) -> Result<&mut Self> {
        let key = (module.to_string(), name.to_string());
        if !self.allow_shadowing && self.map.contains_key(&key) {
            return Err(
                Error::link("import defined twice").with_detail(format_args!("`{module}::{name}`"))
            );
        }
        self.map.insert(key, def);
        Ok(self)
    }

    /// Defines `module::name` as `item` (an item of `store`).
    pub fn define(
        &mut self,
        store: impl AsContext<Data = T>,
        module: &str,
        name: &str,
        item: impl Into<Extern>,
    ) -> Result<&mut Self> {
        let item = item.into();
        store.as_context().inner.check(item.store_id())?;
        self.insert(module, name, Definition::Extern(item))
    }

    /// Defines `module::name` as a host function from a Rust closure (see
    /// [`Func::wrap`]).
    ///
    /// ```
    /// use wasmkern::{Caller, Engine, Linker, Module, Store};
    ///
    /// let engine = Engine::default();
    /// let mut linker = Linker::new(&engine);
    /// // The closure may take the caller first, to reach the store's data.
    /// linker.func_wrap("env", "count", |mut caller: Caller<'_, u32>, n: i32| {
    ///     *caller.data_mut() += n as u32;
    /// })?;
    /// let wasm = wat::parse_str(r#"(module (import "env" "count" (func $c (param i32)))
    ///     (func (export "run") (call $c (i32.const 2)) (call $c (i32.const 3))))"#).unwrap();
    /// let module = Module::new(&engine, wasm)?;
    /// let mut store = Store::new(&engine, 0u32);
    /// let instance = linker.instantiate(&mut store, &module)?;
    /// instance.get_typed_func::<(), ()>(&mut store, "run")?.call(&mut store, ())?;
    /// assert_eq!(*store.data(), 5);
    /// # Ok::<(), wasmkern::Error>(())
    /// ```
    pub fn func_wrap<Params, Results>(
        &mut self,
        module: &str,
        name: &str,
        f: impl IntoFunc<T, Params, Results>,
    ) -> Result<&mut Self> {
        let (ty, f) = f.into_host_func();
        self.insert(module, name, Definition::Host(ty, f))
    }

    /// Defines `module::name` as a host function of type `ty` (see
    /// [`Func::new`]).
    pub fn func_new(
        &mut self,
        module: &str,
        name: &str,
        ty: FuncType,
        f: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<()> + Send + Sync + 'static,
    ) -> Result<&mut Self> {
        let f = HostFunc::from_vals(ty.clone(), f);
        self.insert(module, name, Definition::Host(ty, f))
    }

    /// Defines every export of `instance` under the module name `name`.
    pub fn instance(
        &mut self,
        store: impl AsContextMut<Data = T>,
        name: &str,
        instance: Instance,
    ) -> Result<&mut Self> {
        let store = store.as_context();
        store.inner.check(instance.store)?;
        for (export, item) in instance.exports(store) {
            self.insert(name, &export, Definition::Extern(item))?;
        }
        Ok(self)
    }

    /// Instantiates `module` and defines its exports under `name`.
    pub fn module(
        &mut self,
        mut store: impl AsContextMut<Data = T>,
        name: &str,
        module: &Module,
    ) -> Result<&mut Self> {
        let instance = self.instantiate(&mut store, module)?;
        self.instance(store, name, instance)
    }

    fn resolve(&self, store: &mut super::store::Store<T>, def: &Definition<T>) -> Extern {
        match def {
            Definition::Extern(e) => *e,
            Definition::Host(ty, f) => Extern::Func(store.push_host_func(ty.clone(), f.clone())),
        }
    }

    /// Instantiates `module`, resolving its imports by name.
    pub fn instantiate(
        &self,
        mut store: impl AsContextMut<Data = T>,
        module: &Module,
    ) -> Result<Instance> {
        let store = store.as_context_mut().0;
        let mut imports = Vec::with_capacity(module.imports().len());
        for import in module.imports() {
            let def = self
                .map
                .get(&(import.module().to_string(), import.name().to_string()))
                .ok_or_else(|| {
                    Error::link("unknown import").with_detail(format_args!(
                        "`{}::{}` has not been defined",
                        import.module(),
                        import.name()
                    ))
                })?;
            imports.push(self.resolve(store, def));
        }
        Instance::new(store, module, &imports)
    }

    /// The item defined as `module::name`.
    pub fn get(
        &self,
        mut store: impl AsContextMut<Data = T>,
        module: &str,
        name: &str,
    ) -> Option<Extern> {
        let def = self.map.get(&(module.to_string(), name.to_string()))?;
        Some(self.resolve(store.as_context_mut().0, def))
    }

    /// Iterates over the definitions' names (module, name).
    pub fn names(&self) -> impl Iterator<Item = (&str, &str)> {
        self.map.keys().map(|(m, n)| (m.as_str(), n.as_str()))
    }
}

// `Func` appears in the docs above.
#[allow(unused_imports)]
use Func as _;
