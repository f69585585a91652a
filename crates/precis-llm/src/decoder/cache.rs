//! The KV cache: every layer's keys and values as plain floats, in blocks of positions on huge
//! pages, read in place by one-token attention and copied into tensors for a prompt's pass.
//! One-token attention reads the whole cache once a step, after the weights' stream has pushed
//! it out of the CPU's caches: on 4 KB pages each 4 KB of it would take a TLB miss, and a
//! buffer per layer would be too small for the kernel to give it huge pages.

use candle_core::{Device, Tensor};
use memmap2::MmapMut;

use super::memory::{huge_page_buffer, HUGE_PAGE};
use crate::error::Result;

/// Which half of a layer's cache.
#[derive(Clone, Copy)]
pub(super) enum Side {
    Keys = 0,
    Values = 1,
}

/// The floats of a cache: on huge pages where the system gives them, on the heap otherwise.
enum Floats {
    /// A map of whole huge pages (Linux places such maps on huge-page boundaries), of which
    /// the first `len` floats are used.
    Mapped {
        map: MmapMut,
        len: usize,
    },
    Heap(Vec<f32>),
}

impl Floats {
    /// `len` zeroed floats: on huge pages if they fill at least one.
    fn zeroed(len: usize) -> Floats {
        let bytes = len * size_of::<f32>();
        if bytes < HUGE_PAGE {
            return Floats::Heap(vec![0.0; len]);
        }
        match huge_page_buffer(bytes.next_multiple_of(HUGE_PAGE)) {
            Ok(map) => Floats::Mapped { map, len },
            Err(_) => Floats::Heap(vec![0.0; len]),
        }
    }

    fn get(&self) -> &[f32] {
        match self {
            // A map starts on a page boundary and holds at least `len` floats (`zeroed`).
            Floats::Mapped { map, len } => &bytemuck::cast_slice(&map[..])[..*len],
            Floats::Heap(v) => v,
        }
    }

    fn get_mut(&mut self) -> &mut [f32] {
        match self {
            Floats::Mapped { map, len } => &mut bytemuck::cast_slice_mut(&mut map[..])[..*len],
            Floats::Heap(v) => v,
        }
    }
}

/// Keys and values of every layer, in blocks of `BLOCK` positions: block `b` holds positions
/// `b * BLOCK..(b + 1) * BLOCK`, per layer, side and head a run of `BLOCK` rows of `dim`
/// floats. A longer cache gets another block; nothing is copied, and no more than one block
/// is held beyond the positions written.
pub(super) struct KvCache {
    blocks: Vec<Floats>,
    layers: usize,
    heads: usize,
    dim: usize,
}

/// Positions in a block of the cache: for the default model 14.7 MB, seven huge pages.
const BLOCK: usize = 256;

impl KvCache {
    pub(super) fn new(layers: usize, heads: usize, dim: usize) -> Self {
        KvCache { blocks: Vec::new(), layers, heads, dim }
    }

    /// Where the rows of `head` on `side` of `layer` start in a block.
    fn start(&self, layer: usize, side: Side, head: usize) -> usize {
        ((layer * 2 + side as usize) * self.heads + head) * BLOCK * self.dim
    }

    /// Writes `src` (`heads × n × dim`, row-major) at positions `at..at + n` of `side` of
    /// `layer`.
    pub(super) fn write(&mut self, layer: usize, side: Side, src: &[f32], n: usize, at: usize) {
        let dim = self.dim;
        while self.blocks.len() * BLOCK < at + n {
            self.blocks.push(Floats::zeroed(self.layers * 2 * self.heads * BLOCK * dim));
        }
        for (h, rows) in src.chunks_exact(n * dim).enumerate().take(self.heads) {
            let start = self.start(layer, side, h);
            for p in at..at + n {
                let row = &rows[(p - at) * dim..][..dim];
                self.blocks[p / BLOCK].get_mut()[start + p % BLOCK * dim..][..dim].copy_from_slice(row);
            }
        }
    }

    /// The rows of `head` on `side` of `layer` for positions `0..len` (all written before), as
    /// runs of whole blocks and a last, shorter one.
    pub(super) fn head(&self, layer: usize, side: Side, head: usize, len: usize) -> impl Iterator<Item = &[f32]> {
        assert!(len <= self.blocks.len() * BLOCK, "{len} positions asked of a cache of fewer");
        let start = self.start(layer, side, head);
        self.blocks.iter().enumerate().take(len.div_ceil(BLOCK)).map(move |(b, block)| {
            let rows = (len - b * BLOCK).min(BLOCK);
            &block.get()[start..][..rows * self.dim]
        })
    }

    /// Positions `0..len` of `side` of `layer` as a `(heads, len, dim)` tensor.
    pub(super) fn tensor(&self, layer: usize, side: Side, len: usize, device: &Device) -> Result<Tensor> {
        let mut out = Vec::with_capacity(self.heads * len * self.dim);
        for h in 0..self.heads {
            for rows in self.head(layer, side, h, len) {
                out.extend_from_slice(rows);
            }
        }
        Ok(Tensor::from_vec(out, (self.heads, len, self.dim), device)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_layers_positions_come_back_in_order_across_blocks() {
        let (layers, heads, dim) = (3, 2, 4);
        let mut cache = KvCache::new(layers, heads, dim);
        let row = |l: usize, s: usize, h: usize, p: usize| -> Vec<f32> {
            (0..dim).map(|i| (l * 10000 + s * 1000 + h * 100 + p) as f32 + i as f32 / 10.0).collect()
        };
        // A prompt's pass across a block's edge, then positions one at a time past another.
        let first = BLOCK + 5;
        let positions = 2 * BLOCK + 3;
        for (at, n) in std::iter::once((0, first)).chain((first..positions).map(|p| (p, 1))) {
            for l in 0..layers {
                for (s, side) in [Side::Keys, Side::Values].into_iter().enumerate() {
                    let src: Vec<f32> =
                        (0..heads).flat_map(|h| (at..at + n).flat_map(move |p| row(l, s, h, p))).collect();
                    cache.write(l, side, &src, n, at);
                }
            }
        }
        assert_eq!(cache.blocks.len(), 3);
        for l in 0..layers {
            for (s, side) in [Side::Keys, Side::Values].into_iter().enumerate() {
                for h in 0..heads {
                    for len in [1, BLOCK, BLOCK + 1, positions] {
                        let want: Vec<f32> = (0..len).flat_map(|p| row(l, s, h, p)).collect();
                        let got: Vec<f32> = cache.head(l, side, h, len).flatten().copied().collect();
                        assert_eq!(got, want, "layer {l} side {s} head {h} len {len}");
                    }
                }
            }
        }
        let t = cache.tensor(1, Side::Values, BLOCK + 2, &Device::Cpu).unwrap();
        assert_eq!(t.dims(), &[heads, BLOCK + 2, dim]);
        let flat = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(flat[(2 * BLOCK + 3) * dim..][..dim], row(1, 1, 1, BLOCK + 1)[..]);
    }
}
