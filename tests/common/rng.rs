//! SplitMix64: a tiny, well-mixed, deterministic generator for the tests
//! that make random modules, inputs and arguments from a seed. The same
//! seed gives the same sequence everywhere, so a failure names its seed
//! and can be replayed. Files include it with `#[path]` and use a part of
//! it, hence `dead_code` is allowed here.
#![allow(dead_code)]

pub struct Rng(pub u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// An index into `0..=len`: a cut point.
    pub fn cut(&mut self, len: usize) -> usize {
        self.below(len + 1)
    }

    pub fn byte(&mut self) -> u8 {
        self.next() as u8
    }

    /// True once in `one_in` times on average.
    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.byte()).collect()
    }
}
