//! The KV cache of one layer: keys or values as plain floats per head, grown in steps, read in
//! place by one-token attention and copied into a tensor for a prompt's pass.

use candle_core::{Device, Tensor};

use crate::error::Result;

/// Keys and values are stored for this many more positions at a time when the cache grows.
const CACHE_STEP: usize = 512;

/// Keys or values of one layer for positions `0..len`: per head, a run of `capacity` rows of
/// `head_dim` floats, grown by `CACHE_STEP` positions at a time. Plain floats, so a one-token
/// step reads a head's rows in place; a prompt gets them copied into a tensor.
pub(super) struct CacheBuffer {
    data: Vec<f32>,
    heads: usize,
    dim: usize,
    capacity: usize,
}

impl CacheBuffer {
    pub(super) fn new(heads: usize, dim: usize) -> Self {
        CacheBuffer { data: Vec::new(), heads, dim, capacity: 0 }
    }

    /// Writes `src` (`heads × n × dim`, row-major) at positions `at..at + n`; the positions
    /// before `at` are kept.
    pub(super) fn write(&mut self, src: &[f32], n: usize, at: usize, limit: usize) {
        let needed = at + n;
        let dim = self.dim;
        if needed > self.capacity {
            let capacity = needed.div_ceil(CACHE_STEP).saturating_mul(CACHE_STEP).min(limit.max(needed));
            let mut grown = vec![0f32; self.heads * capacity * dim];
            for h in 0..self.heads {
                let kept = &self.data[h * self.capacity * dim..][..at.min(self.capacity) * dim];
                grown[h * capacity * dim..][..kept.len()].copy_from_slice(kept);
            }
            self.data = grown;
            self.capacity = capacity;
        }
        for (h, rows) in src.chunks_exact(n * dim).enumerate().take(self.heads) {
            self.data[(h * self.capacity + at) * dim..][..n * dim].copy_from_slice(rows);
        }
    }

    /// Head `h`'s rows for positions `0..len`.
    pub(super) fn head(&self, h: usize, len: usize) -> &[f32] {
        &self.data[h * self.capacity * self.dim..][..len * self.dim]
    }

    /// Positions `0..len` as a `(heads, len, head_dim)` tensor.
    pub(super) fn tensor(&self, len: usize, device: &Device) -> Result<Tensor> {
        let mut out = Vec::with_capacity(self.heads * len * self.dim);
        for h in 0..self.heads {
            out.extend_from_slice(self.head(h, len));
        }
        Ok(Tensor::from_vec(out, (self.heads, len, self.dim), device)?)
    }
}
