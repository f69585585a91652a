//! The product loop shared by the own matrix kernels (`q8`, `kquant`): weights in tiles of
//! eight rows, so a kernel call gives eight outputs of one token (or of four tokens at once).
//! Row groups are shared among rayon's threads; a task takes its tokens in runs that stay in
//! the second-level cache while its tiles pass over them, and the outputs are put back in
//! `(tokens, rows)` order.

use candle_core::{Device, Tensor};
use rayon::prelude::*;

use crate::error::Result;

/// Rows in a tile: the i32 or f32 lanes of a 256-bit register.
pub(crate) const ROWS: usize = 8;
/// Row groups of a parallel task.
const GROUPS_PER_TASK: usize = 2;
/// Activation bytes of the tokens that pass over a task's tiles together.
const RUN_BYTES: usize = 256 * 1024;

pub(crate) fn shape_error(message: String) -> crate::error::Error {
    candle_core::Error::Msg(message).into()
}

/// The `n` outputs of each of `m` tokens of width `k` (8-bit activations, `k` bytes a token),
/// from `four(group, token)`, the eight outputs of row group `group` for tokens
/// `token..token + 4`, and `one(group, token)`, for one token; both must give a token the same
/// floats. Shaped as `dims` with the last dimension `n`.
pub(crate) fn product(
    dims: &[usize],
    (n, m, k): (usize, usize, usize),
    four: impl Fn(usize, usize) -> [[f32; ROWS]; 4] + Sync,
    one: impl Fn(usize, usize) -> [f32; ROWS] + Sync,
) -> Result<Tensor> {
    let groups = n.div_ceil(ROWS);
    // Per row group, per token, the group's eight outputs.
    let mut grouped = vec![0f32; groups * m * ROWS];
    let run = (RUN_BYTES / k.max(1)).max(4) / 4 * 4;
    grouped.par_chunks_mut(GROUPS_PER_TASK * m * ROWS).enumerate().for_each(|(task, out)| {
        for start in (0..m).step_by(run) {
            let end = (start + run).min(m);
            for (i, out) in out.chunks_mut(m * ROWS).enumerate() {
                let group = task * GROUPS_PER_TASK + i;
                let mut t = start;
                while t + 4 <= end {
                    out[t * ROWS..(t + 4) * ROWS].copy_from_slice(four(group, t).as_flattened());
                    t += 4;
                }
                for t in t..end {
                    out[t * ROWS..(t + 1) * ROWS].copy_from_slice(&one(group, t));
                }
            }
        }
    });
    let out = if m == 1 {
        grouped.truncate(n);
        grouped
    } else {
        let mut out = vec![0f32; m * n];
        for (g, group) in grouped.chunks_exact(m * ROWS).enumerate() {
            let width = ROWS.min(n - g * ROWS);
            for (t, outputs) in group.chunks_exact(ROWS).enumerate() {
                out[t * n + g * ROWS..][..width].copy_from_slice(&outputs[..width]);
            }
        }
        out
    };
    let mut dims = dims.to_vec();
    if let Some(last) = dims.last_mut() {
        *last = n;
    }
    Ok(Tensor::from_vec(out, dims, &Device::Cpu)?)
}
