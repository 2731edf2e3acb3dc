//! Cross-correlation of template features over search features: the Siamese similarity map.

use ndarray::{Array2, ArrayView3};

/// Dense "valid" cross-correlation: `template` [C, h, w] slid over `search` [C, H, W] gives
/// [H - h + 1, W - w + 1], each value the dot product of the template with the window under it.
pub fn xcorr(template: ArrayView3<f32>, search: ArrayView3<f32>) -> Array2<f32> {
    let shape = output_size(template, search);
    let pair = ChannelsLast::new(template, search);
    Array2::from_shape_fn(shape, |(i, j)| pair.at(i, j))
}

/// The values of [`xcorr`] at `cells` (row, column) of its map only: for a few cells of a large map.
pub fn xcorr_at(
    template: ArrayView3<f32>,
    search: ArrayView3<f32>,
    cells: &[(usize, usize)],
) -> Vec<f32> {
    let (oh, ow) = output_size(template, search);
    assert!(
        cells.iter().all(|&(i, j)| i < oh && j < ow),
        "cells outside the map"
    );
    let pair = ChannelsLast::new(template, search);
    cells.iter().map(|&(i, j)| pair.at(i, j)).collect()
}

/// A template and search features, channels last: a template row and the window's row under it are then each one
/// contiguous run of w x C values, and a value of the map is h long dot products (built channel by channel, from
/// short runs as wide as the map, it took about 0.09 ms more a frame).
struct ChannelsLast {
    template: Vec<f32>,
    search: Vec<f32>,
    channels: usize,
    rows: usize,
    /// Values in a row of the template, and of the search.
    run: usize,
    search_run: usize,
}

impl ChannelsLast {
    fn new(template: ArrayView3<f32>, search: ArrayView3<f32>) -> Self {
        let (channels, rows, cols) = template.dim();
        let channels_last =
            |a: ArrayView3<f32>| a.permuted_axes([1, 2, 0]).iter().copied().collect();
        Self {
            template: channels_last(template),
            search: channels_last(search),
            channels,
            rows,
            run: cols * channels,
            search_run: search.dim().2 * channels,
        }
    }

    /// The map's value at row `i`, column `j`.
    fn at(&self, i: usize, j: usize) -> f32 {
        (0..self.rows)
            .map(|u| {
                let start = (i + u) * self.search_run + j * self.channels;
                dot(
                    &self.template[u * self.run..(u + 1) * self.run],
                    &self.search[start..start + self.run],
                )
            })
            .sum()
    }
}

/// The dot product of two equally long runs, summed in 8 lanes (which vectorises; one running sum would not).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (a_lanes, a_rest) = a.as_chunks::<8>();
    let (b_lanes, b_rest) = b.as_chunks::<8>();
    for (x, y) in a_lanes.iter().zip(b_lanes) {
        for k in 0..8 {
            lanes[k] += x[k] * y[k];
        }
    }
    let rest: f32 = a_rest.iter().zip(b_rest).map(|(x, y)| x * y).sum();
    lanes.iter().sum::<f32>() + rest
}

fn output_size(template: ArrayView3<f32>, search: ArrayView3<f32>) -> (usize, usize) {
    let (channels, th, tw) = template.dim();
    let (search_channels, sh, sw) = search.dim();
    assert_eq!(
        channels, search_channels,
        "template and search channels differ"
    );
    assert!(th <= sh && tw <= sw, "template larger than search");
    (sh - th + 1, sw - tw + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{s, Array3};

    fn naive(t: &Array3<f32>, x: &Array3<f32>) -> Array2<f32> {
        let (c, th, tw) = t.dim();
        let (_, sh, sw) = x.dim();
        Array2::from_shape_fn((sh - th + 1, sw - tw + 1), |(i, j)| {
            let mut sum = 0.0;
            for k in 0..c {
                for u in 0..th {
                    for v in 0..tw {
                        sum += t[[k, u, v]] * x[[k, i + u, j + v]];
                    }
                }
            }
            sum
        })
    }

    /// Deterministic pseudo-random values in -1..1.
    fn filled(shape: (usize, usize, usize), seed: u32) -> Array3<f32> {
        let mut state = seed;
        Array3::from_shape_simple_fn(shape, || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 8) as f32 / (1u32 << 23) as f32 - 1.0
        })
    }

    #[test]
    fn matches_naive_reference() {
        let t = filled((5, 4, 3), 1);
        let x = filled((5, 11, 9), 2);
        let fast = xcorr(t.view(), x.view());
        let slow = naive(&t, &x);
        assert_eq!(fast.dim(), (8, 7));
        for (a, b) in fast.iter().zip(slow.iter()) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
    }

    #[test]
    fn a_few_cells_are_the_dense_map_there() {
        let t = filled((5, 4, 3), 4);
        let x = filled((5, 11, 9), 5);
        let dense = xcorr(t.view(), x.view());
        let cells = [(0, 0), (7, 6), (3, 2), (3, 2)];
        let few = xcorr_at(t.view(), x.view(), &cells);
        for (cell, v) in cells.iter().zip(few) {
            assert_eq!(v, dense[*cell], "{cell:?}");
        }
    }

    #[test]
    fn peak_is_where_the_template_was_cut() {
        let x = filled((3, 20, 20), 3);
        let t = x.slice(s![.., 6..11, 9..14]).to_owned();
        let r = xcorr(t.view(), x.view());
        let (best, _) = r
            .indexed_iter()
            .max_by(|a, b| a.1.partial_cmp(b.1).unwrap())
            .unwrap();
        assert_eq!(best, (6, 9));
    }
}
