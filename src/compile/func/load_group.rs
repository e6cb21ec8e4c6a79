//! Load groups: loads off one base local that share one bounds check.
//!
//! Unrolled loops read neighbouring elements through one local, each
//! address `local.get L; i32.const C; i32.add` (or `local.get L` alone,
//! `C = 0`) and the load's own offset. With explicit bounds checks each
//! load compares with the memory's length; a *group* compares once, at
//! its first load, against the end of the group's furthest access, and
//! the others go unchecked.
//!
//! That moves the later loads' checks earlier, across the code between
//! them, which is sound only when nothing there is observable or can trap
//! first: a failed group check then traps at the first load that really
//! faults, with that load's module offset, and the operators skipped
//! between the first load and it had no effect a host could see after
//! the trap. So [`scan`] admits between the group's loads only operators
//! that neither trap, store, call, branch nor write `L` (which would
//! change the later addresses): constants, `local.get`, `global.get`,
//! `local.set` and `local.tee` of other locals, `drop`, `select`, and the
//! numeric operators that cannot trap. Any other operator, including a
//! load that is not a member, ends the group before it. The group is
//! straight-line code, so nothing enters it in the middle.
//!
//! The group check proves `a0 + extent <= length`, where `a0` is the first
//! load's 32-bit address and each later member's address is `a0 + delta`
//! for a `delta` below 2^31 (so it cannot wrap below 2^32 once the check
//! passed). The out-of-line path of a failed check
//! (`FuncCompiler::check_load_group`) checks each member exactly, in
//! order, traps at the first that faults and otherwise comes back (with
//! 4 GiB memories an address may wrap to a valid one).

use crate::decode::Reader;

/// The most loads one group holds.
pub(crate) const GROUP_MAX: usize = 8;

/// One load of a group.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub(crate) struct Member {
    /// Module offset of the load operator.
    pub at: u32,
    /// Its 32-bit address minus the first member's, modulo 2^32: below
    /// 2^31.
    pub delta: u32,
    /// Its memarg offset plus its size: where it ends past its address.
    pub end: u32,
}

/// Loads off one base local that share one bounds check (see the module
/// doc), in program order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LoadGroup {
    pub members: [Member; GROUP_MAX],
    pub len: usize,
    /// The furthest end of a member past the first member's address
    /// (`delta + end`, below 2^31).
    pub extent: u32,
    /// How many members the compiler has passed.
    pub next: usize,
    /// Whether the first member's check covered the group, so later
    /// members go unchecked.
    pub armed: bool,
}

impl LoadGroup {
    /// The members.
    pub(crate) fn members(&self) -> &[Member] {
        &self.members[..self.len]
    }

    /// The module offset of the last member.
    pub(crate) fn last(&self) -> u32 {
        self.members[self.len - 1].at
    }
}

/// The group whose first member's address starts with the `local.get
/// local` just read (`r` is past it), if at least two loads form one.
pub(crate) fn scan(r: &mut Reader<'_>, local: u32) -> Option<LoadGroup> {
    let (c0, first) = member(r)?;
    if first.end > i32::MAX as u32 {
        return None;
    }
    let mut g = LoadGroup {
        members: [Member::default(); GROUP_MAX],
        len: 1,
        extent: first.end,
        next: 0,
        armed: false,
    };
    g.members[0] = first;
    while g.len < GROUP_MAX {
        let Ok(opcode) = r.read_u8() else { break };
        match opcode {
            LOCAL_GET => {
                let Ok(x) = r.read_var_u32() else { break };
                if x != local {
                    continue;
                }
                let mut ahead = r.clone();
                let Some((c, mut m)) = member(&mut ahead) else {
                    continue;
                };
                m.delta = c.wrapping_sub(c0);
                let extent = u64::from(m.delta) + u64::from(m.end);
                if extent > i32::MAX as u64 {
                    break;
                }
                g.extent = g.extent.max(extent as u32);
                g.members[g.len] = m;
                g.len += 1;
                *r = ahead;
            }
            LOCAL_SET | LOCAL_TEE => match r.read_var_u32() {
                Ok(x) if x != local => {}
                _ => break,
            },
            GLOBAL_GET => {
                if r.read_var_u32().is_err() {
                    break;
                }
            }
            I32_CONST => {
                if r.read_var_i32().is_err() {
                    break;
                }
            }
            I64_CONST => {
                if r.read_var_i64().is_err() {
                    break;
                }
            }
            F32_CONST => {
                if r.read_bytes(4).is_err() {
                    break;
                }
            }
            F64_CONST => {
                if r.read_bytes(8).is_err() {
                    break;
                }
            }
            DROP | SELECT => {}
            op if is_pure(op) => {}
            _ => break,
        }
    }
    (g.len >= 2).then_some(g)
}

/// Reads the rest of a member after its `local.get`: `[i32.const C; i32.add]` then a load of memory 0. Returns
/// `C` and the member (`delta` 0), or `None` if `r` holds something else.
fn member(r: &mut Reader<'_>) -> Option<(u32, Member)> {
    let mut c = 0u32;
    let mut opcode = r.read_u8().ok()?;
    if opcode == I32_CONST {
        c = r.read_var_i32().ok()? as u32;
        if r.read_u8().ok()? != I32_ADD {
            return None;
        }
        opcode = r.read_u8().ok()?;
    }
    let at = (r.offset() - 1) as u32;
    let size = load_size(opcode)?;
    let flags = r.read_var_u32().ok()?;
    if flags & 0x40 != 0 && r.read_var_u32().ok()? != 0 {
        return None;
    }
    let offset = r.read_var_u64().ok()?;
    let end = offset.checked_add(u64::from(size))?;
    let end = u32::try_from(end).ok()?;
    Some((c, Member { at, delta: 0, end }))
}

/// The size of a scalar load's access, by opcode (`i32.load` to
/// `i64.load32_u`).
fn load_size(opcode: u8) -> Option<u32> {
    Some(match opcode {
        0x28 | 0x2a | 0x34 | 0x35 => 4,
        0x29 | 0x2b => 8,
        0x2c | 0x2d | 0x30 | 0x31 => 1,
        0x2e | 0x2f | 0x32 | 0x33 => 2,
        _ => return None,
    })
}

/// The numeric operators that cannot trap: comparisons, integer
/// arithmetic but division and remainder, float arithmetic, and the
/// conversions but the truncations of floats to integers.
fn is_pure(opcode: u8) -> bool {
    matches!(opcode, 0x45..=0x6c | 0x71..=0x7e | 0x83..=0xa7 | 0xac..=0xad | 0xb2..=0xc4)
}

const DROP: u8 = 0x1a;
const SELECT: u8 = 0x1b;
const LOCAL_GET: u8 = 0x20;
const LOCAL_SET: u8 = 0x21;
const LOCAL_TEE: u8 = 0x22;
const GLOBAL_GET: u8 = 0x23;
const I32_CONST: u8 = 0x41;
const I64_CONST: u8 = 0x42;
const F32_CONST: u8 = 0x43;
const F64_CONST: u8 = 0x44;
const I32_ADD: u8 = 0x6a;

#[cfg(test)]
mod tests {
    use super::*;

    fn group(code: &[u8]) -> Option<LoadGroup> {
        // The code starts after `local.get 3`, at module offset 100.
        scan(&mut Reader::new(code, 100), 3)
    }

    /// `i32.const C; i32.add; i32.load8_u` (C below 64).
    fn byte_at(c: u8) -> [u8; 6] {
        [I32_CONST, c, I32_ADD, 0x2d, 0, 0]
    }

    #[test]
    fn sieve_counting_loop() {
        // local.get 4; local.get 3; [C; add; load8_u]; i32.add; local.get 3 ...
        let mut code = alloc::vec::Vec::new();
        for k in 0..4u8 {
            if k > 0 {
                code.extend([LOCAL_GET, 3]);
            }
            code.extend(byte_at(16 + k));
            code.push(I32_ADD);
        }
        code.extend([LOCAL_SET, 4, LOCAL_GET, 3, 0x0d, 0]);
        let g = group(&code).unwrap();
        assert_eq!(g.len, 4);
        assert_eq!(g.extent, 4);
        let deltas: alloc::vec::Vec<_> = g.members().iter().map(|m| m.delta).collect();
        assert_eq!(deltas, [0, 1, 2, 3]);
        assert_eq!(g.members[0].at, 103);
        assert_eq!(g.members[1].at, 103 + 9);
    }

    #[test]
    fn stops_at_stores_calls_traps_and_writes_of_the_base() {
        for stop in [
            &[0x36, 2, 0][..], // i32.store
            &[0x10, 0],        // call
            &[0x6d],           // i32.div_s
            &[0xa8],           // i32.trunc_f32_s
            &[0x0c, 0],        // br
            &[LOCAL_TEE, 3],   // the base changes
            &[0x28, 2, 0],     // a load of another address
            &[0x40, 0],        // memory.grow
            &[0x24, 0],        // global.set
        ] {
            let mut code = byte_at(0).to_vec();
            code.extend(stop);
            code.extend([LOCAL_GET, 3]);
            code.extend(byte_at(1));
            assert_eq!(group(&code), None, "{stop:?}");
        }
    }

    #[test]
    fn bounds_deltas_and_offsets() {
        // A member below the first: its delta wraps past 2^31.
        let mut code = byte_at(8).to_vec();
        code.extend([LOCAL_GET, 3]);
        code.extend(byte_at(4));
        assert_eq!(group(&code), None);
        // Offsets and sizes: i64.load offset=16 then i32.load.
        let code = [0x29, 3, 16, LOCAL_GET, 3, I32_CONST, 4, I32_ADD, 0x28, 2, 0];
        let g = group(&code).unwrap();
        assert_eq!(g.extent, 24);
        assert_eq!(g.members[1].end, 4);
        assert_eq!(g.members[1].delta, 4);
    }
}
