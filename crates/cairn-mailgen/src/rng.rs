//! Deterministic random streams.
//!
//! Every piece of generated content draws from its own ChaCha8 stream whose 256-bit key is
//! derived from the corpus seed and a path of integers (a stream tag, the mailbox index,
//! the message index, …). That is what makes message N of a mailbox reproducible without
//! generating messages 0..N-1, and what keeps unrelated parts of the corpus (say, contacts
//! and mail) from shifting when one of them changes.
//!
//! Only the raw ChaCha8 output is used (`next_u64`, `fill_bytes`): ChaCha8's stream is
//! specified, whereas `rand`'s distributions and `StdRng` may change between versions.
//! Integer ranges use our own unbiased rejection sampling, and probabilities compare
//! 53-bit integers, so no floating-point library function (whose last bits can differ
//! between platforms) ever decides an outcome.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Stream tags: the first element of every derivation path. Never renumber them: doing so
/// changes every generated corpus.
pub(crate) mod tag {
    pub const MESSAGE: u64 = 1;
    pub const HEADER: u64 = 2;
    pub const SHARED: u64 = 3;
    pub const FOLDERS: u64 = 4;
    pub const EVENTS: u64 = 5;
    pub const CONTACTS: u64 = 6;
    pub const EXTERNAL: u64 = 7;
    pub const NAMES: u64 = 8;
}

/// SplitMix64 finaliser: a cheap, well-mixing bijection on u64.
pub(crate) const fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hash a seed and a derivation path into one u64 (used for ids that must be cheap).
pub(crate) fn derive(seed: u64, path: &[u64]) -> u64 {
    let mut h = splitmix(seed ^ 0x6361_6972_6e2d_6d67); // "cairn-mg"
    for (i, p) in path.iter().enumerate() {
        h = splitmix(h ^ p.wrapping_mul(0xA076_1D64_78BD_642F) ^ (i as u64));
    }
    h
}

/// A deterministic random stream with the few sampling helpers the generator needs.
pub(crate) struct Stream(ChaCha8Rng);

impl Stream {
    /// The stream for `path` under `seed`.
    pub(crate) fn new(seed: u64, path: &[u64]) -> Self {
        let mut h = derive(seed, path);
        let mut key = [0u8; 32];
        for chunk in key.chunks_exact_mut(8) {
            h = splitmix(h);
            chunk.copy_from_slice(&h.to_le_bytes());
        }
        Self(ChaCha8Rng::from_seed(key))
    }

    pub(crate) fn u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `0..n` (0 when `n` is 0), without modulo bias.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        if n <= 1 {
            return 0;
        }
        // Reject the top partial block so that every residue is equally likely.
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let v = self.0.next_u64();
            if v < zone {
                return v % n;
            }
        }
    }

    /// Uniform in `lo..=hi` (returns `lo` if the range is empty).
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below(hi - lo + 1)
    }

    /// `below` for indexing.
    pub(crate) fn index(&mut self, len: usize) -> usize {
        // usize -> u64 is lossless on every supported platform, and the result is < len.
        self.below(len as u64) as usize
    }

    /// True with probability `p` (clamped to 0..=1).
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        if p <= 0.0 || p.is_nan() {
            return false;
        }
        if p >= 1.0 {
            return true;
        }
        let v = (self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        v < p
    }

    /// One element of a non-empty static list ("" for an empty one).
    pub(crate) fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        let i = self.index(items.len());
        items.get(i).copied().unwrap_or("")
    }

    /// Index chosen with the given integer weights (0 if all weights are 0).
    pub(crate) fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
        let mut r = self.below(total);
        for (i, w) in weights.iter().enumerate() {
            let w = u64::from(*w);
            if r < w {
                return i;
            }
            r -= w;
        }
        0
    }

    pub(crate) fn fill(&mut self, buf: &mut [u8]) {
        self.0.fill_bytes(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_stable() {
        // Pin the derivation: if this changes, every corpus changes (and the docs lie).
        let mut s = Stream::new(42, &[tag::MESSAGE, 0, 7]);
        let a = s.u64();
        let mut t = Stream::new(42, &[tag::MESSAGE, 0, 7]);
        assert_eq!(a, t.u64());
        let mut u = Stream::new(42, &[tag::MESSAGE, 0, 8]);
        assert_ne!(a, u.u64());
    }

    #[test]
    fn below_and_weighted_stay_in_range() {
        let mut s = Stream::new(1, &[]);
        for n in 1..50 {
            assert!(s.below(n) < n);
        }
        assert_eq!(s.below(0), 0);
        for _ in 0..100 {
            assert_eq!(s.weighted(&[0, 5, 0]), 1);
        }
        assert!(!s.chance(0.0));
        assert!(s.chance(1.0));
    }
}
