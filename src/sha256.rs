//! SHA-256 (FIPS 180-4), in `no_std` and without dependencies.
//!
//! Serialized modules carry a SHA-256 of their contents, which
//! `Module::deserialize_checked` verifies before trusting a single byte,
//! and the `std` compilation cache names its files by the hash of the wasm
//! bytes. The crate keeps its dependencies to `spin`, `hashbrown` and
//! `linked_list_allocator`, so the hash is implemented here: a plain,
//! portable implementation of the standard's algorithm (section 6.2), fast
//! enough that verifying a module costs a small part of loading it. On
//! x86-64 processors with the SHA extensions (`cpuid.7.0:ebx[29]`, with
//! SSSE3 and SSE4.1) the compression function runs on them instead, about
//! ten times faster: the hash is most of what loading a large module
//! costs. Not on targets built without SSE (kernels such as
//! `x86_64-unknown-none`, whose code must not touch vector registers). Both are tested against the NIST examples and the
//! byte-oriented test vectors, and against each other.

/// The initial hash value H(0) (FIPS 180-4, 5.3.3).
const H0: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// The round constants K (FIPS 180-4, 4.2.2).
const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// An incremental SHA-256 computation.
#[derive(Clone)]
pub struct Sha256 {
    state: [u32; 8],
    /// Bytes of a block not yet processed (`buffered` of them).
    block: [u8; 64],
    buffered: usize,
    /// Total message length in bytes.
    length: u64,
}

impl Default for Sha256 {
    fn default() -> Self {
        Self::new()
    }
}

impl Sha256 {
    /// A computation over the empty message.
    pub const fn new() -> Sha256 {
        Sha256 {
            state: H0,
            block: [0; 64],
            buffered: 0,
            length: 0,
        }
    }

    /// The digest of `data`.
    pub fn digest(data: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(data);
        h.finish()
    }

    /// Appends `data` to the message.
    pub fn update(&mut self, mut data: &[u8]) {
        self.length = self.length.wrapping_add(data.len() as u64);
        if self.buffered > 0 {
            let take = (64 - self.buffered).min(data.len());
            self.block[self.buffered..self.buffered + take].copy_from_slice(&data[..take]);
            self.buffered += take;
            data = &data[take..];
            if self.buffered < 64 {
                return;
            }
            let block = self.block;
            compress_blocks(&mut self.state, &block);
            self.buffered = 0;
        }
        let whole = data.len() / 64 * 64;
        compress_blocks(&mut self.state, &data[..whole]);
        let rest = &data[whole..];
        self.block[..rest.len()].copy_from_slice(rest);
        self.buffered = rest.len();
    }

    /// Pads the message (FIPS 180-4, 5.1.1) and returns its digest.
    pub fn finish(mut self) -> [u8; 32] {
        let bits = self.length.wrapping_mul(8);
        let mut pad = [0u8; 72];
        pad[0] = 0x80;
        // One 0x80 byte, zeros up to 56 mod 64, the 64-bit length.
        let zeros = (119 - self.buffered) % 64;
        let n = 1 + zeros;
        pad[n..n + 8].copy_from_slice(&bits.to_be_bytes());
        let length = self.length;
        self.update(&pad[..n + 8]);
        self.length = length;
        let mut out = [0u8; 32];
        for (o, w) in out.chunks_exact_mut(4).zip(self.state) {
            o.copy_from_slice(&w.to_be_bytes());
        }
        out
    }
}

/// The compression function over each 64-byte block of `blocks` (whose
/// length is a multiple of 64), with the SHA extensions when the processor
/// has them.
fn compress_blocks(state: &mut [u32; 8], blocks: &[u8]) {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    if shani::available() {
        // SAFETY: the processor has the SHA extensions, SSSE3 and SSE4.1.
        unsafe { shani::compress_blocks(state, blocks) };
        return;
    }
    compress_blocks_portable(state, blocks);
}

fn compress_blocks_portable(state: &mut [u32; 8], blocks: &[u8]) {
    for block in blocks.chunks_exact(64) {
        let mut b = [0u8; 64];
        b.copy_from_slice(block);
        compress(state, &b);
    }
}

/// The compression function on the x86 SHA extensions, four rounds per
/// `sha256rnds2` pair, the message schedule by `sha256msg1/2`, with the
/// state kept as the instructions want it: (A, B, E, F) and (C, D, G, H).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod shani {
    use super::K;
    use core::arch::x86_64::*;
    use core::sync::atomic::{AtomicU8, Ordering};

    /// 0: not asked yet, 1: absent, 2: present.
    static HAS: AtomicU8 = AtomicU8::new(0);

    /// Whether the processor has the SHA extensions, SSSE3 and SSE4.1.
    pub fn available() -> bool {
        match HAS.load(Ordering::Relaxed) {
            0 => {
                let has = __cpuid(0).eax >= 7 && {
                    let l1 = __cpuid(1).ecx;
                    let l7 = __cpuid_count(7, 0).ebx;
                    l1 & (1 << 9) != 0 && l1 & (1 << 19) != 0 && l7 & (1 << 29) != 0
                };
                HAS.store(if has { 2 } else { 1 }, Ordering::Relaxed);
                has
            }
            v => v == 2,
        }
    }

    /// # Safety
    ///
    /// The processor must have the SHA extensions, SSSE3 and SSE4.1
    /// ([`available`]).
    #[target_feature(enable = "sha,ssse3,sse4.1")]
    pub unsafe fn compress_blocks(state: &mut [u32; 8], blocks: &[u8]) {
        // Big-endian words: reverse each word's bytes.
        let swap = _mm_set_epi64x(0x0c0d0e0f_08090a0b, 0x04050607_00010203);
        // SAFETY: `state` is 32 bytes; unaligned loads.
        let (dcba, hgfe) = unsafe {
            (
                _mm_loadu_si128(state.as_ptr().cast()),
                _mm_loadu_si128(state.as_ptr().add(4).cast()),
            )
        };
        let cdab = _mm_shuffle_epi32(dcba, 0xb1);
        let efgh = _mm_shuffle_epi32(hgfe, 0x1b);
        let mut abef = _mm_alignr_epi8(cdab, efgh, 8);
        let mut cdgh = _mm_blend_epi16(efgh, cdab, 0xf0);
        for block in blocks.chunks_exact(64) {
            let (abef0, cdgh0) = (abef, cdgh);
            let mut w = [_mm_setzero_si128(); 16];
            for i in 0..16 {
                w[i] = if i < 4 {
                    // SAFETY: `block` is 64 bytes; unaligned load of 16.
                    _mm_shuffle_epi8(
                        unsafe { _mm_loadu_si128(block.as_ptr().add(16 * i).cast()) },
                        swap,
                    )
                } else {
                    // W[t-16] + s0(W[t-15]), + W[t-7], then + s1(W[t-2]).
                    let t = _mm_sha256msg1_epu32(w[i - 4], w[i - 3]);
                    let t = _mm_add_epi32(t, _mm_alignr_epi8(w[i - 1], w[i - 2], 4));
                    _mm_sha256msg2_epu32(t, w[i - 1])
                };
                // SAFETY: `K` has 64 words; 4 from 4 * i.
                let k = unsafe { _mm_loadu_si128(K.as_ptr().add(4 * i).cast()) };
                let wk = _mm_add_epi32(w[i], k);
                cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
                abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0e));
            }
            abef = _mm_add_epi32(abef, abef0);
            cdgh = _mm_add_epi32(cdgh, cdgh0);
        }
        let feba = _mm_shuffle_epi32(abef, 0x1b);
        let dchg = _mm_shuffle_epi32(cdgh, 0xb1);
        let dcba = _mm_blend_epi16(feba, dchg, 0xf0);
        let hgfe = _mm_alignr_epi8(dchg, feba, 8);
        // SAFETY: `state` is 32 bytes; unaligned stores.
        unsafe {
            _mm_storeu_si128(state.as_mut_ptr().cast(), dcba);
            _mm_storeu_si128(state.as_mut_ptr().add(4).cast(), hgfe);
        }
    }
}

/// The SHA-256 compression function over one 512-bit block (6.2.2).
fn compress(state: &mut [u32; 8], block: &[u8; 64]) {
    let mut w = [0u32; 64];
    for (t, word) in block.chunks_exact(4).enumerate() {
        w[t] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
    }
    for t in 16..64 {
        let s0 = w[t - 15].rotate_right(7) ^ w[t - 15].rotate_right(18) ^ (w[t - 15] >> 3);
        let s1 = w[t - 2].rotate_right(17) ^ w[t - 2].rotate_right(19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16]
            .wrapping_add(s0)
            .wrapping_add(w[t - 7])
            .wrapping_add(s1);
    }
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;
    for t in 0..64 {
        let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
        let ch = (e & f) ^ (!e & g);
        let t1 = h
            .wrapping_add(s1)
            .wrapping_add(ch)
            .wrapping_add(K[t])
            .wrapping_add(w[t]);
        let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
        let maj = (a & b) ^ (a & c) ^ (b & c);
        let t2 = s0.wrapping_add(maj);
        h = g;
        g = f;
        f = e;
        e = d.wrapping_add(t1);
        d = c;
        c = b;
        b = a;
        a = t1.wrapping_add(t2);
    }
    for (s, v) in state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
        *s = s.wrapping_add(v);
    }
}

#[cfg(test)]
mod tests {
    use super::Sha256;
    use alloc::vec::Vec;

    fn hex(digest: [u8; 32]) -> alloc::string::String {
        digest.iter().map(|b| alloc::format!("{b:02x}")).collect()
    }

    // The examples of the NIST Cryptographic Standards and Guidelines
    // (SHA256.pdf, SHA2_Additional.pdf) and the FIPS 180-2 appendix.
    #[test]
    fn nist_vectors() {
        let cases: &[(&[u8], &str)] = &[
            (
                b"",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            (
                b"abc",
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            (
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
            ),
            (
                b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
                "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
            ),
            (
                &[0xbd],
                "68325720aabd7c82f30f554b313d0570c95accbb7dc4b5aae11204c08ffe732b",
            ),
            (
                &[0xc9, 0x8c, 0x8e, 0x55],
                "7abc22c0ae5af26ce93dbb94433a0e0b2e119d014f8e7f65bd56c61ccccd9504",
            ),
        ];
        for (msg, expected) in cases {
            assert_eq!(hex(Sha256::digest(msg)), *expected, "{msg:?}");
        }
    }

    #[test]
    fn nist_long_vectors() {
        // SHA2_Additional.pdf: 55, 56, 57, 64, 1000 and 1005 repeated bytes,
        // around the padding's block boundaries.
        let cases: &[(usize, u8, &str)] = &[
            (
                55,
                0,
                "02779466cdec163811d078815c633f21901413081449002f24aa3e80f0b88ef7",
            ),
            (
                56,
                0,
                "d4817aa5497628e7c77e6b606107042bbba3130888c5f47a375e6179be789fbb",
            ),
            (
                57,
                0,
                "65a16cb7861335d5ace3c60718b5052e44660726da4cd13bb745381b235a1785",
            ),
            (
                64,
                0,
                "f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb4b",
            ),
            (
                1000,
                0,
                "541b3e9daa09b20bf85fa273e5cbd3e80185aa4ec298e765db87742b70138a53",
            ),
            (
                1000,
                0x41,
                "c2e686823489ced2017f6059b8b239318b6364f6dcd835d0a519105a1eadd6e4",
            ),
            (
                1005,
                0x55,
                "f4d62ddec0f3dd90ea1380fa16a5ff8dc4c54b21740650f24afc4120903552b0",
            ),
        ];
        for &(n, byte, expected) in cases {
            assert_eq!(
                hex(Sha256::digest(&alloc::vec![byte; n])),
                expected,
                "{n} x {byte:#x}"
            );
        }
        // One million 'a' (FIPS 180-2, C.3), fed in uneven pieces.
        let million: Vec<u8> = alloc::vec![b'a'; 1_000_000];
        let mut h = Sha256::new();
        for piece in million.chunks(997) {
            h.update(piece);
        }
        assert_eq!(
            hex(h.finish()),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        );
    }

    /// The SHA extensions' compression (used by `digest` where the
    /// processor has them) against the portable one, block counts 0 to 40.
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    #[test]
    fn sha_extensions_agree_with_the_portable_code() {
        if !super::shani::available() {
            std::println!("the processor lacks the SHA extensions: only the portable code ran");
            return;
        }
        let data: Vec<u8> = (0..64 * 40u32).map(|i| (i * 31 + i / 7) as u8).collect();
        for blocks in 0..=40 {
            let mut portable = super::H0;
            super::compress_blocks_portable(&mut portable, &data[..64 * blocks]);
            let mut fast = super::H0;
            // SAFETY: `available` said yes.
            unsafe { super::shani::compress_blocks(&mut fast, &data[..64 * blocks]) };
            assert_eq!(fast, portable, "{blocks} blocks");
        }
    }

    #[test]
    fn incremental_equals_one_shot() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        for split in [0, 1, 63, 64, 65, 128, 200, 300] {
            let mut h = Sha256::new();
            h.update(&data[..split]);
            h.update(&data[split..]);
            assert_eq!(h.finish(), Sha256::digest(&data), "split at {split}");
        }
    }
}
