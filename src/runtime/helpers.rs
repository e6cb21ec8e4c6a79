//! The runtime helpers generated code reaches through `ExitCode::Helper`:
//! `table.grow/fill/copy/init`, `elem.drop`, `memory.init/copy/fill`,
//! `data.drop` (see [`crate::abi::Helper`] for the area layout).
//!
//! `table.init` and `memory.init` find their segment through the ranges the
//! module kept of its bytes ([`ModuleInner`](super::module::ModuleInner)),
//! without decoding again.

use super::module::ElemItems;
use super::store::StoreInner;
use crate::abi::{Helper, TrapCode, VmFuncRef};
use crate::decode::ConstExpr;
use crate::error::{Error, Result};
use alloc::vec::Vec;

fn oob_table() -> Error {
    Error::from_trap(TrapCode::TableOutOfBounds)
}

fn oob_memory() -> Error {
    Error::from_trap(TrapCode::MemoryOutOfBounds)
}

/// `start..start + len` if it lies within `size`.
fn range(start: u32, len: u32, size: usize) -> Option<core::ops::Range<usize>> {
    let end = start as usize + len as usize;
    (end <= size).then_some(start as usize..end)
}

/// Number of area slots each helper reads.
pub(crate) fn slots_of(h: Helper) -> usize {
    match h {
        Helper::ElemDrop | Helper::DataDrop => 2,
        Helper::TableGrow => 4,
        _ => 5,
    }
}

impl StoreInner {
    /// Serves one helper exit of `instance`; `area` holds the slots and
    /// receives the result in slot 0.
    pub(crate) fn helper(
        &mut self,
        instance: u32,
        helper: u32,
        area: &mut [u64],
        limiter: Option<&mut dyn super::limits::ResourceLimiter>,
    ) -> Result<()> {
        let h = Helper::from_u32(helper)
            .ok_or_else(|| Error::runtime("unknown runtime helper").with_index(helper))?;
        if area.len() < slots_of(h) {
            return Err(Error::runtime("runtime helper area too small"));
        }
        let a = |i: usize| area[i] as u32;
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
        match h {
            Helper::TableGrow => {
                let t = table(a(0))?;
                let init = area[2] as usize;
                // Refused: -1; the limiter's own error ends the call.
                let r = self.grow_table(t, a(3), init, limiter)?.unwrap_or(u32::MAX);
                area[0] = r as u64;
            }
            Helper::TableFill => {
                let t = table(a(0))?;
                let (dst, val, len) = (a(2), area[3] as usize, a(4));
                let elems = &mut self.tables[t as usize].elements;
                let r = range(dst, len, elems.len()).ok_or_else(oob_table)?;
                elems[r].fill(val);
            }
            Helper::TableCopy => {
                let (dt, st) = (table(a(0))?, table(a(1))?);
                let (dst, src, len) = (a(2), a(3), a(4));
                let sr = range(src, len, self.tables[st as usize].elements.len())
                    .ok_or_else(oob_table)?;
                let dr = range(dst, len, self.tables[dt as usize].elements.len())
                    .ok_or_else(oob_table)?;
                if dt == st {
                    self.tables[dt as usize].elements.copy_within(sr, dr.start);
                } else {
                    let items: Vec<usize> = self.tables[st as usize].elements[sr].to_vec();
                    self.tables[dt as usize].elements[dr].copy_from_slice(&items);
                }
            }
            Helper::TableInit => {
                let t = table(a(0))?;
                let seg = a(1);
                let (dst, src, len) = (a(2), a(3), a(4));
                let items = if inst
                    .dropped_elems
                    .get(seg as usize)
                    .copied()
                    .unwrap_or(true)
                {
                    Vec::new()
                } else {
                    self.elem_items(instance, seg)?
                };
                let sr = range(src, len, items.len()).ok_or_else(oob_table)?;
                let elems = &mut self.tables[t as usize].elements;
                let dr = range(dst, len, elems.len()).ok_or_else(oob_table)?;
                elems[dr].copy_from_slice(&items[sr]);
            }
            Helper::ElemDrop => {
                if let Some(d) = self.instances[instance as usize]
                    .dropped_elems
                    .get_mut(a(0) as usize)
                {
                    *d = true;
                }
            }
            Helper::DataDrop => {
                if let Some(d) = self.instances[instance as usize]
                    .dropped_data
                    .get_mut(a(0) as usize)
                {
                    *d = true;
                }
            }
            Helper::MemoryInit => {
                let m = memory(a(0))?;
                let seg = a(1);
                let (dst, src, len) = (a(2), a(3), a(4));
                let dropped = inst.dropped_data.get(seg as usize).copied().unwrap_or(true);
                let module = &inst._module.inner;
                let data: &[u8] = match module.data_segments.get(seg as usize) {
                    Some(r) if !dropped => module
                        .bytes
                        .get(r.clone())
                        .ok_or_else(|| Error::runtime("data segment out of the module"))?,
                    _ => &[],
                };
                let sr = range(src, len, data.len()).ok_or_else(oob_memory)?;
                let bytes = &mut self.memories[m as usize].bytes;
                let dr = range(dst, len, bytes.len()).ok_or_else(oob_memory)?;
                bytes[dr].copy_from_slice(&data[sr]);
            }
            Helper::MemoryCopy => {
                let (dm, sm) = (memory(a(0))?, memory(a(1))?);
                let (dst, src, len) = (a(2), a(3), a(4));
                let sr = range(src, len, self.memories[sm as usize].bytes.len())
                    .ok_or_else(oob_memory)?;
                let dr = range(dst, len, self.memories[dm as usize].bytes.len())
                    .ok_or_else(oob_memory)?;
                if dm == sm {
                    self.memories[dm as usize].bytes.copy_within(sr, dr.start);
                } else {
                    let tmp = self.memories[sm as usize].bytes[sr].to_vec();
                    self.memories[dm as usize].bytes[dr].copy_from_slice(&tmp);
                }
            }
            Helper::MemoryFill => {
                let m = memory(a(0))?;
                let (dst, val, len) = (a(2), a(3) as u8, a(4));
                let bytes = &mut self.memories[m as usize].bytes;
                let r = range(dst, len, bytes.len()).ok_or_else(oob_memory)?;
                bytes[r].fill(val);
            }
        }
        Ok(())
    }

    /// The raw references of element segment `seg` of `instance`.
    fn elem_items(&self, instance: u32, seg: u32) -> Result<Vec<usize>> {
        let inst = &self.instances[instance as usize];
        let module = &inst._module.inner;
        let seg = module
            .elem_segments
            .get(seg as usize)
            .ok_or_else(|| Error::runtime("unknown element segment").with_index(seg))?;
        let lookup = |g: u32| {
            inst.globals
                .get(g as usize)
                .and_then(|&g| self.globals.get(g as usize))
                .map(|g| g.get())
        };
        match seg {
            ElemItems::Functions(f) => f
                .iter()
                .map(|&f| {
                    inst.funcrefs
                        .get(f as usize)
                        .map(|r| r as *const VmFuncRef as usize)
                        .ok_or_else(|| Error::runtime("unknown function").with_index(f))
                })
                .collect(),
            ElemItems::Exprs(e) => e
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
}
