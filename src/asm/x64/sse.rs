//! SSE instructions described as data: each [`SseOp`] is a mandatory prefix
//! and the opcode bytes of an `xmm, xmm/m` instruction, so adding an SSE or
//! SSE4 operation is one line in the table below. [`XmmShift`] does the same
//! for the shift-by-immediate group (`66 0F 71/72/73 /digit ib`).
//!
//! The emitting code is `Assembler::sse_rr` and friends; this module holds
//! no logic beyond the tables.

/// The mandatory prefix that selects an SSE instruction's data type
/// (none: packed single, 66: packed double or integer, F3: scalar single,
/// F2: scalar double).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum SsePrefix {
    None,
    P66,
    PF3,
    PF2,
}

impl SsePrefix {
    /// The prefix byte, if any.
    #[inline]
    pub const fn byte(self) -> Option<u8> {
        match self {
            SsePrefix::None => None,
            SsePrefix::P66 => Some(0x66),
            SsePrefix::PF3 => Some(0xF3),
            SsePrefix::PF2 => Some(0xF2),
        }
    }
}

/// An SSE instruction whose ModRM `reg` field is an XMM register and whose
/// `rm` field is an XMM register or memory: a prefix plus opcode bytes
/// (`0F xx`, `0F 38 xx` or `0F 3A xx`).
///
/// Load forms (`reg <- rm`) are used with `sse_rr`/`sse_rm`, the `*_STORE`
/// forms (`rm <- reg`) with `sse_mr`, the forms taking an immediate
/// (`CMPSS`, `ROUNDSD`, `PSHUFD`, …) with `sse_rri`/`sse_rmi`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct SseOp {
    pub prefix: SsePrefix,
    pub opcode: &'static [u8],
}

macro_rules! sse_table {
    ($($name:ident = $prefix:ident [$($byte:literal)+];)*) => {
        impl SseOp {
            $(
                #[doc = concat!("`", stringify!($prefix), " ", $(stringify!($byte), " ",)+ "/r`")]
                pub const $name: SseOp = SseOp {
                    prefix: SsePrefix::$prefix,
                    opcode: &[$($byte),+],
                };
            )*
        }
    };
}

sse_table! {
    // Moves, load form (xmm <- xmm/m).
    MOVSS = PF3 [0x0F 0x10];
    MOVSD = PF2 [0x0F 0x10];
    MOVUPS = None [0x0F 0x10];
    MOVUPD = P66 [0x0F 0x10];
    MOVAPS = None [0x0F 0x28];
    MOVAPD = P66 [0x0F 0x28];
    MOVDQA = P66 [0x0F 0x6F];
    MOVDQU = PF3 [0x0F 0x6F];
    MOVQ = PF3 [0x0F 0x7E];
    // Moves, store form (xmm/m <- xmm).
    MOVSS_STORE = PF3 [0x0F 0x11];
    MOVSD_STORE = PF2 [0x0F 0x11];
    MOVUPS_STORE = None [0x0F 0x11];
    MOVUPD_STORE = P66 [0x0F 0x11];
    MOVAPS_STORE = None [0x0F 0x29];
    MOVAPD_STORE = P66 [0x0F 0x29];
    MOVDQA_STORE = P66 [0x0F 0x7F];
    MOVDQU_STORE = PF3 [0x0F 0x7F];
    MOVQ_STORE = P66 [0x0F 0xD6];
    // Scalar and packed floating-point arithmetic.
    ADDSS = PF3 [0x0F 0x58];
    ADDSD = PF2 [0x0F 0x58];
    ADDPS = None [0x0F 0x58];
    ADDPD = P66 [0x0F 0x58];
    MULSS = PF3 [0x0F 0x59];
    MULSD = PF2 [0x0F 0x59];
    MULPS = None [0x0F 0x59];
    MULPD = P66 [0x0F 0x59];
    SUBSS = PF3 [0x0F 0x5C];
    SUBSD = PF2 [0x0F 0x5C];
    SUBPS = None [0x0F 0x5C];
    SUBPD = P66 [0x0F 0x5C];
    MINSS = PF3 [0x0F 0x5D];
    MINSD = PF2 [0x0F 0x5D];
    MINPS = None [0x0F 0x5D];
    MINPD = P66 [0x0F 0x5D];
    DIVSS = PF3 [0x0F 0x5E];
    DIVSD = PF2 [0x0F 0x5E];
    DIVPS = None [0x0F 0x5E];
    DIVPD = P66 [0x0F 0x5E];
    MAXSS = PF3 [0x0F 0x5F];
    MAXSD = PF2 [0x0F 0x5F];
    MAXPS = None [0x0F 0x5F];
    MAXPD = P66 [0x0F 0x5F];
    SQRTSS = PF3 [0x0F 0x51];
    SQRTSD = PF2 [0x0F 0x51];
    SQRTPS = None [0x0F 0x51];
    SQRTPD = P66 [0x0F 0x51];
    // Bitwise logic on floating-point registers.
    ANDPS = None [0x0F 0x54];
    ANDPD = P66 [0x0F 0x54];
    ANDNPS = None [0x0F 0x55];
    ANDNPD = P66 [0x0F 0x55];
    ORPS = None [0x0F 0x56];
    ORPD = P66 [0x0F 0x56];
    XORPS = None [0x0F 0x57];
    XORPD = P66 [0x0F 0x57];
    // Comparisons setting EFLAGS.
    UCOMISS = None [0x0F 0x2E];
    UCOMISD = P66 [0x0F 0x2E];
    COMISS = None [0x0F 0x2F];
    COMISD = P66 [0x0F 0x2F];
    // Comparisons producing masks (immediate: predicate 0..=7).
    CMPSS = PF3 [0x0F 0xC2];
    CMPSD = PF2 [0x0F 0xC2];
    CMPPS = None [0x0F 0xC2];
    CMPPD = P66 [0x0F 0xC2];
    // Conversions between float widths.
    CVTSS2SD = PF3 [0x0F 0x5A];
    CVTSD2SS = PF2 [0x0F 0x5A];
    // SSE4.1 rounding (immediate: rounding mode, see `RoundMode`).
    ROUNDPS = P66 [0x0F 0x3A 0x08];
    ROUNDPD = P66 [0x0F 0x3A 0x09];
    ROUNDSS = P66 [0x0F 0x3A 0x0A];
    ROUNDSD = P66 [0x0F 0x3A 0x0B];
    // Packed integer.
    PAND = P66 [0x0F 0xDB];
    PANDN = P66 [0x0F 0xDF];
    POR = P66 [0x0F 0xEB];
    PXOR = P66 [0x0F 0xEF];
    PADDB = P66 [0x0F 0xFC];
    PADDW = P66 [0x0F 0xFD];
    PADDD = P66 [0x0F 0xFE];
    PADDQ = P66 [0x0F 0xD4];
    PSUBB = P66 [0x0F 0xF8];
    PSUBW = P66 [0x0F 0xF9];
    PSUBD = P66 [0x0F 0xFA];
    PSUBQ = P66 [0x0F 0xFB];
    PCMPEQB = P66 [0x0F 0x74];
    PCMPEQW = P66 [0x0F 0x75];
    PCMPEQD = P66 [0x0F 0x76];
    PCMPEQQ = P66 [0x0F 0x38 0x29];
    PCMPGTB = P66 [0x0F 0x64];
    PCMPGTW = P66 [0x0F 0x65];
    PCMPGTD = P66 [0x0F 0x66];
    PCMPGTQ = P66 [0x0F 0x38 0x37];
    PUNPCKLQDQ = P66 [0x0F 0x6C];
    PSHUFD = P66 [0x0F 0x70];
    PSHUFB = P66 [0x0F 0x38 0x00];
    PTEST = P66 [0x0F 0x38 0x17];
    // Packed integer min/max (the B/UW/D/UD forms are SSE4.1).
    PMINSB = P66 [0x0F 0x38 0x38];
    PMINSW = P66 [0x0F 0xEA];
    PMINSD = P66 [0x0F 0x38 0x39];
    PMINUB = P66 [0x0F 0xDA];
    PMINUW = P66 [0x0F 0x38 0x3A];
    PMINUD = P66 [0x0F 0x38 0x3B];
    PMAXSB = P66 [0x0F 0x38 0x3C];
    PMAXSW = P66 [0x0F 0xEE];
    PMAXSD = P66 [0x0F 0x38 0x3D];
    PMAXUB = P66 [0x0F 0xDE];
    PMAXUW = P66 [0x0F 0x38 0x3E];
    PMAXUD = P66 [0x0F 0x38 0x3F];
    // Saturating add and subtract, rounding average.
    PADDSB = P66 [0x0F 0xEC];
    PADDSW = P66 [0x0F 0xED];
    PADDUSB = P66 [0x0F 0xDC];
    PADDUSW = P66 [0x0F 0xDD];
    PSUBSB = P66 [0x0F 0xE8];
    PSUBSW = P66 [0x0F 0xE9];
    PSUBUSB = P66 [0x0F 0xD8];
    PSUBUSW = P66 [0x0F 0xD9];
    PAVGB = P66 [0x0F 0xE0];
    PAVGW = P66 [0x0F 0xE3];
    // Absolute value (SSSE3).
    PABSB = P66 [0x0F 0x38 0x1C];
    PABSW = P66 [0x0F 0x38 0x1D];
    PABSD = P66 [0x0F 0x38 0x1E];
    // Multiplication.
    PMULLW = P66 [0x0F 0xD5];
    PMULLD = P66 [0x0F 0x38 0x40];
    PMULUDQ = P66 [0x0F 0xF4];
    PMULDQ = P66 [0x0F 0x38 0x28];
    PMADDWD = P66 [0x0F 0xF5];
    PMADDUBSW = P66 [0x0F 0x38 0x04];
    PMULHRSW = P66 [0x0F 0x38 0x0B];
    // Packing with saturation (PACKUSDW is SSE4.1).
    PACKSSWB = P66 [0x0F 0x63];
    PACKSSDW = P66 [0x0F 0x6B];
    PACKUSWB = P66 [0x0F 0x67];
    PACKUSDW = P66 [0x0F 0x38 0x2B];
    // Unpacking (interleaving).
    PUNPCKLBW = P66 [0x0F 0x60];
    PUNPCKHBW = P66 [0x0F 0x68];
    PUNPCKLWD = P66 [0x0F 0x61];
    PUNPCKHWD = P66 [0x0F 0x69];
    PUNPCKLDQ = P66 [0x0F 0x62];
    PUNPCKHDQ = P66 [0x0F 0x6A];
    PUNPCKHQDQ = P66 [0x0F 0x6D];
    UNPCKLPS = None [0x0F 0x14];
    // Sign and zero extension of the low half (memory operand: 64 bits).
    PMOVSXBW = P66 [0x0F 0x38 0x20];
    PMOVSXWD = P66 [0x0F 0x38 0x23];
    PMOVSXDQ = P66 [0x0F 0x38 0x25];
    PMOVZXBW = P66 [0x0F 0x38 0x30];
    PMOVZXWD = P66 [0x0F 0x38 0x33];
    PMOVZXDQ = P66 [0x0F 0x38 0x35];
    // Shuffles (immediate: lane selectors).
    SHUFPS = None [0x0F 0xC6];
    PSHUFLW = PF2 [0x0F 0x70];
    PSHUFHW = PF3 [0x0F 0x70];
    INSERTPS = P66 [0x0F 0x3A 0x21];
    // Shifts by the count in the low 64 bits of an XMM register.
    PSLLW = P66 [0x0F 0xF1];
    PSLLD = P66 [0x0F 0xF2];
    PSLLQ = P66 [0x0F 0xF3];
    PSRLW = P66 [0x0F 0xD1];
    PSRLD = P66 [0x0F 0xD2];
    PSRLQ = P66 [0x0F 0xD3];
    PSRAW = P66 [0x0F 0xE1];
    PSRAD = P66 [0x0F 0xE2];
    // Packed conversions (CVTPS2PD and CVTDQ2PD read 64 bits of memory).
    CVTDQ2PS = None [0x0F 0x5B];
    CVTTPS2DQ = PF3 [0x0F 0x5B];
    CVTPS2PD = None [0x0F 0x5A];
    CVTPD2PS = P66 [0x0F 0x5A];
    CVTDQ2PD = PF3 [0x0F 0xE6];
    CVTTPD2DQ = P66 [0x0F 0xE6];
    // Half-register moves: register form (MOVLHPS) and 64-bit memory forms.
    MOVLHPS = None [0x0F 0x16];
    MOVHPS = None [0x0F 0x16];
    MOVLPS = None [0x0F 0x12];
    MOVHPS_STORE = None [0x0F 0x17];
}

// Instructions with a GPR operand. With `sse_xgi`/`sse_rmi` (the XMM in the
// `reg` field, a GPR or memory in `rm`, an immediate lane; REX.W selects the
// Q forms of PINSRD/PEXTRD); the stores with `sse_mri`.
sse_table! {
    PINSRB = P66 [0x0F 0x3A 0x20];
    PINSRW = P66 [0x0F 0xC4];
    PINSRD = P66 [0x0F 0x3A 0x22];
    PEXTRB = P66 [0x0F 0x3A 0x14];
    PEXTRW = P66 [0x0F 0x3A 0x15];
    PEXTRD = P66 [0x0F 0x3A 0x16];
}

// A GPR destination in `reg` and an XMM source in `rm`, with `sse_gx`.
sse_table! {
    MOVMSKPS = None [0x0F 0x50];
    MOVMSKPD = P66 [0x0F 0x50];
    PMOVMSKB = P66 [0x0F 0xD7];
}

/// The immediate of `roundss`/`roundsd` (bits 0–1; bit 3 suppresses the
/// precision exception, which is what WebAssembly wants).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[repr(u8)]
pub enum RoundMode {
    /// `nearest`: round to nearest, ties to even.
    Nearest = 0b1000,
    /// `floor`: toward negative infinity.
    Floor = 0b1001,
    /// `ceil`: toward positive infinity.
    Ceil = 0b1010,
    /// `trunc`: toward zero.
    Trunc = 0b1011,
}

/// A packed shift by an immediate count: `66 0F op /digit ib`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum XmmShift {
    Psrlw,
    Psraw,
    Psllw,
    Psrld,
    Psrad,
    Pslld,
    Psrlq,
    Psllq,
    /// Shift the whole register right by bytes.
    Psrldq,
    /// Shift the whole register left by bytes.
    Pslldq,
}

impl XmmShift {
    /// The second opcode byte (after `0F`) and the ModRM `/digit`.
    #[inline]
    pub const fn encoding(self) -> (u8, u8) {
        match self {
            XmmShift::Psrlw => (0x71, 2),
            XmmShift::Psraw => (0x71, 4),
            XmmShift::Psllw => (0x71, 6),
            XmmShift::Psrld => (0x72, 2),
            XmmShift::Psrad => (0x72, 4),
            XmmShift::Pslld => (0x72, 6),
            XmmShift::Psrlq => (0x73, 2),
            XmmShift::Psllq => (0x73, 6),
            XmmShift::Psrldq => (0x73, 3),
            XmmShift::Pslldq => (0x73, 7),
        }
    }
}

// Conversions between integer and float registers. Their operands mix GPRs
// and XMMs (and REX.W selects the integer width), so they are emitted by
// dedicated methods (`cvtsi2sd_rr`, …), but their encodings live here.
sse_table! {
    CVTSI2SS = PF3 [0x0F 0x2A];
    CVTSI2SD = PF2 [0x0F 0x2A];
    CVTTSS2SI = PF3 [0x0F 0x2C];
    CVTTSD2SI = PF2 [0x0F 0x2C];
}
