//! Serialized modules: a compiled [`Module`] as bytes, loaded again without
//! compiling ([`Module::serialize`], [`Module::deserialize`],
//! [`Module::deserialize_checked`]).
//!
//! # Format
//!
//! All integers are little-endian. The file is a fixed prefix, a header
//! and a payload:
//!
//! ```text
//! offset size
//!  0      8  magic: "\0wkcwasm"
//!  8      4  format version (FORMAT_VERSION)
//! 12      8  length of the whole file in bytes
//! 20     32  SHA-256 of the whole file but these 32 bytes
//! 52      1  length n of the crate version, then its n bytes ("0.1.0")
//!         8  ABI fingerprint: the layout of the contexts generated code reads
//!         4  code options: bit 0 fuel metering, 1 interruption checks,
//!            2 guard regions (no explicit bounds checks)
//!         4  WebAssembly features the module was validated with: bit i is
//!            Feature::ALL[i]
//!         4  CPU features the code uses: bits 0-10 are SSE3, SSSE3,
//!            SSE4.1, SSE4.2, POPCNT, LZCNT, BMI1, BMI2, AVX, AVX2, FMA
//! payload:
//!         8+n  the module's retained sections (length, bytes): the wasm
//!              module without its code and custom sections
//!         8+n  the machine code (length, bytes)
//!         4+4n function entry offsets (count, offsets)
//!         4+8n function layout (count, (code offset, function index))
//!         4+8n backtrace sites (count, (code offset, module offset))
//!         4+12n fault sites (count, (start, end, module offset))
//!         4    offset of the out-of-bounds trap stub
//!         4+8n type-id sites (count, (code offset, type index))
//!         4+28n exception handler sites (count, (start, end, pad, tag,
//!              values, with_ref as 0 or 1, home as i32))
//!         4+4n unwind information of each defined function (count, u32s)
//!         4+.. function names (count, (index, length, UTF-8 bytes))
//! ```
//!
//! # Decisions
//!
//! - **What is stored.** The code is position-independent and its calls'
//!   relocations are resolved at compile time: it does not depend on
//!   where it is loaded. What depends on the engine is the engine-wide
//!   type ids a `call_indirect` compares with, as immediates: their
//!   places are the type-id sites, which loading writes with the loading
//!   engine's ids, as compiling does. So the payload is the code, its
//!   tables, and the wasm
//!   module's sections but code and custom ones, from which loading
//!   rebuilds types, imports, exports and segments exactly as compiling
//!   does ([`Module::from_parts`] serves both).
//! - **What must match.** The header holds every choice that changes the
//!   code: the crate version and the ABI fingerprint (the contract between
//!   code and runtime), the code options, which must equal the engine's
//!   ([`Config::consume_fuel`](super::Config::consume_fuel),
//!   [`Config::interruptible`](super::Config::interruptible),
//!   `Config::guard_regions`), the WebAssembly features, which the engine
//!   must enable, and the CPU features the code uses, which the processor
//!   must have and the engine's [`Config::cpu_features`](super::Config::cpu_features)
//!   allow. Each mismatch is refused with its own message
//!   ([`ErrorKind::Incompatible`]).
//! - **Integrity.** [`Module::deserialize_checked`] verifies the SHA-256
//!   over the whole file (prefix, header and payload) before reading it, so
//!   a corrupted or truncated file is refused, and every byte counts.
//!   Whatever the checksum, every length, count, offset and index is
//!   checked before use: code tables inside the code, type and export
//!   indices in range, sections that decode. A file that passes was
//!   written by `serialize` (or by someone who computed its checksum):
//!   the checksum guards against accidents, not against an attacker, since
//!   the machine code itself cannot be checked. Hence `deserialize` is
//!   `unsafe`, like Wasmtime's; `deserialize_checked` is safe for files
//!   whose only risk is corruption (a cache, a copy on a disk), not for
//!   files an adversary may write.

use super::engine::Engine;
use super::module::{Module, Parts};
use crate::abi::{
    ExecContext, FaultSite, TYPE_ID_PLACEHOLDER, VmContext, VmFuncRef, VmMemory, VmTable,
};
use crate::asm::x64::CpuFeatures;
use crate::error::{Error, ErrorKind, Result};
use crate::sha256::Sha256;
use crate::validate::{Feature, Features};
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::mem::{offset_of, size_of};

/// The first 8 bytes of a serialized module.
pub const MAGIC: [u8; 8] = *b"\0wkcwasm";
/// The version of the format this build writes and reads.
pub const FORMAT_VERSION: u32 = 2;
/// Where the SHA-256 lies in the file.
const HASH_AT: usize = 20;

const OPTION_FUEL: u32 = 1;
const OPTION_INTERRUPTIBLE: u32 = 2;
const OPTION_GUARD_REGIONS: u32 = 4;

fn incompatible(message: &'static str) -> Error {
    Error::from_kind(ErrorKind::Incompatible, message)
}

/// [`abi_fingerprint`] of this build.
pub const ABI_FINGERPRINT: u64 = abi_fingerprint();

/// The layout of what generated code reads of the runtime's structures:
/// sizes and field offsets, hashed (64-bit FNV-1a, at compile time: an
/// identifier, not a checksum), the calling convention's one size, the
/// argument area calls provide for tail calls
/// ([`TAIL_CALL_AREA`](crate::abi::TAIL_CALL_AREA)), and its revision
/// ([`CONVENTION_REVISION`](crate::abi::CONVENTION_REVISION)). Two builds
/// of one crate version whose contexts or conventions differ do not share
/// code.
const fn abi_fingerprint() -> u64 {
    let facts: [usize; 34] = [
        crate::abi::TAIL_CALL_AREA as usize,
        crate::abi::CONVENTION_REVISION as usize,
        size_of::<ExecContext>(),
        size_of::<VmMemory>(),
        offset_of!(VmMemory, base),
        offset_of!(VmMemory, len),
        size_of::<VmContext>(),
        size_of::<VmFuncRef>(),
        size_of::<VmTable>(),
        offset_of!(ExecContext, host_rsp),
        offset_of!(ExecContext, wasm_rsp),
        offset_of!(ExecContext, entry_rsp),
        offset_of!(ExecContext, stack_limit),
        offset_of!(ExecContext, exit_code),
        offset_of!(ExecContext, trap_code),
        offset_of!(ExecContext, payload),
        offset_of!(ExecContext, call_args),
        offset_of!(ExecContext, fuel),
        offset_of!(ExecContext, interrupt),
        offset_of!(VmContext, stack_limit),
        offset_of!(VmContext, memory_base),
        offset_of!(VmContext, memory_len),
        offset_of!(VmContext, memory_last),
        offset_of!(VmContext, funcs),
        offset_of!(VmContext, globals),
        offset_of!(VmContext, tables),
        offset_of!(VmContext, table0),
        offset_of!(VmContext, type_ids),
        offset_of!(VmContext, instance),
        offset_of!(VmContext, memories),
        offset_of!(VmFuncRef, code),
        offset_of!(VmFuncRef, vmctx),
        offset_of!(VmFuncRef, type_id),
        offset_of!(VmFuncRef, host_index),
    ];
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < facts.len() {
        let bytes = (facts[i] as u64).to_le_bytes();
        let mut b = 0;
        while b < 8 {
            hash = (hash ^ bytes[b] as u64).wrapping_mul(0x0100_0000_01b3);
            b += 1;
        }
        i += 1;
    }
    hash
}

/// The CPU features as the header's bits.
pub fn cpu_bits(cpu: CpuFeatures) -> u32 {
    // No `..`: a new feature must get its bit here.
    let CpuFeatures {
        sse3,
        ssse3,
        sse41,
        sse42,
        popcnt,
        lzcnt,
        bmi1,
        bmi2,
        avx,
        avx2,
        fma,
    } = cpu;
    [
        sse3, ssse3, sse41, sse42, popcnt, lzcnt, bmi1, bmi2, avx, avx2, fma,
    ]
    .iter()
    .enumerate()
    .fold(0, |bits, (i, &on)| bits | (u32::from(on) << i))
}

/// The CPU features of the header's bits, or the first bit this build
/// does not know.
fn cpu_from_bits(bits: u32) -> core::result::Result<CpuFeatures, u32> {
    if bits >> 11 != 0 {
        return Err(11 + (bits >> 11).trailing_zeros());
    }
    let on = |i: u32| bits & (1 << i) != 0;
    Ok(CpuFeatures {
        sse3: on(0),
        ssse3: on(1),
        sse41: on(2),
        sse42: on(3),
        popcnt: on(4),
        lzcnt: on(5),
        bmi1: on(6),
        bmi2: on(7),
        avx: on(8),
        avx2: on(9),
        fma: on(10),
    })
}

/// The names of the features in `bits` (as [`cpu_bits`] numbers them).
fn cpu_names(bits: u32) -> String {
    const NAMES: [&str; 11] = [
        "SSE3", "SSSE3", "SSE4.1", "SSE4.2", "POPCNT", "LZCNT", "BMI1", "BMI2", "AVX", "AVX2",
        "FMA",
    ];
    let mut out = String::new();
    for i in 0..32 {
        if bits & (1 << i) != 0 {
            if !out.is_empty() {
                out.push_str(", ");
            }
            match NAMES.get(i) {
                Some(name) => out.push_str(name),
                None => out.push_str(&alloc::format!("unknown feature bit {i}")),
            }
        }
    }
    out
}

/// The WebAssembly features as the header's bits.
pub fn feature_bits(features: Features) -> u32 {
    Feature::ALL.iter().enumerate().fold(0, |bits, (i, &f)| {
        bits | (u32::from(features.enabled(f)) << i)
    })
}

pub(crate) fn option_bits(options: &crate::abi::CompileOptions) -> u32 {
    (if options.fuel { OPTION_FUEL } else { 0 })
        | (if options.interruptible {
            OPTION_INTERRUPTIBLE
        } else {
            0
        })
        | (if options.guard_region {
            OPTION_GUARD_REGIONS
        } else {
            0
        })
}

/// Appends little-endian values.
struct Writer(Vec<u8>);

impl Writer {
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn count(&mut self, n: usize) -> Result<()> {
        let n = u32::try_from(n)
            .map_err(|_| Error::from_kind(ErrorKind::Limit, "a module table is too long"))?;
        self.u32(n);
        Ok(())
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u64(b.len() as u64);
        self.0.extend_from_slice(b);
    }
}

/// Reads little-endian values; running out is "truncated".
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(
                incompatible("serialized module truncated").with_detail(format_args!(
                    "{n} bytes needed at offset {}, {} left",
                    self.pos,
                    self.bytes.len() - self.pos
                )),
            );
        };
        let b = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(b)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ]))
    }
    fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.u64()?;
        self.take(usize::try_from(n).unwrap_or(usize::MAX))
    }
    /// A count of items of `size` bytes each, checked against what is
    /// left, so no allocation exceeds the file.
    fn count(&mut self, size: usize) -> Result<usize> {
        let n = self.u32()? as usize;
        if n.saturating_mul(size) > self.bytes.len() - self.pos {
            return Err(
                incompatible("serialized module truncated").with_detail(format_args!(
                    "a table of {n} entries at offset {} does not fit",
                    self.pos
                )),
            );
        }
        Ok(n)
    }
    fn pairs(&mut self) -> Result<Vec<(u32, u32)>> {
        let n = self.count(8)?;
        (0..n).map(|_| Ok((self.u32()?, self.u32()?))).collect()
    }
}

/// Writes `module` in the format above.
pub(crate) fn serialize(module: &Module) -> Result<Vec<u8>> {
    let m = &*module.inner;
    let engine = &m.engine.inner;
    let code = m.code.as_ref().map_or(&[][..], |c| c.as_slice());
    let mut w = Writer(Vec::with_capacity(code.len() + m.bytes.len() + 1024));
    w.0.extend_from_slice(&MAGIC);
    w.u32(FORMAT_VERSION);
    w.u64(0); // The length, filled in below.
    w.0.extend_from_slice(&[0; 32]); // The hash, computed last.
    let version = env!("CARGO_PKG_VERSION");
    w.0.push(version.len() as u8);
    w.0.extend_from_slice(version.as_bytes());
    w.u64(ABI_FINGERPRINT);
    w.u32(option_bits(&engine.options));
    w.u32(feature_bits(m.features));
    w.u32(cpu_bits(m.cpu));

    w.bytes(&m.bytes);
    // The code as compiled: the type-id sites hold the placeholder again,
    // not this engine's ids.
    let mut engine_free = code.to_vec();
    for &(at, _) in &m.type_id_sites {
        if let Some(imm) = engine_free.get_mut(at as usize..at as usize + 4) {
            imm.copy_from_slice(&TYPE_ID_PLACEHOLDER.to_le_bytes());
        }
    }
    w.bytes(&engine_free);
    w.count(m.func_offsets.len())?;
    for &o in &m.func_offsets {
        w.u32(o);
    }
    for table in [&m.func_layout, &m.sites] {
        w.count(table.len())?;
        for &(a, b) in table.iter() {
            w.u32(a);
            w.u32(b);
        }
    }
    w.count(m.fault_sites.len())?;
    for s in &m.fault_sites {
        w.u32(s.start);
        w.u32(s.end);
        w.u32(s.wasm_offset);
    }
    w.u32(m.out_of_bounds_stub);
    w.count(m.type_id_sites.len())?;
    for &(at, t) in &m.type_id_sites {
        w.u32(at);
        w.u32(t);
    }
    w.count(m.handlers.len())?;
    for h in &m.handlers {
        for v in [
            h.start,
            h.end,
            h.pad,
            h.tag,
            h.values,
            u32::from(h.with_ref),
        ] {
            w.u32(v);
        }
        w.u32(h.home as u32);
    }
    w.count(m.unwind.len())?;
    for &u in &m.unwind {
        w.u32(u);
    }
    w.count(m.func_names.len())?;
    for (i, name) in &m.func_names {
        w.u32(*i);
        w.bytes(name.as_bytes());
    }

    let mut out = w.0;
    let len = out.len() as u64;
    out[12..20].copy_from_slice(&len.to_le_bytes());
    let hash = file_hash(&out);
    out[HASH_AT..HASH_AT + 32].copy_from_slice(&hash);
    Ok(out)
}

/// The SHA-256 of `file` without its hash field.
fn file_hash(file: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(&file[..HASH_AT]);
    h.update(&file[HASH_AT + 32..]);
    h.finish()
}

/// Reads a serialized module for `engine`, verifying its checksum when
/// `verify` is set. Never panics and never runs anything; the code is
/// published, not executed.
pub(crate) fn deserialize(engine: &Engine, bytes: &[u8], verify: bool) -> Result<Module> {
    if bytes.len() < MAGIC.len() || bytes[..MAGIC.len()] != MAGIC {
        return Err(incompatible("not a serialized wasmkern module")
            .with_detail("the file does not start with the magic bytes \"\\0wkcwasm\""));
    }
    let mut r = Reader { bytes, pos: 8 };
    let format = r.u32()?;
    if format != FORMAT_VERSION {
        return Err(
            incompatible("unsupported serialized module format").with_detail(format_args!(
                "format version {format}, this build reads version {FORMAT_VERSION}"
            )),
        );
    }
    let len = r.u64()?;
    if len != bytes.len() as u64 {
        let message = if len > bytes.len() as u64 {
            "serialized module truncated"
        } else {
            "serialized module has trailing bytes"
        };
        return Err(incompatible(message)
            .with_detail(format_args!("{} bytes, the header says {len}", bytes.len())));
    }
    let hash = r.take(32)?;
    if verify && file_hash(bytes) != hash {
        return Err(incompatible("serialized module corrupted")
            .with_detail("its SHA-256 does not match its contents"));
    }

    let n = r.u8()? as usize;
    let version = r.take(n)?;
    if version != env!("CARGO_PKG_VERSION").as_bytes() {
        return Err(
            incompatible("serialized module from another wasmkern version").with_detail(
                format_args!(
                    "compiled by wasmkern {}, this is wasmkern {}",
                    String::from_utf8_lossy(version),
                    env!("CARGO_PKG_VERSION")
                ),
            ),
        );
    }
    if r.u64()? != ABI_FINGERPRINT {
        return Err(incompatible("serialized module for another runtime ABI")
            .with_detail("the layout of the runtime's contexts differs from this build's"));
    }
    let e = &engine.inner;
    let options = r.u32()?;
    let ours = option_bits(&e.options);
    if options != ours {
        let on = |bits: u32, bit: u32| if bits & bit != 0 { "on" } else { "off" };
        let mut detail = String::new();
        for (bit, what) in [
            (OPTION_FUEL, "fuel metering (Config::consume_fuel)"),
            (
                OPTION_INTERRUPTIBLE,
                "interruption checks (Config::interruptible)",
            ),
            (
                OPTION_GUARD_REGIONS,
                "guard regions (Config::guard_regions)",
            ),
        ] {
            if options & bit != ours & bit {
                detail.push_str(&alloc::format!(
                    "{what}: {} in the module, {} in the engine; ",
                    on(options, bit),
                    on(ours, bit)
                ));
            }
        }
        if options & !(OPTION_FUEL | OPTION_INTERRUPTIBLE | OPTION_GUARD_REGIONS) != 0 {
            detail.push_str("unknown code options; ");
        }
        return Err(
            incompatible("serialized module compiled with other code options")
                .with_detail(detail.trim_end_matches("; ")),
        );
    }
    let features = r.u32()?;
    let engine_features = feature_bits(e.features);
    if features & !engine_features != 0 {
        let missing: Vec<&str> = (0..32)
            .filter(|i| (features & !engine_features) & (1 << i) != 0)
            .map(|i| {
                Feature::ALL
                    .get(i)
                    .map_or("an unknown feature", |f| f.switch())
            })
            .collect();
        return Err(
            incompatible("serialized module needs WebAssembly features the engine lacks")
                .with_detail(format_args!("enable {}", missing.join(", "))),
        );
    }
    let mut module_features = Features::DEFAULT;
    for (i, &f) in Feature::ALL.iter().enumerate() {
        module_features.set(f, features & (1 << i) != 0);
    }
    let cpu = r.u32()?;
    let host = cpu_bits(CpuFeatures::detect());
    let cpu = match cpu_from_bits(cpu) {
        Ok(c) if cpu & !host == 0 => c,
        _ => {
            return Err(
                incompatible("the processor lacks CPU features the code uses")
                    .with_detail(cpu_names(cpu & !host)),
            );
        }
    };
    let allowed = cpu_bits(e.cpu);
    if cpu_bits(cpu) & !allowed != 0 {
        return Err(incompatible(
            "the code uses CPU features the engine's Config::cpu_features excludes",
        )
        .with_detail(cpu_names(cpu_bits(cpu) & !allowed)));
    }

    let retained = r.bytes()?;
    let code = r.bytes()?;
    let n = r.count(4)?;
    let func_offsets = (0..n).map(|_| r.u32()).collect::<Result<Vec<_>>>()?;
    let func_layout = r.pairs()?;
    let sites = r.pairs()?;
    let n = r.count(12)?;
    let fault_sites = (0..n)
        .map(|_| {
            Ok(FaultSite {
                start: r.u32()?,
                end: r.u32()?,
                wasm_offset: r.u32()?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let out_of_bounds_stub = r.u32()?;
    let type_id_sites = r.pairs()?;
    let n = r.count(28)?;
    let handlers = (0..n)
        .map(|_| {
            let mut v = [0u32; 7];
            for x in &mut v {
                *x = r.u32()?;
            }
            if v[5] > 1 {
                return Err(incompatible("malformed serialized module")
                    .with_detail("a handler site's flag is not 0 or 1"));
            }
            Ok(crate::abi::HandlerSite {
                start: v[0],
                end: v[1],
                pad: v[2],
                tag: v[3],
                values: v[4],
                with_ref: v[5] == 1,
                home: v[6] as i32,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let n = r.count(4)?;
    let unwind = (0..n).map(|_| r.u32()).collect::<Result<Vec<_>>>()?;
    let n = r.count(12)?;
    let func_names = (0..n)
        .map(|_| {
            let index = r.u32()?;
            let name = core::str::from_utf8(r.bytes()?).map_err(|_| {
                incompatible("malformed serialized module").with_detail("a name is not UTF-8")
            })?;
            Ok((index, name.to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    if r.pos != bytes.len() {
        return Err(incompatible("malformed serialized module")
            .with_detail(format_args!("{} unread bytes", bytes.len() - r.pos)));
    }
    if !retained.starts_with(b"\0asm") {
        return Err(incompatible("malformed serialized module")
            .with_detail("its module sections do not start with the wasm magic"));
    }
    let retained: Arc<[u8]> = Arc::from(retained);
    Module::from_parts(
        engine,
        retained,
        Parts {
            code: &[(0, code)],
            func_offsets,
            func_layout,
            sites,
            fault_sites,
            out_of_bounds_stub,
            type_id_sites,
            handlers,
            unwind,
            func_names,
            cpu,
            features: module_features,
        },
        ErrorKind::Incompatible,
    )
    .map_err(|e| match e.kind() {
        // The sections decoded with an error of their own.
        ErrorKind::Malformed | ErrorKind::Limit | ErrorKind::Invalid => {
            incompatible("malformed serialized module").with_detail(e)
        }
        _ => e,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_bits_round_trip() {
        for cpu in [
            CpuFeatures::baseline(),
            CpuFeatures::sse41_baseline(),
            CpuFeatures::all(),
        ] {
            assert_eq!(cpu_from_bits(cpu_bits(cpu)), Ok(cpu));
        }
        assert_eq!(cpu_bits(CpuFeatures::all()), (1 << 11) - 1);
        assert_eq!(cpu_from_bits(1 << 20), Err(20));
        assert_eq!(
            cpu_names(0b101 | 1 << 12),
            "SSE3, SSE4.1, unknown feature bit 12"
        );
    }
}
