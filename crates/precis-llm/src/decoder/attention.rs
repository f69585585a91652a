//! Self-attention of one layer: for a prompt, the query, key and value projection on plain
//! rows, then candle tensor ops over the cache and the new positions under a causal mask set in
//! place; for one token (or a few guessed tokens being checked), row by row with plain per-head
//! loops over the cache, shared with the helper team. Also the rotary position embedding (RoPE)
//! and the per-row RMS norm those loops use.

use candle_core::{Device, Tensor};

use super::cache::{KvCache, Side};
use super::config::Config;
use super::Layer;
use crate::error::Result;
use crate::kernels::vector::VectorKernels;

/// A layer's place in the KV cache.
pub(super) struct Place<'a> {
    pub(super) cache: &'a mut KvCache,
    pub(super) layer: usize,
}

/// Self-attention of one layer for a prompt's `seq` new positions after `pos` cached ones, `h`
/// their normed rows one after the other: the heads' mix for each new position, `seq` rows of
/// `heads * head_dim` values, before the output projection (which the caller applies to the
/// positions it needs). The projection and its biases run on plain rows; the rest (the per-head
/// norms, rotation, scores, softmax and mix) in candle's tensor ops, the causal mask set in
/// place.
pub(super) fn attention(
    c: &Config,
    layer: &Layer,
    place: Place,
    h: &[f32],
    seq: usize,
    pos: usize,
    rope: &Rope,
) -> Result<Vec<f32>> {
    let dim = c.head_dim;
    let (q_width, kv_width) = (c.heads * dim, c.kv_heads * dim);
    // Each row's queries, keys and values side by side, split into (heads, seq, dim).
    let qkv = layer.qkv.forward_rows(h, seq)?;
    let width = q_width + 2 * kv_width;
    let part = |at: usize, part_width: usize, heads: usize| -> Result<Tensor> {
        let mut values = Vec::with_capacity(seq * part_width);
        for row in qkv.chunks_exact(width) {
            values.extend_from_slice(&row[at..at + part_width]);
        }
        Ok(Tensor::from_vec(values, (seq, heads, dim), &Device::Cpu)?.transpose(0, 1)?.contiguous()?)
    };
    let mut q = part(0, q_width, c.heads)?;
    let mut k = part(q_width, kv_width, c.kv_heads)?;
    let v = part(q_width + kv_width, kv_width, c.kv_heads)?;
    if let Some(norms) = &layer.qk_norm {
        q = candle_nn::ops::rms_norm(&q, &norms.q.tensor, c.rms_eps as f32)?;
        k = candle_nn::ops::rms_norm(&k, &norms.k.tensor, c.rms_eps as f32)?;
    }
    let q = rope.rotate(c, &q)?;
    let k = rope.rotate(c, &k)?;
    let Place { cache, layer: l } = place;
    let total = pos + seq;
    cache.write(l, Side::Keys, &k.flatten_all()?.to_vec1::<f32>()?, seq, pos);
    cache.write(l, Side::Values, &v.flatten_all()?.to_vec1::<f32>()?, seq, pos);
    let keys = cache.tensor(l, Side::Keys, total, &Device::Cpu)?;
    let values = cache.tensor(l, Side::Values, total, &Device::Cpu)?;

    // Grouped-query attention without copying keys: the query heads that share a key head
    // are stacked along the sequence axis, (heads, seq, dim) -> (kv_heads, group * seq, dim).
    let group = c.heads / c.kv_heads;
    let q = (q * (1.0 / (dim as f64).sqrt()))?.reshape((c.kv_heads, group * seq, dim))?;
    let scores = q.matmul(&keys.t()?)?;
    scores.inplace_op1(&CausalMask { seq, pos })?;
    let probs = candle_nn::ops::softmax_last_dim(&scores)?;
    let y = probs.matmul(&values)?;
    // (kv_heads, group * seq, dim) -> (heads, seq, dim) -> (seq, heads * dim)
    Ok(y.reshape((c.heads, seq, dim))?.transpose(0, 1)?.flatten_all()?.to_vec1::<f32>()?)
}

/// Self-attention of one layer for `seq` new positions (one, or a few guessed tokens being
/// checked), `h` their normed rows one after the other, each attending in turn with plain
/// per-head loops over the cache. Every row gets exactly the arithmetic it would get alone,
/// while the projections read their weights once for all rows (a product gives each row the
/// same bits as alone), so checking guesses gives the very logits single steps would.
#[allow(clippy::too_many_arguments)]
pub(super) fn attention_rows(
    c: &Config,
    layer: &Layer,
    place: Place,
    h: &[f32],
    seq: usize,
    pos: usize,
    rope: &Rope,
    k: VectorKernels,
) -> Result<Vec<f32>> {
    let dim = c.head_dim;
    let (q_width, kv_width) = (c.heads * dim, c.kv_heads * dim);
    // Each row's queries, keys and values side by side.
    let mut qkv = layer.qkv.forward_rows(h, seq)?;
    let width = q_width + 2 * kv_width;
    let scale = 1.0 / (dim as f32).sqrt();
    let group = c.heads / c.kv_heads;
    let mut out = vec![0f32; seq * q_width];
    let Place { cache, layer: l } = place;
    let per_task = heads_per_task(c.kv_heads, group, crate::kernels::team::threads());
    for row in 0..seq {
        let (q, rest) = qkv[row * width..][..width].split_at_mut(q_width);
        let (key, value) = rest.split_at_mut(kv_width);
        if let Some(norms) = &layer.qk_norm {
            for head in q.chunks_exact_mut(dim) {
                rms_norm_in_place(head, &norms.q.values, c.rms_eps as f32);
            }
            for head in key.chunks_exact_mut(dim) {
                rms_norm_in_place(head, &norms.k.values, c.rms_eps as f32);
            }
        }
        for head in q.chunks_exact_mut(dim) {
            rope.rotate_row(c, row, head);
            for x in head.iter_mut() {
                *x *= scale;
            }
        }
        for head in key.chunks_exact_mut(dim) {
            rope.rotate_row(c, row, head);
        }
        cache.write(l, Side::Keys, key, 1, pos + row);
        cache.write(l, Side::Values, value, 1, pos + row);
        let total = pos + row + 1;
        let (cache, q) = (&*cache, &*q);
        // The query heads `first..first + ys.len() / dim`, all of one key head, into `ys`.
        let heads = |first: usize, ys: &mut [f32]| {
            let (kv, count) = (first / group, ys.len() / dim);
            let mut scores = vec![0f32; count * total];
            let mut at = 0;
            for rows in cache.head(l, Side::Keys, kv, total) {
                for (c, chunk) in rows.chunks(CHUNK_ROWS * dim).enumerate() {
                    let (start, n) = (at + c * CHUNK_ROWS, chunk.len() / dim);
                    for h in 0..count {
                        let qh = &q[(first + h) * dim..][..dim];
                        (k.scores)(qh, chunk, dim, &mut scores[h * total + start..][..n]);
                    }
                }
                at += rows.len() / dim;
            }
            for scores in scores.chunks_exact_mut(total) {
                let max = scores.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s));
                for s in scores.iter_mut() {
                    *s -= max;
                }
                (k.exp)(scores);
                let sum = scores.iter().fold(0f32, |sum, &s| sum + s);
                for s in scores.iter_mut() {
                    *s /= sum;
                }
            }
            // Chunk by chunk, each value of `y` takes the same sums in the same order as in
            // one pass over all rows.
            let mut at = 0;
            for rows in cache.head(l, Side::Values, kv, total) {
                for (c, chunk) in rows.chunks(CHUNK_ROWS * dim).enumerate() {
                    let (start, n) = (at + c * CHUNK_ROWS, chunk.len() / dim);
                    for (h, y) in ys.chunks_exact_mut(dim).enumerate() {
                        (k.mix)(&scores[h * total + start..][..n], chunk, y);
                    }
                }
                at += rows.len() / dim;
            }
        };
        crate::kernels::team::chunks_mut(&mut out[row * q_width..][..q_width], per_task * dim, |task, ys| {
            heads(task * per_task, ys);
        });
    }
    layer.wo.forward_rows(&out, seq)
}

/// Cached rows one-token attention takes at a time for all the query heads of a key head: each
/// chunk is read from memory once and then from the first-level cache (32 rows of 128 floats
/// are 16 KB), where reading each head's pass over all rows in turn read the rows once per
/// head, from the second-level cache after the first.
const CHUNK_ROWS: usize = 32;

/// How many query heads, all of one key head, a task of one-token attention takes, for
/// `threads` threads and `kv_heads` key heads of `group` query heads each: as many as still
/// make the number of tasks a multiple of the threads', so each key head's rows come in from
/// memory to as few cores as that allows (one, when each task is a whole key head; the
/// weights' stream has pushed them out of the caches since the last step); one if no split
/// does.
fn heads_per_task(kv_heads: usize, group: usize, threads: usize) -> usize {
    (1..=group)
        .rev()
        .find(|&per| group.is_multiple_of(per) && (kv_heads * group / per).is_multiple_of(threads.max(1)))
        .unwrap_or(1)
}

/// `candle_nn::ops::rms_norm` of one row, with the same arithmetic: the mean square summed in
/// order, then each value divided by the root and multiplied by its weight.
pub(super) fn rms_norm_in_place(x: &mut [f32], weight: &[f32], eps: f32) {
    let sum2: f32 = x.iter().map(|v| v * v).sum();
    let root = (sum2 / x.len() as f32 + eps).sqrt();
    for (v, w) in x.iter_mut().zip(weight) {
        *v = *v / root * w;
    }
}

/// Cosines and sines of the rotation angles for positions `pos..pos + seq`, `(seq, dim / 2)`,
/// as floats for rows that attend one at a time, and also as tensors for a prompt's pass.
pub(super) struct Rope {
    cos: Vec<f32>,
    sin: Vec<f32>,
    tensors: Option<(Tensor, Tensor)>,
}

impl Rope {
    pub(super) fn new(c: &Config, pos: usize, seq: usize, as_tensors: bool, device: &Device) -> Result<Rope> {
        let half = c.head_dim / 2;
        let mut cos = Vec::with_capacity(seq * half);
        let mut sin = Vec::with_capacity(seq * half);
        let inv: Vec<f32> = (0..half).map(|i| 1.0 / c.rope_theta.powf((2 * i) as f32 / c.head_dim as f32)).collect();
        for p in pos..pos + seq {
            let p = p as f32 / c.rope_linear_scale;
            for f in &inv {
                let angle = p * f;
                cos.push(angle.cos());
                sin.push(angle.sin());
            }
        }
        let tensors = if as_tensors {
            Some((Tensor::from_slice(&cos, (seq, half), device)?, Tensor::from_slice(&sin, (seq, half), device)?))
        } else {
            None
        };
        Ok(Rope { cos, sin, tensors })
    }

    /// Applies the rotation to `(heads, seq, dim)`.
    fn rotate(&self, c: &Config, x: &Tensor) -> Result<Tensor> {
        let (cos, sin) = self.tensors.as_ref().expect("tensors are made for a prompt");
        let x = x.unsqueeze(0)?;
        let y = if c.rope_neox {
            candle_nn::rotary_emb::rope(&x, cos, sin)?
        } else {
            candle_nn::rotary_emb::rope_i(&x, cos, sin)?
        };
        Ok(y.squeeze(0)?)
    }

    /// Applies the rotation of position `pos + row` to one head's `dim` values, with the same
    /// arithmetic as `rotate`.
    fn rotate_row(&self, c: &Config, row: usize, x: &mut [f32]) {
        let half = c.head_dim / 2;
        let (cos, sin) = (&self.cos[row * half..][..half], &self.sin[row * half..][..half]);
        for i in 0..half {
            let (cos, sin) = (cos[i], sin[i]);
            let (a, b) = if c.rope_neox { (i, i + half) } else { (2 * i, 2 * i + 1) };
            let (x0, x1) = (x[a], x[b]);
            x[a] = x0 * cos - x1 * sin;
            x[b] = x0 * sin + x1 * cos;
        }
    }
}

/// The causal mask of a prompt's scores, set in place: for `seq` new positions after `pos`
/// cached ones, scores `(kv_heads, group * seq, pos + seq)` whose row `r` belongs to new position
/// `r % seq`, every score of a later position becomes -inf. That is what adding a mask of 0 and
/// -inf gives bit for bit (up to the sign of a zero score, which the softmax does not see), with
/// neither the mask nor candle's addition, which shares large tensors with a thread of its own
/// that spins for a while after each one, taking a core from the products.
struct CausalMask {
    seq: usize,
    pos: usize,
}

impl candle_core::InplaceOp1 for CausalMask {
    fn name(&self) -> &'static str {
        "causal-mask"
    }

    fn cpu_fwd(&self, storage: &mut candle_core::CpuStorage, layout: &candle_core::Layout) -> candle_core::Result<()> {
        let (candle_core::CpuStorage::F32(values), Some((start, end))) = (storage, layout.contiguous_offsets()) else {
            candle_core::bail!("the causal mask takes contiguous f32 scores")
        };
        let total = self.pos + self.seq;
        debug_assert!(layout.dims().last() == Some(&total) && (end - start) % (self.seq * total) == 0);
        for (r, row) in values[start..end].chunks_exact_mut(total).enumerate() {
            row[self.pos + r % self.seq + 1..].fill(f32::NEG_INFINITY);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attention_tasks_share_key_heads_only_when_the_threads_divide_them() {
        // The default model (2 key heads of 6 query heads) on 1, 2, 4 and 5 threads.
        assert_eq!([1, 2, 4, 5].map(|t| heads_per_task(2, 6, t)), [6, 6, 3, 1]);
        // smollm2 (3 key heads of 3) on 2 threads, and one of 3 on 3.
        assert_eq!((heads_per_task(3, 3, 2), heads_per_task(3, 3, 3)), (1, 3));
    }

    #[test]
    fn a_row_norm_gives_candles_rms_norm_bit_for_bit() {
        let (rows, width) = (3, 1536);
        let xs: Vec<f32> = (0..rows * width).map(|i| ((i * 7919 % 1000) as f32 - 500.0) * 0.013).collect();
        let weight: Vec<f32> = (0..width).map(|i| 0.5 + (i % 17) as f32 * 0.07).collect();
        let x = Tensor::from_slice(&xs, (1, rows, width), &Device::Cpu).unwrap();
        let w = Tensor::from_slice(&weight, width, &Device::Cpu).unwrap();
        let candle = candle_nn::ops::rms_norm(&x, &w, 1e-6).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let mut ours = xs.clone();
        ours.chunks_exact_mut(width).for_each(|row| rms_norm_in_place(row, &weight, 1e-6));
        assert!(ours.iter().zip(&candle).all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    #[test]
    fn causal_mask_hides_later_positions_for_every_group() {
        // Two new positions after one cached, two query heads per key head, two key heads.
        let scores = Tensor::ones((2, 4, 3), candle_core::DType::F32, &Device::Cpu).unwrap();
        scores.inplace_op1(&CausalMask { seq: 2, pos: 1 }).unwrap();
        let inf = f32::NEG_INFINITY;
        let head = vec![vec![1.0, 1.0, inf], vec![1.0, 1.0, 1.0], vec![1.0, 1.0, inf], vec![1.0, 1.0, 1.0]];
        assert_eq!(scores.to_vec3::<f32>().unwrap(), vec![head.clone(), head]);
    }
}
