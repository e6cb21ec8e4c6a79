//! Operands other than registers: memory references ([`Mem`]) and labels
//! ([`Label`]), which name code positions for jumps and RIP-relative data.

use super::regs::Gpr;

/// A position in the code being assembled, created by
/// `Assembler::new_label` and fixed by `Assembler::bind`. Only meaningful
/// for the assembler that created it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Label(pub(crate) u32);

impl Label {
    /// The label's number in its assembler (0, 1, 2, … in creation order).
    #[inline]
    pub const fn index(self) -> u32 {
        self.0
    }
}

/// The scale factor applied to an index register.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[repr(u8)]
#[allow(missing_docs)] // X1..X8: the index is multiplied by 1, 2, 4 or 8
pub enum Scale {
    X1 = 0,
    X2 = 1,
    X4 = 2,
    X8 = 3,
}

impl Scale {
    /// All scales, 1 to 8.
    pub const ALL: [Scale; 4] = [Scale::X1, Scale::X2, Scale::X4, Scale::X8];

    /// The 2-bit SIB encoding (log2 of the factor).
    #[inline]
    pub const fn enc(self) -> u8 {
        self as u8
    }

    /// The factor: 1, 2, 4 or 8.
    #[inline]
    pub const fn factor(self) -> u32 {
        1 << (self as u32)
    }
}

/// A memory operand.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Mem {
    /// `[base + index * scale + disp]`; `index` is never `rsp` (the SIB
    /// encoding of `rsp` as index means "no index").
    Based {
        /// Base register.
        base: Gpr,
        /// Optional index register and its scale.
        index: Option<(Gpr, Scale)>,
        /// Signed displacement.
        disp: i32,
    },
    /// `[rip + (label - end of instruction) + disp]`: data or code at `disp`
    /// bytes from `label`, position-independent.
    Rip {
        /// The label addressed.
        label: Label,
        /// Bytes from the label.
        disp: i32,
    },
}

impl Mem {
    /// `[base + disp]`.
    #[inline]
    pub const fn base(base: Gpr, disp: i32) -> Mem {
        Mem::Based {
            base,
            index: None,
            disp,
        }
    }

    /// `[base + index * scale + disp]`.
    ///
    /// # Panics
    /// If `index` is `rsp`, which x86 cannot encode as an index.
    #[inline]
    pub const fn indexed(base: Gpr, index: Gpr, scale: Scale, disp: i32) -> Mem {
        assert!(
            !matches!(index, Gpr::Rsp),
            "rsp cannot be an index register"
        );
        Mem::Based {
            base,
            index: Some((index, scale)),
            disp,
        }
    }

    /// `[rip + label]`.
    #[inline]
    pub const fn rip(label: Label) -> Mem {
        Mem::Rip { label, disp: 0 }
    }

    /// `[rip + label + disp]`.
    #[inline]
    pub const fn rip_disp(label: Label, disp: i32) -> Mem {
        Mem::Rip { label, disp }
    }
}
