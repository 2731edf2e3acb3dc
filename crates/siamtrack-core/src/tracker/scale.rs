//! Box size without more encoder passes: a DSST-style scale filter. Around the located centre, patches at a
//! ladder of scales of the current box are resized to one small size; a 1-D correlation filter over the scale
//! axis, learned online, says which scale matches the target best. Each patch costs a resize of a few hundred
//! pixels, far less than a search crop through the encoder.

use super::target_model::periodic_hann;
use crate::config::ScaleFilterParams;
use crate::error::Result;
use crate::image::{crop_rect, grey, ImageView, Plane};
use ndarray::{Array1, Array2, Axis, Zip};
use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};
use std::sync::Arc;

pub struct ScaleFilter {
    params: ScaleFilterParams,
    /// Patch size (width, height) in pixels.
    patch: (usize, usize),
    /// Scale factors of the ladder, smallest first.
    factors: Vec<f64>,
    /// Hann window over the ladder.
    window: Vec<f32>,
    label: Vec<Complex32>,
    fft: Arc<dyn Fft<f32>>,
    ifft: Arc<dyn Fft<f32>>,
    /// Running numerator [features, scales] and denominator [scales].
    numerator: Array2<Complex32>,
    energy: Array1<f32>,
}

impl ScaleFilter {
    /// Learns the first sample: the box of `size` (width, height) centred at `centre` on `frame`.
    pub fn new(
        params: ScaleFilterParams,
        frame: &ImageView,
        centre: (f64, f64),
        size: (f64, f64),
    ) -> Result<Self> {
        let n = params.scales.max(1) | 1;
        let half = (n / 2) as i32;
        let factors = (-half..=half).map(|k| params.step.powi(k)).collect();
        let shrink = (params.area / (size.0 * size.1)).sqrt();
        let patch = (
            ((size.0 * shrink).round() as usize).max(4),
            ((size.1 * shrink).round() as usize).max(4),
        );
        // DSST's label: a Gaussian over the ladder with a spread of a quarter of sqrt(n) steps.
        let sigma = (n as f64).sqrt() / 4.0;
        let mut planner = FftPlanner::new();
        let fft = planner.plan_fft_forward(n);
        let mut label: Vec<Complex32> = (0..n)
            .map(|i| {
                let d = i as f64 - half as f64;
                Complex32::new((-0.5 * d * d / (sigma * sigma)).exp() as f32, 0.0)
            })
            .collect();
        // Rotate the peak to index 0, so a response's peak index is the scale offset (circularly).
        label.rotate_left(half as usize);
        fft.process(&mut label);
        let window = periodic_hann(n);
        let mut filter = Self {
            params,
            patch,
            factors,
            window,
            label,
            ifft: planner.plan_fft_inverse(n),
            fft,
            numerator: Array2::zeros((0, n)),
            energy: Array1::zeros(n),
        };
        let sample = filter.sample(frame, centre, size)?;
        let (numerator, energy) = filter.terms(&sample);
        filter.numerator = numerator;
        filter.energy = energy;
        Ok(filter)
    }

    /// The factor by which the box of `size` centred at `centre` should be scaled to fit the target best.
    pub fn estimate(&self, frame: &ImageView, centre: (f64, f64), size: (f64, f64)) -> Result<f64> {
        let sample = self.sample(frame, centre, size)?;
        let n = self.factors.len();
        // A small ridge, relative to the model's mean energy, keeps flat spectra from blowing up.
        let lambda = 0.01 * self.energy.mean().unwrap_or(0.0) + f32::MIN_POSITIVE;
        let mut response = vec![Complex32::default(); n];
        Zip::from(self.numerator.rows())
            .and(sample.rows())
            .for_each(|h, z| {
                for (k, r) in response.iter_mut().enumerate() {
                    *r += h[k] * z[k];
                }
            });
        for (r, &e) in response.iter_mut().zip(&self.energy) {
            *r /= e + lambda;
        }
        self.ifft.process(&mut response);
        let values: Vec<f32> = response.iter().map(|c| c.re).collect();
        let best = (0..n)
            .max_by(|&a, &b| values[a].total_cmp(&values[b]))
            .unwrap_or(0);
        // Sub-step peak by a parabola through the best index and its circular neighbours.
        let (left, right) = (values[(best + n - 1) % n], values[(best + 1) % n]);
        let curvature = left - 2.0 * values[best] + right;
        let shift = if curvature < 0.0 {
            (0.5 * (left - right) / curvature).clamp(-0.5, 0.5) as f64
        } else {
            0.0
        };
        // Index k of the rotated label is offset k (k < n/2) or k - n.
        let offset = if best > n / 2 {
            best as f64 - n as f64
        } else {
            best as f64
        };
        Ok(self.params.step.powf(offset + shift))
    }

    /// Blends the box of `size` at `centre` into the model.
    pub fn update(
        &mut self,
        frame: &ImageView,
        centre: (f64, f64),
        size: (f64, f64),
    ) -> Result<()> {
        let sample = self.sample(frame, centre, size)?;
        let (numerator, energy) = self.terms(&sample);
        let rate = self.params.learning_rate as f32;
        self.numerator
            .zip_mut_with(&numerator, |a, &b| *a = *a * (1.0 - rate) + b * rate);
        self.energy
            .zip_mut_with(&energy, |a, &b| *a = *a * (1.0 - rate) + b * rate);
        Ok(())
    }

    /// conj(X) * Y per feature, and sum over features of |X|^2.
    fn terms(&self, sample: &Array2<Complex32>) -> (Array2<Complex32>, Array1<f32>) {
        let mut numerator = sample.mapv(|x| x.conj());
        for mut row in numerator.rows_mut() {
            Zip::from(&mut row)
                .and(&self.label[..])
                .for_each(|x, &y| *x *= y);
        }
        let energy = sample.map_axis(Axis(0), |col| col.iter().map(|x| x.norm_sqr()).sum());
        (numerator, energy)
    }

    /// Features [grey, |d/dx|, |d/dy|] of each scale's patch, one column per scale, windowed over the ladder and
    /// transformed along it.
    fn sample(
        &self,
        frame: &ImageView,
        centre: (f64, f64),
        size: (f64, f64),
    ) -> Result<Array2<Complex32>> {
        let (pw, ph) = self.patch;
        let pixels = pw * ph;
        let n = self.factors.len();
        let mut features = Array2::<Complex32>::zeros((3 * pixels, n));
        for (k, &f) in self.factors.iter().enumerate() {
            let patch = crop_rect(frame, centre, (size.0 * f, size.1 * f), (pw, ph), [0; 3])?;
            let levels = Plane::from_grey(&grey(&patch), ph, pw);
            let (dx, dy) = (levels.sobel(true), levels.sobel(false));
            let w = self.window[k];
            let mut column = features.column_mut(k);
            for (c, plane) in [&levels, &dx, &dy].into_iter().enumerate() {
                for (i, &v) in plane.values.iter().enumerate() {
                    let v = if c == 0 { v } else { v.abs() };
                    column[c * pixels + i] = Complex32::new(v * w, 0.0);
                }
            }
        }
        // Rows are contiguous (standard layout): each feature's ladder is transformed in place.
        for mut row in features.rows_mut() {
            self.fft
                .process(row.as_slice_mut().expect("standard layout"));
        }
        Ok(features)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::{BgrImage, ChannelOrder};

    const PARAMS: ScaleFilterParams = ScaleFilterParams {
        scales: 17,
        step: 1.03,
        learning_rate: 0.025,
        area: 512.0,
    };

    /// A grey 320x240 frame with a light 60x40 box centred at (160, 120) and a red disc of radius 10 in it, all
    /// drawn `zoom` times larger.
    fn frame(zoom: f64) -> BgrImage {
        let (w, h) = (60.0 * zoom, 40.0 * zoom);
        let (x0, y0) = ((160.0 - w / 2.0).round(), (120.0 - h / 2.0).round());
        let (x1, y1) = (x0 + w.round(), y0 + h.round());
        let radius = (10.0 * zoom).round();
        let mut data = Vec::with_capacity(320 * 240 * 3);
        for y in 0..240 {
            for x in 0..320 {
                let (fx, fy) = (x as f64, y as f64);
                let pixel = if (fx - 160.0).powi(2) + (fy - 120.0).powi(2) <= radius * radius {
                    [30, 60, 200]
                } else if fx >= x0 && fx < x1 && fy >= y0 && fy < y1 {
                    [220; 3]
                } else {
                    [90; 3]
                };
                data.extend(pixel);
            }
        }
        BgrImage {
            width: 320,
            height: 240,
            data,
        }
    }

    fn view(image: &BgrImage) -> ImageView<'_> {
        ImageView::new(&image.data, image.width, image.height, ChannelOrder::Bgr).unwrap()
    }

    #[test]
    fn unchanged_target_keeps_its_size() {
        let filter =
            ScaleFilter::new(PARAMS, &view(&frame(1.0)), (160.0, 120.0), (60.0, 40.0)).unwrap();
        let factor = filter
            .estimate(&view(&frame(1.0)), (160.0, 120.0), (60.0, 40.0))
            .unwrap();
        assert!((factor - 1.0).abs() < 0.01, "{factor}");
    }

    #[test]
    fn grown_and_shrunk_targets_are_measured() {
        let filter =
            ScaleFilter::new(PARAMS, &view(&frame(1.0)), (160.0, 120.0), (60.0, 40.0)).unwrap();
        for zoom in [1.1, 0.9] {
            let factor = filter
                .estimate(&view(&frame(zoom)), (160.0, 120.0), (60.0, 40.0))
                .unwrap();
            assert!(
                (factor / zoom - 1.0).abs() < 0.03,
                "zoom {zoom}: measured {factor}"
            );
        }
    }
}
