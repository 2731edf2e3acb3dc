//! The Siamese response: where the first frame's template matches each search crop best. It is the tracker's
//! anchor: it never learns, so it cannot drift. The peak locator turns per-scale maps into a box motion (SiamFC's
//! scale choice, cosine window and sub-cell peak); with one search crop, the scale vote asks templates at several
//! scales instead.

use crate::config::{ModelConfig, ScaleParams, SearchParams};
use crate::image::upsample_cubic;
use ndarray::{s, Array2, Array3, ArrayView3, Zip};

/// The box change one frame's responses call for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Motion {
    /// Displacement of the centre, frame pixels.
    pub dx: f64,
    pub dy: f64,
    /// The side of the crop the peak is in relative to the nominal search crop (the size it proposes).
    pub crop_scale: f64,
    /// Raw correlation at the chosen peak.
    pub response: f32,
    /// Which correlation map the peak is in, and where: (row, column) in response cells, sub-cell.
    pub map: usize,
    pub cell: (f64, f64),
}

fn hann(n: usize) -> Vec<f32> {
    if n == 1 {
        return vec![1.0];
    }
    (0..n)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f32::consts::PI * i as f32 / (n - 1) as f32).cos())
        .collect()
}

/// Cells on each side of the coarse peak that are upsampled to find the sub-cell peak.
const REFINE_RADIUS: usize = 2;

/// The encoder-free half of SiamFC: from per-scale correlation maps to a box motion.
pub struct PeakLocator {
    search: SearchParams,
    scale: ScaleParams,
    total_stride: f64,
    /// Side in pixels of the search crops whose maps this locator reads.
    search_size: f64,
    scale_factors: Vec<f64>,
    /// Hann window over the upsampled response, summing to 1.
    window: Array2<f32>,
    /// The same window on the response grid, summing to 1.
    coarse_window: Array2<f32>,
}

impl PeakLocator {
    /// A locator for the maps of search crops of `search_size` pixels.
    pub fn new(model: &ModelConfig, search_size: u32) -> Self {
        let (search, scale) = (model.tracker.search.clone(), model.tracker.scale.clone());
        let half = (scale.search_scales / 2) as i32;
        let scale_factors = (-half..=half).map(|k| scale.step.powi(k)).collect();
        let hann_window = |side: usize| {
            let h = hann(side);
            let total: f32 = h.iter().sum::<f32>().powi(2);
            Array2::from_shape_fn((side, side), |(i, j)| h[i] * h[j] / total)
        };
        Self {
            window: hann_window(model.response_size_for(search_size) * search.response_up),
            coarse_window: hann_window(model.response_size_for(search_size)),
            search,
            scale,
            total_stride: model.total_stride as f64,
            search_size: search_size as f64,
            scale_factors,
        }
    }

    /// Search-crop sides relative to the nominal one, smallest first.
    pub fn scale_factors(&self) -> &[f64] {
        &self.scale_factors
    }

    /// Picks the best scale (non-central ones penalised) by the Siamese maps `raw` and the windowed peak in that
    /// scale's `fused` map. `raw[k]` is the correlation map of scale k; `search_side` the nominal search crop side
    /// in frame pixels. `None` when the maps hold NaN.
    ///
    /// The scale is the template's call alone: the target model, trained at one scale, prefers zoomed-out crops
    /// (a box grows without end when it votes).
    pub fn locate(
        &self,
        raw: &[Array2<f32>],
        fused: &[Array2<f32>],
        search_side: f64,
    ) -> Option<Motion> {
        if raw.iter().chain(fused).flatten().any(|v| v.is_nan()) {
            return None;
        }
        let max = |m: &Array2<f32>| m.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        // The multiplicative scale penalty needs non-negative responses: shift by the lowest response of all
        // scales (learned correlations can be negative, where a penalty < 1 would favour a scale).
        let floor = raw.iter().flatten().copied().fold(f32::INFINITY, f32::min);
        let centre = self.scale_factors.len() / 2;
        let penalised = |k: usize| {
            let shifted = max(&raw[k]) - floor;
            if k == centre {
                shifted
            } else {
                shifted * self.scale.penalty as f32
            }
        };
        let best = (0..raw.len())
            .max_by(|&a, &b| penalised(a).total_cmp(&penalised(b)))
            .unwrap_or(centre);
        let (row, col, response) = self.windowed_peak(&fused[best])?;
        let up = self.search.response_up as f64;
        let up_side = self.window.nrows() as f64;
        let factor = self.scale_factors[best];
        let to_frame = self.total_stride / up * search_side * factor / self.search_size;
        // The bicubic resize puts upsampled pixel u at source coordinate (u + 0.5) / up - 0.5.
        let to_cell = |u: usize| (u as f64 + 0.5) / up - 0.5;
        Some(Motion {
            dx: (col as f64 - (up_side - 1.0) / 2.0) * to_frame,
            dy: (row as f64 - (up_side - 1.0) / 2.0) * to_frame,
            crop_scale: factor,
            response,
            map: best,
            cell: (to_cell(row), to_cell(col)),
        })
    }

    /// SiamFC's normalisation and cosine window over the bicubic-upsampled map; returns the peak's (row, column)
    /// on the upsampled grid and its response (`None` when no value is finite). Only the cells around the windowed
    /// peak of the map itself are upsampled: the same peak as upsampling the whole map, at a fraction of the cost.
    fn windowed_peak(&self, map: &Array2<f32>) -> Option<(usize, usize, f32)> {
        let influence = self.search.window_influence as f32;
        let up = self.search.response_up;
        let min = map.iter().copied().fold(f32::INFINITY, f32::min);
        // Upsampling multiplies the sum of a smooth map by up^2; the window sums to 1 on either grid.
        let sum: f32 = map.iter().map(|v| v - min).sum::<f32>() * (up * up) as f32;
        let norm = if sum > 0.0 { 1.0 / sum } else { 0.0 };
        let score = |v: f32, w: f32, cells: f32| {
            (1.0 - influence) * (v - min) * norm * cells + influence * w
        };
        let (peak, _) = map
            .iter()
            .zip(self.coarse_window.iter())
            .map(|(&v, &w)| score(v, w, (up * up) as f32))
            .enumerate()
            .fold(
                (0, f32::NEG_INFINITY),
                |acc, (i, v)| if v > acc.1 { (i, v) } else { acc },
            );
        let side = map.ncols();
        // A margin of one cell beyond the searched ones, so bicubic interpolation sees real neighbours.
        let span = |centre: usize| {
            let first = centre.saturating_sub(REFINE_RADIUS + 1);
            (first, (centre + REFINE_RADIUS + 2).min(side))
        };
        let ((r0, r1), (c0, c1)) = (span(peak / side), span(peak % side));
        let patch = map
            .slice(ndarray::s![r0..r1, c0..c1])
            .as_standard_layout()
            .to_owned();
        let upsampled = upsample_cubic(patch.view(), up);
        let values = upsampled.as_slice().expect("standard layout");
        let (rows, cols) = ((r1 - r0) * up, (c1 - c0) * up);
        // Upsampled rows of the patch that belong to searched cells (all of them at the map's border).
        let inner = |first: usize, last: usize, count: usize| {
            let skip_start = if first > 0 { up } else { 0 };
            let skip_end = if last < side { up } else { 0 };
            skip_start..count - skip_end
        };
        let mut best = (0, 0, f32::NEG_INFINITY, 0.0);
        for i in inner(r0, r1, rows) {
            for j in inner(c0, c1, cols) {
                let (row, col) = (r0 * up + i, c0 * up + j);
                let v = values[i * cols + j];
                let s = score(v, self.window[[row, col]], 1.0);
                if s > best.2 {
                    best = (row, col, s, v);
                }
            }
        }
        best.2.is_finite().then_some((best.0, best.1, best.3))
    }
}

/// The first frame's template at SiamFC's scales, voting on the target's size from the one search crop. Matching
/// templates of the target shrunk and grown by powers of `scale_step` at the located place is the dual of SiamFC's
/// scaled search crops, at the cost of a few dot products instead of more encoder passes. Like the template it
/// never learns, so it anchors a scale filter that can drift.
pub struct ScaleVote {
    /// How much the target has grown, for each template; the first is 1.
    growths: Vec<f64>,
    /// Unit-norm templates, so that their matches at one place compare.
    templates: Vec<Array3<f32>>,
    /// Multiplies the match of a shrunk or grown template (SiamFC's scale penalty).
    penalty: f32,
}

impl ScaleVote {
    /// `templates[k]`, cut to the correlation window, shows the target grown by `growths[k]`; the first shows it as
    /// first seen (growth 1), and only the others' matches are penalised.
    pub fn new(templates: Vec<Array3<f32>>, growths: Vec<f64>, penalty: f64) -> Self {
        debug_assert!(templates.len() == growths.len() && growths.first() == Some(&1.0));
        Self {
            growths,
            templates: templates
                .into_iter()
                .map(|t| {
                    let norm = t.iter().map(|v| v * v).sum::<f32>().sqrt();
                    t / norm.max(f32::MIN_POSITIVE)
                })
                .collect(),
            penalty: penalty as f32,
        }
    }

    /// The growth of the target whose template matches `search` [C, H, W] best within a cell of `cell` (row,
    /// column on the response grid).
    pub fn vote(&self, search: ArrayView3<f32>, cell: (f64, f64)) -> f64 {
        let (_, rows, cols) = search.dim();
        let k = self.templates[0].dim().1;
        let (row, col) = (cell.0.round() as i64, cell.1.round() as i64);
        let within = |i: i64, extent: usize| i >= 0 && i as usize + k <= extent;
        let matches: Vec<f32> = self
            .templates
            .iter()
            .enumerate()
            .map(|(index, template)| {
                let mut best = f32::NEG_INFINITY;
                for i in row - 1..=row + 1 {
                    for j in col - 1..=col + 1 {
                        if !(within(i, rows) && within(j, cols)) {
                            continue;
                        }
                        let (i, j) = (i as usize, j as usize);
                        let window = search.slice(s![.., i..i + k, j..j + k]);
                        best = best.max(
                            Zip::from(template)
                                .and(&window)
                                .fold(0.0, |sum, &a, &b| sum + a * b),
                        );
                    }
                }
                match index {
                    0 => best,
                    _ => best - (1.0 - self.penalty) * best.abs(),
                }
            })
            .collect();
        if !matches.iter().all(|v| v.is_finite()) {
            return 1.0;
        }
        let best = (0..matches.len())
            .max_by(|&a, &b| matches[a].total_cmp(&matches[b]))
            .unwrap_or(0);
        self.growths[best]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::SIDECAR;

    fn model() -> ModelConfig {
        ModelConfig::from_json(SIDECAR).unwrap()
    }

    /// A 17x17 correlation map with one peak at (row, col) over a flat background, in raw (pre-sigmoid) units.
    fn peaked(row: usize, col: usize, height: f32) -> Array2<f32> {
        let mut map = Array2::from_elem((17, 17), -2000.0);
        map[[row, col]] = height;
        map
    }

    #[test]
    fn peak_offset_maps_to_frame_pixels() {
        let locator = PeakLocator::new(&model(), 255);
        // Peak 2 cells right and 1 up of centre, on the central scale only.
        let raw = vec![peaked(8, 8, 0.0), peaked(7, 10, 3000.0), peaked(8, 8, 0.0)];
        let motion = locator.locate(&raw, &raw, 510.0).unwrap();
        // One response cell = total stride 8 search pixels; the search crop is 510 frame px for 255 crop px.
        assert!((motion.dx - 2.0 * 8.0 * 2.0).abs() < 2.0, "{motion:?}");
        assert!((motion.dy + 8.0 * 2.0).abs() < 2.0, "{motion:?}");
        assert_eq!(motion.crop_scale, 1.0);
        assert!((motion.response - 3000.0).abs() < 300.0, "{motion:?}");
        assert_eq!(motion.map, 1);
        assert!(
            (motion.cell.0 - 7.0).abs() < 0.1 && (motion.cell.1 - 10.0).abs() < 0.1,
            "{motion:?}"
        );
    }

    #[test]
    fn larger_scale_wins_only_beyond_the_penalty() {
        let m = model();
        let locator = PeakLocator::new(&m, 255);
        let strong = vec![peaked(8, 8, 0.0), peaked(8, 8, 0.0), peaked(8, 8, 2000.0)];
        let motion = locator.locate(&strong, &strong, 255.0).unwrap();
        assert_eq!(motion.crop_scale, m.tracker.scale.step);
        // The upsampled map has an even side, so "no motion" is half an upsampled cell (0.26 px here) off.
        assert!(motion.dx.abs() < 0.3 && motion.dy.abs() < 0.3, "{motion:?}");
        // Equal peaks: the penalty keeps the current size.
        let equal = vec![
            peaked(8, 8, 0.0),
            peaked(8, 8, 1000.0),
            peaked(8, 8, 1000.0),
        ];
        assert_eq!(
            locator.locate(&equal, &equal, 255.0).unwrap().crop_scale,
            1.0
        );
    }

    const GROWTHS: [f64; 5] = [1.0, 1.0 / 1.05, 1.05, 1.0 / 1.1025, 1.1025];

    /// Five random templates [5, 3, 3] with unit norm, template k only on channel k (so that they are orthogonal),
    /// and a search map [5, 12, 12] of weak noise with `paste` added with its top-left cell at (5, 6).
    fn templates_and_search(
        paste: impl Fn(&[Array3<f32>]) -> Array3<f32>,
    ) -> (Vec<Array3<f32>>, Array3<f32>) {
        let mut seed = 7u32;
        let mut noise = move || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1 << 24) as f32 - 0.5
        };
        let templates: Vec<Array3<f32>> = (0..5)
            .map(|k| {
                let mut t = Array3::zeros((5, 3, 3));
                t.index_axis_mut(ndarray::Axis(0), k)
                    .mapv_inplace(|_: f32| noise());
                let norm = t.iter().map(|v| v * v).sum::<f32>().sqrt();
                t / norm
            })
            .collect();
        let mut search = Array3::from_shape_simple_fn((5, 12, 12), || 0.01 * noise());
        search
            .slice_mut(s![.., 5..8, 6..9])
            .zip_mut_with(&paste(&templates), |a, &b| *a += b);
        (templates, search)
    }

    #[test]
    fn scale_vote_picks_the_template_that_matches_near_the_peak() {
        for (pasted, &growth) in GROWTHS.iter().enumerate() {
            let (templates, search) = templates_and_search(|t| t[pasted].clone());
            let vote = ScaleVote::new(templates, GROWTHS.to_vec(), 0.97);
            // Within a cell of the peak, sub-cell, is near enough.
            assert_eq!(vote.vote(search.view(), (5.6, 5.4)), growth, "{pasted}");
        }
    }

    #[test]
    fn a_grown_template_must_win_beyond_the_penalty() {
        // The grown template matches 1.05, the first-seen one 1.
        let (templates, search) = templates_and_search(|t| &t[0] + &(&t[2] * 1.05));
        let with_penalty = |penalty| ScaleVote::new(templates.clone(), GROWTHS.to_vec(), penalty);
        assert_eq!(with_penalty(0.9).vote(search.view(), (5.0, 6.0)), 1.0);
        assert_eq!(with_penalty(0.97).vote(search.view(), (5.0, 6.0)), 1.05);
    }

    #[test]
    fn nan_maps_give_no_motion() {
        let locator = PeakLocator::new(&model(), 255);
        let raw = vec![peaked(8, 8, f32::NAN), peaked(8, 8, 0.0), peaked(8, 8, 0.0)];
        assert!(locator.locate(&raw, &raw, 255.0).is_none());
    }
}
