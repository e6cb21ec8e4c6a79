//! Condition codes ([`Cond`]) as used by `jcc`, `setcc` and `cmovcc`: the
//! low four bits of their opcodes.

/// An x86 condition code, named after the `jcc` mnemonics. The
/// discriminant is the hardware encoding `cc` (as in `0x70 + cc`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[repr(u8)]
pub enum Cond {
    /// Overflow (OF = 1).
    O = 0x0,
    /// No overflow.
    No = 0x1,
    /// Below, unsigned `<` (CF = 1); also "carry".
    B = 0x2,
    /// Above or equal, unsigned `>=` (CF = 0).
    Ae = 0x3,
    /// Equal / zero (ZF = 1).
    E = 0x4,
    /// Not equal / not zero.
    Ne = 0x5,
    /// Below or equal, unsigned `<=` (CF = 1 or ZF = 1).
    Be = 0x6,
    /// Above, unsigned `>`.
    A = 0x7,
    /// Sign (SF = 1).
    S = 0x8,
    /// No sign.
    Ns = 0x9,
    /// Parity even (PF = 1); after `ucomis*`: unordered.
    P = 0xA,
    /// Parity odd; after `ucomis*`: ordered.
    Np = 0xB,
    /// Less, signed `<` (SF != OF).
    L = 0xC,
    /// Greater or equal, signed `>=`.
    Ge = 0xD,
    /// Less or equal, signed `<=`.
    Le = 0xE,
    /// Greater, signed `>`.
    G = 0xF,
}

impl Cond {
    /// All sixteen conditions in encoding order.
    pub const ALL: [Cond; 16] = [
        Cond::O,
        Cond::No,
        Cond::B,
        Cond::Ae,
        Cond::E,
        Cond::Ne,
        Cond::Be,
        Cond::A,
        Cond::S,
        Cond::Ns,
        Cond::P,
        Cond::Np,
        Cond::L,
        Cond::Ge,
        Cond::Le,
        Cond::G,
    ];

    /// The 4-bit hardware encoding.
    #[inline]
    pub const fn enc(self) -> u8 {
        self as u8
    }

    /// The opposite condition: true exactly when `self` is false. (The
    /// encodings come in pairs differing in bit 0.)
    #[inline]
    pub const fn invert(self) -> Cond {
        Cond::ALL[(self.enc() ^ 1) as usize]
    }
}
