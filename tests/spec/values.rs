//! The testsuite's argument and result values, and how results are compared.
//!
//! Floats are compared bit for bit, except where the testsuite writes
//! `nan:canonical` (a quiet NaN with an empty payload, either sign) or
//! `nan:arithmetic` (any quiet NaN). A `v128` result is compared lane by
//! lane in the shape the testsuite wrote it in, so a failure names lanes.
//! Nothing here touches a store except through the two externref adapters.

use std::fmt::Write as _;

use wast::core::{AbstractHeapType, HeapType, NanPattern, V128Pattern, WastArgCore, WastRetCore};
use wast::token::{F32, F64};
use wast::{WastArg, WastRet};

use super::api::{self, Store, Val};

/// Turns a testsuite argument into a value; `ref.extern N` becomes the
/// store's externref for `N` (made once per `N` by `extern_ref`).
pub fn arg(
    store: &mut Store<()>,
    arg: &WastArg<'_>,
    extern_ref: &mut impl FnMut(&mut Store<()>, u32) -> Result<Val, String>,
) -> Result<Val, String> {
    let WastArg::Core(core) = arg else {
        return Err("a component-model argument".into());
    };
    Ok(match core {
        WastArgCore::I32(v) => Val::I32(*v),
        WastArgCore::I64(v) => Val::I64(*v),
        WastArgCore::F32(v) => Val::F32(v.bits),
        WastArgCore::F64(v) => Val::F64(v.bits),
        WastArgCore::V128(v) => Val::V128(u128::from_le_bytes(v.to_le_bytes())),
        WastArgCore::RefNull(HeapType::Abstract {
            ty: AbstractHeapType::Func,
            ..
        }) => Val::FuncRef(None),
        WastArgCore::RefNull(HeapType::Abstract {
            ty: AbstractHeapType::Extern,
            ..
        }) => Val::ExternRef(None),
        WastArgCore::RefNull(HeapType::Abstract {
            ty: AbstractHeapType::Exn,
            ..
        }) => Val::ExnRef(None),
        WastArgCore::RefExtern(n) => return extern_ref(store, *n),
        other => return Err(format!("unsupported argument {other:?}")),
    })
}

/// Whether `got` is what the testsuite `want`s; `Err` says how it differs.
pub fn check(store: &Store<()>, want: &WastRet<'_>, got: &Val) -> Result<(), String> {
    let WastRet::Core(want) = want else {
        return Err("a component-model result".into());
    };
    check_core(store, want, got)
}

fn check_core(store: &Store<()>, want: &WastRetCore<'_>, got: &Val) -> Result<(), String> {
    let ok = match (want, got) {
        (WastRetCore::I32(w), Val::I32(g)) => w == g,
        (WastRetCore::I64(w), Val::I64(g)) => w == g,
        (WastRetCore::F32(w), Val::F32(g)) => f32_matches(w, *g),
        (WastRetCore::F64(w), Val::F64(g)) => f64_matches(w, *g),
        (WastRetCore::V128(w), Val::V128(g)) => return v128_matches(w, *g),
        (WastRetCore::RefNull(ty), Val::FuncRef(r)) => {
            r.is_none()
                && ty
                    .as_ref()
                    .is_none_or(|t| heap_is(t, AbstractHeapType::Func))
        }
        (WastRetCore::RefNull(ty), Val::ExternRef(r)) => {
            r.is_none()
                && ty
                    .as_ref()
                    .is_none_or(|t| heap_is(t, AbstractHeapType::Extern))
        }
        (WastRetCore::RefNull(ty), Val::ExnRef(r)) => {
            r.is_none()
                && ty
                    .as_ref()
                    .is_none_or(|t| heap_is(t, AbstractHeapType::Exn))
        }
        (WastRetCore::RefFunc(_), Val::FuncRef(r)) => r.is_some(),
        (WastRetCore::RefExtern(None), Val::ExternRef(r)) => r.is_some(),
        (WastRetCore::RefExtern(Some(n)), Val::ExternRef(Some(r))) => {
            api::extern_ref_id(store, r) == Some(*n)
        }
        (WastRetCore::RefExtern(Some(_)), Val::ExternRef(None)) => false,
        (WastRetCore::Either(options), _) => {
            options.iter().any(|w| check_core(store, w, got).is_ok())
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{}, got {}", ret_text(want), val_text(store, got)))
    }
}

fn heap_is(ty: &HeapType<'_>, want: AbstractHeapType) -> bool {
    matches!(ty, HeapType::Abstract { ty, .. } if *ty == want)
}

/// f32 NaN patterns: the exponent and the quiet bit, and the payload.
const F32_QUIET_NAN: u32 = 0x7fc0_0000;
const F64_QUIET_NAN: u64 = 0x7ff8_0000_0000_0000;

pub fn f32_matches(want: &NanPattern<F32>, got: u32) -> bool {
    match want {
        NanPattern::Value(w) => w.bits == got,
        NanPattern::CanonicalNan => got & 0x7fff_ffff == F32_QUIET_NAN,
        NanPattern::ArithmeticNan => got & F32_QUIET_NAN == F32_QUIET_NAN,
    }
}

pub fn f64_matches(want: &NanPattern<F64>, got: u64) -> bool {
    match want {
        NanPattern::Value(w) => w.bits == got,
        NanPattern::CanonicalNan => got & 0x7fff_ffff_ffff_ffff == F64_QUIET_NAN,
        NanPattern::ArithmeticNan => got & F64_QUIET_NAN == F64_QUIET_NAN,
    }
}

/// Compares a `v128` lane by lane; the error names the lanes that differ.
pub fn v128_matches(want: &V128Pattern, got: u128) -> Result<(), String> {
    let bytes = got.to_le_bytes();
    let lane = |i: usize, n: usize| {
        let mut b = [0u8; 8];
        b[..n].copy_from_slice(&bytes[i * n..i * n + n]);
        u64::from_le_bytes(b)
    };
    let bad: Vec<usize> = match want {
        V128Pattern::I8x16(w) => (0..16)
            .filter(|&i| lane(i, 1) as u8 != w[i] as u8)
            .collect(),
        V128Pattern::I16x8(w) => (0..8)
            .filter(|&i| lane(i, 2) as u16 != w[i] as u16)
            .collect(),
        V128Pattern::I32x4(w) => (0..4)
            .filter(|&i| lane(i, 4) as u32 != w[i] as u32)
            .collect(),
        V128Pattern::I64x2(w) => (0..2).filter(|&i| lane(i, 8) != w[i] as u64).collect(),
        V128Pattern::F32x4(w) => (0..4)
            .filter(|&i| !f32_matches(&w[i], lane(i, 4) as u32))
            .collect(),
        V128Pattern::F64x2(w) => (0..2)
            .filter(|&i| !f64_matches(&w[i], lane(i, 8)))
            .collect(),
    };
    if bad.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{}, got {} (lanes {bad:?} differ)",
        v128_text(want),
        v128_in_shape(want, got)
    ))
}

fn nan_text<T>(p: &NanPattern<T>, bits: impl Fn(&T) -> String) -> String {
    match p {
        NanPattern::CanonicalNan => "nan:canonical".into(),
        NanPattern::ArithmeticNan => "nan:arithmetic".into(),
        NanPattern::Value(v) => bits(v),
    }
}

fn f32_text(bits: u32) -> String {
    format!("{:?} (0x{bits:08x})", f32::from_bits(bits))
}

fn f64_text(bits: u64) -> String {
    format!("{:?} (0x{bits:016x})", f64::from_bits(bits))
}

fn v128_text(p: &V128Pattern) -> String {
    let join = |v: Vec<String>| v.join(" ");
    match p {
        V128Pattern::I8x16(w) => {
            format!("i8x16 {}", join(w.iter().map(|x| x.to_string()).collect()))
        }
        V128Pattern::I16x8(w) => {
            format!("i16x8 {}", join(w.iter().map(|x| x.to_string()).collect()))
        }
        V128Pattern::I32x4(w) => {
            format!("i32x4 {}", join(w.iter().map(|x| x.to_string()).collect()))
        }
        V128Pattern::I64x2(w) => {
            format!("i64x2 {}", join(w.iter().map(|x| x.to_string()).collect()))
        }
        V128Pattern::F32x4(w) => format!(
            "f32x4 {}",
            join(
                w.iter()
                    .map(|p| nan_text(p, |v| f32_text(v.bits)))
                    .collect()
            )
        ),
        V128Pattern::F64x2(w) => format!(
            "f64x2 {}",
            join(
                w.iter()
                    .map(|p| nan_text(p, |v| f64_text(v.bits)))
                    .collect()
            )
        ),
    }
}

/// `got` printed in the lane shape of the expectation.
fn v128_in_shape(p: &V128Pattern, got: u128) -> String {
    let b = got.to_le_bytes();
    let lanes = |n: usize| -> Vec<u64> {
        b.chunks(n)
            .map(|c| {
                let mut x = [0u8; 8];
                x[..n].copy_from_slice(c);
                u64::from_le_bytes(x)
            })
            .collect()
    };
    let join = |v: Vec<String>| v.join(" ");
    match p {
        V128Pattern::I8x16(_) => format!(
            "i8x16 {}",
            join(lanes(1).iter().map(|&x| (x as i8).to_string()).collect())
        ),
        V128Pattern::I16x8(_) => format!(
            "i16x8 {}",
            join(lanes(2).iter().map(|&x| (x as i16).to_string()).collect())
        ),
        V128Pattern::I32x4(_) => format!(
            "i32x4 {}",
            join(lanes(4).iter().map(|&x| (x as i32).to_string()).collect())
        ),
        V128Pattern::I64x2(_) => format!(
            "i64x2 {}",
            join(lanes(8).iter().map(|&x| (x as i64).to_string()).collect())
        ),
        V128Pattern::F32x4(_) => format!(
            "f32x4 {}",
            join(lanes(4).iter().map(|&x| f32_text(x as u32)).collect())
        ),
        V128Pattern::F64x2(_) => format!(
            "f64x2 {}",
            join(lanes(8).iter().map(|&x| f64_text(x)).collect())
        ),
    }
}

/// The testsuite's expectation, in words.
pub fn ret_text(want: &WastRetCore<'_>) -> String {
    match want {
        WastRetCore::I32(v) => format!("i32 {v}"),
        WastRetCore::I64(v) => format!("i64 {v}"),
        WastRetCore::F32(p) => format!("f32 {}", nan_text(p, |v| f32_text(v.bits))),
        WastRetCore::F64(p) => format!("f64 {}", nan_text(p, |v| f64_text(v.bits))),
        WastRetCore::V128(p) => format!("v128 {}", v128_text(p)),
        WastRetCore::RefNull(_) => "ref.null".into(),
        WastRetCore::RefExtern(Some(n)) => format!("ref.extern {n}"),
        WastRetCore::RefExtern(None) => "ref.extern".into(),
        WastRetCore::RefFunc(_) => "ref.func".into(),
        WastRetCore::Either(options) => {
            let mut s = String::from("either");
            for o in options {
                let _ = write!(s, " ({})", ret_text(o));
            }
            s
        }
        other => format!("{other:?}"),
    }
}

/// A value, in words.
pub fn val_text(store: &Store<()>, val: &Val) -> String {
    match val {
        Val::I32(v) => format!("i32 {v}"),
        Val::I64(v) => format!("i64 {v}"),
        Val::F32(b) => format!("f32 {}", f32_text(*b)),
        Val::F64(b) => format!("f64 {}", f64_text(*b)),
        Val::V128(v) => format!("v128 0x{v:032x}"),
        Val::FuncRef(None) => "ref.null func".into(),
        Val::FuncRef(Some(_)) => "ref.func".into(),
        Val::ExternRef(None) => "ref.null extern".into(),
        Val::ExternRef(Some(r)) => match api::extern_ref_id(store, r) {
            Some(n) => format!("ref.extern {n}"),
            None => "ref.extern (foreign)".into(),
        },
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32p(bits: u32) -> NanPattern<F32> {
        NanPattern::Value(F32 { bits })
    }

    #[test]
    fn nan_patterns() {
        assert!(f32_matches(&NanPattern::CanonicalNan, 0x7fc0_0000));
        assert!(f32_matches(&NanPattern::CanonicalNan, 0xffc0_0000));
        assert!(!f32_matches(&NanPattern::CanonicalNan, 0x7fc0_0001));
        assert!(f32_matches(&NanPattern::ArithmeticNan, 0x7fc0_0001));
        assert!(f32_matches(&NanPattern::ArithmeticNan, 0xffe0_0000));
        assert!(!f32_matches(&NanPattern::ArithmeticNan, 0x7fa0_0000));
        assert!(!f32_matches(&NanPattern::ArithmeticNan, 0x3fc0_0000));
        assert!(f64_matches(
            &NanPattern::CanonicalNan,
            0xfff8_0000_0000_0000
        ));
        assert!(!f64_matches(
            &NanPattern::CanonicalNan,
            0x7ff8_0000_0000_0001
        ));
        assert!(f64_matches(
            &NanPattern::ArithmeticNan,
            0x7ffc_0000_0000_0000
        ));
        assert!(!f64_matches(
            &NanPattern::ArithmeticNan,
            0x7ff4_0000_0000_0000
        ));
        // Exact values are bit-exact: -0.0 is not 0.0.
        assert!(f32_matches(&f32p(0), 0));
        assert!(!f32_matches(&f32p(0), 0x8000_0000));
    }

    #[test]
    fn v128_lanes() {
        let got = u128::from_le_bytes([
            1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0xc0, 0x7f, 0, 0, 0x80, 0x3f,
        ]);
        assert!(v128_matches(&V128Pattern::I32x4([1, -1, 0x7fc0_0000, 0x3f80_0000]), got).is_ok());
        assert!(
            v128_matches(
                &V128Pattern::I16x8([1, 0, -1, -1, 0, 0x7fc0, 0, 0x3f80]),
                got
            )
            .is_ok()
        );
        let f = V128Pattern::F32x4([
            f32p(1),
            NanPattern::ArithmeticNan,
            NanPattern::CanonicalNan,
            f32p(0x3f80_0000),
        ]);
        // Lane 1 (0xffffffff) is an arithmetic NaN.
        assert!(v128_matches(&f, got).is_ok());
        let g = V128Pattern::F32x4([
            f32p(1),
            NanPattern::CanonicalNan,
            NanPattern::CanonicalNan,
            f32p(0x3f80_0000),
        ]);
        let err = v128_matches(&g, got).unwrap_err();
        assert!(err.contains("lanes [1]"), "{err}");
        assert!(v128_matches(&V128Pattern::I64x2([1, 0]), got).is_err());
    }
}
