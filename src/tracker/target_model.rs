//! The online target model: a multi-channel discriminative correlation filter (DCF, as in KCF/DSST/CFNet) on the
//! encoder's search features, solved in closed form in the Fourier domain from a small weighted support set.
//!
//! Where the Siamese template only says what the target looks like, the filter is trained against every shift of
//! its training crop, so the background and any look-alike inside the crop are its negatives: it learns what the
//! target is *not*. The first frame's sample always stays in the support set (with at least `first_weight` of the
//! total weight) so that updates from later frames cannot make the model forget the target it was given.

use ndarray::{s, Array2, Array3, ArrayView3, Axis, Zip};
use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};
use std::sync::Arc;

/// Hyper-parameters of the target model (part of the sidecar's tracker section).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TargetModelParams {
    /// Standard deviation of the Gaussian label along each axis, as a share of the target's side on that axis.
    pub sigma: f64,
    /// Ridge term, relative to the first sample's mean spectral energy.
    pub lambda: f64,
    /// Most samples in the support set, the first frame's included.
    pub memory: usize,
    /// Weight of a new sample; older ones decay by (1 - rate).
    pub learning_rate: f64,
    /// Least share of the total weight the first frame's sample keeps.
    pub first_weight: f64,
}

/// One training sample: its spectra already multiplied out with its label.
struct Sample {
    /// conj(X_c) * Y per channel.
    numerator: Array3<Complex32>,
    /// sum_c |X_c|^2.
    energy: Array2<f32>,
    weight: f64,
}

pub struct TargetModel {
    params: TargetModelParams,
    rows: usize,
    cols: usize,
    /// Hann window applied to the features, so the crop's edges do not wrap around.
    window: Array2<f32>,
    row_fft: Arc<dyn Fft<f32>>,
    col_fft: Arc<dyn Fft<f32>>,
    row_ifft: Arc<dyn Fft<f32>>,
    col_ifft: Arc<dyn Fft<f32>>,
    /// The first sample is the first frame's.
    samples: Vec<Sample>,
    lambda: f32,
    /// The filter solved from the weighted samples, per channel.
    filter: Array3<Complex32>,
    /// The filter's response peak on its own first sample: the unit of [`TargetModel::respond`].
    self_peak: f32,
}

/// A search crop's features, windowed and transformed: they serve both detection and training.
pub struct Spectrum(Array3<Complex32>);

impl TargetModel {
    /// Trains the model from the first frame's search-crop features [C, H, W], the target centred at `centre`
    /// (row, column, in feature cells) with `size` (height, width, in feature cells).
    pub fn new(
        params: TargetModelParams,
        features: ArrayView3<f32>,
        centre: (f64, f64),
        size: (f64, f64),
    ) -> Self {
        let (channels, rows, cols) = features.dim();
        let mut planner = FftPlanner::new();
        let (wr, wc) = (periodic_hann(rows), periodic_hann(cols));
        let mut model = Self {
            params,
            rows,
            cols,
            window: Array2::from_shape_fn((rows, cols), |(i, j)| wr[i] * wc[j]),
            row_fft: planner.plan_fft_forward(cols),
            col_fft: planner.plan_fft_forward(rows),
            row_ifft: planner.plan_fft_inverse(cols),
            col_ifft: planner.plan_fft_inverse(rows),
            samples: Vec::new(),
            lambda: 0.0,
            filter: Array3::zeros((channels, rows, cols)),
            self_peak: 1.0,
        };
        let spectrum = model.spectrum(features);
        let sample = model.sample(&spectrum, centre, size, 1.0);
        let mean_energy = sample.energy.mean().unwrap_or(0.0);
        model.lambda = (params.lambda as f32 * mean_energy).max(f32::MIN_POSITIVE);
        model.samples.push(sample);
        model.solve();
        let response = model.raw_response(&spectrum);
        model.self_peak = response.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        if !(model.self_peak.is_finite() && model.self_peak > 0.0) {
            model.self_peak = 1.0;
        }
        model
    }

    /// Windows and transforms a search crop's features [C, H, W]. Features of a crop smaller than the first
    /// frame's are centred on the model's grid, zero around them (see [`TargetModel::margin`]).
    pub fn spectrum(&self, features: ArrayView3<f32>) -> Spectrum {
        let (channels, rows, cols) = features.dim();
        let (top, left) = self.margin((rows, cols));
        let mut out = Array3::<Complex32>::zeros((channels, self.rows, self.cols));
        Zip::from(out.outer_iter_mut())
            .and(features.outer_iter())
            .for_each(|mut plane, channel| {
                let mut inner = plane.slice_mut(s![top..top + rows, left..left + cols]);
                let window = self.window.slice(s![top..top + rows, left..left + cols]);
                Zip::from(&mut inner)
                    .and(&channel)
                    .and(&window)
                    .for_each(|o, &x, &w| *o = Complex32::new(x * w, 0.0));
                self.fft2(plane.as_slice_mut().expect("standard layout"), false);
            });
        Spectrum(out)
    }

    /// Cells (rows, columns) between the model's grid edge and features of `(rows, cols)` centred on it.
    pub fn margin(&self, (rows, cols): (usize, usize)) -> (usize, usize) {
        assert!(
            rows <= self.rows && cols <= self.cols,
            "features larger than the target model's grid"
        );
        ((self.rows - rows) / 2, (self.cols - cols) / 2)
    }

    /// The filter's response over the crop [H, W], in units of its response to the first frame's target (about 1
    /// on the target, about 0 on background). A target displaced by d cells from where the model was trained to
    /// find it peaks d cells away from there.
    pub fn respond(&self, spectrum: &Spectrum) -> Array2<f32> {
        let mut response = self.raw_response(spectrum);
        let unit = 1.0 / self.self_peak;
        response.mapv_inplace(|v| v * unit);
        response
    }

    /// Adds a sample: the crop's spectrum with the target found at `centre` (cells) with `size` (cells).
    /// The oldest non-first sample makes room when the memory is full.
    pub fn update(&mut self, spectrum: &Spectrum, centre: (f64, f64), size: (f64, f64)) {
        let rate = self.params.learning_rate;
        for s in &mut self.samples {
            s.weight *= 1.0 - rate;
        }
        let sample = self.sample(spectrum, centre, size, rate);
        if self.samples.len() >= self.params.memory.max(2) {
            // Weights decay with age, so the lightest later sample is the oldest.
            let oldest = (1..self.samples.len())
                .min_by(|&a, &b| self.samples[a].weight.total_cmp(&self.samples[b].weight))
                .expect("memory holds at least two samples");
            self.samples.remove(oldest);
        }
        self.samples.push(sample);
        // The first frame keeps its share: it is the one sample known to be the target.
        let total: f64 = self.samples.iter().map(|s| s.weight).sum();
        let rest = total - self.samples[0].weight;
        let floor = self.params.first_weight.clamp(0.0, 1.0);
        if self.samples[0].weight < floor * total && rest > 0.0 {
            self.samples[0].weight = floor / (1.0 - floor).max(f64::EPSILON) * rest;
        }
        self.solve();
    }

    fn sample(
        &self,
        spectrum: &Spectrum,
        centre: (f64, f64),
        size: (f64, f64),
        weight: f64,
    ) -> Sample {
        let label = self.label(centre, size);
        let numerator = Zip::from(&spectrum.0)
            .and_broadcast(&label)
            .map_collect(|x, y| x.conj() * y);
        let energy = spectrum
            .0
            .map_axis(Axis(0), |c| c.iter().map(|x| x.norm_sqr()).sum());
        Sample {
            numerator,
            energy,
            weight,
        }
    }

    /// The transformed Gaussian label peaking at `centre`, its spread shaped to the target's box.
    fn label(&self, centre: (f64, f64), size: (f64, f64)) -> Array2<Complex32> {
        let sigma = |side: f64| (self.params.sigma * side).max(0.25);
        let (sr, sc) = (sigma(size.0), sigma(size.1));
        // Circular distance, so a label near an edge wraps like the shifts the filter is trained on.
        let wrap = |d: f64, n: usize| {
            let n = n as f64;
            let d = d.rem_euclid(n);
            d.min(n - d)
        };
        let mut label = Array2::from_shape_fn((self.rows, self.cols), |(i, j)| {
            let (di, dj) = (
                wrap(i as f64 - centre.0, self.rows),
                wrap(j as f64 - centre.1, self.cols),
            );
            let g = (-0.5 * ((di / sr).powi(2) + (dj / sc).powi(2))).exp();
            Complex32::new(g as f32, 0.0)
        });
        self.fft2(label.as_slice_mut().expect("standard layout"), false);
        label
    }

    /// Solves the filter from the weighted support set: H_c = sum_k w_k conj(X_kc) Y_k / (sum_k w_k E_k + lambda).
    fn solve(&mut self) {
        let total: f64 = self.samples.iter().map(|s| s.weight).sum();
        let mut numerator = Array3::<Complex32>::zeros(self.filter.dim());
        let mut energy = Array2::<f32>::zeros((self.rows, self.cols));
        for s in &self.samples {
            let w = (s.weight / total) as f32;
            numerator.scaled_add(Complex32::new(w, 0.0), &s.numerator);
            energy.scaled_add(w, &s.energy);
        }
        let lambda = self.lambda;
        Zip::from(numerator.outer_iter_mut()).for_each(|mut plane| {
            Zip::from(&mut plane)
                .and(&energy)
                .for_each(|h, &e| *h /= e + lambda);
        });
        self.filter = numerator;
    }

    fn raw_response(&self, spectrum: &Spectrum) -> Array2<f32> {
        let mut sum = Array2::<Complex32>::zeros((self.rows, self.cols));
        Zip::from(self.filter.outer_iter())
            .and(spectrum.0.outer_iter())
            .for_each(|h, z| {
                Zip::from(&mut sum)
                    .and(&h)
                    .and(&z)
                    .for_each(|s, &h, &z| *s += h * z);
            });
        self.fft2(sum.as_slice_mut().expect("standard layout"), true);
        let scale = 1.0 / (self.rows * self.cols) as f32;
        sum.mapv(|v| v.re * scale)
    }

    /// In-place 2-D FFT of a row-major rows x cols plane (unnormalised both ways).
    fn fft2(&self, data: &mut [Complex32], inverse: bool) {
        let (row_fft, col_fft) = if inverse {
            (&self.row_ifft, &self.col_ifft)
        } else {
            (&self.row_fft, &self.col_fft)
        };
        row_fft.process(data);
        let mut column = vec![Complex32::default(); self.rows];
        for j in 0..self.cols {
            for (i, c) in column.iter_mut().enumerate() {
                *c = data[i * self.cols + j];
            }
            col_fft.process(&mut column);
            for (i, c) in column.iter().enumerate() {
                data[i * self.cols + j] = *c;
            }
        }
    }
}

/// A Hann window of `n` samples that does not vanish at its ends (samples at i + 0.5), for the filters' inputs:
/// every cell keeps some weight, and a shifted target is not zeroed at the edge.
pub(super) fn periodic_hann(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f32::consts::PI * (i as f32 + 0.5) / n as f32).cos())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::s;

    /// Where the maximum of a map is: (row, column, value).
    fn argmax(map: &Array2<f32>) -> (usize, usize, f32) {
        let (mut best, mut value) = ((0, 0), f32::NEG_INFINITY);
        for (index, &v) in map.indexed_iter() {
            if v > value {
                (best, value) = (index, v);
            }
        }
        (best.0, best.1, value)
    }

    const PARAMS: TargetModelParams = TargetModelParams {
        sigma: 0.1,
        lambda: 0.01,
        memory: 4,
        learning_rate: 0.2,
        first_weight: 0.5,
    };

    /// Features of a 32x32 crop: a pattern of `channels` in a 6x6 patch at (row, col), plus a little noise.
    fn scene(objects: &[((usize, usize), &[f32])], seed: u32) -> Array3<f32> {
        let mut state = seed;
        let mut noise = || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 8) as f32 / (1u32 << 24) as f32 * 0.1
        };
        let mut features = Array3::from_shape_fn((4, 32, 32), |_| noise());
        for &((r, c), pattern) in objects {
            for (k, &v) in pattern.iter().enumerate() {
                features
                    .slice_mut(s![k, r - 3..r + 3, c - 3..c + 3])
                    .mapv_inplace(|x| x + v);
            }
        }
        features
    }

    /// The peak of a label centred between cells lands on one of the cells around it.
    fn near((row, col): (usize, usize), (r, c): (f64, f64)) -> bool {
        (row as f64 - r).abs() <= 0.5 && (col as f64 - c).abs() <= 0.5
    }

    const TARGET: &[f32] = &[1.0, 0.2, 0.8, 0.5];

    /// A model learned from a crop with the target alone at its centre.
    fn centred_target_model() -> TargetModel {
        TargetModel::new(
            PARAMS,
            scene(&[((16, 16), TARGET)], 1).view(),
            (15.5, 15.5),
            (6.0, 6.0),
        )
    }

    #[test]
    fn finds_a_shifted_target_where_it_moved() {
        let model = centred_target_model();
        let moved = scene(&[((19, 13), TARGET)], 2);
        let (row, col, peak) = argmax(&model.respond(&model.spectrum(moved.view())));
        assert!(
            near((row, col), (18.5, 12.5)),
            "3 cells down, 3 left: {row}, {col}"
        );
        assert!(
            peak > 0.5,
            "a clear match, in units of the first frame: {peak}"
        );
    }

    #[test]
    fn finds_the_target_in_a_smaller_crop_centred_on_its_grid() {
        let model = centred_target_model();
        // The central 24x24 cells of a crop where the target moved 2 down, 3 right: in the smaller crop it sits
        // at (18, 19) - 4.
        let moved = scene(&[((18, 19), TARGET)], 2);
        let smaller = moved.slice(s![.., 4..28, 4..28]);
        assert_eq!(model.margin((24, 24)), (4, 4));
        let response = model.respond(&model.spectrum(smaller));
        assert_eq!(response.dim(), (32, 32), "answers on the model's grid");
        let (row, col, peak) = argmax(&response);
        assert!(near((row, col), (17.5, 18.5)), "{row}, {col}");
        assert!(peak > 0.5, "{peak}");
    }

    #[test]
    fn separates_the_target_from_a_distractor_a_template_confuses() {
        // The distractor is stronger in the channels the target is strong in, and lacks the target's last one.
        const DISTRACTOR: &[f32] = &[1.2, 0.6, 1.0, 0.0];
        let first = scene(&[((16, 16), TARGET), ((16, 23), DISTRACTOR)], 3);
        let model = TargetModel::new(PARAMS, first.view(), (15.5, 15.5), (6.0, 6.0));
        // Next frame: both moved; the distractor is now nearer the centre than the target.
        let next = scene(&[((16, 12), TARGET), ((16, 19), DISTRACTOR)], 4);
        let (row, col, _) = argmax(&model.respond(&model.spectrum(next.view())));
        assert!(
            near((row, col), (15.5, 11.5)),
            "the filter picks the target: {row}, {col}"
        );
        // A plain template (the target's own features) correlates higher with the distractor.
        let template = first.slice(s![.., 13..19, 13..19]);
        let dot = |r: usize, c: usize| {
            (&template * &next.slice(s![.., r - 3..r + 3, c - 3..c + 3])).sum()
        };
        assert!(
            dot(16, 19) > dot(16, 12),
            "the template alone prefers the distractor"
        );
    }

    #[test]
    fn memory_is_bounded_and_keeps_the_first_frame() {
        let first = scene(&[((16, 16), TARGET)], 5);
        let mut model = TargetModel::new(PARAMS, first.view(), (15.5, 15.5), (6.0, 6.0));
        // Feed it background only: the first frame still finds the target.
        for seed in 0..10 {
            let clutter = scene(&[], 10 + seed);
            let spectrum = model.spectrum(clutter.view());
            model.update(&spectrum, (15.5, 15.5), (6.0, 6.0));
        }
        assert_eq!(model.samples.len(), PARAMS.memory);
        let total: f64 = model.samples.iter().map(|s| s.weight).sum();
        assert!(model.samples[0].weight >= PARAMS.first_weight * total - 1e-9);
        let again = scene(&[((16, 16), TARGET)], 6);
        let (row, col, peak) = argmax(&model.respond(&model.spectrum(again.view())));
        assert!(near((row, col), (15.5, 15.5)), "{row}, {col}");
        assert!(peak > 0.3, "{peak}");
    }
}
