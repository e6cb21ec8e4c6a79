//! Subtyping of value types, as WebAssembly 3.0 defines it for the types
//! typed function references add (no garbage collector):
//!
//! - a non-nullable reference type is a subtype of the nullable one of the
//!   same heap type, never the other way;
//! - every function type index is a subtype of `func`, `nofunc` of every
//!   function heap type, `noextern` of `extern`, and `noexn` of `exn`
//!   (exception handling);
//! - two type indices are subtypes of each other exactly when their types
//!   are equivalent: without `sub` declarations every type is final, so a
//!   function type has no other supertype than `func` (no structural
//!   subtyping of parameters and results).
//!
//! Equivalence of type indices is the caller's: inside a module the
//! validator compares their canonical representatives (the first index of
//! each class of structurally equal types, [`canonical_types`]), the
//! runtime compares engine type ids.

use crate::decode::{FuncType, HeapType, RefType, ValType};
use alloc::vec::Vec;
use hashbrown::HashMap;

/// Whether heap type `a` is a subtype of `b`, with `same` deciding whether
/// two type indices name equivalent types.
pub fn heap_subtype(a: HeapType, b: HeapType, same: impl Fn(u32, u32) -> bool) -> bool {
    use HeapType::*;
    match (a, b) {
        (Concrete(i), Concrete(j)) => i == j || same(i, j),
        (Concrete(_) | NoFunc, Func)
        | (NoFunc, Concrete(_))
        | (NoExtern, Extern)
        | (NoExn, Exn) => true,
        _ => a == b,
    }
}

/// Whether reference type `a` is a subtype of `b`.
pub fn ref_subtype(a: RefType, b: RefType, same: impl Fn(u32, u32) -> bool) -> bool {
    (b.is_nullable() || !a.is_nullable()) && heap_subtype(a.heap(), b.heap(), same)
}

/// Whether value type `a` is a subtype of `b`.
pub fn val_subtype(a: ValType, b: ValType, same: impl Fn(u32, u32) -> bool) -> bool {
    match (a, b) {
        (ValType::Ref(a), ValType::Ref(b)) => ref_subtype(a, b, same),
        _ => a == b,
    }
}

/// `t` with its type index, if any, replaced by `map(index)`.
pub fn map_index(t: ValType, map: impl Fn(u32) -> u32) -> ValType {
    match t.ref_type().map(|r| (r, r.heap())) {
        Some((r, HeapType::Concrete(i))) => {
            ValType::Ref(RefType::new(r.is_nullable(), HeapType::Concrete(map(i))))
        }
        _ => t,
    }
}

/// The canonical representative of each of `types`: the first index of
/// a structurally equal type, where type indices inside a type compare by
/// their own representatives. Every index inside type `i` must be below
/// `i` (the validator checks it first), so one pass in order suffices.
pub fn canonical_types(types: &[FuncType]) -> Vec<u32> {
    // Types that name no other type are their own keys: equal ones share
    // the first one's index without building mapped copies. (Equal types
    // matter even then: `(ref $b)` must match where `(ref $a)` is
    // expected when `$a` and `$b` are both `(func)`.)
    if !types.iter().any(|t| t.any_type(refers)) {
        let mut seen: HashMap<&FuncType, u32> = HashMap::with_capacity(types.len());
        return (0..types.len() as u32)
            .zip(types)
            .map(|(i, t)| *seen.entry(t).or_insert(i))
            .collect();
    }
    let mut reps: Vec<u32> = Vec::with_capacity(types.len());
    let mut seen: HashMap<FuncType, u32> = HashMap::new();
    for (i, t) in types.iter().enumerate() {
        let map = |j: u32| reps.get(j as usize).copied().unwrap_or(j);
        let key = t.map_types(|v| map_index(v, map));
        let rep = *seen.entry(key).or_insert(i as u32);
        reps.push(rep);
    }
    reps
}

/// Whether `t` names a type index.
pub fn refers(t: ValType) -> bool {
    matches!(t.ref_type().map(|r| r.heap()), Some(HeapType::Concrete(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(nullable: bool, heap: HeapType) -> RefType {
        RefType::new(nullable, heap)
    }

    #[test]
    fn nullability_and_heap_types_order_as_the_standard_says() {
        let eq = |a: u32, b: u32| a == b;
        let c0 = HeapType::Concrete(0);
        assert!(ref_subtype(r(false, c0), r(true, c0), eq));
        assert!(!ref_subtype(r(true, c0), r(false, c0), eq));
        assert!(ref_subtype(r(false, c0), RefType::FuncRef, eq));
        assert!(!ref_subtype(RefType::FuncRef, r(true, c0), eq));
        assert!(ref_subtype(r(true, HeapType::NoFunc), r(true, c0), eq));
        assert!(!ref_subtype(
            r(true, HeapType::NoFunc),
            RefType::ExternRef,
            eq
        ));
        assert!(ref_subtype(
            r(true, HeapType::NoExtern),
            RefType::ExternRef,
            eq
        ));
        assert!(!ref_subtype(RefType::FuncRef, RefType::ExternRef, eq));
        assert!(!heap_subtype(c0, HeapType::Concrete(1), eq));
        assert!(heap_subtype(c0, HeapType::Concrete(1), |_, _| true));
        assert!(!val_subtype(ValType::I32, ValType::I64, eq));
    }

    #[test]
    fn structurally_equal_types_share_a_representative() {
        let c = |i| ValType::Ref(r(false, HeapType::Concrete(i)));
        let types = [
            FuncType::new(&[ValType::I32], &[]),
            FuncType::new(&[ValType::I32], &[]),
            FuncType::new(&[c(0)], &[]),
            FuncType::new(&[c(1)], &[]),
            FuncType::new(&[ValType::I64], &[]),
            FuncType::new(&[c(4)], &[]),
        ];
        assert_eq!(canonical_types(&types), [0, 0, 2, 2, 4, 5]);
    }

    #[test]
    fn equal_types_share_a_representative_when_none_refers_to_another() {
        let types = [
            FuncType::new(&[], &[]),
            FuncType::new(&[ValType::I32], &[]),
            FuncType::new(&[], &[]),
            FuncType::new(&[ValType::I32], &[]),
            FuncType::new(&[], &[ValType::I32]),
        ];
        assert_eq!(canonical_types(&types), [0, 1, 0, 1, 4]);
    }
}
