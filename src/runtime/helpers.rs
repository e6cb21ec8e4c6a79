//! The runtime helpers generated code reaches through `ExitCode::Helper`:
//! `table.grow/fill/copy/init`, `elem.drop`, `memory.init/copy/fill`,
//! `data.drop` (see [`crate::abi::Helper`] for the area layout), and the
//! fuel of bulk work.
//!
//! A memory or table helper reads an operand that a 64-bit memory's or a
//! table64 table's index type types as its full slot, any other as its
//! low 32 bits, and checks every range without overflow (`start + len`
//! may exceed 2^64 - 1 there). `table.grow` writes its result as a full
//! slot: the old size, or `u64::MAX` when refused, which is -1 read as an
//! `i64` (table64) and, in its low 32 bits, as an `i32`.
//!
//! `table.init` and `memory.init` find their segment through the ranges the
//! module kept of its bytes ([`ModuleInner`](super::module::ModuleInner)),
//! without decoding again; `table.init` evaluates only the elements it
//! copies, so its cost follows its length, not its segment's.
//!
//! # Fuel and interruption
//! With fuel metering, a bulk operation costs, beyond its operator's unit,
//! one unit per [`BYTES_PER_FUEL`] bytes or [`ELEMENTS_PER_FUEL`] table
//! elements ([`bulk_fuel`]), and a growth per page or element added. The
//! whole cost is taken after the bounds checks (an out-of-bounds operation
//! traps without charge) and before anything is written; when it exceeds
//! the fuel left, nothing is done and the helper reports
//! [`HelperStatus::OutOfFuel`], so generated code pauses and runs the
//! helper again once resumed. A growth beyond the table's or memory's
//! maximum is refused (-1) without charge, and a growth the limiter
//! refuses gets its fuel back.
//!
//! With interruption checks, bulk operations run in chunks of
//! [`BULK_CHUNK`] bytes (of memory, or of table elements); when the interrupt flag is set after
//! a chunk, the area's operands are rewritten to describe the rest, its
//! fuel is given back, and the helper reports [`HelperStatus::Interrupted`]
//! (the flag stays set for the exit that reports it). A copy whose
//! destination lies above its source inside the same memory or table goes
//! from the end down, so the rest is always the range's lower part; either
//! way the rest, copied later, reads what the whole copy would have read.
//! Growth is not split: the memory's or table's maximum and the
//! [`ResourceLimiter`](super::ResourceLimiter) bound it.

use super::module::ElemItems;
use super::store::StoreInner;
#[cfg(doc)]
use crate::abi::MEMORY_FUEL_PER_PAGE;
use crate::abi::{
    BULK_CHUNK, BYTES_PER_FUEL, ELEMENTS_PER_FUEL, Helper, HelperStatus, TrapCode, VmFuncRef,
    bulk_fuel,
};
use crate::decode::ConstExpr;
use crate::error::{Error, Result};
use alloc::vec::Vec;
use core::ops::Range;
use core::sync::atomic::Ordering;

fn oob_table() -> Error {
    Error::from_trap(TrapCode::TableOutOfBounds)
}

fn oob_memory() -> Error {
    Error::from_trap(TrapCode::MemoryOutOfBounds)
}

/// `start..start + len` if it lies within `size` (no sum wraps: a
/// 64-bit memory's operands may be anything up to `u64::MAX`).
fn range(start: u64, len: u64, size: usize) -> Option<Range<usize>> {
    let end = start.checked_add(len)?;
    (end <= size as u64).then_some(start as usize..end as usize)
}

/// Number of area slots each helper reads.
pub(crate) fn slots_of(h: Helper) -> usize {
    match h {
        Helper::ElemDrop | Helper::DataDrop => 2,
        Helper::TableGrow => 4,
        _ => 5,
    }
}

/// Which way a chunked operation walks its range.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Walk {
    /// From the start up: the rest is the range's upper part.
    Up,
    /// From the end down (an overlapping copy to a higher address): the
    /// rest is the range's lower part.
    Down,
}

impl Walk {
    /// The way to copy `len` units from `src` to `dst` within one memory
    /// or table: down when `src < dst < src + len`.
    fn of_copy(dst: u64, src: u64, len: u64) -> Walk {
        if src < dst && (dst - src) < len {
            Walk::Down
        } else {
            Walk::Up
        }
    }
}

/// How a bulk operation proceeds: its chunk size and the interrupt flag
/// to check between chunks (none without interruption checks).
struct Chunks<'a> {
    size: usize,
    flag: Option<&'a core::sync::atomic::AtomicU32>,
}

impl Chunks<'_> {
    /// Runs `step(offset, n)` over `[0, len)` in chunks walking `walk`;
    /// returns how many units are left when the flag stopped it (0 when
    /// it finished). At least one chunk runs, so every resume progresses.
    fn run(&self, len: usize, walk: Walk, mut step: impl FnMut(usize, usize)) -> usize {
        let mut left = len;
        while left > 0 {
            let n = left.min(self.size);
            match walk {
                Walk::Up => step(len - left, n),
                Walk::Down => step(left - n, n),
            }
            left -= n;
            if left > 0 && self.flag.is_some_and(|f| f.load(Ordering::Acquire) != 0) {
                break;
            }
        }
        left
    }
}

/// Rewrites the area of an interrupted operation at `[dst, src, len]`
/// (slots 2 to 4, read as `dst` and `src`) to its rest: `left` units, at
/// the start's end when it walked up. The rest lies within the bounds
/// already checked, so an operand of 32 bits stays within 32.
fn rest(area: &mut [u64], walk: Walk, [dst, src, len]: [u64; 3], left: usize) {
    let done = len - left as u64;
    if walk == Walk::Up {
        area[2] = dst + done;
        area[3] = src + done;
    }
    area[4] = left as u64;
}

impl StoreInner {
    /// Takes the fuel of `units` at one per `per_fuel`, if fuel is metered
    /// and enough is left; false (nothing taken) when it is not.
    fn take_fuel(&mut self, units: u64, per_fuel: u64) -> bool {
        if !self.engine.inner.options.fuel {
            return true;
        }
        let cost = bulk_fuel(units, per_fuel) as i128;
        let left = self.exec.fuel as i128;
        if left < cost {
            return false;
        }
        self.exec.fuel = (left - cost) as i64;
        true
    }

    /// Gives back the fuel of `units` ([`Self::take_fuel`]'s).
    fn give_fuel(&mut self, units: u64, per_fuel: u64) {
        if self.engine.inner.options.fuel {
            let cost = i64::try_from(bulk_fuel(units, per_fuel)).unwrap_or(i64::MAX);
            self.exec.fuel = self.exec.fuel.saturating_add(cost);
        }
    }

    /// The fuel of growing memory `index` by `delta` pages, taken when the
    /// growth stays within the memory's maximum: `Some(true)` when taken
    /// (or not metered), `Some(false)` when short, `None` when the growth
    /// is refused anyway (nothing taken). The cost is one unit per
    /// [`BYTES_PER_FUEL`] bytes added ([`MEMORY_FUEL_PER_PAGE`] per 64 KiB
    /// page), so a memory of 1-byte pages pays for the bytes it gains.
    pub(crate) fn take_growth_fuel(&mut self, index: u32, delta: u32) -> Option<bool> {
        let m = self.memories.get(index as usize)?;
        if !m.can_grow(delta) {
            return None;
        }
        let bytes = m.growth_bytes(delta);
        Some(self.take_fuel(bytes, BYTES_PER_FUEL))
    }

    /// Gives back [`Self::take_growth_fuel`]'s fuel (the growth failed).
    pub(crate) fn give_growth_fuel(&mut self, index: u32, delta: u32) {
        if let Some(m) = self.memories.get(index as usize) {
            let bytes = m.growth_bytes(delta);
            self.give_fuel(bytes, BYTES_PER_FUEL);
        }
    }

    /// Serves one helper exit of `instance`; `area` holds the slots and
    /// receives the result in slot 0 (and, when interrupted, the rest of
    /// the operation in its operands).
    pub(crate) fn helper(
        &mut self,
        instance: u32,
        helper: u32,
        area: &mut [u64],
        limiter: Option<&mut dyn super::limits::ResourceLimiter>,
    ) -> Result<HelperStatus> {
        let h = Helper::from_u32(helper)
            .ok_or_else(|| Error::runtime("unknown runtime helper").with_index(helper))?;
        if area.len() < slots_of(h) {
            return Err(Error::runtime("runtime helper area too small"));
        }
        // Slots past the helper's own read as 0 (`slots_of` was checked).
        let a = |i: usize| area.get(i).map_or(0, |&v| v as u32);
        let inst = self
            .instances
            .get(instance as usize)
            .ok_or_else(|| Error::runtime("runtime helper of an unknown instance"))?;
        let table = |i: u32| {
            inst.tables
                .get(i as usize)
                .copied()
                .ok_or_else(|| Error::runtime("unknown table").with_index(i))
        };
        let memory = |i: u32| {
            inst.memories
                .get(i as usize)
                .copied()
                .ok_or_else(|| Error::runtime("unknown memory").with_index(i))
        };
        let (bytes, elems) = if self.engine.inner.options.interruptible {
            (
                BULK_CHUNK as usize,
                BULK_CHUNK as usize / size_of::<usize>(),
            )
        } else {
            (usize::MAX, usize::MAX)
        };
        let flag = self
            .engine
            .inner
            .options
            .interruptible
            .then_some(self.interrupt.clone());
        let chunks = |size| Chunks {
            size,
            flag: flag.as_deref(),
        };
        // The operands of the three-operand helpers: full slots where a
        // 64-bit memory's or a table64 table's index type types them.
        let wide = |i: u32| {
            inst.memories
                .get(i as usize)
                .and_then(|&m| self.memories.get(m as usize))
                .is_some_and(|m| m.ty.memory64)
        };
        let wide_table = |i: u32| {
            inst.tables
                .get(i as usize)
                .and_then(|&t| self.tables.get(t as usize))
                .is_some_and(|t| t.ty.table64)
        };
        let slot = |i: usize, wide: bool| {
            let v = area.get(i).copied().unwrap_or(0);
            if wide { v } else { u64::from(v as u32) }
        };
        let (dst, src, len) = match h {
            Helper::MemoryInit => (slot(2, wide(a(0))), slot(3, false), slot(4, false)),
            Helper::MemoryCopy => {
                let (d, s) = (wide(a(0)), wide(a(1)));
                (slot(2, d), slot(3, s), slot(4, d && s))
            }
            Helper::MemoryFill => {
                let d = wide(a(0));
                (slot(2, d), slot(3, false), slot(4, d))
            }
            Helper::TableFill => {
                let d = wide_table(a(0));
                (slot(2, d), slot(3, false), slot(4, d))
            }
            Helper::TableCopy => {
                let (d, s) = (wide_table(a(0)), wide_table(a(1)));
                (slot(2, d), slot(3, s), slot(4, d && s))
            }
            Helper::TableInit => (slot(2, wide_table(a(0))), slot(3, false), slot(4, false)),
            _ => (slot(2, false), slot(3, false), slot(4, false)),
        };
        let per = match h {
            Helper::MemoryInit | Helper::MemoryCopy | Helper::MemoryFill => BYTES_PER_FUEL,
            _ => ELEMENTS_PER_FUEL,
        };
        let (walk, left) = match h {
            Helper::TableGrow => {
                let t = table(a(0))?;
                let (init, delta) = (area[2] as usize, slot(3, wide_table(a(0))));
                let units = delta;
                let charged = self.tables[t as usize].can_grow(delta);
                if charged && !self.take_fuel(units, ELEMENTS_PER_FUEL) {
                    return Ok(HelperStatus::OutOfFuel);
                }
                // Refused: -1; the limiter's own error ends the call.
                let r = match self.grow_table(t, delta, init, limiter)? {
                    Ok(old) => u64::from(old),
                    Err(_) => {
                        if charged {
                            self.give_fuel(units, ELEMENTS_PER_FUEL);
                        }
                        u64::MAX
                    }
                };
                area[0] = r;
                return Ok(HelperStatus::Done);
            }
            Helper::TableFill => {
                let t = table(a(0))?;
                let val = area[3] as usize;
                let elements = &mut self.tables[t as usize].elements;
                let r = range(dst, len, elements.len()).ok_or_else(oob_table)?;
                if !self.take_fuel(len, per) {
                    return Ok(HelperStatus::OutOfFuel);
                }
                let elements = &mut self.tables[t as usize].elements[r];
                let left = chunks(elems).run(len as usize, Walk::Up, |at, n| {
                    elements[at..at + n].fill(val)
                });
                (Walk::Up, left)
            }
            Helper::TableCopy => {
                let (dt, st) = (table(a(0))?, table(a(1))?);
                let sr = range(src, len, self.tables[st as usize].elements.len())
                    .ok_or_else(oob_table)?;
                let dr = range(dst, len, self.tables[dt as usize].elements.len())
                    .ok_or_else(oob_table)?;
                if !self.take_fuel(len, per) {
                    return Ok(HelperStatus::OutOfFuel);
                }
                let walk = if dt == st {
                    Walk::of_copy(dst, src, len)
                } else {
                    Walk::Up
                };
                let left = if dt == st {
                    let elements = &mut self.tables[dt as usize].elements;
                    chunks(elems).run(len as usize, walk, |at, n| {
                        elements.copy_within(sr.start + at..sr.start + at + n, dr.start + at)
                    })
                } else {
                    let [d, s] = self
                        .tables
                        .get_disjoint_mut([dt as usize, st as usize])
                        .map_err(|_| Error::runtime("unknown table").with_index(dt))?;
                    chunks(elems).run(len as usize, walk, |at, n| {
                        d.elements[dr.start + at..dr.start + at + n]
                            .copy_from_slice(&s.elements[sr.start + at..sr.start + at + n])
                    })
                };
                (walk, left)
            }
            Helper::TableInit => {
                let t = table(a(0))?;
                let seg = a(1);
                let dropped = inst
                    .dropped_elems
                    .get(seg as usize)
                    .copied()
                    .unwrap_or(true);
                let seg_len = if dropped {
                    0
                } else {
                    self.elem_len(instance, seg)?
                };
                let sr = range(src, len, seg_len).ok_or_else(oob_table)?;
                let dr = range(dst, len, self.tables[t as usize].elements.len())
                    .ok_or_else(oob_table)?;
                if !self.take_fuel(len, per) {
                    return Ok(HelperStatus::OutOfFuel);
                }
                let mut failed = None;
                let (instances, globals, tables) =
                    (&self.instances, &self.globals, &mut self.tables);
                let inst = &instances[instance as usize];
                let elements = &mut tables[t as usize].elements;
                let left = chunks(elems).run(len as usize, Walk::Up, |at, n| {
                    if failed.is_some() {
                        return;
                    }
                    let items = sr.start + at..sr.start + at + n;
                    match elem_items(inst, globals, seg, items) {
                        Ok(v) => elements[dr.start + at..dr.start + at + n].copy_from_slice(&v),
                        Err(e) => failed = Some(e),
                    }
                });
                if let Some(e) = failed {
                    return Err(e);
                }
                (Walk::Up, left)
            }
            Helper::ElemDrop => {
                if let Some(d) = self.instances[instance as usize]
                    .dropped_elems
                    .get_mut(a(0) as usize)
                {
                    *d = true;
                }
                return Ok(HelperStatus::Done);
            }
            Helper::DataDrop => {
                if let Some(d) = self.instances[instance as usize]
                    .dropped_data
                    .get_mut(a(0) as usize)
                {
                    *d = true;
                }
                return Ok(HelperStatus::Done);
            }
            Helper::MemoryInit => {
                let m = memory(a(0))?;
                let seg = a(1);
                let dropped = inst.dropped_data.get(seg as usize).copied().unwrap_or(true);
                let module = inst._module.inner.clone();
                let data: &[u8] = match module.data_segments.get(seg as usize) {
                    Some(r) if !dropped => module
                        .bytes
                        .get(r.clone())
                        .ok_or_else(|| Error::runtime("data segment out of the module"))?,
                    _ => &[],
                };
                let sr = range(src, len, data.len()).ok_or_else(oob_memory)?;
                let dr = range(dst, len, self.memories[m as usize].bytes.len())
                    .ok_or_else(oob_memory)?;
                if !self.take_fuel(len, per) {
                    return Ok(HelperStatus::OutOfFuel);
                }
                let out = &mut self.memories[m as usize].bytes[dr];
                let data = &data[sr];
                let left = chunks(bytes).run(len as usize, Walk::Up, |at, n| {
                    out[at..at + n].copy_from_slice(&data[at..at + n])
                });
                (Walk::Up, left)
            }
            Helper::MemoryCopy => {
                let (dm, sm) = (memory(a(0))?, memory(a(1))?);
                let sr = range(src, len, self.memories[sm as usize].bytes.len())
                    .ok_or_else(oob_memory)?;
                let dr = range(dst, len, self.memories[dm as usize].bytes.len())
                    .ok_or_else(oob_memory)?;
                if !self.take_fuel(len, per) {
                    return Ok(HelperStatus::OutOfFuel);
                }
                let walk = if dm == sm {
                    Walk::of_copy(dst, src, len)
                } else {
                    Walk::Up
                };
                let left = if dm == sm {
                    let b = &mut self.memories[dm as usize].bytes;
                    chunks(bytes).run(len as usize, walk, |at, n| {
                        b.copy_within(sr.start + at..sr.start + at + n, dr.start + at)
                    })
                } else {
                    let [d, s] = self
                        .memories
                        .get_disjoint_mut([dm as usize, sm as usize])
                        .map_err(|_| Error::runtime("unknown memory").with_index(dm))?;
                    chunks(bytes).run(len as usize, walk, |at, n| {
                        d.bytes[dr.start + at..dr.start + at + n]
                            .copy_from_slice(&s.bytes[sr.start + at..sr.start + at + n])
                    })
                };
                (walk, left)
            }
            Helper::MemoryFill => {
                let m = memory(a(0))?;
                let val = area[3] as u8;
                let r = range(dst, len, self.memories[m as usize].bytes.len())
                    .ok_or_else(oob_memory)?;
                if !self.take_fuel(len, per) {
                    return Ok(HelperStatus::OutOfFuel);
                }
                let out = &mut self.memories[m as usize].bytes[r];
                let left =
                    chunks(bytes).run(len as usize, Walk::Up, |at, n| out[at..at + n].fill(val));
                (Walk::Up, left)
            }
        };
        if left == 0 {
            return Ok(HelperStatus::Done);
        }
        self.give_fuel(left as u64, per);
        rest(area, walk, [dst, src, len], left);
        Ok(HelperStatus::Interrupted)
    }

    /// The number of elements of segment `seg` of `instance`.
    fn elem_len(&self, instance: u32, seg: u32) -> Result<usize> {
        let module = &self.instances[instance as usize]._module.inner;
        match module.elem_segments.get(seg as usize) {
            Some(ElemItems::Functions(f)) => Ok(f.len()),
            Some(ElemItems::Exprs(e)) => Ok(e.len()),
            None => Err(Error::runtime("unknown element segment").with_index(seg)),
        }
    }
}

/// The raw references of elements `range` of segment `seg` of `inst` (a
/// range [`StoreInner::elem_len`] bounds), whose global indexes refer to
/// `globals`.
fn elem_items(
    inst: &super::store::InstanceData,
    globals: &[super::store::GlobalData],
    seg: u32,
    range: Range<usize>,
) -> Result<Vec<usize>> {
    let module = &inst._module.inner;
    let seg = module
        .elem_segments
        .get(seg as usize)
        .ok_or_else(|| Error::runtime("unknown element segment").with_index(seg))?;
    let lookup = |g: u32| {
        inst.globals
            .get(g as usize)
            .and_then(|&g| globals.get(g as usize))
            .map(|g| g.get())
    };
    let outside = || Error::runtime("element segment range outside the segment");
    match seg {
        ElemItems::Functions(f) => f
            .get(range)
            .ok_or_else(outside)?
            .iter()
            .map(|&f| {
                inst.funcrefs
                    .get(f as usize)
                    .map(|r| r as *const VmFuncRef as usize)
                    .ok_or_else(|| Error::runtime("unknown function").with_index(f))
            })
            .collect(),
        ElemItems::Exprs(e) => e
            .get(range)
            .ok_or_else(outside)?
            .iter()
            .map(|r| {
                let bytes = module
                    .bytes
                    .get(r.clone())
                    .ok_or_else(|| Error::runtime("element segment out of the module"))?;
                let expr = ConstExpr {
                    bytes,
                    offset: r.start,
                };
                super::instance::eval_const(&expr, &inst.funcrefs, &lookup).map(|v| v as usize)
            })
            .collect(),
    }
}
