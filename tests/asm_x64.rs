//! Checks every emit method of the x86-64 assembler by decoding its output
//! with `iced-x86` and comparing against an expectation built here, from the
//! test's own register tables and the Intel manual's semantics, never from
//! the assembler's own output.

// Loops run over register numbers because one number indexes both our
// register table and the decoder's expected-register tables.
#![allow(clippy::needless_range_loop)]

use iced_x86::{Decoder, DecoderOptions, Instruction, Mnemonic, OpKind, Register};
use wasmkern::asm::x64::{
    AluOp, AsmError, Assembler, Cond, CpuFeatures, Gpr, Mem, RelocKind, RoundMode, Scale, ShiftOp,
    Size, SseOp, UnaryOp, Xmm, XmmShift,
};

// ----- independent register tables -----

const GPRS: [Gpr; 16] = [
    Gpr::Rax,
    Gpr::Rcx,
    Gpr::Rdx,
    Gpr::Rbx,
    Gpr::Rsp,
    Gpr::Rbp,
    Gpr::Rsi,
    Gpr::Rdi,
    Gpr::R8,
    Gpr::R9,
    Gpr::R10,
    Gpr::R11,
    Gpr::R12,
    Gpr::R13,
    Gpr::R14,
    Gpr::R15,
];

use Register as R;
const R64: [Register; 16] = [
    R::RAX,
    R::RCX,
    R::RDX,
    R::RBX,
    R::RSP,
    R::RBP,
    R::RSI,
    R::RDI,
    R::R8,
    R::R9,
    R::R10,
    R::R11,
    R::R12,
    R::R13,
    R::R14,
    R::R15,
];
const R32: [Register; 16] = [
    R::EAX,
    R::ECX,
    R::EDX,
    R::EBX,
    R::ESP,
    R::EBP,
    R::ESI,
    R::EDI,
    R::R8D,
    R::R9D,
    R::R10D,
    R::R11D,
    R::R12D,
    R::R13D,
    R::R14D,
    R::R15D,
];
const R16: [Register; 16] = [
    R::AX,
    R::CX,
    R::DX,
    R::BX,
    R::SP,
    R::BP,
    R::SI,
    R::DI,
    R::R8W,
    R::R9W,
    R::R10W,
    R::R11W,
    R::R12W,
    R::R13W,
    R::R14W,
    R::R15W,
];
const R8: [Register; 16] = [
    R::AL,
    R::CL,
    R::DL,
    R::BL,
    R::SPL,
    R::BPL,
    R::SIL,
    R::DIL,
    R::R8L,
    R::R9L,
    R::R10L,
    R::R11L,
    R::R12L,
    R::R13L,
    R::R14L,
    R::R15L,
];
const XMMS: [Xmm; 16] = [
    Xmm::Xmm0,
    Xmm::Xmm1,
    Xmm::Xmm2,
    Xmm::Xmm3,
    Xmm::Xmm4,
    Xmm::Xmm5,
    Xmm::Xmm6,
    Xmm::Xmm7,
    Xmm::Xmm8,
    Xmm::Xmm9,
    Xmm::Xmm10,
    Xmm::Xmm11,
    Xmm::Xmm12,
    Xmm::Xmm13,
    Xmm::Xmm14,
    Xmm::Xmm15,
];
const RX: [Register; 16] = [
    R::XMM0,
    R::XMM1,
    R::XMM2,
    R::XMM3,
    R::XMM4,
    R::XMM5,
    R::XMM6,
    R::XMM7,
    R::XMM8,
    R::XMM9,
    R::XMM10,
    R::XMM11,
    R::XMM12,
    R::XMM13,
    R::XMM14,
    R::XMM15,
];

const SIZES: [Size; 4] = [Size::S8, Size::S16, Size::S32, Size::S64];
const WIDE: [Size; 3] = [Size::S16, Size::S32, Size::S64];

fn reg(size: Size, i: usize) -> Register {
    match size {
        Size::S8 => R8[i],
        Size::S16 => R16[i],
        Size::S32 => R32[i],
        Size::S64 => R64[i],
    }
}

fn bits(size: Size) -> u32 {
    match size {
        Size::S8 => 8,
        Size::S16 => 16,
        Size::S32 => 32,
        Size::S64 => 64,
    }
}

fn bytes_of(size: Size) -> usize {
    bits(size) as usize / 8
}

// ----- operands as the decoder sees them -----

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    R(Register),
    /// base, index, scale, displacement (absolute target for RIP), size in
    /// bytes (`None`: not checked).
    M(Register, Register, u32, u64, Option<usize>),
    /// width in bits, value truncated to the width.
    I(u32, u64),
    /// Branch target.
    B(u64),
}

fn imm(width: u32, v: i64) -> Op {
    let mask = if width == 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    };
    Op::I(width, v as u64 & mask)
}

fn decode_all(bytes: &[u8]) -> Vec<Instruction> {
    let mut d = Decoder::with_ip(64, bytes, 0, DecoderOptions::NONE);
    let mut out = Vec::new();
    while d.can_decode() {
        let ins = d.decode();
        assert!(!ins.is_invalid(), "invalid encoding {bytes:02x?}");
        out.push(ins);
    }
    out
}

fn decode1(bytes: &[u8]) -> Instruction {
    let all = decode_all(bytes);
    assert_eq!(all.len(), 1, "expected one instruction in {bytes:02x?}");
    all[0]
}

fn operands(ins: &Instruction, expected: &[Op]) -> Vec<Op> {
    (0..ins.op_count())
        .map(|i| match ins.op_kind(i) {
            OpKind::Register => Op::R(ins.op_register(i)),
            OpKind::Memory => {
                let check_size = matches!(expected.get(i as usize), Some(Op::M(.., Some(_))));
                Op::M(
                    ins.memory_base(),
                    ins.memory_index(),
                    ins.memory_index_scale(),
                    ins.memory_displacement64(),
                    check_size.then(|| mem_bytes(ins.memory_size())),
                )
            }
            OpKind::NearBranch64 => Op::B(ins.near_branch_target()),
            k => {
                let width = match k {
                    OpKind::Immediate8 => 8,
                    OpKind::Immediate16 | OpKind::Immediate8to16 => 16,
                    OpKind::Immediate32 | OpKind::Immediate8to32 => 32,
                    OpKind::Immediate64 | OpKind::Immediate8to64 | OpKind::Immediate32to64 => 64,
                    k => panic!("unexpected operand kind {k:?}"),
                };
                imm(width, ins.immediate(i) as i64)
            }
        })
        .collect()
}

/// The width in bytes of a decoded memory operand. (`MemorySize::size`
/// needs iced features we do not enable, so read it from the name.)
fn mem_bytes(ms: iced_x86::MemorySize) -> usize {
    let name = format!("{ms:?}");
    match name.as_str() {
        "Unknown" => 0,
        "WordOffset" => 2,
        "DwordOffset" => 4,
        "QwordOffset" => 8,
        n if n.starts_with("Packed128") => 16,
        n if n.starts_with("Packed64") => 8,
        n if n.starts_with("Packed32") => 4,
        n => {
            let digits = n.trim_start_matches(|c: char| !c.is_ascii_digit());
            digits.parse::<usize>().expect("a sized memory operand") / 8
        }
    }
}

#[track_caller]
fn check(bytes: &[u8], mnemonic: Mnemonic, expected: &[Op]) -> Instruction {
    let ins = decode1(bytes);
    let got = operands(&ins, expected);
    assert_eq!(
        (ins.mnemonic(), got.as_slice()),
        (mnemonic, expected),
        "bytes {bytes:02x?}"
    );
    ins
}

/// Assembles one instruction with `f` and returns its bytes.
/// The bytes `f` emits, the same from a new assembler and from one whose
/// buffer has room (the assembler's fast paths write only into room it
/// already has).
fn asm(mut f: impl FnMut(&mut Assembler)) -> Vec<u8> {
    let mut a = Assembler::new();
    f(&mut a);
    let bytes = a.finish().expect("assembles").bytes;
    let mut roomy = Assembler::with_buffer(Vec::with_capacity(4096));
    f(&mut roomy);
    let roomy = roomy.finish().expect("assembles").bytes;
    assert_eq!(roomy, bytes, "with room in the buffer");
    bytes
}

// ----- memory operand sweeps -----

const DISPS: [i32; 9] = [0, 1, -1, 127, 128, -128, -129, i32::MIN, i32::MAX];

/// (operand, expected base, index, scale, disp).
type MemCase = (Mem, Register, Register, u32, u64);

fn mem_case(b: usize, index: Option<(usize, usize)>, disp: i32) -> MemCase {
    let scales = [Scale::X1, Scale::X2, Scale::X4, Scale::X8];
    match index {
        None => (
            Mem::base(GPRS[b], disp),
            R64[b],
            R::None,
            1,
            disp as i64 as u64,
        ),
        Some((i, s)) => (
            Mem::indexed(GPRS[b], GPRS[i], scales[s], disp),
            R64[b],
            R64[i],
            1 << s,
            disp as i64 as u64,
        ),
    }
}

/// Every base × every index (but rsp) and none × every scale × every
/// displacement.
fn mems_full() -> Vec<MemCase> {
    let mut v = Vec::new();
    for b in 0..16 {
        for &d in &DISPS {
            v.push(mem_case(b, None, d));
            for i in (0..16).filter(|&i| i != 4) {
                for s in 0..4 {
                    v.push(mem_case(b, Some((i, s)), d));
                }
            }
        }
    }
    v
}

/// A smaller set that still covers each base, each index, each scale and
/// each displacement, with the special bases (rsp, rbp, r12, r13) at every
/// displacement.
fn mems_small() -> Vec<MemCase> {
    let mut v = Vec::new();
    for b in 0..16 {
        v.push(mem_case(b, None, DISPS[b % DISPS.len()]));
        v.push(mem_case(b, None, 0));
    }
    for (k, i) in (0..16).filter(|&i| i != 4).enumerate() {
        v.push(mem_case(
            (k * 7) % 16,
            Some((i, k % 4)),
            DISPS[k % DISPS.len()],
        ));
    }
    for b in [4, 5, 12, 13] {
        for (k, &d) in DISPS.iter().enumerate() {
            v.push(mem_case(b, None, d));
            let i = [0, 5, 13, 12, 15, 8, 1, 9, 3][k];
            v.push(mem_case(b, Some((i, k % 4)), d));
        }
    }
    v
}

fn m(case: &MemCase, size: Option<usize>) -> Op {
    Op::M(case.1, case.2, case.3, case.4, size)
}

const IMMS: [i32; 9] = [0, 1, -1, 127, 128, -128, -129, i32::MAX, i32::MIN];

// ----- integer ALU -----

const ALU: [(AluOp, Mnemonic); 8] = [
    (AluOp::Add, Mnemonic::Add),
    (AluOp::Or, Mnemonic::Or),
    (AluOp::Adc, Mnemonic::Adc),
    (AluOp::Sbb, Mnemonic::Sbb),
    (AluOp::And, Mnemonic::And),
    (AluOp::Sub, Mnemonic::Sub),
    (AluOp::Xor, Mnemonic::Xor),
    (AluOp::Cmp, Mnemonic::Cmp),
];

#[test]
fn alu_register_register() {
    for (op, mn) in ALU {
        for size in SIZES {
            for d in 0..16 {
                for s in 0..16 {
                    let b = asm(|a| a.alu_rr(op, size, GPRS[d], GPRS[s]));
                    check(&b, mn, &[Op::R(reg(size, d)), Op::R(reg(size, s))]);
                }
            }
        }
    }
}

#[test]
fn alu_register_memory() {
    let mems = mems_small();
    for (op, mn) in ALU {
        for size in SIZES {
            for r in 0..16 {
                for mc in &mems {
                    let sz = Some(bytes_of(size));
                    let b = asm(|a| a.alu_rm(op, size, GPRS[r], mc.0));
                    check(&b, mn, &[Op::R(reg(size, r)), m(mc, sz)]);
                    let b = asm(|a| a.alu_mr(op, size, mc.0, GPRS[r]));
                    check(&b, mn, &[m(mc, sz), Op::R(reg(size, r))]);
                }
            }
        }
    }
}

#[test]
fn alu_immediate() {
    let mems = mems_small();
    for (op, mn) in ALU {
        for size in SIZES {
            let w = bits(size);
            for &v in &IMMS {
                for r in 0..16 {
                    let b = asm(|a| a.alu_ri(op, size, GPRS[r], v));
                    let ins = check(&b, mn, &[Op::R(reg(size, r)), imm(w, v.into())]);
                    if size != Size::S8 {
                        let short = matches!(
                            ins.op_kind(1),
                            OpKind::Immediate8to16
                                | OpKind::Immediate8to32
                                | OpKind::Immediate8to64
                        );
                        assert_eq!(short, (-128..=127).contains(&v), "imm8 form for {v}");
                    }
                }
                for mc in &mems {
                    let b = asm(|a| a.alu_mi(op, size, mc.0, v));
                    check(&b, mn, &[m(mc, Some(bytes_of(size))), imm(w, v.into())]);
                }
            }
        }
    }
}

#[test]
fn alu_immediate_patchable() {
    for (op, mn) in ALU {
        for size in [Size::S32, Size::S64] {
            for r in 0..16 {
                for &v in &IMMS {
                    let mut at = 0;
                    let mut b = asm(|a| at = a.alu_ri_imm32(op, size, GPRS[r], 0));
                    assert_eq!(at + 4, b.len(), "the immediate ends the instruction");
                    b[at..].copy_from_slice(&v.to_le_bytes());
                    let ins = check(&b, mn, &[Op::R(reg(size, r)), imm(bits(size), v.into())]);
                    assert!(
                        matches!(
                            ins.op_kind(1),
                            OpKind::Immediate32 | OpKind::Immediate32to64
                        ),
                        "always the 32-bit form"
                    );
                }
            }
        }
    }
}

#[test]
fn test_instruction() {
    let mems = mems_small();
    for size in SIZES {
        let sz = Some(bytes_of(size));
        for x in 0..16 {
            for y in 0..16 {
                let b = asm(|a| a.test_rr(size, GPRS[x], GPRS[y]));
                check(
                    &b,
                    Mnemonic::Test,
                    &[Op::R(reg(size, x)), Op::R(reg(size, y))],
                );
            }
            for &v in &IMMS {
                let b = asm(|a| a.test_ri(size, GPRS[x], v));
                check(
                    &b,
                    Mnemonic::Test,
                    &[Op::R(reg(size, x)), imm(bits(size), v.into())],
                );
            }
            for mc in &mems {
                let b = asm(|a| a.test_mr(size, mc.0, GPRS[x]));
                check(&b, Mnemonic::Test, &[m(mc, sz), Op::R(reg(size, x))]);
            }
        }
        for mc in &mems {
            for &v in &IMMS {
                let b = asm(|a| a.test_mi(size, mc.0, v));
                check(&b, Mnemonic::Test, &[m(mc, sz), imm(bits(size), v.into())]);
            }
        }
    }
}

#[test]
fn unary_group() {
    let ops = [
        (UnaryOp::Not, Mnemonic::Not),
        (UnaryOp::Neg, Mnemonic::Neg),
        (UnaryOp::Mul, Mnemonic::Mul),
        (UnaryOp::Imul, Mnemonic::Imul),
        (UnaryOp::Div, Mnemonic::Div),
        (UnaryOp::Idiv, Mnemonic::Idiv),
    ];
    let mems = mems_small();
    for (op, mn) in ops {
        for size in SIZES {
            for r in 0..16 {
                let b = asm(|a| a.unary_r(op, size, GPRS[r]));
                check(&b, mn, &[Op::R(reg(size, r))]);
            }
            for mc in &mems {
                let b = asm(|a| a.unary_m(op, size, mc.0));
                check(&b, mn, &[m(mc, Some(bytes_of(size)))]);
            }
        }
    }
}

#[test]
fn imul_forms() {
    let mems = mems_small();
    for size in WIDE {
        let sz = Some(bytes_of(size));
        for d in 0..16 {
            for s in 0..16 {
                let b = asm(|a| a.imul_rr(size, GPRS[d], GPRS[s]));
                check(
                    &b,
                    Mnemonic::Imul,
                    &[Op::R(reg(size, d)), Op::R(reg(size, s))],
                );
                for &v in &IMMS {
                    let b = asm(|a| a.imul_rri(size, GPRS[d], GPRS[s], v));
                    let want = [
                        Op::R(reg(size, d)),
                        Op::R(reg(size, s)),
                        imm(bits(size), v.into()),
                    ];
                    check(&b, Mnemonic::Imul, &want);
                }
            }
            for mc in &mems {
                let b = asm(|a| a.imul_rm(size, GPRS[d], mc.0));
                check(&b, Mnemonic::Imul, &[Op::R(reg(size, d)), m(mc, sz)]);
                for v in [5, -129] {
                    let b = asm(|a| a.imul_rmi(size, GPRS[d], mc.0, v));
                    let want = [Op::R(reg(size, d)), m(mc, sz), imm(bits(size), v.into())];
                    check(&b, Mnemonic::Imul, &want);
                }
            }
        }
    }
}

#[test]
fn sign_extension_of_rax() {
    check(&asm(|a| a.cdq()), Mnemonic::Cdq, &[]);
    check(&asm(|a| a.cqo()), Mnemonic::Cqo, &[]);
}

#[test]
fn shifts_and_rotates() {
    let ops = [
        (ShiftOp::Rol, Mnemonic::Rol),
        (ShiftOp::Ror, Mnemonic::Ror),
        (ShiftOp::Rcl, Mnemonic::Rcl),
        (ShiftOp::Rcr, Mnemonic::Rcr),
        (ShiftOp::Shl, Mnemonic::Shl),
        (ShiftOp::Shr, Mnemonic::Shr),
        (ShiftOp::Sar, Mnemonic::Sar),
    ];
    let mems = mems_small();
    for (op, mn) in ops {
        for size in SIZES {
            for r in 0..16 {
                let b = asm(|a| a.shift_rcl(op, size, GPRS[r]));
                check(&b, mn, &[Op::R(reg(size, r)), Op::R(R::CL)]);
                for n in [0u8, 1, 2, 31, 63, 255] {
                    let b = asm(|a| a.shift_ri(op, size, GPRS[r], n));
                    check(&b, mn, &[Op::R(reg(size, r)), imm(8, n.into())]);
                }
            }
            for mc in &mems {
                let sz = Some(bytes_of(size));
                let b = asm(|a| a.shift_mcl(op, size, mc.0));
                check(&b, mn, &[m(mc, sz), Op::R(R::CL)]);
                for n in [1u8, 7] {
                    let b = asm(|a| a.shift_mi(op, size, mc.0, n));
                    check(&b, mn, &[m(mc, sz), imm(8, n.into())]);
                }
            }
        }
    }
}

#[test]
fn bmi2_shifts_take_any_count_register() {
    let ops = [
        (ShiftOp::Shl, Mnemonic::Shlx),
        (ShiftOp::Shr, Mnemonic::Shrx),
        (ShiftOp::Sar, Mnemonic::Sarx),
    ];
    for (op, mn) in ops {
        for size in [Size::S32, Size::S64] {
            for dst in 0..16 {
                for src in [0, 1, 5, 7, 8, 13, 15] {
                    for count in [0, 1, 4, 6, 9, 12, 15] {
                        let b = asm(|a| {
                            assert!(a.shiftx_rrr(op, size, GPRS[dst], GPRS[src], GPRS[count]));
                        });
                        check(
                            &b,
                            mn,
                            &[
                                Op::R(reg(size, dst)),
                                Op::R(reg(size, src)),
                                Op::R(reg(size, count)),
                            ],
                        );
                    }
                }
            }
        }
    }
    // The rotates have no BMI2 form with a register count.
    for op in [ShiftOp::Rol, ShiftOp::Ror, ShiftOp::Rcl, ShiftOp::Rcr] {
        let b = asm(|a| assert!(!a.shiftx_rrr(op, Size::S64, Gpr::Rax, Gpr::Rcx, Gpr::Rdx)));
        assert!(b.is_empty(), "{op:?} emitted {b:02x?}");
    }
}

#[test]
fn lea_full_addressing_sweep() {
    let mems = mems_full();
    for size in [Size::S32, Size::S64] {
        for r in [0, 4, 5, 8, 12, 13, 15] {
            for mc in &mems {
                let b = asm(|a| a.lea(size, GPRS[r], mc.0));
                check(&b, Mnemonic::Lea, &[Op::R(reg(size, r)), m(mc, None)]);
            }
        }
    }
}

// ----- moves -----

#[test]
fn mov_register_and_memory() {
    for size in SIZES {
        for d in 0..16 {
            for s in 0..16 {
                let b = asm(|a| a.mov_rr(size, GPRS[d], GPRS[s]));
                check(
                    &b,
                    Mnemonic::Mov,
                    &[Op::R(reg(size, d)), Op::R(reg(size, s))],
                );
            }
        }
    }
    let full = mems_full();
    let small = mems_small();
    for size in SIZES {
        let sz = Some(bytes_of(size));
        for r in [0, 4, 5, 6, 7, 12, 13] {
            for mc in &full {
                let b = asm(|a| a.mov_rm(size, GPRS[r], mc.0));
                check(&b, Mnemonic::Mov, &[Op::R(reg(size, r)), m(mc, sz)]);
                let b = asm(|a| a.mov_mr(size, mc.0, GPRS[r]));
                check(&b, Mnemonic::Mov, &[m(mc, sz), Op::R(reg(size, r))]);
            }
        }
        for r in 0..16 {
            for mc in &small {
                let b = asm(|a| a.mov_rm(size, GPRS[r], mc.0));
                check(&b, Mnemonic::Mov, &[Op::R(reg(size, r)), m(mc, sz)]);
                let b = asm(|a| a.mov_mr(size, mc.0, GPRS[r]));
                check(&b, Mnemonic::Mov, &[m(mc, sz), Op::R(reg(size, r))]);
            }
        }
        for mc in &small {
            for &v in &IMMS {
                let b = asm(|a| a.mov_mi(size, mc.0, v));
                check(&b, Mnemonic::Mov, &[m(mc, sz), imm(bits(size), v.into())]);
            }
        }
    }
}

#[test]
fn mov_immediate_picks_the_shortest_form() {
    let values: [i64; 16] = [
        0,
        1,
        -1,
        127,
        128,
        -128,
        -129,
        i32::MAX as i64,
        i32::MIN as i64,
        u32::MAX as i64,
        u32::MAX as i64 + 1,
        0x1234_5678_9abc_def0,
        i64::MAX,
        i64::MIN,
        i32::MIN as i64 - 1,
        -0x8000_0000_0000,
    ];
    for r in 0..16 {
        for &v in &values {
            for size in [Size::S8, Size::S16, Size::S32] {
                let b = asm(|a| a.mov_ri(size, GPRS[r], v));
                check(
                    &b,
                    Mnemonic::Mov,
                    &[Op::R(reg(size, r)), imm(bits(size), v)],
                );
            }
            let b = asm(|a| a.mov_ri(Size::S64, GPRS[r], v));
            let rex = usize::from(r >= 8);
            if (0..=u32::MAX as i64).contains(&v) {
                // Writing the 32-bit register zero-extends.
                check(&b, Mnemonic::Mov, &[Op::R(R32[r]), imm(32, v)]);
                assert_eq!(b.len(), 5 + rex);
            } else if i32::try_from(v).is_ok() {
                check(&b, Mnemonic::Mov, &[Op::R(R64[r]), imm(64, v)]);
                assert_eq!(b.len(), 7);
            } else {
                check(&b, Mnemonic::Mov, &[Op::R(R64[r]), imm(64, v)]);
                assert_eq!(b.len(), 10);
            }
            let b = asm(|a| a.movabs_ri(GPRS[r], v as u64));
            check(&b, Mnemonic::Mov, &[Op::R(R64[r]), imm(64, v)]);
            assert_eq!(b.len(), 10);
        }
    }
}

#[test]
fn zero_and_sign_extension() {
    let mems = mems_small();
    for (to, from) in [
        (Size::S16, Size::S8),
        (Size::S32, Size::S8),
        (Size::S64, Size::S8),
        (Size::S32, Size::S16),
        (Size::S64, Size::S16),
    ] {
        for d in 0..16 {
            for s in 0..16 {
                let want = [Op::R(reg(to, d)), Op::R(reg(from, s))];
                let b = asm(|a| a.movzx_rr(to, from, GPRS[d], GPRS[s]));
                check(&b, Mnemonic::Movzx, &want);
                let b = asm(|a| a.movsx_rr(to, from, GPRS[d], GPRS[s]));
                check(&b, Mnemonic::Movsx, &want);
            }
            for mc in &mems {
                let want = [Op::R(reg(to, d)), m(mc, Some(bytes_of(from)))];
                let b = asm(|a| a.movzx_rm(to, from, GPRS[d], mc.0));
                check(&b, Mnemonic::Movzx, &want);
                let b = asm(|a| a.movsx_rm(to, from, GPRS[d], mc.0));
                check(&b, Mnemonic::Movsx, &want);
            }
        }
    }
    for d in 0..16 {
        for s in 0..16 {
            let b = asm(|a| a.movsxd_rr(GPRS[d], GPRS[s]));
            check(&b, Mnemonic::Movsxd, &[Op::R(R64[d]), Op::R(R32[s])]);
        }
        for mc in &mems {
            let b = asm(|a| a.movsxd_rm(GPRS[d], mc.0));
            check(&b, Mnemonic::Movsxd, &[Op::R(R64[d]), m(mc, Some(4))]);
        }
    }
}

#[test]
fn xchg_push_pop() {
    let mems = mems_small();
    for size in SIZES {
        for x in 0..16 {
            for y in 0..16 {
                let b = asm(|a| a.xchg_rr(size, GPRS[x], GPRS[y]));
                let ins = decode1(&b);
                assert_eq!(ins.mnemonic(), Mnemonic::Xchg, "{b:02x?}");
                // The decoder may list the two registers in either order.
                let mut got = [ins.op_register(0), ins.op_register(1)];
                let mut want = [reg(size, x), reg(size, y)];
                got.sort();
                want.sort();
                assert_eq!(got, want, "{b:02x?}");
            }
            for mc in &mems {
                let b = asm(|a| a.xchg_mr(size, mc.0, GPRS[x]));
                let sz = Some(bytes_of(size));
                check(&b, Mnemonic::Xchg, &[m(mc, sz), Op::R(reg(size, x))]);
            }
        }
    }
    for r in 0..16 {
        check(
            &asm(|a| a.push_r(GPRS[r])),
            Mnemonic::Push,
            &[Op::R(R64[r])],
        );
        check(&asm(|a| a.pop_r(GPRS[r])), Mnemonic::Pop, &[Op::R(R64[r])]);
    }
    for &v in &IMMS {
        check(&asm(|a| a.push_i(v)), Mnemonic::Push, &[imm(64, v.into())]);
    }
    for mc in &mems {
        check(&asm(|a| a.push_m(mc.0)), Mnemonic::Push, &[m(mc, Some(8))]);
        check(&asm(|a| a.pop_m(mc.0)), Mnemonic::Pop, &[m(mc, Some(8))]);
    }
}

// ----- conditions -----

const CONDS: [(Cond, Mnemonic, Mnemonic, Mnemonic); 16] = [
    (Cond::O, Mnemonic::Jo, Mnemonic::Seto, Mnemonic::Cmovo),
    (Cond::No, Mnemonic::Jno, Mnemonic::Setno, Mnemonic::Cmovno),
    (Cond::B, Mnemonic::Jb, Mnemonic::Setb, Mnemonic::Cmovb),
    (Cond::Ae, Mnemonic::Jae, Mnemonic::Setae, Mnemonic::Cmovae),
    (Cond::E, Mnemonic::Je, Mnemonic::Sete, Mnemonic::Cmove),
    (Cond::Ne, Mnemonic::Jne, Mnemonic::Setne, Mnemonic::Cmovne),
    (Cond::Be, Mnemonic::Jbe, Mnemonic::Setbe, Mnemonic::Cmovbe),
    (Cond::A, Mnemonic::Ja, Mnemonic::Seta, Mnemonic::Cmova),
    (Cond::S, Mnemonic::Js, Mnemonic::Sets, Mnemonic::Cmovs),
    (Cond::Ns, Mnemonic::Jns, Mnemonic::Setns, Mnemonic::Cmovns),
    (Cond::P, Mnemonic::Jp, Mnemonic::Setp, Mnemonic::Cmovp),
    (Cond::Np, Mnemonic::Jnp, Mnemonic::Setnp, Mnemonic::Cmovnp),
    (Cond::L, Mnemonic::Jl, Mnemonic::Setl, Mnemonic::Cmovl),
    (Cond::Ge, Mnemonic::Jge, Mnemonic::Setge, Mnemonic::Cmovge),
    (Cond::Le, Mnemonic::Jle, Mnemonic::Setle, Mnemonic::Cmovle),
    (Cond::G, Mnemonic::Jg, Mnemonic::Setg, Mnemonic::Cmovg),
];

#[test]
fn cond_invert_pairs() {
    let pairs = [
        (Cond::O, Cond::No),
        (Cond::B, Cond::Ae),
        (Cond::E, Cond::Ne),
        (Cond::Be, Cond::A),
        (Cond::S, Cond::Ns),
        (Cond::P, Cond::Np),
        (Cond::L, Cond::Ge),
        (Cond::Le, Cond::G),
    ];
    for (x, y) in pairs {
        assert_eq!(x.invert(), y);
        assert_eq!(y.invert(), x);
    }
}

#[test]
fn setcc_and_cmovcc() {
    let mems = mems_small();
    for (cond, _, set, cmov) in CONDS {
        for r in 0..16 {
            check(&asm(|a| a.setcc(cond, GPRS[r])), set, &[Op::R(R8[r])]);
            for size in WIDE {
                for s in 0..16 {
                    let b = asm(|a| a.cmov_rr(cond, size, GPRS[r], GPRS[s]));
                    check(&b, cmov, &[Op::R(reg(size, r)), Op::R(reg(size, s))]);
                }
                for mc in &mems {
                    let b = asm(|a| a.cmov_rm(cond, size, GPRS[r], mc.0));
                    let want = [Op::R(reg(size, r)), m(mc, Some(bytes_of(size)))];
                    check(&b, cmov, &want);
                }
            }
        }
        for mc in &mems {
            check(&asm(|a| a.setcc_m(cond, mc.0)), set, &[m(mc, Some(1))]);
        }
    }
}

// ----- bits -----

type BitsRr = fn(&mut Assembler, Size, Gpr, Gpr);
type BitsRm = fn(&mut Assembler, Size, Gpr, Mem);

#[test]
fn bit_counts_and_scans() {
    let ops: [(BitsRr, BitsRm, Mnemonic); 5] = [
        (Assembler::lzcnt_rr, Assembler::lzcnt_rm, Mnemonic::Lzcnt),
        (Assembler::tzcnt_rr, Assembler::tzcnt_rm, Mnemonic::Tzcnt),
        (Assembler::popcnt_rr, Assembler::popcnt_rm, Mnemonic::Popcnt),
        (Assembler::bsr_rr, Assembler::bsr_rm, Mnemonic::Bsr),
        (Assembler::bsf_rr, Assembler::bsf_rm, Mnemonic::Bsf),
    ];
    let mems = mems_small();
    for (rr, rm, mn) in ops {
        for size in WIDE {
            for d in 0..16 {
                for s in 0..16 {
                    let b = asm(|a| rr(a, size, GPRS[d], GPRS[s]));
                    check(&b, mn, &[Op::R(reg(size, d)), Op::R(reg(size, s))]);
                }
                for mc in &mems {
                    let b = asm(|a| rm(a, size, GPRS[d], mc.0));
                    let want = [Op::R(reg(size, d)), m(mc, Some(bytes_of(size)))];
                    check(&b, mn, &want);
                }
            }
        }
    }
    for size in WIDE {
        for r in 0..16 {
            for n in [0u8, 5, 31, 63] {
                let b = asm(|a| a.bt_ri(size, GPRS[r], n));
                check(&b, Mnemonic::Bt, &[Op::R(reg(size, r)), imm(8, n.into())]);
            }
            for s in 0..16 {
                let b = asm(|a| a.bt_rr(size, GPRS[r], GPRS[s]));
                check(
                    &b,
                    Mnemonic::Bt,
                    &[Op::R(reg(size, r)), Op::R(reg(size, s))],
                );
            }
        }
    }
}

// ----- control flow -----

#[test]
fn backward_jumps_use_rel8_when_in_reach() {
    for (cond, j, _, _) in CONDS {
        // The jcc ends 128 bytes after the label: rel8 = -128.
        let mut a = Assembler::new();
        let top = a.new_label();
        a.bind(top);
        a.nop_n(126);
        a.jcc(cond, top);
        a.jmp(top);
        let code = a.finish().unwrap().bytes;
        let ins = decode_all(&code);
        let jumps = &ins[ins.len() - 2..];
        assert_eq!((jumps[0].mnemonic(), jumps[0].len()), (j, 2));
        assert_eq!(jumps[0].near_branch_target(), 0);
        // The jmp would end 130 bytes after the label: rel32.
        assert_eq!((jumps[1].mnemonic(), jumps[1].len()), (Mnemonic::Jmp, 5));
        assert_eq!(jumps[1].near_branch_target(), 0);
    }
    for (pad, len) in [(0usize, 2usize), (126, 2), (127, 5)] {
        let mut a = Assembler::new();
        let top = a.new_label();
        a.bind(top);
        a.nop_n(pad);
        a.jmp(top);
        let code = a.finish().unwrap().bytes;
        let last = *decode_all(&code).last().unwrap();
        assert_eq!((last.mnemonic(), last.len()), (Mnemonic::Jmp, len));
        assert_eq!(last.near_branch_target(), 0);
    }
}

#[test]
fn forward_jumps_and_calls_are_patched_at_bind() {
    for (cond, j, _, _) in CONDS {
        let mut a = Assembler::new();
        let fwd = a.new_label();
        a.jcc(cond, fwd);
        a.jmp(fwd);
        a.call(fwd);
        a.nop_n(300);
        a.bind(fwd);
        let target = a.offset() as u64;
        a.ret();
        assert_eq!(a.label_offset(fwd), Some(target as usize));
        let code = a.finish().unwrap().bytes;
        let ins = decode_all(&code);
        assert_eq!((ins[0].mnemonic(), ins[0].len()), (j, 6));
        assert_eq!((ins[1].mnemonic(), ins[1].len()), (Mnemonic::Jmp, 5));
        assert_eq!((ins[2].mnemonic(), ins[2].len()), (Mnemonic::Call, 5));
        for i in &ins[..3] {
            assert_eq!(i.near_branch_target(), target);
        }
    }
    // Far backward jumps and calls.
    let mut a = Assembler::new();
    let top = a.new_label();
    a.bind(top);
    a.nop_n(1000);
    a.jcc(Cond::Ne, top);
    a.call(top);
    let code = a.finish().unwrap().bytes;
    let branches: Vec<_> = decode_all(&code)
        .into_iter()
        .filter(|i| i.mnemonic() != Mnemonic::Nop)
        .collect();
    assert_eq!(branches.len(), 2);
    for i in branches {
        assert_eq!(i.near_branch_target(), 0);
    }
}

/// `jcc_forward`/`jmp_forward` patched by `bind_rel32` emit the bytes of a
/// jump to a label bound at the same place, and land there.
#[test]
fn forward_jumps_without_labels() {
    let conds = [Cond::E, Cond::Ne, Cond::A, Cond::G, Cond::B, Cond::Le];
    for (k, &cond) in conds.iter().enumerate() {
        let with_label = asm(|a| {
            let l = a.new_label();
            a.jcc(cond, l);
            a.jmp(l);
            a.nop_n(k * 37);
            a.bind(l);
            a.ret();
        });
        let mut a = Assembler::new();
        let jcc = a.jcc_forward(cond);
        let jmp = a.jmp_forward();
        a.nop_n(k * 37);
        a.bind_rel32(jcc);
        a.bind_rel32(jmp);
        a.ret();
        let code = a.finish().unwrap().bytes;
        assert_eq!(code, with_label);
        let target = (code.len() - 1) as u64;
        let ins = decode_all(&code);
        assert_eq!((ins[0].len(), ins[1].len()), (6, 5));
        assert_eq!(ins[0].near_branch_target(), target);
        assert_eq!(ins[1].near_branch_target(), target);
    }
    // A displacement offset past the code is an error, not a panic.
    let mut a = Assembler::new();
    a.bind_rel32(3);
    assert_eq!(a.finish(), Err(AsmError::JumpOutOfRange(3)));
}

/// Jumps emitted with every amount of room left in the code buffer (a
/// `jcc` or `jmp` without room for its longest form grows the buffer out
/// of line and starts again) give the bytes they give with plenty.
#[test]
fn jumps_with_every_room_left() {
    let emit = |a: &mut Assembler, pad: usize| {
        let back = a.new_label();
        let fwd = a.new_label();
        a.bind(back);
        a.nop_n(pad);
        a.jcc(Cond::Ne, back);
        a.jmp(back);
        a.jcc(Cond::L, fwd);
        a.jmp(fwd);
        a.bind(fwd);
        a.ret();
    };
    for pad in 0..16 {
        let mut roomy = Assembler::with_buffer(Vec::with_capacity(4096));
        emit(&mut roomy, pad);
        let expected = roomy.finish().unwrap().bytes;
        for capacity in pad..pad + 20 {
            let mut tight = Assembler::with_buffer(Vec::with_capacity(capacity));
            emit(&mut tight, pad);
            let bytes = tight.finish().unwrap().bytes;
            assert_eq!(
                bytes, expected,
                "{pad} bytes of padding, capacity {capacity}"
            );
        }
    }
}

/// Exits emitted in a batch (`call_relocs`, then `bind_to` and
/// `bind_rel32_to` each exit's entry) give the code and relocations of
/// exits emitted one by one (`bind`/`bind_rel32` then `call_reloc`), with
/// several jumps to one label and labels whose fix-ups must grow.
#[test]
fn batched_call_exits_match_one_by_one() {
    for exits in [0usize, 1, 2, 3, 5, 17, 40] {
        // Even exits are entered by a `jcc_forward`, odd ones by two jumps
        // to a label.
        let entries = |a: &mut Assembler| -> Vec<(Option<usize>, Option<_>)> {
            (0..exits)
                .map(|i| {
                    if i % 2 == 0 {
                        (Some(a.jcc_forward(Cond::B)), None)
                    } else {
                        let l = a.new_label();
                        a.jcc(Cond::Ne, l);
                        a.jmp(l);
                        (None, Some(l))
                    }
                })
                .collect()
        };
        let symbol = |i: usize| 1000 + (i as u32 * 7) % 12;
        let mut one = Assembler::new();
        for (i, entry) in entries(&mut one).into_iter().enumerate() {
            match entry {
                (Some(at), _) => one.bind_rel32(at),
                (_, Some(l)) => one.bind(l),
                _ => unreachable!(),
            }
            one.call_reloc(symbol(i));
        }
        let mut batch = Assembler::new();
        let batch_entries = entries(&mut batch);
        let start = batch.call_relocs((0..exits).map(symbol));
        for (i, entry) in batch_entries.into_iter().enumerate() {
            match entry {
                (Some(at), _) => batch.bind_rel32_to(at, start + 5 * i),
                (_, Some(l)) => batch.bind_to(l, start + 5 * i),
                _ => unreachable!(),
            }
        }
        let (one, batch) = (one.finish().unwrap(), batch.finish().unwrap());
        assert_eq!(batch.bytes, one.bytes, "{exits} exits");
        assert_eq!(batch.relocs, one.relocs, "{exits} exits");
        assert!(batch.relocs.iter().all(|r| r.kind == RelocKind::Rel32));
        assert_eq!(batch.relocs.len(), exits);
    }
    // Binding past the code's end is an error, not a panic.
    let mut a = Assembler::new();
    let l = a.new_label();
    a.jmp(l);
    a.bind_to(l, 100);
    assert_eq!(a.finish(), Err(AsmError::JumpOutOfRange(100)));
    let mut a = Assembler::new();
    let at = a.jmp_forward();
    a.bind_rel32_to(at, 6);
    assert_eq!(a.finish(), Err(AsmError::JumpOutOfRange(at)));
}

#[test]
fn unbound_and_misused_labels_are_errors() {
    let mut a = Assembler::new();
    let l = a.new_label();
    a.jmp(l);
    assert_eq!(a.finish(), Err(AsmError::UnboundLabel(l)));

    let mut a = Assembler::new();
    let l = a.new_label();
    a.lea(Size::S64, Gpr::Rax, Mem::rip(l));
    assert_eq!(a.finish(), Err(AsmError::UnboundLabel(l)));

    let mut a = Assembler::new();
    let l = a.new_label();
    a.bind(l);
    a.bind(l);
    assert_eq!(a.finish(), Err(AsmError::LabelBoundTwice(l)));

    let mut other = Assembler::new();
    other.new_label();
    let foreign = other.new_label();
    let mut a = Assembler::new();
    a.jmp(foreign);
    assert_eq!(a.finish(), Err(AsmError::UnknownLabel(foreign)));

    // A label that is created but never used is fine.
    let mut a = Assembler::new();
    let _unused = a.new_label();
    a.ret();
    assert_eq!(a.finish().unwrap().bytes, [0xC3]);
}

#[test]
fn relocations_record_the_rel32_field() {
    let mut a = Assembler::new();
    a.nop_n(3);
    a.call_reloc(7);
    a.jmp_reloc(u32::MAX);
    let code = a.finish().unwrap();
    let ins = decode_all(&code.bytes);
    assert_eq!(ins[1].mnemonic(), Mnemonic::Call);
    assert_eq!(ins[2].mnemonic(), Mnemonic::Jmp);
    assert_eq!(code.relocs.len(), 2);
    // After the 3-byte nop and the E8 opcode; then after E8 rel32 and E9.
    assert_eq!((code.relocs[0].offset, code.relocs[0].symbol), (4, 7));
    assert_eq!(
        (code.relocs[1].offset, code.relocs[1].symbol),
        (9, u32::MAX)
    );
    assert!(code.relocs.iter().all(|r| r.kind == RelocKind::Rel32));
    // Patching as documented makes the decoder see the intended target.
    let mut bytes = code.bytes.clone();
    let target: i64 = 0x1000;
    let r = code.relocs[0];
    let v = (target - (r.offset as i64 + 4)) as i32;
    let at = r.offset as usize;
    bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
    assert_eq!(decode_all(&bytes)[1].near_branch_target(), target as u64);
}

#[test]
fn indirect_jumps_and_calls() {
    for r in 0..16 {
        check(&asm(|a| a.jmp_r(GPRS[r])), Mnemonic::Jmp, &[Op::R(R64[r])]);
        check(
            &asm(|a| a.call_r(GPRS[r])),
            Mnemonic::Call,
            &[Op::R(R64[r])],
        );
    }
    for mc in mems_small() {
        check(&asm(|a| a.jmp_m(mc.0)), Mnemonic::Jmp, &[m(&mc, Some(8))]);
        check(&asm(|a| a.call_m(mc.0)), Mnemonic::Call, &[m(&mc, Some(8))]);
    }
}

#[test]
fn string_instructions_and_direction_flag() {
    // The string instructions' operands are implicit ([rsi], [rdi], rcx):
    // check the mnemonic, the `rep` prefix and the operand kinds.
    for (bytes, mnemonic, kinds) in [
        (
            asm(|a| a.rep_movsb()),
            Mnemonic::Movsb,
            &[OpKind::MemoryESRDI, OpKind::MemorySegRSI][..],
        ),
        (
            asm(|a| a.rep_stosb()),
            Mnemonic::Stosb,
            &[OpKind::MemoryESRDI, OpKind::Register][..],
        ),
    ] {
        let ins = decode1(&bytes);
        assert_eq!(ins.mnemonic(), mnemonic, "bytes {bytes:02x?}");
        assert!(ins.has_rep_prefix(), "bytes {bytes:02x?}");
        let got: Vec<OpKind> = (0..ins.op_count()).map(|i| ins.op_kind(i)).collect();
        assert_eq!(got, kinds, "bytes {bytes:02x?}");
        // Byte-sized; the kinds above say 64-bit addressing ([rsi], not
        // [esi]).
        assert_eq!(ins.memory_size(), iced_x86::MemorySize::UInt8);
        if mnemonic == Mnemonic::Stosb {
            assert_eq!(ins.op_register(1), R::AL);
        }
    }
    check(&asm(|a| a.std()), Mnemonic::Std, &[]);
    check(&asm(|a| a.cld()), Mnemonic::Cld, &[]);
}

#[test]
fn single_byte_and_padding_instructions() {
    check(&asm(|a| a.ret()), Mnemonic::Ret, &[]);
    check(&asm(|a| a.ud2()), Mnemonic::Ud2, &[]);
    check(&asm(|a| a.int3()), Mnemonic::Int3, &[]);
    check(&asm(|a| a.nop()), Mnemonic::Nop, &[]);
    for n in 1..=9 {
        let b = asm(|a| a.nop_n(n));
        assert_eq!(b.len(), n);
        assert_eq!(decode1(&b).mnemonic(), Mnemonic::Nop);
    }
    for n in 0..40 {
        let b = asm(|a| a.nop_n(n));
        assert_eq!(b.len(), n);
        assert!(decode_all(&b).iter().all(|i| i.mnemonic() == Mnemonic::Nop));
    }
    for start in 0..20 {
        for align in [1, 2, 4, 8, 16, 32] {
            let mut a = Assembler::new();
            a.emit_bytes(&vec![0xCC; start]);
            a.align(align);
            assert_eq!(a.offset() % align, 0);
            assert!(a.offset() - start < align);
            let code = a.finish().unwrap().bytes;
            let pad = decode_all(&code[start..]);
            assert!(pad.iter().all(|i| i.mnemonic() == Mnemonic::Nop));
        }
    }
}

#[test]
fn rip_relative_operands_and_constant_pool() {
    let mut a = Assembler::new();
    let pool = a.new_label();
    let table = a.new_label();
    // Forward references with trailing immediates of different sizes.
    a.mov_rm(Size::S64, Gpr::R9, Mem::rip(pool));
    a.alu_mi(AluOp::Cmp, Size::S32, Mem::rip_disp(pool, 8), 1000);
    a.mov_mi(Size::S8, Mem::rip(pool), 7);
    a.sse_rmi(SseOp::ROUNDSD, Xmm::Xmm12, Mem::rip_disp(pool, 8), 3);
    a.lea(Size::S64, Gpr::Rax, Mem::rip(table));
    a.ret();
    a.align(8);
    let code_end = a.offset();
    a.bind(pool);
    let pool_at = a.offset() as u64;
    a.emit_u64(0x7FF0_0000_0000_0000);
    a.emit_u64(u64::MAX);
    a.bind(table);
    let table_at = a.offset();
    a.emit_label_diff32(pool, table_at);
    a.emit_u32(0);
    // A backward reference.
    a.movzx_rm(Size::S32, Size::S16, Gpr::R15, Mem::rip_disp(pool, 2));
    let code = a.finish().unwrap().bytes;

    let ins = decode_all(&code[..code_end]);
    let rip = |t: u64| Op::M(R::RIP, R::None, 1, t, None);
    assert_eq!(ins[0].mnemonic(), Mnemonic::Mov);
    assert_eq!(operands(&ins[0], &[]), [Op::R(R::R9), rip(pool_at)]);
    assert_eq!(operands(&ins[1], &[]), [rip(pool_at + 8), imm(32, 1000)]);
    assert_eq!(operands(&ins[2], &[]), [rip(pool_at), imm(8, 7)]);
    assert_eq!(
        operands(&ins[3], &[]),
        [Op::R(R::XMM12), rip(pool_at + 8), imm(8, 3)]
    );
    assert_eq!(
        operands(&ins[4], &[]),
        [Op::R(R::RAX), rip(table_at as u64)]
    );
    let entry = i32::from_le_bytes(code[table_at..table_at + 4].try_into().unwrap());
    assert_eq!(entry as i64, pool_at as i64 - table_at as i64);
    // Decoded at ip 0, so the target reads relative to `table_at + 8`.
    let tail = decode_all(&code[table_at + 8..]);
    let want = (pool_at + 2).wrapping_sub(table_at as u64 + 8);
    assert_eq!(operands(&tail[0], &[]), [Op::R(R::R15D), rip(want)]);
    assert_eq!(
        &code[pool_at as usize..pool_at as usize + 8],
        &0x7FF0_0000_0000_0000u64.to_le_bytes()
    );
}

#[test]
fn patch_i32_overwrites() {
    let mut a = Assembler::new();
    a.emit_u32(0);
    a.emit_u8(0xAA);
    a.patch_i32(0, -2);
    assert_eq!(a.code(), &[0xFE, 0xFF, 0xFF, 0xFF, 0xAA]);
}

// ----- SSE -----

/// (op, mnemonic, takes an immediate, memory operand size).
const SSE: &[(SseOp, Mnemonic, bool, usize)] = &[
    (SseOp::MOVSS, Mnemonic::Movss, false, 4),
    (SseOp::MOVSD, Mnemonic::Movsd, false, 8),
    (SseOp::MOVUPS, Mnemonic::Movups, false, 16),
    (SseOp::MOVUPD, Mnemonic::Movupd, false, 16),
    (SseOp::MOVAPS, Mnemonic::Movaps, false, 16),
    (SseOp::MOVAPD, Mnemonic::Movapd, false, 16),
    (SseOp::MOVDQA, Mnemonic::Movdqa, false, 16),
    (SseOp::MOVDQU, Mnemonic::Movdqu, false, 16),
    (SseOp::MOVQ, Mnemonic::Movq, false, 8),
    (SseOp::ADDSS, Mnemonic::Addss, false, 4),
    (SseOp::ADDSD, Mnemonic::Addsd, false, 8),
    (SseOp::ADDPS, Mnemonic::Addps, false, 16),
    (SseOp::ADDPD, Mnemonic::Addpd, false, 16),
    (SseOp::MULSS, Mnemonic::Mulss, false, 4),
    (SseOp::MULSD, Mnemonic::Mulsd, false, 8),
    (SseOp::MULPS, Mnemonic::Mulps, false, 16),
    (SseOp::MULPD, Mnemonic::Mulpd, false, 16),
    (SseOp::SUBSS, Mnemonic::Subss, false, 4),
    (SseOp::SUBSD, Mnemonic::Subsd, false, 8),
    (SseOp::SUBPS, Mnemonic::Subps, false, 16),
    (SseOp::SUBPD, Mnemonic::Subpd, false, 16),
    (SseOp::MINSS, Mnemonic::Minss, false, 4),
    (SseOp::MINSD, Mnemonic::Minsd, false, 8),
    (SseOp::MINPS, Mnemonic::Minps, false, 16),
    (SseOp::MINPD, Mnemonic::Minpd, false, 16),
    (SseOp::DIVSS, Mnemonic::Divss, false, 4),
    (SseOp::DIVSD, Mnemonic::Divsd, false, 8),
    (SseOp::DIVPS, Mnemonic::Divps, false, 16),
    (SseOp::DIVPD, Mnemonic::Divpd, false, 16),
    (SseOp::MAXSS, Mnemonic::Maxss, false, 4),
    (SseOp::MAXSD, Mnemonic::Maxsd, false, 8),
    (SseOp::MAXPS, Mnemonic::Maxps, false, 16),
    (SseOp::MAXPD, Mnemonic::Maxpd, false, 16),
    (SseOp::SQRTSS, Mnemonic::Sqrtss, false, 4),
    (SseOp::SQRTSD, Mnemonic::Sqrtsd, false, 8),
    (SseOp::SQRTPS, Mnemonic::Sqrtps, false, 16),
    (SseOp::SQRTPD, Mnemonic::Sqrtpd, false, 16),
    (SseOp::ANDPS, Mnemonic::Andps, false, 16),
    (SseOp::ANDPD, Mnemonic::Andpd, false, 16),
    (SseOp::ANDNPS, Mnemonic::Andnps, false, 16),
    (SseOp::ANDNPD, Mnemonic::Andnpd, false, 16),
    (SseOp::ORPS, Mnemonic::Orps, false, 16),
    (SseOp::ORPD, Mnemonic::Orpd, false, 16),
    (SseOp::XORPS, Mnemonic::Xorps, false, 16),
    (SseOp::XORPD, Mnemonic::Xorpd, false, 16),
    (SseOp::UCOMISS, Mnemonic::Ucomiss, false, 4),
    (SseOp::UCOMISD, Mnemonic::Ucomisd, false, 8),
    (SseOp::COMISS, Mnemonic::Comiss, false, 4),
    (SseOp::COMISD, Mnemonic::Comisd, false, 8),
    (SseOp::CMPSS, Mnemonic::Cmpss, true, 4),
    (SseOp::CMPSD, Mnemonic::Cmpsd, true, 8),
    (SseOp::CMPPS, Mnemonic::Cmpps, true, 16),
    (SseOp::CMPPD, Mnemonic::Cmppd, true, 16),
    (SseOp::CVTSS2SD, Mnemonic::Cvtss2sd, false, 4),
    (SseOp::CVTSD2SS, Mnemonic::Cvtsd2ss, false, 8),
    (SseOp::ROUNDPS, Mnemonic::Roundps, true, 16),
    (SseOp::ROUNDPD, Mnemonic::Roundpd, true, 16),
    (SseOp::ROUNDSS, Mnemonic::Roundss, true, 4),
    (SseOp::ROUNDSD, Mnemonic::Roundsd, true, 8),
    (SseOp::PAND, Mnemonic::Pand, false, 16),
    (SseOp::PANDN, Mnemonic::Pandn, false, 16),
    (SseOp::POR, Mnemonic::Por, false, 16),
    (SseOp::PXOR, Mnemonic::Pxor, false, 16),
    (SseOp::PADDB, Mnemonic::Paddb, false, 16),
    (SseOp::PADDW, Mnemonic::Paddw, false, 16),
    (SseOp::PADDD, Mnemonic::Paddd, false, 16),
    (SseOp::PADDQ, Mnemonic::Paddq, false, 16),
    (SseOp::PSUBB, Mnemonic::Psubb, false, 16),
    (SseOp::PSUBW, Mnemonic::Psubw, false, 16),
    (SseOp::PSUBD, Mnemonic::Psubd, false, 16),
    (SseOp::PSUBQ, Mnemonic::Psubq, false, 16),
    (SseOp::PCMPEQB, Mnemonic::Pcmpeqb, false, 16),
    (SseOp::PCMPEQW, Mnemonic::Pcmpeqw, false, 16),
    (SseOp::PCMPEQD, Mnemonic::Pcmpeqd, false, 16),
    (SseOp::PCMPEQQ, Mnemonic::Pcmpeqq, false, 16),
    (SseOp::PCMPGTB, Mnemonic::Pcmpgtb, false, 16),
    (SseOp::PCMPGTW, Mnemonic::Pcmpgtw, false, 16),
    (SseOp::PCMPGTD, Mnemonic::Pcmpgtd, false, 16),
    (SseOp::PCMPGTQ, Mnemonic::Pcmpgtq, false, 16),
    (SseOp::PUNPCKLQDQ, Mnemonic::Punpcklqdq, false, 16),
    (SseOp::PSHUFD, Mnemonic::Pshufd, true, 16),
    (SseOp::PSHUFB, Mnemonic::Pshufb, false, 16),
    (SseOp::PTEST, Mnemonic::Ptest, false, 16),
    (SseOp::PMINSB, Mnemonic::Pminsb, false, 16),
    (SseOp::PMINSW, Mnemonic::Pminsw, false, 16),
    (SseOp::PMINSD, Mnemonic::Pminsd, false, 16),
    (SseOp::PMINUB, Mnemonic::Pminub, false, 16),
    (SseOp::PMINUW, Mnemonic::Pminuw, false, 16),
    (SseOp::PMINUD, Mnemonic::Pminud, false, 16),
    (SseOp::PMAXSB, Mnemonic::Pmaxsb, false, 16),
    (SseOp::PMAXSW, Mnemonic::Pmaxsw, false, 16),
    (SseOp::PMAXSD, Mnemonic::Pmaxsd, false, 16),
    (SseOp::PMAXUB, Mnemonic::Pmaxub, false, 16),
    (SseOp::PMAXUW, Mnemonic::Pmaxuw, false, 16),
    (SseOp::PMAXUD, Mnemonic::Pmaxud, false, 16),
    (SseOp::PADDSB, Mnemonic::Paddsb, false, 16),
    (SseOp::PADDSW, Mnemonic::Paddsw, false, 16),
    (SseOp::PADDUSB, Mnemonic::Paddusb, false, 16),
    (SseOp::PADDUSW, Mnemonic::Paddusw, false, 16),
    (SseOp::PSUBSB, Mnemonic::Psubsb, false, 16),
    (SseOp::PSUBSW, Mnemonic::Psubsw, false, 16),
    (SseOp::PSUBUSB, Mnemonic::Psubusb, false, 16),
    (SseOp::PSUBUSW, Mnemonic::Psubusw, false, 16),
    (SseOp::PAVGB, Mnemonic::Pavgb, false, 16),
    (SseOp::PAVGW, Mnemonic::Pavgw, false, 16),
    (SseOp::PABSB, Mnemonic::Pabsb, false, 16),
    (SseOp::PABSW, Mnemonic::Pabsw, false, 16),
    (SseOp::PABSD, Mnemonic::Pabsd, false, 16),
    (SseOp::PMULLW, Mnemonic::Pmullw, false, 16),
    (SseOp::PMULLD, Mnemonic::Pmulld, false, 16),
    (SseOp::PMULUDQ, Mnemonic::Pmuludq, false, 16),
    (SseOp::PMULDQ, Mnemonic::Pmuldq, false, 16),
    (SseOp::PMADDWD, Mnemonic::Pmaddwd, false, 16),
    (SseOp::PMADDUBSW, Mnemonic::Pmaddubsw, false, 16),
    (SseOp::PMULHRSW, Mnemonic::Pmulhrsw, false, 16),
    (SseOp::PACKSSWB, Mnemonic::Packsswb, false, 16),
    (SseOp::PACKSSDW, Mnemonic::Packssdw, false, 16),
    (SseOp::PACKUSWB, Mnemonic::Packuswb, false, 16),
    (SseOp::PACKUSDW, Mnemonic::Packusdw, false, 16),
    (SseOp::PUNPCKLBW, Mnemonic::Punpcklbw, false, 16),
    (SseOp::PUNPCKHBW, Mnemonic::Punpckhbw, false, 16),
    (SseOp::PUNPCKLWD, Mnemonic::Punpcklwd, false, 16),
    (SseOp::PUNPCKHWD, Mnemonic::Punpckhwd, false, 16),
    (SseOp::PUNPCKLDQ, Mnemonic::Punpckldq, false, 16),
    (SseOp::PUNPCKHDQ, Mnemonic::Punpckhdq, false, 16),
    (SseOp::PUNPCKHQDQ, Mnemonic::Punpckhqdq, false, 16),
    (SseOp::UNPCKLPS, Mnemonic::Unpcklps, false, 16),
    (SseOp::PMOVSXBW, Mnemonic::Pmovsxbw, false, 8),
    (SseOp::PMOVSXWD, Mnemonic::Pmovsxwd, false, 8),
    (SseOp::PMOVSXDQ, Mnemonic::Pmovsxdq, false, 8),
    (SseOp::PMOVZXBW, Mnemonic::Pmovzxbw, false, 8),
    (SseOp::PMOVZXWD, Mnemonic::Pmovzxwd, false, 8),
    (SseOp::PMOVZXDQ, Mnemonic::Pmovzxdq, false, 8),
    (SseOp::SHUFPS, Mnemonic::Shufps, true, 16),
    (SseOp::PSHUFLW, Mnemonic::Pshuflw, true, 16),
    (SseOp::PSHUFHW, Mnemonic::Pshufhw, true, 16),
    (SseOp::INSERTPS, Mnemonic::Insertps, true, 4),
    (SseOp::PSLLW, Mnemonic::Psllw, false, 16),
    (SseOp::PSLLD, Mnemonic::Pslld, false, 16),
    (SseOp::PSLLQ, Mnemonic::Psllq, false, 16),
    (SseOp::PSRLW, Mnemonic::Psrlw, false, 16),
    (SseOp::PSRLD, Mnemonic::Psrld, false, 16),
    (SseOp::PSRLQ, Mnemonic::Psrlq, false, 16),
    (SseOp::PSRAW, Mnemonic::Psraw, false, 16),
    (SseOp::PSRAD, Mnemonic::Psrad, false, 16),
    (SseOp::CVTDQ2PS, Mnemonic::Cvtdq2ps, false, 16),
    (SseOp::CVTTPS2DQ, Mnemonic::Cvttps2dq, false, 16),
    (SseOp::CVTPS2PD, Mnemonic::Cvtps2pd, false, 8),
    (SseOp::CVTPD2PS, Mnemonic::Cvtpd2ps, false, 16),
    (SseOp::CVTDQ2PD, Mnemonic::Cvtdq2pd, false, 8),
    (SseOp::CVTTPD2DQ, Mnemonic::Cvttpd2dq, false, 16),
];

const SSE_STORES: &[(SseOp, Mnemonic, usize)] = &[
    (SseOp::MOVSS_STORE, Mnemonic::Movss, 4),
    (SseOp::MOVSD_STORE, Mnemonic::Movsd, 8),
    (SseOp::MOVUPS_STORE, Mnemonic::Movups, 16),
    (SseOp::MOVUPD_STORE, Mnemonic::Movupd, 16),
    (SseOp::MOVAPS_STORE, Mnemonic::Movaps, 16),
    (SseOp::MOVAPD_STORE, Mnemonic::Movapd, 16),
    (SseOp::MOVDQA_STORE, Mnemonic::Movdqa, 16),
    (SseOp::MOVDQU_STORE, Mnemonic::Movdqu, 16),
    (SseOp::MOVQ_STORE, Mnemonic::Movq, 8),
];

#[test]
fn sse_table_register_and_memory_forms() {
    let mems = mems_small();
    for &(op, mn, has_imm, size) in SSE {
        for d in 0..16 {
            for s in 0..16 {
                if has_imm {
                    for i in [0u8, 3, 0x0B, 0xFF] {
                        let b = asm(|a| a.sse_rri(op, XMMS[d], XMMS[s], i));
                        check(&b, mn, &[Op::R(RX[d]), Op::R(RX[s]), imm(8, i.into())]);
                    }
                } else {
                    let b = asm(|a| a.sse_rr(op, XMMS[d], XMMS[s]));
                    check(&b, mn, &[Op::R(RX[d]), Op::R(RX[s])]);
                }
            }
            for mc in &mems {
                if has_imm {
                    let b = asm(|a| a.sse_rmi(op, XMMS[d], mc.0, 5));
                    check(&b, mn, &[Op::R(RX[d]), m(mc, Some(size)), imm(8, 5)]);
                } else {
                    let b = asm(|a| a.sse_rm(op, XMMS[d], mc.0));
                    check(&b, mn, &[Op::R(RX[d]), m(mc, Some(size))]);
                }
            }
        }
    }
    for &(op, mn, size) in SSE_STORES {
        for s in 0..16 {
            for mc in &mems {
                let b = asm(|a| a.sse_mr(op, mc.0, XMMS[s]));
                check(&b, mn, &[m(mc, Some(size)), Op::R(RX[s])]);
            }
        }
    }
}

#[test]
fn sse_lane_inserts_and_extracts() {
    let mems = mems_small();
    let inserts = [
        (SseOp::PINSRB, Mnemonic::Pinsrb, 1),
        (SseOp::PINSRW, Mnemonic::Pinsrw, 2),
        (SseOp::PINSRD, Mnemonic::Pinsrd, 4),
    ];
    let extracts = [
        (SseOp::PEXTRB, Mnemonic::Pextrb, 1),
        (SseOp::PEXTRW, Mnemonic::Pextrw, 2),
        (SseOp::PEXTRD, Mnemonic::Pextrd, 4),
    ];
    for x in 0..16 {
        for g in 0..16 {
            for i in [0u8, 1, 7, 15] {
                for (op, mn, _) in inserts {
                    let b = asm(|a| a.sse_xgi(op, false, XMMS[x], GPRS[g], i));
                    check(&b, mn, &[Op::R(RX[x]), Op::R(R32[g]), imm(8, i.into())]);
                }
                for (op, mn, _) in extracts {
                    let b = asm(|a| a.sse_xgi(op, false, XMMS[x], GPRS[g], i));
                    check(&b, mn, &[Op::R(R32[g]), Op::R(RX[x]), imm(8, i.into())]);
                }
                let b = asm(|a| a.sse_xgi(SseOp::PINSRD, true, XMMS[x], GPRS[g], i));
                check(
                    &b,
                    Mnemonic::Pinsrq,
                    &[Op::R(RX[x]), Op::R(R64[g]), imm(8, i.into())],
                );
                let b = asm(|a| a.sse_xgi(SseOp::PEXTRD, true, XMMS[x], GPRS[g], i));
                check(
                    &b,
                    Mnemonic::Pextrq,
                    &[Op::R(R64[g]), Op::R(RX[x]), imm(8, i.into())],
                );
            }
        }
        for mc in &mems {
            for (op, mn, size) in inserts {
                let b = asm(|a| a.sse_rmi(op, XMMS[x], mc.0, 3));
                check(&b, mn, &[Op::R(RX[x]), m(mc, Some(size)), imm(8, 3)]);
            }
            for (op, mn, size) in extracts {
                let b = asm(|a| a.sse_mri(op, mc.0, XMMS[x], 3));
                check(&b, mn, &[m(mc, Some(size)), Op::R(RX[x]), imm(8, 3)]);
            }
        }
    }
}

#[test]
fn sse_masks_to_gprs_and_half_moves() {
    let mems = mems_small();
    let masks = [
        (SseOp::MOVMSKPS, Mnemonic::Movmskps),
        (SseOp::MOVMSKPD, Mnemonic::Movmskpd),
        (SseOp::PMOVMSKB, Mnemonic::Pmovmskb),
    ];
    for x in 0..16 {
        for g in 0..16 {
            for (op, mn) in masks {
                let b = asm(|a| a.sse_gx(op, GPRS[g], XMMS[x]));
                check(&b, mn, &[Op::R(R32[g]), Op::R(RX[x])]);
            }
        }
        for y in 0..16 {
            let b = asm(|a| a.sse_rr(SseOp::MOVLHPS, XMMS[x], XMMS[y]));
            check(&b, Mnemonic::Movlhps, &[Op::R(RX[x]), Op::R(RX[y])]);
        }
        for mc in &mems {
            let b = asm(|a| a.sse_rm(SseOp::MOVHPS, XMMS[x], mc.0));
            check(&b, Mnemonic::Movhps, &[Op::R(RX[x]), m(mc, Some(8))]);
            let b = asm(|a| a.sse_rm(SseOp::MOVLPS, XMMS[x], mc.0));
            check(&b, Mnemonic::Movlps, &[Op::R(RX[x]), m(mc, Some(8))]);
            let b = asm(|a| a.sse_mr(SseOp::MOVHPS_STORE, mc.0, XMMS[x]));
            check(&b, Mnemonic::Movhps, &[m(mc, Some(8)), Op::R(RX[x])]);
        }
    }
}

/// The three-operand AVX forms: every destination, first and second
/// source (two- and three-byte VEX prefixes), and memory operands with
/// every base and index (the prefix's `X` and `B` bits).
#[test]
fn vex_three_operand_forms() {
    let ops = [
        (SseOp::ADDSD, Mnemonic::Vaddsd, 8),
        (SseOp::SUBSS, Mnemonic::Vsubss, 4),
        (SseOp::MULSD, Mnemonic::Vmulsd, 8),
        (SseOp::DIVSS, Mnemonic::Vdivss, 4),
        (SseOp::SQRTSD, Mnemonic::Vsqrtsd, 8),
        (SseOp::ADDPS, Mnemonic::Vaddps, 16),
        (SseOp::PSHUFB, Mnemonic::Vpshufb, 16),
    ];
    let mems = mems_small();
    for (op, mn, size) in ops {
        for d in 0..16 {
            for s1 in 0..16 {
                for s2 in [0, 3, 8, 15] {
                    let b = asm(|a| a.vex_rrr(op, XMMS[d], XMMS[s1], XMMS[s2]));
                    check(&b, mn, &[Op::R(RX[d]), Op::R(RX[s1]), Op::R(RX[s2])]);
                }
            }
            for mc in &mems {
                for s1 in [1, 9] {
                    let b = asm(|a| a.vex_rrm(op, XMMS[d], XMMS[s1], mc.0));
                    check(&b, mn, &[Op::R(RX[d]), Op::R(RX[s1]), m(mc, Some(size))]);
                }
            }
        }
    }
}

#[test]
fn sse_full_addressing_sweep() {
    for mc in mems_full() {
        for x in [0, 7, 8, 15] {
            let b = asm(|a| a.sse_rm(SseOp::MOVSD, XMMS[x], mc.0));
            check(&b, Mnemonic::Movsd, &[Op::R(RX[x]), m(&mc, Some(8))]);
        }
    }
}

#[test]
fn round_mode_immediates() {
    assert_eq!(RoundMode::Nearest as u8, 8);
    assert_eq!(RoundMode::Floor as u8, 9);
    assert_eq!(RoundMode::Ceil as u8, 10);
    assert_eq!(RoundMode::Trunc as u8, 11);
}

#[test]
fn xmm_shifts_by_immediate() {
    let ops = [
        (XmmShift::Psrlw, Mnemonic::Psrlw),
        (XmmShift::Psraw, Mnemonic::Psraw),
        (XmmShift::Psllw, Mnemonic::Psllw),
        (XmmShift::Psrld, Mnemonic::Psrld),
        (XmmShift::Psrad, Mnemonic::Psrad),
        (XmmShift::Pslld, Mnemonic::Pslld),
        (XmmShift::Psrlq, Mnemonic::Psrlq),
        (XmmShift::Psllq, Mnemonic::Psllq),
        (XmmShift::Psrldq, Mnemonic::Psrldq),
        (XmmShift::Pslldq, Mnemonic::Pslldq),
    ];
    for (op, mn) in ops {
        for x in 0..16 {
            for n in [0u8, 1, 63, 255] {
                let b = asm(|a| a.xmm_shift_ri(op, XMMS[x], n));
                check(&b, mn, &[Op::R(RX[x]), imm(8, n.into())]);
            }
        }
    }
}

#[test]
fn moves_between_gpr_and_xmm() {
    for r in 0..16 {
        for x in 0..16 {
            let b = asm(|a| a.movd_xr(XMMS[x], GPRS[r]));
            check(&b, Mnemonic::Movd, &[Op::R(RX[x]), Op::R(R32[r])]);
            let b = asm(|a| a.movq_xr(XMMS[x], GPRS[r]));
            check(&b, Mnemonic::Movq, &[Op::R(RX[x]), Op::R(R64[r])]);
            let b = asm(|a| a.movd_rx(GPRS[r], XMMS[x]));
            check(&b, Mnemonic::Movd, &[Op::R(R32[r]), Op::R(RX[x])]);
            let b = asm(|a| a.movq_rx(GPRS[r], XMMS[x]));
            check(&b, Mnemonic::Movq, &[Op::R(R64[r]), Op::R(RX[x])]);
        }
    }
}

#[test]
fn int_float_conversions() {
    let mems = mems_small();
    for size in [Size::S32, Size::S64] {
        let sz = Some(bytes_of(size));
        for r in 0..16 {
            let g = Op::R(reg(size, r));
            for x in 0..16 {
                let b = asm(|a| a.cvtsi2ss_rr(size, XMMS[x], GPRS[r]));
                check(&b, Mnemonic::Cvtsi2ss, &[Op::R(RX[x]), g]);
                let b = asm(|a| a.cvtsi2sd_rr(size, XMMS[x], GPRS[r]));
                check(&b, Mnemonic::Cvtsi2sd, &[Op::R(RX[x]), g]);
                let b = asm(|a| a.cvttss2si_rr(size, GPRS[r], XMMS[x]));
                check(&b, Mnemonic::Cvttss2si, &[g, Op::R(RX[x])]);
                let b = asm(|a| a.cvttsd2si_rr(size, GPRS[r], XMMS[x]));
                check(&b, Mnemonic::Cvttsd2si, &[g, Op::R(RX[x])]);
            }
            for mc in &mems {
                let b = asm(|a| a.cvttss2si_rm(size, GPRS[r], mc.0));
                check(&b, Mnemonic::Cvttss2si, &[g, m(mc, Some(4))]);
                let b = asm(|a| a.cvttsd2si_rm(size, GPRS[r], mc.0));
                check(&b, Mnemonic::Cvttsd2si, &[g, m(mc, Some(8))]);
            }
        }
        for x in 0..16 {
            for mc in &mems {
                let b = asm(|a| a.cvtsi2ss_rm(size, XMMS[x], mc.0));
                check(&b, Mnemonic::Cvtsi2ss, &[Op::R(RX[x]), m(mc, sz)]);
                let b = asm(|a| a.cvtsi2sd_rm(size, XMMS[x], mc.0));
                check(&b, Mnemonic::Cvtsi2sd, &[Op::R(RX[x]), m(mc, sz)]);
            }
        }
    }
}

// ----- CPU features -----

#[test]
fn cpu_features() {
    let base = CpuFeatures::baseline();
    assert!(!base.popcnt && !base.lzcnt && !base.sse41 && !base.avx);
    let host = CpuFeatures::detect();
    // The dependent features never outrun AVX.
    assert!(!host.avx2 || host.avx);
    assert!(!host.fma || host.avx);
    // Whatever the compiler was allowed to assume, the CPU must have.
    #[cfg(target_feature = "popcnt")]
    assert!(host.popcnt);
    #[cfg(target_feature = "sse4.1")]
    assert!(host.sse41);
    assert!(CpuFeatures::all().avx2);
}

// ----- changing the register operand of the last instruction -----

/// `set_reg_operand` gives an instruction emitted earlier another ModRM
/// `reg` register, inserting or changing REX.R as needed, for one-byte,
/// `0F xx` and `0F 38 xx` opcodes, with and without legacy prefixes.
#[test]
fn reg_operand_of_the_last_instruction_can_be_changed() {
    type Emit = fn(&mut Assembler, u8, Mem);
    let cases: [(Emit, Mnemonic, Option<Size>, Option<usize>); 9] = [
        (
            |a, d, m| a.lea(Size::S32, GPRS[d as usize], m),
            Mnemonic::Lea,
            Some(Size::S32),
            None,
        ),
        (
            |a, d, m| a.lea(Size::S64, GPRS[d as usize], m),
            Mnemonic::Lea,
            Some(Size::S64),
            None,
        ),
        (
            |a, d, m| a.mov_rm(Size::S32, GPRS[d as usize], m),
            Mnemonic::Mov,
            Some(Size::S32),
            Some(4),
        ),
        (
            |a, d, m| a.mov_rm(Size::S64, GPRS[d as usize], m),
            Mnemonic::Mov,
            Some(Size::S64),
            Some(8),
        ),
        (
            |a, d, m| a.movzx_rm(Size::S32, Size::S8, GPRS[d as usize], m),
            Mnemonic::Movzx,
            Some(Size::S32),
            Some(1),
        ),
        (
            |a, d, m| a.movsx_rm(Size::S64, Size::S16, GPRS[d as usize], m),
            Mnemonic::Movsx,
            Some(Size::S64),
            Some(2),
        ),
        (
            |a, d, m| a.movsxd_rm(GPRS[d as usize], m),
            Mnemonic::Movsxd,
            Some(Size::S64),
            Some(4),
        ),
        (
            |a, d, m| a.sse_rm(SseOp::MOVSD, XMMS[d as usize], m),
            Mnemonic::Movsd,
            None,
            Some(8),
        ),
        (
            |a, d, m| a.sse_rm(SseOp::PMOVZXBW, XMMS[d as usize], m),
            Mnemonic::Pmovzxbw,
            None,
            Some(8),
        ),
    ];
    // Without a REX prefix (one is inserted for 13), and with one.
    let mems = [
        mem_case(6, None, 8),
        mem_case(13, None, 8),
        mem_case(0, Some((13, 3)), -129),
    ];
    for (emit, mnemonic, size, bytes) in cases {
        for mc in &mems {
            for (first, to) in [(0u8, 13u8), (13, 2), (9, 3)] {
                let b = asm(|a| {
                    a.nop();
                    let start = a.offset();
                    emit(a, first, mc.0);
                    assert!(a.set_reg_operand(start, to));
                });
                let all = decode_all(&b);
                assert_eq!(all.len(), 2, "{b:02x?}");
                assert_eq!(all[0].mnemonic(), Mnemonic::Nop);
                let want = match size {
                    Some(size) => reg(size, to as usize),
                    None => RX[to as usize],
                };
                let got = operands(&all[1], &[Op::R(R::None), m(mc, bytes)]);
                assert_eq!(
                    (all[1].mnemonic(), got),
                    (mnemonic, vec![Op::R(want), m(mc, bytes)]),
                    "{b:02x?}"
                );
            }
        }
    }
    // Nothing after the start: no instruction to change.
    let mut a = Assembler::new();
    assert!(!a.set_reg_operand(0, 3));
}

#[test]
fn patched_no_ops_lead_exactly_to_the_end_of_the_gap() {
    for gap in 0..40 {
        let mut a = Assembler::new();
        a.emit_bytes(&vec![0xCC; gap]);
        a.ret();
        a.patch_nops(0, gap);
        let code = a.finish().unwrap().bytes;
        let all = decode_all(&code);
        let (last, nops) = all.split_last().unwrap();
        assert_eq!(last.mnemonic(), Mnemonic::Ret, "gap {gap}");
        assert_eq!(last.ip() as usize, gap, "gap {gap}");
        assert!(
            nops.iter().all(|i| i.mnemonic() == Mnemonic::Nop),
            "gap {gap}"
        );
        assert_eq!(nops.len(), gap.div_ceil(9), "gap {gap}: as few as possible");
    }
}

#[test]
fn only_jumps_that_run_the_same_anywhere_count_as_movable() {
    for r in 0..16 {
        for disp in [0, 8, -128, 127, 128, 4096] {
            let bytes = asm(|a| a.jmp_m(Mem::base(GPRS[r], disp)));
            let i = decode1(&bytes);
            assert_eq!(i.mnemonic(), Mnemonic::Jmp);
            assert_eq!(i.memory_base(), R64[r]);
            // A SIB byte (base rsp or r12) or a 32-bit displacement makes
            // it a form the rewrite leaves alone.
            let sib = matches!(GPRS[r], Gpr::Rsp | Gpr::R12);
            let expected = (!sib && (-128..=127).contains(&disp)).then_some(bytes.len());
            let mut a = Assembler::new();
            a.nop_n(3);
            a.emit_bytes(&bytes);
            assert_eq!(a.movable_jump_len(3), expected, "{i}");
        }
    }
    // A direct jump to a relocation moves with it.
    let mut a = Assembler::new();
    a.jmp_reloc(3);
    assert_eq!(a.movable_jump_len(0), Some(5));
    // A direct jump to a label, and other instructions, do not.
    let others: [&dyn Fn(&mut Assembler); 5] = [
        &|a| a.call_m(Mem::base(Gpr::Rax, 0)),
        &|a| a.jmp_r(Gpr::Rax),
        &|a| a.jmp_m(Mem::indexed(Gpr::Rax, Gpr::Rcx, Scale::X8, 0)),
        &|a| a.ret(),
        &|a| {
            let far = a.new_label();
            a.jmp(far);
            a.nop_n(200);
            a.bind(far);
        },
    ];
    for emit in others {
        let mut a = Assembler::new();
        emit(&mut a);
        assert_eq!(a.movable_jump_len(0), None);
    }
}

#[test]
fn a_jump_moved_up_leaves_int3_behind_it() {
    let mut a = Assembler::new();
    a.nop_n(2);
    a.emit_bytes(&[0xCC; 5]);
    a.jmp_m(Mem::base(Gpr::R11, 16));
    let len = a.movable_jump_len(7).unwrap();
    a.patch_move_up(2, 7, len);
    let code = a.finish().unwrap().bytes;
    let all = decode_all(&code);
    let kinds: Vec<Mnemonic> = all.iter().map(|i| i.mnemonic()).collect();
    let mut expected = vec![Mnemonic::Nop, Mnemonic::Jmp];
    expected.extend([Mnemonic::Int3; 5]);
    assert_eq!(kinds, expected);
    assert_eq!(all[1].memory_base(), Register::R11);
    assert_eq!(all[1].memory_displacement64(), 16);
    assert_eq!(code.len(), 2 + len + 5);
}

#[test]
fn a_direct_jump_moved_up_takes_its_relocation_along() {
    let mut a = Assembler::new();
    a.jmp_reloc(1);
    a.nop_n(3);
    a.emit_bytes(&[0xCC; 6]);
    a.jmp_reloc(9);
    a.patch_move_up(8, 14, 5);
    let code = a.finish().unwrap();
    let relocs: Vec<(u32, u32)> = code.relocs.iter().map(|r| (r.offset, r.symbol)).collect();
    assert_eq!(relocs, [(1, 1), (9, 9)]);
    let all = decode_all(&code.bytes);
    let kinds: Vec<Mnemonic> = all.iter().map(|i| i.mnemonic()).collect();
    let mut expected = vec![Mnemonic::Jmp, Mnemonic::Nop, Mnemonic::Jmp];
    expected.extend([Mnemonic::Int3; 6]);
    assert_eq!(kinds, expected);
}
