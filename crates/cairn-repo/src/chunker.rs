//! Content-defined chunking (FastCDC 2020) over a stream: boundaries depend on
//! content only, so an edit in the middle of a file changes the chunks around the
//! edit and no others. The gear table is seeded from the repository key so chunk
//! sizes do not leak content to someone reading pack headers' lengths.

use fastcdc::v2020::{MASKS, Normalization, cut_gear, get_gear_with_seed};

use crate::format::ChunkerParams;

/// A keyed chunker; cheap to share (tables built once).
#[derive(Debug, Clone)]
pub struct Chunker {
    params: ChunkerParams,
    mask_s: u64,
    mask_l: u64,
    gear: Box<[u64; 256]>,
    gear_ls: Box<[u64; 256]>,
}

impl Chunker {
    /// `params` must have been validated by `Config::parse`.
    pub fn new(params: ChunkerParams, seed: u64) -> Chunker {
        let bits = fastcdc::v2020::logarithm2(params.avg_size);
        let norm = Normalization::Level1.bits();
        let (gear, gear_ls) = get_gear_with_seed(seed);
        Chunker {
            params,
            mask_s: MASKS[(bits + norm) as usize],
            mask_l: MASKS[(bits - norm) as usize],
            gear,
            gear_ls,
        }
    }

    pub fn max_size(&self) -> usize {
        self.params.max_size as usize
    }

    /// Length of the first chunk of `data`. When `eof` is false the caller must
    /// pass at least `max_size` bytes, so the cut does not depend on how the
    /// stream was split into reads.
    pub fn cut(&self, data: &[u8], eof: bool) -> usize {
        debug_assert!(eof || data.len() >= self.max_size());
        if data.len() <= self.params.min_size as usize {
            return data.len();
        }
        let (_, n) = cut_gear(
            data,
            self.params.min_size as usize,
            self.params.avg_size as usize,
            self.params.max_size as usize,
            self.mask_s,
            self.mask_l,
            self.mask_s << 1,
            self.mask_l << 1,
            &self.gear,
            &self.gear_ls,
        );
        n.max(1).min(data.len())
    }

    /// All chunk lengths of an in-memory buffer.
    pub fn split<'a>(&'a self, data: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
        let mut pos = 0;
        std::iter::from_fn(move || {
            if pos >= data.len() {
                return None;
            }
            let n = self.cut(&data[pos..], true);
            let chunk = &data[pos..pos + n];
            pos += n;
            Some(chunk)
        })
    }
}
