//! Checksums that do not depend on how values were split: a value's term mixes its
//! position (a global id, a place in a dataset) with its bits, and an array's checksum
//! is the wrapping sum of its terms — so ranks can each sum the values they wrote or
//! read, and the totals agree whatever the split. And FNV-1a over bytes, for text and
//! for small values taken whole.

/// A checksum term of one value at a position: 32 bits, summed in 64 (wrapping).
#[inline]
pub fn term(position: u64, bits: u64) -> u64 {
    let mut z = position.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ bits;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) >> 32
}

/// A value's bits, for `term`.
pub trait Bits: Copy {
    fn bits(self) -> u64;
}

impl Bits for f64 {
    fn bits(self) -> u64 {
        self.to_bits()
    }
}
impl Bits for f32 {
    fn bits(self) -> u64 {
        self.to_bits() as u64
    }
}
impl Bits for u64 {
    fn bits(self) -> u64 {
        self
    }
}
impl Bits for u32 {
    fn bits(self) -> u64 {
        self as u64
    }
}

/// The sum of the terms of `values` at positions `first`, `first + 1`, ...
pub fn sum_terms<T: Bits>(first: u64, values: &[T]) -> u64 {
    values.iter().enumerate().fold(0u64, |acc, (i, v)| acc.wrapping_add(term(first + i as u64, v.bits())))
}

/// FNV-1a, 64 bits: stable across runs and machines (the standard library's hasher is
/// not promised to be).
#[derive(Clone, Copy, Debug)]
pub struct Fnv(pub u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    pub fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }

    /// Text with its length first, so that a sequence of texts hashes unambiguously.
    pub fn text(&mut self, s: &str) {
        self.bytes(&(s.len() as u64).to_le_bytes());
        self.bytes(s.as_bytes());
    }
}

impl std::fmt::Write for Fnv {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.bytes(s.as_bytes());
        Ok(())
    }
}

/// FNV-1a of formatted text.
pub fn hash(args: std::fmt::Arguments<'_>) -> u64 {
    let mut h = Fnv::default();
    let _ = std::fmt::Write::write_fmt(&mut h, args);
    h.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_do_not_depend_on_the_split() {
        let values: Vec<f64> = (0..100).map(|i| i as f64 * 0.37).collect();
        let whole = sum_terms(5, &values);
        let parts = sum_terms(5, &values[..30]).wrapping_add(sum_terms(35, &values[30..]));
        assert_eq!(whole, parts);
        let mut moved = values.clone();
        moved.swap(3, 4);
        assert_ne!(sum_terms(5, &moved), whole, "positions count");
    }

    #[test]
    fn fnv_of_known_text() {
        // FNV-1a 64 of "a" (the published test vector).
        assert_eq!(hash(format_args!("a")), 0xaf63_dc4c_8601_ec8c);
    }
}
