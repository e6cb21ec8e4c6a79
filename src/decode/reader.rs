//! A cursor over `&[u8]` that reads the primitive encodings of the binary
//! format: bytes, LEB128 integers, IEEE floats, names and vectors.
//!
//! Every error carries the absolute byte offset in the module (the reader
//! knows where its slice starts) and the specification's wording. Nothing
//! here allocates.

use crate::error::{Error, Result};

/// A position in a slice of a module's bytes.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    /// Absolute offset of `data[0]` in the module, for error messages.
    base: usize,
}

/// The error of a read past the end at module offset `offset`.
#[cold]
fn unexpected_end(offset: usize) -> Error {
    Error::malformed(offset, "unexpected end")
}

impl<'a> Reader<'a> {
    /// A reader over `data`, which starts at module offset `base`.
    pub fn new(data: &'a [u8], base: usize) -> Self {
        Self { data, pos: 0, base }
    }

    /// The absolute offset of the next byte.
    #[inline]
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    /// The position of the next byte in the reader's slice (its offset
    /// less that of the slice).
    #[inline]
    pub fn position(&self) -> usize {
        self.pos
    }

    /// True when every byte has been read.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// The number of bytes left.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// The unread bytes.
    pub fn rest(&self) -> &'a [u8] {
        &self.data[self.pos..]
    }

    /// The error of a read past the end. Inlined, so that the reader's
    /// address stays its own (see [`Self::on_copy`]).
    #[inline(always)]
    fn eof(&self) -> Error {
        unexpected_end(self.offset())
    }

    /// Runs `read` on a copy of this reader, then continues where the
    /// copy stopped. The out-of-line reads (rare encodings, slow paths)
    /// go through it: the decoding loops of the validator and the
    /// compiler inline their reader, and a reader whose address no call
    /// takes lives in registers instead of being stored and reloaded
    /// around every immediate.
    #[inline(always)]
    pub(crate) fn on_copy<T>(&mut self, read: impl FnOnce(&mut Reader<'a>) -> T) -> T {
        let mut copy = self.clone();
        let value = read(&mut copy);
        self.pos = copy.pos;
        value
    }

    /// The unread bytes (none if the position were past the end), for
    /// the fast paths that match on the next few bytes: one test of the
    /// position and one of the length left, where a range of fixed length
    /// (`data.get(pos..pos + n)`) also tests `pos + n` for overflow.
    #[inline(always)]
    fn unread(&self) -> &'a [u8] {
        self.data.get(self.pos..).unwrap_or_default()
    }

    /// Reads one byte.
    #[inline]
    pub fn read_u8(&mut self) -> Result<u8> {
        match self.data.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(self.eof()),
        }
    }

    /// Returns the next byte without consuming it.
    #[inline]
    pub fn peek_u8(&self) -> Result<u8> {
        self.data.get(self.pos).copied().ok_or_else(|| self.eof())
    }

    /// Reads `len` bytes.
    pub fn read_bytes(&mut self, len: usize) -> Result<&'a [u8]> {
        if len > self.remaining() {
            return Err(self.eof());
        }
        let bytes = &self.data[self.pos..self.pos + len];
        self.pos += len;
        Ok(bytes)
    }

    /// Reads `N` bytes into an array.
    pub fn read_array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let bytes = self.read_bytes(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// Splits off a sub-reader over the next `len` bytes and skips them.
    pub fn sub_reader(&mut self, len: usize) -> Result<Reader<'a>> {
        let base = self.offset();
        let bytes = self.read_bytes(len)?;
        Ok(Reader::new(bytes, base))
    }

    /// Reads an unsigned LEB128 integer of at most `bits` bits (32 or 64).
    #[inline]
    fn read_unsigned(&mut self, bits: u32) -> Result<u64> {
        let start = self.offset();
        let max_bytes = bits.div_ceil(7);
        let mut result = 0u64;
        let mut shift = 0u32;
        for i in 0..max_bytes {
            let byte = self.read_u8()?;
            let payload = u64::from(byte & 0x7f);
            if i == max_bytes - 1 {
                if byte & 0x80 != 0 {
                    return Err(Error::malformed(start, "integer representation too long"));
                }
                // Bits above `bits` in the last byte must be zero.
                let used = bits - shift;
                if payload >> used != 0 {
                    return Err(Error::malformed(start, "integer too large"));
                }
            }
            result |= payload << shift;
            if byte & 0x80 == 0 {
                return Ok(result);
            }
            shift += 7;
        }
        Err(Error::malformed(start, "integer representation too long"))
    }

    /// Reads a signed LEB128 integer of at most `bits` bits (32, 33 or 64),
    /// sign-extended to 64 bits.
    #[inline(always)]
    fn read_signed(&mut self, bits: u32) -> Result<i64> {
        // Fast paths: one byte (small constants, most block types) and two
        // (14 bits, which every width holds).
        match *self.unread() {
            [b, _, ..] if b & 0x80 == 0 => {
                self.pos += 1;
                Ok(i64::from(((b << 1) as i8) >> 1))
            }
            [b0, b1, ..] if b1 & 0x80 == 0 => {
                self.pos += 2;
                let v = i64::from(b0 & 0x7f) | i64::from(b1) << 7;
                Ok(v << 50 >> 50)
            }
            _ => self.on_copy(|r| r.read_signed_unrolled(bits)),
        }
    }

    /// [`Self::read_signed`] of three or four bytes (21 or 28 bits, which
    /// every width holds: addresses in compiled C) and of a full five-byte
    /// `i32`, else the general case.
    #[inline(never)]
    fn read_signed_unrolled(&mut self, bits: u32) -> Result<i64> {
        if let [b0, b1, b2, b3, ref after @ ..] = *self.unread() {
            let low = i64::from(b0 & 0x7f) | i64::from(b1 & 0x7f) << 7;
            if b2 & 0x80 == 0 {
                self.pos += 3;
                return Ok((low | i64::from(b2) << 14) << 43 >> 43);
            }
            if b3 & 0x80 == 0 {
                self.pos += 4;
                return Ok((low | i64::from(b2 & 0x7f) << 14 | i64::from(b3) << 21) << 36 >> 36);
            }
            // A full-length `i32` (hash constants, large addresses): its
            // last byte's 3 unused bits must repeat the sign bit (bit 3).
            if bits == 32
                && let Some(&b4) = after.first()
                && b4 & 0x80 == 0
                && matches!(b4 & 0x78, 0 | 0x78)
            {
                self.pos += 5;
                let v = low
                    | i64::from(b2 & 0x7f) << 14
                    | i64::from(b3 & 0x7f) << 21
                    | i64::from(b4 & 0x0f) << 28;
                return Ok(i64::from(v as u32 as i32));
            }
        }
        self.read_signed_slow(bits)
    }

    /// [`Self::read_signed`] for any length, and its errors. (The bytes
    /// are checked once the end is found, not one by one: `i32` constants
    /// of five bytes are common, hash constants in compiled C.)
    #[inline(never)]
    fn read_signed_slow(&mut self, bits: u32) -> Result<i64> {
        let start = self.offset();
        let max_bytes = bits.div_ceil(7) as usize;
        let bytes = self.data.get(self.pos..).unwrap_or_default();
        let mut result = 0i64;
        for (i, &byte) in bytes.iter().take(max_bytes).enumerate() {
            result |= i64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 != 0 {
                continue;
            }
            let len = i + 1;
            if len == max_bytes {
                // The unused high bits of the last byte must all equal the
                // sign bit (bit `used - 1` of the payload).
                let used = bits - 7 * i as u32;
                let sign = (byte >> (used - 1)) & 1;
                let unused = byte >> used & (0x7f >> used);
                let expected = if sign == 1 { 0x7f >> used } else { 0 };
                if unused != expected {
                    return Err(Error::malformed(start, "integer too large"));
                }
            }
            self.pos += len;
            let shift = 7 * len as u32;
            if shift < 64 {
                result = result << (64 - shift) >> (64 - shift);
            }
            return Ok(result);
        }
        if bytes.len() < max_bytes {
            return Err(Error::malformed(start + bytes.len(), "unexpected end"));
        }
        Err(Error::malformed(start, "integer representation too long"))
    }

    /// Reads a `u32` in LEB128.
    #[inline(always)]
    pub fn read_var_u32(&mut self) -> Result<u32> {
        // Fast path: one byte.
        if let Some(&b) = self.data.get(self.pos)
            && b & 0x80 == 0
        {
            self.pos += 1;
            return Ok(u32::from(b));
        }
        self.on_copy(Reader::read_var_u32_slow)
    }

    /// [`Self::read_var_u32`] beyond one byte, kept out of line so that
    /// the inlined fast path stays small.
    #[inline(never)]
    fn read_var_u32_slow(&mut self) -> Result<u32> {
        // Five bytes first, without a test per byte: the commonest case
        // here, the function indices of calls that linkers pad for
        // relocation.
        if let [b0, b1, b2, b3, b4, ..] = *self.unread()
            && b0 & b1 & b2 & b3 & 0x80 != 0
            && b4 < 0x10
        {
            self.pos += 5;
            let w = u32::from_le_bytes([b0, b1, b2, b3]);
            return Ok(w & 0x7f
                | (w >> 1) & 0x3f80
                | (w >> 2) & 0x1f_c000
                | (w >> 3) & 0xfe0_0000
                | u32::from(b4) << 28);
        }
        self.read_var_u32_other()
    }

    /// [`Self::read_var_u32_slow`] of two to four bytes, and every other
    /// case: a function of its own, so that the five-byte case needs few
    /// registers (none to save).
    #[inline(never)]
    fn read_var_u32_other(&mut self) -> Result<u32> {
        match self.read_var_u32_unrolled() {
            Some(v) => Ok(v),
            None => self.read_unsigned(32).map(|v| v as u32),
        }
    }

    /// A well-formed LEB128 `u32` of up to five bytes with five bytes to
    /// read (function and type indices from 128 on, the five-byte
    /// indices and offsets that linkers leave for relocation), without a
    /// loop; `None`, consuming nothing, for the rest (a shorter tail of
    /// the input, and every error, which [`Self::read_unsigned`] reports).
    #[inline(always)]
    pub(crate) fn read_var_u32_unrolled(&mut self) -> Option<u32> {
        let [b0, b1, b2, b3, b4, ..] = *self.unread() else {
            return None;
        };
        let mut v = u32::from(b0 & 0x7f);
        let len = if b0 & 0x80 == 0 {
            1
        } else {
            v |= u32::from(b1 & 0x7f) << 7;
            if b1 & 0x80 == 0 {
                2
            } else {
                v |= u32::from(b2 & 0x7f) << 14;
                if b2 & 0x80 == 0 {
                    3
                } else {
                    v |= u32::from(b3 & 0x7f) << 21;
                    if b3 & 0x80 == 0 {
                        4
                    } else if b4 < 0x10 {
                        // No continuation bit, no bit beyond the 32nd.
                        v |= u32::from(b4) << 28;
                        5
                    } else {
                        return None;
                    }
                }
            }
        };
        self.pos += len;
        Some(v)
    }

    /// The commonest `memarg`: flags of one byte without the memory-index
    /// bit (an alignment below 2^64), then an offset of one or two bytes.
    /// Returns (alignment, offset) and consumes them, or `None` without
    /// consuming anything for every other encoding.
    #[inline(always)]
    pub(crate) fn read_short_memarg(&mut self) -> Option<(u8, u64)> {
        let [flags, o0, o1, ..] = *self.unread() else {
            return None;
        };
        if flags >= 0x40 {
            return None;
        }
        if o0 & 0x80 == 0 {
            self.pos += 2;
            return Some((flags, u64::from(o0)));
        }
        if o1 & 0x80 == 0 {
            self.pos += 3;
            return Some((flags, u64::from(o0 & 0x7f) | u64::from(o1) << 7));
        }
        None
    }

    /// Reads a `u64` in LEB128 (every `memarg` offset: one byte is the
    /// common case, as for [`Self::read_var_u32`]).
    #[inline]
    pub fn read_var_u64(&mut self) -> Result<u64> {
        if let Some(&b) = self.data.get(self.pos)
            && b & 0x80 == 0
        {
            self.pos += 1;
            return Ok(u64::from(b));
        }
        self.on_copy(Reader::read_var_u64_slow)
    }

    /// [`Self::read_var_u64`] beyond one byte, out of line.
    #[inline(never)]
    fn read_var_u64_slow(&mut self) -> Result<u64> {
        self.read_unsigned(64)
    }

    /// Reads an `i32` in signed LEB128.
    #[inline(always)]
    pub fn read_var_i32(&mut self) -> Result<i32> {
        self.read_signed(32).map(|v| v as i32)
    }

    /// Reads an `i64` in signed LEB128.
    #[inline(always)]
    pub fn read_var_i64(&mut self) -> Result<i64> {
        self.read_signed(64)
    }

    /// Reads a signed 33-bit integer (block types).
    pub fn read_var_s33(&mut self) -> Result<i64> {
        self.read_signed(33)
    }

    /// Reads the raw bits of an `f32`.
    pub fn read_f32_bits(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.read_array()?))
    }

    /// Reads the raw bits of an `f64`.
    pub fn read_f64_bits(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.read_array()?))
    }

    /// Reads a vector length and checks that it cannot exceed the bytes left
    /// (each element takes at least one byte), so that callers may reserve
    /// capacity without letting a hostile length exhaust memory.
    pub fn read_len(&mut self) -> Result<u32> {
        let start = self.offset();
        let len = self.read_var_u32()?;
        if len as usize > self.remaining() {
            return Err(Error::malformed(start, "length out of bounds"));
        }
        Ok(len)
    }

    /// Reads a name: a length-prefixed UTF-8 string.
    pub fn read_name(&mut self) -> Result<&'a str> {
        let start = self.offset();
        let len = self.read_var_u32()? as usize;
        if len > self.remaining() {
            return Err(Error::malformed(start, "length out of bounds"));
        }
        let bytes = self.read_bytes(len)?;
        core::str::from_utf8(bytes).map_err(|_| Error::malformed(start, "malformed UTF-8 encoding"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u32_of(bytes: &[u8]) -> Result<u32> {
        Reader::new(bytes, 0).read_var_u32()
    }
    fn i32_of(bytes: &[u8]) -> Result<i32> {
        Reader::new(bytes, 0).read_var_i32()
    }
    fn i64_of(bytes: &[u8]) -> Result<i64> {
        Reader::new(bytes, 0).read_var_i64()
    }
    fn u64_of(bytes: &[u8]) -> Result<u64> {
        Reader::new(bytes, 0).read_var_u64()
    }
    fn s33_of(bytes: &[u8]) -> Result<i64> {
        Reader::new(bytes, 0).read_var_s33()
    }
    fn msg<T: core::fmt::Debug>(r: Result<T>) -> alloc::string::String {
        alloc::string::String::from(r.unwrap_err().message())
    }

    #[test]
    fn unsigned_32() {
        assert_eq!(u32_of(&[0x00]).unwrap(), 0);
        assert_eq!(u32_of(&[0x7f]).unwrap(), 127);
        assert_eq!(u32_of(&[0x80, 0x01]).unwrap(), 128);
        assert_eq!(u32_of(&[0xe5, 0x8e, 0x26]).unwrap(), 624_485);
        assert_eq!(u32_of(&[0xff, 0xff, 0xff, 0xff, 0x0f]).unwrap(), u32::MAX);
        // Overlong but within five bytes is fine.
        assert_eq!(u32_of(&[0x80, 0x80, 0x80, 0x80, 0x00]).unwrap(), 0);
        assert_eq!(
            msg(u32_of(&[0xff, 0xff, 0xff, 0xff, 0x1f])),
            "integer too large"
        );
        assert_eq!(
            msg(u32_of(&[0x80, 0x80, 0x80, 0x80, 0x70])),
            "integer too large"
        );
        assert_eq!(
            msg(u32_of(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x00])),
            "integer representation too long"
        );
        assert_eq!(msg(u32_of(&[0x80, 0x80])), "unexpected end");
        assert_eq!(msg(u32_of(&[])), "unexpected end");
    }

    #[test]
    fn signed_32() {
        assert_eq!(i32_of(&[0x00]).unwrap(), 0);
        assert_eq!(i32_of(&[0x7f]).unwrap(), -1);
        assert_eq!(i32_of(&[0x3f]).unwrap(), 63);
        assert_eq!(i32_of(&[0x40]).unwrap(), -64);
        assert_eq!(i32_of(&[0xc0, 0x00]).unwrap(), 64);
        // The two-byte fast path: 14 bits, sign-extended from bit 13.
        assert_eq!(i32_of(&[0x80, 0x7f]).unwrap(), -128);
        assert_eq!(i32_of(&[0xff, 0x3f]).unwrap(), 8191);
        assert_eq!(i32_of(&[0x80, 0x40]).unwrap(), -8192);
        assert_eq!(i64_of(&[0x80, 0x40]).unwrap(), -8192);
        assert_eq!(i32_of(&[0xff, 0xff, 0xff, 0xff, 0x07]).unwrap(), i32::MAX);
        assert_eq!(i32_of(&[0x80, 0x80, 0x80, 0x80, 0x78]).unwrap(), i32::MIN);
        assert_eq!(i32_of(&[0xff, 0xff, 0xff, 0xff, 0x7f]).unwrap(), -1);
        // Unused bits must be a sign extension.
        assert_eq!(
            msg(i32_of(&[0xff, 0xff, 0xff, 0xff, 0x0f])),
            "integer too large"
        );
        assert_eq!(
            msg(i32_of(&[0x80, 0x80, 0x80, 0x80, 0x70])),
            "integer too large"
        );
        assert_eq!(
            msg(i32_of(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])),
            "integer representation too long"
        );
        // An unfinished integer ends where its next byte would be.
        let err = i32_of(&[0x80, 0x80, 0x80]).unwrap_err();
        assert_eq!((err.message(), err.offset()), ("unexpected end", Some(3)));
        let err = i64_of(&[0xff; 7]).unwrap_err();
        assert_eq!((err.message(), err.offset()), ("unexpected end", Some(7)));
    }

    /// The shortest signed LEB128 encoding of `v`.
    fn sleb(mut v: i64) -> alloc::vec::Vec<u8> {
        let mut out = alloc::vec::Vec::new();
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if (v == 0 && byte & 0x40 == 0) || (v == -1 && byte & 0x40 != 0) {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    }

    #[test]
    fn signed_of_every_length_with_and_without_bytes_after() {
        // Each length's boundaries, so that every fast path and the general
        // case see their extremes, in each width that holds them.
        let mut values = alloc::vec::Vec::new();
        for bits in [7, 14, 21, 28, 32, 33, 35, 42, 49, 56, 63, 64] {
            let max = ((1i128 << (bits - 1)) - 1) as i64;
            let min = (-(1i128 << (bits - 1))) as i64;
            values.extend([
                max,
                max.wrapping_add(1),
                min,
                min.wrapping_sub(1),
                max / 3,
                min / 3,
            ]);
        }
        for v in values {
            for trailing in [0usize, 1, 3, 8] {
                let mut bytes = sleb(v);
                let len = bytes.len();
                bytes.resize(len + trailing, 0x0b);
                let mut r = Reader::new(&bytes, 0);
                assert_eq!(r.read_var_i64().unwrap(), v, "{v} + {trailing}");
                assert_eq!(r.offset(), len);
                if let Ok(v32) = i32::try_from(v) {
                    let mut r = Reader::new(&bytes, 0);
                    assert_eq!(r.read_var_i32().unwrap(), v32, "{v} + {trailing}");
                    assert_eq!(r.offset(), len);
                } else {
                    assert!(Reader::new(&bytes, 0).read_var_i32().is_err(), "{v}");
                }
                if (-(1i64 << 32)..1i64 << 32).contains(&v) {
                    let mut r = Reader::new(&bytes, 0);
                    assert_eq!(r.read_var_s33().unwrap(), v, "{v} + {trailing}");
                    assert_eq!(r.offset(), len);
                } else {
                    assert!(Reader::new(&bytes, 0).read_var_s33().is_err(), "{v}");
                }
            }
        }
    }

    /// `v` in LEB128 of `len` bytes (padded with continuation bytes).
    fn uleb_padded(mut v: u32, len: usize) -> alloc::vec::Vec<u8> {
        let mut out = alloc::vec::Vec::new();
        for i in 0..len {
            let more = if i + 1 < len { 0x80 } else { 0 };
            out.push((v & 0x7f) as u8 | more);
            v >>= 7;
        }
        out
    }

    #[test]
    fn unsigned_32_of_every_length_with_and_without_bytes_after() {
        // Each length's boundaries, shortest and padded (as linkers leave
        // relocated indices), so that the unrolled read and the general
        // one see their extremes, with and without five bytes to read.
        let mut cases = alloc::vec::Vec::new();
        for bits in [7u32, 14, 21, 28, 32] {
            let max = u32::MAX >> (32 - bits);
            let shortest = bits.div_ceil(7) as usize;
            for v in [max, max / 3, (max >> 7) + 1] {
                for len in shortest..=5 {
                    cases.push((v, uleb_padded(v, len)));
                }
            }
        }
        for (v, encoding) in cases {
            for trailing in [0usize, 1, 3, 8] {
                let mut bytes = encoding.clone();
                let len = bytes.len();
                bytes.resize(len + trailing, 0x0b);
                let mut r = Reader::new(&bytes, 10);
                assert_eq!(r.read_var_u32().unwrap(), v, "{encoding:x?} + {trailing}");
                assert_eq!(r.offset(), 10 + len, "{encoding:x?} + {trailing}");
            }
        }
        // The errors, whatever follows.
        for trailing in [0usize, 1, 3, 8] {
            for (bytes, message) in [
                (&[0xff, 0xff, 0xff, 0xff, 0x1f][..], "integer too large"),
                (&[0x80, 0x80, 0x80, 0x80, 0x10], "integer too large"),
                (
                    &[0x80, 0x80, 0x80, 0x80, 0x80],
                    "integer representation too long",
                ),
            ] {
                let mut bytes = bytes.to_vec();
                bytes.resize(5 + trailing, 0x0b);
                let err = Reader::new(&bytes, 10).read_var_u32().unwrap_err();
                assert_eq!(err.message(), message, "{bytes:x?}");
                assert_eq!(err.offset(), Some(10));
            }
        }
    }

    /// The read of a `u32` by five bytes at once agrees with the
    /// byte-by-byte read on every input: each length, payload bits
    /// set and clear, overlong forms, a fifth byte too large or with its
    /// continuation bit, and every cut of the input short of its end.
    #[test]
    fn unsigned_32_fast_path_agrees_with_the_general_read() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for case in 0..40_000u32 {
            let random = next().to_le_bytes();
            // The continuation bits of the first six bytes come from the
            // case number, so that every pattern occurs; the payloads and
            // the bytes after from `random`.
            let mut bytes: alloc::vec::Vec<u8> = (0..10)
                .map(|i| {
                    let payload = random[i % 8] & 0x7f;
                    let more = i < 6 && case >> i & 1 != 0;
                    payload | if more { 0x80 } else { 0 }
                })
                .collect();
            // A fifth byte near the limit of 32 bits (0x0f and 0x10).
            if case >> 6 & 1 != 0 {
                bytes[4] = (bytes[4] & 0x80) | (0x0f + (case >> 7 & 1) as u8);
            }
            for len in 0..=bytes.len() {
                let input = &bytes[..len];
                let mut general = Reader::new(input, 3);
                let expected = general.read_unsigned(32).map(|v| v as u32);
                let mut fast = Reader::new(input, 3);
                let got = fast.read_var_u32();
                match (&expected, &got) {
                    (Ok(e), Ok(g)) => {
                        assert_eq!(e, g, "{input:x?}");
                        assert_eq!(general.offset(), fast.offset(), "{input:x?}");
                    }
                    (Err(e), Err(g)) => {
                        assert_eq!(e.message(), g.message(), "{input:x?}");
                        assert_eq!(e.offset(), g.offset(), "{input:x?}");
                    }
                    _ => panic!("{input:x?}: {expected:?} against {got:?}"),
                }
            }
        }
    }

    #[test]
    fn signed_and_unsigned_64() {
        let max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00];
        assert_eq!(i64_of(&max).unwrap(), i64::MAX);
        let min = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f];
        assert_eq!(i64_of(&min).unwrap(), i64::MIN);
        let bad = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01];
        assert_eq!(msg(i64_of(&bad)), "integer too large");
        let umax = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(u64_of(&umax).unwrap(), u64::MAX);
        let ubad = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert_eq!(msg(u64_of(&ubad)), "integer too large");
        let long = [0x80; 11];
        assert_eq!(msg(i64_of(&long)), "integer representation too long");
    }

    #[test]
    fn signed_33() {
        assert_eq!(s33_of(&[0x40]).unwrap(), -64);
        assert_eq!(
            s33_of(&[0xff, 0xff, 0xff, 0xff, 0x0f]).unwrap(),
            0xffff_ffff
        );
        assert_eq!(s33_of(&[0x80, 0x80, 0x80, 0x80, 0x70]).unwrap(), -(1 << 32));
        assert_eq!(
            msg(s33_of(&[0x80, 0x80, 0x80, 0x80, 0x10])),
            "integer too large"
        );
        assert_eq!(
            msg(s33_of(&[0x80, 0x80, 0x80, 0x80, 0x20])),
            "integer too large"
        );
    }

    #[test]
    fn names_and_offsets() {
        let mut r = Reader::new(&[0x02, b'h', b'i', 0x02, 0xff, 0xfe], 100);
        assert_eq!(r.read_name().unwrap(), "hi");
        assert_eq!(r.offset(), 103);
        let err = r.read_name().unwrap_err();
        assert_eq!(err.message(), "malformed UTF-8 encoding");
        assert_eq!(err.offset(), Some(103));
        let mut r = Reader::new(&[0x05, b'a'], 0);
        assert_eq!(r.read_name().unwrap_err().message(), "length out of bounds");
    }

    #[test]
    fn out_of_line_reads_continue_where_they_stopped() {
        // Multi-byte integers take the out-of-line paths, which read on a
        // copy of the reader: the reader must move past them, and their
        // errors must carry the module offset (the reader starts at 100).
        let bytes = [
            0x80, 0x01, // u32 128
            0xff, 0xff, 0xff, 0xff, 0x0f, // u32 max
            0x80, 0x80, 0x80, 0x80, 0x80, 0x01, // u64 2^35
            0x80, 0x80, 0x80, 0x80, 0x80, 0x7f, // i64 -(2^35)
            0x85, 0x80, 0x80, 0x80, 0x00, // u32 5, padded to five bytes
            0xe5, 0x8e, 0x26, // u32 624485
            0x2a, // u32 42
            0x80, 0x80, // an unfinished u32
        ];
        let mut r = Reader::new(&bytes, 100);
        assert_eq!(r.read_var_u32().unwrap(), 128);
        assert_eq!(r.offset(), 102);
        assert_eq!(r.read_var_u32().unwrap(), u32::MAX);
        assert_eq!(r.offset(), 107);
        assert_eq!(r.read_var_u64().unwrap(), 1 << 35);
        assert_eq!(r.offset(), 113);
        assert_eq!(r.read_var_i64().unwrap(), -(1 << 35));
        assert_eq!(r.offset(), 119);
        assert_eq!(r.read_var_u32().unwrap(), 5);
        assert_eq!(r.offset(), 124);
        assert_eq!(r.read_var_u32().unwrap(), 624_485);
        assert_eq!(r.offset(), 127);
        assert_eq!(r.read_var_u32().unwrap(), 42);
        let err = r.read_var_u32().unwrap_err();
        assert_eq!((err.message(), err.offset()), ("unexpected end", Some(130)));
    }
}
