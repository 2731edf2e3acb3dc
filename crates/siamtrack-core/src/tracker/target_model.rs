//! The online target model: a multi-channel discriminative correlation filter (DCF, as in KCF/DSST/CFNet) on the
//! encoder's search features, learned from a small weighted support set: in closed form in the Fourier domain over
//! the whole crop, or (`support` > 0) with its taps limited to the target's box, by ADMM as in BACF.
//!
//! Where the Siamese template only says what the target looks like, the filter is trained against every shift of
//! its training crop, so the background and any look-alike inside the crop are its negatives: it learns what the
//! target is *not*. The first frame's sample always stays in the support set (with at least `first_weight` of the
//! total weight) so that updates from later frames cannot make the model forget the target it was given.

pub use crate::config::TargetModelParams;
use ndarray::{s, Array2, Array3, ArrayView3, Axis, Zip};
use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};
use std::sync::Arc;

/// ADMM steps of the box-support solve (BACF takes two a frame), and the growth of the penalty per step
/// (CSR-DCF's 3), which starts at the mean spectral energy of the support set.
const SUPPORT_STEPS: usize = 2;
const SUPPORT_PENALTY_GROWTH: f32 = 3.0;

/// One training sample of the support set, already in the form its model's solve sums.
struct Sample {
    terms: Terms,
    weight: f64,
}

enum Terms {
    /// For the filter over the whole crop: conj(X_c) * Y per channel, and sum_c |X_c|^2.
    Whole {
        numerator: Array3<Complex32>,
        energy: Array2<f32>,
    },
    /// For the box-bound filter: X_c shifted so the target sits at the grid's centre (see
    /// [`TargetModel::solve_boxed`]).
    Aligned(Array3<Complex32>),
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
    /// The target's size (rows, columns, cells) in the latest sample: the box the filter's support follows.
    size: (f64, f64),
    /// Samples added since the filter was last solved.
    pending: usize,
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
            size,
            pending: 0,
        };
        let spectrum = model.spectrum(features);
        let sample = model.sample(&spectrum, centre, size, 1.0);
        // The mean over the grid of sum_c |X_c|^2.
        let mean_energy =
            spectrum.0.iter().map(|x| x.norm_sqr()).sum::<f32>() / (rows * cols) as f32;
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
        let window = self.window.slice(s![top..top + rows, left..left + cols]);
        Zip::from(out.outer_iter_mut())
            .and(features.outer_iter())
            .for_each(|mut plane, channel| {
                let mut inner = plane.slice_mut(s![top..top + rows, left..left + cols]);
                Zip::from(&mut inner)
                    .and(&channel)
                    .and(&window)
                    .for_each(|o, &x, &w| *o = Complex32::new(x * w, 0.0));
            });
        self.fft2_real(&mut out);
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
        self.size = size;
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
        // As in ECO, the filter is solved anew only every `solve_every` samples: half the cost at 2, for the same
        // accuracy on dev and `train/`.
        self.pending += 1;
        if self.pending >= self.params.solve_every.max(1) {
            self.pending = 0;
            self.solve();
        }
    }

    fn sample(
        &self,
        spectrum: &Spectrum,
        centre: (f64, f64),
        size: (f64, f64),
        weight: f64,
    ) -> Sample {
        let terms = if self.params.support == 0.0 {
            let label = self.label(centre, size);
            Terms::Whole {
                numerator: Zip::from(&spectrum.0)
                    .and_broadcast(&label)
                    .map_collect(|x, y| x.conj() * y),
                energy: spectrum
                    .0
                    .map_axis(Axis(0), |c| c.iter().map(|x| x.norm_sqr()).sum()),
            }
        } else {
            let middle = self.middle();
            let phase = self.shift_phase((middle.0 - centre.0, middle.1 - centre.1));
            Terms::Aligned(
                Zip::from(&spectrum.0)
                    .and_broadcast(&phase)
                    .map_collect(|&x, &p| x * p),
            )
        };
        Sample { terms, weight }
    }

    /// The grid's centre (row, column, cells).
    fn middle(&self) -> (f64, f64) {
        (
            (self.rows as f64 - 1.0) / 2.0,
            (self.cols as f64 - 1.0) / 2.0,
        )
    }

    /// The transform's factors that shift a plane by `shift` cells (rows, columns).
    fn shift_phase(&self, shift: (f64, f64)) -> Array2<Complex32> {
        // Signed frequencies, so a sub-cell shift interpolates instead of aliasing.
        let ramp = |n: usize, shift: f64| -> Vec<Complex32> {
            (0..n)
                .map(|f| {
                    let signed = match f <= n / 2 {
                        true => f as f64,
                        false => f as f64 - n as f64,
                    };
                    let phase = -2.0 * std::f64::consts::PI * signed * shift / n as f64;
                    Complex32::new(phase.cos() as f32, phase.sin() as f32)
                })
                .collect()
        };
        let (rows, cols) = (ramp(self.rows, shift.0), ramp(self.cols, shift.1));
        Array2::from_shape_fn((self.rows, self.cols), |(i, j)| rows[i] * cols[j])
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

    /// Solves the filter from the weighted support set: over the whole crop in closed form,
    /// H_c = sum_k w_k conj(X_kc) Y_k / (sum_k w_k E_k + lambda) with E_k = sum_c |X_kc|^2 (as DSST); with a box
    /// support, by [`TargetModel::solve_boxed`].
    fn solve(&mut self) {
        let total: f64 = self.samples.iter().map(|s| s.weight).sum();
        let weights: Vec<f32> = self
            .samples
            .iter()
            .map(|s| (s.weight / total) as f32)
            .collect();
        if self.params.support > 0.0 {
            self.filter = self.solve_boxed(&weights);
            return;
        }
        let mut numerator = Array3::<Complex32>::zeros(self.filter.dim());
        let mut energy = Array2::<f32>::zeros((self.rows, self.cols));
        for (s, &w) in self.samples.iter().zip(&weights) {
            let Terms::Whole {
                numerator: n,
                energy: e,
            } = &s.terms
            else {
                unreachable!("a model over the whole crop keeps whole-crop samples");
            };
            numerator.scaled_add(Complex32::new(w, 0.0), n);
            energy.scaled_add(w, e);
        }
        let lambda = self.lambda;
        self.filter = Zip::from(&numerator)
            .and_broadcast(&energy)
            .map_collect(|&a, &e| a / (e + lambda));
    }

    /// The filter with its taps limited to the support box, by [`SUPPORT_STEPS`] steps of BACF's ADMM from the
    /// closed-form filter cut to the box: a fit in the Fourier domain held near the boxed filter, then cut to the
    /// box in space. The support set enters as its weighted mean (BACF's interpolated model), for which each
    /// frequency's fit is a rank-one system solved exactly (Sherman-Morrison): it weighs the channels against each
    /// other, so a box-bound filter still tells the target from a look-alike by the channels they differ in. (One
    /// step scored as well on dev and `train/`, but not far enough to pass the look-alike unit test.)
    ///
    /// Why a box: a filter over the whole crop also learns the context around the target, which stays where it
    /// was while the target moves. On large targets that held the model near the crop's centre, and the samples
    /// learned there dragged the box off the target (`train/`: davis_flamingo, davis_drift-chicane).
    fn solve_boxed(&self, weights: &[f32]) -> Array3<Complex32> {
        let dim = self.filter.dim();
        let plane = self.rows * self.cols;
        // The label at the grid's centre, shaped to the latest box.
        let label = self.label(self.middle(), self.size);
        let label = label.as_slice().expect("standard layout");
        // The mean sample x, its energy sum_c |x_c|^2 and the data term conj(x) y.
        let mean = self.mean_sample(weights);
        let mut data = vec![Complex32::default(); mean.len()];
        let mut energy = vec![0.0f32; plane];
        for (x, a) in mean.chunks_exact(plane).zip(data.chunks_exact_mut(plane)) {
            for (((x, a), &y), e) in x.iter().zip(a).zip(label).zip(&mut energy) {
                *a = x.conj() * y;
                *e += x.norm_sqr();
            }
        }
        let lambda = self.lambda;
        let mask = self.support_mask();
        // The closed-form filter, cut to the box.
        let mut filter = Array3::from_shape_fn(dim, |(c, i, j)| {
            let p = i * self.cols + j;
            data[c * plane + p] / (energy[p] + lambda)
        });
        self.project(&mut filter, &mask, 1.0);
        // ADMM: the fit in the Fourier domain held near the boxed filter h by the penalty mu, with the multiplier
        // l, per frequency (conj(x) x^T + mu I) g = conj(x) y + mu h - l (the identity's inverse plus a rank-one
        // term); then the box; then l takes up what still separates the two.
        let mut mu = (energy.iter().sum::<f32>() / plane as f32).max(f32::MIN_POSITIVE);
        let mut multiplier = vec![Complex32::default(); mean.len()];
        let mut fitted = vec![Complex32::default(); mean.len()];
        let mut dot = vec![Complex32::default(); plane];
        for _ in 0..SUPPORT_STEPS {
            dot.fill(Complex32::default());
            let h = filter.as_slice().expect("standard layout");
            for ((((x, a), h), l), g) in mean
                .chunks_exact(plane)
                .zip(data.chunks_exact(plane))
                .zip(h.chunks_exact(plane))
                .zip(multiplier.chunks_exact(plane))
                .zip(fitted.chunks_exact_mut(plane))
            {
                for (((((x, &a), &h), &l), g), d) in
                    x.iter().zip(a).zip(h).zip(l).zip(g).zip(&mut dot)
                {
                    *g = a + h * mu - l;
                    *d += x * *g;
                }
            }
            for (d, &e) in dot.iter_mut().zip(&energy) {
                *d /= mu + e;
            }
            let boxed = filter.as_slice_mut().expect("standard layout");
            for (((x, l), g), h) in mean
                .chunks_exact(plane)
                .zip(multiplier.chunks_exact(plane))
                .zip(fitted.chunks_exact_mut(plane))
                .zip(boxed.chunks_exact_mut(plane))
            {
                for ((((x, &l), g), h), &d) in x.iter().zip(l).zip(g).zip(h).zip(&dot) {
                    *g = (*g - x.conj() * d) / mu;
                    *h = l + *g * mu;
                }
            }
            // The ridge term applies to the boxed filter.
            self.project(&mut filter, &mask, 1.0 / (lambda + mu));
            let h = filter.as_slice().expect("standard layout");
            for ((l, &g), &h) in multiplier.iter_mut().zip(&fitted).zip(h) {
                *l += (g - h) * mu;
            }
            mu *= SUPPORT_PENALTY_GROWTH;
        }
        filter
    }

    /// The support set's samples (aligned spectra) averaged with `weights`.
    fn mean_sample(&self, weights: &[f32]) -> Vec<Complex32> {
        let mut mean = vec![Complex32::default(); self.filter.len()];
        for (s, &w) in self.samples.iter().zip(weights) {
            let Terms::Aligned(spectrum) = &s.terms else {
                unreachable!("a box-bound model keeps aligned samples");
            };
            let spectrum = spectrum.as_slice().expect("standard layout");
            for (x, &v) in mean.iter_mut().zip(spectrum) {
                *x += v * w;
            }
        }
        mean
    }

    /// The filter's support: `support` x the target's box around the filter's origin (cell 0, wrapping round),
    /// edge cells weighted by how much of them the box covers.
    fn support_mask(&self) -> Array2<f32> {
        let cover = |index: usize, n: usize, extent: f64| {
            let offset = match index <= n / 2 {
                true => index as f64,
                false => index as f64 - n as f64,
            };
            let half = extent / 2.0;
            ((offset + 0.5).min(half) - (offset - 0.5).max(-half)).clamp(0.0, 1.0) as f32
        };
        let (rows, cols) = (
            self.size.0 * self.params.support,
            self.size.1 * self.params.support,
        );
        Array2::from_shape_fn((self.rows, self.cols), |(i, j)| {
            cover(i, self.rows, rows) * cover(j, self.cols, cols)
        })
    }

    /// In place: spectra of real planes [C, H, W] to space, times `mask` and `gain`, and back.
    fn project(&self, spectra: &mut Array3<Complex32>, mask: &Array2<f32>, gain: f32) {
        let (channels, rows, cols) = spectra.dim();
        let scale = gain / (rows * cols) as f32;
        let mut packed = Array2::<Complex32>::zeros((rows, cols));
        // Two real planes per inverse transform: one as the real part, one as the imaginary.
        for first in (0..channels).step_by(2) {
            let second = (first + 1 < channels).then_some(first + 1);
            match second {
                Some(second) => Zip::from(&mut packed)
                    .and(spectra.index_axis(Axis(0), first))
                    .and(spectra.index_axis(Axis(0), second))
                    .for_each(|p, &a, &b| *p = a + Complex32::i() * b),
                None => packed.assign(&spectra.index_axis(Axis(0), first)),
            }
            self.fft2(packed.as_slice_mut().expect("standard layout"), true);
            Zip::from(spectra.index_axis_mut(Axis(0), first))
                .and(&packed)
                .and(mask)
                .for_each(|a, &p, &m| *a = Complex32::new(p.re * m * scale, 0.0));
            if let Some(second) = second {
                Zip::from(spectra.index_axis_mut(Axis(0), second))
                    .and(&packed)
                    .and(mask)
                    .for_each(|b, &p, &m| *b = Complex32::new(p.im * m * scale, 0.0));
            }
        }
        self.fft2_real(spectra);
    }

    /// In place: real planes [C, H, W] (in the real parts) to their spectra, two planes per transform (one as the
    /// real part, one as the imaginary), which halves the cost.
    fn fft2_real(&self, planes: &mut Array3<Complex32>) {
        let (channels, rows, cols) = planes.dim();
        let plane = rows * cols;
        let mut packed = vec![Complex32::default(); plane];
        let all = planes.as_slice_mut().expect("standard layout");
        for first in (0..channels).step_by(2) {
            let (head, tail) = all.split_at_mut((first + 1) * plane);
            let a = &mut head[first * plane..];
            let mut b = (first + 1 < channels).then(|| &mut tail[..plane]);
            match b.as_deref() {
                Some(b) => {
                    for ((p, x), y) in packed.iter_mut().zip(a.iter()).zip(b) {
                        *p = Complex32::new(x.re, y.re);
                    }
                }
                None => packed.copy_from_slice(a),
            }
            self.fft2(&mut packed, false);
            // The transform of a + ib at k and the conjugate at -k separate a's and b's.
            for r in 0..rows {
                let row = &packed[r * cols..(r + 1) * cols];
                let mirror_row = (rows - r) % rows * cols;
                let mirror = &packed[mirror_row..mirror_row + cols];
                let mirrored = |c: usize| mirror[(cols - c) % cols].conj();
                let a = &mut a[r * cols..(r + 1) * cols];
                match b.as_mut() {
                    Some(b) => {
                        let b = &mut b[r * cols..(r + 1) * cols];
                        for c in 0..cols {
                            let (z, m) = (row[c], mirrored(c));
                            a[c] = (z + m) * 0.5;
                            b[c] = (z - m) * Complex32::new(0.0, -0.5);
                        }
                    }
                    None => {
                        for c in 0..cols {
                            a[c] = (row[c] + mirrored(c)) * 0.5;
                        }
                    }
                }
            }
        }
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

    /// In-place 2-D FFT of a row-major rows x cols plane (unnormalised both ways): all rows in one call, then all
    /// columns in one call on the transposed plane.
    fn fft2(&self, data: &mut [Complex32], inverse: bool) {
        let (row_fft, col_fft) = if inverse {
            (&self.row_ifft, &self.col_ifft)
        } else {
            (&self.row_fft, &self.col_fft)
        };
        let (rows, cols) = (self.rows, self.cols);
        let mut scratch = vec![
            Complex32::default();
            row_fft
                .get_inplace_scratch_len()
                .max(col_fft.get_inplace_scratch_len())
        ];
        row_fft.process_with_scratch(data, &mut scratch);
        let mut transposed = vec![Complex32::default(); rows * cols];
        for (i, row) in data.chunks_exact(cols).enumerate() {
            for (j, &v) in row.iter().enumerate() {
                transposed[j * rows + i] = v;
            }
        }
        col_fft.process_with_scratch(&mut transposed, &mut scratch);
        for (j, column) in transposed.chunks_exact(rows).enumerate() {
            for (i, &v) in column.iter().enumerate() {
                data[i * cols + j] = v;
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
        support: 0.0,
        solve_every: 1,
        weight: 0.25,
        agreement: 1.5,
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
        // Next frame: both moved; the distractor is now nearer the centre than the target.
        let next = scene(&[((16, 12), TARGET), ((16, 19), DISTRACTOR)], 4);
        for params in [PARAMS, boxed(1.0)] {
            let model = TargetModel::new(params, first.view(), (15.5, 15.5), (6.0, 6.0));
            let (row, col, _) = argmax(&model.respond(&model.spectrum(next.view())));
            assert!(
                near((row, col), (15.5, 11.5)),
                "the filter (support {}) picks the target: {row}, {col}",
                params.support
            );
        }
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

    /// A model with its filter limited to `support` x the target's box.
    fn boxed(support: f64) -> TargetModelParams {
        TargetModelParams { support, ..PARAMS }
    }

    #[test]
    fn a_box_support_leaves_no_filter_taps_outside_the_box() {
        let first = scene(&[((16, 16), TARGET), ((16, 25), &[3.0, 3.0, 3.0, 3.0])], 7);
        let size = (6.0, 6.0);
        let model = TargetModel::new(boxed(1.0), first.view(), (15.5, 15.5), size);
        let mask = model.support_mask();
        // Taps wrap round the origin: the box covers offsets -3..3 on each axis.
        assert_eq!(
            (mask[[0, 0]], mask[[2, 31]], mask[[3, 3]], mask[[4, 4]]),
            (1.0, 1.0, 0.25, 0.0)
        );
        let (mut inside, mut outside) = (0.0f32, 0.0f32);
        for channel in model.filter.outer_iter() {
            let mut taps = channel.to_owned();
            model.fft2(taps.as_slice_mut().unwrap(), true);
            for (tap, &m) in taps.iter().zip(&mask) {
                let v = tap.norm();
                if m > 0.0 {
                    inside = inside.max(v);
                } else {
                    outside = outside.max(v);
                }
            }
        }
        assert!(
            outside < 1e-4 * inside,
            "inside {inside}, outside {outside}"
        );
        // Without the box the filter also weighs the bright context 9 cells to the right of the target.
        let free = TargetModel::new(PARAMS, first.view(), (15.5, 15.5), size);
        let mut reach = 0.0f32;
        for channel in free.filter.outer_iter() {
            let mut taps = channel.to_owned();
            free.fft2(taps.as_slice_mut().unwrap(), true);
            for (tap, &m) in taps.iter().zip(&mask) {
                if m == 0.0 {
                    reach = reach.max(tap.norm());
                }
            }
        }
        assert!(reach > 100.0 * outside, "{reach} against {outside}");
    }

    #[test]
    fn a_box_support_follows_the_target_and_not_the_context_it_leaves_behind() {
        // A strong static structure 8 cells beside the target, as a large target's surroundings in its crop: the
        // target moves 3 cells left, the structure stays.
        const CONTEXT: &[f32] = &[0.0, 3.0, 0.0, 0.0];
        let first = scene(&[((16, 16), TARGET), ((16, 24), CONTEXT)], 8);
        let next = scene(&[((16, 13), TARGET), ((16, 24), CONTEXT)], 9);
        let peak = |params| {
            let model = TargetModel::new(params, first.view(), (15.5, 15.5), (6.0, 6.0));
            argmax(&model.respond(&model.spectrum(next.view())))
        };
        let (row, col, _) = peak(boxed(1.0));
        assert!(near((row, col), (15.5, 12.5)), "boxed: {row}, {col}");
        let (row, col, _) = peak(PARAMS);
        assert!(
            near((row, col), (15.5, 15.5)),
            "the filter over the whole crop lags, held by the context: {row}, {col}"
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
